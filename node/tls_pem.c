/*  node/tls_pem.c — one PEM for civetweb from --tls-cert and --tls-key
    (tls_pem.h).

    Rules: the key never leaves a 0600 file; the combined file is written
    to a temporary name and renamed, so civetweb never reads half of it;
    a file that holds no PEM block of the expected kind is refused with a
    reason naming it, before the server starts.
*/
#include "node/tls_pem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PEM_MAX (1024 * 1024)   /* a key or a certificate chain is far smaller */

/* The whole file, NUL-terminated (malloc'd), or NULL with err. */
static char *s_read(const char *path, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(PEM_MAX + 1) : NULL;
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    if (!f || !buf || ferror(f) || n > PEM_MAX) {
        snprintf(err, errlen, "%s %s: %s", what, path,
                 !f ? strerror(errno) : !buf ? "out of memory" : n > PEM_MAX ? "too large"
                                                                     : "cannot be read");
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
    }
    if (f)
        fclose(f);
    return buf;
}

static int s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static int s_write(const char *path, const char *key, const char *cert, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && fchmod(fd, 0600) == 0 && s_write_all(fd, key, strlen(key)) == 0 &&
             s_write_all(fd, "\n", 1) == 0 && s_write_all(fd, cert, strlen(cert)) == 0 &&
             fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int tls_pem_prepare(const char *data_dir, const char *cert, const char *key, char *out,
                    size_t outlen, char *err, size_t errlen)
{
    if ((size_t) snprintf(out, outlen, "%s/tls.pem", data_dir) >= outlen || outlen > 4096) {
        snprintf(err, errlen, "data directory path too long");
        return -1;
    }
    char *c = s_read(cert, "--tls-cert", err, errlen);
    char *k = c ? s_read(key, "--tls-key", err, errlen) : NULL;
    int rc = -1;
    if (c && k && !strstr(c, "-----BEGIN CERTIFICATE-----"))
        snprintf(err, errlen, "--tls-cert %s holds no PEM certificate", cert);
    else if (c && k && (!strstr(k, "-----BEGIN ") || !strstr(k, "PRIVATE KEY-----")))
        snprintf(err, errlen, "--tls-key %s holds no PEM private key", key);
    else if (c && k)
        rc = s_write(out, k, c, err, errlen);
    free(c);
    if (k) {
        memset(k, 0, strlen(k));   /* the key does not linger on the heap */
        free(k);
    }
    return rc;
}
