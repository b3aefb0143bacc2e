/* c1m lab: the 1M-connections article's experiment as one command.
 *
 * For each architecture: start `c1m serve`, wait until it listens, drive it
 * with `c1m bench` (in this namespace, or from K client namespaces on a
 * bridge like that article's 50 containers, merged exactly), sample the server's
 * CPU, memory and the kernel's socket memory while the window runs, stop
 * both by PID, and draw its table (terminal, Markdown, JSON) and the
 * plots (gnuplot). --experiment timers runs the second article's timer
 * table instead.
 *
 *   lab.c         flags, the plan, pre-flight, kernel tuning, running rows
 *   lab_report.c  the table (terminal, Markdown), lab.json, gnuplot plots
 *   lab_sys.c     /proc figures, sysctls, network namespaces, clean-up
 *   proc.c        spawn /proc/self/exe, wait until listening, stop by PID */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/hist.h"
#include "core/parse.h"
#include "engine/backend.h"
#include "engine/server.h"
#include "engine/uring_probe.h"
#include "tools/bench.h"
#include "tools/cmd.h"
#include "tools/flags.h"
#include "tools/lab.h"
#include "tools/lab_sys.h"
#include "tools/proc.h"

static void lab_usage(FILE *f, unsigned cpus)
{
    fprintf(f,
"usage: c1m lab [OPTIONS]\n"
"\n"
"The whole experiment in one command: start c1m serve in each architecture,\n"
"drive it with c1m bench, measure, stop both, and write one table (terminal,\n"
"Markdown, JSON) and plots (gnuplot) into a results directory.\n"
"\n"
"  --conns N          connections per architecture, 1 to 10M (default 10k: about\n"
"                     two minutes for all rows on 2 CPUs; 1M for the full experiment)\n"
"  --duration DUR     measured window per architecture, 1s to 1h (default 10s\n"
"                     + 1s per 40k connections: in a closed loop a million requests\n"
"                     take ~20 s to go round on 2 CPUs, and the window should see\n"
"                     a few rounds)\n"
"  --warmup DUR       excluded warm-up after the ramp, 0 to 10m (default 2s + 1s per\n"
"                     40k connections: every connection's first request leaves at\n"
"                     once, and at a million the first round alone takes seconds)\n"
"  --archs LIST       comma-separated rows, in order: article (single server driven\n"
"                     by a client of one process and one loop, the first row of the\n"
"                     1M-connections article), single, reuseport, dispatch,\n"
"                     exclusive, prefork, workerpool (default all)\n"
"  --proto NAME       ts8 | echo | http (default ts8)\n"
"  --loops N          loops per server process for reuseport, dispatch, exclusive,\n"
"                     and per client process, 1 to 1024 (default: the CPUs this\n"
"                     process may run on, %u here)\n"
"  --hosts N          clients in N network namespaces on a bridge (198.18.0.0/15),\n"
"                     results merged exactly; needs root, 0 to 64 (default 0:\n"
"                     loopback)\n"
"  --netns MODE       auto | on | off: run server and clients (loopback) in a network\n"
"                     namespace of the lab's, with a TCP hash table sized for the run\n"
"                     above 150k connections (default auto: above 20k connections,\n"
"                     as root)\n"
"  --experiment NAME  archs | timers: the Go-timers article's table (http if built,\n"
"                     else echo): timeouts off vs wheel, heap, global-heap |\n"
"                     push: WebSocket broadcast fan-out, a row per count in --conns\n"
"                     (a list there, default 10k,100k,1M) (default archs)\n"
"  --rounds N         timers: interleaved rounds per design, 1 to 20 (default 2)\n"
"  --backend NAME     auto | epoll | uring: what every server and client runs on\n"
"                     (passed to c1m serve and c1m bench). On uring connections\n"
"                     are direct descriptors of io_uring rings, not open files:\n"
"                     one server process holds them all (it runs a ring per\n"
"                     RLIMIT_NOFILE connections, given --max-conns), and so does\n"
"                     one bench process. auto: uring where the kernel allows it,\n"
"                     else epoll, said in one line (default auto, or\n"
"                     $C1M_BACKEND when set)\n"
"  --port N           server port, 1 to 65535 (default: a free one above 64999)\n"
"  --out DIR          results directory (default results/YYYY-MM-DD-HHMMSS)\n"
"  --no-plots         skip gnuplot (default: plots when gnuplot is installed)\n"
"  --dry-run          pre-flight only: print the plan and what the run needs\n"
"  --help             this text\n"
"  --version          c1m's version\n"
"\n"
C1M_VALUES_HELP
"\n"
"EXAMPLES\n"
"  c1m lab\n"
"  c1m lab --archs single,reuseport --conns 2000 --duration 5s\n"
"  c1m lab --experiment timers --conns 5000\n"
"  c1m lab --experiment push --conns 10k,100k\n"
"  c1m lab --conns 1M --dry-run\n"
"  c1m lab --conns 40k --hosts 4 --out results/hosts\n"
"\n"
"One line per row on stdout starts with 'lab: ' (machine-readable).\n"
"\n"
"EXIT STATUS\n"
"  0    every row OK\n"
"  1    a row failed, or the run does not fit this machine\n"
"  2    bad usage\n"
"  130  interrupted (clean-up done)\n", cpus);
}
static volatile sig_atomic_t g_stop;
static int g_orig_ns = -1;
static pid_t g_live[LAB_MAX_HOSTS + 2];

static void on_signal(int sig)
{
    g_stop = sig;
}

static void live_add(pid_t p)
{
    for (size_t i = 0; i < sizeof g_live / sizeof g_live[0]; i++)
        if (!g_live[i]) {
            g_live[i] = p;
            return;
        }
}

static void live_del(pid_t p)
{
    for (size_t i = 0; i < sizeof g_live / sizeof g_live[0]; i++)
        if (g_live[i] == p)
            g_live[i] = 0;
}

/* Everything the lab set up goes away: processes by PID, namespaces, links,
 * sysctls (after returning to the original namespace, where they live). */
static void lab_cleanup(void)
{
    for (size_t i = 0; i < sizeof g_live / sizeof g_live[0]; i++)
        if (g_live[i] > 0) {
            c1m_proc_stop(g_live[i], 5000, NULL);
            g_live[i] = 0;
        }
    if (g_orig_ns >= 0) {
        if (setns(g_orig_ns, CLONE_NEWNET) < 0)
            perror("c1m lab: back to the original network namespace");
        close(g_orig_ns);
        g_orig_ns = -1;
    }
    lab_net_destroy_all(false);
    lab_sysctl_restore_all(true);
}

/* ---- helpers ------------------------------------------------------------------------ */
static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A free port above 64999: outside the kernel's ephemeral range and the
 * source ports c1m bench binds (10000-64999), so neither a client socket
 * nor a TIME_WAIT left by one can hold it. */
static uint16_t free_port(void)
{
    unsigned start = (unsigned)getpid() % 500;
    for (unsigned k = 0; k < 500; k++) {
        uint16_t port = (uint16_t)(65000 + (start + k) % 500);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return port;
    }
    return 65000;
}

