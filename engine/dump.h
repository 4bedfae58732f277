/* dump: one consistent, parallel dump of a database into a directory.
 *
 *   coordinator: BEGIN REPEATABLE READ READ ONLY; pg_export_snapshot(); catalog; LOCK
 *                tables ACCESS SHARE; plan chunks; hold the snapshot until the end
 *   workers x N: own connection, SET TRANSACTION SNAPSHOT, take chunks largest first:
 *                COPY out -> split rows (content hash) -> encode (zstd, xxh3) -> io writer
 *   pg_dump --schema-only --snapshot for the schema, alongside the workers
 *   manifest last, atomically; without it the directory is an incomplete dump. */
#ifndef PF_DUMP_H
#define PF_DUMP_H

#include "codec/chunk.h"
#include "codec/copyrows.h"
#include "common/pf_util.h"
#include "engine/catalog.h"

#include <libpq-fe.h>

#include <signal.h>
#include <stdint.h>

/* Progress of a run, for the caller to show. */
typedef struct dump_progress_s {
    const char *what;         /* the sink's name: "dump", "verify" */
    uint64_t chunks_done, chunks, rows, raw_bytes, stored_bytes;
    double elapsed;           /* seconds since the run began */
    double eta;               /* seconds left, < 0 when unknown */
    int state;                /* 0 running, 1 done, -1 failed */
} dump_progress;
typedef void (*dump_progress_fn)(void *ctx, const dump_progress *p);

typedef struct {
    const char *conninfo;
    const char *dir;          /* the file sink's directory */
    int jobs;
    catalog_filter filter;
    chunk_codec codec;
    int level;
    int text_format;          /* --format text: every table as text */
    int row_layout;           /* --layout rows: binary tables' chunks without the column
                                 layout (codec/colsplit.h), as dumps before it */
    const char *lock_wait_timeout; /* as pg_dump --lock-wait-timeout (a PostgreSQL
                                      duration, e.g. "30s"); NULL waits forever */
    uint64_t chunk_size;
    dump_progress_fn progress; /* called about 4 times a second and at the end, or NULL */
    void *progress_ctx;
    pf_job_fn job_done;       /* each chunk as it is written (kind "chunk"), or NULL */
    void *job_ctx;
    volatile sig_atomic_t *interrupted; /* set by the caller's SIGINT/SIGTERM handler */
    const char *passphrase;   /* encrypt every file under a key wrapped with this, or NULL */
    const char *tag;          /* recorded in the manifest (dump --tag) */
    const struct profile *profile; /* --profile: the platform's rows and tables left out */
    int globals;              /* --globals: store the roles and tablespaces the dump uses */
    int keep_forever;         /* recorded in the manifest (dump --keep-forever) */
    /* When set, receives the manifest model (rows, content hashes) on success. */
    struct manifest_s *out_manifest;
} dump_options;

typedef struct {
    uint64_t tables, chunks, rows, raw_bytes, stored_bytes, sequences, large_objects;
    uint64_t reconnects;      /* worker connections re-established during the dump */
    double seconds;
    double server_cpu_seconds; /* CPU of the dump's own backends (coordinator and workers;
                                  not pg_dump's), or -1 when it cannot be read */
    int used_uring;           /* writes went through io_uring */
    char snapshot_id[64];
    char snapshot_lsn[32];
} dump_summary;

#define DUMP_DEFAULT_CHUNK_SIZE (64ULL << 20)

struct copysink_s;
/* One snapshot, its tables COPYed out by o->jobs workers into sink (copysink.h): a dump
 * (sink_file.c, dump_to_dir) or hashes only (sink_hash.c). 0 on success; -1 with err. When
 * *interrupted was set, the error says so. */
int dump_run(const dump_options *o, const struct copysink_s *sink, dump_summary *s, char *err, size_t errlen);

/* A live source (pgferry copy, engine/copy.h): dump_run's first steps (snapshot held,
 * catalog read, tables locked, chunks planned), then each chunk read when asked, through
 * the same COPY, column lists and row splitter as a dump, on up to o->jobs + 1 connections
 * in the snapshot. The manifest model holds the plan: chunks named "live/<table>.<seq>"
 * with their ranges and estimated bytes, and the catalog's sequences (read in the
 * snapshot), tables without rows and extensions. o must outlive the source. On failure
 * *out may be set: close it. */
typedef struct dump_source dump_source;
struct manifest_s;
int dump_source_open(const dump_options *o, dump_source **out, char *err, size_t errlen);
struct manifest_s *dump_source_manifest(dump_source *src);
PGconn *dump_source_coord(dump_source *src);
const catalog *dump_source_catalog(dump_source *src);
const char *dump_source_snapshot(dump_source *src);
/* Reads chunk seq of table (the manifest's index; ntables: the large objects) into fn as
 * the server sends it; *rows and *content are the row splitter's figures for what was
 * read. Thread-safe, one call per connection at a time. 0, or -1 with err. */
int dump_source_read(dump_source *src, size_t table, size_t seq, chunk_sink_fn fn, void *fctx, uint64_t *rows,
                     rowhash *content, char *err, size_t errlen);
/* Ends the snapshot and frees everything (the manifest too). -1 with err when the
 * coordinator was lost before the end. */
int dump_source_close(dump_source *src, char *err, size_t errlen);

#endif
