/* Unit tests for proto/http1/router: httprouter (v1.3) behaviours. */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/http1/router.h"

static void h_route(void *req, void *resp, const c1m_route_params_t *ps,
                    void *ud)
{
}
static void h_not_found(void *req, void *resp, const c1m_route_params_t *ps,
                        void *ud)
{
}
static void h_mna(void *req, void *resp, const c1m_route_params_t *ps,
                  void *ud)
{
}
static void h_options(void *req, void *resp, const c1m_route_params_t *ps,
                      void *ud)
{
}

static c1m_http_router_t *new_router(void)
{
    c1m_http_router_t *r = NULL;
    assert_int_equal(c1m_http_router_new(&r), 0);
    assert_non_null(r);
    return r;
}

static void add(c1m_http_router_t *r, const char *method, const char *pat)
{
    char err[256];
    int rc = c1m_http_router_handle(r, method, pat, h_route, (void *)pat,
                                    err, sizeof(err));
    if (rc != 0)
        fail_msg("adding %s %s: %d %s", method, pat, rc, err);
}

static void add_all(c1m_http_router_t *r, const char *method,
                    const char *const *pats, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add(r, method, pats[i]);
}

/* "name=value,name=value" */
static void params_str(const c1m_route_params_t *ps, char *out, size_t cap)
{
    size_t w = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < ps->count; i++)
        w += (size_t)snprintf(out + w, cap - w, "%s%.*s=%.*s", i ? "," : "",
                              (int)ps->p[i].name_len, ps->p[i].name,
                              (int)ps->p[i].value_len, ps->p[i].value);
}

static char g_buf[1024];

static c1m_route_result_t route(const c1m_http_router_t *r,
                                const char *method, const char *path)
{
    c1m_route_result_t res;
    int rc = c1m_http_router_route(r, method, strlen(method), path,
                                   strlen(path), g_buf, sizeof(g_buf), &res);
    assert_int_equal(rc, 0);
    return res;
}

/* pattern NULL: expect no match (via the plain lookup). */
static void expect_match(const c1m_http_router_t *r, const char *method,
                         const char *path, const char *pattern,
                         const char *params)
{
    c1m_route_result_t res;
    bool ok = c1m_http_router_match(r, method, strlen(method), path,
                                    strlen(path), &res, NULL);
    if (!pattern) {
        if (ok)
            fail_msg("%s %s: expected no match, got '%s'", method, path,
                     res.pattern);
        assert_int_equal(res.kind, C1M_ROUTE_NOT_FOUND);
        assert_int_equal(res.params.count, 0);
        return;
    }
    if (!ok)
        fail_msg("%s %s: expected '%s', no match", method, path, pattern);
    assert_int_equal(res.kind, C1M_ROUTE_FOUND);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.pattern, pattern);
    assert_int_equal(res.pattern_len, strlen(pattern));
    assert_ptr_equal(res.fn, h_route);
    assert_string_equal((const char *)res.ud, pattern);
    char got[512];
    params_str(&res.params, got, sizeof(got));
    assert_string_equal(got, params ? params : "");

    /* the full dispatch agrees */
    c1m_route_result_t full = route(r, method, path);
    assert_int_equal(full.kind, C1M_ROUTE_FOUND);
    assert_string_equal(full.pattern, pattern);
    params_str(&full.params, got, sizeof(got));
    assert_string_equal(got, params ? params : "");
}

static void expect_redirect(const c1m_http_router_t *r, const char *method,
                            const char *path, int status,
                            const char *location)
{
    c1m_route_result_t res = route(r, method, path);
    if (res.kind != C1M_ROUTE_REDIRECT)
        fail_msg("%s %s: expected redirect to %s, got kind %d", method,
                 path, location, res.kind);
    assert_int_equal(res.status, status);
    assert_null(res.fn);
    assert_string_equal(res.location, location);
    assert_int_equal(res.location_len, strlen(location));
    assert_int_equal(res.params.count, 0);
}

static void expect_kind(const c1m_http_router_t *r, const char *method,
                        const char *path, c1m_route_kind_t kind, int status,
                        const char *allow)
{
    c1m_route_result_t res = route(r, method, path);
    if (res.kind != kind)
        fail_msg("%s %s: expected kind %d, got %d (%s)", method, path, kind,
                 res.kind, res.kind == C1M_ROUTE_REDIRECT ? res.location : "");
    assert_int_equal(res.status, status);
    if (allow) {
        assert_non_null(res.allow);
        assert_string_equal(res.allow, allow);
        assert_int_equal(res.allow_len, strlen(allow));
    } else {
        assert_null(res.allow);
    }
}

static int expect_add_error(c1m_http_router_t *r, const char *method,
                            const char *pat, int want_rc, const char *want_msg)
{
    char err[256];
    memset(err, 'x', sizeof(err));
    int rc = c1m_http_router_handle(r, method, pat, h_route, NULL, err,
                                    sizeof(err));
    if (rc != want_rc)
        fail_msg("adding %s: want %d, got %d (%s)", pat, want_rc, rc,
                 rc ? err : "");
    assert_true(strlen(err) > 0 && strlen(err) < sizeof(err));
    if (want_msg && !strstr(err, want_msg))
        fail_msg("adding %s: message '%s' lacks '%s'", pat, err, want_msg);
    return rc;
}

/* ------------------------------------------------------------------ */

