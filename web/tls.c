/*  web/tls.c — make OpenSSL loadable for civetweb before HTTPS starts.

    Debian 12's civetweb loads "libssl.so" and "libcrypto.so" by name and
    needs one function OpenSSL 3 dropped (web/tlscompat/). web_tls_load()
    loads the two compatibility libraries built beside the binary (in its
    directory, or ../lib/popebot from it), so civetweb's own dlopen calls
    find them. A system whose libssl.so already has everything civetweb
    needs is used as it is.

    Rules: called once, before mg_start, only when TLS is configured;
    the handles stay open for the life of the process (civetweb keeps
    pointers into them).
*/
#include "web/tls.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The system's own libssl.so works for civetweb as it is. */
static bool s_system_ok(void)
{
    void *h = dlopen("libssl.so", RTLD_LAZY | RTLD_GLOBAL);
    bool ok = h && dlsym(h, "SSL_get_peer_certificate") && dlopen("libcrypto.so", RTLD_LAZY | RTLD_GLOBAL);
    return ok;
}

/* Load DIR/libpopebot-libcrypto.so and DIR/libpopebot-libssl.so. */
static bool s_load_from(const char *dir)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/libpopebot-libcrypto.so", dir);
    if (access(path, R_OK) != 0 || !dlopen(path, RTLD_NOW | RTLD_GLOBAL))
        return false;
    snprintf(path, sizeof path, "%s/libpopebot-libssl.so", dir);
    return access(path, R_OK) == 0 && dlopen(path, RTLD_NOW | RTLD_GLOBAL) != NULL;
}

int web_tls_load(char *err, size_t errlen)
{
    char exe[PATH_MAX], lib[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(lib, sizeof lib, "%s/../lib/popebot", exe);
        if (s_load_from(exe) || s_load_from(lib))
            return 0;
    }
    if (s_system_ok())
        return 0;
    snprintf(err, errlen, "HTTPS needs libpopebot-libssl.so and libpopebot-libcrypto.so beside "
             "popebot-node (or in ../lib/popebot), built with it: %s", dlerror());
    return -1;
}
