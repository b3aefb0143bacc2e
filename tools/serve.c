/* c1m serve: flags -> c1m_server_cfg_t -> an architecture. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/parse.h"
#include <sys/socket.h>

#include "engine/backend.h"
#include "engine/listener.h"
#include "proto/ws/bus.h"
#include "tools/prefork.h"
#include "engine/server.h"
#include "tools/serve_run.h"
#include "tools/upgrade.h"
#include "engine/timeouts.h"
#include "proto/echo.h"
#include "c1m/http.h"
#include "proto/http1/app.h"
#include "proto/http1/server.h"
#include "tools/cmd.h"
#include "tools/flags.h"

/* --backend auto: uring where the kernel allows it and the configuration
 * runs on it, else epoll; one line says which and why. What the uring
 * backend refuses (c1m_server_cfg_check) sends auto to epoll rather than
 * failing a command that runs on epoll. */
static void choose_backend(c1m_server_cfg_t *cfg)
{
    const char *unsupported = cfg->loop.edge_triggered ? "--edge (an epoll mode)" : NULL;
    char why[512], err[384];
    cfg->loop.backend = c1m__backend_resolve(C1M_BACKEND_AUTO, false, unsupported, why, sizeof why);
    if (cfg->loop.backend == C1M_BACKEND_URING && c1m_server_cfg_check(cfg, err, sizeof err) < 0) {
        cfg->loop.backend = C1M_BACKEND_EPOLL;
        if (c1m_server_cfg_check(cfg, NULL, 0) == 0)
            snprintf(why, sizeof why, "backend epoll (auto: io_uring refuses this configuration: %s)",
                     err);
        else
            cfg->loop.backend = C1M_BACKEND_URING; /* neither runs it: report uring's reason */
    }
    c1m_info("%s", why);
}

