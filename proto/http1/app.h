/* The seed's application (seeds/004) on an HTTP instance:
 *   GET  /             "Welcome!\n"
 *   GET  /hello/:name  "hello, NAME!\n"
 *   POST /echo         the request body back (chunked uploads welcome)
 * plus the instance's built-in GET /metrics (Prometheus text). */
#ifndef C1M_PROTO_HTTP1_APP_H
#define C1M_PROTO_HTTP1_APP_H

#include "c1m/http.h"

/* Register the routes on h (before it serves). 0 or -errno, with a
 * sentence in err. */
int c1m_http_app_setup(c1m_http_t *h, char *err, size_t errlen);

#endif
