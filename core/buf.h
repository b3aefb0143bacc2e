/* A growable byte buffer that exists only while it holds bytes.
 *
 * A connection keeps `c1m_buf_t *` pointers that are NULL while empty: it
 * owns heap memory only while it has a partial frame or unsent output. The
 * header and the bytes are one allocation. Bytes are consumed from the
 * front (off) and appended at the back (len); the front gap is reclaimed by
 * a compaction when the back runs out of room.
 */
#ifndef C1M_CORE_BUF_H
#define C1M_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct c1m_buf {
    uint32_t off; /* first unconsumed byte */
    uint32_t len; /* one past the last byte */
    uint32_t cap; /* bytes allocated in data[] */
    uint32_t _pad;
    char data[];
} c1m_buf_t;

#define C1M_BUF_MAX (1u << 30) /* 1 GiB: larger appends fail with -E2BIG */

static inline size_t c1m_buf_size(const c1m_buf_t *b) { return b ? b->len - b->off : 0; }
static inline char *c1m_buf_data(c1m_buf_t *b) { return b->data + b->off; }

/* Append n bytes, allocating or growing *bp. 0, -ENOMEM or -E2BIG; on
 * failure *bp is unchanged (nothing is lost). */
int c1m_buf_append(c1m_buf_t **bp, const void *p, size_t n);

/* Make room for n more bytes and return a pointer to it (NULL on failure);
 * c1m_buf_commit() then adds what was written. */
char *c1m_buf_reserve(c1m_buf_t **bp, size_t n);
void c1m_buf_commit(c1m_buf_t *b, size_t n);

/* Drop n bytes from the front; frees the buffer (sets *bp to NULL) when it
 * becomes empty. */
void c1m_buf_consume(c1m_buf_t **bp, size_t n);

void c1m_buf_free(c1m_buf_t **bp);

#endif
