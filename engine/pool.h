/* pool: the one worker pool of dump, restore and verify. N threads, each with its own state
 * (a connection, buffers) made by worker_new on its thread, take jobs from next() and run
 * them until there are none; the first error (pool_fail, or a job returning -1) stops all:
 * stop() is called once, to wake workers waiting for a job and cancel running statements.
 * The caller's thread meanwhile watches what only it can (the coordinator's connection,
 * interrupts, progress) and then joins.
 *
 *   dump    worker = connection in the snapshot + sink state; job = one chunk
 *   restore worker = connection to the target; job = what the scheduler says is ready
 *   verify  worker = chunk reader; job = one chunk file */
#ifndef PF_POOL_H
#define PF_POOL_H

#include <stddef.h>

typedef struct pool pool;

typedef struct {
    /* the worker's state, made on its own thread (id 1..n); NULL with err fails the pool */
    void *(*worker_new)(void *ctx, int id, char *err, size_t errlen);
    void (*worker_free)(void *ctx, void *ws);
    /* the next job: 1 with *job, 0 when there is none left (it may wait for one) */
    int (*next)(void *ctx, void *ws, void **job);
    /* one job: 0, or -1 with err (the pool fails with it) */
    int (*run)(void *ctx, void *ws, void *job, char *err, size_t errlen);
    /* the pool is stopping with the first error why (called once, on the failing thread):
     * wake workers, cancel statements; may be NULL */
    void (*stop)(void *ctx, const char *why);
} pool_ops;

/* Starts n workers (at least 1). NULL with err when not even one thread could start; a
 * later thread that cannot start fails the pool. */
pool *pool_start(int n, const pool_ops *ops, void *ctx, char *err, size_t errlen);
/* Fails the pool with msg unless it failed already (the first error is the one kept). */
void pool_fail(pool *p, const char *msg);
/* 1 once the pool failed. */
int pool_failed(pool *p);
/* Workers still running. */
int pool_running(pool *p);
int pool_size(const pool *p);
/* Waits for every worker and frees the pool: 0, or -1 with the first error. */
int pool_join(pool *p, char *err, size_t errlen);

#endif
