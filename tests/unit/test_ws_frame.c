/* Unit tests for the WebSocket frame codec (proto/ws/frame.h, utf8.h).
 *
 * Every case is a byte string a client could send and the expected event
 * log (messages with their length and a hash of their bytes, control
 * frames, and the close code of a refusal). Each case is fed whole, byte
 * by byte and in random splits, the caller keeping unconsumed bytes as the
 * engine does, with two sizes of output buffer; every feeding must give
 * the same log. Each call gets an exact-size copy of the pending bytes so
 * that ASan catches a read past `len`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ws/frame.h"
#include "proto/ws/utf8.h"

/* ---- building client frames ------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes_t;

static void put(bytes_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

enum { F_NOMASK = 1, F_LEN16 = 2, F_LEN64 = 4, F_HIGHBIT = 8 };

/* A frame: first byte b0 as given (FIN | RSV | opcode), payload masked
 * with a key unless F_NOMASK; F_LEN16/F_LEN64 force a longer length form;
 * F_HIGHBIT sets the top bit of a 64-bit length. */
static void frame(bytes_t *b, uint8_t b0, const void *payload, size_t n, unsigned flags)
{
    uint8_t h[14];
    size_t hl = 2;
    h[0] = b0;
    uint8_t m = flags & F_NOMASK ? 0 : 0x80;
    if (n < 126 && !(flags & (F_LEN16 | F_LEN64))) {
        h[1] = m | (uint8_t)n;
    } else if (n <= 0xFFFF && !(flags & F_LEN64)) {
        h[1] = m | 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = m | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        if (flags & F_HIGHBIT)
            h[2] |= 0x80;
        hl = 10;
    }
    uint32_t key = 0x5a3c96e1u ^ (uint32_t)n;
    if (m) {
        memcpy(h + hl, &key, 4);
        hl += 4;
    }
    put(b, h, hl);
    uint8_t *tmp = malloc(n ? n : 1);
    assert_non_null(tmp);
    if (m)
        c1m_ws_mask(tmp, payload, n, key);
    else if (n)
        memcpy(tmp, payload, n);
    put(b, tmp, n);
    free(tmp);
}

/* ---- harness ---------------------------------------------------------- */

typedef struct {
    char log[4096];
    size_t loglen;
    int code; /* close code of a refusal, or 0 */
} result_t;

