/*
 * uring_floor -- the io_uring echo floor, beside floor_server.c (epoll).
 *
 *   uring_floor [-p PORT] [-b ADDR] [-t THREADS] [-B] [-q] [-v]
 *
 * The least an io_uring echo server can cost per message on this kernel,
 * so that c1m's uring backend and the epoll floor can be read against it.
 * Self-contained (does not use libc1m; only engine/uring_compat.h, for
 * what Debian 12's liburing 2.3 lacks).
 *
 * Each thread owns one ring and one SO_REUSEPORT listener (TCP_NODELAY on
 * the listener: accepted sockets inherit it, so no setsockopt per accept):
 *   - ring flags SINGLE_ISSUER + DEFER_TASKRUN (completion work runs only
 *     inside our io_uring_enter, in batches), the ring fd registered;
 *   - multishot accept into direct descriptors (a sparse table of
 *     RLIMIT_NOFILE slots; direct descriptors are not open files);
 *   - multishot recv into one provided-buffer ring per thread, with
 *     bundles (one completion for several buffers) where the kernel has
 *     them (6.10; -B turns them off);
 *   - the echo is sent straight from the received buffer (no copy); the
 *     buffer goes back to the ring when its send completes. One send in
 *     flight per connection, later buffers queue behind it, so bytes stay
 *     in order even on a short send;
 *   - one io_uring_enter per iteration: it submits the iteration's sends
 *     and re-arms and waits for the next completion.
 * If every buffer is lent out, recv ends with ENOBUFS and is re-armed once
 * buffers come back: that is the backpressure, nothing is lost.
 *
 * Runs until SIGTERM/SIGINT, then exits 0. -v: start line and, on exit,
 * "uring_floor echoes=N bytes=B" on stdout (echoes = recv completions).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/uring_compat.h"

#define NBUF 4096          /* provided buffers per thread (power of two) */
#define BUFSZ 2048
#define SQ_ENTRIES 4096
#define CQ_ENTRIES 65536
#define MAX_THREADS 64
#define NIL UINT32_MAX

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_CLOSE, OP_STOP };
#define UD(op, x) (((uint64_t)(op) << 32) | (uint32_t)(x))

struct conn {              /* per direct slot: 12 bytes */
    uint32_t qhead, qtail; /* buffers to echo, in order (NIL: none) */
    uint8_t sending;       /* a send of qhead is in flight */
    uint8_t recv_dead;     /* recv ended (EOF/error): close once drained */
    uint8_t rearm;         /* recv ended with ENOBUFS: re-arm later */
    uint8_t open;
};

struct buf {               /* per provided buffer */
    uint32_t len, off, next;
};

struct worker {
    pthread_t tid;
    int id, lfd;
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    char *mem;             /* NBUF * BUFSZ */
    struct buf bufs[NBUF];
    uint16_t cursor;       /* ring index of the next buffer the kernel hands out */
    int nret;              /* buffers returned since the last advance */
    uint32_t nslots;
    struct conn *conns;
    uint32_t *rearm_list;  /* slots waiting for buffers (ENOBUFS) */
    uint32_t nrearm;
    int accept_armed, stop;
    unsigned recv_ioprio;  /* RECV_MULTISHOT, plus BUNDLE when the kernel has it */
    uint64_t echoes, bytes, enobufs;
};

static struct sockaddr_in g_addr;
static int g_quiet, g_verbose, g_no_bundle, g_stopfd = -1;
static uint32_t g_slots;

static void die(const char *what, int err)
{
    fprintf(stderr, "uring_floor: %s: %s\n", what, strerror(err));
    exit(1);
}

static int make_listener(void)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket", errno);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        die("setsockopt", errno);
    if (bind(fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0)
        die("bind", errno);
    if (listen(fd, 4096) < 0)
        die("listen", errno);
    return fd;
}

/* An SQE; when the SQ is full, submit what is there first (an extra enter,
 * only when one iteration queues more than SQ_ENTRIES). */