static void test_clean_path(void **state)
{
    static const char *const cases[][2] = {
        /* already clean */
        { "", "/" }, { "abc", "/abc" }, { "abc/def", "/abc/def" },
        { "a/b/c", "/a/b/c" }, { "/", "/" }, { "../..", "/" },
        { "../../abc", "/abc" },
        /* doubled slashes */
        { "//", "/" }, { "/abc//", "/abc/" }, { "/abc/def//", "/abc/def/" },
        { "/a/b/c//", "/a/b/c/" }, { "/abc//def//ghi", "/abc/def/ghi" },
        { "//abc", "/abc" }, { "///abc", "/abc" }, { "//abc//", "/abc/" },
        /* . elements */
        { ".", "/" }, { "./", "/" }, { "/abc/./def", "/abc/def" },
        { "/./abc/def", "/abc/def" }, { "/abc/.", "/abc/" },
        /* .. elements */
        { "..", "/" }, { "../", "/" }, { "../../", "/" },
        { "/abc/def/ghi/../jkl", "/abc/def/jkl" },
        { "/abc/def/../ghi/../jkl", "/abc/jkl" }, { "/abc/def/..", "/abc" },
        { "/abc/def/../..", "/" }, { "/abc/def/../../..", "/" },
        { "/abc/def/../../../ghi/jkl/../../../mno", "/mno" },
        /* combinations */
        { "abc/./../def", "/def" }, { "abc//./../def", "/def" },
        { "abc/../../././../def", "/def" },
        /* not special */
        { "/.a/..b/...", "/.a/..b/..." }, { "/a/b/", "/a/b/" },
        { "/a/../b/", "/b/" },
    };
    char out[256];
    for (size_t i = 0; i < C1M_ARRAY_LEN(cases); i++) {
        const char *in = cases[i][0], *want = cases[i][1];
        int n = c1m_http_clean_path(in, strlen(in), out, sizeof(out));
        if (n < 0 || strcmp(out, want) != 0)
            fail_msg("clean(%s) = %s (%d), want %s", in, n < 0 ? "" : out, n,
                     want);
        assert_int_equal(n, strlen(want));
        /* idempotent */
        n = c1m_http_clean_path(want, strlen(want), out, sizeof(out));
        assert_int_equal(n, strlen(want));
        assert_string_equal(out, want);
        /* len + 2 is always enough; less than result + NUL never is */
        char small[64];
        assert_int_equal(c1m_http_clean_path(in, strlen(in), small,
                                             strlen(in) + 2), strlen(want));
        assert_string_equal(small, want);
        assert_int_equal(c1m_http_clean_path(in, strlen(in), small,
                                             strlen(want)), -ENOSPC);
    }
    /* not NUL-terminated input is fine */
    assert_int_equal(c1m_http_clean_path("/a/b/../cXXXX", 9, out,
                                         sizeof(out)), 4);
    assert_string_equal(out, "/a/c");
}

/* httprouter README: GET / , GET /hello/:name, plus a catch-all. */
static void test_readme_and_seed_routes(void **state)
{
    c1m_http_router_t *r = new_router();
    add(r, "GET", "/");
    add(r, "GET", "/hello/:name");
    add(r, "GET", "/src/*filepath");
    assert_int_equal(c1m_http_router_count(r), 3);

    expect_match(r, "GET", "/", "/", NULL);
    expect_match(r, "GET", "/hello/world", "/hello/:name", "name=world");
    expect_match(r, "GET", "/hello/c1m", "/hello/:name", "name=c1m");
    expect_match(r, "GET", "/hello/", NULL, NULL); /* params are non-empty */
    expect_match(r, "GET", "/hello/a/b", NULL, NULL);
    expect_match(r, "GET", "/src/", "/src/*filepath", "filepath=/");
    expect_match(r, "GET", "/src/somefile.go", "/src/*filepath",
                 "filepath=/somefile.go");
    expect_match(r, "GET", "/src/subdir/somefile.go", "/src/*filepath",
                 "filepath=/subdir/somefile.go");
    expect_match(r, "GET", "/src", NULL, NULL);
    expect_redirect(r, "GET", "/src", 301, "/src/");

    /* c1m_route_param */
    c1m_route_result_t res = route(r, "GET", "/hello/gopher");
    size_t len = 99;
    const char *v = c1m_route_param(&res.params, "name", &len);
    assert_non_null(v);
    assert_int_equal(len, 6);
    assert_memory_equal(v, "gopher", 6);
    assert_null(c1m_route_param(&res.params, "nope", &len));
    assert_int_equal(len, 0);
    c1m_http_router_free(r);

    /* the Go-timers article's app: exactly GET / and GET /hello/:name */
    r = new_router();
    add(r, "GET", "/");
    add(r, "GET", "/hello/:name");
    expect_match(r, "GET", "/", "/", NULL);
    expect_match(r, "GET", "/hello/bob", "/hello/:name", "name=bob");
    expect_kind(r, "GET", "/hello", C1M_ROUTE_NOT_FOUND, 404, NULL);
    expect_kind(r, "GET", "/nope", C1M_ROUTE_NOT_FOUND, 404, NULL);
    expect_kind(r, "POST", "/", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "GET, OPTIONS");
    expect_redirect(r, "GET", "/hello/bob/", 301, "/hello/bob");
    expect_redirect(r, "GET", "/HELLO/Bob", 301, "/hello/Bob");
    c1m_http_router_free(r);
}

static const char *const static_routes[] = {
    "/hi", "/contact", "/co", "/c", "/a", "/ab", "/doc/", "/doc/go_faq.html",
    "/doc/go1.html", "/α", "/β",
};

static void test_static(void **state)
{
    c1m_http_router_t *r = new_router();
    add_all(r, "GET", static_routes, C1M_ARRAY_LEN(static_routes));
    for (size_t i = 0; i < C1M_ARRAY_LEN(static_routes); i++)
        expect_match(r, "GET", static_routes[i], static_routes[i], NULL);
    expect_match(r, "GET", "/", NULL, NULL);
    expect_match(r, "GET", "/con", NULL, NULL);  /* key mismatch */
    expect_match(r, "GET", "/cona", NULL, NULL); /* key mismatch */
    expect_match(r, "GET", "/no", NULL, NULL);   /* no matching child */
    expect_match(r, "GET", "/doc", NULL, NULL);
    expect_match(r, "GET", "/doc/go", NULL, NULL);
    expect_match(r, "GET", "/doc/go1.htmlx", NULL, NULL);
    expect_match(r, "GET", "", NULL, NULL);
    /* other methods have their own trees */
    expect_match(r, "POST", "/hi", NULL, NULL);
    expect_match(r, "get", "/hi", NULL, NULL);
    c1m_http_router_free(r);
}

static const char *const wildcard_routes[] = {
    "/",
    "/cmd/:tool/:sub",
    "/cmd/:tool/",
    "/src/*filepath",
    "/search/",
    "/search/:query",
    "/user_:name",
    "/user_:name/about",
    "/files/:dir/*filepath",
    "/doc/",
    "/doc/go_faq.html",
    "/doc/go1.html",
    "/info/:user/public",
    "/info/:user/project/:project",
    "/a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p/*q",
};

