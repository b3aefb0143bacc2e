/* The poller behind a loop: a small ops table (Redis's ae_epoll.c, nginx's
 * ngx_event_actions_t). The loop (engine/loop.c) decides what to read and
 * write and when; the backend owns the system calls that wait, register
 * interest, read, send and close. epoll is the first backend
 * (engine/backend_epoll.c); adding one changes neither the loop, the
 * protocols nor the architectures.
 *
 * Events reach the loop through c1m__loop_dispatch(loop, io, events), with
 * io the registered object (a connection, a listener or a watcher: every
 * one starts with a c1m_io_t) and events a mask of C1M_EV_*. A readiness
 * backend reports READ/WRITE and the loop then calls recv/send; the loop
 * calls them only from its own thread.
 */
#ifndef C1M_ENGINE_BACKEND_H
#define C1M_ENGINE_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "engine/conn.h"

enum {
    C1M_EV_READ = 1u << 0,
    C1M_EV_WRITE = 1u << 1,
    C1M_EV_ERROR = 1u << 2,  /* socket error pending */
    C1M_EV_HUP = 1u << 3,    /* both directions closed */
    C1M_EV_RDHUP = 1u << 4,  /* the peer closed its side */
    C1M_EV_SENT = 1u << 5,   /* a completion backend's send in flight ended
                              * (C1M_CONN_INFLIGHT is clear again) */
};

/* watch() flags */
enum {
    C1M_WATCH_EXCLUSIVE = 1u << 0, /* shared listener: wake one loop (EPOLLEXCLUSIVE) */
};

typedef struct c1m_backend_ops {
    const char *name;
    /* Accepts ahead of the loop (uring's multishot accept): connections
     * already accepted wait in the backend until the loop's accept()
     * takes them. They are established, their clients wait for answers:
     * the loop takes them before it stops watching a listener. */
    bool accepts_ahead;
    /* Set up / tear down the loop's backend state (loop->be). */
    int (*init)(c1m_loop_t *loop);
    void (*fini)(c1m_loop_t *loop);
    /* Wait at most timeout_ms (-1: no limit) and dispatch every event.
     * Returns the number of events, 0 on EINTR, or a negative errno. */
    int (*poll)(c1m_loop_t *loop, int timeout_ms);

    /* Non-connection objects (listeners, the queue's eventfd, user fds):
     * start or change (watch) and stop (unwatch) watching io->fd for
     * events (C1M_EV_READ | C1M_EV_WRITE). */
    int (*watch)(c1m_loop_t *loop, c1m_io_t *io, unsigned events, unsigned flags);
    void (*unwatch)(c1m_loop_t *loop, c1m_io_t *io);

    /* Connections. conn_add registers a new one (interest from its flags:
     * see conn_interest; sets TCP_NODELAY; on failure the descriptor is
     * still the loop's to drop); conn_update is called when the interest changed;
     * conn_forget stops events for it without closing (a hang-up while a
     * worker holds it). */
    int (*conn_add)(c1m_conn_t *c);
    int (*conn_update)(c1m_conn_t *c);
    void (*conn_forget)(c1m_conn_t *c);
    /* Read: bytes, 0 at EOF, or a negative errno (-EAGAIN). A readiness
     * backend reads into *buf (cap bytes, the loop's buffer); a completion
     * backend already holds the bytes in a buffer of its own and points
     * *buf at it instead. Either way the bytes stay valid until the
     * dispatch that called recv returns (then a completion backend takes
     * its buffer back): what the protocol does not consume, the loop
     * copies into the connection, as for the loop's buffer. */
    ssize_t (*recv)(c1m_conn_t *c, char **buf, size_t cap);
    /* Send: bytes taken, or a negative errno (-EAGAIN: none). A readiness
     * backend's bytes are the kernel's once taken. A completion backend
     * may take bytes the kernel has not taken yet (a copy it sends
     * later): it sets C1M_CONN_INFLIGHT on the connection while it holds
     * any, and when they are all out (or failed) clears it and reports
     * C1M_EV_WRITE | C1M_EV_SENT. The loop counts them as pending output
     * (write timeout, watermarks, c1m_conn_pending_out, close after
     * flush) as epoll's unsent bytes are. */
    ssize_t (*send)(c1m_conn_t *c, const struct iovec *iov, int iovcnt);
    /* The bytes a completion backend holds for the connection (above);
     * called only while C1M_CONN_INFLIGHT is set, so NULL for a backend
     * that never sets it (epoll: its hot path tests one flag, no call). */
    size_t (*in_flight)(const c1m_conn_t *c);
    /* The peer's address (c1m_conn_peer): 0 or a negative errno. */
    int (*peer)(const c1m_conn_t *c, struct sockaddr_storage *ss, socklen_t *len);
    /* Shut the sending side down; close (also ends its registration). */
    void (*shutdown_wr)(c1m_conn_t *c);
    void (*close)(c1m_conn_t *c);
    /* The loop has ended (drained, or its drain deadline passed) and
     * closed every connection: let what the backend still holds for
     * them finish before it goes, until deadline_ms at most (a monotonic
     * time, as loop->now_ms). A completion backend holds sends the loop
     * counts as written (queued in the loop's last iteration, or in the
     * kernel) and closes waiting for them; epoll has nothing (NULL). */
    void (*settle)(c1m_loop_t *loop, uint64_t deadline_ms);
    /* Pending socket error (SO_ERROR), 0 when none. */
    int (*sock_error)(c1m_conn_t *c);
    /* Accept one connection from a listener: a descriptor, or a negative
     * errno (-EAGAIN when none is waiting). The descriptor is the
     * backend's handle: a regular fd (epoll) or an io_uring direct
     * descriptor (uring), which is not an fd of the process; the loop
     * passes it to conn_add, or to drop when it cannot take it. */
    int (*accept)(c1m_loop_t *loop, c1m_io_t *listener);
    /* Close a descriptor that never became a connection. */
    void (*drop)(c1m_loop_t *loop, int fd);
    /* Start a client connection: a socket (bound to src unless NULL),
     * connecting to dst. Returns the backend's handle (as accept does),
     * which the loop passes to conn_add with C1M_CONN_CONNECTING (or to
     * drop); the connect's end is reported as WRITE (ERROR on failure,
     * with sock_error saying why). Or a negative errno. */
    int (*connect)(c1m_loop_t *loop, const struct sockaddr *src, const struct sockaddr *dst,
                   unsigned addrlen);
} c1m_backend_ops_t;

