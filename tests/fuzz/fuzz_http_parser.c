/* libFuzzer target for the HTTP/1.1 request parser.
 *
 * Input: byte 0 picks the limits (defaults or tiny ones, so the limit paths
 * are reached), byte 1 seeds the split pattern, the rest is the stream a
 * client sends. The stream is parsed whole, in random segments and (when
 * short) byte by byte, like the engine does: unconsumed bytes are kept and
 * new ones appended, each call gets an exact-size heap copy (ASan sees any
 * read past `len`). Checked: no crash, every slice inside the buffer,
 * consumed <= len, no progress loop, and the same events / body bytes /
 * error whatever the split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http1/parser.h"

#define CHECK(x)                 \
    do {                         \
        if (!(x))                \
            __builtin_trap();    \
    } while (0)

static const c1m_http_limits_t tiny = {
    .max_request_line = 40,
    .max_head = 96,
    .max_headers = 3,
    .max_body = 48,
};

typedef struct {
    uint64_t h;   /* FNV-1a over events, head fields and body bytes */
    int err;      /* final error (0 = none) */
    unsigned nev; /* events */
    int idle;
} outcome_t;

static void mix(outcome_t *o, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        o->h = (o->h ^ b[i]) * 1099511628211ull;
}

static void mix_slice(outcome_t *o, const c1m_http_request_t *r, c1m_http_slice_t s)
{
    CHECK(s.off <= r->head_len && s.len <= r->head_len - s.off);
    mix(o, &s.len, sizeof(s.len));
    mix(o, c1m_http_str(r->buf, s), s.len);
}

static void run(const uint8_t *in, size_t len, const c1m_http_limits_t *lim, int mode,
                uint32_t seed, outcome_t *o)
{
    c1m_http_parser_t p;
    static c1m_http_header_t hdrs[8];
    c1m_http_request_t req = {.headers = hdrs, .headers_cap = 8};
    c1m_http_parser_init(&p, lim);
    memset(o, 0, sizeof(*o));
    o->h = 14695981039346656037ull;
    size_t recv = 0, off = 0;
    uint32_t x = seed * 2654435761u + 1;

    while (recv < len) {
        size_t seg = len - recv;
        if (mode == 1) {
            seg = 1;
        } else if (mode == 2) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            size_t want = 1 + x % 23;
            seg = want < seg ? want : seg;
        }
        recv += seg;
        for (int guard = 0;; guard++) {
            CHECK(guard < 1000000);
            size_t avail = recv - off;
            char *copy = malloc(avail ? avail : 1);
            CHECK(copy);
            memcpy(copy, in + off, avail);
            c1m_http_event_t ev;
            ssize_t n = c1m_http_parse(&p, copy, avail, &req, &ev);
            if (n < 0) {
                CHECK(c1m_http_status_for_error((int)n) >= 400);
                CHECK(c1m_http_parse(&p, copy, avail, &req, &ev) == n);
                o->err = (int)n;
                free(copy);
                return;
            }
            CHECK((size_t)n <= avail);
            switch (ev) {
            case C1M_HTTP_EV_HEAD: {
                CHECK(req.buf >= copy && req.buf + req.head_len == copy + n);
                CHECK(req.head_len <= p.limits->max_head);
                uint32_t fl = req.flags;
                mix(o, "H", 1);
                mix(o, &fl, sizeof(fl));
                mix(o, &req.method, sizeof(req.method));
                mix(o, &req.version_minor, 1);
                mix(o, &req.content_length, sizeof(req.content_length));
                mix(o, &req.nheaders, sizeof(req.nheaders));
                CHECK(req.nheaders <= p.limits->max_headers);
                mix_slice(o, &req, req.method_str);
                mix_slice(o, &req, req.target);
                mix_slice(o, &req, req.path);
                mix_slice(o, &req, req.query);
                mix_slice(o, &req, req.version);
                if (req.flags & C1M_HTTP_F_HOST)
                    mix_slice(o, &req, req.host);
                for (uint32_t i = 0; i < req.nheaders && i < req.headers_cap; i++) {
                    mix_slice(o, &req, hdrs[i].name);
                    mix_slice(o, &req, hdrs[i].value);
                }
                CHECK(req.content_length <= p.limits->max_body);
                o->nev++;
                break;
            }
            case C1M_HTTP_EV_BODY:
                CHECK(req.body >= copy && req.body + req.body_len <= copy + n);
                CHECK(req.body_len > 0);
                mix(o, req.body, req.body_len);
                break;
            case C1M_HTTP_EV_DONE:
                mix(o, "D", 1);
                o->nev++;
                break;
            case C1M_HTTP_EV_NONE:
                break;
            }
            free(copy);
            off += (size_t)n;
            if (ev == C1M_HTTP_EV_NONE)
                break;
        }
    }
    o->idle = c1m_http_idle(&p) && off == len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const c1m_http_limits_t *lim = (data[0] & 1) ? &tiny : NULL;
    uint32_t seed = data[1];
    const uint8_t *in = data + 2;
    size_t len = size - 2;

    outcome_t whole, split;
    run(in, len, lim, 0, seed, &whole);
    run(in, len, lim, 2, seed, &split);
    CHECK(whole.h == split.h && whole.err == split.err && whole.nev == split.nev &&
          whole.idle == split.idle);
    if (len <= 512) {
        run(in, len, lim, 1, seed, &split);
        CHECK(whole.h == split.h && whole.err == split.err && whole.nev == split.nev &&
              whole.idle == split.idle);
    }
    return 0;
}
