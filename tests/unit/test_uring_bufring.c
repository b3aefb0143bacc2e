/* engine/uring_bufring: a provided-buffer ring run dry on a real socket.
 *
 * A stream socketpair carries a known byte pattern; a multishot recv on a
 * ring of four 16-byte buffers reads it, and the test holds every buffer
 * it is lent until the kernel runs out: the recv must end with -ENOBUFS
 * with all four buffers out. The test then consumes and returns them and
 * re-arms, round after round, and at the end the bytes read must be
 * exactly the bytes written, in order. Run with and without recv bundles
 * (one completion for several buffers) when the kernel has them. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/uring_bufring.h"
#include "engine/uring_compat.h"

#define NBUFS 4
#define BSZ 16
#define TOTAL 20000 /* bytes through the socket */

typedef struct held {
    c1m_bufring_piece_t p[64];
    int n;
    size_t bytes;
} held_t;

static int setup_ring(struct io_uring *ring, unsigned *features)
{
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
    int r = io_uring_queue_init_params(64, ring, &p);
    *features = p.features;
    return r;
}

static void arm(struct io_uring *ring, int fd, int bundle)
{
    struct io_uring_sqe *s = io_uring_get_sqe(ring);
    assert_non_null(s);
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    if (bundle)
        s->ioprio |= IORING_RECVSEND_BUNDLE;
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = 7;
    io_uring_sqe_set_data64(s, 42);
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + i / 251); }

static void run_dry(int bundle)
{
    struct io_uring ring;
    unsigned features;
    assert_int_equal(setup_ring(&ring, &features), 0);
    if (bundle && !(features & IORING_FEAT_RECVSEND_BUNDLE)) {
        /* Not a silent skip: say it, and fail where bundles are expected. */
        print_message("  kernel has no recv bundles (Linux < 6.10)\n");
        io_uring_queue_exit(&ring);
        fail_msg("recv bundles requested on a kernel without them");
    }
    c1m_bufring_t b;
    assert_int_equal(c1m_bufring_setup(&b, &ring, 7, NBUFS, BSZ), 0);
    assert_int_equal(c1m_bufring_out(&b), 0);

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    uint8_t *got = calloc(TOTAL, 1);
    assert_non_null(got);
    size_t written = 0, read_n = 0;
    int enobufs = 0, armed = 0, completions = 0, multi = 0, rounds = 0;
    held_t h = { .n = 0, .bytes = 0 };

    while (read_n < TOTAL) {
        /* more bytes than the ring can take at once: 100 > 4 * 16 */
        while (written < TOTAL && written - read_n < 100) {
            uint8_t chunk[37];
            size_t k = TOTAL - written < sizeof chunk ? TOTAL - written : sizeof chunk;
            for (size_t i = 0; i < k; i++)
                chunk[i] = pattern(written + i);
            ssize_t w = write(sv[0], chunk, k);
            assert_true(w > 0);
            written += (size_t)w;
        }
        if (!armed) {
            arm(&ring, sv[1], bundle);
            armed = 1;
        }
        c1m_bufring_publish(&b);
        /* bounded: a ring that never refills must fail, not hang */
        struct __kernel_timespec ts = { .tv_sec = 2 };
        struct io_uring_cqe *first;
        int w = io_uring_submit_and_wait_timeout(&ring, &first, 1, &ts, NULL);
        if (w == -ETIME)
            fail_msg("no completion in 2 s with %zu of %d bytes read", read_n, TOTAL);
        assert_true(w >= 0);
        assert_true(++rounds < 100000);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        int dry = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            assert_int_equal(cqe->user_data, 42);
            if (!(cqe->flags & IORING_CQE_F_MORE))
                armed = 0;
            if (cqe->res == -ENOBUFS) {
                /* every buffer is out: that is why */
                assert_int_equal(c1m_bufring_out(&b), NBUFS);
                enobufs++;
                dry = 1;
                continue;
            }
            assert_true(cqe->res > 0);
            completions++;
            int n = c1m_bufring_lend(&b, cqe->res, cqe->flags, h.p + h.n, 64 - h.n);
            assert_true(n >= 1);
            if (n > 1)
                multi++;
            h.n += n;
            h.bytes += (size_t)cqe->res;
            assert_int_equal(c1m_bufring_out(&b), (uint32_t)h.n);
        }
        io_uring_cq_advance(&ring, seen);
        if (dry || read_n + h.bytes == TOTAL) {
            /* consume in the order lent; give back in reverse, so the
             * ring's order of buffer ids keeps changing */
            for (int i = 0; i < h.n; i++) {
                assert_true(read_n + h.p[i].len <= TOTAL);
                memcpy(got + read_n, h.p[i].ptr, h.p[i].len);
                read_n += h.p[i].len;
            }
            for (int i = h.n - 1; i >= 0; i--)
                c1m_bufring_return(&b, h.p[i].bid);
            h.n = 0;
            h.bytes = 0;
            assert_int_equal(c1m_bufring_out(&b), 0);
        }
    }
    /* the kernel's head agrees with ours (Linux 6.8: PBUF_STATUS) */
    uint16_t khead;
    if (c1m_uring_buf_ring_head(&ring, 7, &khead) == 0)
        assert_int_equal(khead, b.cursor);
    print_message("  bundle=%d: %zu bytes, %d completions (%d with several buffers), %d ENOBUFS\n",
                  bundle, read_n, completions, multi, enobufs);
    assert_true(enobufs > 0); /* it did run dry, and recovered each time */
    for (size_t i = 0; i < TOTAL; i++)
        if (got[i] != pattern(i))
            fail_msg("byte %zu: got %u, want %u", i, got[i], pattern(i));
    if (bundle)
        assert_true(multi > 0);
    free(got);
    close(sv[0]);
    close(sv[1]);
    c1m_bufring_destroy(&b);
    io_uring_queue_exit(&ring);
}

