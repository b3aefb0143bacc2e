/* c1m HTTP request router — julienschmidt/httprouter (v1.3) semantics,
 * written from scratch in C.
 *
 * Independent of the HTTP parser and the connection code: it works on a
 * (method, path) pair and returns a lookup result that says what to do.
 *
 * One compressed-prefix (radix) tree per method. Route patterns:
 *
 *   /blog/archive        static
 *   /user/:name          :param — matches one non-empty path segment
 *                        (up to the next '/' or the end); a param may
 *                        also start mid-segment ("/user_:name")
 *   *filepath            catch-all — only at the end, right after a '/'
 *                        (e.g. after "/src/"); its value is the rest of
 *                        the path INCLUDING that '/': for the route
 *                        "/src/" "*filepath", "/src/a/b.png" gives
 *                        "/a/b.png" and "/src/" gives "/"
 *
 * As in httprouter v1, a request can match exactly one route or none:
 * a wildcard cannot share its position with a static segment
 * ("/user/:id" and "/user/new" conflict), two different wildcards cannot
 * share a position ("/user/:id" vs "/user/:name"), and a catch-all owns
 * its segment root (a catch-all after "/src/" conflicts with the routes
 * "/src/" and "/src/x", not with "/src" or "/srcx").
 * Conflicts and malformed patterns are rejected at registration.
 *
 * Registration is not thread-safe; once all routes are registered,
 * c1m_http_router_route()/c1m_http_router_match() only read the router and
 * may run concurrently from any number of threads. Lookups never allocate.
 */
#ifndef C1M_PROTO_HTTP1_ROUTER_H
#define C1M_PROTO_HTTP1_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

/* Most wildcards in one route (a route with more is rejected, -E2BIG). */
#define C1M_ROUTE_MAX_PARAMS 16
/* Most distinct methods in one router (more: -ENOSPC). */
#define C1M_ROUTER_MAX_METHODS 64

/* One (name, value) pair. `name` points into the registered pattern
 * (without the ':' or '*'), `value` into the request path given to the
 * lookup: neither is NUL-terminated; both stay valid as long as the router
 * and the request path do. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} c1m_route_param_t;

typedef struct {
    unsigned count;
    c1m_route_param_t p[C1M_ROUTE_MAX_PARAMS];
} c1m_route_params_t;

/* Value of the parameter `name` (NUL-terminated) or NULL; *len gets the
 * value's length (len may be NULL). Like httprouter's Params.ByName. */
const char *c1m_route_param(const c1m_route_params_t *ps, const char *name,
                            size_t *len);

/* The router stores this and the `ud` given with it and hands both back;
 * it never calls them. req and resp are whatever the HTTP layer uses. */
typedef void (*c1m_http_handler_fn)(void *req, void *resp,
                                    const c1m_route_params_t *params, void *ud);

typedef struct c1m_http_router c1m_http_router_t;

/* httprouter's switches. c1m_http_router_new() sets all four to true,
 * like httprouter.New(). */
typedef struct {
    /* Path /foo/ when only /foo exists (or vice versa): redirect to it. */
    bool redirect_trailing_slash;
    /* No route: clean the path (c1m_http_clean_path) and retry
     * case-insensitively (and with the trailing slash toggled when
     * redirect_trailing_slash is on); redirect to the corrected path. */
    bool redirect_fixed_path;
    /* No route for this method but routes for others: 405 with Allow. */
    bool handle_method_not_allowed;
    /* OPTIONS without an explicit OPTIONS route: 200 with Allow. Also adds
     * OPTIONS to every Allow list and answers the server-wide "OPTIONS *". */
    bool handle_options;
} c1m_http_router_opts_t;

/* What the HTTP layer should do with the request. */
typedef enum {
    C1M_ROUTE_FOUND = 0,          /* call fn(req, resp, &params, ud); status 200 */
    C1M_ROUTE_REDIRECT,           /* status 301 (GET) or 308 (other methods)
                                   * with Location = location (+ the request's
                                   * query string, which the router never
                                   * sees); fn is NULL */
    C1M_ROUTE_OPTIONS,            /* automatic OPTIONS: status 200 with
                                   * Allow = allow; fn = global OPTIONS
                                   * handler if set, else NULL */
    C1M_ROUTE_METHOD_NOT_ALLOWED, /* status 405 with Allow = allow; fn =
                                   * custom handler if set, else NULL */
    C1M_ROUTE_NOT_FOUND,          /* status 404; fn = custom handler if set,
                                   * else NULL */
} c1m_route_kind_t;

typedef struct {
    c1m_route_kind_t kind;
    int status;                 /* 200, 301, 308, 405 or 404 as above */
    c1m_http_handler_fn fn;     /* NULL = the HTTP layer's default response */
    void *ud;
    const char *pattern;        /* FOUND: the registered pattern (NUL-term.) */
    size_t pattern_len;
    const char *location;       /* REDIRECT: in the caller's buffer, NUL-term. */
    size_t location_len;
    const char *allow;          /* OPTIONS, 405: in the caller's buffer,
                                 * NUL-terminated, e.g. "GET, OPTIONS, POST"
                                 * (sorted, ", "-separated like httprouter) */
    size_t allow_len;
    c1m_route_params_t params;  /* FOUND: the route's parameters */
} c1m_route_result_t;

