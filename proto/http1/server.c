#include "proto/http1/server.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/common.h"
#include "engine/conn.h"
#include "engine/loop.h"
#include "engine/timeouts.h"
#include "proto/http1/metrics.h"

/* ---- instances: configuration (before serving, then read-only) ------- */

struct c1m_http_route_def {
    c1m_http_fn fn;
    void *ud;
    unsigned flags;
};
typedef c1m_http_route_def_t route_def_t;

#define PEND_HEADERS 32

static const c1m_proto_t proto_template;
static ssize_t http_data(c1m_conn_t *c, const char *data, size_t len);
static void metrics_handler(c1m_http_req_t *req, c1m_http_reply_t *reply, void *ud);

void c1m_http_cfg_defaults(c1m_http_cfg_t *cfg)
{
    *cfg = (c1m_http_cfg_t){
        .max_request_line = C1M_HTTP_DEFAULT_MAX_REQUEST_LINE,
        .max_head = C1M_HTTP_DEFAULT_MAX_HEAD,
        .max_headers = C1M_HTTP_DEFAULT_MAX_HEADERS,
        .max_body = C1M_HTTP_DEFAULT_MAX_BODY,
        .metrics_path = "/metrics",
        .access_log = false,
        .access_log_fd = STDOUT_FILENO,
        .redirect_trailing_slash = true,
        .redirect_fixed_path = true,
        .handle_method_not_allowed = true,
        .handle_options = true,
    };
}

int c1m_http_new(c1m_http_t **out, const c1m_http_cfg_t *cfg)
{
    c1m_http_cfg_t def;
    if (!cfg) {
        c1m_http_cfg_defaults(&def);
        cfg = &def;
    }
    *out = NULL;
    c1m_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    int rc = c1m__http_metrics_init(&h->metrics);
    if (rc < 0) {
        free(h);
        return rc;
    }
    h->cfg = *cfg;
    h->cfg.metrics_path = NULL; /* set once its route exists (a copy the instance owns) */
    h->limits = (c1m_http_limits_t){ .max_request_line = cfg->max_request_line,
                                     .max_head = cfg->max_head,
                                     .max_headers = cfg->max_headers,
                                     .max_body = cfg->max_body };
    c1m_http_limits_normalize(&h->limits);
    h->proto = proto_template;
    if ((rc = c1m_http_router_new(&h->router)) < 0)
        goto fail;
    c1m_http_router_opts_t o = { cfg->redirect_trailing_slash, cfg->redirect_fixed_path,
                                 cfg->handle_method_not_allowed, cfg->handle_options };
    c1m_http_router_set_opts(h->router, &o);
    if (cfg->metrics_path) {
        rc = c1m_http_handle(h, "GET", cfg->metrics_path, metrics_handler, NULL, 0, NULL, 0);
        if (rc < 0)
            goto fail;
        h->cfg.metrics_path = cfg->metrics_path;
    }
    *out = h;
    return 0;
fail:
    c1m_http_free(h);
    return rc == -ENOMEM ? rc : -EINVAL;
}

void c1m_http_free(c1m_http_t *h)
{
    if (!h)
        return;
    c1m_http_router_free(h->router);
    for (size_t i = 0; i < h->ndefs; i++)
        free(h->defs[i]);
    free(h->defs);
    c1m__http_metrics_fini(&h->metrics);
    free(h);
}

const c1m_proto_t *c1m_http_proto(c1m_http_t *h) { return &h->proto; }

c1m_http_t *c1m_http_from_proto(const c1m_proto_t *p)
{
    if (!p || p->on_data != proto_template.on_data)
        return NULL;
    return c1m__http_of(p);
}

/* Registration races the lookups of a serving instance (they take no lock). */
static bool frozen(const c1m_http_t *h) { return C1M_RELAXED_LOAD(&h->serving); }

/* The router stores (fn, ud) and hands them back: fn is only a marker,
 * ud our definition. */
static void route_marker(void *req, void *resp, const c1m_route_params_t *ps, void *ud) {}

