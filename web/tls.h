/*  web/tls.h — OpenSSL for civetweb's HTTPS (web/tls.c). */
#ifndef POPEBOT_WEB_TLS_H
#define POPEBOT_WEB_TLS_H

#include <stddef.h>

/* 0 when civetweb will find a usable OpenSSL; -1 with a reason. */
int web_tls_load(char *err, size_t errlen);

#endif
