/* Unit tests for core/hist.{h,c}: the log-linear latency histogram. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hist.h"

/* The documented bound: < 1/128 relative error for every percentile. */
#define REL_BOUND (1.0 / 128.0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    /* xorshift64* */
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Latency-like values: log-uniform over 1 .. ~2^34. */
static uint64_t rng_latency(void)
{
    unsigned bits = (unsigned)(rng_next() % 35);
    uint64_t v = rng_next() & ((UINT64_C(1) << bits) - 1);
    return v | (UINT64_C(1) << bits) >> 1;
}

static c1m_hist_t *hist_new(void)
{
    c1m_hist_t *h = malloc(sizeof(*h));
    assert_non_null(h);
    /* Dirty the memory first: init must clear everything. */
    memset(h, 0xa5, sizeof(*h));
    c1m_hist_init(h);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array (the definition in hist.h). */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    if (p <= 0.0)
        return sorted[0];
    if (p >= 100.0)
        return sorted[n - 1];
    double r = p / 100.0 * (double)n;
    r -= r * 1e-14;
    size_t rank = r <= 1.0 ? 1 : (size_t)ceil(r);
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static void assert_rel_close(uint64_t got, uint64_t want, double bound)
{
    if (got == want)
        return;
    double err = fabs((double)got - (double)want) / (double)want;
    if (!(err < bound))
        fail_msg("got %llu want %llu: relative error %g >= %g",
                 (unsigned long long)got, (unsigned long long)want, err, bound);
}

static const double check_ps[] = {
    0.0, 0.0001, 0.1, 1, 5, 10, 25, 33.3, 50, 66.7, 75, 90, 95, 99, 99.5,
    99.9, 99.99, 99.999, 99.9999, 100.0,
};

/* ----------------------------------------------------------------------- */

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(c1m_hist_nbuckets(), 4352);
    assert_int_equal(sizeof(c1m_hist_t), 64 + 8 * 4352);
    assert_true(sizeof(c1m_hist_t) <= 40 * 1024);
    assert_true(C1M_HIST_MAX_VALUE >= UINT64_C(100000000));      /* 100 s */
    assert_true(C1M_HIST_MAX_VALUE >= (UINT64_C(1) << 37) - 1);
}

static void test_empty(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new();
    assert_int_equal(c1m_hist_count(h), 0);
    assert_int_equal(c1m_hist_min(h), 0);
    assert_int_equal(c1m_hist_max(h), 0);
    assert_int_equal(c1m_hist_saturated(h), 0);
    assert_true(c1m_hist_mean(h) == 0.0);
    assert_true(c1m_hist_stddev(h) == 0.0);
    assert_int_equal(c1m_hist_percentile(h, 0), 0);
    assert_int_equal(c1m_hist_percentile(h, 50), 0);
    assert_int_equal(c1m_hist_percentile(h, 100), 0);
    for (size_t i = 0; i < c1m_hist_nbuckets(); i++)
        assert_int_equal(c1m_hist_bucket_count(h, i), 0);
    c1m_hist_record_n(h, 42, 0); /* n == 0: no-op */
    assert_int_equal(c1m_hist_count(h), 0);
    assert_int_equal(c1m_hist_min(h), 0);
    free(h);
}

