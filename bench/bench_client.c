/*  bench/bench_client.c — load generator for end-to-end echo jobs.

    Talks the client protocol to a running coordinator:
      bench_client [--data-dir=DIR] throughput EP N BATCH WINDOW
        submits N echo jobs in SUBMITs of BATCH, keeping at most WINDOW jobs
        in flight, each with wait=true; counts RESULTs; prints jobs/s.
      bench_client [--data-dir=DIR] latency EP RATE SECONDS
        submits one echo job per SUBMIT at RATE per second for SECONDS and
        prints submit->result latency percentiles (p50 p90 p99 p99.9 max).
    Every job's result is checked against its payload; a mismatch or a job
    that did not succeed fails the run (exit 1). Output is one line of
    key=value pairs for bench/run to collect.

    With --data-dir=DIR the DEALER speaks CURVE as the CLI does beside the
    coordinator: DIR/curve/client.{key,pub} (the pair the coordinator
    enrols as "c:local" at every start) and the pinned DIR/curve/server.pub.
    Without it the socket is plaintext, for a coordinator run --insecure.
    An ERROR from the coordinator, or no answer at all within 10 s (a
    refused handshake looks like that), fails the run.
*/
#include "mesh/curve.h"
#include "mesh/proto.h"

#include <czmq.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t s_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct {
    void *sock;
    pb_buf_t out;
    uint64_t done, bad;
    uint64_t heard;           /* messages received of any kind */
    bool failed;              /* the coordinator answered ERROR */
    zhashx_t *sent_at;        /* job id -> submit time (latency mode) */
    int64_t *lat;             /* latencies in us */
    size_t nlat;
    int64_t *req_t0;          /* submit time by req_id (latency mode) */
} bench_t;

static const msgpack_object *s_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static bool s_str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* A RESULT: check state and that result == payload. */
static void s_result(bench_t *b, const msgpack_object *job)
{
    const msgpack_object *res = s_get(job, "result"), *pay = s_get(job, "payload");
    bool ok = s_str_is(s_get(job, "state"), "succeeded") && res && pay &&
              res->type == MSGPACK_OBJECT_STR && pay->type == MSGPACK_OBJECT_STR &&
              res->via.str.size == pay->via.str.size &&
              memcmp(res->via.str.ptr, pay->via.str.ptr, res->via.str.size) == 0;
    b->done++;
    b->bad += ok ? 0 : 1;
    if (!b->sent_at)
        return;
    const msgpack_object *id = s_get(job, "id");
    char key[32];
    snprintf(key, sizeof key, "%.*s", (int) id->via.str.size, id->via.str.ptr);
    int64_t *t0 = zhashx_lookup(b->sent_at, key);
    if (t0) {
        b->lat[b->nlat++] = s_us() - *t0;
        zhashx_delete(b->sent_at, key);
    }
}

static void s_submitted(bench_t *b, const pb_submitted_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (!s->items[i].job_id.ptr) {
            b->bad++;
            b->done++;
            continue;
        }
        if (b->sent_at) {
            char key[32];
            snprintf(key, sizeof key, "%.*s", (int) s->items[i].job_id.len, s->items[i].job_id.ptr);
            int64_t *t0 = malloc(sizeof *t0);
            *t0 = b->req_t0[s->req_id];
            zhashx_insert(b->sent_at, key, t0);
        }
    }
}

