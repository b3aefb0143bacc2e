/* A rate meter with the semantics of go-metrics' Meter (the 1M-connections
 * article's "ops" meter): total count, mean rate since start, and 1-, 5-
 * and 15-minute exponentially weighted moving averages ticked every 5
 * seconds.
 *
 * The meter is fed cumulative totals (sums of per-loop counters that only
 * their loop writes), so the hot path never touches it. */
#ifndef C1M_CORE_METER_H
#define C1M_CORE_METER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct c1m_meter {
    uint64_t start_ns;
    uint64_t last_tick_ns;
    uint64_t count;      /* latest total */
    uint64_t tick_count; /* total at the last tick */
    double rate1, rate5, rate15; /* events per second */
    bool ticked;
} c1m_meter_t;

#define C1M_METER_TICK_NS 5000000000ull

void c1m_meter_init(c1m_meter_t *m, uint64_t now_ns);
/* Record the new cumulative total; ticks the averages once per elapsed 5 s. */
void c1m_meter_update(c1m_meter_t *m, uint64_t total, uint64_t now_ns);
double c1m_meter_mean(const c1m_meter_t *m, uint64_t now_ns);

#endif
