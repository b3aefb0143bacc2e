/* libFuzzer target for the HTTP router (proto/http1/router.c).
 *
 * Input: lines. A line "+METHOD PATTERN" registers a route (up to 32;
 * malformed or conflicting ones must be refused with an error, never
 * crash); any other line "METHOD PATH" is routed with a scratch buffer of
 * c1m_http_router_buf_size() (so nothing may be skipped for room) and
 * looked up. Checked: no crash, no -ENOSPC with the advised buffer, every
 * result's pointers inside the path or the buffer, each parameter value a
 * slice of the path, a static pattern that registered is found for its own
 * path, and clean_path is idempotent and rooted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http1/router.h"

#define CHECK(x)              \
    do {                      \
        if (!(x))             \
            __builtin_trap(); \
    } while (0)

static void h(void *req, void *resp, const c1m_route_params_t *params, void *ud) {}

static bool inside(const char *p, size_t n, const char *base, size_t cap)
{
    return p >= base && p + n <= base + cap;
}

static void route_one(c1m_http_router_t *r, const char *m, size_t ml, const char *path, size_t pl)
{
    size_t cap = c1m_http_router_buf_size(r, pl);
    char *buf = malloc(cap ? cap : 1);
    CHECK(buf);
    c1m_route_result_t res;
    int rc = c1m_http_router_route(r, m, ml, path, pl, buf, cap, &res);
    CHECK(rc == 0);
    if (res.kind == C1M_ROUTE_FOUND) {
        for (size_t i = 0; i < res.params.count; i++)
            CHECK(inside(res.params.p[i].value, res.params.p[i].value_len, path, pl) ||
                  res.params.p[i].value_len == 0);
    }
    if (res.kind == C1M_ROUTE_REDIRECT)
        CHECK(inside(res.location, res.location_len + 1, buf, cap) && res.location[res.location_len] == 0);
    if (res.kind == C1M_ROUTE_OPTIONS || res.kind == C1M_ROUTE_METHOD_NOT_ALLOWED)
        CHECK(inside(res.allow, res.allow_len + 1, buf, cap) && res.allow[res.allow_len] == 0);
    bool tsr;
    c1m_http_router_match(r, m, ml, path, pl, &res, &tsr);
    free(buf);

    /* clean_path: rooted, idempotent */
    char *c1 = malloc(pl + 2), *c2 = malloc(pl + 2);
    CHECK(c1 && c2);
    int n1 = c1m_http_clean_path(path, pl, c1, pl + 2);
    CHECK(n1 > 0 && c1[0] == '/');
    int n2 = c1m_http_clean_path(c1, (size_t)n1, c2, pl + 2);
    CHECK(n2 == n1 && !memcmp(c1, c2, (size_t)n1));
    free(c1);
    free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    c1m_http_router_t *r;
    if (c1m_http_router_new(&r) < 0)
        return 0;
    if (size && (data[0] & 0x80)) { /* switches off, some of them */
        c1m_http_router_opts_t o;
        c1m_http_router_get_opts(r, &o);
        o.redirect_trailing_slash = data[0] & 1;
        o.redirect_fixed_path = data[0] & 2;
        o.handle_method_not_allowed = data[0] & 4;
        o.handle_options = data[0] & 8;
        c1m_http_router_set_opts(r, &o);
        data++, size--;
    }
    char *text = malloc(size + 1);
    CHECK(text);
    memcpy(text, data, size);
    text[size] = 0;
    int added = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t ll = strlen(line);
        if (line[0] == '+' && added < 32) {
            char *sp = strchr(line, ' ');
            if (!sp)
                continue;
            *sp = 0;
            const char *pat = sp + 1;
            char err[128];
            int rc = c1m_http_router_handle(r, line + 1, pat, h, NULL, err, sizeof err);
            CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -EEXIST || rc == -ENOTUNIQ ||
                  rc == -ENOSPC || rc == -ENOMEM);
            if (rc == 0) {
                added++;
                /* a static pattern is found for its own path */
                if (!strpbrk(pat, ":*")) {
                    c1m_route_result_t res;
                    CHECK(c1m_http_router_match(r, line + 1, strlen(line + 1), pat, strlen(pat),
                                                &res, NULL));
                }
            }
            continue;
        }
        /* a lookup: "METHOD PATH" (embedded NULs cannot occur: strtok) */
        char *sp = memchr(line, ' ', ll);
        if (!sp)
            route_one(r, "GET", 3, line, ll);
        else
            route_one(r, line, (size_t)(sp - line), sp + 1, ll - (size_t)(sp - line) - 1);
    }
    CHECK(c1m_http_router_count(r) == (size_t)added);
    free(text);
    c1m_http_router_free(r);
    return 0;
}
