/* Connections and protocols.
 *
 * A protocol is a table of callbacks (c1m_proto_t) that the engine calls on
 * the loop thread that owns the connection; the same table runs under every
 * architecture and for accepted and connected (client) connections. A
 * connection is owned by exactly one loop; every c1m_conn_* call below is
 * for that loop's thread, or for a worker thread running the protocol's
 * on_data under the worker-pool architecture, where the calls are recorded
 * and applied on the loop thread when the worker releases the connection.
 */
#ifndef C1M_CONN_H
#define C1M_CONN_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "c1m/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why a connection closed (counted per loop, passed to on_close). */
typedef enum c1m_close_reason {
    C1M_CLOSE_LOCAL = 0,     /* the protocol asked for it */
    C1M_CLOSE_PEER,          /* orderly EOF from the peer */
    C1M_CLOSE_RESET,         /* ECONNRESET, EPIPE, hang-up */
    C1M_CLOSE_ERROR,         /* any other socket error */
    C1M_CLOSE_PROTO,         /* on_data returned < 0 (bad input) */
    C1M_CLOSE_NOMEM,         /* a buffer could not grow: closed, never truncated */
    C1M_CLOSE_SHUTDOWN,      /* server shutdown */
    C1M_CLOSE_CONNECT,       /* client connect failed */
    C1M_CLOSE_TIMEOUT_READ,  /* timeouts: C1M_CLOSE_TIMEOUT_READ + c1m_timeout_kind_t */
    C1M_CLOSE_TIMEOUT_WRITE,
    C1M_CLOSE_TIMEOUT_IDLE,
    C1M_CLOSE_TIMEOUT_HEADER,
    C1M_CLOSE__COUNT
} c1m_close_reason_t;

C1M_API const char *c1m_close_reason_name(int reason);

/* The four per-connection timeouts (Go net/http's). */
typedef enum { C1M_TO_READ, C1M_TO_WRITE, C1M_TO_IDLE, C1M_TO_HEADER, C1M_TO__COUNT } c1m_timeout_kind_t;

typedef struct c1m_proto {
    const char *name;
    /* The connection is ready (accepted, or connected on the client side).
     * Set its user data here if needed. Return < 0 to close it at once. */
    int (*on_open)(c1m_conn_t *c);
    /* Bytes arrived: `data` holds what was kept from the previous call
     * followed by the new bytes. Return how many bytes were consumed; the
     * rest (an incomplete frame) is kept by the engine and presented again
     * with more data. Return < 0 to close the connection (C1M_CLOSE_PROTO).
     * Stop consuming when c1m_conn_over_high(c) says the output is above
     * the high watermark: the engine presents the rest again once it has
     * drained. `data` is only valid during the call. */
    ssize_t (*on_data)(c1m_conn_t *c, const char *data, size_t len);
    /* All pending output was written (optional). */
    void (*on_drained)(c1m_conn_t *c);
    /* The connection is closed; free the user data. Called exactly once per
     * connection, also when on_open refused it (< 0). */
    void (*on_close)(c1m_conn_t *c, int reason);
    /* C1M_PROTO_* flags. */
    unsigned flags;
    /* A timeout of kind `kind` expired (optional). Return 1 if the protocol
     * handled it (e.g. answered 408 and called c1m_conn_close_after_flush),
     * 0 to let the engine close with C1M_CLOSE_TIMEOUT_READ + kind. */
    int (*on_timeout)(c1m_conn_t *c, int kind);
} c1m_proto_t;

/* The protocol manages READ and IDLE itself (c1m_conn_request_*,
 * c1m_conn_timeout_*); the engine then keeps only WRITE automatic. */
#define C1M_PROTO_MANUAL_TIMEOUTS 0x1u

/* Write: sent at once when nothing is pending, else queued. Output above
 * the loop's high watermark pauses reading until it drains below the low
 * watermark. 0, or a negative errno when the connection has failed (it is
 * then closed by the loop; the close reason says why). */
