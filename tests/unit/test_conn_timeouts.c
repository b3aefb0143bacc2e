/* engine/timeouts: the deadline bookkeeping of connections, on socketpairs,
 * driven with c1m_loop_run_once(). Expiry tests run for every timer mode
 * (wheel, heap, global-heap); the mode is the test's prestate. */
#include <signal.h>
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

#include "core/clock.h"
#include "engine/loop.h"
#include "engine/timeouts.h"
#include "proto/echo.h"

static int closes[C1M_CLOSE__COUNT];
static uint64_t closed_at[64];
static int nclosed;

static ssize_t t_echo(c1m_conn_t *c, const char *d, size_t n)
{
    c1m_conn_write(c, d, n);
    return (ssize_t)n;
}
static void t_close(c1m_conn_t *c, int reason)
{
    closes[reason]++;
    if (nclosed < 64)
        closed_at[nclosed++] = c->loop->now_ms;
}
static int handled;
static int t_timeout_408(c1m_conn_t *c, int kind)
{
    handled++;
    c1m_conn_write(c, "408", 3);
    c1m_conn_close_after_flush(c, C1M_CLOSE_LOCAL);
    return 1;
}

/* automatic READ/IDLE (echo-like, no request marking) */
static const c1m_proto_t auto_p = { .name = "t-auto", .on_data = t_echo, .on_close = t_close };
/* only the test's calls count */
static const c1m_proto_t manual_p = { .name = "t-manual", .on_data = t_echo, .on_close = t_close,
                                      .flags = C1M_PROTO_MANUAL_TIMEOUTS };
static const c1m_proto_t p408 = { .name = "t-408", .on_data = t_echo, .on_close = t_close,
                                  .flags = C1M_PROTO_MANUAL_TIMEOUTS,
                                  .on_timeout = t_timeout_408 };
/* ts8 with closes counted: frames are requests whose header is 8 bytes */
static ssize_t t_ts8(c1m_conn_t *c, const char *d, size_t n)
{
    return c1m_proto_ts8.on_data(c, d, n);
}
static const c1m_proto_t ts8_p = { .name = "t-ts8", .on_data = t_ts8, .on_close = t_close };

static c1m_loop_t loop;
static c1m_timers_mode_t mode;

static int init_loop(c1m_timers_mode_t m, uint32_t read, uint32_t write, uint32_t idle,
                     uint32_t header)
{
    memset(closes, 0, sizeof closes);
    nclosed = 0;
    handled = 0;
    mode = m;
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.timers = m;
    cfg.timeout_ms[C1M_TO_READ] = read;
    cfg.timeout_ms[C1M_TO_WRITE] = write;
    cfg.timeout_ms[C1M_TO_IDLE] = idle;
    cfg.timeout_ms[C1M_TO_HEADER] = header;
    return c1m_loop_init(&loop, 0, &cfg, &auto_p);
}

static int setup_mode(void **state)
{
    return init_loop((c1m_timers_mode_t)(intptr_t)*state, 0, 0, 0, 0);
}

static int teardown(void **state)
{
    c1m_loop_destroy(&loop);
    return 0;
}

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

/* Run the loop until `ms` of real time have passed. */
/* Until the loop's own clock (set when it wakes, what deadlines count
 * from) has advanced ms: by the wall clock, the last wake of a loaded
 * machine could be before the end, and a deadline armed then less than ms
 * later than one armed before (early_fire_rearms_to_true_deadline failed
 * so under ASan at load 12). */
static void run_for(c1m_loop_t *l, uint64_t ms)
{
    uint64_t end = l->now_ms + ms;
    while (l->now_ms < end)
        c1m_loop_run_once(l, 5);
}

static void run_until_closed(c1m_loop_t *l, int n, uint64_t max_ms)
{
    uint64_t end = c1m_now_ms() + max_ms;
    while (nclosed < n && c1m_now_ms() < end)
        c1m_loop_run_once(l, 5);
}

/* ---- bookkeeping (wheel) ------------------------------------------- */

/* Moving a deadline later is a store in wheel mode, a re-insert in the
 * heap modes. Time is moved by hand: no loop iteration runs. */
