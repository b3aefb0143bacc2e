/* HTTP instances (c1m/http.h): two instances with different routes and
 * separate /metrics in one loop, the request and reply accessors,
 * middleware order, readable errors for bad patterns, configuration
 * frozen once serving, bounded /metrics text, the thread-local slot cache,
 * and the prefork shared metrics: liveness of a killed process without
 * kill() and adoption of its slot by a successor. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "c1m/http.h"
#include "engine/loop.h"
#include "proto/http1/app.h"
#include "proto/http1/server.h"

static c1m_loop_t loop;

static int setup(void **state)
{
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    c1m_http_go_timeouts(&cfg);
    return c1m_loop_init(&loop, 0, &cfg, NULL);
}

static int teardown(void **state)
{
    c1m_loop_destroy(&loop);
    return 0;
}

static void spin(int n)
{
    for (int i = 0; i < n; i++)
        c1m_loop_run_once(&loop, 5);
}

static size_t slurp(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return n;
}

/* A connection of protocol p on the loop; returns the peer's end. */
static int open_conn(const c1m_proto_t *p)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    assert_non_null(c1m_loop_adopt(&loop, sv[0], p));
    return sv[1];
}

/* Send one request on a fresh connection, return the answer in buf. */
static char *ask(const c1m_proto_t *p, const char *req, char *buf, size_t cap)
{
    int peer = open_conn(p);
    assert_int_equal(write(peer, req, strlen(req)), (ssize_t)strlen(req));
    spin(3);
    slurp(peer, buf, cap);
    close(peer);
    spin(2);
    return buf;
}

static unsigned long long metric(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);
    while ((p = strstr(p, name))) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
        p += n;
    }
    return ~0ull; /* absent */
}

static void text(c1m_http_reply_t *r, const char *s)
{
    c1m_http_reply_send(r, "text/plain", s, strlen(s));
}

static void say_a(c1m_http_req_t *req, c1m_http_reply_t *r, void *ud) { text(r, "from a\n"); }
static void say_b(c1m_http_req_t *req, c1m_http_reply_t *r, void *ud) { text(r, ud); }

/* ---- two instances ---------------------------------------------------- */

static void two_instances_separate_routes_and_metrics(void **state)
{
    c1m_http_t *a, *b;
    c1m_http_cfg_t cb;
    c1m_http_cfg_defaults(&cb);
    cb.metrics_path = "/stats";
    assert_int_equal(c1m_http_new(&a, NULL), 0);
    assert_int_equal(c1m_http_new(&b, &cb), 0);
    assert_int_equal(c1m_http_handle(a, "GET", "/a", say_a, NULL, 0, NULL, 0), 0);
    assert_int_equal(c1m_http_handle(b, "GET", "/b", say_b, "from b\n", 0, NULL, 0), 0);
    const c1m_proto_t *pa = c1m_http_proto(a), *pb = c1m_http_proto(b);
    assert_ptr_not_equal(pa, pb);
    assert_ptr_equal(c1m_http_from_proto(pa), a);
    assert_ptr_equal(c1m_http_from_proto(pb), b);

    char buf[16384];
    assert_non_null(strstr(ask(pa, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
                           "200 OK"));
    assert_non_null(strstr(buf, "from a\n"));
    assert_non_null(strstr(ask(pa, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
                           "404 Not Found"));
    assert_non_null(strstr(ask(pb, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
                           "from b\n"));
    assert_non_null(strstr(ask(pb, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
                           "from b\n"));
    assert_non_null(strstr(ask(pb, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
                           "404 Not Found"));
    /* b has its metrics at /stats, not /metrics */
    assert_non_null(strstr(ask(pb, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
                           "404 Not Found"));

    /* a: 1 x 200 (/a), 1 x 404 (/b), 3 connections; this scrape is the 4th */
    ask(pa, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"200\"}"), 1);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"404\"}"), 1);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 3);
    assert_int_equal(metric(buf, "c1m_http_connections"), 1); /* the scrape's own */
    /* b: 2 x 200, 2 x 404, 5 connections before its scrape */
    ask(pb, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"200\"}"), 2);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"404\"}"), 2);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 5);
    assert_int_equal(metric(buf, "c1m_http_request_duration_seconds_count"), 4);
    /* the render call sees the same counts */
    size_t n = c1m_http_metrics_render(a, buf, sizeof buf);
    assert_true(n > 0 && n < sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"200\"}"), 2); /* + a's scrape */
    c1m_http_free(a);
    c1m_http_free(b);
}

