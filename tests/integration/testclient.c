/* testclient: an independent epoll client for the engine's integration
 * tests. Deliberately written without libc1m so that it checks the server
 * from the outside. Every mode is bounded in time.
 *
 *   testclient echo  PORT CONNS SECONDS SIZE   closed loop, verified echo;
 *                                              the server closes nothing
 *   testclient echoterm PORT CONNS SECONDS SIZE  the same while the server
 *                                              is stopped (SIGTERM) or a
 *                                              process of it killed: a
 *                                              close is expected, but only
 *                                              between replies
 *   testclient ts8   PORT CONNS SECONDS        8-byte frames sent in split
 *                                              pieces (3+5, 1+7, ...)
 *   testclient reset PORT CONNS                send, then close with RST
 *   testclient half  PORT CONNS SIZE           send, shutdown(WR), expect
 *                                              the whole echo then EOF
 *   testclient noread PORT SECONDS             send without ever reading
 *   testclient hold  PORT CONNS SECONDS        connect and stay idle
 *   testclient idle  PORT CONNS SECONDS        connect, stay idle, and time
 *                                              how long until the server
 *                                              closes each (min/max, s)
 *   testclient trickle PORT INTERVAL_MS BYTES  send one byte every
 *                                              INTERVAL_MS; report when the
 *                                              server closed (s after the
 *                                              first byte)
 *   testclient noreadclose PORT SECONDS        send without ever reading;
 *                                              report when the server closed
 *   testclient nouring ERRNO CMD [ARGS...]     run CMD under a seccomp
 *                                              filter that fails
 *                                              io_uring_setup with ERRNO
 *                                              (as a container's profile
 *                                              does)
 *
 * Output: one line of key=value pairs. Exit 0 when the run was clean for
 * the mode, 1 if not. Echo and ts8: no mismatch, no cut-off reply (the
 * connection closed with part of a reply received), no lost request (sent,
 * then closed or still unanswered at the end), no stalled connection, and
 * no close by the server at all (echoterm: closes between replies allowed).
 * Sources: 127.0.0.2 + ports from 20000 (explicit, fast at scale).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct tconn {
    int fd;
    int idx;
    uint32_t seq;     /* messages completed */
    uint32_t got;     /* bytes of the current reply received */
    uint32_t sent;    /* bytes of the current request sent */
    int dead;         /* reset / closed */
    double last_reply;
} tconn_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int port, nconns, size = 8;
static double seconds;
static tconn_t *conns;
static int ep;

static unsigned char pattern(int idx, uint32_t seq, uint32_t i)
{
    return (unsigned char)((idx * 131u + seq * 31u + i * 7u) ^ (i >> 3));
}

static int dial_once(int i, int attempt)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int sport = 20000 + (i + attempt * 5003) % 40000;
    if (sport == port) /* the server's own port is taken on every address */
        sport = 10000 + attempt;
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons((uint16_t)sport) };
    /* A source address of its own per run (from the pid), so that ports in
     * TIME_WAIT from an earlier run never collide with this one. */
    src.sin_addr.s_addr = htonl(0x7f000000u | ((uint32_t)(getpid() % 250 + 2) << 16) |
                                ((uint32_t)(i / 40000) << 8) | 2u);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        /* that port is taken on every address (another process listens on
         * it, e.g. a concurrent test's server): one retry above the range */
        src.sin_port = htons((uint16_t)(60000 + i % 5000));
        if (errno != EADDRINUSE || bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* A source port may be taken by some other listener on 0.0.0.0: try a few
 * other (address, port) pairs before giving up. */
static int dial(int i)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = dial_once(i, attempt);
        if (fd >= 0)
            return fd;
    }
    return -1;
}

static int connect_all(void)
{
    conns = calloc((size_t)nconns, sizeof *conns);
    int failed = 0;
    for (int i = 0; i < nconns; i++) {
        conns[i].idx = i;
        conns[i].fd = dial(i);
        if (conns[i].fd < 0) {
            failed++;
            conns[i].dead = 1;
        }
    }
    return failed;
}

