/* Prefork children that share one listening socket each take about an
 * even share of its connections (issue 12 item 8).
 *
 * Why the kernel alone does not: EPOLLEXCLUSIVE wakes one child that is
 * waiting in epoll_wait, but the readiness is also queued on the epoll set
 * of every child that is busy (the wake-up walk only stops at a waiting
 * one), so under load every busy child races for every connection and the
 * least busy or the luckiest wins (measured: +-38 % of an even share on a
 * loaded machine). So each child counts what it holds in the shared slot
 * (engine/server.h) and, above its share of what the group holds, takes
 * its listener out of the wait queue for a moment: only children at or
 * below their share are woken, and they take what comes. */
#ifndef C1M_ENGINE_SHARE_H
#define C1M_ENGINE_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/server.h"

/* How long a child above its share stays out of the listener's wait
 * queue before it looks again. */
#define C1M_SHARE_RECHECK_MS 5
/* Connections that waited this long while no sibling took any are taken
 * regardless (a sibling hung or full): balance never stalls the queue. */
#define C1M_SHARE_STALL_MS 50

/* A connection opened (+1) or closed (-1) in this process. */
void c1m__share_add(c1m_proc_slot_t *self, int delta);

/* This process holds more than its share of the live children's
 * connections (an even share plus 1/16 and 2 connections of slack). */
bool c1m__share_over(const c1m_proc_slot_t *self);

/* Connections accepted by the other live children so far. */
uint64_t c1m__share_others_taken(const c1m_proc_slot_t *self);

/* Connections waiting in the accept queue of listening socket fd (0 when
 * the kernel does not say). */
uint32_t c1m__share_backlog(int fd);

#endif
