#include "tools/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define ENV_FDS "C1M_LISTEN_FDS"
#define ENV_READY "C1M_READY_FD"

extern char **environ;

static c1m_upgrade_cfg_t U = { .grace_ms = C1M_UPGRADE_GRACE_MS };
static char self_path[4096];
static int ready_fd = -1; /* started by an upgrade: where to say "ready" */
static int told_ready;    /* ... and said it */

uint32_t c1m_upgrade_grace_ms(void) { return U.grace_ms; }

void c1m_upgrade_forget(void)
{
    if (ready_fd > 2)
        close(ready_fd);
    ready_fd = -1;
}

void c1m_upgrade_configure(const c1m_upgrade_cfg_t *cfg)
{
    U = *cfg;
    if (!U.grace_ms)
        U.grace_ms = C1M_UPGRADE_GRACE_MS;
    /* "the same path": the file there when SIGUSR2 comes (a new build
     * replaced it), not the inode this process runs from */
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    self_path[n > 0 ? n : 0] = '\0';
    const char *del = " (deleted)";
    size_t l = strlen(self_path), dl = strlen(del);
    if (l > dl && !strcmp(self_path + l - dl, del))
        self_path[l - dl] = '\0';
}

static void describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

int c1m_upgrade_start(c1m_upgrade_t *u, const int *fds, int nfds, char *why, size_t len)
{
    const char *path = U.exec ? U.exec : self_path;
    if (!path[0] || !U.argv) {
        snprintf(why, len, "no binary to start (the path of this one is unknown)");
        return -ENOENT;
    }
    if (access(path, X_OK) < 0) {
        int e = errno;
        snprintf(why, len, "cannot execute %s: %s", path, strerror(e));
        return -e;
    }
    if (nfds > C1M_UPGRADE_MAX_FDS) {
        snprintf(why, len, "%d listening sockets: at most %d are handed over", nfds,
                 C1M_UPGRADE_MAX_FDS);
        return -E2BIG;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        int e = errno;
        snprintf(why, len, "pipe: %s", strerror(e));
        return -e;
    }
    /* Everything the child needs is built before fork: between fork and
     * exec a multi-threaded process may only make async-signal-safe calls. */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 3, sizeof *envp);
    char **argv = calloc((size_t)U.argc + 2, sizeof *argv);
    char fdvar[16 + 12 * 64], readyvar[32];
    if (!envp || !argv) {
        free(envp);
        free(argv);
        close(p[0]);
        close(p[1]);
        snprintf(why, len, "out of memory");
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], ENV_FDS "=", sizeof ENV_FDS) &&
            strncmp(environ[i], ENV_READY "=", sizeof ENV_READY))
            envp[k++] = environ[i];
    int off = snprintf(fdvar, sizeof fdvar, ENV_FDS "=");
    for (int i = 0; i < nfds && i < 64; i++)
        off += snprintf(fdvar + off, sizeof fdvar - (size_t)off, "%s%d", i ? "," : "", fds[i]);
    snprintf(readyvar, sizeof readyvar, ENV_READY "=%d", p[1]);
    envp[k++] = fdvar;
    envp[k++] = readyvar;
    /* U.argv[0] is the command's display name ("c1m serve"): the
     * command word is given again */
    argv[0] = (char *)path;
    argv[1] = (char *)"serve";
    for (int i = 1; i < U.argc; i++)
        argv[i + 1] = U.argv[i];
    pid_t pid = fork();
    if (pid == 0) {
        /* the signal mask stays as it is (stop and upgrade signals
         * blocked): one that comes early waits until the new server
         * listens for it instead of killing it */
        for (int i = 0; i < nfds; i++)
            fcntl(fds[i], F_SETFD, 0);
        fcntl(p[1], F_SETFD, 0);
        execve(path, argv, envp);
        _exit(127);
    }
    int e = errno;
    free(envp);
    free(argv);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        snprintf(why, len, "fork: %s", strerror(e));
        return -e;
    }
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    *u = (c1m_upgrade_t){ .pid = pid, .ready_fd = p[0],
                          .deadline_ms = c1m_now_ms() + U.grace_ms };
    /* Our own copies of the listening sockets: whatever the caller closes
     * once it drains, these keep them listening until the watch is over,
     * so that a new server dying then can be replaced by us again. */
    for (int i = 0; i < nfds; i++) {
        int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        if (d >= 0)
            u->fds[u->nfds++] = d;
    }
    if (u->nfds < nfds)
        c1m_warn("upgrade: cannot keep a copy of every listening socket (%s): should the new "
                 "server die after it is ready, this one cannot take over again", strerror(errno));
    snprintf(why, len, "started %s (pid %d)", path, (int)pid);
    return 0;
}

