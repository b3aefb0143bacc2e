/* libFuzzer target for c1m bench's HTTP/1.x response parser
 * (proto/http1/response.c).
 *
 * Input: byte 0 bit 0 = the request was HEAD, the other bits seed the
 * split pattern; the rest is the stream a server sends. It is fed whole,
 * in random segments and (when short) byte by byte through the engine's
 * contract: unconsumed bytes are kept and presented again with the new
 * ones appended, each call on an exact-size heap copy (ASan sees any read
 * past the end). Checked: no crash, consumed <= length, and the same
 * responses (status, close), the same error and the same end state
 * whatever the split.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http1/response.h"

#define CHECK(x)              \
    do {                      \
        if (!(x))             \
            __builtin_trap(); \
    } while (0)

typedef struct {
    uint64_t h;      /* FNV-1a over (status, close) of each response */
    unsigned n;      /* responses */
    int err;         /* final error, 0 = none */
    bool eof_done;   /* a close now would complete a response */
} outcome_t;

static void mix(outcome_t *o, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        o->h = (o->h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
}

enum { WHOLE, BYTES, RANDOM };

static void run(const uint8_t *in, size_t len, bool head, int mode, uint32_t seed, outcome_t *o)
{
    c1m_http_resp_t r;
    c1m_http_resp_init(&r, head);
    memset(o, 0, sizeof *o);
    o->h = 14695981039346656037ull;
    size_t recv = 0, off = 0;
    while (recv < len) {
        size_t seg = len - recv;
        if (mode == BYTES) {
            seg = 1;
        } else if (mode == RANDOM) {
            seed = seed * 1103515245u + 12345u;
            size_t want = 1 + (seed >> 16) % 97;
            seg = seg < want ? seg : want;
        }
        recv += seg;
        for (;;) {
            size_t avail = recv - off;
            char *copy = malloc(avail ? avail : 1);
            CHECK(copy);
            memcpy(copy, in + off, avail);
            bool done = false;
            ssize_t u = c1m_http_resp_feed(&r, copy, avail, &done);
            free(copy);
            if (u < 0) {
                CHECK(u == -EBADMSG || u == -E2BIG);
                o->err = (int)u;
                return;
            }
            CHECK((size_t)u <= avail);
            off += (size_t)u;
            if (done) {
                o->n++;
                mix(o, r.status);
                mix(o, r.close);
                continue; /* the next response may already be here */
            }
            if (u == 0 || off == recv)
                break;
        }
    }
    o->eof_done = c1m_http_resp_eof(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool head = data[0] & 1;
    uint32_t seed = data[0] >> 1;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    outcome_t whole, other;
    run(in, len, head, WHOLE, 0, &whole);
    run(in, len, head, RANDOM, seed, &other);
    CHECK(other.err == whole.err && other.n == whole.n && other.h == whole.h &&
          other.eof_done == whole.eof_done);
    if (len <= 4096) {
        run(in, len, head, BYTES, 0, &other);
        CHECK(other.err == whole.err && other.n == whole.n && other.h == whole.h &&
              other.eof_done == whole.eof_done);
    }
    return 0;
}
