/* HTTP/1.1 request parser. See parser.h for the calling convention.
 *
 * Head. The head is parsed in one pass by parse_head() over a view of the
 * buffer capped at the head limit, so the result never depends on bytes
 * beyond the limit: method (GET fast path), target (SSE2 scan for the SP),
 * version (memcmp fast path), then field lines: name through a token
 * table, value through an SSE2 scan for the first CTL, which must be the
 * CR of CRLF. A request-line error is reported at the first byte that
 * can never be valid there; a field-line error once its line is complete;
 * multi-field errors once the head is complete.
 *
 * When the head is incomplete the parser remembers where the incomplete
 * line starts and how far it has searched. Later calls ("scan mode") only
 * memchr() the new bytes for LFs and validate each newly completed field
 * line once with the same parse_line(); while the request line is
 * incomplete, each new byte also goes through a small automaton
 * (reqline_scan) that spots the first invalid one; they run parse_head() again when
 * the request line completes, when the head completes, or when a limit is
 * crossed. A head arriving byte by byte thus costs O(n) plus at most three
 * full parses, and reports exactly what a single call would.
 *
 * Body. Content-Length bodies are sliced straight out of the buffer.
 * Chunked framing (size line, extensions, CRLFs, trailers) goes through a
 * small byte-at-a-time state machine — it is a few bytes per chunk — and
 * the chunk data is sliced out in bulk.
 */
#include "proto/http1/parser.h"

#include <errno.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

const c1m_http_limits_t c1m_http_default_limits = {
    .max_request_line = C1M_HTTP_DEFAULT_MAX_REQUEST_LINE,
    .max_head = C1M_HTTP_DEFAULT_MAX_HEAD,
    .max_headers = C1M_HTTP_DEFAULT_MAX_HEADERS,
    .max_body = C1M_HTTP_DEFAULT_MAX_BODY,
};

/* ---- character classes ----------------------------------------------- */

