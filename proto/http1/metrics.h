/* HTTP metrics of one instance (c1m_http_t): one slot per thread that
 * serves it (loop or worker), written by that thread only with plain
 * increments (no lock, no atomic instruction on the hot path), summed with
 * relaxed loads when /metrics is rendered.
 *
 * Finding the slot: a 4-entry thread-local cache keyed by the instance's
 * unique id (never reused, so a freed instance's entries never match). A
 * miss (a thread's first request for an instance) looks the thread's slot
 * up in the instance's registry, or claims a new one.
 *
 * A slot is ~5 KB: the counters and the request duration histogram with
 * exactly Prometheus' buckets (20 counters, not a 35 KB log-linear
 * histogram), so a scrape sums a few hundred words per thread, takes no
 * lock (the registry is append-only) and allocates nothing.
 *
 * Prefork (c1m_http_metrics_share): the slots live in a shared mapping
 * made before the fork, so /metrics sums every process, whichever answers.
 * Liveness without kill(): each process that claims a slot holds a
 * process-shared robust mutex (in the mapping) from a small sentinel
 * thread for as long as it lives. The kernel marks a robust mutex whose
 * owner died (kill -9 included), so a scrape learns that a process is gone
 * from a failed trylock (userspace, no system call): that process's
 * connections stop counting as open, its counters stay. A slot of a dead
 * process is adopted by the next thread that needs one (a restarted
 * child), so restarts do not exhaust the mapping.
 */
#ifndef C1M_PROTO_HTTP1_METRICS_H
#define C1M_PROTO_HTTP1_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/common.h"

#define C1M_HTTP_METRICS_TIMEOUT_KINDS 4 /* read, write, idle, header (c1m_timeout_kind_t) */
#define C1M_HTTP_LE_N 19                 /* Prometheus duration buckets, +Inf apart */

typedef struct c1m_http_metrics {
    uint64_t opened;            /* connections opened */
    uint64_t closed;            /* connections closed */
    uint64_t requests;          /* responses started (all statuses) */
    uint64_t parse_errors;      /* requests rejected by the parser */
    uint64_t status[600];       /* responses by status code (0: out of range) */
    uint64_t timeouts[C1M_HTTP_METRICS_TIMEOUT_KINDS];
    uint64_t lat[C1M_HTTP_LE_N + 1]; /* durations per bucket (not cumulative); last: +Inf */
    uint64_t lat_count;
    uint64_t lat_sum_ns;
} c1m_http_metrics_t;

/* A thread's slot (private mode). */
typedef struct c1m_http_slot {
    c1m_http_metrics_t m;
    pthread_t owner;                 /* the thread that writes it */
    struct c1m_http_slot *next;      /* registry: append-only */
} c1m_http_slot_t;

typedef struct c1m_http_arena c1m_http_arena_t;

/* The prefork sentinel of this process (see above). */
typedef struct c1m_http_sentinel {
    pid_t pid;             /* the process it runs in (0: none) */
    int32_t rec;           /* its record in the arena (-1: none) */
    bool stop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} c1m_http_sentinel_t;

typedef struct c1m_http_mreg {
    uint64_t id;                 /* unique per instance: the cache key */
    pthread_mutex_t mu;          /* claims only (never held while summing) */
    c1m_http_slot_t *head;       /* private slots (published with release) */
    c1m_http_arena_t *arena;     /* prefork: shared slots, or NULL */
    size_t arena_len;
    c1m_http_sentinel_t sent;
    c1m_http_metrics_t dummy;    /* out of memory: counts go nowhere */
} c1m_http_mreg_t;

int c1m__http_metrics_init(c1m_http_mreg_t *reg);
void c1m__http_metrics_fini(c1m_http_mreg_t *reg);
int c1m__http_metrics_share(c1m_http_mreg_t *reg, unsigned nslots);

/* The thread-local cache and the slow path behind it. */
typedef struct {
    uint64_t id;
    c1m_http_metrics_t *m;
} c1m__http_mcache_t;
#define C1M_HTTP_MCACHE 4
extern _Thread_local c1m__http_mcache_t c1m__http_mcache[C1M_HTTP_MCACHE];
c1m_http_metrics_t *c1m__http_metrics_lookup(c1m_http_mreg_t *reg);

/* This thread's slot for the instance: never NULL (reg->dummy when out of
 * memory). */
static inline c1m_http_metrics_t *c1m_http_metrics_self(c1m_http_mreg_t *reg)
{
    if (C1M_LIKELY(c1m__http_mcache[0].id == reg->id))
        return c1m__http_mcache[0].m;
    return c1m__http_metrics_lookup(reg);
}

static inline void c1m_http_metrics_status(c1m_http_metrics_t *m, int status)
{
    C1M_BUMP(m->requests, 1);
    C1M_BUMP(m->status[(unsigned)status < 600 ? status : 0], 1);
}

void c1m_http_metrics_latency(c1m_http_metrics_t *m, uint64_t ns);

/* Sum every slot into *out (relaxed loads, no lock, no allocation). */
void c1m__http_metrics_sum(c1m_http_mreg_t *reg, c1m_http_metrics_t *out);
/* Prometheus text of the sum; see c1m_http_metrics_render (c1m/http.h). */
size_t c1m__http_metrics_render(c1m_http_mreg_t *reg, char *buf, size_t cap);

#endif
