/* engine/backend_uring: a connection waiting in the backlog is accepted
 * even when the listener's wake-up went to another ring's accept that
 * does not run. A listener wakes one of the accepts waiting on it
 * (exclusive); with DEFER_TASKRUN the woken accept runs only when its
 * ring's thread enters the kernel, and a cancelled one leaves the wait
 * queue only then. A sibling that is busy, draining, or dead while its
 * ring is torn down thus took the wake-up of a connection, which then
 * waited until another connection arrived (serve_archs: 18-65
 * connections never accepted in about 1 run of 60; upgrade.sh: fresh
 * connections unanswered after an upgrade). The sibling here is a ring
 * with a multishot accept armed on the same listener before the loop's,
 * whose thread never enters again. Loopback only. */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "engine/listener.h"
#include "engine/loop.h"

static int opened;

static int t_open(c1m_conn_t *c)
{
    (void)c;
    opened++;
    return 0;
}

static ssize_t t_echo(c1m_conn_t *c, const char *d, size_t n)
{
    c1m_conn_write(c, d, n);
    return (ssize_t)n;
}

static const c1m_proto_t echo_p = { .name = "t-echo", .on_open = t_open, .on_data = t_echo };

static c1m_loop_t loop;
static int lfd = -1;
static struct sockaddr_in addr;
static c1m_listener_t listener;

static int setup(void **state)
{
    (void)state;
    opened = 0;
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.backend = C1M_BACKEND_URING;
    if (c1m_loop_init(&loop, 0, &cfg, &echo_p) < 0)
        return -1;
    char err[200];
    c1m_listen_cfg_t lc = { .bind = "127.0.0.1", .port = 0, .backlog = 64 };
    lfd = c1m_listen_fd(&lc, err, sizeof err);
    socklen_t al = sizeof addr;
    if (lfd < 0 || getsockname(lfd, (struct sockaddr *)&addr, &al) < 0)
        return -1;
    listener = (c1m_listener_t){ .io = { .fd = lfd } };
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    c1m_loop_destroy(&loop);
    close(lfd);
    return 0;
}

/* A ring like a sibling loop's: its multishot accept is armed on the
 * listener (first in the wait queue), then its thread never enters again. */
static void sibling_arm(struct io_uring *sib, int cancel)
{
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
    assert_int_equal(io_uring_queue_init_params(8, sib, &p), 0);
    struct io_uring_sqe *q = io_uring_get_sqe(sib);
    io_uring_prep_multishot_accept(q, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(q, 1);
    assert_int_equal(io_uring_submit(sib), 1);
    if (cancel) { /* it stopped accepting: the cancel is in, its task work is not run */
        q = io_uring_get_sqe(sib);
        io_uring_prep_cancel64(q, 1, 0);
        io_uring_sqe_set_data64(q, 2);
        assert_int_equal(io_uring_submit(sib), 1);
    }
}

/* Connect, send, and run the loop until the echo comes back (at most 3 s).
 * Returns the milliseconds it took, or -1. */
static long echo_ms(void)
{
    int peer = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(peer >= 0);
    int rc = connect(peer, (struct sockaddr *)&addr, sizeof addr);
    assert_true(rc == 0 || errno == EINPROGRESS);
    uint64_t t0 = c1m_now_ms();
    long took = -1;
    int sent = 0;
    while (c1m_now_ms() - t0 < 3000) {
        c1m_loop_run_once(&loop, 20);
        if (!sent)
            sent = write(peer, "ping", 4) == 4;
        char buf[8];
        if (sent && recv(peer, buf, sizeof buf, MSG_DONTWAIT) == 4) {
            took = (long)(c1m_now_ms() - t0);
            break;
        }
    }
    close(peer);
    return took;
}

static void run_case(int cancel)
{
    struct io_uring sib;
    sibling_arm(&sib, cancel);
    assert_int_equal(c1m_loop_add_listener(&loop, &listener), 0);
    c1m_loop_run_once(&loop, 0); /* the loop's accept is armed, behind the sibling's */
    long took = echo_ms();
    print_message("  %s sibling: echoed after %ld ms (-1: never, within 3 s)\n",
                  cancel ? "a cancelled" : "an idle", took);
    assert_true(took >= 0);
    assert_int_equal(opened, 1);
    io_uring_queue_exit(&sib);
}

static void idle_sibling_took_the_wakeup(void **state)
{
    (void)state;
    run_case(0);
}

static void cancelled_sibling_took_the_wakeup(void **state)
{
    (void)state;
    run_case(1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(idle_sibling_took_the_wakeup, setup, teardown),
        cmocka_unit_test_setup_teardown(cancelled_sibling_took_the_wakeup, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
