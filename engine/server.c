#include "engine/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"
#include "core/meter.h"
#include "engine/listener.h"
#include "engine/timeouts.h"
#include "engine/workers.h"

static const char *const arch_names[C1M_ARCH__COUNT] = {
    [C1M_ARCH_SINGLE] = "single",       [C1M_ARCH_REUSEPORT] = "reuseport",
    [C1M_ARCH_DISPATCH] = "dispatch",   [C1M_ARCH_EXCLUSIVE] = "exclusive",
    [C1M_ARCH_PREFORK] = "prefork",     [C1M_ARCH_WORKERPOOL] = "workerpool",
};

const char *c1m_arch_name(c1m_arch_t a)
{
    return a < C1M_ARCH__COUNT ? arch_names[a] : "?";
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
    cfg->metrics_interval_ms = 5000;
    cfg->inherited_fd = -1;
    c1m_loop_cfg_defaults(&cfg->loop);
}

/* Descriptors a process needs besides connections: stdio, per loop an
 * epoll fd, an eventfd and maybe a listener, plus slack. */
#define C1M_FD_RESERVE 32u

void c1m_fd_budget(uint32_t loops, c1m_fd_budget_t *b)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    b->nofile = rl.rlim_cur;
    uint64_t reserve = C1M_FD_RESERVE + 3ull * loops;
    b->per_process = b->nofile > reserve ? b->nofile - reserve : 0;
}

int c1m_server_check_fit(const c1m_server_cfg_t *cfg, char *err, size_t errlen)
{
    uint32_t loops = cfg->arch == C1M_ARCH_DISPATCH ? cfg->loops + 1 : cfg->loops;
    c1m_fd_budget_t b;
    c1m_fd_budget(loops, &b);
    if (b.per_process == 0) {
        snprintf(err, errlen,
                 "%u loops need more than the %llu open files this process may have "
                 "(RLIMIT_NOFILE); use fewer --loops",
                 loops, (unsigned long long)b.nofile);
        return -EMFILE;
    }
    uint64_t procs = cfg->procs ? cfg->procs : 1;
    if (cfg->max_conns > procs * b.per_process) {
        uint64_t need = (cfg->max_conns + b.per_process - 1) / b.per_process;
        snprintf(err, errlen,
                 "--max-conns %llu does not fit in %llu process%s: this machine allows %llu "
                 "open files per process (RLIMIT_NOFILE), about %llu connections each; "
                 "%llu connections need at least %llu processes (--arch prefork --procs %llu)",
                 (unsigned long long)cfg->max_conns, (unsigned long long)procs,
                 procs == 1 ? "" : "es", (unsigned long long)b.nofile,
                 (unsigned long long)b.per_process, (unsigned long long)cfg->max_conns,
                 (unsigned long long)need, (unsigned long long)need);
        return -EMFILE;
    }
    return 0;
}

void c1m_server_log_metrics(const char *who, const c1m_loop_stats_t *s, c1m_meter_t *m,
                            uint64_t now_ns)
{
    c1m_meter_update(m, s->msgs, now_ns);
    c1m_info("metrics: %s ops count=%llu rate1=%.1f rate5=%.1f rate15=%.1f mean=%.1f "
             "conns=%llu accepted=%llu closed=%llu paused=%llu accept_errors=%llu "
             "timeouts_read=%llu timeouts_write=%llu timeouts_idle=%llu timeouts_header=%llu",
             who, (unsigned long long)s->msgs, m->rate1, m->rate5, m->rate15,
             c1m_meter_mean(m, now_ns), (unsigned long long)s->conns,
             (unsigned long long)s->accepted, (unsigned long long)s->closed,
             (unsigned long long)s->read_pauses, (unsigned long long)s->accept_errors,
             (unsigned long long)s->close_reasons[C1M_CLOSE_TIMEOUT_READ],
             (unsigned long long)s->close_reasons[C1M_CLOSE_TIMEOUT_WRITE],
             (unsigned long long)s->close_reasons[C1M_CLOSE_TIMEOUT_IDLE],
             (unsigned long long)s->close_reasons[C1M_CLOSE_TIMEOUT_HEADER]);
}

/* ---- dispatch: the acceptor hands fds to worker loops ----------------- */

typedef struct c1m_dispatch {
    c1m_loop_t *targets;
    uint32_t n;
    uint32_t next;           /* round-robin cursor */
    uint64_t *assigned;      /* fds handed to each target */
    int balance;
    uint64_t max_conns;      /* per process */
    bool full_logged;
} c1m_dispatch_t;

static void adopt_msg(c1m_loop_t *loop, void *arg, uint64_t fd)
{
    if (loop->stopping) {
        close((int)fd);
        return;
    }
    c1m_loop_adopt(loop, (int)fd, loop->proto, 0);
}

