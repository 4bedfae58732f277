/* Unit tests for engine/plan: ctid-range chunks cover each heap table from page 0 with no
 * gap or overlap and an open end, sized by total bytes (so TOAST-heavy tables split too);
 * everything else is one whole-table chunk; the plan is ordered largest first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/plan.h"

#define KB 1024ULL
#define MB (1024ULL * 1024ULL)
#define GB (1024ULL * MB)

/* ---------------------------------------------------------------- helpers */

typedef struct {
    plan_chunk *v;
    size_t n;
} plan;

static plan make_plan(const plan_input *in, size_t nin, uint64_t chunk_size, int tid_range)
{
    plan p = {0};
    assert_int_equal(plan_chunks(in, nin, chunk_size, tid_range, &p.v, &p.n), 0);
    if (p.n)
        assert_non_null(p.v);
    return p;
}

/* The chunks of table t, in seq order (the plan itself is ordered by size). */
static size_t table_chunks(const plan *p, size_t t, plan_chunk *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].table == t) {
            assert_true(k < max);
            out[k++] = p->v[i];
        }
    for (size_t i = 1; i < k; i++) /* insertion sort by seq */
        for (size_t j = i; j > 0 && out[j - 1].seq > out[j].seq; j--) {
            plan_chunk x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
    return k;
}

/* Every plan, whatever its input: sorted largest first, each table present, seqs 0..k-1
 * with no duplicates, and per-table counts that agree with the chunks. */
static void check_invariants(const plan *p, const plan_input *in, size_t nin)
{
    for (size_t i = 1; i < p->n; i++)
        if (p->v[i - 1].est_bytes < p->v[i].est_bytes)
            fail_msg("plan not sorted largest first at %zu: %llu < %llu", i,
                     (unsigned long long)p->v[i - 1].est_bytes, (unsigned long long)p->v[i].est_bytes);
    uint32_t *counts = calloc(nin + 1, sizeof *counts);
    uint32_t *seen = calloc(nin + 1, sizeof *seen);
    uint64_t *seqsum = calloc(nin + 1, sizeof *seqsum);
    assert_non_null(counts);
    assert_non_null(seen);
    assert_non_null(seqsum);
    plan_count_per_table(p->v, p->n, nin, counts);
    for (size_t i = 0; i < p->n; i++) {
        assert_true(p->v[i].table < nin);
        seen[p->v[i].table]++;
        seqsum[p->v[i].table] += p->v[i].seq;
    }
    for (size_t t = 0; t < nin; t++) {
        assert_true(seen[t] >= 1);
        assert_int_equal(counts[t], seen[t]);
        /* seqs are distinct values below the count (checked per table below), so their
         * sum is that of 0..k-1 */
        assert_int_equal(seqsum[t], (uint64_t)seen[t] * (seen[t] - 1) / 2);
        (void)in;
    }
    free(counts);
    free(seen);
    free(seqsum);
}

/* A ranged table: pages [0, ...) covered once, contiguous, last open-ended, in as many
 * ranges as chunks of per_chunk_pages take, each holding the same share (the last what is
 * left, no more). */
static size_t check_ranges(const plan *p, size_t t, uint64_t pages, uint64_t per_chunk_pages)
{
    static plan_chunk c[100000];
    size_t k = table_chunks(p, t, c, sizeof c / sizeof *c);
    assert_true(k >= 2);
    uint64_t nch = (pages + per_chunk_pages - 1) / per_chunk_pages;
    assert_int_equal(k, nch);
    per_chunk_pages = (pages + nch - 1) / nch;
    uint64_t at = 0;
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(c[i].seq, i);
        assert_int_equal(c[i].ranged, 1);
        assert_int_equal(c[i].start_page, at);
        if (i + 1 < k) {
            assert_true(c[i].end_page > c[i].start_page);
            assert_int_equal(c[i].end_page - c[i].start_page, per_chunk_pages);
            at = c[i].end_page;
        } else {
            assert_int_equal(c[i].end_page, PLAN_OPEN_END);
            /* the open range starts inside the table and holds at most one chunk's pages */
            assert_true(c[i].start_page < pages);
            assert_true(pages - c[i].start_page <= per_chunk_pages);
        }
    }
    return k;
}

static void check_single_whole(const plan *p, size_t t, uint64_t est)
{
    plan_chunk c[4];
    size_t k = table_chunks(p, t, c, 4);
    assert_int_equal(k, 1);
    assert_int_equal(c[0].seq, 0);
    assert_int_equal(c[0].ranged, 0);
    assert_int_equal(c[0].est_bytes, est);
}

