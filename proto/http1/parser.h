/* HTTP/1.1 request parser: zero-copy, incremental, pipelining-aware.
 *
 * The parser never copies and never allocates. It works on a buffer the
 * caller owns and reports (offset, length) slices into it.
 *
 * Calling convention. `buf` always starts at the first byte the parser has
 * not consumed yet; `len` is how many bytes are available. Each call
 * returns how many bytes it consumed (>= 0) and one event, or a negative
 * error. After C1M_HTTP_EV_NONE ("need more") the caller keeps
 * buf[consumed..len), appends newly received bytes and calls again with
 * the same parser. Typical loop:
 *
 *     size_t off = 0;
 *     for (;;) {
 *         c1m_http_event_t ev;
 *         ssize_t n = c1m_http_parse(&p, data + off, len - off, &req, &ev);
 *         if (n < 0) { status = c1m_http_status_for_error((int)n); ...; break; }
 *         off += (size_t)n;
 *         if (ev == C1M_HTTP_EV_NONE) break;            // keep data[off..len)
 *         if (ev == C1M_HTTP_EV_HEAD) ...;             // req.* valid, relative to req.buf
 *         if (ev == C1M_HTTP_EV_BODY) ...;             // req.body, req.body_len
 *         if (ev == C1M_HTTP_EV_DONE) ...;             // whole request read
 *     }
 *
 * Request head. The head (request line + header fields + empty line) is
 * reported only once it is complete, and then it is contiguous in the
 * caller's buffer: while a head is incomplete the parser consumes nothing
 * (returns 0 / EV_NONE) and only remembers how far it has scanned, so a
 * head that trickles in byte by byte costs O(n) total, not O(n^2). On
 * C1M_HTTP_EV_HEAD the return value is the head length (plus any empty
 * lines skipped before the request line, RFC 9112 2.2); every slice in the
 * request (method, target, path, query, version, header names and values,
 * host) is an offset relative to req->buf, the first byte of the request
 * line — still valid if the caller later moves the bytes
 * (c1m_http_str(new_base, slice)). The caller must keep those bytes while
 * it needs the slices.
 *
 * Body. Content-Length and chunked bodies are delivered as
 * C1M_HTTP_EV_BODY slices (req->body points into `buf`, req->body_len) as
 * they arrive; chunk framing, extensions and trailers are consumed and
 * ignored. C1M_HTTP_EV_DONE follows the last body byte (or the head, if
 * there is no body); the parser is then ready for the next pipelined
 * request. A call returns at most one event; call again to get the next.
 *
 * CONNECT and Upgrade: the parser reports them (method, C1M_HTTP_F_UPGRADE)
 * but does not switch protocols; a caller that accepts one takes the bytes
 * after the head (and after EV_DONE) itself instead of parsing them.
 *
 * Errors are sticky: after a negative return the parser keeps returning
 * the same error until c1m_http_parser_init(); nothing is consumed. An
 * error in the request line is reported at the first byte that can never
 * be valid there (a TLS ClientHello's 0x16, a CTL in the method, a second
 * SP...), so garbage gets its 400 at once; an error in a field line as
 * soon as the line holding it is complete (or a limit is reached); errors that involve several fields (two Host
 * fields, conflicting Content-Length, CL with TE, missing Host...) once the
 * whole head is there; body errors at the offending byte. Hence the result
 * (events, body bytes, error) never depends on how the input was split
 * across calls — the unit tests and the fuzzer check exactly that.
 *
 * Per-connection state is the parser (40 bytes). The request (and its
 * header array) is scratch that any call may write and is meaningful right
 * after EV_HEAD (body/body_len after EV_BODY): one request per event loop
 * is enough if the caller copies what it needs for the body phase.
 */
#ifndef C1M_PROTO_HTTP1_PARSER_H
#define C1M_PROTO_HTTP1_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/common.h"

/* ---- limits ---------------------------------------------------------- */

typedef struct c1m_http_limits {
    /* Request line including its CRLF. Longer: C1M_HTTP_EURI_TOO_LONG (414). */
    uint32_t max_request_line;
    /* Whole head: request line + header fields + final CRLF. Larger:
     * C1M_HTTP_EHEADER_TOO_LARGE (431). Also bounds the trailer section. */
    uint32_t max_head;
    /* Header fields per request (and trailer fields). More:
     * C1M_HTTP_ETOO_MANY_HEADERS (431). */
    uint32_t max_headers;
    uint32_t _pad;
    /* Body bytes (Content-Length, or the sum of chunk sizes). Larger:
     * C1M_HTTP_EBODY_TOO_LARGE (413). */
    uint64_t max_body;
} c1m_http_limits_t;