/* The last "connecting: ... X s" progress line of a bench log: seconds. */
static double connect_secs_from_log(const char *path)
{
    FILE *f = fopen(path, "re");
    char line[512];
    double secs = -1;
    while (f && fgets(line, sizeof line, f)) {
        /* a tty-less bench prints each progress line on its own line */
        char *p = strstr(line, "connecting:");
        if (!p)
            continue;
        char *last = strrchr(p, ',');
        double s;
        if (last && sscanf(last + 1, " %lf s", &s) == 1)
            secs = s;
    }
    if (f)
        fclose(f);
    return secs;
}

/* Does `c1m serve --help` mention http? */
static bool serve_has_http(void)
{
    char out[] = "/tmp/c1m-lab-help-XXXXXX";
    int fd = mkstemp(out);
    if (fd < 0)
        return false;
    close(fd);
    char *argv[] = { "c1m", "serve", "--help", NULL };
    c1m_spawn_opts_t o = C1M_SPAWN_DEFAULTS;
    o.out_path = out;
    o.err_path = "/dev/null";
    pid_t p = c1m_proc_spawn_self(argv, &o);
    bool has = false;
    if (p > 0 && c1m_proc_wait(p, 10000, NULL) == 0) {
        FILE *f = fopen(out, "re");
        char line[512];
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "--proto") && strstr(line, "http"))
                has = true;
        if (f)
            fclose(f);
    }
    unlink(out);
    return has;
}

/* ---- the plan ------------------------------------------------------------------------ */

