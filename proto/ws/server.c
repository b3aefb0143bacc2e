#include "proto/ws/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "engine/conn.h"
#include "engine/loop.h"
#include "proto/http1/metrics.h"
#include "proto/http1/server.h"
#include "proto/ws/conn.h"
#include "proto/ws/handshake.h"
#include "proto/ws/slab.h"

#define DEFAULT_PING_MS 30000u
#define SCRATCH_SIZE (64u * 1024)

/* Unmasked payload lands here, one per thread (loop): per call, never
 * kept, so no connection owns a buffer for it. Allocated by the first
 * WebSocket on the thread, not static TLS: glibc clears a thread's static
 * TLS when it starts, so 64 KiB were resident in every loop thread of
 * every server, WebSocket or not (102 rings of a million uring
 * connections: 6.5 MiB). Freed at thread exit (scratch_key). */
static _Thread_local uint8_t *tl_scratch;
static pthread_key_t scratch_key;

/* The connections' state, one slab per thread: allocated by the route
 * handler and freed by on_close, both on the connection's loop thread (a
 * worker thread of the worker pool frees it at once: the upgrade is
 * refused there). The slab gives its chunks back as they empty; at thread
 * exit the key releases it (freed then, or with its last connection if a
 * loop freed later still held some). */
static _Thread_local c1m_ws_slab_t *tl_slab;
static pthread_key_t slab_key;
static pthread_once_t slab_once = PTHREAD_ONCE_INIT;

static void slab_thread_exit(void *s) { c1m__ws_slab_release(s); }
static void slab_key_init(void)
{
    pthread_key_create(&slab_key, slab_thread_exit);
    pthread_key_create(&scratch_key, free);
}

static uint8_t *scratch(void)
{
    if (C1M_UNLIKELY(!tl_scratch)) {
        pthread_once(&slab_once, slab_key_init);
        if ((tl_scratch = malloc(SCRATCH_SIZE)))
            pthread_setspecific(scratch_key, tl_scratch);
    }
    return tl_scratch;
}

static c1m_ws_conn_t *ws_new(void)
{
    if (C1M_UNLIKELY(!tl_slab)) {
        pthread_once(&slab_once, slab_key_init);
        if (!(tl_slab = c1m__ws_slab_new(sizeof(c1m_ws_conn_t))))
            return NULL;
        pthread_setspecific(slab_key, tl_slab);
    }
    c1m_ws_conn_t *ws = c1m__ws_slab_alloc(tl_slab);
    if (ws)
        memset(ws, 0, sizeof *ws);
    return ws;
}

c1m_ws_aux_t *c1m__ws_aux(c1m_ws_conn_t *ws)
{
    c1m_ws_aux_t *a = c1m__ws_aux_get(ws);
    if (!a && (a = calloc(1, sizeof *a)))
        ws->c->user64 = (uint64_t)(uintptr_t)a;
    return a;
}

void c1m__ws_aux_trim(c1m_ws_conn_t *ws)
{
    c1m_ws_aux_t *a = c1m__ws_aux_get(ws);
    if (a && !a->qtail && !a->msg) {
        free(a);
        ws->c->user64 = 0;
    }
}

/* ---- the handshake (an HTTP route) ------------------------------------- */