static void test_bucket_layout(void **state)
{
    (void)state;
    size_t n = c1m_hist_nbuckets();
    assert_int_equal(c1m_hist_bucket_low(0), 0);
    assert_int_equal(c1m_hist_bucket_high(n - 1), C1M_HIST_MAX_VALUE);
    assert_int_equal(c1m_hist_bucket_low(n), UINT64_MAX);
    assert_int_equal(c1m_hist_bucket_high(n), UINT64_MAX);
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = c1m_hist_bucket_low(i), hi = c1m_hist_bucket_high(i);
        assert_true(lo <= hi);
        assert_int_equal(c1m_hist_index(lo), i);
        assert_int_equal(c1m_hist_index(hi), i);
        assert_int_equal(c1m_hist_index(lo + (hi - lo) / 2), i);
        if (i + 1 < n)
            assert_int_equal(hi + 1, c1m_hist_bucket_low(i + 1));
        /* Width: exact below 256, at most lo/128 above. */
        if (lo < 256)
            assert_int_equal(hi, lo);
        else
            assert_true((hi - lo + 1) * 128 <= lo);
        if (lo > 0)
            assert_true((double)(hi - lo) / (double)lo < REL_BOUND);
    }
    assert_int_equal(c1m_hist_index(C1M_HIST_MAX_VALUE + 1), n - 1);
    assert_int_equal(c1m_hist_index(UINT64_MAX), n - 1);
    for (uint64_t v = 0; v < 256; v++)
        assert_int_equal(c1m_hist_index(v), v);
    /* Random values land in the bucket whose range contains them. */
    for (int k = 0; k < 100000; k++) {
        uint64_t v = rng_next() >> (rng_next() % 64);
        size_t i = c1m_hist_index(v);
        assert_true(i < n);
        if (v <= C1M_HIST_MAX_VALUE) {
            assert_true(c1m_hist_bucket_low(i) <= v);
            assert_true(v <= c1m_hist_bucket_high(i));
        }
    }
}

/* record_n with a bucket's low (or high) value lands in that bucket. */
static void test_bucket_value_roundtrip(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new();
    size_t n = c1m_hist_nbuckets();
    for (size_t i = 0; i < n; i++)
        c1m_hist_record_n(h, c1m_hist_bucket_low(i), i + 1);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(c1m_hist_bucket_count(h, i), i + 1);
    c1m_hist_reset(h);
    for (size_t i = 0; i < n; i++)
        c1m_hist_record(h, c1m_hist_bucket_high(i));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(c1m_hist_bucket_count(h, i), 1);
    assert_int_equal(c1m_hist_saturated(h), 0);
    assert_int_equal(c1m_hist_bucket_count(h, n), 0);
    free(h);
}

static void test_constant(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new();
    for (int k = 0; k < 1000; k++)
        c1m_hist_record(h, 12345);
    assert_int_equal(c1m_hist_count(h), 1000);
    assert_int_equal(c1m_hist_min(h), 12345);
    assert_int_equal(c1m_hist_max(h), 12345);
    assert_true(c1m_hist_mean(h) == 12345.0);
    assert_true(c1m_hist_stddev(h) == 0.0);
    for (double p = 0; p <= 100.0; p += 0.5)
        assert_int_equal(c1m_hist_percentile(h, p), 12345);
    assert_int_equal(c1m_hist_percentile(h, -5), 12345);
    assert_int_equal(c1m_hist_percentile(h, 250), 12345);
    assert_int_equal(c1m_hist_percentile(h, NAN), 12345);

    /* Zero goes to the lowest bucket and is exact. */
    c1m_hist_reset(h);
    c1m_hist_record_n(h, 0, 7);
    assert_int_equal(c1m_hist_bucket_count(h, 0), 7);
    assert_int_equal(c1m_hist_min(h), 0);
    assert_int_equal(c1m_hist_max(h), 0);
    assert_int_equal(c1m_hist_percentile(h, 50), 0);
    assert_int_equal(c1m_hist_percentile(h, 100), 0);
    free(h);
}

