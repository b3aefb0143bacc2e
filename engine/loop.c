/* The event loop. Reads top to bottom: set-up, the run loop, then the
 * handlers it dispatches to (listener, watchers, connection read/write),
 * then the connection slab and close bookkeeping, then holding (the hook
 * for the layer above the loop: the worker pool).
 *
 * The loop decides what to read and write and when; every system call
 * that waits, registers, reads, sends or closes goes through the backend
 * (engine/backend.h): level-triggered epoll by default (one read per
 * readiness event per connection for fairness, EPOLLOUT registered only
 * while output is pending), or edge-triggered (read until EAGAIN). */
#include "engine/loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"
#include "engine/backend.h"
#include "engine/listener.h"
#include "engine/share.h"
#include "engine/timeouts.h"

#define C1M_SLAB_CHUNK 1024
#define C1M_ACCEPT_BACKOFF_MS 100

__thread c1m_recorder_t *c1m__recorder;

static void handle_listener(c1m_loop_t *loop, c1m_listener_t *l);
static void handle_conn(c1m_loop_t *loop, c1m_conn_t *c, unsigned ev);
static void conn_read(c1m_conn_t *c);
static void conn_flush(c1m_conn_t *c);
static void conn_update_interest(c1m_conn_t *c);
static void conn_release_all(c1m_loop_t *loop);
static void accept_resume(c1m_loop_t *loop);
static void begin_drain(c1m_loop_t *loop);
static void queue_ready(c1m_loop_t *loop, int fd, unsigned events, void *ud);

void c1m_loop_cfg_defaults(c1m_loop_cfg_t *cfg)
{
    *cfg = (c1m_loop_cfg_t){
        .backend = C1M_BACKEND_AUTO,
        .edge_triggered = false,
        .max_conns = 0,
        .out_high = 256 * 1024,
        .out_low = 64 * 1024,
        .in_max = 16 * 1024 * 1024,
        .accept_batch = 64,
        .rbuf_size = 64 * 1024,
        .drain_ms = 5000,
    };
}

int c1m_loop_init(c1m_loop_t *loop, uint32_t id, const c1m_loop_cfg_t *cfg,
                  const c1m_proto_t *proto)
{
    memset(loop, 0, sizeof *loop);
    loop->id = id;
    loop->cfg = *cfg;
    loop->proto = proto;
    loop->be_fd = -1;
    loop->now_ms = c1m_now_ms();
    char why[256] = "";
    int rc = c1m__backend_pick(cfg->backend, &loop->be, why, sizeof why);
    if (rc < 0) {
        c1m_error("loop %u: %s", id, why);
        return rc;
    }
    if ((rc = loop->be->init(loop)) < 0)
        return rc;
    if ((rc = c1m_queue_init(&loop->queue)) < 0)
        goto err_be;
    loop->queue_watch = (struct c1m_watch){
        .io = { .fd = loop->queue.efd, .kind = C1M_IO_WATCH },
        .events = C1M_EV_READ, .fn = queue_ready,
    };
    if ((rc = loop->be->watch(loop, &loop->queue_watch.io, C1M_EV_READ, 0)) < 0)
        goto err_queue;
    loop->rbuf = malloc(cfg->rbuf_size);
    if (!loop->rbuf) {
        rc = -ENOMEM;
        goto err_queue;
    }
    if ((rc = c1m__timeouts_loop_init(loop)) < 0)
        goto err_rbuf;
    return 0;
err_rbuf:
    free(loop->rbuf);
    loop->rbuf = NULL;
err_queue:
    c1m_queue_destroy(&loop->queue);
err_be:
    loop->be->fini(loop);
    return rc;
}

void c1m_loop_destroy(c1m_loop_t *loop)
{
    conn_release_all(loop);
    c1m__timeouts_loop_destroy(loop);
    for (uint32_t i = 0; i < loop->nchunks; i++)
        free(loop->chunks[i]);
    free(loop->chunks);
    free(loop->rbuf);
    c1m_queue_destroy(&loop->queue);
    if (loop->be)
        loop->be->fini(loop);
    loop->chunks = NULL;
    loop->nchunks = 0;
    loop->rbuf = NULL;
}

int c1m_loop_new(c1m_loop_t **out, uint32_t id, const c1m_loop_cfg_t *cfg,
                 const c1m_proto_t *proto)
{
    c1m_loop_t *loop = malloc(sizeof *loop);
    if (!loop)
        return -ENOMEM;
    int rc = c1m_loop_init(loop, id, cfg, proto);
    if (rc < 0) {
        free(loop);
        return rc;
    }
    *out = loop;
    return 0;
}

void c1m_loop_free(c1m_loop_t *loop)
{
    if (!loop)
        return;
    c1m_loop_destroy(loop);
    free(loop);
}

uint32_t c1m_loop_id(const c1m_loop_t *loop) { return loop->id; }
uint64_t c1m_loop_now_ms(const c1m_loop_t *loop) { return loop->now_ms; }
void *c1m_loop_user(const c1m_loop_t *loop) { return loop->user; }
void c1m_loop_set_user(c1m_loop_t *loop, void *user) { loop->user = user; }
const c1m_loop_stats_t *c1m_loop_stats(const c1m_loop_t *loop) { return &loop->stats; }
const char *c1m_loop_backend_name(const c1m_loop_t *loop) { return loop->be->name; }

void c1m__loop_set_layer(c1m_loop_t *loop, const c1m_layer_ops_t *ops, void *arg)
{
    loop->layer = ops;
    loop->layer_arg = arg;
}

/* ---- the run loop ---------------------------------------------------- */

static int next_timeout_ms(c1m_loop_t *loop)
{
    int64_t t = -1;
    uint64_t now = loop->now_ms;
#define C1M_CONSIDER(at)                                                   \
    do {                                                                   \
        uint64_t at_ = (at);                                               \
        if (at_) {                                                         \
            int64_t d = at_ > now ? (int64_t)(at_ - now) : 0;              \
            if (t < 0 || d < t)                                            \
                t = d;                                                     \
        }                                                                  \
    } while (0)
    C1M_CONSIDER(loop->accept_resume_ms);
    C1M_CONSIDER(loop->on_tick ? loop->next_tick_ms : 0);
    C1M_CONSIDER(!loop->stopping ? 0 : loop->lingering ? loop->close_at_ms : loop->linger_at_ms);
#undef C1M_CONSIDER
    int tt = c1m__timeouts_next_ms(loop); /* connection deadlines, user timers */
    if (tt >= 0 && (t < 0 || tt < t))
        t = tt;
    return t > 1000000 ? 1000000 : (int)t;
}

