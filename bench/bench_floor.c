/*  bench/bench_floor.c — the floor under job latency on this machine.

    Forks an echo process (ROUTER) and measures sequential ZeroMQ round
    trips to it from a DEALER over loopback TCP: no popebot code on the
    path. An echo job crosses two such round trips (client <-> coordinator
    <-> worker), so twice this floor is the least its latency can be.
      bench_floor PORT COUNT
    prints p50/p90/p99/p99.9 of the round-trip time in microseconds.
*/
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static int64_t s_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_echo(const char *ep)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_ROUTER);
    zmq_bind(s, ep);
    char id[256], body[256];
    for (;;) {
        int n = zmq_recv(s, id, sizeof id, 0);
        int m = zmq_recv(s, body, sizeof body, 0);
        if (n < 0 || m < 0)
            break;
        zmq_send(s, id, (size_t) n, ZMQ_SNDMORE);
        zmq_send(s, body, (size_t) m, 0);
    }
    _exit(0);
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_floor PORT COUNT\n");
        return 2;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%s", argv[1]);
    int count = atoi(argv[2]);
    pid_t pid = fork();
    if (pid == 0)
        s_echo(ep);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    zmq_connect(s, ep);
    char buf[64] = "ping";
    zmq_send(s, buf, 4, 0); /* first one waits for the connection */
    zmq_recv(s, buf, sizeof buf, 0);
    int64_t *rtt = calloc((size_t) count, sizeof *rtt);
    for (int i = 0; i < count; i++) {
        int64_t t0 = s_us();
        zmq_send(s, buf, 4, 0);
        zmq_recv(s, buf, sizeof buf, 0);
        rtt[i] = s_us() - t0;
        usleep(100); /* paced, like jobs at a fixed rate, not a hot loop */
    }
    qsort(rtt, (size_t) count, sizeof *rtt, s_cmp);
    printf("mode=floor round_trips=%d p50_us=%lld p90_us=%lld p99_us=%lld p99.9_us=%lld\n", count,
           (long long) rtt[count / 2], (long long) rtt[count * 9 / 10],
           (long long) rtt[count * 99 / 100], (long long) rtt[count * 999 / 1000]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    free(rtt);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