/* tchar (RFC 9110 5.6.2): ALPHA DIGIT ! # $ % & ' * + - . ^ _ ` | ~ */
static const uint8_t tchar[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* field-value bytes: HTAB, SP, VCHAR, obs-text. */
static const uint8_t vchar[256] = {
    ['\t'] = 1, [' ' ... '~'] = 1, [0x80 ... 0xff] = 1,
};

/* request-target bytes: VCHAR and obs-text (no SP, no CTL, no DEL). */
static const uint8_t target_char[256] = {
    ['!' ... '~'] = 1, [0x80 ... 0xff] = 1,
};

/* Host value bytes (RFC 3986 host [ ":" port ]): unreserved, pct-encoded,
 * sub-delims, ':' and the IP-literal brackets. No '@', '/', SP, ... */
static const uint8_t host_char[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['%'] = 1,
    ['!'] = 1, ['$'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1,
    ['*'] = 1, ['+'] = 1, [','] = 1, [';'] = 1, ['='] = 1,
    [':'] = 1, ['['] = 1, [']'] = 1,
};

/* hex digit value + 1 (0 = not a hex digit). */
static const uint8_t hexval1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
    ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
}

/* ASCII case-insensitive equality of s[0..n) with lowercase literal lit. */
static inline bool ieq(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

#define IEQ_LIT(s, n, lit) ((n) == sizeof(lit) - 1 && ieq((s), (lit), sizeof(lit) - 1))

static inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* First index in [i, end) whose byte is not a request-target byte, or end. */
static inline size_t scan_target(const unsigned char *b, size_t i, size_t end)
{
#ifdef __SSE2__
    const __m128i v21 = _mm_set1_epi8(0x21), v7f = _mm_set1_epi8(0x7f);
    while (end - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i ge = _mm_cmpeq_epi8(_mm_max_epu8(x, v21), x); /* x >= 0x21 */
        __m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(x, v7f), ge);
        unsigned m = (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
        if (m)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i < end && target_char[b[i]])
        i++;
    return i;
}

/* First index in [i, end) whose byte is not a field-value byte, or end. */
static inline size_t scan_value(const unsigned char *b, size_t i, size_t end)
{
#ifdef __SSE2__
    const __m128i v20 = _mm_set1_epi8(0x20), v09 = _mm_set1_epi8(0x09),
                  v7f = _mm_set1_epi8(0x7f);
    while (end - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i ge = _mm_cmpeq_epi8(_mm_max_epu8(x, v20), x); /* x >= 0x20 */
        ge = _mm_or_si128(ge, _mm_cmpeq_epi8(x, v09));
        __m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(x, v7f), ge);
        unsigned m = (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
        if (m)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i < end && vchar[b[i]])
        i++;
    return i;
}

/* ---- errors ---------------------------------------------------------- */

static const struct {
    uint16_t status;
    const char *str;
} errtab[C1M_HTTP_E_END - C1M_HTTP_E_BASE] = {
    [C1M_HTTP_EBAD_METHOD - C1M_HTTP_E_BASE] = {400, "invalid method"},
    [C1M_HTTP_EBAD_TARGET - C1M_HTTP_E_BASE] = {400, "invalid request target"},
    [C1M_HTTP_EBAD_VERSION - C1M_HTTP_E_BASE] = {400, "malformed HTTP version"},
    [C1M_HTTP_EBAD_EOL - C1M_HTTP_E_BASE] = {400, "bare CR or LF / bad line end"},
    [C1M_HTTP_EBAD_HEADER_NAME - C1M_HTTP_E_BASE] = {400, "invalid header field name"},
    [C1M_HTTP_EBAD_HEADER_VALUE - C1M_HTTP_E_BASE] = {400, "invalid header field value"},
    [C1M_HTTP_EOBS_FOLD - C1M_HTTP_E_BASE] = {400, "obsolete line folding"},
    [C1M_HTTP_ENO_HOST - C1M_HTTP_E_BASE] = {400, "missing Host"},
    [C1M_HTTP_EBAD_HOST - C1M_HTTP_E_BASE] = {400, "invalid or repeated Host"},
    [C1M_HTTP_EBAD_CONTENT_LENGTH - C1M_HTTP_E_BASE] = {400, "invalid Content-Length"},
    [C1M_HTTP_ECL_AND_TE - C1M_HTTP_E_BASE] = {400, "Content-Length with Transfer-Encoding"},
    [C1M_HTTP_EBAD_TRANSFER_ENCODING - C1M_HTTP_E_BASE] = {400, "invalid Transfer-Encoding"},
    [C1M_HTTP_EBAD_CHUNK - C1M_HTTP_E_BASE] = {400, "invalid chunked encoding"},
    [C1M_HTTP_EBODY_TOO_LARGE - C1M_HTTP_E_BASE] = {413, "body too large"},
    [C1M_HTTP_EURI_TOO_LONG - C1M_HTTP_E_BASE] = {414, "request line too long"},
    [C1M_HTTP_EHEADER_TOO_LARGE - C1M_HTTP_E_BASE] = {431, "header section too large"},
    [C1M_HTTP_ETOO_MANY_HEADERS - C1M_HTTP_E_BASE] = {431, "too many header fields"},
    [C1M_HTTP_EUNSUPPORTED_TE - C1M_HTTP_E_BASE] = {501, "unsupported transfer coding"},
    [C1M_HTTP_EVERSION - C1M_HTTP_E_BASE] = {505, "HTTP version not supported"},
};

int c1m_http_status_for_error(int err)
{
    if (err < 0)
        err = -err;
    if (err == 0)
        return 200;
    if (err > C1M_HTTP_E_BASE && err < C1M_HTTP_E_END)
        return errtab[err - C1M_HTTP_E_BASE].status;
    return 500;
}

const char *c1m_http_error_str(int err)
{
    if (err < 0)
        err = -err;
    if (err == 0)
        return "no error";
    if (err > C1M_HTTP_E_BASE && err < C1M_HTTP_E_END)
        return errtab[err - C1M_HTTP_E_BASE].str;
    return "internal error";
}

const char *c1m_http_reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

const char *c1m_http_method_name(c1m_http_method_t m)
{
    static const char *const names[] = {"OTHER", "GET", "HEAD", "POST", "PUT",
                                        "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    return (unsigned)m < C1M_ARRAY_LEN(names) ? names[m] : "OTHER";
}

int c1m_http_find_header(const c1m_http_request_t *req, const char *name, size_t name_len)
{
    uint32_t n = C1M_MIN(req->nheaders, req->headers_cap);
    for (uint32_t i = 0; i < n; i++) {
        const c1m_http_header_t *h = &req->headers[i];
        if (h->name.len != name_len)
            continue;
        const char *s = req->buf + h->name.off;
        size_t j = 0;
        while (j < name_len && lower((unsigned char)s[j]) == lower((unsigned char)name[j]))
            j++;
        if (j == name_len)
            return (int)i;
    }
    return -1;
}

/* ---- head ------------------------------------------------------------ */

enum {
    ST_HEAD = 0,    /* reading a head (scan mode once scan_pos > 0) */
    ST_CL,          /* Content-Length body, p->remaining left */
    ST_CHUNK,       /* chunked body, p->sub */
    ST_DONE,        /* request complete, EV_DONE not yet returned */
    ST_ERROR,
};

/* private parser flags (p->pflags above the public C1M_HTTP_F_*) */
#define PF_REQLINE 0x0100u /* scan mode: request line seen complete */
#define PF_PUBLIC  0x00ffu

/* head-parse temporaries for the field semantics */
#define HF_TE_CHUNKED 0x01u
#define HF_TE_OTHER   0x02u
#define HF_TE_SEEN    0x04u

typedef struct {
    uint32_t line;   /* incomplete: offset of the incomplete line */
    uint32_t nlines; /* incomplete: complete header field lines */
    bool reqline;    /* incomplete: request line complete */
} head_prog_t;

static c1m_http_method_t method_id(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (!memcmp(m, "GET", 3)) return C1M_HTTP_GET;
        if (!memcmp(m, "PUT", 3)) return C1M_HTTP_PUT;
        break;
    case 4:
        if (!memcmp(m, "POST", 4)) return C1M_HTTP_POST;
        if (!memcmp(m, "HEAD", 4)) return C1M_HTTP_HEAD;
        break;
    case 5:
        if (!memcmp(m, "PATCH", 5)) return C1M_HTTP_PATCH;
        if (!memcmp(m, "TRACE", 5)) return C1M_HTTP_TRACE;
        break;
    case 6:
        if (!memcmp(m, "DELETE", 6)) return C1M_HTTP_DELETE;
        break;
    case 7:
        if (!memcmp(m, "OPTIONS", 7)) return C1M_HTTP_OPTIONS;
        if (!memcmp(m, "CONNECT", 7)) return C1M_HTTP_CONNECT;
        break;
    }
    return C1M_HTTP_OTHER;
}

/* Content-Length: 1*DIGIT, no sign, no spaces, no list; equal repeats ok. */
static int field_content_length(c1m_http_request_t *req, const char *v, size_t n)
{
    if (n == 0)
        return -C1M_HTTP_EBAD_CONTENT_LENGTH;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)v[i] - (unsigned)'0';
        if (d > 9)
            return -C1M_HTTP_EBAD_CONTENT_LENGTH;
        if (x > (UINT64_MAX - d) / 10)
            return -C1M_HTTP_EBAD_CONTENT_LENGTH;
        x = x * 10 + d;
    }
    if ((req->flags & C1M_HTTP_F_CONTENT_LENGTH) && req->content_length != x)
        return -C1M_HTTP_EBAD_CONTENT_LENGTH;
    req->flags |= C1M_HTTP_F_CONTENT_LENGTH;
    req->content_length = x;
    return 0;
}

