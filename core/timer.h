/* General timers for library users: one-shot and periodic callbacks on a
 * loop, on top of the timing wheel (core/timer_wheel.h), so they share its
 * bounds: never early, late by less than 8/63 (12.7 %) of the delay, exact
 * below 64 ms.
 *
 * A wheel that holds c1m_timer_t entries only is driven with
 * c1m_timer_run(w, now) (the loop keeps such a wheel next to its
 * connection wheel; both wheels feed the epoll_wait timeout). A wheel
 * mixing kinds can instead call c1m_timer_expire(w, e) from its advance
 * callback for entries it knows to be embedded in a c1m_timer_t.
 *
 * Periodic timers re-arm from their scheduled time, not from the time they
 * happened to run: the k-th deadline is start + k * period, so lateness
 * never accumulates (no drift). If the loop stalled past whole periods the
 * missed ones are skipped (the callback runs once, the next deadline stays
 * on the start + k * period grid). The timer is re-armed before its
 * callback runs, so the callback may stop it, restart it or free it after
 * stopping it.
 */
#ifndef C1M_CORE_TIMER_H
#define C1M_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/common.h"
#include "core/timer_wheel.h"

typedef struct c1m_timer c1m_timer_t;
typedef void c1m_timer_fn_t(c1m_timer_t *t);

struct c1m_timer {
    c1m_wheel_entry_t entry;
    c1m_timer_fn_t *fn;
    uint64_t period_ms;     /* 0: one-shot */
    void *data;             /* for the user */
};

static inline void c1m_timer_init(c1m_timer_t *t, c1m_timer_fn_t *fn, void *data)
{
    c1m_wheel_entry_init(&t->entry);
    t->fn = fn;
    t->period_ms = 0;
    t->data = data;
}

/* Start (or restart) t at the absolute deadline expires_ms, then every
 * period_ms (0 = one-shot). */
static inline void c1m_timer_start_at(c1m_wheel_t *w, c1m_timer_t *t,
                                      uint64_t expires_ms, uint64_t period_ms)
{
    t->period_ms = period_ms;
    c1m_wheel_arm(w, &t->entry, expires_ms);
}

/* Start (or restart) t delay_ms after the loop's now (the wheel's time),
 * then every period_ms (0 = one-shot). */
static inline void c1m_timer_start(c1m_wheel_t *w, c1m_timer_t *t,
                                   uint64_t delay_ms, uint64_t period_ms)
{
    c1m_timer_start_at(w, t, c1m_wheel_now(w) + delay_ms, period_ms);
}

static inline void c1m_timer_stop(c1m_wheel_t *w, c1m_timer_t *t)
{
    c1m_wheel_cancel(w, &t->entry);
}

static inline bool c1m_timer_active(const c1m_timer_t *t)
{
    return c1m_wheel_armed(&t->entry);
}

/* The deadline t is (or was last) armed for. */
static inline uint64_t c1m_timer_due(const c1m_timer_t *t)
{
    return t->entry.expires;
}

/* Handle an expired entry of a c1m_timer_t: re-arm it if periodic, then
 * run its callback. Call only from an advance callback of w. */
static inline void c1m_timer_expire(c1m_wheel_t *w, c1m_wheel_entry_t *e)
{
    c1m_timer_t *t = c1m_container_of(e, c1m_timer_t, entry);
    if (t->period_ms) {
        uint64_t now = c1m_wheel_now(w), sched = e->expires;
        uint64_t next = sched + t->period_ms;
        if (next <= now)    /* stalled: skip missed periods, keep the grid */
            next = sched + t->period_ms * ((now - sched) / t->period_ms + 1);
        c1m_wheel_arm(w, e, next);
    }
    t->fn(t);
}

static inline void c1m_timer__wheel_cb(c1m_wheel_entry_t *e, void *arg)
{
    c1m_timer_expire((c1m_wheel_t *)arg, e);
}

/* Advance a wheel holding only c1m_timer_t entries. Returns the number of
 * callbacks run. */
static inline size_t c1m_timer_run(c1m_wheel_t *w, uint64_t now_ms)
{
    return c1m_wheel_advance(w, now_ms, c1m_timer__wheel_cb, w);
}

#endif
