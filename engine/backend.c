/* Choosing a loop's backend. */
#include <errno.h>
#include <stdio.h>

#include "engine/backend.h"
#include "engine/uring_probe.h"

int c1m__backend_pick(c1m_backend_t want, const c1m_backend_ops_t **out, char *why, size_t cap)
{
    switch (want) {
    case C1M_BACKEND_AUTO:
    case C1M_BACKEND_EPOLL:
        *out = &c1m__backend_epoll;
        return 0;
    case C1M_BACKEND_URING: {
        /* AUTO stays on epoll until the uring backend runs every
         * architecture and protocol (issue 11). */
        char pw[200];
        int rc = c1m_uring_probe(pw, sizeof pw);
        if (rc < 0) {
            snprintf(why, cap, "cannot use io_uring: %s", pw);
            return -ENOTSUP;
        }
        *out = &c1m__backend_uring;
        return 0;
    }
    }
    snprintf(why, cap, "unknown backend %d", (int)want);
    return -EINVAL;
}