static void row_arg(lab_row_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row_arg(lab_row_t *r, const char *fmt, ...)
{
    if (r->nserve_args == sizeof r->serve_args / sizeof r->serve_args[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->serve_args[r->nserve_args++], sizeof r->serve_args[0], fmt, ap);
    va_end(ap);
}

static const char *all_archs[] = { "article", "single", "reuseport", "dispatch",
                                   "exclusive", "prefork", "workerpool" };

static void plan_arch_row(lab_t *lab, lab_row_t *r, const char *id)
{
    unsigned P = lab->server_procs, L = lab->cfg.loops;
    snprintf(r->id, sizeof r->id, "%s", id);
    r->bench_loops = lab->cfg.cpus;
    const char *arch = !strcmp(id, "article") ? "single" : id;
    snprintf(r->label, sizeof r->label, "%s", !strcmp(id, "article") ? "single, 1-loop client" : id);
    row_arg(r, "--arch");
    row_arg(r, "%s", arch);
    char more[48] = "";
    if (!strcmp(arch, "single")) {
        snprintf(r->server_desc, sizeof r->server_desc, "1 loop");
    } else if (!strcmp(arch, "prefork")) {
        unsigned n = P < 2 ? 2 : P;
        row_arg(r, "--procs");
        row_arg(r, "%u", n);
        snprintf(r->server_desc, sizeof r->server_desc, "%u procs x 1 loop", n);
        P = 1; /* already processes */
    } else if (!strcmp(arch, "workerpool")) {
        row_arg(r, "--workers");
        row_arg(r, "4");
        snprintf(r->server_desc, sizeof r->server_desc, "1 loop + 4 workers");
        if (lab->cfg.backend == C1M_BACKEND_URING) {
            /* its one loop has one ring: processes for more (7/8 of a
             * ring each, as engine/server.c plans) */
            uint64_t ring = c1m__uring_conns_per_ring(false);
            ring -= ring / 8;
            P = (unsigned)((lab->cfg.conns + ring - 1) / ring);
        }
    } else {
        row_arg(r, "--loops");
        row_arg(r, "%u", L);
        snprintf(r->server_desc, sizeof r->server_desc, "%u loops", L);
    }
    if (P > 1) {
        /* an in-process architecture cannot hold more than one process's
         * files: P children of it under the prefork supervisor */
        row_arg(r, "--procs");
        row_arg(r, "%u", P);
        snprintf(more, sizeof more, "%u procs x ", P);
        char d[sizeof r->server_desc];
        snprintf(d, sizeof d, "%s", r->server_desc);
        snprintf(r->server_desc, sizeof r->server_desc, "%.20s%.50s", more, d);
        if (lab->cfg.backend == C1M_BACKEND_URING)
            snprintf(r->note, sizeof r->note, "%u processes each running %s (its one loop's ring "
                     "holds ~%u connections)", P, arch, c1m__uring_conns_per_ring(false));
        else
            snprintf(r->note, sizeof r->note, "%u processes each running %s (one process holds "
                     "at most ~%" PRIu64 " connections)", P, arch, lab->per_process);
    }
    if (lab->cfg.backend == C1M_BACKEND_URING) {
        /* the server runs as many rings as these need (engine/server.c) */
        row_arg(r, "--max-conns");
        row_arg(r, "%" PRIu64, lab->cfg.conns);
    }
    if (!strcmp(id, "article")) {
        r->bench_loops = 1;
        /* on uring one bench process holds them all (it adds loops, a ring each) */
        r->bench_procs = lab->cfg.hosts ? 0
                         : lab->cfg.conns <= lab->per_process || lab->cfg.backend == C1M_BACKEND_URING
                             ? 1
                             : 0;
    }
}

static int make_plan(lab_t *lab)
{
    lab_cfg_t *c = &lab->cfg;
    c1m_fd_budget_t b;
    c1m_fd_budget(c->loops > 4 ? c->loops : 4, &b);
    lab->per_process = b.per_process;
    /* accepts are not spread perfectly over processes: leave 20 % room */
    uint64_t usable = b.per_process / 10 * 8;
    lab->server_procs = (unsigned)((c->conns + usable - 1) / usable);
    if (c->backend == C1M_BACKEND_URING)
        lab->server_procs = 1; /* connections are ring slots, not open files */
    if (lab->server_procs < 1)
        lab->server_procs = 1;
    if (!strcmp(c->experiment, "push"))
        return lab_push_plan(lab); /* lab_push.c */
    if (!strcmp(c->experiment, "timers")) {
        static const char *designs[] = { "off", "wheel", "heap", "global-heap" };
        bool http = lab->http_available && strcmp(c->proto, "echo") != 0;
        snprintf(lab->proto_used, sizeof lab->proto_used, "%s", http ? "http" : "echo");
        for (unsigned i = 0; i < 4; i++) {
            lab_row_t *r = &lab->rows[lab->nrows++];
            snprintf(r->id, sizeof r->id, "%s", designs[i]);
            snprintf(r->label, sizeof r->label, "%s", i ? designs[i] : "timeouts off");
            r->bench_loops = c->cpus;
            row_arg(r, "--arch");
            row_arg(r, "reuseport");
            row_arg(r, "--loops");
            row_arg(r, "%u", c->loops);
            if (lab->server_procs > 1) {
                row_arg(r, "--procs");
                row_arg(r, "%u", lab->server_procs);
            }
            if (c->backend == C1M_BACKEND_URING) {
                row_arg(r, "--max-conns");
                row_arg(r, "%" PRIu64, c->conns);
            }
            snprintf(r->server_desc, sizeof r->server_desc, "%s%s reuseport x %u loops",
                     lab->server_procs > 1 ? "procs x " : "", lab->proto_used, c->loops);
            if (i == 0) {
                if (http)
                    row_arg(r, "--timeouts"), row_arg(r, "off");
                snprintf(r->note, sizeof r->note, "no deadlines");
            } else {
                row_arg(r, "--timers");
                row_arg(r, "%s", designs[i]);
                row_arg(r, "--read-timeout=5s");
                row_arg(r, "--write-timeout=10s");
                row_arg(r, "--header-timeout=10s");
                row_arg(r, "--idle-timeout=10s");
                snprintf(r->note, sizeof r->note, "read 5s, write 10s, header 10s, idle 10s");
            }
        }
        return 0;
    }
    snprintf(lab->proto_used, sizeof lab->proto_used, "%s", c->proto);
    if (c->archs) {
        /* the order given */
        char list[256];
        snprintf(list, sizeof list, "%s", c->archs);
        for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            bool known = false;
            if (!strcmp(t, "seed"))
                t = "article"; /* its name before 0.1.0 */
            for (size_t i = 0; i < sizeof all_archs / sizeof all_archs[0]; i++)
                known |= !strcmp(t, all_archs[i]);
            if (!known) {
                fprintf(stderr, "c1m lab: unknown architecture '%s' in --archs (want article, "
                                "single, reuseport, dispatch, exclusive, prefork, workerpool)\n",
                        t);
                return c1m_usage_error("lab");
            }
            if (lab->nrows == LAB_MAX_ROWS)
                break;
            plan_arch_row(lab, &lab->rows[lab->nrows++], t);
        }
    } else {
        for (size_t i = 0; i < sizeof all_archs / sizeof all_archs[0]; i++)
            plan_arch_row(lab, &lab->rows[lab->nrows++], all_archs[i]);
    }
    if (!lab->nrows) {
        fprintf(stderr, "c1m lab: --archs selected nothing\n");
        return 2;
    }
    return 0;
}

/* ---- pre-flight --------------------------------------------------------------------- */

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

static int preflight(lab_t *lab)
{
    lab_cfg_t *c = &lab->cfg;
    c1m_fd_budget_t b;
    c1m_fd_budget(1, &b);
    uint64_t N = c->conns;
    uint64_t bench_procs = (N + b.per_process - 1) / b.per_process;
    bool uring = c->backend == C1M_BACKEND_URING;
    if (uring)
        bench_procs = 1;
    bool loopback = c->hosts == 0;
    uint64_t sockets = N * 2; /* both ends on this machine, always */
    uint64_t kernel = sockets * 4096;
    uint64_t user = N * 2 * 256; /* connection structs and buffers, both sides */
    uint64_t avail = c1m_proc_mem_available();
    long somaxconn = c1m_proc_read_long("/proc/sys/net/core/somaxconn", 4096);
    long filemax = c1m_proc_read_long("/proc/sys/fs/file-max", 0);
    char b1[32], b2[32], b3[32];
    printf("c1m lab: pre-flight for %" PRIu64 " connections (%s, %s):\n", N, lab->proto_used,
           loopback ? "loopback" : "client namespaces on a bridge");
    printf("  open files: this machine allows %" PRIu64 " per process (RLIMIT_NOFILE); "
           "%" PRIu64 " connections need server %u process%s and bench %" PRIu64 " process%s%s\n",
           (uint64_t)b.nofile, N, lab->server_procs, lab->server_procs == 1 ? "" : "es",
           bench_procs, bench_procs == 1 ? "" : "es",
           uring ? " (uring: connections are direct descriptors of rings, ~one ring per "
                   "RLIMIT_NOFILE connections, not open files)" : "");
    printf("  memory: about %s of kernel memory (%" PRIu64 " sockets x ~4 KiB) + %s in the "
           "processes; %s available\n",
           lab_fmt_bytes((double)kernel, b1, sizeof b1), sockets, lab_fmt_bytes((double)user, b2, sizeof b2),
           lab_fmt_bytes((double)avail, b3, sizeof b3));
    printf("  net.core.somaxconn %ld, fs.file-max %ld\n", somaxconn, filemax);
    if (loopback) {
        long lo = 32768, hi = 60999;
        FILE *pr = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
        if (pr) {
            if (fscanf(pr, "%ld %ld", &lo, &hi) != 2)
                lo = 32768, hi = 60999;
            fclose(pr);
        }
        printf("  ports: c1m bench binds explicit source ports 10000-64999 on 127.0.0.2 and up "
               "(%" PRIu64 " address%s), not the kernel's %ld-%ld; the server port is above "
               "64999\n", (N * 4 + 54999) / 55000, (N * 4 + 54999) / 55000 == 1 ? "" : "es",
               lo, hi);
    }
    if (avail && kernel + user > avail / 100 * 85) {
        printf("c1m lab: this run does not fit: it needs about %s but only %s is available; "
               "try --conns %" PRIu64 "\n",
               lab_fmt_bytes((double)(kernel + user), b1, sizeof b1), lab_fmt_bytes((double)avail, b2, sizeof b2),
               (uint64_t)((double)N * (double)avail * 0.8 / (double)(kernel + user)) / 1000 * 1000);
        return 1;
    }
    if (filemax > 0 && (uint64_t)filemax < sockets + 100000 && geteuid() != 0) {
        printf("c1m lab: fs.file-max (%ld) is below the %" PRIu64 " sockets this run opens, "
               "and raising it needs root\n", filemax, sockets);
        return 1;
    }
    if (c->hosts) {
        uint64_t per_host = (N + c->hosts - 1) / c->hosts;
        /* bench's explicit ports: 10000-64999 per address, 4 attempts each */
        lab->naddrs = (unsigned)((per_host * 4 + 54000) / 55000);
        if (lab->naddrs < 1)
            lab->naddrs = 1;
        if (lab->naddrs > 250) {
            printf("c1m lab: %" PRIu64 " connections per host need more than 250 source "
                   "addresses; use more --hosts\n", per_host);
            return 1;
        }
        printf("  hosts: %u namespaces, %" PRIu64 " connections and %u source address%s each\n",
               c->hosts, per_host, lab->naddrs, lab->naddrs == 1 ? "" : "es");
        if (geteuid() != 0) {
            printf("c1m lab: --hosts needs root (network namespaces)\n");
            return 1;
        }
        char why[160];
        if (lab_hosts_range_check(why, sizeof why) < 0) {
            printf("c1m lab: --hosts needs 198.18.0.0/15 to be free, but %s; "
                   "remove it or run without --hosts\n", why);
            return 1;
        }
    }
    return 0;
}

/* Raise what a large run needs; every change is printed and restored. */
static int tune_kernel(lab_t *lab)
{
    lab_cfg_t *c = &lab->cfg;
    uint64_t N = c->conns;
    bool big = N > 150000;
    /* auto: above one process's worth of connections, run in a namespace
     * of the lab's: its TIME_WAIT sockets and port buckets stay there
     * instead of filling the machine's ephemeral ports for a minute, and
     * for a large run it gets a TCP hash table of its own size */
    bool want_ns = !strcmp(c->netns, "on") ||
                   (!strcmp(c->netns, "auto") && N > 20000 && !c->hosts && geteuid() == 0);
    if (geteuid() != 0) {
        if (want_ns && !strcmp(c->netns, "on")) {
            printf("c1m lab: --netns on needs root\n");
            return 1;
        }
        if (big)
            printf("c1m lab: not root: leaving the kernel's settings as they are\n");
        return 0;
    }
    char buf[128], val[128], ns_somaxconn[64] = "";
    long filemax = c1m_proc_read_long("/proc/sys/fs/file-max", 0);
    if (filemax > 0 && (uint64_t)filemax < 2 * N + 200000) {
        snprintf(val, sizeof val, "%" PRIu64, 2 * N + 200000);
        lab_sysctl_set("fs.file-max", val);
    }
    if (N >= 100000 && lab_sysctl_read("net.ipv4.tcp_mem", buf, sizeof buf) == 0) {
        unsigned long long lo, pr, hi;
        if (sscanf(buf, "%llu %llu %llu", &lo, &pr, &hi) == 3 && hi < 4 * N) {
            /* pages: every socket with a message in flight holds a page */
            unsigned long long nlo = lo > 2 * N ? lo : 2 * N, npr = pr > 3 * N ? pr : 3 * N,
                               nhi = 4 * N;
            snprintf(val, sizeof val, "%llu %llu %llu", nlo, npr, nhi);
            lab_sysctl_set("net.ipv4.tcp_mem", val);
        }
    }
    if (big && (want_ns || c->hosts)) {
        uint64_t ehash = pow2_at_least(2 * N);
        if (ehash < 65536)
            ehash = 65536;
        if (ehash > 16u << 20)
            ehash = 16u << 20;
        snprintf(val, sizeof val, "%" PRIu64, ehash);
        if (lab_sysctl_set("net.ipv4.tcp_child_ehash_entries", val) < 0)
            printf("c1m lab: this kernel has no net.ipv4.tcp_child_ehash_entries: new "
                   "namespaces share the boot-time table\n");
    }
    if (want_ns && !c->hosts) {
        int fd = lab_netns_create("lab", lab->netns_name, sizeof lab->netns_name);
        if (fd < 0) {
            printf("c1m lab: cannot create a network namespace (%s)\n", strerror(-fd));
            return 1;
        }
        g_orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (setns(fd, CLONE_NEWNET) < 0) {
            printf("c1m lab: cannot enter namespace %s: %s\n", lab->netns_name, strerror(errno));
            close(fd);
            return 1;
        }
        close(fd);
        lab->in_netns = true;
        /* per-namespace settings start from the defaults here */
        char sm[32];
        snprintf(sm, sizeof sm, "%d", 65535);
        if (lab_sysctl_read("net.core.somaxconn", ns_somaxconn, sizeof ns_somaxconn) < 0)
            snprintf(ns_somaxconn, sizeof ns_somaxconn, "?");
        FILE *f = fopen("/proc/sys/net/core/somaxconn", "we");
        if (f) {
            fputs(sm, f);
            fclose(f);
        }
        char ehash[64];
        /* tcp_ehash_entries (read-only): this namespace's table, negative
         * when it shares the boot-time one */
        if (lab_sysctl_read("net.ipv4.tcp_ehash_entries", ehash, sizeof ehash) == 0 &&
            ehash[0] != '-')
            printf("c1m lab: server and clients run in network namespace %s (a TCP hash "
                   "table of its own, %s buckets; somaxconn 65535 there)\n", lab->netns_name,
                   ehash);
        else
            printf("c1m lab: server and clients run in network namespace %s (its TIME_WAIT "
                   "sockets stay there; somaxconn 65535 there)\n", lab->netns_name);
    }
    if (c->hosts) {
        if (lab_hosts_create(c->hosts, lab->naddrs, lab->host_fds) < 0) {
            printf("c1m lab: cannot create the client namespaces\n");
            return 1;
        }
        printf("c1m lab: %u client namespaces c1m-lab-%d-h0.. on bridge c1mb%d (server "
               "198.18.0.1)\n", c->hosts, (int)getpid(), (int)getpid());
    }
    lab->nsysctl = lab_sysctl_changes(lab->sysctl_lines, 15);
    if (ns_somaxconn[0]) /* gone with the namespace at exit */
        snprintf(lab->sysctl_lines[lab->nsysctl++], sizeof lab->sysctl_lines[0],
                 "net.core.somaxconn (in the lab's namespace): %.40s -> 65535", ns_somaxconn);
    for (unsigned i = 0; i < lab->nsysctl; i++)
        printf("c1m lab: changed %s (restored at exit)\n", lab->sysctl_lines[i]);
    return 0;
}

/* ---- one row ---------------------------------------------------------------------------- */

typedef struct sample {
    lab_tree_sample_t tree;
    lab_kmem_t kmem;
} sample_t;

static void read_result(lab_row_t *r, const char *path)
{
    c1m_bench_result_t *res = calloc(1, sizeof *res);
    char err[256];
    if (!res || c1m_bench_read_json(res, path, err, sizeof err) < 0) {
        snprintf(r->note, sizeof r->note, "no bench result: %.180s", res ? err : "out of memory");
        free(res);
        return;
    }
    r->res = res;
    r->target = res->conns_target;
    r->established = res->conns_established;
    r->requests = res->win.requests;
    r->mismatches = res->win.mismatches;
    r->lost = res->win.lost;
    r->errors = c1m_bench_errors_total(res);
    r->tps = res->tps;
    r->window_s = res->duration_s;
    r->lat_min = c1m_hist_min(&res->lat);
    r->lat_mean = c1m_hist_mean(&res->lat);
    r->p50 = c1m_hist_percentile(&res->lat, 50);
    r->p90 = c1m_hist_percentile(&res->lat, 90);
    r->p99 = c1m_hist_percentile(&res->lat, 99);
    r->p999 = c1m_hist_percentile(&res->lat, 99.9);
    r->p9999 = c1m_hist_percentile(&res->lat, 99.99);
    r->lat_max = c1m_hist_max(&res->lat);
}

/* Server CPU, RSS and kernel memory over the measured window, from the
 * samples taken while the bench ran. */
static void window_figures(lab_row_t *r, const sample_t *s, size_t n, const lab_kmem_t *before)
{
    if (!r->res || !n)
        return;
    uint64_t t0 = r->res->t_start, t1 = r->res->t_end;
    const sample_t *a = NULL, *b = NULL, *mid = NULL;
    uint64_t tm = t0 / 2 + t1 / 2, best = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = s[i].tree.wall_ns;
        if (w >= t0 && !a)
            a = &s[i];
        if (w <= t1)
            b = &s[i];
        if (w >= t0 && w <= t1 && s[i].tree.rss_bytes > r->rss_bytes) {
            r->rss_bytes = s[i].tree.rss_bytes;
            r->server_procs = s[i].tree.nprocs;
        }
        uint64_t d = w > tm ? w - tm : tm - w;
        if (d < best)
            best = d, mid = &s[i];
    }
    if (a && b && b->tree.wall_ns > a->tree.wall_ns) {
        r->cpu_s = (double)(b->tree.cpu_ticks - a->tree.cpu_ticks) / (double)lab_clock_ticks();
        r->cpu_pct = 100.0 * r->cpu_s / ((double)(b->tree.wall_ns - a->tree.wall_ns) / 1e9);
    }
    if (mid && mid->kmem.slab_ok && before->slab_ok) {
        r->kmem_ok = true;
        r->kmem_delta = mid->kmem.slab_bytes > before->slab_bytes
                            ? mid->kmem.slab_bytes - before->slab_bytes : 0;
        r->sockmem_delta_pages = mid->kmem.tcp_mem_pages > before->tcp_mem_pages
                                     ? mid->kmem.tcp_mem_pages - before->tcp_mem_pages : 0;
        r->kmem_delta += r->sockmem_delta_pages * 4096;
    }
    if (!r->server_procs && mid)
        r->server_procs = mid->tree.nprocs;
}

