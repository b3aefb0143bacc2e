/* A slab of fixed-size objects for one thread: the WebSocket connection
 * state (proto/ws/conn.h) lives here rather than in malloc, so that an
 * idle connection pays its object's size and nothing else: no 8-byte
 * chunk header, no rounding to malloc's 16-byte steps, no free chunks of
 * other sizes interleaved with it in the arenas.
 *
 * Objects are carved from 64 KiB chunks (mmap, aligned to their size, so
 * that an object's chunk is its address with the low 16 bits cleared).
 * Each chunk has its own free list and live count; chunks with free slots
 * are on a list, the one allocated from first. A chunk is unmapped as soon
 * as its last object is freed, so a slab whose objects are all freed holds
 * no memory (nothing to release at thread exit). Slots never used are not
 * touched: the pages of a fresh chunk stay unallocated until reached.
 *
 * An object also has a 32-bit index (its chunk's number and its offset in
 * the chunk), for structures that link objects with 4 bytes instead of 8:
 * c1m__ws_slab_ptr() turns it back into the address. C1M_WS_SLAB_NONE (0)
 * is never an object's index: offset 0 of a chunk is its header.
 *
 * Not thread-safe: one slab per thread (the WebSocket state is allocated
 * and freed on its connection's loop thread). An object may still be freed
 * by another thread once the owner thread is gone (a loop freed after its
 * thread ended closes what is left): each chunk knows its slab, and a slab
 * released by its thread (c1m__ws_slab_release) with objects left is freed
 * with its last object. */
#ifndef C1M_PROTO_WS_SLAB_H
#define C1M_PROTO_WS_SLAB_H

#include <stddef.h>
#include <stdint.h>

#define C1M_WS_SLAB_CHUNK (64u * 1024)
#define C1M_WS_SLAB_NONE 0u

typedef struct c1m_ws_slab_chunk c1m_ws_slab_chunk_t;

typedef struct c1m_ws_slab {
    uint32_t size;                 /* object size: a multiple of 8, 8..4096 */
    uint32_t nchunks;              /* chunks mapped now */
    uint64_t live;                 /* objects allocated now */
    c1m_ws_slab_chunk_t *partial;  /* chunks with a free slot */
    c1m_ws_slab_chunk_t **chunks;  /* by chunk number; NULL = free number */
    uint32_t cap;                  /* entries of chunks[] */
    uint8_t released;              /* its thread is done: freed with its last object */
} c1m_ws_slab_t;

/* An empty slab of `size`-byte objects (rounded up to 8); NULL for a size
 * of 0 or above 4096, or out of memory. */
c1m_ws_slab_t *c1m__ws_slab_new(size_t size);
/* The owner is done with s: freed now if it holds no object, else when its
 * last object is freed. */
void c1m__ws_slab_release(c1m_ws_slab_t *s);
/* An object (not zeroed), or NULL when out of memory. */
void *c1m__ws_slab_alloc(c1m_ws_slab_t *s);
/* p came from c1m__ws_slab_alloc (of any slab) and is not freed yet; NULL
 * is ignored. */
void c1m__ws_slab_free(void *p);

/* What an object's chunk starts with. */
typedef struct c1m_ws_slab_chunk_hdr {
    c1m_ws_slab_t *owner;
    uint32_t id;   /* its number in the slab's chunks[] */
    uint32_t live; /* objects allocated from it */
} c1m_ws_slab_chunk_hdr_t;

static inline const c1m_ws_slab_chunk_hdr_t *c1m__ws_slab_hdr(const void *p)
{
    return (const c1m_ws_slab_chunk_hdr_t *)((uintptr_t)p & ~(uintptr_t)(C1M_WS_SLAB_CHUNK - 1));
}

/* The slab an allocated object belongs to. */
static inline c1m_ws_slab_t *c1m__ws_slab_of(const void *p) { return c1m__ws_slab_hdr(p)->owner; }

/* An allocated object's index in its slab. */
static inline uint32_t c1m__ws_slab_index(const void *p)
{
    const c1m_ws_slab_chunk_hdr_t *h = c1m__ws_slab_hdr(p);
    return h->id << 16 | (uint32_t)((uintptr_t)p - (uintptr_t)h);
}

/* The object of s with index i (i from c1m__ws_slab_index, still allocated). */
static inline void *c1m__ws_slab_ptr(const c1m_ws_slab_t *s, uint32_t i)
{
    return (char *)s->chunks[i >> 16] + (i & 0xFFFF);
}

#endif
