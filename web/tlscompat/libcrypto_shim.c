/*  web/tlscompat/libcrypto_shim.c — "libcrypto.so" for civetweb's dlopen.

    civetweb also opens the unversioned name "libcrypto.so", which only the
    -dev package provides. This empty library has that SONAME and depends
    on libcrypto.so.3, so a machine with the runtime libraries alone serves
    HTTPS too (see libssl_shim.c).
*/
typedef int popebot_libcrypto_shim_t;   /* ISO C wants a translation unit to declare something */
