/* HTTP/1.1 servers: any number of instances in one process, each with its
 * own router, middleware, parser limits and /metrics.
 *
 *     c1m_http_cfg_t hc;
 *     c1m_http_cfg_defaults(&hc);
 *     c1m_http_t *h;
 *     c1m_http_new(&h, &hc);
 *     c1m_http_handle(h, "GET", "/hello/:name", hello, NULL, 0, err, sizeof err);
 *     c1m_server_cfg_t sc;
 *     c1m_server_cfg_defaults(&sc);
 *     sc.proto = c1m_http_proto(h);
 *     c1m_http_go_timeouts(&sc.loop);   // Go net/http's four timeouts
 *     c1m_server_start(&srv, &sc, err, sizeof err);
 *     ...
 *     c1m_server_stop(srv);
 *     c1m_http_free(h);
 *
 * Life cycle. Configure an instance (routes, middleware) before the first
 * connection reaches it; c1m_http_handle and c1m_http_use then return
 * -EBUSY (the lookups that run on the server's threads take no lock).
 * Free it after every server that uses its protocol table has stopped.
 *
 * Threads. Handlers and middleware run on the thread that reads the
 * request: a loop thread, or a worker thread under the worker-pool
 * architecture (where a handler may block). A c1m_http_req_t and its
 * c1m_http_reply_t are valid only during that call.
 *
 * The protocol: keep-alive, pipelining (the answers to one read leave in
 * one write), Expect: 100-continue, HEAD, chunked request bodies, strict
 * RFC 9112 parsing (bad input gets 400/413/414/431/501/505 and a lingering
 * close); httprouter's routing (static, :param and *catch-all segments,
 * trailing-slash and fixed-path redirects, 405 with Allow, automatic
 * OPTIONS). Timeouts are Go's four, kept by the loop
 * (c1m_loop_cfg_t.timeout_ms): c1m_http_go_timeouts fills them.
 */
#ifndef C1M_HTTP_H
#define C1M_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "c1m/common.h"
#include "c1m/conn.h"
#include "c1m/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct c1m_http c1m_http_t;
/* One request being answered (opaque; valid during a handler call). */
typedef struct c1m_http_req c1m_http_req_t;
/* Its response (opaque; the same lifetime). */
typedef struct c1m_http_reply c1m_http_reply_t;

/* Bytes inside the request (not NUL-terminated). p is NULL when absent. */
typedef struct c1m_http_str {
    const char *p;
    size_t len;
} c1m_http_str_t;

typedef struct c1m_http_cfg {
    /* Parser limits (0 = the default in brackets). */
    uint32_t max_request_line; /* request line with its CRLF [8 KiB]; longer: 414 */
    uint32_t max_head;         /* request line + header fields [8 KiB]; larger: 431 */
    uint32_t max_headers;      /* header fields [100]; more: 431 */
    uint64_t max_body;         /* body bytes [1 MiB]; more: 413 */
    /* The built-in Prometheus endpoint (GET); NULL = none. ["/metrics"] */
    const char *metrics_path;
    /* One line per request (address, time, request line, status, bytes,
     * duration) written to access_log_fd. [off, fd 1] */
    bool access_log;
    int access_log_fd;
    /* httprouter's switches [all on]: redirect /a/ <-> /a, redirect to a
     * cleaned case-insensitive match, 405 with Allow, automatic OPTIONS. */
    bool redirect_trailing_slash;
    bool redirect_fixed_path;
    bool handle_method_not_allowed;
    bool handle_options;
} c1m_http_cfg_t;

C1M_API void c1m_http_cfg_defaults(c1m_http_cfg_t *cfg);

/* A new instance (cfg NULL = the defaults). 0, -EINVAL (bad metrics_path)
 * or -ENOMEM. */
C1M_API int c1m_http_new(c1m_http_t **out, const c1m_http_cfg_t *cfg);
/* After every server using it has stopped. NULL is a no-op. */
C1M_API void c1m_http_free(c1m_http_t *h);

/* The protocol table to put in c1m_server_cfg_t.proto (or to give to
 * c1m_loop_new / c1m_loop_adopt). It lives as long as the instance. */