static void serve_usage(FILE *f)
{
    fprintf(f,
"usage: c1m serve [OPTIONS]\n"
"\n"
"Accept TCP connections and answer them (echo, ts8 or http) under one of six\n"
"server architectures, until SIGTERM or SIGINT.\n"
"\n"
"Architecture:\n"
"  --arch NAME          single | reuseport | dispatch | exclusive | prefork |\n"
"                       workerpool (default single)\n"
"  --loops N            event loops (threads) per process for reuseport, dispatch\n"
"                       and exclusive, 1 to 1024 (default 2 for those, else 1)\n"
"  --procs N            processes, 1 to 4096; above 1 a prefork supervisor runs N\n"
"                       children of --arch (default 1; with --arch prefork: 2)\n"
"  --child-arch NAME    what each prefork child runs (default single, or exclusive\n"
"                       when --loops > 1)\n"
"  --prefork-reuseport  each prefork child binds its own SO_REUSEPORT listener\n"
"                       instead of inheriting the parent's (default off)\n"
"  --workers N          workerpool threads, 1 to 4096 (default 4)\n"
"  --queue N            workerpool queue length, 1 to 16777216 (default 1024)\n"
"  --balance MODE       dispatch: rr (round robin) | least (fewest connections)\n"
"                       (default rr)\n"
"  --cpu-affinity MODE  auto (pin each loop thread to a CPU of its own) | off\n"
"                       (default off)\n"
"  --edge               edge-triggered epoll (default level-triggered)\n"
"  --backend NAME       auto | epoll | uring (io_uring: multishot accept into\n"
"                       direct descriptors, multishot recv into a buffer ring;\n"
"                       every architecture; --edge is epoll's, and auto\n"
"                       takes epoll for it).\n"
"                       auto: uring where the kernel allows it, else epoll, and\n"
"                       one line on stderr says which and why (default auto, or\n"
"                       $C1M_BACKEND when set)\n"
"Service:\n"
"  --proto NAME         echo | ts8 (8-byte timestamp echo) | http (default echo)\n"
"  --port N             TCP port, 1 to 65535 (default 8972; http: 8998)\n"
"  --bind ADDR          IPv4 or IPv6 address to listen on (default 0.0.0.0)\n"
"  --access-log         http: one line per request on stdout (default off)\n"
"  --http-max-head SIZE http: largest request head, 256 to 1MiB (default 8KiB)\n"
"  --http-max-body SIZE http: largest request body, 1 to 1GiB (default 1MiB)\n"
"  --work KIND:DUR      handler work per message, sleep:DUR or spin:DUR, DUR up to\n"
"                       10s (default none)\n"
"Connections and timeouts:\n"
"  --max-conns N        connections to hold in total, 1 to 100M (default: what the\n"
"                       open-file limit allows each process); says how many\n"
"                       processes N needs\n"
"  --out-high SIZE      pause reading a connection above this much unsent output,\n"
"                       1 to 1GiB (default 256KiB)\n"
"  --out-low SIZE       resume reading below this, 1 to 1GiB (default 64KiB)\n"
"WebSocket (http: GET /ws echo, GET /ws/push subscription):\n"
"  --push-every DUR     broadcast a message to every /ws/push subscriber every DUR,\n"
"                       1ms to 1h (sequence number + timestamp; one publisher per\n"
"                       process; prefork: one for all children) (default none)\n"
"  --push-size SIZE     size of each pushed message, 16 to 16MiB (default 64)\n"
"  --push-count N       stop publishing after N broadcasts, 1 to 4G (default: no\n"
"                       end)\n"
"  --ws-slow MODE       a subscriber whose unsent output would pass --ws-out-limit\n"
"                       is closed with 1008 (close) or skips the message (skip)\n"
"                       (default close)\n"
"  --ws-out-limit SIZE  unsent + queued bytes per subscriber, 1KiB to 1GiB\n"
"                       (default 1MiB)\n"
"  --ws-slow-grace DUR  close: a slow subscriber has DUR to read its backlog and\n"
"                       the 1008 frame behind it, then it is cut, 1ms to 1h\n"
"                       (default 1s)\n"
"  --ws-ping DUR        keep-alive ping after DUR without input, 1ms to 1h; no\n"
"                       answer within another DUR closes (default: --idle-timeout,\n"
"                       or 30s when it is off)\n"
"  --read-timeout DUR   close a connection that makes no progress reading for DUR\n"
"  --write-timeout DUR  close a connection whose output stays unsent for DUR\n"
"  --idle-timeout DUR   close a connection with no request in progress for DUR\n"
"  --header-timeout DUR close a connection whose request head is not complete DUR\n"
"                       after its first byte (echo: each read is a request; ts8:\n"
"                       a frame's head is its 8 bytes). Each DUR: 0 (off) or 1ms\n"
"                       to 288h (default: off for echo and ts8; http: read 5s,\n"
"                       write 10s, header 10s, idle 10s, as in the Go-timers article)\n"
"  --timeouts off       turn all four timeouts off\n"
"  --timers MODE        how deadlines are kept: wheel (a timing wheel per loop) |\n"
"                       heap (a heap per loop) | global-heap (one heap and one lock\n"
"                       for all loops, like Go 1.9) (default wheel)\n"
"  --drain-timeout DUR  on SIGTERM or after an upgrade: serve the open connections\n"
"                       at most DUR (HTTP closes each after its next answer); the\n"
"                       rest get a FIN a fifth of DUR before its end (0.5-5 s) and\n"
"                       are closed by its end, 0 to 1h (default 5s)\n"
"Upgrade (SIGUSR2):\n"
"  --upgrade-exec PATH  the binary SIGUSR2 starts (default: this command's path)\n"
"  --upgrade-grace DUR  the new binary must be ready within DUR, else the old one\n"
"                       keeps serving; should it die within DUR after it was\n"
"                       ready, the old one accepts again, 1ms to 1h (default 10s)\n"
"  --pid-file PATH      write the serving process's pid here (an upgrade rewrites it)\n"
"Output:\n"
"  --metrics-interval DUR  period of the metrics line on stderr, 100ms to 1h\n"
"                       (default 5s)\n"
"  --quiet              no periodic metrics line (default off)\n"
"  --help               this text\n"
"  --version            c1m's version\n"
"\n"
C1M_VALUES_HELP
"\n"
"EXAMPLES\n"
"  c1m serve --proto ts8 --arch reuseport --loops 2\n"
"  c1m serve --proto http --arch prefork --procs 2\n"
"  c1m serve --proto echo --arch workerpool --workers 4 --work sleep:1ms\n"
"  c1m serve --proto ts8 --arch prefork --procs 6 --max-conns 100k\n"
"\n"
"SIGNALS\n"
"  SIGTERM, SIGINT  stop accepting, drain (--drain-timeout), exit 0 with a summary\n"
"  SIGUSR2  binary upgrade: start the new binary on the same listening sockets;\n"
"           once it is ready this process stops accepting and drains (nothing is\n"
"           refused); if it fails, or dies within the grace period, this one\n"
"           keeps serving (accepts again) and says why\n"
"  SIGHUP   (prefork) rolling restart: children replaced one at a time\n"
"\n"
"EXIT STATUS\n"
"  0  stopped by SIGTERM or SIGINT, or replaced by an upgrade: stopped accepting,\n"
"     drained, exited\n"
"  1  could not serve: the port is taken, the connections do not fit, ...\n"
"  2  bad usage\n");
}