/* ---- registration ------------------------------------------------------- */

static void bad_patterns_have_readable_errors(void **state)
{
    c1m_http_t *h;
    assert_int_equal(c1m_http_new(&h, NULL), 0);
    char err[256] = "";
    assert_int_equal(c1m_http_handle(h, "GET", "nope", say_a, NULL, 0, err, sizeof err), -EINVAL);
    assert_true(strlen(err) > 10);
    err[0] = 0;
    assert_int_equal(c1m_http_handle(h, "GET", "/user/:id", say_a, NULL, 0, err, sizeof err), 0);
    assert_int_equal(c1m_http_handle(h, "GET", "/user/:name", say_a, NULL, 0, err, sizeof err),
                     -ENOTUNIQ);
    assert_non_null(strstr(err, ":id"));
    assert_int_equal(c1m_http_handle(h, "GET", "/metrics", say_a, NULL, 0, err, sizeof err),
                     -EEXIST); /* the built-in one */
    assert_int_equal(c1m_http_handle(h, "GET", "/x", NULL, NULL, 0, err, sizeof err), -EINVAL);
    c1m_http_free(h);

    /* a metrics path the router refuses */
    c1m_http_cfg_t cfg;
    c1m_http_cfg_defaults(&cfg);
    cfg.metrics_path = "metrics";
    h = (c1m_http_t *)1;
    assert_int_equal(c1m_http_new(&h, &cfg), -EINVAL);
    assert_null(h);
    assert_null(c1m_http_from_proto(NULL));
}

static void frozen_once_serving(void **state)
{
    c1m_http_t *h;
    assert_int_equal(c1m_http_new(&h, NULL), 0);
    int peer = open_conn(c1m_http_proto(h));
    char err[128] = "";
    assert_int_equal(c1m_http_handle(h, "GET", "/late", say_a, NULL, 0, err, sizeof err), -EBUSY);
    assert_true(strlen(err) > 0);
    assert_int_equal(c1m_http_use(h, say_a, NULL), -EBUSY);
    close(peer);
    spin(2);
    c1m_http_free(h);
}

/* ---- request, reply, middleware ---------------------------------------- */

static void show(c1m_http_req_t *req, c1m_http_reply_t *r, void *ud)
{
    char out[1024];
    c1m_http_str_t m = c1m_http_req_method(req), p = c1m_http_req_path(req),
                   q = c1m_http_req_query(req), t = c1m_http_req_target(req),
                   x = c1m_http_req_header(req, "x-thing"), no = c1m_http_req_header(req, "nope"),
                   id = c1m_http_req_param(req, "id"), rest = c1m_http_req_param(req, "rest"),
                   b = c1m_http_req_body(req), hn, hv, pn, pv;
    assert_null(no.p);
    assert_int_equal(c1m_http_req_header_at(req, 1, &hn, &hv), 0);
    assert_int_equal(c1m_http_req_header_at(req, c1m_http_req_header_count(req), &hn, &hv),
                     -ENOENT);
    assert_int_equal(c1m_http_req_param_count(req), 2);
    assert_int_equal(c1m_http_req_param_at(req, 0, &pn, &pv), 0);
    assert_int_equal(c1m_http_req_param_at(req, 2, &pn, &pv), -ENOENT);
    assert_ptr_equal(c1m_http_req_server(req), ud);
    assert_non_null(c1m_http_req_conn(req));
    assert_true(c1m_http_req_start_ns(req) > 0);
    int n = snprintf(out, sizeof out,
                     "m=%.*s p=%.*s q=%.*s t=%.*s x=%.*s id=%.*s rest=%.*s body=%.*s v=%d "
                     "route=%s h1=%.*s p0=%.*s\n",
                     (int)m.len, m.p, (int)p.len, p.p, (int)q.len, q.p, (int)t.len, t.p,
                     (int)x.len, x.p, (int)id.len, id.p, (int)rest.len, rest.p, (int)b.len, b.p,
                     c1m_http_req_version(req), c1m_http_req_route(req), (int)hn.len, hn.p,
                     (int)pn.len, pn.p);
    assert_int_equal(c1m_http_reply_status(r, 201), 0);
    assert_int_equal(c1m_http_reply_status(r, 42), -EINVAL);
    assert_int_equal(c1m_http_reply_header(r, "X-Ok", "1", 1), 0);
    assert_int_equal(c1m_http_reply_header(r, "X-Bad", "a\r\nb", 4), -EINVAL);
    assert_int_equal(c1m_http_reply_send(r, "text/plain", out, (size_t)n), 0);
    assert_int_equal(c1m_http_reply_status(r, 500), -EALREADY);
    assert_int_equal(c1m_http_reply_get_status(r), 201);
    assert_int_equal(c1m_http_reply_body_bytes(r), n);
}