#define C1M_HTTP_DEFAULT_MAX_REQUEST_LINE 8192u
#define C1M_HTTP_DEFAULT_MAX_HEAD         8192u
#define C1M_HTTP_DEFAULT_MAX_HEADERS      100u
#define C1M_HTTP_DEFAULT_MAX_BODY         (1024u * 1024u)

/* The defaults above. */
extern const c1m_http_limits_t c1m_http_default_limits;

/* Replace 0 fields by the defaults (and clamp max_headers to 65534), so a
 * config can set only what it changes. Call before c1m_http_parser_init(). */
void c1m_http_limits_normalize(c1m_http_limits_t *l);

/* ---- errors ---------------------------------------------------------- */

/* Parser errors are returned negated (like -errno) and live above the errno
 * range so they never collide with it. */
typedef enum c1m_http_error {
    C1M_HTTP_E_BASE = 0x1000,
    C1M_HTTP_EBAD_METHOD,          /* 400 method is not a token / no SP after it */
    C1M_HTTP_EBAD_TARGET,          /* 400 empty target, CTL/SP in target */
    C1M_HTTP_EBAD_VERSION,         /* 400 malformed HTTP-version */
    C1M_HTTP_EBAD_EOL,             /* 400 bare CR, bare LF, junk before CRLF */
    C1M_HTTP_EBAD_HEADER_NAME,     /* 400 empty name, non-token char, SP before ':' */
    C1M_HTTP_EBAD_HEADER_VALUE,    /* 400 control character in a field value */
    C1M_HTTP_EOBS_FOLD,            /* 400 line starting with SP/HTAB (obs-fold) */
    C1M_HTTP_ENO_HOST,             /* 400 HTTP/1.1 request without Host */
    C1M_HTTP_EBAD_HOST,            /* 400 several Host fields or invalid Host value */
    C1M_HTTP_EBAD_CONTENT_LENGTH,  /* 400 invalid, conflicting or overflowing CL */
    C1M_HTTP_ECL_AND_TE,           /* 400 Content-Length together with Transfer-Encoding */
    C1M_HTTP_EBAD_TRANSFER_ENCODING, /* 400 malformed TE list, chunked twice, TE in 1.0 */
    C1M_HTTP_EBAD_CHUNK,           /* 400 invalid chunk size / framing / trailer */
    C1M_HTTP_EBODY_TOO_LARGE,      /* 413 body larger than max_body */
    C1M_HTTP_EURI_TOO_LONG,        /* 414 request line longer than max_request_line */
    C1M_HTTP_EHEADER_TOO_LARGE,    /* 431 head (or trailers) larger than max_head */
    C1M_HTTP_ETOO_MANY_HEADERS,    /* 431 more than max_headers fields */
    C1M_HTTP_EUNSUPPORTED_TE,      /* 501 a transfer coding other than chunked, or chunked not last */
    C1M_HTTP_EVERSION,             /* 505 HTTP version other than 1.0 / 1.1 */
    C1M_HTTP_E_END
} c1m_http_error_t;

/* Status code for a parser error (negative or positive code). -EINVAL and
 * other non-parser errors map to 500; 0 maps to 200. */
int c1m_http_status_for_error(int err);
/* Short description of a parser error (for logs). Never NULL. */
const char *c1m_http_error_str(int err);
/* Reason phrase for a status code ("Bad Request"); "" if unknown. */
const char *c1m_http_reason_phrase(int status);

/* ---- request --------------------------------------------------------- */

typedef enum c1m_http_method {
    C1M_HTTP_OTHER = 0, /* any other token: see req->method_str */
    C1M_HTTP_GET,
    C1M_HTTP_HEAD,
    C1M_HTTP_POST,
    C1M_HTTP_PUT,
    C1M_HTTP_DELETE,
    C1M_HTTP_CONNECT,
    C1M_HTTP_OPTIONS,
    C1M_HTTP_TRACE,
    C1M_HTTP_PATCH,
} c1m_http_method_t;

const char *c1m_http_method_name(c1m_http_method_t m); /* "GET"...; "OTHER" */

/* A slice of the caller's buffer: offset from the request's first byte. */
typedef struct c1m_http_slice {
    uint32_t off;
    uint32_t len;
} c1m_http_slice_t;

typedef struct c1m_http_header {
    c1m_http_slice_t name;  /* as sent (case preserved) */
    c1m_http_slice_t value; /* leading/trailing SP/HTAB removed; may be empty */
} c1m_http_header_t;

