/* engine/uring_size: each ring's share of the process's io_uring budget
 * (provided buffers, CQ and SQ entries). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/uring_size.h"

static bool pow2(uint32_t x) { return x && !(x & (x - 1)); }

/* One ring (and 0, which means one) keeps the whole buffer budget: a
 * single-loop server sizes its buffer ring as before the budget existed. */
static void one_ring_has_it_all(void **state)
{
    (void)state;
    for (uint32_t r = 0; r <= 1; r++) {
        c1m_uring_size_t z = c1m__uring_size(r, 11250);
        assert_int_equal(z.nbufs, C1M_URING_BUF_BUDGET);
        assert_int_equal(z.cq, 8192);
        assert_int_equal(z.sq, 8192 / 4);
    }
}

/* The cases the server meets: reuseport's 2 loops, 21 rings for 100,000
 * connections at a 10,000-file limit, 102 for a million at 20,000 (11,250
 * connections a ring: the CQ that held 47.9K TPS there, where a 1,024
 * share of a budget gave 3.9K). */
static void known_counts(void **state)
{
    (void)state;
    c1m_uring_size_t z = c1m__uring_size(2, 10000);
    assert_int_equal(z.nbufs, 2048);
    assert_int_equal(z.cq, 8192);
    z = c1m__uring_size(21, 4762); /* 4096 / 21 = 195 */
    assert_int_equal(z.nbufs, 128);
    assert_int_equal(z.cq, 4096);
    assert_int_equal(z.sq, 1024);
    z = c1m__uring_size(102, 11250); /* 40: the floor */
    assert_int_equal(z.nbufs, C1M_URING_BUF_MIN);
    assert_int_equal(z.cq, 8192);
    z = c1m__uring_size(102, 980);
    assert_int_equal(z.cq, C1M_URING_CQ_MIN);
    z = c1m__uring_size(UINT32_MAX, 0);
    assert_int_equal(z.nbufs, C1M_URING_BUF_MIN);
    assert_int_equal(z.cq, C1M_URING_CQ_MIN);
    z = c1m__uring_size(1, UINT32_MAX);
    assert_int_equal(z.cq, C1M_URING_CQ_MAX);
}

/* For every ring count: powers of two (the kernel and the buffer ring
 * require them) within the floor and the cap, never growing with more
 * rings, and the rings together within the budget unless the floor binds. */
static void shares_stay_in_budget(void **state)
{
    (void)state;
    c1m_uring_size_t prev = c1m__uring_size(1, 1000);
    for (uint32_t r = 1; r <= 5000; r++) {
        c1m_uring_size_t z = c1m__uring_size(r, 1000);
        assert_true(pow2(z.nbufs) && pow2(z.cq) && pow2(z.sq));
        assert_in_range(z.nbufs, C1M_URING_BUF_MIN, C1M_URING_BUF_BUDGET);
        assert_true(z.nbufs <= 32768); /* c1m_bufring_setup's limit */
        assert_int_equal(z.sq, z.cq / 4);
        assert_true(z.nbufs <= prev.nbufs);
        if (z.nbufs > C1M_URING_BUF_MIN)
            assert_true((uint64_t)z.nbufs * r <= C1M_URING_BUF_BUDGET);
        /* and not needlessly small: twice the share would pass the budget */
        if (z.nbufs < C1M_URING_BUF_BUDGET && z.nbufs > C1M_URING_BUF_MIN)
            assert_true((uint64_t)z.nbufs * 2 * r > C1M_URING_BUF_BUDGET);
        prev = z;
    }
}

/* The CQ follows the ring's connections, not the ring count: at least half
 * of them (a power of two) between the floor and the cap, never shrinking
 * as connections grow. */
static void cq_follows_the_connections(void **state)
{
    (void)state;
    uint32_t prev = 0;
    for (uint32_t n = 0; n <= 300000; n += 97) {
        c1m_uring_size_t z = c1m__uring_size(102, n);
        assert_true(pow2(z.cq));
        assert_in_range(z.cq, C1M_URING_CQ_MIN, C1M_URING_CQ_MAX);
        if (n / 2 <= C1M_URING_CQ_MAX)
            assert_true(z.cq >= n / 2);
        assert_true(z.cq >= prev);
        assert_int_equal(z.cq, c1m__uring_size(1, n).cq);
        prev = z.cq;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_ring_has_it_all),
        cmocka_unit_test(known_counts),
        cmocka_unit_test(shares_stay_in_budget),
        cmocka_unit_test(cq_follows_the_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
