/* echo_server: the smallest useful c1m program. Every byte a client sends
 * comes back.
 *
 * c1m_server_start runs one loop thread (the "single" architecture) and
 * returns once it listens; the main thread owns the signals: it waits for
 * SIGINT or SIGTERM and calls c1m_server_stop, which stops accepting, lets
 * pending output drain, closes the connections and joins the thread.
 *
 *   cc echo_server.c $(pkg-config --cflags --libs c1m) -o echo_server
 *   ./echo_server [PORT [ADDRESS]]     (no PORT or 0: the kernel picks one)
 */
#include <c1m/c1m.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* Called on the loop thread with the bytes that arrived. c1m_conn_write
 * copies them, so `data` need not outlive the call. */
static ssize_t echo_on_data(c1m_conn_t *c, const char *data, size_t len)
{
    /* A client that sends faster than it reads: consume nothing for now.
     * The engine keeps the bytes, stops reading from this client, and
     * presents them again once its output has drained. */
    if (c1m_conn_over_high(c))
        return 0;
    /* On failure the connection is closed by the loop (the close reason
     * says why): nothing to do here. */
    (void)c1m_conn_write(c, data, len);
    return (ssize_t)len;
}

static const c1m_proto_t echo_proto = {
    .name = "echo",
    .on_data = echo_on_data, /* the other callbacks are optional */
};

int main(int argc, char **argv)
{
    /* The library prints nothing unless asked to. */
    c1m_log_set_handler(c1m_log_stderr, NULL, C1M_LOG_WARN);

    c1m_server_cfg_t cfg;
    c1m_server_cfg_defaults(&cfg);
    cfg.proto = &echo_proto;
    cfg.port = argc > 1 ? (uint16_t)atoi(argv[1]) : 0;
    cfg.bind = argc > 2 ? argv[2] : "127.0.0.1";

    /* Block the stop signals before the server starts its threads (they
     * inherit the mask), so that only sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    char err[256] = "";
    c1m_server_t *srv;
    int rc = c1m_server_start(&srv, &cfg, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "echo_server: %s\n", err[0] ? err : c1m_strerror(rc));
        return 1;
    }
    printf("echo_server: c1m %s, listening on port %u\n", c1m_version(),
           (unsigned)c1m_server_port(srv));
    fflush(stdout);

    int sig;
    sigwait(&stop, &sig);
    rc = c1m_server_stop(srv); /* drains, joins and frees the server */
    if (rc < 0) {
        fprintf(stderr, "echo_server: stop: %s\n", c1m_strerror(rc));
        return 1;
    }
    return 0;
}