/* Send the current message of c (blocking socket, small messages). For
 * ts8 the 8 bytes go in two writes with a pause between, so the server
 * sees frames split across reads. */
static int send_msg(tconn_t *c, int split)
{
    unsigned char buf[65536];
    for (int i = 0; i < size; i++)
        buf[i] = pattern(c->idx, c->seq, (uint32_t)i);
    if (split) {
        int cut = 1 + (int)((c->idx + c->seq) % 7);
        if (write(c->fd, buf, (size_t)cut) != cut)
            return -1;
        if (c->seq == 0)
            usleep(1000); /* the first frame is sure to arrive in two reads */
        if (write(c->fd, buf + cut, (size_t)(size - cut)) != size - cut)
            return -1;
        return 0;
    }
    return write(c->fd, buf, (size_t)size) == size ? 0 : -1;
}

/* closes_ok: the server is being stopped, closing a connection between
 * replies is allowed (a request sent just as it stopped reading may get
 * no answer); a cut-off reply never is. */
static int run_echo(int split, int closes_ok)
{
    int failed = connect_all();
    ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        if (conns[i].dead)
            continue;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        if (send_msg(&conns[i], split) < 0)
            conns[i].dead = 1;
        else
            conns[i].sent = 1;
    }
    long mismatches = 0, replies = 0, resets = 0, cut = 0, lost = 0;
    double t0 = now_s(), end = t0 + seconds;
    for (int i = 0; i < nconns; i++)
        conns[i].last_reply = t0;
    int stop_sending = 0;
    struct epoll_event evs[256];
    unsigned char buf[65536];
    for (;;) {
        double t = now_s();
        if (t >= end && !stop_sending)
            stop_sending = 1;
        if (stop_sending && t >= end + 2.0)
            break;
        int outstanding = 0;
        if (stop_sending) {
            for (int i = 0; i < nconns; i++)
                outstanding += !conns[i].dead && conns[i].got < (uint32_t)size && conns[i].sent;
            if (!outstanding)
                break;
        }
        int n = epoll_wait(ep, evs, 256, 100);
        for (int k = 0; k < n; k++) {
            tconn_t *c = evs[k].data.ptr;
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                c->dead = 1;
                resets++;
                if (c->got > 0)
                    cut++; /* part of a reply, then the close */
                else if (c->sent && !closes_ok)
                    lost++; /* a request that will never be answered */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                continue;
            }
            for (ssize_t i = 0; i < r; i++) {
                if (c->got >= (uint32_t)size || buf[i] != pattern(c->idx, c->seq, c->got))
                    mismatches++;
                c->got++;
            }
            if (c->got == (uint32_t)size) {
                replies++;
                c->seq++;
                c->got = 0;
                c->sent = 0;
                c->last_reply = now_s();
                if (!stop_sending) {
                    if (send_msg(c, split) < 0) {
                        c->dead = 1;
                        resets++; /* the server closed it */
                        continue;
                    }
                    c->sent = 1;
                }
            }
        }
    }
    long stalled = 0;
    double t_end = now_s();
    for (int i = 0; i < nconns; i++) {
        if (conns[i].dead)
            continue;
        if (conns[i].sent)
            lost++; /* a request still without its complete reply */
        if (t_end - conns[i].last_reply > 3.5) /* no reply in the last second of the run */
            stalled++;
    }
    printf("mode=%s conns=%d connect_failed=%d replies=%ld mismatches=%ld cut=%ld lost=%ld "
           "resets=%ld stalled=%ld tps=%.0f\n",
           split ? "ts8" : closes_ok ? "echoterm" : "echo", nconns, failed, replies, mismatches,
           cut, lost, resets, stalled, replies / seconds);
    return failed || mismatches || cut || lost || stalled || (resets && !closes_ok) ? 1 : 0;
}

static int run_reset(void)
{
    int failed = connect_all();
    for (int i = 0; i < nconns; i++) {
        if (conns[i].dead)
            continue;
        send_msg(&conns[i], 0);
        struct linger lg = { 1, 0 }; /* close() sends RST */
        setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(conns[i].fd);
    }
    printf("mode=reset conns=%d connect_failed=%d\n", nconns, failed);
    return failed ? 1 : 0;
}