/* Read whatever arrived within timeout_ms. */
static void s_drain(bench_t *b, int timeout_ms)
{
    zmq_pollitem_t it = { b->sock, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return;
    for (;;) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, b->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f);
            return;
        }
        pb_err_t err;
        pb_msg_t *m = pb_decode(zmq_msg_data(&f), zmq_msg_size(&f), &err);
        zmq_msg_close(&f);
        b->heard++;
        if (m && m->cmd == PB_ERROR && !b->failed) {
            fprintf(stderr, "bench: coordinator error %.*s: %.*s\n",
                    (int) m->u.error.code.len, m->u.error.code.ptr,
                    (int) m->u.error.message.len, m->u.error.message.ptr);
            b->failed = true;
        }
        if (m && m->cmd == PB_RESULT)
            for (uint32_t i = 0; i < m->u.reply.body->via.array.size; i++)
                s_result(b, &m->u.reply.body->via.array.ptr[i]);
        else if (m && m->cmd == PB_SUBMITTED)
            s_submitted(b, &m->u.submitted);
        pb_msg_destroy(&m);
    }
}

/* Wait up to us microseconds for the socket (zmq_poll only has ms). The
   ZMQ_FD signals edges, so ZMQ_EVENTS is checked before sleeping on it. */
static void s_wait_us(bench_t *b, int64_t us)
{
    int events = 0, fd = -1;
    size_t len = sizeof events;
    zmq_getsockopt(b->sock, ZMQ_EVENTS, &events, &len);
    if (!(events & ZMQ_POLLIN)) {
        len = sizeof fd;
        zmq_getsockopt(b->sock, ZMQ_FD, &fd, &len);
        struct pollfd p = { fd, POLLIN, 0 };
        struct timespec ts = { (time_t) (us / 1000000), (long) (us % 1000000) * 1000 };
        ppoll(&p, 1, &ts, NULL);
    }
    s_drain(b, 0);
}

static void s_submit(bench_t *b, uint64_t req, uint64_t first, uint32_t n)
{
    pb_submit_item_t items[n];
    char payloads[n][32];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(payloads[i], sizeof payloads[i], "{\"n\":%llu}", (unsigned long long) (first + i));
        items[i] = (pb_submit_item_t) { pb_s("echo"), pb_s(payloads[i]), 0, { NULL, 0 }, 0, { NULL, 0 } };
    }
    pb_buf_reset(&b->out);
    pb_enc_submit(&b->out, req, items, n, true);
    zmq_send(b->sock, pb_buf_data(&b->out), pb_buf_size(&b->out), 0);
}