static void postpone_is_a_store(void **state)
{
    int sv[2];
    pair(sv);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], &manual_p);
    assert_non_null(c);
    c1m_conn_set_timeout(c, C1M_TO_READ, 1000);
    c1m_conn_set_timeout(c, C1M_TO_IDLE, 5000);
    uint64_t ins0 = loop.stats.timer_inserts;
    c1m_conn_timeout_arm(c, C1M_TO_READ);
    assert_int_equal(loop.stats.timer_inserts, ins0 + 1);
    uint64_t t0 = loop.now_ms;
    assert_int_equal(c1m_conn_timeout_deadline(c, C1M_TO_READ), t0 + 1000);
    uint64_t lazy0 = loop.stats.timer_lazy;
    for (int i = 1; i <= 100; i++) {
        loop.now_ms = t0 + (uint64_t)i; /* a later iteration */
        c1m_conn_timeout_arm(c, C1M_TO_READ);
        c1m_conn_timeout_arm(c, C1M_TO_IDLE);
        c1m_conn_timeout_clear(c, C1M_TO_IDLE);
    }
    assert_int_equal(c1m_conn_timeout_deadline(c, C1M_TO_READ), t0 + 100 + 1000);
    assert_int_equal(c1m_conn_timeout_deadline(c, C1M_TO_IDLE), 0);
    if (mode == C1M_TIMERS_WHEEL) {
        /* 300 deadline changes, not one re-insert; the entry still holds
         * the first deadline (it will fire early and re-arm). */
        assert_int_equal(loop.stats.timer_inserts, ins0 + 1);
        assert_int_equal(loop.stats.timer_lazy, lazy0 + 300);
        assert_int_equal(c->tmo.wheel.expires, t0 + 1000);
    } else {
        /* every deadline change re-positions the heap entry */
        assert_int_equal(loop.stats.timer_inserts, ins0 + 1 + 300);
        assert_int_equal(c->tmo.heap.expires, t0 + 100 + 1000);
    }
    /* an earlier deadline re-files the entry at once (wheel) */
    c1m_conn_set_timeout(c, C1M_TO_HEADER, 10);
    uint64_t ins1 = loop.stats.timer_inserts;
    c1m_conn_timeout_arm(c, C1M_TO_HEADER);
    assert_int_equal(loop.stats.timer_inserts, ins1 + 1);
    if (mode == C1M_TIMERS_WHEEL)
        assert_int_equal(c->tmo.wheel.expires, t0 + 100 + 10);
    /* the same deadline again (same iteration) is no change at all */
    uint64_t lazy1 = loop.stats.timer_lazy;
    c1m_conn_timeout_arm(c, C1M_TO_HEADER);
    assert_int_equal(loop.stats.timer_inserts, ins1 + 1);
    assert_int_equal(loop.stats.timer_lazy, lazy1);
    close(sv[1]);
    run_until_closed(&loop, 1, 1000);
    assert_int_equal(loop.stats.conns, 0);
}

/* An entry that fires before the (moved) deadline re-arms itself for the
 * true deadline, and the connection closes only then. A 400 ms timeout
 * moved after 200 ms; the wheel fires the first deadline at most 400/8 ms
 * late, so it has fired early by first + 60, well before the true one (a
 * loaded machine may stall an iteration by 100 ms and more). */