static struct io_uring_sqe *get_sqe(struct worker *w)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&w->ring);
    if (!s) {
        io_uring_buf_ring_advance(w->br, w->nret);
        w->nret = 0;
        io_uring_submit(&w->ring);
        s = io_uring_get_sqe(&w->ring);
        if (!s)
            die("io_uring_get_sqe", EBUSY);
    }
    return s;
}

static void arm_accept(struct worker *w)
{
    struct io_uring_sqe *s = get_sqe(w);
    io_uring_prep_multishot_accept_direct(s, w->lfd, NULL, NULL, 0);
    io_uring_sqe_set_data64(s, UD(OP_ACCEPT, 0));
    w->accept_armed = 1;
}

static void arm_recv(struct worker *w, uint32_t slot)
{
    struct io_uring_sqe *s = get_sqe(w);
    io_uring_prep_recv(s, (int)slot, NULL, 0, 0);
    s->ioprio = (uint16_t)w->recv_ioprio;
    s->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    s->buf_group = 0;
    io_uring_sqe_set_data64(s, UD(OP_RECV, slot));
}

static void arm_send(struct worker *w, uint32_t slot)
{
    struct buf *b = &w->bufs[w->conns[slot].qhead];
    struct io_uring_sqe *s = get_sqe(w);
    io_uring_prep_send(s, (int)slot, w->mem + (size_t)w->conns[slot].qhead * BUFSZ + b->off,
                       b->len - b->off, MSG_NOSIGNAL);
    s->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(s, UD(OP_SEND, slot));
    w->conns[slot].sending = 1;
}

static void give_back(struct worker *w, uint32_t bid)
{
    io_uring_buf_ring_add(w->br, w->mem + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUF), w->nret++);
}

