/* Flag values of the c1m commands in the one grammar of core/parse.h: each
 * helper parses, and on a bad value prints
 *   c1m CMD: bad value 'V' for --FLAG: a count from 1 to 1024 (...)
 * and returns 2 (the exit status of bad usage); 0 on success. */
#ifndef C1M_TOOLS_FLAGS_H
#define C1M_TOOLS_FLAGS_H

#include <stdint.h>

#include "c1m/loop.h"

int c1m_flag_count(const char *cmd, const char *flag, const char *arg, uint64_t min,
                   uint64_t max, uint64_t *out);
int c1m_flag_size(const char *cmd, const char *flag, const char *arg, uint64_t min,
                  uint64_t max, uint64_t *out);
/* A TCP port: 1 to 65535 in plain digits (a port takes no suffix: "9k"
 * is refused, not read as 9000). c1m_port_parse returns 0 or -EINVAL. */
int c1m_port_parse(const char *s, uint16_t *out);
int c1m_flag_port(const char *cmd, const char *flag, const char *arg, uint16_t *out);
/* min_us, max_us, *out in microseconds */
int c1m_flag_duration(const char *cmd, const char *flag, const char *arg, uint64_t min_us,
                      uint64_t max_us, uint64_t *out);

/* The default of --backend (serve, bench, lab): $C1M_BACKEND when set and
 * not empty (auto, epoll or uring; the flag still wins), else auto. On a
 * bad value prints why and returns 2; 0 on success. */
int c1m_flag_backend_default(const char *cmd, c1m_backend_t *out);

/* The one line every help text ends its options with. */
#define C1M_VALUES_HELP \
    "Values: counts take k, M, G (10^3, 10^6, 10^9); sizes KiB, MiB, GiB; durations\n" \
    "us, ms, s, m (minutes), h, a bare number being seconds. 'man c1m' says more.\n"

#endif