/* ---------------------------------------------------------------- tests */

static void test_heap_ranges(void **state)
{
    (void)state;
    /* 1 GB heap, 64 MB chunks: 8192 pages a chunk, 16 chunks */
    plan_input in[] = {{.main_bytes = 1 * GB, .toast_bytes = 0, .is_heap = 1}};
    plan p = make_plan(in, 1, 64 * MB, 1);
    check_invariants(&p, in, 1);
    assert_int_equal(check_ranges(&p, 0, GB / PLAN_BLCKSZ, 64 * MB / PLAN_BLCKSZ), 16);
    for (size_t i = 0; i < p.n; i++)
        assert_int_equal(p.v[i].est_bytes, 64 * MB);
    free(p.v);

    /* a size that does not divide: 1000 MB → 16 ranges of 62.5 MB (8000 pages), not 15 of
     * 64 MB and a short one that a worker would finish early */
    plan_input in2[] = {{.main_bytes = 1000 * MB, .is_heap = 1}};
    p = make_plan(in2, 1, 64 * MB, 1);
    check_invariants(&p, in2, 1);
    assert_int_equal(check_ranges(&p, 0, 1000 * MB / PLAN_BLCKSZ, 64 * MB / PLAN_BLCKSZ), 16);
    for (size_t i = 0; i < p.n; i++)
        assert_int_equal(p.v[i].est_bytes, 8000 * PLAN_BLCKSZ);
    free(p.v);

    /* 123 MB (bench.huge) in 64 MB chunks: two of 61.5 MB, not 64 + 59 */
    plan_input in3[] = {{.main_bytes = 15744 * PLAN_BLCKSZ, .is_heap = 1}};
    p = make_plan(in3, 1, 64 * MB, 1);
    check_invariants(&p, in3, 1);
    assert_int_equal(check_ranges(&p, 0, 15744, 64 * MB / PLAN_BLCKSZ), 2);
    assert_int_equal(p.v[0].end_page - p.v[0].start_page, 7872);
    free(p.v);
}

static void test_estimates_sum_to_table_size(void **state)
{
    (void)state;
    plan_input in[] = {{.main_bytes = 777 * MB, .toast_bytes = 123 * MB, .is_heap = 1},
                       {.main_bytes = 5 * GB, .toast_bytes = 0, .is_heap = 1}};
    plan p = make_plan(in, 2, 100 * MB, 1);
    check_invariants(&p, in, 2);
    for (size_t t = 0; t < 2; t++) {
        uint64_t sum = 0, total = in[t].main_bytes + in[t].toast_bytes;
        for (size_t i = 0; i < p.n; i++)
            if (p.v[i].table == t) {
                sum += p.v[i].est_bytes;
                /* no chunk is much bigger than asked for */
                assert_true(p.v[i].est_bytes <= 100 * MB + 100 * MB / 50);
            }
        /* integer division per page may lose a little, never more than a page's worth a chunk */
        assert_true(sum <= total);
        assert_true(total - sum < total / 100 + 1);
    }
    free(p.v);
}

static void test_small_and_empty_tables(void **state)
{
    (void)state;
    plan_input in[] = {
        {.main_bytes = 10 * MB, .toast_bytes = 0, .is_heap = 1},          /* < chunk */
        {.main_bytes = 64 * MB, .toast_bytes = 0, .is_heap = 1},          /* == chunk */
        {.main_bytes = 0, .toast_bytes = 0, .is_heap = 1},                /* empty */
        {.main_bytes = PLAN_BLCKSZ, .toast_bytes = 0, .is_heap = 1},      /* one page */
        {.main_bytes = 0, .toast_bytes = 200 * MB, .is_heap = 1},         /* no main pages */
    };
    plan p = make_plan(in, 5, 64 * MB, 1);
    check_invariants(&p, in, 5);
    assert_int_equal(p.n, 5);
    check_single_whole(&p, 0, 10 * MB);
    check_single_whole(&p, 1, 64 * MB);
    check_single_whole(&p, 2, 0);
    check_single_whole(&p, 3, PLAN_BLCKSZ);
    check_single_whole(&p, 4, 200 * MB);
    free(p.v);
}

