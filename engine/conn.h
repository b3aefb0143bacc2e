/* A connection: a small struct owned by exactly one loop.
 *
 * Memory per connection is this struct (sizeof checked below) plus the
 * kernel socket; heap buffers exist only while a partial frame (in) or
 * unsent output (out) is held. Reads land in the loop's shared buffer. */
#ifndef C1M_ENGINE_CONN_H
#define C1M_ENGINE_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/buf.h"
#include "core/timer_heap.h"
#include "core/timer_wheel.h"
#include "engine/proto.h"
#define C1M_TIMEOUTS_TYPES_ONLY
#include "engine/timeouts.h"
#undef C1M_TIMEOUTS_TYPES_ONLY

typedef struct c1m_loop c1m_loop_t;

/* What an epoll_event's data.ptr points at: every registered object starts
 * with this header. */
enum { C1M_IO_CONN = 1, C1M_IO_LISTENER, C1M_IO_QUEUE };

typedef struct c1m_io {
    int fd;
    uint8_t kind;
} c1m_io_t;

/* Connection flags. */
enum {
    C1M_CONN_CLOSED     = 1u << 0,  /* closed, waiting to be released */
    C1M_CONN_ERROR      = 1u << 1,  /* failed; closed at the end of the iteration */
    C1M_CONN_CLOSING    = 1u << 2,  /* close once output is flushed */
    C1M_CONN_PAUSED     = 1u << 3,  /* reading paused: output above high watermark */
    C1M_CONN_BUSY       = 1u << 4,  /* a worker holds it (workerpool) */
    C1M_CONN_WAITING    = 1u << 5,  /* queued for a worker slot (workerpool) */
    C1M_CONN_DEAD       = 1u << 6,  /* peer gone while busy: close when returned */
    C1M_CONN_WANT_OUT   = 1u << 7,  /* EPOLLOUT registered (level-triggered mode) */
    C1M_CONN_CONNECTING = 1u << 8,  /* client connect in progress */
    C1M_CONN_CLIENT     = 1u << 9,  /* opened by connect, not accept */
    C1M_CONN_NO_READ    = 1u << 10, /* EPOLLIN removed from the registered set */
    C1M_CONN_EOF        = 1u << 11, /* peer half-closed its side */
    C1M_CONN_IN_REQ     = 1u << 12, /* a request is in progress (engine/timeouts.h) */
};

/* The connection's one timer entry: a wheel entry or a heap entry,
 * depending on the loop's timer mode (engine/timeouts.h). */
typedef union c1m_conn_timer {
    c1m_wheel_entry_t wheel;
    c1m_heap_entry_t heap;
} c1m_conn_timer_t;

struct c1m_conn {
    c1m_io_t io;                 /* fd and kind: must stay first */
    uint8_t close_reason;        /* pending reason (ERROR / CLOSING) */
    uint16_t flags;
    uint32_t slot;               /* index in the loop's slab */
    c1m_loop_t *loop;
    const c1m_proto_t *proto;
    void *ud;                    /* the protocol's per-connection pointer */
    c1m_buf_t *in;               /* partial frame, NULL when none */
    c1m_buf_t *out;              /* unsent output, NULL when none */
    c1m_conn_t *next;            /* loop lists: pending close, released, worker wait */
    uint64_t user64;             /* protocol scratch that needs no allocation */
    /* Timeouts (engine/timeouts.h): one entry for the earliest deadline;
     * deadlines are ms offsets from loop->tmo_base (0 = off); durations in
     * ms (0 = off). Private to the engine: use the c1m_conn_timeout_* calls. */
    c1m_conn_timer_t tmo;
    uint32_t tmo_deadline[C1M_TO__COUNT];
    uint32_t tmo_ms[C1M_TO__COUNT];
};

_Static_assert(sizeof(struct c1m_conn) <= 128, "c1m_conn_t must stay small (<= 128 bytes)");

/* Write: sends at once when nothing is pending, else queues. Output above
 * the loop's high watermark pauses reading on this connection until it
 * drains below the low watermark. 0, or a negative errno when the
 * connection has failed (it is then closed by the loop; nothing was
 * silently dropped: the close reason says why). */
int c1m_conn_write(c1m_conn_t *c, const void *p, size_t n);
int c1m_conn_writev(c1m_conn_t *c, const struct iovec *iov, int iovcnt);

/* Close now (or, when output is pending and `flush` is set, once it is
 * written). Safe to call from any callback; on_close runs exactly once. */
void c1m_conn_close(c1m_conn_t *c, int reason);
void c1m_conn_close_after_flush(c1m_conn_t *c, int reason);

/* Count n application messages (requests) for the metrics meter. */
void c1m_conn_count(c1m_conn_t *c, uint32_t n);

static inline bool c1m_conn_is_open(const c1m_conn_t *c)
{
    return !(c->flags & (C1M_CONN_CLOSED | C1M_CONN_ERROR));
}
static inline size_t c1m_conn_pending_out(const c1m_conn_t *c) { return c1m_buf_size(c->out); }

#endif
