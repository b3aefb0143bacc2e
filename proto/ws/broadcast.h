/* WebSocket broadcast: one message to every subscriber of a topic (or to
 * every WebSocket connection) across all the loops of a server.
 *
 * - A message is framed once (c1m_ws_msg_new: header and payload in one
 *   reference-counted allocation) and shared by reference: every loop and
 *   every connection sends the same bytes; nothing is copied per
 *   connection. (The one copy that can happen: when the kernel takes only
 *   part of a frame, the engine keeps the unsent tail of that one frame.)
 * - c1m_ws_broadcast (any thread) hands the message to each loop that has
 *   WebSocket connections of this hub with one c1m_loop_post: one
 *   hand-off per loop, not per connection. On its loop, the message goes
 *   to each subscriber in turn: written at once when the connection has
 *   no output pending, else queued (a reference) and written when its
 *   output drains (on_drained).
 * - A subscriber whose unsent output plus queued messages would pass
 *   out_limit is slow: closed or the message is skipped for it, as
 *   configured; both are counted. Closed: its queued messages are dropped
 *   at once, it leaves the lists, and a 1008 close frame goes behind the
 *   output the engine already holds; it has slow_grace_ms to read that
 *   (then the frame is counted sent) before the connection is cut with
 *   the frame unsent (counted cut). A subscriber that never reads holds at
 *   most out_limit bytes for at most the grace.
 *
 * Loops register with the hub when their first WebSocket connection of
 * it opens; the hub must outlive the server (stop publishing, stop the
 * server, then free the hub). Under prefork each child has its own hub
 * (created before the fork, copied): c1m_ws_broadcast reaches the loops of
 * the process that makes it; a hub given a bus (bus.h) also relays what
 * any process publishes on the bus, and its own publisher stays off.
 */
#ifndef C1M_PROTO_WS_BROADCAST_H
#define C1M_PROTO_WS_BROADCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "c1m/loop.h"

typedef struct c1m_ws_msg c1m_ws_msg_t;

/* A server frame (FIN set) with a copy of the payload; refcount 1. NULL
 * when out of memory. */
c1m_ws_msg_t *c1m_ws_msg_new(uint8_t opcode, const void *payload, size_t len);
void c1m_ws_msg_ref(c1m_ws_msg_t *m);
void c1m_ws_msg_unref(c1m_ws_msg_t *m);
/* The framed bytes (header + payload). */
const void *c1m_ws_msg_frame(const c1m_ws_msg_t *m, size_t *len);

typedef enum { C1M_WS_SLOW_CLOSE = 0, C1M_WS_SLOW_SKIP } c1m_ws_slow_t;

#define C1M_WS_MAX_TOPICS 15 /* topic ids 0..14 */
#define C1M_WS_ALL (-1) /* every WebSocket connection of the hub */

typedef struct c1m_ws_hub_cfg {
    c1m_ws_slow_t slow;     /* what to do with a slow subscriber */
    uint32_t out_limit;     /* bytes unsent + queued per subscriber (0 = 1 MiB) */
    /* close: how long a slow subscriber has to read what it was sent and
     * the 1008 close frame behind it before the connection is cut with
     * that output unsent (0 = 1000 ms) */
    uint32_t slow_grace_ms;
    /* A publisher (c1m serve --push-every/--push-size): every push_every_ms
     * a binary message of push_size bytes (>= 16) to topic push_topic:
     * 8-byte big-endian sequence number from 1, 8-byte big-endian
     * CLOCK_REALTIME ns when it was made, then 'x' padding. It runs as a
     * timer on the first loop of each process that registers. 0 = none.
     * push_count: it stops after that many (0 = never). */
    uint32_t push_every_ms;
    uint32_t push_size;
    uint32_t push_count;
    int push_topic;
} c1m_ws_hub_cfg_t;

typedef struct c1m_ws_hub_stats {
    uint64_t broadcasts;    /* c1m_ws_broadcast calls */
    uint64_t handoffs;      /* loop posts */
    uint64_t delivered;     /* messages written or queued to a connection */
    uint64_t queued;        /* of which waited in a connection's queue */
    uint64_t slow_closed, slow_skipped;
    /* of slow_closed: the 1008 frame was written to the socket (the client
     * read its backlog within the grace), or the connection was cut with
     * it unsent; slow_closed - sent - cut are still in their grace */
    uint64_t slow_close_sent, slow_close_cut;
    uint64_t subscribers;   /* subscribed now */
    uint32_t loops;
} c1m_ws_hub_stats_t;

typedef struct c1m_ws_hub c1m_ws_hub_t;

int c1m_ws_hub_new(c1m_ws_hub_t **out, const c1m_ws_hub_cfg_t *cfg);
void c1m_ws_hub_free(c1m_ws_hub_t *hub);
/* A topic id (>= 0) for a name, created on first use (before serving);
 * -ENOSPC after C1M_WS_MAX_TOPICS. */
int c1m_ws_hub_topic(c1m_ws_hub_t *hub, const char *name);
/* Send m to every subscriber of `topic` (or C1M_WS_ALL). Any thread. The
 * caller keeps its reference. Returns the number of loops handed the
 * message, or a negative errno. */
int c1m_ws_broadcast(c1m_ws_hub_t *hub, int topic, c1m_ws_msg_t *m);
/* Counters summed over the loops (relaxed reads). */
void c1m_ws_hub_stats(c1m_ws_hub_t *hub, c1m_ws_hub_stats_t *st);

#endif
