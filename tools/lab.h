/* c1m lab: shared between lab.c (flags, plan, runs) and lab_report.c
 * (the table, JSON and plots). */
#ifndef C1M_TOOLS_LAB_H
#define C1M_TOOLS_LAB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/bench.h"

typedef struct json_t json_t;

#define LAB_MAX_HOSTS 64
#define LAB_MAX_ROWS 16
#define LAB_MAX_SAMPLES 20000

typedef struct lab_cfg {
    uint64_t conns, duration_us, warmup_us;
    const char *archs, *proto, *out, *experiment, *netns;
    unsigned hosts, rounds, loops;
    unsigned cpus;             /* CPUs this process may run on (sched_getaffinity) */
    uint16_t port;
    bool no_plots, dry_run;
    c1m_backend_t backend;     /* resolved before the plan: EPOLL or URING */
    /* --experiment push (lab_push.c): --conns as given (a list there) */
    const char *conns_arg;
    uint64_t push_conns[LAB_MAX_ROWS];
    unsigned npush_conns;
} lab_cfg_t;

/* One row of the table: an architecture (or a timer design), the serve
 * arguments planned for it, and what was measured. */
typedef struct lab_row {
    char id[24], label[40], server_desc[80], client_desc[64], note[320];
    char serve_args[12][40];   /* after "c1m serve --quiet --port P --proto X" */
    unsigned nserve_args;
    unsigned bench_loops, bench_procs;   /* bench_procs 0 = bench chooses */
    /* results */
    bool ran, ok;
    int server_exit, bench_exit;
    uint64_t target, established, requests, mismatches, errors, lost;
    double tps, connect_s, window_s;
    uint64_t lat_min, p50, p90, p99, p999, p9999, lat_max;
    double lat_mean;
    double cpu_s, cpu_pct;
    uint64_t rss_bytes, kmem_delta, sockmem_delta_pages;
    uint32_t server_procs;
    bool kmem_ok;
    c1m_bench_result_t *res;   /* the bench result (merged over hosts), for plots */
    char json_path[PATH_MAX];
    char hgrm_path[PATH_MAX];  /* ROW.hgrm beside ROW.bench.json */
    /* timers: rounds merged */
    unsigned rounds_done;
    double sum_requests, sum_secs;
    /* push (lab_push.c): this row's size and broadcast period, window */
    uint64_t push_conns, push_every_ms, push_duration_us, push_warmup_us;
} lab_row_t;

typedef struct lab {
    lab_cfg_t cfg;
    char out[2048];
    lab_row_t rows[LAB_MAX_ROWS];
    unsigned nrows;
    uint64_t per_process;      /* connections a server process can hold */
    unsigned server_procs;     /* processes needed by an arch at this size */
    int host_fds[LAB_MAX_HOSTS];
    unsigned naddrs;           /* source addresses per client host */
    bool in_netns;
    char netns_name[64];
    bool http_available;
    char proto_used[8];
    char sysctl_lines[16][160];
    unsigned nsysctl;
    uint64_t started_wall_ns;
} lab_t;

/* lab_report.c */
const char *lab_fmt_us(uint64_t us, char *buf, size_t len);
const char *lab_fmt_bytes(double b, char *buf, size_t len);
const char *lab_fmt_count(double v, char *buf, size_t len);
/* The machine-readable line: "lab: arch=ID conns=E/T tps=... ok=0|1". */
void lab_summary_line(const lab_row_t *r);
/* Terminal table and notes; table.md, lab.json and (unless interrupted or
 * --no-plots) the gnuplot plots under lab->out. */
void lab_write_outputs(lab_t *lab, bool interrupted);
/* For lab_push.c: a row's common JSON fields, and gnuplot run in dir (no
 * shell) with its output in log; 0 = exit 0. */
json_t *lab_row_json(const lab_row_t *r);
bool lab_have_gnuplot(bool *cairo);
int lab_gnuplot(const char *dir, const char *log, char *const argv[]);
/* latency_ROW.dat of a row (lab_report.c): the latency spectrum the plots draw */
void lab_write_spectrum(const lab_t *lab, const lab_row_t *r);

/* lab_push.c: --experiment push, one row per connection count. */
typedef int (*lab_run_row_fn)(lab_t *lab, lab_row_t *r, const char *tag);
/* After the flags: the counts (a --conns list or 10k, 100k, 1M); 0 or 2. */
int lab_push_flags(lab_cfg_t *c);
/* The rows; counts the machine cannot hold are dropped, said why. */
int lab_push_plan(lab_t *lab);
/* Total and per-row seconds, for the plan's estimate. */
void lab_push_estimate(const lab_t *lab, double *per_row, unsigned *runs);
/* Run the rows in order; -EINTR when interrupted. */
int lab_push_run(lab_t *lab, lab_run_row_fn run_row);
void lab_push_write_outputs(lab_t *lab, bool interrupted);

#endif
