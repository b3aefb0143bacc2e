/* c1m bench: flags -> c1m_bench_cfg_t, pre-flight checks, then the run
 * (bench_run.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/parse.h"
#include "engine/backend.h"
#include "engine/server.h"
#include "engine/uring_probe.h"
#include "tools/bench.h"
#include "tools/cmd.h"
#include "tools/flags.h"
#include "tools/proc.h"

static void bench_usage(FILE *f)
{
    fprintf(f,
"usage: c1m bench [OPTIONS]\n"
"\n"
"Open N connections from P processes x L loop threads, send requests, and\n"
"measure their latency into exact histograms merged across loops and processes.\n"
"\n"
"Target and workload:\n"
"  --proto NAME         ts8 (8-byte timestamp echo) | echo | http | ws (WebSocket\n"
"                       echo of --size binary messages on --path) (default ts8)\n"
"  --push               ws: idle subscribers on --path: each message's delivery\n"
"                       latency from its timestamp; sequence gaps count as lost\n"
"                       (default off)\n"
"  --path PATH          ws: the WebSocket route (default /ws; with --push /ws/push)\n"
"  --host H             target address or name (default 127.0.0.1)\n"
"  --port N             target port, 1 to 65535 (default 8972)\n"
"  --url URL            http://HOST[:PORT]/PATH (implies --proto http)\n"
"  --method M           HTTP method (default GET)\n"
"  --header 'K: V'      extra HTTP request header, up to 32 (default none)\n"
"  --size SIZE          echo message size, 1 to 16MiB (default 64)\n"
"  --pipeline N         requests in flight per connection, 1 to 1024 (default 1)\n"
"  --rate N             open loop: N requests/s in total, 1 to 1G, latency measured\n"
"                       from each request's intended send time (default: closed\n"
"                       loop, a connection sends when its reply arrives)\n"
"Scale:\n"
"  --conns N            connections, 1 to 10M (default 100)\n"
"  --procs N            processes, 1 to 4096 (default: as many as the open-file\n"
"                       limit requires)\n"
"  --loops N            loop threads per process, 1 to 1024 (default 1; on uring\n"
"                       more when the process's connections need more rings)\n"
"  --backend NAME       auto | epoll | uring: the client loops' poller; on uring\n"
"                       every connection is a direct socket (IORING_OP_SOCKET,\n"
"                       bind and connect through the ring), not an open file, so\n"
"                       one process passes the open-file limit with a ring per\n"
"                       loop. auto: uring where the kernel allows it, else epoll,\n"
"                       said in one line (default auto, or $C1M_BACKEND when set)\n"
"  --source SPEC        source addresses: A, A-B or A/prefix (default\n"
"                       127.0.0.2-127.255.255.254 for a loopback target); explicit\n"
"                       ports 10000-64999, no (address, port) used twice in a run\n"
"  --connect-rate N     connects per second in total, 1 to 100M (default: unpaced)\n"
"  --connect-timeout DUR  per connect attempt (ws: until the 101), 1ms to 168h\n"
"                       (default 5s)\n"
"  --retries N          further attempts after a failed connect (ws: also a close\n"
"                       before the 101), 0 to 100 (default 3)\n"
"  --connect-window N   connects in flight per loop, 1 to 1M; ws: a connect is in\n"
"                       flight until the server's 101 (default: half of\n"
"                       net.core.somaxconn over all loops; ws: at most 4096 over\n"
"                       all loops)\n"
"Timing and output:\n"
"  --duration DUR       measured window, 1ms to 168h (default 10s)\n"
"  --warmup DUR         excluded from the results, before the window, 0 to 168h\n"
"                       (default 1s)\n"
"  --start-at T         start at a wall-clock time: HH:MM[:SS] (today), @UNIXSECONDS\n"
"                       or +DURATION, so several invocations measure the same window\n"
"                       (default: once connected)\n"
"  --interval DUR       report line period, aligned to the wall clock, 100ms to 168h\n"
"                       (default 5s)\n"
"  --grace DUR          after the window, wait at most DUR for the replies still in\n"
"                       flight; the rest count as lost, 0 to 168h (default 10s)\n"
"  --json FILE          write the result (with the histogram's buckets and where it\n"
"                       was measured) as JSON (default none)\n"
"  --percentiles FILE   write the latency spectrum in HdrHistogram's .hgrm layout,\n"
"                       in milliseconds (default none)\n"
"  --quiet              no progress or interval lines (default off)\n"
"  --help               this text\n"
"  --version            c1m's version\n"
"\n"
C1M_VALUES_HELP
"\n"
"EXAMPLES\n"
"  c1m bench --proto ts8 --conns 10k --duration 30s --warmup 5s\n"
"  c1m bench --url http://127.0.0.1:8998/hello/c1m --conns 1000 --rate 20k\n"
"  c1m bench --proto echo --size 1KiB --pipeline 8 --json echo.json --percentiles echo.hgrm\n"
"  c1m bench --proto ts8 --conns 50k --start-at +20s --json part1.json\n"
"\n"
"EXIT STATUS\n"
"  0  measured (Ctrl-C prints the results so far)\n"
"  1  nothing measured, reply mismatches, or the run does not fit this machine\n"
"  2  bad usage\n");
}

enum {
    OPT_PROTO = 256, OPT_HOST, OPT_PORT, OPT_URL, OPT_METHOD, OPT_HEADER, OPT_SIZE,
    OPT_PIPELINE, OPT_RATE, OPT_CONNS, OPT_PROCS, OPT_LOOPS, OPT_BACKEND, OPT_SOURCE, OPT_CRATE,
    OPT_CTIMEOUT, OPT_RETRIES, OPT_CWINDOW, OPT_DURATION, OPT_WARMUP, OPT_START_AT,
    OPT_INTERVAL, OPT_GRACE, OPT_JSON, OPT_PERCENTILES, OPT_QUIET, OPT_HELP, OPT_PUSH, OPT_PATH,
};

static const struct option bench_opts[] = {
    { "proto", required_argument, 0, OPT_PROTO },
    { "host", required_argument, 0, OPT_HOST },
    { "port", required_argument, 0, OPT_PORT },
    { "url", required_argument, 0, OPT_URL },
    { "method", required_argument, 0, OPT_METHOD },
    { "header", required_argument, 0, OPT_HEADER },
    { "size", required_argument, 0, OPT_SIZE },
    { "push", no_argument, 0, OPT_PUSH },
    { "path", required_argument, 0, OPT_PATH },
    { "pipeline", required_argument, 0, OPT_PIPELINE },
    { "rate", required_argument, 0, OPT_RATE },
    { "conns", required_argument, 0, OPT_CONNS },
    { "procs", required_argument, 0, OPT_PROCS },
    { "loops", required_argument, 0, OPT_LOOPS },
    { "backend", required_argument, 0, OPT_BACKEND },
    { "source", required_argument, 0, OPT_SOURCE },
    { "connect-rate", required_argument, 0, OPT_CRATE },
    { "connect-timeout", required_argument, 0, OPT_CTIMEOUT },
    { "retries", required_argument, 0, OPT_RETRIES },
    { "connect-window", required_argument, 0, OPT_CWINDOW },
    { "duration", required_argument, 0, OPT_DURATION },
    { "warmup", required_argument, 0, OPT_WARMUP },
    { "start-at", required_argument, 0, OPT_START_AT },
    { "interval", required_argument, 0, OPT_INTERVAL },
    { "grace", required_argument, 0, OPT_GRACE },
    { "json", required_argument, 0, OPT_JSON },
    { "percentiles", required_argument, 0, OPT_PERCENTILES },
    { "quiet", no_argument, 0, OPT_QUIET },
    { "help", no_argument, 0, OPT_HELP },
    { 0, 0, 0, 0 },
};

#define MAX_HEADERS 32

typedef struct bench_flags {
    const char *host, *url, *method, *source, *ws_path;
    const char *headers[MAX_HEADERS];
    unsigned nheaders;
    uint16_t port;
    bool port_set, procs_set, window_set, loops_set;
} bench_flags_t;

static int bad(const char *flag, const char *val, const char *want)
{
    fprintf(stderr, "c1m bench: bad value '%s' for %s: %s\n", val, flag, want);
    return 2;
}

/* ---- target: --host/--port or --url ---------------------------------------- */

