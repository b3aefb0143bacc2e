/* Connection timeouts: see engine/timeouts.h for the design. */
#include "engine/timeouts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/log.h"
#include "engine/loop.h"

static const char *const mode_names[] = {
    [C1M_TIMERS_WHEEL] = "wheel",
    [C1M_TIMERS_HEAP] = "heap",
    [C1M_TIMERS_GLOBAL_HEAP] = "global-heap",
};

static const char *const kind_names[C1M_TO__COUNT] = {
    [C1M_TO_READ] = "read", [C1M_TO_WRITE] = "write",
    [C1M_TO_IDLE] = "idle", [C1M_TO_HEADER] = "header",
};

const char *c1m_timers_mode_name(c1m_timers_mode_t m)
{
    return (unsigned)m < 3 ? mode_names[m] : "?";
}

int c1m_timers_mode_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, mode_names[i]))
            return i;
    return -EINVAL;
}

const char *c1m_timeout_kind_name(c1m_timeout_kind_t k)
{
    return (unsigned)k < C1M_TO__COUNT ? kind_names[k] : "?";
}

int c1m_gtimers_init(c1m_gtimers_t *g, uint32_t max_loops)
{
    memset(g, 0, sizeof *g);
    g->loops = calloc(max_loops ? max_loops : 1, sizeof *g->loops);
    if (!g->loops)
        return -ENOMEM;
    g->nloops = max_loops;
    int rc = c1m_gheap_init(&g->heap);
    if (rc < 0) {
        free(g->loops);
        g->loops = NULL;
    }
    return rc;
}

void c1m_gtimers_destroy(c1m_gtimers_t *g)
{
    if (!g->loops)
        return;
    c1m_gheap_destroy(&g->heap);
    free(g->loops);
    g->loops = NULL;
}

/* ---- deadline bookkeeping ------------------------------------------ */

static inline uint32_t now_off(const c1m_loop_t *loop)
{
    return (uint32_t)(loop->now_ms - loop->tmo_base);
}

static inline uint64_t abs_ms(const c1m_loop_t *loop, uint32_t off)
{
    return loop->tmo_base + off;
}

static uint32_t min_deadline(const c1m_conn_t *c)
{
    uint32_t m = 0;
    for (int k = 0; k < C1M_TO__COUNT; k++) {
        uint32_t d = c->tmo_deadline[k];
        if (d && (!m || d < m))
            m = d;
    }
    return m;
}

static void heap_failed(c1m_loop_t *loop)
{
    static int logged;
    if (!C1M_RELAXED_LOAD(&logged))
        c1m_warn("loop %u: timer heap could not grow: a timeout may not fire", loop->id);
    C1M_RELAXED_STORE(&logged, 1);
}

/* Heap modes: put the entry where the true earliest deadline says (every
 * deadline change: the cost the experiment measures). */
static void heap_sync(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    uint32_t m = min_deadline(c);
    c1m_heap_entry_t *e = &c->tmo.heap;
    if (loop->cfg.timers == C1M_TIMERS_HEAP) {
        if (!m)
            c1m_heap_cancel(&loop->heap, e);
        else if (c1m_heap_arm(&loop->heap, e, abs_ms(loop, m)) < 0)
            heap_failed(loop);
    } else {
        if (!m)
            c1m_gheap_cancel(&loop->gtimers->heap, e);
        else if (c1m_gheap_arm(&loop->gtimers->heap, e, abs_ms(loop, m)) < 0)
            heap_failed(loop);
    }
    C1M_BUMP(loop->stats.timer_inserts, 1);
}

/* Make the entry fire at the true earliest deadline (after it fired early,
 * or after the protocol handled an expiry). */
static void rearm(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    if (loop->cfg.timers != C1M_TIMERS_WHEEL) {
        heap_sync(c);
        return;
    }
    uint32_t m = min_deadline(c);
    if (m) {
        c1m_wheel_arm(&loop->wheel, &c->tmo.wheel, abs_ms(loop, m));
        C1M_BUMP(loop->stats.timer_inserts, 1);
    } else {
        c1m_wheel_cancel(&loop->wheel, &c->tmo.wheel);
    }
}

