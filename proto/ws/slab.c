#include "proto/ws/slab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Under ASan, a free slot is poisoned (the free list's link is read and
 * written with the slot unpoisoned for the moment): a use after free of a
 * WebSocket state is reported as it would be with malloc. A chunk is
 * unpoisoned before it is unmapped (its addresses may be mapped again). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The chunk's header sits in its first bytes (the index functions in
 * slab.h read `hdr` from the chunk's aligned base). */
struct c1m_ws_slab_chunk {
    c1m_ws_slab_chunk_hdr_t hdr;
    uint32_t fresh;                    /* offset of the first never-used slot */
    uint32_t _pad;
    void *free;                        /* freed slots, linked through their first bytes */
    c1m_ws_slab_chunk_t *prev, *next;  /* the slab's partial list, when on it */
    uint8_t on_partial;
};

#define FIRST_SLOT ((uint32_t)((sizeof(c1m_ws_slab_chunk_t) + 15) & ~(size_t)15))

c1m_ws_slab_t *c1m__ws_slab_new(size_t size)
{
    if (size == 0 || size > 4096)
        return NULL;
    c1m_ws_slab_t *s = calloc(1, sizeof *s);
    if (s)
        s->size = (uint32_t)((size + 7) & ~(size_t)7);
    return s;
}

static void slab_free_struct(c1m_ws_slab_t *s)
{
    for (uint32_t i = 0; i < s->cap; i++)
        if (s->chunks[i]) { /* only empty ones can be left */
            UNPOISON(s->chunks[i], C1M_WS_SLAB_CHUNK);
            munmap(s->chunks[i], C1M_WS_SLAB_CHUNK);
        }
    free(s->chunks);
    free(s);
}

void c1m__ws_slab_release(c1m_ws_slab_t *s)
{
    if (!s)
        return;
    if (s->live == 0)
        slab_free_struct(s);
    else
        s->released = 1;
}

static void partial_add(c1m_ws_slab_t *s, c1m_ws_slab_chunk_t *k)
{
    k->prev = NULL;
    k->next = s->partial;
    if (s->partial)
        s->partial->prev = k;
    s->partial = k;
    k->on_partial = 1;
}

static void partial_del(c1m_ws_slab_t *s, c1m_ws_slab_chunk_t *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        s->partial = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
    k->on_partial = 0;
}

/* A chunk aligned to its size: map twice the size, trim both ends. */
static void *map_aligned(void)
{
    size_t n = C1M_WS_SLAB_CHUNK;
    uint8_t *p = mmap(NULL, 2 * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)p + n - 1) & ~(uintptr_t)(n - 1);
    size_t head = a - (uintptr_t)p;
    if (head)
        munmap(p, head);
    if (n - head)
        munmap((uint8_t *)a + n, n - head);
    return (void *)a;
}

static c1m_ws_slab_chunk_t *chunk_new(c1m_ws_slab_t *s)
{
    uint32_t id = 0;
    while (id < s->cap && s->chunks[id])
        id++;
    if (id == s->cap) {
        if (s->cap >= 1u << 16)
            return NULL; /* the index keeps 16 bits for the chunk */
        uint32_t cap = s->cap ? s->cap * 2 : 16;
        c1m_ws_slab_chunk_t **c = realloc(s->chunks, cap * sizeof *c);
        if (!c)
            return NULL;
        memset(c + s->cap, 0, (cap - s->cap) * sizeof *c);
        s->chunks = c;
        s->cap = cap;
    }
    c1m_ws_slab_chunk_t *k = map_aligned();
    if (!k)
        return NULL;
    k->hdr.owner = s;
    k->hdr.id = id; /* the mapping is zeroed: the rest starts at 0 */
    k->fresh = FIRST_SLOT;
    s->chunks[id] = k;
    s->nchunks++;
    partial_add(s, k);
    return k;
}

void *c1m__ws_slab_alloc(c1m_ws_slab_t *s)
{
    c1m_ws_slab_chunk_t *k = s->partial;
    if (!k && !(k = chunk_new(s)))
        return NULL;
    void *p = k->free;
    if (p) {
        UNPOISON(p, s->size);
        memcpy(&k->free, p, sizeof(void *));
    } else {
        p = (uint8_t *)k + k->fresh;
        k->fresh += s->size;
    }
    k->hdr.live++;
    s->live++;
    if (!k->free && k->fresh + s->size > C1M_WS_SLAB_CHUNK)
        partial_del(s, k); /* full */
    return p;
}

void c1m__ws_slab_free(void *p)
{
    if (!p)
        return;
    c1m_ws_slab_chunk_t *k =
        (c1m_ws_slab_chunk_t *)((uintptr_t)p & ~(uintptr_t)(C1M_WS_SLAB_CHUNK - 1));
    c1m_ws_slab_t *s = k->hdr.owner;
    s->live--;
    if (--k->hdr.live == 0) { /* empty: give the memory back */
        if (k->on_partial)
            partial_del(s, k);
        s->chunks[k->hdr.id] = NULL;
        s->nchunks--;
        UNPOISON(k, C1M_WS_SLAB_CHUNK);
        munmap(k, C1M_WS_SLAB_CHUNK);
        if (s->released && s->live == 0)
            slab_free_struct(s);
        return;
    }
    memcpy(p, &k->free, sizeof(void *));
    POISON(p, s->size);
    k->free = p;
    if (!k->on_partial)
        partial_add(s, k);
}