static void test_uniform(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new();
    const uint64_t N = 1000000;
    for (uint64_t v = 1; v <= N; v++)
        c1m_hist_record(h, v);
    assert_int_equal(c1m_hist_count(h), N);
    assert_int_equal(c1m_hist_min(h), 1);
    assert_int_equal(c1m_hist_max(h), N);
    assert_true(c1m_hist_mean(h) == 500000.5); /* exact */
    double sd = c1m_hist_stddev(h), want_sd = (double)N / sqrt(12.0);
    assert_true(fabs(sd - want_sd) / want_sd < 0.01);
    for (size_t k = 0; k < C1M_ARRAY_LEN(check_ps); k++) {
        double p = check_ps[k];
        uint64_t want = p <= 0 ? 1 : (uint64_t)ceil(p / 100.0 * (double)N - 1e-6);
        uint64_t got = c1m_hist_percentile(h, p);
        assert_true(got >= want); /* highest-equivalent: never below */
        assert_rel_close(got, want, 0.01);
        assert_rel_close(got, want, REL_BOUND);
    }
    assert_int_equal(c1m_hist_percentile(h, 0), 1);
    assert_int_equal(c1m_hist_percentile(h, 100), N);
    /* Exactness in the linear range. */
    assert_int_equal(c1m_hist_percentile(h, 0.0001), 1);
    assert_int_equal(c1m_hist_percentile(h, 0.0002), 2);
    assert_int_equal(c1m_hist_percentile(h, 0.0255), 255);
    free(h);
}

static void test_two_point(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new();
    c1m_hist_record_n(h, 100, 900);
    c1m_hist_record_n(h, 1000000, 100);
    assert_int_equal(c1m_hist_min(h), 100);
    assert_int_equal(c1m_hist_max(h), 1000000);
    assert_true(c1m_hist_mean(h) == (900.0 * 100 + 100.0 * 1000000) / 1000.0);
    assert_int_equal(c1m_hist_percentile(h, 0), 100);
    assert_int_equal(c1m_hist_percentile(h, 50), 100);
    assert_int_equal(c1m_hist_percentile(h, 90), 100);
    assert_int_equal(c1m_hist_percentile(h, 90.05), 1000000); /* clamped */
    assert_int_equal(c1m_hist_percentile(h, 90.1), 1000000);
    assert_int_equal(c1m_hist_percentile(h, 99.99), 1000000);
    assert_int_equal(c1m_hist_percentile(h, 100), 1000000);
    /* Mean/stddev: the two-point stddev is sqrt(p(1-p)) * distance. */
    double want_sd = sqrt(0.9 * 0.1) * (1000000.0 - 100.0);
    assert_true(fabs(c1m_hist_stddev(h) - want_sd) / want_sd < 0.01);

    /* Two points at the far ends of the range. */
    c1m_hist_reset(h);
    c1m_hist_record(h, 1);
    c1m_hist_record(h, C1M_HIST_MAX_VALUE);
    assert_int_equal(c1m_hist_percentile(h, 50), 1);
    assert_int_equal(c1m_hist_percentile(h, 50.1), C1M_HIST_MAX_VALUE);
    assert_int_equal(c1m_hist_saturated(h), 0);

    /* Two points inside a wide bucket: both percentiles within the bound. */
    c1m_hist_reset(h);
    c1m_hist_record_n(h, 1000003, 10);
    c1m_hist_record_n(h, 5000017, 10);
    assert_rel_close(c1m_hist_percentile(h, 25), 1000003, REL_BOUND);
    assert_rel_close(c1m_hist_percentile(h, 75), 5000017, REL_BOUND);
    assert_int_equal(c1m_hist_percentile(h, 0), 1000003);
    assert_int_equal(c1m_hist_percentile(h, 100), 5000017);
    free(h);
}

