/* verify: proves a dump directory is whole, or names everything that is not.
 *
 * A verify session reads the manifest once and then runs stages over it; each stage
 * reports every problem it finds (not just the first) through the caller's callback and
 * adds to the session's totals:
 *
 *   verify_open           manifest present, checksum and fields valid
 *   verify_require_tables named tables are in the dump (--require-table)
 *   verify_files          no unlisted files; per file its size; per chunk (N threads) the
 *                         stored hash, decode, raw length and hash, and the row count and
 *                         content hash recomputed from the decoded COPY data; the schema
 *                         archive's size and xxh3-128
 *
 * A later stage that compares each table's content hash with a live database needs only
 * the session's manifest (verify_session_manifest) and the same problem callback, so it
 * plugs in as one more verify_* function without touching these.
 *
 * Stages return 0 when they ran to the end (problems or not: see verify_session_ok) and -1
 * with err when they could not run (out of memory, threads, interrupted). Memory is
 * bounded whatever the dump's size: chunks are streamed through the chunk decoder into
 * the COPY row splitter, one buffer per thread. */
#ifndef PF_VERIFY_H
#define PF_VERIFY_H

#include "common/pf_util.h"
#include "engine/dump.h"
#include "engine/dumpcheck.h"
#include "engine/manifest.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* One problem (file, table, chunk, error). Strings are valid only during the callback. */
typedef dumpcheck_problem verify_problem;

/* Called once per problem, serialised (never from two threads at once), in the order found. */
typedef void (*verify_report_fn)(void *ctx, const verify_problem *p);

typedef struct {
    uint64_t tables;          /* manifest tables (large objects not included) */
    uint64_t chunks;          /* chunk files checked (large objects' included) */
    uint64_t rows;            /* table rows recounted from decoded chunks */
    uint64_t large_objects;   /* large objects recounted from decoded chunks */
    uint64_t raw_bytes;       /* COPY bytes decoded */
    uint64_t bytes_read;      /* file bytes read (chunks and schema archive) */
    uint64_t problems;
    uint64_t problem_files;   /* distinct files named by problems */
} verify_totals;

typedef struct verify_session verify_session;

/* Starts a session on dir. A missing or damaged manifest is reported as a problem on
 * "manifest.json" (with manifest_read's message) and leaves the session without a
 * manifest: later stages then do nothing. NULL only when out of memory. */
verify_session *verify_open(const char *dir, const char *passphrase, verify_report_fn report,
                            void *report_ctx, char *err, size_t errlen);
void verify_close(verify_session *s);

/* Progress and each chunk checked, for the caller to show: progress (what "verify") after
 * each chunk and at the end of verify_files (stored_bytes: the file bytes read), and the
 * database's during verify_database; job_done (kind "chunk") per chunk file. Either may be
 * NULL; both may be called from several threads at once. */
void verify_observe(verify_session *s, dump_progress_fn progress, void *progress_ctx, pf_job_fn job_done,
                    void *job_ctx);

/* The session's manifest, or NULL when it could not be read. */
const manifest *verify_session_manifest(const verify_session *s);
/* 1 when no problem was reported so far and the manifest was read. */
int verify_session_ok(const verify_session *s);
void verify_session_totals(const verify_session *s, verify_totals *out);

/* Reports each name that no table of the dump matches. A name is "schema.table" or
 * "table" (any schema); double quotes let a part contain a dot ("a.b"."c""d" is schema
 * a.b, table c"d); names match exactly, case included. A partitioned table counts as
 * present when any of its partitions is in the dump. */
int verify_require_tables(verify_session *s, const char *const *names, size_t n,
                          char *err, size_t errlen);

/* Offline check of every file, with jobs threads (< 1 means 1). interrupted (may be NULL)
 * is polled between reads: when set, the stage stops and returns -1 "interrupted". */
int verify_files(verify_session *s, int jobs, volatile sig_atomic_t *interrupted,
                 char *err, size_t errlen);

/* --db: reads every table of the dump from one snapshot of a live database (in parallel
 * chunks, the dump's session settings, COPY format and column lists) and reports each
 * table whose row count or order-independent content hash differs from the manifest, or
 * that is missing. This is how a restore, or a database, is proven equal to the backup. */
int verify_database(verify_session *s, const char *conninfo, int jobs,
                    volatile sig_atomic_t *interrupted, char *err, size_t errlen);

#endif