static void test_one_page_heap_above_chunk_size(void **state)
{
    (void)state;
    /* one heap page with large TOAST: a single page cannot be split, so one chunk */
    plan_input in[] = {{.main_bytes = PLAN_BLCKSZ, .toast_bytes = GB, .is_heap = 1}};
    plan p = make_plan(in, 1, 64 * MB, 1);
    check_invariants(&p, in, 1);
    assert_int_equal(p.n, 1);
    check_single_whole(&p, 0, PLAN_BLCKSZ + GB);
    free(p.v);

    /* just over chunk_size, but the per-page rounding leaves all pages in one range: a
     * single chunk is a whole-table chunk, not a ctid range from 0 to the open end */
    plan_input in2[] = {{.main_bytes = 1000 * PLAN_BLCKSZ, .toast_bytes = 64 * MB + 100 - 1000 * PLAN_BLCKSZ,
                         .is_heap = 1}};
    p = make_plan(in2, 1, 64 * MB, 1);
    check_invariants(&p, in2, 1);
    check_single_whole(&p, 0, 64 * MB + 100);
    free(p.v);
}

static void test_fallback_whole_table(void **state)
{
    (void)state;
    plan_input in[] = {
        {.main_bytes = 10 * GB, .toast_bytes = 0, .is_heap = 0},   /* another access method */
        {.main_bytes = 3 * GB, .toast_bytes = 1 * GB, .is_heap = 1},
    };
    /* non-heap: one chunk even on a TID-range server */
    plan p = make_plan(in, 2, 64 * MB, 1);
    check_invariants(&p, in, 2);
    check_single_whole(&p, 0, 10 * GB);
    uint32_t counts[2];
    plan_count_per_table(p.v, p.n, 2, counts);
    assert_int_equal(counts[0], 1);
    assert_true(counts[1] > 1);
    /* the 10 GB whole table is the largest chunk and goes first */
    assert_int_equal(p.v[0].table, 0);
    free(p.v);

    /* tid_range = 0 (before PG14): every table whole */
    p = make_plan(in, 2, 64 * MB, 0);
    check_invariants(&p, in, 2);
    assert_int_equal(p.n, 2);
    check_single_whole(&p, 0, 10 * GB);
    check_single_whole(&p, 1, 4 * GB);
    assert_int_equal(p.v[0].table, 0);
    assert_int_equal(p.v[1].table, 1);
    free(p.v);
}

static void test_toast_heavy(void **state)
{
    (void)state;
    /* main 8 MB (1024 pages), TOAST 800 MB, chunk 64 MB: 808 MB / 64 MB ≈ 12.6 → 13 */
    plan_input in[] = {{.main_bytes = 8 * MB, .toast_bytes = 800 * MB, .is_heap = 1}};
    plan p = make_plan(in, 1, 64 * MB, 1);
    check_invariants(&p, in, 1);
    assert_true(p.n >= 12 && p.n <= 14);
    uint64_t pages = 8 * MB / PLAN_BLCKSZ;
    plan_chunk c[64];
    size_t k = table_chunks(&p, 0, c, 64);
    uint64_t per = c[0].end_page - c[0].start_page;
    check_ranges(&p, 0, pages, per);
    assert_int_equal(k, 13);
    /* each range stands for about 64 MB of total bytes, not 64 MB of heap pages */
    for (size_t i = 0; i + 1 < k; i++) {
        assert_true(c[i].est_bytes > 60 * MB);
        assert_true(c[i].est_bytes <= 64 * MB);
    }
    /* by heap pages alone it would have been one chunk */
    plan_input heap_only[] = {{.main_bytes = 8 * MB, .toast_bytes = 0, .is_heap = 1}};
    plan q = make_plan(heap_only, 1, 64 * MB, 1);
    assert_int_equal(q.n, 1);
    free(q.v);
    free(p.v);

    /* so much TOAST that one heap page stands for more than a chunk: one page a range */
    plan_input extreme[] = {{.main_bytes = 100 * PLAN_BLCKSZ, .toast_bytes = 10 * GB, .is_heap = 1}};
    p = make_plan(extreme, 1, 64 * MB, 1);
    check_invariants(&p, extreme, 1);
    assert_int_equal(check_ranges(&p, 0, 100, 1), 100);
    free(p.v);
}