int c1m_http_handle(c1m_http_t *h, const char *method, const char *pattern, c1m_http_fn fn,
                    void *ud, unsigned flags, char *err, size_t errlen)
{
    if (!h || !fn || !method || !pattern) {
        if (err && errlen)
            snprintf(err, errlen, "method, pattern and handler are required");
        return -EINVAL;
    }
    if (frozen(h)) {
        if (err && errlen)
            snprintf(err, errlen, "routes are registered before the server starts");
        return -EBUSY;
    }
    route_def_t *d = malloc(sizeof *d);
    route_def_t **defs = realloc(h->defs, (h->ndefs + 1) * sizeof *defs);
    if (!d || !defs) {
        free(d);
        if (defs)
            h->defs = defs;
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    h->defs = defs;
    *d = (route_def_t){ fn, ud, flags };
    int rc = c1m_http_router_handle(h->router, method, pattern, route_marker, d, err, errlen);
    if (rc < 0) {
        free(d);
        return rc;
    }
    h->defs[h->ndefs++] = d;
    h->route_buf = c1m_http_router_buf_size(h->router, h->limits.max_request_line);
    return 0;
}

int c1m_http_use(c1m_http_t *h, c1m_http_fn fn, void *ud)
{
    if (!h || !fn)
        return -EINVAL;
    if (frozen(h))
        return -EBUSY;
    if (h->nmw == C1M_HTTP_MAX_MW)
        return -ENOSPC;
    h->mw[h->nmw].fn = fn;
    h->mw[h->nmw].ud = ud;
    h->nmw++;
    return 0;
}

/* Go net/http's server timeouts in the article's program. */
void c1m_http_go_timeouts(c1m_loop_cfg_t *cfg)
{
    cfg->timeout_ms[C1M_TO_READ] = 5000;
    cfg->timeout_ms[C1M_TO_WRITE] = 10000;
    cfg->timeout_ms[C1M_TO_IDLE] = 10000;
    cfg->timeout_ms[C1M_TO_HEADER] = 10000;
}

size_t c1m_http_metrics_render(c1m_http_t *h, char *buf, size_t cap)
{
    return c1m__http_metrics_render(&h->metrics, buf, cap);
}

int c1m_http_metrics_share(c1m_http_t *h, unsigned nslots)
{
    return c1m__http_metrics_share(&h->metrics, nslots);
}

/* ---- per-connection state --------------------------------------------- */

enum { P_HEAD = 0, P_BODY, P_IDLE };
enum {
    F_STARTED = 1u << 0,   /* bytes of the current request have arrived */
    F_RESPONDED = 1u << 1, /* the current request has its answer */
    F_COLLECT = 1u << 2,   /* buffering the body for its handler */
    F_CLOSE = 1u << 3,     /* stop reading; close once the answers so far are out */
    F_LAST = 1u << 4,      /* the current request is the connection's last */
    F_LINGER = 1u << 5,    /* answered an error: discard input until the peer closes */
};

/* Lingering close (nginx's lingering_close): after an error answer the
 * peer may still be sending; closing with unread bytes would make the
 * kernel send a RST that can destroy the answer before the client reads
 * it. So the write side is shut down once the answer is out, input is
 * read and discarded, and the connection closes when the peer closes or
 * after LINGER_MS at most. */
#define LINGER_MS 5000

typedef struct pending {
    c1m_http_request_t req;        /* copy; buf -> head below */
    c1m_http_header_t hdrs[PEND_HEADERS];
    c1m_buf_t *body;
    char head[];
} pending_t;

typedef struct http_conn {
    c1m_http_parser_t p;
    uint8_t phase;
    uint8_t flags;
    uint16_t _pad;
    uint32_t nreq;
    pending_t *pend;
} http_conn_t;

size_t c1m_http_conn_state_size(void) { return sizeof(http_conn_t); }

/* ---- the request, for handlers --------------------------------------- */

static c1m_http_str_t str_of(const c1m_http_request_t *q, c1m_http_slice_t sl)
{
    return (c1m_http_str_t){ c1m_http_str(q->buf, sl), sl.len };
}

c1m_http_str_t c1m_http_req_method(const c1m_http_req_t *r) { return str_of(r->req, r->req->method_str); }
c1m_http_str_t c1m_http_req_target(const c1m_http_req_t *r) { return str_of(r->req, r->req->target); }
c1m_http_str_t c1m_http_req_path(const c1m_http_req_t *r) { return str_of(r->req, r->req->path); }
c1m_http_str_t c1m_http_req_query(const c1m_http_req_t *r) { return str_of(r->req, r->req->query); }
int c1m_http_req_version(const c1m_http_req_t *r) { return r->req->version_minor; }

c1m_http_str_t c1m_http_req_header(const c1m_http_req_t *r, const char *name)
{
    int i = c1m_http_find_header(r->req, name, strlen(name));
    if (i < 0)
        return (c1m_http_str_t){ NULL, 0 };
    return str_of(r->req, r->req->headers[i].value);
}

unsigned c1m_http_req_header_count(const c1m_http_req_t *r)
{
    return C1M_MIN(r->req->nheaders, r->req->headers_cap);
}

int c1m_http_req_header_at(const c1m_http_req_t *r, unsigned i, c1m_http_str_t *name,
                           c1m_http_str_t *value)
{
    if (i >= c1m_http_req_header_count(r))
        return -ENOENT;
    if (name)
        *name = str_of(r->req, r->req->headers[i].name);
    if (value)
        *value = str_of(r->req, r->req->headers[i].value);
    return 0;
}

c1m_http_str_t c1m_http_req_body(const c1m_http_req_t *r)
{
    return (c1m_http_str_t){ r->body ? r->body : "", r->body_len };
}

c1m_http_str_t c1m_http_req_param(const c1m_http_req_t *r, const char *name)
{
    size_t n = 0;
    const char *v = r->route->kind == C1M_ROUTE_FOUND
                        ? c1m_route_param(&r->route->params, name, &n) : NULL;
    return (c1m_http_str_t){ v, v ? n : 0 };
}

unsigned c1m_http_req_param_count(const c1m_http_req_t *r)
{
    return r->route->kind == C1M_ROUTE_FOUND ? r->route->params.count : 0;
}

int c1m_http_req_param_at(const c1m_http_req_t *r, unsigned i, c1m_http_str_t *name,
                          c1m_http_str_t *value)
{
    if (i >= c1m_http_req_param_count(r))
        return -ENOENT;
    const c1m_route_param_t *p = &r->route->params.p[i];
    if (name)
        *name = (c1m_http_str_t){ p->name, p->name_len };
    if (value)
        *value = (c1m_http_str_t){ p->value, p->value_len };
    return 0;
}

const char *c1m_http_req_route(const c1m_http_req_t *r)
{
    return r->route->kind == C1M_ROUTE_FOUND ? r->route->pattern : NULL;
}

uint64_t c1m_http_req_start_ns(const c1m_http_req_t *r) { return r->t0_ns; }
c1m_conn_t *c1m_http_req_conn(const c1m_http_req_t *r) { return r->c; }
c1m_http_t *c1m_http_req_server(const c1m_http_req_t *r) { return r->h; }

/* ---- middleware chain and default answers ------------------------------ */

static void default_handler(c1m_http_req_t *ctx)
{
    const c1m_route_result_t *rt = ctx->route;
    c1m_http_reply_t *r = ctx->resp;
    switch (rt->kind) {
    case C1M_ROUTE_REDIRECT: {
        char loc[C1M_HTTP_REPLY_HDRS_MAX - 16];
        const c1m_http_request_t *q = ctx->req;
        int n = snprintf(loc, sizeof loc, "%.*s%s%.*s", (int)rt->location_len, rt->location,
                         q->query.len ? "?" : "", (int)q->query.len,
                         c1m_http_str(q->buf, q->query));
        c1m_http_reply_status(r, rt->status);
        if (n < 0 || (size_t)n >= sizeof loc ||
            c1m_http_reply_header(r, "Location", loc, (size_t)n) < 0) {
            c1m_http_reply_status(r, 404);
            c1m_http_reply_send(r, "text/plain; charset=utf-8", "404 page not found\n", 19);
            return;
        }
        static const char body[] = "Moved Permanently.\n";
        c1m_http_reply_send(r, "text/plain; charset=utf-8", body, sizeof body - 1);
        return;
    }
    case C1M_ROUTE_OPTIONS:
        c1m_http_reply_status(r, 200);
        c1m_http_reply_header(r, "Allow", rt->allow, rt->allow_len);
        c1m_http_reply_send(r, NULL, NULL, 0);
        return;
    case C1M_ROUTE_METHOD_NOT_ALLOWED:
        c1m_http_reply_status(r, 405);
        c1m_http_reply_header(r, "Allow", rt->allow, rt->allow_len);
        c1m_http_reply_send(r, "text/plain; charset=utf-8", "Method Not Allowed\n", 19);
        return;
    default:
        c1m_http_reply_status(r, 404);
        c1m_http_reply_send(r, "text/plain; charset=utf-8", "404 page not found\n", 19);
        return;
    }
}

void c1m_http_next(c1m_http_req_t *ctx)
{
    const c1m_http_t *h = ctx->h;
    if (ctx->mw_i < h->nmw) {
        unsigned i = ctx->mw_i++;
        h->mw[i].fn(ctx, ctx->resp, h->mw[i].ud);
        return;
    }
    if (ctx->mw_i > h->nmw)
        return; /* the handler ran already */
    ctx->mw_i = h->nmw + 1;
    const c1m_route_result_t *rt = ctx->route;
    if (rt->kind == C1M_ROUTE_FOUND && rt->fn && rt->ud) {
        const route_def_t *d = rt->ud;
        d->fn(ctx, ctx->resp, d->ud);
        return;
    }
    default_handler(ctx);
}

/* The built-in /metrics: rendered into a bounded buffer on the stack (the
 * text cannot exceed C1M_HTTP_METRICS_MAX), summed without a lock. */
static void metrics_handler(c1m_http_req_t *req, c1m_http_reply_t *reply, void *ud)
{
    char buf[C1M_HTTP_METRICS_MAX];
    size_t n = c1m__http_metrics_render(&req->h->metrics, buf, sizeof buf);
    if (n >= sizeof buf) {
        c1m_http_reply_status(reply, 500);
        c1m_http_reply_send(reply, "text/plain; charset=utf-8", "500 Internal Server Error\n", 26);
        return;
    }
    c1m_http_reply_send(reply, "text/plain; version=0.0.4; charset=utf-8", buf, n);
}

static void access_log(c1m_http_req_t *ctx)
{
    uint64_t us = (c1m_now_ns() - ctx->t0_ns) / 1000;
    char addr[INET6_ADDRSTRLEN] = "-";
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (c1m_conn_peer(ctx->c, &ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
    }
    size_t dl;
    const char *date = c1m_http_date_line(&dl); /* "Date: Wed, 25 Nov 2026 10:59:30 GMT\r\n" */
    const c1m_http_request_t *q = ctx->req;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s - - [%.29s] \"%.*s %.*s HTTP/1.%u\" %u %llu %lluus\n",
                     addr, date + 6, (int)q->method_str.len, c1m_http_str(q->buf, q->method_str),
                     (int)C1M_MIN(q->target.len, 512u), c1m_http_str(q->buf, q->target),
                     q->version_minor, ctx->resp->status,
                     (unsigned long long)ctx->resp->body_bytes, (unsigned long long)us);
    if (n > 0) {
        ssize_t w = write(ctx->h->cfg.access_log_fd, line, C1M_MIN((size_t)n, sizeof line - 1));
        (void)w;
    }
}

/* ---- upgrade ------------------------------------------------------------ */

/* The hand-over a handler asked for (handlers run inside http_data on
 * the same thread, so one per thread is enough). */
static _Thread_local struct {
    c1m_conn_t *c;
    const c1m_proto_t *proto;
    void *ud;
} tl_upgrade;

int c1m_http_upgrade(c1m_http_req_t *req, const c1m_proto_t *proto, void *ud)
{
    c1m_http_reply_t *r = req->resp;
    if (!proto || !proto->on_data)
        return -EINVAL;
    if (C1M_RECORDED(req->c))
        return -ENOTSUP; /* a worker thread: the hand-over needs the loop */
    if (r->started)
        return -EALREADY;
    if (req->req->version_minor == 0)
        return -EPROTO; /* HTTP/1.0 has no Upgrade */
    /* A body would be read as HTTP after the 101, or handed to the new
     * protocol as its first bytes: neither is what the client meant. */
    if ((req->req->flags & C1M_HTTP_F_CHUNKED) ||
        ((req->req->flags & C1M_HTTP_F_CONTENT_LENGTH) && req->req->content_length))
        return -EBADMSG;
    if (c1m_loop_draining(req->c->loop))
        return -ESHUTDOWN; /* the connection must close, not change protocol */
    static const char line[] = "HTTP/1.1 101 Switching Protocols\r\n";
    struct iovec iov[3] = { { (void *)line, sizeof line - 1 },
                            { r->hdrs, r->hlen },
                            { (void *)"\r\n", 2 } };
    int rc = c1m_http_out(req->c, iov, 3);
    if (rc < 0)
        return rc;
    r->status = 101;
    r->started = r->done = true; /* our own answer: the writer adds nothing */
    tl_upgrade.c = req->c;
    tl_upgrade.proto = proto;
    tl_upgrade.ud = ud;
    return 0;
}

static void pending_free(http_conn_t *hc);

static void do_upgrade(c1m_conn_t *c, http_conn_t *hc)
{
    const c1m_proto_t *proto = tl_upgrade.proto;
    void *ud = tl_upgrade.ud;
    tl_upgrade.c = NULL;
    pending_free(hc);
    free(hc);
    c->ud = NULL;
    C1M_BUMP(c1m_http_metrics_self(&c1m__http_of(c->proto)->metrics)->closed, 1); /* no longer HTTP */
    c1m_conn_timeout_clear(c, C1M_TO_HEADER);
    c1m_conn_timeout_clear(c, C1M_TO_READ);
    c1m_conn_timeout_clear(c, C1M_TO_IDLE);
    if (!c1m_conn_pending_out(c))
        c1m_conn_timeout_clear(c, C1M_TO_WRITE);
    if (c1m_conn_set_proto(c, proto, ud) < 0) {
        if (proto->on_close)
            proto->on_close(c, C1M_CLOSE_LOCAL);
        c1m_conn_close(c, C1M_CLOSE_LOCAL);
        return;
    }
    if (proto->on_open && proto->on_open(c) < 0)
        c1m_conn_close(c, C1M_CLOSE_LOCAL); /* the new protocol's on_close frees ud */
}

/* ---- request dispatch ------------------------------------------------- */

/* Router scratch, one per thread, shared by the instances it serves (sized
 * for the largest; freed at thread exit by the key). */
static _Thread_local char *tl_route_buf;
static _Thread_local size_t tl_route_cap;
static pthread_key_t route_key;
static pthread_once_t route_once = PTHREAD_ONCE_INIT;
static void route_key_init(void) { pthread_key_create(&route_key, free); }

static void route_buf_grow(size_t need)
{
    pthread_once(&route_once, route_key_init);
    free(tl_route_buf);
    tl_route_buf = malloc(need);
    tl_route_cap = tl_route_buf ? need : 0;
    pthread_setspecific(route_key, tl_route_buf);
}

static void dispatch(c1m_http_t *h, c1m_conn_t *c, http_conn_t *hc,
                     const c1m_http_request_t *req, const char *body, size_t body_len,
                     uint64_t t0)
{
    c1m_http_metrics_t *m = c1m_http_metrics_self(&h->metrics);
    if (C1M_UNLIKELY(tl_route_cap < h->route_buf))
        route_buf_grow(h->route_buf);
    const char *meth;
    size_t mlen;
    if (req->method == C1M_HTTP_HEAD) /* HEAD is GET without the body */
        meth = "GET", mlen = 3;
    else
        meth = c1m_http_str(req->buf, req->method_str), mlen = req->method_str.len;
    c1m_route_result_t rt;
    if (c1m_http_router_route(h->router, meth, mlen, c1m_http_str(req->buf, req->path),
                              req->path.len, tl_route_buf, tl_route_cap, &rt) < 0)
        rt.kind = C1M_ROUTE_NOT_FOUND, rt.fn = NULL, rt.status = 404;
    c1m_http_reply_t resp;
    /* draining (shutdown, upgrade): this answer is the connection's last */
    c1m_http_reply_init(&resp, c, req->version_minor, req->method == C1M_HTTP_HEAD,
                       (req->flags & C1M_HTTP_F_KEEP_ALIVE) && !(hc->flags & F_CLOSE) &&
                           !c1m_loop_draining(c->loop));
    c1m_http_req_t ctx = { .h = h, .c = c, .req = req, .route = &rt, .body = body,
                           .body_len = body_len, .resp = &resp, .t0_ns = t0 };
    c1m_http_next(&ctx);
    c1m_http_reply_end(&resp);
    uint64_t now = c1m_now_ns();
    c1m_http_metrics_latency(m, now > t0 ? now - t0 : 0);
    if (h->cfg.access_log)
        access_log(&ctx);
    c1m_http_metrics_status(m, resp.status);
    c1m_conn_count(c, 1);
    hc->flags |= F_RESPONDED;
    if (!resp.keep_alive)
        hc->flags |= F_LAST; /* its body (if any) is still read, then close */
}

static bool wants_body(const c1m_http_t *h, const c1m_http_request_t *req)
{
    const char *meth = c1m_http_str(req->buf, req->method_str);
    c1m_route_result_t rt;
    if (!c1m_http_router_match(h->router, meth, req->method_str.len,
                               c1m_http_str(req->buf, req->path), req->path.len, &rt, NULL))
        return false;
    const route_def_t *d = rt.ud;
    return d && (d->flags & C1M_HTTP_BODY);
}

static pending_t *pending_new(const c1m_http_request_t *req)
{
    pending_t *pd = malloc(sizeof *pd + req->head_len);
    if (!pd)
        return NULL;
    pd->req = *req;
    memcpy(pd->head, req->buf, req->head_len);
    pd->req.buf = pd->head;
    uint32_t n = C1M_MIN(req->nheaders, C1M_MIN(req->headers_cap, (uint32_t)PEND_HEADERS));
    memcpy(pd->hdrs, req->headers, n * sizeof *pd->hdrs);
    pd->req.headers = pd->hdrs;
    pd->req.headers_cap = PEND_HEADERS;
    pd->req.nheaders = n;
    pd->req.body = NULL;
    pd->req.body_len = 0;
    pd->body = NULL;
    return pd;
}

static void pending_free(http_conn_t *hc)
{
    if (hc->pend) {
        c1m_buf_free(&hc->pend->body);
        free(hc->pend);
        hc->pend = NULL;
    }
}

/* ---- protocol callbacks ---------------------------------------------- */

static int http_open(c1m_conn_t *c)
{
    http_conn_t *hc = malloc(sizeof *hc);
    if (!hc)
        return -1;
    memset(hc, 0, sizeof *hc);
    c1m_http_t *h = c1m__http_of(c->proto);
    if (C1M_UNLIKELY(!h->serving)) /* freeze the configuration (see frozen()) */
        C1M_RELAXED_STORE(&h->serving, true);
    c1m_http_parser_init(&hc->p, &h->limits);
    hc->phase = P_HEAD; /* the first request's deadlines run from accept (Go) */
    static _Thread_local uint64_t next_id; /* on_open runs on the owning loop */
    c->user64 = ++next_id;
    c->ud = hc;
    C1M_BUMP(c1m_http_metrics_self(&h->metrics)->opened, 1);
    c1m_conn_timeout_arm(c, C1M_TO_HEADER);
    c1m_conn_timeout_arm(c, C1M_TO_READ);
    return 0;
}

static void http_close(c1m_conn_t *c, int reason)
{
    http_conn_t *hc = c->ud;
    C1M_BUMP(c1m_http_metrics_self(&c1m__http_of(c->proto)->metrics)->closed, 1);
    if (hc) {
        pending_free(hc);
        free(hc);
    }
    c->ud = NULL;
}

static void linger_start(c1m_conn_t *c, http_conn_t *hc)
{
    hc->flags |= F_LINGER;
    c1m_conn_timeout_clear(c, C1M_TO_READ);
    c1m_conn_timeout_clear(c, C1M_TO_HEADER);
    c1m_conn_set_timeout(c, C1M_TO_IDLE, LINGER_MS);
    c1m_conn_timeout_arm(c, C1M_TO_IDLE);
    c1m_conn_shutdown_after_flush(c);
}

/* Close after the answers so far, lingering after an error answer. */
static void finish_conn(c1m_conn_t *c, http_conn_t *hc, int reason)
{
    if (!(hc->flags & F_LINGER))
        c1m_conn_close_after_flush(c, reason);
    else
        linger_start(c, hc);
}

static void bad_request(c1m_conn_t *c, http_conn_t *hc, int err)
{
    c1m_http_metrics_t *m = c1m_http_metrics_self(&c1m__http_of(c->proto)->metrics);
    C1M_BUMP(m->parse_errors, 1);
    if (!(hc->flags & F_RESPONDED)) {
        int status = c1m_http_status_for_error(err);
        char body[64];
        snprintf(body, sizeof body, "%d %s\n", status, c1m_http_reason_phrase(status));
        c1m_http_send_simple(c, status, false, NULL, body);
        c1m_http_metrics_status(m, status);
    }
    hc->flags |= F_CLOSE | F_RESPONDED | F_LINGER;
}

static ssize_t http_data(c1m_conn_t *c, const char *data, size_t len)
{
    http_conn_t *hc = c->ud;
    if (C1M_UNLIKELY(!hc))
        return -1;
    c1m_http_t *h = c1m__http_of(c->proto);
    if (C1M_UNLIKELY(hc->flags & F_LINGER))
        return (ssize_t)len; /* closing: input is discarded */
    c1m_http_cork_begin(c);
    uint64_t t0 = c1m_now_ns();
    c1m_http_header_t headers[PEND_HEADERS];
    c1m_http_request_t req;
    size_t off = 0;
    while (!(hc->flags & F_CLOSE)) {
        if (hc->phase == P_IDLE) {
            if (off == len)
                break;
            /* A client that pipelines and does not read: answer no more
             * above the high watermark. The rest is kept by the engine and
             * presented again once the output drains (nothing is lost; the
             * output stays within out_high plus one response and the cork). */
            if (c1m_conn_over_high(c))
                break;
            /* first byte of the next request */
            c1m_conn_timeout_clear(c, C1M_TO_IDLE);
            c1m_conn_timeout_arm(c, C1M_TO_HEADER);
            c1m_conn_timeout_arm(c, C1M_TO_READ);
            hc->phase = P_HEAD;
        }
        if (off < len)
            hc->flags |= F_STARTED;
        req.headers = headers;
        req.headers_cap = PEND_HEADERS;
        c1m_http_event_t ev;
        ssize_t n = c1m_http_parse(&hc->p, data + off, len - off, &req, &ev);
        if (C1M_UNLIKELY(n < 0)) {
            bad_request(c, hc, (int)n);
            break;
        }
        off += (size_t)n;
        if (ev == C1M_HTTP_EV_NONE)
            break;
        if (ev == C1M_HTTP_EV_HEAD) {
            c1m_conn_timeout_clear(c, C1M_TO_HEADER);
            c1m_conn_timeout_arm(c, C1M_TO_WRITE);
            hc->phase = P_BODY;
            hc->flags = (uint8_t)(hc->flags & F_STARTED);
            bool has_body = (req.flags & C1M_HTTP_F_CHUNKED) ||
                            ((req.flags & C1M_HTTP_F_CONTENT_LENGTH) && req.content_length);
            if (has_body && wants_body(h, &req)) {
                hc->pend = pending_new(&req);
                if (!hc->pend) {
                    c1m_http_send_simple(c, 500, false, NULL, "500 Internal Server Error\n");
                    c1m_http_metrics_status(c1m_http_metrics_self(&h->metrics), 500);
                    hc->flags |= F_CLOSE | F_RESPONDED;
                    break;
                }
                hc->flags |= F_COLLECT;
                if (req.flags & C1M_HTTP_F_EXPECT_CONTINUE) {
                    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                    struct iovec iov = { (void *)cont, sizeof cont - 1 };
                    c1m_http_out(c, &iov, 1);
                }
                continue;
            }
            if (has_body && (req.flags & C1M_HTTP_F_EXPECT_CONTINUE))
                hc->flags |= F_CLOSE | F_LINGER; /* answered without the body: never read it */
            dispatch(h, c, hc, &req, NULL, 0, t0);
            if (C1M_UNLIKELY(tl_upgrade.c == c))
                break; /* handed over: the bytes after the head are not HTTP
                        * (c1m_http_upgrade refuses a request with a body) */
            tl_upgrade.c = NULL;
            continue;
        }
        if (ev == C1M_HTTP_EV_BODY) {
            if ((hc->flags & F_COLLECT) &&
                c1m_buf_append(&hc->pend->body, req.body, req.body_len) < 0) {
                c1m_http_send_simple(c, 500, false, NULL, "500 Internal Server Error\n");
                hc->flags |= F_CLOSE | F_RESPONDED;
                break;
            }
            continue;
        }
        /* C1M_HTTP_EV_DONE */
        c1m_conn_timeout_clear(c, C1M_TO_READ);
        if (hc->flags & F_COLLECT) {
            pending_t *pd = hc->pend;
            dispatch(h, c, hc, &pd->req, pd->body ? c1m_buf_data(pd->body) : "",
                     c1m_buf_size(pd->body), t0);
            pending_free(hc);
        }
        hc->nreq++;
        if ((hc->flags & F_LAST) || !c1m_http_keep_alive(&hc->p))
            hc->flags |= F_CLOSE;
        hc->phase = P_IDLE;
        hc->flags &= (uint8_t)F_CLOSE;
    }
    c1m_http_cork_end(c);
    if (C1M_UNLIKELY(tl_upgrade.c == c)) {
        do_upgrade(c, hc);
        return (ssize_t)off;
    }
    if (hc->flags & F_CLOSE) {
        finish_conn(c, hc, C1M_CLOSE_LOCAL);
        return (ssize_t)len; /* whatever follows is never interpreted */
    }
    if (hc->phase == P_IDLE && off < len) {
        /* Stopped at the high watermark with requests waiting: not idle.
         * The write timeout governs the pending output. */
        c1m_conn_timeout_clear(c, C1M_TO_IDLE);
    } else if (hc->phase == P_IDLE) {
        c1m_conn_timeout_arm(c, C1M_TO_IDLE);
        if (!c1m_conn_pending_out(c))
            c1m_conn_timeout_clear(c, C1M_TO_WRITE);
    } else if ((hc->flags & F_RESPONDED) && !c1m_conn_pending_out(c)) {
        c1m_conn_timeout_clear(c, C1M_TO_WRITE);
    }
    return (ssize_t)off;
}

static int http_timeout(c1m_conn_t *c, int kind)
{
    http_conn_t *hc = c->ud;
    if (!hc)
        return 0;
    if (hc->flags & F_LINGER)
        return 0; /* lingering close: time is up */
    c1m_http_metrics_t *m = c1m_http_metrics_self(&c1m__http_of(c->proto)->metrics);
    if (kind >= 0 && kind < C1M_HTTP_METRICS_TIMEOUT_KINDS)
        C1M_BUMP(m->timeouts[kind], 1);
    /* WRITE runs from the end of the head: before the answer starts (a
     * slow body) a 408 is still possible; after it, only a close. */
    if (kind != C1M_TO_HEADER && kind != C1M_TO_READ && kind != C1M_TO_WRITE)
        return 0;
    /* 408 only for a request that has started and has no answer yet */
    if (!(hc->flags & F_STARTED) || (hc->flags & F_RESPONDED) || hc->phase == P_IDLE)
        return 0;
    if (kind == C1M_TO_WRITE && (hc->phase != P_BODY || c1m_conn_pending_out(c)))
        return 0;
    c1m_http_send_simple(c, 408, false, NULL, "408 Request Timeout\n");
    c1m_http_metrics_status(m, 408);
    hc->flags |= F_CLOSE | F_RESPONDED | F_LINGER;
    finish_conn(c, hc, kind == C1M_TO_HEADER ? C1M_CLOSE_TIMEOUT_HEADER : C1M_CLOSE_TIMEOUT_READ);
    return 1;
}

/* The table each instance copies (c1m_http_t.proto), the same under
 * every architecture: under workerpool on_data runs on a worker, whose
 * calls on the connection the engine records and applies on the loop
 * thread when the worker releases it. */
static const c1m_proto_t proto_template = {
    .name = "http",
    .flags = C1M_PROTO_MANUAL_TIMEOUTS,
    .on_open = http_open,
    .on_data = http_data,
    .on_close = http_close,
    .on_timeout = http_timeout,
};
