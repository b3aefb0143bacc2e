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

#include "core/log.h"

_Thread_local c1m__http_mcache_t c1m__http_mcache[C1M_HTTP_MCACHE];

/* ---- the prefork arena -------------------------------------------------- */

/* Process records: never reused (a slot names its process by index), so
 * there are enough for ~1,000 child restarts; beyond that a process's
 * slots are simply never considered dead. Untouched pages cost nothing. */
#define ARENA_RECS 1024

enum { REC_FREE = 0, REC_LIVE, REC_DEAD };

typedef struct {
    pthread_mutex_t alive; /* robust, process-shared: held by the process's sentinel */
    uint32_t state;        /* REC_* */
    int32_t pid;           /* for logs and tests */
} proc_rec_t;

/* slot.owner: 0 unclaimed, rec + 1 once claimed, OWNER_ADOPTING while a
 * new thread takes over a dead process's slot, OWNER_NOREC for a process
 * that got no record (never considered dead). */
#define OWNER_ADOPTING UINT32_MAX
#define OWNER_NOREC (UINT32_MAX - 1)

typedef struct {
    c1m_http_metrics_t m;
    uint32_t owner;
    uint32_t _pad;
    pthread_t thread; /* the owning thread, within its process */
} arena_slot_t;

struct c1m_http_arena {
    uint32_t nslots;
    uint32_t slots_claimed; /* atomic; may exceed nslots */
    uint32_t recs_claimed;  /* atomic; may exceed ARENA_RECS */
    uint32_t warned;
    proc_rec_t recs[ARENA_RECS];
    arena_slot_t slots[];
};

/* Is record r's process gone? A trylock on its robust mutex: EBUSY while
 * the sentinel holds it (a compare-and-swap in userspace, no system call),
 * EOWNERDEAD once the kernel has marked the owner dead; 0 once a sentinel
 * let go normally (c1m_http_free). DEAD is sticky. */
static bool rec_dead(c1m_http_arena_t *a, uint32_t r)
{
    proc_rec_t *rec = &a->recs[r];
    uint32_t st = __atomic_load_n(&rec->state, __ATOMIC_ACQUIRE);
    if (st != REC_LIVE)
        return st == REC_DEAD;
    int rc = pthread_mutex_trylock(&rec->alive);
    if (rc == EBUSY || rc == EDEADLK || rc == EAGAIN)
        return false;
    __atomic_store_n(&rec->state, REC_DEAD, __ATOMIC_RELEASE);
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(&rec->alive);
    if (rc == 0 || rc == EOWNERDEAD)
        pthread_mutex_unlock(&rec->alive);
    return true;
}

static void *sentinel_main(void *arg)
{
    c1m_http_mreg_t *reg = arg;
    c1m_http_sentinel_t *s = &reg->sent;
    c1m_http_arena_t *a = reg->arena;
    uint32_t i = __atomic_fetch_add(&a->recs_claimed, 1, __ATOMIC_RELAXED);
    int32_t rec = -1;
    if (i < ARENA_RECS) {
        proc_rec_t *r = &a->recs[i];
        pthread_mutexattr_t at;
        pthread_mutexattr_init(&at);
        pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
        if (pthread_mutex_init(&r->alive, &at) == 0 && pthread_mutex_lock(&r->alive) == 0) {
            r->pid = (int32_t)getpid();
            __atomic_store_n(&r->state, REC_LIVE, __ATOMIC_RELEASE);
            rec = (int32_t)i;
        }
        pthread_mutexattr_destroy(&at);
    }
    pthread_mutex_lock(&s->mu);
    s->rec = rec;
    pthread_cond_broadcast(&s->cv);
    while (!s->stop)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (rec >= 0) /* let go: this process no longer serves the instance */
        pthread_mutex_unlock(&a->recs[rec].alive);
    return NULL;
}

/* This process's record, starting its sentinel the first time (reg->mu
 * held). -1 when there is none. */