static void test_large_and_saturated(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new();
    const uint64_t s100 = 100000000; /* 100 s in µs */
    c1m_hist_record_n(h, s100, 10);
    c1m_hist_record_n(h, s100 + 99999, 10); /* still ~100 s */
    c1m_hist_record_n(h, UINT64_C(1) << 37, 10);
    assert_int_equal(c1m_hist_saturated(h), 0);
    assert_rel_close(c1m_hist_percentile(h, 10), s100, REL_BOUND);
    assert_rel_close(c1m_hist_percentile(h, 50), s100 + 99999, REL_BOUND);
    assert_int_equal(c1m_hist_percentile(h, 100), UINT64_C(1) << 37);
    assert_rel_close(c1m_hist_percentile(h, 90), UINT64_C(1) << 37, REL_BOUND);

    c1m_hist_reset(h);
    c1m_hist_record(h, 500);
    c1m_hist_record(h, C1M_HIST_MAX_VALUE);     /* top, not saturated */
    assert_int_equal(c1m_hist_saturated(h), 0);
    c1m_hist_record(h, C1M_HIST_MAX_VALUE + 1); /* saturated */
    c1m_hist_record(h, UINT64_MAX);             /* saturated */
    c1m_hist_record_n(h, UINT64_C(1) << 50, 5); /* saturated x5 */
    size_t top = c1m_hist_nbuckets() - 1;
    assert_int_equal(c1m_hist_saturated(h), 7);
    assert_int_equal(c1m_hist_count(h), 9);
    assert_int_equal(c1m_hist_bucket_count(h, top), 8);
    assert_int_equal(c1m_hist_min(h), 500);
    assert_int_equal(c1m_hist_max(h), UINT64_MAX); /* exact, unclamped */
    assert_int_equal(c1m_hist_percentile(h, 100), UINT64_MAX);
    assert_int_equal(c1m_hist_percentile(h, 50), C1M_HIST_MAX_VALUE);
    assert_int_equal(c1m_hist_percentile(h, 0), 500);
    /* Sum is of clamped values: (500 + 8 * MAX) / 9. */
    assert_true(c1m_hist_mean(h) ==
                (double)(500 + 8 * C1M_HIST_MAX_VALUE) / 9.0);
    free(h);
}

/* Random latency-like data against exact sorted percentiles. */
static void test_random_vs_exact(void **state)
{
    (void)state;
    enum { N = 200000 };
    uint64_t *vals = malloc(N * sizeof(*vals));
    assert_non_null(vals);
    c1m_hist_t *h = hist_new();
    uint64_t sum = 0, mn = UINT64_MAX, mx = 0;
    for (size_t k = 0; k < N; k++) {
        vals[k] = rng_latency();
        sum += vals[k];
        mn = C1M_MIN(mn, vals[k]);
        mx = C1M_MAX(mx, vals[k]);
        c1m_hist_record(h, vals[k]);
    }
    qsort(vals, N, sizeof(*vals), cmp_u64);
    assert_int_equal(c1m_hist_min(h), mn);
    assert_int_equal(c1m_hist_max(h), mx);
    assert_true(c1m_hist_mean(h) == (double)sum / N);
    uint64_t prev = 0;
    for (double p = 0; p <= 100.0; p += 0.01) {
        uint64_t got = c1m_hist_percentile(h, p);
        uint64_t want = exact_percentile(vals, N, p);
        assert_true(got >= prev); /* monotonic in p */
        prev = got;
        assert_true(got >= want);
        assert_rel_close(got, want, REL_BOUND);
    }
    for (size_t k = 0; k < C1M_ARRAY_LEN(check_ps); k++)
        assert_rel_close(c1m_hist_percentile(h, check_ps[k]),
                         exact_percentile(vals, N, check_ps[k]), REL_BOUND);
    assert_int_equal(c1m_hist_percentile(h, 0), mn);
    assert_int_equal(c1m_hist_percentile(h, 100), mx);
    free(vals);
    free(h);
}

static void test_record_n_equals_loop(void **state)
{
    (void)state;
    c1m_hist_t *a = hist_new(), *b = hist_new();
    const uint64_t vs[] = {0, 1, 255, 256, 257, 99999, 100000000,
                           C1M_HIST_MAX_VALUE, C1M_HIST_MAX_VALUE + 1};
    for (size_t k = 0; k < C1M_ARRAY_LEN(vs); k++) {
        c1m_hist_record_n(a, vs[k], k + 3);
        for (size_t j = 0; j < k + 3; j++)
            c1m_hist_record(b, vs[k]);
    }
    assert_memory_equal(a, b, sizeof(*a));
    free(a);
    free(b);
}

