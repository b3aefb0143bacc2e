#include "proto/ws/bus.h"

#include <endian.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"
#include "proto/ws/frame.h"

/* A record in the ring: this header, then the payload padded to 8 bytes.
 * Records wrap around the end of the ring (copied in two parts). */
typedef struct rec_hdr {
    uint64_t k;      /* record number from 0: a reader sees what it missed */
    uint32_t len;    /* payload bytes */
    uint8_t opcode;
    uint8_t code;    /* topic 0..14, or C1M_WS_MAX_TOPICS for all */
    uint8_t pad[2];
} rec_hdr_t;

_Static_assert(sizeof(rec_hdr_t) == 16, "record header is 16 bytes");

/* In MAP_SHARED memory, made before the fork: every field is shared by all
 * the processes. A seqlock in bytes: the writer stores `reserve` (the end
 * of what it is about to overwrite) before writing and `head` (the end of
 * what is complete) after; a reader copies a record, then checks that
 * `reserve` has not come within a ring of it (else it was overwritten
 * while copied). */
struct c1m_ws_bus {
    pthread_mutex_t mu;  /* process-shared, robust: writers */
    uint32_t seq;        /* futex word: bumped after each record */
    uint64_t reserve, head;
    uint64_t size, max_msg, next_k;
    uint64_t published, too_big, relayed, lapped;
    uint8_t data[] __attribute__((aligned(64)));
};

static uint64_t rec_size(uint64_t len) { return sizeof(rec_hdr_t) + ((len + 7) & ~7ull); }

int c1m_ws_bus_new(c1m_ws_bus_t **out, size_t max_msg)
{
    if (max_msg > (1u << 30))
        return -EMSGSIZE;
    uint64_t size = 1u << 20;
    while (size < 8 * rec_size(max_msg))
        size <<= 1;
    c1m_ws_bus_t *b = mmap(NULL, sizeof *b + size, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        return -errno;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&b->mu, &a);
    pthread_mutexattr_destroy(&a);
    if (rc) {
        munmap(b, sizeof *b + size);
        return -rc;
    }
    b->size = size;
    b->max_msg = max_msg;
    *out = b;
    return 0;
}

static void ring_write(c1m_ws_bus_t *b, uint64_t at, const void *p, size_t n)
{
    uint64_t off = at & (b->size - 1), first = C1M_MIN(n, b->size - off);
    memcpy(b->data + off, p, first);
    memcpy(b->data, (const uint8_t *)p + first, n - first);
}

static void ring_read(const c1m_ws_bus_t *b, uint64_t at, void *p, size_t n)
{
    uint64_t off = at & (b->size - 1), first = C1M_MIN(n, b->size - off);
    memcpy(p, b->data + off, first);
    memcpy((uint8_t *)p + first, b->data, n - first);
}

