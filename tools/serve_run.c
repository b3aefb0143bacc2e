#include "tools/serve_run.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"
#include "core/meter.h"
#include "engine/timeouts.h"
#include "tools/upgrade.h"

/* Signals. The control thread takes SIGTERM/SIGINT (stop), SIGUSR2
 * (upgrade) and SIGHUP (prefork: rolling restart) with sigtimedwait while
 * every thread c1m creates has them blocked. A thread started before ours
 * (a sanitizer runtime's, say) may have them unblocked; a handler then
 * records the signal instead of the default action killing the process. */
static volatile sig_atomic_t recorded[NSIG];

static void record_signal(int sig) { recorded[sig] = 1; }

void c1m_signals_block(const sigset_t *sigs)
{
    struct sigaction sa = { .sa_handler = record_signal, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    static const int caught[] = { SIGTERM, SIGINT, SIGUSR2, SIGHUP };
    for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
        if (sigismember(sigs, caught[i]) == 1)
            sigaction(caught[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
}

int c1m_signals_wait(const sigset_t *sigs, const struct timespec *timeout)
{
    int sig = sigtimedwait(sigs, NULL, timeout);
    if (sig < 0 || sig == SIGCHLD) {
        for (int s = 1; s < NSIG; s++) {
            if (!recorded[s])
                continue;
            recorded[s] = 0;
            if (sig == SIGCHLD) /* do not lose the SIGCHLD: re-raise it */
                raise(SIGCHLD);
            return s;
        }
    }
    return sig;
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

void c1m_server_log_drain(const char *who, const c1m_loop_stats_t *s)
{
    uint64_t late = s->drain_deadline_closed;
    c1m_info("%s drained: %llu connections closed cleanly, %llu closed at the deadline, "
             "%llu requests completed during the drain", who,
             (unsigned long long)(s->drain_conns > late ? s->drain_conns - late : 0),
             (unsigned long long)late, (unsigned long long)s->drain_requests);
}

/* SIGUSR2: start the new binary on our listening sockets. */
static void upgrade_begin(c1m_server_t *serving, c1m_upgrade_t *up, bool stopping)
{
    const char *busy = c1m_upgrade_busy(up);
    if (busy || stopping || !serving) {
        c1m_warn("upgrade: SIGUSR2 refused: %s", busy ? busy : "this server is draining");
        return;
    }
    int fds[C1M_SERVER_MAX_FDS];
    int n = c1m_server_listen_fds(serving, fds, C1M_SERVER_MAX_FDS);
    char why[512];
    if (c1m_upgrade_start(up, fds, n, why, sizeof why) < 0)
        c1m_warn("upgrade failed: %s; still serving", why);
    else
        c1m_info("upgrade: %s with %d listening socket%s", why, n, n == 1 ? "" : "s");
}

/* The new server died after it was ready: serve our copies of the
 * listening sockets again with a fresh instance (the one that handed
 * over keeps draining its connections beside it). */
static c1m_server_t *upgrade_resume(const c1m_server_cfg_t *cfg, c1m_upgrade_t *up,
                                    const char *why)
{
    static int fds[C1M_SERVER_MAX_FDS]; /* the instance takes them over */
    int n = c1m_upgrade_take_fds(up, fds, C1M_SERVER_MAX_FDS);
    c1m_server_cfg_t again = *cfg;
    again.listen_fds = fds;
    again.nlisten_fds = (uint32_t)n;
    c1m_server_t *s = NULL;
    char err[512];
    if (c1m_server_start(&s, &again, err, sizeof err) < 0) {
        c1m_error("upgrade failed: %s; and this server cannot accept again: %s", why, err);
        for (int i = 0; i < n; i++)
            close(fds[i]);
        return NULL;
    }
    c1m_warn("upgrade failed: %s; this server (pid %d) accepts again on its %d listening "
             "socket%s (still serving)", why, (int)getpid(), n, n == 1 ? "" : "s");
    c1m_upgrade_serving(); /* the pid file names us again */
    return s;
}

#define MAX_LEAVING 4

int c1m_server_run(const c1m_server_cfg_t *cfg)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    if (!cfg->slot) /* a prefork child is upgraded by its supervisor */
        sigaddset(&sigs, SIGUSR2);
    c1m_signals_block(&sigs); /* loop threads inherit the mask */

    c1m_server_t *s;
    char err[512];
    int rc = c1m_server_start(&s, cfg, err, sizeof err);
    if (rc < 0) {
        c1m_error("%s", err);
        return 1;
    }
    uint32_t nloops = c1m__server_nloops(s);
    if (!cfg->quiet && !cfg->slot)
        c1m_info("serving %s on %s:%u, arch %s, %u loop%s%s, backend %s, timers %s "
                 "(timeouts ms: read %u write %u idle %u header %u)%s", cfg->proto->name,
                 cfg->bind ? cfg->bind : "0.0.0.0", c1m_server_port(s),
                 c1m_arch_name(cfg->arch), nloops, nloops == 1 ? "" : "s",
                 cfg->arch == C1M_ARCH_WORKERPOOL ? ", worker pool" : "",
                 c1m_loop_backend_name(c1m__server_loop(s, 0)),
                 c1m_timers_mode_name(cfg->loop.timers), cfg->loop.timeout_ms[C1M_TO_READ],
                 cfg->loop.timeout_ms[C1M_TO_WRITE], cfg->loop.timeout_ms[C1M_TO_IDLE],
                 cfg->loop.timeout_ms[C1M_TO_HEADER],
                 cfg->nlisten_fds ? " (listening sockets inherited: an upgrade)" : "");
    if (!cfg->slot)
        c1m_upgrade_serving();

    /* The control thread: signals, upgrade and metrics; the loops never
     * block on it. It keeps answering while the server drains.
     * serving: the instance that accepts (none once handed over);
     * leaving: instances draining (the one that handed over, and beside a
     * resumed one after a failed upgrade, the one before). The process
     * ends when nothing serves, nothing drains and no upgrade is watched. */
    c1m_meter_t meter;
    uint64_t start = c1m_now_ns();
    c1m_meter_init(&meter, start);
    uint64_t interval_ms = cfg->metrics_interval_ms ? cfg->metrics_interval_ms : 5000;
    uint64_t publish_ms = cfg->slot || interval_ms > 200 ? 200 : interval_ms;
    uint64_t next_log = start + interval_ms * 1000000ull;
    c1m_loop_stats_t sum, total = { 0 }; /* total: instances that ended */
    c1m_server_t *serving = s, *leaving[MAX_LEAVING];
    uint32_t nleaving = 0;
    c1m_upgrade_t up = { .ready_fd = -1 };
    bool stopping = false;
    for (;;) {
        uint64_t wait_ms = up.pid || nleaving ? 20 : publish_ms;
        struct timespec ts = { (time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000 };
        int sig = c1m_signals_wait(&sigs, &ts);
        sum = total;
        for (uint32_t i = 0; i <= nleaving; i++) {
            c1m_server_t *x = i < nleaving ? leaving[i] : serving;
            c1m_loop_stats_t one;
            if (!x)
                continue;
            c1m_server_stats(x, &one);
            c1m_loop_stats_add(&sum, &one);
        }
        if (cfg->slot)
            memcpy(&cfg->slot->stats, &sum, sizeof sum);
        uint64_t now = c1m_now_ns();
        if (!cfg->quiet && !cfg->slot && serving && !stopping && now >= next_log) {
            c1m_server_log_metrics(c1m_arch_name(cfg->arch), &sum, &meter, now);
            next_log += interval_ms * 1000000ull;
        }
        if (sig == SIGUSR2) {
            if (nleaving == MAX_LEAVING)
                c1m_warn("upgrade: SIGUSR2 refused: %u earlier servers still draining", nleaving);
            else
                upgrade_begin(serving, &up, stopping);
        }
        if (up.pid) {
            char why[512];
            int st = c1m_upgrade_poll(&up, why, sizeof why);
            if (st == C1M_UPGRADE_FAILED)
                c1m_warn("upgrade failed: %s; still serving", why);
            if (st == C1M_UPGRADE_DONE)
                c1m_info("upgrade: %s: this server (pid %d) no longer watches it", why,
                         (int)getpid());
            if (st == C1M_UPGRADE_DIED)
                serving = upgrade_resume(cfg, &up, why);
            if (st == C1M_UPGRADE_READY && serving) {
                c1m_info("upgrade: %s: this server (pid %d) stops accepting and drains "
                         "(at most %u ms), and watches it for the rest of the grace period",
                         why, (int)getpid(), cfg->loop.drain_ms);
                c1m_upgrade_leaving("handed"); /* our own predecessor need not watch us */
                c1m_server_keep_listeners(serving);
                c1m_server_drain(serving);
                leaving[nleaving++] = serving;
                serving = NULL;
            }
        }
        if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
            if (!cfg->quiet)
                c1m_info("shutting down: no new connections, draining (at most %u ms)",
                         cfg->loop.drain_ms);
            stopping = true;
            c1m_upgrade_leaving("stopping"); /* it closes the listeners: no taking over */
            c1m_upgrade_abandon(&up);
            if (serving) {
                c1m_server_drain(serving);
                leaving[nleaving++] = serving;
                serving = NULL;
            }
        }
        for (uint32_t i = 0; i < nleaving;) {
            if (!c1m_server_drained(leaving[i])) {
                i++;
                continue;
            }
            c1m_loop_stats_t one;
            c1m__server_stop(leaving[i], &one);
            if (!cfg->slot)
                c1m_server_log_drain(c1m_arch_name(cfg->arch), &one);
            c1m_loop_stats_add(&total, &one);
            leaving[i] = leaving[--nleaving];
        }
        if (!serving && !nleaving && !up.pid)
            break;
    }
    sum = total;
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
    if (!cfg->slot)
        c1m_upgrade_exit();
    return 0;
}
