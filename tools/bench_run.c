/* c1m bench, the parent: shared memory, children, phases, reporting.
 *
 *   connect  children ramp their connections; the parent prints progress
 *            until every connection is established or given up
 *   run      the parent publishes t_start (now, or --start-at), t_warm and
 *            t_end; the loops start sending at t_start; the parent prints
 *            one line per wall-clock-aligned interval
 *   exit     every loop is done (window over, replies in or grace spent):
 *            the children close their connections and exit; the parent
 *            merges the slots (histograms added) and reports
 *
 * Ctrl-C (SIGINT) or SIGTERM: the window ends now and what was measured is
 * reported; a second one kills the children. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "tools/bench.h"

#define POLL_NS 50000000ull          /* parent poll period */
#define IVAL_SETTLE_NS 60000000ull   /* wait for loops to roll an interval */

typedef struct bench_parent {
    const c1m_bench_cfg_t *cfg;
    c1m_bench_shm_t *shm;
    size_t shm_size;
    pid_t *pids;
    bool *dead;
    bool tty;
    bool interrupted;
    bool child_failed;
    uint64_t stop_wall;              /* when the window was cut short (0 = not) */
    uint64_t connect_secs_ns;
    uint64_t ival_k;                 /* next interval to print */
    c1m_bench_ival_t *ivals;
    uint32_t nivals;
    c1m_hist_t *tmp;
} bench_parent_t;

static volatile sig_atomic_t g_signals;

static void on_signal(int sig)
{
    g_signals++;
}

static void install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    nanosleep(&ts, NULL); /* a signal ends it early: fine */
}

static void fmt_clock(uint64_t wall_ns, char *buf, size_t len)
{
    time_t s = (time_t)(wall_ns / 1000000000u);
    struct tm tm;
    localtime_r(&s, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

/* ---- children -------------------------------------------------------------- */

static bool proc_slots_done(const bench_parent_t *p, uint32_t proc)
{
    const c1m_bench_cfg_t *cfg = p->cfg;
    if (p->dead[proc])
        return true;
    for (uint32_t l = 0; l < cfg->loops; l++)
        if (!__atomic_load_n(&p->shm->slots[proc * cfg->loops + l].done, __ATOMIC_ACQUIRE))
            return false;
    return true;
}

static bool all_done(const bench_parent_t *p)
{
    for (uint32_t i = 0; i < p->cfg->procs; i++)
        if (!proc_slots_done(p, i))
            return false;
    return true;
}

static void note_exit(bench_parent_t *p, pid_t pid, int status)
{
    for (uint32_t i = 0; i < p->cfg->procs; i++) {
        if (p->pids[i] != pid)
            continue;
        p->dead[i] = true;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!clean && p->shm->phase != C1M_BENCH_PHASE_EXIT) {
            p->child_failed = true;
            if (WIFSIGNALED(status))
                c1m_error("client process %u (pid %d) was killed by signal %d", i, (int)pid,
                          WTERMSIG(status));
            else
                c1m_error("client process %u (pid %d) exited with status %d", i, (int)pid,
                          WEXITSTATUS(status));
        }
    }
}

static void reap(bench_parent_t *p)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        note_exit(p, pid, status);
}

static int spawn(bench_parent_t *p)
{
    fflush(NULL);
    for (uint32_t i = 0; i < p->cfg->procs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            c1m_error("fork: %s", strerror(errno));
            return -errno;
        }
        if (pid == 0)
            c1m_bench_child(p->cfg, p->shm, i);
        p->pids[i] = pid;
    }
    return 0;
}

/* Tell the children to close and exit; wait (bounded), then kill. */
static void end_children(bench_parent_t *p)
{
    __atomic_store_n(&p->shm->stop, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&p->shm->phase, C1M_BENCH_PHASE_EXIT, __ATOMIC_RELEASE);
    uint64_t deadline = c1m_now_ns() + 10000000000ull;
    for (;;) {
        reap(p);
        bool alive = false;
        for (uint32_t i = 0; i < p->cfg->procs; i++)
            alive |= !p->dead[i];
        if (!alive)
            return;
        if (c1m_now_ns() > deadline || g_signals >= 3) {
            for (uint32_t i = 0; i < p->cfg->procs; i++)
                if (!p->dead[i])
                    kill(p->pids[i], SIGKILL);
            deadline = UINT64_MAX;
        }
        sleep_ns(20000000);
    }
}

/* ---- connect phase ------------------------------------------------------------ */

