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

/* ---- configuration (set before the server starts, then read-only) ---- */

#define MAX_MW 8
#define PEND_HEADERS 32

typedef struct {
    c1m_http_handler_fn fn;
    void *ud;
    unsigned flags;
} route_def_t;

static struct {
    c1m_http_router_t *router;
    c1m_http_limits_t limits;
    c1m_http_mw_fn mw[MAX_MW];
    unsigned nmw;
    size_t route_buf;   /* router scratch for the longest request line */
    route_def_t **defs;
    size_t ndefs;
} S;

int c1m_http_server_init(const c1m_http_limits_t *limits)
{
    c1m_http_server_free();
    S.limits = limits ? *limits : c1m_http_default_limits;
    c1m_http_limits_normalize(&S.limits);
    return c1m_http_router_new(&S.router);
}

void c1m_http_server_free(void)
{
    c1m_http_router_free(S.router);
    for (size_t i = 0; i < S.ndefs; i++)
        free(S.defs[i]);
    free(S.defs);
    memset(&S, 0, sizeof S);
}

int c1m_http_server_handle(const char *method, const char *pattern, c1m_http_handler_fn fn,
                           void *ud, unsigned flags, char *err, size_t errcap)
{
    if (!S.router || !fn)
        return -EINVAL;
    route_def_t *d = malloc(sizeof *d);
    route_def_t **defs = realloc(S.defs, (S.ndefs + 1) * sizeof *defs);
    if (!d || !defs) {
        free(d);
        if (defs)
            S.defs = defs;
        return -ENOMEM;
    }
    S.defs = defs;
    *d = (route_def_t){ fn, ud, flags };
    /* the router hands back (fn, ud): fn is a marker, ud our definition */
    int rc = c1m_http_router_handle(S.router, method, pattern, fn, d, err, errcap);
    if (rc < 0) {
        free(d);
        return rc;
    }
    S.defs[S.ndefs++] = d;
    S.route_buf = c1m_http_router_buf_size(S.router, S.limits.max_request_line);
    return 0;
}

