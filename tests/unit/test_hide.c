/*  tests/unit/test_hide.c — mesh/hide.c: a job's view of the worker's key
    directory is an empty, read-only cover, for root and for an ordinary
    user (in a user namespace of its own).

    Each case runs in a forked child, because hiding changes the namespaces
    of the process that does it. Run as root, the test also drops to the
    nobody user for the unprivileged case; a kernel that refuses
    unprivileged user namespaces skips that case, saying so.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mesh/hide.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

static char s_dir[64];

static int setup(void **state)
{
    (void) state;
    snprintf(s_dir, sizeof s_dir, "/tmp/test_hide.XXXXXX");
    if (!mkdtemp(s_dir) || chmod(s_dir, 0755) != 0)
        return -1;
    char key[128];
    snprintf(key, sizeof key, "%s/secret.key", s_dir);
    FILE *f = fopen(key, "w");
    if (!f)
        return -1;
    fputs("not for jobs\n", f);
    fclose(f);
    return chmod(key, 0644);   /* readable by anyone: only the cover hides it */
}

static int teardown(void **state)
{
    (void) state;
    char key[128];
    snprintf(key, sizeof key, "%s/secret.key", s_dir);
    unlink(key);
    rmdir(s_dir);
    return 0;
}

/* In a child: hide, then (like a job) exec a shell that looks, and with
   try_unmount first tries to take the cover off. 0 = covered and held. */
static int s_child(bool try_unmount)
{
    hide_t h;
    char script[512];
    if (hide_prepare(&h, s_dir) != 0 || hide_apply(&h) != 0)
        return 10;
    if (try_unmount)
        snprintf(script, sizeof script, "umount -l '%s' 2>/dev/null; "
                 "test -e '%s/secret.key' && exit 11; exit 0", s_dir, s_dir);
    else
        snprintf(script, sizeof script, "test -e '%s/secret.key' && exit 11; exit 0", s_dir);
    execl("/bin/sh", "sh", "-c", script, (char *) NULL);
    return 13;
}

/* Drop from root to uid as a worker started as that user would be (a
   process that changed uid is not dumpable, which would keep it from
   writing its own /proc/self/uid_map; a freshly started one is). */
static int s_become(uid_t as)
{
    if (setgroups(0, NULL) != 0 || setgid(as) != 0 || setuid(as) != 0)
        return -1;
    return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

static int s_run(uid_t as, bool try_unmount)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (as != (uid_t) -1 && s_become(as) != 0)
            _exit(12);
        _exit(s_child(try_unmount));
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static void test_the_dir_is_covered(void **state)
{
    (void) state;
    assert_int_equal(s_run((uid_t) -1, false), 0);
    char key[128];
    snprintf(key, sizeof key, "%s/secret.key", s_dir);
    assert_int_equal(access(key, F_OK), 0);   /* the worker itself still sees it */
}

static void test_an_ordinary_user_cannot_uncover_it(void **state)
{
    (void) state;
    struct passwd *nobody = getpwnam("nobody");
    uid_t as = geteuid() == 0 && nobody ? nobody->pw_uid : (uid_t) -1;
    if (geteuid() == 0 && !nobody)
        skip();
    hide_t h;
    char err[200];
    assert_int_equal(hide_prepare(&h, s_dir), 0);
    pid_t pid = fork();
    if (pid == 0) {               /* can this user have a namespace at all? */
        if (as != (uid_t) -1 && s_become(as) != 0)
            _exit(2);
        hide_t hu;
        _exit(hide_prepare(&hu, s_dir) == 0 && hide_probe(&hu, err, sizeof err) == 0 ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        print_message("unprivileged user namespaces are refused here: case skipped\n");
        skip();
    }
    assert_int_equal(s_run(as, true), 0);
}

static void test_probe_reports(void **state)
{
    (void) state;
    hide_t h;
    char err[200] = "";
    assert_int_equal(hide_prepare(&h, s_dir), 0);
    assert_int_equal(hide_probe(&h, err, sizeof err), 0);
    assert_int_equal(hide_prepare(&h, "/nonexistent/popebot/keys"), 0);
    assert_int_equal(hide_probe(&h, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    char longpath[5000];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(hide_prepare(&h, longpath), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_dir_is_covered),
        cmocka_unit_test(test_an_ordinary_user_cannot_uncover_it),
        cmocka_unit_test(test_probe_reports),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
