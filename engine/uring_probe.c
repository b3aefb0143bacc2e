/* engine/uring_probe.c — see uring_probe.h.
 *
 * The probe does what the backend will do, on a small scale: set up a ring
 * with the backend's flags, ask the kernel which operations it has
 * (IORING_REGISTER_PROBE), register a one-entry provided-buffer ring and a
 * sparse file table. The first failure is explained from what the process
 * can see: the sysctl, its seccomp mode, its RLIMIT_MEMLOCK. Raw system
 * calls, so the library needs no liburing to link this file. */
#include "engine/uring_probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/uring_compat.h"

#define NEED_FLAGS (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)

/* The operations the backend submits, with the kernel that brought each. */
static const struct {
    unsigned op;
    const char *name, *since;
} need_ops[] = {
    { IORING_OP_ACCEPT, "IORING_OP_ACCEPT", "5.5" },
    { IORING_OP_RECV, "IORING_OP_RECV", "5.6" },
    { IORING_OP_SEND, "IORING_OP_SEND", "5.6" },
    { IORING_OP_CLOSE, "IORING_OP_CLOSE", "5.6" },
    { IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD", "5.1" },
    { IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL", "5.5" },
    { IORING_OP_CONNECT, "IORING_OP_CONNECT", "5.5" },
    { IORING_OP_MSG_RING, "IORING_OP_MSG_RING", "5.18" },
    { IORING_OP_SOCKET, "IORING_OP_SOCKET", "5.19" },
};

static int read_int_file(const char *path, const char *key)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -ENOENT;
    char line[256];
    int v = -ENOENT;
    size_t kl = key ? strlen(key) : 0;
    while (fgets(line, sizeof line, f)) {
        if (key && strncmp(line, key, kl) != 0)
            continue;
        v = atoi(line + kl);
        break;
    }
    fclose(f);
    return v;
}

static int real_disabled(void) { return read_int_file("/proc/sys/kernel/io_uring_disabled", NULL); }
static int real_seccomp(void) { return read_int_file("/proc/self/status", "Seccomp:"); }

static int real_setup(unsigned entries, struct io_uring_params *p)
{
    long r = syscall(__NR_io_uring_setup, entries, p);
    return r < 0 ? -errno : (int)r;
}

static int real_reg(int fd, unsigned op, void *arg, unsigned nargs)
{
    long r = syscall(__NR_io_uring_register, fd, op, arg, nargs);
    return r < 0 ? -errno : (int)r;
}

static unsigned long long real_memlock(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return ~0ULL;
    return rl.rlim_cur;
}

const c1m__uring_sys_t c1m__uring_sys_real = {
    .disabled = real_disabled,
    .seccomp = real_seccomp,
    .setup = real_setup,
    .reg = real_reg,
    .memlock = real_memlock,
};

static int say(char *why, size_t cap, int err, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Why io_uring_setup failed, in one sentence. */
static int explain_setup(const c1m__uring_sys_t *sys, int err, char *why, size_t cap)
{
    int dis = sys->disabled(), sec = sys->seccomp();
    switch (err) {
    case -EPERM:
        if (dis == 2)
            return say(why, cap, err, "io_uring is off: kernel.io_uring_disabled=2 "
                                      "(sysctl -w kernel.io_uring_disabled=0 to allow it)");
        if (dis == 1)
            return say(why, cap, err, "io_uring is restricted: kernel.io_uring_disabled=1 and this "
                                      "process is neither in kernel.io_uring_group nor CAP_SYS_ADMIN");
        if (sec == 2)
            return say(why, cap, err, "io_uring_setup returned EPERM under a seccomp filter "
                                      "(a container's seccomp profile blocks io_uring)");
        return say(why, cap, err, "io_uring_setup returned EPERM (a security module or "
                                  "sandbox forbids io_uring)");
    case -ENOSYS:
        if (sec == 2)
            return say(why, cap, err, "io_uring_setup returned ENOSYS under a seccomp filter "
                                      "(blocked by the filter, or a kernel without io_uring)");
        return say(why, cap, err, "the kernel has no io_uring (ENOSYS: older than Linux 5.1 "
                                  "or built without CONFIG_IO_URING)");
    case -EINVAL:
        return say(why, cap, err, "the kernel refused IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN "
                                  "(EINVAL: they need Linux 6.1)");
    case -ENOMEM: {
        unsigned long long ml = sys->memlock();
        if (ml == ~0ULL)
            return say(why, cap, err, "io_uring_setup ran out of memory (ENOMEM; "
                                      "RLIMIT_MEMLOCK is unlimited)");
        return say(why, cap, err, "io_uring_setup returned ENOMEM: RLIMIT_MEMLOCK is %llu KiB, "
                                  "too small for the ring on this kernel (raise ulimit -l)",
                   ml / 1024);
    }
    case -EMFILE:
    case -ENFILE:
        return say(why, cap, err, "io_uring_setup: no file descriptor left for the ring (%s)",
                   strerror(-err));
    default:
        return say(why, cap, err, "io_uring_setup failed: %s", strerror(-err));
    }
}

/* What a client connection (c1m_loop_connect) adds: a direct socket,
 * socket options and bind on it (the bench binds explicit sources). */
static const struct {
    unsigned op;
    const char *name, *since;
} client_ops[] = {
    { IORING_OP_SOCKET, "IORING_OP_SOCKET", "5.19" },
    { IORING_OP_URING_CMD, "IORING_OP_URING_CMD (setsockopt)", "6.7" },
    { C1M_IORING_OP_BIND, "IORING_OP_BIND", "6.11" },
};

static int check_ops(const c1m__uring_sys_t *sys, int fd, bool client, char *why, size_t cap)
{
    enum { NOPS = 256 };
    size_t sz = sizeof(struct io_uring_probe) + NOPS * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *p = calloc(1, sz);
    if (!p)
        return say(why, cap, -ENOMEM, "out of memory probing io_uring");
    int r = sys->reg(fd, IORING_REGISTER_PROBE, p, NOPS);
    if (r < 0) {
        free(p);
        return say(why, cap, r, "IORING_REGISTER_PROBE failed: %s (Linux 5.6 or later needed)",
                   strerror(-r));
    }
    for (size_t i = 0; i < sizeof need_ops / sizeof need_ops[0]; i++) {
        unsigned op = need_ops[i].op;
        if (op > p->last_op || !(p->ops[op].flags & IO_URING_OP_SUPPORTED)) {
            r = say(why, cap, -EOPNOTSUPP, "the kernel lacks %s (Linux %s)", need_ops[i].name,
                    need_ops[i].since);
            break;
        }
    }
    for (size_t i = 0; client && r >= 0 && i < sizeof client_ops / sizeof client_ops[0]; i++) {
        unsigned op = client_ops[i].op;
        if (op > p->last_op || !(p->ops[op].flags & IO_URING_OP_SUPPORTED))
            r = say(why, cap, -EOPNOTSUPP, "the kernel lacks %s for client connections (Linux %s)",
                    client_ops[i].name, client_ops[i].since);
    }
    free(p);
    return r < 0 ? r : 0;
}

/* A one-entry provided-buffer ring (5.19) and a sparse file table (5.19
 * with IORING_FILE_INDEX_ALLOC): what multishot recv and direct accept use. */
static int check_resources(const c1m__uring_sys_t *sys, int fd, char *why, size_t cap)
{
    long pg = sysconf(_SC_PAGESIZE);
    void *ring = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED)
        return say(why, cap, -ENOMEM, "out of memory probing io_uring");
    struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t)ring, .ring_entries = 1, .bgid = 0 };
    int r = sys->reg(fd, IORING_REGISTER_PBUF_RING, &reg, 1);
    munmap(ring, (size_t)pg);
    if (r < 0) {
        if (r == -ENOMEM)
            return say(why, cap, r, "registering a provided-buffer ring returned ENOMEM "
                                    "(RLIMIT_MEMLOCK is %llu KiB: raise ulimit -l)",
                       sys->memlock() / 1024);
        return say(why, cap, r, "the kernel cannot register provided-buffer rings (%s; Linux 5.19)",
                   strerror(-r));
    }
    struct io_uring_rsrc_register files = { .nr = 16, .flags = IORING_RSRC_REGISTER_SPARSE };
    r = sys->reg(fd, IORING_REGISTER_FILES2, &files, sizeof files);
    if (r < 0)
        return say(why, cap, r, "the kernel cannot register a sparse direct-descriptor table "
                                "(%s; Linux 5.19)", strerror(-r));
    return 0;
}

