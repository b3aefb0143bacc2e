/* c1m bench, the client side: one child process with L loop threads.
 *
 * Each loop owns a contiguous share of the global connection indices and
 * all of their state: connects (explicit source pairs, paced, with a
 * timeout and bounded retries), requests in flight (a ring of `pipeline`
 * send times per connection), reply parsing and verification, and its own
 * histograms in its shared-memory slot. Nothing is shared between loops.
 *
 * Time: the parent publishes the window in wall-clock ns; each loop turns
 * it into monotonic ns once (wall - mono offset) and works in monotonic
 * time from then on. A request belongs to the window when its intended
 * send time is in [t_warm, t_end). */
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"
#include "engine/loop.h"
#include "proto/http1/response.h"
#include "proto/ws/frame.h"
#include "tools/bench.h"

/* BC_UPGRADING (ws): TCP is up, the handshake is out, the 101 is not in. It
 * is still a connect in flight: it holds a place in the connect window and
 * its deadline, and a close or timeout before the 101 is a failed attempt,
 * retried like a refused connect. Counting the window only until TCP is up
 * lets the client open connections far faster than a busy server answers
 * upgrades: the accept queue overflows, SYNs are dropped (connect
 * timeouts), handshakes whose ACK was dropped are reset later (the 1M push
 * run: 32,700 connects "in flight" and 1.26 million errors). */
enum { BC_IDLE = 0, BC_CONNECTING, BC_UPGRADING, BC_OPEN, BC_FAILED, BC_CLOSED };
enum { ST_CONNECT = 0, ST_WAIT, ST_RUN, ST_GRACE, ST_DONE };

#define RETRY_BACKOFF_NS 100000000ull /* x attempt, capped at 1 s */
#define OPEN_SEND_BATCH 65536u            /* open-loop sends per tick at most */

typedef struct bench_req {
    uint64_t intended; /* when it should have been sent (mono ns) */
    uint64_t sent;     /* when it was */
} bench_req_t;

typedef struct bench_conn {
    c1m_conn_t *c;
    uint32_t idx;        /* in the loop's array */
    uint8_t st;
    uint8_t timed_out;   /* the connect timer closed it */
    uint8_t rx_bad;      /* echo: the reply being read differs */
    uint8_t ever_open;   /* established at least once (reconnects) */
    uint8_t last_resp;   /* http: the server announced it closes after this */
    uint8_t bad_101;     /* ws: the server answered the upgrade with no 101 */
    uint32_t attempt;    /* connects started (selects the source pair) */
    uint32_t fails;      /* failed connects since the last success */
    uint32_t inflight;   /* requests sent, reply not complete */
    uint32_t head;       /* ring slot of the oldest in flight */
    uint32_t owed;       /* open loop: due but not sent (pipeline full) */
    uint32_t rx_off;     /* echo: bytes of the current reply checked */
    uint64_t seq_tx, seq_rx;
    uint64_t deadline;   /* connect deadline or retry not-before (mono ns) */
    uint64_t owed_first; /* open loop: intended time of the oldest owed */
    c1m_http_resp_t resp;
    uint8_t ws_up;       /* ws: the 101 arrived */
    uint8_t ws_head[16]; /* ws push: sequence number and timestamp of the message */
    c1m_ws_parser_t wsp; /* ws: the server's frames */
} bench_conn_t;

typedef struct bench_loop {
    const c1m_bench_cfg_t *cfg;
    c1m_bench_shm_t *shm;
    c1m_bench_slot_t *slot;
    c1m_loop_t *loop;
    uint32_t gid, nloops_total;
    uint64_t g_first;
    uint32_t n;
    bench_conn_t *conns;
    bench_req_t *reqs;            /* n x pipeline */
    uint32_t *pending;            /* connects to start: a FIFO ring of n (each
                                     connection is in it at most once) */
    uint64_t pend_head, pend_tail;
    uint64_t connect_t0, issued, next_expire;
    int state;
    int64_t wall_off;             /* wall ns - mono ns */
    uint64_t start_mono, warm_mono, end_mono, grace_mono;
    uint64_t ival_k, ival_end_mono, ival_ns;
    uint64_t inflight_total;
    /* open loop: conn i is due at sched_base + phase(i), every period */
    uint64_t period, sched_base, sched_off;
    uint32_t cursor;
    c1m_watch_t *timer;           /* a timerfd for sends between ticks */
    int timer_fd;
    uint64_t armed_at;
    char *msg, *expect;           /* echo: message and expected-reply scratch */
    uint8_t *wsbuf;               /* ws: unmasked payload scratch */
} bench_loop_t;

#define WSBUF_SIZE 65536u

static const c1m_proto_t bench_protos[4];
static void sched_tick(bench_loop_t *bl, uint64_t now);

/* ---- helpers ---------------------------------------------------------- */

static inline bool in_window(const bench_loop_t *bl, uint64_t t)
{
    return t >= bl->warm_mono && t < bl->end_mono;
}

static int errno_kind(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return C1M_BERR_REFUSED;
    case ETIMEDOUT:
        return C1M_BERR_CONNECT_TIMEOUT;
    case EADDRINUSE:
    case EADDRNOTAVAIL:
        return C1M_BERR_BIND;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        return C1M_BERR_SOCKET;
    default:
        return C1M_BERR_CONNECT;
    }
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Echo pattern: byte i of message `seq` on global connection g. */
static inline uint64_t msg_key(const bench_loop_t *bl, const bench_conn_t *bc, uint64_t seq)
{
    return mix64((bl->g_first + bc->idx) * 0x9e3779b97f4a7c15ull + seq);
}

