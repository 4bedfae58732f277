/* verify_db: proves a live database holds exactly the rows of a dump.
 *
 * Reads every table the manifest lists from one snapshot of the database, in parallel
 * chunks, with the same session settings, COPY format and column lists as the dump, and
 * compares each table's row count and order-independent content hash with the
 * manifest's. It is the dump engine run into a sink that keeps nothing (sink_hash.c). */
#ifndef PF_VERIFY_DB_H
#define PF_VERIFY_DB_H

#include "engine/dump.h"
#include "engine/manifest.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    VERIFY_DB_OK = 0,
    VERIFY_DB_MISSING,        /* table not in the database */
    VERIFY_DB_ROWS_DIFFER,
    VERIFY_DB_CONTENT_DIFFERS,
    VERIFY_DB_COLUMNS_DIFFER  /* column list or COPY format changed: hashes not comparable */
} verify_db_status;

typedef struct {
    char *schema, *name;
    verify_db_status status;
    uint64_t dump_rows, db_rows;
} verify_db_table;

typedef struct {
    verify_db_table *tables;    /* one per manifest table, plus large objects if any */
    size_t ntables;
    size_t problems;
    uint64_t rows;
    double seconds;
} verify_db_result;

/* 0 when the comparison ran (problems may be > 0), -1 when it could not run. */
int verify_db_run(const manifest *m, const char *conninfo, int jobs, volatile sig_atomic_t *interrupted,
                  dump_progress_fn progress, void *progress_ctx, verify_db_result *res, char *err, size_t errlen);
void verify_db_result_free(verify_db_result *res);
const char *verify_db_status_text(verify_db_status s);

#endif
