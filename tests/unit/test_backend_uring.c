/* engine/backend_uring: the loop on io_uring, driven one iteration at a
 * time. Echo through adopted socketpairs and through connections accepted
 * from a loopback listener (multishot accept into direct descriptors:
 * they must not be open files of the process), a large transfer through
 * a peer that reads slowly (short sends, the high watermark pausing and
 * resuming reads, nothing lost or reordered), closes, and the write
 * timeout with a send in flight. The listener is
 * on an ephemeral port of 127.0.0.1. */
#include <signal.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include "engine/timeouts.h"

static int closes[C1M_CLOSE__COUNT];
static int opens;

static int t_open(c1m_conn_t *c)
{
    (void)c;
    opens++;
    return 0;
}
static ssize_t t_echo(c1m_conn_t *c, const char *d, size_t n)
{
    if (c1m_conn_over_high(c))
        return 0; /* keep it: the loop presents it again below the low mark */
    c1m_conn_write(c, d, n);
    return (ssize_t)n;
}
static int connect_errno; /* errno of the last C1M_CLOSE_CONNECT */
static void t_close(c1m_conn_t *c, int reason)
{
    (void)c;
    closes[reason]++;
    if (reason == C1M_CLOSE_CONNECT)
        connect_errno = errno;
}
static const c1m_proto_t echo_p = { .name = "t-echo", .on_open = t_open, .on_data = t_echo,
                                    .on_close = t_close };

static c1m_loop_t loop;

static int setup(void **state)
{
    (void)state;
    memset(closes, 0, sizeof closes);
    opens = 0;
    connect_errno = 0;
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.backend = C1M_BACKEND_URING;
    cfg.out_high = 64 * 1024;
    cfg.out_low = 16 * 1024;
    int rc = c1m_loop_init(&loop, 0, &cfg, &echo_p);
    if (rc == 0)
        assert_string_equal(c1m_loop_backend_name(&loop), "uring");
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    c1m_loop_destroy(&loop);
    return 0;
}

static void spin(int n)
{
    for (int i = 0; i < n; i++)
        c1m_loop_run_once(&loop, 5);
}

static uint8_t pat(size_t i, int k) { return (uint8_t)(i * 131 + (size_t)k * 7 + i / 253); }

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Write msg to every peer, run the loop, expect it back exactly. */
static void echo_round(int *peers, int n, size_t len, int round)
{
    char *msg = malloc(len), *got = malloc(len);
    assert_non_null(msg);
    assert_non_null(got);
    for (int p = 0; p < n; p++) {
        for (size_t i = 0; i < len; i++)
            msg[i] = (char)pat(i, p + round);
        assert_int_equal(write(peers[p], msg, len), (ssize_t)len);
    }
    for (int p = 0; p < n; p++) {
        size_t have = 0;
        for (int k = 0; k < 2000 && have < len; k++) {
            ssize_t r = read(peers[p], got + have, len - have);
            if (r > 0)
                have += (size_t)r;
            else
                spin(1);
        }
        assert_int_equal(have, len);
        for (size_t i = 0; i < len; i++)
            if ((uint8_t)got[i] != pat(i, p + round))
                fail_msg("peer %d byte %zu wrong", p, i);
    }
    free(msg);
    free(got);
}

static void adopted_socketpairs(void **state)
{
    (void)state;
    enum { N = 100 };
    int peers[N];
    c1m_conn_t *cs[N];
    for (int i = 0; i < N; i++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        cs[i] = c1m_loop_adopt(&loop, sv[0], &echo_p);
        assert_non_null(cs[i]);
        peers[i] = sv[1];
    }
    assert_int_equal(opens, N);
    echo_round(peers, N, 8, 0);
    echo_round(peers, N, 5000, 1); /* more than one provided buffer */
    echo_round(peers, N, 1, 2);
    for (int i = 0; i < N; i++)
        close(peers[i]);
    for (int k = 0; k < 100 && loop.stats.conns; k++)
        spin(1);
    assert_int_equal(loop.stats.conns, 0);
    assert_int_equal(closes[C1M_CLOSE_PEER], N);
}

