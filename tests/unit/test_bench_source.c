/* Source (address, port) assignment for c1m bench: engine/srcaddr.c.
 * The property that matters: no pair is used twice within a run, across
 * processes, loops and retries. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/srcaddr.h"

static uint32_t ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return ntohl(a.s_addr);
}

static void test_parse(void **state)
{
    c1m_srcaddr_t s;
    assert_int_equal(c1m_srcaddr_parse(&s, "127.0.0.5"), 0);
    assert_int_equal(s.first, ip("127.0.0.5"));
    assert_int_equal(s.naddrs, 1);
    assert_int_equal(s.port_lo, C1M_SRCADDR_PORT_LO);
    assert_int_equal(s.port_hi, C1M_SRCADDR_PORT_HI);
    assert_int_equal(c1m_srcaddr_parse(&s, "127.0.0.2-127.0.1.1"), 0);
    assert_int_equal(s.first, ip("127.0.0.2"));
    assert_int_equal(s.naddrs, 256);
    assert_int_equal(c1m_srcaddr_parse(&s, "10.1.2.0/24"), 0);
    assert_int_equal(s.first, ip("10.1.2.1")); /* network address left out */
    assert_int_equal(s.naddrs, 254);
    assert_int_equal(c1m_srcaddr_parse(&s, "10.1.2.7/32"), 0);
    assert_int_equal(s.first, ip("10.1.2.7"));
    assert_int_equal(s.naddrs, 1);
    assert_int_equal(c1m_srcaddr_parse(&s, "10.1.2.6/31"), 0);
    assert_int_equal(s.naddrs, 2);
    const char *bad[] = { "", "127.0.0", "127.0.0.9-127.0.0.2", "1.2.3.4/33", "1.2.3.4/",
                          "1.2.3.4/x", "a-b", "127.0.0.1-", "-127.0.0.1", "::1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(c1m_srcaddr_parse(&s, bad[i]), -EINVAL);
}

static void test_default(void **state)
{
    c1m_srcaddr_t s;
    c1m_srcaddr_default(&s, htonl(ip("127.0.0.1")));
    assert_int_equal(s.first, ip("127.0.0.2"));
    assert_int_equal(s.first + s.naddrs - 1, ip("127.255.255.254"));
    c1m_srcaddr_default(&s, htonl(ip("127.0.0.2")));
    assert_int_equal(s.first, ip("127.0.0.3")); /* never the target's own address */
    c1m_srcaddr_default(&s, htonl(ip("10.0.0.1")));
    assert_int_equal(s.naddrs, 0); /* not loopback: --source needed */
}

static void test_skip_port_and_capacity(void **state)
{
    c1m_srcaddr_t s;
    assert_int_equal(c1m_srcaddr_parse(&s, "127.0.0.2-127.0.0.3"), 0);
    s.port_lo = 100;
    s.port_hi = 109;
    s.skip_port = 105;
    assert_int_equal(c1m_srcaddr_ports(&s), 9);
    assert_int_equal(c1m_srcaddr_capacity(&s), 18);
    struct sockaddr_in a;
    for (uint64_t i = 0; i < 18; i++) {
        assert_int_equal(c1m_srcaddr_get(&s, i, &a), 0);
        uint16_t port = ntohs(a.sin_port);
        assert_true(port >= 100 && port <= 109);
        assert_int_not_equal(port, 105);
        assert_int_equal(ntohl(a.sin_addr.s_addr), ip("127.0.0.2") + i / 9);
        assert_int_equal(a.sin_family, AF_INET);
    }
    assert_int_equal(c1m_srcaddr_get(&s, 18, &a), -ERANGE);
    s.skip_port = 7; /* outside the range: nothing skipped */
    assert_int_equal(c1m_srcaddr_ports(&s), 10);
}

static void test_split_range(void **state)
{
    for (uint64_t n = 0; n < 50; n++)
        for (uint32_t W = 1; W < 9; W++) {
            uint64_t next = 0;
            for (uint32_t w = 0; w < W; w++) {
                uint64_t first, count;
                c1m_split_range(n, w, W, &first, &count);
                assert_int_equal(first, next);
                assert_true(count == n / W || count == n / W + 1);
                next = first + count;
            }
            assert_int_equal(next, n);
        }
}

/* The run's layout: P processes x L loops, every attempt of every
 * connection: all pairs distinct, none on the target port. */
static void check_no_duplicates(uint64_t n, uint32_t P, uint32_t L, uint32_t attempts)
{
    c1m_srcaddr_t s;
    c1m_srcaddr_default(&s, htonl(ip("127.0.0.1")));
    s.skip_port = 8972;
    uint64_t ports = 65536;
    uint64_t naddr = (n * attempts) / c1m_srcaddr_ports(&s) + 2;
    uint8_t *seen = calloc(naddr * ports / 8 + 1, 1);
    assert_non_null(seen);
    uint64_t total = 0;
    for (uint32_t p = 0; p < P; p++) {
        uint64_t pf, pc;
        c1m_split_range(n, p, P, &pf, &pc);
        for (uint32_t l = 0; l < L; l++) {
            uint64_t lf, lc;
            c1m_split_range(pc, l, L, &lf, &lc);
            for (uint64_t g = pf + lf; g < pf + lf + lc; g++)
                for (uint32_t a = 0; a < attempts; a++) {
                    struct sockaddr_in sa;
                    assert_int_equal(c1m_srcaddr_get(&s, c1m_srcaddr_index(g, n, a), &sa), 0);
                    uint64_t off = ntohl(sa.sin_addr.s_addr) - s.first;
                    uint16_t port = ntohs(sa.sin_port);
                    assert_true(off < naddr);
                    assert_int_not_equal(port, 8972);
                    assert_true(port >= C1M_SRCADDR_PORT_LO && port <= C1M_SRCADDR_PORT_HI);
                    uint64_t bit = off * ports + port;
                    assert_int_equal(seen[bit / 8] & (1u << (bit % 8)), 0);
                    seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
                    total++;
                }
        }
    }
    assert_int_equal(total, n * attempts);
    free(seen);
}

static void test_no_duplicates_across_processes(void **state)
{
    check_no_duplicates(25000, 2, 1, 4);
    check_no_duplicates(100003, 7, 3, 2);
    check_no_duplicates(1000000, 51, 1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_skip_port_and_capacity),
        cmocka_unit_test(test_split_range),
        cmocka_unit_test(test_no_duplicates_across_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
