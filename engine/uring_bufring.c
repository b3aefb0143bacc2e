/* engine/uring_bufring.c — see uring_bufring.h.
 *
 * Which buffers a completion holds: the kernel takes ring entries in order
 * from its head, and a recv completion names the first buffer it took;
 * with bundles it took ceil(res / size) consecutive entries. We keep our
 * own copy of the head (`cursor`): entries [cursor, tail) are either still
 * in the ring or taken by a completion we have not read yet, and we never
 * write there (returns go to tail and beyond, and tail - cursor never
 * exceeds nbufs, because we only return buffers we were lent).
 *
 * Under DEFER_TASKRUN the recvs run one after the other in our task and
 * multishot completions are posted as they happen, so completions arrive
 * in the order the buffers were taken and the first buffer is at the
 * cursor. If the kernel ever posted them out of order (a final completion
 * can be deferred to the end of a batch) the first buffer is found
 * further on: its entries are marked `seen` and the cursor skips them
 * when it gets there. */
#include "engine/uring_bufring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/uring_compat.h"

/* io_uring_register(2) by hand: this file needs only liburing's
 * header-only helpers (it was written before the library linked liburing,
 * and stays usable without it). */
static int reg_pbuf(struct io_uring *ring, unsigned op, struct io_uring_buf_reg *reg)
{
    long r = syscall(__NR_io_uring_register, ring->ring_fd, op, reg, 1);
    return r < 0 ? -errno : 0;
}

int c1m_bufring_setup(c1m_bufring_t *b, struct io_uring *ring, uint16_t bgid, uint32_t nbufs,
                      uint32_t size)
{
    memset(b, 0, sizeof *b);
    if (!ring || nbufs == 0 || nbufs > 32768 || (nbufs & (nbufs - 1)) || size == 0 ||
        (uint64_t)nbufs * size > (1ULL << 32))
        return -EINVAL;
    b->nbufs = nbufs; /* first: destroy unmaps by them */
    b->size = size;
    size_t dsz = (size_t)nbufs * sizeof(struct io_uring_buf); /* page-aligned by mmap */
    b->br = mmap(NULL, dsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b->br == MAP_FAILED) {
        b->br = NULL;
        return -ENOMEM;
    }
    /* mapped, not malloc'd: a buffer is resident once the kernel first
     * fills it, and freeing it does not move malloc's mmap threshold */
    b->mem = mmap(NULL, (size_t)nbufs * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                  -1, 0);
    if (b->mem == MAP_FAILED)
        b->mem = NULL;
    b->seen = calloc(nbufs, 1);
    if (!b->mem || !b->seen) {
        c1m_bufring_destroy(b);
        return -ENOMEM;
    }
    b->ring = ring;
    b->mask = nbufs - 1;
    b->bgid = bgid;
    io_uring_buf_ring_init(b->br);
    struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t)b->br, .ring_entries = nbufs,
                                    .bgid = bgid };
    int r = reg_pbuf(ring, IORING_REGISTER_PBUF_RING, &reg);
    if (r < 0) {
        b->ring = NULL; /* not registered: nothing to unregister */
        c1m_bufring_destroy(b);
        return r;
    }
    for (uint32_t i = 0; i < nbufs; i++)
        io_uring_buf_ring_add(b->br, c1m_bufring_ptr(b, (uint16_t)i), size, (uint16_t)i, (int)b->mask,
                              (int)i);
    io_uring_buf_ring_advance(b->br, (int)nbufs);
    return 0;
}

void c1m_bufring_destroy(c1m_bufring_t *b)
{
    if (b->ring && b->br) {
        struct io_uring_buf_reg reg = { .bgid = b->bgid };
        reg_pbuf(b->ring, IORING_UNREGISTER_PBUF_RING, &reg);
    }
    if (b->br)
        munmap(b->br, (size_t)b->nbufs * sizeof(struct io_uring_buf));
    if (b->mem)
        munmap(b->mem, (size_t)b->nbufs * b->size);
    free(b->seen);
    memset(b, 0, sizeof *b);
}

/* The ring index of the first entry of a completion whose first buffer is
 * `bid`: the cursor, or (out of order) the first unseen entry holding it. */
static int find_first(const c1m_bufring_t *b, uint16_t bid, uint16_t *at)
{
    uint16_t end = b->br->tail;
    for (uint16_t i = b->cursor; i != end; i++) {
        if (!b->seen[i & b->mask] && b->br->bufs[i & b->mask].bid == bid) {
            *at = i;
            return 0;
        }
    }
    return -EPROTO;
}

int c1m_bufring_lend(c1m_bufring_t *b, int res, unsigned cqe_flags, c1m_bufring_piece_t *p,
                     int max)
{
    if (res <= 0 || !(cqe_flags & IORING_CQE_F_BUFFER))
        return -EINVAL;
    uint32_t n = ((uint32_t)res + b->size - 1) / b->size;
    if (n > (uint32_t)max)
        return -EINVAL;
    uint16_t bid = (uint16_t)(cqe_flags >> IORING_CQE_BUFFER_SHIFT), at;
    if (b->br->bufs[b->cursor & b->mask].bid == bid && !b->seen[b->cursor & b->mask])
        at = b->cursor; /* the usual case */
    else if (find_first(b, bid, &at) < 0)
        return -EPROTO;
    if ((uint16_t)(b->br->tail - at) < n) /* more than the ring held */
        return -EPROTO;
    uint32_t left = (uint32_t)res;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t idx = (uint16_t)(at + k) & b->mask;
        uint16_t id = b->br->bufs[idx].bid;
        p[k] = (c1m_bufring_piece_t){ .ptr = c1m_bufring_ptr(b, id),
                                      .len = left < b->size ? left : b->size,
                                      .bid = id };
        left -= p[k].len;
        b->seen[idx] = 1;
    }
    while (b->cursor != b->br->tail && b->seen[b->cursor & b->mask]) { /* skip what was read */
        b->seen[b->cursor & b->mask] = 0;
        b->cursor++;
    }
    b->out += n;
    return (int)n;
}

void c1m_bufring_return(c1m_bufring_t *b, uint16_t bid)
{
    io_uring_buf_ring_add(b->br, c1m_bufring_ptr(b, bid), b->size, bid, (int)b->mask,
                          b->unpublished++);
    b->out--;
}

void c1m_bufring_publish(c1m_bufring_t *b)
{
    if (b->unpublished) {
        io_uring_buf_ring_advance(b->br, b->unpublished);
        b->unpublished = 0;
    }
}
