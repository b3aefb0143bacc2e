/* engine/loop: the end of a drain (issue 12). The lingering close (a FIN
 * to every connection still open, then a close pass) is planned inside
 * --drain-timeout, not after it: with 12,500 connections per process the
 * two passes took seconds past the deadline. No clock is read here: the
 * plan is checked as numbers, and on a stopped loop as its state. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/loop.h"

static void lead_is_inside_the_drain(void **state)
{
    (void)state;
    /* a fifth of the drain, at least the linger, at most the cap */
    assert_int_equal(c1m__drain_linger_lead_ms(10000), 2000);
    assert_int_equal(c1m__drain_linger_lead_ms(3000), 600);
    assert_int_equal(c1m__drain_linger_lead_ms(1000), C1M_DRAIN_LINGER_MS);
    assert_int_equal(c1m__drain_linger_lead_ms(3600000), C1M_DRAIN_LEAD_MAX_MS);
    /* never more than half the drain: the drain serves first */
    assert_int_equal(c1m__drain_linger_lead_ms(600), 300);
    assert_int_equal(c1m__drain_linger_lead_ms(0), 0);
    for (uint64_t d = 1; d <= 100000; d = d * 3 + 1) {
        uint64_t lead = c1m__drain_linger_lead_ms(d);
        assert_true(lead <= d / 2);
        if (d >= 2 * C1M_DRAIN_LINGER_MS)
            assert_true(lead >= C1M_DRAIN_LINGER_MS);
    }
}

static void close_pass_leaves_room_for_itself(void **state)
{
    (void)state;
    /* the shutdown pass took 1,300 ms: the close pass, about as long,
     * starts that long before the deadline */
    assert_int_equal(c1m__drain_close_at(10000, 8000, 1300), 8700);
    /* late already: at once, never in the past */
    assert_int_equal(c1m__drain_close_at(10000, 9500, 1300), 9500);
    assert_int_equal(c1m__drain_close_at(100, 50, 500), 50);
    /* a fast pass: the lingering lasts until the deadline */
    assert_int_equal(c1m__drain_close_at(10000, 8001, 1), 9999);
}

static const c1m_proto_t echo_p = { .name = "t-echo" };

/* A stopped loop's plan: the lingering close begins before the deadline,
 * by the lead, and nothing lingers yet. */
static void stopped_loop_plans_the_linger_before_the_deadline(void **state)
{
    (void)state;
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.drain_ms = 10000;
    c1m_loop_t loop;
    assert_int_equal(c1m_loop_init(&loop, 0, &cfg, &echo_p), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    assert_non_null(c1m_loop_adopt(&loop, sv[0], &echo_p));
    assert_int_equal(c1m_loop_stop(&loop), 0);
    for (int i = 0; i < 100 && !c1m_loop_draining(&loop); i++)
        c1m_loop_run_once(&loop, 10);
    assert_true(c1m_loop_draining(&loop));
    assert_false(loop.lingering);
    assert_true(loop.linger_at_ms < loop.drain_deadline_ms);
    assert_int_equal(loop.drain_deadline_ms - loop.linger_at_ms, 2000);
    c1m_loop_destroy(&loop);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lead_is_inside_the_drain),
        cmocka_unit_test(close_pass_leaves_room_for_itself),
        cmocka_unit_test(stopped_loop_plans_the_linger_before_the_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
