/* engine/uring_size.c — see uring_size.h. */
#include "engine/uring_size.h"

/* The largest power of two <= x (x >= 1). */
static uint32_t pow2_floor(uint32_t x)
{
    uint32_t p = 1;
    while (p <= x / 2)
        p *= 2;
    return p;
}

static uint32_t share(uint32_t budget, uint32_t rings, uint32_t lo, uint32_t hi)
{
    uint32_t n = pow2_floor(budget / rings ? budget / rings : 1);
    return n < lo ? lo : n > hi ? hi : n;
}

/* The smallest power of two >= x, capped at 1 << 31. */
static uint32_t pow2_ceil(uint32_t x)
{
    uint32_t p = 1;
    while (p < x && p < (1u << 31))
        p *= 2;
    return p;
}

c1m_uring_size_t c1m__uring_size(uint32_t rings, uint32_t conns)
{
    if (rings == 0)
        rings = 1;
    c1m_uring_size_t z;
    z.nbufs = share(C1M_URING_BUF_BUDGET, rings, C1M_URING_BUF_MIN, C1M_URING_BUF_BUDGET);
    uint32_t cq = pow2_ceil(conns / 2);
    z.cq = cq < C1M_URING_CQ_MIN ? C1M_URING_CQ_MIN : cq > C1M_URING_CQ_MAX ? C1M_URING_CQ_MAX : cq;
    z.sq = z.cq / 4;
    return z;
}
