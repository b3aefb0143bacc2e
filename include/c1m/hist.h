/* c1m public API: a latency histogram (log-linear, in the spirit of
 * HdrHistogram), the one `c1m bench` and `c1m lab` measure with.
 *
 *   c1m_hist_t h;                        34,880 bytes: static, heap or shm
 *   c1m_hist_init(&h);
 *   c1m_hist_record(&h, latency_us);     inline: no call, no lock
 *   c1m_hist_percentile(&h, 99.0);       within 0.79 % of the exact value
 *   c1m_hist_write_hgrm(&h, f, 1000.0);  HdrHistogram's .hgrm text, in ms
 *
 * A histogram is one flat, pointer-free block (no allocation, no
 * constructor beyond init): it can live in shared memory (MAP_SHARED) and
 * histograms of several threads or processes are combined losslessly with
 * c1m_hist_merge. One writer per histogram and no atomics: give each
 * thread its own and merge them when you read.
 *
 * Values are unsigned 64-bit integers in whatever unit the caller uses
 * (microseconds in c1m).
 *
 * Layout (flat bucket index; S = C1M_HIST_SUB_BITS = 7, 128 = 2^S):
 *   values 0 .. 255                      one bucket per value (exact),
 *                                        indices 0 .. 255;
 *   values [128*2^k, 256*2^k), k = 1..32 128 linear buckets of width 2^k,
 *                                        indices 128*(k+1) .. 128*(k+2)-1.
 * For v >= 256 with e = floor(log2 v): shift = e - 7 and
 *   index = shift*128 + (v >> shift)
 * which for v < 256 (shift taken as 0) degenerates to index = v, so one
 * clz, one shift and one add compute it without branches or loops.
 *
 * Range: 0 .. C1M_HIST_MAX_VALUE = 2^40 - 1 (1.1e12: 12.7 days in µs, or
 * 18 minutes in ns). Larger values are clamped into the top bucket and
 * counted in `saturated`; 0 goes into bucket 0. C1M_HIST_NBUCKETS = 4352
 * buckets (33 HdrHistogram-style "buckets" of 256 sub-buckets, halves
 * shared).
 *
 * Error bound: a bucket [lo, hi] has width w = hi - lo + 1 with
 * w = 1 for lo < 256 and w = lo/128 or less above, so any value in the
 * bucket is within (w-1)/lo < 1/128 = 0.78125 % of any other. Percentiles
 * are reported as the bucket's highest equivalent value (clamped to the
 * exact [min, max]), hence |reported - exact| / exact < 0.79 % for every
 * percentile of values <= C1M_HIST_MAX_VALUE (0 error below 256).
 *
 * Exact statistics kept alongside: count, min, max (raw values, even when
 * saturated) and sum (of values clamped to C1M_HIST_MAX_VALUE, so the mean
 * is exact as long as saturated == 0; the sum cannot overflow before 2^24
 * clamped values of 2^40 or 1.8e19 units in total).
 *
 * Layout stability (c1m 0.x): the struct is public because
 * c1m_hist_record is inline (the hot path of a latency measurement must
 * not be a call); your program compiles this layout in. It has not changed
 * since the histogram was written, but 0.x promises no stable ABI: a
 * future 0.y may change it, and then programs must be rebuilt against the
 * new header (libc1m.so.0 would not catch the mismatch). A program can
 * check at start that the library agrees with the header it was built
 * with: c1m_hist_nbuckets() == C1M_HIST_NBUCKETS. Read the fields through
 * the functions below, and never write them except through them; a
 * histogram written to a file or to shared memory is read back by the same
 * build (or rebuilt from buckets: c1m_hist_add_bucket, c1m_hist_set_stats).
 */
#ifndef C1M_HIST_H
#define C1M_HIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "c1m/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define C1M_HIST_SUB_BITS   7u                            /* 128 per octave */
#define C1M_HIST_SUB_HALF   (1u << C1M_HIST_SUB_BITS)     /* 128 */
#define C1M_HIST_SUB_COUNT  (2u << C1M_HIST_SUB_BITS)     /* 256 */
#define C1M_HIST_TOP_BITS   40u
#define C1M_HIST_MAX_VALUE  ((UINT64_C(1) << C1M_HIST_TOP_BITS) - 1)
#define C1M_HIST_NBUCKETS \
    ((size_t)(C1M_HIST_TOP_BITS - C1M_HIST_SUB_BITS + 1) * C1M_HIST_SUB_HALF)

typedef struct c1m_hist {
    uint64_t count;     /* total number of recorded values */
    uint64_t sum;       /* sum of recorded values, each clamped to MAX_VALUE */
    uint64_t min;       /* exact; UINT64_MAX while empty */
    uint64_t max;       /* exact (unclamped); 0 while empty */
    uint64_t saturated; /* values > C1M_HIST_MAX_VALUE (in the top bucket) */
    uint64_t reserved_[3]; /* zero; pads the header to 64 bytes */
    uint64_t counts[C1M_HIST_NBUCKETS];
} c1m_hist_t;

#ifndef __cplusplus
_Static_assert(C1M_HIST_NBUCKETS == 4352, "hist layout");
_Static_assert(sizeof(c1m_hist_t) == 64 + 8 * C1M_HIST_NBUCKETS,
               "c1m_hist_t must be a flat, padding-free block");
#endif

/* Zero everything (the whole struct, padding included, so two histograms
 * of the same data compare equal with memcmp). init == reset. */
C1M_API void c1m_hist_init(c1m_hist_t *h);
C1M_API void c1m_hist_reset(c1m_hist_t *h);

