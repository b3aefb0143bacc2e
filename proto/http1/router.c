/* c1m HTTP request router: one compressed-prefix tree per method, with
 * httprouter v1.3 semantics (see router.h). Written from scratch.
 *
 * Tree shape. Every node is one of
 *   STATIC    `path` is literal bytes, matched with memcmp;
 *   PARAM     `path` is the parameter name; matches one non-empty segment;
 *   CATCHALL  `path` is the catch-all name; matches the rest of the path.
 * A node has static children (indexed by their first byte in `indices`,
 * ordered by priority = number of routes below) OR one wildcard child
 * (`wild`), never both: that is httprouter v1's "one route per request"
 * rule and makes lookup a straight walk without backtracking.
 * A catch-all hangs below a static child whose path is exactly "/" and
 * which is marked `ca_root`; the catch-all matches that '/' plus the rest,
 * so its value starts with '/', "/src" can coexist with a catch-all after
 * "/src/" (and trailing-slash-redirects to it), and "/src/" or "/src/x" conflict with it.
 * Node paths and parameter names point into the registered patterns, which
 * live as long as the router: a split never copies bytes.
 * The per-method root is a sentinel STATIC node with an empty path.
 */
#include "proto/http1/router.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NODE_STATIC = 0, NODE_PARAM = 1, NODE_CATCHALL = 2 };

typedef struct c1m__route c1m__route_t;
struct c1m__route {
    char *pattern;
    size_t len;
    c1m_http_handler_fn fn;
    void *ud;
    c1m__route_t *next; /* all routes of the router, for freeing */
};

typedef struct c1m__rnode c1m__rnode_t;
struct c1m__rnode {
    const char *path;        /* into some route's pattern */
    uint32_t path_len;
    uint8_t type;
    uint8_t ca_root;         /* static "/" node holding a catch-all */
    uint16_t nchild;
    uint16_t cap;
    char *indices;           /* first byte of each static child */
    c1m__rnode_t **child;
    c1m__rnode_t *wild;      /* param or catch-all child */
    c1m__rnode_t *parent;
    uint32_t priority;       /* routes in this subtree */
    const c1m__route_t *route;  /* route ending here, or NULL */
    const c1m__route_t *origin; /* a registered route through this node */
};

typedef struct {
    char *method;
    size_t method_len;
    c1m__rnode_t *root;
} c1m__tree_t;