static void close_conn(struct worker *w, uint32_t slot)
{
    struct conn *c = &w->conns[slot];
    for (uint32_t b = c->qhead; b != NIL; b = w->bufs[b].next)
        give_back(w, b);
    c->qhead = c->qtail = NIL;
    c->open = 0;
    struct io_uring_sqe *s = get_sqe(w);
    io_uring_prep_close_direct(s, slot);
    io_uring_sqe_set_data64(s, UD(OP_CLOSE, slot));
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* A recv completion with data: the kernel took buffers from the ring in
 * order, starting at our cursor (bundles: ceil(res / BUFSZ) of them). */
static void on_recv_data(struct worker *w, uint32_t slot, int res, unsigned flags)
{
    struct conn *c = &w->conns[slot];
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    unsigned mask = (unsigned)io_uring_buf_ring_mask(NBUF);
    if (w->br->bufs[w->cursor & mask].bid != bid) {
        /* The kernel posts recv completions of one ring in the order it
         * took the buffers (all of them run in our task under
         * DEFER_TASKRUN); if that ever breaks, bundles cannot be mapped. */
        fprintf(stderr, "uring_floor: completion out of buffer order (bid %u, expected %u)%s\n",
                bid, w->br->bufs[w->cursor & mask].bid, g_no_bundle ? "" : ": try -B");
        exit(1);
    }
    w->echoes++;
    w->bytes += (uint64_t)res;
    for (int left = res; left > 0; left -= BUFSZ) {
        uint32_t b = w->br->bufs[w->cursor++ & mask].bid;
        w->bufs[b] = (struct buf){ .len = left < BUFSZ ? (uint32_t)left : BUFSZ, .off = 0, .next = NIL };
        if (c->qtail == NIL)
            c->qhead = b;
        else
            w->bufs[c->qtail].next = b;
        c->qtail = b;
    }
    if (!c->sending)
        arm_send(w, slot);
}

static void on_recv(struct worker *w, uint32_t slot, int res, unsigned flags)
{
    struct conn *c = &w->conns[slot];
    if (res > 0) {
        on_recv_data(w, slot, res, flags);
        if (!(flags & IORING_CQE_F_MORE))
            arm_recv(w, slot);
        return;
    }
    if (flags & IORING_CQE_F_MORE)
        return;
    if (res == -ENOBUFS) { /* every buffer lent out: re-arm when some return */
        w->enobufs++;
        c->rearm = 1;
        w->rearm_list[w->nrearm++] = slot;
        return;
    }
    c->recv_dead = 1;      /* EOF or error: close once our echoes are out */
    if (!c->sending)
        close_conn(w, slot);
}

static void on_send(struct worker *w, uint32_t slot, int res)
{
    struct conn *c = &w->conns[slot];
    c->sending = 0;
    if (!c->open)
        return;
    if (res < 0) {
        if (!c->recv_dead) { /* recv will end too; close then */
            struct io_uring_sqe *s = get_sqe(w);
            io_uring_prep_cancel_fd(s, (int)slot, IORING_ASYNC_CANCEL_FD_FIXED);
            io_uring_sqe_set_data64(s, 0);
            s->flags |= IOSQE_CQE_SKIP_SUCCESS;
            c->recv_dead = 2; /* cancel asked: close on recv's last CQE */
        }
        for (uint32_t b = c->qhead; b != NIL; b = w->bufs[b].next)
            give_back(w, b);
        c->qhead = c->qtail = NIL;
        return;
    }
    struct buf *b = &w->bufs[c->qhead];
    b->off += (uint32_t)res;
    if (b->off < b->len) { /* short send: the rest first */
        arm_send(w, slot);
        return;
    }
    uint32_t done = c->qhead;
    c->qhead = b->next;
    if (c->qhead == NIL)
        c->qtail = NIL;
    give_back(w, done);
    if (c->qhead != NIL)
        arm_send(w, slot);
    else if (c->recv_dead == 1)
        close_conn(w, slot);
}

static void on_accept(struct worker *w, int res, unsigned flags)
{
    if (res >= 0 && (uint32_t)res < w->nslots) {
        w->conns[res] = (struct conn){ .qhead = NIL, .qtail = NIL, .open = 1 };
        arm_recv(w, (uint32_t)res);
    } else if (res < 0 && !g_quiet && res != -ENFILE) {
        fprintf(stderr, "uring_floor: accept: %s\n", strerror(-res));
    }
    if (!(flags & IORING_CQE_F_MORE))
        w->accept_armed = 0; /* re-armed at the end of the iteration */
}

static void setup_ring(struct worker *w)
{
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                          IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL,
                                 .cq_entries = CQ_ENTRIES };
    int e = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
    if (e < 0)
        die("io_uring_queue_init (needs Linux 6.1 for DEFER_TASKRUN)", -e);
    w->recv_ioprio = IORING_RECV_MULTISHOT;
    if ((p.features & IORING_FEAT_RECVSEND_BUNDLE) && !g_no_bundle)
        w->recv_ioprio |= IORING_RECVSEND_BUNDLE;
    if ((e = io_uring_register_ring_fd(&w->ring)) < 0)
        die("io_uring_register_ring_fd", -e);
    w->nslots = g_slots;
    if ((e = io_uring_register_files_sparse(&w->ring, w->nslots)) < 0)
        die("io_uring_register_files_sparse", -e);
    /* the ring of buffer descriptors: page-aligned, NBUF * 16 bytes */
    w->br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w->br == MAP_FAILED)
        die("mmap", errno);
    io_uring_buf_ring_init(w->br);
    struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t)w->br, .ring_entries = NBUF, .bgid = 0 };
    if ((e = io_uring_register_buf_ring(&w->ring, &reg, 0)) < 0)
        die("io_uring_register_buf_ring", -e);
    w->mem = malloc((size_t)NBUF * BUFSZ);
    w->conns = calloc(w->nslots, sizeof *w->conns);
    w->rearm_list = calloc(w->nslots, sizeof *w->rearm_list);
    if (!w->mem || !w->conns || !w->rearm_list)
        die("malloc", ENOMEM);
    for (unsigned i = 0; i < NBUF; i++)
        give_back(w, i);
    io_uring_buf_ring_advance(w->br, w->nret);
    w->nret = 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    setup_ring(w); /* SINGLE_ISSUER: the ring belongs to the thread that made it */
    struct io_uring_sqe *s = get_sqe(w);
    io_uring_prep_poll_add(s, g_stopfd, POLLIN);
    io_uring_sqe_set_data64(s, UD(OP_STOP, 0));
    arm_accept(w);
    while (!w->stop) {
        io_uring_buf_ring_advance(w->br, w->nret);
        w->nret = 0;
        int e = io_uring_submit_and_wait(&w->ring, 1);
        if (e < 0 && e != -EINTR && e != -ETIME && e != -EBUSY)
            die("io_uring_submit_and_wait", -e);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe) {
            seen++;
            uint32_t x = (uint32_t)cqe->user_data;
            switch ((int)(cqe->user_data >> 32)) {
            case OP_RECV: on_recv(w, x, cqe->res, cqe->flags); break;
            case OP_SEND: on_send(w, x, cqe->res); break;
            case OP_ACCEPT: on_accept(w, cqe->res, cqe->flags); break;
            case OP_STOP: w->stop = 1; break;
            default: break; /* close errors, cancels */
            }
        }
        io_uring_cq_advance(&w->ring, seen);
        /* ENOBUFS: re-arm only once buffers came back, or it would spin */
        if (w->nrearm && w->nret) {
            for (uint32_t i = 0; i < w->nrearm; i++) {
                uint32_t slot = w->rearm_list[i];
                w->conns[slot].rearm = 0;
                if (w->conns[slot].open && !w->conns[slot].recv_dead)
                    arm_recv(w, slot);
            }
            w->nrearm = 0;
        }
        if (!w->accept_armed)
            arm_accept(w);
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: uring_floor [-p PORT] [-b ADDR] [-t THREADS] [-B] [-q] [-v]\n"
            "  -p PORT     listen port (default 8972)\n"
            "  -b ADDR     IPv4 address to bind (default 127.0.0.1)\n"
            "  -t THREADS  rings, each on its own thread with its own SO_REUSEPORT\n"
            "              listener (default 1)\n"
            "  -B          no recv bundles (one buffer per completion)\n"
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
        fprintf(stderr, "uring_floor: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *bind_addr = "127.0.0.1";
    int port = 8972, nthreads = 1, opt;
    while ((opt = getopt(argc, argv, "p:b:t:Bqvh")) != -1) {
        switch (opt) {
        case 'p': port = (int)parse_num(optarg, 1, 65535, "port"); break;
        case 'b': bind_addr = optarg; break;
        case 't': nthreads = (int)parse_num(optarg, 1, MAX_THREADS, "thread count"); break;
        case 'B': g_no_bundle = 1; break;
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
        fprintf(stderr, "uring_floor: bad IPv4 address '%s'\n", bind_addr);
        return 2;
    }
    /* A ring's direct-descriptor table may hold up to RLIMIT_NOFILE slots. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit", errno);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    g_slots = rl.rlim_cur > (1u << 20) ? (1u << 20) : (uint32_t)rl.rlim_cur;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    g_stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g_stopfd < 0)
        die("eventfd", errno);

    struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
    if (!ws)
        die("calloc", ENOMEM);
    for (int i = 0; i < nthreads; i++) {
        ws[i].id = i;
        ws[i].lfd = make_listener();
    }
    for (int i = 0; i < nthreads; i++) {
        int rc = pthread_create(&ws[i].tid, NULL, run, &ws[i]);
        if (rc)
            die("pthread_create", rc);
    }
    if (g_verbose)
        fprintf(stderr, "uring_floor: listening on %s:%d, %d ring(s) of %u direct slots%s\n",
                bind_addr, port, nthreads, g_slots, g_no_bundle ? ", no bundles" : "");
    int sig;
    while (sigwait(&sigs, &sig) != 0)
        ;
    uint64_t one = 1;
    if (write(g_stopfd, &one, sizeof one) < 0)
        die("eventfd write", errno);
    uint64_t echoes = 0, bytes = 0, enobufs = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(ws[i].tid, NULL);
        echoes += ws[i].echoes;
        bytes += ws[i].bytes;
        enobufs += ws[i].enobufs;
    }
    if (g_verbose)
        printf("uring_floor echoes=%llu bytes=%llu enobufs=%llu\n", (unsigned long long)echoes,
               (unsigned long long)bytes, (unsigned long long)enobufs);
    return 0;
}