static void pattern_fill(char *out, uint64_t key, uint32_t from, uint32_t n)
{
    for (uint32_t i = 0; i < n;) {
        uint32_t pos = from + i;
        uint64_t w = mix64(key + (pos >> 3));
        for (uint32_t b = pos & 7; b < 8 && i < n; b++, i++)
            out[i] = (char)(w >> (b * 8));
    }
}

/* ---- intervals -------------------------------------------------------- */

static void ival_roll(bench_loop_t *bl, uint64_t now)
{
    while (now >= bl->ival_end_mono) {
        uint64_t k = ++bl->ival_k;
        c1m_hist_reset(&bl->slot->ival[k & 1]);
        bl->slot->ival_lag_us[k & 1] = 0;
        memset(&bl->slot->ival_ctr[k & 1], 0, sizeof bl->slot->ival_ctr[0]);
        __atomic_store_n(&bl->slot->ival_no[k & 1], k, __ATOMIC_RELEASE);
        bl->ival_end_mono += bl->ival_ns;
    }
}

static void ival_start(bench_loop_t *bl, uint64_t now)
{
    uint64_t wall = (uint64_t)((int64_t)now + bl->wall_off);
    bl->ival_k = wall / bl->ival_ns;
    bl->ival_end_mono = (uint64_t)((int64_t)((bl->ival_k + 1) * bl->ival_ns) - bl->wall_off);
    c1m_hist_reset(&bl->slot->ival[bl->ival_k & 1]);
    memset(&bl->slot->ival_ctr[bl->ival_k & 1], 0, sizeof bl->slot->ival_ctr[0]);
    __atomic_store_n(&bl->slot->ival_no[bl->ival_k & 1], bl->ival_k, __ATOMIC_RELEASE);
}

/* This interval's event counters, or NULL outside the run (the connect
 * ramp has its own progress lines). */
static c1m_bench_ival_ctr_t *ival_ev(bench_loop_t *bl)
{
    if (bl->state != ST_RUN && bl->state != ST_GRACE)
        return NULL;
    ival_roll(bl, c1m_now_ns());
    return &bl->slot->ival_ctr[bl->ival_k & 1];
}

/* ---- requests --------------------------------------------------------- */

static void send_req(bench_loop_t *bl, bench_conn_t *bc, uint64_t intended, uint64_t now)
{
    const c1m_bench_cfg_t *cfg = bl->cfg;
    uint32_t K = cfg->pipeline;
    bench_req_t *r = &bl->reqs[(size_t)bc->idx * K + (bc->head + bc->inflight) % K];
    r->intended = intended;
    r->sent = now;
    bc->inflight++;
    bl->inflight_total++;
    if (in_window(bl, intended))
        bl->slot->win.sent++;
    switch (cfg->proto) {
    case C1M_BENCH_TS8: {
        uint64_t be = htobe64(now);
        c1m_conn_write(bc->c, &be, sizeof be);
        break;
    }
    case C1M_BENCH_ECHO:
        pattern_fill(bl->msg, msg_key(bl, bc, bc->seq_tx), 0, cfg->size);
        c1m_conn_write(bc->c, bl->msg, cfg->size);
        break;
    case C1M_BENCH_WS: { /* a masked binary frame: the payload is the echo pattern */
        uint8_t h[C1M_WS_MAX_HEADER];
        uint32_t key = (uint32_t)mix64(bc->seq_tx ^ ((uint64_t)bc->idx << 32)) | 1u;
        size_t hl = c1m_ws_header_masked(h, C1M_WS_OP_BINARY, true, cfg->size, key);
        pattern_fill(bl->msg, msg_key(bl, bc, bc->seq_tx), 0, cfg->size);
        c1m_ws_mask(bl->msg, bl->msg, cfg->size, key);
        struct iovec iov[2] = { { h, hl }, { bl->msg, cfg->size } };
        c1m_conn_writev(bc->c, iov, 2);
        break;
    }
    default:
        c1m_conn_write(bc->c, cfg->request, cfg->request_len);
        break;
    }
    bc->seq_tx++; /* a failed write closes the connection at the end of the iteration */
}

static bool may_send(const bench_loop_t *bl, const bench_conn_t *bc)
{
    return bl->state == ST_RUN && bc->st == BC_OPEN && !bc->last_resp && c1m_conn_is_open(bc->c) &&
           !(bc->c->flags & C1M_CONN_CLOSING) &&
           (bl->cfg->proto != C1M_BENCH_WS || (bc->ws_up && !bl->cfg->ws_push));
}

static void count_status(c1m_bench_win_ctr_t *w, int status)
{
    if (!status)
        return;
    if (status < 600)
        w->status[status]++;
    int cls = status / 100;
    w->status_class[cls >= 1 && cls <= 5 ? cls : 0]++;
    if (status < 200 || status > 299)
        w->non2xx++;
}

