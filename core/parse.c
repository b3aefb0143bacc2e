#include "core/parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int c1m_parse_duration_us(const char *s, uint64_t *out_us)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !isfinite(v) || *s == '-' || *s == '+')
        return -EINVAL;
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

static int parse_scaled(const char *s, uint64_t min, uint64_t max, uint64_t *out,
                        uint64_t k, uint64_t m, uint64_t g)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = k, end++;
    else if (*end == 'm' || *end == 'M')
        mult = m, end++;
    else if ((*end == 'g' || *end == 'G') && g)
        mult = g, end++;
    if (*end)
        return -EINVAL;
    if (v > UINT64_MAX / mult)
        return -ERANGE;
    v *= mult;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int c1m_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    return parse_scaled(s, min, max, out, 1000, 1000000, 0);
}

int c1m_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    return parse_scaled(s, min, max, out, 1024, 1024 * 1024, 1024ull * 1024 * 1024);
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