static void dispatch_accept(c1m_loop_t *acceptor, int fd)
{
    c1m_dispatch_t *d = acceptor->user;
    uint32_t t;
    uint64_t live_total = 0, best = UINT64_MAX;
    uint32_t best_i = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        uint64_t closed = C1M_RELAXED_LOAD(&d->targets[i].stats.closed);
        uint64_t live = d->assigned[i] > closed ? d->assigned[i] - closed : 0;
        live_total += live;
        if (live < best)
            best = live, best_i = i;
    }
    if (d->max_conns && live_total >= d->max_conns) {
        if (!d->full_logged)
            c1m_warn("dispatch: %llu connections (--max-conns): refusing new ones",
                     (unsigned long long)d->max_conns);
        d->full_logged = true;
        acceptor->stats.accept_errors++;
        close(fd);
        return;
    }
    if (d->balance == C1M_BALANCE_LEAST) {
        t = best_i;
    } else {
        t = d->next;
        d->next = (d->next + 1) % d->n;
    }
    if (c1m_loop_post(&d->targets[t], adopt_msg, NULL, (uint64_t)fd) < 0) {
        acceptor->stats.accept_errors++;
        close(fd);
        return;
    }
    d->assigned[t]++;
}

/* ---- the in-process server ------------------------------------------- */

typedef struct c1m_server {
    const c1m_server_cfg_t *cfg;
    c1m_loop_t *loops;       /* serving loops */
    uint32_t nloops;
    c1m_loop_t acceptor;     /* dispatch only */
    bool has_acceptor;
    c1m_listener_t *listeners;
    uint32_t nlisteners;
    c1m_workers_t workers;
    bool has_workers;
    c1m_dispatch_t dispatch;
    c1m_gtimers_t gtimers;   /* --timers global-heap: shared by every loop */
    bool has_gtimers;
} c1m_server_t;

static int open_listener(c1m_server_t *s, c1m_listener_t *l, bool reuseport)
{
    const c1m_server_cfg_t *cfg = s->cfg;
    if (cfg->inherited_fd >= 0) {
        *l = (c1m_listener_t){ .io = { .fd = cfg->inherited_fd, .kind = C1M_IO_LISTENER },
                               .exclusive = true, .owned = false };
        return 0;
    }
    char err[256];
    c1m_listen_cfg_t lc = { .bind = cfg->bind, .port = cfg->port, .reuseport = reuseport };
    int fd = c1m_listen_fd(&lc, err, sizeof err);
    if (fd < 0) {
        c1m_error("%s", err);
        return fd;
    }
    *l = (c1m_listener_t){ .io = { .fd = fd, .kind = C1M_IO_LISTENER }, .owned = true };
    return 0;
}

static void server_teardown(c1m_server_t *s)
{
    for (uint32_t i = 0; i < s->nloops; i++)
        if (s->loops[i].epfd > 0) {
            c1m_queue_run(&s->loops[i].queue, &s->loops[i]); /* late worker results */
            c1m_loop_destroy(&s->loops[i]);
        }
    if (s->has_acceptor)
        c1m_loop_destroy(&s->acceptor);
    for (uint32_t i = 0; i < s->nlisteners; i++)
        if (s->listeners[i].owned && s->listeners[i].io.fd >= 0)
            close(s->listeners[i].io.fd);
    free(s->listeners);
    free(s->loops);
    free(s->dispatch.assigned);
    if (s->has_gtimers)
        c1m_gtimers_destroy(&s->gtimers);
}

