/* engine/uring_bufring.h — a provided-buffer ring: the loop's read buffers
 * under io_uring.
 *
 * N buffers of one size live in one allocation; their descriptors sit in a
 * ring shared with the kernel (IORING_REGISTER_PBUF_RING). A recv with
 * IOSQE_BUFFER_SELECT takes buffers from the ring's head; the completion
 * names the first one (and, with recv bundles, res covers several in ring
 * order). The loop "lends" them from the completion, hands the bytes to
 * the protocol, and returns them; returned buffers become visible to the
 * kernel at the next publish (one store, before the iteration's submit).
 *
 * When every buffer is lent out the kernel ends the recv with -ENOBUFS:
 * the caller re-arms it once buffers have come back. Nothing is lost: the
 * bytes stay in the socket until then.
 *
 * Loop thread only (the ring is SINGLE_ISSUER). */
#ifndef C1M_ENGINE_URING_BUFRING_H
#define C1M_ENGINE_URING_BUFRING_H

#include <stdint.h>

struct io_uring;
struct io_uring_buf_ring;

typedef struct c1m_bufring {
    struct io_uring *ring;        /* not owned */
    struct io_uring_buf_ring *br; /* descriptors, shared with the kernel */
    char *mem;                    /* nbufs * size bytes */
    uint8_t *seen;                /* per ring index: taken out of order */
    uint32_t nbufs, size, mask;
    uint32_t out;                 /* lent and not yet returned */
    uint16_t bgid;
    uint16_t cursor;              /* ring index of the next buffer the kernel takes */
    uint16_t unpublished;         /* returned since the last publish */
} c1m_bufring_t;

/* One lent buffer: bytes [0, len) of ptr. */
typedef struct c1m_bufring_piece {
    char *ptr;
    uint32_t len;
    uint16_t bid;
} c1m_bufring_piece_t;

/* Register group `bgid` on `ring`: nbufs (a power of two, 1..32768)
 * buffers of `size` bytes, all in the ring. 0 or -errno. */
int c1m_bufring_setup(c1m_bufring_t *b, struct io_uring *ring, uint16_t bgid, uint32_t nbufs,
                      uint32_t size);
/* Unregister and free. Buffers still lent become invalid. */
void c1m_bufring_destroy(c1m_bufring_t *b);

/* A recv completion with data (res > 0, IORING_CQE_F_BUFFER in flags):
 * the buffers it filled, in byte order, into p[0..max). Returns how many
 * (they are now lent), or -EINVAL (no buffer flag, res <= 0, or more
 * pieces than max), -EPROTO (the buffer id is not in the ring). */
int c1m_bufring_lend(c1m_bufring_t *b, int res, unsigned cqe_flags, c1m_bufring_piece_t *p,
                     int max);
/* Give lent buffer `bid` back; the kernel sees it after the next publish. */
void c1m_bufring_return(c1m_bufring_t *b, uint16_t bid);
/* Make returned buffers visible to the kernel (before submitting). */
void c1m_bufring_publish(c1m_bufring_t *b);

static inline uint32_t c1m_bufring_out(const c1m_bufring_t *b) { return b->out; }
static inline char *c1m_bufring_ptr(const c1m_bufring_t *b, uint16_t bid)
{
    return b->mem + (uint64_t)bid * b->size;
}

#endif
