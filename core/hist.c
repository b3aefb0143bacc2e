/* Log-linear latency histogram; see hist.h for the layout and error bound. */
#include "core/hist.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

void c1m_hist_init(c1m_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void c1m_hist_reset(c1m_hist_t *h)
{
    c1m_hist_init(h);
}

static inline uint64_t hist_clamp_value(uint64_t v)
{
    return v > C1M_HIST_MAX_VALUE ? C1M_HIST_MAX_VALUE : v;
}

void c1m_hist_record_n(c1m_hist_t *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return;
    uint64_t c = hist_clamp_value(v);
    if (C1M_UNLIKELY(c != v))
        h->saturated += n;
    h->counts[c1m_hist_index(c)] += n;
    h->count += n;
    h->sum += c * n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void c1m_hist_merge(c1m_hist_t *dst, const c1m_hist_t *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < C1M_HIST_NBUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum += src->sum;
    dst->saturated += src->saturated;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t c1m_hist_count(const c1m_hist_t *h)
{
    return h->count;
}

uint64_t c1m_hist_min(const c1m_hist_t *h)
{
    return h->count ? h->min : 0;
}

uint64_t c1m_hist_max(const c1m_hist_t *h)
{
    return h->count ? h->max : 0;
}

uint64_t c1m_hist_saturated(const c1m_hist_t *h)
{
    return h->saturated;
}

double c1m_hist_mean(const c1m_hist_t *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

size_t c1m_hist_nbuckets(void)
{
    return C1M_HIST_NBUCKETS;
}

/* Bucket i = shift*128 + sub with sub in [128, 256) (or i < 256, shift 0). */
static inline unsigned hist_bucket_shift(size_t i)
{
    size_t q = i >> C1M_HIST_SUB_BITS;
    return q ? (unsigned)q - 1u : 0u;
}

uint64_t c1m_hist_bucket_low(size_t i)
{
    if (i >= C1M_HIST_NBUCKETS)
        return UINT64_MAX;
    unsigned shift = hist_bucket_shift(i);
    uint64_t sub = (uint64_t)i - ((uint64_t)shift << C1M_HIST_SUB_BITS);
    return sub << shift;
}

uint64_t c1m_hist_bucket_high(size_t i)
{
    if (i >= C1M_HIST_NBUCKETS)
        return UINT64_MAX;
    return c1m_hist_bucket_low(i) + (UINT64_C(1) << hist_bucket_shift(i)) - 1;
}

uint64_t c1m_hist_bucket_count(const c1m_hist_t *h, size_t i)
{
    return i < C1M_HIST_NBUCKETS ? h->counts[i] : 0;
}

/* Clamp a bucket-derived value into the exact [min, max]. */
static inline uint64_t hist_clamp_minmax(const c1m_hist_t *h, uint64_t v)
{
    if (v < h->min)
        return h->min;
    if (v > h->max)
        return h->max;
    return v;
}

double c1m_hist_stddev(const c1m_hist_t *h)
{
    if (h->count == 0)
        return 0.0;
    double mean = c1m_hist_mean(h), acc = 0.0;
    for (size_t i = 0; i < C1M_HIST_NBUCKETS; i++) {
        if (h->counts[i] == 0)
            continue;
        uint64_t lo = c1m_hist_bucket_low(i), hi = c1m_hist_bucket_high(i);
        double d = (double)hist_clamp_minmax(h, lo + (hi - lo) / 2) - mean;
        acc += d * d * (double)h->counts[i];
    }
    return sqrt(acc / (double)h->count);
}

uint64_t c1m_hist_percentile(const c1m_hist_t *h, double p)
{
    if (h->count == 0)
        return 0;
    if (!(p > 0.0)) /* also NaN */
        return h->min;
    if (p >= 100.0)
        return h->max;
    double r = p / 100.0 * (double)h->count;
    r -= r * 1e-14; /* rounding: 99.9 % of 1000 is rank 999, not 1000 */
    uint64_t rank = r <= 1.0 ? 1 : (uint64_t)ceil(r);
    if (rank > h->count)
        rank = h->count;
    uint64_t cum = 0;
    for (size_t i = 0; i < C1M_HIST_NBUCKETS; i++) {
        cum += h->counts[i];
        if (cum >= rank)
            return hist_clamp_minmax(h, c1m_hist_bucket_high(i));
    }
    return h->max; /* counts inconsistent with count (torn shared read) */
}

int c1m_hist_add_bucket(c1m_hist_t *h, size_t i, uint64_t n)
{
    if (i >= C1M_HIST_NBUCKETS)
        return -EINVAL;
    if (n == 0)
        return 0;
    uint64_t lo = c1m_hist_bucket_low(i), hi = c1m_hist_bucket_high(i);
    h->counts[i] += n;
    h->count += n;
    h->sum += lo * n;
    if (lo < h->min)
        h->min = lo;
    if (hi > h->max)
        h->max = hi;
    return 0;
}

int c1m_hist_set_stats(c1m_hist_t *h, uint64_t min, uint64_t max,
                       uint64_t sum, uint64_t saturated)
{
    if (h->count == 0) {
        if ((min != UINT64_MAX && min != 0) || max || sum || saturated)
            return -EINVAL;
        h->min = UINT64_MAX;
        h->max = 0;
        h->sum = 0;
        h->saturated = 0;
        return 0;
    }
    size_t first = 0, last = C1M_HIST_NBUCKETS - 1;
    while (first < C1M_HIST_NBUCKETS && h->counts[first] == 0)
        first++;
    while (last > first && h->counts[last] == 0)
        last--;
    if (first == C1M_HIST_NBUCKETS || min > max ||
        c1m_hist_index(min) != first || c1m_hist_index(max) != last)
        return -EINVAL;
    /* Saturation: only with max above the range, at most the top count. */
    if ((saturated != 0) != (max > C1M_HIST_MAX_VALUE) ||
        saturated > h->counts[C1M_HIST_NBUCKETS - 1])
        return -EINVAL;
    /* The sum of clamped values lies in [min*count, max*count]. */
    uint64_t bound;
    if (__builtin_mul_overflow(hist_clamp_value(min), h->count, &bound) ||
        sum < bound)
        return -EINVAL;
    if (!__builtin_mul_overflow(hist_clamp_value(max), h->count, &bound) &&
        sum > bound)
        return -EINVAL;
    h->min = min;
    h->max = max;
    h->sum = sum;
    h->saturated = saturated;
    return 0;
}

/* HdrHistogram's percentile iteration: 5 equal ticks per half distance to
 * 100 % (0, 10, 20, 30, 40, 50, 55, ... 75, 77.5, ...). */
#define HGRM_TICKS_PER_HALF 5

static double hgrm_next_level(double level)
{
    double halvings = floor(log2(100.0 / (100.0 - level)));
    double ticks = HGRM_TICKS_PER_HALF * ldexp(1.0, (int)halvings + 1);
    return level + 100.0 / ticks;
}

int c1m_hist_write_hgrm(const c1m_hist_t *h, FILE *f, double unit_divisor)
{
    if (!f || !(unit_divisor > 0.0) || isinf(unit_divisor))
        return -EINVAL;
    int dec = 3;
    while (dec < 9 && pow(10.0, dec) < unit_divisor)
        dec++;

    fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
            "1/(1-Percentile)");
    uint64_t total = h->count, cum = 0;
    double level = 0.0;
    for (size_t i = 0; total && i < C1M_HIST_NBUCKETS; i++) {
        if (h->counts[i] == 0)
            continue;
        cum += h->counts[i];
        double value =
            (double)hist_clamp_minmax(h, c1m_hist_bucket_high(i)) / unit_divisor;
        double pct = 100.0 * (double)cum / (double)total;
        if (cum >= total) {
            /* Last bucket: one row at the current level, then 100 % at
             * the exact max (as c1m_hist_percentile(h, 100)). */
            fprintf(f, "%12.*f %2.12f %10" PRIu64 " %14.2f\n", dec, value,
                    level / 100.0, cum, 1.0 / (1.0 - level / 100.0));
            fprintf(f, "%12.*f %2.12f %10" PRIu64 "\n", dec,
                    (double)h->max / unit_divisor, 1.0, cum);
            break;
        }
        while (pct >= level) {
            fprintf(f, "%12.*f %2.12f %10" PRIu64 " %14.2f\n", dec, value,
                    level / 100.0, cum, 1.0 / (1.0 - level / 100.0));
            double next = hgrm_next_level(level);
            if (!(next > level)) /* no progress left in double precision */
                break;
            level = next;
        }
    }
    fprintf(f, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", dec,
            c1m_hist_mean(h) / unit_divisor, dec, c1m_hist_stddev(h) / unit_divisor);
    fprintf(f, "#[Max     = %12.*f, Total count    = %12" PRIu64 "]\n", dec,
            (double)c1m_hist_max(h) / unit_divisor, total);
    fprintf(f, "#[Buckets = %12u, SubBuckets     = %12u]\n",
            (unsigned)C1M_HIST_HDR_BUCKETS, (unsigned)C1M_HIST_SUB_COUNT);
    return ferror(f) ? -EIO : 0;
}
