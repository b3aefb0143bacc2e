#include "proto/http1/response.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

void c1m_http_resp_init(c1m_http_resp_t *r, bool head_only)
{
    *r = (c1m_http_resp_t){ .state = C1M_HTTP_RESP_HEAD, .head_only = head_only };
}

/* One line ending in LF (an optional CR before it is stripped) at p[0..n),
 * of which p[0..*scan) was searched already and holds no LF. Returns the
 * bytes up to and including the LF (and resets *scan), 0 when incomplete
 * (*scan advanced: the next call searches only the new bytes) or -E2BIG. */
static ssize_t line_end(const char *p, size_t n, size_t max, uint32_t *scan, size_t *len)
{
    size_t end = n < max ? n : max;
    const char *lf = *scan < end ? memchr(p + *scan, '\n', end - *scan) : NULL;
    if (!lf) {
        if (n >= max)
            return -E2BIG;
        *scan = (uint32_t)end;
        return 0;
    }
    *scan = 0;
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

/* r->hflags while a head is read */
#define HF_STATUS   0x01u /* the status line was read */
#define HF_MINOR1   0x02u /* HTTP/1.1 */
#define HF_CL       0x04u /* Content-Length seen (value in r->remaining) */
#define HF_TE       0x08u /* Transfer-Encoding seen */
#define HF_CHUNKED  0x10u /* ... and its last coding is chunked */
#define HF_CLOSE    0x20u /* Connection: close */
#define HF_KA       0x40u /* Connection: keep-alive */

static int parse_status_line(c1m_http_resp_t *r, const char *p, size_t n)
{
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (n < 12 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -EBADMSG;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return -EBADMSG;
    if (n > 12 && p[12] != ' ')
        return -EBADMSG;
    if (p[7] == '1')
        r->hflags |= HF_MINOR1;
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

static int parse_header(c1m_http_resp_t *r, const char *p, size_t n)
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
        if ((r->hflags & HF_CL) && r->remaining != (uint64_t)len)
            return -EBADMSG; /* conflicting lengths */
        r->hflags |= HF_CL;
        r->remaining = (uint64_t)len;
    } else if (token_eq(p, nl, "transfer-encoding")) {
        r->hflags |= HF_TE;
        if (list_has(v, vl, "chunked", &last) && last)
            r->hflags |= HF_CHUNKED;
        else
            r->hflags &= (uint8_t)~HF_CHUNKED;
    } else if (token_eq(p, nl, "connection")) {
        if (list_has(v, vl, "close", &last))
            r->hflags |= HF_CLOSE;
        if (list_has(v, vl, "keep-alive", &last))
            r->hflags |= HF_KA;
    }
    return 0;
}

/* Choose how the body is delimited once the head is complete. */
static void body_mode(c1m_http_resp_t *r, unsigned hf, bool *done)
{
    r->close = (hf & HF_CLOSE) || (!(hf & HF_MINOR1) && !(hf & HF_KA));
    bool bodiless = r->head_only || r->status == 204 || r->status == 304;
    if (bodiless) {
        *done = true;
        return;
    }
    if (hf & HF_TE) {
        r->state = (hf & HF_CHUNKED) ? C1M_HTTP_RESP_CHUNK_SIZE : C1M_HTTP_RESP_UNTIL_EOF;
        r->remaining = 0;
        return;
    }
    if (hf & HF_CL) {
        if (r->remaining == 0)
            *done = true;
        else
            r->state = C1M_HTTP_RESP_BODY;
        return;
    }
    r->remaining = 0;
    r->state = C1M_HTTP_RESP_UNTIL_EOF;
    r->close = true;
}

/* The head is consumed only once complete (the caller keeps it until
 * then), but each of its lines is searched and read once: r->line is where
 * the first unread line starts, r->scan how much of it was searched. */
static ssize_t feed_head(c1m_http_resp_t *r, const char *p, size_t n, bool *done)
{
    for (;;) {
        size_t ls = r->line, len;
        if (ls > n)
            return -EINVAL; /* the caller dropped bytes it had to keep */
        if (ls >= C1M_HTTP_RESP_MAX_HEAD)
            return -E2BIG;
        ssize_t used = line_end(p + ls, n - ls, C1M_HTTP_RESP_MAX_HEAD - ls, &r->scan, &len);
        if (used <= 0)
            return used; /* incomplete (nothing consumed) or too long */
        const char *line = p + ls;
        r->line = (uint32_t)(ls + (size_t)used);
        if (!(r->hflags & HF_STATUS)) {
            if (len == 0)
                continue; /* tolerate a stray empty line before the status */
            if (parse_status_line(r, line, len) < 0)
                return -EBADMSG;
            r->hflags |= HF_STATUS;
            continue;
        }
        if (len == 0)
            break;
        if (line[0] == ' ' || line[0] == '\t')
            return -EBADMSG; /* obsolete line folding */
        if (parse_header(r, line, len) < 0)
            return -EBADMSG;
    }
    size_t off = r->line;
    unsigned hf = r->hflags;
    r->line = r->scan = 0;
    r->hflags = 0;
    if (r->status < 200) { /* interim (100 Continue, 103): another head follows */
        r->status = 0;
        r->remaining = 0;
        return (ssize_t)off;
    }
    body_mode(r, hf, done);
    return (ssize_t)off;
}

static ssize_t feed_chunk_size(c1m_http_resp_t *r, const char *p, size_t n)
{
    size_t len;
    ssize_t used = line_end(p, n, C1M_HTTP_RESP_MAX_LINE, &r->scan, &len);
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
    ssize_t used = line_end(p, n, C1M_HTTP_RESP_MAX_LINE, &r->scan, &len);
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
            r->line = r->scan = 0;
            r->hflags = 0;
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
