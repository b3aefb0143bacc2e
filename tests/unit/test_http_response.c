/* The load generator's HTTP/1.x response parser: proto/http1/response.c.
 * Every case is also fed one byte at a time through the engine's contract
 * (unconsumed bytes are kept and presented again with more). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/http1/response.h"

typedef struct outcome {
    int responses;
    uint16_t status[8];
    bool close;
    int error;       /* negative errno, 0 = none */
    size_t pending;  /* bytes kept unconsumed at the end */
} outcome_t;

/* Feed `msg` in pieces of `step` bytes (0 = all at once). */
static outcome_t run(const char *msg, size_t len, size_t step, bool head)
{
    outcome_t o = { 0 };
    c1m_http_resp_t r;
    c1m_http_resp_init(&r, head);
    char *buf = malloc(len + 1);
    size_t have = 0, given = 0;
    while (given < len) {
        size_t add = step ? (len - given < step ? len - given : step) : len - given;
        memcpy(buf + have, msg + given, add);
        have += add;
        given += add;
        for (;;) {
            bool done;
            ssize_t u = c1m_http_resp_feed(&r, buf, have, &done);
            if (u < 0) {
                o.error = (int)u;
                free(buf);
                return o;
            }
            memmove(buf, buf + u, have - (size_t)u);
            have -= (size_t)u;
            if (done) {
                if (o.responses < 8)
                    o.status[o.responses] = r.status;
                o.responses++;
                o.close = r.close;
                continue;
            }
            if (u == 0 || !have)
                break;
        }
    }
    o.pending = have;
    free(buf);
    return o;
}

static void expect_all_steps(const char *msg, bool head, int responses, uint16_t last_status,
                             bool close)
{
    size_t len = strlen(msg);
    size_t steps[] = { 0, 1, 2, 3, 7, 64 };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        outcome_t o = run(msg, len, steps[i], head);
        assert_int_equal(o.error, 0);
        assert_int_equal(o.responses, responses);
        assert_int_equal(o.status[responses - 1], last_status);
        assert_int_equal(o.close, close);
        assert_int_equal(o.pending, 0);
    }
}

static void test_content_length(void **state)
{
    expect_all_steps("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello", false, 1,
                     200, false);
    expect_all_steps("HTTP/1.1 404 Not Found\r\ncontent-length:0\r\n\r\n", false, 1, 404, false);
    expect_all_steps("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
                     false, 1, 200, true);
}

static void test_pipelined(void **state)
{
    static const char msg[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 Oops\r\n"
                              "Content-Length: 4\r\n\r\nfailHTTP/1.1 301 Moved\r\nContent-Length: 0\r\n\r\n";
    expect_all_steps(msg, false, 3, 301, false);
    /* every response's status, in order, whatever the pieces */
    size_t steps[] = { 0, 1, 2, 3, 7, 64 };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        outcome_t o = run(msg, sizeof msg - 1, steps[i], false);
        assert_int_equal(o.responses, 3);
        assert_int_equal(o.status[0], 200);
        assert_int_equal(o.status[1], 500);
        assert_int_equal(o.status[2], 301);
    }
}

static void test_chunked(void **state)
{
    expect_all_steps("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
                     false, 1, 200, false);
    expect_all_steps("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\nX-Trailer: yes\r\n\r\n",
                     false, 1, 200, false);
    expect_all_steps("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "A\r\n0123456789\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
                     false, 2, 204, false);
}

static void test_bodiless(void **state)
{
    /* HEAD: headers announce a body that is not sent */
    expect_all_steps("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", true, 1, 200, false);
    expect_all_steps("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false, 1, 304,
                     false);
    /* interim 100 Continue, then the real response */
    expect_all_steps("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n"
                     "\r\nx", false, 1, 201, false);
    /* HTTP/1.0 closes unless it says keep-alive */
    expect_all_steps("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 1, 200, true);
    expect_all_steps("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx",
                     false, 1, 200, false);
}

static void test_until_eof(void **state)
{
    const char *msg = "HTTP/1.1 200 OK\r\nServer: old\r\n\r\nbody until close";
    c1m_http_resp_t r;
    c1m_http_resp_init(&r, false);
    bool done;
    ssize_t u = c1m_http_resp_feed(&r, msg, strlen(msg), &done);
    assert_int_equal(u, (ssize_t)strlen(msg));
    assert_false(done);
    assert_true(r.close);
    assert_true(c1m_http_resp_eof(&r));
    assert_int_equal(r.status, 200);
}

static void expect_error(const char *msg, int err)
{
    outcome_t o = run(msg, strlen(msg), 0, false);
    assert_int_equal(o.error, err);
    o = run(msg, strlen(msg), 1, false);
    assert_int_equal(o.error, err);
}

static void test_errors(void **state)
{
    expect_error("HTTX/1.1 200 OK\r\n\r\n", -EBADMSG);
    expect_error("HTTP/1.1 2x0 OK\r\n\r\n", -EBADMSG);
    expect_error("HTTP/1.1 200OK\r\n\r\n", -EBADMSG);
    expect_error("HTTP/2.0 200 OK\r\n\r\n", -EBADMSG);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", -EBADMSG);
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EBADMSG);
    expect_error("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", -EBADMSG);
    expect_error("HTTP/1.1 200 OK\r\nName : v\r\n\r\n", -EBADMSG);
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EBADMSG);
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", -EBADMSG);
    /* a header block that never ends */
    size_t n = C1M_HTTP_RESP_MAX_HEAD + 100;
    char *big = malloc(n + 1);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', n - 20);
    big[n] = '\0';
    outcome_t o = run(big, n, 0, false);
    assert_int_equal(o.error, -E2BIG);
    free(big);
}

/* A head just under the limit and long chunk/trailer lines, fed whole and
 * a byte at a time: the parser resumes where it stopped (issue 12 item 6;
 * bench/http_resp_trickle shows the time per byte is constant), and that
 * must not change what it reports. */
static void test_big_head_trickled(void **state)
{
    size_t cap = C1M_HTTP_RESP_MAX_HEAD + 8192, n = 0;
    char *s = malloc(cap);
    n += (size_t)sprintf(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n");
    for (int i = 0; n + 64 < C1M_HTTP_RESP_MAX_HEAD; i++)
        n += (size_t)sprintf(s + n, "X-Field-%d: some value here\r\n", i);
    n += (size_t)sprintf(s + n, "\r\n3;");
    memset(s + n, 'e', 3000); /* a long chunk extension */
    n += 3000;
    n += (size_t)sprintf(s + n, "\r\nabc\r\n0\r\nT: ");
    memset(s + n, 't', 3000); /* a long trailer */
    n += 3000;
    n += (size_t)sprintf(s + n, "\r\n\r\n");
    assert_true(n < cap);
    s[n] = '\0';
    expect_all_steps(s, false, 1, 200, true);
    /* one byte more of head is too much, fed either way */
    char *big = malloc(C1M_HTTP_RESP_MAX_HEAD + 64);
    size_t m = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
    while (m <= C1M_HTTP_RESP_MAX_HEAD)
        m += (size_t)sprintf(big + m, "X: 0123456789\r\n");
    m += (size_t)sprintf(big + m, "\r\n");
    assert_true(m > C1M_HTTP_RESP_MAX_HEAD);
    assert_int_equal(run(big, m, 0, false).error, -E2BIG);
    assert_int_equal(run(big, m, 1, false).error, -E2BIG);
    free(big);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length), cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_chunked),        cmocka_unit_test(test_bodiless),
        cmocka_unit_test(test_until_eof),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_big_head_trickled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