C1M_API int c1m_conn_write(c1m_conn_t *c, const void *p, size_t n);
C1M_API int c1m_conn_writev(c1m_conn_t *c, const struct iovec *iov, int iovcnt);

/* Close now, dropping unsent output (counted), or once the output is
 * written. Safe from any callback; on_close runs exactly once. */
C1M_API void c1m_conn_close(c1m_conn_t *c, int reason);
C1M_API void c1m_conn_close_after_flush(c1m_conn_t *c, int reason);
/* Shut down the sending side once the pending output is written (the
 * connection stays open for reading: a lingering close). */
C1M_API void c1m_conn_shutdown_after_flush(c1m_conn_t *c);

/* Hand the connection over to another protocol (an HTTP Upgrade: the
 * HTTP protocol's on_data switches to WebSocket). From this call on the
 * engine calls `proto` with user data `ud`: the old protocol's on_close
 * will not run (it frees its own state before calling), the new one's
 * on_open does not run (the caller prepared `ud`), its on_close runs when
 * the connection closes. Called from on_data, the bytes that call leaves
 * unconsumed are presented to the new protocol as soon as it returns.
 * Loop thread only: -ENOTSUP when a worker holds the connection
 * (--arch workerpool), -EPIPE once it is closed. */
C1M_API int c1m_conn_set_proto(c1m_conn_t *c, const c1m_proto_t *proto, void *ud);

/* Count n application messages (requests) for the loop's counters. */
C1M_API void c1m_conn_count(c1m_conn_t *c, uint32_t n);

C1M_API void *c1m_conn_ud(const c1m_conn_t *c);
C1M_API void c1m_conn_set_ud(c1m_conn_t *c, void *ud);
C1M_API c1m_loop_t *c1m_conn_loop(const c1m_conn_t *c);
/* The socket (-1 once closed). */
C1M_API int c1m_conn_fd(const c1m_conn_t *c);
C1M_API bool c1m_conn_is_open(const c1m_conn_t *c);
/* The peer's address into *ss (*len: its size in, the address's out).
 * 0, or -ENOTSUP on a uring loop without c1m_loop_cfg_t.peer_addrs, or
 * getpeername's -errno (epoll). */
C1M_API int c1m_conn_peer(const c1m_conn_t *c, struct sockaddr_storage *ss, socklen_t *len);
/* Unsent output in bytes (what the kernel has not taken: on uring the
 * send in flight too), and whether it is above the high watermark. */
C1M_API size_t c1m_conn_pending_out(const c1m_conn_t *c);
C1M_API bool c1m_conn_over_high(const c1m_conn_t *c);

/* Timeouts: durations come from the loop configuration
 * (c1m_loop_cfg_t.timeout_ms) and may be overridden per connection.
 *   READ    no progress reading (automatic unless C1M_PROTO_MANUAL_TIMEOUTS)
 *   WRITE   output pending for the duration (always automatic)
 *   IDLE    no request in progress for the duration
 *   HEADER  a fixed deadline from a request's first byte to its header's end
 * arm: deadline = now + duration (no-op when the duration is 0);
 * clear: disarm. On expiry proto->on_timeout runs, then the engine closes. */
C1M_API void c1m_conn_timeout_arm(c1m_conn_t *c, c1m_timeout_kind_t k);
C1M_API void c1m_conn_timeout_clear(c1m_conn_t *c, c1m_timeout_kind_t k);
C1M_API void c1m_conn_set_timeout(c1m_conn_t *c, c1m_timeout_kind_t k, uint32_t ms);
/* Request phases for protocols with requests: begin (first byte: clears
 * IDLE, arms HEADER), header_done (clears HEADER), end (clears READ and
 * HEADER, arms IDLE). */
C1M_API void c1m_conn_request_begin(c1m_conn_t *c);
C1M_API void c1m_conn_request_header_done(c1m_conn_t *c);
C1M_API void c1m_conn_request_end(c1m_conn_t *c);

#ifdef __cplusplus
}
#endif
#endif
