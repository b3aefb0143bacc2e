/* Servers: the architectures of the article "百万 Go TCP 连接的思考2"
 * (one epoll loop, many loops, prefork, a loop feeding a worker pool) over
 * the same loop and protocol code.
 *
 *   single      one loop thread with the listener
 *   reuseport   L loops, each with its own SO_REUSEPORT listener
 *   dispatch    an acceptor loop hands each connection to one of L loops
 *   exclusive   L loops share one listener (EPOLLEXCLUSIVE)
 *   workerpool  one loop feeds W worker threads that run on_data (a
 *               handler may block); the worker holds the connection and
 *               its calls are applied on the loop when it releases it
 *
 * (prefork — processes, each running one of these — is a property of the
 * whole process and lives in the c1m command, not in the library.)
 *
 * Any number of servers may run in one process. c1m_server_start returns
 * once the server listens; c1m_server_stop (any thread but the server's
 * own) stops accepting, drains, joins the threads and frees the server.
 */
#ifndef C1M_SERVER_H
#define C1M_SERVER_H

#include "c1m/common.h"
#include "c1m/conn.h"
#include "c1m/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum c1m_arch {
    C1M_ARCH_SINGLE = 0,
    C1M_ARCH_REUSEPORT,
    C1M_ARCH_DISPATCH,
    C1M_ARCH_EXCLUSIVE,
    C1M_ARCH_PREFORK,      /* the c1m command only */
    C1M_ARCH_WORKERPOOL,
    C1M_ARCH__COUNT
} c1m_arch_t;

C1M_API const char *c1m_arch_name(c1m_arch_t a);
C1M_API int c1m_arch_parse(const char *s); /* an arch or -EINVAL */

enum { C1M_BALANCE_RR = 0, C1M_BALANCE_LEAST = 1 };

typedef struct c1m_server_cfg {
    const c1m_proto_t *proto; /* required */
    c1m_arch_t arch;          /* default single */
    uint32_t loops;           /* reuseport, dispatch, exclusive (default 1) */
    uint32_t workers;         /* workerpool threads (4) */
    uint32_t queue_cap;       /* workerpool bounded queue (1024) */
    int balance;              /* dispatch: C1M_BALANCE_* */
    const char *bind;         /* address literal; NULL = 0.0.0.0 */
    uint16_t port;            /* 0 = an ephemeral port (c1m_server_port) */
    int listen_fd;            /* serve this listening socket instead (-1); the
                                 caller keeps it: never shut down nor closed */
    const int *listen_fds;    /* or take these over (an upgrade hands them on):
                                 reuseport serves fd i on loop i mod loops, the
                                 others serve fd 0; closed at stop */
    uint32_t nlisten_fds;     /* how many (at most C1M_SERVER_MAX_FDS) */
    uint64_t max_conns;       /* 0 = what the open-file limit allows */
    c1m_loop_cfg_t loop;      /* every loop's configuration */

    /* private: used by the c1m command (its prefork supervisor, its log) */
    uint32_t procs;
    bool quiet;
    uint32_t metrics_interval_ms;
    bool prefork_reuseport;
    struct c1m_proc_slot *slot;
    uint32_t child_index;
} c1m_server_cfg_t;

C1M_API void c1m_server_cfg_defaults(c1m_server_cfg_t *cfg);
/* Check a configuration: 0, or -EINVAL / -EMFILE with a sentence in err
 * that names the option and what would work (e.g. how many processes a
 * connection count needs on this machine). */
C1M_API int c1m_server_cfg_check(const c1m_server_cfg_t *cfg, char *err, size_t errlen);

typedef struct c1m_server c1m_server_t;
/* Start serving: 0 once every loop runs and the listener accepts, or a
 * negative errno with err filled (bad configuration, port in use, ...). */
C1M_API int c1m_server_start(c1m_server_t **out, const c1m_server_cfg_t *cfg, char *err,
                             size_t errlen);
/* Stop accepting, drain (cfg.loop.drain_ms at most, see c1m_loop_stop),
 * join, free. */
C1M_API int c1m_server_stop(c1m_server_t *s);
/* The same in steps, for a caller that keeps working while the server
 * drains: begin (returns at once), ask whether every loop has finished,
 * then c1m_server_stop joins and frees. */
C1M_API int c1m_server_drain(c1m_server_t *s);
C1M_API bool c1m_server_drained(const c1m_server_t *s);
/* Binary upgrade: the listening sockets the server serves (up to n; the
 * count is returned), to hand to another process; and, once that process
 * accepts on them, stop accepting without refusing anything: a later
 * drain or stop leaves them listening (no shutdown), closing only this
 * process's descriptors. */
#define C1M_SERVER_MAX_FDS 64
C1M_API int c1m_server_listen_fds(const c1m_server_t *s, int *fds, int n);
C1M_API void c1m_server_keep_listeners(c1m_server_t *s);
/* The port it listens on (useful with port 0). */
C1M_API uint16_t c1m_server_port(const c1m_server_t *s);
/* Counters summed over its loops (relaxed reads). */
C1M_API void c1m_server_stats(const c1m_server_t *s, c1m_loop_stats_t *sum);

#ifdef __cplusplus
}
#endif
#endif
