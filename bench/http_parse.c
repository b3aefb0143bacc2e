/* HTTP/1.1 request parser micro-benchmark: c1m's parser against Debian's
 * libhttp-parser (nodejs/http-parser 2.9) in the same run.
 *
 *   build/bench/http_parse [-t SECONDS_PER_PARSER] [-w WORKLOAD]
 *
 * Each iteration parses one complete request from the caller's buffer, as a
 * server does after a read(): c1m runs to EV_HEAD + EV_DONE and stores the
 * header slices; http-parser runs http_parser_execute() with callbacks that
 * only record the slices they are given (the least a user must do). Both
 * parsers are reused across requests (keep-alive). Each parser runs for
 * SECONDS (default 3) in 10 alternating slices. Prints a Markdown table:
 * parser, requests/s, ns/request, ratio (to http-parser).
 */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/http1/parser.h"

static const char browser_get[] =
    "GET /static/app/main.css?v=1.4.2 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/css,*/*;q=0.1\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/index.html\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; lang=en\r\n"
    "Sec-Fetch-Dest: style\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "If-None-Match: \"5f2b-1a2b3c4d\"\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";

static const char curl_get[] =
    "GET /index.html HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

static const char post_json[] =
    "POST /api/v1/items?debug=0 HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: python-requests/2.31.0\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept: application/json\r\n"
    "Connection: keep-alive\r\n"
    "Content-Type: application/json\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijklmnop\r\n"
    "Content-Length: 64\r\n"
    "\r\n"
    "{\"name\":\"widget\",\"qty\":12,\"tags\":[\"a\",\"b\",\"c\"],\"price\":19.99}   ";

static const struct {
    const char *name;
    const char *req;
    size_t len;
} workloads[] = {
    {"browser-get", browser_get, sizeof(browser_get) - 1},
    {"curl-get", curl_get, sizeof(curl_get) - 1},
    {"post-json", post_json, sizeof(post_json) - 1},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint64_t sink;

/* ---- c1m ---- */

static uint64_t run_c1m(const char *req, size_t len, double secs, double *elapsed)
{
    c1m_http_parser_t p;
    c1m_http_header_t hdrs[C1M_HTTP_DEFAULT_MAX_HEADERS];
    c1m_http_request_t r = {.headers = hdrs, .headers_cap = C1M_ARRAY_LEN(hdrs)};
    c1m_http_parser_init(&p, NULL);
    uint64_t n = 0, acc = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 4096; k++) {
            size_t off = 0;
            for (;;) {
                c1m_http_event_t ev;
                ssize_t c = c1m_http_parse(&p, req + off, len - off, &r, &ev);
                if (c < 0) {
                    fprintf(stderr, "c1m: parse error %s\n", c1m_http_error_str((int)c));
                    exit(1);
                }
                off += (size_t)c;
                if (ev == C1M_HTTP_EV_HEAD)
                    acc += r.nheaders + r.path.len;
                else if (ev == C1M_HTTP_EV_BODY)
                    acc += r.body_len;
                else if (ev == C1M_HTTP_EV_DONE)
                    break;
                else {
                    fprintf(stderr, "c1m: incomplete request\n");
                    exit(1);
                }
            }
        }
        n += 4096;
        t = now();
    } while (t - t0 < secs);
    *elapsed = t - t0;
    sink += acc;
    return n;
}

/* ---- http-parser ---- */

typedef struct {
    const char *url;
    size_t url_len;
    struct {
        const char *p;
        size_t n;
    } f[2 * C1M_HTTP_DEFAULT_MAX_HEADERS];
    unsigned nf;
    size_t body;
    int done;
} hp_ctx_t;

