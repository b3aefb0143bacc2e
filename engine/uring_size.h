/* engine/uring_size.h — how big each io_uring ring of a process is.
 *
 * A ring's memory does not grow with its connections: its provided-buffer
 * ring (every buffer is touched in turn: the kernel takes them in ring
 * order) and its SQ/CQ (kernel memory mapped into the process, resident
 * from the start) cost the same with ten connections or ten thousand. A
 * process that runs many rings to pass its fd limit (engine/server.c) paid
 * that for each of them: 102 rings x 9.3 MiB held a million connections at
 * 1.2 KiB of RSS each. So the rings of a process share one budget:
 *
 *   buffers  C1M_URING_BUF_BUDGET in all (one ring: all of them), at least
 *            C1M_URING_BUF_MIN per ring: a loop lends a buffer only until
 *            the dispatch that reads it returns, so a ring needs about what
 *            one iteration's completions fill (measured: at most 41 with
 *            10,000 connections echoing at 51,000 messages/s on one ring);
 *            a ring that runs dry ends recvs with ENOBUFS and re-arms them
 *            once buffers are back (nothing is lost).
 *   CQ       not shared: half the ring's connections (its per-loop
 *            max_conns, else what one ring holds), a power of two from
 *            C1M_URING_CQ_MIN to C1M_URING_CQ_MAX. A closed loop of
 *            requests completes a recv on most of a ring's connections
 *            between two reaps, and what does not fit goes to the kernel's
 *            overflow list (IORING_FEAT_NODROP: not lost, but slow). A
 *            share of a process-wide budget (1,024 entries at 102 rings)
 *            fitted 100,000 connections but cut a million's throughput
 *            from 47.9K to 3.9K TPS (c1m lab --conns 1M --backend uring:
 *            with 8,192 entries, half the ring's ~11,000: 47.9K; 16,384:
 *            44.3K; docs/RESULTS.md). 16 bytes an entry: 8,192 is 128 KiB,
 *            13 B per connection.
 *   SQ       a quarter of the CQ: the backend submits early when it is
 *            full, so its size only sets how often.
 *
 * Pure: unit-tested (tests/unit/test_uring_size.c). */
#ifndef C1M_ENGINE_URING_SIZE_H
#define C1M_ENGINE_URING_SIZE_H

#include <stdint.h>

#define C1M_URING_BUF_SIZE 2048u      /* bytes per provided buffer */
#define C1M_URING_BUF_BUDGET 4096u    /* provided buffers per process (8 MiB) */
#define C1M_URING_BUF_MIN 64u         /* per ring (128 KiB) */
#define C1M_URING_CQ_MIN 1024u        /* per ring (16 KiB) */
#define C1M_URING_CQ_MAX 65536u       /* per ring (1 MiB) */

typedef struct c1m_uring_size {
    uint32_t nbufs;  /* provided buffers: a power of two */
    uint32_t sq, cq; /* queue entries: powers of two */
} c1m_uring_size_t;

/* One ring's size when `rings` rings (0 counts as 1) run in the process
 * and this one serves up to `conns` connections. */
c1m_uring_size_t c1m__uring_size(uint32_t rings, uint32_t conns);

#endif
