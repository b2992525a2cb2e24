/*  mesh/curve.c — CURVE key pairs on disk and on sockets (curve.h).

    libzmq makes and encodes the keys (zmq_curve_keypair, zmq_z85_*); this
    file only decides where they live and how they are written: secret files
    0600 in a 0700 directory, written whole then renamed into place.
*/
#include "mesh/curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

int curve_pair_new(curve_pair_t *out)
{
    return zmq_curve_keypair(out->pub, out->sec) == 0 ? 0 : -1;
}

bool curve_z85_valid(const char *text, size_t len)
{
    char copy[CURVE_Z85_LEN + 1];
    uint8_t raw[32];
    if (!text || len != CURVE_Z85_LEN)
        return false;
    memcpy(copy, text, len);
    copy[len] = '\0';
    return zmq_z85_decode(raw, copy) != NULL;
}

int curve_z85_decode(const char *z85, uint8_t out[32])
{
    if (!curve_z85_valid(z85, z85 ? strlen(z85) : 0))
        return -1;
    return zmq_z85_decode(out, z85) ? 0 : -1;
}

void curve_z85_encode(const uint8_t key[32], char out[CURVE_Z85_LEN + 1])
{
    zmq_z85_encode(out, key, 32);
}

int curve_public_of(const char *sec, char pub[CURVE_Z85_LEN + 1])
{
    return curve_z85_valid(sec, strlen(sec)) && zmq_curve_public(pub, sec) == 0 ? 0 : -1;
}

/* ---- files ----------------------------------------------------------------- */

static int s_path(char *out, size_t cap, const char *dir, const char *name, const char *ext)
{
    return (size_t) snprintf(out, cap, "%s/%s.%s", dir, name, ext) < cap ? 0 : -1;
}

int curve_text_load(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    bool ok = fgets(out, (int) cap, f) != NULL;
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s is empty", path);
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 1;
}

int curve_text_save(const char *path, const char *text, int mode, char *err, size_t errlen)
{
    char tmp[4200];
    if ((size_t) snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t len = strlen(text);
    bool ok = fd >= 0 && fchmod(fd, (mode_t) mode) == 0 &&
              write(fd, text, len) == (ssize_t) len && write(fd, "\n", 1) == 1 &&
              fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int s_pair_load(const char *dir, const char *name, bool private, curve_pair_t *out,
                       char *err, size_t errlen)
{
    char path[4096], sec[128];
    if (s_path(path, sizeof path, dir, name, "key") != 0) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    int rc = private ? curve_text_load_private(path, 0600, sec, sizeof sec, err, errlen)
                     : curve_text_load(path, sec, sizeof sec, err, errlen);
    if (rc <= 0)
        return rc;
    if (strlen(sec) != CURVE_Z85_LEN || curve_public_of(sec, out->pub) != 0) {
        snprintf(err, errlen, "%s does not hold a CURVE secret key", path);
        return -1;
    }
    memcpy(out->sec, sec, CURVE_Z85_LEN + 1);
    return 1;
}

int curve_pair_load(const char *dir, const char *name, curve_pair_t *out, char *err, size_t errlen)
{
    return s_pair_load(dir, name, false, out, err, errlen);
}

/* mkdir -p, each new directory 0700. */
static int s_mkdirs(const char *dir)
{
    char path[4096];
    if ((size_t) snprintf(path, sizeof path, "%s", dir) >= sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- private key directories -------------------------------------------------- */

/* What is wrong with st for a node's key material, or NULL. max_mode: the
   permission bits allowed (0700 directory, 0600 secret, 0644 public). */
static const char *s_unsafe(const struct stat *st, bool dir, int max_mode)
{
    if (S_ISLNK(st->st_mode))
        return "is a symbolic link";
    if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
        return dir ? "is not a directory" : "is not a regular file";
    if (st->st_uid != geteuid())
        return "is owned by another user";
    if ((st->st_mode & 07777 & ~(mode_t) max_mode) != 0)
        return dir ? "is open to group or others (must be 0700)"
                   : "has group or other permissions it must not have";
    return NULL;
}

int curve_dir_check(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot inspect %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *why = s_unsafe(&st, true, 0700);
    if (why) {
        snprintf(err, errlen, "refusing key directory %s: it %s", dir, why);
        return -1;
    }
    return 1;
}

int curve_dir_make(const char *dir, char *err, size_t errlen)
{
    if (s_mkdirs(dir) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return curve_dir_check(dir, err, errlen) == 1 ? 0 : -1;
}

static int s_open_checked(const char *path, int max_mode, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        if (errno == ENOENT)
            return -2;
        if (errno == ELOOP)
            snprintf(err, errlen, "refusing %s: it is a symbolic link", path);
        else
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    const char *why = fstat(fd, &st) != 0 ? "cannot be inspected" : s_unsafe(&st, false, max_mode);
    if (why) {
        snprintf(err, errlen, "refusing %s: it %s (allowed at most %04o, owned by you)", path,
                 why, (unsigned) max_mode);
        close(fd);
        return -1;
    }
    return fd;
}

int curve_text_load_private(const char *path, int max_mode, char *out, size_t cap, char *err,
                            size_t errlen)
{
    int fd = s_open_checked(path, max_mode, err, errlen);
    if (fd < 0)
        return fd == -2 ? 0 : -1;
    FILE *f = fdopen(fd, "r");
    bool ok = f && fgets(out, (int) cap, f) != NULL;
    if (f)
        fclose(f);
    else
        close(fd);
    if (!ok) {
        snprintf(err, errlen, "%s is empty", path);
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 1;
}

int curve_pair_load_private(const char *dir, const char *name, curve_pair_t *out, char *err,
                            size_t errlen)
{
    return s_pair_load(dir, name, true, out, err, errlen);
}

int curve_pair_save(const char *dir, const char *name, const curve_pair_t *p, char *err,
                    size_t errlen)
{
    char path[4096];
    if (s_mkdirs(dir) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (s_path(path, sizeof path, dir, name, "pub") != 0 ||
        curve_text_save(path, p->pub, 0644, err, errlen) != 0)
        return -1;
    s_path(path, sizeof path, dir, name, "key");
    return curve_text_save(path, p->sec, 0600, err, errlen);
}

int curve_pair_ensure(const char *dir, const char *name, curve_pair_t *out, char *err,
                      size_t errlen)
{
    int rc = curve_pair_load(dir, name, out, err, errlen);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (curve_pair_new(out) != 0) {
        snprintf(err, errlen, "cannot make a CURVE key pair (libzmq built without CURVE?)");
        return -1;
    }
    return curve_pair_save(dir, name, out, err, errlen);
}

/* ---- sockets ------------------------------------------------------------- */

int curve_client_apply(void *sock, const curve_client_t *c)
{
    if (!c || !c->on)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->server_pub, CURVE_Z85_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->me.pub, CURVE_Z85_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->me.sec, CURVE_Z85_LEN) != 0)
        return -1;
    return 0;
}

int curve_server_apply(void *sock, const char *sec, const char *zap_domain)
{
    int on = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, CURVE_Z85_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, zap_domain, strlen(zap_domain)) != 0)
        return -1;
    return 0;
}