static int resolve4(const char *host, uint16_t port, struct sockaddr_in *out)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &out->sin_addr) == 1)
        return 0;
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
    if (getaddrinfo(host, NULL, &hints, &res))
        return -EINVAL;
    out->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

/* http://HOST[:PORT][/PATH] -> host, port, path (pointers into buf). */
static int parse_url(const char *url, char *buf, size_t len, char **host, uint16_t *port,
                     const char **path)
{
    if (strncasecmp(url, "http://", 7)) {
        fprintf(stderr, "c1m bench: bad --url '%s': %s\n", url,
                strncasecmp(url, "https://", 8) ? "want http://HOST[:PORT]/PATH"
                                                : "https is not supported (plain HTTP/1.1 only)");
        return -EINVAL;
    }
    snprintf(buf, len, "%s", url + 7);
    char *slash = strchr(buf, '/');
    *path = slash ? url + 7 + (slash - buf) : "/";
    if (slash)
        *slash = '\0';
    *host = buf;
    *port = 80;
    char *colon = strrchr(buf, ':');
    if (colon) {
        *colon = '\0';
        if (c1m_port_parse(colon + 1, port)) {
            fprintf(stderr, "c1m bench: bad --url '%s': bad port '%s' (a port number from 1 to 65535)\n",
                    url, colon + 1);
            return -EINVAL;
        }
    }
    if (!**host || strpbrk(*host, "@?# ")) {
        fprintf(stderr, "c1m bench: bad --url '%s': want http://HOST[:PORT]/PATH\n", url);
        return -EINVAL;
    }
    return 0;
}

