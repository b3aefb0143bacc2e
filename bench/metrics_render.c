/* The cost of one /metrics render (sum every slot + format the text) as
 * a function of the number of slots (threads that served the instance),
 * with private slots and with the prefork shared mapping. No sockets: the
 * slots are claimed by short-lived threads that count a few requests.
 *
 *   build/bench/metrics_render [ITERATIONS]   (default 20000)
 *
 * Prints, per slot count, the mean time per render in microseconds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "c1m/http.h"
#include "proto/http1/server.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    c1m_http_t *h;
    pthread_barrier_t *bar;
} arg_t;

/* Claim a slot, count, and stay alive until every thread has claimed one
 * (so thread ids are not reused and each thread gets its own slot). */
static void *count(void *p)
{
    arg_t *a = p;
    c1m_http_metrics_t *m = c1m_http_metrics_self(&a->h->metrics);
    for (int i = 0; i < 100; i++) {
        c1m_http_metrics_status(m, 200 + i % 3);
        c1m_http_metrics_latency(m, 1000u * (uint64_t)i);
    }
    m->opened += 10;
    m->closed += 9;
    pthread_barrier_wait(a->bar);
    return NULL;
}

static double per_render_us(unsigned slots, bool shared, int iters)
{
    c1m_http_t *h;
    if (c1m_http_new(&h, NULL) < 0)
        exit(1);
    if (shared && c1m_http_metrics_share(h, 2 * slots) < 0)
        exit(1);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, slots);
    pthread_t *t = calloc(slots, sizeof *t);
    arg_t a = { h, &bar };
    for (unsigned i = 0; i < slots; i++)
        pthread_create(&t[i], NULL, count, &a);
    for (unsigned i = 0; i < slots; i++)
        pthread_join(t[i], NULL);
    static char buf[C1M_HTTP_METRICS_MAX];
    size_t n = 0;
    double t0 = now_s();
    for (int i = 0; i < iters; i++)
        n += c1m_http_metrics_render(h, buf, sizeof buf);
    double us = (now_s() - t0) * 1e6 / iters;
    if (!n)
        exit(1);
    free(t);
    pthread_barrier_destroy(&bar);
    c1m_http_free(h);
    return us;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20000;
    if (iters <= 0)
        iters = 20000;
    printf("# /metrics render (sum + text), mean of %d renders\n", iters);
    printf("%6s | %14s | %14s\n", "slots", "private us", "shared us");
    static const unsigned counts[] = { 1, 2, 8, 32, 64 };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        printf("%6u | %14.2f | %14.2f\n", counts[i], per_render_us(counts[i], false, iters),
               per_render_us(counts[i], true, iters));
    return 0;
}
