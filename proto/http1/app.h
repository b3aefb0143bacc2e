/* The seed's application on c1m's HTTP server (seeds/004):
 *   GET  /             "Welcome!\n"
 *   GET  /hello/:name  "hello, NAME!\n"
 * plus
 *   GET  /metrics      Prometheus text format (metrics.h)
 *   POST /echo         the request body back (chunked uploads welcome)
 *   GET  /ws           WebSocket echo (proto/ws/server.h)
 *   GET  /ws/push      WebSocket subscription to topic "push": broadcasts
 *                      (c1m_http_app_hub(), and the publisher of ws.push_*)
 * behind the middleware chain: request timer (always), access log
 * (optional). */
#ifndef C1M_PROTO_HTTP1_APP_H
#define C1M_PROTO_HTTP1_APP_H

#include <stdbool.h>

#include "proto/http1/parser.h"
#include "proto/ws/broadcast.h"

typedef struct c1m_http_app_cfg {
    bool access_log;          /* one line per request on stdout */
    c1m_http_limits_t limits; /* 0 fields = parser defaults */
    c1m_ws_hub_cfg_t ws;      /* broadcast hub and publisher (push_topic is set here) */
    uint32_t ws_ping_ms;      /* WebSocket keep-alive ping after this long idle (0 = 30 s) */
} c1m_http_app_cfg_t;

/* Build the process-wide HTTP server (routes + middleware). Call once,
 * before the server starts (and before prefork forks). 0 or -errno. */
int c1m_http_app_setup(const c1m_http_app_cfg_t *cfg);

/* The WebSocket broadcast hub of /ws and /ws/push (NULL before setup). */
c1m_ws_hub_t *c1m_http_app_hub(void);

#endif
