/*  bench/bench_http_trivial.c — the yardstick for the HTTP benchmark: civetweb
    with the coordinator's settings (thread count, keep-alive) serving one
    route that answers a small JSON 200 and does nothing else. bench/http runs
    wrk against it and against the coordinator in the same invocation, so the
    webhook's requests/s can be read as a fraction of what civetweb itself
    gives on this machine.

        bench_http_trivial ADDR:PORT THREADS     (runs until SIGINT or SIGTERM)

    Rules: no popebot code on the request path; the body is read and dropped
    so POSTs cost the same bytes as on the coordinator.
*/
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

static int s_handle(struct mg_connection *conn, void *cbdata)
{
    (void) cbdata;
    static const char body[] = "{\"ok\":true,\"job_id\":\"0000000000000000\"}";
    char sink[4096];
    while (mg_read(conn, sink, sizeof sink) > 0)
        ;
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: application/json\r\n"
              "Content-Length: %zu\r\n"
              "Cache-Control: no-store\r\n"
              "\r\n",
              sizeof body - 1);
    mg_write(conn, body, sizeof body - 1);
    return 200;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: bench_http_trivial ADDR:PORT THREADS\n");
        return 2;
    }
    const char *options[] = {
        "listening_ports", argv[1],
        "num_threads", argv[2],
        "request_timeout_ms", "30000",
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "30000",
        "tcp_nodelay", "1",
        NULL
    };
    struct sigaction sa = { 0 };
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    mg_init_library(0);
    struct mg_callbacks cb = { 0 };
    struct mg_context *ctx = mg_start(&cb, NULL, options);
    if (!ctx) {
        fprintf(stderr, "bench_http_trivial: cannot listen on %s\n", argv[1]);
        return 1;
    }
    mg_set_request_handler(ctx, "/", s_handle, NULL);
    while (!s_stop)
        sleep(1);             /* a signal ends the sleep early */
    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
