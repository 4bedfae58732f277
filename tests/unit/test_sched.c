/* Unit tests for engine/sched: the restore's scheduler, driven by a simulated clock.
 *
 * sim() plays N workers: each free worker asks sched_next for a job, a job takes its
 * duration in ticks, then sched_finish. It records when each job started and ended, and
 * checks on every step that no two jobs with conflicting locks overlap and no job started
 * before what it waits for had finished. */
#include "engine/sched.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAXJ 256

typedef struct {
    int dur[MAXJ];
    long start[MAXJ], end[MAXJ];
    int mode[MAXJ];
    size_t res[MAXJ][4];
    size_t nres[MAXJ];
    size_t after[MAXJ][8];
    size_t nafter[MAXJ];
    int milestone[MAXJ];
    size_t n;
} plan;

static void add_job(plan *p, sched *s, int cls, uint64_t w, int mode, int dur)
{
    long id = sched_add(s, cls, w, mode);
    assert_int_equal(id, (long)p->n);
    p->dur[p->n] = dur;
    p->mode[p->n] = mode;
    p->start[p->n] = p->end[p->n] = -1;
    p->n++;
}

static void add_milestone(plan *p, sched *s)
{
    long id = sched_add_milestone(s);
    assert_int_equal(id, (long)p->n);
    p->milestone[p->n] = 1;
    p->start[p->n] = p->end[p->n] = -1;
    p->n++;
}

static void lock(plan *p, sched *s, size_t j, size_t r)
{
    assert_int_equal(sched_lock(s, j, r), 0);
    p->res[j][p->nres[j]++] = r;
}

static void after(plan *p, sched *s, size_t j, size_t b)
{
    assert_int_equal(sched_after(s, j, b), 0);
    p->after[j][p->nafter[j]++] = b;
}

static int conflicts(const plan *p, size_t a, size_t b)
{
    if (p->mode[a] == SCHED_LOCK_NONE || p->mode[b] == SCHED_LOCK_NONE)
        return 0;
    if (p->mode[a] == SCHED_LOCK_SHARED && p->mode[b] == SCHED_LOCK_SHARED)
        return 0;
    for (size_t i = 0; i < p->nres[a]; i++)
        for (size_t k = 0; k < p->nres[b]; k++)
            if (p->res[a][i] == p->res[b][k])
                return 1;
    return 0;
}

/* Runs to the end with `workers` workers; returns the makespan in ticks. */
static long sim(plan *p, sched *s, int workers)
{
    long running[16];
    int remaining[16];
    for (int w = 0; w < workers; w++)
        running[w] = -1;
    long t = 0;
    for (;;) {
        for (int w = 0; w < workers; w++) {
            if (running[w] >= 0)
                continue;
            long j = sched_next(s);
            if (j < 0)
                break;
            assert_false(p->milestone[j]); /* milestones never reach a worker */
            assert_int_equal(p->start[j], -1);
            p->start[j] = t;
            /* everything it waits for had ended (through milestones too) */
            for (size_t k = 0; k < p->nafter[j]; k++) {
                size_t b = p->after[j][k];
                assert_true(sched_is_done(s, b));
                if (!p->milestone[b])
                    assert_true(p->end[b] >= 0 && p->end[b] <= t);
            }
            for (int v = 0; v < workers; v++)
                if (running[v] >= 0)
                    assert_false(conflicts(p, (size_t)j, (size_t)running[v]));
            running[w] = j;
            remaining[w] = p->dur[j];
        }
        int busy = 0;
        for (int w = 0; w < workers; w++)
            busy += running[w] >= 0;
        if (!busy) {
            assert_int_equal(sched_left(s), 0);
            return t;
        }
        t++;
        for (int w = 0; w < workers; w++) {
            if (running[w] >= 0 && --remaining[w] == 0) {
                p->end[running[w]] = t;
                sched_finish(s, (size_t)running[w]);
                running[w] = -1;
            }
        }
    }
}

