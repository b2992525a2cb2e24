/*  node/coord_watch.c — file-watch triggers on inotify (coord_trig.h).

    Every path is watched through its directory: a directory path watches
    the entries in it (not sub-directories), a file path watches its parent
    for that one name, so a file replaced by rename (as editors and deploy
    tools do) or created later is still seen. A path that does not exist
    yet is watched like a file; when it appears as a directory, it is
    watched as one from the next turn. Watches of the same directory
    share one inotify descriptor; it is removed when no path uses it.

    Rules: reads never block (the descriptor is non-blocking); a queue
    overflow marks every watch "truncated" and starts its job, since changes
    were lost; a watched directory that goes away is set again every
    TRIG_RETRY_MS while its status says why. Changed paths are kept once
    each, at most TRIG_WATCH_PATHS_MAX or TRIG_WATCH_BYTES_MAX of them.
*/
#include "node/coord_int.h"
#include "node/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MASK (IN_CREATE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | \
                IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

/* Split path into the directory to watch and the name that counts (NULL:
   all). -1 when neither it nor its parent is a directory. */
static int s_classify(const char *path, trig_path_t *p)
{
    struct stat st;
    free(p->dir);
    free(p->name);
    p->dir = p->name = NULL;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return (p->dir = strdup(path)) ? 0 : -1;
    const char *slash = strrchr(path, '/');
    p->dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
    p->name = strdup(slash + 1);
    return p->dir && p->name ? 0 : -1;
}

static bool s_wd_used(const coord_t *c, int wd)
{
    for (size_t i = 0; i < c->trig.n; i++) {
        const trig_arm_t *a = c->trig.items[i];
        for (size_t k = 0; a->paths && k < a->t->npaths; k++)
            if (a->paths[k].wd == wd)
                return true;
    }
    return false;
}

void coord_watch_set(coord_t *c, trig_arm_t *a)
{
    int fd = c->trig.inotify_fd;
    a->retry_mono = 0;
    if (fd < 0) {
        snprintf(a->error, sizeof a->error, "inotify is not available on the coordinator");
        return;
    }
    if (!a->paths && (a->paths = calloc(a->t->npaths, sizeof *a->paths)))
        for (size_t k = 0; k < a->t->npaths; k++)
            a->paths[k].wd = -1;
    if (!a->paths) {
        snprintf(a->error, sizeof a->error, "coordinator out of memory");
        return;
    }
    a->error[0] = '\0';
    for (size_t k = 0; k < a->t->npaths; k++) {
        trig_path_t *p = &a->paths[k];
        if (p->wd >= 0)
            continue;
        const char *path = a->t->paths[k];
        int err = s_classify(path, p) != 0 ? ENOMEM : 0;
        if (!err && (p->wd = inotify_add_watch(fd, p->dir, S_MASK)) < 0)
            err = errno;
        if (err && !a->error[0])
            snprintf(a->error, sizeof a->error, "%s: %s (retrying every %d s)",
                     p->name ? p->dir : path, strerror(err), TRIG_RETRY_MS / 1000);
    }
    if (a->error[0]) {
        a->retry_mono = clock_mono_ms() + TRIG_RETRY_MS;
        log_msg(LL_WARN, "trigger", "role %s, trigger %zu (watch): %s", a->role->name, a->index,
                a->error);
    }
}

void coord_watch_unset(coord_t *c, trig_arm_t *a)
{
    if (!a->paths)
        return;
    for (size_t k = 0; k < a->t->npaths; k++) {
        int wd = a->paths[k].wd;
        a->paths[k].wd = -1;
        if (wd >= 0 && !s_wd_used(c, wd))
            inotify_rm_watch(c->trig.inotify_fd, wd);
        free(a->paths[k].dir);
        free(a->paths[k].name);
    }
    free(a->paths);
    a->paths = NULL;
}

/* ---- changes ------------------------------------------------------------------ */

/* Remember one changed path and (re)start the debounce clock. */
static void s_note(trig_arm_t *a, const char *path, int64_t mono)
{
    bool known = false;
    for (size_t i = 0; i < a->nchanged && !known; i++)
        known = strcmp(a->changed[i], path) == 0;
    size_t len = strlen(path);
    if (!known && (a->nchanged >= TRIG_WATCH_PATHS_MAX ||
                   a->changed_bytes + len > TRIG_WATCH_BYTES_MAX))
        a->truncated = true;
    else if (!known) {
        char **v = realloc(a->changed, (a->nchanged + 1) * sizeof *v);
        char *copy = v ? strdup(path) : NULL;
        if (v)
            a->changed = v;
        if (copy) {
            a->changed[a->nchanged++] = copy;
            a->changed_bytes += len;
        } else
            a->truncated = true;
    }
    if (!a->first_mono)
        a->first_mono = mono;
    int64_t due = mono + a->t->debounce_ms, latest = a->first_mono + TRIG_WATCH_MAX_WAIT_MS;
    a->due_mono = due < latest ? due : latest;
}

