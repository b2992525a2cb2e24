/*  mesh/hide.c — hide one directory from a job's process (hide.h).

    Rules: hide_apply runs between fork and exec, so it uses system calls
    only (no allocation, no stdio); every string it writes was formatted by
    hide_prepare beforehand. Mount propagation is made private first, so
    nothing done in the job's namespace reaches the worker's.
*/
#include "mesh/hide.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

int hide_prepare(hide_t *h, const char *dir)
{
    memset(h, 0, sizeof *h);
    if ((size_t) snprintf(h->dir, sizeof h->dir, "%s", dir) >= sizeof h->dir)
        return -1;
    h->root = geteuid() == 0;
    snprintf(h->uid_map, sizeof h->uid_map, "%u %u 1\n", (unsigned) geteuid(), (unsigned) geteuid());
    snprintf(h->gid_map, sizeof h->gid_map, "%u %u 1\n", (unsigned) getegid(), (unsigned) getegid());
    return 0;
}

static int s_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t) strlen(text) ? 0 : -1;
}

/* An ordinary user: a user namespace with only itself in it. */
static int s_enter_userns(const hide_t *h)
{
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return -1;
    if (s_write_file("/proc/self/setgroups", "deny") != 0 ||
        s_write_file("/proc/self/uid_map", h->uid_map) != 0 ||
        s_write_file("/proc/self/gid_map", h->gid_map) != 0)
        return -1;
    return 0;
}

int hide_apply(const hide_t *h)
{
    if (h->root ? unshare(CLONE_NEWNS) != 0 : s_enter_userns(h) != 0)
        return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return -1;
    return mount("popebot-hidden", h->dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "size=4k,mode=0500");
}

/* In the probe child: hide, then the directory must look empty. */
static int s_probe_child(const hide_t *h)
{
    if (hide_apply(h) != 0)
        return 1;
    DIR *d = opendir(h->dir);
    if (!d)
        return 2;
    int seen = 0;
    for (struct dirent *e; (e = readdir(d));)
        seen += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return seen ? 3 : 0;
}

int hide_probe(const hide_t *h, char *err, size_t errlen)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        _exit(s_probe_child(h));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(err, errlen, "%s", WIFEXITED(status) && WEXITSTATUS(status) == 1
             ? (h->root ? "a new mount namespace is refused" : "unprivileged user namespaces are "
                "refused (kernel.unprivileged_userns_clone or a security module)")
             : "the directory still shows through");
    return -1;
}
