/* c1m lab --experiment push: broadcast fan-out at growing sizes.
 *
 * One row per connection count (10k, 100k, 1M by default): c1m serve
 * --proto http --arch prefork with a publisher (--push-every, in the
 * prefork supervisor, on the shared-memory bus to the children), c1m bench
 * --proto ws --push as the subscribers. The run itself is lab.c's run_row
 * (spawn, wait listening, sample the server's CPU, RSS and the kernel's
 * socket memory, stop by PID); this file chooses the rows, their broadcast
 * period and window, drops the sizes the machine cannot hold, and writes
 * the push table, lab.json and the plots.
 *
 * The broadcast period grows with the size: one broadcast must reach every
 * subscriber before the next one leaves, or the table measures a queue
 * instead of a fan-out. A server here delivers some 60-80k messages/s to
 * loopback subscribers (2 cores shared with the client), but a first run
 * at 500 ms for 10k connections had a slowest delivery of 1.1 s: the
 * period is 80 µs per connection, at least 1 s, and a row whose slowest
 * delivery took longer than the period says so in its note. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/hist.h"
#include "engine/server.h"
#include "tools/bench.h"
#include "tools/flags.h"
#include "tools/lab.h"
#include "tools/proc.h"
#include "tools/provenance.h"

#define PUSH_SIZE 64

static const uint64_t default_counts[] = { 10000, 100000, 1000000 };

/* what the plan dropped and why, for the notes and lab.json */
static char g_dropped[LAB_MAX_ROWS][200];
static unsigned g_ndropped;
static bool g_dur_set, g_warm_set;

/* "10k", "10k,100k", "200,2000": 0 or 2 with a message. */
static int parse_counts(lab_cfg_t *c, const char *arg)
{
    char list[256], *save = NULL;
    if (strlen(arg) >= sizeof list) {
        fprintf(stderr, "c1m lab: --conns list too long\n");
        return 2;
    }
    snprintf(list, sizeof list, "%s", arg);
    c->npush_conns = 0;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (c1m_flag_count("lab", "--conns", t, 1, 10000000, &v))
            return 2;
        if (c->npush_conns == LAB_MAX_ROWS) {
            fprintf(stderr, "c1m lab: at most %d counts in --conns\n", LAB_MAX_ROWS);
            return 2;
        }
        c->push_conns[c->npush_conns++] = v;
    }
    if (!c->npush_conns) {
        fprintf(stderr, "c1m lab: --conns: no count in '%s'\n", arg);
        return 2;
    }
    return 0;
}

int lab_push_flags(lab_cfg_t *c)
{
    bool list = c->conns_arg && strchr(c->conns_arg, ',');
    if (strcmp(c->experiment, "push")) {
        if (list) {
            fprintf(stderr, "c1m lab: a list of counts in --conns goes with --experiment push\n");
            return 2;
        }
        return 0;
    }
    if (c->archs) {
        fprintf(stderr, "c1m lab: --archs goes with --experiment archs\n");
        return 2;
    }
    if (c->conns_arg) {
        if (parse_counts(c, c->conns_arg))
            return 2;
    } else {
        c->npush_conns = 3;
        memcpy(c->push_conns, default_counts, sizeof default_counts);
    }
    if (c->hosts)
        for (unsigned i = 0; i < c->npush_conns; i++)
            if (c->push_conns[i] < c->hosts) {
                fprintf(stderr, "c1m lab: --conns %" PRIu64 " is fewer than --hosts %u\n",
                        c->push_conns[i], c->hosts);
                return 2;
            }
    /* the window of each row follows from its size unless given */
    g_dur_set = c->duration_us != UINT64_MAX;
    g_warm_set = c->warmup_us != UINT64_MAX;
    uint64_t max = 0;
    for (unsigned i = 0; i < c->npush_conns; i++)
        max = C1M_MAX(max, c->push_conns[i]);
    c->conns = max;
    return 0;
}

static uint64_t period_ms(uint64_t n)
{
    return C1M_MAX((uint64_t)1000, n * 80 / 1000);
}

/* The server's keep-alive ping (--ws-ping): after twice the row's warm-up
 * and window, so that no ping falls in the run. At the server's default
 * (the HTTP idle timeout, 10 s) every idle subscriber gets a ping and sends
 * a pong every 10 s: at 1M, 100,000 of each per second, eight times the
 * broadcasts' deliveries at a broadcast every 80 s, all counted in CPU/msg;
 * and a pong still unread when the next ping is due closes its subscriber
 * (the 1M run lost subscribers in bursts after each broadcast). */
