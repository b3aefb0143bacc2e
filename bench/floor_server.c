/*
 * floor_server -- the floor c1m's benchmarks compare against.
 *
 * A deliberately minimal epoll echo server: nothing between epoll_wait,
 * read and write. Self-contained on purpose (does not use libc1m).
 *
 *   floor_server [-p PORT] [-b ADDR] [-t THREADS] [-q] [-v]
 *
 * Each thread owns one epoll instance and one SO_REUSEPORT listener, so the
 * kernel spreads connections across threads and no state is shared.
 * Level-triggered, non-blocking sockets, TCP_NODELAY; one read of up to
 * 64 KiB per readiness event into a per-thread buffer, written straight back.
 * A short write parks the remainder in a small per-fd buffer and the fd waits
 * for EPOLLOUT (not reading) until it is drained.
 *
 * Runs until SIGTERM/SIGINT, then exits 0. Prints only errors; -v also prints
 * a start line and, on exit, the number of echoes; -q silences non-fatal
 * warnings (e.g. accept hitting the fd limit).
 */
#include <errno.h>
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

#define BUF_SIZE   (64 * 1024)
#define MAX_EVENTS 512
#define MAX_THREADS 256
#define PAUSE_MS   100          /* listener back-off after EMFILE/ENFILE */

struct pending {                /* unwritten tail of an echo (short write) */
    uint32_t len, off;
    char data[];
};

struct worker {
    pthread_t tid;
    int id, epfd, lfd;
    uint64_t echoes, bytes, pauses;
    char buf[BUF_SIZE];
};

static struct sockaddr_in g_addr;
static int g_quiet, g_verbose;
static int g_stopfd = -1;               /* eventfd, in every epoll set */
static struct pending **g_pend;         /* indexed by fd; fds are process-wide */
static size_t g_pend_n;

static void die(const char *what)
{
    fprintf(stderr, "floor_server: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int make_listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        die("setsockopt");
    if (bind(fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0)
        die("bind");
    if (listen(fd, 4096) < 0)
        die("listen");
    return fd;
}

static void ep_ctl(int epfd, int op, int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.fd = fd };
    if (epoll_ctl(epfd, op, fd, &ev) < 0 && op != EPOLL_CTL_DEL)
        die("epoll_ctl");
}

static void drop(struct worker *w, int fd)
{
    if ((size_t)fd < g_pend_n && g_pend[fd]) {
        free(g_pend[fd]);
        g_pend[fd] = NULL;
    }
    close(fd);              /* close removes it from the epoll set */
    (void)w;
}

/* Returns 1 if the listener had to be paused (fd limit reached). */
static int accept_all(struct worker *w)
{
    for (;;) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                if (!g_quiet && w->pauses == 0)
                    fprintf(stderr, "floor_server: thread %d: accept: %s "
                            "(pausing accepts %d ms each time; not repeated)\n",
                            w->id, strerror(errno), PAUSE_MS);
                w->pauses++;
                return 1;
            }
            die("accept4");
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= g_pend_n) {   /* cannot happen: table sized by rlimit */
            close(fd);
            continue;
        }
        ep_ctl(w->epfd, EPOLL_CTL_ADD, fd, EPOLLIN);
    }
}

static void on_readable(struct worker *w, int fd)
{
    ssize_t n = read(fd, w->buf, BUF_SIZE);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        drop(w, fd);                    /* EOF or error (e.g. ECONNRESET) */
        return;
    }
    w->echoes++;
    w->bytes += (uint64_t)n;
    ssize_t off = 0;
    while (off < n) {
        ssize_t k = write(fd, w->buf + off, (size_t)(n - off));
        if (k > 0) {
            off += k;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else if (k < 0 && errno == EAGAIN) {
            struct pending *p = malloc(sizeof *p + (size_t)(n - off));
            if (!p) {
                drop(w, fd);
                return;
            }
            p->len = (uint32_t)(n - off);
            p->off = 0;
            memcpy(p->data, w->buf + off, p->len);
            g_pend[fd] = p;
            ep_ctl(w->epfd, EPOLL_CTL_MOD, fd, EPOLLOUT);
            return;
        } else {
            drop(w, fd);
            return;
        }
    }
}

