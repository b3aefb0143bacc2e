/* c1m serve: flags -> c1m_server_cfg_t -> an architecture. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/parse.h"
#include <sys/socket.h>

#include "engine/listener.h"
#include "tools/prefork.h"
#include "engine/server.h"
#include "tools/serve_run.h"
#include "engine/timeouts.h"
#include "proto/echo.h"
#include "proto/http1/app.h"
#include "proto/http1/metrics.h"
#include "proto/http1/server.h"
#include "tools/cmd.h"

static void serve_usage(FILE *f)
{
    fprintf(f,
"usage: c1m serve [OPTIONS]\n"
"\n"
"Serve a protocol under one of the seed article's architectures.\n"
"\n"
"  --arch NAME          single | reuseport | dispatch | exclusive | prefork | workerpool\n"
"                       (default single)\n"
"  --loops L            event loops (threads) for reuseport, dispatch, exclusive (default 2)\n"
"  --procs P            processes; P > 1 runs a prefork supervisor whose children run\n"
"                       --arch (default: 1; with --arch prefork: 2)\n"
"  --child-arch NAME    what each prefork child runs (default single, or exclusive\n"
"                       when --loops > 1)\n"
"  --prefork-reuseport  each prefork child binds its own SO_REUSEPORT listener instead\n"
"                       of inheriting the parent's\n"
"  --workers W          workerpool threads (default 4)\n"
"  --queue N            workerpool bounded queue length (default 1024)\n"
"  --balance MODE       dispatch: rr | least (least connections) (default rr)\n"
"  --proto NAME         echo | ts8 | http (default echo)\n"
"  --port N             TCP port (default 8972, the seed's; 8998 for http, the seed's)\n"
"  --timeouts off       turn off all four timeouts (the defaults for http: read 5s,\n"
"                       write 10s, header 10s, idle 10s, the seed's Go server)\n"
"  --access-log         http: one line per request on stdout (default off)\n"
"  --cpu-affinity MODE  auto = pin each loop thread to its own CPU; off (default)\n"
"  --http-max-head SIZE http: largest request head (request line + fields) (8k)\n"
"  --http-max-body SIZE http: largest request body (1m)\n"
"  --push-every DUR     http: broadcast a message to every /ws/push subscriber every\n"
"                       DUR (sequence number + timestamp; one publisher per process)\n"
"  --push-size SIZE     http: size of each pushed message (default 64, at least 16)\n"
"  --ws-slow MODE       http: a WebSocket subscriber whose unsent output would pass\n"
"                       --ws-out-limit is closed (close, 1008; default) or the\n"
"                       message is skipped for it (skip)\n"
"  --ws-out-limit SIZE  http: unsent + queued bytes per WebSocket subscriber (1m)\n"
"  --ws-ping DUR        http: WebSocket keep-alive ping after DUR without input; no\n"
"                       answer within another DUR closes (default: --idle-timeout,\n"
"                       or 30s when it is off)\n"
"  --read-timeout DUR   close a connection that makes no progress reading for DUR\n"
"  --write-timeout DUR  close a connection whose output stays unsent for DUR\n"
"  --idle-timeout DUR   close a connection with no request in progress for DUR\n"
"  --header-timeout DUR close a connection whose request header is not complete DUR\n"
"                       after its first byte (echo: each read is a whole request;\n"
"                       ts8: a frame's header is its 8 bytes). DUR: 500ms, 5s, 2m;\n"
"                       0 = off (the default for echo and ts8)\n"
"  --timers MODE        how connection deadlines are kept: wheel (per-loop timing\n"
"                       wheel, lazy re-arm; default) | heap (a heap per loop) |\n"
"                       global-heap (one heap and one mutex for all loops, Go 1.9)\n"
"  --bind ADDR          address to listen on (default 0.0.0.0)\n"
"  --edge               edge-triggered epoll (default level-triggered)\n"
"  --max-conns N        connections to hold in total (default: what the open-file\n"
"                       limit allows per process); says how many processes N needs\n"
"  --out-high SIZE      pause reading a connection above this much unsent output (256k)\n"
"  --out-low SIZE       resume reading below this (64k)\n"
"  --work KIND:DUR      simulated handler work per message: sleep:1ms or spin:50us\n"
"  --drain-timeout DUR  on SIGTERM, wait at most this long for output to flush (5s)\n"
"  --metrics-interval DUR  metrics line period on stderr (default 5s)\n"
"  --quiet              no periodic metrics\n"
"  --help               this text\n"
"\n"
"SIGTERM or SIGINT: stop accepting, answer what has arrived, flush, exit 0.\n");
}

enum {
    OPT_ARCH = 256, OPT_LOOPS, OPT_PROCS, OPT_CHILD_ARCH, OPT_PREFORK_REUSEPORT, OPT_WORKERS,
    OPT_QUEUE, OPT_BALANCE, OPT_PROTO, OPT_PORT, OPT_BIND, OPT_EDGE, OPT_MAX_CONNS,
    OPT_OUT_HIGH, OPT_OUT_LOW, OPT_WORK, OPT_DRAIN, OPT_METRICS, OPT_QUIET, OPT_HELP,
    OPT_TIMEOUTS_OFF, OPT_ACCESS_LOG, OPT_CPU_AFFINITY, OPT_HTTP_MAX_HEAD, OPT_HTTP_MAX_BODY,
    OPT_READ_TIMEOUT, OPT_WRITE_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_HEADER_TIMEOUT, OPT_TIMERS,
    OPT_PUSH_EVERY, OPT_PUSH_SIZE, OPT_WS_SLOW, OPT_WS_OUT_LIMIT, OPT_WS_PING,
};

static const struct option serve_opts[] = {
    { "arch", required_argument, 0, OPT_ARCH },
    { "loops", required_argument, 0, OPT_LOOPS },
    { "procs", required_argument, 0, OPT_PROCS },
    { "child-arch", required_argument, 0, OPT_CHILD_ARCH },
    { "prefork-reuseport", no_argument, 0, OPT_PREFORK_REUSEPORT },
    { "workers", required_argument, 0, OPT_WORKERS },
    { "queue", required_argument, 0, OPT_QUEUE },
    { "balance", required_argument, 0, OPT_BALANCE },
    { "proto", required_argument, 0, OPT_PROTO },
    { "port", required_argument, 0, OPT_PORT },
    { "bind", required_argument, 0, OPT_BIND },
    { "edge", no_argument, 0, OPT_EDGE },
    { "max-conns", required_argument, 0, OPT_MAX_CONNS },
    { "out-high", required_argument, 0, OPT_OUT_HIGH },
    { "out-low", required_argument, 0, OPT_OUT_LOW },
    { "work", required_argument, 0, OPT_WORK },
    { "drain-timeout", required_argument, 0, OPT_DRAIN },
    { "timeouts", required_argument, 0, OPT_TIMEOUTS_OFF },
    { "access-log", no_argument, 0, OPT_ACCESS_LOG },
    { "cpu-affinity", required_argument, 0, OPT_CPU_AFFINITY },
    { "http-max-head", required_argument, 0, OPT_HTTP_MAX_HEAD },
    { "http-max-body", required_argument, 0, OPT_HTTP_MAX_BODY },
    { "read-timeout", required_argument, 0, OPT_READ_TIMEOUT },
    { "write-timeout", required_argument, 0, OPT_WRITE_TIMEOUT },
    { "idle-timeout", required_argument, 0, OPT_IDLE_TIMEOUT },
    { "header-timeout", required_argument, 0, OPT_HEADER_TIMEOUT },
    { "timers", required_argument, 0, OPT_TIMERS },
    { "push-every", required_argument, 0, OPT_PUSH_EVERY },
    { "push-size", required_argument, 0, OPT_PUSH_SIZE },
    { "ws-slow", required_argument, 0, OPT_WS_SLOW },
    { "ws-out-limit", required_argument, 0, OPT_WS_OUT_LIMIT },
    { "ws-ping", required_argument, 0, OPT_WS_PING },
    { "metrics-interval", required_argument, 0, OPT_METRICS },
    { "quiet", no_argument, 0, OPT_QUIET },
    { "help", no_argument, 0, OPT_HELP },
    { 0, 0, 0, 0 },
};

static int bad(const char *flag, const char *val, const char *want)
{
    fprintf(stderr, "c1m serve: bad value '%s' for %s: %s\n", val, flag, want);
    return 2;
}

int c1m_cmd_serve(int argc, char **argv)
{
    c1m_server_cfg_t cfg;
    c1m_server_cfg_defaults(&cfg);
    cfg.proto = &c1m_proto_echo;
    /* http: the timer flags keep their values; the others get the seed's
     * defaults below (a sentinel tells which were given). */
    uint32_t tmo_default[C1M_TO__COUNT];
    for (int k = 0; k < C1M_TO__COUNT; k++) {
        tmo_default[k] = cfg.loop.timeout_ms[k];
        cfg.loop.timeout_ms[k] = UINT32_MAX;
    }
    bool http = false, timeouts_off = false, port_set = false, ws_flags = false;
    c1m_http_app_cfg_t http_cfg = { 0 };
    int arch = C1M_ARCH_SINGLE, child_arch = -1;
    bool loops_set = false, procs_set = false;
    uint64_t v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", serve_opts, NULL)) != -1) {
        switch (opt) {
        case OPT_ARCH:
            if ((arch = c1m_arch_parse(optarg)) < 0)
                return bad("--arch", optarg,
                           "one of single, reuseport, dispatch, exclusive, prefork, workerpool");
            break;
        case OPT_CHILD_ARCH:
            if ((child_arch = c1m_arch_parse(optarg)) < 0 || child_arch == C1M_ARCH_PREFORK)
                return bad("--child-arch", optarg,
                           "one of single, reuseport, dispatch, exclusive, workerpool");
            break;
        case OPT_LOOPS:
            if (c1m_parse_count(optarg, 1, 1024, &v))
                return bad("--loops", optarg, "a number from 1 to 1024");
            cfg.loops = (uint32_t)v;
            loops_set = true;
            break;
        case OPT_PROCS:
            if (c1m_parse_count(optarg, 1, 4096, &v))
                return bad("--procs", optarg, "a number from 1 to 4096");
            cfg.procs = (uint32_t)v;
            procs_set = true;
            break;
        case OPT_PREFORK_REUSEPORT:
            cfg.prefork_reuseport = true;
            break;
        case OPT_WORKERS:
            if (c1m_parse_count(optarg, 1, 4096, &v))
                return bad("--workers", optarg, "a number from 1 to 4096");
            cfg.workers = (uint32_t)v;
            break;
        case OPT_QUEUE:
            if (c1m_parse_count(optarg, 1, 1u << 24, &v))
                return bad("--queue", optarg, "a number from 1 to 16M");
            cfg.queue_cap = (uint32_t)v;
            break;
        case OPT_BALANCE:
            if (!strcmp(optarg, "rr") || !strcmp(optarg, "round-robin"))
                cfg.balance = C1M_BALANCE_RR;
            else if (!strcmp(optarg, "least") || !strcmp(optarg, "least-conns"))
                cfg.balance = C1M_BALANCE_LEAST;
            else
                return bad("--balance", optarg, "rr or least");
            break;
        case OPT_PROTO:
            if (!strcmp(optarg, "echo"))
                cfg.proto = &c1m_proto_echo;
            else if (!strcmp(optarg, "ts8"))
                cfg.proto = &c1m_proto_ts8;
            else if (!strcmp(optarg, "http"))
                cfg.proto = &c1m_proto_http;
            else
                return bad("--proto", optarg, "echo, ts8 or http");
            http = cfg.proto == &c1m_proto_http;
            break;
        case OPT_PORT:
            if (c1m_parse_count(optarg, 1, 65535, &v))
                return bad("--port", optarg, "a port from 1 to 65535");
            cfg.port = (uint16_t)v;
            port_set = true;
            break;
        case OPT_BIND: {
            struct sockaddr_storage ss;
            if (c1m_sockaddr_parse(optarg, 0, &ss) < 0)
                return bad("--bind", optarg, "an IPv4 or IPv6 address literal");
            cfg.bind = optarg;
            break;
        }
        case OPT_EDGE:
            cfg.loop.edge_triggered = true;
            break;
        case OPT_MAX_CONNS:
            if (c1m_parse_count(optarg, 1, 100000000, &v))
                return bad("--max-conns", optarg, "a number such as 20000 or 1M");
            cfg.max_conns = v;
            break;
        case OPT_OUT_HIGH:
        case OPT_OUT_LOW:
            if (c1m_parse_size(optarg, 1, C1M_BUF_MAX, &v))
                return bad(opt == OPT_OUT_HIGH ? "--out-high" : "--out-low", optarg,
                           "a size such as 64k or 1m");
            if (opt == OPT_OUT_HIGH)
                cfg.loop.out_high = (uint32_t)v;
            else
                cfg.loop.out_low = (uint32_t)v;
            break;
        case OPT_WORK: {
            bool spin = !strncmp(optarg, "spin:", 5);
            if (!spin && strncmp(optarg, "sleep:", 6))
                return bad("--work", optarg, "sleep:DURATION or spin:DURATION");
            if (c1m_parse_duration_us(optarg + (spin ? 5 : 6), &v) || v > 10000000)
                return bad("--work", optarg, "a duration up to 10s, e.g. sleep:1ms");
            c1m_echo_set_work((uint32_t)v, spin);
            break;
        }
        case OPT_TIMEOUTS_OFF:
            if (strcmp(optarg, "off"))
                return bad("--timeouts", optarg, "off");
            timeouts_off = true;
            break;
        case OPT_CPU_AFFINITY:
            if (strcmp(optarg, "auto") && strcmp(optarg, "off"))
                return bad("--cpu-affinity", optarg, "auto or off");
            cfg.loop.pin_cpu = !strcmp(optarg, "auto");
            break;
        case OPT_ACCESS_LOG:
            http_cfg.access_log = true;
            break;
        case OPT_HTTP_MAX_HEAD:
            if (c1m_parse_size(optarg, 256, 1u << 20, &v))
                return bad("--http-max-head", optarg, "a size from 256 to 1m");
            http_cfg.limits.max_head = http_cfg.limits.max_request_line = (uint32_t)v;
            break;
        case OPT_PUSH_EVERY:
            if (c1m_parse_duration_us(optarg, &v) || v < 1000 || v > 3600000000ull)
                return bad("--push-every", optarg, "a duration from 1ms to 1h");
            http_cfg.ws.push_every_ms = (uint32_t)(v / 1000);
            ws_flags = true;
            break;
        case OPT_PUSH_SIZE:
            if (c1m_parse_size(optarg, 16, 16u << 20, &v))
                return bad("--push-size", optarg, "a size from 16 to 16m");
            http_cfg.ws.push_size = (uint32_t)v;
            ws_flags = true;
            break;
        case OPT_WS_SLOW:
            if (strcmp(optarg, "close") && strcmp(optarg, "skip"))
                return bad("--ws-slow", optarg, "close or skip");
            http_cfg.ws.slow = !strcmp(optarg, "skip") ? C1M_WS_SLOW_SKIP : C1M_WS_SLOW_CLOSE;
            ws_flags = true;
            break;
        case OPT_WS_OUT_LIMIT:
            if (c1m_parse_size(optarg, 1024, 1u << 30, &v))
                return bad("--ws-out-limit", optarg, "a size from 1k to 1g");
            http_cfg.ws.out_limit = (uint32_t)v;
            ws_flags = true;
            break;
        case OPT_WS_PING:
            if (c1m_parse_duration_us(optarg, &v) || v < 1000 || v > 3600000000ull)
                return bad("--ws-ping", optarg, "a duration from 1ms to 1h");
            http_cfg.ws_ping_ms = (uint32_t)(v / 1000);
            ws_flags = true;
            break;
        case OPT_HTTP_MAX_BODY:
            if (c1m_parse_size(optarg, 1, 1u << 30, &v))
                return bad("--http-max-body", optarg, "a size from 1 to 1g");
            http_cfg.limits.max_body = v;
            break;
        case OPT_READ_TIMEOUT:
        case OPT_WRITE_TIMEOUT:
        case OPT_IDLE_TIMEOUT:
        case OPT_HEADER_TIMEOUT: {
            static const struct { int opt; c1m_timeout_kind_t k; const char *flag; } tf[] = {
                { OPT_READ_TIMEOUT, C1M_TO_READ, "--read-timeout" },
                { OPT_WRITE_TIMEOUT, C1M_TO_WRITE, "--write-timeout" },
                { OPT_IDLE_TIMEOUT, C1M_TO_IDLE, "--idle-timeout" },
                { OPT_HEADER_TIMEOUT, C1M_TO_HEADER, "--header-timeout" },
            };
            int i = opt - OPT_READ_TIMEOUT;
            if (c1m_parse_duration_us(optarg, &v) || v / 1000 > C1M_TIMEOUT_MAX_MS ||
                (v && v < 1000))
                return bad(tf[i].flag, optarg, "a duration from 1ms to 12 days, or 0 (off)");
            cfg.loop.timeout_ms[tf[i].k] = (uint32_t)(v / 1000);
            break;
        }
        case OPT_TIMERS: {
            int m = c1m_timers_mode_parse(optarg);
            if (m < 0)
                return bad("--timers", optarg, "wheel, heap or global-heap");
            cfg.loop.timers = (c1m_timers_mode_t)m;
            break;
        }
        case OPT_DRAIN:
            if (c1m_parse_duration_us(optarg, &v) || v > 3600000000ull)
                return bad("--drain-timeout", optarg, "a duration such as 5s");
            cfg.loop.drain_ms = (uint32_t)(v / 1000);
            break;
        case OPT_METRICS:
            if (c1m_parse_duration_us(optarg, &v) || v < 100000)
                return bad("--metrics-interval", optarg, "a duration of at least 100ms");
            cfg.metrics_interval_ms = (uint32_t)(v / 1000);
            break;
        case OPT_QUIET:
            cfg.quiet = true;
            break;
        case OPT_HELP:
        case 'h':
            serve_usage(stdout);
            return 0;
        default:
            serve_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "c1m serve: unexpected argument '%s'\n\n", argv[optind]);
        serve_usage(stderr);
        return 2;
    }
    if (cfg.loop.out_low > cfg.loop.out_high) {
        fprintf(stderr, "c1m serve: --out-low must not exceed --out-high\n");
        return 2;
    }
    if (!loops_set && arch != C1M_ARCH_SINGLE && arch != C1M_ARCH_WORKERPOOL &&
        arch != C1M_ARCH_PREFORK)
        cfg.loops = 2;
    bool prefork = arch == C1M_ARCH_PREFORK || cfg.procs > 1;
    if (arch == C1M_ARCH_PREFORK) {
        if (!procs_set)
            cfg.procs = 2;
        if (child_arch < 0)
            child_arch = cfg.prefork_reuseport && cfg.loops > 1 ? C1M_ARCH_REUSEPORT
                         : cfg.loops > 1                      ? C1M_ARCH_EXCLUSIVE
                                                              : C1M_ARCH_SINGLE;
        arch = child_arch;
    } else if (child_arch >= 0) {
        fprintf(stderr, "c1m serve: --child-arch goes with --arch prefork\n");
        return 2;
    }
    if (cfg.prefork_reuseport && !prefork) {
        fprintf(stderr, "c1m serve: --prefork-reuseport goes with --arch prefork or --procs > 1\n");
        return 2;
    }
    cfg.arch = (c1m_arch_t)arch;
    /* the seed's Go server: read 5s, write 10s, header 10s, idle 10s */
    static const uint32_t http_tmo[C1M_TO__COUNT] = {
        [C1M_TO_READ] = 5000, [C1M_TO_WRITE] = 10000, [C1M_TO_IDLE] = 10000,
        [C1M_TO_HEADER] = 10000,
    };
    for (int k = 0; k < C1M_TO__COUNT; k++) {
        if (timeouts_off)
            cfg.loop.timeout_ms[k] = 0;
        else if (cfg.loop.timeout_ms[k] == UINT32_MAX)
            cfg.loop.timeout_ms[k] = http ? http_tmo[k] : tmo_default[k];
    }
    if (http) {
        if (!port_set)
            cfg.port = 8998;
        if (http_cfg.ws.push_every_ms && !http_cfg.ws.push_size)
            http_cfg.ws.push_size = 64;
        if (!http_cfg.ws_ping_ms)
            http_cfg.ws_ping_ms = cfg.loop.timeout_ms[C1M_TO_IDLE];
        if (c1m_http_app_setup(&http_cfg) < 0) {
            fprintf(stderr, "c1m serve: cannot set up the http application\n");
            return 1;
        }
        /* prefork: /metrics sums every child (slots for each thread, twice
         * over for restarted children) */
        unsigned per_proc = cfg.loops + cfg.workers + 2;
        if (prefork && c1m_http_metrics_share(C1M_MAX(64u, 2 * cfg.procs * per_proc)) < 0)
            c1m_warn("http: no shared memory for metrics: /metrics counts one child each");
    } else if (http_cfg.access_log || http_cfg.limits.max_head || http_cfg.limits.max_body ||
               ws_flags) {
        fprintf(stderr, "c1m serve: --access-log, --http-*, --push-* and --ws-* go with "
                        "--proto http\n");
        return 2;
    }
    c1m_log_set_tag("serve");
    char err[512];
    if (c1m_server_cfg_check(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "c1m serve: %s\n", err);
        return 1;
    }
    return prefork ? c1m_prefork_run(&cfg) : c1m_server_run(&cfg);
}