static int run_half(void)
{
    int failed = connect_all(), bad = 0;
    for (int i = 0; i < nconns; i++)
        if (!conns[i].dead && (send_msg(&conns[i], 0) < 0 || shutdown(conns[i].fd, SHUT_WR) < 0))
            bad++;
    for (int i = 0; i < nconns; i++) {
        if (conns[i].dead)
            continue;
        struct timeval tv = { 5, 0 };
        setsockopt(conns[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        unsigned char buf[65536];
        uint32_t got = 0;
        for (;;) {
            ssize_t r = read(conns[i].fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0)
                    bad++; /* timeout: the server neither echoed nor closed */
                break;
            }
            for (ssize_t k = 0; k < r; k++, got++)
                if (got >= (uint32_t)size || buf[k] != pattern(i, 0, got))
                    bad++;
        }
        if (got != (uint32_t)size)
            bad++;
        close(conns[i].fd);
    }
    printf("mode=half conns=%d connect_failed=%d bad=%d\n", nconns, failed, bad);
    return failed || bad ? 1 : 0;
}

static int run_noread(void)
{
    nconns = 1;
    connect_all();
    if (conns[0].dead)
        return 1;
    int fd = conns[0].fd;
    struct timeval tv = { 0, 200000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    long long total = 0;
    double end = now_s() + seconds;
    while (now_s() < end) {
        ssize_t w = write(fd, buf, sizeof buf);
        if (w > 0)
            total += w;
        else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            break;
    }
    printf("mode=noread sent=%lld\n", total);
    close(fd);
    return 0;
}

static int run_hold(void)
{
    int failed = connect_all();
    printf("mode=hold conns=%d connect_failed=%d\n", nconns, failed);
    fflush(stdout);
    double end = now_s() + seconds;
    while (now_s() < end)
        usleep(50000);
    return failed ? 1 : 0;
}

/* Connect CONNS and wait (at most SECONDS) for the server to close each;
 * exit 0 when all were closed. Closes are watched while connecting too, so
 * that a long connect phase does not delay their timing. */
static int idle_closed;
static double idle_min = 1e9, idle_max;

static void idle_poll(int timeout_ms)
{
    struct epoll_event evs[256];
    char buf[4096];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    for (int k = 0; k < n; k++) {
        tconn_t *c = evs[k].data.ptr;
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r > 0 || (r < 0 && errno == EAGAIN))
            continue;
        double t = now_s() - c->last_reply;
        idle_min = t < idle_min ? t : idle_min;
        idle_max = t > idle_max ? t : idle_max;
        idle_closed++;
        c->dead = 1;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); /* keep the fd: no FIN from us */
    }
}

static int run_idle(void)
{
    int failed = 0;
    conns = calloc((size_t)nconns, sizeof *conns);
    ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        conns[i].idx = i;
        /* Time from before the connect: the server's accept, where its
         * deadline starts, comes after it. Stamped after, a client
         * descheduled between the two (a loaded machine) would see the
         * server close "early". */
        conns[i].last_reply = now_s();
        conns[i].fd = dial(i);
        if (conns[i].fd < 0) /* source port taken (e.g. by another listener): another address */
            conns[i].fd = dial(i + 40000 * (1 + i % 4) + 7);
        if (conns[i].fd < 0) {
            failed++;
            conns[i].dead = 1;
            continue;
        }
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &conns[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        if (i % 64 == 63)
            idle_poll(0);
    }
    int live = nconns - failed;
    double end = now_s() + seconds;
    while (idle_closed < live && now_s() < end)
        idle_poll(50);
    printf("mode=idle conns=%d connect_failed=%d closed=%d min=%.3f max=%.3f\n", nconns, failed,
           idle_closed, idle_closed ? idle_min : 0, idle_max);
    return failed || idle_closed < live ? 1 : 0;
}

/* One connection sending a byte every interval: when does the server cut
 * it (seconds after the first byte)? */