/* The upgrade is over: what is still open is closed. */
static int upgrade_end(c1m_upgrade_t *u, int st)
{
    if (u->ready_fd >= 0)
        close(u->ready_fd);
    for (int i = 0; i < u->nfds; i++)
        close(u->fds[i]);
    *u = (c1m_upgrade_t){ .ready_fd = -1 };
    return st;
}

static int upgrade_failed(c1m_upgrade_t *u) { return upgrade_end(u, C1M_UPGRADE_FAILED); }

int c1m_upgrade_take_fds(c1m_upgrade_t *u, int *fds, int cap)
{
    int n = fds ? (u->nfds < cap ? u->nfds : cap) : 0;
    if (n)
        memcpy(fds, u->fds, (size_t)n * sizeof *fds);
    for (int i = n; i < u->nfds; i++)
        close(u->fds[i]);
    u->nfds = 0;
    upgrade_end(u, C1M_UPGRADE_DIED);
    return n;
}

void c1m_upgrade_abandon(c1m_upgrade_t *u)
{
    if (!u->pid)
        return;
    if (!u->ready) { /* it would have no one to hand over to */
        kill(u->pid, SIGTERM);
        c1m_warn("upgrade: abandoned (stopping): sent SIGTERM to pid %d", (int)u->pid);
    }
    upgrade_end(u, C1M_UPGRADE_DONE);
}

const char *c1m_upgrade_busy(const c1m_upgrade_t *u)
{
    if (!u->pid)
        return NULL;
    return u->ready ? "this server handed over and watches the new one for its grace period"
                    : "an upgrade is in progress";
}

/* Read what the new server wrote (its pid, then "handed" or "stopping")
 * without blocking; u->eof once it closed its end. */
static void read_pipe(c1m_upgrade_t *u)
{
    size_t have = strlen(u->said);
    while (u->ready_fd >= 0 && !u->eof) {
        char buf[64];
        ssize_t n = read(u->ready_fd, buf, sizeof buf);
        if (n == 0)
            u->eof = 1;
        if (n <= 0)
            break;
        size_t k = (size_t)n < sizeof u->said - 1 - have ? (size_t)n : sizeof u->said - 1 - have;
        memcpy(u->said + have, buf, k);
        have += k;
        u->said[have] = '\0';
    }
}

/* Watched after it was ready: is it gone, or did it say it no longer
 * needs us? */
static int upgrade_watch(c1m_upgrade_t *u, char *why, size_t len)
{
    int status = u->status;
    pid_t r = u->reaped ? u->pid : waitpid(u->pid, &status, WNOHANG);
    read_pipe(u); /* after waitpid: what it wrote before it died is there now */
    const char *word = strstr(u->said, "handed") ? "handed over to its successor"
                       : strstr(u->said, "stopping") ? "is stopping" : NULL;
    if (word) {
        snprintf(why, len, "the new server (pid %d) %s", (int)u->pid, word);
        return upgrade_end(u, C1M_UPGRADE_DONE);
    }
    if (r == u->pid) {
        char how[96];
        describe_status(status, how, sizeof how);
        int listening = u->nfds > 0;
        for (int i = 0; i < u->nfds; i++) {
            int acc = 0;
            socklen_t sl = sizeof acc;
            if (getsockopt(u->fds[i], SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) < 0 || !acc)
                listening = 0;
        }
        if (!listening) {
            snprintf(why, len, "the new server (pid %d) %s after it was ready, and the listening "
                     "sockets are %s: this server cannot take over again", (int)u->pid, how,
                     u->nfds ? "shut down" : "not kept here");
            return upgrade_end(u, C1M_UPGRADE_DONE);
        }
        snprintf(why, len, "the new server (pid %d) %s %llu ms after it was ready, within the "
                 "grace period (%u ms)", (int)u->pid, how,
                 (unsigned long long)(c1m_now_ms() - u->ready_ms), U.grace_ms);
        return C1M_UPGRADE_DIED; /* the caller takes the fds, which ends u */
    }
    if (c1m_now_ms() >= u->deadline_ms) {
        snprintf(why, len, "the new server (pid %d) served through the grace period (%u ms)",
                 (int)u->pid, U.grace_ms);
        return upgrade_end(u, C1M_UPGRADE_DONE);
    }
    return C1M_UPGRADE_WAITING;
}

