/* copysink: where the dump engine's COPY streams go. The engine (dump.c) takes one snapshot,
 * reads the catalog, plans chunks and runs N workers that each COPY a chunk out; what
 * becomes of the bytes is the sink's business, chosen by the caller:
 *
 *   sink_file.c   a dump: chunk files, the schema archive, globals and the manifest in a
 *                 store (pgferry dump)
 *   sink_hash.c   nothing kept: rows, raw hashes and content hashes only (verify --db)
 *
 * `pgferry copy` (copy.h) is built the other way round: the restore engine drives and the
 * dump engine is its live chunk source (dump_source_* in dump.h), so the restore's
 * scheduling, journal and checks apply unchanged; its --keep-dump drives sink_file through
 * these same calls, one chunk at a time, from the restore's workers.
 *
 * The engine splits rows (COPY row splitter: row count, content hash) itself, so every
 * sink's results carry the same figures. Calls:
 *
 *   start (snapshot held, catalog read, tables locked, chunks planned)
 *   worker_new x N ... chunk_begin, chunk_write*, chunk_end | chunk_abort ... worker_free
 *   poll (the engine's main loop, ~50 per second, while workers run)
 *   finish (every chunk in, snapshot still held)
 *   complete (snapshot released, the run's manifest assembled) | fail (anything failed)
 *
 * Every function returns 0 or -1 with err; all but start/poll/finish/complete/fail run on
 * worker threads, one worker state per thread. */
#ifndef PF_COPYSINK_H
#define PF_COPYSINK_H

#include "codec/chunk.h"
#include "engine/catalog.h"
#include "engine/manifest.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    PGconn *coord;            /* the coordinator, inside the snapshot */
    const char *snapshot;     /* its exported id */
    const catalog *cat;       /* what is dumped */
    manifest *m;              /* the run's manifest model (dump id, snapshot; the sink may add
                                 keys at start and its own files at complete) */
} copysink_run;

typedef struct {
    size_t table;             /* index of the table in the run (the manifest's order) */
    unsigned seq;             /* chunk of that table */
    uint64_t est_bytes;       /* the plan's estimate (0: unknown) */
    int binary;               /* COPY format */
} copysink_chunk;

typedef struct {
    char *file;               /* the chunk's name in the dump (malloc'd), or NULL */
    uint64_t raw_bytes;
    chunk_hash raw_hash;      /* xxh3-128 of the COPY bytes */
    uint64_t stored_bytes;    /* as kept (file sink); raw_bytes otherwise */
    chunk_hash stored_hash;
    int async;                /* writes went through io_uring */
    int codec;                /* chunk_codec of the file, or -1 (nothing stored) */
} copysink_result;

typedef struct {
    const char *name;         /* "dump", "verify": progress and messages */
    int (*start)(void *ctx, const copysink_run *run, char *err, size_t errlen);
    /* 1 while the sink works on in the background (pg_dump), 0 when it is done */
    int (*poll)(void *ctx, char *err, size_t errlen);
    int (*finish)(void *ctx, const copysink_run *run, char *err, size_t errlen);
    int (*complete)(void *ctx, const copysink_run *run, char *err, size_t errlen);
    void (*fail)(void *ctx);

    void *(*worker_new)(void *ctx, char *err, size_t errlen);
    void (*worker_free)(void *ws);
    int (*chunk_begin)(void *ws, const copysink_chunk *c, char *err, size_t errlen);
    int (*chunk_write)(void *ws, const void *data, size_t len, char *err, size_t errlen);
    int (*chunk_end)(void *ws, copysink_result *res, char *err, size_t errlen);
    void (*chunk_abort)(void *ws);
} copysink_ops;

typedef struct copysink_s {
    const copysink_ops *ops;
    void *ctx;
} copysink;

#endif
