#include "proto/ws/frame.h"

#include <string.h>

#include "proto/ws/utf8.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "c1m_ws_mask assumes a little-endian host (the key is kept in memory order)"
#endif

void c1m_ws_parser_init(c1m_ws_parser_t *p, bool client)
{
    memset(p, 0, sizeof *p);
    p->client = client;
}

/* Byte i of the key is bits 8i..8i+7 (little-endian memory order), so
 * after n bytes the key for the next byte is a rotation by 8 * (n mod 4). */
static inline uint32_t key_advance(uint32_t key, size_t n)
{
    unsigned r = (unsigned)(n & 3) * 8;
    return r ? (key >> r) | (key << (32 - r)) : key;
}

uint32_t c1m_ws_mask(void *dst, const void *src, size_t n, uint32_t key)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    uint64_t k8 = (uint64_t)key | ((uint64_t)key << 32);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* 8 bytes at a time: the key repeats every 4 */
        uint64_t w;
        memcpy(&w, s + i, 8);
        w ^= k8;
        memcpy(d + i, &w, 8);
    }
    uint32_t k = key;
    for (; i < n; i++) {
        d[i] = s[i] ^ (uint8_t)k;
        k = (k >> 8) | (k << 24);
    }
    return key_advance(key, n);
}

bool c1m_ws_close_code_valid(uint16_t code)
{
    if (code >= 3000 && code <= 4999)
        return true; /* libraries (3xxx) and applications (4xxx) */
    switch (code) {
    case 1000: case 1001: case 1002: case 1003:
    case 1007: case 1008: case 1009: case 1010: case 1011:
    case 1012: case 1013: case 1014: /* registered later with IANA */
        return true;
    default:
        return false; /* 1004-1006 and 1015 are reserved; others unassigned */
    }
}

static ssize_t fail(c1m_ws_parser_t *p, c1m_ws_event_t *ev, uint16_t code, const char *why)
{
    p->failed = 1;
    ev->kind = C1M_WS_EV_ERROR;
    ev->code = code;
    ev->why = why;
    return -1;
}

static void msg_reset(c1m_ws_parser_t *p)
{
    p->msg_op = 0;
    p->msg_len = 0;
    p->msg_started = 0;
    p->utf8 = C1M_UTF8_ACCEPT;
}

/* Payload of the current data frame: as much as is here and fits. */
static ssize_t payload(c1m_ws_parser_t *p, const uint8_t *b, size_t len, uint8_t *out,
                       size_t outcap, c1m_ws_event_t *ev)
{
    size_t n = len;
    if (n > p->remaining)
        n = (size_t)p->remaining;
    if (n > outcap)
        n = outcap;
    bool ends = n == p->remaining;
    if (!n && !ends)
        return 0; /* nothing here yet */
    p->mask = p->client ? 0 : c1m_ws_mask(out, b, n, p->mask);
    if (p->client)
        memcpy(out, b, n);
    p->remaining -= n;
    if (p->msg_op == C1M_WS_OP_TEXT) {
        p->utf8 = c1m_utf8_feed(p->utf8, out, n);
        if (p->utf8 == C1M_UTF8_REJECT)
            return fail(p, ev, C1M_WS_CLOSE_BAD_DATA, "invalid UTF-8 in a text message");
    }
    bool msg_end = ends && p->frame_fin;
    if (!n && !msg_end) { /* an empty non-final frame: no event */
        p->in_frame = 0;
        return 0;
    }
    if (msg_end && p->msg_op == C1M_WS_OP_TEXT && p->utf8 != C1M_UTF8_ACCEPT)
        return fail(p, ev, C1M_WS_CLOSE_BAD_DATA, "text message ends inside a UTF-8 sequence");
    ev->kind = C1M_WS_EV_DATA;
    ev->opcode = p->msg_op;
    ev->msg_first = !p->msg_started;
    ev->msg_end = msg_end;
    ev->len = n;
    p->msg_started = 1;
    if (ends)
        p->in_frame = 0;
    if (msg_end)
        msg_reset(p);
    return (ssize_t)n;
}

static ssize_t control(c1m_ws_parser_t *p, uint8_t op, const uint8_t *pl, size_t n,
                       uint8_t *out, c1m_ws_event_t *ev)
{
    ev->kind = C1M_WS_EV_CONTROL;
    ev->opcode = op;
    ev->len = n;
    if (op != C1M_WS_OP_CLOSE)
        return 0;
    (void)pl;
    if (n == 0) {
        ev->code = C1M_WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (n == 1)
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "close payload of 1 byte");
    uint16_t code = (uint16_t)(out[0] << 8 | out[1]);
    if (!c1m_ws_close_code_valid(code))
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "close status code not allowed");
    if (!c1m_utf8_valid(out + 2, n - 2))
        return fail(p, ev, C1M_WS_CLOSE_BAD_DATA, "invalid UTF-8 in a close reason");
    ev->code = code;
    ev->reason = (const char *)out + 2;
    ev->reason_len = n - 2;
    return 0;
}

