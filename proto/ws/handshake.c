#include "proto/ws/handshake.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* nettle, not libcrypto: OpenSSL 3's SHA1() goes through its provider
 * machinery, whose first use touches ~2 MiB of code and heap in every
 * process (counted against the first connections in RSS figures);
 * nettle's SHA-1 is a plain function with no set-up. */
#include <nettle/base64.h>
#include <nettle/sha1.h>

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int c1m_ws_accept_key(const char *key, size_t keylen, char accept[C1M_WS_ACCEPT_LEN + 1])
{
    char buf[256 + sizeof GUID];
    if (keylen > 256)
        return -EINVAL;
    memcpy(buf, key, keylen);
    memcpy(buf + keylen, GUID, sizeof GUID - 1);
    struct sha1_ctx sha;
    uint8_t md[SHA1_DIGEST_SIZE];
    sha1_init(&sha);
    sha1_update(&sha, keylen + sizeof GUID - 1, (const uint8_t *)buf);
    sha1_digest(&sha, sizeof md, md);
    /* 20 bytes -> 28 base64 characters (with padding) and a NUL */
    _Static_assert(BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) == C1M_WS_ACCEPT_LEN, "accept length");
    base64_encode_raw(accept, sizeof md, md);
    accept[C1M_WS_ACCEPT_LEN] = '\0';
    return 0;
}

/* A comma-separated header value contains `tok` (case-insensitive). */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && !strncasecmp(v + s, tok, tl))
            return true;
    }
    return false;
}

static bool header(const c1m_http_request_t *req, const char *name, const char **v, size_t *n)
{
    int i = c1m_http_find_header(req, name, strlen(name));
    if (i < 0)
        return false;
    *v = c1m_http_str(req->buf, req->headers[i].value);
    *n = req->headers[i].value.len;
    return true;
}

/* base64 of 16 bytes: 22 characters and "==" (RFC 6455 4.1). */
static bool key_ok(const char *k, size_t n)
{
    if (n != 24 || k[22] != '=' || k[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        char ch = k[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/'))
            return false;
    }
    return true;
}

int c1m_ws_handshake_check(const c1m_http_request_t *req, char accept[C1M_WS_ACCEPT_LEN + 1],
                           const char **why)
{
    const char *v;
    size_t n;
    const char *dummy;
    if (!why)
        why = &dummy;
    if (req->method != C1M_HTTP_GET)
        return *why = "the handshake must be a GET", 400;
    if (req->version_minor != 1)
        return *why = "the handshake needs HTTP/1.1", 400;
    if ((req->flags & C1M_HTTP_F_CHUNKED) ||
        ((req->flags & C1M_HTTP_F_CONTENT_LENGTH) && req->content_length))
        return *why = "a handshake has no body", 400;
    if (!header(req, "Upgrade", &v, &n) || !has_token(v, n, "websocket"))
        return *why = "no \"Upgrade: websocket\"", 400;
    if (!header(req, "Connection", &v, &n) || !has_token(v, n, "upgrade"))
        return *why = "no \"Connection: Upgrade\"", 400;
    if (!header(req, "Sec-WebSocket-Version", &v, &n) || n != 2 || memcmp(v, "13", 2))
        return *why = "unsupported Sec-WebSocket-Version (13 is)", 426;
    if (!header(req, "Sec-WebSocket-Key", &v, &n) || !key_ok(v, n))
        return *why = "missing or malformed Sec-WebSocket-Key", 400;
    c1m_ws_accept_key(v, n, accept);
    *why = NULL;
    return 0;
}

size_t c1m_ws_handshake_response(char *out, size_t cap, const char *accept)
{
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
