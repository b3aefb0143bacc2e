/* The epoll backend: readiness, level-triggered by default (interest kept
 * equal to what the loop wants: EPOLLOUT only while output is pending),
 * or edge-triggered (every socket registered once for IN|OUT|RDHUP|ET).
 * The only file of the engine that calls epoll_*. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "engine/backend.h"
#include "engine/loop.h"

#define EPOLL_EVENTS_MAX 512

static int ep_init(c1m_loop_t *loop)
{
    loop->be_fd = epoll_create1(EPOLL_CLOEXEC);
    return loop->be_fd < 0 ? -errno : 0;
}

static void ep_fini(c1m_loop_t *loop)
{
    if (loop->be_fd >= 0)
        close(loop->be_fd);
    loop->be_fd = -1;
}

static unsigned from_epoll(uint32_t e)
{
    return (e & EPOLLIN ? C1M_EV_READ : 0) | (e & EPOLLOUT ? C1M_EV_WRITE : 0) |
           (e & EPOLLERR ? C1M_EV_ERROR : 0) | (e & EPOLLHUP ? C1M_EV_HUP : 0) |
           (e & EPOLLRDHUP ? C1M_EV_RDHUP : 0);
}

static int ep_poll(c1m_loop_t *loop, int timeout_ms)
{
    struct epoll_event events[EPOLL_EVENTS_MAX];
    int n = epoll_wait(loop->be_fd, events, EPOLL_EVENTS_MAX, timeout_ms);
    c1m__loop_woke(loop);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        int e = errno;
        c1m_error("loop %u: epoll_wait: %s", loop->id, strerror(e));
        return -e;
    }
    for (int i = 0; i < n; i++)
        c1m__loop_dispatch(loop, events[i].data.ptr, from_epoll(events[i].events));
    return n;
}

static int ep_watch(c1m_loop_t *loop, c1m_io_t *io, unsigned events, unsigned flags)
{
    struct epoll_event ev = {
        .events = (events & C1M_EV_READ ? EPOLLIN : 0u) | (events & C1M_EV_WRITE ? EPOLLOUT : 0u) |
                  (flags & C1M_WATCH_EXCLUSIVE ? EPOLLEXCLUSIVE : 0u),
        .data.ptr = io,
    };
    /* EPOLLEXCLUSIVE registrations cannot be modified: the loop removes
     * and re-adds them (unwatch, watch). */
    int op = io->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->be_fd, op, io->fd, &ev) < 0)
        return -errno;
    io->registered = 1;
    return 0;
}

static void ep_unwatch(c1m_loop_t *loop, c1m_io_t *io)
{
    if (io->registered)
        epoll_ctl(loop->be_fd, EPOLL_CTL_DEL, io->fd, NULL);
    io->registered = 0;
}

static uint32_t conn_events(const c1m_conn_t *c)
{
    if (c->loop->cfg.edge_triggered)
        return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    unsigned want = c1m__conn_interest(c);
    return (want & C1M_EV_READ ? EPOLLIN : 0u) | (want & C1M_EV_WRITE ? EPOLLOUT : 0u);
}

static int ep_conn_add(c1m_conn_t *c)
{
    int one = 1;
    setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = { .events = conn_events(c), .data.ptr = c };
    if (epoll_ctl(c->loop->be_fd, EPOLL_CTL_ADD, c->io.fd, &ev) < 0)
        return -errno;
    c->io.registered = 1;
    c->io.armed = (uint8_t)c1m__conn_interest(c);
    return 0;
}

static int ep_conn_update(c1m_conn_t *c)
{
    if (c->loop->cfg.edge_triggered)
        return 0; /* registered once for everything */
    unsigned want = c1m__conn_interest(c);
    if (want == c->io.armed && c->io.registered)
        return 0;
    struct epoll_event ev = { .events = conn_events(c), .data.ptr = c };
    int op = c->io.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(c->loop->be_fd, op, c->io.fd, &ev) < 0)
        return -errno;
    c->io.registered = 1;
    c->io.armed = (uint8_t)want;
    return 0;
}

static void ep_conn_forget(c1m_conn_t *c)
{
    if (c->io.registered)
        epoll_ctl(c->loop->be_fd, EPOLL_CTL_DEL, c->io.fd, NULL);
    c->io.registered = 0;
}

static ssize_t ep_recv(c1m_conn_t *c, char **buf, size_t cap)
{
    ssize_t n;
    do
        n = read(c->io.fd, *buf, cap);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static ssize_t ep_send(c1m_conn_t *c, const struct iovec *iov, int iovcnt)
{
    ssize_t n;
    /* MSG_NOSIGNAL: a gone peer is an error code, never a process-wide
     * SIGPIPE. */
    struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
    do
        n = iovcnt == 1 ? send(c->io.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                        : sendmsg(c->io.fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static void ep_shutdown_wr(c1m_conn_t *c) { shutdown(c->io.fd, SHUT_WR); }

static void ep_close(c1m_conn_t *c)
{
    close(c->io.fd); /* also removes it from the epoll set */
    c->io.registered = 0;
}

static int ep_peer(const c1m_conn_t *c, struct sockaddr_storage *ss, socklen_t *len)
{
    return getpeername(c->io.fd, (struct sockaddr *)ss, len) == 0 ? 0 : -errno;
}

static int ep_sock_error(c1m_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

static int ep_accept(c1m_loop_t *loop, c1m_io_t *l)
{
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void ep_drop(c1m_loop_t *loop, int fd) { close(fd); }

static int ep_connect(c1m_loop_t *loop, const struct sockaddr *src, const struct sockaddr *dst,
                      unsigned addrlen)
{
    int fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (src) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, src, addrlen) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    if (connect(fd, dst, addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

const c1m_backend_ops_t c1m__backend_epoll = {
    .name = "epoll",
    .init = ep_init,
    .fini = ep_fini,
    .poll = ep_poll,
    .watch = ep_watch,
    .unwatch = ep_unwatch,
    .conn_add = ep_conn_add,
    .conn_update = ep_conn_update,
    .conn_forget = ep_conn_forget,
    .recv = ep_recv,
    .send = ep_send,
    .shutdown_wr = ep_shutdown_wr,
    .close = ep_close,
    .sock_error = ep_sock_error,
    .peer = ep_peer,
    .accept = ep_accept,
    .drop = ep_drop,
    .connect = ep_connect,
};
