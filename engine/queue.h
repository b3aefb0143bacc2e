/* A cross-loop message queue with an eventfd wake-up.
 *
 * Any thread may push; only the owning loop pops. Producers take a mutex
 * for the append (cross-loop traffic is rare next to the per-request path:
 * accepted fds, worker results, shutdown); the consumer swaps the whole
 * array out under the lock and runs the messages without it. The eventfd is
 * written only on the empty -> non-empty transition, so a burst of N
 * messages costs one wake-up.
 */
#ifndef C1M_ENGINE_QUEUE_H
#define C1M_ENGINE_QUEUE_H

#include <pthread.h>
#include <stdint.h>

typedef struct c1m_loop c1m_loop_t;
typedef void (*c1m_msg_fn)(c1m_loop_t *loop, void *arg, uint64_t u);

typedef struct c1m_msg {
    c1m_msg_fn fn;
    void *arg;
    uint64_t u;
} c1m_msg_t;

typedef struct c1m_queue {
    pthread_mutex_t mu;
    c1m_msg_t *items;
    uint32_t n, cap;
    c1m_msg_t *spare; /* swapped in by the consumer */
    uint32_t spare_cap;
    int efd; /* eventfd, non-blocking */
} c1m_queue_t;

int c1m_queue_init(c1m_queue_t *q);
void c1m_queue_destroy(c1m_queue_t *q);
/* 0 or -ENOMEM (the message was not queued). Thread-safe. */
int c1m_queue_push(c1m_queue_t *q, c1m_msg_fn fn, void *arg, uint64_t u);
/* Consumer: clear the eventfd and run every queued message, in push order.
 * Returns the number run. */
unsigned c1m_queue_run(c1m_queue_t *q, c1m_loop_t *loop);
/* Consumer: run every queued message without touching the eventfd (a
 * wake-up already signalled stays pending and finds the queue empty). */
unsigned c1m_queue_drain(c1m_queue_t *q, c1m_loop_t *loop);
/* Messages currently queued (approximate when read without the lock). */
unsigned c1m_queue_len(c1m_queue_t *q);
/* Consumer: whether anything is queued, without the lock (a hint). */
static inline int c1m_queue_pending(c1m_queue_t *q) { return __atomic_load_n(&q->n, __ATOMIC_RELAXED) != 0; }

#endif