C1M_API const c1m_proto_t *c1m_http_proto(c1m_http_t *h);
/* The instance behind a protocol table, NULL if it is not an HTTP one. */
C1M_API c1m_http_t *c1m_http_from_proto(const c1m_proto_t *p);

/* Handlers and middleware have the same shape. A handler answers through
 * `reply` (a handler that sends nothing answers 200 with an empty body);
 * a middleware does its work around c1m_http_next(req). `ud` is the
 * pointer given at registration. */
typedef void (*c1m_http_fn)(c1m_http_req_t *req, c1m_http_reply_t *reply, void *ud);

/* Route flags. */
#define C1M_HTTP_BODY 0x1u /* the handler reads the body: buffered whole (max_body) */

/* Register fn for `method` (a token: "GET", "PURGE", ...; HEAD is answered
 * by the GET route without its body) and `pattern` (httprouter's:
 * "/user/:id", or a catch-all such as "/src/" + "*path"). 0 or a negative
 * errno, with a sentence in err for a bad or conflicting pattern:
 *   -EINVAL   malformed (no leading '/', unnamed wildcard, ...)
 *   -EEXIST   registered already     -ENOTUNIQ  conflicts with a route
 *   -E2BIG    too many wildcards     -EBUSY     the instance is serving */
C1M_API int c1m_http_handle(c1m_http_t *h, const char *method, const char *pattern,
                            c1m_http_fn fn, void *ud, unsigned flags, char *err,
                            size_t errlen);
/* Add a middleware (run in the order added, around every request, routed
 * or not). 0, -ENOSPC (more than 16) or -EBUSY. */
C1M_API int c1m_http_use(c1m_http_t *h, c1m_http_fn fn, void *ud);
/* From a middleware: run the next middleware, or the handler. */
C1M_API void c1m_http_next(c1m_http_req_t *req);

/* ---- the request ------------------------------------------------------ */

C1M_API c1m_http_str_t c1m_http_req_method(const c1m_http_req_t *req);
C1M_API c1m_http_str_t c1m_http_req_target(const c1m_http_req_t *req); /* as sent */
C1M_API c1m_http_str_t c1m_http_req_path(const c1m_http_req_t *req);   /* before '?' */
C1M_API c1m_http_str_t c1m_http_req_query(const c1m_http_req_t *req);  /* after '?' */
/* 0 for HTTP/1.0, 1 for HTTP/1.1 */
C1M_API int c1m_http_req_version(const c1m_http_req_t *req);
/* The first header field named `name` (case-insensitive); p NULL if none. */
C1M_API c1m_http_str_t c1m_http_req_header(const c1m_http_req_t *req, const char *name);
/* Every header field, in order: 0, or -ENOENT past the last. */
C1M_API unsigned c1m_http_req_header_count(const c1m_http_req_t *req);
C1M_API int c1m_http_req_header_at(const c1m_http_req_t *req, unsigned i, c1m_http_str_t *name,
                                   c1m_http_str_t *value);
/* The whole body for routes registered with C1M_HTTP_BODY (else empty). */
C1M_API c1m_http_str_t c1m_http_req_body(const c1m_http_req_t *req);
/* Path parameters: by name (without ':' or '*'), or by index. */
C1M_API c1m_http_str_t c1m_http_req_param(const c1m_http_req_t *req, const char *name);
C1M_API unsigned c1m_http_req_param_count(const c1m_http_req_t *req);
C1M_API int c1m_http_req_param_at(const c1m_http_req_t *req, unsigned i, c1m_http_str_t *name,
                                  c1m_http_str_t *value);
/* The pattern of the matched route, NULL when none matched (404, 405,
 * redirect, automatic OPTIONS). */
C1M_API const char *c1m_http_req_route(const c1m_http_req_t *req);
/* When the request's last bytes were handed to the server (CLOCK_MONOTONIC ns). */
C1M_API uint64_t c1m_http_req_start_ns(const c1m_http_req_t *req);
C1M_API c1m_conn_t *c1m_http_req_conn(const c1m_http_req_t *req);
C1M_API c1m_http_t *c1m_http_req_server(const c1m_http_req_t *req);

/* ---- the reply -------------------------------------------------------- */

/* Status (default 200): 0, -EINVAL outside 100..999, -EALREADY once sent. */
C1M_API int c1m_http_reply_status(c1m_http_reply_t *r, int status);
/* Add "name: value". 0, -ENOSPC (more than 512 bytes of fields), -EINVAL
 * (CR or LF: response splitting), -EALREADY once sent. */