static void test_order_and_seq_across_tables(void **state)
{
    (void)state;
    plan_input in[] = {
        {.main_bytes = 100 * MB, .toast_bytes = 0, .is_heap = 1},
        {.main_bytes = 2 * MB, .toast_bytes = 0, .is_heap = 1},
        {.main_bytes = 300 * MB, .toast_bytes = 0, .is_heap = 1},
        {.main_bytes = 50 * MB, .toast_bytes = 0, .is_heap = 0},
        {.main_bytes = 0, .toast_bytes = 0, .is_heap = 1},
        {.main_bytes = 48 * MB, .toast_bytes = 2 * MB, .is_heap = 1},
    };
    size_t nin = sizeof in / sizeof *in;
    plan p = make_plan(in, nin, 32 * MB, 1);
    check_invariants(&p, in, nin);
    uint32_t counts[6];
    plan_count_per_table(p.v, p.n, nin, counts);
    assert_int_equal(counts[0], 4);  /* 100/32 → 3 full + open */
    assert_int_equal(counts[1], 1);
    assert_int_equal(counts[2], 10); /* 300/32 → 9 full + open */
    assert_int_equal(counts[3], 1);
    assert_int_equal(counts[4], 1);
    assert_true(counts[5] == 2);
    assert_int_equal(p.n, 4 + 1 + 10 + 1 + 1 + 2);
    check_ranges(&p, 0, 100 * MB / PLAN_BLCKSZ, 32 * MB / PLAN_BLCKSZ);
    check_ranges(&p, 2, 300 * MB / PLAN_BLCKSZ, 32 * MB / PLAN_BLCKSZ);
    /* the whole 50 MB non-heap table outranks every 32 MB range; the empty table is last */
    assert_int_equal(p.v[0].table, 3);
    assert_int_equal(p.v[p.n - 1].table, 4);
    assert_int_equal(p.v[p.n - 1].est_bytes, 0);
    /* equal sizes keep a stable order: by table, then seq */
    for (size_t i = 1; i < p.n; i++)
        if (p.v[i - 1].est_bytes == p.v[i].est_bytes) {
            assert_true(p.v[i - 1].table <= p.v[i].table);
            if (p.v[i - 1].table == p.v[i].table)
                assert_true(p.v[i - 1].seq < p.v[i].seq);
        }
    free(p.v);
}

static void test_tiny_chunk_size(void **state)
{
    (void)state;
    /* chunk sizes below one page are raised to one page: one page a range */
    plan_input in[] = {{.main_bytes = 10 * PLAN_BLCKSZ, .toast_bytes = 0, .is_heap = 1}};
    for (uint64_t cs = 0; cs <= PLAN_BLCKSZ; cs += PLAN_BLCKSZ / 4) {
        plan p = make_plan(in, 1, cs, 1);
        check_invariants(&p, in, 1);
        assert_int_equal(check_ranges(&p, 0, 10, 1), 10);
        free(p.v);
    }
}

static void test_no_tables(void **state)
{
    (void)state;
    plan_chunk *v = NULL;
    size_t n = 99;
    assert_int_equal(plan_chunks(NULL, 0, 64 * MB, 1, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    plan_count_per_table(NULL, 0, 0, NULL);
}

static void test_many_small_tables(void **state)
{
    (void)state;
    size_t nin = 10000;
    plan_input *in = calloc(nin, sizeof *in);
    assert_non_null(in);
    for (size_t t = 0; t < nin; t++) {
        in[t].main_bytes = (t % 97) * PLAN_BLCKSZ;
        in[t].toast_bytes = (t % 5 == 0) ? 3 * KB : 0;
        in[t].is_heap = t % 13 != 0;
    }
    /* a few large ones mixed in */
    in[17].main_bytes = 700 * MB;
    in[9000].main_bytes = 130 * MB;
    in[9000].toast_bytes = 1 * GB;
    plan p = make_plan(in, nin, 64 * MB, 1);
    check_invariants(&p, in, nin);
    uint32_t *counts = calloc(nin, sizeof *counts);
    assert_non_null(counts);
    plan_count_per_table(p.v, p.n, nin, counts);
    size_t expect = 0;
    for (size_t t = 0; t < nin; t++) {
        if (t != 17 && t != 9000)
            assert_int_equal(counts[t], 1);
        expect += counts[t];
    }
    assert_int_equal(counts[17], 11); /* 700/64 → 10 full + open */
    assert_true(counts[9000] >= 17 && counts[9000] <= 19); /* 1154 MB / 64 MB ≈ 18 */
    assert_int_equal(p.n, expect);
    check_ranges(&p, 17, 700 * MB / PLAN_BLCKSZ, 64 * MB / PLAN_BLCKSZ);
    free(counts);
    free(p.v);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_ranges),
        cmocka_unit_test(test_estimates_sum_to_table_size),
        cmocka_unit_test(test_small_and_empty_tables),
        cmocka_unit_test(test_one_page_heap_above_chunk_size),
        cmocka_unit_test(test_fallback_whole_table),
        cmocka_unit_test(test_toast_heavy),
        cmocka_unit_test(test_order_and_seq_across_tables),
        cmocka_unit_test(test_tiny_chunk_size),
        cmocka_unit_test(test_no_tables),
        cmocka_unit_test(test_many_small_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