struct c1m_http_router {
    c1m_http_router_opts_t opts;
    c1m__tree_t trees[C1M_ROUTER_MAX_METHODS]; /* sorted by method name */
    unsigned ntrees;
    size_t nroutes;
    size_t methods_len; /* sum of method name lengths, for buf_size */
    c1m__route_t *routes;
    c1m_http_handler_fn not_found_fn, mna_fn, options_fn;
    void *not_found_ud, *mna_ud, *options_ud;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static bool case_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] && lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static void errf(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

const char *c1m_route_param(const c1m_route_params_t *ps, const char *name,
                            size_t *len)
{
    size_t n = strlen(name);
    for (unsigned i = 0; ps && i < ps->count; i++) {
        if (ps->p[i].name_len == n && memcmp(ps->p[i].name, name, n) == 0) {
            if (len)
                *len = ps->p[i].value_len;
            return ps->p[i].value;
        }
    }
    if (len)
        *len = 0;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Nodes                                                                */

static c1m__rnode_t *node_new(int type, const char *path, size_t len,
                              const c1m__route_t *origin)
{
    c1m__rnode_t *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->type = (uint8_t)type;
    n->path = path;
    n->path_len = (uint32_t)len;
    n->origin = origin;
    return n;
}

static void node_free(c1m__rnode_t *n)
{
    if (!n)
        return;
    for (unsigned i = 0; i < n->nchild; i++)
        node_free(n->child[i]);
    node_free(n->wild);
    free(n->child);
    free(n->indices);
    free(n);
}

static int node_reserve(c1m__rnode_t *n, unsigned want)
{
    if (want <= n->cap)
        return 0;
    unsigned cap = n->cap ? n->cap * 2u : 2u;
    while (cap < want)
        cap *= 2;
    c1m__rnode_t **c = realloc(n->child, cap * sizeof(*c));
    if (!c)
        return -ENOMEM;
    n->child = c;
    char *ix = realloc(n->indices, cap);
    if (!ix)
        return -ENOMEM;
    n->indices = ix;
    n->cap = (uint16_t)cap;
    return 0;
}

static inline c1m__rnode_t *find_child(const c1m__rnode_t *n, char c)
{
    if (n->nchild == 0)
        return NULL;
    const char *p = memchr(n->indices, c, n->nchild);
    return p ? n->child[p - n->indices] : NULL;
}

/* Split static node n after its first k bytes (0 < k < path_len): a new child takes the rest of the path and
 * everything n had. Neutral for matching. */
static int node_split(c1m__rnode_t *n, size_t k)
{
    c1m__rnode_t *tail = node_new(NODE_STATIC, n->path + k, n->path_len - k,
                                  n->origin);
    if (!tail)
        return -ENOMEM;
    c1m__rnode_t **c = malloc(2 * sizeof(*c));
    char *ix = malloc(2);
    if (!c || !ix) {
        free(c);
        free(ix);
        free(tail);
        return -ENOMEM;
    }
    tail->ca_root = n->ca_root;
    tail->nchild = n->nchild;
    tail->cap = n->cap;
    tail->child = n->child;
    tail->indices = n->indices;
    tail->wild = n->wild;
    tail->route = n->route;
    tail->priority = n->priority;
    tail->parent = n;
    for (unsigned i = 0; i < tail->nchild; i++)
        tail->child[i]->parent = tail;
    if (tail->wild)
        tail->wild->parent = tail;

    c[0] = tail;
    ix[0] = tail->path[0];
    n->path_len = (uint32_t)k;
    n->child = c;
    n->indices = ix;
    n->nchild = 1;
    n->cap = 2;
    n->wild = NULL;
    n->route = NULL;
    n->ca_root = 0;
    return 0;
}

static int add_static_child(c1m__rnode_t *n, c1m__rnode_t *c)
{
    int rc = node_reserve(n, n->nchild + 1u);
    if (rc)
        return rc;
    n->indices[n->nchild] = c->path[0];
    n->child[n->nchild++] = c;
    c->parent = n;
    return 0;
}

/* After a successful insert: +1 priority from the route's node up to the
 * root, keeping each parent's static children sorted by priority. */
static void bump_priorities(c1m__rnode_t *n)
{
    for (; n; n = n->parent) {
        n->priority++;
        c1m__rnode_t *p = n->parent;
        if (!p || p->wild == n)
            continue;
        unsigned i = 0;
        while (i < p->nchild && p->child[i] != n)
            i++;
        while (i > 0 && p->child[i - 1]->priority < n->priority) {
            p->child[i] = p->child[i - 1];
            p->indices[i] = p->indices[i - 1];
            i--;
        }
        p->child[i] = n;
        p->indices[i] = n->path[0];
    }
}

/* ------------------------------------------------------------------ */
/* Insertion                                                            */

typedef struct {
    const c1m__route_t *route;
    char *err;
    size_t err_cap;
    c1m__rnode_t *undo_parent; /* first node created by this insert */
    c1m__rnode_t *undo_node;
} ins_t;

static void note_new(ins_t *in, c1m__rnode_t *parent, c1m__rnode_t *n)
{
    if (!in->undo_node) {
        in->undo_parent = parent;
        in->undo_node = n;
    }
}

static void undo_insert(ins_t *in)
{
    c1m__rnode_t *p = in->undo_parent, *n = in->undo_node;
    if (!n)
        return;
    if (p->wild == n) {
        p->wild = NULL;
    } else {
        for (unsigned i = 0; i < p->nchild; i++) {
            if (p->child[i] == n) {
                memmove(&p->child[i], &p->child[i + 1],
                        (p->nchild - i - 1) * sizeof(*p->child));
                memmove(&p->indices[i], &p->indices[i + 1], p->nchild - i - 1);
                p->nchild--;
                break;
            }
        }
    }
    node_free(n);
}

/* Print a wildcard node as it appears in its pattern (":name", "*name"). */
#define WILD_FMT "%.*s"
#define WILD_ARG(w) (int)((w)->path_len + 1), (w)->path - 1

static int wild_conflict(ins_t *in, const c1m__rnode_t *w)
{
    errf(in->err, in->err_cap,
         "route '%s' conflicts with existing wildcard '" WILD_FMT "' in '%s'",
         in->route->pattern, WILD_ARG(w), w->origin->pattern);
    return -ENOTUNIQ;
}

/* Cursor at the end of *cur; consume static bytes t[0..len). */
static int descend_static(ins_t *in, c1m__rnode_t **cur, const char *t,
                          size_t len)
{
    c1m__rnode_t *n = *cur;
    while (len > 0) {
        if (n->wild)
            return wild_conflict(in, n->wild);
        c1m__rnode_t *c = find_child(n, t[0]);
        if (!c) {
            c = node_new(NODE_STATIC, t, len, in->route);
            if (!c)
                return -ENOMEM;
            int rc = add_static_child(n, c);
            if (rc) {
                free(c);
                return rc;
            }
            note_new(in, n, c);
            *cur = c;
            return 0;
        }
        size_t k = 1, max = C1M_MIN(len, (size_t)c->path_len);
        while (k < max && c->path[k] == t[k])
            k++;
        if (k < c->path_len) {
            int rc = node_split(c, k);
            if (rc)
                return rc;
        }
        t += k;
        len -= k;
        n = c;
    }
    *cur = n;
    return 0;
}

static int add_param(ins_t *in, c1m__rnode_t **cur, const char *name,
                     size_t len)
{
    c1m__rnode_t *n = *cur;
    if (n->wild) {
        c1m__rnode_t *w = n->wild;
        if (w->type == NODE_PARAM && w->path_len == len &&
            memcmp(w->path, name, len) == 0) {
            *cur = w;
            return 0;
        }
        return wild_conflict(in, w);
    }
    if (n->nchild > 0) {
        errf(in->err, in->err_cap,
             "wildcard ':%.*s' in route '%s' conflicts with existing route "
             "'%s'", (int)len, name, in->route->pattern,
             n->child[0]->origin->pattern);
        return -ENOTUNIQ;
    }
    c1m__rnode_t *w = node_new(NODE_PARAM, name, len, in->route);
    if (!w)
        return -ENOMEM;
    w->parent = n;
    n->wild = w;
    note_new(in, n, w);
    *cur = w;
    return 0;
}

/* slash points at the '/' before the '*'. */
static int add_catchall(ins_t *in, c1m__rnode_t **cur, const char *slash,
                        const char *name, size_t len)
{
    c1m__rnode_t *n = *cur;
    if (n->wild)
        return wild_conflict(in, n->wild);
    c1m__rnode_t *c = find_child(n, '/');
    if (c) {
        if (c->ca_root) {
            c1m__rnode_t *w = c->wild;
            if (w->path_len == len && memcmp(w->path, name, len) == 0) {
                *cur = w;
                return 0;
            }
            return wild_conflict(in, w);
        }
        errf(in->err, in->err_cap,
             "catch-all '*%.*s' in route '%s' conflicts with existing route "
             "'%s'", (int)len, name, in->route->pattern,
             c->origin->pattern);
        return -ENOTUNIQ;
    }
    c = node_new(NODE_STATIC, slash, 1, in->route);
    if (!c)
        return -ENOMEM;
    c->ca_root = 1;
    c1m__rnode_t *w = node_new(NODE_CATCHALL, name, len, in->route);
    if (!w) {
        free(c);
        return -ENOMEM;
    }
    w->parent = c;
    c->wild = w;
    int rc = add_static_child(n, c);
    if (rc) {
        free(w);
        free(c);
        return rc;
    }
    note_new(in, n, c);
    *cur = w;
    return 0;
}

/* Validate a pattern; returns the wildcard count or a negative errno. */
static int check_pattern(const char *s, size_t n, char *err, size_t err_cap)
{
    if (n == 0 || s[0] != '/') {
        errf(err, err_cap, "route '%s' must begin with '/'", s);
        return -EINVAL;
    }
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ':' && s[i] != '*')
            continue;
        size_t end = i + 1;
        for (; end < n && s[end] != '/'; end++) {
            if (s[end] == ':' || s[end] == '*') {
                errf(err, err_cap,
                     "only one wildcard per path segment is allowed, has "
                     "'%.*s' in route '%s'", (int)(end + 1 - i), s + i, s);
                return -EINVAL;
            }
        }
        if (end - i < 2) {
            errf(err, err_cap,
                 "wildcards must be named with a non-empty name in route "
                 "'%s'", s);
            return -EINVAL;
        }
        if (s[i] == '*') {
            if (end != n) {
                errf(err, err_cap,
                     "catch-all routes are only allowed at the end of the "
                     "path in route '%s'", s);
                return -EINVAL;
            }
            if (s[i - 1] != '/') {
                errf(err, err_cap, "no / before catch-all in route '%s'", s);
                return -EINVAL;
            }
        }
        if (++count > C1M_ROUTE_MAX_PARAMS) {
            errf(err, err_cap, "route '%s' has more than %d wildcards", s,
                 C1M_ROUTE_MAX_PARAMS);
            return -E2BIG;
        }
        i = end - 1;
    }
    return count;
}