static const char *backend_name(c1m_backend_t b)
{
    return b == C1M_BACKEND_URING ? "uring" : "epoll";
}

static pid_t spawn_bench(lab_t *lab, lab_row_t *r, int host, uint64_t conns, uint64_t start_at,
                         const char *json, const char *log, const char *out)
{
    lab_cfg_t *c = &lab->cfg;
    char a_conns[32], a_dur[32], a_warm[32], a_port[16], a_loops[16], a_procs[16], a_url[96],
        a_src[64], a_start[40];
    snprintf(a_conns, sizeof a_conns, "%" PRIu64, conns);
    snprintf(a_dur, sizeof a_dur, "%.3fs", (double)c->duration_us / 1e6);
    snprintf(a_warm, sizeof a_warm, "%.3fs", (double)c->warmup_us / 1e6);
    snprintf(a_port, sizeof a_port, "%u", c->port);
    snprintf(a_loops, sizeof a_loops, "%u", r->bench_loops);
    snprintf(a_procs, sizeof a_procs, "%u", r->bench_procs);
    const char *host_addr = c->hosts ? "198.18.0.1" : "127.0.0.1";
    snprintf(a_url, sizeof a_url, "http://%s:%u/", host_addr, c->port);
    char *argv[48];
    int n = 0;
    argv[n++] = "c1m";
    argv[n++] = "bench";
    argv[n++] = "--proto";
    argv[n++] = lab->proto_used;
    if (!strcmp(lab->proto_used, "ws")) {
        argv[n++] = "--push"; /* --experiment push */
        /* an upgrade waits behind at most bench's window (4096), but a
         * broadcast to a large row's subscribers takes the servers' CPU for
         * seconds while the ramp goes on: a stalled upgrade is waited for,
         * not given up and asked again */
        argv[n++] = "--connect-timeout";
        argv[n++] = "30s";
    }
    if (!strcmp(lab->proto_used, "http")) {
        argv[n++] = "--url";
        argv[n++] = a_url;
    } else {
        argv[n++] = "--host";
        argv[n++] = (char *)host_addr;
        argv[n++] = "--port";
        argv[n++] = a_port;
    }
    argv[n++] = "--conns";
    argv[n++] = a_conns;
    argv[n++] = "--backend";
    argv[n++] = (char *)backend_name(c->backend);
    argv[n++] = "--loops";
    argv[n++] = a_loops;
    if (r->bench_procs) {
        argv[n++] = "--procs";
        argv[n++] = a_procs;
    }
    argv[n++] = "--duration";
    argv[n++] = a_dur;
    argv[n++] = "--warmup";
    argv[n++] = a_warm;
    argv[n++] = "--interval";
    argv[n++] = "1s";
    argv[n++] = "--grace";
    argv[n++] = "5s";
    argv[n++] = "--json";
    argv[n++] = (char *)json;
    if (host >= 0) {
        snprintf(a_src, sizeof a_src, "198.18.%d.2-198.18.%d.%u", 1 + host, 1 + host,
                 1 + lab->naddrs);
        argv[n++] = "--source";
        argv[n++] = a_src;
    }
    if (start_at) {
        snprintf(a_start, sizeof a_start, "@%.3f", (double)start_at / 1e9);
        argv[n++] = "--start-at";
        argv[n++] = a_start;
    }
    argv[n] = NULL;
    c1m_spawn_opts_t o = C1M_SPAWN_DEFAULTS;
    o.out_path = out;
    o.err_path = log;
    o.own_group = true;
    o.pdeath_signal = SIGTERM;
    o.netns_fd = host >= 0 ? lab->host_fds[host] : -1;
    pid_t p = c1m_proc_spawn_self(argv, &o);
    if (p > 0)
        live_add(p);
    return p;
}