/* Bucket index of v (v > C1M_HIST_MAX_VALUE maps to the top bucket). */
static inline size_t c1m_hist_index(uint64_t v)
{
    if (__builtin_expect(v > C1M_HIST_MAX_VALUE, 0))
        v = C1M_HIST_MAX_VALUE;
    unsigned e = 63u - (unsigned)__builtin_clzll(v | (C1M_HIST_SUB_COUNT - 1));
    unsigned shift = e - C1M_HIST_SUB_BITS;
    return ((size_t)shift << C1M_HIST_SUB_BITS) + (size_t)(v >> shift);
}

/* Record one value. The hot path, inline: a clz, a shift, an add, an
 * increment and two cmovs; no call, no branch but the unlikely clamp. */
static inline void c1m_hist_record(c1m_hist_t *h, uint64_t v)
{
    uint64_t c = v;
    if (__builtin_expect(v > C1M_HIST_MAX_VALUE, 0)) {
        c = C1M_HIST_MAX_VALUE;
        h->saturated++;
    }
    unsigned e = 63u - (unsigned)__builtin_clzll(c | (C1M_HIST_SUB_COUNT - 1));
    unsigned shift = e - C1M_HIST_SUB_BITS;
    h->counts[((size_t)shift << C1M_HIST_SUB_BITS) + (size_t)(c >> shift)]++;
    h->count++;
    h->sum += c;
    h->min = v < h->min ? v : h->min;
    h->max = v > h->max ? v : h->max;
}

/* Record n copies of v (n == 0 is a no-op). */
C1M_API void c1m_hist_record_n(c1m_hist_t *h, uint64_t v, uint64_t n);

/* dst += src. Lossless: the result equals (memcmp) the histogram that
 * recorded the union of both inputs. dst == src is allowed. */
C1M_API void c1m_hist_merge(c1m_hist_t *dst, const c1m_hist_t *src);

C1M_API uint64_t c1m_hist_count(const c1m_hist_t *h);
C1M_API uint64_t c1m_hist_min(const c1m_hist_t *h);       /* 0 when empty */
C1M_API uint64_t c1m_hist_max(const c1m_hist_t *h);       /* 0 when empty */
C1M_API uint64_t c1m_hist_saturated(const c1m_hist_t *h);
C1M_API double c1m_hist_mean(const c1m_hist_t *h);        /* 0 when empty */
/* Population standard deviation from the buckets (each bucket at its
 * midpoint clamped to [min, max]) around the exact mean. */
C1M_API double c1m_hist_stddev(const c1m_hist_t *h);

/* Nearest-rank percentile, p in [0, 100] (clamped): the value of rank
 * max(1, ceil(p/100 * count)) in sorted order, reported as the highest
 * value equivalent to its bucket, clamped to [min, max]; p <= 0 returns
 * min and p >= 100 returns max exactly. 0 when empty. */
C1M_API uint64_t c1m_hist_percentile(const c1m_hist_t *h, double p);

/* Bucket iteration, for serialisation. Buckets are contiguous:
 * low(0) = 0, high(i) + 1 == low(i + 1), high(nbuckets-1) = MAX_VALUE,
 * and c1m_hist_index(v) == i for every v in [low(i), high(i)]. Out-of-range
 * i returns UINT64_MAX / 0 counts. c1m_hist_nbuckets() is the library's
 * C1M_HIST_NBUCKETS (see "Layout stability" above). */
C1M_API size_t c1m_hist_nbuckets(void);
C1M_API uint64_t c1m_hist_bucket_low(size_t i);
C1M_API uint64_t c1m_hist_bucket_high(size_t i);
C1M_API uint64_t c1m_hist_bucket_count(const c1m_hist_t *h, size_t i);

/* Rebuilding from serialised data. Either add (index, count) pairs with
 * c1m_hist_add_bucket, or (value, count) pairs with c1m_hist_record_n (any
 * value of the bucket, e.g. its low value, lands in the same bucket).
 * add_bucket updates count and approximates min/max/sum from the bucket
 * bounds; -EINVAL if i >= nbuckets. Afterwards c1m_hist_set_stats restores
 * the exact min, max, sum and saturated count; it returns -EINVAL (and
 * changes nothing) if they contradict the buckets: min/max outside the
 * first/last non-empty bucket, min > max, or stats on an empty histogram
 * other than (UINT64_MAX or 0, 0, 0, 0). */
C1M_API int c1m_hist_add_bucket(c1m_hist_t *h, size_t i, uint64_t n);
C1M_API int c1m_hist_set_stats(c1m_hist_t *h, uint64_t min, uint64_t max,
                               uint64_t sum, uint64_t saturated);

/* Write the classic HdrHistogram percentile distribution (.hgrm, as
 * outputPercentileDistribution with 5 ticks per half distance: header
 * "Value Percentile TotalCount 1/(1-Percentile)", one row per tick
 * reached, a last 3-column row at percentile 1.0, then the #[Mean ...],
 * #[Max ...], #[Buckets = 33, SubBuckets = 256] footer) readable by the
 * HdrHistogram plotters. Row values are bucket highest-equivalent values
 * clamped to [min, max]; the 1.0 row is the exact max. Values are divided
 * by unit_divisor (e.g. 1000.0 to print ms from µs) and printed with
 * max(3, ceil(log10(unit_divisor))) decimals (at most 9). Returns 0,
 * -EINVAL (f NULL, unit_divisor not finite and > 0) or -EIO (ferror). */
C1M_API int c1m_hist_write_hgrm(const c1m_hist_t *h, FILE *f, double unit_divisor);

#ifdef __cplusplus
}
#endif
#endif