/* Create / destroy. new returns 0 or -ENOMEM; free(NULL) is a no-op. */
int c1m_http_router_new(c1m_http_router_t **out);
void c1m_http_router_free(c1m_http_router_t *r);

void c1m_http_router_get_opts(const c1m_http_router_t *r,
                              c1m_http_router_opts_t *opts);
void c1m_http_router_set_opts(c1m_http_router_t *r,
                              const c1m_http_router_opts_t *opts);

/* Custom handlers returned (never called) with NOT_FOUND,
 * METHOD_NOT_ALLOWED and OPTIONS results; fn NULL clears. */
void c1m_http_router_set_not_found(c1m_http_router_t *r,
                                   c1m_http_handler_fn fn, void *ud);
void c1m_http_router_set_method_not_allowed(c1m_http_router_t *r,
                                            c1m_http_handler_fn fn, void *ud);
void c1m_http_router_set_global_options(c1m_http_router_t *r,
                                        c1m_http_handler_fn fn, void *ud);

/* Register fn/ud for `method` (any non-empty token: "GET", "PURGE", ...;
 * case-sensitive) and `pattern` (must start with '/'). The pattern is
 * copied. Returns 0 or:
 *   -EINVAL    malformed: bad method, fn NULL, no leading '/', unnamed
 *              wildcard, two wildcards in one segment, catch-all not at
 *              the end or without a '/' before it
 *   -E2BIG     more than C1M_ROUTE_MAX_PARAMS wildcards
 *   -EEXIST    the same route is already registered
 *   -ENOTUNIQ  the route conflicts with a registered route
 *   -ENOSPC    more than C1M_ROUTER_MAX_METHODS methods
 *   -ENOMEM
 * On error the router is unchanged and, if err is not NULL, a
 * NUL-terminated message (truncated to err_cap) is written to err, e.g.
 * "route '/user/:id' conflicts with existing wildcard ':name' in
 * '/user/:name'". */
int c1m_http_router_handle(c1m_http_router_t *r, const char *method,
                           const char *pattern, c1m_http_handler_fn fn,
                           void *ud, char *err, size_t err_cap);

/* Number of registered routes (all methods). */
size_t c1m_http_router_count(const c1m_http_router_t *r);

/* Scratch buffer size that makes c1m_http_router_route() able to produce
 * every redirect and every Allow list for a path of path_len bytes. */
size_t c1m_http_router_buf_size(const c1m_http_router_t *r, size_t path_len);

/* Full httprouter dispatch decision for (method, path), in this order:
 *  1. a route of this method matches            -> FOUND
 *  2. (method has routes, is not CONNECT, path is empty or starts with '/'
 *     and is not "/") redirect_trailing_slash and the path with its
 *     trailing slash toggled matches           -> REDIRECT
 *     redirect_fixed_path and the cleaned path matches case-insensitively
 *     (trailing slash toggled if redirect_trailing_slash) -> REDIRECT to
 *     the path as registered (params keep the request's bytes)
 *  3. OPTIONS, handle_options, other methods match -> OPTIONS (Allow)
 *     otherwise handle_method_not_allowed and other methods (or an explicit
 *     OPTIONS route) match                      -> METHOD_NOT_ALLOWED
 *     Allow lists the matching methods, plus OPTIONS when handle_options is
 *     on or an explicit OPTIONS route matches. Path "*" matches every
 *     registered method (server-wide "OPTIONS *").
 *  4.                                           -> NOT_FOUND
 * HEAD is not mapped to GET (the HTTP layer does that).
 *
 * buf/buf_cap is scratch for the redirect location and the Allow value
 * (result pointers refer into it). With buf_cap >=
 * c1m_http_router_buf_size() nothing is ever skipped; a redirect that does
 * not fit is skipped (as if no redirect matched). Returns 0, or -ENOSPC
 * when an Allow list does not fit (res->kind tells which), -EINVAL for NULL
 * arguments. Never allocates. */
int c1m_http_router_route(const c1m_http_router_t *r, const char *method,
                          size_t method_len, const char *path,
                          size_t path_len, char *buf, size_t buf_cap,
                          c1m_route_result_t *res);

/* Plain lookup (httprouter's Router.Lookup): true and res filled (FOUND)
 * when a route matches; otherwise false, res->kind NOT_FOUND, and *tsr (if
 * not NULL) says whether the path with its trailing slash toggled would
 * match. No redirects, 405 or OPTIONS handling. Never allocates. */
bool c1m_http_router_match(const c1m_http_router_t *r, const char *method,
                           size_t method_len, const char *path,
                           size_t path_len, c1m_route_result_t *res,
                           bool *tsr);

/* httprouter's CleanPath (path.Clean rules plus: always rooted, a trailing
 * slash is kept): one leading '/', runs of '/' collapsed, "." elements
 * removed, ".." removes the element before it (and never climbs above the
 * root), a trailing slash is kept, and a path ending in "/." gets one;
 * "" -> "/". Writes the result (NUL-terminated) to out and returns its
 * length, or -ENOSPC if out_cap < its length + 1 (out_cap >= len + 2 is
 * always enough). out must not overlap path. */
int c1m_http_clean_path(const char *path, size_t len, char *out,
                        size_t out_cap);

#endif
