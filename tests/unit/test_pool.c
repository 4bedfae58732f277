/* Unit tests for engine/pool: every job runs once across N workers with their own state,
 * the first error stops the rest (stop called once, the error kept), a worker that cannot
 * start fails the pool, and workers waiting in next() are woken by stop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/pf_util.h"
#include "engine/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NJOBS 1000

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int next, njobs;
    int ran[NJOBS];
    int fail_at;          /* job that fails, or -1 */
    int fail_worker;      /* worker id whose setup fails, or 0 */
    int block;            /* next() waits for more jobs that never come */
    atomic_int made, freed, stops, stopped;
    int per_worker[8];
} fx;

typedef struct {
    int id;
    int jobs;
} wstate;

static void *w_new(void *ctx, int id, char *err, size_t errlen)
{
    fx *f = ctx;
    if (id == f->fail_worker) {
        pf_err(err, errlen, "worker %d: no connection", id);
        return NULL;
    }
    wstate *w = calloc(1, sizeof *w);
    w->id = id;
    atomic_fetch_add(&f->made, 1);
    return w;
}

static void w_free(void *ctx, void *ws)
{
    fx *f = ctx;
    wstate *w = ws;
    pthread_mutex_lock(&f->mu);
    f->per_worker[w->id] = w->jobs;
    pthread_mutex_unlock(&f->mu);
    atomic_fetch_add(&f->freed, 1);
    free(w);
}

static int w_next(void *ctx, void *ws, void **job)
{
    (void)ws;
    fx *f = ctx;
    pthread_mutex_lock(&f->mu);
    while (f->block && !atomic_load(&f->stopped))
        pthread_cond_wait(&f->cv, &f->mu);
    int j = f->next < f->njobs && !atomic_load(&f->stopped) ? f->next++ : -1;
    pthread_mutex_unlock(&f->mu);
    if (j < 0)
        return 0;
    *job = &f->ran[j];
    return 1;
}

static int w_run(void *ctx, void *ws, void *job, char *err, size_t errlen)
{
    fx *f = ctx;
    wstate *w = ws;
    int *slot = job;
    int j = (int)(slot - f->ran);
    if (j == f->fail_at)
        return pf_err(err, errlen, "job %d failed", j);
    usleep(50); /* long enough that a failure early on stops the run before its end */
    (*slot)++;
    w->jobs++;
    return 0;
}

static void w_stop(void *ctx, const char *why)
{
    fx *f = ctx;
    assert_non_null(why);
    atomic_fetch_add(&f->stops, 1);
    pthread_mutex_lock(&f->mu);
    atomic_store(&f->stopped, 1);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static const pool_ops ops = {w_new, w_free, w_next, w_run, w_stop};

static fx *fx_new(int fail_at, int fail_worker, int block)
{
    fx *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->njobs = NJOBS;
    f->fail_at = fail_at;
    f->fail_worker = fail_worker;
    f->block = block;
    return f;
}

static void fx_free(fx *f)
{
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static void test_all_jobs_once(void **state)
{
    (void)state;
    fx *f = fx_new(-1, 0, 0);
    char err[PF_ERRLEN];
    pool *p = pool_start(4, &ops, f, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(pool_size(p), 4);
    assert_int_equal(pool_join(p, err, sizeof err), 0);
    int total = 0;
    for (int i = 0; i < NJOBS; i++)
        assert_int_equal(f->ran[i], 1);
    for (int i = 1; i <= 4; i++)
        total += f->per_worker[i];
    assert_int_equal(total, NJOBS);
    assert_int_equal(atomic_load(&f->made), 4);
    assert_int_equal(atomic_load(&f->freed), 4);
    assert_int_equal(atomic_load(&f->stops), 0);
    fx_free(f);

    /* n < 1 means one worker */
    f = fx_new(-1, 0, 0);
    p = pool_start(0, &ops, f, err, sizeof err);
    assert_int_equal(pool_size(p), 1);
    assert_int_equal(pool_join(p, err, sizeof err), 0);
    assert_int_equal(f->per_worker[1], NJOBS);
    fx_free(f);
}

static void test_first_error_stops(void **state)
{
    (void)state;
    fx *f = fx_new(10, 0, 0);
    char err[PF_ERRLEN];
    pool *p = pool_start(3, &ops, f, err, sizeof err);
    assert_non_null(p);
    while (pool_running(p) > 0)
        usleep(1000);
    assert_true(pool_failed(p));
    pool_fail(p, "a later error"); /* not kept: the first one is */
    assert_int_equal(pool_join(p, err, sizeof err), -1);
    assert_string_equal(err, "job 10 failed");
    assert_int_equal(atomic_load(&f->stops), 1);
    assert_int_equal(f->ran[10], 0);
    assert_true(f->next < NJOBS); /* the rest was never taken */
    assert_int_equal(atomic_load(&f->made), atomic_load(&f->freed));
    fx_free(f);
}

static void test_worker_setup_fails(void **state)
{
    (void)state;
    fx *f = fx_new(-1, 2, 1); /* the others wait in next() until stop wakes them */
    char err[PF_ERRLEN];
    pool *p = pool_start(3, &ops, f, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(pool_join(p, err, sizeof err), -1);
    assert_string_equal(err, "worker 2: no connection");
    assert_int_equal(atomic_load(&f->stops), 1);
    assert_int_equal(atomic_load(&f->made), 2);
    assert_int_equal(atomic_load(&f->freed), 2);
    fx_free(f);
}

static void test_caller_fails(void **state)
{
    (void)state;
    fx *f = fx_new(-1, 0, 1); /* nothing ever ready: workers wait */
    char err[PF_ERRLEN];
    pool *p = pool_start(2, &ops, f, err, sizeof err);
    assert_non_null(p);
    usleep(20000);
    assert_int_equal(pool_running(p), 2);
    assert_false(pool_failed(p));
    pool_fail(p, "interrupted"); /* the caller's thread: an interrupt */
    assert_int_equal(pool_join(p, err, sizeof err), -1);
    assert_string_equal(err, "interrupted");
    assert_int_equal(atomic_load(&f->stops), 1);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_jobs_once),
        cmocka_unit_test(test_first_error_stops),
        cmocka_unit_test(test_worker_setup_fails),
        cmocka_unit_test(test_caller_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