static int32_t my_rec(c1m_http_mreg_t *reg)
{
    c1m_http_sentinel_t *s = &reg->sent;
    pid_t pid = getpid();
    if (s->pid == pid)
        return s->rec;
    /* first claim in this process (a forked child inherits the parent's
     * copy of s, but not its thread) */
    s->pid = pid;
    s->rec = -2; /* starting */
    s->stop = false;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals are for the other threads */
    int rc = pthread_create(&s->thread, NULL, sentinel_main, reg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        s->rec = -1;
        s->pid = 0;
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    while (s->rec == -2)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->rec < 0)
        c1m_warn("http metrics: all %u process records of the shared metrics taken; "
                 "this process's connections will count as open after it exits",
                 ARENA_RECS);
    return s->rec;
}

static c1m_http_metrics_t *arena_claim(c1m_http_mreg_t *reg)
{
    c1m_http_arena_t *a = reg->arena;
    int32_t rec = my_rec(reg);
    uint32_t me = rec >= 0 ? (uint32_t)rec + 1 : OWNER_NOREC;
    pthread_t self = pthread_self();
    uint32_t n = C1M_MIN(__atomic_load_n(&a->slots_claimed, __ATOMIC_ACQUIRE), a->nslots);
    /* this thread's slot already (after a cache eviction)? */
    for (uint32_t i = 0; i < n; i++) {
        arena_slot_t *s = &a->slots[i];
        if (__atomic_load_n(&s->owner, __ATOMIC_ACQUIRE) == me && me != OWNER_NOREC &&
            pthread_equal(s->thread, self))
            return &s->m;
    }
    uint32_t i = __atomic_fetch_add(&a->slots_claimed, 1, __ATOMIC_ACQ_REL);
    if (i < a->nslots) {
        arena_slot_t *s = &a->slots[i];
        s->thread = self;
        __atomic_store_n(&s->owner, me, __ATOMIC_RELEASE);
        return &s->m;
    }
    /* full: adopt the slot of a process that died (a restarted child) */
    for (i = 0; i < a->nslots; i++) {
        arena_slot_t *s = &a->slots[i];
        uint32_t o = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
        if (o == 0 || o >= OWNER_NOREC || !rec_dead(a, o - 1))
            continue;
        if (!__atomic_compare_exchange_n(&s->owner, &o, OWNER_ADOPTING, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_RELAXED))
            continue;
        /* its connections died with it; its counters go on */
        __atomic_store_n(&s->m.closed, __atomic_load_n(&s->m.opened, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
        s->thread = self;
        __atomic_store_n(&s->owner, me, __ATOMIC_RELEASE);
        return &s->m;
    }
    if (!__atomic_exchange_n(&a->warned, 1, __ATOMIC_RELAXED))
        c1m_warn("http metrics: all %u shared slots taken; new threads count in their "
                 "own process only", a->nslots);
    return NULL;
}

int c1m__http_metrics_share(c1m_http_mreg_t *reg, unsigned nslots)
{
    if (reg->arena || !nslots)
        return 0;
    size_t len = sizeof(c1m_http_arena_t) + (size_t)nslots * sizeof(arena_slot_t);
    /* untouched pages cost nothing: only claimed slots become resident */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    reg->arena = p;
    reg->arena_len = len;
    reg->arena->nslots = nslots;
    return 0;
}

/* ---- registry ------------------------------------------------------------ */

static void cache_clear(void) { memset(c1m__http_mcache, 0, sizeof c1m__http_mcache); }
/* A forked child's only thread must not keep writing into the slots its
 * parent thread found. */
static void atfork_once(void) { pthread_atfork(NULL, NULL, cache_clear); }
static pthread_once_t atfork_done = PTHREAD_ONCE_INIT;

int c1m__http_metrics_init(c1m_http_mreg_t *reg)
{
    static uint64_t next_id;
    memset(reg, 0, sizeof *reg);
    pthread_once(&atfork_done, atfork_once);
    reg->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    reg->sent.rec = -1;
    return -pthread_mutex_init(&reg->mu, NULL);
}

void c1m__http_metrics_fini(c1m_http_mreg_t *reg)
{
    c1m_http_sentinel_t *s = &reg->sent;
    if (s->pid && s->pid == getpid()) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    if (reg->arena)
        munmap(reg->arena, reg->arena_len);
    for (c1m_http_slot_t *n, *m = reg->head; m; m = n) {
        n = m->next;
        free(m);
    }
    pthread_mutex_destroy(&reg->mu);
    /* forget this thread's entries now; other threads' never match again */
    for (int i = 0; i < C1M_HTTP_MCACHE; i++)
        if (c1m__http_mcache[i].id == reg->id)
            c1m__http_mcache[i] = (c1m__http_mcache_t){ 0 };
}

static c1m_http_metrics_t *private_claim(c1m_http_mreg_t *reg)
{
    pthread_t self = pthread_self();
    /* a thread id is reused only after its thread ended: the new thread
     * carries on with the slot (loop threads close their connections
     * before they end, so nothing in it is open) */
    for (c1m_http_slot_t *s = __atomic_load_n(&reg->head, __ATOMIC_ACQUIRE); s; s = s->next)
        if (pthread_equal(s->owner, self))
            return &s->m;
    c1m_http_slot_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->owner = self;
    s->next = reg->head;
    __atomic_store_n(&reg->head, s, __ATOMIC_RELEASE);
    return &s->m;
}

c1m_http_metrics_t *c1m__http_metrics_lookup(c1m_http_mreg_t *reg)
{
    c1m__http_mcache_t *c = c1m__http_mcache;
    for (int i = 1; i < C1M_HTTP_MCACHE; i++)
        if (c[i].id == reg->id) {
            c1m__http_mcache_t hit = c[i];
            memmove(&c[1], &c[0], (size_t)i * sizeof *c);
            c[0] = hit;
            return hit.m;
        }
    pthread_mutex_lock(&reg->mu);
    c1m_http_metrics_t *m = NULL;
    if (reg->arena)
        m = arena_claim(reg);
    if (!m)
        m = private_claim(reg);
    pthread_mutex_unlock(&reg->mu);
    if (!m)
        return &reg->dummy;
    memmove(&c[1], &c[0], (C1M_HTTP_MCACHE - 1) * sizeof *c);
    c[0] = (c1m__http_mcache_t){ reg->id, m };
    return m;
}

/* ---- summing and rendering ---------------------------------------------- */

/* Prometheus histogram bounds (seconds) and the same in ns. */
static const char *const le_str[C1M_HTTP_LE_N] = {
    "0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001",
    "0.0025",  "0.005",    "0.01",    "0.025",  "0.05",    "0.1",    "0.25",
    "0.5",     "1",        "2.5",     "5",      "10" };
static const uint64_t le_ns[C1M_HTTP_LE_N] = {
    10000,    25000,    50000,     100000,    250000,    500000,     1000000,
    2500000,  5000000,  10000000,  25000000,  50000000,  100000000,  250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000 };

void c1m_http_metrics_latency(c1m_http_metrics_t *m, uint64_t ns)
{
    unsigned b = 0; /* most requests take microseconds: a short scan */
    while (b < C1M_HTTP_LE_N && ns > le_ns[b])
        b++;
    C1M_BUMP(m->lat[b], 1); /* read by a scrape on another thread */
    C1M_BUMP(m->lat_count, 1);
    C1M_BUMP(m->lat_sum_ns, ns);
}

#define LD(x) C1M_RELAXED_LOAD(&(x))

static void add_slot(c1m_http_metrics_t *out, const c1m_http_metrics_t *m, bool dead)
{
    uint64_t opened = LD(m->opened), closed = LD(m->closed);
    out->opened += opened;
    out->closed += dead ? opened : closed; /* a dead process holds nothing open */
    out->requests += LD(m->requests);
    out->parse_errors += LD(m->parse_errors);
    for (size_t i = 0; i < C1M_ARRAY_LEN(m->status); i++)
        out->status[i] += LD(m->status[i]);
    for (size_t i = 0; i < C1M_HTTP_METRICS_TIMEOUT_KINDS; i++)
        out->timeouts[i] += LD(m->timeouts[i]);
    uint64_t n = 0;
    for (size_t i = 0; i <= C1M_HTTP_LE_N; i++) {
        uint64_t v = LD(m->lat[i]);
        out->lat[i] += v;
        n += v;
    }
    out->lat_count += n; /* consistent with the buckets just read */
    out->lat_sum_ns += LD(m->lat_sum_ns);
}

void c1m__http_metrics_sum(c1m_http_mreg_t *reg, c1m_http_metrics_t *out)
{
    memset(out, 0, sizeof *out);
    c1m_http_arena_t *a = reg->arena;
    if (a) {
        uint32_t n = C1M_MIN(__atomic_load_n(&a->slots_claimed, __ATOMIC_ACQUIRE), a->nslots);
        for (uint32_t i = 0; i < n; i++) {
            arena_slot_t *s = &a->slots[i];
            uint32_t o = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
            if (o == 0)
                continue; /* being claimed: still empty */
            bool dead = o == OWNER_ADOPTING || (o < OWNER_NOREC && rec_dead(a, o - 1));
            add_slot(out, &s->m, dead);
        }
    }
    for (c1m_http_slot_t *s = __atomic_load_n(&reg->head, __ATOMIC_ACQUIRE); s; s = s->next)
        add_slot(out, &s->m, false);
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

static const char *const timeout_names[C1M_HTTP_METRICS_TIMEOUT_KINDS] = { "read", "write",
                                                                           "idle", "header" };

/* Bounded: fixed text plus at most one line per status code 100..599
 * (C1M_HTTP_METRICS_MAX covers all 500 with 20-digit counts; a unit test
 * checks it). */
size_t c1m__http_metrics_render(c1m_http_mreg_t *reg, char *buf, size_t cap)
{
    c1m_http_metrics_t s; /* ~5 KB on the stack: nothing allocated per scrape */
    c1m__http_metrics_sum(reg, &s);
    out_t o = { buf, cap, 0 };
    uint64_t live = s.opened > s.closed ? s.opened - s.closed : 0;
    pr(&o, "# HELP c1m_http_connections Open HTTP connections.\n"
           "# TYPE c1m_http_connections gauge\n"
           "c1m_http_connections %llu\n", (unsigned long long)live);
    pr(&o, "# HELP c1m_http_connections_opened_total HTTP connections opened.\n"
           "# TYPE c1m_http_connections_opened_total counter\n"
           "c1m_http_connections_opened_total %llu\n", (unsigned long long)s.opened);
    pr(&o, "# HELP c1m_http_requests_total HTTP responses by status code.\n"
           "# TYPE c1m_http_requests_total counter\n");
    bool any = false;
    for (int code = 100; code < 600; code++)
        if (s.status[code]) {
            pr(&o, "c1m_http_requests_total{code=\"%d\"} %llu\n", code,
               (unsigned long long)s.status[code]);
            any = true;
        }
    if (!any)
        pr(&o, "c1m_http_requests_total{code=\"200\"} 0\n");
    pr(&o, "# HELP c1m_http_parse_errors_total Requests rejected by the parser.\n"
           "# TYPE c1m_http_parse_errors_total counter\n"
           "c1m_http_parse_errors_total %llu\n", (unsigned long long)s.parse_errors);
    pr(&o, "# HELP c1m_http_timeouts_total Connection timeouts by kind.\n"
           "# TYPE c1m_http_timeouts_total counter\n");
    for (int k = 0; k < C1M_HTTP_METRICS_TIMEOUT_KINDS; k++)
        pr(&o, "c1m_http_timeouts_total{kind=\"%s\"} %llu\n", timeout_names[k],
           (unsigned long long)s.timeouts[k]);
    pr(&o, "# HELP c1m_http_request_duration_seconds Time from a request's last bytes "
           "arriving to its response being handed to the socket.\n"
           "# TYPE c1m_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < C1M_HTTP_LE_N; i++) {
        cum += s.lat[i];
        pr(&o, "c1m_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n", le_str[i],
           (unsigned long long)cum);
    }
    pr(&o, "c1m_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
       (unsigned long long)s.lat_count);
    pr(&o, "c1m_http_request_duration_seconds_sum %.9f\n", (double)s.lat_sum_ns / 1e9);
    pr(&o, "c1m_http_request_duration_seconds_count %llu\n", (unsigned long long)s.lat_count);
    return o.len;
}