static void accepted_direct(void **state)
{
    (void)state;
    enum { N = 300 };
    char err[200];
    c1m_listen_cfg_t lc = { .bind = "127.0.0.1", .port = 0, .backlog = 1024 };
    int lfd = c1m_listen_fd(&lc, err, sizeof err);
    assert_true(lfd >= 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    c1m_listener_t l = { .io = { .fd = lfd } };
    assert_int_equal(c1m_loop_add_listener(&loop, &l), 0);
    spin(1);
    int fds0 = count_fds();
    int peers[N];
    for (int i = 0; i < N; i++) {
        peers[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(peers[i] >= 0);
        assert_int_equal(connect(peers[i], (struct sockaddr *)&a, sizeof a), 0);
        fcntl(peers[i], F_SETFL, O_NONBLOCK);
    }
    for (int k = 0; k < 200 && loop.stats.conns < N; k++)
        spin(1);
    assert_int_equal(loop.stats.conns, N);
    assert_int_equal(loop.stats.accepted, N);
    /* N client sockets were opened here; the N server sides are direct
     * descriptors of the ring, not files of the process */
    int grown = count_fds() - fds0;
    print_message("  %d connections: the process has %d more fds\n", N, grown);
    assert_int_equal(grown, N);
    echo_round(peers, N, 8, 3);
    echo_round(peers, N, 3000, 4);
    for (int i = 0; i < N; i++)
        close(peers[i]);
    for (int k = 0; k < 200 && loop.stats.conns; k++)
        spin(1);
    assert_int_equal(loop.stats.conns, 0);
    assert_int_equal(closes[C1M_CLOSE_PEER], N);
    close(lfd);
}

/* Client connections (c1m_loop_connect) on uring: direct sockets made,
 * bound and connected through the ring. Half bind an explicit source
 * (127.0.0.3), half let the kernel choose; the accepting side (plain
 * sockets of this test) sees the source; the client sides are not open
 * files; bytes echo both ways. A refused connect and a source that cannot
 * be bound end in on_close(C1M_CLOSE_CONNECT) with errno saying why. */
static void client_connects(void **state)
{
    (void)state;
    enum { N = 200 };
    char err[200];
    c1m_listen_cfg_t lc = { .bind = "127.0.0.1", .port = 0, .backlog = 1024 };
    int lfd = c1m_listen_fd(&lc, err, sizeof err);
    assert_true(lfd >= 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    spin(1);
    int fds0 = count_fds();
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000003) };
    for (int i = 0; i < N; i++)
        assert_non_null(c1m_loop_connect(&loop, i % 2 ? (struct sockaddr *)&src : NULL,
                                         (struct sockaddr *)&a, sizeof a, &echo_p, NULL));
    for (int k = 0; k < 400 && opens < N; k++)
        spin(1);
    assert_int_equal(opens, N);
    assert_int_equal(loop.stats.connected, N);
    assert_int_equal(count_fds() - fds0, 0); /* direct sockets, not files */
    int peers[N], from3 = 0;
    for (int i = 0; i < N; i++) {
        struct sockaddr_in pa;
        socklen_t pl = sizeof pa;
        peers[i] = accept4(lfd, (struct sockaddr *)&pa, &pl, SOCK_NONBLOCK);
        assert_true(peers[i] >= 0);
        from3 += pa.sin_addr.s_addr == htonl(0x7f000003);
    }
    assert_int_equal(from3, N / 2);
    echo_round(peers, N, 8, 5);
    echo_round(peers, N, 3000, 6);
    for (int i = 0; i < N; i++)
        close(peers[i]);
    for (int k = 0; k < 200 && loop.stats.conns; k++)
        spin(1);
    assert_int_equal(loop.stats.conns, 0);
    assert_int_equal(closes[C1M_CLOSE_PEER], N);

    close(lfd); /* nothing listens there now */
    assert_non_null(c1m_loop_connect(&loop, NULL, (struct sockaddr *)&a, sizeof a, &echo_p, NULL));
    for (int k = 0; k < 100 && !closes[C1M_CLOSE_CONNECT]; k++)
        spin(1);
    assert_int_equal(closes[C1M_CLOSE_CONNECT], 1);
    assert_int_equal(connect_errno, ECONNREFUSED);
    struct sockaddr_in far = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0xc0000201) };
    assert_non_null(c1m_loop_connect(&loop, (struct sockaddr *)&far, (struct sockaddr *)&a,
                                     sizeof a, &echo_p, NULL)); /* 192.0.2.1: not ours */
    for (int k = 0; k < 100 && closes[C1M_CLOSE_CONNECT] < 2; k++)
        spin(1);
    print_message("  closes: connect %d, error %d, local %d, peer %d; errno %d; conns %u\n", closes[C1M_CLOSE_CONNECT], closes[C1M_CLOSE_ERROR], closes[C1M_CLOSE_LOCAL], closes[C1M_CLOSE_PEER], connect_errno, (unsigned)loop.stats.conns);
    assert_int_equal(closes[C1M_CLOSE_CONNECT], 2);
    assert_int_equal(connect_errno, EADDRNOTAVAIL);
    assert_int_equal(opens, N);
    for (int k = 0; k < 50; k++)
        spin(1);
    assert_int_equal(loop.stats.conns, 0);
}

