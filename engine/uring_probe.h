/* engine/uring_probe.h — can this process use the io_uring backend?
 *
 * The uring backend needs a ring with SINGLE_ISSUER + DEFER_TASKRUN
 * (Linux 6.1), provided-buffer rings, a sparse direct-descriptor table and
 * the operations it submits. Where it cannot have them, c1m runs on epoll
 * and says why in one line: this is where that line comes from. */
#ifndef C1M_ENGINE_URING_PROBE_H
#define C1M_ENGINE_URING_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 when a ring as the backend makes it can be set up here and every
 * operation it needs is supported; else -errno, with one sentence naming
 * the cause in `why` (kernel.io_uring_disabled, a seccomp filter, an old
 * kernel, RLIMIT_MEMLOCK, a missing operation). On success `why` says
 * what was found (e.g. whether recv bundles are there). */
int c1m_uring_probe(char *why, size_t cap);

/* As c1m_uring_probe, and also what client connections need
 * (c1m_loop_connect on uring: IORING_OP_SOCKET into a direct slot,
 * setsockopt through IORING_OP_URING_CMD, IORING_OP_BIND: Linux 6.11). */
int c1m_uring_probe_client(char *why, size_t cap);

/* Whether the kernel has recv/send bundles (Linux 6.10); 0 when it has
 * not or when the probe fails. */
int c1m_uring_has_bundles(void);

/* How many connections one loop's ring holds with the current
 * RLIMIT_NOFILE: accepted ones (direct descriptors from multishot accept),
 * or, with `adopted`, regular fds installed into it (dispatch). The server
 * runs enough loops for its --max-conns (docs/ARCHITECTURE.md). */
uint32_t c1m__uring_conns_per_ring(bool adopted);
/* How many client connections (c1m_loop_connect) one loop's ring holds:
 * nearly the whole table (engine/backend_uring.c). */
uint32_t c1m__uring_client_conns_per_ring(void);

/* For tests: the system the probe looks at, replaceable. Every function
 * returns a value or -errno as documented. */
struct io_uring_params;
typedef struct c1m__uring_sys {
    int (*disabled)(void);  /* kernel.io_uring_disabled: 0, 1, 2; -ENOENT when absent */
    int (*seccomp)(void);   /* Seccomp: in /proc/self/status: 0, 1, 2; -ENOENT */
    int (*setup)(unsigned entries, struct io_uring_params *p); /* ring fd or -errno */
    int (*reg)(int fd, unsigned op, void *arg, unsigned nargs); /* io_uring_register */
    unsigned long long (*memlock)(void); /* RLIMIT_MEMLOCK soft limit, bytes */
} c1m__uring_sys_t;

extern const c1m__uring_sys_t c1m__uring_sys_real;
int c1m__uring_probe_with(const c1m__uring_sys_t *sys, char *why, size_t cap, int *bundles);
int c1m__uring_probe_client_with(const c1m__uring_sys_t *sys, char *why, size_t cap);

#endif
