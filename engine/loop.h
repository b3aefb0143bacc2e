/* The event loop: one thread, one epoll instance, the connections it owns.
 *
 * Shared-nothing: a loop's connections, buffers and counters are touched by
 * its own thread only. Other threads reach a loop through its queue
 * (c1m_loop_post), which wakes it with an eventfd. */
#ifndef C1M_ENGINE_LOOP_H
#define C1M_ENGINE_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/timer.h"
#include "core/timer_heap.h"
#include "core/timer_wheel.h"
#include "engine/conn.h"
#include "engine/proto.h"
#include "engine/queue.h"

typedef struct c1m_workers c1m_workers_t;
typedef struct c1m_gtimers c1m_gtimers_t;
typedef struct c1m_listener c1m_listener_t;

typedef struct c1m_loop_cfg {
    bool edge_triggered;   /* EPOLLET; level-triggered by default */
    uint32_t max_conns;    /* per loop; 0 = no limit (the fd cap still applies) */
    uint32_t out_high;     /* pause reading above this many unsent bytes */
    uint32_t out_low;      /* resume below this */
    uint32_t in_max;       /* a partial frame larger than this closes (NOMEM) */
    uint32_t accept_batch; /* accepts per listener wake-up */
    uint32_t rbuf_size;    /* the loop's shared read buffer */
    uint32_t drain_ms;     /* on shutdown, wait this long for output to flush */
    /* Connection timeouts (engine/timeouts.h): durations in ms, 0 = off;
     * indexed by c1m_timeout_kind_t. */
    uint32_t timeout_ms[C1M_TO__COUNT];
    c1m_timers_mode_t timers;   /* how connection deadlines are kept */
    bool pin_cpu;          /* run the loop on one CPU: (id + pid) mod ncpu */
    /* C1M_TIMERS_GLOBAL_HEAP: the heap shared by the loops of the process
     * (NULL: the loop makes a private one). */
    c1m_gtimers_t *gtimers;
} c1m_loop_cfg_t;

void c1m_loop_cfg_defaults(c1m_loop_cfg_t *cfg);

/* Counters written by the loop thread only; others read them relaxed. */
typedef struct c1m_loop_stats {
    uint64_t conns;     /* live */
    uint64_t accepted;
    uint64_t connected; /* client side */
    uint64_t closed;
    uint64_t msgs;      /* application messages (c1m_conn_count) */
    uint64_t bytes_in, bytes_out;
    uint64_t read_pauses;   /* high watermark reached */
    uint64_t accept_pauses; /* EMFILE/ENFILE/max-conns back-offs */
    uint64_t accept_errors;
    uint64_t dropped_out;   /* unsent bytes discarded by a close on error */
    uint64_t close_reasons[C1M_CLOSE__COUNT];
    /* connection timers (engine/timeouts.h) */
    uint64_t timer_inserts;   /* entry (re-)filed in the wheel or heap */
    uint64_t timer_lazy;      /* deadline changes that were only a store */
    uint64_t timer_early;     /* entry fired before any deadline: re-armed */
    uint64_t timer_forwards;  /* global heap: entries passed to their owner loop */
} c1m_loop_stats_t;

/* Called with a freshly accepted fd; the default adopts it on this loop.
 * The dispatch architecture replaces it to hand the fd to another loop. */
typedef void (*c1m_accept_fn)(c1m_loop_t *loop, int fd);
/* Called on the loop thread about every tick_ms (e.g. metrics, Date). */
typedef void (*c1m_tick_fn)(c1m_loop_t *loop);

#define C1M_LOOP_MAX_LISTENERS 4

struct c1m_loop {
    int epfd;
    uint32_t id;
    c1m_loop_cfg_t cfg;
    uint64_t now_ms;            /* monotonic, read once per iteration */
    bool stopping;              /* shutdown requested: draining */
    bool stopped;               /* run() returned */
    uint64_t drain_deadline_ms;

    c1m_queue_t queue;
    c1m_io_t queue_io;

    char *rbuf;

    /* Connection slab: chunks of conns, a free list, no per-conn malloc. */
    c1m_conn_t **chunks;
    uint32_t nchunks;
    c1m_conn_t *free_list;
    c1m_conn_t *released;       /* closed this iteration, freed at its end */
    c1m_conn_t *pending_close;  /* failed this iteration, closed at its end */