/* Transfer-Encoding: 1#token, elements separated by OWS "," OWS. chunked
 * must be the only (and last) coding; a second chunked is malformed. */
static int field_transfer_encoding(unsigned *hf, const char *v, size_t n)
{
    size_t i = 0;
    *hf |= HF_TE_SEEN;
    for (;;) {
        size_t s = i;
        while (i < n && tchar[(unsigned char)v[i]])
            i++;
        if (i == s)
            return -C1M_HTTP_EBAD_TRANSFER_ENCODING; /* empty element or junk */
        if (IEQ_LIT(v + s, i - s, "chunked")) {
            if (*hf & HF_TE_CHUNKED)
                return -C1M_HTTP_EBAD_TRANSFER_ENCODING;
            *hf |= HF_TE_CHUNKED;
        } else {
            /* a coding we do not implement; also "chunked" not being last
             * ends up here (the next element, or a later field line) */
            *hf |= HF_TE_OTHER;
        }
        while (i < n && is_ows(v[i]))
            i++;
        if (i == n)
            return 0;
        if (v[i] == ';') {
            /* transfer parameters: chunked takes none; anything with
             * parameters is a coding we do not implement */
            *hf |= HF_TE_OTHER;
            return 0;
        }
        if (v[i] != ',')
            return -C1M_HTTP_EBAD_TRANSFER_ENCODING;
        i++;
        while (i < n && is_ows(v[i]))
            i++;
    }
}

/* Connection: #token; remember close / keep-alive / upgrade. Lenient:
 * unknown or odd elements are ignored. */
static void field_connection(c1m_http_request_t *req, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && !is_ows(v[i]))
            i++;
        size_t l = i - s;
        if (IEQ_LIT(v + s, l, "close"))
            req->flags |= C1M_HTTP_F_CONN_CLOSE;
        else if (IEQ_LIT(v + s, l, "keep-alive"))
            req->flags |= C1M_HTTP_F_CONN_KEEP_ALIVE;
        else if (IEQ_LIT(v + s, l, "upgrade"))
            req->flags |= C1M_HTTP_F_UPGRADE;
    }
}

static int field_host(c1m_http_request_t *req, uint32_t off, const char *v, size_t n)
{
    if (req->flags & C1M_HTTP_F_HOST)
        return -C1M_HTTP_EBAD_HOST;
    for (size_t i = 0; i < n; i++)
        if (!host_char[(unsigned char)v[i]])
            return -C1M_HTTP_EBAD_HOST;
    req->flags |= C1M_HTTP_F_HOST;
    req->host.off = off;
    req->host.len = (uint32_t)n;
    return 0;
}

/* The fields the parser acts on. Name is a valid token. */
static inline int field_semantics(c1m_http_request_t *req, unsigned *hf, const char *b,
                                  size_t ns, size_t nl, size_t vs, size_t vl)
{
    const char *name = b + ns, *v = b + vs;
    switch (nl) {
    case 4:
        if (ieq(name, "host", 4))
            return field_host(req, (uint32_t)vs, v, vl);
        break;
    case 6:
        if (ieq(name, "expect", 6) && IEQ_LIT(v, vl, "100-continue"))
            req->flags |= C1M_HTTP_F_EXPECT_CONTINUE;
        break;
    case 10:
        if (ieq(name, "connection", 10))
            field_connection(req, v, vl);
        break;
    case 14:
        if (ieq(name, "content-length", 14))
            return field_content_length(req, v, vl);
        break;
    case 17:
        if (ieq(name, "transfer-encoding", 17))
            return field_transfer_encoding(hf, v, vl);
        break;
    }
    return 0;
}

enum { LN_MORE = 0, LN_FIELD = 1, LN_END = 2 };