int c1m_ws_bus_publish(c1m_ws_bus_t *b, int topic, uint8_t opcode, const void *p, size_t n)
{
    if (topic != C1M_WS_ALL && (topic < 0 || topic >= C1M_WS_MAX_TOPICS))
        return -EINVAL;
    if (n > b->max_msg) {
        __atomic_add_fetch(&b->too_big, 1, __ATOMIC_RELAXED);
        return -EMSGSIZE;
    }
    int rc = pthread_mutex_lock(&b->mu);
    if (rc == EOWNERDEAD) /* a writer died mid-record: head still ends the last whole one */
        pthread_mutex_consistent(&b->mu);
    else if (rc)
        return -rc;
    uint64_t h = b->head, len = rec_size(n);
    rec_hdr_t hd = { .k = b->next_k++, .len = (uint32_t)n, .opcode = opcode,
                     .code = (uint8_t)(topic == C1M_WS_ALL ? C1M_WS_MAX_TOPICS : topic) };
    __atomic_store_n(&b->reserve, h + len, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE); /* reserve is seen before the bytes change */
    ring_write(b, h, &hd, sizeof hd);
    if (n)
        ring_write(b, h + sizeof hd, p, n);
    __atomic_store_n(&b->head, h + len, __ATOMIC_RELEASE);
    __atomic_add_fetch(&b->seq, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&b->mu);
    __atomic_add_fetch(&b->published, 1, __ATOMIC_RELAXED);
    syscall(SYS_futex, &b->seq, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
    return 0;
}

void c1m_ws_bus_stats(const c1m_ws_bus_t *b, c1m_ws_bus_stats_t *st)
{
    st->published = __atomic_load_n(&b->published, __ATOMIC_RELAXED);
    st->too_big = __atomic_load_n(&b->too_big, __ATOMIC_RELAXED);
    st->relayed = __atomic_load_n(&b->relayed, __ATOMIC_RELAXED);
    st->lapped = __atomic_load_n(&b->lapped, __ATOMIC_RELAXED);
}

/* ---- a process's reader ------------------------------------------------ */

typedef struct bus_reader {
    c1m_ws_bus_t *b;
    c1m_ws_hub_t *hub;
    int efd;
    c1m__ws_bus_cursor_t cur;
    uint8_t *buf; /* max_msg bytes: one record's payload */
} bus_reader_t;

/* The waiter: the futex cannot be watched by a loop, so this thread turns
 * each change of the sequence word into an eventfd write. It touches no
 * loop (a stopped server leaves it writing an eventfd nobody reads). */
static void *waiter(void *arg)
{
    bus_reader_t *r = arg;
    uint64_t one = 1;
    uint32_t last = __atomic_load_n(&r->b->seq, __ATOMIC_ACQUIRE);
    /* records between the attach and the load above: read them now */
    if (write(r->efd, &one, sizeof one) < 0) {
    }
    for (;;) {
        syscall(SYS_futex, &r->b->seq, FUTEX_WAIT, last, NULL, NULL, 0);
        uint32_t v = __atomic_load_n(&r->b->seq, __ATOMIC_ACQUIRE);
        if (v != last) {
            last = v;
            if (write(r->efd, &one, sizeof one) < 0) {
            }
        }
    }
    return NULL;
}

int c1m__ws_bus_next(c1m_ws_bus_t *b, c1m__ws_bus_cursor_t *cur, uint8_t *buf,
                     c1m__ws_bus_rec_t *out)
{
    uint64_t head = __atomic_load_n(&b->head, __ATOMIC_ACQUIRE);
    while (cur->pos < head) {
        rec_hdr_t hd;
        bool ok = head - cur->pos <= b->size;
        if (ok) {
            ring_read(b, cur->pos, &hd, sizeof hd);
            ok = hd.len <= b->max_msg && hd.code <= C1M_WS_MAX_TOPICS &&
                 cur->pos + rec_size(hd.len) <= head;
            if (ok && hd.len)
                ring_read(b, cur->pos + sizeof hd, buf, hd.len);
            __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the copy, then reserve */
            ok = ok && __atomic_load_n(&b->reserve, __ATOMIC_RELAXED) - cur->pos <= b->size;
        }
        if (!ok) { /* overwritten while we were behind: go to the newest */
            cur->pos = head = __atomic_load_n(&b->head, __ATOMIC_ACQUIRE);
            continue;
        }
        cur->pos += rec_size(hd.len);
        if (hd.k > cur->next_k)
            __atomic_add_fetch(&b->lapped, hd.k - cur->next_k, __ATOMIC_RELAXED);
        cur->next_k = hd.k + 1;
        out->opcode = hd.opcode;
        out->topic = hd.code == C1M_WS_MAX_TOPICS ? C1M_WS_ALL : hd.code;
        out->len = hd.len;
        return 1;
    }
    return 0;
}

void c1m__ws_bus_cursor_init(c1m_ws_bus_t *b, c1m__ws_bus_cursor_t *cur)
{
    if (pthread_mutex_lock(&b->mu) == EOWNERDEAD)
        pthread_mutex_consistent(&b->mu);
    cur->pos = b->head;
    cur->next_k = b->next_k;
    pthread_mutex_unlock(&b->mu);
}

/* On the loop: every record up to the head, each to this process's loops. */
static void on_bus(c1m_loop_t *loop, int fd, unsigned events, void *ud)
{
    bus_reader_t *r = ud;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0) {
    }
    c1m__ws_bus_rec_t rec;
    while (c1m__ws_bus_next(r->b, &r->cur, r->buf, &rec) == 1) {
        c1m_ws_msg_t *m = c1m_ws_msg_new(rec.opcode, r->buf, rec.len);
        if (!m)
            continue;
        c1m_ws_broadcast(r->hub, rec.topic, m);
        c1m_ws_msg_unref(m);
        __atomic_add_fetch(&r->b->relayed, 1, __ATOMIC_RELAXED);
    }
}