static void sum_conn(const bench_parent_t *p, c1m_bench_conn_ctr_t *sum)
{
    memset(sum, 0, sizeof *sum);
    const uint64_t *end = (const uint64_t *)(sum + 1);
    for (uint32_t s = 0; s < p->shm->nslots; s++) {
        const uint64_t *src = (const uint64_t *)&p->shm->slots[s].conn;
        for (uint64_t *d = (uint64_t *)sum; d < end; d++, src++)
            *d += C1M_RELAXED_LOAD(src);
    }
}

static uint64_t conn_errors(const c1m_bench_conn_ctr_t *c)
{
    uint64_t n = 0;
    for (int i = 0; i < C1M_BERR__COUNT; i++)
        n += c->errors[i];
    return n;
}

static void progress(bench_parent_t *p, const c1m_bench_conn_ctr_t *c, uint64_t elapsed_ns,
                     bool final)
{
    if (p->cfg->quiet)
        return;
    double secs = (double)elapsed_ns / 1e9;
    char line[256];
    snprintf(line, sizeof line,
             "connecting: %" PRIu64 " / %" PRIu64 " established, %.0f/s, %" PRIu64
             " in flight, %" PRIu64 " failed, %" PRIu64 " errors, %.1f s",
             c->established, p->cfg->conns, secs > 0 ? (double)c->established / secs : 0.0,
             c->connecting, c->failed, conn_errors(c), secs);
    if (p->tty)
        fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
}

static void connect_phase(bench_parent_t *p)
{
    const c1m_bench_cfg_t *cfg = p->cfg;
    uint64_t t0 = c1m_now_ns(), last_print = 0, last_change = t0, last_settled = 0;
    uint64_t print_every = p->tty ? 200000000ull : 2000000000ull;
    uint64_t stall_ns = cfg->connect_timeout_us * 1000 * (cfg->retries + 2ull) + 5000000000ull;
    c1m_bench_conn_ctr_t c;
    for (;;) {
        sleep_ns(POLL_NS);
        reap(p);
        uint64_t now = c1m_now_ns();
        sum_conn(p, &c);
        if (c.settled != last_settled)
            last_settled = c.settled, last_change = now;
        bool finished = c.settled >= cfg->conns;
        if (g_signals) {
            p->interrupted = true;
            finished = true;
        }
        if (p->child_failed)
            finished = true;
        if (now - last_change > stall_ns) {
            c1m_warn("no connection settled for %.0f s: starting with what is established",
                     (double)stall_ns / 1e9);
            finished = true;
        }
        if (finished || now - last_print >= print_every) {
            progress(p, &c, now - t0, finished);
            last_print = now;
        }
        if (finished)
            break;
    }
    p->connect_secs_ns = c1m_now_ns() - t0;
}

/* ---- run phase ---------------------------------------------------------------- */

static void start_run(bench_parent_t *p, uint64_t established)
{
    const c1m_bench_cfg_t *cfg = p->cfg;
    c1m_bench_shm_t *shm = p->shm;
    uint64_t now = c1m_wall_ns();
    uint64_t t = (now / 1000000u + 100) * 1000000u; /* 100 ms to reach every loop */
    if (cfg->start_at_ns) {
        char b[32];
        fmt_clock(cfg->start_at_ns, b, sizeof b);
        if (cfg->start_at_ns >= t) {
            t = cfg->start_at_ns;
            if (!cfg->quiet)
                c1m_info("start at %s (in %.1f s)", b, (double)(t - now) / 1e9);
        } else {
            c1m_warn("--start-at %s passed %.1f s ago (connecting took longer): starting now; "
                     "the window does not match other invocations'",
                     b, (double)(now - cfg->start_at_ns) / 1e9);
        }
    }
    shm->t_start = t;
    shm->t_warm = t + cfg->warmup_us * 1000;
    shm->t_end = shm->t_warm + cfg->duration_us * 1000;
    shm->est_total = established;
    __atomic_store_n(&shm->phase, C1M_BENCH_PHASE_RUN, __ATOMIC_RELEASE);
    p->ival_k = t / (cfg->interval_us * 1000);
}

static uint64_t window_end(const bench_parent_t *p)
{
    uint64_t e = p->shm->t_end;
    return p->stop_wall && p->stop_wall < e ? p->stop_wall : e;
}

/* Merge interval k of every loop into p->tmp; the max send lag and the
 * event counts too. */