typedef struct {
    size_t nl, vs, vl; /* name length (name starts at the line), value */
} field_t;

/* One line of the header section at b[i..vlen), i < vlen: a field line
 * (LN_FIELD, *f), the empty line ending the head (LN_END), LN_MORE if the
 * line is incomplete, or a negative error. *next = start of the next line.
 * Looks at no byte after the line's LF. */
static inline int parse_line(const unsigned char *b, size_t i, size_t vlen, field_t *f,
                             size_t *next)
{
    const size_t ls = i;
    if (b[i] == '\r') {
        if (i + 1 >= vlen)
            return LN_MORE;
        if (b[i + 1] != '\n')
            return -C1M_HTTP_EBAD_EOL;
        *next = i + 2;
        return LN_END;
    }
    /* name */
    while (i < vlen && tchar[b[i]])
        i++;
    if (C1M_UNLIKELY(i >= vlen))
        return LN_MORE;
    if (C1M_UNLIKELY(b[i] != ':' || i == ls)) {
        if (i == ls && is_ows((char)b[i]))
            return -C1M_HTTP_EOBS_FOLD;
        if (i == ls && b[i] == '\n')
            return -C1M_HTTP_EBAD_EOL;
        return -C1M_HTTP_EBAD_HEADER_NAME;
    }
    f->nl = i - ls;
    i++;
    /* value */
    while (i < vlen && is_ows((char)b[i]))
        i++;
    const size_t vs = i;
    i = scan_value(b, i, vlen);
    if (C1M_UNLIKELY(i + 1 >= vlen)) {
        if (i < vlen && b[i] != '\r')
            goto bad_value;
        return LN_MORE;
    }
    if (C1M_UNLIKELY(b[i] != '\r'))
        goto bad_value;
    if (C1M_UNLIKELY(b[i + 1] != '\n'))
        return -C1M_HTTP_EBAD_EOL;
    *next = i + 2;
    while (i > vs && is_ows((char)b[i - 1]))
        i--;
    f->vs = vs;
    f->vl = i - vs;
    return LN_FIELD;
bad_value:
    return b[i] == '\n' ? -C1M_HTTP_EBAD_EOL : -C1M_HTTP_EBAD_HEADER_VALUE;
}

/* Request-line phases, kept in p->sub while the request line is incomplete
 * (the chunk sub-state is free until the head is complete). */
enum { RL_METHOD0 = 0, RL_METHOD, RL_TARGET0, RL_TARGET, RL_VERSION /* + k, 0..9 */ };

/* Advance the request-line automaton over b[i..end) from *phase. Returns
 * end if every byte may still be part of a valid request line, else the
 * index of the first byte that decides: one that can never be valid there
 * (a TLS ClientHello's 0x16, a CTL in the method...) or the LF that ends
 * the line. It accepts exactly the prefixes parse_head() calls incomplete,
 * so scan mode can hand such a byte to a full parse as soon as it arrives;
 * O(1) per byte, each byte looked at once. */
static size_t reqline_scan(const unsigned char *b, size_t i, size_t end, uint8_t *phase)
{
    static const char pat[] = "HTTP/0.0\r\n";
    unsigned ph = *phase;
    for (; i < end; i++) {
        unsigned char c = b[i];
        if (ph == RL_METHOD0) {
            if (!tchar[c])
                break;
            ph = RL_METHOD;
        } else if (ph == RL_METHOD) {
            if (c == ' ')
                ph = RL_TARGET0;
            else if (!tchar[c])
                break;
        } else if (ph == RL_TARGET0) {
            if (!target_char[c])
                break;
            ph = RL_TARGET;
        } else if (ph == RL_TARGET) {
            size_t j = scan_target(b, i, end);
            if (j == end) {
                i = end;
                break;
            }
            i = j;
            if (b[i] != ' ')
                break;
            ph = RL_VERSION;
        } else {
            unsigned k = ph - RL_VERSION;
            bool ok = (k == 5 || k == 7) ? (c >= '0' && c <= '9') : c == (unsigned char)pat[k];
            if (!ok || k == 9)
                break;
            ph++;
        }
    }
    *phase = (uint8_t)ph;
    return C1M_MIN(i, end);
}

/* Parse the head at buf[0..len). Returns the head length (> 0), 0 if
 * incomplete (*prog filled) or a negative error. Looks at no byte at or
 * beyond the head limit.
 *
 * Error timing, which makes the result independent of how the input was
 * split: a request-line error as soon as its offending byte is here (the
 * decision depends on no later byte); a field-line syntax error once the
 * line holding it is complete (its LF is here); a limit once reached; errors that involve several
 * fields (duplicate Host, conflicting Content-Length, framing) once the
 * whole head is here. */
