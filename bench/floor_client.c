/*
 * floor_client -- minimal closed-loop TCP echo load generator, the client
 * half of c1m's benchmark floor. Self-contained (does not use libc1m).
 *
 *   floor_client -c N [-t THREADS] [-d SECONDS] [-h HOST] [-p PORT]
 *                [-s SIZE] [-S SRCADDR] [-o OUTSTANDING] [-w SECONDS] [-j] [-v]
 *
 * Each connection keeps exactly one message in flight: send SIZE bytes, wait
 * until SIZE bytes have come back (and match), send again. Connections are
 * split evenly over THREADS epoll loops.
 *
 * Kernel source-port selection is slow at scale, so every socket is bound to
 * an explicit source before connect(): connection i (0-based, process-wide)
 * uses address SRCADDR + i / 51000 and port 10000 + i % 51000, i.e. ports
 * 10000..60999 on 127.0.0.2, then on 127.0.0.3, ... If a pair cannot be
 * bound (say a server listens on 0.0.0.0:that-port) the next spare slot past
 * the last connection's is used instead. No (addr, port) pair repeats within
 * a process; give concurrent client processes disjoint -S ranges. Connects are non-blocking and paced (at most OUTSTANDING, default
 * 1000, in progress at once). The clock starts only once every connection is
 * established or has failed. At the end sockets are closed with an RST
 * (SO_LINGER 0) so no TIME_WAIT is left on the fixed source ports.
 *
 * Output (stdout), one line:
 *   floor_client conns=N established=E duration=D requests=R tps=T errors=X
 * or the same fields as one JSON object with -j. errors counts connections
 * that failed to connect, failed, or returned wrong bytes.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS    512
#define MAX_THREADS   256
#define MAX_SIZE      (1 << 20)
#define MAX_DURATION  3600
#define PORT_LO       10000
#define PORT_HI       60999
#define PORTS_PER_IP  (PORT_HI - PORT_LO + 1)
#define FD_RESERVE    64
#define MAX_BIND_TRIES 16

enum { C_IDLE, C_CONNECTING, C_OPEN, C_DEAD };

struct conn {
    int fd;
    uint8_t state;
    uint8_t want_out;           /* EPOLLOUT armed for a partial send */
    uint32_t sent, got;         /* bytes of the current message */
};

struct worker {
    pthread_t tid;
    int id, epfd;
    long first, count;          /* global connection index range */
    struct conn *conns;
    long next;                  /* next local index to start connecting */
    long outstanding, established, errors;
    uint64_t requests;
    char *buf;
};

static struct sockaddr_in g_dst;
static uint32_t g_src_base;             /* host byte order */
static long g_conns, g_outstanding_max = 1000;
static int g_threads = 1, g_size = 8, g_verbose;
static double g_connect_timeout = 30.0;
static char *g_msg;
static int g_stopfd = -1;
static atomic_long g_spare;             /* next unused source slot */
static atomic_int g_running;            /* 1 while the clock runs */
static pthread_barrier_t g_ready;       /* connect phase done */
static pthread_barrier_t g_go;          /* clock started */

static void die(const char *what)
{
    fprintf(stderr, "floor_client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void ep_ctl(int epfd, int op, int fd, uint32_t events, long idx)
{
    struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)idx };
    if (epoll_ctl(epfd, op, fd, &ev) < 0)
        die("epoll_ctl");
}

static void fail(struct worker *w, struct conn *c)
{
    if (c->state == C_CONNECTING)
        w->outstanding--;
    close(c->fd);
    c->fd = -1;
    c->state = C_DEAD;
    w->errors++;
}

