#include "proto/http1/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

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
