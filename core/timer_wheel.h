/* Per-loop hierarchical timing wheel: O(1) arm and cancel, no allocation,
 * no lock (one loop = one thread owns the wheel).
 *
 * Design: non-cascading (the Linux 2016 timer wheel; Varghese & Lauck's
 * hierarchy without cascading). Time is in milliseconds (uint64_t, the
 * loop's cached CLOCK_MONOTONIC ms; values must stay below 2^63).
 *
 *   C1M_WHEEL_LEVELS = 8 levels of 64 slots; level L has granularity
 *   G(L) = 8^L ms:
 *
 *     level  granularity   deadlines (ms after now) that land there
 *       0        1 ms        1 .. 63           (exact)
 *       1        8 ms       ~64 .. ~512
 *       2       64 ms       ~512 .. ~4.1 s
 *       3      512 ms       ~4.1 s .. ~33 s
 *       4      4.1 s        ~33 s .. ~4.4 min
 *       5     32.8 s        ~4.4 min .. ~35 min
 *       6      4.4 min      ~35 min .. ~4.7 h
 *       7     35.0 min      ~4.7 h .. ~37 h     (the horizon)
 *
 * An entry with deadline e is filed in the lowest level L whose 64 slots
 * reach it, in the bucket k = ceil(e / G(L)); it fires when the wheel's
 * clock reaches k * G(L) >= e. Entries are never moved between levels
 * (no cascading), so arm and cancel touch one list head and one bit.
 *
 * Guarantees (all exercised exactly by tests/unit/test_timers.c):
 *   - an entry never fires before its deadline: it fires in the first
 *     c1m_wheel_advance(now) with now >= its fire tick >= deadline;
 *   - delays d = e - now < 64 ms fire exactly at e (level 0);
 *   - worst-case lateness (fire tick - e) for an entry armed at `now` with
 *     d = e - now: lateness <= G(L) - 1 where level L-1 could not hold it,
 *     hence d >= 63 * G(L-1) + 2 and
 *
 *         63 * lateness < 8 * d        i.e. lateness < 8/63 d = 12.7 % of d
 *
 *     (attained within a rounding: d = 63 G' + 2 and lateness = 8 G' - 1
 *     with G' = G(L-1), e.g. 511 ms late on a 4034 ms delay, 12.67 %);
 *   - beyond the horizon (more than ~37 h away) an entry is filed in the
 *     last slot the top level can reach and, when that slot comes up,
 *     re-filed by the wheel itself (not fired): the bound above still
 *     holds, for any 64-bit deadline;
 *   - lazily postponed entries (c1m_wheel_postpone) fire no later than
 *     max(the old bound, new deadline + 12.7 % of (new deadline - now));
 *   - c1m_wheel_next_timeout_ms never over-estimates: it returns the time
 *     to the earliest fire tick, which is <= earliest deadline + its bound;
 *     it may under-estimate (a lazily postponed or beyond-horizon entry
 *     wakes the loop early, once, and is re-filed).
 *
 * Arming a deadline <= now (the now of the last advance, or init) puts the
 * entry on a "due" list: it fires at the next c1m_wheel_advance call
 * whatever its now, and next_timeout returns 0.
 *
 * Cost: arm = a few shifts + list insert + bit set; cancel = list unlink
 * (+ bit clear when the slot empties, detected without a slot index: the
 * entry's pprev points into the wheel's slot array); next_timeout =
 * O(levels) (one rotate + ctz per level, from the per-level occupancy
 * bitmap); advance = O(levels) per distinct fire tick + O(1) per entry.
 * Memory: sizeof(c1m_wheel_t) ~ 4.2 KiB per loop.
 */
#ifndef C1M_CORE_TIMER_WHEEL_H
#define C1M_CORE_TIMER_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define C1M_WHEEL_LVL_BITS  6u                          /* 64 slots/level */
#define C1M_WHEEL_LVL_SIZE  (1u << C1M_WHEEL_LVL_BITS)
#define C1M_WHEEL_LVL_MASK  (C1M_WHEEL_LVL_SIZE - 1u)
#define C1M_WHEEL_CLK_SHIFT 3u                          /* x8 per level */
#define C1M_WHEEL_LEVELS    8u
#define C1M_WHEEL_NSLOTS    (C1M_WHEEL_LEVELS * C1M_WHEEL_LVL_SIZE)

/* Granularity (ms) of level l, and how far the wheel reaches for sure. */
#define C1M_WHEEL_GRAN(l)   (UINT64_C(1) << ((l) * C1M_WHEEL_CLK_SHIFT))
#define C1M_WHEEL_HORIZON_MS \
    ((uint64_t)(C1M_WHEEL_LVL_SIZE - 1) * C1M_WHEEL_GRAN(C1M_WHEEL_LEVELS - 1))

