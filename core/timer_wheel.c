/* Non-cascading hierarchical timing wheel; see timer_wheel.h for the
 * design and the bounds. Written from the published design (Varghese &
 * Lauck 1987; the Linux 4.8 wheel rework), no code copied.
 *
 * Invariants:
 *   - w->clk == w->now + 1: every tick <= now has been processed.
 *   - An entry in level L, slot s, belongs to bucket k (fire tick k * G(L))
 *     with kc <= k <= kc + 63 where kc = ceil(clk / G(L)) is the next bucket
 *     of level L still to process, and s = k mod 64. So a slot holds one
 *     bucket at a time and the bucket of slot s is kc + ((s - kc) mod 64).
 *   - occupied[L] bit s <=> slot s of level L is non-empty.
 *   - Entries on w->due have expires < clk (armed at or before now).
 */
#include "core/timer_wheel.h"

#include <limits.h>
#include <string.h>

#define LVL_SHIFT(l) ((l) * C1M_WHEEL_CLK_SHIFT)

/* ceil(x / 2^s) for x >= 1. */
static inline uint64_t ceil_shift(uint64_t x, unsigned s)
{
    return ((x - 1) >> s) + 1;
}

static inline void list_add(c1m_wheel_entry_t **head, c1m_wheel_entry_t *e)
{
    e->next = *head;
    if (e->next)
        e->next->pprev = &e->next;
    *head = e;
    e->pprev = head;
}

static inline void list_del(c1m_wheel_entry_t *e)
{
    *e->pprev = e->next;
    if (e->next)
        e->next->pprev = e->pprev;
}

void c1m_wheel_init(c1m_wheel_t *w, uint64_t now_ms)
{
    memset(w, 0, sizeof(*w));
    w->now = now_ms;
    w->clk = now_ms + 1;
}

/* Link e (unlinked, e->expires set) where it belongs given w->clk. */
static void wheel_file(c1m_wheel_t *w, c1m_wheel_entry_t *e)
{
    uint64_t exp = e->expires, clk = w->clk, k;
    unsigned lvl;

    if (C1M_UNLIKELY(exp < clk)) {
        list_add(&w->due, e);
        return;
    }
    uint64_t d = exp - clk;
    if (d < C1M_WHEEL_LVL_SIZE) {
        lvl = 0;
        k = exp;
    } else {
        /* Lowest level whose 64 slots might reach: levels below have
         * d >> shift >= 64 and certainly cannot; this one fails at most
         * by one bucket of rounding, then the next one reaches. */
        unsigned bits = 64u - (unsigned)__builtin_clzll(d);   /* >= 7 */
        lvl = (bits - 4u) / 3u;
        for (;; lvl++) {
            if (C1M_UNLIKELY(lvl >= C1M_WHEEL_LEVELS)) {
                /* Beyond the horizon: park in the farthest bucket of the top
                 * level; advance re-files it (its deadline is later). */
                lvl = C1M_WHEEL_LEVELS - 1;
                k = ceil_shift(clk, LVL_SHIFT(lvl)) + C1M_WHEEL_LVL_MASK;
                break;
            }
            unsigned s = LVL_SHIFT(lvl);
            k = ceil_shift(exp, s);
            if (k - ceil_shift(clk, s) <= C1M_WHEEL_LVL_MASK)
                break;
        }
    }
    unsigned s = (unsigned)(k & C1M_WHEEL_LVL_MASK);
    list_add(&w->slot[lvl * C1M_WHEEL_LVL_SIZE + s], e);
    w->occupied[lvl] |= UINT64_C(1) << s;
}

/* Unlink an armed e; clear the occupancy bit if its slot became empty. */
static inline void wheel_unlink(c1m_wheel_t *w, c1m_wheel_entry_t *e)
{
    c1m_wheel_entry_t **pp = e->pprev;
    list_del(e);
    e->next = NULL;
    e->pprev = NULL;
    /* pp points either into another entry (not first in its list) or at
     * a list head; only the slot heads lie inside w->slot. */
    uintptr_t off = (uintptr_t)pp - (uintptr_t)w->slot;
    if (off < sizeof(w->slot) && *pp == NULL) {
        size_t idx = off / sizeof(w->slot[0]);
        w->occupied[idx / C1M_WHEEL_LVL_SIZE] &=
            ~(UINT64_C(1) << (idx & C1M_WHEEL_LVL_MASK));
    }
}

