/*  mesh/template.h — expand {{PLACEHOLDERS}} in a role's command.

    A placeholder is {{NAME}} where NAME is [A-Z0-9_]+. Known names are
    replaced by their value; an unknown name is an error (a typo in a role must
    not silently run a different command). "{{" that does not start a valid
    placeholder is copied as is.

    Rules it keeps:
    - Expansion is one pass: a value that itself contains "{{X}}" is copied
      literally, never expanded again.
    - In argv mode values are inserted verbatim into one argv element: no
      word splitting, no shell, so payload text is plain data.
    - In shell mode (a role with "shell": true) each value is inserted as one
      single-quoted shell word ('...' with ' written as '\''), so payload
      text still cannot inject commands into the shell line.
*/
#ifndef POPEBOT_MESH_TEMPLATE_H
#define POPEBOT_MESH_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name;         /* e.g. "JOB_ID" */
    const char *value;
} tpl_var_t;

/* Expand tmpl. Returns a malloc'd string, or NULL with a one-line reason in
   err (unknown placeholder, out of memory). */
char *tpl_expand(const char *tmpl, const tpl_var_t *vars, size_t nvars,
                 bool shell_quote, char *err, size_t errlen);

/* Quote s as one POSIX shell word. Returns a malloc'd string. */
char *tpl_shell_quote(const char *s);

/* Whether every placeholder of the shell line tmpl stands outside quotes,
   backquotes, comments and here-documents, where the single-quoted value
   is one plain word. false with a reason naming the placeholder. */
bool tpl_shell_safe(const char *tmpl, char *err, size_t errlen);

#endif