static void run_timers(c1m_loop_t *loop)
{
    uint64_t now = loop->now_ms;
    if (loop->accept_resume_ms && now >= loop->accept_resume_ms)
        accept_resume(loop);
    if (loop->on_tick && now >= loop->next_tick_ms) {
        loop->next_tick_ms = now + loop->tick_ms;
        loop->on_tick(loop);
    }
    c1m__timeouts_run(loop);
}

/* Close what failed during this iteration, then recycle what was closed:
 * a closed connection's memory stays valid (and marked CLOSED) until every
 * event of the batch that might still name it has been skipped. */
static void end_of_iteration(c1m_loop_t *loop)
{
    if (loop->layer) {
        loop->layer->batch(loop->layer_arg, loop, C1M_LAYER_BATCH);
        loop->since_batch = 0;
    }
    while (loop->pending_close) {
        c1m_conn_t *c = loop->pending_close;
        loop->pending_close = c->next;
        c->next = NULL;
        c->flags &= (uint16_t)~C1M_CONN_ERROR;
        c1m_conn_close(c, c->close_reason);
    }
    while (loop->released) {
        c1m_conn_t *c = loop->released;
        loop->released = c->next;
        c->next = loop->free_list;
        loop->free_list = c;
    }
}

void c1m__loop_woke(c1m_loop_t *loop) { loop->now_ms = c1m_now_ms(); }

void c1m__loop_dispatch(c1m_loop_t *loop, c1m_io_t *io, unsigned ev)
{
    switch (io->kind) {
    case C1M_IO_CONN:
        handle_conn(loop, (c1m_conn_t *)io, ev);
        break;
    case C1M_IO_LISTENER:
        handle_listener(loop, (c1m_listener_t *)io);
        break;
    case C1M_IO_WATCH: {
        struct c1m_watch *w = (struct c1m_watch *)io;
        w->fn(loop, io->fd, ev & (C1M_EV_READ | C1M_EV_WRITE | C1M_EV_ERROR | C1M_EV_HUP), w->ud);
        break;
    }
    }
    if (loop->layer && ++loop->since_batch == C1M_LOOP_BATCH) {
        /* Hand off every few events (and take back what is finished), so
         * a reply leaves while its socket is still hot in the cache rather
         * than after a whole batch of events. */
        loop->since_batch = 0;
        loop->layer->batch(loop->layer_arg, loop, C1M_LAYER_BATCH);
    }
}

int c1m_loop_run_once(c1m_loop_t *loop, int timeout_ms)
{
    int t = next_timeout_ms(loop);
    if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
        t = timeout_ms;
    int n = loop->be->poll(loop, t);
    if (n < 0)
        return n;
    run_timers(loop);
    end_of_iteration(loop);
    return n;
}

/* Pin the calling thread to CPU (loop id + pid) mod ncpu, among the CPUs
 * it may use: the loops of one process get distinct CPUs, prefork children
 * are spread by pid. Worker threads stay unpinned. */
static void pin_thread(const c1m_loop_t *loop)
{
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof all, &all) < 0)
        return;
    int n = CPU_COUNT(&all);
    if (n <= 1)
        return;
    int want = (int)((loop->id + (unsigned)getpid()) % (unsigned)n), seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &all) || seen++ != want)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        int rc = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        if (rc)
            c1m_warn("loop %u: cannot pin to CPU %d: %s", loop->id, cpu, strerror(rc));
        return;
    }
}

uint64_t c1m__drain_linger_lead_ms(uint64_t drain_ms)
{
    uint64_t lead = drain_ms / 5 > C1M_DRAIN_LINGER_MS ? drain_ms / 5 : C1M_DRAIN_LINGER_MS;
    if (lead > C1M_DRAIN_LEAD_MAX_MS)
        lead = C1M_DRAIN_LEAD_MAX_MS;
    return lead < drain_ms / 2 ? lead : drain_ms / 2;
}

uint64_t c1m__drain_close_at(uint64_t deadline_ms, uint64_t now_ms, uint64_t pass_ms)
{
    uint64_t at = deadline_ms > pass_ms ? deadline_ms - pass_ms : 0;
    return at > now_ms ? at : now_ms;
}

/* The end of the drain with connections still open: a lingering close for
 * each (nginx's): the sending side is shut down once its output is out
 * (the peer reads a FIN, not a RST), input is read and discarded, and the
 * connection closes when the peer closes, or at the close pass. Closing at
 * once would make the kernel answer unread input with a RST. It begins
 * before the deadline (c1m__drain_linger_lead_ms): the two passes over
 * every connection are the slow part of a drain's end, and the deadline
 * bounds them too. Returns false when there is nothing to linger for. */
static void linger_conn(c1m_conn_t *c, void *arg)
{
    if (!c1m_conn_is_open(c) || (c->flags & (C1M_CONN_CLIENT | C1M_CONN_HELD)))
        return;
    c->flags |= C1M_CONN_LINGER;
    c1m_conn_shutdown_after_flush(c);
}

static bool drain_linger(c1m_loop_t *loop)
{
    loop->lingering = true;
    C1M_BUMP(loop->stats.drain_deadline_closed, loop->stats.conns);
    if (!loop->stats.conns)
        return false;
    c1m_loop_foreach_conn(loop, linger_conn, NULL);
    uint64_t now = c1m_now_ms(); /* the pass may take seconds */
    loop->close_at_ms = c1m__drain_close_at(loop->drain_deadline_ms, now, now - loop->now_ms);
    loop->now_ms = now; /* the next wait counts from here, not from before the pass */
    return true;
}

int c1m_loop_run(c1m_loop_t *loop)
{
    if (loop->cfg.pin_cpu)
        pin_thread(loop);
    loop->now_ms = c1m_now_ms();
    loop->next_tick_ms = loop->now_ms + loop->tick_ms;
    for (;;) {
        if (loop->stopping && loop->stats.conns == 0)
            break;
        if (loop->stopping && !loop->lingering && loop->now_ms >= loop->linger_at_ms &&
            !drain_linger(loop))
            break;
        if (loop->lingering && loop->now_ms >= loop->close_at_ms)
            break;
        int rc = c1m_loop_run_once(loop, -1);
        if (rc < 0)
            return rc;
    }
    /* Drained (or the drain's end came): the layer lets go of what it
     * has not handed on, then whatever is left is closed. */
    if (loop->layer)
        loop->layer->batch(loop->layer_arg, loop, C1M_LAYER_STOP);
    conn_release_all(loop);
    end_of_iteration(loop);
    /* The answers of the last iteration are still in a completion
     * backend (uring's sends, submitted at its next poll), and the closes
     * wait for them: let them go out (epoll wrote them already). */
    if (loop->be->settle)
        loop->be->settle(loop, C1M_MAX(loop->drain_deadline_ms, c1m_now_ms() + C1M_DRAIN_LINGER_MS));
    if (loop->stopping)
        C1M_RELAXED_STORE(&loop->stats.drain_requests, loop->stats.msgs - loop->drain_msgs0);
    C1M_RELAXED_STORE(&loop->stopped, true);
    return 0;
}