void c1m_ws_http_handler(c1m_http_req_t *req, c1m_http_reply_t *resp, void *ud)
{
    const c1m_ws_route_t *route = ud;
    char accept[C1M_WS_ACCEPT_LEN + 1];
    const char *why = NULL;
    int st = c1m_ws_handshake_check(req->req, accept, &why);
    if (st) {
        char body[128];
        snprintf(body, sizeof body, "%d %s: %s\n", st, c1m_http_reason_phrase(st), why);
        c1m_http_reply_status(resp, st);
        if (st == 426) {
            c1m_http_reply_header(resp, "Sec-WebSocket-Version", "13", 2);
            c1m_http_reply_header(resp, "Upgrade", "websocket", 9);
        }
        c1m_http_reply_send(resp, "text/plain; charset=utf-8", body, strlen(body));
        return;
    }
    c1m_ws_conn_t *ws = ws_new();
    if (!ws) {
        c1m_http_reply_status(resp, 500);
        c1m_http_reply_send(resp, "text/plain; charset=utf-8", "500 Internal Server Error\n", 26);
        return;
    }
    c1m_ws_parser_init(&ws->p, false);
    ws->c = c1m_http_req_conn(req);
    ws->route = route;
    ws->topic = route->mode == C1M_WS_SUBSCRIBE ? (uint8_t)route->topic : C1M_WS_MAX_TOPICS;
    c1m_http_reply_header(resp, "Upgrade", "websocket", 9);
    c1m_http_reply_header(resp, "Connection", "Upgrade", 7);
    c1m_http_reply_header(resp, "Sec-WebSocket-Accept", accept, C1M_WS_ACCEPT_LEN);
    int rc = c1m_http_upgrade(req, &c1m_proto_ws, ws);
    if (rc == 0)
        return;
    c1m__ws_slab_free(ws);
    /* a fresh reply: the fields meant for the 101 must not leak into it */
    resp->hlen = 0;
    const char *msg;
    if (rc == -ENOTSUP)
        st = 501, msg = "501 WebSocket is not available under the worker pool\n";
    else if (rc == -ESHUTDOWN)
        st = 503, msg = "503 the server is shutting down\n";
    else if (rc == -EPROTO)
        st = 400, msg = "400 WebSocket needs HTTP/1.1\n";
    else if (rc == -EBADMSG)
        st = 400, msg = "400 an Upgrade request must not have a body\n";
    else
        st = 500, msg = "500 Internal Server Error\n";
    c1m_http_reply_status(resp, st);
    c1m_http_reply_send(resp, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* ---- frames out -------------------------------------------------------- */

static void send_frame(c1m_ws_conn_t *ws, uint8_t op, const void *p, size_t n)
{
    uint8_t h[C1M_WS_MAX_HEADER];
    size_t hl = c1m_ws_header(h, op, true, n);
    struct iovec iov[2] = { { h, hl }, { (void *)p, n } };
    c1m_conn_writev(ws->c, iov, n ? 2 : 1);
}

/* Send a close frame and close once it is out. */
static void send_close(c1m_ws_conn_t *ws, uint16_t code, const char *reason, int why)
{
    if (!(ws->flags & C1M_WSF_CLOSING)) {
        uint8_t pl[C1M_WS_MAX_CONTROL];
        size_t n = code == C1M_WS_CLOSE_NO_STATUS ? 0 : c1m_ws_close_payload(pl, code, reason);
        send_frame(ws, C1M_WS_OP_CLOSE, pl, n);
        ws->flags |= C1M_WSF_CLOSING;
    }
    c1m_conn_close_after_flush(ws->c, why);
}

/* ---- frames in --------------------------------------------------------- */

static void on_message_data(c1m_ws_conn_t *ws, const c1m_ws_event_t *ev, const uint8_t *data)
{
    if (ws->route->mode != C1M_WS_ECHO) {
        if (ev->msg_end)
            c1m_conn_count(ws->c, 1);
        return; /* subscribers' messages are not used */
    }
    if (ev->msg_first && ev->msg_end) { /* whole in one piece: no copy */
        send_frame(ws, ev->opcode, data, ev->len);
        c1m_conn_count(ws->c, 1);
        return;
    }
    /* a message in pieces: collected in aux (ev->opcode is the message's
     * on every piece, so nothing else is kept) */
    c1m_ws_aux_t *a = c1m__ws_aux(ws);
    if (!a || (ev->len && c1m_buf_append(&a->msg, data, ev->len) < 0)) {
        send_close(ws, C1M_WS_CLOSE_INTERNAL, "out of memory", C1M_CLOSE_NOMEM);
        return;
    }
    if (ev->msg_end) {
        size_t n = c1m_buf_size(a->msg);
        send_frame(ws, ev->opcode, n ? c1m_buf_data(a->msg) : "", n);
        c1m_buf_free(&a->msg);
        c1m__ws_aux_trim(ws);
        c1m_conn_count(ws->c, 1);
    }
}

static ssize_t ws_data(c1m_conn_t *c, const char *data, size_t len)
{
    c1m_ws_conn_t *ws = c->ud;
    if (C1M_UNLIKELY(!ws))
        return -1;
    if (ws->flags & C1M_WSF_CLOSING)
        return (ssize_t)len; /* our close is out: nothing more is read */
    /* any input shows the peer is alive: the keep-alive starts over */
    ws->flags &= (uint8_t)~C1M_WSF_PING_OUT;
    c1m_conn_timeout_arm(c, C1M_TO_IDLE);
    uint8_t *scr = scratch();
    if (C1M_UNLIKELY(!scr)) {
        send_close(ws, C1M_WS_CLOSE_INTERNAL, "out of memory", C1M_CLOSE_NOMEM);
        return (ssize_t)len;
    }
    size_t off = 0;
    while (off < len) {
        if (c1m_conn_over_high(c))
            break; /* backpressure: the engine presents the rest once drained */
        c1m_ws_event_t ev;
        ssize_t n = c1m_ws_parse(&ws->p, &ws->route->limits, data + off, len - off, scr, SCRATCH_SIZE, &ev);
        if (n < 0) {
            send_close(ws, ev.code, ev.why, C1M_CLOSE_PROTO);
            return (ssize_t)len;
        }
        off += (size_t)n;
        switch (ev.kind) {
        case C1M_WS_EV_DATA:
            on_message_data(ws, &ev, scr);
            if (!c1m_conn_is_open(c) || (ws->flags & C1M_WSF_CLOSING))
                return (ssize_t)len;
            break;
        case C1M_WS_EV_CONTROL:
            if (ev.opcode == C1M_WS_OP_PING) {
                send_frame(ws, C1M_WS_OP_PONG, scr, ev.len);
            } else if (ev.opcode == C1M_WS_OP_CLOSE) {
                /* answer with the same status (RFC 6455 5.5.1), then close */
                send_close(ws, ev.code, NULL, C1M_CLOSE_PEER);
                return (ssize_t)len;
            }
            break; /* a pong: the input above already counted */
        default:
            if (n == 0)
                return (ssize_t)off; /* an incomplete header or control frame */
            break;
        }
    }
    return (ssize_t)off;
}

static int ws_timeout(c1m_conn_t *c, int kind)
{
    c1m_ws_conn_t *ws = c->ud;
    if (!ws || kind != C1M_TO_IDLE || (ws->flags & (C1M_WSF_CLOSING | C1M_WSF_PING_OUT)))
        return 0; /* closing, or the last ping got no answer: close */
    send_frame(ws, C1M_WS_OP_PING, "", 0);
    ws->flags |= C1M_WSF_PING_OUT;
    c1m_conn_timeout_arm(c, C1M_TO_IDLE);
    return 1;
}

static void ws_drained(c1m_conn_t *c)
{
    c1m_ws_conn_t *ws = c->ud;
    c1m_ws_aux_t *a = ws ? c1m__ws_aux_get(ws) : NULL;
    if (a && a->qtail)
        c1m__ws_queue_flush(ws);
}

static void ws_close(c1m_conn_t *c, int reason)
{
    c1m_ws_conn_t *ws = c->ud;
    if (!ws)
        return;
    if (ws->flags & C1M_WSF_SLOW)
        c1m__ws_slow_closed(ws, reason);
    c1m__ws_list_del(ws);
    c1m__ws_queue_free(ws);
    c1m_ws_aux_t *a = c1m__ws_aux_get(ws);
    if (a) {
        c1m_buf_free(&a->msg);
        free(a);
        c->user64 = 0;
    }
    c1m__ws_slab_free(ws);
    c->ud = NULL;
}

/* After the hand-over (c1m_http_upgrade calls on_open once c->ud is
 * ours): the keep-alive timer, and the loop's list for broadcasts. */
static int ws_open(c1m_conn_t *c)
{
    c1m_ws_conn_t *ws = c->ud;
    c->user64 = 0; /* HTTP's connection id: now the aux part's place (conn.h) */
    ws->flags |= C1M_WSF_OPEN;
    uint32_t ping = ws->route->ping_ms ? ws->route->ping_ms : DEFAULT_PING_MS;
    c1m_conn_set_timeout(c, C1M_TO_IDLE, ping);
    c1m_conn_timeout_arm(c, C1M_TO_IDLE);
    if (ws->route->hub)
        return c1m__ws_list_add(ws);
    return 0;
}

const c1m_proto_t c1m_proto_ws = {
    .name = "ws",
    .flags = C1M_PROTO_MANUAL_TIMEOUTS,
    .on_open = ws_open,
    .on_data = ws_data,
    .on_drained = ws_drained,
    .on_close = ws_close,
    .on_timeout = ws_timeout,
};