/* A reply is complete: record it, then send what comes next. */
static void complete(bench_loop_t *bl, bench_conn_t *bc, bool ok, int status)
{
    uint32_t K = bl->cfg->pipeline;
    bench_req_t r = bl->reqs[(size_t)bc->idx * K + bc->head];
    bc->head = (bc->head + 1) % K;
    bc->inflight--;
    bl->inflight_total--;
    bc->seq_rx++;
    uint64_t now = c1m_now_ns();
    c1m_bench_slot_t *s = bl->slot;
    uint64_t lat = (now - r.intended + 500) / 1000, svc = (now - r.sent + 500) / 1000;
    if (!ok)
        s->win.mismatches++;
    /* interval lines: replies completed in [start, end of window). The
     * last interval is cut at the window's end (the parent divides by the
     * time up to it), so a reply of the grace period must not land in it. */
    if (bl->state >= ST_RUN && r.intended >= bl->start_mono && now < bl->end_mono) {
        ival_roll(bl, now);
        c1m_hist_record(&s->ival[bl->ival_k & 1], lat);
    }
    if (in_window(bl, r.intended)) { /* latency: every request sent in the window */
        c1m_hist_record(&s->lat, lat);
        c1m_hist_record(&s->svc, svc);
    }
    if (in_window(bl, now)) { /* throughput: every reply completed in the window */
        s->win.requests++;
        count_status(&s->win, status);
    }
    if (!may_send(bl, bc))
        return;
    if (bl->cfg->rate) {
        if (bc->owed) {
            send_req(bl, bc, bc->owed_first, now);
            bc->owed_first += bl->period;
            bc->owed--;
        }
        sched_tick(bl, now); /* under load, sends leave between ticks too */
    } else if (now < bl->end_mono) {
        send_req(bl, bc, now, now);
    }
}

/* Requests that will get no reply: in flight (lost) or owed (unsent). */
static void drop_outstanding(bench_loop_t *bl, bench_conn_t *bc)
{
    uint32_t K = bl->cfg->pipeline;
    for (uint32_t i = 0; i < bc->inflight; i++)
        if (in_window(bl, bl->reqs[(size_t)bc->idx * K + (bc->head + i) % K].intended))
            bl->slot->win.lost++;
    for (uint32_t i = 0; i < bc->owed; i++)
        if (in_window(bl, bc->owed_first + i * bl->period))
            bl->slot->win.unsent++;
    bl->inflight_total -= bc->inflight;
    bc->inflight = 0;
    bc->owed = 0;
}

/* ---- protocols ---------------------------------------------------------- */

static ssize_t unexpected(bench_loop_t *bl, size_t len)
{
    if (bl->state == ST_DONE)
        return (ssize_t)len; /* late replies to requests already counted lost */
    bl->slot->win.mismatches++; /* bytes nobody asked for */
    return -1;
}

static ssize_t ts8_data(c1m_conn_t *c, const char *d, size_t len)
{
    bench_conn_t *bc = c->ud;
    bench_loop_t *bl = c->loop->user;
    size_t n = len / 8 * 8;
    for (size_t off = 0; off < n; off += 8) {
        if (!bc->inflight)
            return unexpected(bl, len);
        uint64_t be;
        memcpy(&be, d + off, 8);
        uint32_t K = bl->cfg->pipeline;
        bool ok = be64toh(be) == bl->reqs[(size_t)bc->idx * K + bc->head].sent;
        complete(bl, bc, ok, 0);
    }
    return (ssize_t)n;
}

static ssize_t echo_data(c1m_conn_t *c, const char *d, size_t len)
{
    bench_conn_t *bc = c->ud;
    bench_loop_t *bl = c->loop->user;
    uint32_t size = bl->cfg->size;
    size_t off = 0;
    while (off < len) {
        if (!bc->inflight)
            return unexpected(bl, len);
        uint32_t take = (uint32_t)C1M_MIN((size_t)(size - bc->rx_off), len - off);
        pattern_fill(bl->expect, msg_key(bl, bc, bc->seq_rx), bc->rx_off, take);
        if (memcmp(d + off, bl->expect, take))
            bc->rx_bad = 1;
        bc->rx_off += take;
        off += take;
        if (bc->rx_off == size) {
            bool ok = !bc->rx_bad;
            bc->rx_off = 0;
            bc->rx_bad = 0;
            complete(bl, bc, ok, 0);
        }
    }
    return (ssize_t)len;
}

static ssize_t http_data(c1m_conn_t *c, const char *d, size_t len)
{
    bench_conn_t *bc = c->ud;
    bench_loop_t *bl = c->loop->user;
    size_t off = 0;
    while (off < len) {
        if (!bc->inflight) {
            if (bl->state == ST_DONE)
                return (ssize_t)len;
            bl->slot->conn.errors[C1M_BERR_PARSE]++;
            return -1;
        }
        bool done;
        ssize_t u = c1m_http_resp_feed(&bc->resp, d + off, len - off, &done);
        if (u < 0) {
            bl->slot->conn.errors[C1M_BERR_PARSE]++;
            return -1;
        }
        off += (size_t)u;
        if (done && bc->resp.close)
            bc->last_resp = 1; /* send nothing more on this connection */
        if (done)
            complete(bl, bc, true, bc->resp.status);
        else if (u == 0)
            break; /* an incomplete head or line: the engine keeps it */
    }
    return (ssize_t)off;
}

/* ---- connects ----------------------------------------------------------- */

