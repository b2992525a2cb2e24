/*  mesh/curve.h — CURVE key pairs on disk and on sockets.

    A key pair is two small files in a directory: NAME.key holds the secret
    key in Z85 (mode 0600) and NAME.pub the public key in Z85 (0644). Files
    are written to a temporary name and renamed, so a reader never sees half
    a key. The directory is created 0700.

    Rules: secrets are only ever read from and written to these files and
    socket options, never returned in an error text; errors are returned with
    a reason, never printed.
*/
#ifndef POPEBOT_MESH_CURVE_H
#define POPEBOT_MESH_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURVE_Z85_LEN 40      /* a 32-byte key in Z85 */

typedef struct {
    char pub[CURVE_Z85_LEN + 1];   /* public key, Z85 */
    char sec[CURVE_Z85_LEN + 1];   /* secret key, Z85 */
} curve_pair_t;

/* How a client-side socket speaks to the coordinator. */
typedef struct {
    bool on;                       /* false: plaintext (--insecure) */
    char server_pub[CURVE_Z85_LEN + 1]; /* the coordinator's pinned public key */
    curve_pair_t me;               /* this node's own pair */
} curve_client_t;

/* A fresh random pair. 0 or -1. */
int curve_pair_new(curve_pair_t *out);
/* Whether text[0..len) is a Z85 public or secret key. */
bool curve_z85_valid(const char *text, size_t len);
/* Z85 <-> 32 raw bytes. 0 or -1. */
int curve_z85_decode(const char *z85, uint8_t out[32]);
void curve_z85_encode(const uint8_t key[32], char out[CURVE_Z85_LEN + 1]);
/* The public key of a Z85 secret key. 0 or -1. */
int curve_public_of(const char *sec, char pub[CURVE_Z85_LEN + 1]);

/* Load DIR/NAME.key and DIR/NAME.pub: 1 loaded, 0 absent, -1 error (err). */
int curve_pair_load(const char *dir, const char *name, curve_pair_t *out, char *err, size_t errlen);
/* Write both files (replacing them). 0 or -1 with err. */
int curve_pair_save(const char *dir, const char *name, const curve_pair_t *p, char *err,
                    size_t errlen);
/* Load the pair, or make and save a new one. 0 or -1 with err. */
int curve_pair_ensure(const char *dir, const char *name, curve_pair_t *out, char *err,
                      size_t errlen);
/* A one-line text file (public key, endpoint): 1 read, 0 absent, -1 error. */
int curve_text_load(const char *path, char *out, size_t cap, char *err, size_t errlen);
int curve_text_save(const char *path, const char *text, int mode, char *err, size_t errlen);

/* A node's private key directory, trusted only if it is a real directory
   (not a symbolic link) owned by the effective user with mode 0700 at most.
   check: 1 safe, 0 absent, -1 unsafe or unreadable (err names the path and
   what is wrong). make: create it (and missing parents) 0700, then check;
   0 or -1. */
int curve_dir_check(const char *dir, char *err, size_t errlen);
int curve_dir_make(const char *dir, char *err, size_t errlen);
/* curve_text_load and curve_pair_load for such a directory: each file must be
   a regular file (no symbolic link) owned by the effective user, with no
   permission bits beyond max_mode (NAME.key: 0600). */
int curve_text_load_private(const char *path, int max_mode, char *out, size_t cap, char *err,
                            size_t errlen);
int curve_pair_load_private(const char *dir, const char *name, curve_pair_t *out, char *err,
                            size_t errlen);

/* Socket options: a CURVE client pinning server_pub, or a CURVE server with
   a ZAP domain. 0 or -1 (errno). */
int curve_client_apply(void *sock, const curve_client_t *c);
int curve_server_apply(void *sock, const char *sec, const char *zap_domain);

#endif