/* Request flags (req->flags; also kept in the parser until the next head). */
#define C1M_HTTP_F_KEEP_ALIVE      0x0001u /* connection may be reused after this request */
#define C1M_HTTP_F_EXPECT_CONTINUE 0x0002u /* Expect: 100-continue (HTTP/1.1 only) */
#define C1M_HTTP_F_HOST            0x0004u /* a Host field was present (req->host) */
#define C1M_HTTP_F_CONTENT_LENGTH  0x0008u /* body framed by Content-Length */
#define C1M_HTTP_F_CHUNKED         0x0010u /* Transfer-Encoding: chunked */
#define C1M_HTTP_F_CONN_CLOSE      0x0020u /* Connection: close seen */
#define C1M_HTTP_F_CONN_KEEP_ALIVE 0x0040u /* Connection: keep-alive seen */
#define C1M_HTTP_F_UPGRADE         0x0080u /* Connection: upgrade seen (not acted on) */

typedef struct c1m_http_request {
    /* In: where to store header fields. headers may be NULL (fields are
     * still validated and counted, not stored); at most headers_cap are
     * stored, the rest only counted (nheaders is the real count). */
    c1m_http_header_t *headers;
    uint32_t headers_cap;

    /* Out, on C1M_HTTP_EV_HEAD. Offsets relative to `buf` below. */
    uint32_t nheaders;
    const char *buf;            /* first byte of the request line (in the call's buf) */
    uint32_t head_len;          /* bytes of the head, final CRLF included */
    uint32_t flags;             /* C1M_HTTP_F_* */
    c1m_http_method_t method;
    uint8_t version_major;      /* 1 */
    uint8_t version_minor;      /* 0 or 1 */
    c1m_http_slice_t method_str;
    c1m_http_slice_t target;    /* request-target as sent */
    c1m_http_slice_t path;      /* target up to '?' */
    c1m_http_slice_t query;     /* after '?' (len 0 if none; off at end of path) */
    c1m_http_slice_t version;   /* "HTTP/1.1" */
    c1m_http_slice_t host;      /* Host value if C1M_HTTP_F_HOST */
    uint64_t content_length;    /* if C1M_HTTP_F_CONTENT_LENGTH, else 0 */

    /* Out, on C1M_HTTP_EV_BODY: a slice of that call's `buf`. */
    const char *body;
    size_t body_len;
} c1m_http_request_t;

static inline const char *c1m_http_str(const char *base, c1m_http_slice_t s)
{
    return base + s.off;
}

/* Index of the first header named `name` (ASCII case-insensitive), or -1.
 * Only looks at stored headers. */
int c1m_http_find_header(const c1m_http_request_t *req, const char *name, size_t name_len);

/* ---- parser ---------------------------------------------------------- */

typedef enum c1m_http_event {
    C1M_HTTP_EV_NONE = 0, /* need more data: keep buf[ret..len) and call again */
    C1M_HTTP_EV_HEAD,     /* request head complete; req filled (header-read deadline may stop) */
    C1M_HTTP_EV_BODY,     /* req->body / req->body_len: next body bytes */
    C1M_HTTP_EV_DONE,     /* request complete (body included); next request may follow */
} c1m_http_event_t;

typedef struct c1m_http_parser {
    const c1m_http_limits_t *limits; /* never NULL after init */
    uint8_t state;      /* private */
    uint8_t sub;        /* private: chunk/trailer sub-state */
    uint16_t pflags;    /* private + the C1M_HTTP_F_* of the current request */
    uint32_t scan_line; /* private: head scan, start of the incomplete line */
    uint32_t scan_pos;  /* private: head scan, bytes already searched */
    uint16_t nlines;    /* private: head scan, complete field lines */
    uint16_t err;       /* private: sticky error (positive code) */
    uint64_t remaining; /* private: CL bytes left / chunk bytes left / chunk size */
    uint64_t total;     /* private: body bytes so far (chunked) / trailer bytes */
} c1m_http_parser_t;

/* limits NULL = c1m_http_default_limits. The limits object must outlive the
 * parser. */
void c1m_http_parser_init(c1m_http_parser_t *p, const c1m_http_limits_t *limits);

/* Parse. Returns bytes consumed (>= 0) and sets *ev, or a negative
 * c1m_http_error_t (map with c1m_http_status_for_error) or -EINVAL. */
ssize_t c1m_http_parse(c1m_http_parser_t *p, const char *buf, size_t len,
                       c1m_http_request_t *req, c1m_http_event_t *ev);

/* True once the current request's head is complete (until the next one
 * starts): the server stops its header-read deadline here. */
bool c1m_http_head_complete(const c1m_http_parser_t *p);
/* True between requests: the previous request (if any) was completely
 * read and nothing of the next one has been consumed. */
bool c1m_http_idle(const c1m_http_parser_t *p);
/* Keep-alive decision for the current/last request: 1.1 unless
 * "Connection: close"; 1.0 only with "Connection: keep-alive". */
bool c1m_http_keep_alive(const c1m_http_parser_t *p);

#endif
