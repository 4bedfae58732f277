#include "engine/plan.h"

#include <stdlib.h>

static int cmp_chunk(const void *a, const void *b)
{
    const plan_chunk *x = a, *y = b;
    if (x->est_bytes != y->est_bytes)
        return x->est_bytes > y->est_bytes ? -1 : 1;
    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int plan_chunks(const plan_input *tables, size_t ntables, uint64_t chunk_size, int tid_range,
                plan_chunk **out, size_t *nout)
{
    if (chunk_size < PLAN_BLCKSZ)
        chunk_size = PLAN_BLCKSZ;
    size_t cap = ntables + 16, n = 0;
    plan_chunk *v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    for (size_t t = 0; t < ntables; t++) {
        const plan_input *in = &tables[t];
        uint64_t pages = in->main_bytes / PLAN_BLCKSZ;
        uint64_t total = in->main_bytes + in->toast_bytes;
        uint64_t per_chunk = 0; /* pages per chunk; 0 = one whole-table chunk */
        if (tid_range && in->is_heap && pages > 0 && total > chunk_size) {
            /* bytes one page stands for: its own 8 kB plus its share of TOAST */
            uint64_t bytes_per_page = total / pages;
            if (bytes_per_page == 0)
                bytes_per_page = 1;
            per_chunk = chunk_size / bytes_per_page;
            if (per_chunk == 0)
                per_chunk = 1;
            if (per_chunk >= pages)
                per_chunk = 0;
        }
        uint64_t nch = per_chunk ? (pages + per_chunk - 1) / per_chunk : 1;
        /* the same share of pages each (not full chunks and a short last one): chunks of
         * one table take as long as each other to dump and to restore */
        if (per_chunk)
            per_chunk = (pages + nch - 1) / nch;
        if (n + nch > cap) {
            while (n + nch > cap)
                cap *= 2;
            plan_chunk *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        if (!per_chunk) {
            v[n++] = (plan_chunk){.table = t, .seq = 0, .ranged = 0, .est_bytes = total};
            continue;
        }
        for (uint64_t k = 0; k < nch; k++) {
            uint64_t start = k * per_chunk;
            uint64_t end = k + 1 == nch ? PLAN_OPEN_END : start + per_chunk;
            uint64_t span = (end == PLAN_OPEN_END ? pages : end) - start;
            v[n++] = (plan_chunk){.table = t, .seq = (uint32_t)k, .ranged = 1, .start_page = start,
                                  .end_page = end, .est_bytes = span * (total / pages)};
        }
    }
    qsort(v, n, sizeof *v, cmp_chunk);
    *out = v;
    *nout = n;
    return 0;
}

void plan_count_per_table(const plan_chunk *chunks, size_t n, size_t ntables, uint32_t *counts)
{
    for (size_t t = 0; t < ntables; t++)
        counts[t] = 0;
    for (size_t i = 0; i < n; i++)
        counts[chunks[i].table]++;
}