bool c1m_loop_draining(const c1m_loop_t *loop)
{
    return C1M_RELAXED_LOAD(&loop->stopping);
}

static void *loop_thread_main(void *arg)
{
    c1m_loop_t *loop = arg;
    intptr_t rc = c1m_loop_run(loop);
    return (void *)rc;
}

int c1m_loop_start_thread(c1m_loop_t *loop)
{
    return -pthread_create(&loop->thread, NULL, loop_thread_main, loop);
}

int c1m_loop_join(c1m_loop_t *loop)
{
    void *rv = NULL;
    int rc = pthread_join(loop->thread, &rv);
    return rc ? -rc : (int)(intptr_t)rv;
}

int c1m_loop_post(c1m_loop_t *loop, c1m_msg_fn fn, void *arg, uint64_t u)
{
    return c1m_queue_push(&loop->queue, fn, arg, u);
}

static void stop_msg(c1m_loop_t *loop, void *arg, uint64_t u)
{
    begin_drain(loop);
}

int c1m_loop_stop(c1m_loop_t *loop)
{
    return c1m_loop_post(loop, stop_msg, NULL, 0);
}

/* ---- watchers: the queue's eventfd, and any fd a user brings ------------ */

static void queue_ready(c1m_loop_t *loop, int fd, unsigned events, void *ud)
{
    c1m_queue_run(&loop->queue, loop);
}

c1m_watch_t *c1m_loop_watch_fd(c1m_loop_t *loop, int fd, unsigned events, c1m_watch_fn fn,
                               void *ud)
{
    if (fd < 0 || !fn || !(events & (C1M_WATCH_READ | C1M_WATCH_WRITE))) {
        errno = EINVAL;
        return NULL;
    }
    struct c1m_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    *w = (struct c1m_watch){ .io = { .fd = fd, .kind = C1M_IO_WATCH }, .fn = fn, .ud = ud };
    w->events = (events & C1M_WATCH_READ ? C1M_EV_READ : 0u) |
                (events & C1M_WATCH_WRITE ? C1M_EV_WRITE : 0u);
    int rc = loop->be->watch(loop, &w->io, w->events, 0);
    if (rc < 0) {
        free(w);
        errno = -rc;
        return NULL;
    }
    return w;
}

void c1m_loop_unwatch(c1m_loop_t *loop, c1m_watch_t *w)
{
    if (!w)
        return;
    loop->be->unwatch(loop, &w->io);
    free(w);
}

/* ---- timers ------------------------------------------------------------ */

void c1m_loop_timer_start(c1m_loop_t *loop, c1m_timer_t *t, uint64_t delay_ms,
                          uint64_t period_ms)
{
    c1m_timer_start_at(&loop->timers, t, loop->now_ms + delay_ms, period_ms);
}

void c1m_loop_timer_stop(c1m_loop_t *loop, c1m_timer_t *t)
{
    c1m_timer_stop(&loop->timers, t);
}

c1m_timer_t *c1m_timer_new(c1m_timer_fn_t *fn, void *data)
{
    c1m_timer_t *t = malloc(sizeof *t);
    if (t)
        c1m_timer_init(t, fn, data);
    return t;
}

void *c1m_timer_data(const c1m_timer_t *t) { return t->data; }

void c1m_timer_free(c1m_timer_t *t)
{
    /* the caller stopped it (c1m_loop_timer_stop): a running timer's
     * entry would still be linked in its loop's wheel */
    free(t);
}

/* ---- listeners ------------------------------------------------------- */

static int listener_register(c1m_loop_t *loop, c1m_listener_t *l)
{
    return loop->be->watch(loop, &l->io, C1M_EV_READ, l->exclusive ? C1M_WATCH_EXCLUSIVE : 0);
}

int c1m_loop_add_listener(c1m_loop_t *loop, c1m_listener_t *l)
{
    if (loop->nlisteners == C1M_LOOP_MAX_LISTENERS)
        return -ENOSPC;
    c1m_listener_t *own = &loop->listener_own[loop->nlisteners];
    *own = *l;
    own->io.kind = C1M_IO_LISTENER;
    own->io.registered = 0;
    int rc = listener_register(loop, own);
    if (rc == 0)
        loop->listeners[loop->nlisteners++] = own;
    return rc;
}

static void accept_pause(c1m_loop_t *loop, uint64_t resume_ms)
{
    for (uint32_t i = 0; i < loop->nlisteners; i++)
        loop->be->unwatch(loop, &loop->listeners[i]->io);
    loop->accept_resume_ms = resume_ms;
    C1M_BUMP(loop->stats.accept_pauses, 1);
}

/* Above its share of a shared listener: leave the wait queue, so that the
 * kernel wakes a sibling instead, and look again shortly. */
static void share_pause(c1m_loop_t *loop)
{
    for (uint32_t i = 0; i < loop->nlisteners; i++)
        loop->be->unwatch(loop, &loop->listeners[i]->io);
    if (!loop->share_paused) {
        loop->share_paused = true;
        loop->share_seen = c1m__share_others_taken(loop->share);
        loop->share_since_ms = loop->now_ms;
    }
    loop->accept_resume_ms = loop->now_ms + C1M_SHARE_RECHECK_MS;
}

/* Still above its share: stay out, unless connections have waited while
 * no sibling took one for C1M_SHARE_STALL_MS (a sibling hung, stopped or
 * full): then accept regardless for as long, so that balance never
 * stalls the queue for more than that. */
static bool share_stay_paused(c1m_loop_t *loop)
{
    if (!loop->share_paused)
        return false;
    if (!c1m__share_over(loop->share)) {
        loop->share_paused = false;
        return false;
    }
    uint64_t others = c1m__share_others_taken(loop->share);
    if (others > loop->share_seen) { /* the siblings take them: keep out */
        loop->share_seen = others;
        loop->share_since_ms = loop->now_ms;
    } else if (loop->now_ms - loop->share_since_ms >= C1M_SHARE_STALL_MS) {
        uint32_t waiting = 0;
        for (uint32_t i = 0; i < loop->nlisteners; i++)
            waiting += c1m__share_backlog(loop->listeners[i]->io.fd);
        if (waiting) {
            loop->share_paused = false;
            loop->share_free_ms = loop->now_ms + C1M_SHARE_STALL_MS;
            return false;
        }
    }
    share_pause(loop);
    return true;
}

