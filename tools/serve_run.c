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

/* Stop signals. The control thread takes SIGTERM/SIGINT with sigtimedwait
 * while every thread c1m creates has them blocked. A thread started before
 * ours (a sanitizer runtime's, say) may have them unblocked; a handler then
 * records the signal instead of the default action killing the process. */
static volatile sig_atomic_t stop_signal;

static void record_stop_signal(int sig) { stop_signal = sig; }

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
    if ((sig < 0 || sig == SIGCHLD) && stop_signal) {
        if (sig == SIGCHLD) /* do not lose the SIGCHLD: re-raise it */
            raise(SIGCHLD);
        sig = stop_signal;
        stop_signal = 0;
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

int c1m_server_run(const c1m_server_cfg_t *cfg)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
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
                 "(timeouts ms: read %u write %u idle %u header %u)", cfg->proto->name,
                 cfg->bind ? cfg->bind : "0.0.0.0", c1m_server_port(s),
                 c1m_arch_name(cfg->arch), nloops, nloops == 1 ? "" : "s",
                 cfg->arch == C1M_ARCH_WORKERPOOL ? ", worker pool" : "",
                 c1m_loop_backend_name(c1m__server_loop(s, 0)),
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
    c1m_loop_stats_t sum;
    for (;;) {
        struct timespec ts = { (time_t)(publish_ms / 1000), (long)(publish_ms % 1000) * 1000000 };
        int sig = c1m_signals_wait(&sigs, &ts);
        c1m_server_stats(s, &sum);
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
    c1m__server_stop(s, &sum);
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
    return 0;
}