static void check_wildcards(const c1m_http_router_t *r)
{
    expect_match(r, "GET", "/", "/", NULL);
    expect_match(r, "GET", "/cmd/test/", "/cmd/:tool/", "tool=test");
    expect_match(r, "GET", "/cmd/test", NULL, NULL);
    expect_match(r, "GET", "/cmd/test/3", "/cmd/:tool/:sub",
                 "tool=test,sub=3");
    expect_match(r, "GET", "/cmd/test/3/", NULL, NULL);
    expect_match(r, "GET", "/cmd//3", NULL, NULL);
    expect_match(r, "GET", "/src/", "/src/*filepath", "filepath=/");
    expect_match(r, "GET", "/src/some/file.png", "/src/*filepath",
                 "filepath=/some/file.png");
    expect_match(r, "GET", "/src//x", "/src/*filepath", "filepath=//x");
    expect_match(r, "GET", "/search/", "/search/", NULL);
    expect_match(r, "GET", "/search/someth!ng+in+ünìcodé", "/search/:query",
                 "query=someth!ng+in+ünìcodé");
    expect_match(r, "GET", "/search/someth!ng+in+ünìcodé/", NULL, NULL);
    expect_match(r, "GET", "/user_gopher", "/user_:name", "name=gopher");
    expect_match(r, "GET", "/user_gopher/about", "/user_:name/about",
                 "name=gopher");
    expect_match(r, "GET", "/user_", NULL, NULL);
    expect_match(r, "GET", "/files/js/inc/framework.js",
                 "/files/:dir/*filepath", "dir=js,filepath=/inc/framework.js");
    expect_match(r, "GET", "/files/js/", "/files/:dir/*filepath",
                 "dir=js,filepath=/");
    expect_match(r, "GET", "/files/js", NULL, NULL);
    expect_match(r, "GET", "/info/gordon/public", "/info/:user/public",
                 "user=gordon");
    expect_match(r, "GET", "/info/gordon/project/go",
                 "/info/:user/project/:project", "user=gordon,project=go");
    expect_match(r, "GET", "/info/gordon/project/", NULL, NULL);
    expect_match(r, "GET", "/a/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/x/y",
                 wildcard_routes[14],
                 "b=1,c=2,d=3,e=4,f=5,g=6,h=7,i=8,j=9,k=10,l=11,m=12,n=13,"
                 "o=14,p=15,q=/x/y");
}

static void test_wildcards(void **state)
{
    c1m_http_router_t *r = new_router();
    add_all(r, "GET", wildcard_routes, C1M_ARRAY_LEN(wildcard_routes));
    check_wildcards(r);
    c1m_http_router_free(r);
}

/* Registration order does not change what matches (priorities only
 * reorder children). */
static void test_order_independence(void **state)
{
    size_t n = C1M_ARRAY_LEN(wildcard_routes);
    const char *order[C1M_ARRAY_LEN(wildcard_routes)];
    srand(12345);
    for (int round = 0; round < 60; round++) {
        memcpy(order, wildcard_routes, sizeof(order));
        if (round == 1) { /* reversed */
            for (size_t i = 0; i < n; i++)
                order[i] = wildcard_routes[n - 1 - i];
        } else if (round > 1) {
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = (size_t)rand() % (i + 1);
                const char *t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        c1m_http_router_t *r = new_router();
        add_all(r, "GET", order, n);
        check_wildcards(r);
        /* with some hot routes added many times to other methods too */
        c1m_http_router_free(r);
    }
    /* same for static routes */
    for (int round = 0; round < 30; round++) {
        const char *o[C1M_ARRAY_LEN(static_routes)];
        size_t m = C1M_ARRAY_LEN(static_routes);
        memcpy(o, static_routes, sizeof(o));
        for (size_t i = m - 1; i > 0; i--) {
            size_t j = (size_t)rand() % (i + 1);
            const char *t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
        c1m_http_router_t *r = new_router();
        add_all(r, "GET", o, m);
        for (size_t i = 0; i < m; i++)
            expect_match(r, "GET", static_routes[i], static_routes[i], NULL);
        expect_match(r, "GET", "/con", NULL, NULL);
        c1m_http_router_free(r);
    }
}

/* Conflicts: a list of (route, expected rc) applied in order, like
 * httprouter's tree tests. */
struct conflict_case {
    const char *route;
    int rc;
    const char *msg;
};

static void run_conflicts(const struct conflict_case *cs, size_t n)
{
    c1m_http_router_t *r = new_router();
    for (size_t i = 0; i < n; i++) {
        if (cs[i].rc == 0)
            add(r, "GET", cs[i].route);
        else
            expect_add_error(r, "GET", cs[i].route, cs[i].rc, cs[i].msg);
    }
    /* the accepted routes still match themselves */
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].rc != 0)
            continue;
        ok++;
        c1m_route_result_t res;
        const char *p = cs[i].route;
        /* turn the pattern into a request path: ":x" -> "v", "*x" -> "/v" */
        char path[128];
        size_t w = 0;
        for (size_t k = 0; p[k];) {
            if (p[k] == ':' || p[k] == '*') {
                path[w++] = 'v';
                while (p[k] && p[k] != '/')
                    k++;
            } else {
                path[w++] = p[k++];
            }
        }
        path[w] = '\0';
        assert_true(c1m_http_router_match(r, "GET", 3, path, w, &res, NULL));
        assert_string_equal(res.pattern, p);
    }
    assert_int_equal(c1m_http_router_count(r), ok);
    c1m_http_router_free(r);
}

static void test_wildcard_conflicts(void **state)
{
    static const struct conflict_case cs[] = {
        { "/cmd/:tool/:sub", 0, NULL },
        { "/cmd/vet", -ENOTUNIQ,
          "route '/cmd/vet' conflicts with existing wildcard ':tool' in "
          "'/cmd/:tool/:sub'" },
        { "/cmd/:name", -ENOTUNIQ,
          "conflicts with existing wildcard ':tool'" },
        { "/cmd/:tool/:sub/x", 0, NULL },
        { "/cmd/:tool/*rest", -ENOTUNIQ, NULL },
        { "/src/*filepath", 0, NULL },
        { "/src/*filepathx", -ENOTUNIQ,
          "conflicts with existing wildcard '*filepath'" },
        { "/src/", -ENOTUNIQ,
          "route '/src/' conflicts with existing catch-all '*filepath' in "
          "'/src/*filepath'" },
        { "/src/x", -ENOTUNIQ, NULL },
        { "/src/:x", -ENOTUNIQ, NULL },
        { "/src", 0, NULL },
        { "/srcx", 0, NULL },
        { "/src1/", 0, NULL },
        { "/src1/*filepath", -ENOTUNIQ, "conflicts with existing route" },
        { "/src2*filepath", -EINVAL, "no / before catch-all" },
        { "/src2/*filepath/x", -EINVAL, "only allowed at the end" },
        { "/search/:query", 0, NULL },
        { "/search/invalid", -ENOTUNIQ, NULL },
        { "/user_:name", 0, NULL },
        { "/user_x", -ENOTUNIQ, NULL },
        { "/user_:name", -EEXIST, "already registered" },
        { "/user_:namex", -ENOTUNIQ, NULL },
        { "/id:id", 0, NULL },
        { "/id/:id", -ENOTUNIQ, NULL },
        { "/con:tact", 0, NULL },
        { "/who/are/*you", 0, NULL },
        { "/who/foo/hello", 0, NULL },
        { "/who/are/foo", -ENOTUNIQ, "wildcard '*you'" },
        { "/who/are/foo/", -ENOTUNIQ, NULL },
        { "/who/are/foo/bar", -ENOTUNIQ, NULL },
        { "/conxxx", -ENOTUNIQ, "wildcard ':tact'" },
        { "/conooo/xxx", -ENOTUNIQ, NULL },
        { "/user/:name", 0, NULL },
        { "/user/:id", -ENOTUNIQ,
          "route '/user/:id' conflicts with existing wildcard ':name' in "
          "'/user/:name'" },
        { "/user/new", -ENOTUNIQ, NULL },
        { "/user/:name/", 0, NULL },
        { "/user/:name/*rest", -ENOTUNIQ, NULL },
    };
    run_conflicts(cs, C1M_ARRAY_LEN(cs));
}