static void accept_resume(c1m_loop_t *loop)
{
    loop->accept_resume_ms = 0;
    loop->accept_full = false;
    if (loop->stopping)
        return;
    if (share_stay_paused(loop))
        return;
    for (uint32_t i = 0; i < loop->nlisteners; i++)
        if (!loop->listeners[i]->io.registered)
            listener_register(loop, loop->listeners[i]);
}

static void accept_some(c1m_loop_t *loop, c1m_listener_t *l, uint32_t batch);

/* A listener shared by several loops or processes (EPOLLEXCLUSIVE): the
 * kernel wakes the first waiter in the listener's wait queue, and that is
 * always the same one, so one loop took most connections (prefork, 4
 * children: ~3,000 / 300 / 500 / 250 of 4,000). So take only a few per
 * wake-up, then re-register (remove and add: EPOLLEXCLUSIVE cannot be
 * modified), which moves this loop to the back of the queue: the next
 * connection wakes the next loop, round-robin. Two epoll_ctl per wake-up. */
#define C1M_EXCLUSIVE_BATCH 4

static void handle_listener(c1m_loop_t *loop, c1m_listener_t *l)
{
    /* A new connection's deadlines count from now, not from the start of a
     * long iteration (one clock read per batch of accepts). */
    loop->now_ms = c1m_now_ms();
    if (!l->exclusive) {
        accept_some(loop, l, loop->cfg.accept_batch);
        return;
    }
    accept_some(loop, l, C1M_MIN(loop->cfg.accept_batch, C1M_EXCLUSIVE_BATCH));
    if (loop->share_paused)
        return;
    if (l->io.registered) {
        loop->be->unwatch(loop, &l->io);
        listener_register(loop, l);
    }
}

static void accept_some(c1m_loop_t *loop, c1m_listener_t *l, uint32_t batch)
{
    /* draining, a backend that accepts ahead may still present
     * connections it took before the stop took effect: ours to serve */
    bool late = loop->stopping && loop->be->accepts_ahead;
    for (uint32_t i = 0; i < batch && (l->io.registered || late); i++) {
        if (!late && loop->cfg.max_conns && loop->stats.conns >= loop->cfg.max_conns) {
            /* Full: stop accepting until a connection closes (the backlog
             * holds the rest). Re-checked every second as a safety net.
             * (Late ones hold their descriptors already.) */
            if (!loop->full_logged) /* once per loop: it may recur every second */
                c1m_warn("loop %u: holding %u connections, its share of this process's "
                         "open-file budget (or of --max-conns): not accepting more until "
                         "some close; more processes (--procs) hold more%s",
                         loop->id, loop->cfg.max_conns,
                         loop->be == &c1m__backend_uring
                             ? ", and on io_uring a --max-conns above it gives the process "
                               "more rings (each ring's table holds up to the open-file limit)"
                             : "");
            loop->full_logged = true;
            loop->accept_full = true;
            accept_pause(loop, loop->now_ms + 1000);
            return;
        }
        /* the first accept of a wake-up is taken regardless: this child was
         * woken for it, and no sibling was */
        if (i > 0 && !late && l->exclusive && loop->share && loop->now_ms >= loop->share_free_ms &&
            c1m__share_over(loop->share)) {
            share_pause(loop);
            return;
        }
        int fd = loop->be->accept(loop, &l->io);
        if (fd < 0) {
            switch (-fd) {
            case EAGAIN:
                return;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
                continue;
            case EINVAL: /* no longer listening: shut down by its owner */
                loop->be->unwatch(loop, &l->io);
                return;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* Out of descriptors or memory: back off instead of spinning
                 * on a listener that stays readable. Logged once per loop. */
                if (!loop->emfile_logged)
                    c1m_warn("loop %u: accept: %s: pausing accepts for %d ms "
                             "(this process reached its open-file limit, RLIMIT_NOFILE; "
                             "use more processes, --procs)",
                             loop->id, strerror(-fd), C1M_ACCEPT_BACKOFF_MS);
                loop->emfile_logged = true;
                C1M_BUMP(loop->stats.accept_errors, 1);
                accept_pause(loop, loop->now_ms + C1M_ACCEPT_BACKOFF_MS);
                return;
            default:
                C1M_BUMP(loop->stats.accept_errors, 1);
                c1m_warn("loop %u: accept: %s", loop->id, strerror(-fd));
                return;
            }
        }
        C1M_BUMP(loop->stats.accepted, 1);
        if (loop->on_accept)
            loop->on_accept(loop, fd);
        else
            c1m__loop_adopt(loop, fd, loop->proto, 0);
    }
}

/* ---- connections: registration --------------------------------------- */

static c1m_conn_t *conn_alloc(c1m_loop_t *loop)
{
    if (!loop->free_list) {
        c1m_conn_t **chunks = realloc(loop->chunks, (loop->nchunks + 1) * sizeof *chunks);
        if (!chunks)
            return NULL;
        loop->chunks = chunks;
        c1m_conn_t *chunk = calloc(C1M_SLAB_CHUNK, sizeof *chunk);
        if (!chunk)
            return NULL;
        loop->chunks[loop->nchunks] = chunk;
        for (uint32_t i = C1M_SLAB_CHUNK; i-- > 0;) {
            chunk[i].io.fd = -1;
            chunk[i].flags = C1M_CONN_CLOSED;
            chunk[i].slot = loop->nchunks * C1M_SLAB_CHUNK + i;
            chunk[i].next = loop->free_list;
            loop->free_list = &chunk[i];
        }
        c1m__timeouts_slots_added(loop, chunk, C1M_SLAB_CHUNK);
        loop->nchunks++;
    }
    c1m_conn_t *c = loop->free_list;
    loop->free_list = c->next;
    uint32_t slot = c->slot;
    c1m_conn_timer_t tmo = c->tmo; /* set up once per slot (engine/timeouts.c) */
    memset(c, 0, sizeof *c);
    c->slot = slot;
    c->tmo = tmo;
    c->loop = loop;
    c->io.kind = C1M_IO_CONN;
    return c;
}

static bool conn_may_read(const c1m_conn_t *c)
{
    return !(c->flags & (C1M_CONN_CLOSED | C1M_CONN_ERROR | C1M_CONN_CLOSING | C1M_CONN_PAUSED |
                         C1M_CONN_HELD | C1M_CONN_EOF));
}

/* Unsent output: the loop's own (out) and, on a completion backend, the
 * bytes its send in flight still holds (C1M_CONN_INFLIGHT: on uring a
 * send() copies the bytes and the kernel takes them later; counting them
 * keeps the write timeout armed and the watermarks true while a peer does
 * not read). epoll never sets the flag: one test, no call. */
