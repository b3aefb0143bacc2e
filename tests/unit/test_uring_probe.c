/* engine/uring_probe: the io_uring probe and its one-line reasons.
 *
 * The real probe runs on this machine; every refusal the probe explains
 * (sysctl, seccomp, old kernel, RLIMIT_MEMLOCK, a missing operation, no
 * buffer rings) is played by a fake system whose calls fail the way the
 * kernel's do, and the sentence must name the cause. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/uring_compat.h"
#include "engine/backend.h"
#include "engine/uring_probe.h"

/* The fake system: what each call returns. */
static struct {
    int disabled, seccomp, setup_err;
    unsigned features;
    int missing_op;         /* -1: none */
    int pbuf_err, files_err, probe_err;
    unsigned long long memlock;
    int setups;
} F;

static int f_disabled(void) { return F.disabled; }
static int f_seccomp(void) { return F.seccomp; }
static unsigned long long f_memlock(void) { return F.memlock; }

static int f_setup(unsigned entries, struct io_uring_params *p)
{
    (void)entries;
    F.setups++;
    /* the ring the backend makes: anything less is not what it needs */
    assert_int_equal(p->flags & (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN),
                     IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    if (F.setup_err)
        return F.setup_err;
    p->features = F.features;
    return open("/dev/null", O_RDONLY | O_CLOEXEC); /* something to close */
}

static int f_reg(int fd, unsigned op, void *arg, unsigned nargs)
{
    (void)fd;
    if (op == IORING_REGISTER_PROBE) {
        if (F.probe_err)
            return F.probe_err;
        struct io_uring_probe *p = arg;
        /* a kernel of today: more operations than liburing 2.3 names */
        p->last_op = C1M_IORING_OP_BIND + 1;
        for (unsigned i = 0; i <= p->last_op && i < nargs; i++) {
            p->ops[i].op = (uint8_t)i;
            p->ops[i].flags = (int)i == F.missing_op ? 0 : IO_URING_OP_SUPPORTED;
        }
        return 0;
    }
    if (op == IORING_REGISTER_PBUF_RING)
        return F.pbuf_err;
    if (op == IORING_REGISTER_FILES2)
        return F.files_err;
    return -EINVAL;
}

static const c1m__uring_sys_t fake = { f_disabled, f_seccomp, f_setup, f_reg, f_memlock };

static int reset(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    F.disabled = 0;
    F.seccomp = 0;
    F.missing_op = -1;
    F.memlock = 8ULL << 20;
    return 0;
}

static int probe(char *why, size_t cap)
{
    int b = -1, r = c1m__uring_probe_with(&fake, why, cap, &b);
    assert_true(b == 0 || b == 1);
    print_message("  %d: %s\n", r, why);
    return r;
}

static void this_machine(void **state)
{
    (void)state;
    char why[256];
    int r = c1m_uring_probe(why, sizeof why);
    print_message("  this machine: %d: %s\n", r, why);
    /* Kernel 6.18 with kernel.io_uring_disabled=0: the backend's ring
     * must be possible here. Elsewhere a refusal must say why. */
    int dis = -1;
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (f) {
        if (fscanf(f, "%d", &dis) != 1)
            dis = -1;
        fclose(f);
    }
    if (dis == 0)
        assert_int_equal(r, 0);
    if (r < 0)
        assert_true(strlen(why) > 20);
    else
        assert_non_null(strstr(why, "DEFER_TASKRUN"));
}

static void all_there(void **state)
{
    (void)state;
    char why[256];
    F.features = IORING_FEAT_RECVSEND_BUNDLE;
    assert_int_equal(probe(why, sizeof why), 0);
    assert_non_null(strstr(why, "recv bundles"));
    F.features = 0;
    assert_int_equal(probe(why, sizeof why), 0);
    assert_non_null(strstr(why, "no recv bundles"));
}

static void sysctl_off(void **state)
{
    (void)state;
    char why[256];
    F.setup_err = -EPERM;
    F.disabled = 2;
    assert_int_equal(probe(why, sizeof why), -EPERM);
    assert_non_null(strstr(why, "kernel.io_uring_disabled=2"));
    F.disabled = 1;
    assert_int_equal(probe(why, sizeof why), -EPERM);
    assert_non_null(strstr(why, "kernel.io_uring_disabled=1"));
    assert_non_null(strstr(why, "io_uring_group"));
}

static void seccomp_profile(void **state)
{
    (void)state;
    char why[256];
    F.setup_err = -EPERM;
    F.seccomp = 2;
    assert_int_equal(probe(why, sizeof why), -EPERM);
    assert_non_null(strstr(why, "seccomp"));
    F.setup_err = -ENOSYS; /* some profiles answer ENOSYS */
    assert_int_equal(probe(why, sizeof why), -ENOSYS);
    assert_non_null(strstr(why, "seccomp"));
    F.seccomp = 0;         /* no filter: EPERM from something else */
    F.setup_err = -EPERM;
    assert_int_equal(probe(why, sizeof why), -EPERM);
    assert_null(strstr(why, "seccomp"));
}

static void old_kernel(void **state)
{
    (void)state;
    char why[256];
    F.setup_err = -ENOSYS;
    assert_int_equal(probe(why, sizeof why), -ENOSYS);
    assert_non_null(strstr(why, "no io_uring"));
    F.setup_err = -EINVAL; /* 5.x: no DEFER_TASKRUN */
    assert_int_equal(probe(why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "6.1"));
}

static void memlock(void **state)
{
    (void)state;
    char why[256];
    F.setup_err = -ENOMEM;
    F.memlock = 64 * 1024;
    assert_int_equal(probe(why, sizeof why), -ENOMEM);
    assert_non_null(strstr(why, "RLIMIT_MEMLOCK is 64 KiB"));
    F.setup_err = 0;
    F.pbuf_err = -ENOMEM;
    assert_int_equal(probe(why, sizeof why), -ENOMEM);
    assert_non_null(strstr(why, "RLIMIT_MEMLOCK"));
}

static void missing_op(void **state)
{
    (void)state;
    char why[256];
    F.missing_op = IORING_OP_SEND;
    assert_int_equal(probe(why, sizeof why), -EOPNOTSUPP);
    assert_non_null(strstr(why, "IORING_OP_SEND"));
    F.missing_op = IORING_OP_MSG_RING;
    assert_int_equal(probe(why, sizeof why), -EOPNOTSUPP);
    assert_non_null(strstr(why, "IORING_OP_MSG_RING"));
    F.missing_op = IORING_OP_NOP; /* not needed: fine */
    assert_int_equal(probe(why, sizeof why), 0);
}

static void no_buffer_rings(void **state)
{
    (void)state;
    char why[256];
    F.pbuf_err = -EINVAL;
    assert_int_equal(probe(why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "provided-buffer rings"));
    F.pbuf_err = 0;
    F.files_err = -EINVAL;
    assert_int_equal(probe(why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "direct-descriptor"));
}

static void tiny_or_no_buffer(void **state)
{
    (void)state;
    char why[8];
    F.setup_err = -EPERM;
    F.disabled = 2;
    assert_int_equal(c1m__uring_probe_with(&fake, why, sizeof why, NULL), -EPERM);
    assert_int_equal(strlen(why), sizeof why - 1); /* truncated, terminated */
    assert_int_equal(c1m__uring_probe_with(&fake, NULL, 0, NULL), -EPERM);
}

/* Client connections need three operations more; a server does not. */
static void client_ops(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(c1m__uring_probe_client_with(&fake, why, sizeof why), 0);
    assert_non_null(strstr(why, "direct sockets"));
    F.missing_op = C1M_IORING_OP_BIND; /* Linux 6.7 - 6.10 */
    assert_int_equal(c1m__uring_probe_client_with(&fake, why, sizeof why), -EOPNOTSUPP);
    print_message("  %s\n", why);
    assert_non_null(strstr(why, "IORING_OP_BIND"));
    assert_non_null(strstr(why, "6.11"));
    assert_int_equal(probe(why, sizeof why), 0); /* the server's probe does not need it */
    F.missing_op = IORING_OP_URING_CMD;
    assert_int_equal(c1m__uring_probe_client_with(&fake, why, sizeof why), -EOPNOTSUPP);
    assert_non_null(strstr(why, "setsockopt"));
    F.missing_op = IORING_OP_SEND; /* what both need comes first */
    assert_int_equal(c1m__uring_probe_client_with(&fake, why, sizeof why), -EOPNOTSUPP);
    assert_non_null(strstr(why, "IORING_OP_SEND"));
}

/* --backend auto from what the (fake) probe found: uring when it works,
 * else epoll, and the one line names the probe's reason. */
static c1m_backend_t decide(const char *unsupported, bool client, char *line, size_t cap)
{
    char why[256];
    c1m__backend_facts_t f = {
        .probe_rc = client ? c1m__uring_probe_client_with(&fake, why, sizeof why)
                           : c1m__uring_probe_with(&fake, why, sizeof why, NULL),
        .probe_why = why,
        .unsupported = unsupported,
    };
    c1m_backend_t b = c1m__backend_decide(&f, line, cap);
    print_message("  %s\n", line);
    return b;
}

static void auto_choice(void **state)
{
    (void)state;
    char line[512];
    assert_int_equal(decide(NULL, false, line, sizeof line), C1M_BACKEND_URING);
    assert_non_null(strstr(line, "backend uring (auto:"));
    assert_non_null(strstr(line, "--backend epoll")); /* how to choose the other */

    F.setup_err = -EPERM; /* the sysctl */
    F.disabled = 2;
    assert_int_equal(decide(NULL, false, line, sizeof line), C1M_BACKEND_EPOLL);
    assert_non_null(strstr(line, "backend epoll (auto:"));
    assert_non_null(strstr(line, "kernel.io_uring_disabled=2"));

    F.disabled = 0; /* a container's seccomp profile */
    F.seccomp = 2;
    assert_int_equal(decide(NULL, false, line, sizeof line), C1M_BACKEND_EPOLL);
    assert_non_null(strstr(line, "seccomp"));

    F.seccomp = 0; /* RLIMIT_MEMLOCK */
    F.setup_err = -ENOMEM;
    F.memlock = 64 * 1024;
    assert_int_equal(decide(NULL, false, line, sizeof line), C1M_BACKEND_EPOLL);
    assert_non_null(strstr(line, "RLIMIT_MEMLOCK is 64 KiB"));

    F.setup_err = -EINVAL; /* an old kernel */
    assert_int_equal(decide(NULL, false, line, sizeof line), C1M_BACKEND_EPOLL);
    assert_non_null(strstr(line, "6.1"));

    F.setup_err = 0; /* an operation the client needs */
    F.missing_op = C1M_IORING_OP_BIND;
    assert_int_equal(decide(NULL, true, line, sizeof line), C1M_BACKEND_EPOLL);
    assert_non_null(strstr(line, "IORING_OP_BIND"));
    assert_int_equal(decide(NULL, false, line, sizeof line), C1M_BACKEND_URING);
}

static void auto_unsupported_feature(void **state)
{
    (void)state;
    char line[512];
    /* usable io_uring, but something asked for that uring does not do */
    assert_int_equal(decide("--access-log", false, line, sizeof line), C1M_BACKEND_EPOLL);
    assert_non_null(strstr(line, "backend epoll"));
    assert_non_null(strstr(line, "--access-log"));
    /* the probe's refusal wins over the feature: it is the deeper reason */
    F.setup_err = -EPERM;
    F.disabled = 2;
    assert_int_equal(decide("--access-log", false, line, sizeof line), C1M_BACKEND_EPOLL);
    assert_non_null(strstr(line, "kernel.io_uring_disabled=2"));
}

static void backend_names(void **state)
{
    (void)state;
    c1m_backend_t b = C1M_BACKEND_EPOLL;
    assert_int_equal(c1m__backend_parse("auto", &b), 0);
    assert_int_equal(b, C1M_BACKEND_AUTO);
    assert_int_equal(c1m__backend_parse("uring", &b), 0);
    assert_int_equal(b, C1M_BACKEND_URING);
    assert_int_equal(c1m__backend_parse("epoll", &b), 0);
    assert_int_equal(b, C1M_BACKEND_EPOLL);
    assert_int_equal(c1m__backend_parse("kqueue", &b), -EINVAL);
    assert_int_equal(c1m__backend_parse("", &b), -EINVAL);
    assert_int_equal(b, C1M_BACKEND_EPOLL); /* untouched on error */
    /* explicit choices are not probed or changed */
    char line[64] = "x";
    assert_int_equal(c1m__backend_resolve(C1M_BACKEND_EPOLL, true, NULL, line, sizeof line),
                     C1M_BACKEND_EPOLL);
    assert_string_equal(line, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(this_machine),
        cmocka_unit_test_setup(all_there, reset),
        cmocka_unit_test_setup(sysctl_off, reset),
        cmocka_unit_test_setup(seccomp_profile, reset),
        cmocka_unit_test_setup(old_kernel, reset),
        cmocka_unit_test_setup(memlock, reset),
        cmocka_unit_test_setup(missing_op, reset),
        cmocka_unit_test_setup(no_buffer_rings, reset),
        cmocka_unit_test_setup(tiny_or_no_buffer, reset),
        cmocka_unit_test_setup(client_ops, reset),
        cmocka_unit_test_setup(auto_choice, reset),
        cmocka_unit_test_setup(auto_unsupported_feature, reset),
        cmocka_unit_test_setup(backend_names, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
