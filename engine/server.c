/* Servers: set-up, start, stop, and the dispatch architecture's acceptor.
 * A server owns its loops, listeners, worker pool and (global-heap timer
 * mode) shared timer heap; nothing here is process-wide. */
#include "engine/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/common.h"
#include "core/log.h"
#include "engine/backend.h"
#include "engine/listener.h"
#include "engine/timeouts.h"
#include "engine/uring_probe.h"
#include "engine/workers.h"

static const char *const arch_names[C1M_ARCH__COUNT] = {
    [C1M_ARCH_SINGLE] = "single",       [C1M_ARCH_REUSEPORT] = "reuseport",
    [C1M_ARCH_DISPATCH] = "dispatch",   [C1M_ARCH_EXCLUSIVE] = "exclusive",
    [C1M_ARCH_PREFORK] = "prefork",     [C1M_ARCH_WORKERPOOL] = "workerpool",
};

const char *c1m_arch_name(c1m_arch_t a)
{
    return (unsigned)a < C1M_ARCH__COUNT ? arch_names[a] : "?";
}

int c1m_arch_parse(const char *s)
{
    for (int i = 0; i < C1M_ARCH__COUNT; i++)
        if (!strcmp(s, arch_names[i]))
            return i;
    return -EINVAL;
}

void c1m_server_cfg_defaults(c1m_server_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = C1M_ARCH_SINGLE;
    cfg->loops = 1;
    cfg->procs = 1;
    cfg->workers = 4;
    cfg->queue_cap = 1024;
    cfg->port = 8972;
    cfg->listen_fd = -1;
    cfg->metrics_interval_ms = 5000;
    c1m_loop_cfg_defaults(&cfg->loop);
}

/* Descriptors a process needs besides connections: stdio, per loop a
 * backend fd, an eventfd and maybe a listener, plus slack. */
#define C1M_FD_RESERVE 32u

void c1m_fd_budget(uint32_t loops, c1m_fd_budget_t *b)
{
    /* Read only: a library does not change its process's limits (the c1m
     * command raises the soft limit to the hard one at start-up). */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    b->raised = false;
    b->nofile = rl.rlim_cur;
    uint64_t reserve = C1M_FD_RESERVE + 3ull * loops;
    b->per_process = b->nofile > reserve ? b->nofile - reserve : 0;
}

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            if (err && errlen)                                                \
                snprintf(err, errlen, __VA_ARGS__);                           \
            return -EINVAL;                                                   \
        }                                                                     \
    } while (0)

/* On uring a connection is a slot in its loop's ring's direct-descriptor
 * table (RLIMIT_NOFILE slots), not an open file: one process holds more
 * connections than its fd limit by running more loops, one ring each.
 * How many loops max_conns needs per process (0: not on uring, no
 * max_conns, or workerpool, which has one loop). */
static uint32_t uring_loops(const c1m_server_cfg_t *cfg)
{
    if (cfg->loop.backend != C1M_BACKEND_URING || !cfg->max_conns ||
        cfg->arch == C1M_ARCH_WORKERPOOL)
        return 0;
    uint64_t procs = cfg->procs ? cfg->procs : 1;
    uint64_t per_proc = (cfg->max_conns + procs - 1) / procs;
    /* 7/8 of a ring each: which loop a connection lands on is the kernel's
     * choice (a reuseport hash), so the loops fill unevenly */
    uint64_t per_ring = c1m__uring_conns_per_ring(cfg->arch == C1M_ARCH_DISPATCH);
    per_ring -= per_ring / 8;
    uint64_t n = per_ring ? (per_proc + per_ring - 1) / per_ring : 1;
    return n > 4096 ? 4096 : (uint32_t)n;
}

