/* HTTP/1.1 server protocol (c1m_proto_http): the parser, the router, a
 * middleware chain and the response writer on top of the engine, with Go
 * net/http's four server timeouts on the engine's per-connection timers.
 *
 * Connection handling
 *  - keep-alive: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
 *    "Connection: keep-alive" (the parser decides, the writer answers
 *    "Connection: close" / "Connection: keep-alive" accordingly);
 *  - pipelining: every complete request of a read is parsed and answered
 *    in order; the answers of one read leave in one write (writer.h cork);
 *  - Expect: 100-continue: "100 Continue" is sent only when the request is
 *    routed to a handler that reads bodies; otherwise the final answer is
 *    sent at once and the connection closes after it (the body is never
 *    read, so nothing that follows could be framed safely);
 *  - a request whose handler does not read bodies is answered as soon as
 *    its head is complete; its body is still parsed (and discarded) so the
 *    next request starts at the right byte;
 *  - bad input: the parser's error as a status (400/413/414/431/501/505),
 *    "Connection: close", then the connection closes; nothing after the
 *    bad byte is ever interpreted.
 *
 * Timeouts (engine/timeouts.h, C1M_PROTO_MANUAL_TIMEOUTS):
 *    accept ........ HEADER + READ armed (the first request, as in Go)
 *    first byte .... IDLE cleared; HEADER + READ armed (later requests)
 *    end of head ... HEADER cleared; WRITE armed
 *    end of body ... READ cleared
 *    response out .. WRITE cleared if nothing is pending (else the engine
 *                    clears it when the output drains)
 *    keep-alive .... IDLE armed once no request is in progress
 *  Expiry of HEADER, READ, or WRITE before the answer has started (a slow
 *  body), while a request has started and is not answered yet: "408
 *  Request Timeout" + close; any other expiry (IDLE, WRITE with output
 *  pending, nothing received yet): close.
 *  --arch workerpool: on_data runs on a worker; the engine records its
 *  calls (timeouts included) and applies them on the loop when the worker
 *  releases the connection, so the semantics are the same everywhere.
 *
 * Closing after an error answer is a lingering close (nginx's): our side
 * is shut down once the answer is out, input is read and discarded, and
 * the connection closes when the peer closes or after 5 s; a plain close
 * with unread input would make the kernel send a RST that can destroy
 * the answer before the client reads it.
 *
 * Memory: c1m_conn_t (engine, 128 bytes) + this protocol's state (64
 * bytes: parser 40, phase/flags, request count, request start, pending
 * pointer); a request whose body is buffered for its handler (POST /echo)
 * holds a copy of its head and its body until it is answered. Per thread:
 * a 16 KiB output cork, the router scratch (max request line) and a
 * metrics slot (~40 KiB, mostly the latency histogram).
 *
 * Handlers and middleware run on the thread that runs on_data: the loop,
 * or a worker under --arch workerpool (they use only the request, the
 * response writer and per-thread state).
 */
#ifndef C1M_PROTO_HTTP1_SERVER_H
#define C1M_PROTO_HTTP1_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/proto.h"
#include "proto/http1/parser.h"
#include "proto/http1/router.h"
#include "proto/http1/writer.h"

typedef struct c1m_http_ctx c1m_http_ctx_t;

/* A middleware does its work around c1m_http_next(ctx). */
typedef void (*c1m_http_mw_fn)(c1m_http_ctx_t *ctx);

/* Handlers have the router's type: fn(ctx, resp, params, ud), with
 * ctx a c1m_http_ctx_t * and resp a c1m_http_reply_t *. */

struct c1m_http_ctx {
    c1m_conn_t *c;
    const c1m_http_request_t *req;   /* slices relative to req->buf */
    const c1m_route_result_t *route; /* kind, status, params, location, allow */
    const char *body;                /* whole body (routes registered with BODY) */
    size_t body_len;
    c1m_http_reply_t *resp;
    uint64_t t0_ns;                  /* when the request's last bytes were handed to us */
    unsigned mw_i;                   /* next middleware */
};

/* Run the next middleware, or the handler after the last one. */
void c1m_http_next(c1m_http_ctx_t *ctx);

/* Route flags. */
#define C1M_HTTP_ROUTE_BODY 0x1u /* the handler reads the body: buffered whole (max_body) */

/* Configure the (process-wide) server before it starts. limits NULL =
 * parser defaults. Returns 0 or a negative errno. */
int c1m_http_server_init(const c1m_http_limits_t *limits);
int c1m_http_server_handle(const char *method, const char *pattern, c1m_http_handler_fn fn,
                           void *ud, unsigned flags, char *err, size_t errcap);
int c1m_http_server_use(c1m_http_mw_fn mw);
void c1m_http_server_free(void);

/* Hand the connection to another protocol after this request (an HTTP
 * Upgrade, e.g. WebSocket, proto/ws/server.h). The handler writes its own
 * answer (101) with c1m_http_out and sets resp->started = resp->done.
 * Once the handler returns, HTTP stops parsing at the end of this
 * request's head, frees its state, clears its timeouts and calls
 * c1m_conn_set_proto(c, proto, ud), then proto->on_open(c) (c->ud is
 * ud by then); the bytes after the head go to the new protocol. If the
 * hand-over or on_open fails, proto->on_close(c, C1M_CLOSE_LOCAL) frees
 * ud and the connection closes. Returns -ENOTSUP
 * under --arch workerpool (the handler runs on a worker thread). */
int c1m_http_upgrade(c1m_http_ctx_t *ctx, const c1m_proto_t *proto, void *ud);

/* Built-in middleware. */
void c1m_http_mw_timer(c1m_http_ctx_t *ctx);      /* latency histogram (metrics.h) */
void c1m_http_mw_access_log(c1m_http_ctx_t *ctx); /* one line per request on stdout */

/* The protocol table for the engine (C1M_PROTO_MANUAL_TIMEOUTS), the same
 * under every architecture. */
extern const c1m_proto_t c1m_proto_http;

/* sizeof the per-connection state (c->ud), for the docs and tests. */
size_t c1m_http_conn_state_size(void);

#endif