/* Start non-blocking connects until the outstanding budget is used up. */
static void start_connects(struct worker *w, long budget)
{
    while (w->outstanding < budget && w->next < w->count) {
        long i = w->next++;
        long g = w->first + i;
        struct conn *c = &w->conns[i];
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            fprintf(stderr, "floor_client: socket: %s\n", strerror(errno));
            c->state = C_DEAD;
            w->errors++;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sockaddr_in src = { .sin_family = AF_INET };
        c->fd = fd;
        int rc, tries = 0;
        for (;;) {
            src.sin_port = htons((uint16_t)(PORT_LO + g % PORTS_PER_IP));
            src.sin_addr.s_addr = htonl(g_src_base + (uint32_t)(g / PORTS_PER_IP));
            rc = bind(fd, (struct sockaddr *)&src, sizeof src);
            /* Taken (e.g. some server listens on 0.0.0.0:port): use a spare
             * slot past the last connection's, still never reused. */
            if (rc == 0 || errno != EADDRINUSE || ++tries > MAX_BIND_TRIES)
                break;
            g = atomic_fetch_add(&g_spare, 1);
        }
        if (rc < 0) {
            if (w->errors < 5) {
                char a[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &src.sin_addr, a, sizeof a);
                fprintf(stderr, "floor_client: bind %s:%u: %s\n", a,
                        ntohs(src.sin_port), strerror(errno));
            }
            fail(w, c);
            continue;
        }
        if (connect(fd, (struct sockaddr *)&g_dst, sizeof g_dst) < 0 &&
            errno != EINPROGRESS) {
            if (w->errors < 5)
                fprintf(stderr, "floor_client: connect: %s\n", strerror(errno));
            fail(w, c);
            continue;
        }
        c->state = C_CONNECTING;
        w->outstanding++;
        ep_ctl(w->epfd, EPOLL_CTL_ADD, fd, EPOLLOUT, i);
    }
}

static void connect_phase(struct worker *w)
{
    struct epoll_event evs[MAX_EVENTS];
    long budget = g_outstanding_max / g_threads;
    if (budget < 1)
        budget = 1;
    double deadline = now() + g_connect_timeout;

    start_connects(w, budget);
    while (w->outstanding > 0 || w->next < w->count) {
        double left = deadline - now();
        if (left <= 0) {
            long lost = 0;
            for (long i = 0; i < w->count; i++) {
                struct conn *c = &w->conns[i];
                if (c->state == C_CONNECTING) {
                    fail(w, c);
                    lost++;
                } else if (c->state == C_IDLE) {
                    c->state = C_DEAD;
                    w->errors++;
                    lost++;
                }
            }
            w->next = w->count;
            fprintf(stderr, "floor_client: thread %d: connect timeout "
                    "(%.0f s), %ld connections not established\n",
                    w->id, g_connect_timeout, lost);
            break;
        }
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, (int)(left * 1000) + 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            struct conn *c = &w->conns[evs[k].data.u64];
            if (c->state != C_CONNECTING)
                continue;
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
            if (err) {
                if (w->errors < 5)
                    fprintf(stderr, "floor_client: connect: %s\n", strerror(err));
                fail(w, c);
                continue;
            }
            c->state = C_OPEN;
            w->outstanding--;
            w->established++;
            ep_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, EPOLLIN, (long)evs[k].data.u64);
        }
        start_connects(w, budget);
    }
}

/* Send (the rest of) the current message; arm EPOLLOUT if the socket is full. */
static void send_msg(struct worker *w, struct conn *c, long idx)
{
    while (c->sent < (uint32_t)g_size) {
        ssize_t k = write(c->fd, g_msg + c->sent, (size_t)g_size - c->sent);
        if (k > 0) {
            c->sent += (uint32_t)k;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else if (k < 0 && errno == EAGAIN) {
            if (!c->want_out) {
                c->want_out = 1;
                ep_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, EPOLLIN | EPOLLOUT, idx);
            }
            return;
        } else {
            fail(w, c);
            return;
        }
    }
    if (c->want_out) {
        c->want_out = 0;
        ep_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, EPOLLIN, idx);
    }
}

