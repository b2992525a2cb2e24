/*  mesh/utf8.c — repair text that must be valid UTF-8 (utf8.h).

    Strict decoding: overlong forms, surrogates and code points past
    U+10FFFF are invalid, as in RFC 3629. Each invalid byte becomes one
    U+FFFD; valid sequences (NUL included) are copied unchanged.
*/
#include "mesh/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s, or 0 when s[0] starts none. */
static size_t s_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4, cp = c & 0x07;
    else
        return 0;
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;
    if (need == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return need;
}

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s;
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = s_seq(p + i, n - i)))
            return false;
    return true;
}

char *utf8_repair(const char *s, size_t n, size_t *out_len)
{
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; ) {
        size_t k = s_seq((const unsigned char *) s + i, n - i);
        if (k == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(out + o, s + i, k);
        o += k;
        i += k;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}