static uint64_t merge_interval(bench_parent_t *p, uint64_t k, c1m_bench_ival_ctr_t *ev)
{
    uint64_t lag = 0;
    memset(ev, 0, sizeof *ev);
    c1m_hist_reset(p->tmp);
    for (uint32_t s = 0; s < p->shm->nslots; s++) {
        c1m_bench_slot_t *sl = &p->shm->slots[s];
        if (__atomic_load_n(&sl->ival_no[k & 1], __ATOMIC_ACQUIRE) != k)
            continue; /* that loop saw nothing of interval k (or is gone) */
        c1m_hist_merge(p->tmp, &sl->ival[k & 1]);
        lag = C1M_MAX(lag, C1M_RELAXED_LOAD(&sl->ival_lag_us[k & 1]));
        const uint64_t *src = (const uint64_t *)&sl->ival_ctr[k & 1];
        uint64_t *dst = (uint64_t *)ev;
        for (size_t i = 0; i < sizeof *ev / sizeof(uint64_t); i++)
            dst[i] += C1M_RELAXED_LOAD(&src[i]);
    }
    return lag;
}

static void print_interval(bench_parent_t *p, uint64_t k)
{
    const c1m_bench_cfg_t *cfg = p->cfg;
    uint64_t ival_ns = cfg->interval_us * 1000;
    uint64_t a = k * ival_ns, b = a + ival_ns;
    uint64_t from = C1M_MAX(a, p->shm->t_start), to = C1M_MIN(b, window_end(p));
    if (to <= from)
        return;
    c1m_bench_ival_ctr_t ev;
    uint64_t lag = merge_interval(p, k, &ev);
    c1m_bench_ival_t v = {
        .ev = ev,
        .t_ns = a, .secs = (double)(to - from) / 1e9, .warm = from < p->shm->t_warm,
        .requests = c1m_hist_count(p->tmp), .p50 = c1m_hist_percentile(p->tmp, 50),
        .p99 = c1m_hist_percentile(p->tmp, 99), .max = c1m_hist_max(p->tmp),
    };
    if (p->nivals < C1M_BENCH_MAX_IVALS)
        p->ivals[p->nivals++] = v;
    if (cfg->quiet)
        return;
    char t[32], b50[32], b99[32], bmax[32], blag[32];
    fmt_clock(a, t, sizeof t);
    printf("%s  %5.2fs  requests %10" PRIu64 "  tps %11.1f  p50 %8s  p99 %8s  max %8s%s", t,
           v.secs, v.requests, (double)v.requests / v.secs,
           c1m_bench_fmt_us(v.p50, b50, sizeof b50), c1m_bench_fmt_us(v.p99, b99, sizeof b99),
           c1m_bench_fmt_us(v.max, bmax, sizeof bmax),
           to <= p->shm->t_warm ? "  (warm-up)" : v.warm ? "  (partly warm-up)" : "");
    if (ev.connect_errors || ev.resets || ev.lost || ev.reconnects)
        printf("  conn_err %" PRIu64 "  resets %" PRIu64 "  lost %" PRIu64 "  reconnects %" PRIu64,
               ev.connect_errors, ev.resets, ev.lost, ev.reconnects);
    if (lag >= 20000)
        printf("  BEHIND SCHEDULE by up to %s", c1m_bench_fmt_us(lag, blag, sizeof blag));
    printf("\n");
    fflush(stdout);
}

static void print_due_intervals(bench_parent_t *p, uint64_t now, bool all)
{
    uint64_t ival_ns = p->cfg->interval_us * 1000;
    while (p->ival_k * ival_ns < window_end(p)) {
        uint64_t end = (p->ival_k + 1) * ival_ns;
        if (!all && now < C1M_MIN(end, window_end(p)) + IVAL_SETTLE_NS)
            return;
        print_interval(p, p->ival_k++);
    }
}

static void handle_stop(bench_parent_t *p)
{
    if (!g_signals || p->stop_wall)
        return;
    p->interrupted = true;
    p->stop_wall = c1m_wall_ns();
    __atomic_store_n(&p->shm->stop, 1, __ATOMIC_RELEASE);
    fprintf(stderr, "\nc1m bench: interrupted: ending the window now (again to abort)\n");
}

/* Every connection is gone (server died or closed them all): nothing more
 * can be measured, so the window ends now rather than idling to t_end. */
static void end_if_no_connection(bench_parent_t *p, uint64_t now)
{
    if (p->stop_wall || now < p->shm->t_start)
        return;
    c1m_bench_conn_ctr_t c;
    sum_conn(p, &c);
    if (c.live || c.connecting)
        return;
    p->stop_wall = now;
    __atomic_store_n(&p->shm->stop, 1, __ATOMIC_RELEASE);
    c1m_warn("no connection left (%" PRIu64 " closed by the peer, %" PRIu64 " on error): "
             "ending the run early", c.closed_peer, c.closed_error);
}

