/* A WebSocket connection's state (private to proto/ws/): the protocol
 * (server.c) and the broadcast lists (broadcast.c) share it.
 *
 * Size: 40 bytes (checked below) on top of the engine's 128-byte
 * c1m_conn_t, in the loop thread's slab (proto/ws/slab.h: no malloc header
 * or rounding). What only some connections need some of the time -- a
 * partial message being collected (echo) and broadcasts waiting for the
 * socket -- is an `aux` part, allocated while it exists (an idle
 * connection has none) and kept in the connection's user64, the engine's
 * protocol scratch word (HTTP's connection id until the upgrade; unused
 * after it). The topic list is linked by 32-bit slab indexes, and the
 * limits are read from the route, not copied. */
#ifndef C1M_PROTO_WS_CONN_H
#define C1M_PROTO_WS_CONN_H

#include "core/buf.h"
#include "engine/conn.h"
#include "proto/ws/broadcast.h"
#include "proto/ws/frame.h"
#include "proto/ws/server.h"

typedef struct c1m_ws_qnode {
    struct c1m_ws_qnode *next;
    c1m_ws_msg_t *m;
} c1m_ws_qnode_t;

/* The part of a connection's state that exists only while it is used. */
typedef struct c1m_ws_aux {
    c1m_ws_qnode_t *qtail; /* broadcasts waiting for the socket: circular, NULL = none */
    c1m_buf_t *msg;        /* echo: a message arriving in pieces */
    uint32_t qbytes;       /* bytes in the queue */
} c1m_ws_aux_t;

enum {
    C1M_WSF_CLOSING = 1u << 0,  /* our close frame is sent: no more frames */
    C1M_WSF_PING_OUT = 1u << 1, /* keep-alive ping sent, no input since */
    C1M_WSF_LISTED = 1u << 2,   /* in its loop's list for `topic` */
    C1M_WSF_SLOW = 1u << 3,     /* closed as a slow subscriber (1008 behind its output) */
    C1M_WSF_OPEN = 1u << 4,     /* on_open ran: c->user64 is the aux part's (on_close may come without) */
};

typedef struct c1m_ws_conn {
    c1m_conn_t *c;
    const c1m_ws_route_t *route;
    uint32_t prev, next;             /* its loop's list for its topic: slab indexes */
    c1m_ws_parser_t p;               /* 14 bytes */
    uint8_t topic;                   /* list index: a topic, or C1M_WS_MAX_TOPICS */
    uint8_t flags;
} c1m_ws_conn_t;

_Static_assert(sizeof(c1m_ws_conn_t) <= 40, "c1m_ws_conn_t must stay small (40 bytes in the slab)");

/* The aux part if there is one (NULL while idle). */
static inline c1m_ws_aux_t *c1m__ws_aux_get(const c1m_ws_conn_t *ws)
{
    return (ws->flags & C1M_WSF_OPEN) ? (c1m_ws_aux_t *)(uintptr_t)ws->c->user64 : NULL;
}
/* The aux part, created on first need; NULL when out of memory. */
c1m_ws_aux_t *c1m__ws_aux(c1m_ws_conn_t *ws);
/* Free the aux part if it holds nothing any more. */
void c1m__ws_aux_trim(c1m_ws_conn_t *ws);

/* broadcast.c: join / leave the list of the calling loop (on_open and
 * on_close), write queued broadcasts once output drained. */
int c1m__ws_list_add(c1m_ws_conn_t *ws);
void c1m__ws_list_del(c1m_ws_conn_t *ws);
void c1m__ws_queue_flush(c1m_ws_conn_t *ws);
void c1m__ws_queue_free(c1m_ws_conn_t *ws);
/* on_close of a subscriber closed as slow: was its 1008 frame written? */
void c1m__ws_slow_closed(c1m_ws_conn_t *ws, int reason);

#endif
