/* The worker pool: a layer above the loop (engine/loop.h, c1m_layer_ops_t).
 *
 * The loop hands a connection's bytes to W worker threads through a
 * bounded queue; a worker runs the protocol's on_data (which may block).
 * While a job is out the connection is *held* (c1m__conn_hold): the loop
 * reads no more of it and defers its close. What the handler asks of the
 * connection — writes, closes, counts, timeout changes, a shutdown — is
 * recorded in the job (the engine's c1m__recorder hook) and applied on the
 * loop thread, in order, when the job comes back; then the connection is
 * released. So a connection is in at most one job at a time, the loop is
 * the only thread that touches it, and the loop itself knows nothing of
 * workers. When the queue is full the layer parks jobs in a FIFO: their
 * connections stay held, so the backpressure reaches the clients through
 * TCP and memory does not grow.
 *
 * Hand-offs are batched both ways so that their cost is paid per loop
 * iteration, not per message: the layer collects the jobs of C1M_LOOP_BATCH
 * events and submits them under one lock with at most one wake-up per
 * idle worker; a worker takes its fair share of the queue at once (up to
 * C1M_WORKER_BATCH) and posts all of its results back to the loop as one
 * message (one eventfd write). Finished jobs and their small buffers are
 * pooled per loop: a steady stream of messages calls no malloc. */
#ifndef C1M_ENGINE_WORKERS_H
#define C1M_ENGINE_WORKERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "engine/conn.h"

typedef struct c1m_pool_loop c1m_pool_loop_t;

typedef struct c1m_job {
    struct c1m_job *next; /* in a batch, the queue, the wait FIFO or a result chain */
    c1m_conn_t *conn;
    c1m_pool_loop_t *pl;  /* the loop side it came from */
    c1m_buf_t *in;        /* the bytes to handle (owned by the job) */
    c1m_buf_t *out;       /* bytes the handler wrote */
    c1m_buf_t *ops;       /* the calls it made, in order (workers.c) */
    ssize_t consumed;     /* on_data's result */
    bool failed;          /* a call could not be recorded (ENOMEM): close */
} c1m_job_t;

/* Most jobs a worker takes from the queue at once. */
#define C1M_WORKER_BATCH 32

typedef struct c1m_workers {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    c1m_job_t *head, *tail; /* FIFO of queued jobs */
    uint32_t cap, n;        /* n: queued (written under mu) */
    uint32_t idle;          /* workers waiting on `nonempty` */
    bool stop;
    uint32_t nthreads;
    pthread_t *threads;
} c1m_workers_t;

int c1m_workers_start(c1m_workers_t *w, uint32_t nthreads, uint32_t queue_cap);
/* Put the pool above a loop (before it runs): the loop's on_data calls go
 * to the workers. */
int c1m_workers_attach(c1m_workers_t *w, c1m_loop_t *loop);
/* After the loop stopped: take back late results, free the loop side. */
void c1m_workers_detach(c1m_loop_t *loop);
/* Finish queued jobs, stop and join the threads. */
void c1m_workers_stop(c1m_workers_t *w);

/* Queue a chain of n jobs (linked by next) at once: one lock, one wake-up
 * per idle worker at most; -EAGAIN without queueing anything if they do
 * not fit. */
int c1m_workers_submit_batch(c1m_workers_t *w, c1m_job_t *head, c1m_job_t *tail, uint32_t n);
/* Free slots in the queue (exact for the only producer, else a hint). */
uint32_t c1m_workers_room(c1m_workers_t *w);

/* For tests: the loop side's state. */
typedef struct c1m_workers_info {
    uint32_t in_flight; /* jobs out (batched, queued, running or waiting) */
    uint32_t waiting;   /* jobs parked for room in the queue */
    uint32_t pooled;    /* finished jobs kept for reuse */
} c1m_workers_info_t;
void c1m__workers_info(c1m_loop_t *loop, c1m_workers_info_t *out);

#endif
