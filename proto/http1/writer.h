/* HTTP/1.1 response writer.
 *
 * A response is built on the stack (c1m_http_reply_t) by a handler: status,
 * extra header fields, then either one complete body (Content-Length) or
 * a sequence of chunks (Transfer-Encoding: chunked; for an HTTP/1.0 client
 * the body is delimited by closing the connection instead). HEAD requests
 * get the same header fields (and the same Content-Length) and no body.
 *
 * Output goes through a per-thread "cork": while a connection's bytes are
 * being handled (c1m_http_cork_begin .. c1m_http_cork_end), the responses
 * to every request of the batch (pipelining) are appended to one
 * thread-local buffer and handed to the engine in one write at the end;
 * a body too large for the cork goes out as writev(header, body) without a
 * copy. Outside a cork (a timeout's 408) writes go to the connection at
 * once. Nothing here locks: every buffer is per thread, so it works the
 * same on a loop thread and on a workerpool worker.
 *
 * The Date header field is cached per thread and re-formatted when the
 * wall-clock second changes (checked once per batch with the coarse
 * clock), i.e. at most once per second per loop or worker thread.
 */
#ifndef C1M_PROTO_HTTP1_WRITER_H
#define C1M_PROTO_HTTP1_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "c1m/http.h"
#include "engine/conn.h"

#define C1M_HTTP_REPLY_HDRS_MAX 512   /* extra header bytes per response */
#define C1M_HTTP_CORK_SIZE (16 * 1024)

typedef struct c1m_http_reply {
    c1m_conn_t *c;
    uint16_t status;
    uint8_t version_minor;   /* the request's: 0 = HTTP/1.0 */
    bool head;               /* HEAD: header fields only */
    bool keep_alive;         /* in: the request allows it; out: false if the writer closes */
    bool started;            /* header written */
    bool chunked;            /* chunked (or close-delimited for HTTP/1.0) body in progress */
    bool done;               /* response complete */
    uint32_t hlen;           /* bytes used in hdrs */
    uint64_t body_bytes;     /* body bytes given by the handler (for logs) */
    char hdrs[C1M_HTTP_REPLY_HDRS_MAX];
} c1m_http_reply_t;

void c1m_http_reply_init(c1m_http_reply_t *r, c1m_conn_t *c, uint8_t version_minor, bool head,
                        bool keep_alive);
/* c1m_http_reply_status, _header, _send, _chunk, _end, _get_status and
 * _body_bytes are public (c1m/http.h). _end finishes: the last chunk for a
 * chunked body; for a response never started, an empty body
 * (Content-Length: 0). Idempotent. */

/* A complete response with a text body and Connection: close (errors,
 * 408). Safe in and out of a cork. */
int c1m_http_send_simple(c1m_conn_t *c, int status, bool keep_alive, const char *extra_hdrs,
                         const char *body);

/* ---- per-thread output cork and Date cache ---------------------------- */

/* Start a batch for c (refreshes the Date cache if the second changed). */
void c1m_http_cork_begin(c1m_conn_t *c);
/* Hand the batch's bytes to the engine. 0 or a negative errno. */
int c1m_http_cork_end(c1m_conn_t *c);
/* Append raw bytes (e.g. "100 Continue") through the cork. */
int c1m_http_out(c1m_conn_t *c, const struct iovec *iov, int iovcnt);

/* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" for this thread (37 bytes,
 * refreshed when the second changed). */
const char *c1m_http_date_line(size_t *len);
void c1m_http_date_refresh(void);
/* How many times this thread re-formatted its Date (tests). */
uint64_t c1m_http_date_formats(void);

#endif
