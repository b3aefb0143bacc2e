/* The Go-timers article's application on an HTTP instance:
 *   GET  /             "Welcome!\n"
 *   GET  /hello/:name  "hello, NAME!\n"
 *   POST /echo         the request body back (chunked uploads welcome)
 * plus the instance's built-in GET /metrics (Prometheus text), and with
 * c1m_http_app_ws_setup:
 *   GET  /ws           WebSocket echo (proto/ws/server.h)
 *   GET  /ws/push      WebSocket subscription to topic "push": broadcasts
 *                      (c1m_http_app_hub(), and the publisher of ws.push_*) */
#ifndef C1M_PROTO_HTTP1_APP_H
#define C1M_PROTO_HTTP1_APP_H

#include <stddef.h>
#include <stdint.h>

#include "c1m/http.h"
#include "proto/ws/broadcast.h"

/* Register the routes on h (before it serves). 0 or -errno, with a
 * sentence in err. */
int c1m_http_app_setup(c1m_http_t *h, char *err, size_t errlen);

/* Register /ws and /ws/push on h; the first call creates the process's
 * broadcast hub from `hub` (and its publisher: push_every_ms, push_size).
 * ping_ms: keep-alive ping after this long idle (0 = 30 s). 0 or -errno,
 * with a sentence in err. */
int c1m_http_app_ws_setup(c1m_http_t *h, const c1m_ws_hub_cfg_t *hub, uint32_t ping_ms,
                          char *err, size_t errlen);

/* The WebSocket broadcast hub of /ws and /ws/push (NULL before setup). */
c1m_ws_hub_t *c1m_http_app_hub(void);

/* Prefork (before the fork): with a publisher (push_every_ms), make the
 * bus that carries each broadcast to every child (proto/ws/bus.h) and run
 * the publisher on it in this process (the supervisor) instead of one per
 * child. 0, or a negative errno with err filled. */
int c1m_http_app_ws_prefork(char *err, size_t errlen);
/* The bus (NULL without prefork or publisher). */
struct c1m_ws_bus *c1m_http_app_bus(void);

#endif