/* Worst-case lateness of an entry armed `delay_ms` ahead: the largest
 * integer L with 63 * L < 8 * delay (0 for delay < 64). */
#define C1M_WHEEL_LATENESS_MAX(delay_ms) \
    ((delay_ms) < 64 ? UINT64_C(0) : (8 * (uint64_t)(delay_ms) - 1) / 63)

/* The entry embedded in each connection (or timer). No callback pointer:
 * c1m_wheel_advance hands expired entries to one callback, which gets back
 * to the owner with c1m_container_of. Treat the fields as private except
 * `expires` (read-only: the armed deadline). */
typedef struct c1m_wheel_entry {
    struct c1m_wheel_entry *next;
    struct c1m_wheel_entry **pprev;  /* NULL <=> not armed */
    uint64_t expires;                /* deadline, ms */
} c1m_wheel_entry_t;

_Static_assert(sizeof(c1m_wheel_entry_t) <= 24, "wheel entry must be <= 24 bytes");

#define C1M_WHEEL_ENTRY_INIT { NULL, NULL, 0 }

typedef struct c1m_wheel {
    uint64_t clk;     /* next tick (ms) to process; = now + 1 after advance */
    uint64_t now;     /* now of the last advance (or init) */
    size_t count;     /* armed entries (including due / being expired) */
    uint64_t occupied[C1M_WHEEL_LEVELS];   /* bit s: slot s non-empty */
    c1m_wheel_entry_t *due;                /* armed at or before now */
    c1m_wheel_entry_t *slot[C1M_WHEEL_NSLOTS];
} c1m_wheel_t;

typedef void c1m_wheel_cb_t(c1m_wheel_entry_t *e, void *arg);

/* Empty wheel whose time is now_ms. */
void c1m_wheel_init(c1m_wheel_t *w, uint64_t now_ms);

static inline void c1m_wheel_entry_init(c1m_wheel_entry_t *e)
{
    e->next = NULL;
    e->pprev = NULL;
    e->expires = 0;
}

static inline bool c1m_wheel_armed(const c1m_wheel_entry_t *e)
{
    return e->pprev != NULL;
}

/* Arm e to fire at expires_ms (absolute). Re-arming an armed entry moves
 * it (earlier or later). */
void c1m_wheel_arm(c1m_wheel_t *w, c1m_wheel_entry_t *e, uint64_t expires_ms);

/* Disarm e; no-op if it is not armed. Safe from inside an advance callback
 * (also for entries expiring in the same advance that have not fired yet:
 * they will not fire). */
void c1m_wheel_cancel(c1m_wheel_t *w, c1m_wheel_entry_t *e);

/* Lazy re-arm, the connection's "refresh the read timeout" path: if e is
 * armed and expires_ms is not earlier than its current deadline, this is
 * a plain store (no list or bitmap is touched); when e's slot comes up,
 * the wheel sees the later deadline and re-files e instead of firing it.
 * Otherwise (not armed, or earlier) it is c1m_wheel_arm. */
static inline void c1m_wheel_postpone(c1m_wheel_t *w, c1m_wheel_entry_t *e,
                                      uint64_t expires_ms)
{
    if (C1M_LIKELY(e->pprev != NULL && expires_ms >= e->expires))
        e->expires = expires_ms;
    else
        c1m_wheel_arm(w, e, expires_ms);
}

/* Expire: move the wheel's time to now_ms and call cb(e, arg) for every
 * entry whose fire tick is <= now_ms and whose deadline is <= now_ms
 * (others - postponed or beyond the horizon - are re-filed silently). The
 * entry is disarmed before cb runs; cb may re-arm it, free its owner, and
 * arm or cancel any other entry. Entries armed from cb at or before now_ms
 * fire at the next advance, not in this one (no livelock). cb must not
 * call c1m_wheel_advance on the same wheel. A now_ms earlier than the
 * wheel's time expires only the due list. Returns the number fired. */
size_t c1m_wheel_advance(c1m_wheel_t *w, uint64_t now_ms, c1m_wheel_cb_t *cb,
                         void *arg);

/* Milliseconds from now_ms until the earliest fire tick (0 if it is not in
 * the future, e.g. something is due), or -1 if the wheel is empty: the
 * epoll_wait timeout. Clamped to INT_MAX. O(levels). */
int c1m_wheel_next_timeout_ms(const c1m_wheel_t *w, uint64_t now_ms);

/* Absolute tick (ms) of the earliest fire tick, UINT64_MAX if none. */
uint64_t c1m_wheel_next_tick(const c1m_wheel_t *w);

static inline size_t c1m_wheel_count(const c1m_wheel_t *w) { return w->count; }

/* The now of the last advance (or of init). */
static inline uint64_t c1m_wheel_now(const c1m_wheel_t *w) { return w->now; }

#endif
