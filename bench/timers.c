/*
 * timers -- micro-benchmark of the three timer designs of --timers:
 *
 *   wheel        per-loop hierarchical timing wheel (core/timer_wheel.h)
 *   heap         per-loop binary min-heap (libuv)          (core/timer_heap.h)
 *   global-heap  one heap shared by all loops, one mutex (Go 1.9)
 *
 *   timers [OPS]      OPS = operations per phase per thread (default 3000000)
 *
 * For N = 1K, 100K, 1M live timers in total and 1 or 2 threads: with 2
 * threads each thread owns N/2 timers; wheel and heap are shared-nothing
 * (one structure per thread), global-heap puts all N in the one locked
 * heap. Each timer lives in a 64-byte "connection" object. Per round each
 * thread runs, with a barrier between phases so the threads contend:
 *
 *   arm     arm every object (random deadline now + 1..61 s), 0 -> N live
 *   reset   move a random live timer's deadline later by 1..1000 ms
 *           (a connection refreshing its read timeout): re-insert
 *   lazy    wheel only: the same as a plain store into the owner's struct
 *           (c1m_wheel_postpone), which is what the engine does
 *   cancel  disarm every object in random order, N -> 0 live
 *
 * Rounds repeat until each phase has run >= OPS operations per thread.
 * Objects are visited in random order, the next ones prefetched (the loop
 * has the connection in cache when it touches its timer); what is measured
 * is the structure's own work and memory traffic. Reported: ns per
 * operation as seen by one thread (mean over threads). Fixed-seed PRNG;
 * CLOCK_MONOTONIC. Nothing is asserted about time.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/timer_heap.h"
#include "core/timer_wheel.h"

enum { D_WHEEL, D_HEAP, D_GHEAP, D_COUNT };
static const char *const DESIGN_NAME[D_COUNT] = { "wheel", "heap", "global-heap" };

enum { P_ARM, P_RESET, P_LAZY, P_CANCEL, P_COUNT };

#define BASE_MS   UINT64_C(1000000000)  /* the (frozen) loop time */
#define PF        8                     /* prefetch distance, objects */

typedef struct {
    union {
        c1m_wheel_entry_t w;
        c1m_heap_entry_t h;
    } t;
    uint64_t deadline;                  /* the owner's read deadline */
    char pad[64 - 32];
} obj_t;

_Static_assert(sizeof(obj_t) == 64, "one cache line per connection");

