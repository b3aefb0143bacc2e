#include "proto/http1/response.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

void c1m_http_resp_init(c1m_http_resp_t *r, bool head_only)
{
    *r = (c1m_http_resp_t){ .state = C1M_HTTP_RESP_HEAD, .head_only = head_only };
}

/* One line ending in LF (an optional CR before it is stripped). Returns
 * the bytes up to and including the LF, 0 when incomplete, or -E2BIG. */
static ssize_t line_end(const char *p, size_t n, size_t max, size_t *len)
{
    const char *lf = memchr(p, '\n', n < max ? n : max);
    if (!lf)
        return n >= max ? -E2BIG : 0;
    size_t l = (size_t)(lf - p);
    *len = l && p[l - 1] == '\r' ? l - 1 : l;
    return (ssize_t)(l + 1);
}

static bool token_eq(const char *p, size_t n, const char *tok)
{
    return strlen(tok) == n && !strncasecmp(p, tok, n);
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Does a comma-separated header value contain `tok`? Returns the position
 * of the last token (1-based) that matches, 0 if none, and the count. */
static bool list_has(const char *v, size_t n, const char *tok, bool *last)
{
    bool found = false;
    while (n) {
        const char *comma = memchr(v, ',', n);
        size_t l = comma ? (size_t)(comma - v) : n;
        const char *t = v;
        size_t tl = l;
        trim(&t, &tl);
        bool eq = token_eq(t, tl, tok);
        found |= eq;
        *last = eq;
        if (!comma)
            break;
        v = comma + 1;
        n -= l + 1;
    }
    return found;
}

typedef struct head_info {
    int minor;
    int64_t content_length; /* -1: none */
    bool chunked, te, conn_close, conn_keep_alive;
} head_info_t;

static int parse_status_line(c1m_http_resp_t *r, const char *p, size_t n, head_info_t *h)
{
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (n < 12 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -EBADMSG;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return -EBADMSG;
    if (n > 12 && p[12] != ' ')
        return -EBADMSG;
    h->minor = p[7] - '0';
    r->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
    return r->status >= 100 ? 0 : -EBADMSG;
}

static int parse_length(const char *v, size_t n, int64_t *out)
{
    if (!n)
        return -EBADMSG;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX >> 4))
            return -EBADMSG;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > (uint64_t)INT64_MAX)
        return -EBADMSG;
    *out = (int64_t)x;
    return 0;
}

static int parse_header(const char *p, size_t n, head_info_t *h)
{
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p)
        return -EBADMSG;
    size_t nl = (size_t)(colon - p);
    if (p[nl - 1] == ' ' || p[nl - 1] == '\t')
        return -EBADMSG; /* no whitespace before the colon (RFC 9112 5.1) */
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    trim(&v, &vl);
    bool last = false;
    if (token_eq(p, nl, "content-length")) {
        int64_t len;
        if (parse_length(v, vl, &len) < 0)
            return -EBADMSG;
        if (h->content_length >= 0 && h->content_length != len)
            return -EBADMSG; /* conflicting lengths */
        h->content_length = len;
    } else if (token_eq(p, nl, "transfer-encoding")) {
        h->te = true;
        h->chunked = list_has(v, vl, "chunked", &last) && last;
    } else if (token_eq(p, nl, "connection")) {
        if (list_has(v, vl, "close", &last))
            h->conn_close = true;
        if (list_has(v, vl, "keep-alive", &last))
            h->conn_keep_alive = true;
    }
    return 0;
}

/* Choose how the body is delimited once the head is complete. */
static int body_mode(c1m_http_resp_t *r, const head_info_t *h, bool *done)
{
    r->close = h->conn_close || (h->minor == 0 && !h->conn_keep_alive);
    bool bodiless = r->head_only || r->status == 204 || r->status == 304;
    if (bodiless) {
        *done = true;
        return 0;
    }
    if (h->te) {
        if (!h->chunked)
            r->state = C1M_HTTP_RESP_UNTIL_EOF;
        else
            r->state = C1M_HTTP_RESP_CHUNK_SIZE;
        return 0;
    }
    if (h->content_length >= 0) {
        r->remaining = (uint64_t)h->content_length;
        if (r->remaining == 0)
            *done = true;
        else
            r->state = C1M_HTTP_RESP_BODY;
        return 0;
    }
    r->state = C1M_HTTP_RESP_UNTIL_EOF;
    r->close = true;
    return 0;
}