static int s_throughput(bench_t *b, uint64_t n, uint32_t batch, uint64_t window)
{
    uint64_t sent = 0, req = 0;
    int64_t t0 = s_us();
    while (b->done < n) {
        while (sent < n && sent - b->done + batch <= window) {
            uint32_t k = (uint32_t) (n - sent < batch ? n - sent : batch);
            s_submit(b, ++req, sent, k);
            sent += k;
        }
        s_drain(b, 1000);
        if (b->failed || (!b->heard && s_us() - t0 > 10 * 1000000LL)) {
            fprintf(stderr, "bench: %s\n", b->failed ? "refused by the coordinator"
                    : "no answer within 10 s (endpoint? CURVE keys: --data-dir, or "
                      "--insecure on both sides?)");
            return 1;
        }
        if (s_us() - t0 > 300 * 1000000LL) {
            fprintf(stderr, "bench: gave up after 300 s with %llu of %llu done\n",
                    (unsigned long long) b->done, (unsigned long long) n);
            return 1;
        }
    }
    double secs = (double) (s_us() - t0) / 1e6;
    printf("mode=throughput jobs=%llu batch=%u window=%llu seconds=%.3f jobs_per_s=%.0f bad=%llu\n",
           (unsigned long long) n, batch, (unsigned long long) window, secs, (double) n / secs,
           (unsigned long long) b->bad);
    return b->bad ? 1 : 0;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

static void s_free_t0(void **item)
{
    free(*item);
    *item = NULL;
}

static int s_latency(bench_t *b, uint32_t rate, uint32_t seconds)
{
    uint64_t n = (uint64_t) rate * seconds;
    b->sent_at = zhashx_new();
    zhashx_set_destructor(b->sent_at, s_free_t0);
    b->lat = calloc(n, sizeof(int64_t));
    b->req_t0 = calloc(n + 1, sizeof(int64_t));
    int64_t start = s_us();
    for (uint64_t i = 0; i < n;) {
        int64_t due = start + (int64_t) (i * 1000000 / rate);
        int64_t now = s_us();
        if (now >= due) {
            b->req_t0[i + 1] = now;
            s_submit(b, i + 1, i, 1);
            i++;
            continue;
        }
        s_wait_us(b, due - now);
    }
    int64_t deadline = s_us() + 30 * 1000000LL;
    while (b->done < n && !b->failed && s_us() < deadline)
        s_drain(b, 100);
    qsort(b->lat, b->nlat, sizeof(int64_t), s_cmp);
    double pct[] = { 0.5, 0.9, 0.99, 0.999 };
    printf("mode=latency rate=%u seconds=%u jobs=%llu measured=%zu", rate, seconds,
           (unsigned long long) n, b->nlat);
    for (int i = 0; i < 4 && b->nlat; i++)
        printf(" p%g_us=%lld", pct[i] * 100, (long long) b->lat[(size_t) (pct[i] * (double) (b->nlat - 1))]);
    printf(" max_us=%lld bad=%llu\n", b->nlat ? (long long) b->lat[b->nlat - 1] : 0LL,
           (unsigned long long) b->bad);
    int rc = (b->bad || b->failed || b->nlat != n) ? 1 : 0;
    zhashx_destroy(&b->sent_at);
    free(b->lat);
    free(b->req_t0);
    return rc;
}

/* The CURVE client options of DIR/curve (see the header). 0 or -1. */
static int s_curve(void *sock, const char *data_dir)
{
    char dir[4096], path[4200], err[256];
    curve_client_t c = { .on = true };
    snprintf(dir, sizeof dir, "%s/curve", data_dir);
    snprintf(path, sizeof path, "%s/server.pub", dir);
    if (curve_pair_load(dir, "client", &c.me, err, sizeof err) != 1 ||
        curve_text_load(path, c.server_pub, sizeof c.server_pub, err, sizeof err) != 1 ||
        strlen(c.server_pub) != CURVE_Z85_LEN) {
        fprintf(stderr, "bench: no CURVE client keys in %s (has the coordinator started?) %s\n",
                dir, err);
        return -1;
    }
    if (curve_client_apply(sock, &c) != 0) {
        fprintf(stderr, "bench: CURVE options: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *data_dir = NULL;
    if (argc > 1 && strncmp(argv[1], "--data-dir=", 11) == 0) {
        data_dir = argv[1] + 11;
        argv++;
        argc--;
    }
    if (argc < 5 || (strcmp(argv[1], "throughput") && strcmp(argv[1], "latency"))) {
        fprintf(stderr, "usage: bench_client [--data-dir=DIR] throughput EP N BATCH WINDOW\n"
                        "       bench_client [--data-dir=DIR] latency EP RATE SECONDS\n");
        return 2;
    }
    bench_t b = { 0 };
    void *ctx = zmq_ctx_new();
    b.sock = zmq_socket(ctx, ZMQ_DEALER);
    int hwm = 0;
    zmq_setsockopt(b.sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b.sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (data_dir && s_curve(b.sock, data_dir) != 0)
        return 1;
    zmq_connect(b.sock, argv[2]);
    pb_buf_init(&b.out);
    int rc = strcmp(argv[1], "throughput") == 0
                 ? (argc < 6 ? 2 : s_throughput(&b, strtoull(argv[3], NULL, 10),
                                                (uint32_t) atoi(argv[4]), strtoull(argv[5], NULL, 10)))
                 : s_latency(&b, (uint32_t) atoi(argv[3]), (uint32_t) atoi(argv[4]));
    pb_buf_free(&b.out);
    int linger = 0;
    zmq_setsockopt(b.sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(b.sock);
    zmq_ctx_term(ctx);
    return rc;
}