static void test_child_conflicts(void **state)
{
    static const struct conflict_case cs[] = {
        { "/cmd/vet", 0, NULL },
        { "/cmd/:tool/:sub", -ENOTUNIQ,
          "wildcard ':tool' in route '/cmd/:tool/:sub' conflicts with "
          "existing route '/cmd/vet'" },
        { "/src/AUTHORS", 0, NULL },
        { "/src/*filepath", -ENOTUNIQ,
          "catch-all '*filepath' in route '/src/*filepath' conflicts with "
          "existing route '/src/AUTHORS'" },
        { "/user_x", 0, NULL },
        { "/user_:name", -ENOTUNIQ, NULL },
        { "/id/:id", 0, NULL },
        { "/id:id", -ENOTUNIQ, NULL },
        { "/:id", -ENOTUNIQ, NULL },
        { "/*filepath", -ENOTUNIQ, NULL },
        { "/docs/", 0, NULL },
        { "/docs/*f", -ENOTUNIQ, NULL },
        { "/opt/:a", 0, NULL },
        { "/opt/*b", -ENOTUNIQ, NULL },
    };
    run_conflicts(cs, C1M_ARRAY_LEN(cs));

    /* a root catch-all owns everything */
    static const struct conflict_case root[] = {
        { "/*filepath", 0, NULL },
        { "/", -ENOTUNIQ, NULL },
        { "/x", -ENOTUNIQ, NULL },
        { "/:x", -ENOTUNIQ, NULL },
        { "/*other", -ENOTUNIQ, NULL },
        { "/*filepath", -EEXIST, NULL },
    };
    run_conflicts(root, C1M_ARRAY_LEN(root));
    static const struct conflict_case root2[] = {
        { "/", 0, NULL },
        { "/*filepath", -ENOTUNIQ, NULL },
        { "/a", 0, NULL },
    };
    run_conflicts(root2, C1M_ARRAY_LEN(root2));
}

static void test_duplicates(void **state)
{
    static const char *const routes[] = {
        "/", "/doc/", "/src/*filepath", "/search/:query", "/user_:name",
        "/a/:b/c",
    };
    c1m_http_router_t *r = new_router();
    for (size_t i = 0; i < C1M_ARRAY_LEN(routes); i++) {
        add(r, "GET", routes[i]);
        expect_add_error(r, "GET", routes[i], -EEXIST,
                         "a handler is already registered for route");
        /* the same route for another method is fine */
        add(r, "POST", routes[i]);
    }
    expect_match(r, "GET", "/", "/", NULL);
    expect_match(r, "GET", "/doc/", "/doc/", NULL);
    expect_match(r, "GET", "/src/some/file.png", "/src/*filepath",
                 "filepath=/some/file.png");
    expect_match(r, "GET", "/search/someth!ng", "/search/:query",
                 "query=someth!ng");
    expect_match(r, "GET", "/user_gopher", "/user_:name", "name=gopher");
    expect_match(r, "POST", "/a/x/c", "/a/:b/c", "b=x");
    assert_int_equal(c1m_http_router_count(r), 2 * C1M_ARRAY_LEN(routes));
    c1m_http_router_free(r);
}

static void test_malformed(void **state)
{
    c1m_http_router_t *r = new_router();
    /* unnamed wildcards */
    expect_add_error(r, "GET", "/user:", -EINVAL, "non-empty name");
    expect_add_error(r, "GET", "/user:/", -EINVAL, "non-empty name");
    expect_add_error(r, "GET", "/cmd/:/", -EINVAL, "non-empty name");
    expect_add_error(r, "GET", "/src/*", -EINVAL, "non-empty name");
    /* two wildcards in one segment */
    expect_add_error(r, "GET", "/:foo:bar", -EINVAL,
                     "only one wildcard per path segment");
    expect_add_error(r, "GET", "/:foo:bar/", -EINVAL, NULL);
    expect_add_error(r, "GET", "/:foo*bar", -EINVAL, NULL);
    expect_add_error(r, "GET", "/src/*file*path", -EINVAL, NULL);
    expect_add_error(r, "GET", "/x/:a-:b", -EINVAL, NULL);
    /* catch-all not at the end / no slash before */
    expect_add_error(r, "GET", "/src/*filepath/x", -EINVAL,
                     "catch-all routes are only allowed at the end");
    expect_add_error(r, "GET", "/src/*a/:b", -EINVAL, NULL);
    expect_add_error(r, "GET", "/src*filepath", -EINVAL,
                     "no / before catch-all");
    /* must start with '/' */
    expect_add_error(r, "GET", "", -EINVAL, "must begin with '/'");
    expect_add_error(r, "GET", "noslash", -EINVAL, "must begin with '/'");
    expect_add_error(r, "GET", "*", -EINVAL, NULL);
    /* too many params */
    expect_add_error(r, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/"
                     ":o/:p/:q", -E2BIG, "more than 16");
    /* bad methods and arguments */
    expect_add_error(r, "", "/x", -EINVAL, "invalid method");
    expect_add_error(r, "GE T", "/x", -EINVAL, "invalid method");
    char err[64];
    assert_int_equal(c1m_http_router_handle(r, "GET", "/x", NULL, NULL, err,
                                            sizeof(err)), -EINVAL);
    /* err may be NULL; tiny err buffers are truncated, NUL-terminated */
    assert_int_equal(c1m_http_router_handle(r, "GET", "x", h_route, NULL,
                                            NULL, 0), -EINVAL);
    char tiny[8];
    assert_int_equal(c1m_http_router_handle(r, "GET", "x", h_route, NULL,
                                            tiny, sizeof(tiny)), -EINVAL);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);

    /* nothing got registered, not even a method tree */
    assert_int_equal(c1m_http_router_count(r), 0);
    expect_kind(r, "GET", "/user", C1M_ROUTE_NOT_FOUND, 404, NULL);
    expect_kind(r, "OPTIONS", "*", C1M_ROUTE_NOT_FOUND, 404, NULL);

    /* a conflict in a new method's tree cannot happen, but a conflict
     * leaves the existing tree untouched and usable */
    add(r, "GET", "/user/:name/profile");
    expect_add_error(r, "GET", "/user/:id", -ENOTUNIQ, NULL);
    expect_add_error(r, "GET", "/user/me/x", -ENOTUNIQ, NULL);
    expect_add_error(r, "GET", "/user/:name/*x", -ENOTUNIQ, NULL);
    add(r, "GET", "/user/:name");
    expect_add_error(r, "GET", "/user/:name/*x2y", -ENOTUNIQ,
                     "conflicts with existing route '/user/:name/profile'");
    add(r, "GET", "/user/:name/profile/x");
    add(r, "GET", "/user/:name/about/*rest");
    expect_match(r, "GET", "/user/ann/about/me/x", "/user/:name/about/*rest",
                 "name=ann,rest=/me/x");
    c1m_http_router_free(r);

    r = new_router();
    add(r, "GET", "/user/:name/profile");
    add(r, "GET", "/user/:name");
    expect_add_error(r, "GET", "/user/:name/*x", -ENOTUNIQ, NULL);
    expect_match(r, "GET", "/user/ann/profile", "/user/:name/profile",
                 "name=ann");
    expect_match(r, "GET", "/user/ann", "/user/:name", "name=ann");
    expect_match(r, "GET", "/user/ann/x", NULL, NULL);
    c1m_http_router_free(r);
}