static int tree_insert(c1m__rnode_t *root, ins_t *in)
{
    const char *s = in->route->pattern;
    size_t n = in->route->len, i = 0;
    c1m__rnode_t *cur = root;
    int rc;

    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != ':' && s[j] != '*')
            j++;
        /* the '/' before a catch-all belongs to the catch-all */
        size_t stat_end = (j < n && s[j] == '*') ? j - 1 : j;
        if (stat_end > i && (rc = descend_static(in, &cur, s + i,
                                                 stat_end - i)))
            return rc;
        if (j == n)
            break;
        size_t k = j + 1;
        while (k < n && s[k] != '/')
            k++;
        if (s[j] == ':')
            rc = add_param(in, &cur, s + j + 1, k - j - 1);
        else
            rc = add_catchall(in, &cur, s + j - 1, s + j + 1, k - j - 1);
        if (rc)
            return rc;
        i = k;
    }
    if (cur->route) {
        errf(in->err, in->err_cap,
             "a handler is already registered for route '%s'", s);
        return -EEXIST;
    }
    if (cur->ca_root) {
        errf(in->err, in->err_cap,
             "route '%s' conflicts with existing catch-all '" WILD_FMT
             "' in '%s'", s, WILD_ARG(cur->wild), cur->wild->origin->pattern);
        return -ENOTUNIQ;
    }
    cur->route = in->route;
    bump_priorities(cur);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Router                                                               */

