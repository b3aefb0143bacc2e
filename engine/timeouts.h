/* Connection timeouts: one timer entry per connection, lazily re-armed.
 *
 * A connection keeps its four deadlines (read, write, idle, header) as
 * 32-bit ms offsets from a per-loop base (c->tmo_deadline[k], 0 = off) and
 * its durations (c->tmo_ms[k], copied from c1m_loop_cfg_t.timeout_ms at
 * open, overridable per connection). One timer entry (c->tmo, 24 bytes)
 * stands for the earliest of them. How that entry is kept depends on the
 * loop's c1m_timers_mode_t (the Go-timers article's experiment, on the same code):
 *
 *   C1M_TIMERS_WHEEL        per-loop timing wheel (core/timer_wheel.h), the
 *       default. The entry holds a deadline <= the true earliest one. Arming
 *       a deadline later than the entry's is a store; only an earlier one
 *       re-files the entry (O(1)). Clearing is a store. When the entry fires
 *       early (the deadline it held was moved later or cleared) it re-arms
 *       itself for the true earliest deadline. No lock, no allocation.
 *   C1M_TIMERS_HEAP         a binary min-heap per loop (libuv): every
 *       deadline change re-positions the entry (O(log n)).
 *   C1M_TIMERS_GLOBAL_HEAP  one heap shared by all loops of the process
 *       behind one mutex (Go 1.9): every deadline change re-positions the
 *       entry under the lock; every loop expires the heap, and a loop that
 *       pops another loop's entry forwards it to the owner (c1m_loop_post).
 *
 * Semantics (durations from c->tmo_ms; 0 = off):
 *   READ    no progress on reading for the duration. The engine re-arms it
 *           on every read that brings bytes; c1m_conn_request_end clears it
 *           (between requests the idle timeout governs).
 *   WRITE   output pending (not fully sent) for the duration: armed when
 *           unsent output appears, cleared when it drains. Always automatic.
 *   IDLE    no request in progress for the duration: armed at open and
 *           after each read that leaves no request in progress, cleared by
 *           c1m_conn_request_begin.
 *   HEADER  a fixed deadline from the first byte of a request until its
 *           header is complete (c1m_conn_request_begin arms it, further
 *           bytes do not move it; c1m_conn_request_header_done clears it).
 *
 * Protocols with C1M_PROTO_MANUAL_TIMEOUTS in c1m_proto_t.flags get no
 * automatic READ/IDLE handling: only their own calls count (WRITE stays
 * automatic). On expiry proto->on_timeout (optional) runs first; if it
 * returns 1 it handled the expiry (e.g. wrote a 408 and called
 * c1m_conn_close_after_flush), otherwise the engine closes the connection
 * with C1M_CLOSE_TIMEOUT_READ + kind and on_close gets that reason.
 *
 * Precision (deadlines count from the loop's cached clock, read once per
 * iteration): heaps fire in the first iteration at or after the deadline;
 * the wheel never fires before it and is late by less than 8/63 (12.7 %)
 * of the duration: exact below 64 ms, at most 7 ms late up to ~0.5 s,
 * 63 ms up to ~4 s, 511 ms up to ~33 s, 4.1 s up to ~4.4 min (the level
 * granularity, core/timer_wheel.h). A lazily postponed entry fires early
 * once and re-arms for the remaining time, so the bound holds for the
 * final deadline too. Add the loop's wake-up latency to all of these.
 *
 * All of these run on the connection's loop thread. Under the workerpool
 * architecture calls made from on_data (a worker thread) are ignored; the
 * engine's automatic READ/IDLE/WRITE handling still applies.
 */

/* The types first: engine/conn.h and engine/loop.h include only this part
 * (C1M_TIMEOUTS_TYPES_ONLY), the connection and the loop need them. */
#ifndef C1M_ENGINE_TIMEOUTS_TYPES
#define C1M_ENGINE_TIMEOUTS_TYPES
#include "c1m/conn.h" /* c1m_timeout_kind_t */
#include "c1m/loop.h" /* c1m_timers_mode_t */
#endif

