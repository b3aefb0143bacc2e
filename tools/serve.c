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
#include "engine/prefork.h"
#include "engine/server.h"
#include "proto/echo.h"
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
"  --proto NAME         echo | ts8 (default echo)\n"
"  --port N             TCP port (default 8972, the seed's)\n"
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
            else
                return bad("--proto", optarg, "echo or ts8");
            break;
        case OPT_PORT:
            if (c1m_parse_count(optarg, 1, 65535, &v))
                return bad("--port", optarg, "a port from 1 to 65535");
            cfg.port = (uint16_t)v;
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
    c1m_log_set_tag("serve");
    char err[512];
    if (c1m_server_check_fit(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "c1m serve: %s\n", err);
        return 1;
    }
    return prefork ? c1m_prefork_run(&cfg) : c1m_server_run(&cfg);
}