static void logf_(result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(result_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->log + r->loglen, sizeof r->log - r->loglen, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->loglen += (size_t)n;
    if (r->loglen >= sizeof r->log)
        r->loglen = sizeof r->log - 1;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Feed `in` in pieces whose sizes come from next_piece(). */
static void run(const bytes_t *in, const c1m_ws_limits_t *lim, size_t outcap,
                size_t (*next_piece)(unsigned *st), unsigned seed, result_t *r)
{
    memset(r, 0, sizeof *r);
    c1m_ws_parser_t p;
    c1m_ws_parser_init(&p, false);
    uint8_t *out = malloc(outcap);
    uint8_t *pend = NULL;
    size_t npend = 0, fed = 0;
    uint64_t msg_len = 0, msg_hash = 0xcbf29ce484222325ull;
    int msg_op = 0;
    unsigned st = seed;
    while (fed < in->len || npend) {
        size_t piece = next_piece(&st);
        if (piece > in->len - fed)
            piece = in->len - fed;
        uint8_t *buf = malloc(npend + piece ? npend + piece : 1); /* exact size */
        if (npend)
            memcpy(buf, pend, npend);
        memcpy(buf + npend, in->p + fed, piece);
        fed += piece;
        size_t len = npend + piece, off = 0;
        free(pend);
        pend = NULL;
        for (;;) {
            c1m_ws_event_t ev;
            ssize_t n = c1m_ws_parse(&p, lim, buf + off, len - off, out, outcap, &ev);
            if (n < 0) {
                assert_int_equal(ev.kind, C1M_WS_EV_ERROR);
                r->code = ev.code;
                logf_(r, "ERR %u;", ev.code);
                free(buf);
                free(out);
                return;
            }
            off += (size_t)n;
            if (ev.kind == C1M_WS_EV_DATA) {
                if (ev.msg_first) {
                    assert_int_equal(msg_op, 0);
                    msg_op = ev.opcode;
                    msg_len = 0;
                    msg_hash = 0xcbf29ce484222325ull;
                }
                assert_int_equal(ev.opcode, msg_op);
                assert_true(ev.len <= outcap);
                msg_len += ev.len;
                msg_hash = fnv(msg_hash, out, ev.len);
                if (ev.msg_end) {
                    logf_(r, "MSG %d %llu %016llx;", msg_op, (unsigned long long)msg_len,
                          (unsigned long long)msg_hash);
                    msg_op = 0;
                }
            } else if (ev.kind == C1M_WS_EV_CONTROL) {
                if (ev.opcode == C1M_WS_OP_CLOSE)
                    logf_(r, "CLOSE %u '%.*s';", ev.code, (int)ev.reason_len, ev.reason);
                else
                    logf_(r, "CTL %d '%.*s';", ev.opcode, (int)ev.len, (const char *)out);
            } else if (n == 0) {
                break;
            }
        }
        npend = len - off;
        if (npend) {
            pend = malloc(npend);
            memcpy(pend, buf + off, npend);
        }
        free(buf);
        if (fed == in->len && npend) {
            logf_(r, "INCOMPLETE %zu;", npend);
            break;
        }
    }
    free(pend);
    free(out);
}

static size_t piece_whole(unsigned *st) { (void)st; return SIZE_MAX; }
static size_t piece_byte(unsigned *st) { (void)st; return 1; }
static size_t piece_random(unsigned *st)
{
    *st = *st * 1103515245u + 12345u;
    unsigned r = (*st >> 16) & 0x7fff;
    return r % 4 == 0 ? 1 + r % 3 : 1 + r % 300;
}

/* Every feeding gives the log of the whole feeding, which must be `want`
 * (a prefix is enough for big messages: NULL = only compare feedings). */
static void check(const bytes_t *in, const c1m_ws_limits_t *lim, const char *want, int code)
{
    static const size_t outcaps[] = { 4096, C1M_WS_MAX_CONTROL };
    result_t ref, r;
    run(in, lim, 65536, piece_whole, 0, &ref);
    if (want)
        assert_string_equal(ref.log, want);
    assert_int_equal(ref.code, code);
    for (size_t oc = 0; oc < 2; oc++) {
        if (in->len < 20000) {
            run(in, lim, outcaps[oc], piece_byte, 0, &r);
            assert_string_equal(r.log, ref.log);
        }
        for (unsigned seed = 1; seed <= 20; seed++) {
            run(in, lim, outcaps[oc], piece_random, seed, &r);
            assert_string_equal(r.log, ref.log);
        }
    }
}

/* ---- bad inputs: each refused with its exact close code ---------------- */

typedef struct {
    const char *name;
    void (*build)(bytes_t *b);
    int code;
    const c1m_ws_limits_t lim;
} bad_case_t;

static void b_unmasked(bytes_t *b) { frame(b, 0x81, "hi", 2, F_NOMASK); }
static void b_rsv1(bytes_t *b) { frame(b, 0x80 | 0x40 | 1, "hi", 2, 0); }
static void b_rsv2(bytes_t *b) { frame(b, 0x80 | 0x20 | 2, "hi", 2, 0); }
static void b_rsv3(bytes_t *b) { frame(b, 0x80 | 0x10 | 1, "hi", 2, 0); }
static void b_op3(bytes_t *b) { frame(b, 0x83, "hi", 2, 0); }
static void b_op7(bytes_t *b) { frame(b, 0x87, "", 0, 0); }
static void b_opB(bytes_t *b) { frame(b, 0x8B, "", 0, 0); }
static void b_opF(bytes_t *b) { frame(b, 0x8F, "", 0, 0); }
static void b_frag_ping(bytes_t *b) { frame(b, 0x09, "p", 1, 0); }
static void b_frag_close(bytes_t *b) { frame(b, 0x08, "", 0, 0); }
static void b_big_ping(bytes_t *b)
{
    char p[126];
    memset(p, 'x', sizeof p);
    frame(b, 0x89, p, sizeof p, 0);
}
static void b_ping_len16(bytes_t *b) { frame(b, 0x89, "abc", 3, F_LEN16); } /* declares 3, 16-bit form: allowed? no: len7=126 > 125 */
static void b_bad_utf8(bytes_t *b) { frame(b, 0x81, "a\xff" "b", 3, 0); }
static void b_surrogate(bytes_t *b) { frame(b, 0x81, "\xed\xa0\x80", 3, 0); }
static void b_overlong(bytes_t *b) { frame(b, 0x81, "\xc0\xaf", 2, 0); }
static void b_above_max(bytes_t *b) { frame(b, 0x81, "\xf4\x90\x80\x80", 4, 0); }
static void b_utf8_split_bad(bytes_t *b)
{
    frame(b, 0x01, "ok \xe2\x82", 5, 0);   /* "€" begun ... */
    frame(b, 0x80, "X", 1, 0);             /* ... and broken in the next frame */
}
static void b_utf8_truncated(bytes_t *b)
{
    frame(b, 0x01, "ok \xe2\x82", 5, 0);
    frame(b, 0x80, "", 0, 0); /* the message ends inside the code point */
}
static void b_close_bad_utf8(bytes_t *b) { frame(b, 0x88, "\x03\xe8" "a\xc3", 4, 0); }
static void b_close_1byte(bytes_t *b) { frame(b, 0x88, "\x03", 1, 0); }
static void b_close_1005(bytes_t *b) { frame(b, 0x88, "\x03\xed", 2, 0); }
static void b_close_999(bytes_t *b) { frame(b, 0x88, "\x03\xe7", 2, 0); }
static void b_close_5000(bytes_t *b) { frame(b, 0x88, "\x13\x88", 2, 0); }
static void b_highbit(bytes_t *b) { frame(b, 0x82, "abc", 3, F_LEN64 | F_HIGHBIT); }
static void b_cont_nostart(bytes_t *b) { frame(b, 0x80, "abc", 3, 0); }
static void b_cont_nostart_nofin(bytes_t *b) { frame(b, 0x00, "abc", 3, 0); }
static void b_new_inside(bytes_t *b)
{
    frame(b, 0x01, "ab", 2, 0);
    frame(b, 0x81, "cd", 2, 0);
}
static void b_too_big_frame(bytes_t *b)
{
    /* declares 17 MiB: refused from the header alone (only 100 bytes follow) */
    uint8_t h[14] = { 0x82, 0x80 | 127, 0, 0, 0, 0, 0x01, 0x10, 0, 0, 1, 2, 3, 4 };
    put(b, h, sizeof h);
    uint8_t junk[100] = { 0 };
    put(b, junk, sizeof junk);
}
static void b_too_big_msg(bytes_t *b)
{
    char p[600];
    memset(p, 'a', sizeof p);
    frame(b, 0x01, p, 600, 0);
    frame(b, 0x00, p, 300, 0);
    frame(b, 0x80, p, 200, 0); /* 1100 > 1000 */
}
static void b_too_big_small_limit(bytes_t *b)
{
    char p[1001];
    memset(p, 'a', sizeof p);
    frame(b, 0x82, p, sizeof p, 0);
}
static void b_garbage_after_close(bytes_t *b)
{
    frame(b, 0x81, "hi", 2, 0);
    frame(b, 0x88, "\x03\xe8", 2, 0);
    frame(b, 0x81, "hi", 2, F_NOMASK); /* still parsed: refused */
}

static const c1m_ws_limits_t LIM1000 = { .max_msg = 1000 };

static const bad_case_t bad_cases[] = {
    { "unmasked client frame", b_unmasked, 1002, { 0 } },
    { "RSV1 set", b_rsv1, 1002, { 0 } },
    { "RSV2 set", b_rsv2, 1002, { 0 } },
    { "RSV3 set", b_rsv3, 1002, { 0 } },
    { "opcode 3", b_op3, 1002, { 0 } },
    { "opcode 7", b_op7, 1002, { 0 } },
    { "opcode 0xB", b_opB, 1002, { 0 } },
    { "opcode 0xF", b_opF, 1002, { 0 } },
    { "fragmented ping", b_frag_ping, 1002, { 0 } },
    { "fragmented close", b_frag_close, 1002, { 0 } },
    { "ping of 126 bytes", b_big_ping, 1002, { 0 } },
    { "ping with a 16-bit length", b_ping_len16, 1002, { 0 } },
    { "invalid UTF-8 in text", b_bad_utf8, 1007, { 0 } },
    { "UTF-16 surrogate in text", b_surrogate, 1007, { 0 } },
    { "overlong UTF-8", b_overlong, 1007, { 0 } },
    { "code point above U+10FFFF", b_above_max, 1007, { 0 } },
    { "UTF-8 broken across fragments", b_utf8_split_bad, 1007, { 0 } },
    { "text ends inside a code point", b_utf8_truncated, 1007, { 0 } },
    { "invalid UTF-8 in a close reason", b_close_bad_utf8, 1007, { 0 } },
    { "close payload of 1 byte", b_close_1byte, 1002, { 0 } },
    { "close code 1005", b_close_1005, 1002, { 0 } },
    { "close code 999", b_close_999, 1002, { 0 } },
    { "close code 5000", b_close_5000, 1002, { 0 } },
    { "64-bit length with the high bit", b_highbit, 1002, { 0 } },
    { "continuation without a start", b_cont_nostart, 1002, { 0 } },
    { "unfinished continuation without a start", b_cont_nostart_nofin, 1002, { 0 } },
    { "new message inside a fragmented one", b_new_inside, 1002, { 0 } },
    { "frame declaring 17 MiB (default limit)", b_too_big_frame, 1009, { 0 } },
    { "message over the limit across fragments", b_too_big_msg, 1009, LIM1000 },
    { "frame over a 1000-byte limit", b_too_big_small_limit, 1009, LIM1000 },
    { "unmasked frame after a close", b_garbage_after_close, 1002, { 0 } },
};

static void test_bad_inputs(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case_t *bc = &bad_cases[i];
        bytes_t b = { 0 };
        bc->build(&b);
        print_message("  bad: %-45s -> %d\n", bc->name, bc->code);
        check(&b, &bc->lim, NULL, bc->code);
        free(b.p);
    }
}

/* ---- good inputs ------------------------------------------------------ */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)('a' + (i * 7 + seed) % 26);
}

