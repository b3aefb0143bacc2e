/* The event loop: one thread, one poller backend, the connections it owns.
 *
 * Shared-nothing: a loop's connections, buffers, timers and counters are
 * touched by its own thread only. Other threads reach a loop through
 * c1m_loop_post (a queue with an eventfd wake-up). Most programs do not
 * drive loops themselves: c1m_server_start (c1m/server.h) runs them under
 * an architecture. Use a loop directly to embed c1m in a program of your
 * own, or for client connections (c1m_loop_connect).
 */
#ifndef C1M_LOOP_H
#define C1M_LOOP_H

#include <sys/socket.h>

#include "c1m/common.h"
#include "c1m/conn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How connection deadlines are kept (the timer experiment of the article
 * "httprouter + net/http: four timeouts halved the throughput"). */
typedef enum { C1M_TIMERS_WHEEL, C1M_TIMERS_HEAP, C1M_TIMERS_GLOBAL_HEAP } c1m_timers_mode_t;

/* The poller behind the loop. EPOLL; URING (io_uring: connections, client
 * ones too, are direct descriptors of the loop's ring, not open files);
 * AUTO is epoll in a loop configuration for now: the c1m commands default
 * to their own auto, io_uring where the kernel allows it (docs/API.md). */
typedef enum { C1M_BACKEND_AUTO = 0, C1M_BACKEND_EPOLL, C1M_BACKEND_URING } c1m_backend_t;

typedef struct c1m_loop_cfg {
    c1m_backend_t backend;
    bool edge_triggered;   /* epoll: EPOLLET; level-triggered by default */
    uint32_t max_conns;    /* per loop; 0 = no limit (the fd limit still applies) */
    uint32_t out_high;     /* pause reading above this many unsent bytes (256 KiB) */
    uint32_t out_low;      /* resume below this (64 KiB) */
    uint32_t in_max;       /* a partial frame larger than this closes (16 MiB) */
    uint32_t accept_batch; /* accepts per listener wake-up (64) */
    uint32_t rbuf_size;    /* the loop's shared read buffer (64 KiB) */
    uint32_t drain_ms;     /* on stop, wait this long for output to flush (5 s) */
    uint32_t timeout_ms[C1M_TO__COUNT]; /* by c1m_timeout_kind_t; 0 = off (default) */
    c1m_timers_mode_t timers;
    bool pin_cpu;          /* run the loop on one CPU: (id + pid) mod ncpu */
    uint32_t uring_rings;  /* uring: how many rings (loops) the process runs; they share one
                            * budget of read buffers, so each ring gets 1/uring_rings of
                            * it, with a floor (0 = 1: the whole of it, 4,096 buffers
                            * of 2 KiB); a ring's completion queue follows its
                            * max_conns instead */
    bool peer_addrs;       /* c1m_conn_peer works on every backend: uring then
                            * accepts one connection at a time, with its
                            * address (a direct descriptor has no getpeername);
                            * off by default (epoll: getpeername either way) */
    struct c1m_gtimers *gtimers; /* private: set by the server */
} c1m_loop_cfg_t;

C1M_API void c1m_loop_cfg_defaults(c1m_loop_cfg_t *cfg);

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
    uint64_t timer_inserts;   /* connection timer entry (re-)filed */
    uint64_t timer_lazy;      /* deadline changes that were only a store */
    uint64_t timer_early;     /* entry fired before any deadline: re-armed */
    uint64_t timer_forwards;  /* global heap: entries passed to their owner loop */
    /* the drain (c1m_loop_stop): connections open when it began, those
     * still open at its deadline (closed then), messages completed during it */
    uint64_t drain_conns;
    uint64_t drain_deadline_closed;
    uint64_t drain_requests;
} c1m_loop_stats_t;

/* Create a loop (not running). `id` names it in logs and picks its CPU
 * with pin_cpu. 0 or a negative errno. */
C1M_API int c1m_loop_new(c1m_loop_t **out, uint32_t id, const c1m_loop_cfg_t *cfg,
                         const c1m_proto_t *proto);
/* Close every connection and free the loop (not running). */
C1M_API void c1m_loop_free(c1m_loop_t *loop);

/* Run until stopped and drained (the calling thread becomes the loop's). */
C1M_API int c1m_loop_run(c1m_loop_t *loop);
/* One iteration: wait at most timeout_ms (-1: until an event or a timer),
 * dispatch, run timers. Returns the number of events or a negative errno. */