static int server_setup(c1m_server_t *s)
{
    const c1m_server_cfg_t *cfg = s->cfg;
    c1m_arch_t arch = cfg->arch;
    uint32_t L = cfg->loops ? cfg->loops : 1;
    s->nloops = (arch == C1M_ARCH_SINGLE || arch == C1M_ARCH_WORKERPOOL) ? 1 : L;
    s->loops = calloc(s->nloops, sizeof *s->loops);
    /* reuseport without an inherited fd: a listener per loop; else one. */
    bool per_loop = arch == C1M_ARCH_REUSEPORT && cfg->inherited_fd < 0;
    s->nlisteners = per_loop ? s->nloops : 1;
    s->listeners = calloc(s->nlisteners, sizeof *s->listeners);
    if (!s->loops || !s->listeners)
        return -ENOMEM;

    c1m_loop_cfg_t lcfg = cfg->loop;
    c1m_fd_budget_t b;
    c1m_fd_budget(s->nloops + (arch == C1M_ARCH_DISPATCH), &b);
    uint64_t per_proc = cfg->max_conns ? (cfg->max_conns + cfg->procs - 1) / cfg->procs : 0;
    if (!per_proc || per_proc > b.per_process)
        per_proc = b.per_process;
    /* Per-loop cap: with a shared or reuseport listener the kernel decides
     * which loop accepts, so each loop gets the whole process budget split
     * evenly, rounded up. */
    lcfg.max_conns = (uint32_t)((per_proc + s->nloops - 1) / s->nloops);
    if (lcfg.timers == C1M_TIMERS_GLOBAL_HEAP) {
        /* one heap, one mutex for every loop of the process (acceptor too) */
        int rc = c1m_gtimers_init(&s->gtimers, s->nloops + 1);
        if (rc < 0)
            return rc;
        s->has_gtimers = true;
        lcfg.gtimers = &s->gtimers;
    }

    for (uint32_t i = 0; i < s->nloops; i++) {
        int rc = c1m_loop_init(&s->loops[i], i, &lcfg, cfg->proto);
        if (rc < 0)
            return rc;
    }
    for (uint32_t i = 0; i < s->nlisteners; i++) {
        bool reuseport = per_loop || cfg->prefork_reuseport;
        int rc = open_listener(s, &s->listeners[i], reuseport);
        if (rc < 0) {
            s->nlisteners = i;
            return rc;
        }
        /* a listener watched by several epoll sets wakes only one */
        if (!per_loop && (s->nloops > 1 && arch == C1M_ARCH_EXCLUSIVE))
            s->listeners[i].exclusive = true;
        if (arch == C1M_ARCH_REUSEPORT && !per_loop)
            s->listeners[i].exclusive = true;
    }

    switch (arch) {
    case C1M_ARCH_SINGLE:
    case C1M_ARCH_WORKERPOOL:
    case C1M_ARCH_EXCLUSIVE:
    case C1M_ARCH_REUSEPORT:
        for (uint32_t i = 0; i < s->nloops; i++) {
            int rc = c1m_loop_add_listener(&s->loops[i], &s->listeners[per_loop ? i : 0]);
            if (rc < 0)
                return rc;
        }
        break;
    case C1M_ARCH_DISPATCH: {
        c1m_loop_cfg_t acfg = lcfg;
        acfg.max_conns = 0;
        int rc = c1m_loop_init(&s->acceptor, s->nloops, &acfg, cfg->proto);
        if (rc < 0)
            return rc;
        s->has_acceptor = true;
        s->dispatch = (c1m_dispatch_t){ .targets = s->loops, .n = s->nloops,
                                        .balance = cfg->balance, .max_conns = per_proc };
        s->dispatch.assigned = calloc(s->nloops, sizeof(uint64_t));
        if (!s->dispatch.assigned)
            return -ENOMEM;
        s->acceptor.user = &s->dispatch;
        s->acceptor.on_accept = dispatch_accept;
        rc = c1m_loop_add_listener(&s->acceptor, &s->listeners[0]);
        if (rc < 0)
            return rc;
        break;
    }
    case C1M_ARCH_PREFORK:
    default:
        return -EINVAL;
    }
    if (arch == C1M_ARCH_WORKERPOOL) {
        int rc = c1m_workers_start(&s->workers, cfg->workers ? cfg->workers : 1,
                                   cfg->queue_cap ? cfg->queue_cap : 1024);
        if (rc < 0)
            return rc;
        s->has_workers = true;
        s->loops[0].workers = &s->workers;
    }
    return 0;
}

static void sum_stats(c1m_server_t *s, c1m_loop_stats_t *sum)
{
    memset(sum, 0, sizeof *sum);
    for (uint32_t i = 0; i < s->nloops; i++)
        c1m_loop_stats_add(sum, &s->loops[i].stats);
    if (s->has_acceptor)
        c1m_loop_stats_add(sum, &s->acceptor.stats);
}

/* Stop signals. The control thread takes SIGTERM/SIGINT with sigtimedwait
 * while every thread c1m creates has them blocked. A thread started before
 * ours (a sanitizer runtime's, say) may have them unblocked; a handler then
 * records the signal instead of the default action killing the process. */
static volatile sig_atomic_t c1m__stop_signal;

static void record_stop_signal(int sig) { c1m__stop_signal = sig; }

