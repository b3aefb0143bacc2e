/* The WebSocket bus: broadcasts that reach every process of a prefork
 * server.
 *
 * A hub has loops in one process; under prefork every child has its own
 * copy. The bus is one shared-memory ring made before the fork (so every
 * child, also a restarted one, maps the same pages): a publisher (any
 * process, one at a time: a process-shared robust mutex) appends a record
 * (topic, opcode, payload) and wakes the readers with a futex on the
 * ring's sequence word. Each process that has WebSocket connections of the
 * hub reads the ring on one of its loops: a small thread per process waits
 * on the futex and writes that loop's eventfd; the loop copies each new
 * record into one c1m_ws_msg (framed once per process) and hands it to the
 * process's loops with c1m_ws_broadcast (one post per loop). So a message
 * costs one copy per process and one hand-off per loop, never anything per
 * connection beyond the send.
 *
 * The ring is not a queue with back-pressure: a process that falls more
 * than the ring behind (stopped, or far slower than the publisher) skips
 * to the newest record and the records it missed are counted (lapped).
 * The publisher never waits for a reader. A process starts reading at the
 * ring's head when its first connection registers: what was published
 * before has no subscriber there.
 *
 * c1m serve uses it under prefork with --push-every: the supervisor runs
 * the publisher (a thread that takes no lock but the ring's and allocates
 * nothing, so forking children while it runs is safe), the children
 * relay; every subscriber of every child sees the same sequence. */
#ifndef C1M_PROTO_WS_BUS_H
#define C1M_PROTO_WS_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ws/broadcast.h"

typedef struct c1m_ws_bus c1m_ws_bus_t;

typedef struct c1m_ws_bus_stats {
    uint64_t published;  /* records appended */
    uint64_t too_big;    /* refused: larger than max_msg */
    uint64_t relayed;    /* records handed to a process's loops, summed */
    uint64_t lapped;     /* records a reader missed (overwritten first) */
} c1m_ws_bus_stats_t;

/* A ring for messages of up to max_msg payload bytes (it holds at least
 * 8 of the largest and at least 1 MiB). Before the fork. */
int c1m_ws_bus_new(c1m_ws_bus_t **out, size_t max_msg);
/* Append one message for `topic` (or C1M_WS_ALL) of every process's hub:
 * -EMSGSIZE above max_msg, -EINVAL for a bad topic. Any thread of any
 * process that maps the bus. */
int c1m_ws_bus_publish(c1m_ws_bus_t *b, int topic, uint8_t opcode, const void *p, size_t n);
void c1m_ws_bus_stats(const c1m_ws_bus_t *b, c1m_ws_bus_stats_t *st);

/* Relay the bus to this hub: each process reads it on the first loop
 * that registers with the hub. With a bus, the hub's own publisher
 * (push_every_ms) does not run: c1m_ws_bus_publisher_start does, once. */
void c1m_ws_hub_set_bus(c1m_ws_hub_t *hub, c1m_ws_bus_t *b);

/* A thread of the calling process that publishes cfg's message
 * (push_every_ms, push_size, push_topic; see c1m_ws_hub_cfg_t) on the
 * bus, for as long as the process lives. */
int c1m_ws_bus_publisher_start(c1m_ws_bus_t *b, const c1m_ws_hub_cfg_t *cfg);

/* Reading, for the relay and the unit test: a cursor starts at the newest
 * record; next copies the record at the cursor (payload into buf, which
 * holds max_msg bytes) and returns 1, or 0 when there is none. Records
 * overwritten before they were read are skipped (the cursor jumps to the
 * newest) and counted in lapped. */
typedef struct c1m__ws_bus_cursor {
    uint64_t pos, next_k;
} c1m__ws_bus_cursor_t;
typedef struct c1m__ws_bus_rec {
    uint32_t len;
    uint8_t opcode;
    int topic;
} c1m__ws_bus_rec_t;
void c1m__ws_bus_cursor_init(c1m_ws_bus_t *b, c1m__ws_bus_cursor_t *cur);
int c1m__ws_bus_next(c1m_ws_bus_t *b, c1m__ws_bus_cursor_t *cur, uint8_t *buf,
                     c1m__ws_bus_rec_t *out);

/* broadcast.c's side: start reading the bus on `loop` for `hub`. */
int c1m__ws_bus_attach(c1m_ws_bus_t *b, c1m_ws_hub_t *hub, c1m_loop_t *loop);

#endif