static inline bool conn_has_output(const c1m_conn_t *c)
{
    return c->out || C1M_UNLIKELY(c->flags & C1M_CONN_INFLIGHT);
}

static size_t conn_unsent(const c1m_conn_t *c)
{
    size_t n = c1m_buf_size(c->out);
    if (C1M_UNLIKELY(c->flags & C1M_CONN_INFLIGHT))
        n += c->loop->be->in_flight(c);
    return n;
}

unsigned c1m__conn_interest(const c1m_conn_t *c)
{
    if (c->flags & C1M_CONN_CONNECTING)
        return C1M_EV_WRITE;
    if (c->flags & C1M_CONN_HELD)
        return 0; /* pending output is not flushed while held either */
    return (conn_may_read(c) ? C1M_EV_READ : 0u) | (c->out ? C1M_EV_WRITE : 0u);
}

/* Keep the backend's interest equal to what we want. */
static void conn_update_interest(c1m_conn_t *c)
{
    if (!c1m_conn_is_open(c))
        return;
    if (c->loop->be->conn_update(c) < 0) {
        c->close_reason = C1M_CLOSE_ERROR;
        c->flags |= C1M_CONN_ERROR;
        c->next = c->loop->pending_close;
        c->loop->pending_close = c;
    }
}

c1m_conn_t *c1m__loop_adopt(c1m_loop_t *loop, int fd, const c1m_proto_t *proto, uint16_t flags)
{
    c1m_conn_t *c = conn_alloc(loop);
    if (!c) {
        loop->be->drop(loop, fd);
        C1M_BUMP(loop->stats.accept_errors, 1);
        return NULL;
    }
    c->io.fd = fd;
    c->proto = proto;
    c->flags = flags;
    if (loop->be->conn_add(c) < 0) {
        loop->be->drop(loop, fd);
        c->io.fd = -1;
        c->flags = C1M_CONN_CLOSED;
        c->next = loop->released;
        loop->released = c;
        C1M_BUMP(loop->stats.accept_errors, 1);
        return NULL;
    }
    C1M_BUMP(loop->stats.conns, 1);
    if (loop->share)
        c1m__share_add(loop->share, 1);
    c1m__timeouts_open(c);
    if (flags & C1M_CONN_CONNECTING)
        return c;
    if (proto->on_open && proto->on_open(c) < 0)
        c1m_conn_close(c, C1M_CLOSE_LOCAL);
    else
        c1m__timeouts_opened(c);
    return c;
}

c1m_conn_t *c1m_loop_adopt(c1m_loop_t *loop, int fd, const c1m_proto_t *proto)
{
    return c1m__loop_adopt(loop, fd, proto, 0);
}

c1m_conn_t *c1m_loop_connect(c1m_loop_t *loop, const struct sockaddr *src,
                             const struct sockaddr *dst, unsigned addrlen,
                             const c1m_proto_t *proto, void *ud)
{
    int fd = loop->be->connect(loop, src, dst, addrlen);
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    c1m_conn_t *c = c1m__loop_adopt(loop, fd, proto, C1M_CONN_CLIENT | C1M_CONN_CONNECTING);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->ud = ud;
    return c;
}

static void connect_done(c1m_conn_t *c)
{
    int err = c->loop->be->sock_error(c);
    c->flags &= (uint16_t)~C1M_CONN_CONNECTING;
    if (err) {
        errno = err; /* on_close(C1M_CLOSE_CONNECT) may read why (c1m/loop.h) */
        c1m_conn_close(c, C1M_CLOSE_CONNECT);
        return;
    }
    C1M_BUMP(c->loop->stats.connected, 1);
    conn_update_interest(c); /* the connect's EPOLLOUT goes */
    if (c->proto->on_open && c->proto->on_open(c) < 0)
        c1m_conn_close(c, C1M_CLOSE_LOCAL);
    else
        c1m__timeouts_opened(c);
}

/* ---- connections: events --------------------------------------------- */

static void handle_conn(c1m_loop_t *loop, c1m_conn_t *c, unsigned ev)
{
    if (c->flags & (C1M_CONN_CLOSED | C1M_CONN_ERROR))
        return; /* closed earlier in this batch, or failed: handled at the end */
    if (c->flags & C1M_CONN_CONNECTING) {
        if (ev & (C1M_EV_WRITE | C1M_EV_ERROR | C1M_EV_HUP))
            connect_done(c);
        return;
    }
    if (c->flags & C1M_CONN_HELD) {
        /* A worker holds it. Errors and hang-ups are reported whatever the
         * interest: stop events and close it on release. Otherwise the
         * interest is dropped lazily, only when an event shows up while it
         * is held (a closed-loop client sends nothing then): no pair of
         * registration calls per hold. The release restores it. */
        if (ev & (C1M_EV_ERROR | C1M_EV_HUP)) {
            loop->be->conn_forget(c);
            c->flags |= C1M_CONN_DEAD;
            c->close_reason = C1M_CLOSE_RESET;
        } else {
            if (ev & C1M_EV_SENT) /* the release looks at what is left */
                c->flags |= C1M_CONN_SENT_HELD;
            conn_update_interest(c);
        }
        return;
    }
    /* SENT: the backend's send in flight ended; with nothing in out that
     * may be the end of the output (conn_flush says drained) */
    if ((ev & C1M_EV_WRITE) && (c->out || (ev & C1M_EV_SENT)))
        conn_flush(c);
    if (!c1m_conn_is_open(c))
        return;
    if ((ev & (C1M_EV_ERROR | C1M_EV_HUP)) && !conn_may_read(c)) {
        /* Reading would report the error (or the last bytes and EOF), but
         * reading is paused: nothing more can be done. */
        int err = loop->be->sock_error(c);
        c1m_conn_close(c, err == ECONNRESET || err == EPIPE || !err ? C1M_CLOSE_RESET
                                                                   : C1M_CLOSE_ERROR);
        return;
    }
    if (ev & (C1M_EV_READ | C1M_EV_ERROR | C1M_EV_HUP | C1M_EV_RDHUP))
        conn_read(c);
}