/* 4 MiB through one connection whose peer reads only now and then: the
 * echo backs up past the high watermark (reads pause: the recv is
 * cancelled), then drains; every byte comes back in order. */
static void slow_reader(void **state)
{
    (void)state;
    enum { TOTAL = 4 << 20 };
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], &echo_p);
    assert_non_null(c);
    char *buf = malloc(65536);
    assert_non_null(buf);
    size_t sent = 0, got = 0, last_got = 0;
    int bad = -1, still = 0;
    for (int it = 0; it < 200000 && got < TOTAL && still < 2000; it++) {
        still = got == last_got ? still + 1 : 0; /* bounded: a stall fails */
        last_got = got;
        if (sent < TOTAL) {
            size_t k = TOTAL - sent < 65536 ? TOTAL - sent : 65536;
            for (size_t i = 0; i < k; i++)
                buf[i] = (char)pat(sent + i, 9);
            ssize_t w = send(sv[1], buf, k, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
        }
        spin(1);
        if (it % 8 == 0) { /* the slow part */
            ssize_t r = read(sv[1], buf, 65536);
            for (ssize_t i = 0; i < r && bad < 0; i++)
                if ((uint8_t)buf[i] != pat(got + (size_t)i, 9))
                    bad = (int)(got + (size_t)i);
            if (r > 0)
                got += (size_t)r;
        }
    }
    print_message("  %zu bytes echoed, %llu read pauses\n", got,
                  (unsigned long long)loop.stats.read_pauses);
    assert_int_equal(bad, -1);
    assert_int_equal(got, TOTAL);
    assert_true(loop.stats.read_pauses > 0);
    free(buf);
    close(sv[1]);
    for (int k = 0; k < 100 && loop.stats.conns; k++)
        spin(1);
    assert_int_equal(loop.stats.conns, 0);
}


/* Through one connection, far more than the buffer ring holds (12 MiB
 * through 8 MiB of buffers): buffers must come back to the ring. */
