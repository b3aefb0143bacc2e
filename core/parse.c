#include "core/parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A non-negative decimal number at the start of s (no sign, no hex, no
 * exponent): its value and where the suffix starts. */
static int leading_number(const char *s, double *v, const char **suffix)
{
    if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '.'))
        return -EINVAL;
    const char *p = s;
    while ((*p >= '0' && *p <= '9') || *p == '.')
        p++;
    char num[64];
    size_t n = (size_t)(p - s);
    if (n >= sizeof num)
        return -ERANGE;
    memcpy(num, s, n);
    num[n] = 0;
    char *end;
    errno = 0;
    *v = strtod(num, &end);
    if (errno || *end || !isfinite(*v))
        return -EINVAL;
    *suffix = p;
    return 0;
}

int c1m_parse_duration_us(const char *s, uint64_t *out_us)
{
    double v;
    const char *end;
    int rc = leading_number(s, &v, &end);
    if (rc)
        return rc;
    double mult;
    if (*end == 0 || !strcmp(end, "s"))
        mult = 1e6;
    else if (!strcmp(end, "ms"))
        mult = 1e3;
    else if (!strcmp(end, "us"))
        mult = 1;
    else if (!strcmp(end, "m"))
        mult = 60e6;
    else if (!strcmp(end, "h"))
        mult = 3600e6;
    else
        return -EINVAL;
    double us = v * mult;
    if (us > 1e15)
        return -ERANGE;
    *out_us = (uint64_t)(us + 0.5);
    return 0;
}

int c1m_parse_duration_range(const char *s, uint64_t min_us, uint64_t max_us, uint64_t *out_us)
{
    uint64_t v;
    int rc = c1m_parse_duration_us(s, &v);
    if (rc)
        return rc;
    if (v < min_us || v > max_us)
        return -ERANGE;
    *out_us = v;
    return 0;
}

/* number x suffix: the suffix must be one of the table's; the product a
 * whole number within [min, max] */
static int parse_scaled(const char *s, uint64_t min, uint64_t max, uint64_t *out,
                        const char *const *names, const uint64_t *mults, size_t n)
{
    double v;
    const char *end;
    int rc = leading_number(s, &v, &end);
    if (rc)
        return rc;
    uint64_t mult = 0;
    if (!*end)
        mult = 1;
    for (size_t i = 0; i < n && !mult; i++)
        if (!strcmp(end, names[i]))
            mult = mults[i];
    if (!mult)
        return -EINVAL;
    double x = v * (double)mult;
    if (x > 1.8e19)
        return -ERANGE;
    uint64_t r = (uint64_t)x;
    if ((double)r != x)
        return -EINVAL; /* "1.5" connections, "0.3KiB" */
    if (r < min || r > max)
        return -ERANGE;
    *out = r;
    return 0;
}

static const char *const count_names[] = { "k", "K", "M", "G" };
static const uint64_t count_mults[] = { 1000, 1000, 1000000, 1000000000 };
static const char *const size_names[] = { "KiB", "MiB", "GiB" };
static const uint64_t size_mults[] = { 1ull << 10, 1ull << 20, 1ull << 30 };

int c1m_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    return parse_scaled(s, min, max, out, count_names, count_mults, 4);
}

int c1m_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    return parse_scaled(s, min, max, out, size_names, size_mults, 3);
}

/* ---- messages --------------------------------------------------------------- */