int c1m_upgrade_reaped(c1m_upgrade_t *u, pid_t pid, int status)
{
    if (!u->pid || pid != u->pid)
        return 0;
    u->status = status;
    u->reaped = 1;
    return 1;
}

int c1m_upgrade_poll(c1m_upgrade_t *u, char *why, size_t len)
{
    if (!u->pid)
        return C1M_UPGRADE_FAILED;
    if (u->ready)
        return upgrade_watch(u, why, len);
    read_pipe(u);
    if (strchr(u->said, '\n')) { /* its pid: the new server accepts */
        u->ready = 1;
        u->ready_ms = c1m_now_ms();
        snprintf(why, len, "the new server (pid %d) is ready", (int)u->pid);
        return C1M_UPGRADE_READY;
    }
    /* An EOF alone says nothing yet: it closed the pipe because it is
     * ending; the next polls reap it. */
    int status = u->status;
    pid_t r = u->reaped ? u->pid : waitpid(u->pid, &status, WNOHANG);
    if (r == u->pid) {
        char how[96];
        describe_status(status, how, sizeof how);
        snprintf(why, len, "the new server (pid %d) %s before it was ready%s", (int)u->pid, how,
                 WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (exec failed)" : "");
        return upgrade_failed(u);
    }
    if (c1m_now_ms() >= u->deadline_ms) {
        kill(u->pid, SIGKILL);
        waitpid(u->pid, &status, 0);
        snprintf(why, len, "the new server (pid %d) was not ready within %u ms: killed it",
                 (int)u->pid, U.grace_ms);
        return upgrade_failed(u);
    }
    return C1M_UPGRADE_WAITING;
}

int c1m_upgrade_inherited(int *fds, int cap, char *err, size_t len)
{
    const char *r = getenv(ENV_READY);
    if (r) {
        ready_fd = atoi(r);
        if (ready_fd > 2)
            fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
        unsetenv(ENV_READY);
    }
    const char *v = getenv(ENV_FDS);
    if (!v)
        return 0;
    int n = 0;
    const char *p = v;
    while (*p) {
        char *end;
        long fd = strtol(p, &end, 10);
        int acc = 0;
        socklen_t sl = sizeof acc;
        if (end == p || fd < 0 || fd > 1 << 20 || n == cap ||
            getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) < 0 || !acc) {
            snprintf(err, len, ENV_FDS "=%s: '%.*s' is not a listening socket this process "
                     "inherited (it is set by c1m serve's upgrade, not by hand)", v,
                     (int)strcspn(p, ","), p);
            return -EINVAL;
        }
        fcntl((int)fd, F_SETFD, FD_CLOEXEC); /* a later upgrade passes them on itself */
        fds[n++] = (int)fd;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            snprintf(err, len, ENV_FDS "=%s: want fd numbers separated by commas", v);
            return -EINVAL;
        }
    }
    unsetenv(ENV_FDS);
    return n;
}

void c1m_upgrade_serving(void)
{
    if (U.pid_file) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.%d", U.pid_file, (int)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
            rename(tmp, U.pid_file) < 0)
            c1m_warn("cannot write the pid file %s: %s", U.pid_file, strerror(errno));
    }
    if (ready_fd < 0)
        return;
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    if (ready_fd <= 2 || write(ready_fd, buf, (size_t)n) != n) {
        c1m_warn("upgrade: cannot tell the old server that this one is ready (%s=%d)",
                 ENV_READY, ready_fd);
        c1m_upgrade_forget();
        return;
    }
    told_ready = 1;
    /* the pipe stays open: the old server watches us through the grace
     * period, and is told when it need not (c1m_upgrade_leaving) */
}

void c1m_upgrade_leaving(const char *what)
{
    if (ready_fd < 0)
        return;
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%s\n", what);
    /* not ready yet (a prefork supervisor stopped before every child ran):
     * any line would read as "ready"; closing the pipe says enough */
    if (told_ready && write(ready_fd, buf, (size_t)n) != n)
        c1m_debug("upgrade: the old server is gone (%s)", strerror(errno));
    c1m_upgrade_forget();
}

void c1m_upgrade_exit(void)
{
    if (!U.pid_file)
        return;
    FILE *f = fopen(U.pid_file, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    if (pid == (int)getpid())
        unlink(U.pid_file);
}