int c1m_http_router_new(c1m_http_router_t **out)
{
    c1m_http_router_t *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->opts.redirect_trailing_slash = true;
    r->opts.redirect_fixed_path = true;
    r->opts.handle_method_not_allowed = true;
    r->opts.handle_options = true;
    *out = r;
    return 0;
}

void c1m_http_router_free(c1m_http_router_t *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->ntrees; i++) {
        node_free(r->trees[i].root);
        free(r->trees[i].method);
    }
    c1m__route_t *rt = r->routes;
    while (rt) {
        c1m__route_t *next = rt->next;
        free(rt->pattern);
        free(rt);
        rt = next;
    }
    free(r);
}

void c1m_http_router_get_opts(const c1m_http_router_t *r,
                              c1m_http_router_opts_t *opts)
{
    *opts = r->opts;
}

void c1m_http_router_set_opts(c1m_http_router_t *r,
                              const c1m_http_router_opts_t *opts)
{
    r->opts = *opts;
}

void c1m_http_router_set_not_found(c1m_http_router_t *r,
                                   c1m_http_handler_fn fn, void *ud)
{
    r->not_found_fn = fn;
    r->not_found_ud = ud;
}

void c1m_http_router_set_method_not_allowed(c1m_http_router_t *r,
                                            c1m_http_handler_fn fn, void *ud)
{
    r->mna_fn = fn;
    r->mna_ud = ud;
}

void c1m_http_router_set_global_options(c1m_http_router_t *r,
                                        c1m_http_handler_fn fn, void *ud)
{
    r->options_fn = fn;
    r->options_ud = ud;
}

size_t c1m_http_router_count(const c1m_http_router_t *r)
{
    return r->nroutes;
}

size_t c1m_http_router_buf_size(const c1m_http_router_t *r, size_t path_len)
{
    /* Allow: every method + OPTIONS, ", " between, NUL */
    size_t allow = r->methods_len + sizeof("OPTIONS") - 1 +
                   2 * (size_t)r->ntrees + 1;
    return C1M_MAX(path_len + 2, allow);
}