/* httprouter's TestTreeTrailingSlashRedirect (v1.3 routes and lists). */
static const char *const tsr_routes[] = {
    "/hi", "/b/", "/search/:query", "/cmd/:tool/", "/src/*filepath", "/x",
    "/x/y", "/y/", "/y/z", "/0/:id", "/0/:id/1", "/1/:id/", "/1/:id/2",
    "/aa", "/a/", "/admin", "/admin/:category", "/admin/:category/:page",
    "/doc", "/doc/go_faq.html", "/doc/go1.html", "/no/a", "/no/b",
    "/api/hello/:name",
};

static void test_trailing_slash(void **state)
{
    c1m_http_router_t *r = new_router();
    add_all(r, "GET", tsr_routes, C1M_ARRAY_LEN(tsr_routes));
    add_all(r, "PUT", tsr_routes, C1M_ARRAY_LEN(tsr_routes));
    static const char *const tsr[][2] = {
        { "/hi/", "/hi" }, { "/b", "/b/" },
        { "/search/gopher/", "/search/gopher" },
        { "/cmd/vet", "/cmd/vet/" }, { "/src", "/src/" }, { "/x/", "/x" },
        { "/y", "/y/" }, { "/0/go/", "/0/go" }, { "/1/go", "/1/go/" },
        { "/a", "/a/" }, { "/admin/", "/admin" },
        { "/admin/config/", "/admin/config" },
        { "/admin/config/permissions/", "/admin/config/permissions" },
        { "/doc/", "/doc" },
    };
    for (size_t i = 0; i < C1M_ARRAY_LEN(tsr); i++) {
        c1m_route_result_t res;
        bool t = false;
        const char *p = tsr[i][0];
        assert_false(c1m_http_router_match(r, "GET", 3, p, strlen(p), &res,
                                           &t));
        if (!t)
            fail_msg("expected TSR recommendation for %s", p);
        expect_redirect(r, "GET", p, 301, tsr[i][1]);
        expect_redirect(r, "PUT", p, 308, tsr[i][1]);
    }
    static const char *const no_tsr[] = {
        "/", "/no", "/no/", "/_", "/_/", "/api/world/abc", "/api/hello/",
        "/search/", "/search//", "/cmd/vet/x/", "/hi//",
    };
    for (size_t i = 0; i < C1M_ARRAY_LEN(no_tsr); i++) {
        c1m_route_result_t res;
        bool t = true;
        const char *p = no_tsr[i];
        assert_false(c1m_http_router_match(r, "GET", 3, p, strlen(p), &res,
                                           &t));
        if (t)
            fail_msg("expected no TSR recommendation for %s", p);
    }
    /* "/" never redirects; "/no" is not found (405-free: only GET/PUT
     * trees, neither matches) */
    expect_kind(r, "GET", "/no", C1M_ROUTE_NOT_FOUND, 404, NULL);
    expect_kind(r, "GET", "/", C1M_ROUTE_NOT_FOUND, 404, NULL);

    /* switched off: no trailing-slash redirect (fixed-path redirect does
     * not toggle the slash either then) */
    c1m_http_router_opts_t o;
    c1m_http_router_get_opts(r, &o);
    assert_true(o.redirect_trailing_slash && o.redirect_fixed_path &&
                o.handle_method_not_allowed && o.handle_options);
    o.redirect_trailing_slash = false;
    c1m_http_router_set_opts(r, &o);
    expect_kind(r, "GET", "/hi/", C1M_ROUTE_NOT_FOUND, 404, NULL);
    expect_kind(r, "GET", "/HI/", C1M_ROUTE_NOT_FOUND, 404, NULL);
    expect_redirect(r, "GET", "/HI", 301, "/hi");
    o.redirect_trailing_slash = true;
    o.redirect_fixed_path = false;
    c1m_http_router_set_opts(r, &o);
    expect_redirect(r, "GET", "/hi/", 301, "/hi");
    expect_kind(r, "GET", "/HI", C1M_ROUTE_NOT_FOUND, 404, NULL);
    c1m_http_router_free(r);
}