/* Run one row: returns 0, or -EINTR when the lab was interrupted. */
static int run_row(lab_t *lab, lab_row_t *r, const char *tag)
{
    lab_cfg_t *c = &lab->cfg;
    char slog[PATH_MAX], blog[PATH_MAX], bout[PATH_MAX], port[16];
    snprintf(slog, sizeof slog, "%s/%s.serve.log", lab->out, tag);
    snprintf(r->json_path, sizeof r->json_path, "%s/%s.bench.json", lab->out, tag);
    snprintf(port, sizeof port, "%u", c->port);
    r->ran = true;
    r->target = c->conns;

    lab_kmem_t before;
    lab_kmem_read(0, &before);

    /* bound to the address the clients use, never 0.0.0.0: a lab row
     * (some with --timeouts off) must not be reachable from outside */
    /* push: bench speaks ws, the server serves /ws/push on http */
    const char *sproto = strcmp(lab->proto_used, "ws") ? lab->proto_used : "http";
    char *sargv[32] = { "c1m", "serve", "--quiet", "--port", port, "--proto", (char *)sproto,
                        "--bind", c->hosts ? "198.18.0.1" : "127.0.0.1", "--backend",
                        (char *)backend_name(c->backend) };
    int n = 11;
    for (unsigned i = 0; i < r->nserve_args; i++)
        sargv[n++] = r->serve_args[i];
    sargv[n] = NULL;
    char serr[PATH_MAX];
    snprintf(serr, sizeof serr, "%s/%s.serve.err", lab->out, tag);
    c1m_spawn_opts_t so = C1M_SPAWN_DEFAULTS;
    so.out_path = slog;
    so.err_path = serr;
    so.own_group = true;
    so.pdeath_signal = SIGTERM;
    pid_t server = c1m_proc_spawn_self(sargv, &so);
    if (server < 0) {
        snprintf(r->note, sizeof r->note, "cannot start the server: %s", strerror((int)-server));
        return 0;
    }
    live_add(server);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(c->port) };
    inet_pton(AF_INET, c->hosts ? "198.18.0.1" : "127.0.0.1", &addr.sin_addr);
    int wl = c1m_proc_wait_listening(&addr, server, 15000);
    if (wl < 0) {
        snprintf(r->note, sizeof r->note, "server did not listen (%s); see %.120s",
                 wl == -ECHILD ? "it exited" : "timeout", serr);
        if (wl != -ECHILD)
            c1m_proc_stop(server, 5000, NULL);
        live_del(server);
        r->server_exit = -1;
        return g_stop ? -EINTR : 0;
    }

    /* the clients */
    unsigned k = c->hosts ? c->hosts : 1;
    pid_t bench[LAB_MAX_HOSTS];
    char hjson[LAB_MAX_HOSTS][PATH_MAX];
    uint64_t start_at = 0;
    if (c->hosts) {
        /* everyone starts measuring at the same moment: after a generous
         * estimate of the ramp (the article started its clients 2 minutes ahead) */
        double ramp_s = 3.0 + (double)c->conns / 15000.0;
        start_at = c1m_wall_ns() + (uint64_t)(ramp_s * 1e9);
    }
    for (unsigned h = 0; h < k; h++) {
        uint64_t share = c->conns / k + (h < c->conns % k);
        if (c->hosts) {
            snprintf(hjson[h], sizeof hjson[h], "%s/%s.h%u.bench.json", lab->out, tag, h);
            snprintf(blog, sizeof blog, "%s/%s.h%u.bench.log", lab->out, tag, h);
            snprintf(bout, sizeof bout, "%s/%s.h%u.bench.out", lab->out, tag, h);
        } else {
            snprintf(hjson[h], sizeof hjson[h], "%s", r->json_path);
            snprintf(blog, sizeof blog, "%s/%s.bench.log", lab->out, tag);
            snprintf(bout, sizeof bout, "%s/%s.bench.out", lab->out, tag);
        }
        bench[h] = spawn_bench(lab, r, c->hosts ? (int)h : -1, share, start_at, hjson[h], blog,
                               bout);
    }

    /* sample until every client is done (bounded) */
    static sample_t samples[LAB_MAX_SAMPLES];
    size_t ns = 0;
    double ramp_bound = 60.0 + (double)c->conns / 2000.0;
    uint64_t deadline = c1m_now_ns() + (uint64_t)((ramp_bound + (double)(c->duration_us + c->warmup_us) / 1e6 + 30) * 1e9);
    unsigned running = k;
    int bstatus[LAB_MAX_HOSTS];
    for (unsigned h = 0; h < k; h++)
        bstatus[h] = bench[h] > 0 ? -2 : -1, running -= bench[h] <= 0;
    bool stopped = false;
    while (running) {
        if (ns < LAB_MAX_SAMPLES) {
            lab_tree_sample(server, &samples[ns].tree);
            lab_kmem_read(server, &samples[ns].kmem);
            ns++;
        }
        for (unsigned h = 0; h < k; h++) {
            if (bstatus[h] != -2)
                continue;
            int st = c1m_proc_wait(bench[h], 0, NULL);
            if (st >= 0) {
                bstatus[h] = st;
                live_del(bench[h]);
                running--;
            }
        }
        if (!running)
            break;
        if ((g_stop || c1m_now_ns() > deadline) && !stopped) {
            if (!g_stop)
                snprintf(r->note, sizeof r->note, "bench overran its time bound: stopped");
            for (unsigned h = 0; h < k; h++)
                if (bstatus[h] == -2)
                    kill(bench[h], SIGTERM);
            stopped = true;
            deadline = c1m_now_ns() + 20000000000ull;
        } else if (stopped && c1m_now_ns() > deadline) {
            for (unsigned h = 0; h < k; h++)
                if (bstatus[h] == -2) {
                    bstatus[h] = c1m_proc_stop(bench[h], 2000, NULL);
                    live_del(bench[h]);
                    running--;
                }
        }
        sleep_ms(200);
    }
    r->bench_exit = 0;
    for (unsigned h = 0; h < k; h++)
        if (bstatus[h] != 0)
            r->bench_exit = bstatus[h];
    r->server_exit = c1m_proc_stop(server, 20000, NULL);
    live_del(server);

    if (c->hosts) {
        /* exact merge of the K results: c1m merge */
        char *margv[LAB_MAX_HOSTS + 8] = { "c1m", "merge", "--json", r->json_path };
        int m = 4;
        for (unsigned h = 0; h < k; h++)
            if (access(hjson[h], R_OK) == 0)
                margv[m++] = hjson[h];
        margv[m] = NULL;
        c1m_spawn_opts_t mo = C1M_SPAWN_DEFAULTS;
        mo.quiet_out = true;
        pid_t mp = m > 4 ? c1m_proc_spawn_self(margv, &mo) : -1;
        if (mp <= 0 || c1m_proc_wait(mp, 60000, NULL) != 0)
            snprintf(r->note, sizeof r->note, "c1m merge of the host results failed");
        double worst = -1;
        for (unsigned h = 0; h < k; h++) {
            snprintf(blog, sizeof blog, "%s/%s.h%u.bench.log", lab->out, tag, h);
            double s = connect_secs_from_log(blog);
            worst = s > worst ? s : worst;
        }
        r->connect_s = worst;
    } else {
        snprintf(blog, sizeof blog, "%s/%s.bench.log", lab->out, tag);
        r->connect_s = connect_secs_from_log(blog);
    }
    read_result(r, r->json_path);
    if (r->res) {
        /* the latency spectrum beside the JSON, for HdrHistogram's plotters */
        snprintf(r->hgrm_path, sizeof r->hgrm_path, "%s/%s.hgrm", lab->out, tag);
        if (c1m_bench_write_hgrm(r->res, r->hgrm_path) < 0)
            r->hgrm_path[0] = 0;
    }
    window_figures(r, samples, ns, &before);
    r->ok = r->res && r->established == r->target && r->mismatches == 0 && r->tps > 0 &&
            r->server_exit == 0 && r->bench_exit == 0 && !g_stop;
    return g_stop ? -EINTR : 0;
}

