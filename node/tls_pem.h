/*  node/tls_pem.h — the coordinator's TLS key and certificate for civetweb.

    Operators pass --tls-cert=PEM (the certificate, chain after it) and
    --tls-key=PEM (the private key), as most servers take them; civetweb
    wants one PEM file holding both. tls_pem_prepare() checks both files and
    writes DIR/tls.pem (mode 0600, in the 0700 data directory), rewritten at
    every start so a renewed certificate is picked up by a restart.
*/
#ifndef POPEBOT_NODE_TLS_PEM_H
#define POPEBOT_NODE_TLS_PEM_H

#include <stddef.h>

/* 0 and the combined file's path in out, or -1 with a one-line reason. */
int tls_pem_prepare(const char *data_dir, const char *cert, const char *key, char *out,
                    size_t outlen, char *err, size_t errlen);

#endif