static uint64_t ping_ms(const lab_row_t *r)
{
    uint64_t ms = 2 * (r->push_warmup_us + r->push_duration_us) / 1000 + 60000;
    return C1M_MIN(ms, (uint64_t)3600000); /* --ws-ping's maximum, 1 h */
}

/* The same estimate as lab.c's pre-flight: both ends of every connection
 * on this machine, ~4 KiB of kernel memory per socket, ~256 B of user
 * memory per socket on each side. */
static uint64_t need_bytes(uint64_t n)
{
    return n * 2 * 4096 + n * 2 * 256;
}

int lab_push_plan(lab_t *lab)
{
    lab_cfg_t *c = &lab->cfg;
    if (!lab->http_available) {
        fprintf(stderr, "c1m lab: --experiment push needs c1m serve --proto http, not in "
                        "this build\n");
        return 1;
    }
    snprintf(lab->proto_used, sizeof lab->proto_used, "ws");
    uint64_t avail = c1m_proc_mem_available();
    uint64_t usable = lab->per_process / 10 * 8; /* 20 % room, as make_plan */
    if (!usable)
        usable = 1;
    uint64_t biggest = 0;
    unsigned biggest_procs = 1;
    g_ndropped = 0;
    for (unsigned i = 0; i < c->npush_conns; i++) {
        uint64_t n = c->push_conns[i];
        char b1[32], b2[32];
        if (avail && need_bytes(n) > avail / 100 * 85) {
            snprintf(g_dropped[g_ndropped++], sizeof g_dropped[0],
                     "%" PRIu64 " connections: not run, they need about %s of memory and %s "
                     "is available", n, lab_fmt_bytes((double)need_bytes(n), b1, sizeof b1),
                     lab_fmt_bytes((double)avail, b2, sizeof b2));
            printf("c1m lab: push: %s\n", g_dropped[g_ndropped - 1]);
            continue;
        }
        lab_row_t *r = &lab->rows[lab->nrows++];
        unsigned procs = (unsigned)C1M_MAX((uint64_t)2, (n + usable - 1) / usable);
        r->push_conns = n;
        r->push_every_ms = period_ms(n);
        /* a window given: at least 4 broadcasts in it (a row whose slowest
         * delivery outlasts the period says so) */
        if (g_dur_set && r->push_every_ms > c->duration_us / 4000)
            r->push_every_ms = C1M_MAX((uint64_t)50, c->duration_us / 4000);
        /* a few broadcasts in the window, and at least the lab's 10 s */
        r->push_duration_us = g_dur_set ? c->duration_us
                                        : C1M_MAX((uint64_t)10000000, 6 * r->push_every_ms * 1000);
        /* the ramp's stragglers settle, and a first broadcast goes round */
        r->push_warmup_us = g_warm_set ? c->warmup_us
                                       : 1000000 + r->push_every_ms * 1000 + n * 1000000 / 40000;
        snprintf(r->id, sizeof r->id, "push-%" PRIu64, n);
        lab_fmt_count((double)n, b1, sizeof b1);
        snprintf(r->label, sizeof r->label, "%s", b1);
        /* prefork at every size, so that every row has the same design:
         * the supervisor's publisher, the bus, children of one loop */
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "--arch");
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "prefork");
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "--procs");
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "%u", procs);
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "--push-every");
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "%" PRIu64 "ms",
                 r->push_every_ms);
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "--push-size");
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "%u", PUSH_SIZE);
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "--ws-ping");
        snprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], "%" PRIu64 "ms",
                 ping_ms(r));
        snprintf(r->server_desc, sizeof r->server_desc, "prefork %u x 1 loop", procs);
        snprintf(r->note, sizeof r->note, "a %u-byte broadcast every %" PRIu64 " ms, window "
                 "%.0f s after %.0f s of warm-up, keep-alive ping after %.0f s", PUSH_SIZE,
                 r->push_every_ms, (double)r->push_duration_us / 1e6,
                 (double)r->push_warmup_us / 1e6, (double)ping_ms(r) / 1e3);
        /* the client processes, from the file cap (as bench would choose) */
        r->bench_loops = c->cpus;
        uint64_t per_host = c->hosts ? (n + c->hosts - 1) / c->hosts : n;
        c1m_fd_budget_t b;
        c1m_fd_budget(r->bench_loops, &b);
        uint64_t bp = b.per_process ? (per_host + b.per_process - 1) / b.per_process : 1;
        r->bench_procs = (unsigned)C1M_MAX((uint64_t)1, bp);
        if (n > biggest)
            biggest = n, biggest_procs = procs;
    }
    if (!lab->nrows) {
        printf("c1m lab: this run does not fit: no count in --conns fits this machine's "
               "memory\n");
        return 1;
    }
    /* the pre-flight and the kernel settings are for the largest row */
    c->conns = biggest;
    lab->server_procs = biggest_procs;
    return 0;
}