static ssize_t parse_head(const c1m_http_limits_t *L, const char *cbuf, size_t len,
                          c1m_http_request_t *req, head_prog_t *prog)
{
    const unsigned char *b = (const unsigned char *)cbuf;
    const size_t max_head = L->max_head;
    const size_t max_line = C1M_MIN(L->max_request_line, L->max_head);
    size_t rl = C1M_MIN(len, max_line); /* request-line view */
    size_t i = 0;
    ssize_t err;

    req->flags = 0;
    req->content_length = 0;
    req->nheaders = 0;
    req->host.off = req->host.len = 0;
    req->buf = cbuf;

    /* -- method -- */
    if (C1M_LIKELY(rl >= 4 && !memcmp(b, "GET ", 4))) {
        req->method = C1M_HTTP_GET;
        i = 3;
    } else {
        while (i < rl && tchar[b[i]])
            i++;
        if (i == rl)
            goto line_incomplete;
        if (b[i] != ' ' || i == 0) {
            err = -C1M_HTTP_EBAD_METHOD;
            goto line_error;
        }
        req->method = method_id(cbuf, i);
    }
    req->method_str.off = 0;
    req->method_str.len = (uint32_t)i;
    i++;

    /* -- request-target -- */
    size_t ts = i;
    i = scan_target(b, i, rl);
    if (i == rl)
        goto line_incomplete;
    if (b[i] != ' ' || i == ts) {
        if (i != ts && (b[i] == '\r' || b[i] == '\n'))
            err = -C1M_HTTP_EBAD_VERSION; /* "GET /\r\n": no version */
        else
            err = -C1M_HTTP_EBAD_TARGET;
        goto line_error;
    }
    req->target.off = (uint32_t)ts;
    req->target.len = (uint32_t)(i - ts);
    {
        const char *q = memchr(cbuf + ts, '?', i - ts);
        size_t pe = q ? (size_t)(q - cbuf) : i;
        req->path.off = (uint32_t)ts;
        req->path.len = (uint32_t)(pe - ts);
        req->query.off = (uint32_t)(q ? pe + 1 : pe);
        req->query.len = (uint32_t)(q ? i - pe - 1 : 0);
    }
    i++;

    /* -- HTTP-version CRLF: exactly "HTTP/" DIGIT "." DIGIT CR LF -- */
    {
        static const char pat[] = "HTTP/0.0\r\n";
        size_t vs = i;
        if (C1M_LIKELY(rl - vs >= 10 && !memcmp(b + vs, "HTTP/1.1\r\n", 10))) {
            req->version_major = 1;
            req->version_minor = 1;
        } else {
            for (size_t k = 0; k < 10; k++) {
                if (vs + k == rl)
                    goto line_incomplete;
                unsigned char c = b[vs + k];
                bool ok = (k == 5 || k == 7) ? (c >= '0' && c <= '9') : c == (unsigned char)pat[k];
                if (!ok) {
                    err = k == 9 || (k == 8 && c == '\n') ? -C1M_HTTP_EBAD_EOL : -C1M_HTTP_EBAD_VERSION;
                    goto line_error;
                }
            }
            req->version_major = (uint8_t)(b[vs + 5] - '0');
            req->version_minor = (uint8_t)(b[vs + 7] - '0');
            if (req->version_major != 1 || req->version_minor > 1)
                return -C1M_HTTP_EVERSION; /* the line is complete */
        }
        req->version.off = (uint32_t)vs;
        req->version.len = 8;
        i = vs + 10;
    }

    /* -- header fields -- */
    {
        const size_t vlen = C1M_MIN(len, max_head);
        const uint32_t max_hdr = L->max_headers;
        c1m_http_header_t *hdrs = req->headers;
        const uint32_t cap = hdrs ? req->headers_cap : 0;
        uint32_t nh = 0;
        unsigned hf = 0;
        int sem = 0; /* first multi-field error, reported with the whole head */

        for (;;) {
            const size_t ls = i;
            field_t f;
            int r;
            if (C1M_UNLIKELY(i >= vlen))
                r = LN_MORE;
            else if (C1M_UNLIKELY(nh >= max_hdr && b[i] != '\r'))
                r = -C1M_HTTP_ETOO_MANY_HEADERS;
            else
                r = parse_line(b, i, vlen, &f, &i);
            if (C1M_LIKELY(r == LN_FIELD)) {
                if (nh < cap) {
                    hdrs[nh].name.off = (uint32_t)ls;
                    hdrs[nh].name.len = (uint32_t)f.nl;
                    hdrs[nh].value.off = (uint32_t)f.vs;
                    hdrs[nh].value.len = (uint32_t)f.vl;
                }
                nh++;
                if (f.nl == 4 || f.nl == 6 || f.nl == 10 || f.nl >= 14) {
                    int e = field_semantics(req, &hf, cbuf, ls, f.nl, f.vs, f.vl);
                    if (C1M_UNLIKELY(e < 0) && !sem)
                        sem = e;
                }
                continue;
            }
            if (r == LN_END)
                break;
            if (r < 0 && memchr(b + ls, '\n', vlen - ls))
                return r; /* the line is complete: report */
            /* incomplete (an error in an incomplete line waits for its LF) */
            if (len >= max_head)
                return -C1M_HTTP_EHEADER_TOO_LARGE;
            prog->line = (uint32_t)ls;
            prog->nlines = nh;
            prog->reqline = true;
            return 0;
        }

        /* -- head complete: message framing and connection semantics -- */
        req->nheaders = nh;
        req->head_len = (uint32_t)i;
        if (sem)
            return sem;
        if (hf & HF_TE_SEEN) {
            if (req->flags & C1M_HTTP_F_CONTENT_LENGTH)
                return -C1M_HTTP_ECL_AND_TE;
            if (req->version_minor == 0)
                return -C1M_HTTP_EBAD_TRANSFER_ENCODING; /* RFC 9112 6.1 */
            if (hf & HF_TE_OTHER)
                return -C1M_HTTP_EUNSUPPORTED_TE;
            req->flags |= C1M_HTTP_F_CHUNKED;
        }
        if (req->version_minor == 1 && !(req->flags & C1M_HTTP_F_HOST))
            return -C1M_HTTP_ENO_HOST;
        if (req->version_minor == 0) /* RFC 9110 10.1.1: ignored in 1.0 */
            req->flags &= ~C1M_HTTP_F_EXPECT_CONTINUE;
        if (req->content_length > L->max_body)
            return -C1M_HTTP_EBODY_TOO_LARGE;
        if (req->version_minor == 1 ? !(req->flags & C1M_HTTP_F_CONN_CLOSE)
                                    : (req->flags & (C1M_HTTP_F_CONN_KEEP_ALIVE |
                                                     C1M_HTTP_F_CONN_CLOSE)) ==
                                          C1M_HTTP_F_CONN_KEEP_ALIVE)
            req->flags |= C1M_HTTP_F_KEEP_ALIVE;
        return (ssize_t)i;
    }

line_error:
    /* The byte that makes the request line invalid is here: no later byte
     * can repair it, so refuse now rather than at the LF or the header
     * timeout (a TLS ClientHello gets its 400 at once, as from nginx). */
    return err;
line_incomplete:
    if (len >= max_line)
        return -C1M_HTTP_EURI_TOO_LONG;
    prog->line = 0;
    prog->nlines = 0;
    prog->reqline = false;
    return 0;
}

