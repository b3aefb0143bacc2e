#include "proto/http1/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proto/http1/metrics.h"
#include "proto/http1/server.h"
#include "proto/ws/server.h"

#define TEXT "text/plain; charset=utf-8"

static void index_handler(void *req, void *resp, const c1m_route_params_t *ps, void *ud)
{
    static const char body[] = "Welcome!\n";
    c1m_http_reply_send(resp, TEXT, body, sizeof body - 1);
}

static void hello_handler(void *req, void *resp, const c1m_route_params_t *ps, void *ud)
{
    size_t n = 0;
    const char *name = c1m_route_param(ps, "name", &n);
    char small[256];
    size_t need = n + sizeof "hello, !\n";
    char *body = need <= sizeof small ? small : malloc(need);
    if (!body) {
        c1m_http_reply_status(resp, 500);
        c1m_http_reply_send(resp, TEXT, "500 Internal Server Error\n", 26);
        return;
    }
    memcpy(body, "hello, ", 7);
    memcpy(body + 7, name, n);
    memcpy(body + 7 + n, "!\n", 2);
    c1m_http_reply_send(resp, TEXT, body, n + 9);
    if (body != small)
        free(body);
}

static void metrics_handler(void *req, void *resp, const c1m_route_params_t *ps, void *ud)
{
    size_t cap = 32 * 1024;
    for (int tries = 0; tries < 3; tries++) {
        char *buf = malloc(cap);
        if (!buf)
            break;
        size_t n = c1m_http_metrics_render(buf, cap);
        if (n && n < cap) {
            c1m_http_reply_send(resp, "text/plain; version=0.0.4; charset=utf-8", buf, n);
            free(buf);
            return;
        }
        free(buf);
        cap = n ? n + 1 : cap * 2;
    }
    c1m_http_reply_status(resp, 500);
    c1m_http_reply_send(resp, TEXT, "500 Internal Server Error\n", 26);
}

static void echo_handler(void *req, void *resp, const c1m_route_params_t *ps, void *ud)
{
    c1m_http_ctx_t *ctx = req;
    const c1m_http_request_t *q = ctx->req;
    int i = c1m_http_find_header(q, "Content-Type", 12);
    char ctype[101] = "application/octet-stream";
    if (i >= 0) {
        c1m_http_slice_t v = q->headers[i].value;
        snprintf(ctype, sizeof ctype, "%.*s", (int)C1M_MIN(v.len, 100u), c1m_http_str(q->buf, v));
    }
    c1m_http_reply_send(resp, ctype, ctx->body, ctx->body_len);
}

static c1m_ws_hub_t *app_hub;
static c1m_ws_route_t ws_echo_route, ws_push_route;

c1m_ws_hub_t *c1m_http_app_hub(void) { return app_hub; }

int c1m_http_app_setup(const c1m_http_app_cfg_t *cfg)
{
    int rc = c1m_http_server_init(&cfg->limits);
    if (rc < 0)
        return rc;
    /* the hub lives as long as the process: loops of a stopped server
     * stay registered with it (c1m serve runs one server) */
    if (!app_hub) {
        c1m_ws_hub_cfg_t hc = cfg->ws;
        if ((rc = c1m_ws_hub_new(&app_hub, &hc)) < 0)
            return rc;
        int topic = c1m_ws_hub_topic(app_hub, "push");
        if (topic < 0)
            return topic;
        ws_echo_route = (c1m_ws_route_t){ .mode = C1M_WS_ECHO, .hub = app_hub,
                                          .ping_ms = cfg->ws_ping_ms };
        ws_push_route = (c1m_ws_route_t){ .mode = C1M_WS_SUBSCRIBE, .hub = app_hub,
                                          .topic = topic, .ping_ms = cfg->ws_ping_ms };
    }
    char err[256] = "";
    static const struct {
        const char *method, *pattern;
        c1m_http_handler_fn fn;
        unsigned flags;
    } routes[] = {
        { "GET", "/", index_handler, 0 },
        { "GET", "/hello/:name", hello_handler, 0 },
        { "GET", "/metrics", metrics_handler, 0 },
        { "POST", "/echo", echo_handler, C1M_HTTP_ROUTE_BODY },
    };
    static const struct {
        const char *pattern;
        c1m_ws_route_t *route;
    } ws_routes[] = { { "/ws", &ws_echo_route }, { "/ws/push", &ws_push_route } };
    for (size_t i = 0; i < C1M_ARRAY_LEN(ws_routes); i++) {
        rc = c1m_http_server_handle("GET", ws_routes[i].pattern, c1m_ws_http_handler,
                                    ws_routes[i].route, 0, err, sizeof err);
        if (rc < 0) {
            c1m_error("http: route GET %s: %s", ws_routes[i].pattern, err);
            return rc;
        }
    }
    for (size_t i = 0; i < C1M_ARRAY_LEN(routes); i++) {
        rc = c1m_http_server_handle(routes[i].method, routes[i].pattern, routes[i].fn, NULL,
                                    routes[i].flags, err, sizeof err);
        if (rc < 0) {
            c1m_error("http: route %s %s: %s", routes[i].method, routes[i].pattern, err);
            return rc;
        }
    }
    c1m_http_server_use(c1m_http_mw_timer);
    if (cfg->access_log)
        c1m_http_server_use(c1m_http_mw_access_log);
    return 0;
}
