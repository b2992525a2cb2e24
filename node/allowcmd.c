/*  node/allowcmd.c — the worker's --allow-command list (allowcmd.h).

    Parsing keeps each entry as written; matching and the start-log
    description canonicalise entries with realpath() every time, so the
    comparison is always between two canonical paths of the present moment.
    A few syscalls per command job is nothing next to the fork and exec.
*/
#include "node/allowcmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
allowcmd_free(allowcmd_t *a)
{
    for (size_t i = 0; a && i < a->n; i++)
        free(a->paths[i]);
    if (a) {
        free(a->paths);
        a->paths = NULL;
        a->n = 0;
    }
}

/* Add one entry of length len; it must be absolute. */
static int
s_add(allowcmd_t *a, const char *entry, size_t len, char *err, size_t errlen)
{
    if (entry[0] != '/') {
        snprintf(err, errlen, "--allow-command: '%.*s' is not an absolute path",
                 (int) (len > 100 ? 100 : len), entry);
        return -1;
    }
    char *copy = strndup(entry, len);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->paths[a->n++] = copy;
    return 0;
}

int
allowcmd_parse(allowcmd_t *a, const char *list, char *err, size_t errlen)
{
    a->paths = NULL;
    a->n = 0;
    if (!list || !*list)
        return 0;
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    a->paths = calloc(cap, sizeof *a->paths);
    if (!a->paths) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (const char *p = list; *p; ) {
        size_t len = strcspn(p, ",");
        if (len > 0 && s_add(a, p, len, err, errlen) < 0) {
            allowcmd_free(a);
            return -1;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

bool
allowcmd_active(const allowcmd_t *a)
{
    return a && a->n > 0;
}

bool
allowcmd_match(const allowcmd_t *a, const char *real)
{
    if (!allowcmd_active(a))
        return true;
    bool found = false;
    for (size_t i = 0; i < a->n && !found; i++) {
        char *entry = realpath(a->paths[i], NULL);
        found = entry && strcmp(entry, real) == 0;
        free(entry);
    }
    return found;
}

/* Append "PATH -> REAL" (or "PATH (not found)") to the stream. */
static void
s_describe_one(FILE *f, const char *path)
{
    char *real = realpath(path, NULL);
    if (!real)
        fprintf(f, "%s (%s)", path, errno == ENOENT ? "not found" : strerror(errno));
    else if (strcmp(real, path) != 0)
        fprintf(f, "%s -> %s", path, real);
    else
        fputs(path, f);
    free(real);
}

char *
allowcmd_describe(const allowcmd_t *a)
{
    if (!allowcmd_active(a))
        return strdup("any (--allow-command not set)");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    for (size_t i = 0; i < a->n; i++) {
        if (i > 0)
            fputs(", ", f);
        s_describe_one(f, a->paths[i]);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