/* Middleware: adds a header named by ud, before and after the handler. */
static void tag(c1m_http_req_t *req, c1m_http_reply_t *r, void *ud)
{
    c1m_http_reply_header(r, ud, "in", 2);
    c1m_http_next(req);
    assert_int_equal(c1m_http_reply_header(r, ud, "out", 3), -EALREADY); /* sent by then */
}

static void accessors_and_middleware(void **state)
{
    c1m_http_t *h;
    assert_int_equal(c1m_http_new(&h, NULL), 0);
    assert_int_equal(c1m_http_handle(h, "POST", "/u/:id/*rest", show, h, C1M_HTTP_BODY, NULL, 0),
                     0);
    assert_int_equal(c1m_http_use(h, tag, "X-First"), 0);
    assert_int_equal(c1m_http_use(h, tag, "X-Second"), 0);
    char buf[8192];
    ask(c1m_http_proto(h),
        "POST /u/7/a/b?k=v HTTP/1.1\r\nHost: x\r\nX-Thing: yes\r\nContent-Length: 5\r\n\r\nhello",
        buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 201 Created\r\n"));
    assert_non_null(strstr(buf, "m=POST p=/u/7/a/b q=k=v t=/u/7/a/b?k=v x=yes id=7 rest=/a/b "
                                "body=hello v=1 route=/u/:id/*rest h1=X-Thing p0=id\n"));
    char *first = strstr(buf, "X-First: in\r\n"), *second = strstr(buf, "X-Second: in\r\n");
    assert_true(first && second && first < second && strstr(buf, "X-Ok: 1\r\n"));
    /* middleware runs for unrouted requests too */
    ask(c1m_http_proto(h), "GET /zzz HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "404 Not Found"));
    assert_non_null(strstr(buf, "X-First: in\r\n"));
    c1m_http_free(h);
}

static void go_timeouts(void **state)
{
    c1m_loop_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    c1m_http_go_timeouts(&cfg);
    assert_int_equal(cfg.timeout_ms[C1M_TO_READ], 5000);
    assert_int_equal(cfg.timeout_ms[C1M_TO_WRITE], 10000);
    assert_int_equal(cfg.timeout_ms[C1M_TO_IDLE], 10000);
    assert_int_equal(cfg.timeout_ms[C1M_TO_HEADER], 10000);
}

/* ---- metrics internals --------------------------------------------------- */

static unsigned private_slots(c1m_http_t *h)
{
    unsigned n = 0;
    for (c1m_http_slot_t *s = h->metrics.head; s; s = s->next)
        n++;
    return n;
}

/* Every status code at its largest count still renders within the bound. */
static void metrics_text_is_bounded(void **state)
{
    c1m_http_t *h;
    assert_int_equal(c1m_http_new(&h, NULL), 0);
    c1m_http_metrics_t *m = c1m_http_metrics_self(&h->metrics);
    for (int code = 100; code < 600; code++)
        m->status[code] = UINT64_MAX;
    for (int i = 0; i <= C1M_HTTP_LE_N; i++)
        m->lat[i] = UINT64_MAX / 32;
    m->opened = m->parse_errors = m->lat_count = m->lat_sum_ns = UINT64_MAX;
    static char buf[C1M_HTTP_METRICS_MAX];
    size_t n = c1m_http_metrics_render(h, buf, sizeof buf);
    printf("worst-case /metrics text: %zu bytes (bound %d)\n", n, C1M_HTTP_METRICS_MAX);
    assert_true(n < sizeof buf);
    assert_non_null(strstr(buf, "c1m_http_requests_total{code=\"599\"} 18446744073709551615\n"));
    /* a short buffer: the length needed comes back */
    char small[64];
    assert_int_equal(c1m_http_metrics_render(h, small, sizeof small), n);
    c1m_http_free(h);
}

/* More instances than cache entries on one thread: each keeps one slot. */
static void cache_keeps_one_slot_per_thread(void **state)
{
    enum { N = 7 };
    c1m_http_t *h[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(c1m_http_new(&h[i], NULL), 0);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++)
            c1m_http_metrics_self(&h[i]->metrics)->requests++;
    for (int i = 0; i < N; i++) {
        assert_int_equal(private_slots(h[i]), 1);
        c1m_http_metrics_t sum;
        c1m__http_metrics_sum(&h[i]->metrics, &sum);
        assert_int_equal(sum.requests, 3);
    }
    /* a freed instance's entries never match a new one at the same address */
    c1m_http_t *old = h[0];
    c1m_http_free(old);
    assert_int_equal(c1m_http_new(&h[0], NULL), 0);
    c1m_http_metrics_t sum;
    c1m_http_metrics_self(&h[0]->metrics)->requests++;
    c1m__http_metrics_sum(&h[0]->metrics, &sum);
    assert_int_equal(sum.requests, 1);
    for (int i = 0; i < N; i++)
        c1m_http_free(h[i]);
}

static void *count_on_thread(void *arg)
{
    c1m_http_t *h = arg;
    for (int i = 0; i < 1000; i++)
        c1m_http_metrics_self(&h->metrics)->requests++;
    return NULL;
}

static void slots_per_thread_summed(void **state)
{
    c1m_http_t *h;
    assert_int_equal(c1m_http_new(&h, NULL), 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, count_on_thread, h), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    c1m_http_metrics_t sum;
    c1m__http_metrics_sum(&h->metrics, &sum);
    assert_int_equal(sum.requests, 3000);
    assert_true(private_slots(h) >= 1 && private_slots(h) <= 3); /* ids of ended threads reused */
    c1m_http_free(h);
}

/* ---- prefork: shared slots, liveness without kill() ---------------------- */

/* A child that opens `opened` connections, closes `closed`, says so and
 * waits to be killed. */
static pid_t child_counting(c1m_http_t *h, uint64_t opened, uint64_t closed)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        alarm(30);
        c1m_http_metrics_t *m = c1m_http_metrics_self(&h->metrics);
        m->opened += opened;
        m->closed += closed;
        m->status[200] += opened;
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    close(ready[0]);
    close(ready[1]);
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void shared_metrics_liveness_and_adoption(void **state)
{
    c1m_http_t *h;
    assert_int_equal(c1m_http_new(&h, NULL), 0);
    assert_int_equal(c1m_http_metrics_share(h, 1), 0); /* one slot: the second child adopts it */
    char buf[16384];
    pid_t a = child_counting(h, 3, 1);
    c1m_http_metrics_render(h, buf, sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_connections"), 2);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 3);
    kill_and_reap(a);
    /* gone: its counts stay, its connections do not */
    c1m_http_metrics_render(h, buf, sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_connections"), 0);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 3);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"200\"}"), 3);
    /* a successor takes the dead slot over: counters go on from there */
    pid_t b = child_counting(h, 1, 0);
    c1m_http_metrics_render(h, buf, sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_connections"), 1);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 4);
    assert_int_equal(metric(buf, "c1m_http_requests_total{code=\"200\"}"), 4);
    kill_and_reap(b);
    c1m_http_metrics_render(h, buf, sizeof buf);
    assert_int_equal(metric(buf, "c1m_http_connections"), 0);
    assert_int_equal(metric(buf, "c1m_http_connections_opened_total"), 4);
    c1m_http_free(h);
}

int main(void)
{
    /* a peer the loop closed makes write() fail with EPIPE (an assertion
     * with a line number), not kill the test binary */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_instances_separate_routes_and_metrics),
        cmocka_unit_test(bad_patterns_have_readable_errors),
        cmocka_unit_test(frozen_once_serving),
        cmocka_unit_test(accessors_and_middleware),
        cmocka_unit_test(go_timeouts),
        cmocka_unit_test(metrics_text_is_bounded),
        cmocka_unit_test(cache_keeps_one_slot_per_thread),
        cmocka_unit_test(slots_per_thread_summed),
        cmocka_unit_test(shared_metrics_liveness_and_adoption),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