/* Loads largest first; entries (class 0) as soon as they are ready, before more loads. */
static void test_order_largest_first_entries_first(void **state)
{
    (void)state;
    plan p = {0};
    sched *s = sched_new(4);
    add_job(&p, s, 1, 10, SCHED_LOCK_NONE, 1); /* 0: small load of t0 */
    add_job(&p, s, 1, 50, SCHED_LOCK_NONE, 5); /* 1: big load of t1 */
    add_job(&p, s, 1, 30, SCHED_LOCK_NONE, 3); /* 2: load of t2 */
    add_milestone(&p, s);                      /* 3: t0 loaded */
    after(&p, s, 3, 0);
    add_job(&p, s, 0, 0, SCHED_LOCK_SHARED, 1); /* 4: index on t0 */
    lock(&p, s, 4, 0);
    after(&p, s, 4, 3);
    assert_int_equal(sched_start(s, NULL), 0);
    assert_int_equal(sched_left(s), 4);
    assert_int_equal(sched_next(s), 1); /* heaviest load */
    assert_int_equal(sched_next(s), 2);
    assert_int_equal(sched_next(s), 0);
    assert_int_equal(sched_next(s), -1);
    sched_finish(s, 0); /* t0 loaded: milestone passes, the index is ready */
    assert_true(sched_is_done(s, 3));
    assert_int_equal(sched_next(s), 4);
    sched_finish(s, 4);
    sched_finish(s, 1);
    sched_finish(s, 2);
    assert_int_equal(sched_left(s), 0);
    assert_int_equal(sched_next(s), -1);
    sched_free(s);
}

/* The longest chain first, not the heaviest job: a small load that an index build waits on
 * starts before bigger loads that nothing waits on (critical-path list scheduling). Largest
 * job first would end at 22 here; the chain first ends at 15, the total work / 2. */
static void test_critical_path_first(void **state)
{
    (void)state;
    plan p = {0};
    sched *s = sched_new(3);
    add_job(&p, s, 0, 5, SCHED_LOCK_NONE, 5);    /* 0: load of t0 */
    add_job(&p, s, 0, 8, SCHED_LOCK_NONE, 8);    /* 1: load of t1 */
    add_job(&p, s, 0, 7, SCHED_LOCK_NONE, 7);    /* 2: load of t2 */
    add_milestone(&p, s);                        /* 3: t0 loaded */
    after(&p, s, 3, 0);
    add_job(&p, s, 0, 10, SCHED_LOCK_SHARED, 10); /* 4: a long index build on t0 */
    lock(&p, s, 4, 0);
    after(&p, s, 4, 3);
    assert_int_equal(sched_start(s, NULL), 0);
    long span = sim(&p, s, 2);
    assert_int_equal(p.start[0], 0);
    assert_int_equal(p.start[4], 5);
    assert_int_equal(span, 15);
    sched_free(s);
}

/* Exclusive jobs never overlap anything on their tables; shared ones overlap each other. */
static void test_locks(void **state)
{
    (void)state;
    plan p = {0};
    sched *s = sched_new(3);
    add_job(&p, s, 0, 0, SCHED_LOCK_SHARED, 4);    /* 0: index A on t0 */
    lock(&p, s, 0, 0);
    add_job(&p, s, 0, 0, SCHED_LOCK_SHARED, 4);    /* 1: index B on t0 */
    lock(&p, s, 1, 0);
    add_job(&p, s, 0, 0, SCHED_LOCK_EXCLUSIVE, 2); /* 2: FK t1 -> t0: both tables */
    lock(&p, s, 2, 1);
    lock(&p, s, 2, 0);
    add_job(&p, s, 0, 0, SCHED_LOCK_EXCLUSIVE, 2); /* 3: ANALYZE t1 */
    lock(&p, s, 3, 1);
    add_job(&p, s, 0, 0, SCHED_LOCK_EXCLUSIVE, 1); /* 4: ANALYZE t2 */
    lock(&p, s, 4, 2);
    assert_int_equal(sched_start(s, NULL), 0);
    long span = sim(&p, s, 4);
    assert_true(p.start[0] == 0 && p.start[1] == 0);  /* two indexes together */
    assert_true(p.start[2] >= 4);                      /* the FK after both indexes */
    assert_true(p.end[3] <= p.start[2] || p.start[3] >= p.end[2]);
    assert_int_equal(p.start[4], 0);
    assert_true(span >= 6);
    sched_free(s);
}

/* Work a resumed run finds done is skipped, and what waited only for it is ready. */
static void test_mark_done(void **state)
{
    (void)state;
    plan p = {0};
    sched *s = sched_new(1);
    add_job(&p, s, 1, 5, SCHED_LOCK_NONE, 1); /* 0: load, done before */
    add_job(&p, s, 1, 4, SCHED_LOCK_NONE, 1); /* 1: load */
    add_milestone(&p, s);                     /* 2 */
    after(&p, s, 2, 0);
    add_job(&p, s, 0, 0, SCHED_LOCK_EXCLUSIVE, 1); /* 3: waits for 0 only */
    lock(&p, s, 3, 0);
    after(&p, s, 3, 2);
    sched_mark_done(s, 0);
    assert_int_equal(sched_start(s, NULL), 0);
    assert_int_equal(sched_left(s), 2);
    assert_true(sched_is_done(s, 2));
    assert_int_equal(sched_next(s), 3); /* class 0 before the load */
    assert_int_equal(sched_next(s), 1);
    sched_finish(s, 3);
    sched_finish(s, 1);
    assert_int_equal(sched_left(s), 0);
    sched_free(s);
}