static void test_merge(void **state)
{
    (void)state;
    c1m_hist_t *a = hist_new(), *b = hist_new(), *u = hist_new();
    for (int k = 0; k < 100000; k++) {
        uint64_t v = rng_latency();
        c1m_hist_record(k % 3 ? a : b, v);
        c1m_hist_record(u, v);
    }
    /* b also gets the extremes, so min, max and saturation come from src. */
    c1m_hist_record(b, 0);
    c1m_hist_record(u, 0);
    c1m_hist_record(b, UINT64_MAX);
    c1m_hist_record(u, UINT64_MAX);

    c1m_hist_merge(a, b);
    assert_memory_equal(a, u, sizeof(*a));
    for (size_t i = 0; i < c1m_hist_nbuckets(); i++)
        assert_int_equal(c1m_hist_bucket_count(a, i), c1m_hist_bucket_count(u, i));
    for (double p = 0; p <= 100.0; p += 0.05)
        assert_int_equal(c1m_hist_percentile(a, p), c1m_hist_percentile(u, p));
    assert_int_equal(c1m_hist_count(a), 100002);
    assert_int_equal(c1m_hist_min(a), 0);
    assert_int_equal(c1m_hist_max(a), UINT64_MAX);
    assert_int_equal(c1m_hist_saturated(a), 1);
    assert_true(c1m_hist_mean(a) == c1m_hist_mean(u));

    /* Empty source: no-op. Empty destination: copy. */
    c1m_hist_t *e = hist_new();
    c1m_hist_merge(a, e);
    assert_memory_equal(a, u, sizeof(*a));
    c1m_hist_merge(e, u);
    assert_memory_equal(e, u, sizeof(*e));

    /* Self-merge doubles every count. */
    c1m_hist_merge(e, e);
    assert_int_equal(c1m_hist_count(e), 2 * c1m_hist_count(u));
    for (size_t i = 0; i < c1m_hist_nbuckets(); i++)
        assert_int_equal(c1m_hist_bucket_count(e, i), 2 * c1m_hist_bucket_count(u, i));
    assert_int_equal(c1m_hist_min(e), c1m_hist_min(u));
    assert_int_equal(c1m_hist_max(e), c1m_hist_max(u));
    free(a);
    free(b);
    free(u);
    free(e);
}

static void test_reset(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new(), *fresh = hist_new();
    for (int k = 0; k < 1000; k++)
        c1m_hist_record(h, rng_latency());
    c1m_hist_record(h, UINT64_MAX);
    c1m_hist_reset(h);
    assert_memory_equal(h, fresh, sizeof(*h));
    assert_int_equal(c1m_hist_count(h), 0);
    assert_int_equal(c1m_hist_saturated(h), 0);
    c1m_hist_record(h, 77);
    assert_int_equal(c1m_hist_min(h), 77);
    assert_int_equal(c1m_hist_max(h), 77);
    free(h);
    free(fresh);
}

