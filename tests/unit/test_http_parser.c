/* Unit tests for the HTTP/1.1 request parser (proto/http1/parser.h).
 *
 * Table-driven: every case is a complete input and the expected event log.
 * Each case is fed whole, byte by byte, and in many random splits (the
 * caller keeps unconsumed bytes and appends, like the engine does); every
 * feeding must produce the same log and the same error code. Each call gets
 * a fresh exact-size copy of the unconsumed bytes, so ASan catches any read
 * past `len`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>

#include <cmocka.h>

#include "proto/http1/parser.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- harness ---------------------------------------------------------- */

typedef struct {
    char log[32768];
    size_t loglen;
    int err; /* negative parser error, or 0 */
} result_t;

static void logf_(result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(result_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->log + r->loglen, sizeof(r->log) - r->loglen, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(r->log) - r->loglen);
    r->loglen += (size_t)n;
}

#define SL(req, s) (int)(s).len, c1m_http_str((req)->buf, (s))

static void log_head(result_t *r, const c1m_http_request_t *req)
{
    logf_(r, "H %s/%.*s %.*s path=%.*s q=%.*s %d.%d", c1m_http_method_name(req->method),
          SL(req, req->method_str), SL(req, req->target), SL(req, req->path),
          SL(req, req->query), req->version_major, req->version_minor);
    if (req->flags & C1M_HTTP_F_KEEP_ALIVE)
        logf_(r, " ka");
    if (req->flags & C1M_HTTP_F_EXPECT_CONTINUE)
        logf_(r, " 100");
    if (req->flags & C1M_HTTP_F_HOST)
        logf_(r, " host=%.*s", SL(req, req->host));
    if (req->flags & C1M_HTTP_F_CONTENT_LENGTH)
        logf_(r, " cl=%llu", (unsigned long long)req->content_length);
    if (req->flags & C1M_HTTP_F_CHUNKED)
        logf_(r, " chunked");
    logf_(r, " n=%u|", req->nheaders);
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

enum { FEED_WHOLE, FEED_BYTES, FEED_RANDOM };

/* Feed `in` as a network would: segments per `mode`; after each segment
 * parse until EV_NONE, keeping the unconsumed bytes. */
static void feed(const char *in, size_t inlen, const c1m_http_limits_t *lim, int mode,
                 size_t maxseg, result_t *r)
{
    c1m_http_parser_t p;
    c1m_http_parser_init(&p, lim);
    static c1m_http_header_t hdrs[256];
    c1m_http_request_t req = {.headers = hdrs, .headers_cap = 256};
    char *body = malloc(inlen + 1);
    size_t blen = 0, recv = 0, off = 0;
    bool in_head = true;
    assert_non_null(body);
    memset(r, 0, sizeof(*r));

    while (recv < inlen) {
        size_t seg = inlen - recv;
        if (mode == FEED_BYTES)
            seg = 1;
        else if (mode == FEED_RANDOM) {
            size_t want = 1 + (size_t)(rnd() % maxseg);
            seg = C1M_MIN(seg, want);
        }
        recv += seg;
        for (;;) {
            size_t avail = recv - off;
            char *copy = malloc(avail ? avail : 1);
            assert_non_null(copy);
            memcpy(copy, in + off, avail);
            c1m_http_event_t ev = C1M_HTTP_EV_DONE;
            ssize_t n = c1m_http_parse(&p, copy, avail, &req, &ev);
            if (n < 0) {
                logf_(r, "E%d|", c1m_http_status_for_error((int)n));
                r->err = (int)n;
                /* errors are sticky */
                assert_int_equal(c1m_http_parse(&p, copy, avail, &req, &ev), n);
                assert_false(c1m_http_keep_alive(&p));
                free(copy);
                free(body);
                return;
            }
            assert_true((size_t)n <= avail);
            switch (ev) {
            case C1M_HTTP_EV_HEAD:
                assert_true(in_head);
                assert_true(req.buf >= copy && req.buf + req.head_len == copy + n);
                assert_true(c1m_http_head_complete(&p));
                assert_int_equal(!!(req.flags & C1M_HTTP_F_KEEP_ALIVE), c1m_http_keep_alive(&p));
                log_head(r, &req);
                in_head = false;
                break;
            case C1M_HTTP_EV_BODY:
                assert_false(in_head);
                assert_true(req.body >= copy && req.body + req.body_len <= copy + n);
                assert_true(req.body_len > 0);
                memcpy(body + blen, req.body, req.body_len);
                blen += req.body_len;
                break;
            case C1M_HTTP_EV_DONE:
                assert_false(in_head);
                if (blen <= 256) {
                    logf_(r, "D:%.*s|", (int)blen, body);
                } else {
                    uint64_t h = 14695981039346656037ull;
                    for (size_t k = 0; k < blen; k++)
                        h = (h ^ (unsigned char)body[k]) * 1099511628211ull;
                    logf_(r, "D:#%zu:%016llx|", blen, (unsigned long long)h);
                }
                blen = 0;
                in_head = true;
                assert_true(c1m_http_idle(&p));
                break;
            case C1M_HTTP_EV_NONE:
                break;
            }
            if (ev == C1M_HTTP_EV_NONE && n == 0 && avail > 0) {
                /* no progress possible: a second call must agree */
                ssize_t n2 = c1m_http_parse(&p, copy, avail, &req, &ev);
                assert_int_equal(n2, 0);
                assert_int_equal(ev, C1M_HTTP_EV_NONE);
            }
            free(copy);
            off += (size_t)n;
            if (ev == C1M_HTTP_EV_NONE)
                break;
        }
    }
    if (!c1m_http_idle(&p) || off != inlen)
        logf_(r, "...");
    free(body);
}

/* Run all feedings; all must match `expect` (and each other's error). */
static void check_splits(const char *name, const char *in, size_t inlen,
                         const c1m_http_limits_t *lim, const char *expect)
{
    static result_t whole, other;
    feed(in, inlen, lim, FEED_WHOLE, 0, &whole);
    if (strcmp(whole.log, expect) != 0) {
        print_error("case %s (whole):\n  got    %s\n  expect %s\n", name, whole.log, expect);
        fail();
    }
    feed(in, inlen, lim, FEED_BYTES, 0, &other);
    if (strcmp(other.log, expect) != 0 || other.err != whole.err) {
        print_error("case %s (byte by byte):\n  got    %s (%d)\n  expect %s (%d)\n", name,
                    other.log, other.err, expect, whole.err);
        fail();
    }
    static const size_t maxsegs[] = {2, 3, 7, 16, 64, 1000};
    rng_state = 0x9e3779b97f4a7c15ull ^ inlen;
    for (size_t k = 0; k < C1M_ARRAY_LEN(maxsegs); k++) {
        for (int t = 0; t < 6; t++) {
            feed(in, inlen, lim, FEED_RANDOM, maxsegs[k], &other);
            if (strcmp(other.log, expect) != 0 || other.err != whole.err) {
                print_error("case %s (random, maxseg %zu):\n  got    %s (%d)\n  expect %s (%d)\n",
                            name, maxsegs[k], other.log, other.err, expect, whole.err);
                fail();
            }
        }
    }
}

/* ---- table ------------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *in;
    size_t inlen;
    const char *expect; /* event log */
    int err;            /* expected exact error code (positive), 0 = any/none */
} tcase_t;