int c1m__ws_bus_attach(c1m_ws_bus_t *b, c1m_ws_hub_t *hub, c1m_loop_t *loop)
{
    bus_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->b = b;
    r->hub = hub;
    r->buf = malloc(b->max_msg ? b->max_msg : 1);
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!r->buf || r->efd < 0)
        goto fail;
    /* from the newest: earlier records had no subscriber here */
    c1m__ws_bus_cursor_init(b, &r->cur);
    if (!c1m_loop_watch_fd(loop, r->efd, C1M_WATCH_READ, on_bus, r))
        goto fail;
    /* the reader lives as long as the process (as the hub does) */
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, waiter, r);
    pthread_attr_destroy(&a);
    if (rc) {
        c1m_error("ws bus: no reader thread: %s", strerror(rc));
        return -rc; /* the watch stays: r stays with it */
    }
    return 0;
fail:
    if (r->efd >= 0)
        close(r->efd);
    free(r->buf);
    free(r);
    return -ENOMEM;
}

/* ---- the publisher thread --------------------------------------------- */

typedef struct bus_pub {
    c1m_ws_bus_t *b;
    c1m_ws_hub_cfg_t cfg;
    uint8_t *p;
    sem_t started;
} bus_pub_t;

static void *publisher(void *arg)
{
    bus_pub_t *pp = arg;
    sem_post(&pp->started); /* its start-up is over: the caller may fork */
    uint64_t seq = 0, period_ns = pp->cfg.push_every_ms * 1000000ull;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        uint64_t ns = (uint64_t)next.tv_nsec + period_ns;
        next.tv_sec += (time_t)(ns / 1000000000u);
        next.tv_nsec = (long)(ns % 1000000000u);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
        uint64_t s = htobe64(++seq), ts = htobe64(c1m_wall_ns());
        memcpy(pp->p, &s, 8);
        memcpy(pp->p + 8, &ts, 8);
        c1m_ws_bus_publish(pp->b, pp->cfg.push_topic, C1M_WS_OP_BINARY, pp->p, pp->cfg.push_size);
        if (pp->cfg.push_count && seq == pp->cfg.push_count)
            break; /* --push-count: all sent */
    }
    /* only this detached thread holds pp (the starter's sem_wait returned
     * at least one period ago) */
    sem_destroy(&pp->started);
    free(pp->p);
    free(pp);
    return NULL;
}

int c1m_ws_bus_publisher_start(c1m_ws_bus_t *b, const c1m_ws_hub_cfg_t *cfg)
{
    if (!cfg->push_every_ms || cfg->push_size < 16 || cfg->push_size > b->max_msg)
        return -EINVAL;
    bus_pub_t *pp = malloc(sizeof *pp);
    if (!pp)
        return -ENOMEM;
    pp->b = b;
    pp->cfg = *cfg;
    /* made once: the thread allocates nothing (the process forks under it) */
    if (!(pp->p = malloc(cfg->push_size))) {
        free(pp);
        return -ENOMEM;
    }
    memset(pp->p, 'x', cfg->push_size);
    /* the caller forks the prefork children next: wait until the thread
     * runs, so that no fork copies the process while the thread's own
     * start-up holds a lock (ASan allocates in it: a child forked then
     * hung in its first malloc, and with it the supervisor's drain) */
    sem_init(&pp->started, 0, 0);
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, publisher, pp);
    pthread_attr_destroy(&a);
    if (rc) {
        sem_destroy(&pp->started);
        free(pp->p);
        free(pp);
        return -rc;
    }
    while (sem_wait(&pp->started) < 0 && errno == EINTR) {
    }
    return 0;
}