/* The whole head must be present: find the empty line first. */
static ssize_t feed_head(c1m_http_resp_t *r, const char *p, size_t n, bool *done)
{
    size_t off = 0, len;
    head_info_t h = { .content_length = -1 };
    bool first = true;
    for (;;) {
        size_t room = C1M_HTTP_RESP_MAX_HEAD > off ? C1M_HTTP_RESP_MAX_HEAD - off : 0;
        if (!room)
            return -E2BIG;
        ssize_t used = line_end(p + off, n - off, room, &len);
        if (used <= 0)
            return used; /* incomplete (nothing consumed) or too long */
        const char *line = p + off;
        off += (size_t)used;
        if (first) {
            if (len == 0)
                continue; /* tolerate a stray empty line before the status */
            if (parse_status_line(r, line, len, &h) < 0)
                return -EBADMSG;
            first = false;
            continue;
        }
        if (len == 0)
            break;
        if (line[0] == ' ' || line[0] == '\t')
            return -EBADMSG; /* obsolete line folding */
        if (parse_header(line, len, &h) < 0)
            return -EBADMSG;
    }
    if (r->status < 200) { /* interim (100 Continue, 103): another head follows */
        r->status = 0;
        return (ssize_t)off;
    }
    int rc = body_mode(r, &h, done);
    return rc < 0 ? rc : (ssize_t)off;
}

static ssize_t feed_chunk_size(c1m_http_resp_t *r, const char *p, size_t n)
{
    size_t len;
    ssize_t used = line_end(p, n, C1M_HTTP_RESP_MAX_LINE, &len);
    if (used <= 0)
        return used;
    uint64_t x = 0;
    size_t i = 0;
    for (; i < len; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            break;
        if (x > (UINT64_MAX >> 5))
            return -EBADMSG;
        x = x * 16 + (uint64_t)d;
    }
    if (i == 0 || (i < len && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
        return -EBADMSG;
    r->remaining = x;
    r->state = x ? C1M_HTTP_RESP_CHUNK_DATA : C1M_HTTP_RESP_TRAILER;
    return used;
}

static ssize_t feed_trailer(c1m_http_resp_t *r, const char *p, size_t n, bool *done)
{
    size_t len;
    ssize_t used = line_end(p, n, C1M_HTTP_RESP_MAX_LINE, &len);
    if (used > 0 && len == 0)
        *done = true;
    return used;
}

static ssize_t feed_crlf(c1m_http_resp_t *r, const char *p, size_t n)
{
    if (p[0] == '\n') {
        r->state = C1M_HTTP_RESP_CHUNK_SIZE;
        return 1;
    }
    if (p[0] != '\r')
        return -EBADMSG;
    if (n < 2)
        return 0;
    if (p[1] != '\n')
        return -EBADMSG;
    r->state = C1M_HTTP_RESP_CHUNK_SIZE;
    return 2;
}

static size_t take(c1m_http_resp_t *r, size_t n)
{
    size_t k = r->remaining < n ? (size_t)r->remaining : n;
    r->remaining -= k;
    return k;
}

/* One step: consume what the current state allows. */
static ssize_t step(c1m_http_resp_t *r, const char *p, size_t n, bool *done)
{
    size_t k;
    switch (r->state) {
    case C1M_HTTP_RESP_HEAD:
        return feed_head(r, p, n, done);
    case C1M_HTTP_RESP_BODY:
        k = take(r, n);
        if (!r->remaining)
            *done = true;
        return (ssize_t)k;
    case C1M_HTTP_RESP_CHUNK_SIZE:
        return feed_chunk_size(r, p, n);
    case C1M_HTTP_RESP_CHUNK_DATA:
        k = take(r, n);
        if (!r->remaining)
            r->state = C1M_HTTP_RESP_CHUNK_CRLF;
        return (ssize_t)k;
    case C1M_HTTP_RESP_CHUNK_CRLF:
        return feed_crlf(r, p, n);
    case C1M_HTTP_RESP_TRAILER:
        return feed_trailer(r, p, n, done);
    case C1M_HTTP_RESP_UNTIL_EOF:
        return (ssize_t)n;
    default:
        return -EBADMSG;
    }
}

ssize_t c1m_http_resp_feed(c1m_http_resp_t *r, const char *p, size_t n, bool *done)
{
    size_t off = 0;
    *done = false;
    while (off < n) {
        ssize_t used = step(r, p + off, n - off, done);
        if (used < 0)
            return used;
        off += (size_t)used;
        if (*done) {
            r->state = C1M_HTTP_RESP_HEAD;
            r->remaining = 0;
            return (ssize_t)off;
        }
        if (used == 0)
            break; /* need more bytes */
    }
    return (ssize_t)off;
}

bool c1m_http_resp_eof(c1m_http_resp_t *r)
{
    return r->state == C1M_HTTP_RESP_UNTIL_EOF;
}
