#include "core/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define C1M_BUF_MIN 64u

char *c1m_buf_reserve(c1m_buf_t **bp, size_t n)
{
    c1m_buf_t *b = *bp;
    size_t used = c1m_buf_size(b);
    if (n > C1M_BUF_MAX || used + n > C1M_BUF_MAX)
        return NULL;
    if (b && b->cap - b->len >= n)
        return b->data + b->len;
    if (b && b->cap >= used + n) { /* enough room once the front gap is reclaimed */
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = (uint32_t)used;
        return b->data + b->len;
    }
    size_t cap = b ? b->cap : C1M_BUF_MIN;
    while (cap < used + n)
        cap *= 2;
    c1m_buf_t *nb = malloc(sizeof *nb + cap);
    if (!nb)
        return NULL;
    nb->off = 0;
    nb->len = (uint32_t)used;
    nb->cap = (uint32_t)cap;
    nb->_pad = 0;
    if (b) {
        memcpy(nb->data, b->data + b->off, used);
        free(b);
    }
    *bp = nb;
    return nb->data + nb->len;
}

void c1m_buf_commit(c1m_buf_t *b, size_t n) { b->len += (uint32_t)n; }

int c1m_buf_append(c1m_buf_t **bp, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > C1M_BUF_MAX || c1m_buf_size(*bp) + n > C1M_BUF_MAX)
        return -E2BIG;
    char *dst = c1m_buf_reserve(bp, n);
    if (!dst)
        return -ENOMEM;
    memcpy(dst, p, n);
    (*bp)->len += (uint32_t)n;
    return 0;
}

void c1m_buf_consume(c1m_buf_t **bp, size_t n)
{
    c1m_buf_t *b = *bp;
    if (!b)
        return;
    if (n >= c1m_buf_size(b)) {
        free(b);
        *bp = NULL;
        return;
    }
    b->off += (uint32_t)n;
}

void c1m_buf_free(c1m_buf_t **bp)
{
    free(*bp);
    *bp = NULL;
}
