/* Parsing of command-line values: durations, counts, sizes. Each returns 0
 * or -EINVAL / -ERANGE and never accepts trailing garbage. */
#ifndef C1M_CORE_PARSE_H
#define C1M_CORE_PARSE_H

#include <stdint.h>

/* "0", "250us", "500ms", "5s", "2m", "1h", or a bare number of seconds
 * ("1.5" = 1.5 s). Result in microseconds. */
int c1m_parse_duration_us(const char *s, uint64_t *out_us);

/* A whole number with an optional k/K (×1000) or m/M (×1,000,000) suffix,
 * within [min, max]. */
int c1m_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A byte size with an optional k/K (×1024), m/M (×1024²), g/G suffix. */
int c1m_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Format a duration in µs as a short human string ("1.5s", "250ms"). */
const char *c1m_fmt_duration(uint64_t us, char *buf, unsigned len);

#endif
