/* Binary min-heap of timer entries, per loop or global behind a mutex; see
 * timer_heap.h. */
#include "core/timer_heap.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

static inline bool heap_less(const c1m_heap_entry_t *a, const c1m_heap_entry_t *b)
{
    return a->expires < b->expires || (a->expires == b->expires && a->seq < b->seq);
}

static void sift_up(c1m_heap_t *h, uint32_t i)
{
    c1m_heap_entry_t **a = h->a, *e = a[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!heap_less(e, a[p]))
            break;
        a[i] = a[p];
        a[i]->index = i;
        i = p;
    }
    a[i] = e;
    e->index = i;
}

static void sift_down(c1m_heap_t *h, uint32_t i)
{
    c1m_heap_entry_t **a = h->a, *e = a[i];
    uint32_t n = h->n;
    for (;;) {
        uint64_t c = 2 * (uint64_t)i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && heap_less(a[c + 1], a[c]))
            c++;
        if (!heap_less(a[c], e))
            break;
        a[i] = a[c];
        a[i]->index = i;
        i = (uint32_t)c;
    }
    a[i] = e;
    e->index = i;
}

/* Restore order around i after its key changed either way. */
static inline void sift(c1m_heap_t *h, uint32_t i)
{
    if (i > 0 && heap_less(h->a[i], h->a[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

void c1m_heap_init(c1m_heap_t *h)
{
    h->a = NULL;
    h->n = 0;
    h->cap = 0;
    h->seq = 0;
}

void c1m_heap_destroy(c1m_heap_t *h)
{
    free(h->a);
    c1m_heap_init(h);
}

int c1m_heap_reserve(c1m_heap_t *h, size_t n)
{
    if (n <= h->cap)
        return 0;
    if (n >= C1M_HEAP_NONE)
        return -EOVERFLOW;
    c1m_heap_entry_t **a = realloc(h->a, n * sizeof(*a));
    if (!a)
        return -ENOMEM;
    h->a = a;
    h->cap = (uint32_t)n;
    return 0;
}

static void heap_remove(c1m_heap_t *h, c1m_heap_entry_t *e)
{
    uint32_t i = e->index;
    c1m_heap_entry_t *last = h->a[--h->n];
    e->index = C1M_HEAP_NONE;
    if (i != h->n) {
        h->a[i] = last;
        last->index = i;
        sift(h, i);
    }
}

int c1m_heap_arm(c1m_heap_t *h, c1m_heap_entry_t *e, uint64_t expires_ms)
{
    if (e->index != C1M_HEAP_NONE) {
        e->expires = expires_ms;
        e->seq = h->seq++;
        sift(h, e->index);
        return 0;
    }
    if (C1M_UNLIKELY(h->n == h->cap)) {
        size_t ncap = h->cap ? (size_t)h->cap * 2 : 64;
        if (ncap >= C1M_HEAP_NONE)
            ncap = C1M_HEAP_NONE - 1;
        if (ncap <= h->n)
            return -ENOMEM;
        int rc = c1m_heap_reserve(h, ncap);
        if (rc < 0)
            return rc;
    }
    e->expires = expires_ms;
    e->seq = h->seq++;
    uint32_t i = h->n++;
    h->a[i] = e;
    sift_up(h, i);
    return 0;
}

void c1m_heap_cancel(c1m_heap_t *h, c1m_heap_entry_t *e)
{
    if (e->index != C1M_HEAP_NONE)
        heap_remove(h, e);
}

int c1m_heap_next_timeout_ms(const c1m_heap_t *h, uint64_t now_ms)
{
    if (h->n == 0)
        return -1;
    uint64_t t = h->a[0]->expires;
    if (t <= now_ms)
        return 0;
    return t - now_ms > (uint64_t)INT_MAX ? INT_MAX : (int)(t - now_ms);
}

size_t c1m_heap_advance(c1m_heap_t *h, uint64_t now_ms, c1m_heap_cb_t *cb, void *arg)
{
    uint64_t limit = h->seq;
    size_t fired = 0;
    while (h->n) {
        c1m_heap_entry_t *e = h->a[0];
        if (e->expires > now_ms || e->seq >= limit)
            break;
        heap_remove(h, e);
        fired++;
        cb(e, arg);
    }
    return fired;
}

/* ---- Global heap ---------------------------------------------------- */

int c1m_gheap_init(c1m_gheap_t *g)
{
    c1m_heap_init(&g->heap);
    return -pthread_mutex_init(&g->lock, NULL);
}

void c1m_gheap_destroy(c1m_gheap_t *g)
{
    c1m_heap_destroy(&g->heap);
    pthread_mutex_destroy(&g->lock);
}

int c1m_gheap_reserve(c1m_gheap_t *g, size_t n)
{
    pthread_mutex_lock(&g->lock);
    int rc = c1m_heap_reserve(&g->heap, n);
    pthread_mutex_unlock(&g->lock);
    return rc;
}

int c1m_gheap_arm(c1m_gheap_t *g, c1m_heap_entry_t *e, uint64_t expires_ms)
{
    pthread_mutex_lock(&g->lock);
    int rc = c1m_heap_arm(&g->heap, e, expires_ms);
    pthread_mutex_unlock(&g->lock);
    return rc;
}

void c1m_gheap_cancel(c1m_gheap_t *g, c1m_heap_entry_t *e)
{
    pthread_mutex_lock(&g->lock);
    c1m_heap_cancel(&g->heap, e);
    pthread_mutex_unlock(&g->lock);
}

int c1m_gheap_next_timeout_ms(c1m_gheap_t *g, uint64_t now_ms)
{
    pthread_mutex_lock(&g->lock);
    int t = c1m_heap_next_timeout_ms(&g->heap, now_ms);
    pthread_mutex_unlock(&g->lock);
    return t;
}

size_t c1m_gheap_count(c1m_gheap_t *g)
{
    pthread_mutex_lock(&g->lock);
    size_t n = g->heap.n;
    pthread_mutex_unlock(&g->lock);
    return n;
}

size_t c1m_gheap_advance(c1m_gheap_t *g, uint64_t now_ms, c1m_heap_cb_t *cb, void *arg)
{
    size_t fired = 0;
    pthread_mutex_lock(&g->lock);
    uint64_t limit = g->heap.seq;
    while (g->heap.n) {
        c1m_heap_entry_t *e = g->heap.a[0];
        if (e->expires > now_ms || e->seq >= limit)
            break;
        heap_remove(&g->heap, e);
        pthread_mutex_unlock(&g->lock);
        fired++;
        cb(e, arg);
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return fired;
}
