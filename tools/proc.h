/* Child processes of the c1m command itself (c1m check, c1m lab): run
 * /proc/self/exe with other arguments, wait until a server listens, stop a
 * process by its PID and collect its exit status and resource usage. */
#ifndef C1M_TOOLS_PROC_H
#define C1M_TOOLS_PROC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef struct c1m_spawn_opts {
    const char *out_path;  /* stdout to this file (truncated); NULL: inherit */
    const char *err_path;  /* stderr to this file; NULL: inherit */
    bool quiet_out;        /* stdout to /dev/null (when out_path is NULL) */
    int netns_fd;          /* >= 0: enter this network namespace first */
    bool own_group;        /* own process group: a terminal's Ctrl-C reaches only us */
    int pdeath_signal;     /* > 0: delivered to the child when we die */
} c1m_spawn_opts_t;

#define C1M_SPAWN_DEFAULTS { .netns_fd = -1 }

/* fork + exec /proc/self/exe argv (argv[0] is the program name shown);
 * returns the PID or -errno. */
pid_t c1m_proc_spawn_self(char *const argv[], const c1m_spawn_opts_t *o);

/* Connect to addr every 25 ms until it accepts (0), the process `server`
 * exits (-ECHILD, its status is lost: it printed why) or timeout_ms passes
 * (-ETIMEDOUT). */
int c1m_proc_wait_listening(const struct sockaddr_in *addr, pid_t server, int timeout_ms);

/* waitpid with a timeout: the exit status (0..255, 128+signal) or -1 on
 * timeout; ru (optional) gets the child's rusage including its waited-for
 * descendants. */
int c1m_proc_wait(pid_t pid, int timeout_ms, struct rusage *ru);

/* SIGTERM, wait up to timeout_ms, then SIGKILL: the exit status as
 * c1m_proc_wait, or -1 if it had to be killed. */
int c1m_proc_stop(pid_t pid, int timeout_ms, struct rusage *ru);

/* The first number in a /proc (or /sys) file, or dflt. */
long c1m_proc_read_long(const char *path, long dflt);
/* MemAvailable from /proc/meminfo, in bytes (0 if unknown). */
uint64_t c1m_proc_mem_available(void);

#endif