    c1m_listener_t *listeners[C1M_LOOP_MAX_LISTENERS];
    uint32_t nlisteners;
    uint64_t accept_resume_ms;  /* accepting paused until then (0 = not) */
    bool accept_full;           /* paused because max_conns was reached */
    bool emfile_logged;
    bool full_logged;

    const c1m_proto_t *proto;   /* protocol for accepted connections */
    c1m_accept_fn on_accept;
    c1m_tick_fn on_tick;
    uint32_t tick_ms;
    uint64_t next_tick_ms;

    /* workerpool: a bounded job queue shared with worker threads */
    c1m_workers_t *workers;
    c1m_conn_t *wait_head, *wait_tail; /* conns waiting for a job slot */
    uint32_t jobs_in_flight;           /* includes the batch below */
    struct c1m_job *batch_head, *batch_tail; /* jobs of this iteration, */
    uint32_t batch_n;                        /* submitted at its end */
    struct c1m_job *job_pool;  /* finished jobs kept for reuse, with */
    uint32_t job_pool_n;       /* their (small, emptied) buffers */

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

int c1m_loop_init(c1m_loop_t *loop, uint32_t id, const c1m_loop_cfg_t *cfg,
                  const c1m_proto_t *proto);
void c1m_loop_destroy(c1m_loop_t *loop);

/* Run until stopped and drained. Returns 0 or a negative errno. */
int c1m_loop_run(c1m_loop_t *loop);
/* One iteration: wait at most timeout_ms (-1: until an event or timer),
 * dispatch, run timers, close and recycle. Returns the number of events or
 * a negative errno. For tests and for embedding in another loop. */
int c1m_loop_run_once(c1m_loop_t *loop, int timeout_ms);
/* Start run() on a new thread. */
int c1m_loop_start_thread(c1m_loop_t *loop);
int c1m_loop_join(c1m_loop_t *loop);

/* Thread-safe: run fn(loop, arg, u) on the loop's thread. */
int c1m_loop_post(c1m_loop_t *loop, c1m_msg_fn fn, void *arg, uint64_t u);
/* Thread-safe: stop accepting, let in-flight output flush (cfg.drain_ms at
 * most), close every connection, return from run(). */
int c1m_loop_stop(c1m_loop_t *loop);

/* Register a listener with this loop (exclusive: EPOLLEXCLUSIVE). */
int c1m_loop_add_listener(c1m_loop_t *loop, c1m_listener_t *l);

/* Take ownership of a connected socket: registers it, calls proto->on_open.
 * Returns the connection or NULL (the fd is closed). Loop thread only. */
c1m_conn_t *c1m_loop_adopt(c1m_loop_t *loop, int fd, const c1m_proto_t *proto, uint16_t flags);

/* Client side: non-blocking connect from `src` (may be NULL) to `dst`;
 * proto->on_open runs when connected, on_close(C1M_CLOSE_CONNECT) when
 * it fails (errno then holds the connect error, e.g. ECONNREFUSED, when
 * on_close starts). Returns the connection or NULL with errno set. */
struct sockaddr;
c1m_conn_t *c1m_loop_connect(c1m_loop_t *loop, const struct sockaddr *src,
                             const struct sockaddr *dst, unsigned addrlen,
                             const c1m_proto_t *proto, void *ud);

/* General timers on the loop (loop thread only): t (c1m_timer_init'ed,
 * core/timer.h) runs delay_ms after the loop's now, then every period_ms
 * (0 = one-shot). Same precision as the wheel: never early, late by less
 * than 1/8 of the delay. Restarting a running timer moves it. */
void c1m_loop_timer_start(c1m_loop_t *loop, c1m_timer_t *t, uint64_t delay_ms,
                          uint64_t period_ms);
void c1m_loop_timer_stop(c1m_loop_t *loop, c1m_timer_t *t);

/* Visit every live connection of the loop (loop thread only). */
void c1m_loop_foreach_conn(c1m_loop_t *loop, void (*fn)(c1m_conn_t *c, void *arg), void *arg);

/* Sum of counters over loops (relaxed reads: a consistent-enough snapshot). */
void c1m_loop_stats_add(c1m_loop_stats_t *sum, const c1m_loop_stats_t *s);

#endif