void lab_push_estimate(const lab_t *lab, double *per_row, unsigned *runs)
{
    double total = 0;
    for (unsigned i = 0; i < lab->nrows; i++) {
        const lab_row_t *r = &lab->rows[i];
        double n = (double)r->push_conns;
        /* start, ramp (~25K connects/s here), warm-up, window, tear-down */
        total += 2.0 + n / 25000.0 + n / 40000.0 +
                 (double)(r->push_warmup_us + r->push_duration_us) / 1e6;
    }
    *runs = lab->nrows;
    *per_row = lab->nrows ? total / lab->nrows : 0;
}

/* ---- the figures of a row ---- */

static uint64_t deliveries(const lab_row_t *r)
{
    return r->res ? r->res->win.requests : 0;
}

/* Broadcasts seen in the window: deliveries per connection. */
static double broadcasts(const lab_row_t *r)
{
    return r->established ? (double)deliveries(r) / (double)r->established : 0;
}

/* Subscribers closed after their upgrade (by the server or on an error). */
static uint64_t subscribers_closed(const lab_row_t *r)
{
    return r->res ? r->res->conns_closed_peer + r->res->conns_closed_error : 0;
}

static double cpu_per_msg_us(const lab_row_t *r)
{
    return deliveries(r) ? r->cpu_s * 1e6 / (double)deliveries(r) : 0;
}

static double per_conn(uint64_t bytes, const lab_row_t *r)
{
    return r->established ? (double)bytes / (double)r->established : 0;
}

static void push_line(const lab_row_t *r)
{
    printf("lab: push conns=%" PRIu64 "/%" PRIu64 " every_ms=%" PRIu64 " broadcasts=%.1f "
           "deliveries=%" PRIu64 " reach50_us=%" PRIu64 " reach99_us=%" PRIu64
           " reach100_us=%" PRIu64 " p999_us=%" PRIu64 " lost=%" PRIu64 " mismatches=%" PRIu64
           " errors=%" PRIu64 " cpu_per_msg_us=%.2f rss_per_conn=%.0f kmem_per_conn=%.0f ok=%d\n",
           r->established, r->target, r->push_every_ms, broadcasts(r), deliveries(r), r->p50,
           r->p99, r->lat_max, r->p999, r->lost, r->mismatches, r->errors, cpu_per_msg_us(r),
           per_conn(r->rss_bytes, r), r->kmem_ok ? per_conn(r->kmem_delta, r) : 0, r->ok ? 1 : 0);
    fflush(stdout);
}

