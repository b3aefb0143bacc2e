/* bench/http_floor.c — the least HTTP server that keeps wrk busy: the floor
 * under bench/http_vs_nginx.sh, as floor_server.c is under bench/arch.sh.
 *
 *   build/bench/http_floor [-p PORT] [-t THREADS] [-u] [-q]
 *
 * It parses nothing: every "\r\n\r\n" seen on a connection (also when split
 * across reads) is one request, answered with one fixed 200 response of
 * the same shape as c1m's and nginx's (Server, Date, Content-Type,
 * Content-Length, "Welcome!\n"). No timeouts, no routing, no headers read.
 * It exists to measure how much CPU the kernel and the syscalls alone cost
 * per request on this machine, so that the HTTP servers' numbers can be
 * read against what no server can go below.
 *
 * Each thread has its own SO_REUSEPORT listener on 127.0.0.1 and either
 *   - an epoll loop (default): level-triggered, one read per readiness, one
 *     send of all the answers it owes; or
 *   - with -u, an io_uring (liburing): multishot accept, multishot recv into
 *     a ring of provided buffers, one send per completion; submissions and
 *     completions in batches, one io_uring_enter per batch.
 * Runs until SIGINT/SIGTERM. Self-contained: does not use libc1m. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PIPELINE 64 /* answers per send; more requests in one read are rare */
#define NBUF 4096       /* io_uring: provided buffers per thread */
#define BUFSZ 2048

static const char RESP[] = "HTTP/1.1 200 OK\r\nServer: http_floor\r\n"
                           "Date: Wed, 25 Nov 2026 00:00:00 GMT\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Length: 9\r\n\r\nWelcome!\n";
#define RLEN (sizeof RESP - 1)
static char answers[MAX_PIPELINE * RLEN];
static int port = 8998, quiet;
static uint8_t *tail; /* per fd: how much of "\r\n\r\n" the last bytes matched */
static size_t ntail;

static void die(const char *what)
{
    fprintf(stderr, "http_floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int listener(void)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        die("socket");
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0)
        die("bind/listen");
    return fd;
}

/* Requests completed by these bytes, carrying the match state per fd. */
static int count_requests(int fd, const char *p, ssize_t n)
{
    static const char end[4] = { '\r', '\n', '\r', '\n' };
    uint8_t m = (size_t)fd < ntail ? tail[fd] : 0;
    int k = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (p[i] == end[m])
            m++;
        else
            m = p[i] == '\r';
        if (m == 4) {
            k++;
            m = 0;
        }
    }
    if ((size_t)fd < ntail)
        tail[fd] = m;
    return k;
}

static void answer(int fd, int k)
{
    while (k > 0) {
        int now = k > MAX_PIPELINE ? MAX_PIPELINE : k;
        ssize_t w = send(fd, answers, (size_t)now * RLEN, MSG_NOSIGNAL);
        if (w != (ssize_t)(now * RLEN)) {
            if (!quiet)
                fprintf(stderr, "http_floor: short send on fd %d: closing it\n", fd);
            shutdown(fd, SHUT_RDWR);
            return;
        }
        k -= now;
    }
}

static void *epoll_main(void *arg)
{
    (void)arg;
    int ls = listener(), ep = epoll_create1(0), one = 1;
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls }, evs[512];
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0)
        die("epoll");
    static __thread char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if ((size_t)c < ntail)
                        tail[c] = 0;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                close(fd);
                continue;
            }
            answer(fd, count_requests(fd, buf, r));
        }
    }
    return NULL;
}

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };
#define UD(op, fd) (((uint64_t)(op) << 32) | (uint32_t)(fd))

static struct io_uring_sqe *sqe(struct io_uring *r)
{
    struct io_uring_sqe *s = io_uring_get_sqe(r);
    if (!s) { /* full: submit what is there and take one */
        io_uring_submit(r);
        s = io_uring_get_sqe(r);
    }
    return s;
}

static void arm_recv(struct io_uring *r, int fd)
{
    struct io_uring_sqe *s = sqe(r);
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = 0;
    io_uring_sqe_set_data64(s, UD(OP_RECV, fd));
}

