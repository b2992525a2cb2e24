/*  node/passwd_cli.c — `popebot-node passwd` (passwd_cli.h).

    The password is read into a fixed buffer that is wiped before return;
    it is never printed, not even in an error (only its length rule is).
*/
#include "node/passwd_cli.h"
#include "store/users.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

enum { PW_OK = 0, PW_USAGE = 2, PW_NOT_FOUND = 4, PW_STORE = 5 };

/* Bytes a line may hold: the longest password, its newline, and one more
   to tell a longer line apart. */
#define S_LINE (USERS_PASSWORD_MAX + 3)

/* Read one line from stdin into buf (newline and a CR before it removed);
   its length, or -1 when the line is longer than the longest password. */
static long s_read_line(char *buf, size_t cap)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "password: ");
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(buf, (int) cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    size_t n = got ? strlen(buf) : 0;
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n + 1 >= cap)
        return -1;
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return n > USERS_PASSWORD_MAX ? -1 : (long) n;
}

static int s_set(auth_t *a, const config_t *cfg)
{
    char buf[S_LINE], err[256];
    long n = s_read_line(buf, sizeof buf);
    int rc = PW_OK;
    if (n == 0) {
        fprintf(stderr, "popebot-node: passwd: no password on stdin (an empty one is refused)\n");
        rc = PW_USAGE;
    } else if (n < 0 || n < USERS_PASSWORD_MIN) {
        fprintf(stderr, "popebot-node: passwd: the password must be %d to %d bytes long\n",
                USERS_PASSWORD_MIN, USERS_PASSWORD_MAX);
        rc = PW_USAGE;
    } else if (users_set(a, cfg->user, buf, (size_t) n, err, sizeof err) != 0) {
        fprintf(stderr, "popebot-node: passwd: %s\n", err);
        rc = PW_STORE;
    } else {
        printf("password set for %s\n", cfg->user);
    }
    sodium_memzero(buf, sizeof buf);
    return rc;
}

static int s_delete(auth_t *a, const config_t *cfg)
{
    char err[256];
    int n = users_delete(a, cfg->user, err, sizeof err);
    if (n < 0)
        fprintf(stderr, "popebot-node: passwd: %s\n", err);
    else if (n == 0)
        fprintf(stderr, "popebot-node: passwd: no user %s\n", cfg->user);
    else
        printf("deleted user %s\n", cfg->user);
    return n < 0 ? PW_STORE : n == 0 ? PW_NOT_FOUND : PW_OK;
}

int passwd_cli_run(const config_t *cfg)
{
    char err[256];
    if (!users_name_valid(cfg->user)) {
        fprintf(stderr, "popebot-node: --user: a name is 1 to %d of A-Z a-z 0-9 . _ @ -\n",
                USERS_NAME_MAX);
        return PW_USAGE;
    }
    auth_t *a = auth_open(cfg->data_dir, err, sizeof err);
    if (!a) {
        fprintf(stderr, "popebot-node: %s\n", err);
        return PW_STORE;
    }
    int rc = cfg->delete_user ? s_delete(a, cfg) : s_set(a, cfg);
    auth_close(&a);
    return rc;
}
