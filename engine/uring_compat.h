/* engine/uring_compat.h — what Debian 12's liburing 2.3 lacks and c1m uses.
 *
 * The kernel here (6.18) is far newer than liburing 2.3 (kernel 6.1 era).
 * liburing 2.3 already has SINGLE_ISSUER and DEFER_TASKRUN, multishot
 * accept/recv, direct accept/close/socket, IORING_REGISTER_PBUF_RING and
 * the io_uring_buf_ring_* add/advance helpers: those come from liburing.
 * Only what it lacks is here:
 *
 *   - recv/send bundles (Linux 6.10): IORING_RECVSEND_BUNDLE and the
 *     feature bit saying the kernel has them;
 *   - IORING_REGISTER_PBUF_STATUS (6.8): the kernel's head of a buffer
 *     ring, so a test can check how many buffers the kernel has taken;
 *   - IORING_OP_FIXED_FD_INSTALL (6.8): a direct descriptor made a regular
 *     fd (to hand a connection to a loop that is not on this ring);
 *   - a prep helper for IORING_MSG_SEND_FD (liburing 2.4 has one): pass a
 *     direct descriptor to another ring;
 *   - IORING_OP_BIND (6.11) and socket commands through IORING_OP_URING_CMD
 *     (SOCKET_URING_OP_SETSOCKOPT, 6.7), with prep helpers (liburing 2.7
 *     and 2.5 have them): a client socket that is a direct descriptor from
 *     its IORING_OP_SOCKET on is configured and bound through the ring;
 *   - io_uring_enable_rings: declared by liburing 2.3's header but not
 *     exported by its library (link error), so done by hand.
 *
 * Constants are #ifndef-guarded so a newer liburing wins. Operation codes
 * are enum members in the kernel header, so they cannot be guarded: they
 * get C1M_ names. Helpers are c1m_-prefixed for the same reason.
 * Written from the kernel's uapi (include/uapi/linux/io_uring.h). */
#ifndef C1M_ENGINE_URING_COMPAT_H
#define C1M_ENGINE_URING_COMPAT_H

#include <liburing.h>
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4) /* sqe->ioprio: take several buffers */
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif

/* IORING_REGISTER_PBUF_STATUS: an enum member in newer headers. */
#define C1M_IORING_REGISTER_PBUF_STATUS 26
struct c1m_io_uring_buf_status {
    uint32_t buf_group; /* in */
    uint32_t head;      /* out: the kernel's consumer index */
    uint32_t resv[8];
};

#define C1M_IORING_OP_FIXED_FD_INSTALL 54
#ifndef IORING_FIXED_FD_NO_CLOEXEC
#define IORING_FIXED_FD_NO_CLOEXEC (1U << 0)
#endif

#define C1M_IORING_OP_BIND 56
#define C1M_SOCKET_URING_OP_SETSOCKOPT 3

/* bind(fd, addr, addrlen) through the ring. The kernel copies the address
 * when it prepares the request (at submission). */
static inline void c1m_uring_prep_bind(struct io_uring_sqe *sqe, int fd, const struct sockaddr *addr,
                                       unsigned addrlen)
{
    io_uring_prep_rw(C1M_IORING_OP_BIND, sqe, fd, addr, 0, addrlen);
}

/* setsockopt(fd, level, optname, optval, optlen) through the ring. optval
 * is read when the request runs: it must outlive the submission. In the
 * kernel's sqe, level and optname overlay addr, optlen overlays
 * file_index, optval overlays addr3 and cmd_op the low half of off. */
static inline void c1m_uring_prep_setsockopt(struct io_uring_sqe *sqe, int fd, int level,
                                             int optname, const void *optval, unsigned optlen)
{
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
    sqe->cmd_op = C1M_SOCKET_URING_OP_SETSOCKOPT;
    sqe->addr = (uint64_t)(uint32_t)level | (uint64_t)(uint32_t)optname << 32;
    sqe->file_index = optlen;
    sqe->addr3 = (uint64_t)(uintptr_t)optval;
}

/* The kernel's head of buffer group `bgid` (how many buffers it has taken
 * since registration, mod 2^16). 0 or -errno (-EINVAL before 6.8). */
static inline int c1m_uring_buf_ring_head(struct io_uring *ring, unsigned bgid, uint16_t *head)
{
    struct c1m_io_uring_buf_status st = { .buf_group = bgid };
    if (syscall(__NR_io_uring_register, ring->ring_fd, C1M_IORING_REGISTER_PBUF_STATUS, &st, 1) < 0)
        return -errno;
    *head = (uint16_t)st.head;
    return 0;
}

/* Enable a ring set up with IORING_SETUP_R_DISABLED; with SINGLE_ISSUER
 * the calling thread becomes its only submitter. 0 or -errno. */
static inline int c1m_uring_enable_rings(struct io_uring *ring)
{
    if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
        return -errno;
    return 0;
}

/* Install direct descriptor `slot` as a regular fd of the process; the
 * completion's res is the new fd. */
static inline void c1m_uring_prep_fixed_fd_install(struct io_uring_sqe *sqe, int slot, unsigned flags)
{
    io_uring_prep_rw(C1M_IORING_OP_FIXED_FD_INSTALL, sqe, slot, NULL, 0, 0);
    sqe->flags = IOSQE_FIXED_FILE;
    sqe->rw_flags = (int)flags; /* install_fd_flags in newer headers */
}

/* Send our direct descriptor `slot` to the ring `ring_fd`, into its slot
 * `target` (IORING_FILE_INDEX_ALLOC: any free one); the target ring gets a
 * completion with user_data `data` and res = the slot used. */
static inline void c1m_uring_prep_msg_ring_fd(struct io_uring_sqe *sqe, int ring_fd, int slot,
                                              unsigned target, uint64_t data, unsigned flags)
{
    io_uring_prep_rw(IORING_OP_MSG_RING, sqe, ring_fd, (void *)(uintptr_t)IORING_MSG_SEND_FD, 0,
                     data);
    sqe->addr3 = (uint64_t)slot;
    /* file_index is 1-based (0 = none); ALLOC (~0U) is passed as is: the
     * kernel checks for it before subtracting one. */
    sqe->file_index = target == IORING_FILE_INDEX_ALLOC ? IORING_FILE_INDEX_ALLOC : target + 1;
    sqe->msg_ring_flags = flags;
}

#endif
