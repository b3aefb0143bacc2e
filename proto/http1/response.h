/* An incremental HTTP/1.x response parser for the load generator.
 *
 * Made for the engine's on_data contract: feed it what arrived; it returns
 * how many bytes it consumed. An incomplete status line, header block,
 * chunk-size line or trailer is not consumed (the engine keeps it and
 * presents it again with more bytes); body bytes are consumed as they come,
 * never buffered. Handles Content-Length, chunked transfer coding (with
 * extensions and trailers), bodiless responses (HEAD, 1xx, 204, 304),
 * interim 1xx responses, and close-delimited bodies.
 *
 * Linear time: while a head (or a chunk-size or trailer line) is incomplete
 * the parser remembers how far it has searched for the line's end and which
 * lines it has already read, so a head that arrives a byte at a time is
 * searched once, not from its start on every read (a server trickling a
 * 64 KiB head costs O(n), not O(n^2)). The caller must therefore present
 * the kept bytes again unchanged, followed by the new ones. */
#ifndef C1M_PROTO_HTTP1_RESPONSE_H
#define C1M_PROTO_HTTP1_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    C1M_HTTP_RESP_HEAD = 0,   /* waiting for the status line and headers */
    C1M_HTTP_RESP_BODY,       /* Content-Length body: `remaining` bytes left */
    C1M_HTTP_RESP_CHUNK_SIZE, /* chunked: a chunk-size line */
    C1M_HTTP_RESP_CHUNK_DATA, /* chunked: `remaining` bytes of chunk data */
    C1M_HTTP_RESP_CHUNK_CRLF, /* chunked: the CRLF after chunk data */
    C1M_HTTP_RESP_TRAILER,    /* chunked: trailer lines up to an empty line */
    C1M_HTTP_RESP_UNTIL_EOF,  /* no length: the body ends when the peer closes */
};

#define C1M_HTTP_RESP_MAX_HEAD 65536 /* a larger header block is an error */
#define C1M_HTTP_RESP_MAX_LINE 4096  /* chunk-size or trailer line */

typedef struct c1m_http_resp {
    uint8_t state;
    bool head_only;  /* the request was HEAD: no body whatever the headers say */
    bool close;      /* the server will close after this response */
    uint8_t hflags;  /* private: what the head's lines said so far */
    uint16_t status; /* of the current (last complete) response */
    uint32_t line;   /* private: head: offset of its first unread line */
    uint32_t scan;   /* private: bytes from the line's start already searched */
    uint64_t remaining; /* body / chunk bytes left; while reading a head,
                           the Content-Length seen so far */
} c1m_http_resp_t;

/* Reset for the next response (keeps head_only). */
void c1m_http_resp_init(c1m_http_resp_t *r, bool head_only);

/* Consume bytes. Returns the bytes consumed and sets *done when a complete
 * response ended there (the caller handles it, then calls again with the
 * rest), or -EBADMSG (malformed) / -E2BIG (header block or line too long).
 * Returns 0 with *done false when more bytes are needed. */
ssize_t c1m_http_resp_feed(c1m_http_resp_t *r, const char *p, size_t n, bool *done);

/* The peer closed: true when that completes the response (close-delimited
 * body). */
bool c1m_http_resp_eof(c1m_http_resp_t *r);

#endif