static bool has_header(const bench_flags_t *fl, const char *name)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < fl->nheaders; i++)
        if (!strncasecmp(fl->headers[i], name, n) && fl->headers[i][n] == ':')
            return true;
    return false;
}

static int build_request(c1m_bench_cfg_t *cfg, const bench_flags_t *fl, const char *hostport,
                         const char *path)
{
    const char *method = fl->method ? fl->method : "GET";
    size_t cap = 512 + strlen(path) + strlen(hostport) + strlen(method);
    for (unsigned i = 0; i < fl->nheaders; i++)
        cap += strlen(fl->headers[i]) + 2;
    char *r = malloc(cap);
    if (!r)
        return -ENOMEM;
    size_t n = (size_t)snprintf(r, cap, "%s %s HTTP/1.1\r\n", method, path);
    if (!has_header(fl, "host"))
        n += (size_t)snprintf(r + n, cap - n, "Host: %s\r\n", hostport);
    if (!has_header(fl, "user-agent"))
        n += (size_t)snprintf(r + n, cap - n, "User-Agent: c1m-bench\r\n");
    bool body_method = !strcasecmp(method, "POST") || !strcasecmp(method, "PUT") ||
                       !strcasecmp(method, "PATCH");
    if (body_method && !has_header(fl, "content-length"))
        n += (size_t)snprintf(r + n, cap - n, "Content-Length: 0\r\n");
    for (unsigned i = 0; i < fl->nheaders; i++)
        n += (size_t)snprintf(r + n, cap - n, "%s\r\n", fl->headers[i]);
    n += (size_t)snprintf(r + n, cap - n, "\r\n");
    cfg->request = r;
    cfg->request_len = n;
    cfg->head_method = !strcasecmp(method, "HEAD");
    return 0;
}