static void on_writable(struct worker *w, int fd)
{
    struct pending *p = g_pend[fd];
    if (!p) {
        ep_ctl(w->epfd, EPOLL_CTL_MOD, fd, EPOLLIN);
        return;
    }
    while (p->off < p->len) {
        ssize_t k = write(fd, p->data + p->off, p->len - p->off);
        if (k > 0)
            p->off += (uint32_t)k;
        else if (k < 0 && errno == EINTR)
            continue;
        else if (k < 0 && errno == EAGAIN)
            return;
        else {
            drop(w, fd);
            return;
        }
    }
    free(p);
    g_pend[fd] = NULL;
    ep_ctl(w->epfd, EPOLL_CTL_MOD, fd, EPOLLIN);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    int paused = 0;
    struct timespec resume = { 0, 0 };

    for (;;) {
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, paused ? PAUSE_MS : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        if (paused) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
            if (t.tv_sec > resume.tv_sec ||
                (t.tv_sec == resume.tv_sec && t.tv_nsec >= resume.tv_nsec)) {
                ep_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, EPOLLIN);
                paused = 0;
            }
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            uint32_t e = evs[i].events;
            if (fd == g_stopfd)
                return NULL;
            if (fd == w->lfd) {
                if (accept_all(w)) {
                    ep_ctl(w->epfd, EPOLL_CTL_DEL, w->lfd, 0);
                    paused = 1;
                    clock_gettime(CLOCK_MONOTONIC_COARSE, &resume);
                    resume.tv_nsec += PAUSE_MS * 1000000L;
                    resume.tv_sec += resume.tv_nsec / 1000000000L;
                    resume.tv_nsec %= 1000000000L;
                }
            } else if (e & EPOLLOUT) {
                on_writable(w, fd);
            } else if (e & EPOLLIN) {
                on_readable(w, fd);     /* read() reports EOF/errors */
            } else if (e & (EPOLLERR | EPOLLHUP)) {
                drop(w, fd);
            }
        }
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: floor_server [-p PORT] [-b ADDR] [-t THREADS] [-q] [-v]\n"
            "  -p PORT     listen port (default 8972)\n"
            "  -b ADDR     IPv4 address to bind (default 127.0.0.1)\n"
            "  -t THREADS  epoll threads, each with its own SO_REUSEPORT\n"
            "              listener (default 1)\n"
            "  -q          quiet: no non-fatal warnings\n"
            "  -v          verbose: start line, echo count on exit\n"
            "Runs until SIGTERM/SIGINT, then exits 0.\n");
    exit(2);
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "floor_server: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *bind_addr = "127.0.0.1";
    int port = 8972, nthreads = 1, opt;

    while ((opt = getopt(argc, argv, "p:b:t:qvh")) != -1) {
        switch (opt) {
        case 'p': port = (int)parse_num(optarg, 1, 65535, "port"); break;
        case 'b': bind_addr = optarg; break;
        case 't': nthreads = (int)parse_num(optarg, 1, MAX_THREADS, "thread count"); break;
        case 'q': g_quiet = 1; break;
        case 'v': g_verbose = 1; break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();

    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &g_addr.sin_addr) != 1) {
        fprintf(stderr, "floor_server: bad IPv4 address '%s'\n", bind_addr);
        return 2;
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit");
    if (rl.rlim_cur < rl.rlim_max) {            /* take what we are allowed */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    g_pend_n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 24)
                   ? (1u << 24) : (size_t)rl.rlim_cur;
    g_pend = calloc(g_pend_n, sizeof *g_pend);
    if (!g_pend)
        die("calloc");

    /* Signals are taken synchronously by main via sigwait; workers never
     * see them (the mask is inherited). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    g_stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g_stopfd < 0)
        die("eventfd");

    struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
    if (!ws)
        die("calloc");
    for (int i = 0; i < nthreads; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0)
            die("epoll_create1");
        w->lfd = make_listener();
        ep_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, EPOLLIN);
        ep_ctl(w->epfd, EPOLL_CTL_ADD, g_stopfd, EPOLLIN);
    }
    for (int i = 0; i < nthreads; i++) {
        int rc = pthread_create(&ws[i].tid, NULL, run, &ws[i]);
        if (rc) {
            errno = rc;
            die("pthread_create");
        }
    }
    if (g_verbose)
        fprintf(stderr, "floor_server: listening on %s:%d, %d thread(s), "
                "fd limit %zu\n", bind_addr, port, nthreads, g_pend_n);

    int sig;
    while (sigwait(&sigs, &sig) != 0)
        ;
    uint64_t one = 1;
    if (write(g_stopfd, &one, sizeof one) < 0)   /* level-triggered: wakes all */
        die("eventfd write");

    uint64_t echoes = 0, bytes = 0, pauses = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(ws[i].tid, NULL);
        echoes += ws[i].echoes;
        bytes += ws[i].bytes;
        pauses += ws[i].pauses;
    }
    if (g_verbose)
        printf("floor_server echoes=%llu bytes=%llu accept_pauses=%llu\n",
               (unsigned long long)echoes, (unsigned long long)bytes,
               (unsigned long long)pauses);
    return 0;
}
