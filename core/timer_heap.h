/* Timer heaps, the two baselines of the --timers experiment:
 *
 *   c1m_heap_*   a binary min-heap per loop (libuv's design): every deadline
 *                change re-positions the entry (sift up or down, O(log n)).
 *   c1m_gheap_*  the same heap shared by all loops behind one pthread mutex
 *                taken around every operation (Go 1.9's runtime timers).
 *
 * Time in milliseconds (uint64_t). Entries fire exactly: in the first
 * advance(now) with now >= deadline (lateness 0). Order is (deadline, arm
 * sequence): equal deadlines fire in arm order, as in libuv.
 *
 * The heap is an array of entry pointers; it grows by realloc (doubling)
 * only when an arm exceeds its capacity (c1m_heap_reserve pre-sizes it).
 * Each entry stores its array index, so cancel and re-arm are O(log n).
 */
#ifndef C1M_CORE_TIMER_HEAP_H
#define C1M_CORE_TIMER_HEAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define C1M_HEAP_NONE UINT32_MAX   /* index of an entry not in a heap */

typedef struct c1m_heap_entry {
    uint64_t expires;   /* deadline, ms (read-only for users) */
    uint64_t seq;       /* arm sequence number: FIFO among equal deadlines */
    uint32_t index;     /* position in the heap array, C1M_HEAP_NONE if idle */
    uint32_t owner;     /* owning loop id (the global heap forwards by it) */
} c1m_heap_entry_t;

_Static_assert(sizeof(c1m_heap_entry_t) <= 24, "heap entry must be <= 24 bytes");

typedef struct c1m_heap {
    c1m_heap_entry_t **a;
    uint32_t n;         /* live entries */
    uint32_t cap;
    uint64_t seq;       /* next arm sequence number */
} c1m_heap_t;

typedef void c1m_heap_cb_t(c1m_heap_entry_t *e, void *arg);

static inline void c1m_heap_entry_init(c1m_heap_entry_t *e, uint32_t owner)
{
    e->expires = 0;
    e->seq = 0;
    e->index = C1M_HEAP_NONE;
    e->owner = owner;
}

static inline bool c1m_heap_armed(const c1m_heap_entry_t *e)
{
    return e->index != C1M_HEAP_NONE;
}

void c1m_heap_init(c1m_heap_t *h);
void c1m_heap_destroy(c1m_heap_t *h);   /* frees the array; entries untouched */

/* Make room for n live entries. 0 or -ENOMEM (-EOVERFLOW beyond 2^32-2). */
int c1m_heap_reserve(c1m_heap_t *h, size_t n);

/* Arm e at expires_ms; an armed e is moved (re-sifted in place, which is
 * the cost of remove + insert without the double work). 0, or -ENOMEM if
 * the array had to grow and could not (e is then left unarmed). */
int c1m_heap_arm(c1m_heap_t *h, c1m_heap_entry_t *e, uint64_t expires_ms);

/* Disarm e (O(log n)); no-op if not armed. */
void c1m_heap_cancel(c1m_heap_t *h, c1m_heap_entry_t *e);

/* ms from now_ms to the earliest deadline (0 if due), -1 if empty;
 * clamped to INT_MAX. O(1). */
int c1m_heap_next_timeout_ms(const c1m_heap_t *h, uint64_t now_ms);

/* Pop and fire, in order, every entry with deadline <= now_ms: e is
 * disarmed before cb(e, arg), which may re-arm it or arm/cancel others.
 * Entries armed from cb (sequence numbers taken during this call) are not
 * fired by this call even if due: they fire at the next advance, which
 * avoids the livelock of a callback re-arming at now (an older due entry
 * sorted behind such a re-armed one also waits for the next advance; the
 * next timeout is then 0). Returns the number fired. */
size_t c1m_heap_advance(c1m_heap_t *h, uint64_t now_ms, c1m_heap_cb_t *cb, void *arg);

static inline size_t c1m_heap_count(const c1m_heap_t *h) { return h->n; }

/* The earliest armed entry or NULL. */
static inline c1m_heap_entry_t *c1m_heap_min(const c1m_heap_t *h)
{
    return h->n ? h->a[0] : NULL;
}

/* ---- Global heap: one heap, one mutex, shared by every loop ---------- */

typedef struct c1m_gheap {
    pthread_mutex_t lock;
    c1m_heap_t heap;
} c1m_gheap_t;

/* 0 or a negative errno from pthread_mutex_init. */
int c1m_gheap_init(c1m_gheap_t *g);
void c1m_gheap_destroy(c1m_gheap_t *g);
int c1m_gheap_reserve(c1m_gheap_t *g, size_t n);

/* Each takes g->lock around the heap operation. e->owner is the loop that
 * armed it (set by c1m_heap_entry_init). */
int c1m_gheap_arm(c1m_gheap_t *g, c1m_heap_entry_t *e, uint64_t expires_ms);
void c1m_gheap_cancel(c1m_gheap_t *g, c1m_heap_entry_t *e);
int c1m_gheap_next_timeout_ms(c1m_gheap_t *g, uint64_t now_ms);
size_t c1m_gheap_count(c1m_gheap_t *g);

/* Pop due entries one at a time under the lock and call cb(e, arg) with
 * the lock released (as Go 1.9's timerproc does), whatever e->owner is:
 * the callback decides whether to handle the entry or forward it to its
 * owner loop. cb may call the c1m_gheap_* functions. Same no-livelock
 * rule as c1m_heap_advance. Returns the number fired. */
size_t c1m_gheap_advance(c1m_gheap_t *g, uint64_t now_ms, c1m_heap_cb_t *cb, void *arg);

#endif
