/* plan: splits tables into COPY-range chunks.
 *
 * A heap table on a server with TID range scans (PostgreSQL 14+) is cut into ranges of
 * heap pages `ctid >= '(a,0)' AND ctid < '(b,0)'`, about chunk_size bytes each; the last
 * range is open-ended because pages added after the size was read can only hold rows the
 * snapshot cannot see. A table whose bytes are mostly TOAST is cut by total bytes (main +
 * TOAST spread evenly over its pages), since its heap pages are small but each row drags
 * large values along. Other tables (other access methods, older servers, empty tables)
 * are one chunk. Chunks are ordered largest first so the dump does not end on one long
 * table while other workers idle. */
#ifndef PF_PLAN_H
#define PF_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_BLCKSZ 8192
#define PLAN_OPEN_END UINT64_MAX

typedef struct {
    uint64_t main_bytes, toast_bytes;
    int is_heap;
} plan_input;

typedef struct {
    size_t table;        /* index into the input */
    uint32_t seq;        /* chunk number within its table, from 0 in page order */
    int ranged;          /* 0: whole table, no ctid condition */
    uint64_t start_page; /* ranged: first page */
    uint64_t end_page;   /* ranged: first page not included, or PLAN_OPEN_END */
    uint64_t est_bytes;  /* for ordering and progress */
} plan_chunk;

/* Fills *out (malloc'd) with the chunks of all tables, largest first. tid_range: the
 * server supports TID range scans. Returns 0, -1 on allocation failure. */
int plan_chunks(const plan_input *tables, size_t ntables, uint64_t chunk_size, int tid_range,
                plan_chunk **out, size_t *nout);

/* Per-table chunk counts are useful to callers: counts[t] filled for every table. */
void plan_count_per_table(const plan_chunk *chunks, size_t n, size_t ntables, uint32_t *counts);

#endif