static int method_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, C1M_MIN(alen, blen));
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static const c1m__tree_t *tree_find(const c1m_http_router_t *r,
                                    const char *m, size_t len)
{
    for (unsigned i = 0; i < r->ntrees; i++) {
        const c1m__tree_t *t = &r->trees[i];
        if (t->method_len == len && memcmp(t->method, m, len) == 0)
            return t;
    }
    return NULL;
}

static bool is_token(const char *m)
{
    if (!*m)
        return false;
    for (; *m; m++) {
        unsigned char c = (unsigned char)*m;
        if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
            return false;
    }
    return true;
}

int c1m_http_router_handle(c1m_http_router_t *r, const char *method,
                           const char *pattern, c1m_http_handler_fn fn,
                           void *ud, char *err, size_t err_cap)
{
    if (err && err_cap)
        err[0] = '\0';
    if (!r || !method || !pattern || !fn) {
        errf(err, err_cap, "router, method, pattern and handler are "
             "required");
        return -EINVAL;
    }
    if (!is_token(method)) {
        errf(err, err_cap, "invalid method '%s'", method);
        return -EINVAL;
    }
    size_t plen = strlen(pattern);
    int rc = check_pattern(pattern, plen, err, err_cap);
    if (rc < 0)
        return rc;

    size_t mlen = strlen(method);
    c1m__tree_t *t = (c1m__tree_t *)tree_find(r, method, mlen);
    bool new_tree = false;
    if (!t) {
        if (r->ntrees == C1M_ROUTER_MAX_METHODS) {
            errf(err, err_cap, "too many methods (max %d)",
                 C1M_ROUTER_MAX_METHODS);
            return -ENOSPC;
        }
        char *m = strdup(method);
        c1m__rnode_t *root = node_new(NODE_STATIC, "", 0, NULL);
        if (!m || !root) {
            free(m);
            free(root);
            return -ENOMEM;
        }
        unsigned pos = 0;
        while (pos < r->ntrees && method_cmp(r->trees[pos].method,
                                             r->trees[pos].method_len,
                                             method, mlen) < 0)
            pos++;
        memmove(&r->trees[pos + 1], &r->trees[pos],
                (r->ntrees - pos) * sizeof(r->trees[0]));
        r->ntrees++;
        t = &r->trees[pos];
        t->method = m;
        t->method_len = mlen;
        t->root = root;
        new_tree = true;
    }

    c1m__route_t *rt = calloc(1, sizeof(*rt));
    char *pat = strdup(pattern);
    if (!rt || !pat) {
        free(rt);
        free(pat);
        rc = -ENOMEM;
        goto fail;
    }
    rt->pattern = pat;
    rt->len = plen;
    rt->fn = fn;
    rt->ud = ud;

    ins_t in = { .route = rt, .err = err, .err_cap = err_cap };
    rc = tree_insert(t->root, &in);
    if (rc) {
        if (rc == -ENOMEM)
            errf(err, err_cap, "out of memory adding route '%s'", pattern);
        undo_insert(&in);
        free(pat);
        free(rt);
        goto fail;
    }
    rt->next = r->routes;
    r->routes = rt;
    r->nroutes++;
    if (new_tree)
        r->methods_len += mlen;
    return 0;

fail:
    if (new_tree) {
        unsigned pos = (unsigned)(t - r->trees);
        node_free(t->root);
        free(t->method);
        memmove(&r->trees[pos], &r->trees[pos + 1],
                (r->ntrees - pos - 1) * sizeof(r->trees[0]));
        r->ntrees--;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Lookup                                                               */

/* Would the path consumed so far plus "/" end a route, the walk having
 * stopped exactly at the end of node n? */
static bool slash_completes(const c1m__rnode_t *n)
{
    const c1m__rnode_t *c = find_child(n, '/');
    return c && (c->ca_root || (c->path_len == 1 && c->route));
}

/* Exact match; ps (may be NULL) gets the wildcard values. On a miss,
 * *add (if not NULL) tells whether path + "/" would match: the walk for
 * path + "/" is the walk for path up to where path runs out, so that is
 * decided where this walk runs out of input. */
static const c1m__route_t *tree_match(const c1m__rnode_t *n, const char *p,
                                      size_t len, c1m_route_params_t *ps,
                                      bool *add)
{
    if (ps)
        ps->count = 0;
    for (;;) {
        if (n->type == NODE_STATIC) {
            if (len < n->path_len || memcmp(p, n->path, n->path_len) != 0) {
                if (add && len + 1 == n->path_len && n->route &&
                    n->path[len] == '/' && memcmp(p, n->path, len) == 0)
                    *add = true;
                return NULL;
            }
            p += n->path_len;
            len -= n->path_len;
        }
        if (len == 0) {
            if (n->route)
                return n->route;
            if (!n->ca_root) {
                if (add)
                    *add = slash_completes(n);
                return NULL;
            }
            /* catch-all with value "/" */
        }
        const c1m__rnode_t *w = n->wild;
        if (w) {
            size_t seg;
            if (w->type == NODE_CATCHALL) {
                p--; /* the ca_root's '/' */
                seg = len + 1;
            } else {
                const char *slash = memchr(p, '/', len);
                seg = slash ? (size_t)(slash - p) : len;
                if (seg == 0)
                    return NULL; /* params are never empty */
            }
            if (ps && C1M_LIKELY(ps->count < C1M_ROUTE_MAX_PARAMS)) {
                c1m_route_param_t *pp = &ps->p[ps->count++];
                pp->name = w->path;
                pp->name_len = w->path_len;
                pp->value = p;
                pp->value_len = seg;
            }
            if (w->type == NODE_CATCHALL)
                return w->route;
            p += seg;
            len -= seg;
            n = w;
            if (len == 0) {
                if (!n->route && add)
                    *add = slash_completes(n);
                return n->route;
            }
        }
        n = find_child(n, p[0]);
        if (!n)
            return NULL;
    }
}

/* Case-insensitive match of buf[0..len) (modified in place on success to
 * the registered spelling of the static parts; param and catch-all bytes
 * are kept). One recursion level per node on the path, writes happen only
 * on the way back from a success, so a failed branch leaves no trace. */
static bool tree_match_ci(const c1m__rnode_t *n, char *p, size_t len)
{
    size_t used = 0;
    if (n->type == NODE_STATIC) {
        if (len < n->path_len || !case_eq(p, n->path, n->path_len))
            return false;
        used = n->path_len;
    }
    char *q = p + used;
    size_t rest = len - used;
    bool ok = false;

    if (rest == 0) {
        ok = n->route || n->ca_root;
    } else if (n->wild) {
        const c1m__rnode_t *w = n->wild;
        if (w->type == NODE_CATCHALL) {
            ok = true;
        } else {
            const char *slash = memchr(q, '/', rest);
            size_t seg = slash ? (size_t)(slash - q) : rest;
            if (seg > 0) {
                if (seg == rest)
                    ok = w->route != NULL;
                else
                    ok = tree_match_ci(w, q + seg, rest - seg);
            }
        }
    } else {
        char c = lower(q[0]);
        for (unsigned i = 0; i < n->nchild && !ok; i++)
            if (lower(n->indices[i]) == c)
                ok = tree_match_ci(n->child[i], q, rest);
    }
    if (ok && used)
        memcpy(p, n->path, used);
    return ok;
}

static void result_reset(c1m_route_result_t *res)
{
    res->kind = C1M_ROUTE_NOT_FOUND;
    res->status = 404;
    res->fn = NULL;
    res->ud = NULL;
    res->pattern = NULL;
    res->pattern_len = 0;
    res->location = NULL;
    res->location_len = 0;
    res->allow = NULL;
    res->allow_len = 0;
    res->params.count = 0;
}

static void result_found(c1m_route_result_t *res, const c1m__route_t *rt)
{
    res->kind = C1M_ROUTE_FOUND;
    res->status = 200;
    res->fn = rt->fn;
    res->ud = rt->ud;
    res->pattern = rt->pattern;
    res->pattern_len = rt->len;
}

/* Trailing-slash redirect target: path with its trailing slash toggled, if
 * that matches (`add`: tree_match's verdict for path + "/"). Written to buf
 * (NUL-terminated); returns its length, or 0. */
static size_t tsr_variant(const c1m__rnode_t *root, const char *path,
                          size_t len, bool add, char *buf, size_t cap)
{
    if (len > 0 && path[len - 1] == '/') {
        if (len < 2 || cap < len ||
            !tree_match(root, path, len - 1, NULL, NULL))
            return 0;
        memcpy(buf, path, len - 1);
        buf[len - 1] = '\0';
        return len - 1;
    }
    if (!add || cap < len + 2)
        return 0;
    memcpy(buf, path, len);
    buf[len] = '/';
    buf[len + 1] = '\0';
    return len + 1;
}

bool c1m_http_router_match(const c1m_http_router_t *r, const char *method,
                           size_t method_len, const char *path,
                           size_t path_len, c1m_route_result_t *res,
                           bool *tsr)
{
    bool add = false;
    result_reset(res);
    if (tsr)
        *tsr = false;
    const c1m__tree_t *t = tree_find(r, method, method_len);
    if (!t)
        return false;
    const c1m__route_t *rt = tree_match(t->root, path, path_len, &res->params,
                                        &add);
    if (rt) {
        result_found(res, rt);
        return true;
    }
    res->params.count = 0;
    if (tsr && path_len > 0) {
        if (path[path_len - 1] == '/')
            *tsr = path_len > 1 &&
                   tree_match(t->root, path, path_len - 1, NULL, NULL);
        else
            *tsr = add;
    }
    return false;
}

/* Fixed-path redirect candidate: clean, then case-insensitive match, then
 * (if tsr) with the trailing slash toggled. Result in buf. */
static size_t fixed_path(const c1m__rnode_t *root, const char *path,
                         size_t len, bool tsr, char *buf, size_t cap)
{
    int cl = c1m_http_clean_path(path, len, buf, cap);
    if (cl < 0)
        return 0;
    size_t n = (size_t)cl;
    if (tree_match_ci(root, buf, n))
        return n;
    if (!tsr)
        return 0;
    if (n > 1 && buf[n - 1] == '/') {
        if (tree_match_ci(root, buf, n - 1)) {
            buf[n - 1] = '\0';
            return n - 1;
        }
        return 0;
    }
    if (n + 2 > cap)
        return 0;
    buf[n] = '/';
    if (tree_match_ci(root, buf, n + 1)) {
        buf[n + 1] = '\0';
        return n + 1;
    }
    buf[n] = '\0';
    return 0;
}

static bool is_options(const char *m, size_t len)
{
    return len == 7 && memcmp(m, "OPTIONS", 7) == 0;
}

/* Build the Allow value for path into buf. Returns its length, 0 when no
 * method matches, -ENOSPC when it does not fit. */
static int build_allow(const c1m_http_router_t *r, const char *path,
                       size_t len, char *buf, size_t cap)
{
    bool global = len == 1 && path[0] == '*';
    uint64_t matched = 0;
    bool any = false, have_opt_tree = false, opt_match = false;

    for (unsigned i = 0; i < r->ntrees; i++) {
        const c1m__tree_t *t = &r->trees[i];
        bool opt = is_options(t->method, t->method_len);
        bool m = global || tree_match(t->root, path, len, NULL, NULL);
        if (opt) {
            have_opt_tree = true;
            opt_match = m;
        } else if (m) {
            matched |= UINT64_C(1) << i;
            any = true;
        }
    }
    bool with_opt = opt_match || (any && r->opts.handle_options);
    if (global && !any)
        with_opt = false; /* nothing registered but OPTIONS routes */
    if (!any && !with_opt)
        return 0;

    size_t pos = 0;
    bool emitted_opt = false;
#define EMIT(s, n)                                                   \
    do {                                                             \
        size_t need_ = (pos ? 2 : 0) + (n) + 1;                      \
        if (pos + need_ > cap)                                       \
            return -ENOSPC;                                          \
        if (pos) {                                                   \
            buf[pos++] = ',';                                        \
            buf[pos++] = ' ';                                        \
        }                                                            \
        memcpy(buf + pos, (s), (n));                                 \
        pos += (n);                                                  \
    } while (0)

    for (unsigned i = 0; i < r->ntrees; i++) {
        const c1m__tree_t *t = &r->trees[i];
        if (is_options(t->method, t->method_len)) {
            if (with_opt) {
                EMIT("OPTIONS", 7);
                emitted_opt = true;
            }
            continue;
        }
        if (with_opt && !emitted_opt && !have_opt_tree &&
            method_cmp(t->method, t->method_len, "OPTIONS", 7) > 0) {
            EMIT("OPTIONS", 7);
            emitted_opt = true;
        }
        if (matched & (UINT64_C(1) << i))
            EMIT(t->method, t->method_len);
    }
    if (with_opt && !emitted_opt)
        EMIT("OPTIONS", 7);
#undef EMIT
    buf[pos] = '\0';
    return (int)pos;
}

int c1m_http_router_route(const c1m_http_router_t *r, const char *method,
                          size_t method_len, const char *path,
                          size_t path_len, char *buf, size_t buf_cap,
                          c1m_route_result_t *res)
{
    if (!r || !method || !path || !res || (!buf && buf_cap))
        return -EINVAL;
    result_reset(res);

    const c1m__tree_t *t = tree_find(r, method, method_len);
    if (t) {
        bool add = false;
        const c1m__route_t *rt = tree_match(t->root, path, path_len,
                                            &res->params, &add);
        if (C1M_LIKELY(rt != NULL)) {
            result_found(res, rt);
            return 0;
        }
        res->params.count = 0;

        bool connect = method_len == 7 && memcmp(method, "CONNECT", 7) == 0;
        bool root = path_len == 1 && path[0] == '/';
        if (!connect && !root && (path_len == 0 || path[0] == '/')) {
            size_t n = 0;
            if (r->opts.redirect_trailing_slash)
                n = tsr_variant(t->root, path, path_len, add, buf, buf_cap);
            if (!n && r->opts.redirect_fixed_path)
                n = fixed_path(t->root, path, path_len,
                               r->opts.redirect_trailing_slash, buf, buf_cap);
            if (n) {
                bool get = method_len == 3 && memcmp(method, "GET", 3) == 0;
                res->kind = C1M_ROUTE_REDIRECT;
                res->status = get ? 301 : 308;
                res->location = buf;
                res->location_len = n;
                return 0;
            }
        }
    }

    bool options = is_options(method, method_len);
    if ((options && r->opts.handle_options) ||
        r->opts.handle_method_not_allowed) {
        int n = build_allow(r, path, path_len, buf, buf_cap);
        if (n != 0) {
            if (options && r->opts.handle_options) {
                res->kind = C1M_ROUTE_OPTIONS;
                res->status = 200;
                res->fn = r->options_fn;
                res->ud = r->options_ud;
            } else {
                res->kind = C1M_ROUTE_METHOD_NOT_ALLOWED;
                res->status = 405;
                res->fn = r->mna_fn;
                res->ud = r->mna_ud;
            }
            if (n < 0)
                return n;
            res->allow = buf;
            res->allow_len = (size_t)n;
            return 0;
        }
    }

    res->fn = r->not_found_fn;
    res->ud = r->not_found_ud;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Path cleaning                                                        */

int c1m_http_clean_path(const char *p, size_t n, char *out, size_t cap)
{
    if (cap < 2)
        return -ENOSPC;
    size_t w = 1, r = 0;
    out[0] = '/';
    bool trailing = n > 1 && p[n - 1] == '/';
    if (n > 0 && p[0] == '/')
        r = 1;

    while (r < n) {
        if (p[r] == '/') {
            r++; /* empty element */
        } else if (p[r] == '.' && r + 1 == n) {
            trailing = true; /* final "." */
            r++;
        } else if (p[r] == '.' && p[r + 1] == '/') {
            r += 2; /* "./" */
        } else if (p[r] == '.' && p[r + 1] == '.' &&
                   (r + 2 == n || p[r + 2] == '/')) {
            r += 3; /* "..": drop the last element written */
            while (w > 1 && out[w - 1] != '/')
                w--;
            if (w > 1)
                w--;
        } else {
            if (w > 1) {
                if (w + 1 >= cap)
                    return -ENOSPC;
                out[w++] = '/';
            }
            while (r < n && p[r] != '/') {
                if (w + 1 >= cap)
                    return -ENOSPC;
                out[w++] = p[r++];
            }
        }
    }
    if (trailing && w > 1) {
        if (w + 1 >= cap)
            return -ENOSPC;
        out[w++] = '/';
    }
    out[w] = '\0';
    return (int)w;
}