int c1m_server_cfg_check(const c1m_server_cfg_t *cfg, char *err, size_t errlen)
{
    CHECK(cfg->proto && cfg->proto->on_data, "a protocol with on_data is required");
    CHECK((unsigned)cfg->arch < C1M_ARCH__COUNT && cfg->arch != C1M_ARCH_PREFORK,
          "arch must be single, reuseport, dispatch, exclusive or workerpool (prefork is "
          "the c1m command's)");
    CHECK(cfg->loops >= 1 && cfg->loops <= 1024, "loops must be from 1 to 1024 (got %u)",
          cfg->loops);
    CHECK(cfg->arch != C1M_ARCH_WORKERPOOL || (cfg->workers >= 1 && cfg->workers <= 4096),
          "workers must be from 1 to 4096 (got %u)", cfg->workers);
    CHECK(cfg->arch != C1M_ARCH_WORKERPOOL || cfg->queue_cap >= 1,
          "the worker queue needs at least one slot");
    CHECK(cfg->balance == C1M_BALANCE_RR || cfg->balance == C1M_BALANCE_LEAST,
          "balance must be C1M_BALANCE_RR or C1M_BALANCE_LEAST");
    CHECK(cfg->loop.out_low <= cfg->loop.out_high,
          "the low watermark (%u bytes) must not exceed the high one (%u bytes)",
          cfg->loop.out_low, cfg->loop.out_high);
    CHECK(cfg->loop.out_high >= 1 && cfg->loop.rbuf_size >= 1 && cfg->loop.accept_batch >= 1,
          "out_high, rbuf_size and accept_batch must be at least 1");
    for (int k = 0; k < C1M_TO__COUNT; k++)
        CHECK(cfg->loop.timeout_ms[k] <= C1M_TIMEOUT_MAX_MS,
              "the %s timeout (%u ms) exceeds the maximum of %u ms",
              c1m_timeout_kind_name((c1m_timeout_kind_t)k), cfg->loop.timeout_ms[k],
              (unsigned)C1M_TIMEOUT_MAX_MS);
    CHECK(cfg->nlisten_fds <= C1M_SERVER_MAX_FDS && (!cfg->nlisten_fds || cfg->listen_fds),
          "at most %u listening sockets may be handed over (got %u)", C1M_SERVER_MAX_FDS,
          cfg->nlisten_fds);
    if (cfg->listen_fd < 0 && cfg->bind) {
        struct sockaddr_storage ss;
        CHECK(c1m_sockaddr_parse(cfg->bind, 0, &ss) >= 0,
              "bad bind address '%s' (want an IPv4 or IPv6 literal)", cfg->bind);
    }
    uint32_t loops = cfg->arch == C1M_ARCH_DISPATCH ? cfg->loops + 1 : cfg->loops;
    uint64_t procs = cfg->procs ? cfg->procs : 1;
    uint32_t uloops = uring_loops(cfg);
    if (uloops > loops)
        loops = uloops + (cfg->arch == C1M_ARCH_DISPATCH);
    if (cfg->loop.backend == C1M_BACKEND_URING && cfg->arch == C1M_ARCH_WORKERPOOL) {
        uint64_t per_ring = c1m__uring_conns_per_ring(false);
        CHECK(!cfg->max_conns || (cfg->max_conns + procs - 1) / procs <= per_ring,
              "workerpool runs one loop, whose ring holds %llu connections here (RLIMIT_NOFILE); "
              "more need another architecture or more processes",
              (unsigned long long)per_ring);
    }
    CHECK(loops <= 1024, "%llu connections on uring need %u loops (more than 1,024)",
          (unsigned long long)cfg->max_conns, loops);
    c1m_fd_budget_t b;
    c1m_fd_budget(loops, &b);
    if (!err || !errlen) {
        static char ignored[8];
        err = ignored, errlen = sizeof ignored;
    }
    if (b.per_process == 0) {
        snprintf(err, errlen,
                 "%u loops need more than the %llu open files this process may have "
                 "(RLIMIT_NOFILE); use fewer loops",
                 loops, (unsigned long long)b.nofile);
        return -EMFILE;
    }
    /* uring: connections are direct descriptors, not open files */
    if (cfg->loop.backend != C1M_BACKEND_URING && cfg->max_conns > procs * b.per_process) {
        uint64_t need = (cfg->max_conns + b.per_process - 1) / b.per_process;
        snprintf(err, errlen,
                 "%llu connections do not fit in %llu process%s: this machine allows "
                 "%llu open files per process (RLIMIT_NOFILE%s), about %llu connections each; "
                 "%llu connections need at least %llu processes (--arch prefork --procs %llu)",
                 (unsigned long long)cfg->max_conns, (unsigned long long)procs,
                 procs == 1 ? "" : "es", (unsigned long long)b.nofile,
                 b.raised ? ", soft limit raised to the hard one" : "",
                 (unsigned long long)b.per_process, (unsigned long long)cfg->max_conns,
                 (unsigned long long)need, (unsigned long long)need);
        return -EMFILE;
    }
    return 0;
}
#undef CHECK