/* httprouter's TestRouterNotFound. */
static void test_redirects_and_not_found(void **state)
{
    c1m_http_router_t *r = new_router();
    add(r, "GET", "/path");
    add(r, "GET", "/dir/");
    add(r, "GET", "/");
    static const struct {
        const char *path;
        int code;
        const char *location;
    } cases[] = {
        { "/path/", 301, "/path" },   /* TSR -/ */
        { "/dir", 301, "/dir/" },     /* TSR +/ */
        { "", 301, "/" },             /* TSR +/ */
        { "/PATH", 301, "/path" },    /* fixed case */
        { "/DIR/", 301, "/dir/" },    /* fixed case */
        { "/PATH/", 301, "/path" },   /* fixed case -/ */
        { "/DIR", 301, "/dir/" },     /* fixed case +/ */
        { "/../path", 301, "/path" }, /* clean path */
        { "//path", 301, "/path" },
        { "/a/./../PATH/", 301, "/path" },
        { "/nope", 404, NULL },
        { "/dir/x", 404, NULL },
    };
    for (size_t i = 0; i < C1M_ARRAY_LEN(cases); i++) {
        if (cases[i].location)
            expect_redirect(r, "GET", cases[i].path, cases[i].code,
                            cases[i].location);
        else
            expect_kind(r, "GET", cases[i].path, C1M_ROUTE_NOT_FOUND, 404,
                        NULL);
    }

    /* other methods: 308 (httprouter v1 uses 307) */
    add(r, "PATCH", "/path");
    expect_redirect(r, "PATCH", "/path/", 308, "/path");
    expect_redirect(r, "PATCH", "/Path", 308, "/path");

    /* CONNECT is never redirected */
    add(r, "CONNECT", "/path");
    expect_kind(r, "CONNECT", "/path/", C1M_ROUTE_NOT_FOUND, 404, NULL);
    expect_kind(r, "CONNECT", "/PATH", C1M_ROUTE_NOT_FOUND, 404, NULL);
    expect_kind(r, "CONNECT", "/dir/", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "GET, OPTIONS");

    /* custom not-found handler is returned, not called */
    c1m_route_result_t res = route(r, "GET", "/nope");
    assert_null(res.fn);
    int token;
    c1m_http_router_set_not_found(r, h_not_found, &token);
    res = route(r, "GET", "/nope");
    assert_int_equal(res.kind, C1M_ROUTE_NOT_FOUND);
    assert_int_equal(res.status, 404);
    assert_ptr_equal(res.fn, h_not_found);
    assert_ptr_equal(res.ud, &token);
    /* unknown method, unknown path */
    res = route(r, "BREW", "/coffee");
    assert_int_equal(res.kind, C1M_ROUTE_NOT_FOUND);
    assert_ptr_equal(res.fn, h_not_found);
    c1m_http_router_set_not_found(r, NULL, NULL);
    res = route(r, "GET", "/nope");
    assert_null(res.fn);

    /* a redirect that does not fit the buffer is skipped */
    char small[4];
    assert_int_equal(c1m_http_router_route(r, "GET", 3, "/PATH", 5, small,
                                           sizeof(small), &res), 0);
    assert_int_equal(res.kind, C1M_ROUTE_NOT_FOUND);
    assert_true(c1m_http_router_buf_size(r, 5) >= 7);
    char fit[7];
    assert_int_equal(c1m_http_router_route(r, "GET", 3, "/PATH", 5, fit,
                                           sizeof(fit), &res), 0);
    assert_int_equal(res.kind, C1M_ROUTE_REDIRECT);
    assert_string_equal(res.location, "/path");
    assert_int_equal(c1m_http_router_route(r, "GET", 3, "/dir", 4, fit,
                                           6, &res), 0);
    assert_int_equal(res.kind, C1M_ROUTE_REDIRECT);
    assert_string_equal(res.location, "/dir/");
    assert_int_equal(c1m_http_router_route(r, "GET", 3, "/dir", 4, fit,
                                           5, &res), 0);
    assert_int_equal(res.kind, C1M_ROUTE_NOT_FOUND);
    c1m_http_router_free(r);
}

/* httprouter's TestTreeFindCaseInsensitivePath (ASCII part), through the
 * fixed-path redirect. */
static void test_fixed_path_case_insensitive(void **state)
{
    static const char *const routes[] = {
        "/hi", "/b/", "/ABC/", "/search/:query", "/cmd/:tool/",
        "/src/*filepath", "/x", "/x/y", "/y/", "/y/z", "/0/:id", "/0/:id/1",
        "/1/:id/", "/1/:id/2", "/aa", "/a/", "/doc", "/doc/go_faq.html",
        "/doc/go1.html", "/doc/go/away", "/no/a", "/no/b",
        /* both cases of one first byte: needs backtracking */
        "/Zz/a", "/zZ/b", "/q/Ab/:p/x", "/q/aB/:p/y",
    };
    c1m_http_router_t *r = new_router();
    add_all(r, "GET", routes, C1M_ARRAY_LEN(routes));

    /* every route is found case-insensitively, spelled as registered */
    for (size_t i = 0; i < C1M_ARRAY_LEN(routes); i++) {
        if (strchr(routes[i], ':') || strchr(routes[i], '*'))
            continue;
        char up[64];
        size_t n = strlen(routes[i]);
        for (size_t k = 0; k <= n; k++)
            up[k] = (char)((routes[i][k] >= 'a' && routes[i][k] <= 'z')
                               ? routes[i][k] - 32
                               : (routes[i][k] >= 'A' && routes[i][k] <= 'Z')
                                     ? routes[i][k] + 32
                                     : routes[i][k]);
        expect_redirect(r, "GET", up, 301, routes[i]);
    }

    static const struct {
        const char *in, *out;
        bool slash;
    } cases[] = {
        { "/HI", "/hi", false }, { "/HI/", "/hi", true },
        { "/B", "/b/", true }, { "/B/", "/b/", false },
        { "/abc", "/ABC/", true }, { "/abc/", "/ABC/", false },
        { "/aBc", "/ABC/", true }, { "/aBc/", "/ABC/", false },
        { "/abC", "/ABC/", true }, { "/abC/", "/ABC/", false },
        { "/SEARCH/QUERY", "/search/QUERY", false },
        { "/SEARCH/QUERY/", "/search/QUERY", true },
        { "/CMD/TOOL/", "/cmd/TOOL/", false },
        { "/CMD/TOOL", "/cmd/TOOL/", true },
        { "/SRC/FILE/PATH", "/src/FILE/PATH", false },
        { "/x/Y", "/x/y", false }, { "/x/Y/", "/x/y", true },
        { "/X/y", "/x/y", false }, { "/X/y/", "/x/y", true },
        { "/X/Y", "/x/y", false }, { "/X/Y/", "/x/y", true },
        { "/Y/", "/y/", false }, { "/Y", "/y/", true },
        { "/Y/z", "/y/z", false }, { "/Y/z/", "/y/z", true },
        { "/Y/Z", "/y/z", false }, { "/Y/Z/", "/y/z", true },
        { "/y/Z", "/y/z", false }, { "/y/Z/", "/y/z", true },
        { "/Aa", "/aa", false }, { "/Aa/", "/aa", true },
        { "/AA", "/aa", false }, { "/AA/", "/aa", true },
        { "/aA", "/aa", false }, { "/aA/", "/aa", true },
        { "/A/", "/a/", false }, { "/A", "/a/", true },
        { "/DOC", "/doc", false }, { "/DOC/", "/doc", true },
        { "/0/ID/1/", "/0/ID/1", true }, { "/1/ID/2/", "/1/ID/2", true },
        { "/1/ID", "/1/ID/", true }, { "/CMD/Tool", "/cmd/Tool/", true },
        { "/zz/A", "/Zz/a", false }, { "/ZZ/B", "/zZ/b", false },
        { "/Q/AB/Val/X", "/q/Ab/Val/x", false },
        { "/Q/AB/Val/Y", "/q/aB/Val/y", false },
        /* combined with cleaning */
        { "/x/../DOC/./GO1.html", "/doc/go1.html", false },
        { "//Y//Z//", "/y/z", true },
        { "/0//1", "/0/1", false }, /* empty param is no match: cleaned */
        { "/SRC/../src/A//B", "/src/A/B", false },
    };
    for (size_t i = 0; i < C1M_ARRAY_LEN(cases); i++)
        expect_redirect(r, "GET", cases[i].in, 301, cases[i].out);

    /* without trailing-slash fixing only the exact-slash ones are found */
    c1m_http_router_opts_t o;
    c1m_http_router_get_opts(r, &o);
    o.redirect_trailing_slash = false;
    c1m_http_router_set_opts(r, &o);
    for (size_t i = 0; i < C1M_ARRAY_LEN(cases); i++) {
        if (cases[i].slash)
            expect_kind(r, "GET", cases[i].in, C1M_ROUTE_NOT_FOUND, 404,
                        NULL);
        else
            expect_redirect(r, "GET", cases[i].in, 301, cases[i].out);
    }
    o.redirect_trailing_slash = true;
    c1m_http_router_set_opts(r, &o);

    static const char *const missing[] = {
        "/NO", "/DOC/GO", "/NO/", "/DOC/GO/AWAY/X", "/0//", "/SEARCH/",
    };
    for (size_t i = 0; i < C1M_ARRAY_LEN(missing); i++)
        expect_kind(r, "GET", missing[i], C1M_ROUTE_NOT_FOUND, 404, NULL);
    c1m_http_router_free(r);
}

