#include "tools/prefork.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/meter.h"
#include "engine/listener.h"
#include "tools/serve_run.h"
#include "tools/upgrade.h"

#define C1M_BACKOFF_MIN_MS 100
#define C1M_BACKOFF_MAX_MS 5000
#define C1M_STABLE_MS 2000 /* a child that lived this long resets its back-off */

typedef struct c1m_child {
    pid_t pid;            /* 0 = not running */
    uint32_t slot;        /* its shared-memory slot: i or i + P */
    uint64_t started_ms;
    uint64_t restart_at_ms; /* 0 = no restart pending */
    uint32_t backoff_ms;
    uint32_t restarts;
} c1m_child_t;

/* The supervisor's state: children, their listeners, what they publish. */
typedef struct c1m_prefork {
    const c1m_server_cfg_t *cfg;
    uint32_t P;
    int lfds[C1M_SERVER_MAX_FDS]; /* shared: one; --prefork-reuseport: one per child */
    uint32_t nlfds;
    c1m_proc_slot_t *slots;       /* 2P: a rolling restart's new child takes the other */
    c1m_child_t *kids;
    pid_t *retiring;              /* replaced children still draining (2P at most: a
                                   * roll's, and those of a resumed upgrade) */
    c1m_loop_stats_t retired;     /* counters of children that ended */
    /* rolling restart (SIGHUP): child roll_i is being replaced by roll_pid */
    bool rolling;
    uint32_t roll_i;
    pid_t roll_pid;
    uint32_t roll_slot;
    uint64_t roll_deadline_ms;
} c1m_prefork_t;

static int child_fd(const c1m_prefork_t *pf, uint32_t i)
{
    return pf->lfds[i % pf->nlfds];
}

static pid_t spawn_child(c1m_prefork_t *pf, uint32_t i, uint32_t slot)
{
    memset(&pf->slots[slot], 0, sizeof pf->slots[slot]);
    if (!pf->cfg->prefork_reuseport) { /* one shared listener: balanced (engine/share.h) */
        pf->slots[slot].group = pf->slots;
        pf->slots[slot].ngroup = 2 * pf->P;
    }
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* child */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    c1m_upgrade_forget();
    char tag[48];
    snprintf(tag, sizeof tag, "serve[%u]", i);
    c1m_log_set_tag(tag);
    c1m_server_cfg_t child = *pf->cfg;
    child.listen_fd = child_fd(pf, i); /* the supervisor's: never shut down by a child */
    child.listen_fds = NULL;
    child.nlisten_fds = 0;
    child.slot = &pf->slots[slot];
    child.child_index = i;
    int rc = c1m_server_run(&child);
    _exit(rc);
}