/* A failed attempt goes back to ready with its locks released. */
static void test_retry(void **state)
{
    (void)state;
    sched *s = sched_new(1);
    assert_int_equal(sched_add(s, 0, 0, SCHED_LOCK_EXCLUSIVE), 0);
    assert_int_equal(sched_lock(s, 0, 0), 0);
    assert_int_equal(sched_add(s, 0, 0, SCHED_LOCK_EXCLUSIVE), 1);
    assert_int_equal(sched_lock(s, 1, 0), 0);
    assert_int_equal(sched_start(s, NULL), 0);
    assert_int_equal(sched_next(s), 0);
    assert_int_equal(sched_next(s), -1); /* 1 is blocked by 0's lock */
    assert_int_equal(sched_running(s), 1);
    sched_retry(s, 0);
    assert_int_equal(sched_running(s), 0);
    assert_int_equal(sched_next(s), 0); /* it keeps its place */
    sched_finish(s, 0);
    assert_int_equal(sched_next(s), 1);
    sched_finish(s, 1);
    assert_int_equal(sched_left(s), 0);
    sched_free(s);
}

/* A cycle is refused at start, naming a job in it. */
static void test_cycle(void **state)
{
    (void)state;
    sched *s = sched_new(0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sched_add(s, 1, 1, SCHED_LOCK_NONE), i);
    assert_int_equal(sched_after(s, 1, 0), 0);
    assert_int_equal(sched_after(s, 2, 1), 0);
    assert_int_equal(sched_after(s, 1, 2), 0); /* 1 <-> 2 */
    assert_int_equal(sched_after(s, 3, 0), 0);
    size_t stuck = 99;
    assert_int_equal(sched_start(s, &stuck), -1);
    assert_true(stuck == 1 || stuck == 2);
    sched_free(s);
    /* misuse is refused, not undefined */
    s = sched_new(1);
    assert_int_equal(sched_add(s, 0, 0, SCHED_LOCK_SHARED), 0);
    assert_int_equal(sched_lock(s, 0, 5), -1);
    assert_int_equal(sched_after(s, 0, 7), -1);
    assert_int_equal(sched_start(s, NULL), 0);
    assert_int_equal(sched_add(s, 0, 0, 0), -1);
    sched_free(s);
}

/* A restore's shape: 3 tables of 4, 2 and 1 chunks, indexes after each table's loads,
 * an FK between two tables after both primary keys, an ANALYZE per table. Two workers keep
 * busy: the makespan is within one longest job of total work / 2. */
static void test_restore_shape(void **state)
{
    (void)state;
    plan p = {0};
    sched *s = sched_new(3);
    int chunks[3] = {4, 2, 1};
    size_t loaded[3], pk[3];
    long work = 0;
    for (int t = 0; t < 3; t++) {
        size_t first = p.n;
        for (int c = 0; c < chunks[t]; c++) {
            add_job(&p, s, 1, (uint64_t)(10 * (3 - t)), SCHED_LOCK_NONE, 3);
            work += 3;
        }
        loaded[t] = p.n;
        add_milestone(&p, s);
        for (size_t c = first; c < loaded[t]; c++)
            after(&p, s, loaded[t], c);
        pk[t] = p.n;
        add_job(&p, s, 0, 0, SCHED_LOCK_EXCLUSIVE, 2);
        lock(&p, s, pk[t], (size_t)t);
        after(&p, s, pk[t], loaded[t]);
        work += 2;
        size_t an = p.n;
        add_job(&p, s, 0, 0, SCHED_LOCK_EXCLUSIVE, 1);
        lock(&p, s, an, (size_t)t);
        after(&p, s, an, loaded[t]);
        work += 1;
    }
    size_t fk = p.n;
    add_job(&p, s, 0, 0, SCHED_LOCK_EXCLUSIVE, 1);
    lock(&p, s, fk, 1);
    lock(&p, s, fk, 0);
    after(&p, s, fk, pk[0]);
    after(&p, s, fk, pk[1]);
    work += 1;
    assert_int_equal(sched_start(s, NULL), 0);
    long span = sim(&p, s, 2);
    assert_true(span <= work / 2 + 3);
    assert_true(p.start[fk] >= p.end[pk[0]] && p.start[fk] >= p.end[pk[1]]);
    sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_largest_first_entries_first),
        cmocka_unit_test(test_critical_path_first),
        cmocka_unit_test(test_locks),
        cmocka_unit_test(test_mark_done),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_restore_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