enum {
    OPT_ARCH = 256, OPT_LOOPS, OPT_PROCS, OPT_CHILD_ARCH, OPT_PREFORK_REUSEPORT, OPT_WORKERS,
    OPT_QUEUE, OPT_BALANCE, OPT_PROTO, OPT_PORT, OPT_BIND, OPT_EDGE, OPT_MAX_CONNS,
    OPT_OUT_HIGH, OPT_OUT_LOW, OPT_WORK, OPT_DRAIN, OPT_METRICS, OPT_QUIET, OPT_HELP,
    OPT_TIMEOUTS_OFF, OPT_ACCESS_LOG, OPT_CPU_AFFINITY, OPT_HTTP_MAX_HEAD, OPT_HTTP_MAX_BODY,
    OPT_READ_TIMEOUT, OPT_WRITE_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_HEADER_TIMEOUT, OPT_TIMERS,
    OPT_UPGRADE_EXEC, OPT_UPGRADE_GRACE, OPT_PID_FILE,
    OPT_BACKEND,
    OPT_PUSH_EVERY, OPT_PUSH_SIZE, OPT_PUSH_COUNT, OPT_WS_SLOW, OPT_WS_OUT_LIMIT, OPT_WS_PING, OPT_WS_SLOW_GRACE,
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
    { "backend", required_argument, 0, OPT_BACKEND },
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
    { "push-count", required_argument, 0, OPT_PUSH_COUNT },
    { "ws-slow", required_argument, 0, OPT_WS_SLOW },
    { "ws-out-limit", required_argument, 0, OPT_WS_OUT_LIMIT },
    { "ws-ping", required_argument, 0, OPT_WS_PING },
    { "ws-slow-grace", required_argument, 0, OPT_WS_SLOW_GRACE },
    { "metrics-interval", required_argument, 0, OPT_METRICS },
    { "upgrade-exec", required_argument, 0, OPT_UPGRADE_EXEC },
    { "upgrade-grace", required_argument, 0, OPT_UPGRADE_GRACE },
    { "pid-file", required_argument, 0, OPT_PID_FILE },
    { "quiet", no_argument, 0, OPT_QUIET },
    { "help", no_argument, 0, OPT_HELP },
    { 0, 0, 0, 0 },
};

static int bad(const char *flag, const char *val, const char *want)
{
    fprintf(stderr, "c1m serve: bad value '%s' for %s: %s\n", val, flag, want);
    return 2;
}

/* At exit, a process whose /ws hub broadcast says what became of it (the
 * slow-subscriber counters are visible nowhere else). */
static void ws_summary(void)
{
    c1m_ws_hub_t *hub = c1m_http_app_hub();
    if (!hub)
        return;
    c1m_ws_bus_t *bus = c1m_http_app_bus();
    if (bus) { /* the prefork supervisor: its publisher and the children's relays */
        c1m_ws_bus_stats_t bs;
        c1m_ws_bus_stats(bus, &bs);
        fprintf(stderr,
                "c1m serve: ws bus: published %llu relayed %llu (records x children) "
                "lapped %llu too_big %llu\n",
                (unsigned long long)bs.published, (unsigned long long)bs.relayed,
                (unsigned long long)bs.lapped, (unsigned long long)bs.too_big);
    }
    c1m_ws_hub_stats_t st;
    c1m_ws_hub_stats(hub, &st);
    if (!st.broadcasts)
        return;
    fprintf(stderr,
            "c1m serve: ws: broadcasts %llu delivered %llu queued %llu slow_closed %llu "
            "(1008 sent %llu, cut unsent %llu) slow_skipped %llu\n",
            (unsigned long long)st.broadcasts, (unsigned long long)st.delivered,
            (unsigned long long)st.queued, (unsigned long long)st.slow_closed,
            (unsigned long long)st.slow_close_sent, (unsigned long long)st.slow_close_cut,
            (unsigned long long)st.slow_skipped);
}

