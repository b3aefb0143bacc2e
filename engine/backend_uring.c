/* The io_uring backend: completions presented to the loop as readiness.
 *
 * One ring per loop (SINGLE_ISSUER + DEFER_TASKRUN: completion work runs
 * only inside this loop's io_uring_enter), one io_uring_enter per
 * iteration: it submits what the iteration queued (sends, re-arms, closes)
 * and waits for the next completion or the loop's next deadline.
 *
 *   accept  multishot accept into direct descriptors (a sparse table of
 *           RLIMIT_NOFILE slots: not open files of the process). Accepted
 *           slots queue on the listener; the loop takes them with accept().
 *           TCP_NODELAY is set on the listener and inherited.
 *   adopt   a connected socket the loop is given (c1m_loop_adopt) is
 *           installed into a slot of a range kept apart from accept's
 *           (the last quarter of the table) and its fd closed: from then
 *           on c1m_conn_fd() is the slot, as for accepted connections.
 *   recv    a multishot recv per connection into the loop's provided-buffer
 *           ring (engine/uring_bufring.c; bundles where the kernel has
 *           them; its size, and the SQ's and CQ's, are this ring's share of
 *           the process's budget: engine/uring_size.h). Received buffers queue on the connection; the loop is
 *           told READ and its recv() gets a pointer to the next buffer, not
 *           a copy; the buffer returns to the ring when that dispatch ends.
 *           While the loop does not want to read (output above the high
 *           watermark, a worker holds it) the recv is cancelled, so one
 *           connection cannot drain the shared ring; re-armed when it does.
 *   send    the loop's bytes are copied into the connection's send buffer
 *           and an IORING_OP_SEND is queued; one send in flight per
 *           connection, so send() says -EAGAIN meanwhile (the loop keeps
 *           the rest as pending output and waits for WRITE, which comes
 *           when the send completes). A short send is finished here.
 *   close   through the ring, once the connection's recv and send have
 *           completed (a slot is never reused while a completion may still
 *           name it).
 *   watch   multishot poll (the queue's eventfd, user fds).
 *
 * dispatch: the acceptor's ring accepts regular fds (multishot too) and
 * the serving loop installs each into its own ring, as c1m_loop_adopt does.
 *
 * More connections than one table holds: the server runs more loops
 * (c1m__uring_conns_per_ring, engine/server.c), each with its own ring.
 *
 * connect  a client connection (c1m_loop_connect) is a direct descriptor
 *          from the start: one linked chain per connection, IORING_OP_SOCKET
 *          into a slot we chose, SO_REUSEADDR and bind to the source (when
 *          given), TCP_NODELAY, IORING_OP_CONNECT; only the connect's
 *          completion is reported, or the first step that failed (whose
 *          failure silences the rest of the chain). Client
 *          slots come from our range: on a loop that has not accepted into
 *          direct descriptors, the first connect gives almost the whole
 *          table to that range (U_CLIENT_ALLOC slots stay with accept), so
 *          one ring holds about RLIMIT_NOFILE client connections and a
 *          process passes the fd cap with more loops (the bench does).
 *          The addresses are copied by the kernel when the chain is
 *          submitted; until then they live in u->caddr.
 *
 * peer     the peer's address, recorded at accept when the loop asks
 *          (peer_addrs: the HTTP access log), see peer_prep_accept.
 *
 * The bytes of a send in flight are unsent output for the loop
 * (C1M_CONN_INFLIGHT, u_in_flight, C1M_EV_SENT: engine/backend.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "engine/backend.h"
#include "engine/loop.h"
#include "engine/share.h"
#include "engine/uring_bufring.h"
#include "engine/uring_compat.h"
#include "engine/uring_probe.h"
#include "engine/uring_size.h"

/* SQ, CQ and buffer ring: per ring from the process's budget
 * (c1m__uring_size, engine/uring_size.h) */
#define U_SEND_MAX (256 * 1024) /* bytes one send() takes at most */
#define U_SPOOL 16            /* large send buffers a loop keeps for reuse */
#define U_SPOOL_BYTES (1024 * 1024)
#define U_MAX_WATCH 16
#define U_ACCEPT_CHECK_MS 250   /* see check_backlogs */
#define U_PUMP_MAX 64         /* READ dispatches per connection per event */
#define NIL UINT16_MAX   /* no buffer (buffer ids are below 32768) */

enum { OP_ACCEPT = 1, OP_POLL, OP_RECV, OP_SEND, OP_IGNORE, OP_CLOSE_OWN, OP_CSTEP, OP_CONNECT };
#define U_CLIENT_ALLOC 16       /* accept's slots on a loop that connects */
#define U_CHAIN_MAX 5           /* SQEs of one connect */
#define UD(op, x) (((uint64_t)(op) << 32) | (uint32_t)(x))

enum { S_FREE, S_ACCEPTED, S_OPEN, S_CLOSING };

/* One per direct descriptor: 32 bytes, touched only for slots in use (the
 * table is mapped lazily), so an idle connection costs its c1m_conn_t
 * (128 bytes) and this. */
typedef struct uslot {
    c1m_conn_t *c;          /* NULL once the loop closed it */
    char *sbuf;             /* the send in flight: a copy of the loop's bytes, after its
                             * sbuf_hdr_t; freed (a large one pooled) when it completes:
                             * an idle connection holds none */
    uint32_t slen, soff;
    uint16_t qhead, qtail;  /* received buffers the loop has not read (bids) */
    uint16_t err;           /* recv or send errno, reported by recv/send/sock_error */
    uint16_t state : 2;
    uint16_t recv_armed : 1; /* a recv is in the kernel */
    uint16_t cancel_sent : 1;
    uint16_t sending : 1;
    uint16_t eof : 1;
    uint16_t shut_pending : 1; /* shutdown(SHUT_WR) after the send in flight */
    uint16_t ready : 1;     /* on the ready list */
    uint16_t forgotten : 1; /* conn_forget: no more events */
    uint16_t abandon : 1;   /* closed abortively: the send in flight is cancelled */
    uint16_t connecting : 1; /* a connect chain is in the kernel */
} uslot_t;
_Static_assert(sizeof(uslot_t) <= 32, "a direct descriptor's state is paid per connection");

/* In front of a send buffer (uslot_t.sbuf points past it): see send_buf. */
typedef struct sbuf_hdr {
    uint32_t cap;   /* bytes after the header */
    uint32_t epoch; /* u->epoch when the send was prepared (u_in_flight) */
} sbuf_hdr_t;
static inline sbuf_hdr_t *sbuf_hdr(const uslot_t *sl) { return (sbuf_hdr_t *)(void *)(sl->sbuf - sizeof(sbuf_hdr_t)); }
static inline void *sbuf_base(const uslot_t *sl) { return sl->sbuf - sizeof(sbuf_hdr_t); }

typedef struct uwatch {
    c1m_io_t *io;           /* NULL: free entry */
    unsigned events;
    uint32_t gen;           /* of the request armed now: older completions are stale */
    uint8_t watched, armed, ready;
    uint8_t regular;        /* listener: accept regular fds (dispatch hands them on) */
    uint8_t accepted;       /* listener: an accept completed since the last check_backlogs */
    uint32_t *q;            /* listener: accepted slots (or fds) not taken yet */
    uint32_t qh, qn, qcap;
    int err;                /* listener: accept error for the loop */
    struct sockaddr_storage addr; /* peer_addrs: the one accept's peer */
    socklen_t alen;
} uwatch_t;