static int setup_target(c1m_bench_cfg_t *cfg, const bench_flags_t *fl)
{
    char buf[300], hostport[320];
    char *host = (char *)(fl->host ? fl->host : "127.0.0.1");
    uint16_t port = fl->port_set ? fl->port : 8972;
    const char *path = "/";
    if (fl->url) {
        if (parse_url(fl->url, buf, sizeof buf, &host, &port, &path) < 0)
            return 2;
        if (fl->port_set || fl->host) {
            fprintf(stderr, "c1m bench: give either --url or --host/--port\n");
            return 2;
        }
    }
    if (resolve4(host, port, &cfg->dst) < 0) {
        fprintf(stderr, "c1m bench: cannot resolve '%s' to an IPv4 address\n", host);
        return 2;
    }
    snprintf(hostport, sizeof hostport, port == 80 ? "%s" : "%s:%u", host, port);
    if (fl->url)
        snprintf(cfg->target, sizeof cfg->target, "%s", fl->url);
    else
        snprintf(cfg->target, sizeof cfg->target, "%.255s:%u", host, port);
    if (cfg->proto == C1M_BENCH_HTTP && build_request(cfg, fl, hostport, path) < 0)
        return 1;
    if (cfg->proto == C1M_BENCH_WS) {
        const char *p = fl->ws_path ? fl->ws_path : cfg->ws_push ? "/ws/push" : "/ws";
        char *r = malloc(512 + strlen(p) + strlen(hostport));
        if (!r)
            return 1;
        int n = sprintf(r, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\nUser-Agent: c1m-bench\r\n\r\n", p, hostport);
        cfg->request = r;
        cfg->request_len = (size_t)n;
        snprintf(cfg->target, sizeof cfg->target, "ws://%.250s%.40s", hostport, p);
    }
    return 0;
}

/* ---- --start-at ------------------------------------------------------------ */

static int parse_start_at(const char *s, uint64_t *out_ns)
{
    uint64_t now = c1m_wall_ns();
    if (*s == '+') {
        uint64_t us;
        if (c1m_parse_duration_us(s + 1, &us))
            return -EINVAL;
        *out_ns = now + us * 1000;
        return 0;
    }
    if (*s == '@') {
        char *end;
        double t = strtod(s + 1, &end);
        if (*end || end == s + 1 || t < 0)
            return -EINVAL;
        *out_ns = (uint64_t)(t * 1e9);
        return 0;
    }
    unsigned h, m, sec = 0;
    char extra;
    int k = sscanf(s, "%u:%u:%u%c", &h, &m, &sec, &extra);
    if ((k != 2 && k != 3) || h > 23 || m > 59 || sec > 60)
        return -EINVAL;
    time_t t = (time_t)(now / 1000000000u);
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = (int)h;
    tm.tm_min = (int)m;
    tm.tm_sec = (int)sec;
    time_t at = mktime(&tm);
    if (at == (time_t)-1)
        return -EINVAL;
    *out_ns = (uint64_t)at * 1000000000u;
    return 0;
}

/* ---- pre-flight ---------------------------------------------------------------- */

/* On uring a connection is a slot of its loop's ring, not an open file:
 * each process gets as many loops (rings) as its share needs. */
static int check_rings(c1m_bench_cfg_t *cfg)
{
    uint64_t per_ring = c1m__uring_client_conns_per_ring();
    uint64_t first, per_proc;
    c1m_split_range(cfg->conns, 0, cfg->procs, &first, &per_proc); /* the largest share */
    uint64_t need = (per_proc + per_ring - 1) / per_ring;
    if (need > 1024) {
        fprintf(stderr, "c1m bench: %lu connections per process need %lu rings of %lu (more "
                        "than 1,024 loops): use more --procs\n", (unsigned long)per_proc,
                (unsigned long)need, (unsigned long)per_ring);
        return 1;
    }
    if (need > cfg->loops) {
        c1m_info("uring: %lu connections per process need %lu rings of %lu direct descriptors "
                 "(RLIMIT_NOFILE): %lu loops instead of %u", (unsigned long)per_proc,
                 (unsigned long)need, (unsigned long)per_ring, (unsigned long)need, cfg->loops);
        cfg->loops = (uint32_t)need;
    }
    c1m_fd_budget_t b;
    c1m_fd_budget(cfg->loops, &b);
    if (b.per_process == 0) {
        fprintf(stderr, "c1m bench: %u loops need more than the %lu open files this machine "
                        "allows per process; use fewer --loops\n", cfg->loops,
                (unsigned long)b.nofile);
        return 1;
    }
    return 0;
}

static int check_procs(c1m_bench_cfg_t *cfg, bool procs_set)
{
    if (cfg->backend == C1M_BACKEND_URING)
        return check_rings(cfg);
    c1m_fd_budget_t b;
    c1m_fd_budget(cfg->loops, &b);
    if (b.per_process == 0) {
        fprintf(stderr, "c1m bench: %u loops need more than the %lu open files this machine "
                        "allows per process; use fewer --loops\n", cfg->loops,
                (unsigned long)b.nofile);
        return 1;
    }
    uint64_t need = (cfg->conns + b.per_process - 1) / b.per_process;
    if (!procs_set) {
        cfg->procs = (uint32_t)(need ? need : 1);
        return 0;
    }
    if (cfg->procs < need) {
        fprintf(stderr,
                "c1m bench: --conns %lu does not fit in %u process%s: this machine allows %lu "
                "open files per process (RLIMIT_NOFILE), about %lu connections each; "
                "%lu connections need at least %lu processes (--procs %lu, or leave --procs "
                "out to have it chosen)\n",
                (unsigned long)cfg->conns, cfg->procs, cfg->procs == 1 ? "" : "es",
                (unsigned long)b.nofile, (unsigned long)b.per_process,
                (unsigned long)cfg->conns, (unsigned long)need, (unsigned long)need);
        return 1;
    }
    return 0;
}

static int check_sources(c1m_bench_cfg_t *cfg)
{
    if (!cfg->src.naddrs) {
        long lo = 32768, hi = 60999;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (f) {
            if (fscanf(f, "%ld %ld", &lo, &hi) != 2)
                lo = 32768, hi = 60999;
            fclose(f);
        }
        uint64_t range = hi >= lo ? (uint64_t)(hi - lo + 1) : 0;
        if (cfg->conns > range) {
            fprintf(stderr, "c1m bench: %lu connections to one non-loopback target need more "
                            "than the %lu ports of net.ipv4.ip_local_port_range (%ld-%ld): give "
                            "several source addresses with --source A-B\n",
                    (unsigned long)cfg->conns, (unsigned long)range, lo, hi);
            return 1;
        }
        return 0; /* the kernel picks ports (slower at scale) */
    }
    if (ntohl(cfg->dst.sin_addr.s_addr) >> 24 == 127 &&
        (cfg->src.first >> 24 != 127 || (cfg->src.first + cfg->src.naddrs - 1) >> 24 != 127)) {
        fprintf(stderr, "c1m bench: --source must lie in 127.0.0.0/8 for a loopback target\n");
        return 1;
    }
    cfg->src.skip_port = ntohs(cfg->dst.sin_port);
    uint64_t cap = c1m_srcaddr_capacity(&cfg->src);
    uint64_t want = cfg->conns * (cfg->retries + 1ull);
    if (cap < want) {
        fprintf(stderr, "c1m bench: --source offers %lu (address, port) pairs (%u addresses x "
                        "%u ports) but %lu connections x %u attempts need %lu: give a wider "
                        "range (e.g. 127.0.0.2-127.0.0.254) or fewer --retries\n",
                (unsigned long)cap, cfg->src.naddrs, c1m_srcaddr_ports(&cfg->src),
                (unsigned long)cfg->conns, cfg->retries + 1, (unsigned long)want);
        return 1;
    }
    return 0;
}

static int check_memory(const c1m_bench_cfg_t *cfg)
{
    bool loopback = ntohl(cfg->dst.sin_addr.s_addr) >> 24 == 127;
    /* ~4 KiB of kernel memory per socket (measured here); a loopback server
     * holds the other end on this machine too. */
    uint64_t per_conn = 4096 * (loopback ? 2 : 1) + 128 + 16ull * cfg->pipeline;
    uint64_t need = cfg->conns * per_conn;
    uint64_t avail = c1m_proc_mem_available();
    if (!avail)
        return 0;
    if (need > avail) {
        fprintf(stderr, "c1m bench: %lu connections need about %.1f GiB of memory (about 4 KiB "
                        "of kernel memory per socket%s) but only %.1f GiB is available\n",
                (unsigned long)cfg->conns, (double)need / (1 << 30),
                loopback ? ", both ends on this machine" : "", (double)avail / (1 << 30));
        return 1;
    }
    if (need > avail / 10 * 8)
        c1m_warn("%lu connections need about %.1f GiB of the %.1f GiB available",
                 (unsigned long)cfg->conns, (double)need / (1 << 30), (double)avail / (1 << 30));
    return 0;
}

static void check_somaxconn(c1m_bench_cfg_t *cfg, bool window_set)
{
    long somaxconn = c1m_proc_read_long("/proc/sys/net/core/somaxconn", 4096);
    uint64_t loops = (uint64_t)cfg->procs * cfg->loops;
    if (!window_set) {
        /* keep the SYNs in flight below what one accept queue can hold, so
         * that a slow acceptor drops none (a dropped SYN costs 1 s) */
        uint64_t w = (uint64_t)somaxconn / 2 / loops;
        /* ws: a connect is in flight until its 101, and an upgrade costs
         * the server far more than an accept: no more handshakes waiting
         * than a busy server answers well within --connect-timeout */
        if (cfg->proto == C1M_BENCH_WS && w > C1M_BENCH_WS_WINDOW / loops)
            w = C1M_BENCH_WS_WINDOW / loops;
        cfg->connect_window = (uint32_t)(w < 8 ? 8 : w > 1024 ? 1024 : w);
    }
    if (somaxconn < 1024 && cfg->conns > (uint64_t)somaxconn)
        c1m_warn("net.core.somaxconn is %ld: a server's accept queue holds at most that many "
                 "connections, so the ramp is limited to %u connects in flight per loop",
                 somaxconn, cfg->connect_window);
}

static int preflight(c1m_bench_cfg_t *cfg, const bench_flags_t *fl)
{
    if (cfg->backend == C1M_BACKEND_AUTO) {
        char why[512];
        cfg->backend = c1m__backend_resolve(C1M_BACKEND_AUTO, true, NULL, why, sizeof why);
        c1m_info("%s", why);
    } else if (cfg->backend == C1M_BACKEND_URING) {
        char why[256];
        if (c1m_uring_probe_client(why, sizeof why) < 0) {
            fprintf(stderr, "c1m bench: --backend uring: %s\n", why);
            return 1;
        }
    }
    if (check_procs(cfg, fl->procs_set) || check_sources(cfg) || check_memory(cfg))
        return 1;
    check_somaxconn(cfg, fl->window_set);
    if (cfg->conns < (uint64_t)cfg->procs * cfg->loops)
        c1m_warn("%u procs x %u loops for %lu connections: some loops get none", cfg->procs,
                 cfg->loops, (unsigned long)cfg->conns);
    return 0;
}

/* ---- flags ------------------------------------------------------------------------ */

static int parse_duration_flag(const char *flag, const char *arg, uint64_t min_us,
                               uint64_t *out)
{
    return c1m_flag_duration("bench", flag, arg, min_us, 7 * 86400000000ull, out);
}

static int parse_opt(int opt, const char *arg, c1m_bench_cfg_t *cfg, bench_flags_t *fl)
{
    uint64_t v;
    switch (opt) {
    case OPT_PROTO:
        if (!strcmp(arg, "ts8"))
            cfg->proto = C1M_BENCH_TS8;
        else if (!strcmp(arg, "echo"))
            cfg->proto = C1M_BENCH_ECHO;
        else if (!strcmp(arg, "http"))
            cfg->proto = C1M_BENCH_HTTP;
        else if (!strcmp(arg, "ws"))
            cfg->proto = C1M_BENCH_WS;
        else
            return bad("--proto", arg, "ts8, echo, http or ws");
        return 0;
    case OPT_PUSH:
        cfg->ws_push = true;
        return 0;
    case OPT_PATH:
        if (*arg != '/' || strpbrk(arg, " \r\n"))
            return bad("--path", arg, "a path such as /ws");
        fl->ws_path = arg;
        return 0;
    case OPT_HOST:
        fl->host = arg;
        return 0;
    case OPT_PORT:
        if (c1m_flag_port("bench", "--port", arg, &fl->port))
            return 2;
        fl->port_set = true;
        return 0;
    case OPT_URL:
        fl->url = arg;
        cfg->proto = C1M_BENCH_HTTP;
        return 0;
    case OPT_METHOD:
        if (!*arg || strpbrk(arg, " \r\n:/"))
            return bad("--method", arg, "an HTTP method such as GET or HEAD");
        fl->method = arg;
        return 0;
    case OPT_HEADER:
        if (!strchr(arg, ':') || strpbrk(arg, "\r\n") || *arg == ':')
            return bad("--header", arg, "'Name: value'");
        if (fl->nheaders == MAX_HEADERS)
            return bad("--header", arg, "at most 32 headers");
        fl->headers[fl->nheaders++] = arg;
        return 0;
    case OPT_SIZE:
        if (c1m_flag_size("bench", "--size", arg, 1, 16u << 20, &v))
            return 2;
        cfg->size = (uint32_t)v;
        return 0;
    case OPT_PIPELINE:
        if (c1m_flag_count("bench", "--pipeline", arg, 1, 1024, &v))
            return 2;
        cfg->pipeline = (uint32_t)v;
        return 0;
    case OPT_RATE:
        if (c1m_flag_count("bench", "--rate", arg, 1, 1000000000, &v))
            return 2;
        cfg->rate = v;
        return 0;
    case OPT_CONNS:
        if (c1m_flag_count("bench", "--conns", arg, 1, 10000000, &v))
            return 2;
        cfg->conns = v;
        return 0;
    case OPT_PROCS:
        if (c1m_flag_count("bench", "--procs", arg, 1, 4096, &v))
            return 2;
        cfg->procs = (uint32_t)v;
        fl->procs_set = true;
        return 0;
    case OPT_LOOPS:
        if (c1m_flag_count("bench", "--loops", arg, 1, 1024, &v))
            return 2;
        cfg->loops = (uint32_t)v;
        fl->loops_set = true;
        return 0;
    case OPT_BACKEND:
        if (c1m__backend_parse(arg, &cfg->backend) < 0)
            return bad("--backend", arg, "auto, epoll or uring");
        return 0;
    case OPT_SOURCE:
        if (c1m_srcaddr_parse(&cfg->src, arg) < 0)
            return bad("--source", arg, "an IPv4 address, a range A-B or a CIDR block A/n");
        fl->source = arg;
        return 0;
    case OPT_CRATE:
        if (c1m_flag_count("bench", "--connect-rate", arg, 1, 100000000, &v))
            return 2;
        cfg->connect_rate = v;
        return 0;
    case OPT_CTIMEOUT:
        return parse_duration_flag("--connect-timeout", arg, 1000, &cfg->connect_timeout_us);
    case OPT_RETRIES:
        if (c1m_flag_count("bench", "--retries", arg, 0, 100, &v))
            return 2;
        cfg->retries = (uint32_t)v;
        return 0;
    case OPT_CWINDOW:
        if (c1m_flag_count("bench", "--connect-window", arg, 1, 1000000, &v))
            return 2;
        cfg->connect_window = (uint32_t)v;
        fl->window_set = true;
        return 0;
    case OPT_DURATION:
        return parse_duration_flag("--duration", arg, 1000, &cfg->duration_us);
    case OPT_WARMUP:
        return parse_duration_flag("--warmup", arg, 0, &cfg->warmup_us);
    case OPT_INTERVAL:
        return parse_duration_flag("--interval", arg, 100000, &cfg->interval_us);
    case OPT_GRACE:
        return parse_duration_flag("--grace", arg, 0, &cfg->grace_us);
    case OPT_START_AT:
        if (parse_start_at(arg, &cfg->start_at_ns) < 0)
            return bad("--start-at", arg, "HH:MM[:SS] (today, local time), @UNIXSECONDS or +10s");
        return 0;
    case OPT_JSON:
        cfg->json_path = arg;
        return 0;
    case OPT_PERCENTILES:
        cfg->hgrm_path = arg;
        return 0;
    case OPT_QUIET:
        cfg->quiet = true;
        return 0;
    default: /* getopt said what was wrong */
        return c1m_usage_error("bench");
    }
}

static void cfg_defaults(c1m_bench_cfg_t *cfg)
{
    *cfg = (c1m_bench_cfg_t){
        .proto = C1M_BENCH_TS8, .conns = 100, .procs = 1, .loops = 1,
        .connect_timeout_us = 5000000, .retries = 3, .pipeline = 1, .size = 64,
        .duration_us = 10000000, .warmup_us = 1000000, .interval_us = 5000000,
        .grace_us = 10000000,
    };
}

int c1m_cmd_bench(int argc, char **argv)
{
    c1m_bench_cfg_t cfg;
    bench_flags_t fl = { 0 };
    cfg_defaults(&cfg);
    if (c1m_flag_backend_default("bench", &cfg.backend))
        return 2;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", bench_opts, NULL)) != -1) {
        if (opt == OPT_HELP || opt == 'h') {
            bench_usage(stdout);
            return 0;
        }
        int rc = parse_opt(opt, optarg, &cfg, &fl);
        if (rc)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "c1m bench: unexpected argument '%s'\n", argv[optind]);
        return c1m_usage_error("bench");
    }
    if (cfg.proto != C1M_BENCH_WS && (cfg.ws_push || fl.ws_path)) {
        fprintf(stderr, "c1m bench: --push and --path go with --proto ws\n");
        return 2;
    }
    if (cfg.ws_push && cfg.rate) {
        fprintf(stderr, "c1m bench: --push sends nothing: --rate does not apply\n");
        return 2;
    }
    if (cfg.proto != C1M_BENCH_HTTP && (fl.method || fl.nheaders)) {
        fprintf(stderr, "c1m bench: --method and --header go with --proto http / --url\n");
        return 2;
    }
    c1m_log_set_tag("bench");
    int rc = setup_target(&cfg, &fl);
    if (rc)
        return rc;
    if (!fl.source)
        c1m_srcaddr_default(&cfg.src, cfg.dst.sin_addr.s_addr);
    if (preflight(&cfg, &fl))
        return 1;
    rc = c1m_bench_run(&cfg);
    free(cfg.request);
    return rc;
}
