/* Server topologies: the seed's architectures over the same loop and
 * protocol code.
 *
 *   single      one loop thread with the listener
 *   reuseport   L loops, each with its own SO_REUSEPORT listener
 *   dispatch    an acceptor loop hands each fd to one of L loops
 *               (round-robin or least-connections)
 *   exclusive   L loops share one listener registered with EPOLLEXCLUSIVE
 *   workerpool  one I/O loop feeds W worker threads (bounded queue)
 *   prefork     a supervisor forks P children, each running one of the
 *               above on the inherited listener (or its own SO_REUSEPORT
 *               listener); see engine/prefork.h
 */
#ifndef C1M_ENGINE_SERVER_H
#define C1M_ENGINE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/loop.h"

typedef enum c1m_arch {
    C1M_ARCH_SINGLE = 0,
    C1M_ARCH_REUSEPORT,
    C1M_ARCH_DISPATCH,
    C1M_ARCH_EXCLUSIVE,
    C1M_ARCH_PREFORK,
    C1M_ARCH_WORKERPOOL,
    C1M_ARCH__COUNT
} c1m_arch_t;

const char *c1m_arch_name(c1m_arch_t a);
int c1m_arch_parse(const char *s); /* an arch or -EINVAL */

enum { C1M_BALANCE_RR = 0, C1M_BALANCE_LEAST = 1 };

/* What a process publishes for the prefork parent (shared memory). */
typedef struct c1m_proc_slot {
    c1m_loop_stats_t stats;
    int32_t pid;
    uint32_t ready; /* listening */
} c1m_proc_slot_t;

typedef struct c1m_server_cfg {
    c1m_arch_t arch;        /* the in-process architecture (never PREFORK here) */
    uint32_t loops;         /* reuseport, dispatch, exclusive */
    uint32_t procs;         /* prefork children */
    uint32_t workers;       /* workerpool threads */
    uint32_t queue_cap;     /* workerpool bounded queue */
    int balance;            /* dispatch */
    const char *bind;
    uint16_t port;
    bool prefork_reuseport;
    const c1m_proto_t *proto;
    c1m_loop_cfg_t loop;
    uint64_t max_conns;     /* total over all processes; 0 = what the fd cap allows */
    uint32_t metrics_interval_ms;
    bool quiet;

    /* set by the prefork supervisor for its children */
    int inherited_fd;       /* -1 = open our own listener */
    c1m_proc_slot_t *slot;  /* publish counters here (NULL = none) */
    uint32_t child_index;
} c1m_server_cfg_t;

void c1m_server_cfg_defaults(c1m_server_cfg_t *cfg);

/* Open-file budget of one process: how many connections it may hold. */
typedef struct c1m_fd_budget {
    uint64_t nofile;       /* RLIMIT_NOFILE after trying to raise it */
    uint64_t per_process;  /* connections one process can hold */
} c1m_fd_budget_t;

/* Raise the soft limit to the hard one and compute the budget for a
 * process with `loops` loops. */
void c1m_fd_budget(uint32_t loops, c1m_fd_budget_t *b);

/* Check that max_conns fits procs x per-process budget; on failure write a
 * message that says how many processes are needed and return -EMFILE. */
int c1m_server_check_fit(const c1m_server_cfg_t *cfg, char *err, size_t errlen);

/* Run an in-process architecture until SIGTERM/SIGINT; then drain and
 * return the process exit status (0 on a clean shutdown). */
int c1m_server_run(const c1m_server_cfg_t *cfg);

/* Block the stop signals (and SIGCHLD if in the set) in the calling thread
 * and its future threads; record them with a handler wherever they land. */
#include <signal.h>
void c1m_signals_block(const sigset_t *sigs);
/* sigtimedwait, plus a stop signal recorded by the handler. */
int c1m_signals_wait(const sigset_t *sigs, const struct timespec *timeout);

/* Format one metrics line for a set of summed counters. */
struct c1m_meter;
void c1m_server_log_metrics(const char *who, const c1m_loop_stats_t *s, struct c1m_meter *m,
                            uint64_t now_ns);

#endif