int lab_push_run(lab_t *lab, lab_run_row_fn run_row)
{
    lab_cfg_t *c = &lab->cfg;
    uint64_t conns = c->conns, dur = c->duration_us, warm = c->warmup_us;
    int rc = 0;
    for (unsigned i = 0; i < lab->nrows && rc != -EINTR; i++) {
        lab_row_t *r = &lab->rows[i];
        printf("c1m lab: [%u/%u] push to %" PRIu64 " connections, every %" PRIu64 " ms ...\n",
               i + 1, lab->nrows, r->push_conns, r->push_every_ms);
        fflush(stdout);
        /* run_row sizes everything from the configuration: this row's */
        c->conns = r->push_conns;
        c->duration_us = r->push_duration_us;
        c->warmup_us = r->push_warmup_us;
        rc = run_row(lab, r, r->id);
        /* a push row also needs subscribers in push mode (not an echo
         * run on another route) and every message delivered in order */
        bool push = r->res && !strcmp(r->res->mode, "push");
        if (r->res && !push)
            snprintf(r->note, sizeof r->note, "bench ran in mode '%.20s', not push",
                     r->res->mode);
        /* and every subscriber kept to the end: one the server closed
         * misses the broadcasts after, and "broadcasts" (deliveries per
         * established connection) would hide it */
        uint64_t gone = subscribers_closed(r);
        if (gone) {
            size_t l = strlen(r->note);
            snprintf(r->note + l, sizeof r->note - l, "%s%" PRIu64 " subscribers closed during "
                     "the run", l ? "; " : "", gone);
        }
        r->ok = r->ok && push && r->lost == 0 && r->mismatches == 0 && deliveries(r) > 0 &&
                gone == 0;
        if (r->res && r->lat_max > r->push_every_ms * 1000) {
            size_t l = strlen(r->note);
            snprintf(r->note + l, sizeof r->note - l, "%sslowest delivery %.2f s > period: "
                     "broadcasts overlapped (latencies include queueing)", l ? "; " : "",
                     (double)r->lat_max / 1e6);
        }
        if (r->ran)
            push_line(r);
    }
    c->conns = conns;
    c->duration_us = dur;
    c->warmup_us = warm;
    return rc;
}

/* ---- outputs ---- */

#define NCOLS 16

static void write_table(const lab_t *lab, FILE *f, bool md)
{
    static const char *cols[NCOLS] = {
        "connections", "server", "client", "established", "connect", "every", "broadcasts",
        "deliveries", "reach 50 %", "reach 99 % (p99)", "reach 100 %", "p99.9", "lost",
        "CPU/msg", "RSS/conn", "kernel/conn",
    };
    char cell[LAB_MAX_ROWS + 1][NCOLS + 1][48];
    for (size_t j = 0; j < NCOLS; j++)
        snprintf(cell[0][j], sizeof cell[0][j], "%s", cols[j]);
    snprintf(cell[0][NCOLS], sizeof cell[0][NCOLS], "result");
    for (unsigned i = 0; i < lab->nrows; i++) {
        const lab_row_t *r = &lab->rows[i];
        char(*c)[48] = cell[i + 1];
        char b[32];
        size_t j = 0;
        bool res = r->res != NULL;
        snprintf(c[j++], 48, "%s", r->label);
        snprintf(c[j++], 48, "%s", r->server_desc);
        snprintf(c[j++], 48, "%s", r->client_desc);
        snprintf(c[j++], 48, "%s", lab_fmt_count((double)r->established, b, sizeof b));
        if (r->ran && r->connect_s >= 0)
            snprintf(c[j++], 48, "%.1f s", r->connect_s);
        else
            snprintf(c[j++], 48, "-");
        snprintf(c[j++], 48, "%" PRIu64 " ms", r->push_every_ms);
        snprintf(c[j++], 48, res ? "%.1f" : "-", broadcasts(r));
        snprintf(c[j++], 48, "%s", res ? lab_fmt_count((double)deliveries(r), b, sizeof b) : "-");
        snprintf(c[j++], 48, "%s", res ? lab_fmt_us(r->p50, b, sizeof b) : "-");
        snprintf(c[j++], 48, "%s", res ? lab_fmt_us(r->p99, b, sizeof b) : "-");
        snprintf(c[j++], 48, "%s", res ? lab_fmt_us(r->lat_max, b, sizeof b) : "-");
        snprintf(c[j++], 48, "%s", res ? lab_fmt_us(r->p999, b, sizeof b) : "-");
        snprintf(c[j++], 48, res ? "%" PRIu64 : "-", r->lost);
        snprintf(c[j++], 48, res ? "%.2f us" : "-", cpu_per_msg_us(r));
        snprintf(c[j++], 48, "%s", res && r->established
                 ? lab_fmt_bytes(per_conn(r->rss_bytes, r), b, sizeof b) : "-");
        snprintf(c[j++], 48, "%s", res && r->kmem_ok && r->established
                 ? lab_fmt_bytes(per_conn(r->kmem_delta, r), b, sizeof b) : "-");
        snprintf(c[j++], 48, "%s", !r->ran ? "not run" : r->ok ? "OK" : "FAIL");
    }
    size_t w[NCOLS + 1] = { 0 };
    for (unsigned i = 0; i <= lab->nrows; i++)
        for (size_t j = 0; j <= NCOLS; j++)
            w[j] = C1M_MAX(w[j], strlen(cell[i][j]));
    for (unsigned i = 0; i <= lab->nrows; i++) {
        for (size_t j = 0; j <= NCOLS; j++) {
            bool left = j >= 1 && j < 3;
            if (md)
                fprintf(f, left ? "| %-*s " : "| %*s ", (int)w[j], cell[i][j]);
            else
                fprintf(f, left ? "%-*s  " : "%*s  ", (int)w[j], cell[i][j]);
        }
        fprintf(f, md ? "|\n" : "\n");
        if (md && i == 0) {
            for (size_t j = 0; j <= NCOLS; j++) {
                fprintf(f, "|");
                for (size_t x = 0; x < w[j] + 2; x++)
                    fputc(x == w[j] + 1 && !(j >= 1 && j < 3) ? ':' : '-', f);
            }
            fprintf(f, "|\n");
        }
    }
}

