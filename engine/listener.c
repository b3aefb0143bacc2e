#include "engine/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int c1m_sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (!addr || !*addr)
        addr = "0.0.0.0";
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        return sizeof *sin;
    }
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        return sizeof *sin6;
    }
    return -EINVAL;
}

static int read_somaxconn(void)
{
    int v = 4096;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 4096;
        fclose(f);
    }
    return v;
}

int c1m_listen_fd(const c1m_listen_cfg_t *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int len = c1m_sockaddr_parse(cfg->bind, cfg->port, &ss);
    if (len < 0) {
        snprintf(err, errlen, "bad bind address '%s' (want an IPv4 or IPv6 literal)",
                 cfg->bind ? cfg->bind : "");
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (cfg->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int e = errno;
        snprintf(err, errlen, "SO_REUSEPORT on port %u: %s", cfg->port, strerror(e));
        close(fd);
        return -e;
    }
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0) {
        int e = errno;
        if (e == EADDRINUSE)
            snprintf(err, errlen, "port %u is already in use on %s (pick another with --port)",
                     cfg->port, cfg->bind ? cfg->bind : "0.0.0.0");
        else
            snprintf(err, errlen, "bind %s:%u: %s", cfg->bind ? cfg->bind : "0.0.0.0",
                     cfg->port, strerror(e));
        close(fd);
        return -e;
    }
    int backlog = cfg->backlog > 0 ? cfg->backlog : read_somaxconn();
    if (listen(fd, backlog) < 0) {
        int e = errno;
        snprintf(err, errlen, "listen on port %u: %s", cfg->port, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}
