/* One process, two HTTP servers on two TCP ports (c1m_server_start), each
 * with its own instance: different routes, different limits, separate
 * /metrics, different architectures (reuseport with 2 loops, workerpool),
 * running at the same time; the clients are plain blocking sockets. */
#include <signal.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "c1m/http.h"
#include "c1m/server.h"
#include "proto/http1/server.h"
#include "tests/unit/fd_count.h"

/* ---- a server: c1m_server_start on an ephemeral port -------------------- */

typedef struct {
    c1m_server_t *s;
    uint16_t port;
} srv_t;

static void srv_start(srv_t *s, const c1m_proto_t *proto, c1m_arch_t arch)
{
    c1m_server_cfg_t cfg;
    c1m_server_cfg_defaults(&cfg);
    cfg.proto = proto;
    cfg.arch = arch;
    cfg.loops = 2;
    cfg.workers = 2;
    cfg.bind = "127.0.0.1";
    cfg.port = 0;
    cfg.loop.drain_ms = 200;
    c1m_http_go_timeouts(&cfg.loop);
    char err[256] = "";
    int rc = c1m_server_start(&s->s, &cfg, err, sizeof err);
    if (rc < 0)
        fail_msg("c1m_server_start: %s", err);
    s->port = c1m_server_port(s->s);
    assert_true(s->port > 0);
}

static void srv_stop(srv_t *s) { assert_int_equal(c1m_server_stop(s->s), 0); }

/* ---- a client ------------------------------------------------------------ */

/* One request with Connection: close; the whole answer into buf. */
static char *get(uint16_t port, const char *method, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[2048];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, path);
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = 0;
    close(fd);
    return buf;
}

static unsigned long long metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
    return ~0ull;
}

static void hello(c1m_http_req_t *req, c1m_http_reply_t *r, void *ud)
{
    c1m_http_str_t who = c1m_http_req_param(req, "who");
    char out[128];
    int n = snprintf(out, sizeof out, "%s says hello to %.*s\n", (const char *)ud, (int)who.len,
                     who.p);
    c1m_http_reply_send(r, "text/plain", out, (size_t)n);
}

static void two_servers_one_process(void **state)
{
    c1m_http_t *a, *b;
    c1m_http_cfg_t ca, cb;
    c1m_http_cfg_defaults(&ca);
    c1m_http_cfg_defaults(&cb);
    cb.max_request_line = cb.max_head = 512; /* b refuses long URLs, a does not */
    assert_int_equal(c1m_http_new(&a, &ca), 0);
    assert_int_equal(c1m_http_new(&b, &cb), 0);
    assert_int_equal(c1m_http_handle(a, "GET", "/a/:who", hello, "a", 0, NULL, 0), 0);
    assert_int_equal(c1m_http_handle(b, "GET", "/b/:who", hello, "b", 0, NULL, 0), 0);
    assert_int_equal(c1m_http_handle(b, "DELETE", "/b/:who", hello, "b", 0, NULL, 0), 0);
    srv_t sa, sb; /* two architectures, for good measure */
    srv_start(&sa, c1m_http_proto(a), C1M_ARCH_REUSEPORT);
    srv_start(&sb, c1m_http_proto(b), C1M_ARCH_WORKERPOOL);
    assert_int_not_equal(sa.port, sb.port);

    char buf[65536];
    assert_non_null(strstr(get(sa.port, "GET", "/a/x", buf, sizeof buf), "a says hello to x\n"));
    assert_non_null(strstr(get(sa.port, "GET", "/b/x", buf, sizeof buf), "HTTP/1.1 404 "));
    assert_non_null(strstr(get(sb.port, "GET", "/b/y", buf, sizeof buf), "b says hello to y\n"));
    assert_non_null(strstr(get(sb.port, "DELETE", "/b/z", buf, sizeof buf), "b says hello"));
    assert_non_null(strstr(get(sb.port, "GET", "/a/x", buf, sizeof buf), "HTTP/1.1 404 "));
    assert_non_null(strstr(get(sa.port, "DELETE", "/a/x", buf, sizeof buf), "HTTP/1.1 405 "));
    char longpath[1024];
    memset(longpath, 'q', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = 0;
    assert_non_null(strstr(get(sb.port, "GET", longpath, buf, sizeof buf), "HTTP/1.1 414 "));
    assert_non_null(strstr(get(sa.port, "GET", longpath, buf, sizeof buf), "HTTP/1.1 404 "));

    /* a: 200, 404, 405, 404 before its scrape; 5 connections with it */
    get(sa.port, "GET", "/metrics", buf, sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"200\"}"), 1);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"404\"}"), 2);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"405\"}"), 1);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"414\"}"), ~0ull);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 5);
    /* b: 200, 200, 404, 414 (a parse error) */
    get(sb.port, "GET", "/metrics", buf, sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"200\"}"), 2);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"404\"}"), 1);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"414\"}"), 1);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"405\"}"), ~0ull);
    assert_int_equal(metric(buf, "c1m_http_parse_errors_total"), 1);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 5);

    srv_stop(&sa);
    srv_stop(&sb);
    c1m_http_free(a);
    c1m_http_free(b);
}

/* One instance served by 100 servers in turn (new threads each time): no
 * fd more, its counts carry on, and its metrics slots do not grow with
 * the threads (a new thread with an ended thread's id takes its slot). */
static void one_instance_many_servers(void **state)
{
    c1m_http_t *h;
    assert_int_equal(c1m_http_new(&h, NULL), 0);
    assert_int_equal(c1m_http_handle(h, "GET", "/a/:who", hello, "a", 0, NULL, 0), 0);
    char buf[16384];
    int before = fd_count();
    for (int i = 0; i < 100; i++) {
        srv_t s;
        srv_start(&s, c1m_http_proto(h), i % 2 ? C1M_ARCH_WORKERPOOL : C1M_ARCH_REUSEPORT);
        assert_non_null(strstr(get(s.port, "GET", "/a/x", buf, sizeof buf), "a says hello"));
        srv_stop(&s);
    }
    assert_int_equal(fd_count(), before);
    unsigned slots = 0;
    for (c1m_http_slot_t *sl = h->metrics.head; sl; sl = sl->next)
        slots++;
    printf("100 servers (2 loops or 1 loop + 2 workers each): %u metrics slots\n", slots);
    assert_true(slots <= 16);
    size_t n = c1m_http_metrics_render(h, buf, sizeof buf);
    assert_true(n < sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"200\"}"), 100);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 100);
    assert_int_equal(metric(buf, "c1m_http_connections"), 0);
    c1m_http_free(h);
}

int main(void)
{
    /* a peer the loop closed makes write() fail with EPIPE (an assertion
     * with a line number), not kill the test binary */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_servers_one_process),
        cmocka_unit_test(one_instance_many_servers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
