/* Clocks. The loop reads the monotonic clock once per iteration and caches
 * it; everything else uses the cached value. */
#ifndef C1M_CORE_CLOCK_H
#define C1M_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t c1m_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Monotonic time in ns / µs / ms. */
static inline uint64_t c1m_now_ns(void) { return c1m_clock_ns(CLOCK_MONOTONIC); }
static inline uint64_t c1m_now_us(void) { return c1m_now_ns() / 1000u; }
static inline uint64_t c1m_now_ms(void) { return c1m_now_ns() / 1000000u; }

/* Wall-clock time in ns since the epoch (for aligning intervals across
 * processes and hosts). */
static inline uint64_t c1m_wall_ns(void) { return c1m_clock_ns(CLOCK_REALTIME); }

#endif