static void describe_exit(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* The listeners: taken over (an upgrade), or opened here once and
 * inherited by every child (the 1M-connections article's Go server passed
 * its listener as ExtraFiles fd 3); with --prefork-reuseport one
 * SO_REUSEPORT listener per child, held here too so that a restarted or
 * replacing child, or the next binary, takes over the same socket and
 * nothing queued on it is lost. */
static int open_listeners(c1m_prefork_t *pf)
{
    const c1m_server_cfg_t *cfg = pf->cfg;
    if (cfg->nlisten_fds) {
        pf->nlfds = cfg->nlisten_fds;
        memcpy(pf->lfds, cfg->listen_fds, pf->nlfds * sizeof(int));
        return 0;
    }
    uint32_t n = cfg->prefork_reuseport ? pf->P : 1;
    if (n > C1M_SERVER_MAX_FDS) {
        c1m_error("--prefork-reuseport: at most %u processes (got %u)", C1M_SERVER_MAX_FDS, n);
        return -EINVAL;
    }
    char err[256];
    c1m_listen_cfg_t lc = { .bind = cfg->bind, .port = cfg->port,
                            .reuseport = cfg->prefork_reuseport };
    for (pf->nlfds = 0; pf->nlfds < n; pf->nlfds++) {
        int fd = c1m_listen_fd(&lc, err, sizeof err);
        if (fd < 0) {
            c1m_error("%s", err);
            return fd;
        }
        pf->lfds[pf->nlfds] = fd;
    }
    return 0;
}

static bool all_ready(const c1m_prefork_t *pf)
{
    for (uint32_t i = 0; i < pf->P; i++)
        if (!pf->kids[i].pid || !C1M_RELAXED_LOAD(&pf->slots[pf->kids[i].slot].ready))
            return false;
    return true;
}

static void retire_stats(c1m_prefork_t *pf, uint32_t slot)
{
    c1m_loop_stats_t st = pf->slots[slot].stats;
    st.conns = 0; /* its connections ended with it */
    c1m_loop_stats_add(&pf->retired, &st);
    memset(&pf->slots[slot], 0, sizeof pf->slots[slot]);
}

static void retire(c1m_prefork_t *pf, pid_t pid)
{
    for (uint32_t r = 0; r < 2 * pf->P; r++)
        if (!pf->retiring[r]) {
            pf->retiring[r] = pid;
            return;
        }
}

/* ---- rolling restart (SIGHUP) ------------------------------------------ */

static void roll_step(c1m_prefork_t *pf, uint64_t now_ms, uint32_t grace_ms)
{
    if (!pf->rolling)
        return;
    if (pf->roll_i == pf->P) {
        pf->rolling = false;
        c1m_info("prefork: rolling restart done: %u children replaced", pf->P);
        return;
    }
    c1m_child_t *k = &pf->kids[pf->roll_i];
    if (!pf->roll_pid) {
        pf->roll_slot = k->slot < pf->P ? k->slot + pf->P : k->slot - pf->P;
        pid_t pid = spawn_child(pf, pf->roll_i, pf->roll_slot);
        if (pid < 0) {
            c1m_error("prefork: rolling restart stopped: fork: %s", strerror(errno));
            pf->rolling = false;
            return;
        }
        pf->roll_pid = pid;
        pf->roll_deadline_ms = now_ms + grace_ms;
        return;
    }
    if (C1M_RELAXED_LOAD(&pf->slots[pf->roll_slot].ready)) {
        /* the new child accepts: the old one stops accepting and drains */
        if (k->pid > 0) {
            kill(k->pid, SIGTERM);
            retire(pf, k->pid);
        }
        c1m_info("prefork: child %u: pid %d ready, pid %d drains", pf->roll_i,
                 (int)pf->roll_pid, (int)k->pid);
        k->pid = pf->roll_pid;
        k->slot = pf->roll_slot;
        k->started_ms = now_ms;
        pf->roll_pid = 0;
        pf->roll_i++;
        return;
    }
    if (now_ms >= pf->roll_deadline_ms) {
        kill(pf->roll_pid, SIGKILL);
        c1m_warn("prefork: rolling restart stopped: the new child %u (pid %d) was not ready "
                 "within %u ms; the old one keeps serving", pf->roll_i, (int)pf->roll_pid,
                 grace_ms);
        pf->rolling = false; /* reaped below as a stranger */
    }
}

/* A child ended: a replaced one (done draining), a replacing one that
 * failed, or a serving one (restarted with back-off). */
static void reaped(c1m_prefork_t *pf, pid_t pid, int status, bool stopping, uint64_t now_ms)
{
    for (uint32_t r = 0; r < 2 * pf->P; r++)
        if (pf->retiring[r] == pid) {
            pf->retiring[r] = 0;
            for (uint32_t s = 0; s < 2 * pf->P; s++)
                if (pf->slots[s].pid == pid)
                    retire_stats(pf, s);
            return;
        }
    if (pid == pf->roll_pid) {
        char how[96];
        describe_exit(status, how, sizeof how);
        c1m_warn("prefork: rolling restart stopped: the new child %u (pid %d) %s before it was "
                 "ready; the old one keeps serving", pf->roll_i, (int)pid, how);
        memset(&pf->slots[pf->roll_slot], 0, sizeof pf->slots[0]);
        pf->roll_pid = 0;
        pf->rolling = false;
        return;
    }
    for (uint32_t i = 0; i < pf->P; i++) {
        c1m_child_t *k = &pf->kids[i];
        if (k->pid != pid)
            continue;
        k->pid = 0;
        retire_stats(pf, k->slot);
        if (stopping)
            return;
        char how[96];
        describe_exit(status, how, sizeof how);
        uint32_t lived = (uint32_t)(now_ms - k->started_ms);
        if (lived >= C1M_STABLE_MS)
            k->backoff_ms = C1M_BACKOFF_MIN_MS;
        c1m_warn("prefork: child %u (pid %d) %s after %u ms; restarting in %u ms", i, (int)pid,
                 how, lived, k->backoff_ms);
        k->restart_at_ms = now_ms + k->backoff_ms;
        k->backoff_ms = k->backoff_ms * 2 > C1M_BACKOFF_MAX_MS ? C1M_BACKOFF_MAX_MS
                                                                : k->backoff_ms * 2;
        return;
    }
}

static uint32_t live_count(const c1m_prefork_t *pf)
{
    uint32_t live = pf->roll_pid > 0;
    for (uint32_t i = 0; i < pf->P; i++)
        live += (pf->kids[i].pid > 0) + (pf->retiring[i] > 0) + (pf->retiring[i + pf->P] > 0);
    return live;
}

/* The new server died after it was ready, within the grace period: the
 * children that were told to drain keep draining (retiring), and a new
 * child takes each place at once, on the listeners the supervisor never
 * let go of. */
static void resume_children(c1m_prefork_t *pf, uint64_t now_ms)
{
    for (uint32_t i = 0; i < pf->P; i++) {
        c1m_child_t *k = &pf->kids[i];
        if (k->pid > 0) {
            retire(pf, k->pid);
            k->slot = k->slot < pf->P ? k->slot + pf->P : k->slot - pf->P;
        }
        k->pid = 0;
        k->restart_at_ms = now_ms;
    }
}

int c1m_prefork_run(const c1m_server_cfg_t *cfg)
{
    c1m_prefork_t pf_ = { .cfg = cfg, .P = cfg->procs ? cfg->procs : 1 }, *pf = &pf_;
    uint32_t P = pf->P;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGCHLD);
    sigaddset(&sigs, SIGUSR2);
    sigaddset(&sigs, SIGHUP);
    c1m_signals_block(&sigs);

    if (open_listeners(pf) < 0)
        return 1;
    pf->slots = mmap(NULL, 2 * P * sizeof *pf->slots, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pf->kids = calloc(P, sizeof *pf->kids);
    pf->retiring = calloc(2 * P, sizeof *pf->retiring);
    if (pf->slots == MAP_FAILED || !pf->kids || !pf->retiring) {
        c1m_error("prefork: out of memory for %u children", P);
        return 1;
    }
    for (uint32_t i = 0; i < P; i++) {
        c1m_child_t *k = &pf->kids[i];
        k->backoff_ms = C1M_BACKOFF_MIN_MS;
        k->started_ms = c1m_now_ms();
        k->slot = i;
        k->pid = spawn_child(pf, i, i);
        if (k->pid < 0) {
            c1m_error("prefork: fork: %s", strerror(errno));
            k->pid = 0;
            k->restart_at_ms = c1m_now_ms() + k->backoff_ms;
        }
    }
    if (!cfg->quiet)
        c1m_info("serving %s on %s:%u, arch prefork: %u processes x %s (%u loop%s)%s%s",
                 cfg->proto->name, cfg->bind ? cfg->bind : "0.0.0.0", cfg->port, P,
                 c1m_arch_name(cfg->arch), cfg->loops, cfg->loops == 1 ? "" : "s",
                 cfg->prefork_reuseport ? ", SO_REUSEPORT listener per child" : ", shared listener",
                 cfg->nlisten_fds ? " (listening sockets inherited: an upgrade)" : "");

    c1m_meter_t meter;
    uint64_t start = c1m_now_ns();
    c1m_meter_init(&meter, start);
    uint64_t interval_ms = cfg->metrics_interval_ms ? cfg->metrics_interval_ms : 5000;
    uint64_t next_log = start + interval_ms * 1000000ull;
    uint32_t grace_ms = c1m_upgrade_grace_ms();
    bool stopping = false, announced = false, handed_over = false;
    int stop_signals = 0;
    c1m_upgrade_t up = { .ready_fd = -1 };
    for (;;) {
        if (stopping && live_count(pf) == 0 && !up.pid)
            break;
        if (!announced && all_ready(pf)) { /* every child accepts: tell who waits */
            announced = true;
            c1m_upgrade_serving();
        }
        struct timespec ts = { 0, (up.pid || pf->rolling ? 20 : 100) * 1000000 };
        int sig = c1m_signals_wait(&sigs, &ts);
        uint64_t now_ms = c1m_now_ms();
        if (sig == SIGUSR2) {
            char why[512];
            if (stopping || up.pid || pf->rolling || !announced)
                c1m_warn("upgrade: SIGUSR2 refused: %s",
                         up.pid ? c1m_upgrade_busy(&up) : pf->rolling
                             ? "a rolling restart is in progress" : !announced
                             ? "not every child is ready yet" : "this server is draining");
            else if (c1m_upgrade_start(&up, pf->lfds, (int)pf->nlfds, why, sizeof why) < 0)
                c1m_warn("upgrade failed: %s; still serving", why);
            else
                c1m_info("upgrade: %s with %u listening socket%s", why, pf->nlfds,
                         pf->nlfds == 1 ? "" : "s");
        }
        if (sig == SIGHUP) {
            if (stopping || up.pid || pf->rolling)
                c1m_warn("prefork: SIGHUP refused: %s", up.pid ? "an upgrade is in progress"
                         : pf->rolling ? "a rolling restart is in progress" : "draining");
            else {
                c1m_info("prefork: rolling restart of %u children, one at a time", P);
                pf->rolling = true;
                pf->roll_i = 0;
            }
        }
        bool stop_now = sig == SIGTERM || sig == SIGINT, hand_now = false;
        if (up.pid) {
            char why[512];
            int st = c1m_upgrade_poll(&up, why, sizeof why);
            if (st == C1M_UPGRADE_FAILED)
                c1m_warn("upgrade failed: %s; still serving", why);
            if (st == C1M_UPGRADE_DONE)
                c1m_info("upgrade: %s: this supervisor (pid %d) no longer watches it", why,
                         (int)getpid());
            if (st == C1M_UPGRADE_DIED) {
                c1m_upgrade_take_fds(&up, NULL, 0); /* ours never closed */
                c1m_warn("upgrade failed: %s; this supervisor (pid %d) starts %u children "
                         "again on its %u listening socket%s (still serving)", why,
                         (int)getpid(), P, pf->nlfds, pf->nlfds == 1 ? "" : "s");
                resume_children(pf, now_ms);
                stopping = handed_over = false;
                stop_signals = 0;
                c1m_upgrade_serving(); /* the pid file names us again */
            }
            if (st == C1M_UPGRADE_READY && !stopping) {
                c1m_info("upgrade: %s: this supervisor (pid %d) and its children stop "
                         "accepting and drain (at most %u ms), and it watches the new one for "
                         "the rest of the grace period", why, (int)getpid(), cfg->loop.drain_ms);
                c1m_upgrade_leaving("handed"); /* our own predecessor need not watch us */
                handed_over = hand_now = true; /* drain as on SIGTERM, listeners left listening */
            }
        }
        if (stop_now || hand_now) {
            stop_signals += stop_now;
            if (!stopping && !cfg->quiet && !handed_over)
                c1m_info("prefork: %s: stopping %u children", strsignal(sig), live_count(pf));
            stopping = true;
            pf->rolling = false;
            if (stop_now) {
                c1m_upgrade_leaving("stopping"); /* it closes the listeners: no taking over */
                c1m_upgrade_abandon(&up);
            }
            /* a second signal escalates: children stop waiting for output */
            int ksig = stop_signals > 1 && !handed_over ? SIGKILL : SIGTERM;
            for (uint32_t i = 0; i < P; i++)
                if (pf->kids[i].pid > 0)
                    kill(pf->kids[i].pid, ksig);
            for (uint32_t i = 0; i < 2 * P && ksig == SIGKILL; i++)
                if (pf->retiring[i] > 0)
                    kill(pf->retiring[i], ksig);
            if (pf->roll_pid > 0)
                kill(pf->roll_pid, SIGTERM);
            for (uint32_t l = 0; l < pf->nlfds && !handed_over; l++)
                shutdown(pf->lfds[l], SHUT_RD); /* refuse new connections */
        }
        /* Reap every child that ended (SIGCHLD may coalesce). */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            if (!c1m_upgrade_reaped(&up, pid, status))
                reaped(pf, pid, status, stopping, now_ms);
        }
        if (!stopping)
            roll_step(pf, now_ms, grace_ms);
        for (uint32_t i = 0; i < P && !stopping; i++) {
            c1m_child_t *k = &pf->kids[i];
            if (k->pid || !k->restart_at_ms || now_ms < k->restart_at_ms)
                continue;
            k->restart_at_ms = 0;
            k->started_ms = now_ms;
            k->restarts++;
            pid_t pid = spawn_child(pf, i, k->slot);
            if (pid < 0) {
                c1m_error("prefork: fork: %s", strerror(errno));
                k->restart_at_ms = now_ms + k->backoff_ms;
                continue;
            }
            k->pid = pid;
        }
        uint64_t now = c1m_now_ns();
        if (!cfg->quiet && !stopping && now >= next_log) {
            c1m_loop_stats_t sum = pf->retired;
            sum.conns = 0;
            for (uint32_t s = 0; s < 2 * P; s++)
                c1m_loop_stats_add(&sum, &pf->slots[s].stats);
            char who[64];
            snprintf(who, sizeof who, "prefork(%u x %s)", P, c1m_arch_name(cfg->arch));
            c1m_server_log_metrics(who, &sum, &meter, now);
            next_log += interval_ms * 1000000ull;
        }
    }
    c1m_server_log_drain("prefork", &pf->retired);
    if (!cfg->quiet)
        c1m_info("prefork: all children stopped");
    for (uint32_t l = 0; l < pf->nlfds; l++)
        close(pf->lfds[l]);
    munmap(pf->slots, 2 * P * sizeof *pf->slots);
    free(pf->kids);
    free(pf->retiring);
    c1m_upgrade_exit();
    return 0;
}