static void more_than_the_ring(void **state)
{
    (void)state;
    enum { TOTAL = 12 << 20 };
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    assert_non_null(c1m_loop_adopt(&loop, sv[0], &echo_p));
    char *buf = malloc(65536);
    assert_non_null(buf);
    size_t sent = 0, got = 0;
    int bad = -1, still = 0;
    for (int it = 0; got < TOTAL && still < 2000; it++) {
        if (sent < TOTAL) {
            size_t k = TOTAL - sent < 65536 ? TOTAL - sent : 65536;
            for (size_t i = 0; i < k; i++)
                buf[i] = (char)pat(sent + i, 5);
            ssize_t w = send(sv[1], buf, k, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
        }
        spin(1);
        ssize_t r = read(sv[1], buf, 65536);
        for (ssize_t i = 0; i < r && bad < 0; i++)
            if ((uint8_t)buf[i] != pat(got + (size_t)i, 5))
                bad = (int)(got + (size_t)i);
        still = r > 0 ? 0 : still + 1;
        if (r > 0)
            got += (size_t)r;
    }
    assert_int_equal(bad, -1);
    assert_int_equal(got, TOTAL);
    free(buf);
    close(sv[1]);
}

/* A loop whose ring has a small share of the process's buffer budget
 * (uring_rings: 1,024 rings -> 64 buffers of 2 KiB, 128 KiB) and sixteen
 * connections that each push 256 KiB at once: a recv bundle takes up to
 * 32 buffers, so the ring runs dry every few completions (recvs end with
 * ENOBUFS and are re-armed once buffers are back). Every byte must come
 * back, in order, on every connection. */
static int setup_small(void **state)
{
    (void)state;
    memset(closes, 0, sizeof closes);
    opens = 0;
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.backend = C1M_BACKEND_URING;
    cfg.uring_rings = 1024;
    return c1m_loop_init(&loop, 0, &cfg, &echo_p);
}

static void small_share_runs_dry(void **state)
{
    (void)state;
    enum { N = 16, TOTAL = 256 << 10 };
    int peers[N];
    size_t sent[N] = { 0 }, got[N] = { 0 };
    for (int i = 0; i < N; i++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        assert_non_null(c1m_loop_adopt(&loop, sv[0], &echo_p));
        peers[i] = sv[1];
    }
    char *buf = malloc(65536);
    assert_non_null(buf);
    size_t done = 0;
    for (int it = 0, still = 0; done < N && still < 2000; it++) {
        for (int p = 0; p < N; p++) {
            if (sent[p] < TOTAL) {
                size_t k = TOTAL - sent[p] < 65536 ? TOTAL - sent[p] : 65536;
                for (size_t i = 0; i < k; i++)
                    buf[i] = (char)pat(sent[p] + i, p);
                ssize_t w = send(peers[p], buf, k, MSG_NOSIGNAL);
                if (w > 0)
                    sent[p] += (size_t)w;
            }
        }
        spin(1);
        bool moved = false;
        for (int p = 0; p < N; p++) {
            ssize_t r = read(peers[p], buf, 65536);
            for (ssize_t i = 0; i < r; i++)
                if ((uint8_t)buf[i] != pat(got[p] + (size_t)i, p))
                    fail_msg("connection %d: byte %zu wrong", p, got[p] + (size_t)i);
            if (r > 0) {
                got[p] += (size_t)r;
                moved = true;
                done += got[p] == TOTAL;
            }
        }
        still = moved ? 0 : still + 1;
    }
    for (int p = 0; p < N; p++) {
        assert_int_equal(got[p], TOTAL);
        close(peers[p]);
    }
    free(buf);
}

/* One peer floods a connection and never reads its echoes: above the high
 * watermark the backend must stop receiving for it (cancel its recv), so
 * the flood backs up into the peer's socket (its writes stop) instead of
 * into the shared buffer ring, and another connection still echoes. */
static void flood_does_not_starve(void **state)
{
    (void)state;
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
    assert_non_null(c1m_loop_adopt(&loop, a[0], &echo_p));
    assert_non_null(c1m_loop_adopt(&loop, b[0], &echo_p));
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t flooded = 0;
    int blocked = 0;
    for (int it = 0; it < 3000 && blocked < 50 && flooded < (32u << 20); it++) {
        ssize_t w = send(a[1], buf, 65536, MSG_NOSIGNAL);
        if (w > 0) {
            flooded += (size_t)w;
            blocked = 0;
        } else {
            blocked++;
        }
        spin(1);
    }
    print_message("  the flooding peer could write %zu bytes before it blocked\n", flooded);
    /* socket buffers both ways + the 64 KiB watermark + what was queued
     * when reading paused: well under the ring's 8 MiB */
    assert_true(blocked >= 50);
    assert_true(flooded < (4u << 20));
    int peers[1] = { b[1] };
    echo_round(peers, 1, 3000, 7);
    free(buf);
    close(a[1]);
    close(b[1]);
}

/* More received buffers than one event presents (U_PUMP_MAX dispatches,
 * one 2 KiB buffer each) arrive at once, and nothing arrives after them:
 * the rest must still be read, without waiting for another completion on
 * the connection (a 1 MiB WebSocket message waited 30 s, for the
 * keep-alive ping). With recv bundles one completion carries many
 * buffers; everything is written before the loop first runs. */
static size_t sunk;
static ssize_t t_sink(c1m_conn_t *c, const char *d, size_t n)
{
    (void)c;
    (void)d;
    sunk += n;
    return (ssize_t)n;
}
static const c1m_proto_t sink_p = { .name = "t-sink", .on_data = t_sink, .on_close = t_close };

static void queued_buffers_are_read_without_new_events(void **state)
{
    (void)state;
    int a[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
    int big = 4 << 20;
    setsockopt(a[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    sunk = 0;
    assert_non_null(c1m_loop_adopt(&loop, a[0], &sink_p));
    enum { LEN = 512 * 1024 };
    char *buf = calloc(1, LEN);
    assert_non_null(buf);
    size_t sent = 0;
    while (sent < LEN) { /* before the loop runs: all of it is waiting */
        ssize_t w = send(a[1], buf + sent, LEN - sent, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    print_message("  %zu bytes waiting before the loop's first iteration\n", sent);
    assert_true(sent > 64 * 2048 * 2);
    for (int i = 0; i < 200 && sunk < sent; i++)
        spin(1);
    assert_int_equal(sunk, sent);
    free(buf);
    close(a[1]);
    spin(3);
}

/* The loop closes (protocol error): the peer sees EOF, the slot is freed
 * and used again by the next connection. */
static ssize_t t_refuse(c1m_conn_t *c, const char *d, size_t n)
{
    (void)c;
    (void)d;
    (void)n;
    return -1;
}
static const c1m_proto_t refuse_p = { .name = "t-refuse", .on_data = t_refuse, .on_close = t_close };

static void local_close(void **state)
{
    (void)state;
    int last = -1;
    for (int round = 0; round < 3; round++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], &refuse_p);
        assert_non_null(c);
        if (round == 2)
            assert_int_equal(c1m_conn_fd(c), last); /* slot reused */
        last = c1m_conn_fd(c);
        assert_int_equal(write(sv[1], "x", 1), 1);
        char b;
        ssize_t r = -1;
        for (int k = 0; k < 200 && r != 0; k++) {
            spin(1);
            r = read(sv[1], &b, 1);
        }
        assert_int_equal(r, 0); /* EOF: closed through the ring */
        close(sv[1]);
        spin(2);
    }
    assert_int_equal(closes[C1M_CLOSE_PROTO], 3);
    assert_int_equal(loop.stats.conns, 0);
}

/* A response the backend takes whole (100 KiB: under its 256 KiB per
 * send) to a peer whose socket cannot hold it: the bytes of the send in
 * flight are unsent output for the loop (c1m_conn_pending_out, the high
 * watermark), the write timeout stays armed, and it cuts the peer that
 * never reads; the peer that reads gets everything and keeps its
 * connection, its write deadline cleared once the send is out. */
enum { BURST = 100 * 1024 };
static int drained;
static int t_burst_open(c1m_conn_t *c)
{
    static char b[BURST];
    for (size_t i = 0; i < BURST; i++)
        b[i] = (char)pat(i, 5);
    c1m_conn_set_timeout(c, C1M_TO_WRITE, 1000); /* long enough for a loaded ASan run */
    return c1m_conn_write(c, b, BURST);
}
static void t_drained(c1m_conn_t *c)
{
    (void)c;
    drained++;
}
static const c1m_proto_t burst_p = { .name = "t-burst", .on_open = t_burst_open,
                                     .on_data = t_echo, .on_drained = t_drained,
                                     .on_close = t_close };

static void write_timeout_in_flight(void **state)
{
    (void)state;
    drained = 0;
    int never[2], reads[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, never), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, reads), 0);
    int small = 4096; /* the kernel holds far less than BURST for these peers */
    setsockopt(never[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(reads[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    c1m_conn_t *cn = c1m_loop_adopt(&loop, never[0], &burst_p);
    c1m_conn_t *cr = c1m_loop_adopt(&loop, reads[0], &burst_p);
    assert_non_null(cn);
    assert_non_null(cr);
    spin(2); /* submitted: the kernel took what fits */
    size_t pend = c1m_conn_pending_out(cn);
    print_message("  unsent after the first sends: %zu of %d bytes\n", pend, BURST);
    assert_true(pend > 0 && pend <= BURST);
    assert_true(c1m_conn_over_high(cn)); /* out_high is 64 KiB here */
    assert_true(c1m_conn_timeout_deadline(cn, C1M_TO_WRITE) != 0);
    char *buf = malloc(BURST);
    assert_non_null(buf);
    size_t got = 0;
    int bad = -1;
    for (int it = 0; it < 3000 && (closes[C1M_CLOSE_TIMEOUT_WRITE] == 0 || got < BURST); it++) {
        ssize_t r = read(reads[1], buf + got, BURST - got);
        for (ssize_t i = 0; i < r && bad < 0; i++)
            if ((uint8_t)buf[got + (size_t)i] != pat(got + (size_t)i, 5))
                bad = (int)(got + (size_t)i);
        if (r > 0)
            got += (size_t)r;
        spin(1);
    }
    spin(2);
    assert_int_equal(bad, -1);
    assert_int_equal(got, BURST);
    assert_int_equal(closes[C1M_CLOSE_TIMEOUT_WRITE], 1); /* the one that never read */
    assert_int_equal(loop.stats.conns, 1);
    assert_true(c1m_conn_is_open(cr));
    assert_int_equal(c1m_conn_pending_out(cr), 0);
    assert_int_equal(c1m_conn_timeout_deadline(cr, C1M_TO_WRITE), 0);
    assert_true(drained >= 1);
    /* the cut peer sees the end once it reads what reached it */
    ssize_t r = 1;
    for (int k = 0; k < 200 && r != 0; k++) {
        r = read(never[1], buf, BURST);
        if (r < 0 && errno != EAGAIN)
            break;
        if (r < 0)
            spin(1);
    }
    assert_true(r <= 0 && !(r < 0 && errno == EAGAIN));
    free(buf);
    close(never[1]);
    close(reads[1]);
    for (int k = 0; k < 100 && loop.stats.conns; k++)
        spin(1);
    assert_int_equal(loop.stats.conns, 0);
}

int main(void)
{
    /* a peer the loop closed makes write() fail with EPIPE (an assertion
     * with a line number), not kill the test binary */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(adopted_socketpairs, setup, teardown),
        cmocka_unit_test_setup_teardown(accepted_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(client_connects, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(local_close, setup, teardown),
        cmocka_unit_test_setup_teardown(more_than_the_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(flood_does_not_starve, setup, teardown),
        cmocka_unit_test_setup_teardown(small_share_runs_dry, setup_small, teardown),
        cmocka_unit_test_setup_teardown(write_timeout_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(queued_buffers_are_read_without_new_events, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