static void write_notes(const lab_t *lab, FILE *f, bool md)
{
    const char *li = md ? "- " : "  ";
    fprintf(f, "%sWebSocket push: c1m serve --proto http --arch prefork (one publisher in the "
               "supervisor, a shared-memory bus to the children) broadcasts a %u-byte message "
               "(sequence number + timestamp) every period to every /ws/push subscriber; c1m "
               "bench --proto ws --push holds the subscribers (%s)\n", li, PUSH_SIZE,
            lab->cfg.hosts ? "clients in network namespaces on a bridge, merged exactly"
            : lab->in_netns ? "loopback inside the lab's network namespace" : "loopback");
    fprintf(f, "%sestablished: subscribers whose upgrade was answered (101); connect: the "
               "time until the last one was (c1m bench keeps at most 4096 upgrades in flight "
               "over all its loops, each until its 101 or for 30 s, and retries one the server "
               "closes before answering); a row fails when any subscriber is closed during the "
               "run\n",
            li);
    fprintf(f, "%sreach X %%: the X-th percentile of the window's deliveries, from the "
               "timestamp the publisher put in the message to its arrival at a subscriber "
               "(one clock: one machine); with broadcasts alike it is the time one broadcast "
               "needs to reach X %% of the connections (reach 99 %% is the p99 fan-out "
               "latency, reach 100 %% the slowest delivery)\n", li);
    fprintf(f, "%sbroadcasts: deliveries in the window per established connection; lost: "
               "gaps in a connection's sequence numbers (messages never delivered)\n", li);
    fprintf(f, "%sCPU/msg: user+system CPU of the server's processes over the window per "
               "delivered message (the run had %u CPU%s, shared with the client)\n", li,
            lab->cfg.cpus, lab->cfg.cpus == 1 ? "" : "s");
    fprintf(f, "%sRSS/conn: sum of the server's resident sets during the window per "
               "connection (the processes' fixed memory included); kernel/conn: slab and TCP "
               "buffer pages, during minus before, both ends of each connection (other "
               "processes on the machine add noise)\n", li);
    for (unsigned i = 0; i < lab->nrows; i++)
        if (lab->rows[i].note[0])
            fprintf(f, "%s%s connections: %s\n", li, lab->rows[i].label, lab->rows[i].note);
    for (unsigned i = 0; i < g_ndropped; i++)
        fprintf(f, "%s%s\n", li, g_dropped[i]);
    for (unsigned i = 0; i < lab->nsysctl; i++)
        fprintf(f, "%skernel setting changed for the run and restored: %s\n", li,
                lab->sysctl_lines[i]);
}

