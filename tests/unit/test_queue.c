/* engine/queue: the cross-loop queue with eventfd wake-up. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/queue.h"

typedef struct seen {
    uint64_t next[4]; /* next expected sequence per producer */
    uint64_t count;
    int order_errors;
} seen_t;

static void record(c1m_loop_t *loop, void *arg, uint64_t u)
{
    seen_t *s = arg;
    unsigned producer = (unsigned)(u >> 32);
    uint64_t seq = u & 0xffffffffu;
    if (s->next[producer] != seq)
        s->order_errors++;
    s->next[producer] = seq + 1;
    s->count++;
}

static int readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

static void wakeup_on_first_push_only(void **state)
{
    c1m_queue_t q;
    seen_t s = { 0 };
    assert_int_equal(c1m_queue_init(&q), 0);
    assert_false(readable(q.efd));
    assert_int_equal(c1m_queue_push(&q, record, &s, 0), 0);
    assert_true(readable(q.efd));
    assert_int_equal(c1m_queue_push(&q, record, &s, 1), 0);
    assert_int_equal(c1m_queue_push(&q, record, &s, 2), 0);
    assert_int_equal(c1m_queue_len(&q), 3);
    /* only the first push wrote to the eventfd: its counter is 1, not 3 */
    uint64_t v = 0;
    assert_int_equal(read(q.efd, &v, sizeof v), sizeof v);
    assert_int_equal(v, 1);
    assert_int_equal(c1m_queue_run(&q, NULL), 3);
    assert_false(readable(q.efd)); /* the wake-up was consumed */
    assert_int_equal(s.count, 3);
    assert_int_equal(s.order_errors, 0);
    assert_int_equal(c1m_queue_run(&q, NULL), 0);
    /* the first push after a drain wakes again */
    assert_int_equal(c1m_queue_push(&q, record, &s, 3), 0);
    assert_true(readable(q.efd));
    assert_int_equal(c1m_queue_run(&q, NULL), 1);
    c1m_queue_destroy(&q);
}

typedef struct producer_arg {
    c1m_queue_t *q;
    seen_t *s;
    unsigned id;
    unsigned n;
} producer_arg_t;

static void *producer(void *arg)
{
    producer_arg_t *p = arg;
    for (unsigned i = 0; i < p->n; i++)
        while (c1m_queue_push(p->q, record, p->s, ((uint64_t)p->id << 32) | i) < 0)
            ;
    return NULL;
}

static void many_producers_in_order(void **state)
{
    c1m_queue_t q;
    seen_t s = { 0 };
    assert_int_equal(c1m_queue_init(&q), 0);
    enum { P = 4, N = 50000 };
    pthread_t th[P];
    producer_arg_t args[P];
    for (unsigned i = 0; i < P; i++) {
        args[i] = (producer_arg_t){ &q, &s, i, N };
        pthread_create(&th[i], NULL, producer, &args[i]);
    }
    /* consume while they produce: wait on the eventfd like a loop would */
    while (s.count < (uint64_t)P * N) {
        struct pollfd p = { .fd = q.efd, .events = POLLIN };
        poll(&p, 1, 100);
        c1m_queue_run(&q, NULL);
    }
    for (unsigned i = 0; i < P; i++)
        pthread_join(th[i], NULL);
    c1m_queue_run(&q, NULL);
    assert_int_equal(s.count, (uint64_t)P * N);
    assert_int_equal(s.order_errors, 0); /* per-producer FIFO */
    for (unsigned i = 0; i < P; i++)
        assert_int_equal(s.next[i], N);
    c1m_queue_destroy(&q);
}

static c1m_queue_t *reentrant_q;
static void push_more(c1m_loop_t *loop, void *arg, uint64_t u)
{
    int *n = arg;
    (*n)++;
    if (u > 0)
        c1m_queue_push(reentrant_q, push_more, arg, u - 1);
}

static void push_from_a_message(void **state)
{
    c1m_queue_t q;
    int n = 0;
    reentrant_q = &q;
    assert_int_equal(c1m_queue_init(&q), 0);
    c1m_queue_push(&q, push_more, &n, 3);
    assert_int_equal(c1m_queue_run(&q, NULL), 1); /* the new one waits for the next run */
    assert_true(readable(q.efd));
    while (c1m_queue_run(&q, NULL))
        ;
    assert_int_equal(n, 4);
    c1m_queue_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wakeup_on_first_push_only),
        cmocka_unit_test(many_producers_in_order),
        cmocka_unit_test(push_from_a_message),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