static int run_trickle(int interval_ms, int bytes)
{
    nconns = 1;
    connect_all();
    if (conns[0].dead)
        return 1;
    int fd = conns[0].fd;
    double t0 = now_s(), closed_after = -1;
    int sent = 0;
    char buf[256];
    for (int i = 0; i < bytes + 2 && closed_after < 0; i++) {
        if (i < bytes) {
            if (write(fd, "t", 1) != 1) {
                closed_after = now_s() - t0;
                break;
            }
            sent++;
        }
        /* wait for the interval, watching for the server's close */
        double until = now_s() + interval_ms / 1000.0;
        while (closed_after < 0) {
            double left = until - now_s();
            if (left <= 0)
                break;
            struct timeval tv = { 0, (long)(left * 1e6) };
            fd_set rs;
            FD_ZERO(&rs);
            FD_SET(fd, &rs);
            if (select(fd + 1, &rs, NULL, NULL, &tv) > 0) {
                ssize_t r = read(fd, buf, sizeof buf);
                if (r <= 0)
                    closed_after = now_s() - t0;
            }
        }
    }
    printf("mode=trickle sent=%d closed=%d closed_after=%.3f\n", sent, closed_after >= 0,
           closed_after);
    close(fd);
    return 0;
}

/* Send without reading until the server closes (or SECONDS pass). */
static int run_noreadclose(void)
{
    nconns = 1;
    connect_all();
    if (conns[0].dead)
        return 1;
    int fd = conns[0].fd;
    struct timeval tv = { 0, 100000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    long long total = 0;
    double t0 = now_s(), end = t0 + seconds, closed_after = -1;
    while (now_s() < end) {
        ssize_t w = write(fd, buf, sizeof buf);
        if (w > 0)
            total += w;
        else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            closed_after = now_s() - t0;
            break;
        }
    }
    printf("mode=noreadclose sent=%lld closed=%d closed_after=%.3f\n", total, closed_after >= 0,
           closed_after);
    close(fd);
    return 0;
}

/* A seccomp filter like a container runtime's default profile: io_uring_setup
 * fails with `err`, everything else is allowed. No architecture check: the
 * helper runs natively, and a test needs nothing stricter. */
static int run_nouring(int err, char **cmd)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
        perror("testclient nouring: seccomp");
        return 2;
    }
    execvp(cmd[0], cmd);
    perror("testclient nouring: exec");
    return 2;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of testclient.c\n");
        return 2;
    }
    const char *mode = argv[1];
    if (!strcmp(mode, "nouring") && argc >= 4)
        return run_nouring(atoi(argv[2]), argv + 3);
    port = atoi(argv[2]);
    nconns = argc > 3 ? atoi(argv[3]) : 1;
    if (!strcmp(mode, "echo") && argc == 6) {
        seconds = atof(argv[4]);
        size = atoi(argv[5]);
        return run_echo(0, 0);
    }
    if (!strcmp(mode, "echoterm") && argc == 6) {
        seconds = atof(argv[4]);
        size = atoi(argv[5]);
        return run_echo(0, 1);
    }
    if (!strcmp(mode, "ts8") && argc == 5) {
        seconds = atof(argv[4]);
        size = 8;
        return run_echo(1, 0);
    }
    if (!strcmp(mode, "reset") && argc == 4)
        return run_reset();
    if (!strcmp(mode, "half") && argc == 5) {
        size = atoi(argv[4]);
        return run_half();
    }
    if (!strcmp(mode, "noread") && argc == 4) {
        seconds = atof(argv[3]);
        return run_noread();
    }
    if (!strcmp(mode, "hold") && argc == 5) {
        seconds = atof(argv[4]);
        return run_hold();
    }
    if (!strcmp(mode, "idle") && argc == 5) {
        seconds = atof(argv[4]);
        return run_idle();
    }
    if (!strcmp(mode, "trickle") && argc == 5)
        return run_trickle(atoi(argv[3]), atoi(argv[4]));
    if (!strcmp(mode, "noreadclose") && argc == 4) {
        seconds = atof(argv[3]);
        return run_noreadclose();
    }
    fprintf(stderr, "testclient: bad arguments\n");
    return 2;
}