static void dry_single(void **state) { (void)state; run_dry(0); }
static void dry_bundle(void **state) { (void)state; run_dry(1); }

static void bad_args(void **state)
{
    (void)state;
    struct io_uring ring;
    unsigned f;
    assert_int_equal(setup_ring(&ring, &f), 0);
    c1m_bufring_t b;
    assert_int_equal(c1m_bufring_setup(&b, &ring, 1, 3, 16), -EINVAL); /* not a power of two */
    assert_int_equal(c1m_bufring_setup(&b, &ring, 1, 65536, 16), -EINVAL);
    assert_int_equal(c1m_bufring_setup(&b, &ring, 1, 4, 0), -EINVAL);
    assert_int_equal(c1m_bufring_setup(&b, NULL, 1, 4, 16), -EINVAL);
    assert_int_equal(c1m_bufring_setup(&b, &ring, 1, 4, 16), 0);
    c1m_bufring_t b2;
    assert_int_equal(c1m_bufring_setup(&b2, &ring, 1, 4, 16), -EEXIST); /* same group */
    c1m_bufring_piece_t p[4];
    assert_int_equal(c1m_bufring_lend(&b, 10, 0, p, 4), -EINVAL);  /* no buffer flag */
    assert_int_equal(c1m_bufring_lend(&b, 0, IORING_CQE_F_BUFFER, p, 4), -EINVAL);
    /* a bid the ring does not hold */
    assert_int_equal(c1m_bufring_lend(&b, 10, IORING_CQE_F_BUFFER | (9u << IORING_CQE_BUFFER_SHIFT), p, 4),
                     -EPROTO);
    assert_int_equal(c1m_bufring_out(&b), 0);
    c1m_bufring_destroy(&b);
    io_uring_queue_exit(&ring);
}

/* Completions in an order other than the ring's (never seen here, but
 * allowed for): mapping by hand, no kernel involved. */
static void out_of_order(void **state)
{
    (void)state;
    struct io_uring ring;
    unsigned f;
    assert_int_equal(setup_ring(&ring, &f), 0);
    c1m_bufring_t b;
    assert_int_equal(c1m_bufring_setup(&b, &ring, 3, 4, 16), 0);
    c1m_bufring_piece_t p[4];
    /* ring holds bids 0,1,2,3; pretend the kernel took 0 (16 bytes), then
     * 1+2 (a 20-byte bundle) but posted the bundle first */
    assert_int_equal(c1m_bufring_lend(&b, 20, IORING_CQE_F_BUFFER | (1u << IORING_CQE_BUFFER_SHIFT), p, 4), 2);
    assert_int_equal(p[0].bid, 1);
    assert_int_equal(p[1].bid, 2);
    assert_int_equal(p[1].len, 4);
    assert_int_equal(b.cursor, 0); /* bid 0 not read yet */
    assert_int_equal(c1m_bufring_lend(&b, 16, IORING_CQE_F_BUFFER, p, 4), 1);
    assert_int_equal(p[0].bid, 0);
    assert_int_equal(b.cursor, 3); /* skipped over 1 and 2 */
    assert_int_equal(c1m_bufring_out(&b), 3);
    c1m_bufring_destroy(&b);
    io_uring_queue_exit(&ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dry_single),
        cmocka_unit_test(dry_bundle),
        cmocka_unit_test(bad_args),
        cmocka_unit_test(out_of_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