ssize_t c1m_ws_parse(c1m_ws_parser_t *p, const c1m_ws_limits_t *lim, const void *in, size_t len,
                     void *outv, size_t outcap, c1m_ws_event_t *ev)
{
    const uint8_t *b = in;
    uint8_t *out = outv;
    memset(ev, 0, sizeof *ev);
    if (p->failed)
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "parser already failed");
    if (p->in_frame)
        return payload(p, b, len, out, outcap, ev);
    if (len < 2)
        return 0;
    uint8_t fin = b[0] & 0x80, op = b[0] & 0x0F, masked = b[1] & 0x80, len7 = b[1] & 0x7F;
    if (b[0] & 0x70)
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "reserved bits set");
    bool ctl = op & 0x8;
    if (ctl) {
        if (op > C1M_WS_OP_PONG)
            return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "unknown control opcode");
        if (!fin)
            return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "fragmented control frame");
        if (len7 > C1M_WS_MAX_CONTROL)
            return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "control frame longer than 125 bytes");
    } else if (op > C1M_WS_OP_BINARY) {
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "unknown data opcode");
    }
    if (!p->client && !masked)
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "unmasked frame from a client");
    if (p->client && masked)
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "masked frame from a server");
    size_t hlen = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
    if (len < hlen)
        return 0; /* the header is completed by a later read */
    uint64_t plen = len7;
    if (len7 == 126) {
        plen = (uint64_t)b[2] << 8 | b[3];
    } else if (len7 == 127) {
        if (b[2] & 0x80)
            return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "64-bit length with the high bit set");
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = plen << 8 | b[2 + i];
    }
    uint32_t key = 0;
    if (masked)
        memcpy(&key, b + hlen - 4, 4);
    if (ctl) {
        if (outcap < C1M_WS_MAX_CONTROL)
            return fail(p, ev, C1M_WS_CLOSE_INTERNAL, "output buffer too small");
        if (len - hlen < plen)
            return 0; /* a control frame is taken whole */
        if (masked)
            c1m_ws_mask(out, b + hlen, (size_t)plen, key);
        else
            memcpy(out, b + hlen, (size_t)plen);
        if (control(p, op, b + hlen, (size_t)plen, out, ev) < 0)
            return -1;
        return (ssize_t)(hlen + plen);
    }
    if (op == C1M_WS_OP_CONT && !p->msg_op)
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "continuation frame without a message");
    if (op != C1M_WS_OP_CONT && p->msg_op)
        return fail(p, ev, C1M_WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
    /* the limits, resolved here (once per data frame header) rather than
     * kept in every connection's parser */
    uint64_t max_msg = lim && lim->max_msg ? lim->max_msg : C1M_WS_DEFAULT_MAX_MSG;
    uint64_t max_frame = lim && lim->max_frame ? lim->max_frame : max_msg;
    if (max_msg > UINT32_MAX)
        max_msg = UINT32_MAX;
    if (plen > max_frame)
        return fail(p, ev, C1M_WS_CLOSE_TOO_BIG, "frame longer than the frame limit");
    uint64_t msg_so_far = op == C1M_WS_OP_CONT ? p->msg_len : 0;
    if (plen > max_msg - msg_so_far)
        return fail(p, ev, C1M_WS_CLOSE_TOO_BIG, "message longer than the message limit");
    if (op != C1M_WS_OP_CONT) {
        msg_reset(p);
        p->msg_op = op;
    }
    p->msg_len += (uint32_t)plen; /* <= max_msg: checked above */
    p->remaining = (uint32_t)plen;
    p->frame_fin = fin ? 1 : 0;
    p->mask = key;
    p->in_frame = 1;
    ssize_t n = payload(p, b + hlen, len - hlen, out, outcap, ev);
    if (n < 0)
        return n;
    return (ssize_t)hlen + n;
}

size_t c1m_ws_header(uint8_t out[C1M_WS_MAX_HEADER], uint8_t opcode, bool fin, uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t c1m_ws_header_masked(uint8_t out[C1M_WS_MAX_HEADER], uint8_t opcode, bool fin,
                            uint64_t len, uint32_t key)
{
    size_t n = c1m_ws_header(out, opcode, fin, len);
    out[1] |= 0x80;
    memcpy(out + n, &key, 4);
    return n + 4;
}

size_t c1m_ws_close_payload(uint8_t out[C1M_WS_MAX_CONTROL], uint16_t code, const char *reason)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t r = reason ? strlen(reason) : 0;
    if (r > C1M_WS_MAX_CONTROL - 2)
        r = C1M_WS_MAX_CONTROL - 2;
    memcpy(out + 2, reason ? reason : "", r);
    return 2 + r;
}
