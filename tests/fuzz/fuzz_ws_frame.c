/* libFuzzer target for the WebSocket frame parser (proto/ws/frame.h).
 *
 * Input: byte 0 picks the limits (default or 64 bytes, so the 1009 paths
 * are reached) and the side (server parser: masked frames; client parser:
 * unmasked), byte 1 seeds the split pattern, the rest is the stream. The
 * stream is parsed whole and in random segments, keeping unconsumed bytes
 * like the engine does, each call on an exact-size heap copy (ASan sees a
 * read past `len`). Checked: no crash, consumed <= len, events inside the
 * output buffer, no call that neither consumes nor reports, and the same
 * events (message lengths and content hashes, control frames, close code)
 * whatever the split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws/frame.h"

#define CHECK(x)              \
    do {                      \
        if (!(x))             \
            __builtin_trap(); \
    } while (0)

typedef struct {
    uint64_t h;      /* hash of every event and every payload byte */
    uint32_t events;
    int code;        /* refusal code, or 0 */
} digest_t;

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

static void run(const uint8_t *in, size_t len, const c1m_ws_limits_t *lim, bool client,
                unsigned seed, size_t outcap, digest_t *d)
{
    memset(d, 0, sizeof *d);
    d->h = 0xcbf29ce484222325ull;
    c1m_ws_parser_t p;
    c1m_ws_parser_init(&p, client);
    uint8_t *out = malloc(outcap);
    uint8_t *pend = NULL;
    size_t npend = 0, fed = 0;
    unsigned st = seed;
    while (fed < len) {
        size_t piece = len - fed;
        if (seed) {
            st = st * 1103515245u + 12345u;
            piece = 1 + ((st >> 16) % 37);
            if (piece > len - fed)
                piece = len - fed;
        }
        size_t n = npend + piece;
        uint8_t *buf = malloc(n);
        if (npend)
            memcpy(buf, pend, npend);
        memcpy(buf + npend, in + fed, piece);
        fed += piece;
        free(pend);
        pend = NULL;
        size_t off = 0;
        for (;;) {
            c1m_ws_event_t ev;
            ssize_t r = c1m_ws_parse(&p, lim, buf + off, n - off, out, outcap, &ev);
            if (r < 0) {
                CHECK(ev.kind == C1M_WS_EV_ERROR);
                CHECK(ev.code == 1002 || ev.code == 1007 || ev.code == 1009);
                d->code = ev.code;
                free(buf);
                free(out);
                return;
            }
            CHECK((size_t)r <= n - off);
            off += (size_t)r;
            if (ev.kind == C1M_WS_EV_DATA) {
                CHECK(ev.len <= outcap);
                for (size_t i = 0; i < ev.len; i++)
                    d->h = mix(d->h, out[i]);
                if (ev.msg_end)
                    d->h = mix(d->h, 0x1000u + ev.opcode), d->events++;
            } else if (ev.kind == C1M_WS_EV_CONTROL) {
                CHECK(ev.len <= C1M_WS_MAX_CONTROL);
                d->h = mix(d->h, 0x2000u + ev.opcode * 0x10000u + ev.code);
                for (size_t i = 0; i < ev.len; i++)
                    d->h = mix(d->h, out[i]);
                d->events++;
            } else if (r == 0) {
                break;
            }
        }
        npend = n - off;
        if (npend) {
            pend = malloc(npend);
            memcpy(pend, buf + off, npend);
        }
        free(buf);
    }
    free(pend);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const c1m_ws_limits_t small = { .max_msg = 64 };
    const c1m_ws_limits_t *lim = data[0] & 1 ? &small : NULL;
    bool client = data[0] & 2;
    digest_t whole, split, narrow;
    run(data + 2, size - 2, lim, client, 0, 65536, &whole);
    run(data + 2, size - 2, lim, client, 1u + data[1], 65536, &split);
    run(data + 2, size - 2, lim, client, 7u + data[1], C1M_WS_MAX_CONTROL, &narrow);
    CHECK(whole.code == split.code && whole.code == narrow.code);
    if (!whole.code) {
        CHECK(whole.h == split.h && whole.h == narrow.h);
        CHECK(whole.events == split.events && whole.events == narrow.events);
    }
    return 0;
}