C1M_API int c1m_loop_run_once(c1m_loop_t *loop, int timeout_ms);
/* c1m_loop_run on a new thread, and its join. */
C1M_API int c1m_loop_start_thread(c1m_loop_t *loop);
C1M_API int c1m_loop_join(c1m_loop_t *loop);
/* Thread-safe: stop accepting and drain, then return from run. The drain
 * lasts until every accepted connection has closed, cfg.drain_ms at most:
 * connections keep being served meanwhile (a protocol that can end one
 * cleanly does so when c1m_loop_draining says so: HTTP answers the next
 * request with "Connection: close"); towards the end the rest get a
 * lingering close (FIN after their pending output, input discarded, closed
 * when the peer closes or by the deadline): it begins a fifth of drain_ms
 * before the deadline (0.5 s at least, 5 s at most, half of drain_ms at
 * most), so that its cost (a shutdown and a close per connection) is spent
 * inside the drain. Client connections are closed as soon as their output
 * is flushed. */
C1M_API int c1m_loop_stop(c1m_loop_t *loop);
/* Whether the loop is draining (any thread; a protocol's on_data asks it
 * to end a connection at its next clean boundary). */
C1M_API bool c1m_loop_draining(const c1m_loop_t *loop);

/* Thread-safe: run fn(loop, arg, u) on the loop's thread. */
typedef void (*c1m_msg_fn)(c1m_loop_t *loop, void *arg, uint64_t u);
C1M_API int c1m_loop_post(c1m_loop_t *loop, c1m_msg_fn fn, void *arg, uint64_t u);

C1M_API uint32_t c1m_loop_id(const c1m_loop_t *loop);
/* The loop's clock (ms, monotonic), read once per iteration. */
C1M_API uint64_t c1m_loop_now_ms(const c1m_loop_t *loop);
C1M_API void *c1m_loop_user(const c1m_loop_t *loop);
C1M_API void c1m_loop_set_user(c1m_loop_t *loop, void *user);
/* Counters (relaxed reads from any thread). */
C1M_API const c1m_loop_stats_t *c1m_loop_stats(const c1m_loop_t *loop);
C1M_API void c1m_loop_stats_add(c1m_loop_stats_t *sum, const c1m_loop_stats_t *s);
/* The backend this loop runs on ("epoll" or "uring"). */
C1M_API const char *c1m_loop_backend_name(const c1m_loop_t *loop);

/* Take a connected socket: registers it and calls proto->on_open. Returns
 * the connection or NULL (the fd is then closed). Loop thread only. */
C1M_API c1m_conn_t *c1m_loop_adopt(c1m_loop_t *loop, int fd, const c1m_proto_t *proto);
/* Client side: non-blocking connect from src (may be NULL) to dst;
 * proto->on_open runs once connected, on_close(C1M_CLOSE_CONNECT) when it
 * fails (errno then holds why). NULL with errno set on immediate failure. */
C1M_API c1m_conn_t *c1m_loop_connect(c1m_loop_t *loop, const struct sockaddr *src,
                                     const struct sockaddr *dst, unsigned addrlen,
                                     const c1m_proto_t *proto, void *ud);
/* Visit every live connection (loop thread only). */
C1M_API void c1m_loop_foreach_conn(c1m_loop_t *loop, void (*fn)(c1m_conn_t *c, void *arg),
                                   void *arg);

/* Timers on the loop (loop thread only): fn runs delay_ms after the loop's
 * now, then every period_ms (0 = once). Never early; late by less than
 * 1/8 of the delay. Starting a running timer moves it. */
typedef struct c1m_timer c1m_timer_t;
typedef void c1m_timer_fn_t(c1m_timer_t *t);
C1M_API c1m_timer_t *c1m_timer_new(c1m_timer_fn_t *fn, void *data);
C1M_API void *c1m_timer_data(const c1m_timer_t *t);
C1M_API void c1m_loop_timer_start(c1m_loop_t *loop, c1m_timer_t *t, uint64_t delay_ms,
                                  uint64_t period_ms);
C1M_API void c1m_loop_timer_stop(c1m_loop_t *loop, c1m_timer_t *t);
C1M_API void c1m_timer_free(c1m_timer_t *t); /* stopped first */

/* Watch any other fd (a timerfd, an eventfd, a pipe) on the loop:
 * fn(loop, fd, events, ud) runs on the loop thread when it is readable
 * (C1M_WATCH_READ) or writable (C1M_WATCH_WRITE). Returns a watcher or
 * NULL with errno set. The fd stays the caller's to close, after
 * c1m_loop_unwatch. */
enum { C1M_WATCH_READ = 1u, C1M_WATCH_WRITE = 2u };
typedef struct c1m_watch c1m_watch_t;
typedef void (*c1m_watch_fn)(c1m_loop_t *loop, int fd, unsigned events, void *ud);
C1M_API c1m_watch_t *c1m_loop_watch_fd(c1m_loop_t *loop, int fd, unsigned events,
                                       c1m_watch_fn fn, void *ud);
C1M_API void c1m_loop_unwatch(c1m_loop_t *loop, c1m_watch_t *w);

#ifdef __cplusplus
}
#endif
#endif