static int write_json(const lab_t *lab, const char *path, bool interrupted)
{
    json_t *o = json_object();
    json_object_set_new(o, "tool", json_string("c1m lab"));
    json_object_set_new(o, "format", json_integer(1));
    json_object_set_new(o, "experiment", json_string("push"));
    json_object_set_new(o, "started_unix_s", json_real((double)lab->started_wall_ns / 1e9));
    json_object_set_new(o, "proto", json_string(lab->proto_used));
    json_t *counts = json_array();
    for (unsigned i = 0; i < lab->cfg.npush_conns; i++)
        json_array_append_new(counts, json_integer((json_int_t)lab->cfg.push_conns[i]));
    json_object_set_new(o, "conns", counts);
    json_object_set_new(o, "push_size_bytes", json_integer(PUSH_SIZE));
    json_object_set_new(o, "hosts", json_integer(lab->cfg.hosts));
    json_object_set_new(o, "netns", json_string(lab->in_netns ? lab->netns_name : ""));
    json_object_set_new(o, "interrupted", json_boolean(interrupted));
    json_t *dropped = json_array();
    for (unsigned i = 0; i < g_ndropped; i++)
        json_array_append_new(dropped, json_string(g_dropped[i]));
    json_object_set_new(o, "dropped", dropped);
    json_t *ks = json_array();
    for (unsigned i = 0; i < lab->nsysctl; i++)
        json_array_append_new(ks, json_string(lab->sysctl_lines[i]));
    json_object_set_new(o, "kernel_changes", ks);
    json_t *rows = json_array();
    for (unsigned i = 0; i < lab->nrows; i++) {
        const lab_row_t *r = &lab->rows[i];
        json_t *ro = lab_row_json(r);
        json_t *p = json_object();
        json_object_set_new(p, "every_ms", json_integer((json_int_t)r->push_every_ms));
        json_object_set_new(p, "window_s", json_real((double)r->push_duration_us / 1e6));
        json_object_set_new(p, "warmup_s", json_real((double)r->push_warmup_us / 1e6));
        json_object_set_new(p, "deliveries", json_integer((json_int_t)deliveries(r)));
        json_object_set_new(p, "broadcasts", json_real(broadcasts(r)));
        json_object_set_new(p, "lost", json_integer((json_int_t)r->lost));
        json_object_set_new(p, "ws_ping_ms", json_integer((json_int_t)ping_ms(r)));
        json_object_set_new(p, "subscribers_closed", json_integer((json_int_t)subscribers_closed(r)));
        json_object_set_new(p, "reach_50_us", json_integer((json_int_t)r->p50));
        json_object_set_new(p, "reach_99_us", json_integer((json_int_t)r->p99));
        json_object_set_new(p, "reach_100_us", json_integer((json_int_t)r->lat_max));
        json_object_set_new(p, "p99_us", json_integer((json_int_t)r->p99));
        json_object_set_new(p, "p999_us", json_integer((json_int_t)r->p999));
        json_object_set_new(p, "server_cpu_per_msg_us", json_real(cpu_per_msg_us(r)));
        json_object_set_new(p, "server_rss_per_conn_bytes", json_real(per_conn(r->rss_bytes, r)));
        if (r->kmem_ok)
            json_object_set_new(p, "kernel_per_conn_bytes", json_real(per_conn(r->kmem_delta, r)));
        json_object_set_new(ro, "push", p);
        json_array_append_new(rows, ro);
    }
    json_object_set_new(o, "rows", rows);
    json_object_set_new(o, "provenance",
                        c1m_prov_json((const char (*)[160])lab->sysctl_lines, lab->nsysctl));
    int rc = json_dump_file(o, path, JSON_INDENT(2));
    json_decref(o);
    return rc;
}