/* timers: fold one round's result into the row's totals */
static void fold_round(lab_row_t *acc, lab_row_t *round)
{
    if (!round->res) {
        if (!acc->note[0] || acc->rounds_done == 0)
            snprintf(acc->note, sizeof acc->note, "%s", round->note);
        acc->ok = false;
        return;
    }
    if (!acc->res) {
        acc->res = round->res;
        round->res = NULL;
    } else {
        c1m_hist_merge(&acc->res->lat, &round->res->lat);
        acc->res->win.requests += round->res->win.requests;
    }
    acc->rounds_done++;
    acc->sum_requests += (double)round->requests;
    acc->sum_secs += round->window_s;
    acc->established = acc->rounds_done == 1 ? round->established
                       : C1M_MIN(acc->established, round->established);
    acc->target = round->target;
    acc->mismatches += round->mismatches;
    acc->errors += round->errors;
    acc->lost += round->lost;
    acc->cpu_s += round->cpu_s;
    acc->cpu_pct = acc->rounds_done == 1 ? round->cpu_pct
                   : (acc->cpu_pct * (acc->rounds_done - 1) + round->cpu_pct) / acc->rounds_done;
    acc->rss_bytes = C1M_MAX(acc->rss_bytes, round->rss_bytes);
    acc->connect_s = C1M_MAX(acc->connect_s, round->connect_s);
    acc->ran = true;
    acc->ok = (acc->rounds_done == 1 || acc->ok) && round->ok;
    acc->server_exit |= round->server_exit;
    acc->bench_exit |= round->bench_exit;
    acc->tps = acc->sum_secs > 0 ? acc->sum_requests / acc->sum_secs : 0;
    acc->window_s = acc->sum_secs;
    const c1m_hist_t *h = &acc->res->lat;
    acc->lat_min = c1m_hist_min(h);
    acc->lat_mean = c1m_hist_mean(h);
    acc->p50 = c1m_hist_percentile(h, 50);
    acc->p90 = c1m_hist_percentile(h, 90);
    acc->p99 = c1m_hist_percentile(h, 99);
    acc->p999 = c1m_hist_percentile(h, 99.9);
    acc->p9999 = c1m_hist_percentile(h, 99.99);
    acc->lat_max = c1m_hist_max(h);
    if (round->res) {
        free(round->res->ivals);
        free(round->res);
        round->res = NULL;
    }
}
/* ---- flags and main ------------------------------------------------------------------------ */