typedef struct ustate {
    struct io_uring ring;
    c1m_bufring_t br;
    uint32_t nbufs, sq;     /* this ring's share (c1m__uring_size) */
    bool enabled;           /* R_DISABLED until the loop's thread polls */
    uint32_t epoch;         /* submissions so far: a send prepared in this one is not submitted */
    unsigned recv_ioprio;
    uint32_t nslots;
    uint32_t own_base;      /* slots [own_base, nslots) are ours to give (adopt) */
    uint32_t *own_free;     /* free ones, a stack */
    uint32_t nown_free;
    int just_accepted;      /* the slot accept() returned last, until added or dropped */
    uslot_t *slots;
    uint16_t *next;         /* per buffer: next in its connection's queue */
    uint32_t *len;          /* per buffer: bytes in it */
    c1m_bufring_piece_t *pieces; /* of one completion (a bundle: up to nbufs) */
    uint32_t *lent;         /* buffers given to the loop in this dispatch */
    uint32_t nlent;
    uint32_t *ready;        /* slots with an event to present */
    uint32_t nready;
    uint32_t *rearm;        /* slots whose recv ended with ENOBUFS */
    uint32_t nrearm;
    bool accept_direct;     /* a listener accepts into the kernel's range */
    bool client_split;      /* the table was given to client connections */
    int just_connected;     /* the slot connect() returned last, until added or dropped */
    struct caddr { struct sockaddr_storage src, dst; } *caddr; /* until submitted */
    uint32_t ncaddr;
    struct spool { char *p; uint32_t cap; } spool[U_SPOOL]; /* see send_buf */
    struct sockaddr_in6 *peer;  /* per slot, with peer_addrs (see peer_record) */
    uint32_t nspool, spool_bytes;
    uint64_t check_ms;      /* next check_backlogs */
    uint64_t rekicks;       /* accepts re-armed by check_backlogs */
    uwatch_t watch[U_MAX_WATCH];
} ustate_t;

static ustate_t *st_of(const c1m_loop_t *loop) { return loop->be_state; }

/* The table a ring gets (RLIMIT_NOFILE slots, at most 2^20) and the part
 * of it accept allocates from; the last quarter is kept for adopt. */
static uint32_t table_slots(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? (uint32_t)rl.rlim_cur
                                                                        : 1u << 20;
}

uint32_t c1m__uring_client_conns_per_ring(void)
{
    /* slots of closed connections come back when their close has run: a
     * sixteenth stays free for those (connect retries) */
    uint32_t n = table_slots();
    return n > U_CLIENT_ALLOC + 64 ? n - U_CLIENT_ALLOC - n / 16 : 1;
}

uint32_t c1m__uring_conns_per_ring(bool adopted)
{
    uint32_t n = table_slots(), own = n / 4, acc = n - own;
    /* A multishot accept takes what the backlog holds before the loop can
     * pause it, and a connection accepted into a full table is lost (the
     * kernel closes it): a quarter of the accept range stays free for that
     * burst. Adopted fds (dispatch) come one by one: their whole range. */
    return adopted ? own : acc - acc / 4;
}

/* Submit what is queued (the submission queue is full, or a connect
 * chain would not fit); the connects' addresses have then been copied. */
static void flush(ustate_t *u)
{
    c1m_bufring_publish(&u->br);
    io_uring_submit(&u->ring);
    u->ncaddr = 0;
    u->epoch++;
}

static struct io_uring_sqe *get_sqe(ustate_t *u)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&u->ring);
    if (!s && u->enabled) { /* SQ full: submit what is there */
        flush(u);
        s = io_uring_get_sqe(&u->ring);
    }
    if (!s)
        c1m_error("uring: submission queue full");
    return s;
}

