/* The server API (c1m/server.h): start returns a running server, stop
 * drains and frees it; many servers in one process; nothing leaks. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "c1m/server.h"
#include "proto/echo.h"
#include "tests/unit/fd_count.h"

/* Connect to 127.0.0.1:port, send msg, read it back; 0 when it came back whole. */
static int echo_roundtrip(uint16_t port, const char *msg)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        size_t n = strlen(msg), got = 0;
        char buf[256];
        if (write(fd, msg, n) == (ssize_t)n) {
            while (got < n) {
                ssize_t r = read(fd, buf + got, sizeof buf - got);
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            rc = got == n && !memcmp(buf, msg, n) ? 0 : -1;
        }
    }
    close(fd);
    return rc;
}

static void cfg_for(c1m_server_cfg_t *cfg, c1m_arch_t arch)
{
    c1m_server_cfg_defaults(cfg);
    cfg->proto = &c1m_proto_echo;
    cfg->arch = arch;
    cfg->loops = 2;
    cfg->workers = 2;
    cfg->bind = "127.0.0.1";
    cfg->port = 0; /* an ephemeral port */
    cfg->loop.drain_ms = 200;
}

static void start_stop_many_times_leaks_nothing(void **state)
{
    int before = fd_count();
    for (int i = 0; i < 100; i++) {
        c1m_server_cfg_t cfg;
        cfg_for(&cfg, (c1m_arch_t)(i % 2 ? C1M_ARCH_WORKERPOOL : C1M_ARCH_REUSEPORT));
        c1m_server_t *s = NULL;
        char err[256];
        assert_int_equal(c1m_server_start(&s, &cfg, err, sizeof err), 0);
        uint16_t port = c1m_server_port(s);
        assert_true(port > 0);
        assert_int_equal(echo_roundtrip(port, "hello"), 0);
        assert_int_equal(c1m_server_stop(s), 0);
    }
    assert_int_equal(fd_count(), before); /* every listener, loop and eventfd closed */
}

static void two_servers_in_one_process(void **state)
{
    c1m_server_cfg_t a, b;
    cfg_for(&a, C1M_ARCH_SINGLE);
    cfg_for(&b, C1M_ARCH_DISPATCH);
    b.proto = &c1m_proto_ts8;
    c1m_server_t *sa, *sb;
    assert_int_equal(c1m_server_start(&sa, &a, NULL, 0), 0);
    assert_int_equal(c1m_server_start(&sb, &b, NULL, 0), 0);
    assert_int_not_equal(c1m_server_port(sa), c1m_server_port(sb));
    assert_int_equal(echo_roundtrip(c1m_server_port(sa), "abc"), 0);      /* echo: any bytes */
    assert_int_equal(echo_roundtrip(c1m_server_port(sb), "12345678"), 0); /* ts8: one frame */
    c1m_loop_stats_t st;
    for (int i = 0; i < 100; i++) { /* counters are published by the loop threads */
        c1m_server_stats(sb, &st);
        if (st.msgs)
            break;
        usleep(10000);
    }
    assert_int_equal(st.msgs, 1);
    c1m_server_stats(sa, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(c1m_server_stop(sa), 0);
    assert_int_equal(echo_roundtrip(c1m_server_port(sb), "87654321"), 0); /* b still serves */
    assert_int_equal(c1m_server_stop(sb), 0);
}

static void bad_configurations_are_refused_with_a_reason(void **state)
{
    c1m_server_cfg_t cfg;
    c1m_server_t *s = NULL;
    char err[256];
    cfg_for(&cfg, C1M_ARCH_SINGLE);
    cfg.proto = NULL;
    assert_int_equal(c1m_server_start(&s, &cfg, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "protocol"));
    cfg_for(&cfg, C1M_ARCH_SINGLE);
    cfg.loop.out_low = cfg.loop.out_high + 1;
    assert_int_equal(c1m_server_cfg_check(&cfg, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "watermark"));
    cfg_for(&cfg, C1M_ARCH_PREFORK);
    assert_int_equal(c1m_server_cfg_check(&cfg, err, sizeof err), -EINVAL);
    cfg_for(&cfg, C1M_ARCH_SINGLE);
    cfg.bind = "not-an-address";
    assert_int_equal(c1m_server_cfg_check(&cfg, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "not-an-address"));
    /* a port in use: the error names it */
    cfg_for(&cfg, C1M_ARCH_SINGLE);
    c1m_server_t *first;
    assert_int_equal(c1m_server_start(&first, &cfg, NULL, 0), 0);
    cfg.port = c1m_server_port(first);
    assert_int_equal(c1m_server_start(&s, &cfg, err, sizeof err), -EADDRINUSE);
    char port[16];
    snprintf(port, sizeof port, "%u", cfg.port);
    assert_non_null(strstr(err, port));
    assert_int_equal(c1m_server_stop(first), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_stop_many_times_leaks_nothing),
        cmocka_unit_test(two_servers_in_one_process),
        cmocka_unit_test(bad_configurations_are_refused_with_a_reason),
    };
    return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
