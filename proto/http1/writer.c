#include "proto/http1/writer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "core/common.h"
#include "proto/http1/parser.h"

/* ---- Date cache (per thread) ----------------------------------------- */

typedef struct {
    time_t sec;
    uint64_t formats;
    char line[40];
} date_cache_t;

static _Thread_local date_cache_t tl_date = { .sec = -1 };

static void date_format(time_t sec)
{
    static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(tl_date.line, sizeof tl_date.line, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
             days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    tl_date.sec = sec;
    tl_date.formats++;
}

void c1m_http_date_refresh(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (C1M_UNLIKELY(ts.tv_sec != tl_date.sec))
        date_format(ts.tv_sec);
}

const char *c1m_http_date_line(size_t *len)
{
    if (C1M_UNLIKELY(tl_date.sec < 0))
        c1m_http_date_refresh();
    *len = 37;
    return tl_date.line;
}

uint64_t c1m_http_date_formats(void) { return tl_date.formats; }

/* ---- cork (per thread) ------------------------------------------------ */

typedef struct {
    c1m_conn_t *c;   /* the connection being handled, NULL outside a batch */
    size_t len;
    char buf[C1M_HTTP_CORK_SIZE];
} cork_t;

static _Thread_local cork_t tl_cork;

void c1m_http_cork_begin(c1m_conn_t *c)
{
    c1m_http_date_refresh();
    tl_cork.c = c;
    tl_cork.len = 0;
}

static int cork_flush(void)
{
    int rc = 0;
    if (tl_cork.len)
        rc = c1m_conn_write(tl_cork.c, tl_cork.buf, tl_cork.len);
    tl_cork.len = 0;
    return rc;
}

int c1m_http_cork_end(c1m_conn_t *c)
{
    int rc = tl_cork.c == c ? cork_flush() : 0;
    tl_cork.c = NULL;
    return rc;
}

int c1m_http_out(c1m_conn_t *c, const struct iovec *iov, int iovcnt)
{
    if (tl_cork.c != c)
        return c1m_conn_writev(c, iov, iovcnt);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (tl_cork.len + total > sizeof tl_cork.buf) {
        /* Keep the order: what is corked goes first. */
        int rc = cork_flush();
        if (rc < 0)
            return rc;
        if (total > sizeof tl_cork.buf / 2)
            return c1m_conn_writev(c, iov, iovcnt);
    }
    for (int i = 0; i < iovcnt; i++) {
        memcpy(tl_cork.buf + tl_cork.len, iov[i].iov_base, iov[i].iov_len);
        tl_cork.len += iov[i].iov_len;
    }
    return 0;
}

/* ---- responses -------------------------------------------------------- */

void c1m_http_reply_init(c1m_http_reply_t *r, c1m_conn_t *c, uint8_t version_minor, bool head,
                        bool keep_alive)
{
    r->c = c;
    r->status = 200;
    r->version_minor = version_minor;
    r->head = head;
    r->keep_alive = keep_alive;
    r->started = r->chunked = r->done = false;
    r->hlen = 0;
    r->body_bytes = 0;
}

int c1m_http_reply_status(c1m_http_reply_t *r, int status)
{
    if (r->started)
        return -EALREADY;
    if (status < 100 || status > 999)
        return -EINVAL;
    r->status = (uint16_t)status;
    return 0;
}

int c1m_http_reply_get_status(const c1m_http_reply_t *r) { return r->status; }
uint64_t c1m_http_reply_body_bytes(const c1m_http_reply_t *r) { return r->body_bytes; }

static bool has_crlf(const char *s, size_t n)
{
    return memchr(s, '\r', n) || memchr(s, '\n', n);
}

int c1m_http_reply_header(c1m_http_reply_t *r, const char *name, const char *value, size_t vlen)
{
    if (r->started)
        return -EALREADY;
    size_t nlen = strlen(name);
    if (!nlen || has_crlf(name, nlen) || memchr(name, ':', nlen) || has_crlf(value, vlen))
        return -EINVAL;
    if (r->hlen + nlen + 2 + vlen + 2 > sizeof r->hdrs)
        return -ENOSPC;
    char *p = r->hdrs + r->hlen;
    memcpy(p, name, nlen), p += nlen;
    *p++ = ':', *p++ = ' ';
    memcpy(p, value, vlen), p += vlen;
    *p++ = '\r', *p++ = '\n';
    r->hlen = (uint32_t)(p - r->hdrs);
    return 0;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUT_LIT(p, s) put((p), (s), sizeof(s) - 1)

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Status line, Date, Content-Type, framing, Connection, extra fields, CRLF.
 * cl < 0: no Content-Length (chunked or close-delimited). */
static size_t build_head(c1m_http_reply_t *r, char *out, const char *ctype, int64_t cl)
{
    char *p = PUT_LIT(out, "HTTP/1.1 ");
    unsigned s = r->status;
    *p++ = (char)('0' + s / 100 % 10);
    *p++ = (char)('0' + s / 10 % 10);
    *p++ = (char)('0' + s % 10);
    *p++ = ' ';
    const char *reason = c1m_http_reason_phrase(s);
    p = put(p, reason, strlen(reason));
    p = PUT_LIT(p, "\r\n");
    size_t dlen;
    const char *d = c1m_http_date_line(&dlen);
    p = put(p, d, dlen);
    if (ctype) {
        p = PUT_LIT(p, "Content-Type: ");
        p = put(p, ctype, strnlen(ctype, 100));
        p = PUT_LIT(p, "\r\n");
    }
    if (cl >= 0) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put_u64(p, (uint64_t)cl);
        p = PUT_LIT(p, "\r\n");
    } else if (r->version_minor >= 1) {
        p = PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
    } else {
        r->keep_alive = false; /* HTTP/1.0: the body ends when the connection does */
    }
    if (!r->keep_alive)
        p = PUT_LIT(p, "Connection: close\r\n");
    else if (r->version_minor == 0)
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    p = put(p, r->hdrs, r->hlen);
    p = PUT_LIT(p, "\r\n");
    return (size_t)(p - out);
}

/* status line <= 64, Date 37, type <= 116, length 40, connection 24 */
#define HEAD_MAX (C1M_HTTP_REPLY_HDRS_MAX + 320)

int c1m_http_reply_send(c1m_http_reply_t *r, const char *content_type, const void *body,
                       size_t len)
{
    if (r->started)
        return -EALREADY;
    char head[HEAD_MAX];
    size_t hl = build_head(r, head, content_type, (int64_t)len);
    r->started = r->done = true;
    r->body_bytes = len;
    struct iovec iov[2] = { { head, hl }, { (void *)body, len } };
    return c1m_http_out(r->c, iov, r->head || !len ? 1 : 2);
}

int c1m_http_reply_chunk(c1m_http_reply_t *r, const char *content_type, const void *data,
                        size_t len)
{
    if (r->done)
        return -EALREADY;
    struct iovec iov[4];
    int n = 0;
    char head[HEAD_MAX];
    if (!r->started) {
        iov[n++] = (struct iovec){ head, build_head(r, head, content_type, -1) };
        r->started = r->chunked = true;
    }
    char size[24];
    r->body_bytes += len;
    if (len && !r->head) {
        if (r->version_minor >= 1) {
            int sl = snprintf(size, sizeof size, "%zx\r\n", len);
            iov[n++] = (struct iovec){ size, (size_t)sl };
            iov[n++] = (struct iovec){ (void *)data, len };
            iov[n++] = (struct iovec){ (void *)"\r\n", 2 };
        } else {
            iov[n++] = (struct iovec){ (void *)data, len };
        }
    }
    return n ? c1m_http_out(r->c, iov, n) : 0;
}

int c1m_http_reply_end(c1m_http_reply_t *r)
{
    if (r->done)
        return 0;
    if (!r->started)
        return c1m_http_reply_send(r, NULL, NULL, 0);
    r->done = true;
    if (r->chunked && !r->head && r->version_minor >= 1) {
        struct iovec iov = { (void *)"0\r\n\r\n", 5 };
        return c1m_http_out(r->c, &iov, 1);
    }
    return 0;
}

int c1m_http_send_simple(c1m_conn_t *c, int status, bool keep_alive, const char *extra_hdrs,
                         const char *body)
{
    c1m_http_reply_t r;
    c1m_http_reply_init(&r, c, 1, false, keep_alive);
    c1m_http_reply_status(&r, status);
    if (extra_hdrs) {
        size_t n = strnlen(extra_hdrs, sizeof r.hdrs);
        memcpy(r.hdrs, extra_hdrs, n);
        r.hlen = (uint32_t)n;
    }
    return c1m_http_reply_send(&r, "text/plain; charset=utf-8", body, body ? strlen(body) : 0);
}
