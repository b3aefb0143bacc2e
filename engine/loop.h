/* The event loop (public API: c1m/loop.h): one thread, one backend, the
 * connections it owns. This header holds its layout and the engine's
 * private calls.
 *
 * Shared-nothing: a loop's connections, buffers and counters are touched by
 * its own thread only. Other threads reach a loop through its queue
 * (c1m_loop_post), which wakes it with an eventfd. */
#ifndef C1M_ENGINE_LOOP_H
#define C1M_ENGINE_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "c1m/loop.h"
#include "core/timer.h"
#include "core/timer_heap.h"
#include "core/timer_wheel.h"
#include "engine/conn.h"
#include "engine/listener.h"
#include "engine/proto.h"
#include "engine/queue.h"

typedef struct c1m_gtimers c1m_gtimers_t;
typedef struct c1m_listener c1m_listener_t;
typedef struct c1m_backend_ops c1m_backend_ops_t;

/* Called with a freshly accepted fd; the default adopts it on this loop.
 * The dispatch architecture replaces it to hand the fd to another loop. */
typedef void (*c1m_accept_fn)(c1m_loop_t *loop, int fd);
/* Called on the loop thread about every tick_ms (e.g. metrics, Date). */
typedef void (*c1m_tick_fn)(c1m_loop_t *loop);

/* A layer above the loop (the worker pool, engine/workers.c) that takes
 * over the protocol's on_data: it may hold the connection
 * (c1m__conn_hold) and release it later. `batch` runs every
 * C1M_LOOP_BATCH events and at the end of each iteration (why =
 * C1M_LAYER_BATCH), and once when the loop stops (C1M_LAYER_STOP). */
enum { C1M_LAYER_BATCH, C1M_LAYER_STOP };
typedef struct c1m_layer_ops {
    ssize_t (*on_data)(void *arg, c1m_conn_t *c, const char *data, size_t len);
    void (*batch)(void *arg, c1m_loop_t *loop, int why);
} c1m_layer_ops_t;
#define C1M_LOOP_BATCH 32

/* A general fd watcher (c1m_loop_watch_fd). */
struct c1m_watch {
    c1m_io_t io;       /* fd, kind = C1M_IO_WATCH */
    unsigned events;
    c1m_watch_fn fn;
    void *ud;
};

#define C1M_LOOP_MAX_LISTENERS 4
/* The end of a drain (--drain-timeout, cfg.drain_ms): the lingering close
 * begins C1M_DRAIN_LINGER_MS before the deadline, or a fifth of the drain
 * when that is longer (at most C1M_DRAIN_LEAD_MAX_MS, at most half the
 * drain), so that what it costs (a shutdown and a close per connection:
 * seconds for 12,500 connections on a starved CPU) is spent inside the
 * drain rather than after it. */
#define C1M_DRAIN_LINGER_MS 500
#define C1M_DRAIN_LEAD_MAX_MS 5000
/* How long before the deadline of a drain of drain_ms the lingering close
 * begins. */
uint64_t c1m__drain_linger_lead_ms(uint64_t drain_ms);
/* When the lingering connections are closed: the deadline less the time the
 * shutdown pass took (the close pass touches the same sockets and costs
 * about as much), not before now. */
uint64_t c1m__drain_close_at(uint64_t deadline_ms, uint64_t now_ms, uint64_t pass_ms);

struct c1m_loop {
    const c1m_backend_ops_t *be;
    int be_fd;                  /* the backend's descriptor (epoll fd, ring fd) */
    void *be_state;             /* the backend's private state */
    uint32_t id;
    c1m_loop_cfg_t cfg;
    uint64_t now_ms;            /* monotonic, read once per iteration */
    bool stopping;              /* shutdown requested: draining (c1m_loop_draining) */
    bool stopped;               /* run() returned (read by other threads: relaxed) */
    bool lingering;             /* the drain's end: lingering closes */
    bool keep_listeners;        /* stop accepting but leave the sockets listening */
    uint64_t drain_deadline_ms; /* everything closed by then */
    uint64_t linger_at_ms;      /* the lingering close begins */
    uint64_t close_at_ms;       /* what still lingers is closed */
    uint64_t drain_msgs0;       /* stats.msgs when the drain began */

