#include "proto/http1/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "proto/ws/bus.h"
#include "proto/ws/server.h"

#define TEXT "text/plain; charset=utf-8"

static void index_handler(c1m_http_req_t *req, c1m_http_reply_t *reply, void *ud)
{
    static const char body[] = "Welcome!\n";
    c1m_http_reply_send(reply, TEXT, body, sizeof body - 1);
}

static void hello_handler(c1m_http_req_t *req, c1m_http_reply_t *reply, void *ud)
{
    c1m_http_str_t name = c1m_http_req_param(req, "name");
    char small[256];
    size_t need = name.len + sizeof "hello, !\n";
    char *body = need <= sizeof small ? small : malloc(need);
    if (!body) {
        c1m_http_reply_status(reply, 500);
        c1m_http_reply_send(reply, TEXT, "500 Internal Server Error\n", 26);
        return;
    }
    memcpy(body, "hello, ", 7);
    memcpy(body + 7, name.p, name.len);
    memcpy(body + 7 + name.len, "!\n", 2);
    c1m_http_reply_send(reply, TEXT, body, name.len + 9);
    if (body != small)
        free(body);
}

static void echo_handler(c1m_http_req_t *req, c1m_http_reply_t *reply, void *ud)
{
    c1m_http_str_t ct = c1m_http_req_header(req, "Content-Type");
    char ctype[101] = "application/octet-stream";
    if (ct.p)
        snprintf(ctype, sizeof ctype, "%.*s", (int)C1M_MIN(ct.len, 100u), ct.p);
    c1m_http_str_t body = c1m_http_req_body(req);
    c1m_http_reply_send(reply, ctype, body.p, body.len);
}

int c1m_http_app_setup(c1m_http_t *h, char *err, size_t errlen)
{
    static const struct {
        const char *method, *pattern;
        c1m_http_fn fn;
        unsigned flags;
    } routes[] = {
        { "GET", "/", index_handler, 0 },
        { "GET", "/hello/:name", hello_handler, 0 },
        { "POST", "/echo", echo_handler, C1M_HTTP_BODY },
    };
    for (size_t i = 0; i < C1M_ARRAY_LEN(routes); i++) {
        char why[200] = "";
        int rc = c1m_http_handle(h, routes[i].method, routes[i].pattern, routes[i].fn, NULL,
                                 routes[i].flags, why, sizeof why);
        if (rc < 0) {
            if (err && errlen)
                snprintf(err, errlen, "route %s %s: %s", routes[i].method, routes[i].pattern,
                         why);
            return rc;
        }
    }
    return 0;
}

/* ---- WebSocket: /ws (echo) and /ws/push (subscription) ------------------ */

static c1m_ws_hub_t *app_hub;
static c1m_ws_hub_cfg_t app_hub_cfg;
static c1m_ws_bus_t *app_bus;
static c1m_ws_route_t ws_echo_route, ws_push_route;

c1m_ws_hub_t *c1m_http_app_hub(void) { return app_hub; }
c1m_ws_bus_t *c1m_http_app_bus(void) { return app_bus; }

int c1m_http_app_ws_prefork(char *err, size_t errlen)
{
    if (!app_hub || !app_hub_cfg.push_every_ms || app_bus)
        return 0;
    c1m_ws_hub_cfg_t pc = app_hub_cfg;
    if (pc.push_size < 16)
        pc.push_size = 16;
    int rc = c1m_ws_bus_new(&app_bus, pc.push_size);
    if (rc == 0) {
        c1m_ws_hub_set_bus(app_hub, app_bus);
        rc = c1m_ws_bus_publisher_start(app_bus, &pc);
    }
    if (rc < 0 && err && errlen)
        snprintf(err, errlen, "WebSocket broadcast bus: %s", strerror(-rc));
    return rc;
}

int c1m_http_app_ws_setup(c1m_http_t *h, const c1m_ws_hub_cfg_t *hub, uint32_t ping_ms,
                          char *err, size_t errlen)
{
    int rc;
    /* the hub lives as long as the process: loops of a stopped server
     * stay registered with it (c1m serve runs one server) */
    if (!app_hub) {
        c1m_ws_hub_cfg_t hc = *hub;
        app_hub_cfg = hc;
        if ((rc = c1m_ws_hub_new(&app_hub, &hc)) < 0) {
            if (err && errlen)
                snprintf(err, errlen, "WebSocket hub: %s", strerror(-rc));
            return rc;
        }
        int topic = c1m_ws_hub_topic(app_hub, "push");
        if (topic < 0) {
            if (err && errlen)
                snprintf(err, errlen, "WebSocket topic push: %s", strerror(-topic));
            return topic;
        }
        ws_echo_route = (c1m_ws_route_t){ .mode = C1M_WS_ECHO, .hub = app_hub,
                                          .ping_ms = ping_ms };
        ws_push_route = (c1m_ws_route_t){ .mode = C1M_WS_SUBSCRIBE, .hub = app_hub,
                                          .topic = topic, .ping_ms = ping_ms };
    }
    static const struct {
        const char *pattern;
        c1m_ws_route_t *route;
    } ws_routes[] = { { "/ws", &ws_echo_route }, { "/ws/push", &ws_push_route } };
    for (size_t i = 0; i < C1M_ARRAY_LEN(ws_routes); i++) {
        char why[200] = "";
        rc = c1m_http_handle(h, "GET", ws_routes[i].pattern, c1m_ws_http_handler,
                             ws_routes[i].route, 0, why, sizeof why);
        if (rc < 0) {
            if (err && errlen)
                snprintf(err, errlen, "route GET %s: %s", ws_routes[i].pattern, why);
            return rc;
        }
    }
    return 0;
}