static int probe(const c1m__uring_sys_t *sys, bool client, char *why, size_t cap, int *bundles)
{
    if (why && cap)
        why[0] = '\0';
    if (bundles)
        *bundles = 0;
    struct io_uring_params p = { .flags = NEED_FLAGS };
    int fd = sys->setup(8, &p);
    if (fd < 0)
        return explain_setup(sys, fd, why, cap);
    int r = check_ops(sys, fd, client, why, cap);
    if (r == 0)
        r = check_resources(sys, fd, why, cap);
    close(fd);
    if (r < 0)
        return r;
    int b = !!(p.features & IORING_FEAT_RECVSEND_BUNDLE);
    if (bundles)
        *bundles = b;
    return say(why, cap, 0, "io_uring: SINGLE_ISSUER+DEFER_TASKRUN, buffer rings, direct "
                            "descriptors%s%s", client ? ", direct sockets" : "",
               b ? ", recv bundles" : " (no recv bundles: Linux < 6.10)");
}

int c1m__uring_probe_with(const c1m__uring_sys_t *sys, char *why, size_t cap, int *bundles)
{
    return probe(sys, false, why, cap, bundles);
}

int c1m__uring_probe_client_with(const c1m__uring_sys_t *sys, char *why, size_t cap)
{
    return probe(sys, true, why, cap, NULL);
}

int c1m_uring_probe_client(char *why, size_t cap)
{
    return probe(&c1m__uring_sys_real, true, why, cap, NULL);
}

int c1m_uring_probe(char *why, size_t cap)
{
    return c1m__uring_probe_with(&c1m__uring_sys_real, why, cap, NULL);
}

int c1m_uring_has_bundles(void)
{
    int b = 0;
    return c1m__uring_probe_with(&c1m__uring_sys_real, NULL, 0, &b) == 0 && b;
}