/* Hand bytes to the protocol, or to the layer above the loop. */
static void conn_deliver(c1m_conn_t *c, const char *data, size_t n)
{
    c1m_loop_t *loop = c->loop;
    if (C1M_UNLIKELY(c->flags & C1M_CONN_LINGER))
        return; /* closing at the drain deadline: input is discarded */
    if (c->in) {
        if (c1m_buf_size(c->in) + n > loop->cfg.in_max || c1m_buf_append(&c->in, data, n) < 0) {
            c1m_conn_close(c, C1M_CLOSE_NOMEM);
            return;
        }
        data = c1m_buf_data(c->in);
        n = c1m_buf_size(c->in);
    }
    const c1m_proto_t *proto = c->proto;
    ssize_t used = loop->layer ? loop->layer->on_data(loop->layer_arg, c, data, n)
                               : c->proto->on_data(c, data, n);
    if (!c1m_conn_is_open(c))
        return;
    if (used < 0) {
        c1m_conn_close(c, C1M_CLOSE_PROTO);
        return;
    }
    if (c->in) {
        c1m_buf_consume(&c->in, (size_t)used);
    } else if ((size_t)used < n) {
        if (n - (size_t)used > loop->cfg.in_max ||
            c1m_buf_append(&c->in, data + used, n - (size_t)used) < 0)
            c1m_conn_close(c, C1M_CLOSE_NOMEM);
    }
    /* The protocol handed the connection over (c1m_conn_set_proto): what
     * it left belongs to the new one, now (no new bytes may come). */
    if (C1M_UNLIKELY(c->proto != proto) && c->in && conn_may_read(c))
        conn_deliver(c, "", 0);
}

static void conn_read(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    while (conn_may_read(c)) {
        char *data = loop->rbuf; /* or the backend's own buffer */
        ssize_t n = loop->be->recv(c, &data, loop->cfg.rbuf_size);
        if (n > 0) {
            C1M_BUMP(loop->stats.bytes_in, (uint64_t)n);
            bool autot = !(c->proto->flags & C1M_PROTO_MANUAL_TIMEOUTS);
            if (autot) /* progress on reading */
                c1m_conn_timeout_arm(c, C1M_TO_READ);
            conn_deliver(c, data, (size_t)n);
            /* no request left in progress: the idle timeout runs (a worker
             * holding the connection is a request in progress) */
            if (autot && c1m_conn_is_open(c)) {
                if (c->flags & C1M_CONN_HELD)
                    c1m_conn_timeout_clear(c, C1M_TO_IDLE);
                else if (!(c->flags & C1M_CONN_IN_REQ))
                    c1m_conn_timeout_arm(c, C1M_TO_IDLE);
            }
            if (!loop->cfg.edge_triggered)
                return; /* one read per event: fairness */
            continue;
        }
        if (n == 0) {
            /* Peer half-closed: finish sending what is pending, then close. */
            c->flags |= C1M_CONN_EOF;
            if (conn_has_output(c)) {
                c->flags |= C1M_CONN_CLOSING;
                c->close_reason = C1M_CLOSE_PEER;
                conn_update_interest(c);
            } else {
                c1m_conn_close(c, C1M_CLOSE_PEER);
            }
            return;
        }
        if (n == -EAGAIN)
            return;
        c1m_conn_close(c, n == -ECONNRESET ? C1M_CLOSE_RESET : C1M_CLOSE_ERROR);
        return;
    }
}

/* ---- connections: output --------------------------------------------- */

static void conn_fail(c1m_conn_t *c, int reason)
{
    if (c->flags & (C1M_CONN_ERROR | C1M_CONN_CLOSED))
        return;
    c->flags |= C1M_CONN_ERROR;
    c->close_reason = (uint8_t)reason;
    c->next = c->loop->pending_close;
    c->loop->pending_close = c;
}

static int write_errno_reason(int e)
{
    return e == EPIPE || e == ECONNRESET ? C1M_CLOSE_RESET : C1M_CLOSE_ERROR;
}

/* Output drained: clear the write deadline, finish a close or shutdown
 * that waited for it, tell the protocol. */
static void conn_drained(c1m_conn_t *c)
{
    c1m_conn_timeout_clear(c, C1M_TO_WRITE);
    if (c->flags & C1M_CONN_CLOSING) {
        c1m_conn_close(c, c->close_reason);
        return;
    }
    if (c->flags & C1M_CONN_SHUT_WR) {
        c->flags &= (uint16_t)~C1M_CONN_SHUT_WR;
        c->loop->be->shutdown_wr(c);
    }
    conn_update_interest(c);
    if (c->proto->on_drained && c1m_conn_is_open(c))
        c->proto->on_drained(c);
}

static void conn_flush(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    while (c->out) {
        struct iovec iov = { (void *)c1m_buf_data(c->out), c1m_buf_size(c->out) };
        ssize_t n = loop->be->send(c, &iov, 1);
        if (n == -EAGAIN)
            break;
        if (n < 0) {
            conn_fail(c, write_errno_reason((int)-n));
            return;
        }
        C1M_BUMP(loop->stats.bytes_out, (uint64_t)n);
        c1m_buf_consume(&c->out, (size_t)n);
    }
    size_t left = conn_unsent(c);
    if ((c->flags & C1M_CONN_PAUSED) && left <= loop->cfg.out_low) {
        c->flags &= (uint16_t)~C1M_CONN_PAUSED;
        conn_update_interest(c);
        /* Input kept while paused (a protocol stops consuming above the
         * high watermark) is presented again now: no new bytes may come
         * to trigger it. */
        if (c->in && conn_may_read(c))
            conn_deliver(c, "", 0);
        if (loop->cfg.edge_triggered && conn_may_read(c))
            conn_read(c); /* no new edge will announce bytes already queued */
        if (!c1m_conn_is_open(c))
            return;
        left = conn_unsent(c);
    }
    if (!left)
        conn_drained(c);
}

/* The backend took every byte: drained now, or (a completion backend's
 * send in flight) pending until its C1M_EV_SENT, with the write timeout
 * and the high watermark as for bytes kept in out. */
static void conn_sent_all(c1m_conn_t *c)
{
    if (!(c->flags & C1M_CONN_INFLIGHT)) {
        conn_drained(c); /* SHUT_WR waited for it */
        return;
    }
    if (!(c->flags & C1M_CONN_PAUSED) && conn_unsent(c) > c->loop->cfg.out_high) {
        c->flags |= C1M_CONN_PAUSED;
        C1M_BUMP(c->loop->stats.read_pauses, 1);
        conn_update_interest(c);
    }
    if (!c->tmo_deadline[C1M_TO_WRITE])
        c1m_conn_timeout_arm(c, C1M_TO_WRITE);
}

static void conn_queue_out(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    if (!(c->flags & C1M_CONN_PAUSED) && conn_unsent(c) > loop->cfg.out_high) {
        c->flags |= C1M_CONN_PAUSED;
        C1M_BUMP(loop->stats.read_pauses, 1);
    }
    if (!c->tmo_deadline[C1M_TO_WRITE]) /* output became pending */
        c1m_conn_timeout_arm(c, C1M_TO_WRITE);
    conn_update_interest(c);
}