void c1m_signals_block(const sigset_t *sigs)
{
    struct sigaction sa = { .sa_handler = record_stop_signal, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
}

int c1m_signals_wait(const sigset_t *sigs, const struct timespec *timeout)
{
    int sig = sigtimedwait(sigs, NULL, timeout);
    if ((sig < 0 || sig == SIGCHLD) && c1m__stop_signal) {
        if (sig == SIGCHLD) /* do not lose the SIGCHLD: re-raise it */
            raise(SIGCHLD);
        sig = c1m__stop_signal;
        c1m__stop_signal = 0;
    }
    return sig;
}

int c1m_server_run(const c1m_server_cfg_t *cfg)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    c1m_signals_block(&sigs); /* loop threads inherit the mask */

    c1m_server_t s = { .cfg = cfg };
    int rc = server_setup(&s);
    if (rc < 0) {
        if (rc != -EADDRINUSE && rc != -EINVAL && rc != -EACCES)
            c1m_error("server set-up failed: %s", strerror(-rc));
        if (s.has_workers)
            c1m_workers_stop(&s.workers);
        server_teardown(&s);
        return 1;
    }
    for (uint32_t i = 0; i < s.nloops; i++)
        c1m_loop_start_thread(&s.loops[i]);
    if (s.has_acceptor)
        c1m_loop_start_thread(&s.acceptor);
    if (cfg->slot) {
        cfg->slot->pid = getpid();
        C1M_RELAXED_STORE(&cfg->slot->ready, 1);
    }
    if (!cfg->quiet && !cfg->slot)
        c1m_info("serving %s on %s:%u, arch %s, %u loop%s%s, timers %s "
                 "(timeouts ms: read %u write %u idle %u header %u)", cfg->proto->name,
                 cfg->bind ? cfg->bind : "0.0.0.0", cfg->port, c1m_arch_name(cfg->arch),
                 s.nloops, s.nloops == 1 ? "" : "s",
                 cfg->arch == C1M_ARCH_WORKERPOOL ? ", worker pool" : "",
                 c1m_timers_mode_name(cfg->loop.timers), cfg->loop.timeout_ms[C1M_TO_READ],
                 cfg->loop.timeout_ms[C1M_TO_WRITE], cfg->loop.timeout_ms[C1M_TO_IDLE],
                 cfg->loop.timeout_ms[C1M_TO_HEADER]);

    /* The control thread: signals and metrics; the loops never block on it. */
    c1m_meter_t meter;
    uint64_t start = c1m_now_ns();
    c1m_meter_init(&meter, start);
    uint64_t interval_ms = cfg->metrics_interval_ms ? cfg->metrics_interval_ms : 5000;
    uint64_t publish_ms = cfg->slot || interval_ms > 200 ? 200 : interval_ms;
    uint64_t next_log = start + interval_ms * 1000000ull;
    for (;;) {
        struct timespec ts = { (time_t)(publish_ms / 1000), (long)(publish_ms % 1000) * 1000000 };
        int sig = c1m_signals_wait(&sigs, &ts);
        c1m_loop_stats_t sum;
        sum_stats(&s, &sum);
        if (cfg->slot)
            memcpy(&cfg->slot->stats, &sum, sizeof sum);
        uint64_t now = c1m_now_ns();
        if (!cfg->quiet && !cfg->slot && now >= next_log) {
            c1m_server_log_metrics(c1m_arch_name(cfg->arch), &sum, &meter, now);
            next_log += interval_ms * 1000000ull;
        }
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    if (!cfg->quiet)
        c1m_info("shutting down: no new connections, draining (at most %u ms)",
                 cfg->loop.drain_ms);
    if (s.has_acceptor) {
        c1m_loop_stop(&s.acceptor);
        c1m_loop_join(&s.acceptor);
    }
    for (uint32_t i = 0; i < s.nloops; i++)
        c1m_loop_stop(&s.loops[i]);
    for (uint32_t i = 0; i < s.nloops; i++)
        c1m_loop_join(&s.loops[i]);
    if (s.has_acceptor) { /* fds handed over after a loop stopped */
        for (uint32_t i = 0; i < s.nloops; i++)
            c1m_queue_run(&s.loops[i].queue, &s.loops[i]);
    }
    if (s.has_workers)
        c1m_workers_stop(&s.workers);
    c1m_loop_stats_t sum;
    sum_stats(&s, &sum);
    if (cfg->slot)
        memcpy(&cfg->slot->stats, &sum, sizeof sum);
    if (!cfg->quiet && !cfg->slot)
        c1m_info("stopped: %llu ops, %llu connections accepted, %llu unsent bytes dropped; "
                 "timers %s: timer_inserts=%llu timer_lazy=%llu timer_early=%llu "
                 "timer_forwards=%llu timeouts=%llu",
                 (unsigned long long)sum.msgs, (unsigned long long)sum.accepted,
                 (unsigned long long)sum.dropped_out, c1m_timers_mode_name(cfg->loop.timers),
                 (unsigned long long)sum.timer_inserts, (unsigned long long)sum.timer_lazy,
                 (unsigned long long)sum.timer_early, (unsigned long long)sum.timer_forwards,
                 (unsigned long long)(sum.close_reasons[C1M_CLOSE_TIMEOUT_READ] +
                                      sum.close_reasons[C1M_CLOSE_TIMEOUT_WRITE] +
                                      sum.close_reasons[C1M_CLOSE_TIMEOUT_IDLE] +
                                      sum.close_reasons[C1M_CLOSE_TIMEOUT_HEADER]));
    server_teardown(&s);
    return 0;
}