/* Serialise as (index, count) and (low value, count) pairs, rebuild. */
static void test_rebuild(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new(), *r = hist_new(), *r2 = hist_new();
    for (int k = 0; k < 50000; k++)
        c1m_hist_record(h, rng_latency());
    c1m_hist_record_n(h, C1M_HIST_MAX_VALUE + 12345, 3);
    for (size_t i = 0; i < c1m_hist_nbuckets(); i++) {
        uint64_t c = c1m_hist_bucket_count(h, i);
        if (!c)
            continue;
        assert_int_equal(c1m_hist_add_bucket(r, i, c), 0);
        c1m_hist_record_n(r2, c1m_hist_bucket_low(i), c);
    }
    assert_int_equal(c1m_hist_add_bucket(r, c1m_hist_nbuckets(), 1), -EINVAL);
    assert_int_equal(c1m_hist_add_bucket(r, 3, 0), 0);
    assert_int_equal(c1m_hist_count(r), c1m_hist_count(h));
    /* Bucket-derived approximations of min/max are in the right buckets. */
    assert_int_equal(c1m_hist_index(c1m_hist_min(r)), c1m_hist_index(c1m_hist_min(h)));
    assert_int_equal(c1m_hist_index(c1m_hist_max(r)), c1m_hist_index(c1m_hist_max(h)));

    uint64_t mn = h->min, mx = h->max, sum = h->sum, sat = h->saturated;
    /* Contradictory stats are refused and change nothing. */
    c1m_hist_t *before = hist_new();
    memcpy(before, r, sizeof(*r));
    assert_int_equal(c1m_hist_set_stats(r, mx, mn, sum, sat), -EINVAL);
    assert_int_equal(c1m_hist_set_stats(r, mn, mx, sum, 0), -EINVAL);
    assert_int_equal(c1m_hist_set_stats(r, mn, C1M_HIST_MAX_VALUE, sum, sat), -EINVAL);
    assert_int_equal(c1m_hist_set_stats(r, mn + 100000, mx, sum, sat), -EINVAL);
    assert_int_equal(c1m_hist_set_stats(r, mn, mx,
                                        C1M_HIST_MAX_VALUE * c1m_hist_count(h) + 1, sat),
                     -EINVAL);
    assert_int_equal(c1m_hist_set_stats(r, mn, mx, sum, c1m_hist_count(h)), -EINVAL);
    assert_memory_equal(r, before, sizeof(*r));

    assert_int_equal(c1m_hist_set_stats(r, mn, mx, sum, sat), 0);
    assert_memory_equal(r, h, sizeof(*r));
    assert_int_equal(c1m_hist_set_stats(r2, mn, mx, sum, sat), 0);
    assert_memory_equal(r2, h, sizeof(*r2));

    /* Empty histogram: only empty stats are accepted. */
    c1m_hist_reset(r);
    assert_int_equal(c1m_hist_set_stats(r, 0, 0, 0, 0), 0);
    assert_int_equal(c1m_hist_set_stats(r, UINT64_MAX, 0, 0, 0), 0);
    assert_int_equal(c1m_hist_set_stats(r, 5, 5, 5, 0), -EINVAL);
    c1m_hist_init(before);
    assert_memory_equal(r, before, sizeof(*r));
    free(before);
    free(h);
    free(r);
    free(r2);
}

/* ---- .hgrm ------------------------------------------------------------- */

typedef struct {
    double value, pct, inv;
    uint64_t total;
    int ncols;
} hgrm_row_t;

typedef struct {
    hgrm_row_t rows[4096];
    size_t nrows;
    double mean, sd, max;
    uint64_t total;
    unsigned buckets, sub_buckets;
    int footer; /* bit per footer line seen */
} hgrm_t;

static const char *HGRM_HEADER =
    "       Value     Percentile TotalCount 1/(1-Percentile)";

static char *hgrm_write(const c1m_hist_t *h, double divisor, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    assert_int_equal(c1m_hist_write_hgrm(h, f, divisor), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void hgrm_parse(const char *text, size_t len, hgrm_t *o)
{
    memset(o, 0, sizeof(*o));
    FILE *f = fmemopen((void *)text, len, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof(line), f));
    line[strcspn(line, "\n")] = 0;
    assert_string_equal(line, HGRM_HEADER);
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "\n");
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#') {
            if (sscanf(line, "#[Mean    = %lf, StdDeviation   = %lf]",
                       &o->mean, &o->sd) == 2)
                o->footer |= 1;
            else if (sscanf(line, "#[Max     = %lf, Total count    = %" SCNu64 "]",
                            &o->max, &o->total) == 2)
                o->footer |= 2;
            else if (sscanf(line, "#[Buckets = %u, SubBuckets     = %u]",
                            &o->buckets, &o->sub_buckets) == 2)
                o->footer |= 4;
            else
                fail_msg("bad footer line: %s", line);
            continue;
        }
        assert_int_equal(o->footer, 0); /* no rows after the footer */
        assert_true(o->nrows < C1M_ARRAY_LEN(o->rows));
        hgrm_row_t *r = &o->rows[o->nrows++];
        r->ncols = sscanf(line, "%lf %lf %" SCNu64 " %lf", &r->value, &r->pct,
                          &r->total, &r->inv);
        assert_true(r->ncols == 3 || r->ncols == 4);
    }
    fclose(f);
    assert_int_equal(o->footer, 7);
}