static void run_phase(bench_parent_t *p)
{
    const c1m_bench_cfg_t *cfg = p->cfg;
    uint64_t hard_end = p->shm->t_end + cfg->grace_us * 1000 + 10000000000ull;
    while (!all_done(p)) {
        sleep_ns(POLL_NS);
        reap(p);
        handle_stop(p);
        if (p->child_failed && !p->stop_wall) {
            p->stop_wall = c1m_wall_ns();
            __atomic_store_n(&p->shm->stop, 1, __ATOMIC_RELEASE);
        }
        uint64_t now = c1m_wall_ns();
        end_if_no_connection(p, now);
        print_due_intervals(p, now, false);
        if (g_signals >= 2 || now > hard_end) {
            if (now > hard_end)
                c1m_warn("the loops did not finish in time: reporting what they recorded");
            break;
        }
    }
    /* interval lines still due (a reader late by less than one interval) */
    print_due_intervals(p, c1m_wall_ns(), true);
}

/* ---- result ------------------------------------------------------------------ */

static void add_win(c1m_bench_win_ctr_t *d, const c1m_bench_win_ctr_t *s)
{
    const uint64_t *a = (const uint64_t *)s;
    uint64_t *b = (uint64_t *)d;
    for (size_t i = 0; i < sizeof *s / sizeof(uint64_t); i++)
        b[i] += a[i];
}

static void build_result(bench_parent_t *p, c1m_bench_result_t *r)
{
    const c1m_bench_cfg_t *cfg = p->cfg;
    static const char *const names[] = { "ts8", "echo", "http", "ws" };
    memset(r, 0, sizeof *r);
    snprintf(r->proto, sizeof r->proto, "%s", names[cfg->proto]);
    snprintf(r->target, sizeof r->target, "%s", cfg->target);
    snprintf(r->mode, sizeof r->mode, "%s", cfg->ws_push ? "push" : cfg->rate ? "open" : "closed");
    r->rate = cfg->rate;
    r->pipeline = cfg->pipeline;
    r->procs = cfg->procs;
    r->loops = cfg->loops;
    r->size = cfg->proto == C1M_BENCH_ECHO ? cfg->size : 0;
    r->hosts = 1;
    c1m_bench_conn_ctr_t c;
    sum_conn(p, &c);
    r->conns_target = cfg->conns;
    r->conns_established = c.established;
    r->conns_failed = c.failed;
    r->conns_closed_peer = c.closed_peer;
    r->conns_closed_error = c.closed_error;
    r->attempts = c.attempts;
    r->reconnects = c.reconnects;
    memcpy(r->errors, c.errors, sizeof r->errors);
    c1m_hist_init(&r->lat);
    c1m_hist_init(&r->svc);
    for (uint32_t s = 0; s < p->shm->nslots; s++) {
        c1m_bench_slot_t *sl = &p->shm->slots[s];
        add_win(&r->win, &sl->win);
        uint64_t answered = c1m_hist_count(&sl->lat) + sl->win.lost;
        if (!sl->done && sl->win.sent > answered)
            r->win.lost += sl->win.sent - answered; /* the process died mid-run */
        c1m_hist_merge(&r->lat, &sl->lat);
        c1m_hist_merge(&r->svc, &sl->svc);
        r->max_lag_us = C1M_MAX(r->max_lag_us, sl->max_lag_us);
    }
    r->has_svc = cfg->rate > 0;
    r->interrupted = p->interrupted;
    if (p->shm->phase >= C1M_BENCH_PHASE_RUN && p->shm->t_warm) {
        r->t_start = p->shm->t_warm;
        r->t_end = C1M_MAX(window_end(p), r->t_start);
        r->duration_s = (double)(r->t_end - r->t_start) / 1e9;
    }
    r->warmup_s = (double)cfg->warmup_us / 1e6;
    r->tps = r->duration_s > 0 ? (double)r->win.requests / r->duration_s : 0;
    r->ivals = p->ivals;
    r->nivals = p->nivals;
}

static int write_outputs(const c1m_bench_cfg_t *cfg, const c1m_bench_result_t *r)
{
    int rc = 0;
    if (cfg->json_path && c1m_bench_write_json(r, cfg->json_path) < 0) {
        c1m_error("cannot write %s", cfg->json_path);
        rc = 1;
    }
    if (cfg->hgrm_path && c1m_bench_write_hgrm(r, cfg->hgrm_path) < 0) {
        c1m_error("cannot write %s", cfg->hgrm_path);
        rc = 1;
    }
    return rc;
}