static void pend_push(bench_loop_t *bl, bench_conn_t *bc)
{
    bl->pending[bl->pend_tail++ % bl->n] = bc->idx;
}

static void retry_or_fail(bench_loop_t *bl, bench_conn_t *bc, int kind, uint64_t now)
{
    c1m_bench_slot_t *s = bl->slot;
    s->conn.errors[kind]++;
    c1m_bench_ival_ctr_t *ev = ival_ev(bl);
    if (ev)
        ev->connect_errors++;
    bc->c = NULL;
    if (++bc->fails <= bl->cfg->retries && bl->state < ST_GRACE) {
        bc->st = BC_IDLE;
        bc->deadline = now + C1M_MIN(RETRY_BACKOFF_NS * bc->fails, 1000000000ull);
        pend_push(bl, bc);
        return;
    }
    bc->st = BC_FAILED;
    s->conn.failed++;
    s->conn.settled++;
}

static void start_connect(bench_loop_t *bl, bench_conn_t *bc, uint64_t now)
{
    const c1m_bench_cfg_t *cfg = bl->cfg;
    struct sockaddr_in src;
    uint64_t i = c1m_srcaddr_index(bl->g_first + bc->idx, cfg->conns, bc->attempt);
    bc->attempt++;
    bl->issued++;
    bl->slot->conn.attempts++;
    if (!cfg->src.naddrs) {
        src.sin_family = 0; /* no --source for a remote target: the kernel picks */
    } else if (c1m_srcaddr_get(&cfg->src, i, &src) < 0) {
        bc->fails = cfg->retries; /* out of source pairs: give up */
        retry_or_fail(bl, bc, C1M_BERR_BIND, now);
        return;
    }
    bc->timed_out = 0;
    bc->st = BC_CONNECTING;
    bl->slot->conn.connecting++;
    c1m_conn_t *c = c1m_loop_connect(bl->loop, src.sin_family ? (struct sockaddr *)&src : NULL,
                                     (const struct sockaddr *)&cfg->dst, sizeof src,
                                     &bench_protos[cfg->proto], bc);
    if (!c) {
        int kind = errno_kind(errno);
        bl->slot->conn.connecting--;
        retry_or_fail(bl, bc, kind, now);
        return;
    }
    bc->c = c;
    bc->deadline = now + cfg->connect_timeout_us * 1000;
}

static void issue_connects(bench_loop_t *bl, uint64_t now)
{
    const c1m_bench_cfg_t *cfg = bl->cfg;
    uint64_t allowed = UINT64_MAX;
    if (cfg->connect_rate) {
        double r = (double)cfg->connect_rate / bl->nloops_total;
        uint64_t due = (uint64_t)(r * (double)(now - bl->connect_t0) / 1e9) + 1;
        allowed = due > bl->issued ? due - bl->issued : 0;
    }
    while (allowed && bl->pend_head < bl->pend_tail &&
           bl->slot->conn.connecting < cfg->connect_window) {
        bench_conn_t *bc = &bl->conns[bl->pending[bl->pend_head % bl->n]];
        if (bc->deadline > now)
            break; /* a retry waiting for its back-off */
        bl->pend_head++;
        start_connect(bl, bc, now);
        allowed--;
    }
}

/* Connect timeouts (ws: until the 101): a scan every 100 ms while connects
 * are in flight (O(n) per scan, n <= 20,000 per loop: cheap, and robust to
 * reconnects). */
static void expire_connects(bench_loop_t *bl, uint64_t now)
{
    if (!bl->slot->conn.connecting || now < bl->next_expire)
        return;
    bl->next_expire = now + 100000000ull;
    for (uint32_t i = 0; i < bl->n; i++) {
        bench_conn_t *bc = &bl->conns[i];
        if ((bc->st == BC_CONNECTING || bc->st == BC_UPGRADING) && bc->deadline <= now) {
            bc->timed_out = 1;
            c1m_conn_close(bc->c, C1M_CLOSE_CONNECT); /* on_close retries */
        }
    }
}

static void start_sending(bench_loop_t *bl, bench_conn_t *bc, uint64_t now)
{
    if (bl->cfg->rate)
        return; /* the schedule sends */
    for (uint32_t k = 0; k < bl->cfg->pipeline && may_send(bl, bc); k++)
        send_req(bl, bc, now, now);
}

/* Counted open: at TCP's connect, or for ws at the 101. */
static void count_open(bench_loop_t *bl, bench_conn_t *bc)
{
    c1m_bench_slot_t *s = bl->slot;
    s->conn.connecting--;
    if (!bc->ever_open) {
        s->conn.established++;
        s->conn.settled++;
    }
    bc->ever_open = 1;
    bc->fails = 0;
    s->conn.live++;
    bc->st = BC_OPEN;
}

static int client_open(c1m_conn_t *c)
{
    bench_conn_t *bc = c->ud;
    bench_loop_t *bl = c->loop->user;
    uint64_t now = c1m_now_ns();
    bc->last_resp = 0;
    c1m_http_resp_init(&bc->resp, bl->cfg->head_method);
    if (bl->cfg->proto == C1M_BENCH_WS) {
        /* the handshake first: still in flight until the 101 (ws_upgraded) */
        bc->st = BC_UPGRADING;
        bc->ws_up = 0;
        bc->bad_101 = 0;
        c1m_ws_parser_init(&bc->wsp, true);
        c1m_conn_write(c, bl->cfg->request, bl->cfg->request_len);
        return 0;
    }
    count_open(bl, bc);
    if (bl->state == ST_RUN)
        start_sending(bl, bc, now);
    issue_connects(bl, now);
    return 0;
}