static void hgrm_check(const c1m_hist_t *h, const hgrm_t *o, double divisor)
{
    assert_int_equal(o->total, c1m_hist_count(h));
    assert_int_equal(o->buckets, C1M_HIST_HDR_BUCKETS);
    assert_int_equal(o->sub_buckets, 256);
    assert_true(fabs(o->max - (double)c1m_hist_max(h) / divisor) <= 0.001 + 1e-9 * o->max);
    assert_true(fabs(o->mean - c1m_hist_mean(h) / divisor) <= 0.001 + 1e-9 * o->mean);
    if (c1m_hist_count(h) == 0) {
        assert_int_equal(o->nrows, 0);
        return;
    }
    int dec = 3; /* as the writer: at least the divisor's decimals */
    while (dec < 9 && pow(10.0, dec) < divisor)
        dec++;
    double half_ulp = 0.5 * pow(10.0, -dec) * 1.0001;
    assert_true(o->nrows >= 2);
    for (size_t k = 0; k < o->nrows; k++) {
        const hgrm_row_t *r = &o->rows[k];
        assert_int_equal(r->ncols, k + 1 == o->nrows ? 3 : 4);
        if (k > 0) {
            assert_true(r->pct >= o->rows[k - 1].pct);
            assert_true(r->value >= o->rows[k - 1].value);
            assert_true(r->total >= o->rows[k - 1].total);
        }
        assert_true(r->pct >= 0.0 && r->pct <= 1.0);
        /* The row's value is the histogram's percentile at its level
         * (printed rounded to the file's decimals). */
        if (r->ncols == 4) {
            double want = (double)c1m_hist_percentile(h, r->pct * 100.0) / divisor;
            if (fabs(r->value - want) > half_ulp + 1e-9 * want)
                fail_msg("hgrm row %zu at %.12f: value %.9f, percentile %.9f", k, r->pct,
                         r->value, want);
            assert_true(fabs(r->inv - 1.0 / (1.0 - r->pct)) <= 0.01 * r->inv);
            assert_true(r->total >= r->pct * (double)o->total - 1e-6 * (double)o->total);
        }
    }
    const hgrm_row_t *first = &o->rows[0], *last = &o->rows[o->nrows - 1];
    assert_true(first->pct == 0.0);
    assert_true(fabs(first->value - (double)c1m_hist_min(h) / divisor) <=
                0.001 + REL_BOUND * first->value);
    assert_true(last->pct == 1.0);
    assert_int_equal(last->total, c1m_hist_count(h));
    assert_true(fabs(last->value - (double)c1m_hist_max(h) / divisor) <=
                0.001 + 1e-9 * last->value);
}

