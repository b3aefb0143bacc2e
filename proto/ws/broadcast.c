#include "proto/ws/broadcast.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"
#include "engine/loop.h"
#include "proto/ws/bus.h"
#include "proto/ws/conn.h"
#include "proto/ws/slab.h"

/* ---- messages: framed once, shared by reference ------------------------ */

struct c1m_ws_msg {
    int refs;        /* atomic */
    uint32_t flen;   /* header + payload */
    uint8_t *frame;  /* into buf: the header ends where the payload starts */
    uint8_t buf[];   /* C1M_WS_MAX_HEADER bytes of room, then the payload */
};

c1m_ws_msg_t *c1m_ws_msg_new(uint8_t opcode, const void *payload, size_t len)
{
    if (len > UINT32_MAX - C1M_WS_MAX_HEADER)
        return NULL;
    c1m_ws_msg_t *m = malloc(sizeof *m + C1M_WS_MAX_HEADER + len);
    if (!m)
        return NULL;
    uint8_t h[C1M_WS_MAX_HEADER];
    size_t hl = c1m_ws_header(h, opcode, true, len);
    m->frame = m->buf + C1M_WS_MAX_HEADER - hl;
    memcpy(m->frame, h, hl);
    if (len)
        memcpy(m->buf + C1M_WS_MAX_HEADER, payload, len);
    m->flen = (uint32_t)(hl + len);
    m->refs = 1;
    return m;
}

void c1m_ws_msg_ref(c1m_ws_msg_t *m) { __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED); }

