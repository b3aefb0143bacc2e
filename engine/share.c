#include "engine/share.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "core/common.h"

/* The group lives in memory shared by the supervisor and its children;
 * a slot counts while its child accepts (ready, set by the server once
 * listening, cleared by the supervisor when it reaps the child). */
static bool live(const c1m_proc_slot_t *s)
{
    return C1M_RELAXED_LOAD(&s->ready) && C1M_RELAXED_LOAD(&s->pid) > 0;
}

void c1m__share_add(c1m_proc_slot_t *self, int delta)
{
    __atomic_add_fetch(&self->held, (uint32_t)delta, __ATOMIC_RELAXED);
    if (delta > 0)
        __atomic_add_fetch(&self->taken, (uint64_t)delta, __ATOMIC_RELAXED);
}

bool c1m__share_over(const c1m_proc_slot_t *self)
{
    uint64_t sum = 0, n = 0;
    for (uint32_t i = 0; i < self->ngroup; i++) {
        const c1m_proc_slot_t *s = &self->group[i];
        if (s != self && !live(s))
            continue;
        sum += C1M_RELAXED_LOAD(&s->held);
        n++;
    }
    if (n < 2)
        return false;
    uint64_t held = C1M_RELAXED_LOAD(&self->held);
    /* held > avg + avg/16 + 2, in integers: held*16*n > 17*sum + 32*n */
    return held * 16 * n > 17 * sum + 32 * n;
}

uint64_t c1m__share_others_taken(const c1m_proc_slot_t *self)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < self->ngroup; i++)
        if (&self->group[i] != self)
            sum += C1M_RELAXED_LOAD(&self->group[i].taken);
    return sum;
}

uint32_t c1m__share_backlog(int fd)
{
    /* For a listening socket, tcpi_unacked is its accept queue's length. */
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || len < sizeof ti)
        return 0;
    return ti.tcpi_unacked;
}
