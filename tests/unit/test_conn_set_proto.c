/* engine: c1m_conn_set_proto, the hand-over of a connection from one
 * protocol to another inside on_data (an HTTP Upgrade). Checked: the bytes
 * the first protocol leaves go to the second at once (not only when more
 * arrive), the second's on_close runs and the first's does not, and the
 * hand-over is refused on a closed connection. */
#include <signal.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/loop.h"

static char got_b[64];
static size_t ngot_b;
static int closes_a, closes_b, ud_b_seen;
static int ud_b = 42;

static ssize_t b_data(c1m_conn_t *c, const char *d, size_t n)
{
    if (c1m_conn_ud(c) == &ud_b)
        ud_b_seen++;
    memcpy(got_b + ngot_b, d, n);
    ngot_b += n;
    return (ssize_t)n;
}
static void b_close(c1m_conn_t *c, int reason) { closes_b++; }
static const c1m_proto_t proto_b = { .name = "b", .on_data = b_data, .on_close = b_close };

/* "UP\n" then anything: switch to b after the line. */
static ssize_t a_data(c1m_conn_t *c, const char *d, size_t n)
{
    const char *nl = memchr(d, '\n', n);
    if (!nl)
        return 0;
    assert_int_equal(c1m_conn_set_proto(c, &proto_b, &ud_b), 0);
    return nl + 1 - d;
}
static void a_close(c1m_conn_t *c, int reason) { closes_a++; }
static const c1m_proto_t proto_a = { .name = "a", .on_data = a_data, .on_close = a_close };

static void hand_over(void **state)
{
    c1m_loop_t loop;
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    assert_int_equal(c1m_loop_init(&loop, 0, &cfg, &proto_a), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], &proto_a);
    assert_non_null(c);
    /* split the line: the first protocol keeps "U", then gets the rest */
    assert_int_equal(write(sv[1], "U", 1), 1);
    for (int i = 0; i < 3; i++)
        c1m_loop_run_once(&loop, 10);
    assert_int_equal(ngot_b, 0);
    assert_int_equal(write(sv[1], "P\nhello", 7), 7);
    for (int i = 0; i < 3; i++)
        c1m_loop_run_once(&loop, 10);
    /* "hello" arrived in the same read as the line: b has it already */
    assert_int_equal(ngot_b, 5);
    assert_memory_equal(got_b, "hello", 5);
    assert_true(ud_b_seen > 0);
    assert_int_equal(write(sv[1], " world", 6), 6);
    for (int i = 0; i < 3; i++)
        c1m_loop_run_once(&loop, 10);
    assert_int_equal(ngot_b, 11);
    close(sv[1]);
    for (int i = 0; i < 3; i++)
        c1m_loop_run_once(&loop, 10);
    assert_int_equal(closes_a, 0);
    assert_int_equal(closes_b, 1);
    assert_false(c1m_conn_is_open(c));
    assert_int_equal(c1m_conn_set_proto(c, &proto_a, NULL), -EPIPE);
    c1m_loop_destroy(&loop);
}

int main(void)
{
    /* a peer the loop closed makes write() fail with EPIPE (an assertion
     * with a line number), not kill the test binary */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = { cmocka_unit_test(hand_over) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
