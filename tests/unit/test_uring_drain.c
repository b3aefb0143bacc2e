/* engine/backend_uring + engine/loop: a drain on io_uring loses no answer
 * (a SIGUSR2 upgrade of HTTP lost requests on uring, none on epoll).
 * The protocol answers each request, then closes after the answer (HTTP's
 * "Connection: close" while draining). Two ways the answer was lost:
 *  - the loop ended in the iteration that closed its last connection: the
 *    answers of that iteration were SQEs not submitted yet, and the ring's
 *    teardown closed the connections without them (settle);
 *  - the multishot accept took connections in the same batch of
 *    completions as the stop message, after it: the loop had stopped
 *    watching the listener and never took them (late accepts).
 * Each peer must read its whole answer, then EOF, by the time
 * c1m_loop_run returns. Loopback only (127.0.0.1, an ephemeral port). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "engine/listener.h"
#include "engine/loop.h"

#define ANSWER_LEN 1000 /* one answer, bigger than a request */

static int answered, opened;

static int t_open(c1m_conn_t *c)
{
    (void)c;
    opened++;
    return 0;
}

/* One request ("?"), one answer, then close once it is written. */
static ssize_t t_answer_close(c1m_conn_t *c, const char *d, size_t n)
{
    (void)d;
    char a[ANSWER_LEN];
    memset(a, 'a', sizeof a);
    c1m_conn_write(c, a, sizeof a);
    c1m_conn_close_after_flush(c, C1M_CLOSE_LOCAL);
    answered++;
    return (ssize_t)n;
}

static const c1m_proto_t answer_p = { .name = "t-answer", .on_open = t_open,
                                      .on_data = t_answer_close };

static c1m_loop_t loop;

static int setup(void **state)
{
    (void)state;
    answered = opened = 0;
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.backend = C1M_BACKEND_URING;
    cfg.drain_ms = 5000;
    return c1m_loop_init(&loop, 0, &cfg, &answer_p);
}

static int teardown(void **state)
{
    (void)state;
    c1m_loop_destroy(&loop);
    return 0;
}

/* What each peer got, read without waiting: the loop has ended, so what
 * it answered is in the peer's socket already. Returns the number of
 * peers that read the whole answer and then EOF. */
static int peers_answered(const int *peers, int n)
{
    int ok = 0;
    char buf[4096];
    for (int p = 0; p < n; p++) {
        size_t got = 0;
        ssize_t r;
        while ((r = recv(peers[p], buf, sizeof buf, MSG_DONTWAIT)) > 0)
            got += (size_t)r;
        ok += got == ANSWER_LEN && r == 0;
    }
    return ok;
}

/* N adopted connections each send a request; the loop is told to stop
 * first, then runs: every connection is answered and closed in the same
 * iteration, which is the loop's last. */
static void last_iteration_answers(void **state)
{
    (void)state;
    enum { N = 200 };
    int peers[N];
    for (int i = 0; i < N; i++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        assert_non_null(c1m_loop_adopt(&loop, sv[0], &answer_p));
        peers[i] = sv[1];
    }
    c1m_loop_run_once(&loop, 0); /* the ring is enabled, the recvs armed */
    assert_int_equal(c1m_loop_stop(&loop), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(write(peers[i], "?", 1), 1);
    assert_int_equal(c1m_loop_run(&loop), 0);
    assert_int_equal(answered, N);
    int ok = peers_answered(peers, N);
    print_message("  %d of %d peers read their answer and EOF when the loop ended\n", ok, N);
    assert_int_equal(ok, N);
    for (int i = 0; i < N; i++)
        close(peers[i]);
}

/* The stop message is read before connections the multishot accept took
 * in the same enter (the eventfd was written before they connected):
 * the draining loop still serves them. */
static void accepted_after_the_stop(void **state)
{
    (void)state;
    enum { N = 100 };
    char err[200];
    c1m_listen_cfg_t lc = { .bind = "127.0.0.1", .port = 0, .backlog = 1024 };
    int lfd = c1m_listen_fd(&lc, err, sizeof err);
    assert_true(lfd >= 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    c1m_listener_t l = { .io = { .fd = lfd } };
    assert_int_equal(c1m_loop_add_listener(&loop, &l), 0);
    c1m_loop_run_once(&loop, 0); /* the accept and the queue's poll are armed */
    assert_int_equal(c1m_loop_stop(&loop), 0);
    int peers[N];
    for (int i = 0; i < N; i++) {
        peers[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(peers[i] >= 0);
        assert_int_equal(connect(peers[i], (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(write(peers[i], "?", 1), 1);
    }
    assert_int_equal(c1m_loop_run(&loop), 0);
    int ok = peers_answered(peers, N);
    print_message("  %d connections accepted after the stop message, %d answered\n",
                  (int)loop.stats.accepted, ok);
    assert_int_equal(opened, N);
    assert_int_equal(ok, N);
    for (int i = 0; i < N; i++)
        close(peers[i]);
    close(lfd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(last_iteration_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(accepted_after_the_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
