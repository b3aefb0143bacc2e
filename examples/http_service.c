/* http_service: an HTTP/1.1 service with a route, a path parameter, a
 * middleware and Prometheus metrics.
 *
 *   GET /hello/:name   "hello, NAME!\n"
 *   GET /metrics       this instance's counters (requests by status,
 *                      connections, latency histogram), built in
 *
 * Every answer, routed or not, carries "X-Request-Id: N" from the
 * middleware. The server keeps Go net/http's four timeouts.
 *
 *   cc http_service.c $(pkg-config --cflags --libs c1m) -o http_service
 *   ./http_service [PORT [LOOPS]]          (defaults: 0, 1)
 *   curl -i localhost:PORT/hello/world
 */
#include <c1m/c1m.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* GET /hello/:name. Runs on a loop thread; `req` and `reply` are valid
 * during the call only, and the parameter points into the request. */
static void hello(c1m_http_req_t *req, c1m_http_reply_t *reply, void *ud)
{
    (void)ud;
    c1m_http_str_t name = c1m_http_req_param(req, "name");
    char body[256];
    int n = snprintf(body, sizeof body, "hello, %.*s!\n", (int)name.len, name.p);
    if (n >= (int)sizeof body)
        n = sizeof body - 1; /* a very long name is cut */
    c1m_http_reply_send(reply, "text/plain", body, (size_t)n); /* copies body */
}

/* A middleware runs around every request: it may add headers, answer
 * itself (and not call next), or time what the handler does. With several
 * loops it runs on several threads at once: the counter is atomic. */
static void request_id(c1m_http_req_t *req, c1m_http_reply_t *reply, void *ud)
{
    atomic_ulong *next_id = ud;
    char id[24];
    int n = snprintf(id, sizeof id, "%lu", atomic_fetch_add(next_id, 1) + 1);
    c1m_http_reply_header(reply, "X-Request-Id", id, (size_t)n);
    c1m_http_next(req); /* the next middleware, then the handler */
}

int main(int argc, char **argv)
{
    c1m_log_set_handler(c1m_log_stderr, NULL, C1M_LOG_WARN);
    char err[256] = "";
    static atomic_ulong next_id;

    /* The HTTP instance: routes and middleware first, then serve. */
    c1m_http_cfg_t hc;
    c1m_http_cfg_defaults(&hc); /* /metrics on, the parser's default limits */
    c1m_http_t *http;
    int rc = c1m_http_new(&http, &hc);
    if (rc == 0)
        rc = c1m_http_handle(http, "GET", "/hello/:name", hello, NULL, 0, err, sizeof err);
    if (rc == 0)
        rc = c1m_http_use(http, request_id, &next_id);
    if (rc < 0) {
        fprintf(stderr, "http_service: %s\n", err[0] ? err : c1m_strerror(rc));
        return 1;
    }

    /* The server that runs it. */
    c1m_server_cfg_t sc;
    c1m_server_cfg_defaults(&sc);
    sc.proto = c1m_http_proto(http);
    sc.bind = "127.0.0.1";
    sc.port = argc > 1 ? (uint16_t)atoi(argv[1]) : 0;
    sc.loops = argc > 2 ? (uint32_t)atoi(argv[2]) : 1;
    sc.arch = sc.loops > 1 ? C1M_ARCH_REUSEPORT : C1M_ARCH_SINGLE;
    c1m_http_go_timeouts(&sc.loop); /* read 5 s, write 10 s, idle 10 s, header 10 s */

    sigset_t stop; /* SIGINT/SIGTERM are ours: blocked in every thread */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    c1m_server_t *srv;
    rc = c1m_server_start(&srv, &sc, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "http_service: %s\n", err[0] ? err : c1m_strerror(rc));
        c1m_http_free(http);
        return 1;
    }
    printf("http_service: listening on port %u\n", (unsigned)c1m_server_port(srv));
    fflush(stdout);

    int sig;
    sigwait(&stop, &sig);
    rc = c1m_server_stop(srv);
    c1m_http_free(http); /* after every server that used it has stopped */
    return rc < 0 ? 1 : 0;
}