/* ---- parser ---------------------------------------------------------- */

void c1m_http_limits_normalize(c1m_http_limits_t *l)
{
    if (!l->max_request_line)
        l->max_request_line = C1M_HTTP_DEFAULT_MAX_REQUEST_LINE;
    if (!l->max_head)
        l->max_head = C1M_HTTP_DEFAULT_MAX_HEAD;
    if (!l->max_headers)
        l->max_headers = C1M_HTTP_DEFAULT_MAX_HEADERS;
    if (!l->max_body)
        l->max_body = C1M_HTTP_DEFAULT_MAX_BODY;
    if (l->max_headers > 65534) /* the scan counter is 16 bits */
        l->max_headers = 65534;
}

void c1m_http_parser_init(c1m_http_parser_t *p, const c1m_http_limits_t *limits)
{
    memset(p, 0, sizeof(*p));
    p->limits = limits ? limits : &c1m_http_default_limits;
}

bool c1m_http_head_complete(const c1m_http_parser_t *p)
{
    return p->state == ST_CL || p->state == ST_CHUNK || p->state == ST_DONE;
}

bool c1m_http_idle(const c1m_http_parser_t *p)
{
    return p->state == ST_HEAD && p->scan_pos == 0;
}

bool c1m_http_keep_alive(const c1m_http_parser_t *p)
{
    return p->state != ST_ERROR && (p->pflags & C1M_HTTP_F_KEEP_ALIVE);
}

static ssize_t fail(c1m_http_parser_t *p, ssize_t err)
{
    p->state = ST_ERROR;
    p->err = (uint16_t)(-err);
    p->pflags &= (uint16_t)~C1M_HTTP_F_KEEP_ALIVE;
    return err;
}

/* chunk sub-states */
enum {
    CH_SIZE_START = 0, /* first hex digit of a chunk size */
    CH_SIZE,           /* more hex digits */
    CH_SIZE_WS,        /* BWS after the size: only ';' may follow */
    CH_EXT,            /* chunk extension, ignored */
    CH_SIZE_LF,        /* LF after the size line's CR */
    CH_DATA,           /* chunk data, p->remaining left */
    CH_DATA_CR,        /* CR after chunk data */
    CH_DATA_LF,        /* LF after chunk data */
    TR_LINE,           /* start of a trailer line (or the final CRLF) */
    TR_NAME,           /* trailer field name */
    TR_VALUE,          /* trailer field value */
    TR_LF,             /* LF after a trailer field */
    TR_END_LF,         /* LF of the final CRLF */
};

#define CHUNK_LINE_MAX 4096u /* size + extensions, per chunk */

static ssize_t head_done(c1m_http_parser_t *p, c1m_http_request_t *req, size_t skip, ssize_t r,
                         c1m_http_event_t *ev)
{
    p->scan_line = p->scan_pos = 0;
    p->nlines = 0;
    p->pflags = (uint16_t)(req->flags & PF_PUBLIC);
    p->remaining = 0;
    p->total = 0;
    p->sub = CH_SIZE_START;
    if (req->flags & C1M_HTTP_F_CHUNKED) {
        p->state = ST_CHUNK;
    } else if (req->content_length) {
        p->state = ST_CL;
        p->remaining = req->content_length;
    } else {
        p->state = ST_DONE;
    }
    req->body = NULL;
    req->body_len = 0;
    *ev = C1M_HTTP_EV_HEAD;
    return (ssize_t)skip + r;
}