/* The watched directory itself went away or moved: set it again later. */
static void s_lost(coord_t *c, int wd, int64_t mono)
{
    inotify_rm_watch(c->trig.inotify_fd, wd);   /* gone already for a deletion */
    for (size_t i = 0; i < c->trig.n; i++) {
        trig_arm_t *a = c->trig.items[i];
        for (size_t k = 0; a->paths && k < a->t->npaths; k++) {
            if (a->paths[k].wd != wd)
                continue;
            a->paths[k].wd = -1;
            s_note(a, a->t->paths[k], mono);
            snprintf(a->error, sizeof a->error, "%s was deleted or moved (retrying every %d s)",
                     a->paths[k].dir, TRIG_RETRY_MS / 1000);
            a->retry_mono = mono + TRIG_RETRY_MS;
        }
    }
}

/* Changes were lost (the kernel's queue overflowed): every watch fires. */
static void s_overflow(coord_t *c, int64_t mono)
{
    log_msg(LL_WARN, "trigger", "inotify queue overflowed: some changes were not seen");
    for (size_t i = 0; i < c->trig.n; i++) {
        trig_arm_t *a = c->trig.items[i];
        if (a->t->type != TRIGGER_WATCH)
            continue;
        a->truncated = true;
        for (size_t k = 0; k < a->t->npaths; k++)
            s_note(a, a->t->paths[k], mono);
    }
}

/* A path that did not exist (watched through its directory for its name)
   appeared as a directory: watch it as one from the next turn, so the
   files put into it count. */
static void s_became_dir(coord_t *c, trig_arm_t *a, size_t k, int64_t mono)
{
    int wd = a->paths[k].wd;
    a->paths[k].wd = -1;
    if (!s_wd_used(c, wd))
        inotify_rm_watch(c->trig.inotify_fd, wd);
    a->retry_mono = mono;
}

static void s_event(coord_t *c, const struct inotify_event *ev, int64_t mono)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        s_overflow(c, mono);
        return;
    }
    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (s_wd_used(c, ev->wd))
            s_lost(c, ev->wd, mono);
        return;
    }
    const char *name = ev->len ? ev->name : "";
    for (size_t i = 0; i < c->trig.n; i++) {
        trig_arm_t *a = c->trig.items[i];
        for (size_t k = 0; a->paths && k < a->t->npaths; k++) {
            const trig_path_t *p = &a->paths[k];
            if (p->wd != ev->wd || !*name || (p->name && strcmp(p->name, name) != 0))
                continue;
            char path[PATH_MAX + NAME_MAX + 2];
            snprintf(path, sizeof path, "%s%s%s", p->dir, strcmp(p->dir, "/") ? "/" : "", name);
            s_note(a, p->name ? a->t->paths[k] : path, mono);
            if (p->name && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
                s_became_dir(c, a, k, mono);
        }
    }
}

void coord_watch_read(coord_t *c)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int64_t mono = clock_mono_ms();
    for (;;) {
        ssize_t n = read(c->trig.inotify_fd, buf, sizeof buf);
        if (n <= 0)
            return;             /* EAGAIN: all read */
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *) p;
            s_event(c, ev, mono);
            p += sizeof *ev + ev->len;
        }
    }
}

/* ---- the job ------------------------------------------------------------------------ */

static int s_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *) x, *(char *const *) y);
}

void coord_watch_fire(coord_t *c, trig_arm_t *a)
{
    qsort(a->changed, a->nchanged, sizeof *a->changed, s_cmp);
    json_t *paths = json_array();
    for (size_t i = 0; paths && i < a->nchanged; i++)   /* a name that is not UTF-8 cannot be */
        if (json_array_append_new(paths, json_string(a->changed[i])) != 0)   /* JSON text */
            a->truncated = true;
    char *text = coord_trig_payload(a->t, json_pack("{s:s,s:o,s:b}", "type", "watch",
                                                    "paths", paths, "truncated", a->truncated));
    if (text)
        coord_trig_fire(c, a, text, NULL);
    else
        snprintf(a->error, sizeof a->error, "coordinator out of memory at the last run");
    free(text);
    for (size_t i = 0; i < a->nchanged; i++)
        free(a->changed[i]);
    free(a->changed);
    a->changed = NULL;
    a->nchanged = a->changed_bytes = 0;
    a->truncated = false;
    a->first_mono = a->due_mono = 0;
}
