/*  web/ui_assets.h — the UI's files, compiled into the binary.

    The build (cmake/embed_ui.cmake) generates the table from web/ui/: one
    entry per file, served at its path ("/ui/app.css"). Each array ends
    with a NUL that `size` does not count. Read-only, shared by all threads.
*/
#ifndef POPEBOT_WEB_UI_ASSETS_H
#define POPEBOT_WEB_UI_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path;                  /* "/ui/js/main.js"; NULL in an empty table */
    const char *type;                  /* Content-Type */
    const unsigned char *data;         /* the file's bytes */
    size_t size;                       /* bytes in data */
    const char *etag;                  /* quoted strong validator */
} ui_asset_t;

extern const ui_asset_t ui_assets[];
extern const size_t ui_nassets;

/* The asset at path, or NULL. */
const ui_asset_t *ui_asset_find(const char *path);

#endif
