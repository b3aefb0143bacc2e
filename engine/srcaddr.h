/* Explicit client source addresses and ports.
 *
 * Letting the kernel pick a source port for each connect is slow at scale
 * (61 s per 100,000 connects measured here, against 2.8 s with explicit
 * ports), so the load generator binds every socket to an explicit
 * (address, port) pair. A pair is a pure function of a global index:
 *
 *     index i -> address first + i / ports, port lo + i % ports
 *
 * (ports = the usable ports per address, skipping one excluded port such as
 * the target's). Connection g of N, attempt a, uses index a * N + g, so no
 * pair is reused within a run, whichever process or loop owns g. */
#ifndef C1M_ENGINE_SRCADDR_H
#define C1M_ENGINE_SRCADDR_H

#include <netinet/in.h>
#include <stdint.h>

typedef struct c1m_srcaddr {
    uint32_t first;     /* first IPv4 address, host byte order */
    uint32_t naddrs;    /* addresses in the range */
    uint16_t port_lo;   /* ports used on every address: [port_lo, port_hi] */
    uint16_t port_hi;
    uint16_t skip_port; /* never used (e.g. the target port); 0 = none */
} c1m_srcaddr_t;

#define C1M_SRCADDR_PORT_LO 10000
#define C1M_SRCADDR_PORT_HI 64999

/* Parse "A" (one address), "A-B" (an inclusive range) or "A/prefix" (a
 * CIDR block; network and broadcast addresses are left out when the block
 * has more than two addresses). Ports get the defaults. 0 or -EINVAL. */
int c1m_srcaddr_parse(c1m_srcaddr_t *s, const char *spec);

/* The default for a target address (network byte order): on 127.0.0.0/8,
 * 127.0.0.2 .. 127.255.255.254 except the target address; elsewhere
 * 0 addresses (the caller must ask for --source). */
void c1m_srcaddr_default(c1m_srcaddr_t *s, uint32_t target_be);

/* Usable ports per address. */
uint32_t c1m_srcaddr_ports(const c1m_srcaddr_t *s);

/* How many distinct pairs the range offers. */
uint64_t c1m_srcaddr_capacity(const c1m_srcaddr_t *s);

/* The pair for index i (a sockaddr_in with family, address, port), or
 * -ERANGE when i is beyond the capacity. */
int c1m_srcaddr_get(const c1m_srcaddr_t *s, uint64_t i, struct sockaddr_in *out);

/* The index for connection g (0 <= g < n) on attempt a (0 = first). */
static inline uint64_t c1m_srcaddr_index(uint64_t g, uint64_t n, uint32_t attempt)
{
    return (uint64_t)attempt * n + g;
}

/* The connections owned by worker w of W when n are split as evenly as
 * possible: [*first, *first + *count). Used for processes, then for the
 * loops of one process. */
void c1m_split_range(uint64_t n, uint32_t w, uint32_t W, uint64_t *first, uint64_t *count);

#endif