/* Why nothing could be measured, in one sentence. */
static void explain_nothing(const bench_parent_t *p, const c1m_bench_result_t *r)
{
    if (r->conns_established == 0) {
        const char *hint = r->errors[C1M_BERR_REFUSED] ? " (connection refused: is a server "
                                                         "listening there?)"
                         : r->errors[C1M_BERR_CONNECT_TIMEOUT] ? " (connects timed out)"
                         : r->errors[C1M_BERR_BIND] ? " (source addresses unavailable)"
                                                    : "";
        fprintf(stderr, "c1m bench: no connection to %s could be established%s\n",
                p->cfg->target, hint);
    } else if (p->interrupted && !r->duration_s) {
        fprintf(stderr, "c1m bench: interrupted before the measured window began\n");
    } else {
        fprintf(stderr, "c1m bench: no request completed in the measured window (%" PRIu64
                        " sent, %" PRIu64 " lost, %" PRIu64 " connections closed by the peer)\n",
                r->win.sent, r->win.lost, r->conns_closed_peer);
    }
}

static int report(bench_parent_t *p)
{
    c1m_bench_result_t r;
    build_result(p, &r);
    c1m_bench_print(&r, stdout);
    fflush(stdout);
    int rc = write_outputs(p->cfg, &r);
    if (r.win.requests == 0 && c1m_hist_count(&r.lat) == 0) {
        explain_nothing(p, &r);
        return 1;
    }
    if (r.win.mismatches) {
        fprintf(stderr, "c1m bench: %" PRIu64 " replies did not match what was sent\n",
                r.win.mismatches);
        return 1;
    }
    if (p->child_failed)
        return 1;
    return rc;
}

static int parent_init(bench_parent_t *p, const c1m_bench_cfg_t *cfg)
{
    uint32_t nslots = cfg->procs * cfg->loops;
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    p->shm_size = sizeof(c1m_bench_shm_t) + (size_t)nslots * sizeof(c1m_bench_slot_t);
    void *m = mmap(NULL, p->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        c1m_error("mmap of %zu bytes: %s", p->shm_size, strerror(errno));
        return -ENOMEM;
    }
    p->shm = m;
    p->shm->nslots = nslots;
    p->pids = calloc(cfg->procs, sizeof *p->pids);
    p->dead = calloc(cfg->procs, sizeof *p->dead);
    p->ivals = calloc(C1M_BENCH_MAX_IVALS, sizeof *p->ivals);
    p->tmp = malloc(sizeof *p->tmp);
    p->tty = isatty(STDERR_FILENO);
    return p->pids && p->dead && p->ivals && p->tmp ? 0 : -ENOMEM;
}

static void parent_free(bench_parent_t *p)
{
    if (p->shm)
        munmap(p->shm, p->shm_size);
    free(p->pids);
    free(p->dead);
    free(p->ivals);
    free(p->tmp);
}

static void announce(const c1m_bench_cfg_t *cfg)
{
    if (cfg->quiet)
        return;
    static const char *const names[] = { "ts8", "echo", "http", "ws" };
    c1m_info("%s to %s: %lu connections from %u process%s x %u loop%s, %s loop%s", names[cfg->proto],
             cfg->target, (unsigned long)cfg->conns, cfg->procs, cfg->procs == 1 ? "" : "es",
             cfg->loops, cfg->loops == 1 ? "" : "s", cfg->rate ? "open" : "closed",
             cfg->pipeline > 1 ? ", pipelined" : "");
}

int c1m_bench_run(const c1m_bench_cfg_t *cfg)
{
    bench_parent_t p;
    g_signals = 0;
    if (parent_init(&p, cfg) < 0) {
        parent_free(&p);
        return 1;
    }
    install_signals();
    announce(cfg);
    if (spawn(&p) < 0) {
        end_children(&p);
        parent_free(&p);
        return 1;
    }
    connect_phase(&p);
    c1m_bench_conn_ctr_t c;
    sum_conn(&p, &c);
    if (c.established && !p.interrupted && !p.child_failed) {
        if (!cfg->quiet)
            c1m_info("connected %" PRIu64 " of %lu in %.2f s (%" PRIu64 " failed); measuring %.1f s "
                     "after %.1f s of warm-up",
                     c.established, (unsigned long)cfg->conns, (double)p.connect_secs_ns / 1e9,
                     c.failed, (double)cfg->duration_us / 1e6, (double)cfg->warmup_us / 1e6);
        start_run(&p, c.established);
        run_phase(&p);
    }
    end_children(&p);
    int rc = report(&p);
    parent_free(&p);
    return rc;
}
