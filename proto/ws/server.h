/* The WebSocket server protocol (RFC 6455) on c1m's HTTP/1.1 server.
 *
 * A route registered with c1m_ws_http_handler answers a valid Upgrade
 * request with 101 and hands the connection to c1m_proto_ws
 * (c1m_http_upgrade -> c1m_conn_set_proto); a bad one gets 400, an
 * unsupported Sec-WebSocket-Version 426 with "Sec-WebSocket-Version: 13",
 * under --arch workerpool 501 (handlers run on workers there), and 503
 * while the server drains (the connection is about to close).
 *
 * On the connection:
 *  - frames are parsed by proto/ws/frame.h (limits, UTF-8, close codes);
 *    a refusal sends a close frame with its code (1002, 1007, 1009) and
 *    the connection closes once it is out;
 *  - ping is answered with pong (same payload); a close is answered with
 *    a close carrying the same status (none if it had none), then the
 *    connection closes once that is out;
 *  - keep-alive: after ping_ms without input the server sends a ping; if
 *    nothing arrives for another ping_ms the connection closes
 *    (C1M_CLOSE_TIMEOUT_IDLE). This is the engine's IDLE timeout, one
 *    lazily re-armed timer entry per connection;
 *  - backpressure: on_data stops consuming while the output is above the
 *    loop's high watermark (the engine pauses reading, then presents the
 *    rest once it drained);
 *  - ECHO routes send every message back whole, with its opcode (a
 *    message in one read goes back without a copy beyond the unmasking;
 *    a fragmented or split one is collected first, up to max_msg);
 *  - SUBSCRIBE routes put the connection on its loop's list for the
 *    route's topic (proto/ws/broadcast.h); what it sends is discarded.
 */
#ifndef C1M_PROTO_WS_SERVER_H
#define C1M_PROTO_WS_SERVER_H

#include <stdint.h>

#include "engine/proto.h"
#include "c1m/http.h"
#include "proto/http1/router.h"
#include "proto/ws/broadcast.h"
#include "proto/ws/frame.h"

typedef enum { C1M_WS_ECHO = 0, C1M_WS_SUBSCRIBE } c1m_ws_mode_t;

typedef struct c1m_ws_route {
    c1m_ws_mode_t mode;
    c1m_ws_hub_t *hub;      /* SUBSCRIBE: required; ECHO: optional (C1M_WS_ALL reaches it) */
    int topic;              /* SUBSCRIBE: c1m_ws_hub_topic() */
    c1m_ws_limits_t limits; /* 0 = 16 MiB messages */
    uint32_t ping_ms;       /* keep-alive ping after this long idle (0 = 30 s) */
} c1m_ws_route_t;

/* The route handler: register it with c1m_http_handle(h, "GET", pattern,
 * c1m_ws_http_handler, route, 0, ...); the route must outlive the server. */
void c1m_ws_http_handler(c1m_http_req_t *req, c1m_http_reply_t *resp, void *ud);

extern const c1m_proto_t c1m_proto_ws;

#endif
