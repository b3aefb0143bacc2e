/* Choosing a loop's backend. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

c1m_backend_t c1m__backend_decide(const c1m__backend_facts_t *f, char *why, size_t cap)
{
    const char *pw = f->probe_why && f->probe_why[0] ? f->probe_why : "no reason given";
    if (f->probe_rc < 0) {
        snprintf(why, cap, "backend epoll (auto: io_uring is not usable here: %s)", pw);
        return C1M_BACKEND_EPOLL;
    }
    if (f->unsupported) {
        snprintf(why, cap, "backend epoll (auto: %s does not run on io_uring yet; "
                           "io_uring itself is usable here)", f->unsupported);
        return C1M_BACKEND_EPOLL;
    }
    snprintf(why, cap, "backend uring (auto: %s; --backend epoll to choose epoll)", pw);
    return C1M_BACKEND_URING;
}

c1m_backend_t c1m__backend_resolve(c1m_backend_t want, bool client, const char *unsupported,
                                   char *why, size_t cap)
{
    if (cap)
        why[0] = '\0';
    if (want != C1M_BACKEND_AUTO)
        return want;
    char pw[256] = "";
    c1m__backend_facts_t f = {
        .probe_rc = client ? c1m_uring_probe_client(pw, sizeof pw) : c1m_uring_probe(pw, sizeof pw),
        .probe_why = pw,
        .unsupported = unsupported,
    };
    return c1m__backend_decide(&f, why, cap);
}

int c1m__backend_parse(const char *name, c1m_backend_t *out)
{
    static const struct {
        const char *name;
        c1m_backend_t v;
    } names[] = { { "auto", C1M_BACKEND_AUTO }, { "epoll", C1M_BACKEND_EPOLL }, { "uring", C1M_BACKEND_URING } };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *out = names[i].v;
            return 0;
        }
    return -EINVAL;
}