typedef struct {
    int id, design;
    size_t n, rounds;
    obj_t *obj;
    uint32_t *perm_arm, *perm_cancel, *ridx;
    c1m_wheel_t *w;
    c1m_heap_t h;
    c1m_gheap_t *g;
    pthread_barrier_t *bar;
    uint64_t rng;
    uint64_t ns[P_COUNT], ops[P_COUNT];
    int err;
} th_t;

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;    /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static void shuffle(uint32_t *a, size_t n, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_next(rng) % i;
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static inline void prefetch(th_t *t, const uint32_t *idx, size_t i)
{
    if (i + PF < t->n)
        __builtin_prefetch(&t->obj[idx[i + PF]], 1);
}

static void phase_arm(th_t *t)
{
    obj_t *obj = t->obj;
    const uint32_t *p = t->perm_arm;
    for (size_t i = 0; i < t->n; i++) {
        prefetch(t, p, i);
        obj_t *o = &obj[p[i]];
        uint64_t d = BASE_MS + 1000 + rng_next(&t->rng) % 60000;
        o->deadline = d;
        switch (t->design) {
        case D_WHEEL:
            c1m_wheel_arm(t->w, &o->t.w, d);
            break;
        case D_HEAP:
            t->err |= c1m_heap_arm(&t->h, &o->t.h, d);
            break;
        default:
            t->err |= c1m_gheap_arm(t->g, &o->t.h, d);
            break;
        }
    }
}

static void phase_reset(th_t *t, bool lazy)
{
    obj_t *obj = t->obj;
    const uint32_t *r = t->ridx;
    for (size_t i = 0; i < t->n; i++) {
        prefetch(t, r, i);
        obj_t *o = &obj[r[i]];
        uint64_t d = o->deadline + 1 + rng_next(&t->rng) % 1000;
        o->deadline = d;
        switch (t->design) {
        case D_WHEEL:
            if (lazy)
                c1m_wheel_postpone(t->w, &o->t.w, d);
            else
                c1m_wheel_arm(t->w, &o->t.w, d);
            break;
        case D_HEAP:
            t->err |= c1m_heap_arm(&t->h, &o->t.h, d);
            break;
        default:
            t->err |= c1m_gheap_arm(t->g, &o->t.h, d);
            break;
        }
    }
}

static void phase_cancel(th_t *t)
{
    obj_t *obj = t->obj;
    const uint32_t *p = t->perm_cancel;
    for (size_t i = 0; i < t->n; i++) {
        prefetch(t, p, i);
        obj_t *o = &obj[p[i]];
        switch (t->design) {
        case D_WHEEL:
            c1m_wheel_cancel(t->w, &o->t.w);
            break;
        case D_HEAP:
            c1m_heap_cancel(&t->h, &o->t.h);
            break;
        default:
            c1m_gheap_cancel(t->g, &o->t.h);
            break;
        }
    }
}

static void *thread_main(void *arg)
{
    th_t *t = arg;
    cpu_set_t cs;
    CPU_ZERO(&cs);
    CPU_SET(t->id % 2, &cs);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);

    for (size_t round = 0; round < t->rounds; round++) {
        for (int ph = 0; ph < P_COUNT; ph++) {
            if (ph == P_LAZY && t->design != D_WHEEL)
                continue;
            pthread_barrier_wait(t->bar);
            uint64_t t0 = c1m_now_ns();
            switch (ph) {
            case P_ARM: phase_arm(t); break;
            case P_RESET: phase_reset(t, false); break;
            case P_LAZY: phase_reset(t, true); break;
            default: phase_cancel(t); break;
            }
            t->ns[ph] += c1m_now_ns() - t0;
            t->ops[ph] += t->n;
        }
        size_t live = t->design == D_WHEEL ? c1m_wheel_count(t->w)
                      : t->design == D_HEAP ? c1m_heap_count(&t->h) : 0;
        if (live != 0)
            t->err = -EINVAL;
    }
    return NULL;
}