/* ---- dispatch: the acceptor hands fds to the serving loops ------------- */

typedef struct c1m_dispatch {
    c1m_loop_t **targets;
    uint32_t n;
    uint32_t next;           /* round-robin cursor */
    uint64_t *assigned;      /* fds handed to each target */
    int balance;
    uint64_t max_conns;      /* per process */
    bool full_logged;
} c1m_dispatch_t;

static void adopt_msg(c1m_loop_t *loop, void *arg, uint64_t fd)
{
    /* A loop that drains still serves what the acceptor took before it
     * stopped (its stop may be queued ahead of this): the client already
     * counts the connection as established. Only a loop that has returned
     * closes it. */
    if (loop->stopped) {
        close((int)fd);
        return;
    }
    c1m__loop_adopt(loop, (int)fd, loop->proto, 0);
}

static void dispatch_accept(c1m_loop_t *acceptor, int fd)
{
    c1m_dispatch_t *d = acceptor->user;
    uint32_t t;
    uint64_t live_total = 0, best = UINT64_MAX;
    uint32_t best_i = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        uint64_t closed = C1M_RELAXED_LOAD(&d->targets[i]->stats.closed);
        uint64_t live = d->assigned[i] > closed ? d->assigned[i] - closed : 0;
        live_total += live;
        if (live < best)
            best = live, best_i = i;
    }
    if (d->max_conns && live_total >= d->max_conns) {
        if (!d->full_logged)
            c1m_warn("dispatch: %llu connections (max-conns): refusing new ones",
                     (unsigned long long)d->max_conns);
        d->full_logged = true;
        C1M_BUMP(acceptor->stats.accept_errors, 1);
        close(fd);
        return;
    }
    if (d->balance == C1M_BALANCE_LEAST) {
        t = best_i;
    } else {
        t = d->next;
        d->next = (d->next + 1) % d->n;
    }
    if (c1m_loop_post(d->targets[t], adopt_msg, NULL, (uint64_t)fd) < 0) {
        C1M_BUMP(acceptor->stats.accept_errors, 1);
        close(fd);
        return;
    }
    d->assigned[t]++;
}

/* ---- the server --------------------------------------------------------- */

struct c1m_server {
    c1m_server_cfg_t cfg;
    c1m_loop_t **loops;      /* serving loops */
    uint32_t nloops;
    uint32_t started;        /* loop threads running */
    c1m_loop_t *acceptor;    /* dispatch only */
    bool acceptor_started;
    c1m_listener_t *listeners;
    uint32_t nlisteners;
    c1m_workers_t workers;
    bool has_workers;
    c1m_dispatch_t dispatch;
    c1m_gtimers_t gtimers;   /* global-heap timer mode: shared by every loop */
    bool has_gtimers;
};

uint16_t c1m_server_port(const c1m_server_t *s);

uint32_t c1m__server_nloops(const c1m_server_t *s) { return s->nloops; }
c1m_loop_t *c1m__server_loop(const c1m_server_t *s, uint32_t i) { return s->loops[i]; }

static int open_listener(c1m_server_t *s, c1m_listener_t *l, uint32_t i, bool reuseport,
                         char *err, size_t errlen)
{
    const c1m_server_cfg_t *cfg = &s->cfg;
    if (cfg->nlisten_fds) { /* taken over: ours to close */
        *l = (c1m_listener_t){ .io = { .fd = cfg->listen_fds[i], .kind = C1M_IO_LISTENER },
                               .owned = true };
        return 0;
    }
    if (cfg->listen_fd >= 0) {
        *l = (c1m_listener_t){ .io = { .fd = cfg->listen_fd, .kind = C1M_IO_LISTENER },
                               .exclusive = true, .owned = false };
        return 0;
    }
    c1m_listen_cfg_t lc = { .bind = cfg->bind, .port = cfg->port, .reuseport = reuseport };
    int fd = c1m_listen_fd(&lc, err, errlen);
    if (fd < 0)
        return fd;
    *l = (c1m_listener_t){ .io = { .fd = fd, .kind = C1M_IO_LISTENER }, .owned = true };
    return 0;
}