#if !defined(C1M_TIMEOUTS_TYPES_ONLY) && !defined(C1M_ENGINE_TIMEOUTS_H)
#define C1M_ENGINE_TIMEOUTS_H

#include <stdint.h>

#include "core/timer_heap.h"
#include "engine/conn.h"
#include "engine/loop.h"
#include "engine/proto.h"

/* A held connection (engine/hold.h) whose deadline passed is checked again
 * this much later. */
#define C1M_HELD_RECHECK_MS 10

/* Maximum duration (about 12 days): deadlines are 32-bit ms offsets. */
#define C1M_TIMEOUT_MAX_MS (UINT32_C(1) << 30)

void c1m__conn_timeout_arm(c1m_conn_t *c, c1m_timeout_kind_t k);
void c1m__conn_timeout_clear(c1m_conn_t *c, c1m_timeout_kind_t k);

/* Per-connection override of the duration of k (0 = off, at most
 * C1M_TIMEOUT_MAX_MS). Takes effect at the next arm; 0 also clears a
 * running deadline of that kind. Loop thread only (ignored on a worker). */
void c1m_conn_set_timeout(c1m_conn_t *c, c1m_timeout_kind_t k, uint32_t ms);

/* Absolute deadline (loop ms) of k, 0 when not armed. */
uint64_t c1m_conn_timeout_deadline(const c1m_conn_t *c, c1m_timeout_kind_t k);

/* Request phases, for protocols that have requests (the HTTP parser calls
 * these; ts8 maps a frame to a request whose header is the whole frame).
 *   begin        first byte of a request: clears IDLE, arms HEADER (no-op
 *                when a request is already in progress: the header
 *                deadline stays fixed)
 *   header_done  clears HEADER
 *   end          request complete: clears READ and HEADER, arms IDLE */
void c1m__conn_request_begin(c1m_conn_t *c);
void c1m__conn_request_end(c1m_conn_t *c);

const char *c1m_timers_mode_name(c1m_timers_mode_t m);
int c1m_timers_mode_parse(const char *s); /* a mode or -EINVAL */
const char *c1m_timeout_kind_name(c1m_timeout_kind_t k);

/* The global heap of C1M_TIMERS_GLOBAL_HEAP: shared by the loops of one
 * process (their ids index `loops`, for forwarding). */
typedef struct c1m_gtimers {
    c1m_gheap_t heap;
    c1m_loop_t **loops;
    uint32_t nloops;
    size_t slots;          /* connection slots of all loops (under heap.lock) */
} c1m_gtimers_t;

/* Room for loops with ids 0 .. max_loops-1. 0 or a negative errno. */
int c1m_gtimers_init(c1m_gtimers_t *g, uint32_t max_loops);
void c1m_gtimers_destroy(c1m_gtimers_t *g);

/* ---- engine internals (engine/loop.c) --------------------------------- */

/* Set up / tear down the loop's timer state (called by c1m_loop_init and
 * c1m_loop_destroy). */
int c1m__timeouts_loop_init(c1m_loop_t *loop);
void c1m__timeouts_loop_destroy(c1m_loop_t *loop);
/* n connection slots were created (a slab chunk): initialise their
 * entries once (they survive slot reuse) and size the heap so that arming
 * never allocates. */
void c1m__timeouts_slots_added(c1m_loop_t *loop, c1m_conn_t *slots, uint32_t n);
/* A connection is opening: copy the loop's durations (before on_open). */
void c1m__timeouts_open(c1m_conn_t *c);
/* ... and it opened (after on_open): arm IDLE unless the protocol manages
 * its timeouts. */
void c1m__timeouts_opened(c1m_conn_t *c);
/* A connection closes: drop its entry. */
void c1m__timeouts_close(c1m_conn_t *c);
/* Expire due entries (loop thread, once per iteration, after now_ms). */
void c1m__timeouts_run(c1m_loop_t *loop);
/* ms until the next timer of this loop (connections and user timers), or
 * -1 when there is none. */
int c1m__timeouts_next_ms(c1m_loop_t *loop);

#endif
