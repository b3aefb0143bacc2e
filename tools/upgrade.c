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
    snprintf(why, len, "started %s (pid %d)", path, (int)pid);
    return 0;
}

static int upgrade_failed(c1m_upgrade_t *u)
{
    close(u->ready_fd);
    *u = (c1m_upgrade_t){ .ready_fd = -1 };
    return C1M_UPGRADE_FAILED;
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
    char buf[32];
    ssize_t n = read(u->ready_fd, buf, sizeof buf - 1);
    if (n > 0) { /* its pid: the new server accepts */
        close(u->ready_fd);
        u->ready_fd = -1;
        snprintf(why, len, "the new server (pid %d) is ready", (int)u->pid);
        return C1M_UPGRADE_READY;
    }
    int status = u->status;
    pid_t r = u->reaped ? u->pid : waitpid(u->pid, &status, WNOHANG);
    if (r == 0 && n == 0) {
        /* EOF: it closed the pipe without a word, so it is ending */
        for (int i = 0; i < 100 && r == 0; i++) {
            usleep(10000);
            r = waitpid(u->pid, &status, WNOHANG);
        }
    }
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
    if (ready_fd <= 2 || write(ready_fd, buf, (size_t)n) != n)
        c1m_warn("upgrade: cannot tell the old server that this one is ready (%s=%d)",
                 ENV_READY, ready_fd);
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