static ssize_t full_head(c1m_http_parser_t *p, const char *buf, size_t len, size_t skip,
                         c1m_http_request_t *req, c1m_http_event_t *ev)
{
    head_prog_t prog = {0, 0, false};
    ssize_t r = parse_head(p->limits, buf, len, req, &prog);
    if (r > 0)
        return head_done(p, req, skip, r, ev);
    if (r < 0)
        return fail(p, r);
    p->scan_line = prog.line;
    p->scan_pos = (uint32_t)C1M_MIN(len, (size_t)p->limits->max_head);
    if (!prog.reqline) {
        /* where the incomplete request line stands, for scan mode */
        uint8_t ph = RL_METHOD0;
        size_t rl = C1M_MIN(p->scan_pos, (size_t)p->limits->max_request_line);
        reqline_scan((const unsigned char *)buf, 0, rl, &ph);
        p->sub = ph;
    }
    p->nlines = (uint16_t)C1M_MIN(prog.nlines, 0xffffu);
    /* keep the last request's public flags (keep-alive) while scanning */
    p->pflags = (uint16_t)((p->pflags & PF_PUBLIC) | (prog.reqline ? PF_REQLINE : 0));
    return (ssize_t)skip;
}

static ssize_t do_head(c1m_http_parser_t *p, const char *buf, size_t len,
                       c1m_http_request_t *req, c1m_http_event_t *ev)
{
    if (p->scan_pos == 0) {
        /* first look at this request: skip empty lines before it, then try
         * a full parse (the common case: the whole head is here) */
        size_t skip = 0;
        while (len - skip >= 2 && buf[skip] == '\r' && buf[skip + 1] == '\n')
            skip += 2;
        if (len == skip || (len - skip == 1 && buf[skip] == '\r'))
            return (ssize_t)skip;
        return full_head(p, buf + skip, len - skip, skip, req, ev);
    }

    /* scan mode: buf[0..scan_pos) was searched already */
    const c1m_http_limits_t *L = p->limits;
    const size_t max_head = L->max_head;
    const size_t max_line = C1M_MIN(L->max_request_line, L->max_head);
    size_t vlen = C1M_MIN(len, max_head);
    size_t pos = p->scan_pos, line = p->scan_line;
    uint32_t nlines = p->nlines;
    bool reqline = p->pflags & PF_REQLINE;

    if (C1M_UNLIKELY(len < pos))
        return -EINVAL; /* the caller dropped bytes it had to keep */
    if (!reqline) {
        /* a byte that can never start a valid request is refused when it
         * arrives, not when its line ends */
        size_t end = C1M_MIN(vlen, max_line);
        uint8_t ph = p->sub;
        if (pos < end && reqline_scan((const unsigned char *)buf, pos, end, &ph) < end)
            return full_head(p, buf, len, 0, req, ev);
        p->sub = ph;
    }
    while (pos < vlen) {
        const char *lf = memchr(buf + pos, '\n', vlen - pos);
        if (!lf)
            break;
        size_t e = (size_t)(lf - buf);
        if (!reqline || buf[line] == '\r')
            /* request line complete (validate it and what follows once),
             * or the end of the head (or a bare CR): full parse */
            return full_head(p, buf, len, 0, req, ev);
        if (++nlines > L->max_headers)
            return full_head(p, buf, len, 0, req, ev); /* too many fields */
        /* validate the field line now, as a full parse would */
        field_t f;
        size_t next = 0;
        int r = parse_line((const unsigned char *)buf, line, e + 1, &f, &next);
        if (r < 0)
            return fail(p, r);
        line = pos = e + 1;
    }
    if ((!reqline && len >= max_line) || len >= max_head)
        return full_head(p, buf, len, 0, req, ev); /* limit error */
    p->scan_pos = (uint32_t)vlen;
    p->scan_line = (uint32_t)line;
    p->nlines = (uint16_t)C1M_MIN(nlines, 0xffffu);
    return 0;
}

