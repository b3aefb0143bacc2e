/* The one grammar of c1m's command-line values (serve, bench, lab, merge;
 * man c1m, section VALUES, says the same to users):
 *
 *   count     a whole number, or with a decimal suffix: k or K = 10^3,
 *             M = 10^6, G = 10^9 ("20000", "20k", "1M", "1.5M"). A lower-case
 *             m or g is refused: m is minutes in a duration and MiB in other
 *             tools, so "1m" connections is ambiguous.
 *   size      bytes, or with a binary suffix: KiB = 2^10, MiB = 2^20,
 *             GiB = 2^30 ("512", "64KiB", "1MiB"). k, K, M, m, G, g, KB and
 *             MB are refused: they do not say which of 1000 and 1024 is meant.
 *   duration  us, ms, s, m (minutes), h; a bare number is seconds ("500ms",
 *             "30s", "2m", "1.5"; "0" = none).
 *
 * Each parser returns 0, -EINVAL (not of the form) or -ERANGE (outside
 * [min, max]) and never accepts trailing garbage. c1m_parse_want() turns a
 * refusal into the words of an error message. */
#ifndef C1M_CORE_PARSE_H
#define C1M_CORE_PARSE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { C1M_VAL_COUNT, C1M_VAL_SIZE, C1M_VAL_DURATION } c1m_val_kind_t;

/* Result in microseconds. */
int c1m_parse_duration_us(const char *s, uint64_t *out_us);
/* A duration within [min_us, max_us]. */
int c1m_parse_duration_range(const char *s, uint64_t min_us, uint64_t max_us, uint64_t *out_us);
int c1m_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int c1m_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* What a value of this kind within [min, max] looks like, for an error
 * message after "bad value 'S' for --FLAG: " — and, when S is a known wrong
 * spelling ("64k" as a size, "2m" as a count), the right one:
 *   "a count from 1 to 1024 (k = 10^3, M = 10^6, G = 10^9)"
 *   "'m' is not a count suffix (minutes? mebi?): write 2M for 2,000,000"
 * Durations: min and max in microseconds. Returns buf. */
const char *c1m_parse_want(c1m_val_kind_t kind, const char *s, uint64_t min, uint64_t max,
                           char *buf, size_t len);

/* A limit or default written in the grammar above: 1000000 -> "1M",
 * 65536 -> "64KiB", 90000000 us -> "90s". */
const char *c1m_fmt_count(uint64_t v, char *buf, size_t len);
const char *c1m_fmt_size(uint64_t v, char *buf, size_t len);
/* Format a duration in µs as a short human string ("1.5s", "250ms"). */
const char *c1m_fmt_duration(uint64_t us, char *buf, unsigned len);

#endif
