#include "tools/flags.h"

#include <stdio.h>

#include "core/parse.h"

static int bad(const char *cmd, const char *flag, const char *arg, c1m_val_kind_t kind,
               uint64_t min, uint64_t max)
{
    char want[256];
    fprintf(stderr, "c1m %s: bad value '%s' for %s: %s\n", cmd, arg, flag,
            c1m_parse_want(kind, arg, min, max, want, sizeof want));
    return 2;
}

int c1m_flag_count(const char *cmd, const char *flag, const char *arg, uint64_t min,
                   uint64_t max, uint64_t *out)
{
    return c1m_parse_count(arg, min, max, out) ? bad(cmd, flag, arg, C1M_VAL_COUNT, min, max)
                                               : 0;
}

int c1m_flag_size(const char *cmd, const char *flag, const char *arg, uint64_t min,
                  uint64_t max, uint64_t *out)
{
    return c1m_parse_size(arg, min, max, out) ? bad(cmd, flag, arg, C1M_VAL_SIZE, min, max) : 0;
}

int c1m_flag_duration(const char *cmd, const char *flag, const char *arg, uint64_t min_us,
                      uint64_t max_us, uint64_t *out)
{
    return c1m_parse_duration_range(arg, min_us, max_us, out)
               ? bad(cmd, flag, arg, C1M_VAL_DURATION, min_us, max_us)
               : 0;
}