static void on_readable(struct worker *w, struct conn *c, long idx)
{
    uint32_t want = (uint32_t)g_size - c->got;
    ssize_t n = read(c->fd, w->buf, want);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (w->errors < 5)
            fprintf(stderr, "floor_client: read: %s\n",
                    n == 0 ? "connection closed by server" : strerror(errno));
        fail(w, c);
        return;
    }
    if ((uint32_t)n > c->sent - c->got ||
        memcmp(w->buf, g_msg + c->got, (size_t)n) != 0) {
        if (w->errors < 5)
            fprintf(stderr, "floor_client: unexpected bytes from server\n");
        fail(w, c);
        return;
    }
    c->got += (uint32_t)n;
    if (c->got < (uint32_t)g_size)
        return;
    if (atomic_load_explicit(&g_running, memory_order_relaxed))
        w->requests++;
    c->got = 0;
    c->sent = 0;
    send_msg(w, c, idx);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];

    connect_phase(w);
    pthread_barrier_wait(&g_ready);
    pthread_barrier_wait(&g_go);

    for (long i = 0; i < w->count; i++)
        if (w->conns[i].state == C_OPEN)
            send_msg(w, &w->conns[i], i);

    ep_ctl(w->epfd, EPOLL_CTL_ADD, g_stopfd, EPOLLIN, -1);
    for (;;) {
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            long idx = (long)evs[k].data.u64;
            if (idx < 0)
                goto out;
            struct conn *c = &w->conns[idx];
            if (c->state != C_OPEN)
                continue;
            uint32_t e = evs[k].events;
            if (e & EPOLLIN)
                on_readable(w, c, idx);     /* read() reports EOF/errors */
            else if (e & (EPOLLERR | EPOLLHUP))
                fail(w, c);
            if (c->state == C_OPEN && (e & EPOLLOUT) && c->want_out)
                send_msg(w, c, idx);
        }
    }
out:;
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    for (long i = 0; i < w->count; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == C_OPEN) {
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(c->fd);
        }
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: floor_client -c N [-t THREADS] [-d SECONDS] [-h HOST] [-p PORT]\n"
            "                    [-s SIZE] [-S SRCADDR] [-o OUTSTANDING] [-w SECONDS]\n"
            "                    [-j] [-v]\n"
            "  -c N         connections (required)\n"
            "  -t THREADS   epoll loops, connections split evenly (default 1)\n"
            "  -d SECONDS   measured duration, 1..%d (default 10)\n"
            "  -h HOST      server IPv4 address or name (default 127.0.0.1)\n"
            "  -p PORT      server port (default 8972)\n"
            "  -s SIZE      message size in bytes, 1..%d (default 8)\n"
            "  -S SRCADDR   first source address (default 127.0.0.2); connection i\n"
            "               binds SRCADDR+i/%d, port %d+i%%%d\n"
            "  -o N         max connects in progress at once (default 1000)\n"
            "  -w SECONDS   give up on connections not established by then (default 30)\n"
            "  -j           print the result as JSON\n"
            "  -v           progress on stderr\n",
            MAX_DURATION, MAX_SIZE, PORTS_PER_IP, PORT_LO, PORTS_PER_IP);
    exit(2);
}

