/* Binary upgrade in place (nginx's SIGUSR2), the process-wide part of
 * c1m serve that hands the listening sockets on.
 *
 *   old process                          new process (same argv)
 *   SIGUSR2
 *   fork + execve(path), the listening
 *   fds inherited: C1M_LISTEN_FDS=3,4
 *   and a pipe: C1M_READY_FD=7  ------>  serves those fds (never binds)
 *                                        every loop runs: writes its pid
 *   reads the pid from the pipe  <------  to the pipe, closes it
 *   stops accepting (the sockets stay
 *   listening: nothing is refused),
 *   drains, exits 0
 *
 * The new process fails to start, exits, or is not ready within the
 * grace period: the old one kills it if needed, says why, and keeps
 * serving. No established connection moves; the listening sockets never
 * close, so no connection attempt is refused or reset. */
#ifndef C1M_TOOLS_UPGRADE_H
#define C1M_TOOLS_UPGRADE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define C1M_UPGRADE_GRACE_MS 10000

/* What c1m serve was asked (process-wide, set once by the command). */
typedef struct c1m_upgrade_cfg {
    const char *exec;      /* binary to start; NULL = this one (its path at start-up) */
    uint32_t grace_ms;     /* the new one must be ready within this */
    const char *pid_file;  /* written once serving (NULL = none) */
    int argc;
    char **argv;           /* c1m serve's: argv[0] its name, then its options */
} c1m_upgrade_cfg_t;

void c1m_upgrade_configure(const c1m_upgrade_cfg_t *cfg);

/* An upgrade in progress (pid 0: none). */
typedef struct c1m_upgrade {
    pid_t pid;
    int ready_fd;
    uint64_t deadline_ms;
    int status;      /* its wait status, once reaped by someone else */
    int reaped;
} c1m_upgrade_t;

enum { C1M_UPGRADE_WAITING = 0, C1M_UPGRADE_READY, C1M_UPGRADE_FAILED };

/* Start the new binary with these listening sockets. 0, or a negative
 * errno with why filled. */
int c1m_upgrade_start(c1m_upgrade_t *u, const int *fds, int nfds, char *why, size_t len);
/* Non-blocking: WAITING, READY (u->pid serves now) or FAILED (reaped;
 * why says what happened). */
int c1m_upgrade_poll(c1m_upgrade_t *u, char *why, size_t len);

/* A caller that reaps with waitpid(-1) (the prefork supervisor) hands
 * over the status of pid when it is the new server's; returns whether it
 * was. */
int c1m_upgrade_reaped(c1m_upgrade_t *u, pid_t pid, int status);

/* In the new process: the listening sockets handed over (their count, 0
 * when this is no upgrade, or -EINVAL with err filled when the variable
 * names something else than listening sockets). */
int c1m_upgrade_inherited(int *fds, int cap, char *err, size_t len);
/* In any serving process, once it accepts: write the pid file, and tell
 * the process that started us (if any) that we are ready. */
void c1m_upgrade_serving(void);
/* A prefork child: close the ready pipe inherited from the supervisor
 * (the supervisor answers for every child). */
void c1m_upgrade_forget(void);
/* --upgrade-grace (also the time a rolling restart's new child has). */
uint32_t c1m_upgrade_grace_ms(void);
/* At a clean exit: remove the pid file if it still names this process. */
void c1m_upgrade_exit(void);

#endif
