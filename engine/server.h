/* Servers (public API: c1m/server.h): the architectures over the same loop
 * and protocol code. This header adds what the c1m command shares with the
 * library: the open-file budget and the prefork slot. */
#ifndef C1M_ENGINE_SERVER_H
#define C1M_ENGINE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "c1m/server.h"
#include "engine/loop.h"

/* What a process publishes for the prefork parent (shared memory). */
typedef struct c1m_proc_slot {
    c1m_loop_stats_t stats;
    int32_t pid;
    uint32_t ready; /* listening */
    /* the shared listener's balance (engine/share.h), updated live */
    uint32_t held;  /* connections open now */
    uint64_t taken; /* connections opened */
    struct c1m_proc_slot *group; /* every child's slot (set by the supervisor) */
    uint32_t ngroup;
} c1m_proc_slot_t;

/* Open-file budget of one process: how many connections it may hold. */
typedef struct c1m_fd_budget {
    uint64_t nofile;       /* the soft RLIMIT_NOFILE */
    uint64_t per_process;  /* connections one process can hold */
    bool raised;           /* the soft limit was raised to the hard one */
} c1m_fd_budget_t;

/* The budget of this process (its soft RLIMIT_NOFILE, read, never
 * changed) for `loops` loops. */
void c1m_fd_budget(uint32_t loops, c1m_fd_budget_t *b);

/* The loops a server runs (in-process architectures). */
uint32_t c1m__server_nloops(const c1m_server_t *s);
c1m_loop_t *c1m__server_loop(const c1m_server_t *s, uint32_t i);

/* c1m_server_stop, with the final counters taken after the loops stopped. */
int c1m__server_stop(c1m_server_t *s, c1m_loop_stats_t *final);

#endif
