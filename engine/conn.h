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
#include "c1m/conn.h"
#include "engine/proto.h"
#define C1M_TIMEOUTS_TYPES_ONLY
#include "engine/timeouts.h"
#undef C1M_TIMEOUTS_TYPES_ONLY

/* What a backend's events point at: every registered object starts with
 * this header. */
enum { C1M_IO_CONN = 1, C1M_IO_LISTENER, C1M_IO_WATCH };

typedef struct c1m_io {
    int fd;
    uint8_t kind;
    uint8_t registered; /* known to the backend */
    uint8_t armed;      /* level-triggered: the C1M_EV_* interest registered */
} c1m_io_t;

/* Connection flags. */
enum {
    C1M_CONN_CLOSED     = 1u << 0,  /* closed, waiting to be released */
    C1M_CONN_ERROR      = 1u << 1,  /* failed; closed at the end of the iteration */
    C1M_CONN_CLOSING    = 1u << 2,  /* close once output is flushed */
    C1M_CONN_PAUSED     = 1u << 3,  /* reading paused: output above high watermark */
    C1M_CONN_HELD       = 1u << 4,  /* a layer above the loop holds it (engine/hold.h) */
    C1M_CONN_DEAD       = 1u << 5,  /* closed while held: closed on release */
    C1M_CONN_SHUT_WR    = 1u << 6,  /* shut the sending side down once flushed */
    C1M_CONN_INFLIGHT   = 1u << 7,  /* the backend holds sent bytes the kernel has not
                                     * taken yet (uring's send in flight): set and
                                     * cleared by the backend, counted as pending
                                     * output (backend.h: in_flight, C1M_EV_SENT) */
    C1M_CONN_CONNECTING = 1u << 8,  /* client connect in progress */
    C1M_CONN_CLIENT     = 1u << 9,  /* opened by connect, not accept */
    C1M_CONN_SENT_HELD  = 1u << 10, /* a send in flight ended while held: see release */
    C1M_CONN_EOF        = 1u << 11, /* peer half-closed its side */
    C1M_CONN_IN_REQ     = 1u << 12, /* a request is in progress (engine/timeouts.h) */
    C1M_CONN_LINGER     = 1u << 13, /* drain deadline: input discarded, closes at peer EOF */
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

/* Calls a thread other than the loop's makes on a connection it holds (a
 * worker of the worker pool) are recorded by the holder and applied on the
 * loop thread at release (engine/hold.h). c1m__recorder is that thread's
 * recorder (NULL on loop threads). */
typedef enum {
    C1M_REC_WRITE, C1M_REC_CLOSE, C1M_REC_CLOSE_FLUSH, C1M_REC_SHUTDOWN_WR, C1M_REC_COUNT,
    C1M_REC_TMO_ARM, C1M_REC_TMO_CLEAR, C1M_REC_TMO_SET, C1M_REC_REQ_BEGIN,
    C1M_REC_REQ_HEADER_DONE, C1M_REC_REQ_END,
} c1m_rec_op_t;

typedef struct c1m_recorder {
    c1m_conn_t *conn; /* the connection this thread holds */
    /* 0 or a negative errno (recording failed: out of memory) */
    int (*record)(struct c1m_recorder *r, c1m_rec_op_t op, int a, uint32_t b,
                  const struct iovec *iov, int iovcnt);
    size_t (*pending_out)(struct c1m_recorder *r);
} c1m_recorder_t;

extern __thread c1m_recorder_t *c1m__recorder;
#define C1M_RECORDED(c) C1M_UNLIKELY(c1m__recorder != NULL && c1m__recorder->conn == (c))

#endif
