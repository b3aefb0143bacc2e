/* Child processes of the c1m command itself: see proc.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/proc.h"

static void redirect(const char *path, int fd, int flags)
{
    int f = open(path, flags, 0644);
    if (f >= 0) {
        dup2(f, fd);
        close(f);
    }
}

pid_t c1m_proc_spawn_self(char *const argv[], const c1m_spawn_opts_t *o)
{
    c1m_spawn_opts_t none = C1M_SPAWN_DEFAULTS;
    if (!o)
        o = &none;
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        return pid;
    if (o->pdeath_signal > 0) {
        prctl(PR_SET_PDEATHSIG, o->pdeath_signal);
        if (getppid() != parent)
            _exit(127);
    }
    if (o->own_group)
        setpgid(0, 0);
    if (o->out_path)
        redirect(o->out_path, STDOUT_FILENO, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
    else if (o->quiet_out)
        redirect("/dev/null", STDOUT_FILENO, O_WRONLY | O_CLOEXEC);
    if (o->err_path)
        redirect(o->err_path, STDERR_FILENO, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
    if (o->netns_fd >= 0 && setns(o->netns_fd, CLONE_NEWNET) < 0) {
        perror("c1m: setns");
        _exit(127);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    execv("/proc/self/exe", argv);
    perror("c1m: exec /proc/self/exe");
    _exit(127);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int c1m_proc_wait_listening(const struct sockaddr_in *addr, pid_t server, int timeout_ms)
{
    for (int waited = 0;; waited += 25) {
        int status;
        if (server > 0 && waitpid(server, &status, WNOHANG) == server)
            return -ECHILD;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        /* An explicit source port above the ranges the kernel and c1m bench
         * use: after a large bench run every port of the ephemeral range
         * can be held by an explicitly bound socket in TIME_WAIT, and then
         * a plain connect() fails with EADDRNOTAVAIL for a minute. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        for (int k = 0; k < 32; k++) {
            struct sockaddr_in src = { .sin_family = AF_INET,
                                       .sin_port = htons((uint16_t)(65535 - (waited / 25 + k) % 32)) };
            if (bind(fd, (struct sockaddr *)&src, sizeof src) == 0)
                break;
        }
        int rc = connect(fd, (const struct sockaddr *)addr, sizeof *addr);
        /* a connect from an ephemeral port equal to the target's can meet
         * itself (simultaneous open) with nobody listening */
        struct sockaddr_in me;
        socklen_t len = sizeof me;
        if (rc == 0 && getsockname(fd, (struct sockaddr *)&me, &len) == 0 &&
            me.sin_port == addr->sin_port && me.sin_addr.s_addr == addr->sin_addr.s_addr)
            rc = -1;
        close(fd);
        if (rc == 0)
            return 0;
        if (waited >= timeout_ms)
            return -ETIMEDOUT;
        sleep_ms(25);
    }
}

static int status_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int c1m_proc_wait(pid_t pid, int timeout_ms, struct rusage *ru)
{
    struct rusage dummy;
    for (int waited = 0;; waited += 10) {
        int status;
        pid_t r = wait4(pid, &status, WNOHANG, ru ? ru : &dummy);
        if (r == pid)
            return status_code(status);
        if (r < 0 && errno != EINTR)
            return -1;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return -1;
        sleep_ms(10);
    }
}

int c1m_proc_stop(pid_t pid, int timeout_ms, struct rusage *ru)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    int rc = c1m_proc_wait(pid, timeout_ms, ru);
    if (rc >= 0)
        return rc;
    kill(pid, SIGKILL);
    struct rusage dummy;
    int status;
    while (wait4(pid, &status, 0, ru ? ru : &dummy) < 0 && errno == EINTR) {
    }
    return -1;
}

long c1m_proc_read_long(const char *path, long dflt)
{
    FILE *f = fopen(path, "re");
    long v = dflt;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = dflt;
        fclose(f);
    }
    return v;
}

uint64_t c1m_proc_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kb * 1024;
}