C1M_API int c1m_http_reply_header(c1m_http_reply_t *r, const char *name, const char *value,
                                  size_t vlen);
/* The whole response with Content-Length (content_type NULL = none; the
 * body is omitted for HEAD). The body is copied or sent before return. */
C1M_API int c1m_http_reply_send(c1m_http_reply_t *r, const char *content_type,
                                const void *body, size_t len);
/* Streaming: the first call sends the header (chunked for HTTP/1.1,
 * close-delimited for 1.0), each call one chunk; c1m_http_reply_end
 * finishes (the engine calls it after the handler too). */
C1M_API int c1m_http_reply_chunk(c1m_http_reply_t *r, const char *content_type,
                                 const void *data, size_t len);
C1M_API int c1m_http_reply_end(c1m_http_reply_t *r);
/* What was answered so far (for middleware such as a logger). */
C1M_API int c1m_http_reply_get_status(const c1m_http_reply_t *r);
C1M_API uint64_t c1m_http_reply_body_bytes(const c1m_http_reply_t *r);

/* ---- protocol upgrade ------------------------------------------------- */

/* From a handler: answer "101 Switching Protocols" and hand the connection
 * to another protocol after this request (an HTTP Upgrade, e.g.
 * WebSocket). The 101 carries the fields added with c1m_http_reply_header
 * before the call (Upgrade, Connection: Upgrade, the protocol's own) and
 * nothing else; it is sent at once, so nothing else may be sent on reply.
 * When the handler returns, HTTP stops parsing at the end of this
 * request's head, frees its state, clears its timeouts, and
 * c1m_conn_set_proto(c, proto, ud) puts `proto` in charge, then
 * proto->on_open(c) runs (c->ud is ud by then); the bytes after the head
 * go to the new protocol. If the hand-over or on_open fails,
 * proto->on_close(c, C1M_CLOSE_LOCAL) frees ud and the connection closes.
 * 0, or (nothing sent; answer with an ordinary reply):
 *   -EINVAL     proto NULL or without on_data
 *   -ENOTSUP    the handler runs on a worker thread (--arch workerpool)
 *   -EALREADY   the reply has started
 *   -EPROTO     an HTTP/1.0 request (no Upgrade in 1.0)
 *   -EBADMSG    the request has a body (Content-Length > 0 or chunked)
 *   -ESHUTDOWN  the loop is draining: the connection is about to close */
C1M_API int c1m_http_upgrade(c1m_http_req_t *req, const c1m_proto_t *proto, void *ud);

/* ---- metrics ------------------------------------------------------------ */

/* Prometheus text (format 0.0.4) of this instance: connections, responses
 * by status, parse errors, timeouts by kind, request duration histogram.
 * Returns the length written, or the length needed when it exceeds cap
 * (the text is then cut). Any thread, while serving too: summing takes
 * no lock and allocates nothing; the text never exceeds
 * C1M_HTTP_METRICS_MAX. */
#define C1M_HTTP_METRICS_MAX (40 * 1024)
C1M_API size_t c1m_http_metrics_render(c1m_http_t *h, char *buf, size_t cap);

/* For a program that forks worker processes after creating the instance
 * (prefork): keep the counters of up to nslots threads in memory shared
 * with every process forked afterwards, so that /metrics sums all of
 * them, whichever process answers. Call before forking. A process that
 * dies keeps its counts; its connections stop counting as open. 0 or a
 * negative errno (then each process counts alone). */
C1M_API int c1m_http_metrics_share(c1m_http_t *h, unsigned nslots);

/* ---- timeouts ------------------------------------------------------------ */

/* Go net/http's four server timeouts as in the article's server (read
 * 5 s, write 10 s, idle 10 s, read-header 10 s) into cfg->timeout_ms. The
 * HTTP protocol gives them Go's meaning: READ is the whole request (head
 * and body) from its first byte, HEADER the head, WRITE from the end of
 * the head until the answer is written, IDLE between requests. */
C1M_API void c1m_http_go_timeouts(c1m_loop_cfg_t *cfg);

#ifdef __cplusplus
}
#endif
#endif
