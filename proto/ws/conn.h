/* A WebSocket connection's state (private to proto/ws/): the protocol
 * (server.c) and the broadcast lists (broadcast.c) share it.
 *
 * Size: 88 bytes (checked below; malloc's 96-byte chunk, where 89..104
 * bytes would take 112) on top of the engine's 128-byte c1m_conn_t; a
 * partial message (echo) and queued broadcasts are heap only while they
 * exist. The broadcast queue is circular and kept by its tail (the head
 * is qtail->next): one pointer per connection, not two. */
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

enum {
    C1M_WSF_CLOSING = 1u << 0,  /* our close frame is sent: no more frames */
    C1M_WSF_PING_OUT = 1u << 1, /* keep-alive ping sent, no input since */
    C1M_WSF_LISTED = 1u << 2,   /* in its loop's list for `topic` */
    C1M_WSF_SLOW = 1u << 3,     /* closed as a slow subscriber (1008 behind its output) */
};

typedef struct c1m_ws_conn {
    c1m_ws_parser_t p;               /* 28 bytes: qbytes fills its tail */
    uint32_t qbytes;                 /* bytes in the queue */
    c1m_conn_t *c;
    const c1m_ws_route_t *route;
    struct c1m_ws_conn *prev, *next; /* its loop's list for its topic */
    c1m_ws_qnode_t *qtail;           /* broadcasts waiting for the socket: circular, NULL = none */
    c1m_buf_t *msg;                  /* echo: a message arriving in pieces */
    int16_t topic;                   /* list index: a topic, or C1M_WS_MAX_TOPICS */
    uint8_t flags;
    uint8_t msg_op;
} c1m_ws_conn_t;

_Static_assert(sizeof(c1m_ws_conn_t) <= 88, "c1m_ws_conn_t must stay small (a 96-byte malloc chunk)");

/* broadcast.c: join / leave the list of the calling loop (on_open and
 * on_close), write queued broadcasts once output drained. */
int c1m__ws_list_add(c1m_ws_conn_t *ws);
void c1m__ws_list_del(c1m_ws_conn_t *ws);
void c1m__ws_queue_flush(c1m_ws_conn_t *ws);
void c1m__ws_queue_free(c1m_ws_conn_t *ws);
/* on_close of a subscriber closed as slow: was its 1008 frame written? */
void c1m__ws_slow_closed(c1m_ws_conn_t *ws, int reason);

#endif
