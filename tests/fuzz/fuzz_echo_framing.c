/* libFuzzer target for the echo and ts8 framing through the engine: a real
 * loop and a connection on a socketpair, the input written in random
 * segments (the loop runs between them, so partial ts8 frames are kept in
 * the connection's `in` buffer and presented again with what follows).
 *
 * Input: byte 0 bit 0 picks ts8 (1) or echo (0), the other bits seed the
 * segment sizes; the rest is what the client sends. Checked: echo returns
 * exactly the bytes sent, ts8 exactly the complete 8-byte frames (a partial
 * last frame is held, never echoed), in order; the connection closes
 * cleanly when the client does, and the loop holds no connection after.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/loop.h"
#include "proto/echo.h"

#define CHECK(x)              \
    do {                      \
        if (!(x))             \
            __builtin_trap(); \
    } while (0)

static c1m_loop_t loop;
static bool loop_ready;

static size_t drain(int fd, uint8_t *out, size_t have, size_t cap)
{
    for (;;) {
        ssize_t n = read(fd, out + have, cap - have);
        if (n <= 0)
            return have;
        have += (size_t)n;
        CHECK(have <= cap); /* never more than was sent */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    if (!loop_ready) {
        c1m_loop_cfg_t cfg;
        c1m_loop_cfg_defaults(&cfg);
        CHECK(c1m_loop_init(&loop, 0, &cfg, &c1m_proto_echo) == 0);
        loop_ready = true;
    }
    bool ts8 = data[0] & 1;
    uint32_t seed = data[0] >> 1;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    c1m_conn_t *c = c1m_loop_adopt(&loop, sv[0], ts8 ? &c1m_proto_ts8 : &c1m_proto_echo);
    CHECK(c);
    uint8_t *out = malloc(len + 1);
    CHECK(out);
    size_t sent = 0, got = 0;
    while (sent < len) {
        seed = seed * 1103515245u + 12345u;
        size_t seg = 1 + (seed >> 16) % 23;
        if (seg > len - sent)
            seg = len - sent;
        CHECK(write(sv[1], in + sent, seg) == (ssize_t)seg);
        sent += seg;
        c1m_loop_run_once(&loop, 0);
        got = drain(sv[1], out, got, len);
    }
    size_t want = ts8 ? len / C1M_TS8_FRAME * C1M_TS8_FRAME : len;
    for (int i = 0; i < 100 && got < want; i++) {
        c1m_loop_run_once(&loop, 1);
        got = drain(sv[1], out, got, len);
    }
    CHECK(got == want && !memcmp(out, in, want));
    close(sv[1]);
    for (int i = 0; i < 100 && loop.stats.conns; i++)
        c1m_loop_run_once(&loop, 1);
    CHECK(loop.stats.conns == 0);
    free(out);
    return 0;
}