const char *c1m_fmt_count(uint64_t v, char *buf, size_t len)
{
    if (v && v % 1000000000 == 0)
        snprintf(buf, len, "%lluG", (unsigned long long)(v / 1000000000));
    else if (v && v % 1000000 == 0)
        snprintf(buf, len, "%lluM", (unsigned long long)(v / 1000000));
    else if (v >= 10000 && v % 1000 == 0)
        snprintf(buf, len, "%lluk", (unsigned long long)(v / 1000));
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

const char *c1m_fmt_size(uint64_t v, char *buf, size_t len)
{
    if (v && v % (1ull << 30) == 0)
        snprintf(buf, len, "%lluGiB", (unsigned long long)(v >> 30));
    else if (v && v % (1ull << 20) == 0)
        snprintf(buf, len, "%lluMiB", (unsigned long long)(v >> 20));
    else if (v && v % (1ull << 10) == 0)
        snprintf(buf, len, "%lluKiB", (unsigned long long)(v >> 10));
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

const char *c1m_fmt_duration(uint64_t us, char *buf, unsigned len)
{
    if (us == 0)
        snprintf(buf, len, "0");
    else if (us % 3600000000ull == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(us / 3600000000ull));
    else if (us % 60000000ull == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(us / 60000000ull));
    else if (us >= 1000000)
        snprintf(buf, len, "%gs", (double)us / 1e6);
    else if (us >= 1000)
        snprintf(buf, len, "%gms", (double)us / 1e3);
    else
        snprintf(buf, len, "%lluus", (unsigned long long)us);
    return buf;
}

/* A wrong spelling we can name the right one for; 0 if none. */
static int hint(c1m_val_kind_t kind, const char *s, char *buf, size_t len)
{
    double v;
    const char *suf;
    if (leading_number(s, &v, &suf) || !*suf)
        return 0;
    if (kind == C1M_VAL_COUNT) {
        if (!strcmp(suf, "m") || !strcmp(suf, "g")) {
            snprintf(buf, len, "'%s' is not a count suffix (minutes? MiB?): write %.*s%s for "
                               "%.0f", suf, (int)(suf - s), s, *suf == 'm' ? "M" : "G",
                     v * (*suf == 'm' ? 1e6 : 1e9));
            return 1;
        }
        if (!strcmp(suf, "KiB") || !strcmp(suf, "MiB") || !strcmp(suf, "GiB")) {
            snprintf(buf, len, "'%s' is a size suffix; a count takes k, M or G (10^3, 10^6, "
                               "10^9)", suf);
            return 1;
        }
    }
    if (kind == C1M_VAL_SIZE) {
        static const char *const amb[] = { "k", "K", "kb", "KB", "kB", "m", "M", "mb", "MB",
                                           "g", "G", "gb", "GB" };
        for (size_t i = 0; i < sizeof amb / sizeof amb[0]; i++)
            if (!strcmp(suf, amb[i])) {
                char c = (char)(amb[i][0] | 0x20);
                int sh = c == 'k' ? 10 : c == 'm' ? 20 : 30;
                snprintf(buf, len, "'%s' does not say 1000 or 1024: write %.*s%s (%.0f bytes)",
                         suf, (int)(suf - s), s, c == 'k' ? "KiB" : c == 'm' ? "MiB" : "GiB",
                         v * (double)(1ull << sh));
                return 1;
            }
    }
    if (kind == C1M_VAL_DURATION && (!strcmp(suf, "sec") || !strcmp(suf, "min") ||
                                     !strcmp(suf, "µs") || !strcmp(suf, "S"))) {
        snprintf(buf, len, "write %.*s%s", (int)(suf - s), s,
                 !strcmp(suf, "min") ? "m" : !strcmp(suf, "µs") ? "us" : "s");
        return 1;
    }
    return 0;
}

const char *c1m_parse_want(c1m_val_kind_t kind, const char *s, uint64_t min, uint64_t max,
                           char *buf, size_t len)
{
    char a[32], b[32], h[160];
    int n;
    switch (kind) {
    case C1M_VAL_COUNT:
        n = snprintf(buf, len, "a count from %s to %s%s", c1m_fmt_count(min, a, sizeof a),
                     c1m_fmt_count(max, b, sizeof b),
                     max >= 10000 ? " (suffixes k, M, G)" : "");
        break;
    case C1M_VAL_SIZE:
        n = snprintf(buf, len, "a size from %s to %s (bytes, or suffixes KiB, MiB, GiB)",
                     c1m_fmt_size(min, a, sizeof a), c1m_fmt_size(max, b, sizeof b));
        break;
    default:
        n = snprintf(buf, len, "a duration from %s to %s (us, ms, s, m, h)",
                     c1m_fmt_duration(min, a, sizeof a), c1m_fmt_duration(max, b, sizeof b));
        break;
    }
    if (n > 0 && (size_t)n < len && s && hint(kind, s, h, sizeof h))
        snprintf(buf + n, len - (size_t)n, "; %s", h);
    return buf;
}