static void client_close(c1m_conn_t *c, int reason)
{
    int e = errno; /* for C1M_CLOSE_CONNECT: the connect error (engine/loop.c) */
    bench_conn_t *bc = c->ud;
    bench_loop_t *bl = c->loop->user;
    c1m_bench_slot_t *s = bl->slot;
    uint64_t now = c1m_now_ns();
    if (bc->st == BC_CONNECTING || bc->st == BC_UPGRADING) {
        s->conn.connecting--;
        int kind = bc->timed_out ? C1M_BERR_CONNECT_TIMEOUT : errno_kind(e);
        if (bc->st == BC_UPGRADING && !bc->timed_out) {
            /* closed before the 101: reset (RST) or closed (FIN) by the
             * server, retried; an answer that is no 101 is not retried */
            kind = reason == C1M_CLOSE_RESET ? C1M_BERR_RESET
                 : bc->bad_101 ? C1M_BERR_PARSE : C1M_BERR_HANDSHAKE;
            if (bc->bad_101)
                bc->fails = bl->cfg->retries;
        }
        retry_or_fail(bl, bc, kind, now);
        issue_connects(bl, now);
        return;
    }
    if (bc->st != BC_OPEN)
        return;
    s->conn.live--;
    bc->st = BC_CLOSED;
    bc->c = NULL;
    if (bl->cfg->proto == C1M_BENCH_HTTP && reason == C1M_CLOSE_PEER && bc->inflight &&
        c1m_http_resp_eof(&bc->resp)) {
        bc->last_resp = 1;
        complete(bl, bc, true, bc->resp.status); /* a close-delimited body */
    }
    if (bl->state == ST_DONE || reason == C1M_CLOSE_SHUTDOWN || reason == C1M_CLOSE_LOCAL)
        return;
    c1m_bench_ival_ctr_t *ev = ival_ev(bl);
    if (ev) {
        ev->lost += bc->inflight;
        ev->resets += reason == C1M_CLOSE_RESET;
        ev->reconnects += reason == C1M_CLOSE_PEER && bc->last_resp && bl->state <= ST_RUN;
    }
    drop_outstanding(bl, bc);
    switch (reason) {
    case C1M_CLOSE_PEER:
        if (!bc->last_resp)
            s->conn.closed_peer++;
        if (bc->last_resp && bl->state <= ST_RUN) {
            /* the server ends keep-alive connections (nginx: keepalive_requests,
             * 1000 by default): open a new one, as wrk does */
            s->conn.reconnects++;
            bc->st = BC_IDLE;
            bc->deadline = now;
            pend_push(bl, bc);
            issue_connects(bl, now);
        }
        break;
    case C1M_CLOSE_RESET:
        s->conn.closed_peer++;
        s->conn.errors[C1M_BERR_RESET]++;
        break;
    case C1M_CLOSE_NOMEM:
        s->conn.closed_error++;
        s->conn.errors[C1M_BERR_NOMEM]++;
        break;
    case C1M_CLOSE_PROTO: /* counted where the bad bytes were seen */
        s->conn.closed_error++;
        break;
    default:
        s->conn.closed_error++;
        s->conn.errors[C1M_BERR_IO]++;
        break;
    }
}

/* ---- WebSocket client (--proto ws) -------------------------------------- */

static void ws_send_control(bench_conn_t *bc, uint8_t op, const uint8_t *p, size_t n)
{
    uint8_t f[C1M_WS_MAX_HEADER + C1M_WS_MAX_CONTROL];
    uint32_t key = 0x37fa213du;
    size_t hl = c1m_ws_header_masked(f, op, true, n, key);
    c1m_ws_mask(f + hl, p, n, key);
    c1m_conn_write(bc->c, f, hl + n);
}

/* A pushed message is complete: its delivery latency from the timestamp
 * the server put in it (wall clock: one machine here), a gap in the
 * sequence numbers is messages lost. */
static void ws_push_done(bench_loop_t *bl, bench_conn_t *bc, uint32_t len)
{
    if (len < 16) {
        bl->slot->win.mismatches++;
        return;
    }
    uint64_t seq, ts; /* ws_head sits at any offset of the packed connection */
    memcpy(&seq, bc->ws_head, 8);
    memcpy(&ts, bc->ws_head + 8, 8);
    seq = be64toh(seq);
    ts = be64toh(ts);
    uint64_t wall = c1m_wall_ns(), now = c1m_now_ns();
    uint64_t lat = wall > ts ? (wall - ts + 500) / 1000 : 0;
    c1m_bench_slot_t *s = bl->slot;
    if (bl->state >= ST_RUN && bl->state < ST_DONE) {
        ival_roll(bl, now);
        c1m_hist_record(&s->ival[bl->ival_k & 1], lat);
    }
    if (in_window(bl, now)) {
        c1m_hist_record(&s->lat, lat);
        s->win.requests++;
        s->win.sent++;
        if (bc->seq_rx && seq > bc->seq_rx + 1)
            s->win.lost += seq - bc->seq_rx - 1;
        if (bc->seq_rx && seq <= bc->seq_rx)
            s->win.mismatches++; /* out of order or repeated */
    }
    bc->seq_rx = seq;
}