static void test_sizes(void **state)
{
    /* every length form and its boundaries, text and binary */
    static const size_t sizes[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 124, 125, 126, 127, 1000,
                                    65535, 65536, 65537, 300000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *p = malloc(n ? n : 1);
        fill(p, n, (unsigned)i);
        for (int op = 1; op <= 2; op++) {
            bytes_t b = { 0 };
            frame(&b, (uint8_t)(0x80 | op), p, n, 0);
            char want[128];
            snprintf(want, sizeof want, "MSG %d %zu %016llx;", op, n,
                     (unsigned long long)fnv(0xcbf29ce484222325ull, p, n));
            check(&b, NULL, want, 0);
            /* the same payload with a longer length form than needed */
            b.len = 0;
            frame(&b, (uint8_t)(0x80 | op), p, n, F_LEN64);
            check(&b, NULL, want, 0);
            free(b.p);
        }
        free(p);
    }
}

static void test_fragments_and_control(void **state)
{
    bytes_t b = { 0 };
    frame(&b, 0x01, "Hel", 3, 0);
    frame(&b, 0x89, "ping!", 5, 0);          /* control inside a fragmented message */
    frame(&b, 0x00, "lo, \xe2\x82", 6, 0);   /* "€" split across frames */
    frame(&b, 0x00, "", 0, 0);               /* an empty fragment */
    frame(&b, 0x80, "\xac world", 7, 0);
    frame(&b, 0x82, "\x00\xff", 2, 0);
    frame(&b, 0x8A, "", 0, 0);               /* unsolicited pong */
    frame(&b, 0x88, "\x03\xe8" "bye \xc3\xa9", 8, 0);
    uint8_t m[] = "Hello, \xe2\x82\xac world";
    uint8_t bin[] = { 0x00, 0xff };
    char want[512];
    snprintf(want, sizeof want,
             "CTL 9 'ping!';MSG 1 %zu %016llx;MSG 2 2 %016llx;CTL 10 '';CLOSE 1000 'bye \xc3\xa9';",
             sizeof m - 1, (unsigned long long)fnv(0xcbf29ce484222325ull, m, sizeof m - 1),
             (unsigned long long)fnv(0xcbf29ce484222325ull, bin, 2));
    check(&b, NULL, want, 0);
    free(b.p);

    bytes_t c = { 0 };
    frame(&c, 0x88, "", 0, 0);
    check(&c, NULL, "CLOSE 1005 '';", 0);
    free(c.p);

    bytes_t d = { 0 };
    char big[125];
    memset(big, 'z', sizeof big);
    frame(&d, 0x89, big, sizeof big, 0); /* the largest control frame */
    char want2[200];
    snprintf(want2, sizeof want2, "CTL 9 '%.*s';", 125, big);
    check(&d, NULL, want2, 0);
    free(d.p);
}

