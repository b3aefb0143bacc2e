/* HTTP/1.1 server instances (public API: c1m/http.h): the parser, the
 * router, a middleware chain and the response writer on top of the
 * engine, with Go net/http's four server timeouts on the engine's
 * per-connection timers. Everything an instance needs is in struct
 * c1m_http: no process-wide state, so any number of instances (each with
 * its own routes, limits and /metrics) serve in one process. The engine
 * hands a connection's callbacks the protocol table embedded in the
 * instance; the instance is found from c->proto (container_of).
 *
 * Connection handling
 *  - keep-alive: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
 *    "Connection: keep-alive" (the parser decides, the writer answers
 *    "Connection: close" / "Connection: keep-alive" accordingly);
 *  - drain (shutdown, binary upgrade: c1m_loop_draining): every answer
 *    from then on says "Connection: close" and the connection closes after
 *    it (a request in progress, and the next request of an idle keep-alive
 *    connection); an idle one that sends nothing is closed at the drain
 *    deadline (closing it earlier would race with a request on its way);
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
 * a 16 KiB output cork and the router scratch (max request line), shared
 * by the instances the thread serves, and one metrics slot (~5 KB) per
 * instance.
 */
#ifndef C1M_PROTO_HTTP1_SERVER_H
#define C1M_PROTO_HTTP1_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "c1m/http.h"
#include "engine/proto.h"
#include "proto/http1/metrics.h"
#include "proto/http1/parser.h"
#include "proto/http1/router.h"
#include "proto/http1/writer.h"

#define C1M_HTTP_MAX_MW 16

typedef struct c1m_http_route_def c1m_http_route_def_t;

struct c1m_http {
    c1m_proto_t proto;      /* the engine's table, the same under every architecture */
    c1m_http_cfg_t cfg;     /* metrics_path points into metrics_path_buf */
    c1m_http_limits_t limits;
    c1m_http_router_t *router;
    struct {
        c1m_http_fn fn;
        void *ud;
    } mw[C1M_HTTP_MAX_MW];
    unsigned nmw;
    size_t route_buf;       /* router scratch for the longest request line */
    c1m_http_route_def_t **defs;
    size_t ndefs;
    bool serving;           /* a connection was opened: configuration is frozen */
    c1m_http_mreg_t metrics;
};

/* One request being answered: what a handler's c1m_http_req_t is. */
struct c1m_http_req {
    c1m_http_t *h;
    c1m_conn_t *c;
    const c1m_http_request_t *req;   /* slices relative to req->buf */
    const c1m_route_result_t *route; /* kind, status, params, location, allow */
    const char *body;                /* whole body (routes registered with BODY) */
    size_t body_len;
    c1m_http_reply_t *resp;
    uint64_t t0_ns;                  /* when the request's last bytes were handed to us */
    unsigned mw_i;                   /* next middleware */
};

/* The instance of a connection's protocol table. */
static inline c1m_http_t *c1m__http_of(const c1m_proto_t *p)
{
    return c1m_container_of(p, c1m_http_t, proto);
}


/* sizeof the per-connection state (c->ud), for the docs and tests. */
size_t c1m_http_conn_state_size(void);

#endif
