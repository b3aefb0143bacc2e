#include "proto/http1/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/common.h"
#include "core/log.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static c1m_http_metrics_t *reg_head;
static _Thread_local c1m_http_metrics_t *tl_self;
static c1m_http_metrics_t dummy;

/* The prefork arena: slots shared by all processes, claimed in order. */
typedef struct {
    uint32_t claimed; /* atomic: slots handed out (may exceed cap) */
    uint32_t cap;
    c1m_http_metrics_t slots[];
} shared_arena_t;
static shared_arena_t *arena;

int c1m_http_metrics_share(unsigned nslots)
{
    if (arena || !nslots)
        return 0;
    size_t len = sizeof *arena + (size_t)nslots * sizeof(c1m_http_metrics_t);
    /* untouched pages cost nothing: only claimed slots become resident */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    arena = p;
    arena->cap = nslots;
    return 0;
}

static c1m_http_metrics_t *arena_claim(void)
{
    uint32_t i = __atomic_fetch_add(&arena->claimed, 1, __ATOMIC_RELAXED);
    if (i < arena->cap)
        return &arena->slots[i];
    static int warned;
    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
        c1m_warn("http metrics: all %u shared slots taken (child restarts?); "
                 "new threads count in this process only", arena->cap);
    return NULL;
}

c1m_http_metrics_t *c1m_http_metrics_self(void)
{
    c1m_http_metrics_t *m = tl_self;
    if (C1M_LIKELY(m))
        return m;
    if (arena && (m = arena_claim())) {
        c1m_hist_init(&m->latency);
        __atomic_store_n(&m->pid, (int32_t)getpid(), __ATOMIC_RELEASE); /* ready */
        tl_self = m;
        return m;
    }
    m = calloc(1, sizeof *m);
    if (!m)
        return &dummy;
    m->pid = (int32_t)getpid();
    c1m_hist_init(&m->latency);
    pthread_mutex_lock(&reg_mu);
    m->next = reg_head;
    __atomic_store_n(&reg_head, m, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&reg_mu);
    tl_self = m;
    return m;
}

#define LD(x) C1M_RELAXED_LOAD(&(x))

static void add_slot(c1m_http_metrics_t *out, c1m_http_metrics_t *m, bool dead)
{
    uint64_t opened = LD(m->opened), closed = LD(m->closed);
    out->opened += opened;
    out->closed += dead ? opened : closed; /* a dead child holds nothing open */
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

void c1m_http_metrics_sum(c1m_http_metrics_t *out)
{
    memset(out, 0, sizeof *out);
    c1m_hist_init(&out->latency);
    if (arena) {
        uint32_t n = C1M_MIN(__atomic_load_n(&arena->claimed, __ATOMIC_RELAXED), arena->cap);
        for (uint32_t i = 0; i < n; i++) {
            c1m_http_metrics_t *m = &arena->slots[i];
            int32_t pid = __atomic_load_n(&m->pid, __ATOMIC_ACQUIRE);
            if (pid <= 0)
                continue; /* being claimed */
            add_slot(out, m, kill(pid, 0) < 0 && errno == ESRCH);
        }
    }
    pthread_mutex_lock(&reg_mu);
    for (c1m_http_metrics_t *m = reg_head; m; m = m->next)
        add_slot(out, m, false);
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
