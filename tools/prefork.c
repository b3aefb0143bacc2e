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

#define C1M_BACKOFF_MIN_MS 100
#define C1M_BACKOFF_MAX_MS 5000
#define C1M_STABLE_MS 2000 /* a child that lived this long resets its back-off */

typedef struct c1m_child {
    pid_t pid;            /* 0 = not running */
    uint64_t started_ms;
    uint64_t restart_at_ms; /* 0 = no restart pending */
    uint32_t backoff_ms;
    uint32_t restarts;
} c1m_child_t;

static pid_t spawn_child(const c1m_server_cfg_t *cfg, c1m_proc_slot_t *slots, uint32_t i,
                         int listen_fd, const sigset_t *sigs)
{
    memset(&slots[i], 0, sizeof slots[i]);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* child */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    char tag[48];
    snprintf(tag, sizeof tag, "serve[%u]", i);
    c1m_log_set_tag(tag);
    c1m_server_cfg_t child = *cfg;
    child.procs = cfg->procs;
    child.listen_fd = listen_fd;
    child.slot = &slots[i];
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

int c1m_prefork_run(const c1m_server_cfg_t *cfg)
{
    uint32_t P = cfg->procs ? cfg->procs : 1;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGCHLD);
    c1m_signals_block(&sigs);

    /* The listener, opened once and inherited by every child; with
     * --prefork-reuseport each child binds its own, and the parent only
     * proves the port is free so that the error is one line, here. */
    char err[256];
    c1m_listen_cfg_t lc = { .bind = cfg->bind, .port = cfg->port,
                            .reuseport = cfg->prefork_reuseport };
    int lfd = c1m_listen_fd(&lc, err, sizeof err);
    if (lfd < 0) {
        c1m_error("%s", err);
        return 1;
    }
    if (cfg->prefork_reuseport) {
        close(lfd);
        lfd = -1;
    }

    c1m_proc_slot_t *slots = mmap(NULL, P * sizeof *slots, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    c1m_child_t *kids = calloc(P, sizeof *kids);
    if (slots == MAP_FAILED || !kids) {
        c1m_error("prefork: out of memory for %u children", P);
        return 1;
    }
    c1m_loop_stats_t retired = { 0 }; /* counters of children that died */

    for (uint32_t i = 0; i < P; i++) {
        kids[i].backoff_ms = C1M_BACKOFF_MIN_MS;
        kids[i].started_ms = c1m_now_ms();
        kids[i].pid = spawn_child(cfg, slots, i, lfd, &sigs);
        if (kids[i].pid < 0) {
            c1m_error("prefork: fork: %s", strerror(errno));
            kids[i].pid = 0;
            kids[i].restart_at_ms = c1m_now_ms() + kids[i].backoff_ms;
        }
    }
    if (!cfg->quiet)
        c1m_info("serving %s on %s:%u, arch prefork: %u processes x %s (%u loop%s)%s",
                 cfg->proto->name, cfg->bind ? cfg->bind : "0.0.0.0", cfg->port, P,
                 c1m_arch_name(cfg->arch), cfg->loops, cfg->loops == 1 ? "" : "s",
                 cfg->prefork_reuseport ? ", SO_REUSEPORT per child" : ", shared listener");

    c1m_meter_t meter;
    uint64_t start = c1m_now_ns();
    c1m_meter_init(&meter, start);
    uint64_t interval_ms = cfg->metrics_interval_ms ? cfg->metrics_interval_ms : 5000;
    uint64_t next_log = start + interval_ms * 1000000ull;
    bool stopping = false;
    int stop_signals = 0;
    for (;;) {
        uint32_t live = 0;
        for (uint32_t i = 0; i < P; i++)
            live += kids[i].pid > 0;
        if (stopping && live == 0)
            break;
        struct timespec ts = { 0, 100 * 1000000 };
        int sig = c1m_signals_wait(&sigs, &ts);
        uint64_t now_ms = c1m_now_ms();
        if (sig == SIGTERM || sig == SIGINT) {
            stop_signals++;
            if (!stopping && !cfg->quiet)
                c1m_info("prefork: %s: stopping %u children", strsignal(sig), live);
            stopping = true;
            /* a second signal escalates: children stop waiting for output */
            for (uint32_t i = 0; i < P; i++)
                if (kids[i].pid > 0)
                    kill(kids[i].pid, stop_signals > 1 ? SIGKILL : SIGTERM);
            if (lfd >= 0)
                shutdown(lfd, SHUT_RD); /* refuse new connections */
        }
        /* Reap every child that ended (SIGCHLD may coalesce). */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            for (uint32_t i = 0; i < P; i++) {
                if (kids[i].pid != pid)
                    continue;
                kids[i].pid = 0;
                c1m_loop_stats_t st = slots[i].stats;
                st.conns = 0; /* its connections died with it */
                c1m_loop_stats_add(&retired, &st);
                memset(&slots[i], 0, sizeof slots[i]);
                if (stopping)
                    break;
                char how[96];
                describe_exit(status, how, sizeof how);
                uint32_t lived = (uint32_t)(now_ms - kids[i].started_ms);
                if (lived >= C1M_STABLE_MS)
                    kids[i].backoff_ms = C1M_BACKOFF_MIN_MS;
                c1m_warn("prefork: child %u (pid %d) %s after %u ms; restarting in %u ms", i,
                         (int)pid, how, lived, kids[i].backoff_ms);
                kids[i].restart_at_ms = now_ms + kids[i].backoff_ms;
                kids[i].backoff_ms = kids[i].backoff_ms * 2 > C1M_BACKOFF_MAX_MS
                                         ? C1M_BACKOFF_MAX_MS
                                         : kids[i].backoff_ms * 2;
                break;
            }
        }
        for (uint32_t i = 0; i < P && !stopping; i++) {
            if (kids[i].pid || !kids[i].restart_at_ms || now_ms < kids[i].restart_at_ms)
                continue;
            kids[i].restart_at_ms = 0;
            kids[i].started_ms = now_ms;
            kids[i].restarts++;
            pid_t pid = spawn_child(cfg, slots, i, lfd, &sigs);
            if (pid < 0) {
                c1m_error("prefork: fork: %s", strerror(errno));
                kids[i].restart_at_ms = now_ms + kids[i].backoff_ms;
                continue;
            }
            kids[i].pid = pid;
        }
        uint64_t now = c1m_now_ns();
        if (!cfg->quiet && now >= next_log) {
            c1m_loop_stats_t sum = retired;
            sum.conns = 0;
            for (uint32_t i = 0; i < P; i++)
                c1m_loop_stats_add(&sum, &slots[i].stats);
            char who[64];
            snprintf(who, sizeof who, "prefork(%u x %s)", P, c1m_arch_name(cfg->arch));
            c1m_server_log_metrics(who, &sum, &meter, now);
            next_log += interval_ms * 1000000ull;
        }
    }
    if (!cfg->quiet)
        c1m_info("prefork: all children stopped");
    if (lfd >= 0)
        close(lfd);
    munmap(slots, P * sizeof *slots);
    free(kids);
    return 0;
}
