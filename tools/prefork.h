/* The prefork supervisor: the process-wide part of c1m serve.
 *
 * The parent opens the listener (or, with --prefork-reuseport, only checks
 * the port) and forks P children that run an in-process architecture on
 * it (the 1M-connections article's Go server passed it as ExtraFiles fd
 * 3). It restarts a child that dies, with exponential back-off so that a
 * crash loop does not spin, forwards SIGTERM/SIGINT, sums the children's
 * counters from shared memory for its metrics lines, and exits 0 once
 * every child has drained. */
#ifndef C1M_TOOLS_PREFORK_H
#define C1M_TOOLS_PREFORK_H

#include "engine/server.h"

int c1m_prefork_run(const c1m_server_cfg_t *cfg);

#endif
