/*  web/tlscompat/libssl_shim.c — lets Debian 12's civetweb load OpenSSL 3.

    civetweb 1.15 (Debian 12) loads OpenSSL at run time with
    dlopen("libssl.so") and looks up, among others, SSL_get_peer_certificate,
    which OpenSSL 3 no longer exports (it became a macro for
    SSL_get1_peer_certificate). Every other symbol it needs is still there.

    This library is built with the SONAME "libssl.so" and depends on the
    real libssl.so.3. web/tls.c loads it (RTLD_GLOBAL) before civetweb
    starts; glibc then answers civetweb's dlopen("libssl.so") with it, and
    civetweb's lookups find the one missing function here and every other
    one in libssl.so.3 behind it. Nothing else in the process uses it.
*/
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s);
}