void c1m_ws_msg_unref(c1m_ws_msg_t *m)
{
    if (m && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(m);
}

const void *c1m_ws_msg_frame(const c1m_ws_msg_t *m, size_t *len)
{
    *len = m->flen;
    return m->frame;
}

/* ---- the hub and its per-loop state ------------------------------------ */

#define MAX_LOOPS 1024
#define NLISTS (C1M_WS_MAX_TOPICS + 1) /* the topics, then "no topic" */
#define TOPIC_ALL_CODE C1M_WS_MAX_TOPICS

/* One per loop that has WebSocket connections of the hub; touched by that
 * loop's thread only (counters are read relaxed by c1m_ws_hub_stats). */
typedef struct ws_loop {
    c1m_ws_hub_t *hub;
    c1m_loop_t *loop;
    /* heads of the lists, as slab indexes (C1M_WS_SLAB_NONE = empty) in
     * `slab`, the loop thread's slab that holds its connections */
    uint32_t lists[NLISTS];
    c1m_ws_slab_t *slab;
    uint64_t delivered, queued, slow_closed, slow_skipped, subscribers;
    uint64_t slow_close_sent, slow_close_cut; /* what became of the 1008 */
    c1m_timer_t *pub;  /* the publisher, on one loop per process */
    uint64_t seq;
} ws_loop_t;

struct c1m_ws_hub {
    pthread_mutex_t mu;         /* registration and topics; not per message */
    c1m_ws_hub_cfg_t cfg;
    char *topics[C1M_WS_MAX_TOPICS];
    int ntopics;
    bool publisher;             /* a loop runs the publisher */
    c1m_ws_bus_t *bus;          /* prefork: broadcasts from every process */
    bool bus_attached;          /* this process reads the bus (copied false at fork) */
    uint32_t nloops;            /* published with release: loops[] below it are set */
    uint64_t broadcasts, handoffs;
    ws_loop_t *loops[MAX_LOOPS];
};

int c1m_ws_hub_new(c1m_ws_hub_t **out, const c1m_ws_hub_cfg_t *cfg)
{
    c1m_ws_hub_t *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    if (cfg)
        h->cfg = *cfg;
    if (!h->cfg.out_limit)
        h->cfg.out_limit = 1u << 20;
    if (!h->cfg.slow_grace_ms)
        h->cfg.slow_grace_ms = 1000;
    if (h->cfg.push_every_ms && h->cfg.push_size < 16)
        h->cfg.push_size = 16;
    *out = h;
    return 0;
}

void c1m_ws_hub_free(c1m_ws_hub_t *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; i < h->nloops; i++) {
        /* the loops are gone (the server stopped): the timer is only memory */
        c1m_timer_free(h->loops[i]->pub);
        free(h->loops[i]);
    }
    for (int i = 0; i < h->ntopics; i++)
        free(h->topics[i]);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int c1m_ws_hub_topic(c1m_ws_hub_t *h, const char *name)
{
    pthread_mutex_lock(&h->mu);
    int id = -1;
    for (int i = 0; i < h->ntopics; i++)
        if (!strcmp(h->topics[i], name))
            id = i;
    if (id < 0 && h->ntopics < C1M_WS_MAX_TOPICS) {
        h->topics[h->ntopics] = strdup(name);
        id = h->topics[h->ntopics] ? h->ntopics++ : -ENOMEM;
    } else if (id < 0) {
        id = -ENOSPC;
    }
    pthread_mutex_unlock(&h->mu);
    return id;
}

static void publish_tick(c1m_timer_t *t);

/* The calling loop's state, created on first use (its first connection). */
static _Thread_local ws_loop_t *tl_ws_loop;

static ws_loop_t *loop_state(c1m_ws_hub_t *h, c1m_loop_t *loop)
{
    ws_loop_t *ls = tl_ws_loop;
    if (C1M_LIKELY(ls && ls->hub == h && ls->loop == loop))
        return ls;
    pthread_mutex_lock(&h->mu);
    ls = NULL;
    for (uint32_t i = 0; i < h->nloops; i++)
        if (h->loops[i]->loop == loop)
            ls = h->loops[i];
    if (!ls && h->nloops < MAX_LOOPS && (ls = calloc(1, sizeof *ls))) {
        ls->hub = h;
        ls->loop = loop;
        if (h->bus && !h->bus_attached) {
            int rc = c1m__ws_bus_attach(h->bus, h, loop);
            if (rc < 0)
                c1m_error("ws: cannot read the broadcast bus: %s", strerror(-rc));
            h->bus_attached = true; /* once per process, whatever came of it */
        }
        if (h->cfg.push_every_ms && !h->bus && !h->publisher &&
            (ls->pub = c1m_timer_new(publish_tick, ls))) {
            h->publisher = true;
            c1m_loop_timer_start(loop, ls->pub, h->cfg.push_every_ms, h->cfg.push_every_ms);
        }
        h->loops[h->nloops] = ls;
        __atomic_store_n(&h->nloops, h->nloops + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&h->mu);
    if (ls)
        tl_ws_loop = ls;
    return ls;
}

static inline c1m_ws_conn_t *at(c1m_ws_slab_t *s, uint32_t i)
{
    return i == C1M_WS_SLAB_NONE ? NULL : c1m__ws_slab_ptr(s, i);
}

int c1m__ws_list_add(c1m_ws_conn_t *ws)
{
    ws_loop_t *ls = loop_state(ws->route->hub, ws->c->loop);
    if (!ls)
        return -ENOMEM;
    c1m_ws_slab_t *s = c1m__ws_slab_of(ws);
    ls->slab = s; /* the same for every connection of the loop (its thread's) */
    uint32_t self = c1m__ws_slab_index(ws), *head = &ls->lists[ws->topic];
    ws->prev = C1M_WS_SLAB_NONE;
    ws->next = *head;
    if (*head != C1M_WS_SLAB_NONE)
        at(s, *head)->prev = self;
    *head = self;
    ws->flags |= C1M_WSF_LISTED;
    ls->subscribers++;
    return 0;
}

void c1m__ws_list_del(c1m_ws_conn_t *ws)
{
    if (!(ws->flags & C1M_WSF_LISTED))
        return;
    ws_loop_t *ls = loop_state(ws->route->hub, ws->c->loop);
    c1m_ws_slab_t *s = c1m__ws_slab_of(ws);
    if (ws->prev != C1M_WS_SLAB_NONE)
        at(s, ws->prev)->next = ws->next;
    else
        ls->lists[ws->topic] = ws->next;
    if (ws->next != C1M_WS_SLAB_NONE)
        at(s, ws->next)->prev = ws->prev;
    ws->flags &= (uint8_t)~C1M_WSF_LISTED;
    ls->subscribers--;
}

void c1m__ws_slow_closed(c1m_ws_conn_t *ws, int reason)
{
    ws_loop_t *ls = loop_state(ws->route->hub, ws->c->loop);
    if (!ls)
        return;
    /* closed after its output (the 1008 frame last) was written, or cut
     * by the grace's write timeout / an error with the frame unsent */
    if (reason == C1M_CLOSE_LOCAL)
        ls->slow_close_sent++;
    else
        ls->slow_close_cut++;
}

/* ---- delivery on a loop ------------------------------------------------- */

/* The queue (in aux) is circular and kept by its tail: the head is
 * qtail->next. Not empty. */
static c1m_ws_qnode_t *queue_pop(c1m_ws_aux_t *a)
{
    c1m_ws_qnode_t *q = a->qtail->next;
    if (q == a->qtail)
        a->qtail = NULL;
    else
        a->qtail->next = q->next;
    return q;
}

static void queue_push(c1m_ws_aux_t *a, c1m_ws_qnode_t *q)
{
    if (a->qtail) {
        q->next = a->qtail->next;
        a->qtail->next = q;
    } else {
        q->next = q;
    }
    a->qtail = q;
}

void c1m__ws_queue_free(c1m_ws_conn_t *ws)
{
    c1m_ws_aux_t *a = c1m__ws_aux_get(ws);
    if (!a)
        return;
    while (a->qtail) {
        c1m_ws_qnode_t *q = queue_pop(a);
        c1m_ws_msg_unref(q->m);
        free(q);
    }
    a->qbytes = 0;
    c1m__ws_aux_trim(ws);
}

void c1m__ws_queue_flush(c1m_ws_conn_t *ws)
{
    c1m_ws_aux_t *a = c1m__ws_aux_get(ws);
    if (!a)
        return;
    while (a->qtail && !c1m_conn_pending_out(ws->c) && c1m_conn_is_open(ws->c)) {
        c1m_ws_qnode_t *q = queue_pop(a);
        a->qbytes -= q->m->flen;
        c1m_conn_write(ws->c, q->m->frame, q->m->flen);
        c1m_ws_msg_unref(q->m);
        free(q);
    }
    c1m__ws_aux_trim(ws);
}

static void send_shared(ws_loop_t *ls, c1m_ws_conn_t *ws, c1m_ws_msg_t *m)
{
    c1m_conn_t *c = ws->c;
    if ((ws->flags & C1M_WSF_CLOSING) || !c1m_conn_is_open(c))
        return;
    size_t pend = c1m_conn_pending_out(c);
    c1m_ws_aux_t *a = c1m__ws_aux_get(ws);
    bool queued = a && a->qtail;
    if (!queued && !pend) { /* the socket takes it now: the kernel copies */
        c1m_conn_write(c, m->frame, m->flen);
        ls->delivered++;
        return;
    }
    if (pend + (a ? a->qbytes : 0) + m->flen > ls->hub->cfg.out_limit) {
        if (ls->hub->cfg.slow == C1M_WS_SLOW_SKIP) {
            ls->slow_skipped++;
            return;
        }
        /* Too slow: its queued references go now, and the 1008 close frame
         * goes behind what the engine already holds for it (whole frames,
         * so the stream stays valid). It reaches the client only if the
         * client reads that output within slow_grace_ms: then the close
         * completes as any close (counted slow_close_sent in ws_close);
         * otherwise the write timeout cuts it, dropping the unsent output
         * with the frame (slow_close_cut). Never reported as sent before
         * the socket took it. */
        c1m__ws_queue_free(ws);
        uint8_t cl[4] = { 0x88, 2, 1008 >> 8, 1008 & 0xFF };
        ws->flags |= C1M_WSF_CLOSING | C1M_WSF_SLOW;
        ls->slow_closed++;
        c1m__ws_list_del(ws); /* no more broadcasts for it */
        if (c1m_conn_write(c, cl, sizeof cl) < 0)
            return; /* failed: the loop closes it */
        c1m_conn_set_timeout(c, C1M_TO_WRITE, ls->hub->cfg.slow_grace_ms);
        c1m_conn_timeout_arm(c, C1M_TO_WRITE);
        c1m_conn_close_after_flush(c, C1M_CLOSE_LOCAL);
        return;
    }
    c1m_ws_qnode_t *q = malloc(sizeof *q);
    if (!q || !(a = c1m__ws_aux(ws))) {
        free(q);
        c1m_conn_close(c, C1M_CLOSE_NOMEM);
        return;
    }
    c1m_ws_msg_ref(m);
    q->m = m;
    queue_push(a, q);
    a->qbytes += m->flen;
    ls->queued++;
    ls->delivered++;
}

static void deliver_msg(c1m_loop_t *loop, void *arg, uint64_t u)
{
    ws_loop_t *ls = arg;
    c1m_ws_msg_t *m = (c1m_ws_msg_t *)(uintptr_t)(u & ~(uint64_t)15);
    unsigned code = (unsigned)(u & 15);
    unsigned first = code == TOPIC_ALL_CODE ? 0 : code;
    unsigned last = code == TOPIC_ALL_CODE ? NLISTS - 1 : code;
    for (unsigned l = first; l <= last; l++) {
        for (c1m_ws_conn_t *ws = at(ls->slab, ls->lists[l]), *next; ws; ws = next) {
            next = at(ls->slab, ws->next); /* a slow subscriber may leave the list */
            send_shared(ls, ws, m);
        }
    }
    c1m_ws_msg_unref(m);
}

int c1m_ws_broadcast(c1m_ws_hub_t *h, int topic, c1m_ws_msg_t *m)
{
    if (topic != C1M_WS_ALL && (topic < 0 || topic >= C1M_WS_MAX_TOPICS))
        return -EINVAL;
    if ((uintptr_t)m & 15)
        return -EINVAL; /* malloc aligns to 16: the low bits carry the topic */
    uint64_t code = topic == C1M_WS_ALL ? TOPIC_ALL_CODE : (uint64_t)topic;
    uint32_t n = __atomic_load_n(&h->nloops, __ATOMIC_ACQUIRE);
    int posted = 0;
    for (uint32_t i = 0; i < n; i++) {
        c1m_ws_msg_ref(m);
        if (c1m_loop_post(h->loops[i]->loop, deliver_msg, h->loops[i],
                          (uint64_t)(uintptr_t)m | code) < 0) {
            c1m_ws_msg_unref(m);
            continue;
        }
        posted++;
    }
    __atomic_add_fetch(&h->broadcasts, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&h->handoffs, (uint64_t)posted, __ATOMIC_RELAXED);
    return posted;
}

void c1m_ws_hub_stats(c1m_ws_hub_t *h, c1m_ws_hub_stats_t *st)
{
    memset(st, 0, sizeof *st);
    uint32_t n = __atomic_load_n(&h->nloops, __ATOMIC_ACQUIRE);
    st->loops = n;
    st->broadcasts = __atomic_load_n(&h->broadcasts, __ATOMIC_RELAXED);
    st->handoffs = __atomic_load_n(&h->handoffs, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < n; i++) {
        const ws_loop_t *ls = h->loops[i];
        st->delivered += C1M_RELAXED_LOAD(&ls->delivered);
        st->queued += C1M_RELAXED_LOAD(&ls->queued);
        st->slow_closed += C1M_RELAXED_LOAD(&ls->slow_closed);
        st->slow_skipped += C1M_RELAXED_LOAD(&ls->slow_skipped);
        st->slow_close_sent += C1M_RELAXED_LOAD(&ls->slow_close_sent);
        st->slow_close_cut += C1M_RELAXED_LOAD(&ls->slow_close_cut);
        st->subscribers += C1M_RELAXED_LOAD(&ls->subscribers);
    }
}

void c1m_ws_hub_set_bus(c1m_ws_hub_t *h, c1m_ws_bus_t *b) { h->bus = b; }

/* ---- the publisher (c1m serve --push-every) ---------------------------- */

static void publish_tick(c1m_timer_t *t)
{
    ws_loop_t *ls = c1m_timer_data(t);
    c1m_ws_hub_t *h = ls->hub;
    if (h->cfg.push_count && ls->seq >= h->cfg.push_count) {
        c1m_loop_timer_stop(ls->loop, t); /* --push-count: all sent */
        return;
    }
    uint32_t size = h->cfg.push_size;
    uint8_t small[256];
    uint8_t *p = size <= sizeof small ? small : malloc(size);
    if (!p)
        return;
    uint64_t seq = htobe64(++ls->seq), ts = htobe64(c1m_wall_ns());
    memcpy(p, &seq, 8);
    memcpy(p + 8, &ts, 8);
    memset(p + 16, 'x', size - 16);
    c1m_ws_msg_t *m = c1m_ws_msg_new(C1M_WS_OP_BINARY, p, size);
    if (p != small)
        free(p);
    if (!m)
        return;
    c1m_ws_broadcast(h, h->cfg.push_topic, m);
    c1m_ws_msg_unref(m);
}