#define BROWSER_GET                                                                      \
    "GET /static/app/main.css?v=1.4.2 HTTP/1.1\r\n"                                      \
    "Host: www.example.com\r\n"                                                          \
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n" \
    "Accept: text/css,*/*;q=0.1\r\n"                                                     \
    "Accept-Language: en-US,en;q=0.5\r\n"                                                \
    "Accept-Encoding: gzip, deflate, br\r\n"                                             \
    "Referer: https://www.example.com/index.html\r\n"                                    \
    "Connection: keep-alive\r\n"                                                         \
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; lang=en\r\n"          \
    "Sec-Fetch-Dest: style\r\n"                                                          \
    "Sec-Fetch-Mode: no-cors\r\n"                                                        \
    "Sec-Fetch-Site: same-origin\r\n"                                                    \
    "If-None-Match: \"5f2b-1a2b3c4d\"\r\n"                                               \
    "Cache-Control: max-age=0\r\n"                                                       \
    "\r\n"

#define H11 " HTTP/1.1\r\nHost: a\r\n"

static const tcase_t cases[] = {
    /* --- well-formed --- */
    {"simple", S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), "H GET/GET / path=/ q= 1.1 ka host=a n=1|D:|", 0},
    {"query", S("GET /p/x?a=1&b=2?c HTTP/1.1\r\nHost: a\r\n\r\n"),
     "H GET/GET /p/x?a=1&b=2?c path=/p/x q=a=1&b=2?c 1.1 ka host=a n=1|D:|", 0},
    {"empty query", S("GET /p? HTTP/1.1\r\nHost: a\r\n\r\n"),
     "H GET/GET /p? path=/p q= 1.1 ka host=a n=1|D:|", 0},
    {"browser", S(BROWSER_GET),
     "H GET/GET /static/app/main.css?v=1.4.2 path=/static/app/main.css q=v=1.4.2 1.1 ka "
     "host=www.example.com n=13|D:|", 0},
    {"1.0 close", S("GET / HTTP/1.0\r\n\r\n"), "H GET/GET / path=/ q= 1.0 n=0|D:|", 0},
    {"1.0 keep-alive", S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
     "H GET/GET / path=/ q= 1.0 ka n=1|D:|", 0},
    {"1.0 keep-alive+close", S("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
     "H GET/GET / path=/ q= 1.0 n=1|D:|", 0},
    {"1.0 with host", S("HEAD /x HTTP/1.0\r\nHost: h\r\n\r\n"),
     "H HEAD/HEAD /x path=/x q= 1.0 host=h n=1|D:|", 0},
    {"1.1 close", S("GET /" H11 "Connection: close\r\n\r\n"),
     "H GET/GET / path=/ q= 1.1 host=a n=2|D:|", 0},
    {"1.1 close in list", S("GET /" H11 "Connection: upgrade,  CLOSE \r\n\r\n"),
     "H GET/GET / path=/ q= 1.1 host=a n=2|D:|", 0},
    {"1.1 keep-alive explicit", S("GET /" H11 "connection: keep-alive\r\n\r\n"),
     "H GET/GET / path=/ q= 1.1 ka host=a n=2|D:|", 0},
    {"1.1 two Connection lines", S("GET /" H11 "Connection: keep-alive\r\nConnection: close\r\n\r\n"),
     "H GET/GET / path=/ q= 1.1 host=a n=3|D:|", 0},
    {"content-length", S("POST /x" H11 "Content-Length: 5\r\n\r\nhello"),
     "H POST/POST /x path=/x q= 1.1 ka host=a cl=5 n=2|D:hello|", 0},
    {"content-length 0", S("POST /x" H11 "Content-Length: 0\r\n\r\n"),
     "H POST/POST /x path=/x q= 1.1 ka host=a cl=0 n=2|D:|", 0},
    {"content-length leading zeros", S("PUT /x" H11 "content-length: 0003\r\n\r\nabc"),
     "H PUT/PUT /x path=/x q= 1.1 ka host=a cl=3 n=2|D:abc|", 0},
    {"content-length duplicate equal", S("POST /x" H11 "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
     "H POST/POST /x path=/x q= 1.1 ka host=a cl=3 n=3|D:abc|", 0},
    {"content-length OWS", S("POST /x" H11 "Content-Length:\t 3 \t\r\n\r\nabc"),
     "H POST/POST /x path=/x q= 1.1 ka host=a cl=3 n=2|D:abc|", 0},
    {"expect 100-continue", S("PUT /u" H11 "Expect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi"),
     "H PUT/PUT /u path=/u q= 1.1 ka 100 host=a cl=2 n=3|D:hi|", 0},
    {"expect ignored in 1.0", S("PUT /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"),
     "H PUT/PUT /u path=/u q= 1.0 cl=2 n=2|D:hi|", 0},
    {"expect other", S("PUT /u" H11 "Expect: 200-ok\r\n\r\n"),
     "H PUT/PUT /u path=/u q= 1.1 ka host=a n=2|D:|", 0},
    {"chunked", S("POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n6;ext=1;q=\"x y\"\r\n world\r\n0\r\n\r\n"),
     "H POST/POST /c path=/c q= 1.1 ka host=a chunked n=2|D:hello world|", 0},
    {"chunked trailers", S("POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n0;last\r\nX-Checksum: 1234\r\nY:\r\n\r\n"),
     "H POST/POST /c path=/c q= 1.1 ka host=a chunked n=2|D:abc|", 0},
    {"chunked hex case", S("POST /c" H11 "transfer-encoding: CHUNKED\r\n\r\n"
                            "a\r\n0123456789\r\nA\r\nabcdefghij\r\n00\r\n\r\n"),
     "H POST/POST /c path=/c q= 1.1 ka host=a chunked n=2|D:0123456789abcdefghij|", 0},
    {"chunked BWS ext", S("POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
                           "1 \t;a=b\r\nx\r\n0\r\n\r\n"),
     "H POST/POST /c path=/c q= 1.1 ka host=a chunked n=2|D:x|", 0},
    {"chunked leading zeros", S("POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
                                 "0000000000000001\r\nx\r\n0\r\n\r\n"),
     "H POST/POST /c path=/c q= 1.1 ka host=a chunked n=2|D:x|", 0},
    {"chunked empty", S("POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
     "H POST/POST /c path=/c q= 1.1 ka host=a chunked n=2|D:|", 0},
    {"chunked binary data", S("POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
                               "4\r\n\r\n\0\n\r\n0\r\n\r\n"),
     "H POST/POST /c path=/c q= 1.1 ka host=a chunked n=2|D:\r\n|", 0},
    {"pipelined", S("GET /1" H11 "\r\n"
                    "POST /2" H11 "Content-Length: 3\r\n\r\nabc"
                    "POST /3" H11 "Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
                    "GET /4 HTTP/1.0\r\n\r\n"
                    "GET /5" H11 "Connection: close\r\n\r\n"),
     "H GET/GET /1 path=/1 q= 1.1 ka host=a n=1|D:|"
     "H POST/POST /2 path=/2 q= 1.1 ka host=a cl=3 n=2|D:abc|"
     "H POST/POST /3 path=/3 q= 1.1 ka host=a chunked n=2|D:de|"
     "H GET/GET /4 path=/4 q= 1.0 n=0|D:|"
     "H GET/GET /5 path=/5 q= 1.1 host=a n=2|D:|", 0},
    {"pipelined partial tail", S("GET /1" H11 "\r\nGET /2 HTTP/1.1\r\nHo"),
     "H GET/GET /1 path=/1 q= 1.1 ka host=a n=1|D:|...", 0},
    {"leading empty lines", S("\r\n\r\nGET /" H11 "\r\n"), "H GET/GET / path=/ q= 1.1 ka host=a n=1|D:|", 0},
    {"host OWS", S("GET / HTTP/1.1\r\nHost: \t a.b:80 \t\r\n\r\n"),
     "H GET/GET / path=/ q= 1.1 ka host=a.b:80 n=1|D:|", 0},
    {"host empty", S("GET / HTTP/1.1\r\nHost:\r\n\r\n"), "H GET/GET / path=/ q= 1.1 ka host= n=1|D:|", 0},
    {"host ipv6", S("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
     "H GET/GET / path=/ q= 1.1 ka host=[::1]:8080 n=1|D:|", 0},
    {"methods", S("DELETE /d" H11 "\r\nOPTIONS *" H11 "\r\nCONNECT a:443" H11 "\r\n"
                  "PATCH /p" H11 "\r\nTRACE /t" H11 "\r\nPURGE /x" H11 "\r\n"),
     "H DELETE/DELETE /d path=/d q= 1.1 ka host=a n=1|D:|"
     "H OPTIONS/OPTIONS * path=* q= 1.1 ka host=a n=1|D:|"
     "H CONNECT/CONNECT a:443 path=a:443 q= 1.1 ka host=a n=1|D:|"
     "H PATCH/PATCH /p path=/p q= 1.1 ka host=a n=1|D:|"
     "H TRACE/TRACE /t path=/t q= 1.1 ka host=a n=1|D:|"
     "H OTHER/PURGE /x path=/x q= 1.1 ka host=a n=1|D:|", 0},
    {"lowercase method is other", S("get /" H11 "\r\n"), "H OTHER/get / path=/ q= 1.1 ka host=a n=1|D:|", 0},
    {"absolute form", S("GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n"),
     "H GET/GET http://a.example/x?y path=http://a.example/x q=y 1.1 ka host=a.example n=1|D:|", 0},
    {"obs-text and htab in value", S("GET /" H11 "X: caf\xc3\xa9\tok\r\n\r\n"),
     "H GET/GET / path=/ q= 1.1 ka host=a n=2|D:|", 0},
    {"empty value", S("GET /" H11 "X:\r\nY: \r\n\r\n"), "H GET/GET / path=/ q= 1.1 ka host=a n=3|D:|", 0},
    {"token name chars", S("GET /" H11 "!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n"),
     "H GET/GET / path=/ q= 1.1 ka host=a n=2|D:|", 0},
    {"GET with body", S("GET /" H11 "Content-Length: 2\r\n\r\nxy"),
     "H GET/GET / path=/ q= 1.1 ka host=a cl=2 n=2|D:xy|", 0},

    /* --- 400: request line --- */
    {"bad method char", S("G(T /" H11 "\r\n"), "E400|", C1M_HTTP_EBAD_METHOD},
    {"leading space", S(" GET /" H11 "\r\n"), "E400|", C1M_HTTP_EBAD_METHOD},
    {"tab after method", S("GET\t/" H11 "\r\n"), "E400|", C1M_HTTP_EBAD_METHOD},
    {"double space", S("GET  /" H11 "\r\n"), "E400|", C1M_HTTP_EBAD_TARGET},
    {"nul in target", S("GET /a\0b" H11 "\r\n"), "E400|", C1M_HTTP_EBAD_TARGET},
    {"del in target", S("GET /a\x7f" H11 "\r\n"), "E400|", C1M_HTTP_EBAD_TARGET},
    {"bare CR in target", S("GET /a\rb" H11 "\r\n"), "E400|", C1M_HTTP_EBAD_VERSION},
    {"no version", S("GET /\r\nHost: a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_VERSION},
    {"lowercase version", S("GET / http/1.1\r\nHost: a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_VERSION},
    {"version 1.10", S("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_VERSION},
    {"version trailing space", S("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_VERSION},
    {"version short", S("GET / HTTP/1\r\nHost: a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_VERSION},
    {"version 10.0", S("GET / HTTP/10.0\r\nHost: a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_VERSION},
    {"request line bare LF", S("GET / HTTP/1.1\nHost: a\n\n"), "E400|", C1M_HTTP_EBAD_EOL},
    {"request line bare CR", S("GET / HTTP/1.1\rHost: a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_EOL},
    {"tls client hello", S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), "E400|", C1M_HTTP_EBAD_METHOD},
    {"empty line then junk", S("\r\n \r\n"), "E400|", C1M_HTTP_EBAD_METHOD},
    {"leading bare LF", S("\nGET /" H11 "\r\n"), "E400|", C1M_HTTP_EBAD_METHOD},

    /* --- 400: header fields --- */
    {"space before colon", S("GET /" H11 "Host : b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_NAME},
    {"tab before colon", S("GET /" H11 "X\t: b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_NAME},
    {"TE space before colon", S("POST /" H11 "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_HEADER_NAME},
    {"empty name", S("GET /" H11 ": b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_NAME},
    {"no colon", S("GET /" H11 "Xyz\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_NAME},
    {"ctl in name", S("GET /" H11 "X\x01y: b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_NAME},
    {"utf8 in name", S("GET /" H11 "X\xc3\xa9: b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_NAME},
    {"obs-fold", S("GET /" H11 "X: a\r\n b\r\n\r\n"), "E400|", C1M_HTTP_EOBS_FOLD},
    {"obs-fold tab", S("GET /" H11 "X: a\r\n\tb\r\n\r\n"), "E400|", C1M_HTTP_EOBS_FOLD},
    {"first line folded", S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), "E400|", C1M_HTTP_EOBS_FOLD},
    {"bare CR in value", S("GET /" H11 "X: a\rb\r\n\r\n"), "E400|", C1M_HTTP_EBAD_EOL},
    {"CR CR LF", S("GET /" H11 "X: a\r\r\n\r\n"), "E400|", C1M_HTTP_EBAD_EOL},
    {"bare LF in value", S("GET /" H11 "X: a\nY: b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_EOL},
    {"bare LF end of head", S("GET /" H11 "\n"), "E400|", C1M_HTTP_EBAD_EOL},
    {"bare CR end of head", S("GET /" H11 "\rX\r\n\r\n"), "E400|", C1M_HTTP_EBAD_EOL},
    /* an error in a field line is reported once the line is complete; in
     * the request line at the offending byte */
    {"bare CR, line incomplete", S("GET /" H11 "\rX"), "...", 0},
    {"bad method, line incomplete: refused at once", S("G(T / HTTP/1.1"), "E400|", C1M_HTTP_EBAD_METHOD},
    {"nul in value, line incomplete", S("GET /" H11 "X: \0"), "...", 0},
    {"nul in value", S("GET /" H11 "X: a\0b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_VALUE},
    {"del in value", S("GET /" H11 "X: a\x7f\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_VALUE},
    {"esc in value", S("GET /" H11 "X: 0123456789abcdef0123\x1b[0m\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HEADER_VALUE},
    {"no host 1.1", S("GET / HTTP/1.1\r\nX: y\r\n\r\n"), "E400|", C1M_HTTP_ENO_HOST},
    {"two hosts", S("GET /" H11 "Host: b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HOST},
    {"two hosts same", S("GET /" H11 "host: a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HOST},
    {"host with space", S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HOST},
    {"host with slash", S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HOST},
    {"host with userinfo", S("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), "E400|", C1M_HTTP_EBAD_HOST},

    /* --- 400: message framing / smuggling --- */
    {"CL conflicting", S("POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), "E400|",
     C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL plus sign", S("POST /" H11 "Content-Length: +5\r\n\r\nhello"), "E400|", C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL negative", S("POST /" H11 "Content-Length: -1\r\n\r\n"), "E400|", C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL space inside", S("POST /" H11 "Content-Length: 1 2\r\n\r\n"), "E400|", C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL list", S("POST /" H11 "Content-Length: 5, 5\r\n\r\nhello"), "E400|", C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL hex", S("POST /" H11 "Content-Length: 0x5\r\n\r\nhello"), "E400|", C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL empty", S("POST /" H11 "Content-Length: \r\n\r\n"), "E400|", C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL decimal", S("POST /" H11 "Content-Length: 5.0\r\n\r\nhello"), "E400|", C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL overflow", S("POST /" H11 "Content-Length: 18446744073709551616\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL overflow long", S("POST /" H11 "Content-Length: 99999999999999999999999999\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"CL + TE", S("POST /" H11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_ECL_AND_TE},
    {"TE + CL", S("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_ECL_AND_TE},
    {"TE + bad CL", S("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_CONTENT_LENGTH},
    {"TE chunked twice", S("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_TRANSFER_ENCODING},
    {"TE chunked twice lines", S("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
     "E400|", C1M_HTTP_EBAD_TRANSFER_ENCODING},
    {"TE empty", S("POST /" H11 "Transfer-Encoding: \r\n\r\n"), "E400|", C1M_HTTP_EBAD_TRANSFER_ENCODING},
    {"TE empty element", S("POST /" H11 "Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_TRANSFER_ENCODING},
    {"TE trailing comma", S("POST /" H11 "Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_TRANSFER_ENCODING},
    {"TE space in token", S("POST /" H11 "Transfer-Encoding: chun ked\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_TRANSFER_ENCODING},
    {"TE quoted", S("POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_TRANSFER_ENCODING},
    {"TE in 1.0", S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "E400|",
     C1M_HTTP_EBAD_TRANSFER_ENCODING},

    /* --- 400: chunked body --- */
    {"chunk size junk", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size negative", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size plus", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size empty", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size leading space", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size space inside", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n1 0\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size trailing space", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size 0x", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size overflow", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk size bare LF", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk ext bare LF", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n1;a\nx\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk ext bare CR", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n1;a\rb\r\nx\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk data too long", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"chunk data bare LF", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"last chunk bare LF", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_CHUNK},
    {"trailer obs-fold", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EOBS_FOLD},
    {"trailer space before colon", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX : a\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_HEADER_NAME},
    {"trailer nul", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\0\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_HEADER_VALUE},
    {"trailer bare CR", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\rb\r\n\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E400|", C1M_HTTP_EBAD_EOL},

    /* --- 413 --- */
    {"CL too large", S("POST /" H11 "Content-Length: 1048577\r\n\r\n"), "E413|", C1M_HTTP_EBODY_TOO_LARGE},
    {"CL max u64", S("POST /" H11 "Content-Length: 18446744073709551615\r\n\r\n"), "E413|",
     C1M_HTTP_EBODY_TOO_LARGE},
    {"chunk too large", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n100001\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E413|", C1M_HTTP_EBODY_TOO_LARGE},
    {"chunk max", S("POST /" H11 "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"),
     "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E413|", C1M_HTTP_EBODY_TOO_LARGE},

    /* --- 501 --- */
    {"TE gzip", S("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n"), "E501|", C1M_HTTP_EUNSUPPORTED_TE},
    {"TE identity", S("POST /" H11 "Transfer-Encoding: identity\r\n\r\n"), "E501|", C1M_HTTP_EUNSUPPORTED_TE},
    {"TE chunked, identity", S("POST /" H11 "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"), "E501|",
     C1M_HTTP_EUNSUPPORTED_TE},
    {"TE gzip, chunked", S("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), "E501|",
     C1M_HTTP_EUNSUPPORTED_TE},
    {"TE chunked then gzip line", S("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"),
     "E501|", C1M_HTTP_EUNSUPPORTED_TE},
    {"TE chunked params", S("POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n"), "E501|",
     C1M_HTTP_EUNSUPPORTED_TE},

    /* --- 505 --- */
    {"HTTP/2.0", S("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), "E505|", C1M_HTTP_EVERSION},
    {"HTTP/1.2", S("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), "E505|", C1M_HTTP_EVERSION},
    {"HTTP/0.9", S("GET / HTTP/0.9\r\n\r\n"), "E505|", C1M_HTTP_EVERSION},
    {"h2 preface", S("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "E505|", C1M_HTTP_EVERSION},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < C1M_ARRAY_LEN(cases); i++) {
        const tcase_t *c = &cases[i];
        check_splits(c->name, c->in, c->inlen, NULL, c->expect);
        if (c->err) {
            result_t r;
            feed(c->in, c->inlen, NULL, FEED_WHOLE, 0, &r);
            if (r.err != -c->err) {
                print_error("case %s: error %d (%s), expected %d (%s)\n", c->name, -r.err,
                            c1m_http_error_str(r.err), c->err, c1m_http_error_str(c->err));
                fail();
            }
        }
    }
}

/* ---- headers and request fields -------------------------------------- */

static void test_header_slices(void **state)
{
    (void)state;
    static const char in[] = BROWSER_GET "GET /next HTTP/1.1\r\n";
    c1m_http_parser_t p;
    c1m_http_header_t h[32];
    c1m_http_request_t req = {.headers = h, .headers_cap = 32};
    c1m_http_event_t ev;
    c1m_http_parser_init(&p, NULL);
    assert_true(c1m_http_idle(&p));
    assert_false(c1m_http_head_complete(&p));

    ssize_t n = c1m_http_parse(&p, in, sizeof(in) - 1, &req, &ev);
    assert_int_equal(ev, C1M_HTTP_EV_HEAD);
    assert_int_equal(n, sizeof(BROWSER_GET) - 1);
    assert_int_equal(req.head_len, n);
    assert_ptr_equal(req.buf, in);
    assert_true(c1m_http_head_complete(&p));
    assert_false(c1m_http_idle(&p));
    assert_int_equal(req.nheaders, 13);
    assert_memory_equal(c1m_http_str(in, req.version), "HTTP/1.1", 8);
    assert_int_equal(req.method, C1M_HTTP_GET);

    int i = c1m_http_find_header(&req, S("user-agent"));
    assert_int_equal(i, 1);
    assert_int_equal(h[i].name.len, 10);
    assert_memory_equal(c1m_http_str(in, h[i].name), "User-Agent", 10);
    const char *ua = "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0";
    assert_int_equal(h[i].value.len, strlen(ua));
    assert_memory_equal(c1m_http_str(in, h[i].value), ua, strlen(ua));
    i = c1m_http_find_header(&req, S("IF-NONE-MATCH"));
    assert_int_equal(i, 11);
    assert_memory_equal(c1m_http_str(in, h[i].value), "\"5f2b-1a2b3c4d\"", 15);
    assert_int_equal(c1m_http_find_header(&req, S("x-missing")), -1);
    assert_int_equal(c1m_http_find_header(&req, S("Host")), 0);
    assert_memory_equal(c1m_http_str(in, req.host), "www.example.com", 15);

    /* no body: DONE without consuming; then the next (partial) request */
    n = c1m_http_parse(&p, in + sizeof(BROWSER_GET) - 1, 20, &req, &ev);
    assert_int_equal(n, 0);
    assert_int_equal(ev, C1M_HTTP_EV_DONE);
    assert_true(c1m_http_keep_alive(&p));
    assert_true(c1m_http_idle(&p));
    n = c1m_http_parse(&p, in + sizeof(BROWSER_GET) - 1, 20, &req, &ev);
    assert_int_equal(n, 0);
    assert_int_equal(ev, C1M_HTTP_EV_NONE);
    assert_false(c1m_http_idle(&p));
    /* the caller must not drop bytes it was told to keep */
    assert_int_equal(c1m_http_parse(&p, in + sizeof(BROWSER_GET) - 1, 5, &req, &ev), -EINVAL);
}

static void test_header_storage(void **state)
{
    (void)state;
    static const char in[] = "GET / HTTP/1.1\r\nA: 1\r\nHost: h\r\nB:  2 \r\nC: 3\r\n\r\n";
    c1m_http_parser_t p;
    c1m_http_header_t h[2];
    c1m_http_request_t req = {.headers = h, .headers_cap = 2};
    c1m_http_event_t ev;

    /* more fields than the array: first two stored, all counted */
    c1m_http_parser_init(&p, NULL);
    assert_int_equal(c1m_http_parse(&p, S(in), &req, &ev), sizeof(in) - 1);
    assert_int_equal(ev, C1M_HTTP_EV_HEAD);
    assert_int_equal(req.nheaders, 4);
    assert_memory_equal(c1m_http_str(in, h[1].value), "h", 1);
    assert_int_equal(c1m_http_find_header(&req, S("B")), -1);
    assert_true(req.flags & C1M_HTTP_F_HOST);

    /* no array at all */
    c1m_http_request_t req2 = {0};
    c1m_http_parser_init(&p, NULL);
    assert_int_equal(c1m_http_parse(&p, S(in), &req2, &ev), sizeof(in) - 1);
    assert_int_equal(req2.nheaders, 4);
    assert_memory_equal(c1m_http_str(in, req2.host), "h", 1);

    /* value OWS trimmed on both sides */
    c1m_http_header_t h4[4];
    c1m_http_request_t req3 = {.headers = h4, .headers_cap = 4};
    c1m_http_parser_init(&p, NULL);
    assert_int_equal(c1m_http_parse(&p, S(in), &req3, &ev), sizeof(in) - 1);
    assert_int_equal(h4[2].value.len, 1);
    assert_memory_equal(c1m_http_str(in, h4[2].value), "2", 1);
}

/* Body slices point into the caller's buffer (zero copy). */
static void test_body_zero_copy(void **state)
{
    (void)state;
    static const char in[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n";
    c1m_http_parser_t p;
    c1m_http_request_t req = {0};
    c1m_http_event_t ev;
    c1m_http_parser_init(&p, NULL);
    size_t off = 0;
    ssize_t n = c1m_http_parse(&p, in, sizeof(in) - 1, &req, &ev);
    assert_int_equal(ev, C1M_HTTP_EV_HEAD);
    off += (size_t)n;
    n = c1m_http_parse(&p, in + off, sizeof(in) - 1 - off, &req, &ev);
    assert_int_equal(ev, C1M_HTTP_EV_BODY);
    assert_ptr_equal(req.body, strstr(in, "hello"));
    assert_int_equal(req.body_len, 5);
    off += (size_t)n;
    n = c1m_http_parse(&p, in + off, sizeof(in) - 1 - off, &req, &ev);
    assert_int_equal(ev, C1M_HTTP_EV_DONE);
    off += (size_t)n;
    assert_int_equal(off, sizeof(in) - 1);
}

/* ---- limits ----------------------------------------------------------- */

static char *build(size_t *len, const char *head, size_t nfill, char fill, const char *tail)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *s = malloc(hl + nfill + tl + 1);
    assert_non_null(s);
    memcpy(s, head, hl);
    memset(s + hl, fill, nfill);
    memcpy(s + hl + nfill, tail, tl + 1);
    *len = hl + nfill + tl;
    return s;
}

static void test_limits_request_line(void **state)
{
    (void)state;
    size_t len;
    /* default: request line incl. CRLF <= 8192 bytes */
    size_t fill = 8192 - strlen("GET /") - strlen(" HTTP/1.1\r\n");
    char *s = build(&len, "GET /", fill, 'a', " HTTP/1.1\r\nHost: a\r\n\r\n");
    c1m_http_limits_t big = c1m_http_default_limits;
    big.max_head = 16384;
    static char expect[20000];
    snprintf(expect, sizeof(expect), "H GET/GET /%.*s path=/%.*s q= 1.1 ka host=a n=1|D:|", (int)fill,
             s + 5, (int)fill, s + 5);
    check_splits("request line at limit", s, len, &big, expect);
    free(s);
    s = build(&len, "GET /", fill + 1, 'a', " HTTP/1.1\r\nHost: a\r\n\r\n");
    check_splits("request line over limit", s, len, &big, "E414|");
    check_splits("request line over limit (default head)", s, len, NULL, "E414|");
    free(s);
    /* an unterminated long line is rejected once the limit is reached */
    s = build(&len, "GET /", 9000, 'a', "");
    check_splits("request line unterminated", s, len, NULL, "E414|");
    free(s);
    /* an invalid byte in the request line is refused when it arrives,
     * even if the line would also be over the limit */
    s = build(&len, "GET /a\x01", 9000, 'a', "");
    check_splits("bad target, line over limit", s, len, NULL, "E400|");
    free(s);
    s = build(&len, "GET /a\x01", 100, 'a', " HTTP/1.1\r\n");
    check_splits("bad target, line complete", s, len, NULL, "E400|");
    free(s);

    /* small configured limit */
    c1m_http_limits_t lim = c1m_http_default_limits;
    lim.max_request_line = 32;
    check_splits("small line ok", S("GET /0123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n"), &lim,
                 "H GET/GET /0123456789abcdef path=/0123456789abcdef q= 1.1 ka host=a n=1|D:|");
    check_splits("small line over", S("GET /0123456789abcdefg HTTP/1.1\r\nHost: a\r\n\r\n"), &lim,
                 "E414|");
}

static void test_limits_head(void **state)
{
    (void)state;
    c1m_http_limits_t lim = c1m_http_default_limits;
    lim.max_head = 64;
    /* exactly 64 bytes: ok; 65: 431 */
    static const char ok[] = "GET / HTTP/1.1\r\nHost: a\r\nX: 01234567890123456789012345678901\r\n\r\n";
    assert_int_equal(sizeof(ok) - 1, 64);
    check_splits("head at limit", S(ok), &lim, "H GET/GET / path=/ q= 1.1 ka host=a n=2|D:|");
    static const char over[] = "GET / HTTP/1.1\r\nHost: a\r\nX: 012345678901234567890123456789012\r\n\r\n";
    check_splits("head over limit", S(over), &lim, "E431|");
    /* a pipelined request after a head at the limit is fine */
    check_splits("head at limit pipelined", S("GET / HTTP/1.1\r\nHost: a\r\nX: 01234567890123456789012345678901\r\n\r\n"
                                              "GET / HTTP/1.1\r\nHost: a\r\nX: 01234567890123456789012345678901\r\n\r\n"),
                 &lim, "H GET/GET / path=/ q= 1.1 ka host=a n=2|D:|H GET/GET / path=/ q= 1.1 ka host=a n=2|D:|");
    /* errors before the limit win over the limit */
    check_splits("error before head limit",
                 S("GET / HTTP/1.1\r\nHost : a\r\nX: 01234567890123456789012345678901234567890\r\n\r\n"), &lim,
                 "E400|");

    /* default 8 KiB */
    size_t len;
    char *s = build(&len, "GET / HTTP/1.1\r\nHost: a\r\nCookie: ", 8200, 'c', "\r\n\r\n");
    check_splits("head over default", s, len, NULL, "E431|");
    free(s);
    s = build(&len, "GET / HTTP/1.1\r\nHost: a\r\nCookie: ", 8000, 'c', "\r\n\r\n");
    check_splits("head under default", s, len, NULL, "H GET/GET / path=/ q= 1.1 ka host=a n=2|D:|");
    free(s);
    /* never terminated */
    s = build(&len, "GET / HTTP/1.1\r\nHost: a\r\nX: ", 10000, 'x', "");
    check_splits("head unterminated", s, len, NULL, "E431|");
    free(s);

    /* trailers are bounded by the head limit too */
    s = build(&len, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ", 9000, 'x',
              "\r\n\r\n");
    check_splits("trailers too large", s, len, NULL,
                 "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E431|");
    free(s);
}

static void test_limits_header_count(void **state)
{
    (void)state;
    char buf[4096];
    size_t n;
    /* 100 fields (default limit) ok, 101 -> 431 */
    for (int total = 100; total <= 101; total++) {
        n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
        for (int i = 1; i < total; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X%d: %d\r\n", i, i);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
        char expect[128];
        snprintf(expect, sizeof(expect), "H GET/GET / path=/ q= 1.1 ka host=a n=%d|D:|", total);
        check_splits("header count", buf, n, NULL, total <= 100 ? expect : "E431|");
        if (total > 100) {
            result_t r;
            feed(buf, n, NULL, FEED_WHOLE, 0, &r);
            assert_int_equal(r.err, -C1M_HTTP_ETOO_MANY_HEADERS);
        }
    }
    /* configured limit of 2 */
    c1m_http_limits_t lim = c1m_http_default_limits;
    lim.max_headers = 2;
    check_splits("2 fields", S("GET / HTTP/1.1\r\nHost: a\r\nB: b\r\n\r\n"), &lim,
                 "H GET/GET / path=/ q= 1.1 ka host=a n=2|D:|");
    check_splits("3 fields", S("GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\n\r\n"), &lim, "E431|");
    check_splits("3 trailers", S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
                 &lim, "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E431|");
}

static void test_limits_normalize(void **state)
{
    (void)state;
    c1m_http_limits_t l = {.max_body = 5};
    c1m_http_limits_normalize(&l);
    assert_int_equal(l.max_body, 5);
    assert_int_equal(l.max_head, C1M_HTTP_DEFAULT_MAX_HEAD);
    assert_int_equal(l.max_request_line, C1M_HTTP_DEFAULT_MAX_REQUEST_LINE);
    assert_int_equal(l.max_headers, C1M_HTTP_DEFAULT_MAX_HEADERS);
    check_splits("normalized limits", S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabcdef"), &l,
                 "E413|");
}

/* keep-alive of the last request stays readable while the next one is
 * still arriving; errors clear it */
static void test_keep_alive_state(void **state)
{
    (void)state;
    static const char in[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HT";
    c1m_http_parser_t p;
    c1m_http_request_t req = {0};
    c1m_http_event_t ev;
    c1m_http_parser_init(&p, NULL);
    ssize_t n = c1m_http_parse(&p, S(in), &req, &ev);
    assert_int_equal(ev, C1M_HTTP_EV_HEAD);
    assert_true(c1m_http_keep_alive(&p));
    assert_int_equal(c1m_http_parse(&p, in + n, sizeof(in) - 1 - (size_t)n, &req, &ev), 0);
    assert_int_equal(ev, C1M_HTTP_EV_DONE);
    assert_int_equal(c1m_http_parse(&p, in + n, sizeof(in) - 1 - (size_t)n, &req, &ev), 0);
    assert_int_equal(ev, C1M_HTTP_EV_NONE);
    assert_true(c1m_http_keep_alive(&p));
    assert_false(c1m_http_head_complete(&p));
    assert_int_equal(c1m_http_parse(&p, S("GET / HTTP/1.1\r\n\r\n"), &req, &ev), -C1M_HTTP_ENO_HOST);
    assert_false(c1m_http_keep_alive(&p));
    assert_int_equal(c1m_http_status_for_error(-C1M_HTTP_ENO_HOST), 400);
}

static void test_limits_body(void **state)
{
    (void)state;
    c1m_http_limits_t lim = c1m_http_default_limits;
    lim.max_body = 10;
    check_splits("CL at limit", S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"), &lim,
                 "H POST/POST / path=/ q= 1.1 ka host=a cl=10 n=2|D:0123456789|");
    check_splits("CL over limit", S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n0123456789a"), &lim,
                 "E413|");
    check_splits("chunked at limit", S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                       "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n"),
                 &lim, "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|D:0123456789|");
    check_splits("chunked over limit", S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                         "5\r\n01234\r\n6\r\n56789a\r\n0\r\n\r\n"),
                 &lim, "H POST/POST / path=/ q= 1.1 ka host=a chunked n=2|E413|");

    /* a large body arrives in slices; the default 1 MiB is accepted */
    size_t len;
    char *s = build(&len, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n", 1048576, 'b', "");
    result_t *r = malloc(sizeof(*r));
    feed(s, len, NULL, FEED_RANDOM, 70000, r);
    assert_int_equal(r->err, 0);
    /* the request completed with every body byte: its head, then DONE with
     * the body's length and hash (as the harness logs bodies over 256 B) */
    uint64_t h = 14695981039346656037ull;
    for (size_t k = 0; k < 1048576; k++)
        h = (h ^ (unsigned char)'b') * 1099511628211ull;
    char want[160];
    snprintf(want, sizeof want, "H POST/POST / path=/ q= 1.1 ka host=a cl=1048576 n=2|D:#1048576:%016llx|",
             (unsigned long long)h);
    assert_string_equal(r->log, want);
    free(r);
    free(s);
}

/* A long head arriving byte by byte is not re-parsed on every byte. */
static void test_trickle_linear(void **state)
{
    (void)state;
    c1m_http_limits_t lim = c1m_http_default_limits;
    lim.max_head = 1u << 20;
    lim.max_headers = 100000;
    size_t cap = 900000, n = 0;
    char *s = malloc(cap);
    n += (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; n < cap - 100; i++)
        n += (size_t)sprintf(s + n, "X-Field-%d: some value here\r\n", i);
    n += (size_t)sprintf(s + n, "\r\n");
    c1m_http_parser_t p;
    c1m_http_request_t req = {0};
    c1m_http_event_t ev = C1M_HTTP_EV_NONE;
    c1m_http_parser_init(&p, &lim);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t i;
    for (i = 1; i <= n; i++) {
        ssize_t r = c1m_http_parse(&p, s, i, &req, &ev);
        assert_true(r >= 0);
        if (ev == C1M_HTTP_EV_HEAD)
            break;
        assert_int_equal(r, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(i, n);
    assert_int_equal(ev, C1M_HTTP_EV_HEAD);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    /* quadratic would be ~ n^2/2 = 4e11 byte visits: minutes */
    assert_true(secs < 10.0); /* typically ~0.1 s */
    free(s);
}

/* ---- statuses ----------------------------------------------------------- */

/* Issue 12 item 9: a request line is refused at the first byte that can
 * never be valid, not at its LF (or the header timeout). Each input ends
 * at (or just after) the offending byte, with no LF, and is fed whole,
 * byte by byte and split: all must report the error. */
static void test_refused_at_first_bad_byte(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *in;
        size_t inlen;
        int err;
    } bad[] = {
        /* a TLS 1.2 ClientHello record header: 0x16 0x03 0x01, length */
        {"TLS ClientHello", S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), C1M_HTTP_EBAD_METHOD},
        {"TLS first byte", S("\x16"), C1M_HTTP_EBAD_METHOD},
        {"SSLv2 hello", S("\x80\x2e\x01"), C1M_HTTP_EBAD_METHOD},
        {"NUL", S("\0"), C1M_HTTP_EBAD_METHOD},
        {"leading SP", S(" GET /"), C1M_HTTP_EBAD_METHOD},
        {"CTL in method", S("GE\x01"), C1M_HTTP_EBAD_METHOD},
        {"separator in method", S("GE(T /"), C1M_HTTP_EBAD_METHOD},
        {"HTTP/2 preface", S("PRI * HTTP/2.0\r\n\r\nSM"), C1M_HTTP_EVERSION},
        {"tab after method", S("GET\t/"), C1M_HTTP_EBAD_METHOD},
        {"two SPs", S("GET  /"), C1M_HTTP_EBAD_TARGET},
        {"CTL in target", S("GET /a\x7f"), C1M_HTTP_EBAD_TARGET},
        {"NUL in target", S("GET /a\0b"), C1M_HTTP_EBAD_TARGET},
        {"long target, CTL", S("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x01"), C1M_HTTP_EBAD_TARGET},
        {"bad version", S("GET / HTTX"), C1M_HTTP_EBAD_VERSION},
        {"lowercase version", S("GET / http/1.1"), C1M_HTTP_EBAD_VERSION},
        {"version letter", S("GET / HTTP/a"), C1M_HTTP_EBAD_VERSION},
        {"SP after version", S("GET / HTTP/1.1 "), C1M_HTTP_EBAD_VERSION},
        {"junk after empty line", S("\r\n\x16\x03"), C1M_HTTP_EBAD_METHOD},
        {"after a request", S("GET / HTTP/1.1\r\nHost: a\r\n\r\n\x16\x03\x01"), C1M_HTTP_EBAD_METHOD},
    };
    for (size_t i = 0; i < C1M_ARRAY_LEN(bad); i++) {
        char expect[128];
        bool after_req = strncmp(bad[i].in, "GET / HTTP/1.1\r\nHost", 20) == 0;
        snprintf(expect, sizeof expect, "%sE%d|",
                 after_req ? "H GET/GET / path=/ q= 1.1 ka host=a n=1|D:|" : "",
                 c1m_http_status_for_error(-bad[i].err));
        check_splits(bad[i].name, bad[i].in, bad[i].inlen, NULL, expect);
        result_t r;
        feed(bad[i].in, bad[i].inlen, NULL, FEED_BYTES, 0, &r);
        if (r.err != -bad[i].err) {
            print_error("case %s: error %d, expected %d\n", bad[i].name, -r.err, bad[i].err);
            fail();
        }
    }

    /* every prefix of a valid request line stays "need more", fed any way
     * (the automaton refuses nothing a full parse would accept) */
    static const char *const good[] = {
        "GET /static/app/main.css?v=1.4.2 HTTP/1.1\r\n",
        "M-SEARCH * HTTP/1.1\r\n",
        "OPTIONS * HTTP/1.0\r\n",
        "x http://h/%7e\x80\xff HTTP/1.1\r\n",
        "\r\n\r\nPOST /echo HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < C1M_ARRAY_LEN(good); i++) {
        size_t n = strlen(good[i]);
        for (size_t k = 1; k < n; k++) {
            char name[64];
            snprintf(name, sizeof name, "prefix %zu of good %zu", k, i);
            /* empty lines before a request are consumed: nothing pending */
            size_t e = 0;
            while (e + 2 <= k && good[i][e] == '\r' && good[i][e + 1] == '\n')
                e += 2;
            check_splits(name, good[i], k, NULL, e == k ? "" : "...");
        }
    }
}

static void test_status_map(void **state)
{
    (void)state;
    static const struct {
        int err, status;
    } m[] = {
        {C1M_HTTP_EBAD_METHOD, 400}, {C1M_HTTP_EBAD_TARGET, 400}, {C1M_HTTP_EBAD_VERSION, 400},
        {C1M_HTTP_EBAD_EOL, 400}, {C1M_HTTP_EBAD_HEADER_NAME, 400}, {C1M_HTTP_EBAD_HEADER_VALUE, 400},
        {C1M_HTTP_EOBS_FOLD, 400}, {C1M_HTTP_ENO_HOST, 400}, {C1M_HTTP_EBAD_HOST, 400},
        {C1M_HTTP_EBAD_CONTENT_LENGTH, 400}, {C1M_HTTP_ECL_AND_TE, 400},
        {C1M_HTTP_EBAD_TRANSFER_ENCODING, 400}, {C1M_HTTP_EBAD_CHUNK, 400},
        {C1M_HTTP_EBODY_TOO_LARGE, 413}, {C1M_HTTP_EURI_TOO_LONG, 414},
        {C1M_HTTP_EHEADER_TOO_LARGE, 431}, {C1M_HTTP_ETOO_MANY_HEADERS, 431},
        {C1M_HTTP_EUNSUPPORTED_TE, 501}, {C1M_HTTP_EVERSION, 505},
    };
    assert_int_equal(C1M_ARRAY_LEN(m), C1M_HTTP_E_END - C1M_HTTP_E_BASE - 1);
    for (size_t i = 0; i < C1M_ARRAY_LEN(m); i++) {
        assert_int_equal(c1m_http_status_for_error(-m[i].err), m[i].status);
        assert_int_equal(c1m_http_status_for_error(m[i].err), m[i].status);
        assert_true(strlen(c1m_http_error_str(-m[i].err)) > 0);
        assert_true(strlen(c1m_http_reason_phrase(m[i].status)) > 0);
    }
    assert_int_equal(c1m_http_status_for_error(-EINVAL), 500);
    assert_int_equal(c1m_http_status_for_error(0), 200);
    assert_string_equal(c1m_http_reason_phrase(400), "Bad Request");
    assert_string_equal(c1m_http_reason_phrase(413), "Content Too Large");
    assert_string_equal(c1m_http_reason_phrase(414), "URI Too Long");
    assert_string_equal(c1m_http_reason_phrase(431), "Request Header Fields Too Large");
    assert_string_equal(c1m_http_reason_phrase(501), "Not Implemented");
    assert_string_equal(c1m_http_reason_phrase(505), "HTTP Version Not Supported");
    assert_string_equal(c1m_http_reason_phrase(100), "Continue");
    assert_string_equal(c1m_http_reason_phrase(999), "");
    assert_string_equal(c1m_http_method_name(C1M_HTTP_PATCH), "PATCH");
}

/* Expect: 100-continue is visible before any body byte arrives. */
static void test_expect_continue(void **state)
{
    (void)state;
    static const char in[] = "POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    c1m_http_parser_t p;
    c1m_http_request_t req = {0};
    c1m_http_event_t ev;
    c1m_http_parser_init(&p, NULL);
    assert_int_equal(c1m_http_parse(&p, S(in), &req, &ev), sizeof(in) - 1);
    assert_int_equal(ev, C1M_HTTP_EV_HEAD);
    assert_true(req.flags & C1M_HTTP_F_EXPECT_CONTINUE);
    assert_true(c1m_http_head_complete(&p));
    /* nothing more yet: need more, nothing consumed */
    assert_int_equal(c1m_http_parse(&p, "", 0, &req, &ev), 0);
    assert_int_equal(ev, C1M_HTTP_EV_NONE);
    assert_int_equal(c1m_http_parse(&p, "da", 2, &req, &ev), 2);
    assert_int_equal(ev, C1M_HTTP_EV_BODY);
    assert_int_equal(c1m_http_parse(&p, "ta", 2, &req, &ev), 2);
    assert_int_equal(ev, C1M_HTTP_EV_BODY);
    assert_int_equal(c1m_http_parse(&p, "", 0, &req, &ev), 0);
    assert_int_equal(ev, C1M_HTTP_EV_DONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_header_slices),
        cmocka_unit_test(test_header_storage),
        cmocka_unit_test(test_body_zero_copy),
        cmocka_unit_test(test_limits_request_line),
        cmocka_unit_test(test_limits_head),
        cmocka_unit_test(test_limits_header_count),
        cmocka_unit_test(test_limits_body),
        cmocka_unit_test(test_limits_normalize),
        cmocka_unit_test(test_keep_alive_state),
        cmocka_unit_test(test_trickle_linear),
        cmocka_unit_test(test_refused_at_first_bad_byte),
        cmocka_unit_test(test_status_map),
        cmocka_unit_test(test_expect_continue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
