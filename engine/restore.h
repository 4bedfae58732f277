/* restore: loads a dump into a database, in parallel, verifying every chunk before its
 * COPY commits.
 *
 *   checks:     manifest valid; schema archive hash; chunk files all there, sizes right,
 *               none extra; target empty (or --clean, or --resume)
 *   pre-data:   the archive's pre-data entries in one transaction
 *   data+post:  N workers share one queue: chunk loads (largest first; several workers
 *               on one table at once) and post-data entries (indexes, constraints,
 *               triggers...), each entry released as soon as the tables it needs have
 *               all their rows and the entries it depends on are done
 *   then:       sequences, large objects, ACLs, materialized view refresh, ANALYZE
 *
 * Every unit of work commits together with a row naming it in _pgferry.journal on the
 * target, so --resume after a crash, kill -9 or lost connection skips exactly what
 * committed. The journal schema is dropped when the restore completes. */
#ifndef PF_RESTORE_H
#define PF_RESTORE_H


#include "codec/chunk.h"
#include "common/pf_util.h"
#include "engine/archive.h"
#include "engine/manifest.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* --section: pre-data (schemas, types, tables...), data (rows, sequence values, large
 * objects), post-data (indexes, constraints, triggers...), as pg_restore. */
enum { RESTORE_SECTION_PRE = 1, RESTORE_SECTION_DATA = 2, RESTORE_SECTION_POST = 4 };

typedef struct {
    const char *from, *to; /* "schema.table" (either may be quoted), to may omit schema */
} restore_rename;

/* Progress of a restore, for the caller to show. */
typedef struct restore_progress_s {
    uint64_t chunks_done, chunks, rows, raw_bytes;
    uint64_t post_done, post_total;  /* post-data entries */
    double elapsed, eta;             /* seconds; eta < 0 when unknown */
    int state;                       /* 0 running, 1 done, -1 failed */
} restore_progress;
typedef void (*restore_progress_fn)(void *ctx, const restore_progress *p);

/* A live source instead of a dump (pgferry copy, engine/copy.h): the manifest model and
 * schema archive of a source read in one snapshot, and each chunk's rows streamed from it
 * when its load runs. Nothing of the dump's files is read or checked; each COPY's row
 * count as the target reports it must equal the rows streamed. */
typedef struct {
    manifest *m;           /* borrowed: the plan; stream() fills each chunk's figures */
    archive *a;            /* taken over by the restore (and freed) */
    const char *globals;   /* --globals: the roles and tablespaces (globals_read), or NULL */
    /* Streams chunk ci of mt into sink (the open COPY), fills mt->chunks[ci]'s rows, raw
     * bytes and content, and returns 0 only when what was sent is what the source read;
     * -1 with err (the COPY is then aborted). Called from the restore's workers. */
    int (*stream)(void *ctx, const manifest_table *mt, size_t ci, chunk_sink_fn sink, void *sink_ctx, char *err,
                  size_t errlen);
    void *ctx;
} restore_live;

typedef struct {
    const char *dir;
    const restore_live *live; /* instead of dir */
    const char *conninfo;
    int jobs;
    int create, clean, resume;
    int schema_only, data_only;
    int no_owner, no_acl;
    int no_analyze;         /* skip ANALYZE (the statistics the planner needs after a load) */
    int disable_triggers;   /* --data-only: no user triggers, no FK checks while loading
                               (superuser: session_replication_role = replica) */
    int sections;           /* RESTORE_SECTION_* bits; 0 means all three */
    const char **tables;  size_t ntables;   /* -t patterns */
    const char **schemas; size_t nschemas;  /* -n patterns */
    const char **exclude_tables;  size_t nexclude_tables;   /* -T patterns */
    const char **exclude_schemas; size_t nexclude_schemas;  /* -N patterns */
    restore_rename *renames; size_t nrenames;
    const char *into_schema;
    const char *passphrase;  /* for encrypted dumps, or NULL */
    /* --profile: a managed platform's objects are left to it; the target may be a live
     * project (only what the dump creates must be absent) */
    const struct profile *profile;
    int globals;            /* create the dump's roles and tablespaces that are missing */
    const char *trace_path; /* --trace: a Chrome trace-event file of every job, or NULL */
    struct json_t **trace_out; /* when set: the same trace as a document (trace_json; the
                                  caller json_decref()s it), also after a failure */
    uint64_t maintenance_memory; /* memory for index builds, shared by those running at
                                    once (0: 1GB) */
    int keep_grants;        /* a renamed copy keeps the live table's privileges */
    restore_progress_fn progress; /* about 4 times a second and at the end, or NULL */
    void *progress_ctx;
    pf_notice_fn notice;    /* warnings and what the restore decided ("restore: ..."), or NULL */
    void *notice_ctx;
    pf_job_fn job_done;     /* each job as it finishes (the spans of --trace: kind "load",
                               "index", "constraint", "analyze", "pre-data", ...), or NULL */
    void *job_ctx;
    volatile sig_atomic_t *interrupted;
} restore_options;

typedef struct {
    uint64_t tables, chunks, chunks_skipped, rows, raw_bytes, entries;
    uint64_t reconnects;      /* connections re-established after a loss */
    double seconds;
    double t_checks;  /* manifest, files, schema archive */
    double t_pre;     /* pre-data: schemas, types, tables */
    double t_data;    /* until the last chunk committed (index builds of finished tables overlap it) */
    double t_post;    /* from then until the last index and constraint */
    double t_finish;  /* sequences, large objects, ACLs, materialized views, ANALYZE */
    /* server CPU seconds by phase (its backends' user + system time), -1 when the server is
     * not on this machine: pre-data, chunk loads, post-data jobs (indexes, constraints,
     * ANALYZE), finishing steps */
    double cpu_pre, cpu_data, cpu_post, cpu_finish;
    char database[256];
} restore_summary;

int restore_run(const restore_options *o, restore_summary *s, char *err, size_t errlen);

#endif