static int hp_begin(http_parser *hp)
{
    hp_ctx_t *c = hp->data;
    c->nf = 0;
    c->url_len = 0;
    c->done = 0;
    return 0;
}
static int hp_url(http_parser *hp, const char *at, size_t n)
{
    hp_ctx_t *c = hp->data;
    c->url = at;
    c->url_len += n;
    return 0;
}
static int hp_field(http_parser *hp, const char *at, size_t n)
{
    hp_ctx_t *c = hp->data;
    if (c->nf < C1M_ARRAY_LEN(c->f)) {
        c->f[c->nf].p = at;
        c->f[c->nf].n = n;
        c->nf++;
    }
    return 0;
}
static int hp_headers_complete(http_parser *hp) { (void)hp; return 0; }
static int hp_body(http_parser *hp, const char *at, size_t n)
{
    hp_ctx_t *c = hp->data;
    (void)at;
    c->body += n;
    return 0;
}
static int hp_complete(http_parser *hp)
{
    hp_ctx_t *c = hp->data;
    c->done = 1;
    return 0;
}

static uint64_t run_hp(const char *req, size_t len, double secs, double *elapsed)
{
    http_parser_settings s;
    http_parser hp;
    static hp_ctx_t ctx;
    http_parser_settings_init(&s);
    s.on_message_begin = hp_begin;
    s.on_url = hp_url;
    s.on_header_field = hp_field;
    s.on_header_value = hp_field;
    s.on_headers_complete = hp_headers_complete;
    s.on_body = hp_body;
    s.on_message_complete = hp_complete;
    http_parser_init(&hp, HTTP_REQUEST);
    hp.data = &ctx;
    uint64_t n = 0, acc = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 4096; k++) {
            size_t c = http_parser_execute(&hp, &s, req, len);
            if (c != len || !ctx.done || HTTP_PARSER_ERRNO(&hp) != HPE_OK) {
                fprintf(stderr, "http-parser: error %s\n",
                        http_errno_name(HTTP_PARSER_ERRNO(&hp)));
                exit(1);
            }
            acc += ctx.nf + ctx.url_len + http_should_keep_alive(&hp);
        }
        n += 4096;
        t = now();
    } while (t - t0 < secs);
    *elapsed = t - t0;
    sink += acc + ctx.body;
    return n;
}

#define ROUNDS 10

static void bench(const char *name, const char *req, size_t len, double secs)
{
    double e1 = 0, e2 = 0, e;
    uint64_t n1 = 0, n2 = 0;
    /* warm up both, then measure in alternating slices so that a change in
     * machine load hits both parsers alike */
    run_c1m(req, len, 0.05, &e);
    run_hp(req, len, 0.05, &e);
    for (int round = 0; round < ROUNDS; round++) {
        n1 += run_c1m(req, len, secs / ROUNDS, &e);
        e1 += e;
        n2 += run_hp(req, len, secs / ROUNDS, &e);
        e2 += e;
    }
    double r1 = (double)n1 / e1, r2 = (double)n2 / e2;
    printf("\nWorkload `%s` (%zu-byte request), %.1f s per parser:\n\n", name, len, secs);
    printf("| parser | requests/s | ns/request | ratio |\n");
    printf("|---|---:|---:|---:|\n");
    printf("| c1m http1 | %.0f | %.1f | %.2fx |\n", r1, 1e9 / r1, r1 / r2);
    printf("| http-parser %d.%d.%d | %.0f | %.1f | 1.00x |\n", HTTP_PARSER_VERSION_MAJOR,
           HTTP_PARSER_VERSION_MINOR, HTTP_PARSER_VERSION_PATCH, r2, 1e9 / r2);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    double secs = 3.0;
    const char *only = "browser-get";
    int opt;
    while ((opt = getopt(argc, argv, "t:w:h")) != -1) {
        switch (opt) {
        case 't':
            secs = atof(optarg);
            break;
        case 'w':
            only = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-t seconds-per-parser] [-w browser-get|curl-get|post-json|all]\n",
                    argv[0]);
            return 2;
        }
    }
    if (secs <= 0)
        secs = 3.0;
    int found = 0;
    for (size_t i = 0; i < C1M_ARRAY_LEN(workloads); i++) {
        if (strcmp(only, "all") && strcmp(only, workloads[i].name))
            continue;
        bench(workloads[i].name, workloads[i].req, workloads[i].len, secs);
        found = 1;
    }
    if (!found) {
        fprintf(stderr, "unknown workload %s\n", only);
        return 2;
    }
    return 0;
}