static void *uring_main(void *arg)
{
    (void)arg;
    int ls = listener(), one = 1, e;
    struct io_uring r;
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                          IORING_SETUP_CQSIZE,
                                 .cq_entries = 65536 };
    if ((e = io_uring_queue_init_params(4096, &r, &p)) < 0) {
        errno = -e;
        die("io_uring_queue_init");
    }
    struct io_uring_buf_ring *br = NULL;
    if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf)))
        die("posix_memalign");
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = 0 };
    if ((e = io_uring_register_buf_ring(&r, &reg, 0)) < 0) {
        errno = -e;
        die("io_uring_register_buf_ring");
    }
    char *bufs = malloc((size_t)NBUF * BUFSZ);
    if (!bufs)
        die("malloc");
    for (int i = 0; i < NBUF; i++)
        io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
                              io_uring_buf_ring_mask(NBUF), i);
    io_uring_buf_ring_advance(br, NBUF);
    struct io_uring_sqe *s = sqe(&r);
    io_uring_prep_multishot_accept(s, ls, NULL, NULL, SOCK_NONBLOCK);
    io_uring_sqe_set_data64(s, UD(OP_ACCEPT, ls));
    for (;;) {
        if (io_uring_submit_and_wait(&r, 1) < 0 && errno != EINTR)
            continue;
        struct io_uring_cqe *c;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&r, head, c) {
            seen++;
            int op = (int)(c->user_data >> 32), fd = (int)(uint32_t)c->user_data;
            if (op == OP_ACCEPT) {
                if (c->res >= 0) {
                    setsockopt(c->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if ((size_t)c->res < ntail)
                        tail[c->res] = 0;
                    arm_recv(&r, c->res);
                }
                if (!(c->flags & IORING_CQE_F_MORE)) { /* re-arm */
                    s = sqe(&r);
                    io_uring_prep_multishot_accept(s, ls, NULL, NULL, SOCK_NONBLOCK);
                    io_uring_sqe_set_data64(s, UD(OP_ACCEPT, ls));
                }
            } else if (op == OP_RECV) {
                if (c->res == -ENOBUFS) {
                    arm_recv(&r, fd);
                    continue;
                }
                if (c->res <= 0) {
                    close(fd);
                    continue;
                }
                unsigned bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
                char *b = bufs + (size_t)bid * BUFSZ;
                int k = count_requests(fd, b, c->res);
                io_uring_buf_ring_add(br, b, BUFSZ, (unsigned short)bid, io_uring_buf_ring_mask(NBUF), 0);
                io_uring_buf_ring_advance(br, 1);
                while (k > 0) {
                    int now = k > MAX_PIPELINE ? MAX_PIPELINE : k;
                    s = sqe(&r);
                    io_uring_prep_send(s, fd, answers, (size_t)now * RLEN, MSG_NOSIGNAL);
                    io_uring_sqe_set_data64(s, UD(OP_SEND, fd));
                    k -= now;
                }
                if (!(c->flags & IORING_CQE_F_MORE))
                    arm_recv(&r, fd);
            } else if (op == OP_SEND && c->res >= 0 && c->res % (int)RLEN && !quiet) {
                fprintf(stderr, "http_floor: short send on fd %d\n", fd);
            }
        }
        io_uring_cq_advance(&r, seen);
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: http_floor [-p PORT (8998)] [-t THREADS (2)] [-u: io_uring] [-q]\n");
}

int main(int argc, char **argv)
{
    int threads = 2, uring = 0, o;
    while ((o = getopt(argc, argv, "p:t:uqh")) != -1) {
        switch (o) {
        case 'p': port = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'u': uring = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (port <= 0 || port > 65535 || threads < 1 || threads > 64 || optind != argc) {
        usage(stderr);
        return 2;
    }
    struct rlimit rl;
    ntail = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 24) ? rl.rlim_cur : 1u << 20;
    tail = calloc(ntail, 1);
    for (int i = 0; i < MAX_PIPELINE; i++)
        memcpy(answers + (size_t)i * RLEN, RESP, RLEN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, uring ? uring_main : epoll_main, NULL))
            die("pthread_create");
    }
    int sig;
    sigwait(&set, &sig);
    return 0;
}
