#include "tools/flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/parse.h"
#include "engine/backend.h"

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

int c1m_port_parse(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    size_t n = 0;
    for (; s[n] >= '0' && s[n] <= '9' && n < 6; n++)
        v = v * 10 + (unsigned long)(s[n] - '0');
    if (n == 0 || s[n] != '\0' || v < 1 || v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

int c1m_flag_port(const char *cmd, const char *flag, const char *arg, uint16_t *out)
{
    if (c1m_port_parse(arg, out) == 0)
        return 0;
    fprintf(stderr, "c1m %s: bad value '%s' for %s: a port number from 1 to 65535\n", cmd, arg,
            flag);
    return 2;
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

int c1m_flag_backend_default(const char *cmd, c1m_backend_t *out)
{
    const char *env = getenv("C1M_BACKEND");
    *out = C1M_BACKEND_AUTO;
    if (!env || !*env)
        return 0;
    if (c1m__backend_parse(env, out) < 0) {
        fprintf(stderr, "c1m %s: bad value '%s' for C1M_BACKEND: auto, epoll or uring\n", cmd, env);
        return 2;
    }
    return 0;
}