static ssize_t ws_data(c1m_conn_t *c, const char *d, size_t len)
{
    bench_conn_t *bc = c->ud;
    bench_loop_t *bl = c->loop->user;
    const c1m_bench_cfg_t *cfg = bl->cfg;
    size_t off = 0;
    if (!bc->ws_up) {
        const char *end = memmem(d, len, "\r\n\r\n", 4);
        if (!end && len > 16384)
            bc->bad_101 = 1;
        if (!end)
            return bc->bad_101 ? -1 : 0;
        if (len < 12 || memcmp(d, "HTTP/1.1 101", 12)) {
            bc->bad_101 = 1; /* counted (once) by client_close */
            return -1;
        }
        bc->ws_up = 1;
        bc->rx_off = 0;
        bc->seq_rx = 0;
        off = (size_t)(end + 4 - d);
        uint64_t now = c1m_now_ns();
        count_open(bl, bc); /* the connect window has a place again */
        if (bl->state == ST_RUN)
            start_sending(bl, bc, now);
        issue_connects(bl, now);
    }
    while (off < len) {
        c1m_ws_event_t ev;
        ssize_t n = c1m_ws_parse(&bc->wsp, NULL, d + off, len - off, bl->wsbuf, WSBUF_SIZE, &ev);
        if (n < 0) {
            bl->slot->conn.errors[C1M_BERR_PARSE]++;
            return -1;
        }
        off += (size_t)n;
        if (ev.kind == C1M_WS_EV_DATA) {
            if (ev.msg_first)
                bc->rx_off = 0, bc->rx_bad = 0;
            if (cfg->ws_push) {
                for (size_t i = 0; i < ev.len && bc->rx_off + i < 16; i++)
                    bc->ws_head[bc->rx_off + i] = bl->wsbuf[i];
                bc->rx_off += (uint32_t)ev.len;
                if (ev.msg_end)
                    ws_push_done(bl, bc, bc->rx_off);
                continue;
            }
            if (!bc->inflight)
                return unexpected(bl, len);
            if (bc->rx_off + ev.len > cfg->size) {
                bc->rx_bad = 1;
            } else {
                pattern_fill(bl->expect, msg_key(bl, bc, bc->seq_rx), bc->rx_off, (uint32_t)ev.len);
                if (memcmp(bl->wsbuf, bl->expect, ev.len))
                    bc->rx_bad = 1;
            }
            bc->rx_off += (uint32_t)ev.len;
            if (ev.msg_end) {
                bool ok = !bc->rx_bad && bc->rx_off == cfg->size;
                bc->rx_off = 0;
                bc->rx_bad = 0;
                complete(bl, bc, ok, 0);
            }
        } else if (ev.kind == C1M_WS_EV_CONTROL) {
            if (ev.opcode == C1M_WS_OP_PING)
                ws_send_control(bc, C1M_WS_OP_PONG, bl->wsbuf, ev.len);
            else if (ev.opcode == C1M_WS_OP_CLOSE)
                return -1; /* the server closes: counted as an error close */
        } else if (n == 0) {
            break;
        }
    }
    return (ssize_t)off;
}

static const c1m_proto_t bench_protos[4] = {
    [C1M_BENCH_TS8] = { .name = "ts8-client", .on_open = client_open, .on_data = ts8_data,
                        .on_close = client_close },
    [C1M_BENCH_ECHO] = { .name = "echo-client", .on_open = client_open, .on_data = echo_data,
                         .on_close = client_close },
    [C1M_BENCH_HTTP] = { .name = "http-client", .on_open = client_open, .on_data = http_data,
                         .on_close = client_close },
    [C1M_BENCH_WS] = { .name = "ws-client", .on_open = client_open, .on_data = ws_data,
                       .on_close = client_close },
};

/* ---- open loop: the schedule ------------------------------------------ */

static uint64_t sched_phase(const bench_loop_t *bl, uint32_t i)
{
    return (uint64_t)((unsigned __int128)i * bl->period / bl->n) + bl->sched_off;
}

static void sched_visit(bench_loop_t *bl, bench_conn_t *bc, uint64_t due, uint64_t now)
{
    if (bc->st != BC_OPEN || !may_send(bl, bc))
        return;
    if (bc->inflight < bl->cfg->pipeline && !bc->owed) {
        uint64_t lag_us = (now - due) / 1000;
        c1m_bench_slot_t *s = bl->slot;
        uint64_t *il = &s->ival_lag_us[bl->ival_k & 1];
        if (lag_us > *il)
            *il = lag_us;
        if (lag_us > s->max_lag_us && in_window(bl, due))
            s->max_lag_us = lag_us;
        send_req(bl, bc, due, now);
        return;
    }
    if (!bc->owed)
        bc->owed_first = due;
    bc->owed++;
}

static void sched_tick(bench_loop_t *bl, uint64_t now)
{
    for (uint32_t k = 0; k < OPEN_SEND_BATCH && bl->n; k++) {
        uint64_t due = bl->sched_base + sched_phase(bl, bl->cursor);
        if (due > now || due >= bl->end_mono)
            return;
        sched_visit(bl, &bl->conns[bl->cursor], due, now);
        if (++bl->cursor == bl->n) {
            bl->cursor = 0;
            bl->sched_base += bl->period;
        }
    }
}