int c1m_conn_writev(c1m_conn_t *c, const struct iovec *iov, int iovcnt)
{
    if (C1M_RECORDED(c)) /* a worker holds it: the loop sends at release */
        return c1m__recorder->record(c1m__recorder, C1M_REC_WRITE, 0, 0, iov, iovcnt);
    if (!c1m_conn_is_open(c))
        return -EPIPE;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    size_t done = 0;
    if (!c->out && !(c->flags & C1M_CONN_CONNECTING)) {
        ssize_t n = c->loop->be->send(c, iov, iovcnt);
        if (n < 0 && n != -EAGAIN) {
            conn_fail(c, write_errno_reason((int)-n));
            return (int)n;
        }
        done = n > 0 ? (size_t)n : 0;
        C1M_BUMP(c->loop->stats.bytes_out, done);
        if (done == total) {
            if (C1M_UNLIKELY(c->flags & (C1M_CONN_SHUT_WR | C1M_CONN_INFLIGHT)))
                conn_sent_all(c);
            return 0;
        }
    }
    /* Queue what the kernel did not take. */
    size_t skip = done;
    for (int i = 0; i < iovcnt; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        if (c1m_buf_append(&c->out, (const char *)iov[i].iov_base + skip,
                           iov[i].iov_len - skip) < 0) {
            conn_fail(c, C1M_CLOSE_NOMEM);
            return -ENOMEM;
        }
        skip = 0;
    }
    conn_queue_out(c);
    return 0;
}

int c1m_conn_write(c1m_conn_t *c, const void *p, size_t n)
{
    struct iovec iov = { .iov_base = (void *)p, .iov_len = n };
    return c1m_conn_writev(c, &iov, 1);
}

int c1m_conn_set_proto(c1m_conn_t *c, const c1m_proto_t *proto, void *ud)
{
    if (C1M_RECORDED(c) || (c->flags & C1M_CONN_HELD))
        return -ENOTSUP;
    if (!c1m_conn_is_open(c))
        return -EPIPE;
    c->proto = proto;
    c->ud = ud;
    return 0;
}

void c1m_conn_count(c1m_conn_t *c, uint32_t n)
{
    if (C1M_RECORDED(c))
        c1m__recorder->record(c1m__recorder, C1M_REC_COUNT, 0, n, NULL, 0);
    else
        C1M_BUMP(c->loop->stats.msgs, n);
}

void c1m_conn_shutdown_after_flush(c1m_conn_t *c)
{
    if (C1M_RECORDED(c)) {
        c1m__recorder->record(c1m__recorder, C1M_REC_SHUTDOWN_WR, 0, 0, NULL, 0);
        return;
    }
    if (!c1m_conn_is_open(c))
        return;
    if (c->out || (c->flags & C1M_CONN_HELD)) {
        c->flags |= C1M_CONN_SHUT_WR;
        return;
    }
    c->loop->be->shutdown_wr(c);
}

/* ---- connections: accessors ------------------------------------------- */

void *c1m_conn_ud(const c1m_conn_t *c) { return c->ud; }
void c1m_conn_set_ud(c1m_conn_t *c, void *ud) { c->ud = ud; }
c1m_loop_t *c1m_conn_loop(const c1m_conn_t *c) { return c->loop; }
int c1m_conn_fd(const c1m_conn_t *c) { return c->io.fd; }

bool c1m_conn_is_open(const c1m_conn_t *c)
{
    return !(c->flags & (C1M_CONN_CLOSED | C1M_CONN_ERROR));
}

int c1m_conn_peer(const c1m_conn_t *c, struct sockaddr_storage *ss, socklen_t *len)
{
    if (c->flags & C1M_CONN_CLOSED)
        return -EBADF;
    return c->loop->be->peer(c, ss, len);
}

size_t c1m_conn_pending_out(const c1m_conn_t *c)
{
    if (C1M_RECORDED(c))
        return c1m__recorder->pending_out(c1m__recorder);
    return conn_unsent(c);
}

bool c1m_conn_over_high(const c1m_conn_t *c)
{
    return c1m_conn_pending_out(c) > c->loop->cfg.out_high;
}

/* ---- connections: close and release ---------------------------------- */

void c1m_conn_close(c1m_conn_t *c, int reason)
{
    if (C1M_RECORDED(c)) { /* on a worker: the loop closes it at release */
        c1m__recorder->record(c1m__recorder, C1M_REC_CLOSE, reason, 0, NULL, 0);
        return;
    }
    if (c->flags & C1M_CONN_CLOSED)
        return;
    if (c->flags & C1M_CONN_HELD) { /* held: closed when released */
        if (!(c->flags & C1M_CONN_DEAD))
            c->close_reason = (uint8_t)reason;
        c->flags |= C1M_CONN_DEAD;
        return;
    }
    c1m_loop_t *loop = c->loop;
    if (c->flags & C1M_CONN_ERROR) { /* closing ahead of the pending list */
        reason = c->close_reason;
        c1m_conn_t **pp = &loop->pending_close;
        while (*pp && *pp != c)
            pp = &(*pp)->next;
        if (*pp)
            *pp = c->next;
    }
    c->flags = C1M_CONN_CLOSED;
    c->close_reason = (uint8_t)reason; /* the uring backend: abandon a blocked send or not */
    loop->be->close(c);
    c->io.fd = -1;
    c1m__timeouts_close(c);
    C1M_BUMP(loop->stats.dropped_out, c1m_buf_size(c->out));
    c1m_buf_free(&c->in);
    c1m_buf_free(&c->out);
    C1M_BUMP(loop->stats.conns, (uint64_t)-1);
    if (loop->share)
        c1m__share_add(loop->share, -1);
    C1M_BUMP(loop->stats.closed, 1);
    if (reason >= 0 && reason < C1M_CLOSE__COUNT)
        C1M_BUMP(loop->stats.close_reasons[reason], 1);
    if (c->proto->on_close)
        c->proto->on_close(c, reason);
    c->ud = NULL;
    c->next = loop->released;
    loop->released = c;
    if (loop->accept_full)
        accept_resume(loop);
}

void c1m_conn_close_after_flush(c1m_conn_t *c, int reason)
{
    if (C1M_RECORDED(c)) {
        c1m__recorder->record(c1m__recorder, C1M_REC_CLOSE_FLUSH, reason, 0, NULL, 0);
        return;
    }
    if (!c1m_conn_is_open(c))
        return;
    if (!conn_has_output(c) && !(c->flags & C1M_CONN_HELD)) {
        c1m_conn_close(c, reason);
        return;
    }
    c->flags |= C1M_CONN_CLOSING;
    c->close_reason = (uint8_t)reason;
    conn_update_interest(c);
}