void c1m_wheel_arm(c1m_wheel_t *w, c1m_wheel_entry_t *e, uint64_t expires_ms)
{
    if (e->pprev != NULL)
        wheel_unlink(w, e);
    else
        w->count++;
    e->expires = expires_ms;
    wheel_file(w, e);
}

void c1m_wheel_cancel(c1m_wheel_t *w, c1m_wheel_entry_t *e)
{
    if (e->pprev == NULL)
        return;
    wheel_unlink(w, e);
    w->count--;
}

/* Earliest fire tick among the wheel slots (not the due list), or
 * UINT64_MAX. One rotate + count-trailing-zeros per non-empty level. */
static uint64_t wheel_next_slot_tick(const c1m_wheel_t *w)
{
    uint64_t best = UINT64_MAX;
    for (unsigned lvl = 0; lvl < C1M_WHEEL_LEVELS; lvl++) {
        uint64_t bm = w->occupied[lvl];
        if (!bm)
            continue;
        unsigned s = LVL_SHIFT(lvl);
        uint64_t kc = ceil_shift(w->clk, s);
        unsigned pos = (unsigned)(kc & C1M_WHEEL_LVL_MASK);
        uint64_t rot = (bm >> pos) | (bm << ((C1M_WHEEL_LVL_SIZE - pos) & C1M_WHEEL_LVL_MASK));
        uint64_t t = (kc + (unsigned)__builtin_ctzll(rot)) << s;
        if (t < best)
            best = t;
    }
    return best;
}

uint64_t c1m_wheel_next_tick(const c1m_wheel_t *w)
{
    if (w->due)
        return w->now;
    return wheel_next_slot_tick(w);
}

int c1m_wheel_next_timeout_ms(const c1m_wheel_t *w, uint64_t now_ms)
{
    if (w->due)
        return 0;
    uint64_t t = wheel_next_slot_tick(w);
    if (t == UINT64_MAX)
        return -1;
    if (t <= now_ms)
        return 0;
    return t - now_ms > (uint64_t)INT_MAX ? INT_MAX : (int)(t - now_ms);
}

/* Move the whole list at *head to the end of the list whose last next
 * field is **tail. */
static inline void splice_tail(c1m_wheel_entry_t **head, c1m_wheel_entry_t ***tail)
{
    c1m_wheel_entry_t *first = *head, *e;
    if (!first)
        return;
    *head = NULL;
    **tail = first;
    first->pprev = *tail;
    for (e = first; e->next; e = e->next)
        ;
    *tail = &e->next;
}

size_t c1m_wheel_advance(c1m_wheel_t *w, uint64_t now_ms, c1m_wheel_cb_t *cb,
                         void *arg)
{
    /* Phase 1: collect every entry whose fire tick is <= now onto a local
     * list, in fire-tick order. The collected entries stay armed (and
     * cancellable) until phase 2 pops them. */
    c1m_wheel_entry_t *pending = NULL, **tail = &pending;

    splice_tail(&w->due, &tail);
    if (now_ms > w->now) {
        for (;;) {
            uint64_t t = wheel_next_slot_tick(w);
            if (t > now_ms)
                break;
            for (unsigned lvl = 0; lvl < C1M_WHEEL_LEVELS; lvl++) {
                unsigned s = LVL_SHIFT(lvl);
                if (t & ((UINT64_C(1) << s) - 1))
                    break;          /* not a bucket boundary of lvl or above */
                unsigned slot = (unsigned)((t >> s) & C1M_WHEEL_LVL_MASK);
                if (w->occupied[lvl] & (UINT64_C(1) << slot)) {
                    w->occupied[lvl] &= ~(UINT64_C(1) << slot);
                    splice_tail(&w->slot[lvl * C1M_WHEEL_LVL_SIZE + slot], &tail);
                }
            }
            w->clk = t + 1;
        }
        w->now = now_ms;
        w->clk = now_ms + 1;
    }

    /* Phase 2: with the clock at now, fire or re-file. Entries armed by
     * callbacks are filed relative to now, so their bound holds. */
    size_t fired = 0;
    uint64_t now = w->now;
    c1m_wheel_entry_t *e;
    while ((e = pending) != NULL) {
        list_del(e);
        e->next = NULL;
        e->pprev = NULL;
        if (e->expires > now) {
            wheel_file(w, e);       /* postponed or beyond the horizon */
            continue;
        }
        w->count--;
        fired++;
        cb(e, arg);
    }
    return fired;
}
