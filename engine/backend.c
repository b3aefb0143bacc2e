/* Choosing a loop's backend. */
#include <errno.h>
#include <stdio.h>

#include "engine/backend.h"

int c1m__backend_pick(c1m_backend_t want, const c1m_backend_ops_t **out, char *why, size_t cap)
{
    switch (want) {
    case C1M_BACKEND_AUTO:
    case C1M_BACKEND_EPOLL:
        *out = &c1m__backend_epoll;
        return 0;
    case C1M_BACKEND_URING:
        snprintf(why, cap, "the io_uring backend is not built into this version of c1m");
        return -ENOTSUP;
    }
    snprintf(why, cap, "unknown backend %d", (int)want);
    return -EINVAL;
}
