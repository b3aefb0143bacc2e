/* A protocol is a small table of callbacks. The engine calls them on the
 * loop that owns the connection and never knows which protocol runs; the
 * same table serves accepted and connected (client) connections. */
#ifndef C1M_ENGINE_PROTO_H
#define C1M_ENGINE_PROTO_H

#include <sys/types.h>

typedef struct c1m_conn c1m_conn_t;

/* Why a connection closed (counted per loop, passed to on_close). */
typedef enum c1m_close_reason {
    C1M_CLOSE_LOCAL = 0,     /* the protocol asked for it */
    C1M_CLOSE_PEER,          /* orderly EOF from the peer */
    C1M_CLOSE_RESET,         /* ECONNRESET, EPIPE, EPOLLHUP */
    C1M_CLOSE_ERROR,         /* any other socket error */
    C1M_CLOSE_PROTO,         /* on_data returned < 0 (bad input) */
    C1M_CLOSE_NOMEM,         /* a buffer could not grow: closed, never truncated */
    C1M_CLOSE_SHUTDOWN,      /* server shutdown */
    C1M_CLOSE_CONNECT,       /* client connect failed */
    C1M_CLOSE_TIMEOUT_READ,  /* timeouts: see engine/timeouts */
    C1M_CLOSE_TIMEOUT_WRITE,
    C1M_CLOSE_TIMEOUT_IDLE,
    C1M_CLOSE_TIMEOUT_HEADER,
    C1M_CLOSE__COUNT
} c1m_close_reason_t;

const char *c1m_close_reason_name(int reason);

typedef struct c1m_proto {
    const char *name;
    /* The connection is ready (accepted, or connected on the client side).
     * Set c->ud here if needed. Return < 0 to close it at once. */
    int (*on_open)(c1m_conn_t *c);
    /* Bytes arrived: `data` holds what was kept from the previous call
     * followed by the new bytes. Return how many bytes were consumed; the
     * rest (an incomplete frame) is kept by the engine and presented again
     * with more data. Consume every complete frame. Return < 0 to close
     * the connection (C1M_CLOSE_PROTO). Under the workerpool architecture
     * this runs on a worker thread: use only c->ud and the c1m_conn_*
     * calls, which are safe there. */
    ssize_t (*on_data)(c1m_conn_t *c, const char *data, size_t len);
    /* All pending output was written (optional). */
    void (*on_drained)(c1m_conn_t *c);
    /* The connection is closed; free c->ud. Called exactly once per
     * connection that was opened. */
    void (*on_close)(c1m_conn_t *c, int reason);
    /* C1M_PROTO_* flags. */
    unsigned flags;
    /* A timeout of kind `kind` (c1m_timeout_kind_t) expired (optional).
     * Return 1 if the protocol handled it (e.g. wrote a 408 and called
     * c1m_conn_close_after_flush), 0 to let the engine close the
     * connection with C1M_CLOSE_TIMEOUT_READ + kind. */
    int (*on_timeout)(c1m_conn_t *c, int kind);
} c1m_proto_t;

/* The protocol manages READ and IDLE itself (engine/timeouts.h); the engine
 * then keeps only WRITE automatic. */
#define C1M_PROTO_MANUAL_TIMEOUTS 0x1u

#endif
