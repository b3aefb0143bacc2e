/* The WebSocket opening handshake (RFC 6455 4.2), server side, socket-free.
 *
 * Checks an HTTP/1.1 request that asks for an upgrade and computes
 * Sec-WebSocket-Accept = base64(SHA-1(key + the RFC's GUID)) with
 * nettle (Debian nettle-dev). No subprotocol and no extension
 * is negotiated (so RSV bits must stay 0). */
#ifndef C1M_PROTO_WS_HANDSHAKE_H
#define C1M_PROTO_WS_HANDSHAKE_H

#include <stddef.h>

#include "proto/http1/parser.h"

#define C1M_WS_ACCEPT_LEN 28

/* accept = base64(SHA-1(key || 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)),
 * NUL-terminated (29 bytes). 0 or -EINVAL (key longer than 256 bytes). */
int c1m_ws_accept_key(const char *key, size_t keylen, char accept[C1M_WS_ACCEPT_LEN + 1]);

/* Check an upgrade request. Returns 0 with `accept` filled when it is a
 * valid WebSocket handshake; otherwise the HTTP status to answer with
 * (400: not GET / not HTTP/1.1 / a body / no "Upgrade: websocket" /
 * no "Connection: upgrade" / a missing or malformed Sec-WebSocket-Key;
 * 426: a Sec-WebSocket-Version other than 13, answered with
 * "Sec-WebSocket-Version: 13") and *why says which. */
int c1m_ws_handshake_check(const c1m_http_request_t *req, char accept[C1M_WS_ACCEPT_LEN + 1],
                           const char **why);

/* The 101 answer: writes at most cap bytes, returns the length (0 if cap
 * is too small: 129 bytes are enough). */
size_t c1m_ws_handshake_response(char *out, size_t cap, const char *accept);

#endif