static void server_free(c1m_server_t *s)
{
    if (s->has_workers) {
        c1m_workers_stop(&s->workers);
        for (uint32_t i = 0; i < s->nloops; i++)
            if (s->loops[i])
                c1m_workers_detach(s->loops[i]);
    }
    for (uint32_t i = 0; i < s->nloops; i++)
        if (s->loops[i]) {
            c1m_queue_run(&s->loops[i]->queue, s->loops[i]); /* fds handed over late */
            c1m_loop_free(s->loops[i]);
        }
    c1m_loop_free(s->acceptor);
    for (uint32_t i = 0; i < s->nlisteners; i++)
        if (s->listeners[i].owned && s->listeners[i].io.fd >= 0)
            close(s->listeners[i].io.fd);
    free(s->listeners);
    free(s->loops);
    free(s->dispatch.assigned);
    if (s->has_gtimers)
        c1m_gtimers_destroy(&s->gtimers);
    free(s);
}

static int server_setup(c1m_server_t *s, char *err, size_t errlen)
{
    const c1m_server_cfg_t *cfg = &s->cfg;
    c1m_arch_t arch = cfg->arch;
    uint32_t L = cfg->loops ? cfg->loops : 1;
    s->nloops = (arch == C1M_ARCH_SINGLE || arch == C1M_ARCH_WORKERPOOL) ? 1 : L;
    uint32_t uloops = uring_loops(cfg);
    bool grown = uloops > s->nloops;
    if (grown) {
        c1m_info("uring: %llu connections per process need %u rings of %u direct descriptors "
                 "(RLIMIT_NOFILE): running %u loops instead of %u",
                 (unsigned long long)((cfg->max_conns + (cfg->procs ? cfg->procs : 1) - 1) /
                                      (cfg->procs ? cfg->procs : 1)),
                 uloops, c1m__uring_conns_per_ring(arch == C1M_ARCH_DISPATCH), uloops, s->nloops);
        s->nloops = uloops;
    }
    s->loops = calloc(s->nloops, sizeof *s->loops);
    /* reuseport without a given listener: a listener per loop; else one.
     * Loops added for uring's rings get one each too: a listener shared by
     * several rings' multishot accepts wakes one ring, and one that is
     * full leaves the backlog waiting (measured: most of 25,000
     * connections were accepted only after seconds). Listeners taken over:
     * every one of them is served (fd i on loop i mod L; a shared-listener
     * architecture is handed one). */
    bool per_loop = (arch == C1M_ARCH_REUSEPORT || (grown && arch != C1M_ARCH_DISPATCH)) &&
                    cfg->listen_fd < 0;
    s->nlisteners = cfg->nlisten_fds ? cfg->nlisten_fds : per_loop ? s->nloops : 1;
    s->listeners = calloc(s->nlisteners, sizeof *s->listeners);
    if (!s->loops || !s->listeners) {
        s->nlisteners = 0;
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < s->nlisteners; i++)
        s->listeners[i].io.fd = -1;

    c1m_loop_cfg_t lcfg = cfg->loop;
    c1m_fd_budget_t b;
    c1m_fd_budget(s->nloops + (arch == C1M_ARCH_DISPATCH), &b);
    uint32_t procs = cfg->procs ? cfg->procs : 1;
    uint64_t per_proc = cfg->max_conns ? (cfg->max_conns + procs - 1) / procs : 0;
    bool uring = cfg->loop.backend == C1M_BACKEND_URING;
    if (!per_proc || (!uring && per_proc > b.per_process))
        per_proc = b.per_process;
    /* Per-loop cap: with a shared or reuseport listener the kernel decides
     * which loop accepts, so each loop gets the whole process budget split
     * evenly, rounded up. On uring, no more than its ring's table holds. */
    uint64_t per_loop_cap = (per_proc + s->nloops - 1) / s->nloops;
    uint32_t per_ring = uring ? c1m__uring_conns_per_ring(arch == C1M_ARCH_DISPATCH) : 0;
    if (grown || (uring && per_loop_cap > per_ring))
        per_loop_cap = per_ring; /* the hash fills loops unevenly: a whole ring each */
    lcfg.max_conns = (uint32_t)per_loop_cap;
    /* the rings share the process's buffer and CQ budget (engine/uring_size.h):
     * 102 rings of a full-sized ring each held a million connections at
     * 1.2 KiB of RSS per connection */
    if (uring && !lcfg.uring_rings)
        lcfg.uring_rings = s->nloops + (arch == C1M_ARCH_DISPATCH);
    if (lcfg.timers == C1M_TIMERS_GLOBAL_HEAP) {
        /* one heap, one mutex for every loop of the server (acceptor too) */
        int rc = c1m_gtimers_init(&s->gtimers, s->nloops + 1);
        if (rc < 0)
            return rc;
        s->has_gtimers = true;
        lcfg.gtimers = &s->gtimers;
    }
    for (uint32_t i = 0; i < s->nloops; i++) {
        int rc = c1m_loop_new(&s->loops[i], i, &lcfg, cfg->proto);
        if (rc < 0) {
            snprintf(err, errlen, "cannot set up loop %u: %s", i, strerror(-rc));
            return rc;
        }
    }
    for (uint32_t i = 0; i < s->nlisteners; i++) {
        bool reuseport = per_loop || cfg->prefork_reuseport;
        int rc = open_listener(s, &s->listeners[i], i, reuseport, err, errlen);
        if (rc < 0)
            return rc;
        if (i == 0 && !s->cfg.port) /* an ephemeral port: the others join it */
            s->cfg.port = c1m_server_port(s);
        /* a listener watched by several loops wakes only one */
        bool shared = per_loop ? s->nlisteners < s->nloops : s->nloops > 1;
        if (shared && (arch == C1M_ARCH_EXCLUSIVE || arch == C1M_ARCH_REUSEPORT || grown))
            s->listeners[i].exclusive = true;
    }
    /* a prefork child on the supervisor's shared listener: its share. Not
     * on a backend that accepts ahead (io_uring's multishot accept): there
     * leaving the wait queue strands the connections the ring has accepted
     * already (serve_archs' prefork rows lost replies), so the kernel's
     * spreading stands. */
    c1m_proc_slot_t *share = cfg->slot && cfg->slot->ngroup > 1 && cfg->listen_fd >= 0
                                 ? cfg->slot : NULL;
    for (uint32_t i = 0; i < s->nloops; i++)
        s->loops[i]->share = s->loops[i]->be->accepts_ahead ? NULL : share;
    if (arch == C1M_ARCH_DISPATCH) {
        c1m_loop_cfg_t acfg = lcfg;
        acfg.max_conns = 0;
        int rc = c1m_loop_new(&s->acceptor, s->nloops, &acfg, cfg->proto);
        if (rc < 0)
            return rc;
        s->dispatch = (c1m_dispatch_t){ .targets = s->loops, .n = s->nloops,
                                        .balance = cfg->balance, .max_conns = per_proc };
        s->dispatch.assigned = calloc(s->nloops, sizeof(uint64_t));
        if (!s->dispatch.assigned)
            return -ENOMEM;
        s->acceptor->share = share;
        s->acceptor->user = &s->dispatch;
        s->acceptor->on_accept = dispatch_accept;
        return c1m_loop_add_listener(s->acceptor, &s->listeners[0]);
    }
    for (uint32_t i = 0; i < s->nloops; i++) {
        int rc = c1m_loop_add_listener(s->loops[i],
                                       &s->listeners[per_loop ? i % s->nlisteners : 0]);
        if (rc < 0)
            return rc;
    }
    /* more listeners taken over than loops: the extra ones too */
    for (uint32_t i = s->nloops; per_loop && i < s->nlisteners; i++) {
        int rc = c1m_loop_add_listener(s->loops[i % s->nloops], &s->listeners[i]);
        if (rc < 0) {
            snprintf(err, errlen, "%u listening sockets handed over do not fit %u loops",
                     s->nlisteners, s->nloops);
            return rc;
        }
    }
    if (arch == C1M_ARCH_WORKERPOOL) {
        int rc = c1m_workers_start(&s->workers, cfg->workers, cfg->queue_cap);
        if (rc < 0)
            return rc;
        s->has_workers = true;
        if ((rc = c1m_workers_attach(&s->workers, s->loops[0])) < 0)
            return rc;
    }
    return 0;
}

