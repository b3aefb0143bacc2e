#include "core/meter.h"

#include <math.h>

void c1m_meter_init(c1m_meter_t *m, uint64_t now_ns)
{
    *m = (c1m_meter_t){ .start_ns = now_ns, .last_tick_ns = now_ns };
}

static void ewma(double *rate, double instant, double minutes, bool init)
{
    double alpha = 1.0 - exp(-5.0 / 60.0 / minutes);
    *rate = init ? *rate + alpha * (instant - *rate) : instant;
}

void c1m_meter_update(c1m_meter_t *m, uint64_t total, uint64_t now_ns)
{
    m->count = total;
    while (now_ns - m->last_tick_ns >= C1M_METER_TICK_NS) {
        /* Events since the last tick are attributed to the first elapsed
         * tick, later elapsed ticks see none (as go-metrics does). */
        double instant = (double)(total - m->tick_count) / 5.0;
        m->tick_count = total;
        ewma(&m->rate1, instant, 1, m->ticked);
        ewma(&m->rate5, instant, 5, m->ticked);
        ewma(&m->rate15, instant, 15, m->ticked);
        m->ticked = true;
        m->last_tick_ns += C1M_METER_TICK_NS;
    }
}

double c1m_meter_mean(const c1m_meter_t *m, uint64_t now_ns)
{
    double s = (double)(now_ns - m->start_ns) / 1e9;
    return s > 0 ? (double)m->count / s : 0.0;
}