enum {
    OPT_CONNS = 256, OPT_DURATION, OPT_WARMUP, OPT_ARCHS, OPT_PROTO, OPT_LOOPS, OPT_HOSTS,
    OPT_NETNS, OPT_EXPERIMENT, OPT_ROUNDS, OPT_PORT, OPT_OUT, OPT_NO_PLOTS, OPT_DRY_RUN, OPT_BACKEND,
    OPT_HELP,
};

static int bad(const char *flag, const char *val, const char *want)
{
    fprintf(stderr, "c1m lab: bad value '%s' for %s: %s\n", val, flag, want);
    return 2;
}

/* The CPUs this process may run on: the default for server and client
 * loops (both sides share them in a loopback run). */
static unsigned cpus_available(void)
{
    cpu_set_t set;
    long n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

static int parse_flags(lab_cfg_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "conns", required_argument, 0, OPT_CONNS },
        { "duration", required_argument, 0, OPT_DURATION },
        { "warmup", required_argument, 0, OPT_WARMUP },
        { "archs", required_argument, 0, OPT_ARCHS },
        { "proto", required_argument, 0, OPT_PROTO },
        { "loops", required_argument, 0, OPT_LOOPS },
        { "hosts", required_argument, 0, OPT_HOSTS },
        { "netns", required_argument, 0, OPT_NETNS },
        { "experiment", required_argument, 0, OPT_EXPERIMENT },
        { "rounds", required_argument, 0, OPT_ROUNDS },
        { "port", required_argument, 0, OPT_PORT },
        { "out", required_argument, 0, OPT_OUT },
        { "no-plots", no_argument, 0, OPT_NO_PLOTS },
        { "dry-run", no_argument, 0, OPT_DRY_RUN },
        { "backend", required_argument, 0, OPT_BACKEND },
        { "help", no_argument, 0, OPT_HELP },
        { 0, 0, 0, 0 },
    };
    *c = (lab_cfg_t){ .conns = 10000, .duration_us = UINT64_MAX, .warmup_us = UINT64_MAX,
                      .proto = "ts8", .experiment = "archs", .netns = "auto", .rounds = 2,
                      .cpus = cpus_available() };
    c->loops = c->cpus;
    if (c1m_flag_backend_default("lab", &c->backend))
        return 2;
    int opt;
    uint64_t v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_CONNS:
            c->conns_arg = optarg; /* --experiment push: a list (lab_push_flags) */
            if (strchr(optarg, ','))
                break;
            if (c1m_flag_count("lab", "--conns", optarg, 1, 10000000, &v))
                return 2;
            c->conns = v;
            break;
        case OPT_DURATION:
            if (c1m_flag_duration("lab", "--duration", optarg, 1000000, 3600000000ull, &v))
                return 2;
            c->duration_us = v;
            break;
        case OPT_WARMUP:
            if (c1m_flag_duration("lab", "--warmup", optarg, 0, 600000000ull, &v))
                return 2;
            c->warmup_us = v;
            break;
        case OPT_ARCHS:
            c->archs = optarg;
            break;
        case OPT_PROTO:
            if (strcmp(optarg, "ts8") && strcmp(optarg, "echo") && strcmp(optarg, "http"))
                return bad("--proto", optarg, "ts8, echo or http");
            c->proto = optarg;
            break;
        case OPT_LOOPS:
            if (c1m_flag_count("lab", "--loops", optarg, 1, 1024, &v))
                return 2;
            c->loops = (unsigned)v;
            break;
        case OPT_HOSTS:
            if (c1m_flag_count("lab", "--hosts", optarg, 0, LAB_MAX_HOSTS, &v))
                return 2;
            c->hosts = (unsigned)v;
            break;
        case OPT_NETNS:
            if (strcmp(optarg, "auto") && strcmp(optarg, "on") && strcmp(optarg, "off"))
                return bad("--netns", optarg, "auto, on or off");
            c->netns = optarg;
            break;
        case OPT_EXPERIMENT:
            if (strcmp(optarg, "archs") && strcmp(optarg, "timers") && strcmp(optarg, "push"))
                return bad("--experiment", optarg, "archs, timers or push");
            c->experiment = optarg;
            break;
        case OPT_ROUNDS:
            if (c1m_flag_count("lab", "--rounds", optarg, 1, 20, &v))
                return 2;
            c->rounds = (unsigned)v;
            break;
        case OPT_PORT:
            if (c1m_flag_port("lab", "--port", optarg, &c->port))
                return 2;
            break;
        case OPT_OUT:
            /* root writes there and runs gnuplot in it: a plain path only */
            if (!*optarg || strlen(optarg) > 200 ||
                strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789._/-+:@,=") != strlen(optarg) || optarg[0] == '-')
                return bad("--out", optarg,
                           "a directory path of at most 200 bytes of A-Z a-z 0-9 . _ / - + : @ , =");
            c->out = optarg;
            break;
        case OPT_NO_PLOTS:
            c->no_plots = true;
            break;
        case OPT_DRY_RUN:
            c->dry_run = true;
            break;
        case OPT_BACKEND:
            if (c1m__backend_parse(optarg, &c->backend) < 0)
                return bad("--backend", optarg, "auto, epoll or uring");
            break;
        case OPT_HELP:
        case 'h':
            lab_usage(stdout, c->cpus);
            return -1;
        default: /* getopt said what was wrong */
            return c1m_usage_error("lab");
        }
    }
    if (optind < argc) {
        fprintf(stderr, "c1m lab: unexpected argument '%s'\n", argv[optind]);
        return c1m_usage_error("lab");
    }
    int prc = lab_push_flags(c); /* the counts of --experiment push */
    if (prc)
        return prc;
    if (c->duration_us == UINT64_MAX)
        c->duration_us = 10000000 + c->conns * 1000000 / 40000;
    if (c->warmup_us == UINT64_MAX)
        c->warmup_us = 2000000 + c->conns * 1000000 / 40000;
    if (c->hosts && c->conns < c->hosts) {
        fprintf(stderr, "c1m lab: --conns %" PRIu64 " is fewer than --hosts %u: each client "
                        "host needs at least one connection\n", c->conns, c->hosts);
        return c1m_usage_error("lab");
    }
    if (!strcmp(c->experiment, "timers") && c->archs) {
        fprintf(stderr, "c1m lab: --archs goes with --experiment archs\n");
        return 2;
    }
    return 0;
}