/* Returns 0 or -errno; fills ns/op per phase (mean over threads). */
static int run(int design, size_t total, int nthreads, size_t ops_min, double out[P_COUNT])
{
    th_t th[2];
    pthread_t tid[2];
    pthread_barrier_t bar;
    c1m_gheap_t g;
    size_t per = total / (size_t)nthreads;
    int rc = 0;

    if (design == D_GHEAP) {
        rc = c1m_gheap_init(&g);
        if (rc == 0)
            rc = c1m_gheap_reserve(&g, total);
        if (rc < 0)
            return rc;
    }
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
    memset(th, 0, sizeof(th));
    for (int i = 0; i < nthreads; i++) {
        th_t *t = &th[i];
        t->id = i;
        t->design = design;
        t->n = per;
        t->rounds = (ops_min + per - 1) / per;
        t->bar = &bar;
        t->g = &g;
        t->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) + (uint64_t)design;
        t->obj = aligned_alloc(64, per * sizeof(obj_t));
        t->perm_arm = malloc(per * sizeof(uint32_t));
        t->perm_cancel = malloc(per * sizeof(uint32_t));
        t->ridx = malloc(per * sizeof(uint32_t));
        if (!t->obj || !t->perm_arm || !t->perm_cancel || !t->ridx)
            return -ENOMEM;
        memset(t->obj, 0, per * sizeof(obj_t));
        shuffle(t->perm_arm, per, &t->rng);
        shuffle(t->perm_cancel, per, &t->rng);
        for (size_t j = 0; j < per; j++)
            t->ridx[j] = (uint32_t)(rng_next(&t->rng) % per);
        for (size_t j = 0; j < per; j++) {
            c1m_wheel_entry_init(&t->obj[j].t.w);
            if (design != D_WHEEL)
                c1m_heap_entry_init(&t->obj[j].t.h, (uint32_t)i);
        }
        if (design == D_WHEEL) {
            t->w = malloc(sizeof(*t->w));
            if (!t->w)
                return -ENOMEM;
            c1m_wheel_init(t->w, BASE_MS);
        } else if (design == D_HEAP) {
            c1m_heap_init(&t->h);
            rc = c1m_heap_reserve(&t->h, per);
            if (rc < 0)
                return rc;
        }
    }
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&tid[i], NULL, thread_main, &th[i]) != 0)
            return -EAGAIN;
    for (int i = 0; i < nthreads; i++)
        pthread_join(tid[i], NULL);

    for (int ph = 0; ph < P_COUNT; ph++) {
        double sum = 0;
        for (int i = 0; i < nthreads; i++)
            sum += th[i].ops[ph] ? (double)th[i].ns[ph] / (double)th[i].ops[ph] : 0;
        out[ph] = sum / nthreads;
    }
    for (int i = 0; i < nthreads; i++) {
        if (th[i].err)
            rc = th[i].err < 0 ? th[i].err : -EIO;
        free(th[i].obj);
        free(th[i].perm_arm);
        free(th[i].perm_cancel);
        free(th[i].ridx);
        free(th[i].w);
        if (design == D_HEAP)
            c1m_heap_destroy(&th[i].h);
    }
    if (design == D_GHEAP) {
        if (c1m_gheap_count(&g) != 0)
            rc = -EINVAL;
        c1m_gheap_destroy(&g);
    }
    pthread_barrier_destroy(&bar);
    return rc;
}

int main(int argc, char **argv)
{
    size_t ops_min = 3000000;
    if (argc > 1) {
        char *end;
        unsigned long long v = strtoull(argv[1], &end, 10);
        if (*end || v == 0) {
            fprintf(stderr, "usage: %s [OPS_PER_PHASE_PER_THREAD]\n", argv[0]);
            return 2;
        }
        ops_min = (size_t)v;
    }
    static const size_t SIZES[] = { 1000, 100000, 1000000 };
    uint64_t start = c1m_now_ns();

    printf("Timer micro-benchmark: ns per operation per thread (mean over threads); "
           ">= %zu ops per phase per thread.\n", ops_min);
    printf("Live timers = total over all threads; wheel/heap: one structure per thread; "
           "global-heap: one structure + mutex shared.\n");
    printf("arm: 0 -> N live; reset: move a live deadline later (re-insert); "
           "lazy reset: store only (wheel); cancel: N -> 0 live.\n\n");
    printf("| design | threads | live timers | arm ns | reset ns | lazy reset ns | cancel ns |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (int d = 0; d < D_COUNT; d++) {
        for (int nt = 1; nt <= 2; nt++) {
            for (size_t si = 0; si < C1M_ARRAY_LEN(SIZES); si++) {
                double r[P_COUNT];
                int rc = run(d, SIZES[si], nt, ops_min, r);
                if (rc < 0) {
                    fprintf(stderr, "timers: %s/%d/%zu: %s\n", DESIGN_NAME[d], nt,
                            SIZES[si], strerror(-rc));
                    return 1;
                }
                char lazy[32];
                if (d == D_WHEEL)
                    snprintf(lazy, sizeof(lazy), "%.1f", r[P_LAZY]);
                else
                    snprintf(lazy, sizeof(lazy), "-");
                printf("| %s | %d | %zu | %.1f | %.1f | %s | %.1f |\n", DESIGN_NAME[d], nt,
                       SIZES[si], r[P_ARM], r[P_RESET], lazy, r[P_CANCEL]);
                fflush(stdout);
            }
        }
    }
    printf("\ntotal run time %.1f s\n", (double)(c1m_now_ns() - start) / 1e9);
    return 0;
}