static void test_hgrm_uniform(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new();
    for (uint64_t v = 1; v <= 1000000; v++)
        c1m_hist_record(h, v);
    size_t len;
    char *text = hgrm_write(h, 1000.0, &len);
    hgrm_t *o = malloc(sizeof(*o));
    assert_non_null(o);
    hgrm_parse(text, len, o);
    hgrm_check(h, o, 1000.0);
    /* HdrHistogram's ticks: 5 per half distance. */
    static const double want[] = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6,
                                  0.65, 0.7, 0.75, 0.775, 0.8, 0.825, 0.85,
                                  0.875, 0.8875, 0.9};
    assert_true(o->nrows > C1M_ARRAY_LEN(want));
    for (size_t k = 0; k < C1M_ARRAY_LEN(want); k++)
        assert_true(fabs(o->rows[k].pct - want[k]) < 1e-9);
    /* p50 row: 500 ms within the bound. */
    assert_true(fabs(o->rows[5].value - 500.0) / 500.0 < REL_BOUND);
    assert_true(fabs(o->rows[5].inv - 2.0) < 1e-9);
    /* Values printed with 3 decimals when dividing by 1000. */
    assert_non_null(strstr(text, "       0.001 0.000000000000          1           1.00\n"));
    assert_non_null(strstr(text, "\n    1000.000 1.000000000000    1000000\n#[Mean"));
    assert_non_null(strstr(text, "#[Mean    =      500.000, StdDeviation   =      288."));
    assert_non_null(strstr(text, "#[Max     =     1000.000, Total count    =      1000000]\n"));
    assert_non_null(strstr(text, "#[Buckets =           33, SubBuckets     =          256]\n"));
    free(text);
    free(o);
    free(h);
}

static void test_hgrm_shapes(void **state)
{
    (void)state;
    c1m_hist_t *h = hist_new();
    hgrm_t *o = malloc(sizeof(*o));
    assert_non_null(o);
    size_t len;
    char *text;

    /* Empty: header and footer only. */
    text = hgrm_write(h, 1.0, &len);
    hgrm_parse(text, len, o);
    hgrm_check(h, o, 1.0);
    free(text);

    /* Constant: one row at 0 and the final row at 1.0. */
    c1m_hist_record_n(h, 250, 42);
    text = hgrm_write(h, 1.0, &len);
    hgrm_parse(text, len, o);
    hgrm_check(h, o, 1.0);
    assert_int_equal(o->nrows, 2);
    assert_true(o->rows[0].value == 250.0 && o->rows[1].value == 250.0);
    free(text);

    /* Random latency data, saturation included, several divisors. */
    for (int k = 0; k < 300000; k++)
        c1m_hist_record(h, rng_latency());
    c1m_hist_record(h, UINT64_C(1) << 45);
    const double divisors[] = {1.0, 1000.0, 1e6};
    for (size_t d = 0; d < C1M_ARRAY_LEN(divisors); d++) {
        text = hgrm_write(h, divisors[d], &len);
        hgrm_parse(text, len, o);
        hgrm_check(h, o, divisors[d]);
        free(text);
    }

    /* Bad arguments and a stream that cannot be written. */
    assert_int_equal(c1m_hist_write_hgrm(h, stdout, 0.0), -EINVAL);
    assert_int_equal(c1m_hist_write_hgrm(h, stdout, -1.0), -EINVAL);
    assert_int_equal(c1m_hist_write_hgrm(h, stdout, NAN), -EINVAL);
    FILE *ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    assert_int_equal(c1m_hist_write_hgrm(h, ro, 1.0), -EIO);
    fclose(ro);

    /* A tmpfile round trip, read back line by line. */
    FILE *tf = tmpfile();
    assert_non_null(tf);
    assert_int_equal(c1m_hist_write_hgrm(h, tf, 1000.0), 0);
    long sz = ftell(tf);
    assert_true(sz > 0);
    rewind(tf);
    text = malloc((size_t)sz);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)sz, tf), (size_t)sz);
    fclose(tf);
    hgrm_parse(text, (size_t)sz, o);
    hgrm_check(h, o, 1000.0);
    free(text);
    free(o);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bucket_layout),
        cmocka_unit_test(test_bucket_value_roundtrip),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_two_point),
        cmocka_unit_test(test_large_and_saturated),
        cmocka_unit_test(test_random_vs_exact),
        cmocka_unit_test(test_record_n_equals_loop),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_hgrm_uniform),
        cmocka_unit_test(test_hgrm_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
