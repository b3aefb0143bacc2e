/* Listening sockets. */
#ifndef C1M_ENGINE_LISTENER_H
#define C1M_ENGINE_LISTENER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/conn.h"

struct c1m_listener {
    c1m_io_t io;       /* fd, kind = C1M_IO_LISTENER */
    bool exclusive;    /* shared by loops: wake one (EPOLLEXCLUSIVE) */
    bool owned;        /* close the fd when the listener is destroyed */
};

typedef struct c1m_listen_cfg {
    const char *bind;  /* IPv4 or IPv6 literal; NULL = 0.0.0.0 */
    uint16_t port;
    bool reuseport;
    int backlog;       /* 0 = SOMAXCONN from /proc */
} c1m_listen_cfg_t;

/* Create, bind and listen. On failure returns a negative errno and writes a
 * one-line explanation (naming the port) into err. */
int c1m_listen_fd(const c1m_listen_cfg_t *cfg, char *err, size_t errlen);

/* Parse "ADDR" + port into a sockaddr_storage; returns its length or
 * -EINVAL. */
struct sockaddr_storage;
int c1m_sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss);

#endif
