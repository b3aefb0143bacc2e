#include "engine/queue.h"

#include "core/common.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

int c1m_queue_init(c1m_queue_t *q)
{
    *q = (c1m_queue_t){ 0 };
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0)
        return -errno;
    pthread_mutex_init(&q->mu, NULL);
    return 0;
}

void c1m_queue_destroy(c1m_queue_t *q)
{
    if (q->efd >= 0)
        close(q->efd);
    pthread_mutex_destroy(&q->mu);
    free(q->items);
    free(q->spare);
    q->items = q->spare = NULL;
    q->efd = -1;
}

int c1m_queue_push(c1m_queue_t *q, c1m_msg_fn fn, void *arg, uint64_t u)
{
    pthread_mutex_lock(&q->mu);
    if (q->n == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 64;
        c1m_msg_t *items = realloc(q->items, cap * sizeof *items);
        if (!items) {
            pthread_mutex_unlock(&q->mu);
            return -ENOMEM;
        }
        q->items = items;
        q->cap = cap;
    }
    q->items[q->n] = (c1m_msg_t){ fn, arg, u };
    C1M_RELAXED_STORE(&q->n, q->n + 1);
    int wake = q->n == 1;
    pthread_mutex_unlock(&q->mu);
    if (wake) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already non-zero: a wake-up is pending. */
        if (write(q->efd, &one, sizeof one) < 0 && errno != EAGAIN)
            return -errno;
    }
    return 0;
}

unsigned c1m_queue_run(c1m_queue_t *q, c1m_loop_t *loop)
{
    uint64_t v;
    if (read(q->efd, &v, sizeof v) < 0) { /* EAGAIN: nothing signalled */
    }
    return c1m_queue_drain(q, loop);
}

unsigned c1m_queue_drain(c1m_queue_t *q, c1m_loop_t *loop)
{
    pthread_mutex_lock(&q->mu);
    c1m_msg_t *items = q->items;
    uint32_t n = q->n, cap = q->cap;
    q->items = q->spare;
    q->cap = q->spare_cap;
    C1M_RELAXED_STORE(&q->n, 0);
    q->spare = NULL;
    q->spare_cap = 0;
    pthread_mutex_unlock(&q->mu);

    for (uint32_t i = 0; i < n; i++)
        items[i].fn(loop, items[i].arg, items[i].u);

    pthread_mutex_lock(&q->mu);
    if (!q->spare) { /* hand the array back for reuse */
        q->spare = items;
        q->spare_cap = cap;
        items = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    free(items);
    return n;
}

unsigned c1m_queue_len(c1m_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    unsigned n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}
