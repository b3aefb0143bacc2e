/* Incremental UTF-8 validation (RFC 3629) for WebSocket text messages and
 * close reasons: a text message may be split across frames and each frame
 * across reads, and a code point may straddle any of those boundaries, so
 * the validator keeps one byte of state between calls.
 *
 * Rejects overlong forms, surrogates (U+D800..U+DFFF) and code points above
 * U+10FFFF as soon as the offending byte is seen (fail fast, as RFC 6455
 * section 8.1 asks). */
#ifndef C1M_PROTO_WS_UTF8_H
#define C1M_PROTO_WS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { C1M_UTF8_ACCEPT = 0, C1M_UTF8_REJECT = 8 };

/* Feed n bytes; returns the new state: C1M_UTF8_ACCEPT at a code point
 * boundary, C1M_UTF8_REJECT once invalid (sticky), anything else in the
 * middle of a code point. */
uint8_t c1m_utf8_feed(uint8_t state, const uint8_t *p, size_t n);

/* Whole buffer: true when valid and complete. */
static inline bool c1m_utf8_valid(const void *p, size_t n)
{
    return c1m_utf8_feed(C1M_UTF8_ACCEPT, p, n) == C1M_UTF8_ACCEPT;
}

#endif