int c1m_http_server_use(c1m_http_mw_fn mw)
{
    if (S.nmw == MAX_MW)
        return -ENOSPC;
    S.mw[S.nmw++] = mw;
    return 0;
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

/* ---- middleware chain and default answers ------------------------------ */

static void default_handler(c1m_http_ctx_t *ctx)
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

void c1m_http_next(c1m_http_ctx_t *ctx)
{
    if (ctx->mw_i < S.nmw) {
        S.mw[ctx->mw_i++](ctx);
        return;
    }
    ctx->mw_i = S.nmw + 1;
    const c1m_route_result_t *rt = ctx->route;
    if (rt->fn && rt->ud) {
        const route_def_t *d = rt->ud;
        if (rt->kind == C1M_ROUTE_FOUND) {
            d->fn(ctx, ctx->resp, &rt->params, d->ud);
            return;
        }
    }
    default_handler(ctx);
}

void c1m_http_mw_timer(c1m_http_ctx_t *ctx)
{
    c1m_http_next(ctx);
    uint64_t now = c1m_now_ns();
    c1m_http_metrics_t *m = c1m_http_metrics_self();
    c1m_hist_record(&m->latency, now > ctx->t0_ns ? now - ctx->t0_ns : 0);
}

void c1m_http_mw_access_log(c1m_http_ctx_t *ctx)
{
    c1m_http_next(ctx);
    uint64_t us = (c1m_now_ns() - ctx->t0_ns) / 1000;
    char addr[INET6_ADDRSTRLEN] = "-";
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(ctx->c->io.fd, (struct sockaddr *)&ss, &sl) == 0) {
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
        ssize_t w = write(STDOUT_FILENO, line, C1M_MIN((size_t)n, sizeof line - 1));
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

int c1m_http_upgrade(c1m_http_ctx_t *ctx, const c1m_proto_t *proto, void *ud)
{
    if (C1M_RECORDED(ctx->c))
        return -ENOTSUP;
    tl_upgrade.c = ctx->c;
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
    c1m_http_metrics_self()->closed++; /* no longer an HTTP connection */
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

/* Router scratch, one per thread (freed at thread exit by the key). */
static _Thread_local char *tl_route_buf;
static _Thread_local size_t tl_route_cap;
static pthread_key_t route_key;
static pthread_once_t route_once = PTHREAD_ONCE_INIT;
static void route_key_init(void) { pthread_key_create(&route_key, free); }

static void route_buf_grow(void)
{
    pthread_once(&route_once, route_key_init);
    free(tl_route_buf);
    tl_route_buf = malloc(S.route_buf);
    tl_route_cap = tl_route_buf ? S.route_buf : 0;
    pthread_setspecific(route_key, tl_route_buf);
}

static void dispatch(c1m_conn_t *c, http_conn_t *hc, const c1m_http_request_t *req,
                     const char *body, size_t body_len, uint64_t t0)
{
    c1m_http_metrics_t *m = c1m_http_metrics_self();
    if (C1M_UNLIKELY(tl_route_cap < S.route_buf))
        route_buf_grow();
    const char *meth;
    size_t mlen;
    if (req->method == C1M_HTTP_HEAD) /* HEAD is GET without the body */
        meth = "GET", mlen = 3;
    else
        meth = c1m_http_str(req->buf, req->method_str), mlen = req->method_str.len;
    c1m_route_result_t rt;
    if (c1m_http_router_route(S.router, meth, mlen, c1m_http_str(req->buf, req->path),
                              req->path.len, tl_route_buf, tl_route_cap, &rt) < 0)
        rt.kind = C1M_ROUTE_NOT_FOUND, rt.fn = NULL, rt.status = 404;
    c1m_http_reply_t resp;
    c1m_http_reply_init(&resp, c, req->version_minor, req->method == C1M_HTTP_HEAD,
                       (req->flags & C1M_HTTP_F_KEEP_ALIVE) && !(hc->flags & F_CLOSE));
    c1m_http_ctx_t ctx = { .c = c, .req = req, .route = &rt, .body = body,
                           .body_len = body_len, .resp = &resp, .t0_ns = t0 };
    c1m_http_next(&ctx);
    c1m_http_reply_end(&resp);
    c1m_http_metrics_status(m, resp.status);
    c1m_conn_count(c, 1);
    hc->flags |= F_RESPONDED;
    if (!resp.keep_alive)
        hc->flags |= F_LAST; /* its body (if any) is still read, then close */
}

static bool wants_body(const c1m_http_request_t *req)
{
    if (!S.router)
        return false;
    const char *meth = c1m_http_str(req->buf, req->method_str);
    c1m_route_result_t rt;
    if (!c1m_http_router_match(S.router, meth, req->method_str.len,
                               c1m_http_str(req->buf, req->path), req->path.len, &rt, NULL))
        return false;
    const route_def_t *d = rt.ud;
    return d && (d->flags & C1M_HTTP_ROUTE_BODY);
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
    c1m_http_parser_init(&hc->p, &S.limits);
    hc->phase = P_HEAD; /* the first request's deadlines run from accept (Go) */
    static _Thread_local uint64_t next_id; /* on_open runs on the owning loop */
    c->user64 = ++next_id;
    c->ud = hc;
    c1m_http_metrics_self()->opened++;
    c1m_conn_timeout_arm(c, C1M_TO_HEADER);
    c1m_conn_timeout_arm(c, C1M_TO_READ);
    return 0;
}

static void http_close(c1m_conn_t *c, int reason)
{
    http_conn_t *hc = c->ud;
    c1m_http_metrics_self()->closed++;
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
    c1m_http_metrics_t *m = c1m_http_metrics_self();
    m->parse_errors++;
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
            if (has_body && wants_body(&req)) {
                hc->pend = pending_new(&req);
                if (!hc->pend) {
                    c1m_http_send_simple(c, 500, false, NULL, "500 Internal Server Error\n");
                    c1m_http_metrics_status(c1m_http_metrics_self(), 500);
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
            dispatch(c, hc, &req, NULL, 0, t0);
            if (C1M_UNLIKELY(tl_upgrade.c == c) && !has_body)
                break; /* handed over: the bytes after the head are not HTTP */
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
            dispatch(c, hc, &pd->req, pd->body ? c1m_buf_data(pd->body) : "",
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
    if (hc->phase == P_IDLE) {
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
    c1m_http_metrics_t *m = c1m_http_metrics_self();
    if (kind >= 0 && kind < C1M_HTTP_METRICS_TIMEOUT_KINDS)
        m->timeouts[kind]++;
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

/* The same table under every architecture: under workerpool on_data runs
 * on a worker, whose calls on the connection the engine records and applies
 * on the loop thread when the worker releases it. */
const c1m_proto_t c1m_proto_http = {
    .name = "http",
    .flags = C1M_PROTO_MANUAL_TIMEOUTS,
    .on_open = http_open,
    .on_data = http_data,
    .on_close = http_close,
    .on_timeout = http_timeout,
};