/* httprouter's TestRouterNotAllowed, plus HEAD. */
static void test_method_not_allowed(void **state)
{
    c1m_http_router_t *r = new_router();
    add(r, "POST", "/path");
    expect_kind(r, "GET", "/path", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "OPTIONS, POST");
    add(r, "DELETE", "/path");
    add(r, "OPTIONS", "/path");
    expect_kind(r, "GET", "/path", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "DELETE, OPTIONS, POST");
    /* custom handler */
    int token;
    c1m_http_router_set_method_not_allowed(r, h_mna, &token);
    c1m_route_result_t res = route(r, "PUT", "/path");
    assert_int_equal(res.kind, C1M_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(res.status, 405);
    assert_ptr_equal(res.fn, h_mna);
    assert_ptr_equal(res.ud, &token);
    assert_string_equal(res.allow, "DELETE, OPTIONS, POST");
    /* switched off: 404 */
    c1m_http_router_opts_t o;
    c1m_http_router_get_opts(r, &o);
    o.handle_method_not_allowed = false;
    c1m_http_router_set_opts(r, &o);
    expect_kind(r, "GET", "/path", C1M_ROUTE_NOT_FOUND, 404, NULL);
    c1m_http_router_free(r);

    /* HEAD is not routed to GET; custom methods sort bytewise; params */
    r = new_router();
    add(r, "GET", "/x/:id");
    add(r, "PURGE", "/x/:id");
    add(r, "M-SEARCH", "/x/:id");
    add(r, "GET", "/only-get");
    expect_kind(r, "HEAD", "/x/1", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "GET, M-SEARCH, OPTIONS, PURGE");
    expect_kind(r, "HEAD", "/only-get", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "GET, OPTIONS");
    expect_kind(r, "POST", "/x/", C1M_ROUTE_NOT_FOUND, 404, NULL);
    /* without automatic OPTIONS, OPTIONS is not advertised */
    c1m_http_router_get_opts(r, &o);
    o.handle_options = false;
    c1m_http_router_set_opts(r, &o);
    expect_kind(r, "HEAD", "/only-get", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "GET");
    expect_kind(r, "OPTIONS", "/x/1", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "GET, M-SEARCH, PURGE");
    c1m_http_router_free(r);

    /* an explicit OPTIONS route alone still makes a 405 (Allow: OPTIONS) */
    r = new_router();
    add(r, "OPTIONS", "/cors");
    expect_kind(r, "GET", "/cors", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "OPTIONS");
    c1m_http_router_free(r);

    /* an Allow list that does not fit: -ENOSPC */
    r = new_router();
    add(r, "POST", "/path");
    char small[8];
    assert_int_equal(c1m_http_router_route(r, "GET", 3, "/path", 5, small,
                                           sizeof(small), &res), -ENOSPC);
    assert_int_equal(res.kind, C1M_ROUTE_METHOD_NOT_ALLOWED);
    char *big = malloc(c1m_http_router_buf_size(r, 5));
    assert_int_equal(c1m_http_router_route(r, "GET", 3, "/path", 5, big,
                                           c1m_http_router_buf_size(r, 5),
                                           &res), 0);
    assert_string_equal(res.allow, "OPTIONS, POST");
    free(big);
    c1m_http_router_free(r);
}

/* httprouter's TestRouterOPTIONS. */
static void test_options(void **state)
{
    c1m_http_router_t *r = new_router();
    add(r, "POST", "/path");
    /* path */
    expect_kind(r, "OPTIONS", "/path", C1M_ROUTE_OPTIONS, 200,
                "OPTIONS, POST");
    /* server-wide */
    expect_kind(r, "OPTIONS", "*", C1M_ROUTE_OPTIONS, 200, "OPTIONS, POST");
    /* unknown path: 404 */
    expect_kind(r, "OPTIONS", "/doesnotexist", C1M_ROUTE_NOT_FOUND, 404,
                NULL);

    add(r, "GET", "/path");
    expect_kind(r, "OPTIONS", "/path", C1M_ROUTE_OPTIONS, 200,
                "GET, OPTIONS, POST");
    expect_kind(r, "OPTIONS", "*", C1M_ROUTE_OPTIONS, 200,
                "GET, OPTIONS, POST");
    /* "*" with another method: 405 listing every method */
    expect_kind(r, "DELETE", "*", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "GET, OPTIONS, POST");

    /* global OPTIONS handler is returned with the automatic response */
    int token;
    c1m_http_router_set_global_options(r, h_options, &token);
    c1m_route_result_t res = route(r, "OPTIONS", "/path");
    assert_int_equal(res.kind, C1M_ROUTE_OPTIONS);
    assert_ptr_equal(res.fn, h_options);
    assert_ptr_equal(res.ud, &token);

    /* an explicit OPTIONS route wins for its path */
    add(r, "OPTIONS", "/path");
    expect_match(r, "OPTIONS", "/path", "/path", NULL);
    expect_kind(r, "OPTIONS", "*", C1M_ROUTE_OPTIONS, 200,
                "GET, OPTIONS, POST");
    add(r, "GET", "/other");
    expect_kind(r, "OPTIONS", "/other", C1M_ROUTE_OPTIONS, 200,
                "GET, OPTIONS");

    /* switched off: OPTIONS falls to 405 / 404 */
    c1m_http_router_opts_t o;
    c1m_http_router_get_opts(r, &o);
    o.handle_options = false;
    c1m_http_router_set_opts(r, &o);
    expect_kind(r, "OPTIONS", "/other", C1M_ROUTE_METHOD_NOT_ALLOWED, 405,
                "GET");
    expect_match(r, "OPTIONS", "/path", "/path", NULL);
    o.handle_method_not_allowed = false;
    c1m_http_router_set_opts(r, &o);
    expect_kind(r, "OPTIONS", "/other", C1M_ROUTE_NOT_FOUND, 404, NULL);
    c1m_http_router_free(r);
}

/* 1,000 static + 1,000 param routes (+ catch-alls), all found, in a
 * shuffled registration order, and lookups do not allocate. */
static void test_many_routes(void **state)
{
    enum { N = 1000 };
    char (*pats)[64] = calloc(3 * N, 64);
    assert_non_null(pats);
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        snprintf(pats[n++], 64, "/api/v%d/items/%d/detail", i % 7, i);
        snprintf(pats[n++], 64, "/u%d/:user/repo%d/:repo", i, i % 13);
        if (i % 10 == 0)
            snprintf(pats[n++], 64, "/static%d/*path", i);
    }
    /* shuffle */
    srand(777);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        char t[64];
        memcpy(t, pats[i], 64);
        memcpy(pats[i], pats[j], 64);
        memcpy(pats[j], t, 64);
    }
    c1m_http_router_t *r = new_router();
    for (size_t i = 0; i < n; i++)
        add(r, "GET", pats[i]);
    assert_int_equal(c1m_http_router_count(r), n);

    char path[96], want[64];
    c1m_route_result_t res;
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/api/v%d/items/%d/detail", i % 7, i);
        assert_int_equal(c1m_http_router_route(r, "GET", 3, path,
                                               strlen(path), g_buf,
                                               sizeof(g_buf), &res), 0);
        assert_int_equal(res.kind, C1M_ROUTE_FOUND);
        assert_string_equal(res.pattern, path);
        assert_int_equal(res.params.count, 0);

        snprintf(path, sizeof(path), "/u%d/alice%d/repo%d/proj-%d", i, i,
                 i % 13, i);
        snprintf(want, sizeof(want), "/u%d/:user/repo%d/:repo", i, i % 13);
        assert_int_equal(c1m_http_router_route(r, "GET", 3, path,
                                               strlen(path), g_buf,
                                               sizeof(g_buf), &res), 0);
        assert_int_equal(res.kind, C1M_ROUTE_FOUND);
        assert_string_equal(res.pattern, want);
        assert_int_equal(res.params.count, 2);
        char got[128], exp[128];
        params_str(&res.params, got, sizeof(got));
        snprintf(exp, sizeof(exp), "user=alice%d,repo=proj-%d", i, i);
        assert_string_equal(got, exp);

        if (i % 10 == 0) {
            snprintf(path, sizeof(path), "/static%d/css/site.css", i);
            snprintf(want, sizeof(want), "/static%d/*path", i);
            assert_int_equal(c1m_http_router_route(r, "GET", 3, path,
                                                   strlen(path), g_buf,
                                                   sizeof(g_buf), &res), 0);
            assert_int_equal(res.kind, C1M_ROUTE_FOUND);
            assert_string_equal(res.pattern, want);
            params_str(&res.params, got, sizeof(got));
            assert_string_equal(got, "path=/css/site.css");
        }
        /* misses, redirects, 405s don't allocate either */
        snprintf(path, sizeof(path), "/API/V%d/ITEMS/%d/DETAIL/", i % 7, i);
        assert_int_equal(c1m_http_router_route(r, "GET", 3, path,
                                               strlen(path), g_buf,
                                               sizeof(g_buf), &res), 0);
        assert_int_equal(res.kind, C1M_ROUTE_REDIRECT);
        snprintf(want, sizeof(want), "/api/v%d/items/%d/detail", i % 7, i);
        assert_string_equal(res.location, want);
        assert_int_equal(c1m_http_router_route(r, "POST", 4, want,
                                               strlen(want), g_buf,
                                               sizeof(g_buf), &res), 0);
        assert_int_equal(res.kind, C1M_ROUTE_METHOD_NOT_ALLOWED);
        assert_int_equal(c1m_http_router_route(r, "GET", 3, "/api/v9", 7,
                                               g_buf, sizeof(g_buf), &res),
                         0);
        assert_int_equal(res.kind, C1M_ROUTE_NOT_FOUND);
    }
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(before.uordblks, after.uordblks);
    c1m_http_router_free(r);
    free(pats);
}