static void prep_ignored(ustate_t *u, struct io_uring_sqe *s)
{
    (void)u;
    io_uring_sqe_set_data64(s, UD(OP_IGNORE, 0));
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* ---- set-up --------------------------------------------------------- */

static void u_fini(c1m_loop_t *loop);

/* Tables indexed by slot have RLIMIT_NOFILE entries, most of them never
 * used: mapped, not calloc'd (which clears, and so makes resident, every
 * page of a block it takes from the heap), so only the pages of slots in
 * use cost memory. */
#if defined(__SANITIZE_ADDRESS__) /* ASan checks the bounds of heap blocks only */
static void *table_alloc(size_t n, size_t size) { return calloc(n, size); }
static void table_free(void *p, size_t n, size_t size)
{
    (void)n;
    (void)size;
    free(p);
}
#else
static void *table_alloc(size_t n, size_t size)
{
    void *p = mmap(NULL, n * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void table_free(void *p, size_t n, size_t size)
{
    if (p)
        munmap(p, n * size);
}
#endif

static int u_init(c1m_loop_t *loop)
{
    ustate_t *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    loop->be_state = u;
    /* this ring's share of the process's buffers (many rings, fewer each);
     * its CQ from the connections it serves */
    uint32_t conns = loop->cfg.max_conns ? loop->cfg.max_conns : c1m__uring_conns_per_ring(false);
    c1m_uring_size_t z = c1m__uring_size(loop->cfg.uring_rings, conns);
    u->nbufs = z.nbufs;
    u->sq = z.sq;
    /* R_DISABLED: the loop is set up on one thread and runs on another;
     * SINGLE_ISSUER binds the ring to the thread that enables it. */
    struct io_uring_params p = {
        .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
                 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_R_DISABLED,
        .cq_entries = z.cq,
    };
    int rc = io_uring_queue_init_params(z.sq, &u->ring, &p);
    if (rc < 0) {
        free(u);
        loop->be_state = NULL;
        c1m_error("loop %u: io_uring setup: %s", loop->id, strerror(-rc));
        return rc;
    }
    loop->be_fd = u->ring.ring_fd;
    u->recv_ioprio = IORING_RECV_MULTISHOT;
    if (p.features & IORING_FEAT_RECVSEND_BUNDLE)
        u->recv_ioprio |= IORING_RECVSEND_BUNDLE;
    u->nslots = table_slots();
    u->slots = table_alloc(u->nslots, sizeof *u->slots);
    u->next = calloc(u->nbufs, sizeof *u->next);
    u->len = calloc(u->nbufs, sizeof *u->len);
    u->lent = calloc(u->nbufs, sizeof *u->lent);
    u->pieces = calloc(u->nbufs, sizeof *u->pieces);
    u->ready = table_alloc(u->nslots, sizeof *u->ready);
    u->rearm = table_alloc(u->nslots, sizeof *u->rearm);
    u->own_base = u->nslots - u->nslots / 4;
    u->own_free = table_alloc(u->nslots, sizeof *u->own_free); /* a client loop's grows */
    for (uint32_t i = u->nslots; i-- > u->own_base;)
        u->own_free[u->nown_free++] = i;
    u->just_accepted = -1;
    u->just_connected = -1;
    if (loop->cfg.peer_addrs && !(u->peer = calloc(u->nslots, sizeof *u->peer))) {
        rc = -ENOMEM;
        goto err;
    }
    if (!u->slots || !u->next || !u->len || !u->lent || !u->ready || !u->rearm || !u->own_free ||
        !u->pieces) {
        rc = -ENOMEM;
        goto err;
    }
    if ((rc = io_uring_register_files_sparse(&u->ring, u->nslots)) < 0) {
        c1m_error("loop %u: io_uring: %u direct descriptors: %s", loop->id, u->nslots,
                  strerror(-rc));
        goto err;
    }
    if ((rc = io_uring_register_file_alloc_range(&u->ring, 0, u->own_base)) < 0) {
        c1m_error("loop %u: io_uring: direct descriptor range: %s", loop->id, strerror(-rc));
        goto err;
    }
    if ((rc = c1m_bufring_setup(&u->br, &u->ring, 0, u->nbufs, C1M_URING_BUF_SIZE)) < 0) {
        c1m_error("loop %u: io_uring: buffer ring: %s", loop->id, strerror(-rc));
        goto err;
    }
    return 0;
err:
    u_fini(loop);
    return rc;
}

static void u_fini(c1m_loop_t *loop)
{
    ustate_t *u = st_of(loop);
    if (!u)
        return;
    /* The ring goes first (it holds the buffer ring and every direct
     * descriptor, which it closes); then our memory. */
    io_uring_queue_exit(&u->ring);
    u->br.ring = NULL; /* nothing left to unregister */
    c1m_bufring_destroy(&u->br);
    for (uint32_t i = 0; u->slots && i < u->nslots; i++)
        if (u->slots[i].sbuf)
            free(sbuf_base(&u->slots[i]));
    for (uint32_t i = 0; i < u->nspool; i++)
        free(u->spool[i].p);
    for (int i = 0; i < U_MAX_WATCH; i++) {
        uwatch_t *w = &u->watch[i];
        for (uint32_t k = 0; w->regular && k < w->qn; k++) /* accepted, never handed on */
            close((int)w->q[(w->qh + k) % w->qcap]);
        free(w->q);
    }
    table_free(u->slots, u->nslots, sizeof *u->slots);
    free(u->next);
    free(u->len);
    free(u->lent);
    free(u->pieces);
    table_free(u->ready, u->nslots, sizeof *u->ready);
    table_free(u->rearm, u->nslots, sizeof *u->rearm);
    table_free(u->own_free, u->nslots, sizeof *u->own_free);
    free(u->caddr);
    free(u->peer);
    free(u);
    loop->be_state = NULL;
    loop->be_fd = -1;
}

/* ---- connections ------------------------------------------------------ */

static void arm_recv(ustate_t *u, uint32_t s)
{
    struct io_uring_sqe *q = get_sqe(u);
    if (!q)
        return;
    io_uring_prep_recv(q, (int)s, NULL, 0, 0);
    q->ioprio = (uint16_t)u->recv_ioprio;
    q->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    q->buf_group = u->br.bgid;
    io_uring_sqe_set_data64(q, UD(OP_RECV, s));
    u->slots[s].recv_armed = 1;
}

static void cancel_recv(ustate_t *u, uint32_t s)
{
    uslot_t *sl = &u->slots[s];
    if (!sl->recv_armed || sl->cancel_sent)
        return;
    struct io_uring_sqe *q = get_sqe(u);
    if (!q)
        return;
    io_uring_prep_cancel64(q, UD(OP_RECV, s), 0);
    prep_ignored(u, q);
    sl->cancel_sent = 1;
}

static void make_ready(ustate_t *u, uint32_t s)
{
    if (!u->slots[s].ready) {
        u->slots[s].ready = 1;
        u->ready[u->nready++] = s;
    }
}

static void give_back_queue(ustate_t *u, uslot_t *sl)
{
    for (uint32_t b = sl->qhead; b != NIL; b = u->next[b])
        c1m_bufring_return(&u->br, (uint16_t)b);
    sl->qhead = sl->qtail = NIL;
}

static void send_buf_done(ustate_t *u, uslot_t *sl);

/* An abortive close that cancelled a send: SO_LINGER 0, so the close
 * resets the connection. The peer does not read (that is why the send
 * waited): a plain close would queue the FIN behind the megabytes in the
 * socket's send queue, which that peer never reaches, and the kernel would
 * keep them. On epoll the same close resets it because input the loop
 * stopped reading is still unread in the kernel; here the multishot recv
 * has read ahead into the buffer ring, so the reset is asked for. Hard
 * link: the close runs whatever the setsockopt says (it needs 6.7). */
static void prep_reset(ustate_t *u, uint32_t s)
{
    static const struct linger zero = { .l_onoff = 1, .l_linger = 0 }; /* read at submit */
    if (io_uring_sq_space_left(&u->ring) < 2 && u->enabled)
        flush(u); /* the link must not be cut by a submission */
    struct io_uring_sqe *q = io_uring_get_sqe(&u->ring);
    if (!q)
        return;
    c1m_uring_prep_setsockopt(q, (int)s, SOL_SOCKET, SO_LINGER, &zero, sizeof zero);
    q->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
    prep_ignored(u, q);
}

/* The slot is released once nothing in the kernel can still name it. */
static void maybe_finish_close(ustate_t *u, uint32_t s)
{
    uslot_t *sl = &u->slots[s];
    if (sl->state != S_CLOSING || sl->recv_armed || sl->sending || sl->connecting)
        return;
    if (sl->abandon)
        prep_reset(u, s);
    struct io_uring_sqe *q = get_sqe(u);
    if (!q)
        return;
    io_uring_prep_close_direct(q, s);
    if (s >= u->own_base) /* ours: free again once the close has run */
        io_uring_sqe_set_data64(q, UD(OP_CLOSE_OWN, s));
    else
        prep_ignored(u, q);
    send_buf_done(u, sl); /* a large one back to the pool */
    *sl = (uslot_t){ .state = S_FREE, .qhead = NIL, .qtail = NIL, .ready = sl->ready };
}

static unsigned want(const uslot_t *sl)
{
    return sl->c && !sl->forgotten ? c1m__conn_interest(sl->c) : 0;
}

/* Make the kernel side match what the loop wants now. */
static int u_conn_update(c1m_conn_t *c)
{
    ustate_t *u = st_of(c->loop);
    uint32_t s = (uint32_t)c->io.fd;
    uslot_t *sl = &u->slots[s];
    unsigned w = want(sl);
    if (w & C1M_EV_READ) {
        if (!sl->recv_armed && !sl->eof && !sl->err)
            arm_recv(u, s);
        if (sl->qhead != NIL || sl->eof || sl->err)
            make_ready(u, s); /* bytes (or the end) already here */
    } else if (sl->recv_armed) {
        cancel_recv(u, s);
    }
    if ((w & C1M_EV_WRITE) && !sl->sending && !sl->connecting)
        make_ready(u, s);
    c->io.armed = (uint8_t)w;
    return 0;
}

/* ---- peer addresses (c1m_loop_cfg_t.peer_addrs: the HTTP access log) ----
 *
 * getpeername needs a file and a direct descriptor is none. Choices:
 * IORING_OP_URING_CMD's SOCKET_URING_OP_GETSOCKNAME (with the peer flag)
 * came after the 6.18 kernel here (its cmd_op 5 answers EOPNOTSUPP); installing the slot as an fd
 * (IORING_OP_FIXED_FD_INSTALL) for a getpeername costs three system calls
 * and an fd per connection, and the answer comes a completion later. So
 * the address is recorded when the connection is made: a multishot accept
 * has one address buffer for all its completions, so a loop that wants
 * addresses accepts one connection per request (a single-shot accept into
 * a direct descriptor, with the listener's buffer), and keeps 28 bytes per
 * slot. Only with peer_addrs: one accept per completion is slower under a
 * burst of connections. Adopted fds (dispatch) get getpeername before
 * their fd is closed. */
static void peer_prep_accept(ustate_t *u, uwatch_t *w, struct io_uring_sqe *q)
{
    w->alen = sizeof w->addr;
    io_uring_prep_accept_direct(q, w->io->fd, (struct sockaddr *)&w->addr, &w->alen, 0,
                                IORING_FILE_INDEX_ALLOC - 1);
    u->accept_direct = true;
}

static void peer_record(ustate_t *u, uint32_t s, const struct sockaddr_storage *ss, socklen_t len)
{
    memset(&u->peer[s], 0, sizeof u->peer[s]); /* family 0: unknown */
    if (len > 0 && len <= sizeof u->peer[s] &&
        (ss->ss_family == AF_INET || ss->ss_family == AF_INET6))
        memcpy(&u->peer[s], ss, len);
}

static int u_peer(const c1m_conn_t *c, struct sockaddr_storage *ss, socklen_t *len)
{
    const ustate_t *u = st_of(c->loop);
    uint32_t s = (uint32_t)c->io.fd;
    if (!u->peer || s >= u->nslots || !u->peer[s].sin6_family)
        return -ENOTSUP;
    socklen_t n = u->peer[s].sin6_family == AF_INET ? sizeof(struct sockaddr_in)
                                                    : sizeof(struct sockaddr_in6);
    memcpy(ss, &u->peer[s], n < *len ? n : *len);
    *len = n;
    return 0;
}

/* A regular fd given to the loop: into one of our slots, fd closed. */
static int install_fd(ustate_t *u, int fd)
{
    if (!u->nown_free)
        return -EMFILE;
    uint32_t s = u->own_free[--u->nown_free];
    if (u->peer) { /* the fd still has getpeername */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
            sl = 0;
        peer_record(u, s, &ss, sl);
    }
    int r = io_uring_register_files_update(&u->ring, s, &fd, 1);
    if (r < 0) {
        u->own_free[u->nown_free++] = s;
        return r;
    }
    close(fd);
    u->slots[s] = (uslot_t){ .state = S_ACCEPTED, .qhead = NIL, .qtail = NIL,
                             .ready = u->slots[s].ready };
    return (int)s;
}

static int u_conn_add(c1m_conn_t *c)
{
    ustate_t *u = st_of(c->loop);
    if (c->flags & C1M_CONN_CLIENT) { /* from u_connect: its chain is in flight */
        uint32_t s = (uint32_t)c->io.fd;
        if (c->io.fd != u->just_connected || !u->slots[s].connecting)
            return -EBADF;
        u->just_connected = -1;
        u->slots[s].c = c;
        u->slots[s].state = S_OPEN;
        c->io.registered = 1;
        return u_conn_update(c);
    }
    if (c->io.fd != u->just_accepted) { /* c1m_loop_adopt: a regular fd */
        int s = install_fd(u, c->io.fd);
        if (s < 0)
            return s; /* the fd is still the loop's to drop */
        c->io.fd = s;
    }
    u->just_accepted = -1;
    uint32_t s = (uint32_t)c->io.fd;
    if (s >= u->nslots || u->slots[s].state != S_ACCEPTED)
        return -EBADF;
    uslot_t *sl = &u->slots[s];
    *sl = (uslot_t){ .c = c, .state = S_OPEN, .qhead = NIL, .qtail = NIL, .ready = sl->ready };
    c->io.registered = 1;
    return u_conn_update(c);
}

static void u_conn_forget(c1m_conn_t *c)
{
    ustate_t *u = st_of(c->loop);
    uint32_t s = (uint32_t)c->io.fd;
    u->slots[s].forgotten = 1;
    cancel_recv(u, s);
    c->io.registered = 0;
}

static ssize_t u_recv(c1m_conn_t *c, char **buf, size_t cap)
{
    (void)cap;
    ustate_t *u = st_of(c->loop);
    uslot_t *sl = &u->slots[(uint32_t)c->io.fd];
    if (sl->qhead != NIL) {
        uint32_t b = sl->qhead;
        sl->qhead = u->next[b];
        if (sl->qhead == NIL)
            sl->qtail = NIL;
        u->lent[u->nlent++] = b; /* back to the ring when this dispatch ends */
        *buf = c1m_bufring_ptr(&u->br, (uint16_t)b);
        return (ssize_t)u->len[b];
    }
    if (sl->err)
        return -sl->err;
    if (sl->eof)
        return 0;
    return -EAGAIN;
}

/* A send buffer of at least `total` bytes for the slot, behind a small
 * header (its capacity, and the submission epoch u_in_flight reads): the
 * slot stays 32 bytes. Large ones come from, and go back to
 * (send_buf_done), a small per-loop pool: a free() of 64 KiB in a thread's
 * arena gives the pages back to the kernel and the next send faults them
 * in again, 16 faults per 64 KiB (measured: WebSocket broadcast of 64 KiB
 * frames to 20 readers took ten times epoll's CPU, most of it page faults
 * and memmove into fresh pages). Small ones are freed when their send
 * completes (an idle connection holds no buffer; malloc's thread cache
 * makes the next one cheap). */
#define SBUF_SMALL 4096u

static int send_buf(ustate_t *u, uslot_t *sl, size_t total)
{
    if (sl->sbuf && sbuf_hdr(sl)->cap >= total)
        return 0;
    for (uint32_t i = 0; i < u->nspool; i++) {
        if (u->spool[i].cap < total)
            continue;
        if (sl->sbuf)
            free(sbuf_base(sl));
        sl->sbuf = (char *)u->spool[i].p + sizeof(sbuf_hdr_t);
        sbuf_hdr(sl)->cap = u->spool[i].cap;
        u->spool_bytes -= u->spool[i].cap;
        u->spool[i] = u->spool[--u->nspool];
        return 0;
    }
    size_t cap = total < 65536 + 4096 ? 65536 + 4096 : total; /* a WebSocket 64 KiB frame fits */
    if (total <= SBUF_SMALL)
        cap = total;
    char *nb = realloc(sl->sbuf ? sbuf_base(sl) : NULL, sizeof(sbuf_hdr_t) + cap);
    if (!nb)
        return -ENOMEM;
    sl->sbuf = nb + sizeof(sbuf_hdr_t);
    sbuf_hdr(sl)->cap = (uint32_t)cap;
    return 0;
}

static void send_buf_done(ustate_t *u, uslot_t *sl)
{
    if (!sl->sbuf)
        return;
    uint32_t cap = sbuf_hdr(sl)->cap;
    if (cap > SBUF_SMALL && u->nspool < U_SPOOL && u->spool_bytes + cap <= U_SPOOL_BYTES) {
        u->spool[u->nspool++] = (struct spool){ sbuf_base(sl), cap };
        u->spool_bytes += cap;
    } else {
        free(sbuf_base(sl));
    }
    sl->sbuf = NULL;
}

static ssize_t u_send(c1m_conn_t *c, const struct iovec *iov, int iovcnt)
{
    ustate_t *u = st_of(c->loop);
    uint32_t s = (uint32_t)c->io.fd;
    uslot_t *sl = &u->slots[s];
    if (sl->err)
        return -sl->err;
    if (sl->sending)
        return -EAGAIN;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total > U_SEND_MAX)
        total = U_SEND_MAX;
    if (total == 0)
        return 0;
    if (send_buf(u, sl, total) < 0)
        return -ENOMEM;
    size_t off = 0;
    for (int i = 0; i < iovcnt && off < total; i++) {
        size_t k = iov[i].iov_len < total - off ? iov[i].iov_len : total - off;
        memcpy(sl->sbuf + off, iov[i].iov_base, k);
        off += k;
    }
    struct io_uring_sqe *q = get_sqe(u);
    if (!q)
        return -EAGAIN;
    io_uring_prep_send(q, (int)s, sl->sbuf, total, MSG_NOSIGNAL);
    q->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(q, UD(OP_SEND, s));
    sl->sending = 1;
    sl->slen = (uint32_t)total;
    sl->soff = 0;
    sbuf_hdr(sl)->epoch = u->epoch;
    c->flags |= C1M_CONN_INFLIGHT; /* the loop counts them as unsent until on_send */
    return (ssize_t)total;
}

/* Bytes of the send in flight the kernel has not taken yet (the loop
 * calls this only while C1M_CONN_INFLIGHT is set). A send not submitted
 * yet counts 1: the kernel has not refused any of it (epoll's write() would
 * have put what fits into the socket buffer at once), so it weighs nothing
 * against the watermarks or a WebSocket subscriber's limit (readers that
 * keep up were judged slow when a few broadcasts came in one iteration),
 * but output is still pending: not drained, the write timeout still armed.
 * Once submitted and not complete, the kernel is waiting for room: every
 * byte counts. */
static size_t u_in_flight(const c1m_conn_t *c)
{
    const ustate_t *u = st_of(c->loop);
    const uslot_t *sl = &u->slots[(uint32_t)c->io.fd];
    if (!sl->sending)
        return 0;
    return sbuf_hdr(sl)->epoch == u->epoch ? 1 : sl->slen - sl->soff;
}

static void prep_shutdown(ustate_t *u, uint32_t s)
{
    struct io_uring_sqe *q = get_sqe(u);
    if (!q)
        return;
    io_uring_prep_shutdown(q, (int)s, SHUT_WR);
    q->flags |= IOSQE_FIXED_FILE;
    prep_ignored(u, q);
}

static void u_shutdown_wr(c1m_conn_t *c)
{
    ustate_t *u = st_of(c->loop);
    uint32_t s = (uint32_t)c->io.fd;
    if (u->slots[s].sending)
        u->slots[s].shut_pending = 1; /* after the bytes already handed over */
    else
        prep_shutdown(u, s);
}

static void cancel_connect(ustate_t *u, uint32_t s)
{
    struct io_uring_sqe *q = get_sqe(u);
    if (!q)
        return;
    /* found once the connect waits for the handshake; a chain still at
     * its first steps runs on, and its end closes the slot */
    io_uring_prep_cancel64(q, UD(OP_CONNECT, s), 0);
    prep_ignored(u, q);
}

static void u_close(c1m_conn_t *c)
{
    ustate_t *u = st_of(c->loop);
    uint32_t s = (uint32_t)c->io.fd;
    uslot_t *sl = &u->slots[s];
    sl->c = NULL;
    sl->state = S_CLOSING;
    give_back_queue(u, sl);
    cancel_recv(u, s);
    /* A send in flight waits for room in the socket buffer. After an
     * orderly close (the protocol's, the peer's EOF) its bytes still go
     * out, as written bytes do on epoll. Any other close (a timeout, an
     * error, shutdown) is what epoll does with output the kernel has not
     * taken: dropped; cancelling the send lets the socket close now (a
     * peer that never reads would otherwise hold it forever). The send
     * was submitted before the cancel, so bytes that fit went out. */
    if (sl->connecting)
        cancel_connect(u, s);
    if (sl->sending && c->close_reason != C1M_CLOSE_LOCAL && c->close_reason != C1M_CLOSE_PEER) {
        struct io_uring_sqe *q = get_sqe(u);
        if (q) {
            io_uring_prep_cancel64(q, UD(OP_SEND, s), 0);
            prep_ignored(u, q);
            sl->abandon = 1;
        }
    }
    maybe_finish_close(u, s); /* else when the recv and send complete */
    c->io.registered = 0;
}

static int u_sock_error(c1m_conn_t *c)
{
    return st_of(c->loop)->slots[(uint32_t)c->io.fd].err;
}

/* ---- listeners and watchers ------------------------------------------ */

static int watch_index(ustate_t *u, c1m_io_t *io, bool create)
{
    int free_i = -1;
    for (int i = 0; i < U_MAX_WATCH; i++) {
        if (u->watch[i].io == io)
            return i;
        if (!u->watch[i].io && free_i < 0)
            free_i = i;
    }
    if (!create || free_i < 0)
        return -ENOSPC;
    u->watch[free_i] = (uwatch_t){ .io = io };
    return free_i;
}

static unsigned to_poll(unsigned ev)
{
    return (ev & C1M_EV_READ ? POLLIN : 0u) | (ev & C1M_EV_WRITE ? POLLOUT : 0u);
}

static void arm_watch(ustate_t *u, int i)
{
    uwatch_t *w = &u->watch[i];
    struct io_uring_sqe *q = get_sqe(u);
    if (!q)
        return;
    if (w->io->kind == C1M_IO_LISTENER && w->regular)
        io_uring_prep_multishot_accept(q, w->io->fd, NULL, NULL, SOCK_CLOEXEC);
    else if (w->io->kind == C1M_IO_LISTENER && u->peer)
        peer_prep_accept(u, w, q);
    else if (w->io->kind == C1M_IO_LISTENER) {
        io_uring_prep_multishot_accept_direct(q, w->io->fd, NULL, NULL, 0);
        u->accept_direct = true;
    }
    else
        io_uring_prep_poll_multishot(q, w->io->fd, to_poll(w->events));
    w->gen = (w->gen + 1) & 0xffffff;
    io_uring_sqe_set_data64(q, UD(w->io->kind == C1M_IO_LISTENER ? OP_ACCEPT : OP_POLL,
                                  (uint32_t)i | w->gen << 8));
    w->armed = 1;
}

static void disarm_watch(ustate_t *u, int i)
{
    uwatch_t *w = &u->watch[i];
    if (!w->armed)
        return;
    struct io_uring_sqe *q = get_sqe(u);
    if (!q)
        return;
    io_uring_prep_cancel64(q, UD(w->io->kind == C1M_IO_LISTENER ? OP_ACCEPT : OP_POLL,
                                 (uint32_t)i | w->gen << 8), 0);
    prep_ignored(u, q);
    w->armed = 0; /* its last completion is ignored unless re-armed */
}

static int u_watch(c1m_loop_t *loop, c1m_io_t *io, unsigned events, unsigned flags)
{
    (void)flags; /* EXCLUSIVE: every ring has its own accept; the kernel hands each connection to one */
    ustate_t *u = st_of(loop);
    int i = watch_index(u, io, true);
    if (i < 0)
        return i;
    uwatch_t *w = &u->watch[i];
    if (io->kind == C1M_IO_LISTENER) {
        int one = 1; /* accepted sockets inherit it: no setsockopt per connection */
        setsockopt(io->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* dispatch: the acceptor hands each connection to another loop,
         * whose ring installs it (c1m_loop_adopt); a direct descriptor
         * of this ring would mean nothing there */
        w->regular = loop->on_accept != NULL;
    }
    if (w->armed && w->events != events)
        disarm_watch(u, i);
    w->events = events;
    w->watched = 1;
    if (!w->armed)
        arm_watch(u, i);
    if (w->qn) { /* connections accepted while it was not watched */
        w->ready = 1;
    }
    io->registered = 1;
    return 0;
}

static void u_unwatch(c1m_loop_t *loop, c1m_io_t *io)
{
    ustate_t *u = st_of(loop);
    int i = watch_index(u, io, false);
    io->registered = 0;
    if (i < 0)
        return;
    u->watch[i].watched = 0;
    disarm_watch(u, i);
    if (!u->watch[i].qn && io->kind != C1M_IO_LISTENER)
        u->watch[i].io = NULL;
}

static int u_accept(c1m_loop_t *loop, c1m_io_t *l)
{
    ustate_t *u = st_of(loop);
    int i = watch_index(u, l, false);
    if (i < 0)
        return -EAGAIN;
    uwatch_t *w = &u->watch[i];
    if (w->qn) {
        uint32_t s = w->q[w->qh];
        w->qh = (w->qh + 1) % w->qcap;
        w->qn--;
        if (!w->regular)
            u->just_accepted = (int)s;
        return (int)s;
    }
    if (w->err) {
        int e = w->err;
        w->err = 0;
        return -e;
    }
    return -EAGAIN;
}

static void u_drop(c1m_loop_t *loop, int fd)
{
    ustate_t *u = st_of(loop);
    if (fd >= 0 && fd == u->just_connected && u->slots[fd].connecting) {
        u->just_connected = -1;
        u->slots[fd].state = S_CLOSING;
        cancel_connect(u, (uint32_t)fd);
    } else if (fd >= 0 && fd == u->just_accepted && u->slots[fd].state == S_ACCEPTED) {
        u->just_accepted = -1;
        u->slots[fd].state = S_CLOSING;
        maybe_finish_close(u, (uint32_t)fd);
    } else {
        close(fd); /* a regular fd (a client socket the backend refused) */
    }
}

static int push_accepted(ustate_t *u, uwatch_t *w, uint32_t s)
{
    if (w->qn == w->qcap) {
        uint32_t ncap = w->qcap ? w->qcap * 2 : 64;
        uint32_t *nq = malloc(ncap * sizeof *nq);
        if (!nq)
            return -ENOMEM;
        for (uint32_t k = 0; k < w->qn; k++)
            nq[k] = w->q[(w->qh + k) % w->qcap];
        free(w->q);
        w->q = nq;
        w->qh = 0;
        w->qcap = ncap;
    }
    w->q[(w->qh + w->qn) % w->qcap] = s;
    w->qn++;
    if (!w->regular)
        u->slots[s] = (uslot_t){ .state = S_ACCEPTED, .qhead = NIL, .qtail = NIL,
                                 .ready = u->slots[s].ready };
    return 0;
}

/* ---- completions -------------------------------------------------------- */

static void return_lent(ustate_t *u)
{
    for (uint32_t i = 0; i < u->nlent; i++)
        c1m_bufring_return(&u->br, (uint16_t)u->lent[i]);
    u->nlent = 0;
}

/* Present a connection's events: READ while it has bytes (or its end) and
 * wants them, one buffer per dispatch (level-triggered); WRITE when it
 * waits to write and no send is in flight. */
static void pump(c1m_loop_t *loop, ustate_t *u, uint32_t s, unsigned extra)
{
    uslot_t *sl = &u->slots[s];
    int k;
    for (k = 0; k < U_PUMP_MAX && sl->c; k++) {
        unsigned w = want(sl), ev = extra;
        extra = 0;
        if ((w & C1M_EV_READ) && (sl->qhead != NIL || sl->eof || sl->err))
            ev |= C1M_EV_READ;
        if ((w & C1M_EV_WRITE) && !sl->sending && !sl->connecting)
            ev |= C1M_EV_WRITE;
        if (!ev)
            break;
        uint32_t before = sl->qhead;
        c1m__loop_dispatch(loop, &sl->c->io, ev);
        return_lent(u);
        /* again only while it reads buffers that were already here; a
         * write, an error or the end is presented once */
        if (!(ev & C1M_EV_READ) || sl->qhead == before || sl->qhead == NIL)
            break;
    }
    /* Stopped by the cap with buffers still queued: no completion may come
     * for them (the peer has sent everything), so the next iteration goes
     * on from the ready list. Without this a 1 MiB WebSocket message (512
     * buffers) waited for the next event on its connection: 30 s, the
     * keep-alive ping. */
    if (k == U_PUMP_MAX && sl->c && sl->qhead != NIL && (want(sl) & C1M_EV_READ))
        make_ready(u, s);
}

static void on_recv(c1m_loop_t *loop, ustate_t *u, uint32_t s, int res, unsigned flags)
{
    uslot_t *sl = &u->slots[s];
    bool more = flags & IORING_CQE_F_MORE;
    if (!more) {
        sl->recv_armed = 0;
        sl->cancel_sent = 0;
    }
    if (res > 0) {
        c1m_bufring_piece_t *p = u->pieces;
        int n = c1m_bufring_lend(&u->br, res, flags, p, (int)u->nbufs);
        if (n < 0) {
            c1m_error("loop %u: io_uring recv completion: %s", loop->id, strerror(-n));
            sl->err = EPROTO;
        }
        for (int i = 0; i < n; i++) {
            if (!sl->c) {
                c1m_bufring_return(&u->br, p[i].bid);
                continue;
            }
            u->len[p[i].bid] = p[i].len;
            u->next[p[i].bid] = NIL;
            if (sl->qtail == NIL)
                sl->qhead = p[i].bid;
            else
                u->next[sl->qtail] = p[i].bid;
            sl->qtail = p[i].bid;
        }
    } else if (res == 0) {
        sl->eof = 1;
    } else if (res == -ENOBUFS) {
        if (sl->c && !more)
            u->rearm[u->nrearm++] = s; /* once buffers are back */
    } else if (res != -ECANCELED) {
        sl->err = -res;
    }
    if (!sl->c) {
        maybe_finish_close(u, s);
        return;
    }
    if (!more && res > 0 && (want(sl) & C1M_EV_READ))
        arm_recv(u, s);
    else if (!more && res == -ECANCELED && (want(sl) & C1M_EV_READ) && !sl->eof && !sl->err)
        arm_recv(u, s); /* cancelled, and wanted again before it ended */
    pump(loop, u, s, 0);
}

static void on_send(c1m_loop_t *loop, ustate_t *u, uint32_t s, int res)
{
    uslot_t *sl = &u->slots[s];
    if (res < 0) {
        sl->sending = 0;
        if (!sl->err)
            sl->err = -res;
    } else if (sl->soff + (uint32_t)res < sl->slen && res > 0 && sl->state != S_FREE &&
               !sl->abandon) {
        sl->soff += (uint32_t)res; /* short: send the rest, still in flight */
        struct io_uring_sqe *q = get_sqe(u);
        if (q) {
            io_uring_prep_send(q, (int)s, sl->sbuf + sl->soff, sl->slen - sl->soff, MSG_NOSIGNAL);
            q->flags |= IOSQE_FIXED_FILE;
            io_uring_sqe_set_data64(q, UD(OP_SEND, s));
            sbuf_hdr(sl)->epoch = u->epoch - 1; /* the socket was full: these wait for room */
            return;
        }
        sl->sending = 0;
        sl->err = ENOMEM;
    } else {
        sl->sending = 0;
        if (sl->shut_pending) {
            sl->shut_pending = 0;
            prep_shutdown(u, s);
        }
    }
    /* no send in flight: an idle connection keeps no send buffer (a small
     * one's next malloc comes from the thread's cache, a large one waits in
     * the pool) */
    if (!sl->sending)
        send_buf_done(u, sl);
    if (!sl->c) {
        maybe_finish_close(u, s);
        return;
    }
    unsigned ev = sl->err ? C1M_EV_ERROR : 0u;
    if (!sl->sending && (sl->c->flags & C1M_CONN_INFLIGHT)) {
        /* all out (or failed): the loop's pending output shrank by them */
        sl->c->flags &= (uint16_t)~C1M_CONN_INFLIGHT;
        ev |= C1M_EV_WRITE | C1M_EV_SENT;
    }
    pump(loop, u, s, ev);
}

static void on_connect(c1m_loop_t *loop, ustate_t *u, uint32_t s, int res)
{
    uslot_t *sl = &u->slots[s];
    sl->connecting = 0;
    if (res < 0 && !sl->err)
        sl->err = -res; /* ECANCELED: a close cancelled it */
    if (!sl->c) {
        maybe_finish_close(u, s);
        return;
    }
    pump(loop, u, s, sl->err ? C1M_EV_ERROR : 0); /* WRITE: connect_done */
}

/* ---- client connections ------------------------------------------------ */

/* The first connect on a loop that does not accept into direct
 * descriptors: all but U_CLIENT_ALLOC slots become ours to give. */
static int client_split(ustate_t *u)
{
    u->caddr = calloc(u->sq, sizeof *u->caddr);
    if (!u->caddr)
        return -ENOMEM;
    if (!u->accept_direct && u->own_base > U_CLIENT_ALLOC) {
        int rc = io_uring_register_file_alloc_range(&u->ring, 0, U_CLIENT_ALLOC);
        if (rc < 0)
            return rc;
        for (uint32_t i = u->own_base; i-- > U_CLIENT_ALLOC;)
            u->own_free[u->nown_free++] = i;
        u->own_base = U_CLIENT_ALLOC;
    }
    u->client_split = true;
    return 0;
}

static void chain_step(ustate_t *u, struct io_uring_sqe *q, uint32_t s)
{
    q->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(q, UD(OP_CSTEP, s));
}

static int u_connect(c1m_loop_t *loop, const struct sockaddr *src, const struct sockaddr *dst,
                     unsigned addrlen)
{
    static const int one = 1; /* read when the setsockopt runs: must stay */
    ustate_t *u = st_of(loop);
    if (addrlen > sizeof(struct sockaddr_storage))
        return -EINVAL;
    if (!u->client_split) {
        int rc = client_split(u);
        if (rc < 0)
            return rc;
    }
    if (!u->nown_free)
        return -EMFILE; /* the ring's table is full */
    if (io_uring_sq_space_left(&u->ring) < U_CHAIN_MAX || u->ncaddr == u->sq) {
        if (!u->enabled)
            return -EAGAIN;
        flush(u); /* a chain must not be cut by a submission */
    }
    uint32_t s = u->own_free[--u->nown_free];
    struct caddr *a = &u->caddr[u->ncaddr++];
    memcpy(&a->dst, dst, addrlen);
    struct io_uring_sqe *q = io_uring_get_sqe(&u->ring);
    io_uring_prep_socket_direct(q, dst->sa_family, SOCK_STREAM, 0, s, 0);
    chain_step(u, q, s);
    if (src) {
        memcpy(&a->src, src, addrlen);
        q = io_uring_get_sqe(&u->ring);
        c1m_uring_prep_setsockopt(q, (int)s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        q->flags |= IOSQE_FIXED_FILE;
        chain_step(u, q, s);
        q = io_uring_get_sqe(&u->ring);
        c1m_uring_prep_bind(q, (int)s, (struct sockaddr *)&a->src, addrlen);
        q->flags |= IOSQE_FIXED_FILE;
        chain_step(u, q, s);
    }
    q = io_uring_get_sqe(&u->ring);
    c1m_uring_prep_setsockopt(q, (int)s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    q->flags |= IOSQE_FIXED_FILE;
    chain_step(u, q, s);
    q = io_uring_get_sqe(&u->ring);
    io_uring_prep_connect(q, (int)s, (struct sockaddr *)&a->dst, addrlen);
    q->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(q, UD(OP_CONNECT, s));
    if (u->peer)
        peer_record(u, s, (const struct sockaddr_storage *)dst, addrlen);
    u->slots[s] = (uslot_t){ .state = S_ACCEPTED, .qhead = NIL, .qtail = NIL, .connecting = 1,
                             .ready = u->slots[s].ready };
    u->just_connected = (int)s;
    return (int)s;
}

/* A connection accepted after the loop stopped watching the listener:
 * the multishot accept takes every connection the backlog holds in one
 * go, and the loop may read the stop message (a drain) from the same
 * batch of completions before those accepts. Kept for a paused listener
 * (served when it is watched again); while the loop drains they are its
 * to serve, as what was accepted before the stop: nobody else will, and
 * the ring's teardown would reset them (measured: 306 connections of
 * one upgrade under HTTP load, each a lost request). None come after
 * that batch: the accept runs as task work inside io_uring_enter, after
 * the enter's submissions, so the cancel (unwatch) is seen first. */
static void serve_late(c1m_loop_t *loop, uwatch_t *w)
{
    while (w->qn && c1m_loop_draining(loop)) {
        uint32_t before = w->qn;
        c1m__loop_dispatch(loop, w->io, C1M_EV_READ);
        if (w->qn >= before)
            break; /* the loop cannot take them (full) */
    }
}

static void on_accept(c1m_loop_t *loop, ustate_t *u, uint32_t x, int res, unsigned flags)
{
    int i = (int)(x & 0xff);
    uwatch_t *w = &u->watch[i];
    bool current = (x >> 8) == w->gen && w->armed;
    if (!current && res < 0)
        return; /* the end of a request we replaced */
    if (current && !(flags & IORING_CQE_F_MORE))
        w->armed = 0;
    if (res >= 0)
        w->accepted = 1;
    if (res >= 0 && u->peer && !w->regular && (uint32_t)res < u->nslots)
        peer_record(u, (uint32_t)res, &w->addr, w->alen);
    if (res >= 0) {
        if (w->regular && push_accepted(u, w, (uint32_t)res) < 0) {
            close(res);
        } else if (!w->regular && ((uint32_t)res >= u->nslots || push_accepted(u, w, (uint32_t)res) < 0)) {
            struct io_uring_sqe *q = get_sqe(u); /* cannot keep it */
            if (q) {
                io_uring_prep_close_direct(q, (unsigned)res);
                prep_ignored(u, q);
            }
        }
    } else if (res != -ECANCELED && res != -EAGAIN) {
        w->err = -res; /* ENFILE: the table is full; the loop backs off */
    }
    if (w->io && !w->watched && w->qn)
        serve_late(loop, w);
    if (!w->io || !w->watched)
        return;
    if (!w->armed && !w->err)
        arm_watch(u, i);
    if (w->qn || w->err) {
        c1m__loop_dispatch(loop, w->io, C1M_EV_READ);
        w->ready = w->watched && w->qn > 0; /* more than one batch: again later */
        /* An error ended the accept (ECONNABORTED, EPROTO, ...) and the
         * loop took it without pausing (a pause unwatches): accept again,
         * or the listener is deaf in this ring for good. */
        if (w->io && w->watched && !w->armed && !w->err)
            arm_watch(u, i);
    }
}

/* Connections waiting in the backlog of a listener whose accept is armed,
 * and no accept completed for U_ACCEPT_CHECK_MS: a lost wake-up, so arm
 * the accept again (a new one accepts at once what is queued). A listener
 * wakes one accept of those waiting on it (exclusive, as EPOLLEXCLUSIVE),
 * and an accept that was cancelled stays in the listener's wait queue
 * until its ring runs task work: on a shared listener a cancel that is
 * not processed yet (a sibling that paused or drains, the per-batch
 * re-arm of a shared listener, a process that died while its ring is
 * torn down) takes the wake-up of the next connection, and that
 * connection waits until another arrives. Seen as 18-65 connections never
 * accepted in 1 of ~60 serve_archs runs (prefork, exclusive), and as
 * probes unanswered after an upgrade; epoll removes a waiter at once. */
static void check_backlogs(ustate_t *u, uint64_t now)
{
    u->check_ms = now + U_ACCEPT_CHECK_MS;
    for (int i = 0; i < U_MAX_WATCH; i++) {
        uwatch_t *w = &u->watch[i];
        if (!w->io || w->io->kind != C1M_IO_LISTENER || !w->watched || !w->armed)
            continue;
        if (!w->accepted && c1m__share_backlog(w->io->fd) > 0) {
            disarm_watch(u, i);
            arm_watch(u, i);
            u->rekicks++;
        }
        w->accepted = 0;
    }
}

/* The wait's bound while a listener is armed: check_backlogs runs on time
 * on an idle loop too (a lost wake-up is seen only by looking). */
static int backlog_wait(c1m_loop_t *loop, ustate_t *u, int timeout_ms)
{
    if (!loop->nlisteners)
        return timeout_ms; /* a client loop: nothing to look at */
    uint64_t now = loop->now_ms; /* read at the last wake: no clock read per poll */
    if (now >= u->check_ms)
        check_backlogs(u, now);
    int left = (int)(u->check_ms - now);
    return timeout_ms < 0 || timeout_ms > left ? left : timeout_ms;
}

static void on_poll(c1m_loop_t *loop, ustate_t *u, uint32_t x, int res, unsigned flags)
{
    int i = (int)(x & 0xff);
    uwatch_t *w = &u->watch[i];
    if ((x >> 8) != w->gen || !w->armed)
        return; /* the end of a request we replaced or cancelled */
    if (!(flags & IORING_CQE_F_MORE))
        w->armed = 0;
    if (!w->io || !w->watched)
        return;
    if (!w->armed)
        arm_watch(u, i);
    if (res < 0)
        return;
    unsigned ev = (res & POLLIN ? C1M_EV_READ : 0u) | (res & POLLOUT ? C1M_EV_WRITE : 0u) |
                  (res & POLLERR ? C1M_EV_ERROR : 0u) | (res & POLLHUP ? C1M_EV_HUP : 0u);
    c1m__loop_dispatch(loop, w->io, ev);
}

static void handle_cqe(c1m_loop_t *loop, ustate_t *u, const struct io_uring_cqe *cqe)
{
    uint32_t x = (uint32_t)cqe->user_data;
    switch ((int)(cqe->user_data >> 32)) {
    case OP_RECV: on_recv(loop, u, x, cqe->res, cqe->flags); break;
    case OP_SEND: on_send(loop, u, x, cqe->res); break;
    case OP_ACCEPT: on_accept(loop, u, x, cqe->res, cqe->flags); break;
    case OP_POLL: on_poll(loop, u, x, cqe->res, cqe->flags); break;
    case OP_CLOSE_OWN: u->own_free[u->nown_free++] = x; break;
    case OP_CSTEP:
        /* A step before the connect failed (successes post nothing). A
         * failed request with IOSQE_CQE_SKIP_SUCCESS also silences the
         * rest of its chain (the kernel's REQ_F_SKIP_LINK_CQES): the
         * connect will not complete, so this is the chain's end. */
        if (u->slots[x].connecting)
            on_connect(loop, u, x, cqe->res);
        break;
    case OP_CONNECT: on_connect(loop, u, x, cqe->res); break;
    default: break; /* closes, cancels, shutdowns: nothing to do */
    }
}

/* Events that are not completions: a connection that wants again what is
 * already here, listeners with accepted connections left. */
static int run_ready(c1m_loop_t *loop, ustate_t *u)
{
    int n = 0;
    for (int pass = 0; pass < 4 && u->nready; pass++) {
        uint32_t cnt = u->nready;
        for (uint32_t k = 0; k < cnt; k++) {
            uint32_t s = u->ready[k];
            u->slots[s].ready = 0;
            if (u->slots[s].c) {
                pump(loop, u, s, 0);
                n++;
            }
        }
        memmove(u->ready, u->ready + cnt, (u->nready - cnt) * sizeof *u->ready);
        u->nready -= cnt;
    }
    for (int i = 0; i < U_MAX_WATCH; i++) {
        uwatch_t *w = &u->watch[i];
        if (w->ready && w->io && w->watched && w->qn) {
            w->ready = 0;
            c1m__loop_dispatch(loop, w->io, C1M_EV_READ);
            w->ready = w->watched && w->qn > 0;
            n++;
        }
    }
    return n;
}

static bool anything_ready(const ustate_t *u)
{
    if (u->nready)
        return true;
    for (int i = 0; i < U_MAX_WATCH; i++)
        if (u->watch[i].ready && u->watch[i].watched && u->watch[i].qn)
            return true;
    return false;
}

static int u_poll(c1m_loop_t *loop, int timeout_ms)
{
    ustate_t *u = st_of(loop);
    if (!u->enabled) { /* first poll: this thread becomes the ring's only issuer */
        int rc = c1m_uring_enable_rings(&u->ring);
        if (rc < 0) {
            c1m_error("loop %u: io_uring enable: %s", loop->id, strerror(-rc));
            return rc;
        }
        u->enabled = true;
        io_uring_register_ring_fd(&u->ring); /* per thread: enter without fd lookups */
    }
    if (u->nrearm && c1m_bufring_out(&u->br) < u->nbufs) { /* ENOBUFS: buffers are back */
        for (uint32_t i = 0; i < u->nrearm; i++) {
            uslot_t *sl = &u->slots[u->rearm[i]];
            if (sl->c && !sl->recv_armed && (want(sl) & C1M_EV_READ))
                arm_recv(u, u->rearm[i]);
        }
        u->nrearm = 0;
    }
    c1m_bufring_publish(&u->br);
    u->ncaddr = 0; /* the enter below submits the connects: addresses copied */
    timeout_ms = backlog_wait(loop, u, timeout_ms);
    if (anything_ready(u))
        timeout_ms = 0;
    int rc;
    struct io_uring_cqe *cqe;
    if (timeout_ms < 0) {
        rc = io_uring_submit_and_wait(&u->ring, 1);
    } else if (timeout_ms == 0) {
        rc = io_uring_submit_and_get_events(&u->ring);
    } else {
        struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
                                        .tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
        rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    c1m__loop_woke(loop);
    u->epoch++; /* what was prepared is submitted now */
    if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY && rc != -EAGAIN) {
        c1m_error("loop %u: io_uring_enter: %s", loop->id, strerror(-rc));
        return rc;
    }
    int n = 0;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe) {
        seen++;
        handle_cqe(loop, u, cqe);
        n++;
    }
    io_uring_cq_advance(&u->ring, seen);
    n += run_ready(loop, u);
    return n;
}

/* ---- the loop's end --------------------------------------------------- */

/* Slots of closed connections the kernel may still name: a send, a recv
 * or a connect to finish, or the close itself not queued yet. */
static bool closing_left(const ustate_t *u)
{
    for (uint32_t i = 0; i < u->nslots; i++)
        if (u->slots[i].state == S_CLOSING && !u->slots[i].c)
            return true;
    return false;
}

/* The loop has ended, every connection closed. An answer written in its
 * last iteration is only an SQE here (submitted by the next poll, which
 * will not come), or a send in flight, and the connection's close waits
 * for it: without this the ring's teardown closed those connections with
 * the answer unsent, and each client lost a request (11-50 of 1,000
 * keep-alive connections at an upgrade of HTTP under load). Run the ring until every
 * closing slot is free (send done, recv cancelled, close queued), or the
 * deadline; the loop's events are over, so only the completions of
 * closed connections are handled. The closes run at the last submit. */
static void u_settle(c1m_loop_t *loop, uint64_t deadline_ms)
{
    ustate_t *u = st_of(loop);
    if (!u || !u->enabled)
        return;
    for (;;) {
        bool left = closing_left(u);
        uint64_t now = c1m_now_ms();
        c1m_bufring_publish(&u->br);
        if (!left || now >= deadline_ms) {
            io_uring_submit(&u->ring); /* the closes just queued */
            return;
        }
        struct __kernel_timespec ts = { .tv_sec = (long long)((deadline_ms - now) / 1000),
                                        .tv_nsec = (long long)((deadline_ms - now) % 1000) * 1000000 };
        struct io_uring_cqe *cqe;
        int rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY && rc != -EAGAIN)
            return;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&u->ring, head, cqe) {
            seen++;
            int op = (int)(cqe->user_data >> 32);
            uint32_t x = (uint32_t)cqe->user_data;
            if (op == OP_CLOSE_OWN || ((op == OP_RECV || op == OP_SEND || op == OP_CONNECT ||
                                        op == OP_CSTEP) && x < u->nslots && !u->slots[x].c))
                handle_cqe(loop, u, cqe);
        }
        io_uring_cq_advance(&u->ring, seen);
    }
}

const c1m_backend_ops_t c1m__backend_uring = {
    .name = "uring",
    .accepts_ahead = true,
    .init = u_init,
    .fini = u_fini,
    .poll = u_poll,
    .watch = u_watch,
    .unwatch = u_unwatch,
    .conn_add = u_conn_add,
    .conn_update = u_conn_update,
    .conn_forget = u_conn_forget,
    .recv = u_recv,
    .send = u_send,
    .in_flight = u_in_flight,
    .shutdown_wr = u_shutdown_wr,
    .close = u_close,
    .settle = u_settle,
    .sock_error = u_sock_error,
    .peer = u_peer,
    .accept = u_accept,
    .drop = u_drop,
    .connect = u_connect,
};