static ssize_t do_chunk(c1m_http_parser_t *p, const char *buf, size_t len,
                        c1m_http_request_t *req, c1m_http_event_t *ev)
{
    const unsigned char *b = (const unsigned char *)buf;
    const c1m_http_limits_t *L = p->limits;
    size_t i = 0;
    unsigned sub = p->sub;

    while (i < len) {
        unsigned char c = b[i];
        switch (sub) {
        case CH_SIZE_START:
            if (!hexval1[c])
                goto bad_chunk;
            p->remaining = hexval1[c] - 1u;
            p->scan_pos = 1; /* digits / line length */
            sub = CH_SIZE;
            i++;
            break;
        case CH_SIZE:
            if (hexval1[c]) {
                if (++p->scan_pos > 16)
                    goto bad_chunk; /* more than 64 bits */
                p->remaining = (p->remaining << 4) | (hexval1[c] - 1u);
                i++;
                break;
            }
            if (p->remaining > L->max_body - p->total) {
                p->sub = (uint8_t)sub;
                return fail(p, -C1M_HTTP_EBODY_TOO_LARGE);
            }
            if (c == '\r')
                sub = CH_SIZE_LF;
            else if (c == ';')
                sub = CH_EXT;
            else if (is_ows((char)c))
                sub = CH_SIZE_WS;
            else
                goto bad_chunk;
            i++;
            break;
        case CH_SIZE_WS:
            if (c == ';')
                sub = CH_EXT;
            else if (!is_ows((char)c))
                goto bad_chunk;
            if (++p->scan_pos > CHUNK_LINE_MAX)
                goto bad_chunk;
            i++;
            break;
        case CH_EXT:
            /* skip the extension; stop at CR, reject other CTLs */
            while (i < len && vchar[b[i]]) {
                i++;
                if (++p->scan_pos > CHUNK_LINE_MAX)
                    goto bad_chunk;
            }
            if (i == len)
                break;
            if (b[i] != '\r')
                goto bad_chunk;
            sub = CH_SIZE_LF;
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                goto bad_chunk;
            i++;
            if (p->remaining == 0) {
                sub = TR_LINE;
                p->nlines = 0;
                p->scan_line = 0; /* trailer bytes */
            } else {
                p->total += p->remaining;
                sub = CH_DATA;
            }
            break;
        case CH_DATA: {
            size_t n = C1M_MIN(p->remaining, (uint64_t)(len - i));
            p->remaining -= n;
            if (p->remaining == 0)
                sub = CH_DATA_CR;
            p->sub = (uint8_t)sub;
            req->body = buf + i;
            req->body_len = n;
            *ev = C1M_HTTP_EV_BODY;
            return (ssize_t)(i + n);
        }
        case CH_DATA_CR:
            if (c != '\r')
                goto bad_chunk;
            sub = CH_DATA_LF;
            i++;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                goto bad_chunk;
            sub = CH_SIZE_START;
            i++;
            break;
        default: /* trailer section: validated like header fields, ignored */
            if (++p->scan_line > L->max_head) {
                p->sub = (uint8_t)sub;
                return fail(p, -C1M_HTTP_EHEADER_TOO_LARGE);
            }
            switch (sub) {
            case TR_LINE:
                if (c == '\r') {
                    sub = TR_END_LF;
                } else if (tchar[c]) {
                    if (++p->nlines > L->max_headers) {
                        p->sub = (uint8_t)sub;
                        return fail(p, -C1M_HTTP_ETOO_MANY_HEADERS);
                    }
                    sub = TR_NAME;
                } else {
                    p->sub = (uint8_t)sub;
                    return fail(p, is_ows((char)c) ? -C1M_HTTP_EOBS_FOLD : -C1M_HTTP_EBAD_CHUNK);
                }
                break;
            case TR_NAME:
                if (c == ':')
                    sub = TR_VALUE;
                else if (!tchar[c]) {
                    p->sub = (uint8_t)sub;
                    return fail(p, -C1M_HTTP_EBAD_HEADER_NAME);
                }
                break;
            case TR_VALUE:
                if (c == '\r')
                    sub = TR_LF;
                else if (!vchar[c]) {
                    p->sub = (uint8_t)sub;
                    return fail(p, c == '\n' ? -C1M_HTTP_EBAD_EOL : -C1M_HTTP_EBAD_HEADER_VALUE);
                }
                break;
            case TR_LF:
                if (c != '\n') {
                    p->sub = (uint8_t)sub;
                    return fail(p, -C1M_HTTP_EBAD_EOL);
                }
                sub = TR_LINE;
                break;
            case TR_END_LF:
                if (c != '\n') {
                    p->sub = (uint8_t)sub;
                    return fail(p, -C1M_HTTP_EBAD_EOL);
                }
                /* request complete */
                p->state = ST_HEAD;
                p->sub = 0;
                p->scan_line = p->scan_pos = 0;
                p->nlines = 0;
                *ev = C1M_HTTP_EV_DONE;
                return (ssize_t)(i + 1);
            }
            i++;
            break;
        }
    }
    p->sub = (uint8_t)sub;
    return (ssize_t)i;

bad_chunk:
    p->sub = (uint8_t)sub;
    return fail(p, -C1M_HTTP_EBAD_CHUNK);
}

ssize_t c1m_http_parse(c1m_http_parser_t *p, const char *buf, size_t len,
                       c1m_http_request_t *req, c1m_http_event_t *ev)
{
    *ev = C1M_HTTP_EV_NONE;
    switch (p->state) {
    case ST_HEAD:
        return do_head(p, buf, len, req, ev);
    case ST_CL: {
        if (len == 0)
            return 0;
        size_t n = C1M_MIN(p->remaining, (uint64_t)len);
        p->remaining -= n;
        if (p->remaining == 0)
            p->state = ST_DONE;
        req->body = buf;
        req->body_len = n;
        *ev = C1M_HTTP_EV_BODY;
        return (ssize_t)n;
    }
    case ST_CHUNK:
        return do_chunk(p, buf, len, req, ev);
    case ST_DONE:
        p->state = ST_HEAD;
        p->scan_line = p->scan_pos = 0;
        p->nlines = 0;
        *ev = C1M_HTTP_EV_DONE;
        return 0;
    default:
        return -(ssize_t)p->err;
    }
}