static void describe_clients(lab_t *lab)
{
    for (unsigned i = 0; i < lab->nrows; i++) {
        lab_row_t *r = &lab->rows[i];
        uint64_t conns = lab->cfg.hosts ? (lab->cfg.conns + lab->cfg.hosts - 1) / lab->cfg.hosts
                                        : lab->cfg.conns;
        char hosts[32] = "";
        if (lab->cfg.hosts)
            snprintf(hosts, sizeof hosts, "%u hosts x ", lab->cfg.hosts);
        if (r->bench_procs)
            snprintf(r->client_desc, sizeof r->client_desc, "%s%u proc x %u loop%s", hosts,
                     r->bench_procs, r->bench_loops, r->bench_loops == 1 ? "" : "s");
        else {
            c1m_fd_budget_t b;
            c1m_fd_budget(r->bench_loops, &b);
            uint64_t p = b.per_process ? (conns + b.per_process - 1) / b.per_process : 1;
            if (lab->cfg.backend == C1M_BACKEND_URING)
                p = 1; /* rings, not open files: the bench adds loops instead */
            snprintf(r->client_desc, sizeof r->client_desc, "%s%" PRIu64 " proc%s x %u loop%s",
                     hosts, p,
                     p == 1 ? "" : "s", r->bench_loops, r->bench_loops == 1 ? "" : "s");
        }
    }
}

int c1m_cmd_lab(int argc, char **argv)
{
    static lab_t lab;
    memset(&lab, 0, sizeof lab);
    int rc = parse_flags(&lab.cfg, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    lab_cfg_t *c = &lab.cfg;
    lab.started_wall_ns = c1m_wall_ns();
    lab.http_available = serve_has_http();
    if (!strcmp(c->proto, "http") && !lab.http_available) {
        fprintf(stderr, "c1m lab: this build's c1m serve has no http protocol\n");
        return 1;
    }
    if (c->backend == C1M_BACKEND_AUTO && !strcmp(c->experiment, "push")) {
        /* the rows in docs/RESULTS.md (10,000 to a million subscribers)
         * were measured on epoll: auto keeps them comparable */
        c->backend = C1M_BACKEND_EPOLL;
        printf("c1m lab: backend epoll: the push experiment's rows are measured on epoll "
               "(--backend uring to choose io_uring)\n");
    }
    if (c->backend == C1M_BACKEND_AUTO) {
        /* the bench's needs include the server's: decide for both */
        char why[512];
        c->backend = c1m__backend_resolve(C1M_BACKEND_AUTO, true, NULL, why, sizeof why);
        printf("c1m lab: %s\n", why);
    }
    rc = make_plan(&lab);
    if (rc)
        return rc;
    describe_clients(&lab);
    if (!strcmp(c->experiment, "timers") && strcmp(lab.proto_used, c->proto) &&
        strcmp(c->proto, "ts8"))
        printf("c1m lab: timers experiment uses %s\n", lab.proto_used);
    if (preflight(&lab))
        return 1;
    printf("c1m lab: plan (%u row%s):\n", lab.nrows, lab.nrows == 1 ? "" : "s");
    for (unsigned i = 0; i < lab.nrows; i++) {
        lab_row_t *r = &lab.rows[i];
        printf("  %-22s c1m serve", r->label);
        for (unsigned a = 0; a < r->nserve_args; a++)
            printf(" %s", r->serve_args[a]);
        printf("  |  c1m bench %s\n", r->client_desc);
    }
    /* start, ramp (~27K connects/s here), warm-up, window, tear-down */
    double per_row = 2.0 + (double)c->conns / 25000.0 + (double)c->conns / 40000.0 +
                     (double)(c->warmup_us + c->duration_us) / 1e6;
    unsigned runs = lab.nrows * (!strcmp(c->experiment, "timers") ? c->rounds : 1);
    if (!strcmp(c->experiment, "push"))
        lab_push_estimate(&lab, &per_row, &runs); /* rows of different sizes */
    printf("c1m lab: about %.0f s in all (%u run%s of ~%.0f s)\n", per_row * runs, runs,
           runs == 1 ? "" : "s", per_row);
    fflush(stdout);
    if (c->dry_run)
        return 0;

    /* clean-up on any exit from here on */
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (geteuid() == 0)
        lab_net_clean_stale();
    atexit(lab_cleanup);

    if (c->out) {
        snprintf(lab.out, sizeof lab.out, "%s", c->out);
    } else {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(lab.out, sizeof lab.out, "results/%Y-%m-%d-%H%M%S", &tm);
    }
    if (mkdirs(lab.out) < 0) {
        fprintf(stderr, "c1m lab: cannot create %s: %s\n", lab.out, strerror(errno));
        return 1;
    }
    if (tune_kernel(&lab)) {
        lab_cleanup();
        return 1;
    }
    if (!c->port)
        c->port = free_port();

    bool timers = !strcmp(c->experiment, "timers");
    bool interrupted = false;
    if (!strcmp(c->experiment, "push")) {
        interrupted = lab_push_run(&lab, run_row) == -EINTR; /* lab_push.c */
    } else if (!timers) {
        for (unsigned i = 0; i < lab.nrows && !interrupted; i++) {
            lab_row_t *r = &lab.rows[i];
            printf("c1m lab: [%u/%u] %s ...\n", i + 1, lab.nrows, r->label);
            fflush(stdout);
            interrupted = run_row(&lab, r, r->id) == -EINTR;
            if (r->ran)
                lab_summary_line(r);
        }
    } else {
        /* interleaved rounds: off, wheel, heap, global-heap, then again,
         * starting one further each round so no design always runs first */
        for (unsigned round = 0; round < c->rounds && !interrupted; round++) {
            for (unsigned j = 0; j < lab.nrows && !interrupted; j++) {
                unsigned i = (j + round) % lab.nrows;
                lab_row_t *acc = &lab.rows[i];
                lab_row_t one = *acc;
                one.res = NULL;
                char tag[48];
                snprintf(tag, sizeof tag, "%s.r%u", acc->id, round + 1);
                printf("c1m lab: round %u/%u: %s ...\n", round + 1, c->rounds, acc->label);
                fflush(stdout);
                interrupted = run_row(&lab, &one, tag) == -EINTR;
                lab_summary_line(&one);
                snprintf(acc->json_path, sizeof acc->json_path, "%s", one.json_path);
                snprintf(acc->hgrm_path, sizeof acc->hgrm_path, "%s", one.hgrm_path);
                fold_round(acc, &one);
            }
        }
        printf("c1m lab: merged over rounds (latency histograms added exactly; TPS = "
               "requests / measured seconds):\n");
        for (unsigned i = 0; i < lab.nrows; i++)
            if (lab.rows[i].ran)
                lab_summary_line(&lab.rows[i]);
    }
    if (interrupted)
        printf("c1m lab: interrupted (signal %d): stopping, cleaning up\n", (int)g_stop);
    lab_write_outputs(&lab, interrupted);
    lab_cleanup();
    bool all_ok = true;
    for (unsigned i = 0; i < lab.nrows; i++) {
        all_ok &= lab.rows[i].ok;
        if (lab.rows[i].res) {
            free(lab.rows[i].res->ivals);
            free(lab.rows[i].res);
        }
    }
    if (interrupted)
        return 130;
    printf("%s\n", all_ok ? "c1m lab: all rows OK" : "c1m lab: some rows FAILED");
    return all_ok ? 0 : 1;
}
