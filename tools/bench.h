/* c1m bench: the load generator.
 *
 *   bench.c         flags, URL and request, pre-flight checks
 *   bench_run.c     the parent: forks P children, drives the phases through
 *                   shared memory, prints progress, intervals, the result
 *   bench_client.c  a child: L loop threads, each owning a share of the
 *                   connections (connect ramp, ts8 / echo / http clients,
 *                   closed or open loop, per-loop histograms)
 *   bench_report.c  the result: merging slots, text report, JSON, .hgrm
 *   merge.c         c1m merge: results of several runs or hosts, exactly
 *
 * Shared memory (MAP_SHARED | MAP_ANONYMOUS, created before fork): a header
 * the parent writes (phase, window times, stop) and one slot per loop that
 * only that loop writes (counters and histograms). The parent merges the
 * slots' histograms by adding counts: lossless, never an average. */
#ifndef C1M_TOOLS_BENCH_H
#define C1M_TOOLS_BENCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "c1m/loop.h"
#include "core/hist.h"
#include "engine/srcaddr.h"

enum { C1M_BENCH_TS8 = 0, C1M_BENCH_ECHO, C1M_BENCH_HTTP, C1M_BENCH_WS };

/* ws: handshakes in flight over all loops at most, by default (bench.c) */
#define C1M_BENCH_WS_WINDOW 4096u

typedef struct c1m_bench_cfg {
    int proto;
    struct sockaddr_in dst;
    char target[300];          /* "host:port" or the URL, for reports */
    /* http */
    char *request;             /* the request bytes, built once */
    size_t request_len;
    bool head_method;
    /* ws: cfg->request is the Upgrade request; push: connections only
     * receive and measure each message's delivery from its timestamp */
    bool ws_push;
    /* scale */
    uint64_t conns;
    uint32_t procs, loops;
    c1m_backend_t backend;     /* resolved: EPOLL or URING */
    c1m_srcaddr_t src;
    uint64_t connect_rate;     /* connections/s in total; 0 = unpaced */
    uint64_t connect_timeout_us;
    uint32_t retries;
    uint32_t connect_window;   /* connects in flight per loop (ws: until the 101) */
    /* workload */
    uint64_t rate;             /* requests/s in total; 0 = closed loop */
    uint32_t pipeline;         /* requests in flight per connection */
    uint32_t size;             /* echo message size */
    uint64_t duration_us, warmup_us, interval_us, grace_us;
    uint64_t start_at_ns;      /* wall clock; 0 = as soon as connected */
    const char *json_path, *hgrm_path;
    bool quiet;
} c1m_bench_cfg_t;

/* Errors by kind. */
enum {
    C1M_BERR_REFUSED = 0,  /* connect: ECONNREFUSED */
    C1M_BERR_CONNECT_TIMEOUT,
    C1M_BERR_CONNECT,      /* connect: any other error */
    C1M_BERR_BIND,         /* the source (address, port) was not available */
    C1M_BERR_SOCKET,       /* socket(): out of descriptors or memory */
    C1M_BERR_RESET,        /* connection reset by peer (or EPIPE) */
    C1M_BERR_IO,           /* other read/write error */
    C1M_BERR_PARSE,        /* unparsable response (http) */
    C1M_BERR_NOMEM,        /* a buffer could not grow */
    C1M_BERR_HANDSHAKE,    /* ws: the server closed before its 101 */
    C1M_BERR__COUNT
};
const char *c1m_bench_err_name(int kind);

/* Connection-level counters: never reset. */
typedef struct c1m_bench_conn_ctr {
    uint64_t attempts, established, failed, closed_peer, closed_error, reconnects;
    uint64_t settled;          /* established or given up */
    uint64_t live;             /* open now (ws: upgraded) */
    uint64_t connecting;       /* in flight now (ws: until the 101) */
    uint64_t errors[C1M_BERR__COUNT];
} c1m_bench_conn_ctr_t;

/* Window counters for the measured window [t_warm, t_end): `requests` and
 * the status counts are replies completed inside it (throughput); `sent`,
 * `lost`, `unsent` and the latency histograms are requests whose intended
 * send time is inside it, each followed to its reply (or the grace limit).
 * In a steady state both sets have the same size. */