void c1m__conn_timeout_arm(c1m_conn_t *c, c1m_timeout_kind_t k)
{
    c1m_loop_t *loop = c->loop;
    if (!c1m_conn_is_open(c))
        return;
    uint32_t d = now_off(loop) + c->tmo_ms[k];
    if (c->tmo_deadline[k] == d)
        return; /* same iteration, same deadline: nothing changes */
    c->tmo_deadline[k] = d;
    if (C1M_LIKELY(loop->cfg.timers == C1M_TIMERS_WHEEL)) {
        c1m_wheel_entry_t *e = &c->tmo.wheel;
        uint64_t at = abs_ms(loop, d);
        if (C1M_LIKELY(c1m_wheel_armed(e) && at >= e->expires)) {
            /* Later than what the entry holds: a store. The entry fires
             * early and re-arms itself for the true deadline. */
            C1M_BUMP(loop->stats.timer_lazy, 1);
            return;
        }
        c1m_wheel_arm(&loop->wheel, e, at);
        C1M_BUMP(loop->stats.timer_inserts, 1);
        return;
    }
    heap_sync(c);
}

void c1m__conn_timeout_clear(c1m_conn_t *c, c1m_timeout_kind_t k)
{
    c1m_loop_t *loop = c->loop;
    c->tmo_deadline[k] = 0;
    if (C1M_LIKELY(loop->cfg.timers == C1M_TIMERS_WHEEL)) {
        C1M_BUMP(loop->stats.timer_lazy, 1); /* the entry may fire early: it re-arms or stops */
        return;
    }
    heap_sync(c);
}

void c1m_conn_set_timeout(c1m_conn_t *c, c1m_timeout_kind_t k, uint32_t ms)
{
    if ((unsigned)k >= C1M_TO__COUNT)
        return;
    if (C1M_RECORDED(c)) {
        c1m__recorder->record(c1m__recorder, C1M_REC_TMO_SET, k, ms, NULL, 0);
        return;
    }
    if (ms > C1M_TIMEOUT_MAX_MS)
        ms = C1M_TIMEOUT_MAX_MS;
    c->tmo_ms[k] = ms;
    if (!ms)
        c1m_conn_timeout_clear(c, k);
}

uint64_t c1m_conn_timeout_deadline(const c1m_conn_t *c, c1m_timeout_kind_t k)
{
    uint32_t d = (unsigned)k < C1M_TO__COUNT ? c->tmo_deadline[k] : 0;
    return d ? abs_ms(c->loop, d) : 0;
}

void c1m__conn_request_begin(c1m_conn_t *c)
{
    c->flags |= C1M_CONN_IN_REQ;
    c1m_conn_timeout_clear(c, C1M_TO_IDLE);
    c1m_conn_timeout_arm(c, C1M_TO_HEADER);
}

void c1m__conn_request_end(c1m_conn_t *c)
{
    c->flags &= (uint16_t)~C1M_CONN_IN_REQ;
    c1m_conn_timeout_clear(c, C1M_TO_READ);
    c1m_conn_timeout_clear(c, C1M_TO_HEADER);
    c1m_conn_timeout_arm(c, C1M_TO_IDLE);
}

/* ---- the public calls: recorded when a worker holds the connection ---- */

#define RECORD(c, op, k)                                                          \
    do {                                                                          \
        if (C1M_RECORDED(c)) {                                                    \
            c1m__recorder->record(c1m__recorder, (op), (int)(k), 0, NULL, 0);     \
            return;                                                               \
        }                                                                         \
    } while (0)

void c1m_conn_timeout_arm(c1m_conn_t *c, c1m_timeout_kind_t k)
{
    RECORD(c, C1M_REC_TMO_ARM, k);
    if ((unsigned)k < C1M_TO__COUNT && c->tmo_ms[k])
        c1m__conn_timeout_arm(c, k);
}

void c1m_conn_timeout_clear(c1m_conn_t *c, c1m_timeout_kind_t k)
{
    RECORD(c, C1M_REC_TMO_CLEAR, k);
    if ((unsigned)k < C1M_TO__COUNT && c->tmo_deadline[k])
        c1m__conn_timeout_clear(c, k);
}

void c1m_conn_request_begin(c1m_conn_t *c)
{
    RECORD(c, C1M_REC_REQ_BEGIN, 0);
    if (!(c->flags & C1M_CONN_IN_REQ))
        c1m__conn_request_begin(c);
}

void c1m_conn_request_header_done(c1m_conn_t *c)
{
    RECORD(c, C1M_REC_REQ_HEADER_DONE, 0);
    if (c->tmo_deadline[C1M_TO_HEADER])
        c1m__conn_timeout_clear(c, C1M_TO_HEADER);
}

void c1m_conn_request_end(c1m_conn_t *c)
{
    RECORD(c, C1M_REC_REQ_END, 0);
    if (c->flags & C1M_CONN_IN_REQ)
        c1m__conn_request_end(c);
}

/* ---- expiry ------------------------------------------------------------ */

/* The entry fired (or a forwarded global-heap entry arrived): on the
 * owner's thread. Expire the earliest passed deadline, or re-arm for the
 * true one when the entry fired early. Idempotent: a stale forward (the
 * slot closed, or was reused) finds no passed deadline and at most
 * re-files the entry at the right place. */