static bool write_plots(const lab_t *lab)
{
    bool cairo;
    if (!lab_have_gnuplot(&cairo)) {
        printf("c1m lab: gnuplot not found: no plots (apt-get install gnuplot-nox)\n");
        return false;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/push.dat", lab->out);
    FILE *f = fopen(path, "we");
    if (!f)
        return false;
    fprintf(f, "# conns reach50_ms reach99_ms reach100_ms p999_ms cpu_per_msg_us "
               "rss_per_conn_b kernel_per_conn_b\n");
    unsigned nres = 0;
    for (unsigned i = 0; i < lab->nrows; i++) {
        const lab_row_t *r = &lab->rows[i];
        if (!r->res || !r->established)
            continue;
        nres++;
        fprintf(f, "%" PRIu64 " %.3f %.3f %.3f %.3f %.3f %.0f %.0f\n", r->established,
                (double)r->p50 / 1e3, (double)r->p99 / 1e3, (double)r->lat_max / 1e3,
                (double)r->p999 / 1e3, cpu_per_msg_us(r), per_conn(r->rss_bytes, r),
                r->kmem_ok ? per_conn(r->kmem_delta, r) : 0.0);
        lab_write_spectrum(lab, r);
    }
    fclose(f);
    if (!nres)
        return false;
    snprintf(path, sizeof path, "%s/plots.gp", lab->out);
    f = fopen(path, "we");
    if (!f)
        return false;
    const char *term = cairo ? "pngcairo size 1000,600 font ',10'" : "png size 1000,600";
    const char *where = lab->cfg.hosts ? "client namespaces" : "loopback";
    fprintf(f, "set terminal %s\nset grid\nset key top left\n", term);
    fprintf(f, "set output 'push_reach.png'\nset title 'c1m lab: WebSocket push, %s: time for "
               "a broadcast to reach X %% of the connections'\nset logscale x\n"
               "set logscale y\nset xlabel 'connections'\nset ylabel 'ms'\n"
               "plot 'push.dat' using 1:2 with linespoints lw 2 title 'reach 50 %%', "
               "'' using 1:3 with linespoints lw 2 title 'reach 99 %% (p99)', "
               "'' using 1:4 with linespoints lw 2 title 'reach 100 %%'\n", where);
    fprintf(f, "reset\nset grid\nset output 'push_cost.png'\nset title 'c1m lab: WebSocket "
               "push, %s: server cost'\nset logscale x\nset xlabel 'connections'\n"
               "set ylabel 'server CPU per delivered message (us)'\nset yrange [0:*]\n"
               "set y2label 'bytes per connection'\nset y2range [0:*]\nset y2tics\n"
               "set key top left\n"
               "plot 'push.dat' using 1:6 with linespoints lw 2 title 'CPU/msg (us)', "
               "'' using 1:7 axes x1y2 with linespoints lw 2 title 'server RSS/conn (B)', "
               "'' using 1:8 axes x1y2 with linespoints lw 2 title 'kernel/conn (B)'\n", where);
    fprintf(f, "reset\nset grid\nset output 'latency.png'\nset title 'c1m lab: WebSocket "
               "push, %s: delivery latency by percentile'\nset logscale x\nset logscale y\n"
               "set xlabel 'percentile'\nset ylabel 'latency (ms)'\n"
               "set xtics ('0%%%%' 1, '90%%%%' 10, '99%%%%' 100, '99.9%%%%' 1000, '99.99%%%%' 10000, "
               "'99.999%%%%' 100000, '99.9999%%%%' 1000000)\nset key top left\nplot ", where);
    bool first = true;
    for (unsigned i = 0; i < lab->nrows; i++)
        if (lab->rows[i].res && lab->rows[i].established) {
            fprintf(f, "%s'latency_%s.dat' using 2:3 with steps lw 2 title '%s connections'",
                    first ? "" : ", \\\n     ", lab->rows[i].id, lab->rows[i].label);
            first = false;
        }
    fprintf(f, "\n");
    fclose(f);
    char *args[] = { "gnuplot", "plots.gp", NULL };
    if (lab_gnuplot(lab->out, "plots.log", args) != 0) {
        printf("c1m lab: gnuplot failed: see %s/plots.log\n", lab->out);
        return false;
    }
    printf("c1m lab: plots: %s/push_reach.png, push_cost.png, latency.png\n", lab->out);
    return true;
}

void lab_push_write_outputs(lab_t *lab, bool interrupted)
{
    char path[PATH_MAX];
    printf("\n");
    write_table(lab, stdout, false);
    write_notes(lab, stdout, false);
    bool plots = !lab->cfg.no_plots && !interrupted && write_plots(lab);
    snprintf(path, sizeof path, "%s/table.md", lab->out);
    FILE *f = fopen(path, "we");
    if (f) {
        fprintf(f, "# c1m lab: WebSocket push fan-out\n\n");
        c1m_prov_markdown(f, (const char (*)[160])lab->sysctl_lines, lab->nsysctl);
        fprintf(f, "\n");
        write_table(lab, f, true);
        fprintf(f, "\n");
        write_notes(lab, f, true);
        if (plots)
            fprintf(f, "\n![reach](push_reach.png)\n![cost](push_cost.png)\n"
                       "![latency](latency.png)\n");
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/lab.json", lab->out);
    if (write_json(lab, path, interrupted) < 0)
        printf("c1m lab: cannot write %s\n", path);
    printf("c1m lab: results in %s (table.md, lab.json, per row ROW.bench.json, ROW.hgrm "
           "and logs)\n", lab->out);
}