extern const c1m_backend_ops_t c1m__backend_epoll;
extern const c1m_backend_ops_t c1m__backend_uring;

/* What the loop wants from a connection now: C1M_EV_READ when it may
 * read, C1M_EV_WRITE while output is pending or a connect is in progress
 * (level-triggered backends register exactly this). */
unsigned c1m__conn_interest(const c1m_conn_t *c);

/* The loop's entry point for every event a backend reports. */
void c1m__loop_dispatch(c1m_loop_t *loop, c1m_io_t *io, unsigned events);

/* Pick the backend for a configuration; writes why into `why` when it had
 * to fall back (AUTO) or cannot give what was asked (-ENOTSUP). */
int c1m__backend_pick(c1m_backend_t want, const c1m_backend_ops_t **out, char *why, size_t cap);

/* The auto choice (c1m serve, bench and lab default to it), from facts
 * gathered elsewhere so that a test can feed it any: the io_uring probe's
 * result and sentence (c1m_uring_probe, or c1m_uring_probe_client for
 * client connections) and, when the caller asked for something the uring
 * backend does not do yet, that thing as a phrase ("--access-log").
 * Returns EPOLL or URING and writes the one line that says which and why. */
typedef struct c1m__backend_facts {
    int probe_rc;            /* 0: io_uring usable; else -errno */
    const char *probe_why;   /* the probe's sentence */
    const char *unsupported; /* NULL: nothing asked for that uring lacks */
} c1m__backend_facts_t;
c1m_backend_t c1m__backend_decide(const c1m__backend_facts_t *f, char *why, size_t cap);

/* Resolve `want` for a command: EPOLL and URING stay as they are; AUTO runs
 * the real probe (the client one with `client`) and c1m__backend_decide.
 * `why` gets the line (empty unless AUTO). */
c1m_backend_t c1m__backend_resolve(c1m_backend_t want, bool client, const char *unsupported,
                                   char *why, size_t cap);

/* "epoll", "uring", "auto" -> the value; -EINVAL for anything else. */
int c1m__backend_parse(const char *name, c1m_backend_t *out);

#endif