static void tmo_fire(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    if (!c1m_conn_is_open(c))
        return;
    uint32_t now = now_off(loop);
    int kind = -1;
    uint32_t best = 0;
    for (int k = 0; k < C1M_TO__COUNT; k++) {
        uint32_t d = c->tmo_deadline[k];
        if (d && d <= now && (kind < 0 || d < best))
            kind = k, best = d;
    }
    if (kind < 0) {
        C1M_BUMP(loop->stats.timer_early, 1);
        rearm(c);
        return;
    }
    if (c->flags & C1M_CONN_HELD) {
        /* A worker holds it: the deadline stands and is checked again
         * shortly (after the release, the usual rules apply). */
        uint32_t soon = now + C1M_HELD_RECHECK_MS;
        c->tmo_deadline[kind] = soon;
        rearm(c);
        c->tmo_deadline[kind] = best;
        return;
    }
    c->tmo_deadline[kind] = 0;
    if (c->proto->on_timeout && c->proto->on_timeout(c, kind)) {
        if (c1m_conn_is_open(c))
            rearm(c);
        return;
    }
    c1m_conn_close(c, C1M_CLOSE_TIMEOUT_READ + kind);
}

static void wheel_cb(c1m_wheel_entry_t *e, void *arg)
{
    tmo_fire(c1m_container_of(e, c1m_conn_t, tmo.wheel));
}

static void heap_cb(c1m_heap_entry_t *e, void *arg)
{
    tmo_fire(c1m_container_of(e, c1m_conn_t, tmo.heap));
}

static void forward_msg(c1m_loop_t *loop, void *arg, uint64_t u)
{
    tmo_fire(arg);
}

/* Global heap: any loop pops any entry (without the lock held). Its owner
 * id was set when the slot was created and never changes, so reading it
 * here is safe; the connection itself is touched only by its owner. */
static void gheap_cb(c1m_heap_entry_t *e, void *arg)
{
    c1m_loop_t *loop = arg;
    c1m_conn_t *c = c1m_container_of(e, c1m_conn_t, tmo.heap);
    if (e->owner == loop->id) {
        tmo_fire(c);
        return;
    }
    c1m_gtimers_t *g = loop->gtimers;
    c1m_loop_t *owner = e->owner < g->nloops ? g->loops[e->owner] : NULL;
    if (!owner)
        return;
    C1M_BUMP(loop->stats.timer_forwards, 1);
    if (c1m_loop_post(owner, forward_msg, c, 0) < 0) /* no memory: try again soon */
        c1m_gheap_arm(&g->heap, e, loop->now_ms + 1);
}

/* Deadlines are 32-bit offsets: every 2^31 ms (~24.8 days) of loop life
 * they are moved to a new base (one walk over the connections). */
static void rebase_conn(c1m_conn_t *c, void *arg)
{
    uint32_t delta = *(uint32_t *)arg;
    for (int k = 0; k < C1M_TO__COUNT; k++) {
        uint32_t d = c->tmo_deadline[k];
        if (d)
            c->tmo_deadline[k] = d > delta ? d - delta : 1;
    }
}

static void rebase(c1m_loop_t *loop)
{
    uint64_t nb = loop->now_ms - 1;
    uint32_t delta = (uint32_t)(nb - loop->tmo_base);
    c1m_loop_foreach_conn(loop, rebase_conn, &delta);
    loop->tmo_base = nb;
}

void c1m__timeouts_run(c1m_loop_t *loop)
{
    uint64_t now = loop->now_ms;
    if (C1M_UNLIKELY(now - loop->tmo_base >= (UINT64_C(1) << 31)))
        rebase(loop);
    switch (loop->cfg.timers) {
    case C1M_TIMERS_WHEEL:
        c1m_wheel_advance(&loop->wheel, now, wheel_cb, loop);
        break;
    case C1M_TIMERS_HEAP:
        c1m_heap_advance(&loop->heap, now, heap_cb, loop);
        break;
    case C1M_TIMERS_GLOBAL_HEAP:
        c1m_gheap_advance(&loop->gtimers->heap, now, gheap_cb, loop);
        break;
    }
    if (c1m_wheel_count(&loop->timers))
        c1m_timer_run(&loop->timers, now);
}

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int c1m__timeouts_next_ms(c1m_loop_t *loop)
{
    uint64_t now = loop->now_ms;
    int t = -1;
    switch (loop->cfg.timers) {
    case C1M_TIMERS_WHEEL:
        t = c1m_wheel_next_timeout_ms(&loop->wheel, now);
        break;
    case C1M_TIMERS_HEAP:
        t = c1m_heap_next_timeout_ms(&loop->heap, now);
        break;
    case C1M_TIMERS_GLOBAL_HEAP:
        t = c1m_gheap_next_timeout_ms(&loop->gtimers->heap, now);
        break;
    }
    if (c1m_wheel_count(&loop->timers))
        t = min_timeout(t, c1m_wheel_next_timeout_ms(&loop->timers, now));
    return t;
}