static void early_fire_rearms_to_true_deadline(void **state)
{
    int sv[2];
    pair(sv);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], &manual_p);
    assert_non_null(c);
    c1m_conn_set_timeout(c, C1M_TO_READ, 400);
    c1m_loop_run_once(&loop, 0);
    c1m_conn_timeout_arm(c, C1M_TO_READ);
    uint64_t first = c1m_conn_timeout_deadline(c, C1M_TO_READ);
    run_for(&loop, 200);
    c1m_conn_timeout_arm(c, C1M_TO_READ); /* moved ~200 ms later */
    uint64_t truth = c1m_conn_timeout_deadline(c, C1M_TO_READ);
    assert_true(truth >= first + 200);
    uint64_t early0 = loop.stats.timer_early;
    /* past the first deadline, before the true one */
    while (loop.now_ms < first + 60 && loop.now_ms < truth - 5)
        c1m_loop_run_once(&loop, 2);
    assert_int_equal(nclosed, 0);
    assert_true(c1m_conn_is_open(c));
    if (mode == C1M_TIMERS_WHEEL) {
        assert_int_equal(loop.stats.timer_early, early0 + 1); /* it fired early ... */
        assert_true(c1m_wheel_armed(&c->tmo.wheel));         /* ... and re-armed */
        assert_int_equal(c->tmo.wheel.expires, truth);
    } else {
        assert_int_equal(c->tmo.heap.expires, truth); /* heaps are always exact */
    }
    run_until_closed(&loop, 1, 1000);
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_READ], 1);
    assert_true(closed_at[0] >= truth); /* never early; how late: the wheel's
                                          * bound, checked in test_timers.c */
    close(sv[1]);
}

/* ---- expiry (every mode) ------------------------------------------- */

/* The loop's durations apply unless a connection overrides them. */
static void per_connection_override(void **state)
{
    c1m_loop_destroy(&loop);
    assert_int_equal(init_loop((c1m_timers_mode_t)(intptr_t)*state, 0, 0, 100, 0), 0);
    int a[2], b[2], d[2];
    pair(a);
    pair(b);
    pair(d);
    c1m_conn_t *ca = c1m_loop_adopt(&loop, a[0], &auto_p);
    c1m_conn_t *cb = c1m_loop_adopt(&loop, b[0], &auto_p);
    c1m_conn_t *cd = c1m_loop_adopt(&loop, d[0], &auto_p);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_non_null(cd);
    uint64_t t0 = loop.now_ms;
    c1m_conn_set_timeout(ca, C1M_TO_IDLE, 0); /* off: also clears the running one */
    c1m_conn_set_timeout(cb, C1M_TO_IDLE, 300);
    c1m_conn_timeout_arm(cb, C1M_TO_IDLE);
    run_until_closed(&loop, 1, 1000);
    assert_int_equal(nclosed, 1); /* the default one, at 100 ms */
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_IDLE], 1);
    assert_true(closed_at[0] >= t0 + 100);
    assert_true(c1m_conn_is_open(ca));
    assert_true(c1m_conn_is_open(cb));
    run_until_closed(&loop, 2, 1000);
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_IDLE], 2);
    assert_true(closed_at[1] >= t0 + 300);
    run_for(&loop, 150);
    assert_int_equal(nclosed, 2);
    assert_true(c1m_conn_is_open(ca));
    close(a[1]);
    close(b[1]);
    close(d[1]);
    run_until_closed(&loop, 3, 1000);
    assert_int_equal(closes[C1M_CLOSE_PEER], 1);
}

/* A busy connection (a byte every 20 ms) outlives its idle and read
 * timeouts; an idle one does not. Timeouts of 300 ms against a byte every
 * 20 ms: a loaded machine (a sanitizer build beside other tests) may
 * stretch a 20 ms sleep several times without the busy one expiring. */
static void busy_survives_idle_expires(void **state)
{
    c1m_loop_destroy(&loop);
    assert_int_equal(init_loop((c1m_timers_mode_t)(intptr_t)*state, 300, 0, 300, 0), 0);
    int busy[2], idle[2];
    pair(busy);
    pair(idle);
    c1m_conn_t *cb = c1m_loop_adopt(&loop, busy[0], &auto_p);
    assert_non_null(c1m_loop_adopt(&loop, idle[0], &auto_p));
    uint64_t t0 = loop.now_ms;
    char buf[64];
    /* until the idle one is gone and the busy one has outlived the timeout */
    for (int i = 0; i < 100 && (nclosed == 0 || loop.now_ms < t0 + 400); i++) {
        assert_int_equal(write(busy[1], "x", 1), 1);
        run_for(&loop, 20);
        while (read(busy[1], buf, sizeof buf) > 0)
            ;
    }
    assert_int_equal(nclosed, 1);
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_IDLE] + closes[C1M_CLOSE_TIMEOUT_READ], 1);
    assert_true(closed_at[0] >= t0 + 300);
    assert_true(c1m_conn_is_open(cb));
    run_until_closed(&loop, 2, 1000); /* now idle: it goes too */
    assert_int_equal(nclosed, 2);
    close(busy[1]);
    close(idle[1]);
}

