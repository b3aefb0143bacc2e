/* Binary upgrade in place (nginx's SIGUSR2), the process-wide part of
 * c1m serve that hands the listening sockets on.
 *
 *   old process                          new process (same argv)
 *   SIGUSR2
 *   fork + execve(path), the listening
 *   fds inherited: C1M_LISTEN_FDS=3,4
 *   and a pipe: C1M_READY_FD=7  ------>  serves those fds (never binds)
 *                                        every loop runs: writes its pid
 *   reads the pid from the pipe  <------  to the pipe (and keeps it)
 *   stops accepting (the sockets stay
 *   listening: nothing is refused),
 *   drains; keeps its own copies of the
 *   listening sockets and watches the
 *   new one until the grace period ends
 *                                        hands over to its own successor,
 *   stops watching               <------  or stops: writes "handed" or
 *                                        "stopping" to the pipe
 *   exits 0
 *
 * The new process fails to start, exits, or is not ready within the
 * grace period: the old one kills it if needed, says why, and keeps
 * serving. It dies within the grace period after it was ready (without
 * having said "handed" or "stopping"): the old one says why and accepts
 * again on its copies of the sockets, which never closed. No established
 * connection moves; the listening sockets never close, so no connection
 * attempt is refused or reset. */
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

#define C1M_UPGRADE_MAX_FDS 64

/* An upgrade in progress (pid 0: none), and after the new server said
 * ready, the watch on it until the grace period ends. */
typedef struct c1m_upgrade {
    pid_t pid;
    int ready_fd;
    uint64_t deadline_ms; /* start + grace: ready before it, watched until it */
    int status;      /* its wait status, once reaped by someone else */
    int reaped;
    int ready;       /* it said ready: now watched */
    uint64_t ready_ms;
    int eof;         /* the pipe's end was read */
    char said[64];   /* what it wrote on the pipe so far */
    int nfds;
    int fds[C1M_UPGRADE_MAX_FDS]; /* our own copies of the listening sockets */
} c1m_upgrade_t;

enum {
    C1M_UPGRADE_WAITING = 0, /* nothing new */
    C1M_UPGRADE_READY,       /* just said ready: the caller stops accepting and drains */
    C1M_UPGRADE_FAILED,      /* ended before it was ready (reaped): keep serving */
    C1M_UPGRADE_DIED,        /* died after it was ready, within the grace period:
                              * accept again (c1m_upgrade_take_fds) */
    C1M_UPGRADE_DONE,        /* the watch is over: the grace period passed, or it
                              * handed over or is stopping; the caller may exit */
};

/* Start the new binary with these listening sockets. 0, or a negative
 * errno with why filled. */
int c1m_upgrade_start(c1m_upgrade_t *u, const int *fds, int nfds, char *why, size_t len);
/* Non-blocking, called every few tens of ms while u->pid: one of the
 * C1M_UPGRADE_* above; why says what happened. After FAILED and DONE, u
 * is over (pid 0); after DIED, once the caller took the fds. */
int c1m_upgrade_poll(c1m_upgrade_t *u, char *why, size_t len);
/* After DIED: our copies of the listening sockets, now the caller's to
 * serve and close (their count; they are all still listening, else DIED
 * was DONE); fds NULL: close them. Ends u. */
int c1m_upgrade_take_fds(c1m_upgrade_t *u, int *fds, int cap);
/* Stop an upgrade (this process is stopping): a new server that is not
 * ready yet gets SIGTERM; a ready one is left serving, no longer watched. */
void c1m_upgrade_abandon(c1m_upgrade_t *u);
/* Why a SIGUSR2 is refused now (NULL: it is not). */
const char *c1m_upgrade_busy(const c1m_upgrade_t *u);

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
/* Tell the process that started us that it need not watch us any more:
 * we handed over to our own successor ("handed") or are stopping on
 * purpose ("stopping"). Once; closes the pipe. */
void c1m_upgrade_leaving(const char *what);
/* A prefork child: close the ready pipe inherited from the supervisor
 * (the supervisor answers for every child). */
void c1m_upgrade_forget(void);
/* --upgrade-grace (also the time a rolling restart's new child has). */
uint32_t c1m_upgrade_grace_ms(void);
/* At a clean exit: remove the pid file if it still names this process. */
void c1m_upgrade_exit(void);

#endif
