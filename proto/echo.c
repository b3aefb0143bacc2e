#include "proto/echo.h"

#include <time.h>

#include "core/clock.h"
#include "engine/conn.h"
#include "engine/timeouts.h"

static uint32_t c1m__work_us;
static bool c1m__work_spin;

void c1m_echo_set_work(uint32_t us, bool spin)
{
    c1m__work_us = us;
    c1m__work_spin = spin;
}

static void do_work(void)
{
    if (!c1m__work_us)
        return;
    if (c1m__work_spin) {
        uint64_t end = c1m_now_ns() + (uint64_t)c1m__work_us * 1000;
        while (c1m_now_ns() < end)
            ;
    } else {
        struct timespec ts = { c1m__work_us / 1000000, (long)(c1m__work_us % 1000000) * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* Request phases for the timeouts (engine/timeouts.h): an echo request is
 * whatever one read brought, complete at once (begin, header done, end);
 * a ts8 request is a frame whose "header" is all of its 8 bytes, begun at
 * its first byte: a client trickling a frame cannot keep the header
 * deadline alive. With every timeout off these are a few loads. */
static ssize_t echo_data(c1m_conn_t *c, const char *data, size_t len)
{
    c1m_conn_request_begin(c);
    c1m_conn_request_header_done(c);
    c1m_conn_request_end(c);
    do_work();
    c1m_conn_count(c, 1);
    c1m_conn_write(c, data, len); /* on failure the loop closes the conn */
    return (ssize_t)len;
}

static ssize_t ts8_data(c1m_conn_t *c, const char *data, size_t len)
{
    size_t frames = len / C1M_TS8_FRAME;
    c1m_conn_request_begin(c); /* no-op while a frame is in progress */
    if (!frames)
        return 0; /* partial frame: the engine keeps it */
    c1m_conn_request_header_done(c);
    c1m_conn_request_end(c);
    if (len % C1M_TS8_FRAME)
        c1m_conn_request_begin(c); /* the next frame's first bytes are here */
    for (size_t i = 0; i < frames; i++)
        do_work();
    c1m_conn_count(c, (uint32_t)frames);
    /* Complete frames go back in one write; the tail waits for its rest. */
    c1m_conn_write(c, data, frames * C1M_TS8_FRAME);
    return (ssize_t)(frames * C1M_TS8_FRAME);
}

const c1m_proto_t c1m_proto_echo = { .name = "echo", .on_data = echo_data };
const c1m_proto_t c1m_proto_ts8 = { .name = "ts8", .on_data = ts8_data };
