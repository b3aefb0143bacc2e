/* proto/http1 server side: the response writer (framing, HEAD, chunked,
 * HTTP/1.0, header injection, the per-thread Date cache) and the server
 * protocol driven over socketpairs one loop iteration at a time
 * (pipelining, split input, HEAD, 100-continue, bad input, metrics). */
#include <signal.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/loop.h"
#include "proto/http1/app.h"
#include "proto/http1/server.h"
#include "proto/http1/writer.h"

static ssize_t null_data(c1m_conn_t *c, const char *d, size_t n) { return (ssize_t)n; }
static const c1m_proto_t null_p = { .name = "null", .on_data = null_data };

static c1m_loop_t loop;
static c1m_http_t *app;
static const c1m_proto_t *http_p;

/* POST /up: hands the connection to null_p (c1m_http_upgrade), or answers
 * 400 with the errno when the hand-over is refused */
static int up_rc = 1;
static void up_handler(c1m_http_req_t *req, c1m_http_reply_t *resp, void *ud)
{
    c1m_http_reply_header(resp, "Upgrade", "null", 4);
    up_rc = c1m_http_upgrade(req, &null_p, NULL);
    if (up_rc == 0)
        return;
    resp->hlen = 0;
    c1m_http_reply_status(resp, 400);
    c1m_http_reply_send(resp, "text/plain", "refused\n", 8);
}

static int setup(void **state)
{
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    if (c1m_http_new(&app, NULL) < 0 ||
        c1m_http_handle(app, "POST", "/up", up_handler, NULL, 0, NULL, 0) < 0 ||
        c1m_http_app_setup(app, NULL, 0) < 0)
        return -1;
    http_p = c1m_http_proto(app);
    return c1m_loop_init(&loop, 0, &cfg, http_p);
}

static int teardown(void **state)
{
    c1m_loop_destroy(&loop);
    c1m_http_free(app);
    return 0;
}

static void spin(int n)
{
    for (int i = 0; i < n; i++)
        c1m_loop_run_once(&loop, 5);
}

/* read what is there (non-blocking), NUL-terminated; *eof set on EOF */
static size_t slurp(int fd, char *buf, size_t cap, bool *eof)
{
    size_t n = 0;
    if (eof)
        *eof = false;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r > 0) {
            n += (size_t)r;
            continue;
        }
        if (r == 0 && eof)
            *eof = true;
        break;
    }
    buf[n] = 0;
    return n;
}

static c1m_conn_t *open_pair(const c1m_proto_t *p, int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], p);
    assert_non_null(c);
    *peer = sv[1];
    return c;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- writer ----------------------------------------------------------- */

static void writer_content_length(void **state)
{
    int peer;
    c1m_conn_t *c = open_pair(&null_p, &peer);
    c1m_http_reply_t r;
    c1m_http_reply_init(&r, c, 1, false, true);
    assert_int_equal(c1m_http_reply_header(&r, "X-A", "1", 1), 0);
    assert_int_equal(c1m_http_reply_send(&r, "text/plain", "hello", 5), 0);
    char buf[4096];
    slurp(peer, buf, sizeof buf, NULL);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\nDate: "));
    assert_non_null(strstr(buf, " GMT\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"));
    assert_null(strstr(buf, "Connection:"));
    /* HEAD: same fields, no body */
    c1m_http_reply_init(&r, c, 1, true, true);
    c1m_http_reply_send(&r, "text/plain", "hello", 5);
    slurp(peer, buf, sizeof buf, NULL);
    assert_non_null(strstr(buf, "Content-Length: 5\r\n"));
    assert_string_equal(buf + strlen(buf) - 4, "\r\n\r\n");
    /* not keep-alive; HTTP/1.0 keep-alive */
    c1m_http_reply_init(&r, c, 1, false, false);
    c1m_http_reply_send(&r, NULL, "", 0);
    slurp(peer, buf, sizeof buf, NULL);
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    c1m_http_reply_init(&r, c, 0, false, true);
    c1m_http_reply_send(&r, NULL, "", 0);
    slurp(peer, buf, sizeof buf, NULL);
    assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));
    close(peer);
}