static void test_bad_lookup_args(void **state)
{
    c1m_http_router_t *r = new_router();
    c1m_route_result_t res;
    assert_int_equal(c1m_http_router_route(NULL, "GET", 3, "/", 1, g_buf,
                                           sizeof(g_buf), &res), -EINVAL);
    assert_int_equal(c1m_http_router_route(r, "GET", 3, "/", 1, g_buf,
                                           sizeof(g_buf), NULL), -EINVAL);
    /* an empty router: everything is 404 */
    assert_int_equal(c1m_http_router_route(r, "GET", 3, "/", 1, NULL, 0,
                                           &res), 0);
    assert_int_equal(res.kind, C1M_ROUTE_NOT_FOUND);
    /* method and path need not be NUL-terminated */
    add(r, "GET", "/abc");
    assert_int_equal(c1m_http_router_route(r, "GETX", 3, "/abcdef", 4, g_buf,
                                           sizeof(g_buf), &res), 0);
    assert_int_equal(res.kind, C1M_ROUTE_FOUND);
    c1m_http_router_free(r);
    c1m_http_router_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_path),
        cmocka_unit_test(test_readme_and_seed_routes),
        cmocka_unit_test(test_static),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_order_independence),
        cmocka_unit_test(test_wildcard_conflicts),
        cmocka_unit_test(test_child_conflicts),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_trailing_slash),
        cmocka_unit_test(test_redirects_and_not_found),
        cmocka_unit_test(test_fixed_path_case_insensitive),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_many_routes),
        cmocka_unit_test(test_bad_lookup_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