static void server_halt(c1m_server_t *s)
{
    if (s->acceptor_started) {
        c1m_loop_stop(s->acceptor);
        c1m_loop_join(s->acceptor);
    }
    for (uint32_t i = 0; i < s->started; i++)
        c1m_loop_stop(s->loops[i]);
    for (uint32_t i = 0; i < s->started; i++)
        c1m_loop_join(s->loops[i]);
}

int c1m_server_start(c1m_server_t **out, const c1m_server_cfg_t *cfg, char *err, size_t errlen)
{
    char ebuf[256];
    if (!err || !errlen)
        err = ebuf, errlen = sizeof ebuf;
    err[0] = '\0';
    int rc = c1m_server_cfg_check(cfg, err, errlen);
    if (rc < 0)
        return rc;
    c1m_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    rc = server_setup(s, err, errlen);
    if (rc < 0) {
        if (!err[0])
            snprintf(err, errlen, "server set-up failed: %s", strerror(-rc));
        server_free(s);
        return rc;
    }
    for (uint32_t i = 0; i < s->nloops; i++) {
        if ((rc = c1m_loop_start_thread(s->loops[i])) < 0)
            break;
        s->started++;
    }
    if (rc == 0 && s->acceptor) {
        rc = c1m_loop_start_thread(s->acceptor);
        s->acceptor_started = rc == 0;
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot start a loop thread: %s", strerror(-rc));
        server_halt(s);
        server_free(s);
        return rc;
    }
    if (cfg->slot) {
        cfg->slot->pid = getpid();
        C1M_RELAXED_STORE(&cfg->slot->ready, 1);
    }
    *out = s;
    return 0;
}

