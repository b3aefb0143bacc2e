#include "engine/srcaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_ip(const char *s, size_t len, uint32_t *out)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr a;
    if (len == 0 || len >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -EINVAL;
    *out = ntohl(a.s_addr);
    return 0;
}

static void set_defaults(c1m_srcaddr_t *s, uint32_t first, uint32_t naddrs)
{
    *s = (c1m_srcaddr_t){ .first = first, .naddrs = naddrs,
                          .port_lo = C1M_SRCADDR_PORT_LO, .port_hi = C1M_SRCADDR_PORT_HI };
}

static int parse_cidr(c1m_srcaddr_t *s, const char *spec, const char *slash)
{
    uint32_t ip;
    if (parse_ip(spec, (size_t)(slash - spec), &ip) < 0)
        return -EINVAL;
    char *end;
    errno = 0;
    long bits = strtol(slash + 1, &end, 10);
    if (errno || *end || end == slash + 1 || bits < 0 || bits > 32)
        return -EINVAL;
    uint64_t size = 1ull << (32 - bits);
    uint32_t net = bits ? ip & (uint32_t)(~0ull << (32 - bits)) : 0;
    if (size > 2) /* leave out the network and broadcast addresses */
        set_defaults(s, net + 1, (uint32_t)(size - 2));
    else
        set_defaults(s, net, (uint32_t)size);
    return 0;
}

int c1m_srcaddr_parse(c1m_srcaddr_t *s, const char *spec)
{
    const char *slash = strchr(spec, '/');
    if (slash)
        return parse_cidr(s, spec, slash);
    const char *dash = strchr(spec, '-');
    uint32_t a, b;
    if (!dash) {
        if (parse_ip(spec, strlen(spec), &a) < 0)
            return -EINVAL;
        set_defaults(s, a, 1);
        return 0;
    }
    if (parse_ip(spec, (size_t)(dash - spec), &a) < 0 ||
        parse_ip(dash + 1, strlen(dash + 1), &b) < 0 || b < a)
        return -EINVAL;
    set_defaults(s, a, b - a + 1);
    return 0;
}

void c1m_srcaddr_default(c1m_srcaddr_t *s, uint32_t target_be)
{
    uint32_t t = ntohl(target_be);
    if ((t >> 24) != 127) {
        set_defaults(s, 0, 0);
        return;
    }
    /* 127.0.0.2 .. 127.255.255.254; skip the target when it is 127.0.0.2 */
    uint32_t first = (127u << 24) | 2u;
    if (t == first)
        first++;
    set_defaults(s, first, ((127u << 24) | 0xfffffeu) - first + 1);
}

uint32_t c1m_srcaddr_ports(const c1m_srcaddr_t *s)
{
    if (s->port_hi < s->port_lo)
        return 0;
    uint32_t n = (uint32_t)s->port_hi - s->port_lo + 1;
    if (s->skip_port && s->skip_port >= s->port_lo && s->skip_port <= s->port_hi)
        n--;
    return n;
}

uint64_t c1m_srcaddr_capacity(const c1m_srcaddr_t *s)
{
    return (uint64_t)s->naddrs * c1m_srcaddr_ports(s);
}

int c1m_srcaddr_get(const c1m_srcaddr_t *s, uint64_t i, struct sockaddr_in *out)
{
    uint32_t ports = c1m_srcaddr_ports(s);
    if (!ports || i >= c1m_srcaddr_capacity(s))
        return -ERANGE;
    uint32_t addr = s->first + (uint32_t)(i / ports);
    uint32_t port = s->port_lo + (uint32_t)(i % ports);
    if (s->skip_port && port >= s->skip_port && s->skip_port >= s->port_lo)
        port++;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_addr.s_addr = htonl(addr);
    out->sin_port = htons((uint16_t)port);
    return 0;
}

void c1m_split_range(uint64_t n, uint32_t w, uint32_t W, uint64_t *first, uint64_t *count)
{
    uint64_t base = n / W, extra = n % W;
    *first = (uint64_t)w * base + (w < extra ? w : extra);
    *count = base + (w < extra ? 1 : 0);
}