    c1m_queue_t queue;
    struct c1m_watch queue_watch;

    char *rbuf;

    /* Connection slab: chunks of conns, a free list, no per-conn malloc. */
    c1m_conn_t **chunks;
    uint32_t nchunks;
    c1m_conn_t *free_list;
    c1m_conn_t *released;       /* closed this iteration, freed at its end */
    c1m_conn_t *pending_close;  /* failed this iteration, closed at its end */

    /* This loop's own copies: a listener shared by several loops (one fd)
     * is registered in each loop's set separately, and io.registered says
     * whether it is in *this* loop's (one flag shared by the loops raced,
     * ThreadSanitizer). */
    c1m_listener_t *listeners[C1M_LOOP_MAX_LISTENERS];
    c1m_listener_t listener_own[C1M_LOOP_MAX_LISTENERS];
    uint32_t nlisteners;
    uint64_t accept_resume_ms;  /* accepting paused until then (0 = not) */
    bool accept_full;           /* paused because max_conns was reached */
    bool emfile_logged;
    bool full_logged;
    /* a prefork child's share of a shared listener (engine/share.h) */
    struct c1m_proc_slot *share;
    bool share_paused;          /* out of the wait queue: above its share */
    uint64_t share_seen;        /* the others' accepts at share_since_ms */
    uint64_t share_since_ms;    /* paused since then with no sibling accepting */
    uint64_t share_free_ms;     /* until then accept regardless (a stalled group) */

    const c1m_proto_t *proto;   /* protocol for accepted connections */
    c1m_accept_fn on_accept;
    c1m_tick_fn on_tick;
    uint32_t tick_ms;
    uint64_t next_tick_ms;

    const c1m_layer_ops_t *layer;
    void *layer_arg;
    uint32_t held;              /* connections held by the layer */
    uint32_t since_batch;       /* events dispatched since the layer's last batch */

    /* Timers (engine/timeouts.h): connection deadlines are ms offsets from
     * tmo_base; the entry lives in `wheel`, `heap` or the shared `gtimers`
     * depending on cfg.timers; user timers live in `timers`. */
    uint64_t tmo_base;
    c1m_wheel_t wheel;
    c1m_wheel_t timers;
    c1m_heap_t heap;
    c1m_gtimers_t *gtimers;
    bool gtimers_owned;

    pthread_t thread;
    void *user;
    c1m_loop_stats_t stats;
};

/* In-place set-up and tear-down (c1m_loop_new/free allocate). */
int c1m_loop_init(c1m_loop_t *loop, uint32_t id, const c1m_loop_cfg_t *cfg,
                  const c1m_proto_t *proto);
void c1m_loop_destroy(c1m_loop_t *loop);

/* Register a listener with this loop (exclusive: EPOLLEXCLUSIVE); the
 * loop keeps its own copy (its registration state is its own). */
int c1m_loop_add_listener(c1m_loop_t *loop, c1m_listener_t *l);

/* c1m_loop_adopt with connection flags (C1M_CONN_CLIENT | CONNECTING). */
c1m_conn_t *c1m__loop_adopt(c1m_loop_t *loop, int fd, const c1m_proto_t *proto, uint16_t flags);

/* Install the layer above the loop (before it runs). */
void c1m__loop_set_layer(c1m_loop_t *loop, const c1m_layer_ops_t *ops, void *arg);

/* A layer holds c: reading stops, a close is deferred until release.
 * Release (loop thread): closes it if it was closed meanwhile, else
 * resumes reading. keep_input gives the unconsumed tail of what the layer
 * took back to the engine (presented first at the next on_data); the
 * buffer's ownership moves to the connection. */
void c1m__conn_hold(c1m_conn_t *c);
void c1m__conn_release(c1m_conn_t *c);
void c1m__conn_keep_input(c1m_conn_t *c, c1m_buf_t *tail);
/* Present the kept input again now (the protocol stopped early, e.g. at
 * the high watermark, and may take more of it). */
void c1m__conn_redeliver(c1m_conn_t *c);

/* The backend woke up: read the clock. */
void c1m__loop_woke(c1m_loop_t *loop);

#endif