/* A closed connection's timer never fires, and its reused slot starts
 * clean. */
static void no_fire_after_close(void **state)
{
    c1m_loop_destroy(&loop);
    assert_int_equal(init_loop((c1m_timers_mode_t)(intptr_t)*state, 30, 30, 30, 30), 0);
    int sv[2];
    pair(sv);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], &auto_p);
    assert_non_null(c);
    c1m_conn_timeout_arm(c, C1M_TO_READ);
    c1m_conn_request_begin(c);
    c1m_conn_close(c, C1M_CLOSE_LOCAL);
    c1m_conn_timeout_arm(c, C1M_TO_READ); /* after close: ignored */
    run_for(&loop, 80);
    assert_int_equal(nclosed, 1);
    assert_int_equal(closes[C1M_CLOSE_LOCAL], 1);
    for (int k = C1M_CLOSE_TIMEOUT_READ; k <= C1M_CLOSE_TIMEOUT_HEADER; k++)
        assert_int_equal(closes[k], 0);
    /* the slot is reused by a connection with every timeout off */
    memset(loop.cfg.timeout_ms, 0, sizeof loop.cfg.timeout_ms);
    int s2[2];
    pair(s2);
    c1m_conn_t *c2 = c1m_loop_adopt(&loop, s2[0], &auto_p);
    assert_ptr_equal(c2, c);
    run_for(&loop, 80);
    assert_int_equal(nclosed, 1);
    assert_true(c1m_conn_is_open(c2));
    close(sv[1]);
    close(s2[1]);
    run_until_closed(&loop, 2, 1000);
}

/* ts8: the header deadline is fixed from a frame's first byte; trickled
 * bytes keep the read deadline alive but not the header one. */
static void header_deadline_is_fixed(void **state)
{
    c1m_loop_destroy(&loop);
    /* read 1 s: a stalled test (a loaded machine) must not meet it first */
    assert_int_equal(init_loop((c1m_timers_mode_t)(intptr_t)*state, 1000, 0, 0, 150), 0);
    int sv[2];
    pair(sv);
    assert_non_null(c1m_loop_adopt(&loop, sv[0], &ts8_p));
    run_for(&loop, 5);
    uint64_t t0 = c1m_now_ms();
    for (int i = 0; i < 7 && nclosed == 0; i++) {
        assert_int_equal(write(sv[1], "x", 1), 1);
        run_for(&loop, 40);
    }
    assert_int_equal(nclosed, 1);
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_HEADER], 1);
    /* never early, and before the trickle ended (a header deadline re-armed
     * by each byte would not have fired at all) */
    assert_true(closed_at[0] >= t0 + 150);
    close(sv[1]);
}

/* Output that stays unsent closes with WRITE; on_timeout may handle an
 * expiry itself (here: a "408" and a close after flush). */