static void writer_chunked(void **state)
{
    int peer;
    c1m_conn_t *c = open_pair(&null_p, &peer);
    c1m_http_reply_t r;
    char buf[4096];
    c1m_http_reply_init(&r, c, 1, false, true);
    c1m_http_reply_status(&r, 201);
    assert_int_equal(c1m_http_reply_chunk(&r, "text/plain", "abc", 3), 0);
    assert_int_equal(c1m_http_reply_chunk(&r, NULL, "0123456789abcdefg", 17), 0);
    assert_int_equal(c1m_http_reply_end(&r), 0);
    assert_int_equal(c1m_http_reply_end(&r), 0); /* idempotent */
    slurp(peer, buf, sizeof buf, NULL);
    assert_non_null(strstr(buf, "HTTP/1.1 201 Created\r\n"));
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(buf, "Content-Length"));
    assert_non_null(strstr(buf, "\r\n\r\n3\r\nabc\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n"));
    assert_true(r.keep_alive);
    /* HTTP/1.0: no chunked coding; the body ends with the connection */
    c1m_http_reply_init(&r, c, 0, false, true);
    c1m_http_reply_chunk(&r, NULL, "abc", 3);
    c1m_http_reply_end(&r);
    slurp(peer, buf, sizeof buf, NULL);
    assert_null(strstr(buf, "chunked"));
    assert_non_null(strstr(buf, "Connection: close\r\n\r\nabc"));
    assert_false(r.keep_alive);
    /* HEAD + chunked: header only */
    c1m_http_reply_init(&r, c, 1, true, true);
    c1m_http_reply_chunk(&r, NULL, "abc", 3);
    c1m_http_reply_end(&r);
    slurp(peer, buf, sizeof buf, NULL);
    assert_string_equal(buf + strlen(buf) - 4, "\r\n\r\n");
    assert_null(strstr(buf, "abc"));
    close(peer);
}

static void writer_rejects_injection(void **state)
{
    c1m_http_reply_t r;
    c1m_http_reply_init(&r, NULL, 1, false, true);
    assert_int_equal(c1m_http_reply_header(&r, "X", "a\r\nSet-Cookie: x", 16), -EINVAL);
    assert_int_equal(c1m_http_reply_header(&r, "X\r\nY", "a", 1), -EINVAL);
    assert_int_equal(c1m_http_reply_header(&r, "X:Y", "a", 1), -EINVAL);
    char big[600];
    memset(big, 'a', sizeof big);
    assert_int_equal(c1m_http_reply_header(&r, "X", big, sizeof big), -ENOSPC);
    assert_int_equal(r.hlen, 0);
}

static void date_cached_per_second(void **state)
{
    c1m_http_date_refresh();
    uint64_t before = c1m_http_date_formats();
    for (int i = 0; i < 100000; i++)
        c1m_http_date_refresh();
    assert_true(c1m_http_date_formats() - before <= 1);
    size_t n;
    const char *d = c1m_http_date_line(&n);
    assert_int_equal(n, 37);
    assert_int_equal(strlen(d), 37);
    assert_memory_equal(d, "Date: ", 6);
    assert_memory_equal(d + 31, " GMT\r\n", 6);
}

/* ---- server ------------------------------------------------------------ */

static void pipelined_in_order(void **state)
{
    int peer;
    open_pair(http_p, &peer);
    const char req[] = "GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n"
                       "HEAD /hello/bb HTTP/1.1\r\nHost: x\r\n\r\n"
                       "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n"
                       "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(peer, req, sizeof req - 1), (ssize_t)sizeof req - 1);
    spin(3);
    char buf[8192];
    bool eof;
    slurp(peer, buf, sizeof buf, &eof);
    assert_false(eof);
    assert_int_equal(count(buf, "HTTP/1.1 200 OK"), 4);
    char *a = strstr(buf, "hello, a!"), *h = strstr(buf, "Content-Length: 11"),
         *e = strstr(buf, "\r\n\r\nxyz"), *w = strstr(buf, "Welcome!\n");
    assert_true(a && h && e && w);
    assert_true(a < h && h < e && e < w);
    assert_null(strstr(buf, "hello, bb!")); /* HEAD: no body */
    close(peer);
    spin(2);
}

