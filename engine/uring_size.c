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

c1m_uring_size_t c1m__uring_size(uint32_t rings)
{
    if (rings == 0)
        rings = 1;
    c1m_uring_size_t z;
    z.nbufs = share(C1M_URING_BUF_BUDGET, rings, C1M_URING_BUF_MIN, C1M_URING_BUF_BUDGET);
    z.cq = share(C1M_URING_CQ_BUDGET, rings, C1M_URING_CQ_MIN, C1M_URING_CQ_MAX);
    z.sq = z.cq / 4;
    return z;
}