static void write_timeout_and_on_timeout(void **state)
{
    c1m_loop_destroy(&loop);
    assert_int_equal(init_loop((c1m_timers_mode_t)(intptr_t)*state, 0, 60, 0, 0), 0);
    int sv[2];
    pair(sv);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], &auto_p);
    assert_non_null(c);
    static char big[256 * 1024];
    c1m_conn_write(c, big, sizeof big); /* the peer never reads */
    assert_true(c1m_conn_pending_out(c) > 0);
    assert_true(c1m_conn_timeout_deadline(c, C1M_TO_WRITE) > 0);
    run_until_closed(&loop, 1, 1000);
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_WRITE], 1);
    close(sv[1]);

    /* drained output clears the write deadline: output is queued (small
     * socket buffer), the deadline set; the peer reads it all, the loop
     * flushes, the deadline is gone */
    int s2[2];
    pair(s2);
    setsockopt(s2[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    c = c1m_loop_adopt(&loop, s2[0], &auto_p);
    enum { QUEUED = 32 * 1024 };
    c1m_conn_write(c, big, QUEUED);
    assert_true(c1m_conn_pending_out(c) > 0);
    assert_true(c1m_conn_timeout_deadline(c, C1M_TO_WRITE) > 0);
    static char sink[65536];
    size_t drained = 0;
    for (int i = 0; i < 10000 && (drained < QUEUED || c1m_conn_pending_out(c)); i++) {
        ssize_t r = read(s2[1], sink, sizeof sink);
        if (r > 0)
            drained += (size_t)r;
        c1m_loop_run_once(&loop, 0);
    }
    assert_int_equal(drained, QUEUED);
    assert_true(c1m_conn_is_open(c));
    assert_int_equal(c1m_conn_pending_out(c), 0);
    assert_int_equal(c1m_conn_timeout_deadline(c, C1M_TO_WRITE), 0);

    /* handled by the protocol */
    int s3[2];
    pair(s3);
    c1m_conn_t *c3 = c1m_loop_adopt(&loop, s3[0], &p408);
    c1m_conn_set_timeout(c3, C1M_TO_HEADER, 40);
    c1m_conn_timeout_arm(c3, C1M_TO_HEADER);
    run_until_closed(&loop, 2, 1000);
    assert_int_equal(handled, 1);
    assert_int_equal(closes[C1M_CLOSE_LOCAL], 1);
    char buf[8];
    assert_int_equal(read(s3[1], buf, sizeof buf), 3);
    assert_memory_equal(buf, "408", 3);
    close(s2[1]);
    close(s3[1]);
}

/* ---- global heap: two loops, one heap, forwarding ------------------- */

static void global_heap_forwards_to_owner(void **state)
{
    c1m_loop_destroy(&loop);
    memset(closes, 0, sizeof closes);
    nclosed = 0;
    c1m_gtimers_t g;
    assert_int_equal(c1m_gtimers_init(&g, 2), 0);
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.timers = C1M_TIMERS_GLOBAL_HEAP;
    cfg.gtimers = &g;
    cfg.timeout_ms[C1M_TO_IDLE] = 40;
    c1m_loop_t a, b;
    assert_int_equal(c1m_loop_init(&a, 0, &cfg, &auto_p), 0);
    assert_int_equal(c1m_loop_init(&b, 1, &cfg, &auto_p), 0);
    int sv[2];
    pair(sv);
    c1m_conn_t *c = c1m_loop_adopt(&b, sv[0], &auto_p); /* owned by b */
    assert_non_null(c);
    assert_int_equal(c1m_gheap_count(&g.heap), 1);
    /* only a runs the heap until the deadline: it pops b's entry and
     * forwards it */
    uint64_t end = c1m_now_ms() + 100;
    while (c1m_now_ms() < end && !a.stats.timer_forwards)
        c1m_loop_run_once(&a, 5);
    assert_int_equal(a.stats.timer_forwards, 1);
    assert_int_equal(nclosed, 0); /* a never touches b's connection */
    c1m_loop_run_once(&b, 10);      /* the forward arrives: b expires it */
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_IDLE], 1);
    assert_int_equal(b.stats.close_reasons[C1M_CLOSE_TIMEOUT_IDLE], 1);
    assert_int_equal(c1m_gheap_count(&g.heap), 0);
    close(sv[1]);
    c1m_loop_destroy(&a);
    c1m_loop_destroy(&b);
    c1m_gtimers_destroy(&g);
    /* leave a loop for teardown */
    assert_int_equal(init_loop(C1M_TIMERS_WHEEL, 0, 0, 0, 0), 0);
}

/* ---- user timers on the loop ---------------------------------------- */

static int fired_once, fired_periodic;
static void once_fn(c1m_timer_t *t) { fired_once++; }
static void periodic_fn(c1m_timer_t *t)
{
    if (++fired_periodic == 5)
        c1m_loop_timer_stop(t->data, t);
}