static void split_byte_by_byte(void **state)
{
    int peer;
    open_pair(http_p, &peer);
    const char req[] = "GET /hello/split HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[4096];
    for (size_t i = 0; i < sizeof req - 1; i++) {
        assert_int_equal(write(peer, req + i, 1), 1);
        spin(1);
        if (i + 2 < sizeof req) {
            slurp(peer, buf, sizeof buf, NULL);
            assert_int_equal(buf[0], 0);
        }
    }
    spin(2);
    bool eof;
    slurp(peer, buf, sizeof buf, &eof);
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_non_null(strstr(buf, "hello, split!\n"));
    assert_true(eof);
    close(peer);
}

static void expect_continue(void **state)
{
    int peer;
    open_pair(http_p, &peer);
    const char head[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
    write(peer, head, sizeof head - 1);
    spin(2);
    char buf[4096];
    slurp(peer, buf, sizeof buf, NULL);
    assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    write(peer, "body", 4);
    spin(2);
    slurp(peer, buf, sizeof buf, NULL);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\nbody"));
    close(peer);
    spin(2);
}

static void bad_request_closes(void **state)
{
    static const struct { const char *req; const char *status; } cases[] = {
        { "GARBAGE\r\n\r\n", "HTTP/1.1 400 " },
        { "GET / HTTP/3.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 " },
        { "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n", "HTTP/1.1 501 " },
        { "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "HTTP/1.1 400 " },
        { "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /\x01 HTTP/1.1\r\n\r\n", "HTTP/1.1 400 " },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int peer;
        open_pair(http_p, &peer);
        write(peer, cases[i].req, strlen(cases[i].req));
        spin(3);
        char buf[4096];
        bool eof;
        slurp(peer, buf, sizeof buf, &eof);
        assert_non_null(strstr(buf, cases[i].status));
        assert_non_null(strstr(buf, "Connection: close\r\n"));
        assert_true(eof); /* our side is shut down (lingering close) */
        close(peer);
        spin(2);
    }
}

static void metrics_render(void **state)
{
    char buf[64 * 1024];
    size_t n = c1m_http_metrics_render(app, buf, sizeof buf);
    assert_true(n > 0 && n < sizeof buf);
    assert_non_null(strstr(buf, "# TYPE c1m_http_requests_total counter\n"));
    assert_non_null(strstr(buf, "c1m_http_requests_total{code=\"200\"} "));
    assert_non_null(strstr(buf, "c1m_http_requests_total{code=\"400\"} "));
    assert_non_null(strstr(buf, "# TYPE c1m_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(buf, "c1m_http_request_duration_seconds_bucket{le=\"+Inf\"} "));
    /* cumulative buckets never decrease */
    unsigned long long prev = 0, v;
    for (const char *p = buf; (p = strstr(p, "_bucket{le=\"")); p++) {
        const char *q = strstr(p, "} ");
        assert_non_null(q);
        v = strtoull(q + 2, NULL, 10);
        assert_true(v >= prev);
        prev = v;
    }
    printf("per-connection state: %zu bytes (c->ud), c1m_conn_t %zu bytes\n",
           c1m_http_conn_state_size(), sizeof(c1m_conn_t));
    assert_true(c1m_http_conn_state_size() <= 64);
}

/* A client that pipelines thousands of requests and does not read: the
 * server stops answering above the high watermark instead of queueing
 * every answer, and answers the rest once the client reads. */
static void pipelined_flood_is_bounded_by_the_watermark(void **state)
{
    c1m_loop_destroy(&loop);
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.out_high = 16 * 1024;
    cfg.out_low = 4 * 1024;
    assert_int_equal(c1m_loop_init(&loop, 0, &cfg, http_p), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], http_p);
    assert_non_null(c);
    static const char rq[] = "GET /hello/x HTTP/1.1\r\nHost: a\r\n\r\n";
    enum { N = 1500 };
    static char flood[N * (sizeof rq - 1)];
    for (int i = 0; i < N; i++)
        memcpy(flood + i * (sizeof rq - 1), rq, sizeof rq - 1);
    size_t sent = 0, peak = 0;
    for (int i = 0; i < 400 && sent < sizeof flood; i++) {
        ssize_t w = write(sv[1], flood + sent, sizeof flood - sent);
        if (w > 0)
            sent += (size_t)w;
        spin(1);
        if (c1m_conn_pending_out(c) > peak)
            peak = c1m_conn_pending_out(c);
    }
    spin(5);
    if (c1m_conn_pending_out(c) > peak)
        peak = c1m_conn_pending_out(c);
    /* one answer is ~150 bytes; the cork holds at most 16 KiB */
    assert_true(peak > cfg.out_high / 2);
    assert_true(peak <= cfg.out_high + 16 * 1024 + 512);
    /* now the client reads: every request gets its answer, in order */
    static char got[N * 256];
    size_t n = 0;
    for (int i = 0; i < 3000 && count(got, "hello, x!") < N; i++) {
        if (sent < sizeof flood) {
            ssize_t w = write(sv[1], flood + sent, sizeof flood - sent);
            if (w > 0)
                sent += (size_t)w;
        }
        ssize_t r = read(sv[1], got + n, sizeof got - 1 - n);
        if (r > 0) {
            n += (size_t)r;
            got[n] = 0;
        }
        spin(1);
    }
    assert_int_equal(sent, sizeof flood);
    assert_int_equal(count(got, "hello, x!"), N);
    assert_true(c1m_conn_is_open(c));
    close(sv[1]);
    spin(3);
}

/* An Upgrade request with a body is refused before the 101 is sent (the
 * body would otherwise be parsed as HTTP after the 101, and the new
 * protocol's state leaked); without a body the connection changes hands. */
static void upgrade_with_a_body_is_refused(void **state)
{
    int peer;
    c1m_conn_t *c = open_pair(http_p, &peer);
    static const char with_body[] = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                                    "Connection: Upgrade\r\nUpgrade: null\r\n\r\nabc";
    assert_int_equal(write(peer, with_body, sizeof with_body - 1), (ssize_t)(sizeof with_body - 1));
    spin(3);
    char buf[4096];
    slurp(peer, buf, sizeof buf, NULL);
    assert_int_equal(up_rc, -EBADMSG);
    assert_null(strstr(buf, " 101 "));
    assert_non_null(strstr(buf, "HTTP/1.1 400 "));
    assert_true(c->proto == http_p);
    /* the same connection still speaks HTTP; without a body it upgrades */
    static const char no_body[] = "POST /up HTTP/1.1\r\nHost: a\r\n"
                                  "Connection: Upgrade\r\nUpgrade: null\r\n\r\n";
    assert_int_equal(write(peer, no_body, sizeof no_body - 1), (ssize_t)(sizeof no_body - 1));
    spin(3);
    slurp(peer, buf, sizeof buf, NULL);
    assert_int_equal(up_rc, 0);
    assert_non_null(strstr(buf, "HTTP/1.1 101 Switching Protocols\r\n"));
    assert_true(c->proto == &null_p);
    close(peer);
    spin(3);
}

int main(void)
{
    /* a peer the loop closed makes write() fail with EPIPE (an assertion
     * with a line number), not kill the test binary */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_content_length),
        cmocka_unit_test(writer_chunked),
        cmocka_unit_test(writer_rejects_injection),
        cmocka_unit_test(date_cached_per_second),
        cmocka_unit_test(pipelined_in_order),
        cmocka_unit_test(split_byte_by_byte),
        cmocka_unit_test(expect_continue),
        cmocka_unit_test(bad_request_closes),
        cmocka_unit_test(metrics_render),
        cmocka_unit_test(pipelined_flood_is_bounded_by_the_watermark),
        cmocka_unit_test(upgrade_with_a_body_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