/* ---- loop and connection life ---------------------------------------- */

int c1m__timeouts_loop_init(c1m_loop_t *loop)
{
    loop->tmo_base = loop->now_ms - 1; /* offset 0 means "off" */
    c1m_wheel_init(&loop->wheel, loop->now_ms);
    c1m_wheel_init(&loop->timers, loop->now_ms);
    c1m_heap_init(&loop->heap);
    for (int k = 0; k < C1M_TO__COUNT; k++)
        if (loop->cfg.timeout_ms[k] > C1M_TIMEOUT_MAX_MS)
            loop->cfg.timeout_ms[k] = C1M_TIMEOUT_MAX_MS;
    if (loop->cfg.timers != C1M_TIMERS_GLOBAL_HEAP)
        return 0;
    c1m_gtimers_t *g = loop->cfg.gtimers;
    if (!g) { /* a loop on its own: a private "global" heap */
        g = malloc(sizeof *g);
        if (!g)
            return -ENOMEM;
        int rc = c1m_gtimers_init(g, loop->id + 1);
        if (rc < 0) {
            free(g);
            return rc;
        }
        loop->gtimers_owned = true;
    }
    if (loop->id >= g->nloops) {
        if (loop->gtimers_owned) {
            c1m_gtimers_destroy(g);
            free(g);
        }
        return -EINVAL;
    }
    g->loops[loop->id] = loop;
    loop->gtimers = g;
    return 0;
}

void c1m__timeouts_loop_destroy(c1m_loop_t *loop)
{
    c1m_heap_destroy(&loop->heap);
    if (loop->gtimers) {
        c1m_gtimers_t *g = loop->gtimers;
        if (loop->id < g->nloops && g->loops[loop->id] == loop)
            g->loops[loop->id] = NULL;
        if (loop->gtimers_owned) {
            c1m_gtimers_destroy(g);
            free(g);
        }
        loop->gtimers = NULL;
        loop->gtimers_owned = false;
    }
}

void c1m__timeouts_slots_added(c1m_loop_t *loop, c1m_conn_t *slots, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (loop->cfg.timers == C1M_TIMERS_WHEEL)
            c1m_wheel_entry_init(&slots[i].tmo.wheel);
        else
            c1m_heap_entry_init(&slots[i].tmo.heap, loop->id);
    }
    if (loop->cfg.timers == C1M_TIMERS_HEAP) {
        c1m_heap_reserve(&loop->heap, (size_t)loop->heap.cap + n);
    } else if (loop->cfg.timers == C1M_TIMERS_GLOBAL_HEAP) {
        c1m_gtimers_t *g = loop->gtimers;
        pthread_mutex_lock(&g->heap.lock);
        g->slots += n;
        c1m_heap_reserve(&g->heap.heap, g->slots);
        pthread_mutex_unlock(&g->heap.lock);
    }
}

void c1m__timeouts_open(c1m_conn_t *c)
{
    memcpy(c->tmo_ms, c->loop->cfg.timeout_ms, sizeof c->tmo_ms);
    memset(c->tmo_deadline, 0, sizeof c->tmo_deadline);
}

void c1m__timeouts_opened(c1m_conn_t *c)
{
    if (!(c->proto->flags & C1M_PROTO_MANUAL_TIMEOUTS) && c1m_conn_is_open(c) &&
        !(c->flags & C1M_CONN_IN_REQ))
        c1m_conn_timeout_arm(c, C1M_TO_IDLE);
}

void c1m__timeouts_close(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    memset(c->tmo_deadline, 0, sizeof c->tmo_deadline);
    memset(c->tmo_ms, 0, sizeof c->tmo_ms); /* later arm calls are no-ops */
    switch (loop->cfg.timers) {
    case C1M_TIMERS_WHEEL:
        c1m_wheel_cancel(&loop->wheel, &c->tmo.wheel);
        break;
    case C1M_TIMERS_HEAP:
        c1m_heap_cancel(&loop->heap, &c->tmo.heap);
        break;
    case C1M_TIMERS_GLOBAL_HEAP:
        c1m_gheap_cancel(&loop->gtimers->heap, &c->tmo.heap); /* reads the index under the lock */
        break;
    }
}