static void user_timers(void **state)
{
    fired_once = fired_periodic = 0;
    c1m_timer_t once, per;
    c1m_timer_init(&once, once_fn, &loop);
    c1m_timer_init(&per, periodic_fn, &loop);
    c1m_loop_run_once(&loop, 0);
    uint64_t t0 = loop.now_ms;
    c1m_loop_timer_start(&loop, &once, 30, 0);
    c1m_loop_timer_start(&loop, &per, 10, 10);
    /* the loop sleeps in epoll_wait until the next timer (no timeout given) */
    while (fired_periodic < 5 || !fired_once) {
        c1m_loop_run_once(&loop, -1);
        assert_true(loop.now_ms < t0 + 500);
    }
    assert_int_equal(fired_once, 1);
    assert_true(loop.now_ms >= t0 + 50);
    run_for(&loop, 30);
    assert_int_equal(fired_periodic, 5);
    assert_int_equal(fired_once, 1);
}

/* Deadlines are 32-bit offsets from a per-loop base, moved every 2^31 ms
 * of loop life: the absolute deadlines survive the move. */
static void base_moves_keep_deadlines(void **state)
{
    int sv[2];
    pair(sv);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], &manual_p);
    assert_non_null(c);
    c1m_conn_set_timeout(c, C1M_TO_READ, 1000);
    c1m_conn_set_timeout(c, C1M_TO_IDLE, 60000);
    c1m_conn_timeout_arm(c, C1M_TO_READ);
    c1m_conn_timeout_arm(c, C1M_TO_IDLE);
    uint64_t r = c1m_conn_timeout_deadline(c, C1M_TO_READ);
    uint64_t i = c1m_conn_timeout_deadline(c, C1M_TO_IDLE);
    /* the same state, as if the loop had run for 2^31 ms */
    uint32_t x = (UINT32_C(1) << 31) + 7;
    loop.tmo_base -= x;
    c->tmo_deadline[C1M_TO_READ] += x;
    c->tmo_deadline[C1M_TO_IDLE] += x;
    assert_int_equal(c1m_conn_timeout_deadline(c, C1M_TO_READ), r);
    c1m_loop_run_once(&loop, 0);
    assert_true(loop.now_ms - loop.tmo_base < 1000); /* moved */
    assert_int_equal(c1m_conn_timeout_deadline(c, C1M_TO_READ), r);
    assert_int_equal(c1m_conn_timeout_deadline(c, C1M_TO_IDLE), i);
    run_until_closed(&loop, 1, 2000);
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_READ], 1);
    close(sv[1]);
}

static void conn_stays_small(void **state)
{
    assert_true(sizeof(c1m_conn_t) <= 128);
    print_message("sizeof(c1m_conn_t) = %zu\n", sizeof(c1m_conn_t));
}

#define MODES(fn)                                                                         \
    cmocka_unit_test_prestate_setup_teardown(fn, setup_mode, teardown,                    \
                                             (void *)(intptr_t)C1M_TIMERS_WHEEL),         \
        cmocka_unit_test_prestate_setup_teardown(fn, setup_mode, teardown,                \
                                                 (void *)(intptr_t)C1M_TIMERS_HEAP),      \
        cmocka_unit_test_prestate_setup_teardown(fn, setup_mode, teardown,                \
                                                 (void *)(intptr_t)C1M_TIMERS_GLOBAL_HEAP)

int main(void)
{
    /* a peer the loop closed makes write() fail with EPIPE (an assertion
     * with a line number), not kill the test binary */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conn_stays_small),
        MODES(postpone_is_a_store),
        MODES(early_fire_rearms_to_true_deadline),
        MODES(per_connection_override),
        MODES(busy_survives_idle_expires),
        MODES(no_fire_after_close),
        MODES(header_deadline_is_fixed),
        MODES(write_timeout_and_on_timeout),
        MODES(base_moves_keep_deadlines),
        cmocka_unit_test_prestate_setup_teardown(global_heap_forwards_to_owner, setup_mode,
                                                 teardown, (void *)(intptr_t)C1M_TIMERS_WHEEL),
        cmocka_unit_test_prestate_setup_teardown(user_timers, setup_mode, teardown,
                                                 (void *)(intptr_t)C1M_TIMERS_WHEEL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