/* The loop ticks every millisecond; a timerfd (watched by the loop: it is
 * readable when it fires) wakes it at the next send's
 * intended time, so that open-loop sends leave on time rather than up to
 * a tick late. Re-armed only when the next due time changes. */
static void timer_arm(bench_loop_t *bl)
{
    if (!bl->timer || bl->state != ST_RUN || !bl->n)
        return;
    uint64_t next = bl->sched_base + sched_phase(bl, bl->cursor);
    if (next >= bl->end_mono || next == bl->armed_at)
        return;
    struct itimerspec its = { .it_value = { (time_t)(next / 1000000000u),
                                            (long)(next % 1000000000u) } };
    if (timerfd_settime(bl->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        bl->armed_at = next;
}

static void timer_ready(c1m_loop_t *loop, int fd, unsigned events, void *ud)
{
    bench_loop_t *bl = ud;
    uint64_t expirations;
    if (read(fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;
    if (bl->state == ST_RUN) {
        sched_tick(bl, c1m_now_ns());
        timer_arm(bl);
    }
}

static void timer_open(bench_loop_t *bl)
{
    bl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (bl->timer_fd < 0) {
        c1m_warn("timerfd: %s: open-loop sends keep a 1 ms granularity", strerror(errno));
        return;
    }
    bl->timer = c1m_loop_watch_fd(bl->loop, bl->timer_fd, C1M_WATCH_READ, timer_ready, bl);
    if (!bl->timer) {
        c1m_warn("timerfd: %s: open-loop sends keep a 1 ms granularity", strerror(errno));
        close(bl->timer_fd);
        bl->timer_fd = -1;
    }
}

static void timer_close(bench_loop_t *bl)
{
    if (!bl->timer)
        return;
    c1m_loop_unwatch(bl->loop, bl->timer);
    close(bl->timer_fd);
    bl->timer = NULL;
    bl->timer_fd = -1;
}

/* ---- phases --------------------------------------------------------------- */

static uint64_t wall_to_mono(const bench_loop_t *bl, uint64_t wall)
{
    return (uint64_t)((int64_t)wall - bl->wall_off);
}

static void run_setup(bench_loop_t *bl)
{
    c1m_bench_shm_t *shm = bl->shm;
    bl->wall_off = (int64_t)c1m_wall_ns() - (int64_t)c1m_now_ns();
    bl->start_mono = wall_to_mono(bl, shm->t_start);
    bl->warm_mono = wall_to_mono(bl, shm->t_warm);
    bl->end_mono = wall_to_mono(bl, shm->t_end);
    if (bl->cfg->rate) {
        uint64_t est = shm->est_total ? shm->est_total : bl->cfg->conns;
        bl->period = (uint64_t)((double)est * 1e9 / (double)bl->cfg->rate);
        if (!bl->period)
            bl->period = 1;
        uint64_t spread = (uint64_t)bl->nloops_total * (bl->n ? bl->n : 1);
        bl->sched_off = (uint64_t)((unsigned __int128)bl->gid * bl->period / spread);
        bl->sched_base = bl->start_mono;
        timer_open(bl);
    }
    bl->state = ST_WAIT;
}

static void run_begin(bench_loop_t *bl, uint64_t now)
{
    bl->state = ST_RUN;
    ival_start(bl, now);
    for (uint32_t i = 0; i < bl->n; i++)
        if (bl->conns[i].st == BC_OPEN)
            start_sending(bl, &bl->conns[i], now);
    timer_arm(bl);
}

static void finish(bench_loop_t *bl)
{
    for (uint32_t i = 0; i < bl->n; i++)
        if (bl->conns[i].st == BC_OPEN)
            drop_outstanding(bl, &bl->conns[i]);
    bl->state = ST_DONE;
    __atomic_store_n(&bl->slot->done, 1, __ATOMIC_RELEASE);
}

static void grace_begin(bench_loop_t *bl, uint64_t now, bool stopped)
{
    if (now < bl->end_mono)
        bl->end_mono = now; /* stopped early: the window ends here */
    bl->state = ST_GRACE;
    bl->grace_mono = now + (stopped ? C1M_MIN(bl->cfg->grace_us, 500000ull) : bl->cfg->grace_us) * 1000;
}

static void bench_tick(c1m_loop_t *loop)
{
    bench_loop_t *bl = loop->user;
    uint64_t now = c1m_now_ns();
    bool stop = __atomic_load_n(&bl->shm->stop, __ATOMIC_ACQUIRE);
    if (bl->state < ST_GRACE) {
        expire_connects(bl, now);
        issue_connects(bl, now);
    }
    switch (bl->state) {
    case ST_CONNECT:
        if (stop)
            finish(bl);
        else if (__atomic_load_n(&bl->shm->phase, __ATOMIC_ACQUIRE) >= C1M_BENCH_PHASE_RUN)
            run_setup(bl);
        break;
    case ST_WAIT:
        if (stop)
            finish(bl);
        else if (now >= bl->start_mono)
            run_begin(bl, now);
        break;
    case ST_RUN:
        ival_roll(bl, now);
        if (stop || now >= bl->end_mono) {
            grace_begin(bl, now, stop);
            break;
        }
        if (bl->cfg->rate) {
            sched_tick(bl, now);
            timer_arm(bl);
        }
        break;
    case ST_GRACE:
        ival_roll(bl, now);
        if (!bl->inflight_total || now >= bl->grace_mono)
            finish(bl);
        break;
    default:
        break;
    }
}

/* ---- set-up ---------------------------------------------------------------- */

static int bench_loop_setup(bench_loop_t *bl, c1m_loop_t *loop, const c1m_bench_cfg_t *cfg,
                            c1m_bench_shm_t *shm, uint32_t gid, uint64_t g_first, uint64_t n)
{
    c1m_loop_cfg_t lcfg;
    c1m_loop_cfg_defaults(&lcfg);
    lcfg.drain_ms = 300;
    lcfg.backend = cfg->backend;
    lcfg.uring_rings = cfg->loops; /* this process's rings share its buffer budget */
    int rc = c1m_loop_init(loop, gid, &lcfg, &bench_protos[cfg->proto]);
    if (rc < 0)
        return rc;
    *bl = (bench_loop_t){ .cfg = cfg, .shm = shm, .slot = &shm->slots[gid], .loop = loop,
                          .gid = gid, .nloops_total = shm->nslots, .g_first = g_first,
                          .n = (uint32_t)n, .ival_ns = cfg->interval_us * 1000 };
    bl->conns = calloc(n ? n : 1, sizeof *bl->conns);
    bl->reqs = calloc((n ? n : 1) * cfg->pipeline, sizeof *bl->reqs);
    bl->pending = calloc(n ? n : 1, sizeof *bl->pending);
    bl->msg = malloc(cfg->size ? cfg->size : 1);
    bl->expect = malloc(cfg->size ? cfg->size : 1);
    bl->wsbuf = cfg->proto == C1M_BENCH_WS ? malloc(WSBUF_SIZE) : NULL;
    if (!bl->conns || !bl->reqs || !bl->pending || !bl->msg || !bl->expect ||
        (cfg->proto == C1M_BENCH_WS && !bl->wsbuf))
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        bl->conns[i].idx = i;
        bl->pending[bl->pend_tail++] = i;
    }
    c1m_bench_slot_t *s = bl->slot;
    c1m_hist_init(&s->lat);
    c1m_hist_init(&s->svc);
    c1m_hist_init(&s->ival[0]);
    c1m_hist_init(&s->ival[1]);
    s->ival_no[0] = s->ival_no[1] = UINT64_MAX;
    loop->user = bl;
    loop->on_tick = bench_tick;
    loop->tick_ms = cfg->rate ? 1 : 5;
    return 0;
}

static void bench_loop_free(bench_loop_t *bl)
{
    free(bl->conns);
    free(bl->reqs);
    free(bl->pending);
    free(bl->msg);
    free(bl->expect);
    free(bl->wsbuf);
}

/* The first tick issues the first connects; stamp the ramp's start. */
static void ramp_msg(c1m_loop_t *loop, void *arg, uint64_t u)
{
    bench_loop_t *bl = loop->user;
    bl->connect_t0 = c1m_now_ns();
    issue_connects(bl, bl->connect_t0);
}

void c1m_bench_child(const c1m_bench_cfg_t *cfg, c1m_bench_shm_t *shm, uint32_t proc)
{
    char tag[32];
    snprintf(tag, sizeof tag, "bench[%u]", proc);
    c1m_log_set_tag(tag);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGINT, SIG_IGN); /* the parent handles Ctrl-C for the whole run */
    signal(SIGPIPE, SIG_IGN);
    uint32_t L = cfg->loops;
    uint64_t pfirst, pcount;
    c1m_split_range(cfg->conns, proc, cfg->procs, &pfirst, &pcount);
    c1m_loop_t *loops = calloc(L, sizeof *loops);
    bench_loop_t *bls = calloc(L, sizeof *bls);
    if (!loops || !bls)
        _exit(3);
    for (uint32_t l = 0; l < L; l++) {
        uint64_t lfirst, lcount;
        c1m_split_range(pcount, l, L, &lfirst, &lcount);
        int rc = bench_loop_setup(&bls[l], &loops[l], cfg, shm, proc * L + l, pfirst + lfirst,
                                  lcount);
        if (rc < 0) {
            c1m_error("loop set-up failed: %s", strerror(-rc));
            _exit(3);
        }
    }
    for (uint32_t l = 0; l < L; l++) {
        c1m_loop_post(&loops[l], ramp_msg, NULL, 0);
        if (c1m_loop_start_thread(&loops[l]) < 0) {
            c1m_error("cannot start a loop thread");
            _exit(3);
        }
    }
    while (__atomic_load_n(&shm->phase, __ATOMIC_ACQUIRE) != C1M_BENCH_PHASE_EXIT &&
           getppid() != 1)
        usleep(10000);
    for (uint32_t l = 0; l < L; l++)
        c1m_loop_stop(&loops[l]);
    for (uint32_t l = 0; l < L; l++) {
        c1m_loop_join(&loops[l]);
        timer_close(&bls[l]);
        c1m_loop_destroy(&loops[l]);
        bench_loop_free(&bls[l]);
    }
    free(loops);
    free(bls);
    _exit(0);
}
