#include "proto/http1/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static c1m_http_metrics_t *reg_head;
static _Thread_local c1m_http_metrics_t *tl_self;
static c1m_http_metrics_t dummy;

c1m_http_metrics_t *c1m_http_metrics_self(void)
{
    c1m_http_metrics_t *m = tl_self;
    if (C1M_LIKELY(m))
        return m;
    m = calloc(1, sizeof *m);
    if (!m)
        return &dummy;
    c1m_hist_init(&m->latency);
    pthread_mutex_lock(&reg_mu);
    m->next = reg_head;
    __atomic_store_n(&reg_head, m, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&reg_mu);
    tl_self = m;
    return m;
}

#define LD(x) C1M_RELAXED_LOAD(&(x))

void c1m_http_metrics_sum(c1m_http_metrics_t *out)
{
    memset(out, 0, sizeof *out);
    c1m_hist_init(&out->latency);
    pthread_mutex_lock(&reg_mu);
    for (c1m_http_metrics_t *m = reg_head; m; m = m->next) {
        out->opened += LD(m->opened);
        out->closed += LD(m->closed);
        out->requests += LD(m->requests);
        out->parse_errors += LD(m->parse_errors);
        for (size_t i = 0; i < C1M_ARRAY_LEN(m->status); i++)
            out->status[i] += LD(m->status[i]);
        for (size_t i = 0; i < C1M_HTTP_METRICS_TIMEOUT_KINDS; i++)
            out->timeouts[i] += LD(m->timeouts[i]);
        /* the histogram: relaxed loads (its writer may be running) */
        c1m_hist_t *h = &out->latency, *s = &m->latency;
        uint64_t n = 0;
        for (size_t i = 0; i < C1M_HIST_NBUCKETS; i++) {
            uint64_t v = LD(s->counts[i]);
            h->counts[i] += v;
            n += v;
        }
        h->count += n; /* consistent with the buckets just read */
        h->sum += LD(s->sum);
    }
    pthread_mutex_unlock(&reg_mu);
}

typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

static void pr(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pr(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

/* Prometheus histogram bounds (seconds) and the same in ns. */
static const char *const le_str[] = { "0.00001", "0.000025", "0.00005", "0.0001", "0.00025",
                                      "0.0005",  "0.001",    "0.0025",  "0.005",  "0.01",
                                      "0.025",   "0.05",     "0.1",     "0.25",   "0.5",
                                      "1",       "2.5",      "5",       "10" };
static const uint64_t le_ns[] = { 10000,     25000,     50000,      100000,     250000,
                                  500000,    1000000,   2500000,    5000000,    10000000,
                                  25000000,  50000000,  100000000,  250000000,  500000000,
                                  1000000000, 2500000000, 5000000000, 10000000000 };
_Static_assert(C1M_ARRAY_LEN(le_str) == C1M_ARRAY_LEN(le_ns), "le tables");

static const char *const timeout_names[C1M_HTTP_METRICS_TIMEOUT_KINDS] = { "read", "write",
                                                                           "idle", "header" };

size_t c1m_http_metrics_render(char *buf, size_t cap)
{
    c1m_http_metrics_t *s = malloc(sizeof *s);
    if (!s)
        return 0;
    c1m_http_metrics_sum(s);
    out_t o = { buf, cap, 0 };
    uint64_t live = s->opened > s->closed ? s->opened - s->closed : 0;
    pr(&o, "# HELP c1m_http_connections Open HTTP connections (this process).\n"
           "# TYPE c1m_http_connections gauge\n"
           "c1m_http_connections %llu\n", (unsigned long long)live);
    pr(&o, "# HELP c1m_http_connections_opened_total HTTP connections opened.\n"
           "# TYPE c1m_http_connections_opened_total counter\n"
           "c1m_http_connections_opened_total %llu\n", (unsigned long long)s->opened);
    pr(&o, "# HELP c1m_http_requests_total HTTP responses by status code.\n"
           "# TYPE c1m_http_requests_total counter\n");
    bool any = false;
    for (int code = 100; code < 600; code++)
        if (s->status[code]) {
            pr(&o, "c1m_http_requests_total{code=\"%d\"} %llu\n", code,
               (unsigned long long)s->status[code]);
            any = true;
        }
    if (!any)
        pr(&o, "c1m_http_requests_total{code=\"200\"} 0\n");
    pr(&o, "# HELP c1m_http_parse_errors_total Requests rejected by the parser.\n"
           "# TYPE c1m_http_parse_errors_total counter\n"
           "c1m_http_parse_errors_total %llu\n", (unsigned long long)s->parse_errors);
    pr(&o, "# HELP c1m_http_timeouts_total Connection timeouts by kind.\n"
           "# TYPE c1m_http_timeouts_total counter\n");
    for (int k = 0; k < C1M_HTTP_METRICS_TIMEOUT_KINDS; k++)
        pr(&o, "c1m_http_timeouts_total{kind=\"%s\"} %llu\n", timeout_names[k],
           (unsigned long long)s->timeouts[k]);
    pr(&o, "# HELP c1m_http_request_duration_seconds Time from a request's last bytes "
           "arriving to its response being handed to the socket.\n"
           "# TYPE c1m_http_request_duration_seconds histogram\n");
    /* Cumulative: every histogram bucket whose upper edge is <= le (bucket
     * edges are within 0.8 % of the bound). */
    uint64_t cum = 0;
    size_t b = 0, nb = c1m_hist_nbuckets();
    for (size_t i = 0; i < C1M_ARRAY_LEN(le_ns); i++) {
        while (b < nb && c1m_hist_bucket_high(b) <= le_ns[i])
            cum += s->latency.counts[b++];
        pr(&o, "c1m_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n", le_str[i],
           (unsigned long long)cum);
    }
    pr(&o, "c1m_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
       (unsigned long long)s->latency.count);
    pr(&o, "c1m_http_request_duration_seconds_sum %.9f\n", (double)s->latency.sum / 1e9);
    pr(&o, "c1m_http_request_duration_seconds_count %llu\n",
       (unsigned long long)s->latency.count);
    free(s);
    return o.len;
}