void c1m_loop_foreach_conn(c1m_loop_t *loop, void (*fn)(c1m_conn_t *c, void *arg), void *arg)
{
    for (uint32_t i = 0; i < loop->nchunks; i++)
        for (uint32_t j = 0; j < C1M_SLAB_CHUNK; j++) {
            c1m_conn_t *c = &loop->chunks[i][j];
            if (!(c->flags & C1M_CONN_CLOSED))
                fn(c, arg);
        }
}

static void close_shutdown(c1m_conn_t *c, void *arg)
{
    if (!(c->flags & C1M_CONN_HELD))
        c1m_conn_close(c, C1M_CLOSE_SHUTDOWN);
}

static void conn_release_all(c1m_loop_t *loop)
{
    c1m_loop_foreach_conn(loop, close_shutdown, NULL);
}

/* Shutdown. Accepted connections keep being served until the drain
 * deadline: a protocol that can end a connection cleanly (HTTP answers
 * with "Connection: close") asks c1m_loop_draining and does; the rest
 * (echo, ts8, idle keep-alive connections) get a lingering close at the
 * deadline (drain_linger). Client connections (c1m_loop_connect) keep the
 * short form: answer what has arrived, close once flushed. */
static void drain_conn(c1m_conn_t *c, void *arg)
{
    if (!(c->flags & C1M_CONN_CLIENT))
        return;
    if (c->flags & (C1M_CONN_HELD | C1M_CONN_CONNECTING)) {
        c->flags |= C1M_CONN_CLOSING;
        c->close_reason = C1M_CLOSE_SHUTDOWN;
        return;
    }
    if (!c1m_conn_is_open(c))
        return;
    if (conn_may_read(c) && !c->loop->cfg.edge_triggered)
        conn_read(c); /* one last read: requests already received get answers */
    if (c1m_conn_is_open(c) && !(c->flags & C1M_CONN_HELD))
        c1m_conn_close_after_flush(c, C1M_CLOSE_SHUTDOWN);
    else if (c1m_conn_is_open(c)) {
        c->flags |= C1M_CONN_CLOSING;
        c->close_reason = C1M_CLOSE_SHUTDOWN;
    }
}

static void begin_drain(c1m_loop_t *loop)
{
    if (loop->stopping)
        return;
    C1M_RELAXED_STORE(&loop->stopping, true);
    loop->drain_deadline_ms = loop->now_ms + loop->cfg.drain_ms;
    loop->linger_at_ms = loop->drain_deadline_ms - c1m__drain_linger_lead_ms(loop->cfg.drain_ms);
    C1M_BUMP(loop->stats.drain_conns, loop->stats.conns);
    loop->drain_msgs0 = loop->stats.msgs;
    for (uint32_t i = 0; i < loop->nlisteners; i++) {
        c1m_listener_t *l = loop->listeners[i];
        /* What the backend accepted already is ours to serve, also on a
         * paused listener (on epoll the backlog is left to the listener's
         * next owner) */
        if (loop->be->accepts_ahead)
            accept_some(loop, l, UINT32_MAX);
        loop->be->unwatch(loop, &l->io);
        /* Refuse new connections now (an inherited listener is the prefork
         * parent's to stop: its siblings may still be serving; a listener
         * handed to a new process in an upgrade is that process's now). */
        if (l->owned && !C1M_RELAXED_LOAD(&loop->keep_listeners))
            shutdown(l->io.fd, SHUT_RD);
    }
    loop->accept_resume_ms = 0;
    loop->share_paused = false;
    c1m_loop_foreach_conn(loop, drain_conn, NULL);
}

/* ---- holding: the hook of the layer above the loop ----------------------- */

void c1m__conn_hold(c1m_conn_t *c)
{
    if (c->flags & C1M_CONN_HELD)
        return;
    c->flags |= C1M_CONN_HELD; /* interest: dropped lazily, see handle_conn */
    c->loop->held++;
}

void c1m__conn_keep_input(c1m_conn_t *c, c1m_buf_t *tail)
{
    if (!tail)
        return;
    if (!c->in && c1m_conn_is_open(c)) {
        c->in = tail;
        return;
    }
    if (c1m_conn_is_open(c) && c1m_buf_append(&c->in, c1m_buf_data(tail), c1m_buf_size(tail)) < 0)
        c1m_conn_close(c, C1M_CLOSE_NOMEM);
    c1m_buf_free(&tail);
}

void c1m__conn_redeliver(c1m_conn_t *c)
{
    if (c->in && conn_may_read(c))
        conn_deliver(c, "", 0);
}

void c1m__conn_release(c1m_conn_t *c)
{
    if (!(c->flags & C1M_CONN_HELD))
        return;
    c1m_loop_t *loop = c->loop;
    c->flags &= (uint16_t)~C1M_CONN_HELD;
    loop->held--;
    if (c->flags & C1M_CONN_DEAD) {
        c->flags &= (uint16_t)~C1M_CONN_DEAD;
        c1m_conn_close(c, c->close_reason);
        return;
    }
    if (!c1m_conn_is_open(c))
        return;
    if (c->flags & C1M_CONN_CLOSING) {
        c1m_conn_close_after_flush(c, c->close_reason);
        return;
    }
    if (c->flags & C1M_CONN_SHUT_WR && !c->out) {
        c->flags &= (uint16_t)~C1M_CONN_SHUT_WR;
        loop->be->shutdown_wr(c);
    }
    if (!(c->proto->flags & C1M_PROTO_MANUAL_TIMEOUTS) && !(c->flags & C1M_CONN_IN_REQ))
        c1m_conn_timeout_arm(c, C1M_TO_IDLE); /* answered: idle from now */
    conn_update_interest(c);
    if (C1M_UNLIKELY(c->flags & C1M_CONN_SENT_HELD)) {
        /* the backend's send ended while a worker held it: no event will
         * say so again (unpause, clear the write timeout, drained) */
        c->flags &= (uint16_t)~C1M_CONN_SENT_HELD;
        if (!c->out)
            conn_flush(c);
        if (!c1m_conn_is_open(c))
            return;
    }
    if (loop->cfg.edge_triggered)
        conn_read(c); /* no new edge will announce bytes that came meanwhile */
}

void c1m_loop_stats_add(c1m_loop_stats_t *sum, const c1m_loop_stats_t *s)
{
    const uint64_t *src = (const uint64_t *)s;
    uint64_t *dst = (uint64_t *)sum;
    for (size_t i = 0; i < sizeof *s / sizeof(uint64_t); i++)
        dst[i] += C1M_RELAXED_LOAD(&src[i]);
}