int c1m_cmd_serve(int argc, char **argv)
{
    c1m_server_cfg_t cfg;
    c1m_server_cfg_defaults(&cfg);
    if (c1m_flag_backend_default("serve", &cfg.loop.backend))
        return 2;
    /* C1M_BACKEND=uring is a default, not a demand: what uring does not
     * run goes to epoll as under auto; only --backend uring refuses */
    bool env_uring = cfg.loop.backend == C1M_BACKEND_URING;
    cfg.proto = &c1m_proto_echo;
    /* http: the timer flags keep their values; the others get the Go-timers
     * article's defaults below (a sentinel tells which were given). */
    uint32_t tmo_default[C1M_TO__COUNT];
    for (int k = 0; k < C1M_TO__COUNT; k++) {
        tmo_default[k] = cfg.loop.timeout_ms[k];
        cfg.loop.timeout_ms[k] = UINT32_MAX;
    }
    bool http = false, timeouts_off = false, port_set = false;
    c1m_http_cfg_t http_cfg;
    c1m_http_cfg_defaults(&http_cfg);
    bool http_flags = false; /* --access-log, --http-*: only with --proto http */
    c1m_http_t *h = NULL;    /* the HTTP instance, freed once the server is done */
    c1m_ws_hub_cfg_t ws_cfg = { 0 }; /* --push-*, --ws-*: the /ws hub */
    uint32_t ws_ping_ms = 0;
    bool ws_flags = false;
    int arch = C1M_ARCH_SINGLE, child_arch = -1;
    bool loops_set = false, procs_set = false;
    c1m_upgrade_cfg_t up = { .argc = argc, .argv = argv };
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
            if (c1m_flag_count("serve", "--loops", optarg, 1, 1024, &v))
                return 2;
            cfg.loops = (uint32_t)v;
            loops_set = true;
            break;
        case OPT_PROCS:
            if (c1m_flag_count("serve", "--procs", optarg, 1, 4096, &v))
                return 2;
            cfg.procs = (uint32_t)v;
            procs_set = true;
            break;
        case OPT_PREFORK_REUSEPORT:
            cfg.prefork_reuseport = true;
            break;
        case OPT_WORKERS:
            if (c1m_flag_count("serve", "--workers", optarg, 1, 4096, &v))
                return 2;
            cfg.workers = (uint32_t)v;
            break;
        case OPT_QUEUE:
            if (c1m_flag_count("serve", "--queue", optarg, 1, 1u << 24, &v))
                return 2;
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
                cfg.proto = NULL; /* the instance made below */
            else
                return bad("--proto", optarg, "echo, ts8 or http");
            http = !cfg.proto;
            break;
        case OPT_PORT:
            if (c1m_flag_port("serve", "--port", optarg, &cfg.port))
                return 2;
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
        case OPT_BACKEND:
            if (c1m__backend_parse(optarg, &cfg.loop.backend) < 0)
                return bad("--backend", optarg, "auto, epoll or uring");
            env_uring = false;
            break;
        case OPT_MAX_CONNS:
            if (c1m_flag_count("serve", "--max-conns", optarg, 1, 100000000, &v))
                return 2;
            cfg.max_conns = v;
            break;
        case OPT_OUT_HIGH:
        case OPT_OUT_LOW:
            if (c1m_flag_size("serve", opt == OPT_OUT_HIGH ? "--out-high" : "--out-low", optarg,
                              1, C1M_BUF_MAX, &v))
                return 2;
            if (opt == OPT_OUT_HIGH)
                cfg.loop.out_high = (uint32_t)v;
            else
                cfg.loop.out_low = (uint32_t)v;
            break;
        case OPT_WORK: {
            bool spin = !strncmp(optarg, "spin:", 5);
            if (!spin && strncmp(optarg, "sleep:", 6))
                return bad("--work", optarg, "sleep:DURATION or spin:DURATION");
            if (c1m_flag_duration("serve", "--work", optarg + (spin ? 5 : 6), 0, 10000000, &v))
                return 2;
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
            http_cfg.access_log = http_flags = true;
            break;
        case OPT_HTTP_MAX_HEAD:
            if (c1m_flag_size("serve", "--http-max-head", optarg, 256, 1u << 20, &v))
                return 2;
            http_cfg.max_head = http_cfg.max_request_line = (uint32_t)v;
            http_flags = true;
            break;
        case OPT_PUSH_EVERY:
            if (c1m_flag_duration("serve", "--push-every", optarg, 1000, 3600000000ull, &v))
                return 2;
            ws_cfg.push_every_ms = (uint32_t)(v / 1000);
            ws_flags = true;
            break;
        case OPT_PUSH_COUNT:
            if (c1m_flag_count("serve", "--push-count", optarg, 1, UINT32_MAX, &v))
                return 2;
            ws_cfg.push_count = (uint32_t)v;
            ws_flags = true;
            break;
        case OPT_PUSH_SIZE:
            if (c1m_flag_size("serve", "--push-size", optarg, 16, 16u << 20, &v))
                return 2;
            ws_cfg.push_size = (uint32_t)v;
            ws_flags = true;
            break;
        case OPT_WS_SLOW:
            if (strcmp(optarg, "close") && strcmp(optarg, "skip"))
                return bad("--ws-slow", optarg, "close or skip");
            ws_cfg.slow = !strcmp(optarg, "skip") ? C1M_WS_SLOW_SKIP : C1M_WS_SLOW_CLOSE;
            ws_flags = true;
            break;
        case OPT_WS_OUT_LIMIT:
            if (c1m_flag_size("serve", "--ws-out-limit", optarg, 1024, 1u << 30, &v))
                return 2;
            ws_cfg.out_limit = (uint32_t)v;
            ws_flags = true;
            break;
        case OPT_WS_PING:
            if (c1m_flag_duration("serve", "--ws-ping", optarg, 1000, 3600000000ull, &v))
                return 2;
            ws_ping_ms = (uint32_t)(v / 1000);
            ws_flags = true;
            break;
        case OPT_WS_SLOW_GRACE:
            if (c1m_flag_duration("serve", "--ws-slow-grace", optarg, 1000, 3600000000ull, &v))
                return 2;
            ws_cfg.slow_grace_ms = (uint32_t)(v / 1000);
            ws_flags = true;
            break;
        case OPT_HTTP_MAX_BODY:
            if (c1m_flag_size("serve", "--http-max-body", optarg, 1, 1u << 30, &v))
                return 2;
            http_cfg.max_body = v;
            http_flags = true;
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
            if (c1m_flag_duration("serve", tf[i].flag, optarg, 0, 288 * 3600000000ull, &v))
                return 2;
            if (v && v < 1000)
                return bad(tf[i].flag, optarg, "0 (off) or at least 1ms");
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
            if (c1m_flag_duration("serve", "--drain-timeout", optarg, 0, 3600000000ull, &v))
                return 2;
            cfg.loop.drain_ms = (uint32_t)(v / 1000);
            break;
        case OPT_METRICS:
            if (c1m_flag_duration("serve", "--metrics-interval", optarg, 100000, 3600000000ull,
                                  &v))
                return 2;
            cfg.metrics_interval_ms = (uint32_t)(v / 1000);
            break;
        case OPT_UPGRADE_EXEC:
            up.exec = optarg;
            break;
        case OPT_UPGRADE_GRACE:
            if (c1m_parse_duration_us(optarg, &v) || v < 1000 || v > 3600000000ull)
                return bad("--upgrade-grace", optarg, "a duration from 1ms to 1h, e.g. 10s");
            up.grace_ms = (uint32_t)(v / 1000);
            break;
        case OPT_PID_FILE:
            up.pid_file = optarg;
            break;
        case OPT_QUIET:
            cfg.quiet = true;
            break;
        case OPT_HELP:
        case 'h':
            serve_usage(stdout);
            return 0;
        default: /* getopt said what was wrong */
            return c1m_usage_error("serve");
        }
    }
    if (optind < argc) {
        fprintf(stderr, "c1m serve: unexpected argument '%s'\n", argv[optind]);
        return c1m_usage_error("serve");
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
    if (env_uring && cfg.loop.edge_triggered)
        cfg.loop.backend = C1M_BACKEND_AUTO; /* decided below, with the line */
    if (cfg.loop.backend == C1M_BACKEND_URING && cfg.loop.edge_triggered)
        fprintf(stderr, "c1m serve: --edge is an epoll mode: ignored on --backend uring\n");
    /* uring: each peer's address is recorded at accept (a direct
     * descriptor has no getpeername) */
    cfg.loop.peer_addrs = http_cfg.access_log;
    if (cfg.prefork_reuseport && !prefork) {
        fprintf(stderr, "c1m serve: --prefork-reuseport goes with --arch prefork or --procs > 1\n");
        return 2;
    }
    cfg.arch = (c1m_arch_t)arch;
    /* the Go-timers article's Go server: read 5s, write 10s, header 10s, idle 10s */
    c1m_loop_cfg_t go;
    c1m_http_go_timeouts(&go);
    const uint32_t *http_tmo = go.timeout_ms;
    for (int k = 0; k < C1M_TO__COUNT; k++) {
        if (timeouts_off)
            cfg.loop.timeout_ms[k] = 0;
        else if (cfg.loop.timeout_ms[k] == UINT32_MAX)
            cfg.loop.timeout_ms[k] = http ? http_tmo[k] : tmo_default[k];
    }
    if (ws_cfg.push_count && !ws_cfg.push_every_ms) {
        fprintf(stderr, "c1m serve: --push-count goes with --push-every\n");
        return 2;
    }
    if (http) {
        if (!port_set)
            cfg.port = 8998;
        char why[256] = "";
        if (ws_cfg.push_every_ms && !ws_cfg.push_size)
            ws_cfg.push_size = 64;
        if (!ws_ping_ms)
            ws_ping_ms = cfg.loop.timeout_ms[C1M_TO_IDLE];
        if (c1m_http_new(&h, &http_cfg) < 0 || c1m_http_app_setup(h, why, sizeof why) < 0 ||
            c1m_http_app_ws_setup(h, &ws_cfg, ws_ping_ms, why, sizeof why) < 0) {
            fprintf(stderr, "c1m serve: cannot set up the http application %s\n", why);
            c1m_http_free(h);
            return 1;
        }
        cfg.proto = c1m_http_proto(h);
        /* prefork: /metrics sums every child (slots for each thread, twice
         * over; slots of dead children are adopted by their successors) */
        unsigned per_proc = cfg.loops + cfg.workers + 2;
        if (prefork && c1m_http_metrics_share(h, C1M_MAX(64u, 2 * cfg.procs * per_proc)) < 0)
            c1m_warn("http: no shared memory for metrics: /metrics counts one child each");
        /* prefork: one publisher (here, in the supervisor) for every child */
        if (prefork && c1m_http_app_ws_prefork(why, sizeof why) < 0) {
            fprintf(stderr, "c1m serve: %s\n", why);
            c1m_http_free(h);
            return 1;
        }
    } else if (http_flags || ws_flags) {
        fprintf(stderr, "c1m serve: --access-log, --http-*, --push-* and --ws-* go with "
                        "--proto http\n");
        return 2;
    }
    c1m_log_set_tag("serve");
    char err[512];
    /* started by an upgrade: serve the listening sockets handed over */
    static int inherited[C1M_SERVER_MAX_FDS];
    int ninh = c1m_upgrade_inherited(inherited, C1M_SERVER_MAX_FDS, err, sizeof err);
    if (ninh < 0) {
        fprintf(stderr, "c1m serve: %s\n", err);
        return 1;
    }
    cfg.listen_fds = inherited;
    cfg.nlisten_fds = (uint32_t)ninh;
    c1m_upgrade_configure(&up);
    if (cfg.loop.backend == C1M_BACKEND_AUTO)
        choose_backend(&cfg);
    if (c1m_server_cfg_check(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "c1m serve: %s\n", err);
        c1m_http_free(h);
        return 1;
    }
    int rc = prefork ? c1m_prefork_run(&cfg) : c1m_server_run(&cfg);
    ws_summary();
    c1m_http_free(h);
    return rc;
}
