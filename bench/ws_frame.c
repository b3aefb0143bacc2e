/* WebSocket frame parsing micro-benchmark: c1m's codec (proto/ws/frame.h)
 * against Debian's libwslay (1.1.1) frame layer, in the same run.
 *
 *   build/bench/ws_frame [-t SECONDS_PER_CASE]
 *
 * The input is a 1 MiB-ish stream of masked client frames of one size
 * (text or binary), as a server reads it. c1m: c1m_ws_parse over the
 * buffer, unmasking into a 64 KiB scratch, validating text as UTF-8.
 * wslay: wslay_frame_recv with a recv callback that copies from the
 * buffer (the library pulls input into its own 4 KiB per-context buffer
 * and unmasks there); its frame layer checks no UTF-8 and no limits, so
 * for text the benchmark runs c1m's UTF-8 validator on each chunk wslay
 * hands back (the least a server must add). Prints a Markdown table:
 * case, MB/s and frames/s for each, ratio, and the per-connection memory
 * each parser keeps (c1m: sizeof its state; wslay: what
 * wslay_frame_context_init allocates, measured with mallinfo2).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "proto/ws/frame.h"
#include "proto/ws/utf8.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    uint8_t *p;
    size_t len;
    size_t frames;
} stream_t;

static void make_stream(stream_t *s, size_t fsize, int op)
{
    size_t per = fsize + 14;
    size_t nf = (1u << 20) / per + 1;
    s->p = malloc(nf * per);
    s->len = 0;
    s->frames = nf;
    uint8_t *pl = malloc(fsize ? fsize : 1);
    for (size_t i = 0; i < fsize; i++)
        pl[i] = (uint8_t)('a' + i % 26);
    for (size_t f = 0; f < nf; f++) {
        uint32_t key = 0x9e3779b9u * (uint32_t)(f + 1);
        s->len += c1m_ws_header_masked(s->p + s->len, (uint8_t)op, true, fsize, key);
        c1m_ws_mask(s->p + s->len, pl, fsize, key);
        s->len += fsize;
    }
    free(pl);
}

static uint8_t scratch[65536];

static size_t run_c1m(const stream_t *s)
{
    c1m_ws_parser_t p;
    c1m_ws_parser_init(&p, false);
    size_t off = 0, msgs = 0;
    while (off < s->len) {
        c1m_ws_event_t ev;
        ssize_t n = c1m_ws_parse(&p, NULL, s->p + off, s->len - off, scratch, sizeof scratch, &ev);
        if (n < 0) {
            fprintf(stderr, "c1m: %s\n", ev.why);
            exit(1);
        }
        off += (size_t)n;
        if (ev.kind == C1M_WS_EV_DATA && ev.msg_end)
            msgs++;
    }
    return msgs;
}

typedef struct {
    const stream_t *s;
    size_t off;
} wsrc_t;

static ssize_t w_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
    wsrc_t *w = ud;
    size_t n = w->s->len - w->off;
    if (n > len)
        n = len;
    if (!n)
        return -1; /* WSLAY_ERR_WANT_READ semantics are not needed here */
    memcpy(buf, w->s->p + w->off, n);
    w->off += n;
    return (ssize_t)n;
}

static ssize_t w_send(const uint8_t *d, size_t l, int f, void *u) { return -1; }
static int w_mask(uint8_t *b, size_t l, void *u) { return -1; }

static size_t run_wslay(const stream_t *s, int op)
{
    wsrc_t w = { s, 0 };
    struct wslay_frame_callbacks cb = { w_send, w_recv, w_mask };
    wslay_frame_context_ptr ctx;
    if (wslay_frame_context_init(&ctx, &cb, &w) != 0)
        exit(1);
    size_t msgs = 0;
    uint64_t got = 0;
    uint8_t utf8 = 0;
    for (;;) {
        struct wslay_frame_iocb io;
        ssize_t r = wslay_frame_recv(ctx, &io);
        if (r < 0)
            break; /* end of the stream */
        if (op == C1M_WS_OP_TEXT)
            utf8 = c1m_utf8_feed(utf8, io.data, io.data_length);
        got += io.data_length;
        if (got == io.payload_length) {
            msgs++;
            got = 0;
        }
    }
    wslay_frame_context_free(ctx);
    if (utf8 != 0)
        exit(1);
    return msgs;
}

static size_t wslay_ctx_bytes(void)
{
    struct mallinfo2 a = mallinfo2();
    struct wslay_frame_callbacks cb = { w_send, w_recv, w_mask };
    wslay_frame_context_ptr ctx;
    wslay_frame_context_init(&ctx, &cb, NULL);
    struct mallinfo2 b = mallinfo2();
    wslay_frame_context_free(ctx);
    return b.uordblks - a.uordblks;
}

int main(int argc, char **argv)
{
    double secs = 1.0;
    int o;
    while ((o = getopt(argc, argv, "t:")) != -1)
        if (o == 't')
            secs = atof(o == 't' ? optarg : "1");
    static const size_t sizes[] = { 16, 125, 1024, 16384, 1 << 20 };
    printf("per-connection parser state: c1m %zu B, wslay frame context %zu B\n\n",
           sizeof(c1m_ws_parser_t), wslay_ctx_bytes());
    printf("| frames | c1m MB/s | c1m frames/s | wslay MB/s | wslay frames/s | c1m / wslay |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (int op = C1M_WS_OP_TEXT; op <= C1M_WS_OP_BINARY; op++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            stream_t s;
            make_stream(&s, sizes[i], op);
            double rate[2] = { 0, 0 };
            for (int which = 0; which < 2; which++) {
                size_t iters = 0;
                double t0 = now_s(), t;
                do {
                    size_t m = which ? run_wslay(&s, op) : run_c1m(&s);
                    if (m != s.frames) {
                        fprintf(stderr, "%s: %zu frames, expected %zu\n",
                                which ? "wslay" : "c1m", m, s.frames);
                        return 1;
                    }
                    iters++;
                } while ((t = now_s() - t0) < secs);
                rate[which] = (double)iters / t; /* streams per second */
            }
            double mb = (double)s.len / 1e6;
            printf("| %s %zu B | %.0f | %.0f | %.0f | %.0f | %.2f |\n",
                   op == C1M_WS_OP_TEXT ? "text" : "binary", sizes[i], rate[0] * mb,
                   rate[0] * (double)s.frames, rate[1] * mb, rate[1] * (double)s.frames,
                   rate[0] / rate[1]);
            free(s.p);
        }
    }
    return 0;
}
