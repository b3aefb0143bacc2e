/* c1m serve's process-wide part: stop signals, the metrics line, and
 * running one server until SIGTERM/SIGINT. The library installs no signal
 * handler; the c1m command does, here. */
#ifndef C1M_TOOLS_SERVE_RUN_H
#define C1M_TOOLS_SERVE_RUN_H

#include <signal.h>
#include <time.h>

#include "engine/server.h"

struct c1m_meter;

/* Block the signals of the set (stop, SIGUSR2, SIGHUP, SIGCHLD) in the
 * calling thread and its future threads; record the first four with a
 * handler wherever they land. */
void c1m_signals_block(const sigset_t *sigs);
/* sigtimedwait, plus a stop signal recorded by the handler. */
int c1m_signals_wait(const sigset_t *sigs, const struct timespec *timeout);

/* Format one metrics line for a set of summed counters. */
void c1m_server_log_metrics(const char *who, const c1m_loop_stats_t *s, struct c1m_meter *m,
                            uint64_t now_ns);

/* The drain's summary line: connections closed cleanly, closed at the
 * deadline, requests completed during the drain. */
void c1m_server_log_drain(const char *who, const c1m_loop_stats_t *s);

/* Start the server, serve until SIGTERM/SIGINT (or until a new binary
 * started on SIGUSR2 is ready: tools/upgrade.h), drain, stop. Returns the
 * process exit status (0 on a clean shutdown). */
int c1m_server_run(const c1m_server_cfg_t *cfg);

#endif