typedef struct c1m_bench_win_ctr {
    uint64_t sent, requests, mismatches, lost, unsent, non2xx;
    uint64_t status_class[6];  /* [1] = 1xx ... [5] = 5xx, [0] = other */
    uint64_t status[600];
} c1m_bench_win_ctr_t;

/* Events of one interval (the interval lines, an upgrade's dip): connect
 * attempts that failed, connections reset, requests that got no answer
 * (in flight when the server closed or reset the connection), and
 * reconnects after the server ended a keep-alive connection following an
 * answer ("Connection: close": not an error). */
typedef struct c1m_bench_ival_ctr {
    uint64_t connect_errors, resets, lost, reconnects;
} c1m_bench_ival_ctr_t;

/* One loop's slot: written by that loop only. */
typedef struct c1m_bench_slot {
    c1m_bench_conn_ctr_t conn;
    c1m_bench_win_ctr_t win;
    uint64_t max_lag_us;       /* open loop: how late a send started, worst */
    uint32_t done;             /* finished: results final */
    uint32_t pad_;
    /* interval k is recorded into ival[k & 1] once ival_no[k & 1] == k */
    uint64_t ival_no[2];
    uint64_t ival_lag_us[2];
    c1m_bench_ival_ctr_t ival_ctr[2];
    c1m_hist_t ival[2];
    c1m_hist_t lat;            /* latency from the intended send time, µs */
    c1m_hist_t svc;            /* service time from the actual send, µs */
} c1m_bench_slot_t;

enum { C1M_BENCH_PHASE_CONNECT = 0, C1M_BENCH_PHASE_RUN, C1M_BENCH_PHASE_EXIT };

typedef struct c1m_bench_shm {
    uint32_t phase;
    uint32_t stop;             /* end the run now (Ctrl-C, abort) */
    uint64_t t_start, t_warm, t_end; /* wall clock ns */
    uint64_t est_total;        /* connections established at t_start */
    uint32_t nslots;
    uint32_t pad_;
    c1m_bench_slot_t slots[];
} c1m_bench_shm_t;

/* bench_run.c: the parent's part of a run (after flags and pre-flight):
 * returns the exit status. */
int c1m_bench_run(const c1m_bench_cfg_t *cfg);

/* bench_client.c: run child `proc` (never returns). */
void c1m_bench_child(const c1m_bench_cfg_t *cfg, c1m_bench_shm_t *shm, uint32_t proc)
    __attribute__((noreturn));

/* ---- results (bench_report.c) ---- */

#define C1M_BENCH_MAX_IVALS 4096

typedef struct c1m_bench_ival {
    uint64_t t_ns;             /* wall clock start of the interval */
    double secs;               /* part of the interval inside the run */
    bool warm;                 /* part of the warm-up */
    uint64_t requests;
    uint64_t p50, p99, max;    /* µs */
    c1m_bench_ival_ctr_t ev;
} c1m_bench_ival_t;

typedef struct c1m_bench_result {
    char proto[16];
    char target[300];
    char mode[16];             /* "closed" or "open" */
    uint64_t rate, pipeline, procs, loops, size, hosts;
    uint64_t conns_target, conns_established, conns_failed, conns_closed_peer,
             conns_closed_error, attempts, reconnects;
    uint64_t t_start, t_end;   /* measured window, wall ns */
    double duration_s, warmup_s;
    double tps;
    bool interrupted;
    uint64_t max_lag_us;
    uint64_t errors[C1M_BERR__COUNT];
    c1m_bench_win_ctr_t win;
    c1m_hist_t lat, svc;
    bool has_svc;
    uint32_t nivals;
    c1m_bench_ival_t *ivals;
} c1m_bench_result_t;

uint64_t c1m_bench_errors_total(const c1m_bench_result_t *r);
void c1m_bench_print(const c1m_bench_result_t *r, FILE *f);
int c1m_bench_write_json(const c1m_bench_result_t *r, const char *path);
int c1m_bench_write_hgrm(const c1m_bench_result_t *r, const char *path);
/* Read a result written by c1m_bench_write_json; 0 or -EINVAL with a
 * message in err. */
int c1m_bench_read_json(c1m_bench_result_t *r, const char *path, char *err, size_t errlen);
/* Latency report line helper: "p50=..." with a unit that fits. */
const char *c1m_bench_fmt_us(uint64_t us, char *buf, size_t len);

#endif