int c1m__server_stop(c1m_server_t *s, c1m_loop_stats_t *final)
{
    if (!s)
        return -EINVAL;
    server_halt(s);
    if (final)
        c1m_server_stats(s, final);
    server_free(s);
    return 0;
}

int c1m_server_stop(c1m_server_t *s) { return c1m__server_stop(s, NULL); }

int c1m_server_drain(c1m_server_t *s)
{
    if (!s)
        return -EINVAL;
    if (s->cfg.slot) /* no longer accepting: out of its siblings' shares */
        C1M_RELAXED_STORE(&s->cfg.slot->ready, 0);
    if (s->acceptor_started)
        c1m_loop_stop(s->acceptor);
    for (uint32_t i = 0; i < s->started; i++)
        c1m_loop_stop(s->loops[i]);
    return 0;
}

bool c1m_server_drained(const c1m_server_t *s)
{
    for (uint32_t i = 0; i < s->started; i++)
        if (!C1M_RELAXED_LOAD(&s->loops[i]->stopped))
            return false;
    return !s->acceptor_started || C1M_RELAXED_LOAD(&s->acceptor->stopped);
}

int c1m_server_listen_fds(const c1m_server_t *s, int *fds, int n)
{
    int k = 0;
    for (uint32_t i = 0; i < s->nlisteners && k < n; i++)
        if (s->listeners[i].io.fd >= 0)
            fds[k++] = s->listeners[i].io.fd;
    return k;
}

void c1m_server_keep_listeners(c1m_server_t *s)
{
    /* read by each loop when its drain begins, after the stop message
     * that the queue orders after this store */
    for (uint32_t i = 0; i < s->nloops; i++)
        C1M_RELAXED_STORE(&s->loops[i]->keep_listeners, true);
    if (s->acceptor)
        C1M_RELAXED_STORE(&s->acceptor->keep_listeners, true);
}

uint16_t c1m_server_port(const c1m_server_t *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!s->nlisteners || getsockname(s->listeners[0].io.fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

void c1m_server_stats(const c1m_server_t *s, c1m_loop_stats_t *sum)
{
    memset(sum, 0, sizeof *sum);
    for (uint32_t i = 0; i < s->nloops; i++)
        c1m_loop_stats_add(sum, &s->loops[i]->stats);
    if (s->acceptor)
        c1m_loop_stats_add(sum, &s->acceptor->stats);
}