static void test_limit_exact(void **state)
{
    /* exactly the limit passes; one more byte is refused */
    uint8_t p[1000];
    fill(p, sizeof p, 3);
    bytes_t b = { 0 };
    frame(&b, 0x02, p, 500, 0);
    frame(&b, 0x80, p + 500, 500, 0);
    char want[128];
    snprintf(want, sizeof want, "MSG 2 1000 %016llx;",
             (unsigned long long)fnv(0xcbf29ce484222325ull, p, 1000));
    check(&b, &LIM1000, want, 0);
    free(b.p);
}

static void test_utf8(void **state)
{
    assert_true(c1m_utf8_valid("", 0));
    assert_true(c1m_utf8_valid("plain ascii text, longer than eight bytes", 41));
    assert_true(c1m_utf8_valid("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 18));
    assert_true(c1m_utf8_valid("\xed\x9f\xbf\xee\x80\x80", 6)); /* around the surrogates */
    assert_false(c1m_utf8_valid("\xc1\xbf", 2));
    assert_false(c1m_utf8_valid("\xe0\x9f\xbf", 3));
    assert_false(c1m_utf8_valid("\xf0\x8f\xbf\xbf", 4));
    assert_false(c1m_utf8_valid("\xf5\x80\x80\x80", 4));
    assert_false(c1m_utf8_valid("\x80", 1));
    assert_false(c1m_utf8_valid("\xe2\x82", 2)); /* incomplete */
    /* split anywhere gives the same state */
    const char *s = "a\xf0\x9f\x98\x80z";
    for (size_t k = 0; k <= 6; k++) {
        uint8_t st = c1m_utf8_feed(0, (const uint8_t *)s, k);
        st = c1m_utf8_feed(st, (const uint8_t *)s + k, 6 - k);
        assert_int_equal(st, C1M_UTF8_ACCEPT);
    }
}

static void test_writer(void **state)
{
    uint8_t h[C1M_WS_MAX_HEADER];
    assert_int_equal(c1m_ws_header(h, C1M_WS_OP_TEXT, true, 125), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 125);
    assert_int_equal(c1m_ws_header(h, C1M_WS_OP_BINARY, false, 126), 4);
    assert_int_equal(h[0], 0x02);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2] << 8 | h[3], 126);
    assert_int_equal(c1m_ws_header(h, C1M_WS_OP_BINARY, true, 65536), 10);
    assert_int_equal(h[1], 127);
    assert_int_equal(h[7], 1);
    /* a server frame parses back with a client-side parser */
    uint8_t buf[64], out[256];
    size_t n = c1m_ws_header(buf, C1M_WS_OP_TEXT, true, 5);
    memcpy(buf + n, "hello", 5);
    c1m_ws_parser_t p;
    c1m_ws_parser_init(&p, true);
    c1m_ws_event_t ev;
    assert_int_equal(c1m_ws_parse(&p, NULL, buf, n + 5, out, sizeof out, &ev), (ssize_t)(n + 5));
    assert_int_equal(ev.kind, C1M_WS_EV_DATA);
    assert_true(ev.msg_end);
    assert_memory_equal(out, "hello", 5);
    /* a masked frame to a client-side parser is refused */
    n = c1m_ws_header_masked(buf, C1M_WS_OP_TEXT, true, 1, 0x01020304);
    buf[n] = 'x';
    c1m_ws_parser_init(&p, true);
    assert_int_equal(c1m_ws_parse(&p, NULL, buf, n + 1, out, sizeof out, &ev), -1);
    assert_int_equal(ev.code, 1002);
    /* close payloads */
    uint8_t cp[C1M_WS_MAX_CONTROL];
    assert_int_equal(c1m_ws_close_payload(cp, 1009, "too big"), 9);
    assert_int_equal(cp[0] << 8 | cp[1], 1009);
    char longr[300];
    memset(longr, 'r', sizeof longr - 1);
    longr[sizeof longr - 1] = 0;
    assert_int_equal(c1m_ws_close_payload(cp, 1000, longr), 125);
}

static void test_mask(void **state)
{
    /* masking in pieces equals masking whole (the key rotates) */
    uint8_t src[37], whole[37], parts[37];
    fill(src, sizeof src, 1);
    uint32_t key = 0xa1b2c3d4u;
    c1m_ws_mask(whole, src, sizeof src, key);
    for (size_t i = 0; i < sizeof src; i++)
        assert_int_equal(whole[i], src[i] ^ ((const uint8_t *)&key)[i % 4]);
    size_t cuts[] = { 0, 1, 3, 8, 13, 20, 37 };
    uint32_t k = key;
    for (size_t i = 0; i + 1 < sizeof cuts / sizeof cuts[0]; i++)
        k = c1m_ws_mask(parts + cuts[i], src + cuts[i], cuts[i + 1] - cuts[i], k);
    assert_memory_equal(whole, parts, sizeof whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_fragments_and_control),
        cmocka_unit_test(test_limit_exact),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
