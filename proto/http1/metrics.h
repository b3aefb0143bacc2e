/* HTTP metrics: one slot per thread (loop or worker), written by its
 * thread only with plain increments (no lock, no atomic instruction on the
 * hot path), registered once under a mutex the first time a thread counts
 * something, and summed with relaxed loads when /metrics is served.
 *
 * Scope: the whole server. Under --arch prefork the slots live in a
 * shared anonymous mapping made before the children are forked
 * (c1m_http_metrics_share), so /metrics sums every child, whichever child
 * answers. Slots of a child that died are kept (counters stay monotonic)
 * but its connections no longer count as open.
 */
#ifndef C1M_PROTO_HTTP1_METRICS_H
#define C1M_PROTO_HTTP1_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hist.h"

#define C1M_HTTP_METRICS_TIMEOUT_KINDS 4 /* read, write, idle, header (engine/timeouts.h order) */

typedef struct c1m_http_metrics {
    uint64_t opened;            /* connections opened */
    uint64_t closed;            /* connections closed */
    uint64_t requests;          /* responses started (all statuses) */
    uint64_t parse_errors;      /* requests rejected by the parser */
    uint64_t status[600];       /* responses by status code */
    uint64_t timeouts[C1M_HTTP_METRICS_TIMEOUT_KINDS];
    c1m_hist_t latency;         /* request service time, ns */
    struct c1m_http_metrics *next;
    int32_t pid;                /* the process whose thread owns the slot */
} c1m_http_metrics_t;

/* Before forking prefork children: keep up to nslots thread slots in
 * memory shared by every process forked after this call. 0 or -errno
 * (then each process counts alone, as without the call). Threads beyond
 * nslots (e.g. after many child restarts) get a private slot and a warning. */
int c1m_http_metrics_share(unsigned nslots);

/* This thread's slot (allocated and registered on first use; never NULL
 * unless out of memory, in which case a static dummy slot is returned). */
c1m_http_metrics_t *c1m_http_metrics_self(void);

static inline void c1m_http_metrics_status(c1m_http_metrics_t *m, int status)
{
    m->requests++;
    m->status[(unsigned)status < 600 ? status : 0]++;
}

/* Sum every registered slot into *out (out->next is NULL). */
void c1m_http_metrics_sum(c1m_http_metrics_t *out);

/* Prometheus text exposition (version 0.0.4) of the summed slots into buf.
 * Returns the length written, or the length needed if it exceeds cap. */
size_t c1m_http_metrics_render(char *buf, size_t cap);

#endif