static double parse_num(const char *s, double lo, double hi, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "floor_client: bad %s '%s' (must be %g..%g)\n",
                what, s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *src = "127.0.0.2";
    int port = 8972, json = 0, opt;
    double duration = 10;

    while ((opt = getopt(argc, argv, "c:t:d:h:p:s:S:o:w:jv")) != -1) {
        switch (opt) {
        case 'c': g_conns = (long)parse_num(optarg, 1, 1e8, "connection count"); break;
        case 't': g_threads = (int)parse_num(optarg, 1, MAX_THREADS, "thread count"); break;
        case 'd': duration = parse_num(optarg, 0.1, MAX_DURATION, "duration (seconds)"); break;
        case 'h': host = optarg; break;
        case 'p': port = (int)parse_num(optarg, 1, 65535, "port"); break;
        case 's': g_size = (int)parse_num(optarg, 1, MAX_SIZE, "message size"); break;
        case 'S': src = optarg; break;
        case 'o': g_outstanding_max = (long)parse_num(optarg, 1, 1e6, "outstanding"); break;
        case 'w': g_connect_timeout = parse_num(optarg, 1, MAX_DURATION, "connect timeout"); break;
        case 'j': json = 1; break;
        case 'v': g_verbose = 1; break;
        default: usage();
        }
    }
    if (optind != argc || g_conns <= 0)
        usage();

    /* The fd cap: take the hard limit if the soft one is lower, then check. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit");
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = { rl.rlim_max, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    if (rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)g_conns + FD_RESERVE > rl.rlim_cur) {
        fprintf(stderr, "floor_client: %ld connections need %ld fds; this "
                "process may open only %llu: run several clients (with "
                "disjoint -S source addresses)\n", g_conns,
                g_conns + FD_RESERVE, (unsigned long long)rl.rlim_cur);
        return 2;
    }

    struct in_addr sa;
    if (inet_pton(AF_INET, src, &sa) != 1) {
        fprintf(stderr, "floor_client: bad source IPv4 address '%s'\n", src);
        return 2;
    }
    g_src_base = ntohl(sa.s_addr);
    atomic_store(&g_spare, g_conns);
    uint64_t last = (uint64_t)g_src_base + (uint64_t)(g_conns - 1) / PORTS_PER_IP;
    if (last > 0xffffffffULL) {
        fprintf(stderr, "floor_client: source address range overflows\n");
        return 2;
    }

    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
    int gai = getaddrinfo(host, NULL, &hints, &ai);
    if (gai) {
        fprintf(stderr, "floor_client: %s: %s\n", host, gai_strerror(gai));
        return 2;
    }
    memcpy(&g_dst, ai->ai_addr, sizeof g_dst);
    g_dst.sin_port = htons((uint16_t)port);
    freeaddrinfo(ai);

    if (g_threads > g_conns)
        g_threads = (int)g_conns;

    g_msg = malloc((size_t)g_size);
    if (!g_msg)
        die("malloc");
    for (int i = 0; i < g_size; i++)
        g_msg[i] = (char)('a' + i % 26);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);    /* workers inherit */
    signal(SIGPIPE, SIG_IGN);

    g_stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g_stopfd < 0)
        die("eventfd");
    pthread_barrier_init(&g_ready, NULL, (unsigned)g_threads + 1);
    pthread_barrier_init(&g_go, NULL, (unsigned)g_threads + 1);

    struct worker *ws = calloc((size_t)g_threads, sizeof *ws);
    if (!ws)
        die("calloc");
    long per = g_conns / g_threads, extra = g_conns % g_threads, first = 0;
    for (int i = 0; i < g_threads; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        w->first = first;
        w->count = per + (i < extra);
        first += w->count;
        w->conns = calloc((size_t)w->count, sizeof *w->conns);
        w->buf = malloc((size_t)g_size);
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (!w->conns || !w->buf)
            die("calloc");
        if (w->epfd < 0)
            die("epoll_create1");
    }

    double t_conn = now();
    for (int i = 0; i < g_threads; i++) {
        int rc = pthread_create(&ws[i].tid, NULL, run, &ws[i]);
        if (rc) {
            errno = rc;
            die("pthread_create");
        }
    }
    pthread_barrier_wait(&g_ready);
    long established = 0;
    for (int i = 0; i < g_threads; i++)
        established += ws[i].established;
    if (g_verbose)
        fprintf(stderr, "floor_client: %ld/%ld connections established in "
                "%.2f s; running %.2f s\n", established, g_conns,
                now() - t_conn, duration);

    atomic_store(&g_running, 1);
    double t0 = now();
    pthread_barrier_wait(&g_go);

    /* Sleep for the duration; SIGINT/SIGTERM ends the run early. */
    struct timespec ts = { .tv_sec = (time_t)duration,
                           .tv_nsec = (long)((duration - (double)(time_t)duration) * 1e9) };
    while (established > 0) {
        int s = sigtimedwait(&sigs, NULL, &ts);
        if (s >= 0 || errno == EAGAIN)
            break;
        double left = t0 + duration - now();   /* EINTR: wait the remainder */
        if (left <= 0)
            break;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)(time_t)left) * 1e9);
    }
    atomic_store(&g_running, 0);
    double elapsed = now() - t0;
    uint64_t one = 1;
    if (write(g_stopfd, &one, sizeof one) < 0)
        die("eventfd write");

    uint64_t requests = 0;
    long errors = 0;
    for (int i = 0; i < g_threads; i++) {
        pthread_join(ws[i].tid, NULL);
        requests += ws[i].requests;
        errors += ws[i].errors;
    }
    double tps = elapsed > 0 ? (double)requests / elapsed : 0;
    if (json)
        printf("{\"program\":\"floor_client\",\"conns\":%ld,\"established\":%ld,"
               "\"duration\":%.2f,\"requests\":%llu,\"tps\":%.1f,\"errors\":%ld}\n",
               g_conns, established, elapsed, (unsigned long long)requests,
               tps, errors);
    else
        printf("floor_client conns=%ld established=%ld duration=%.2f "
               "requests=%llu tps=%.1f errors=%ld\n", g_conns, established,
               elapsed, (unsigned long long)requests, tps, errors);
    return errors ? 1 : 0;
}
