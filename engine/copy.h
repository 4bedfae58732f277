/* copy: one database into another in one pass, verified (pgferry copy).
 *
 * The restore engine drives; the dump engine is its live chunk source (copysink.h sketched
 * the other way round, the dump driving a COPY-IN sink; this way the restore's scheduler
 * keeps deciding what loads when, so nothing of it is duplicated):
 *
 *   source: dump_source_open: one exported snapshot (held to the end), the catalog, the
 *           tables locked, the chunk plan; pg_dump --schema-only --snapshot for the archive
 *   target: restore_run with a restore_live: pre-data from that archive, then the
 *           restore's jobs - each load job's chunks read from the source in the snapshot
 *           (COPY TO, binary where the catalog allows) and streamed straight into its
 *           COPY FROM STDIN on the target (FREEZE when the table loads in one job); a
 *           table's indexes and constraints as soon as its rows are in; sequences, large
 *           objects, ANALYZE; the journal throughout
 *   check:  per chunk, before its COPY ends: the rows and content hash of what was sent
 *           against what the source's row splitter read; after it ends, the rows the
 *           target took (the COPY's count); any difference aborts the job (ROLLBACK)
 *   verify: once loaded, every table of the target read back in a snapshot and its row
 *           count and content hash compared with the source's (verify_db), per table
 *   keep:   --keep-dump: the bytes of each chunk as read also go through a dump's file sink
 *           (sink_file.c: zstd, hashes, its own pg_dump of the schema in the snapshot);
 *           one read, two destinations. Its manifest is the plan with each chunk's file
 *           and figures, written last, only once the target is verified; a copy that
 *           fails removes it. A resumed copy writes the whole dump: the chunks the
 *           interrupted run committed are read again anyway
 *
 * Resume: the source's snapshot ends with the run, so --resume reads a new one (and says
 * so). The journal is the restore's: a load commits with the names of its chunks, which are
 * the plan's (table index and sequence), and the journal's identity of the copy is the
 * plan's fingerprint (every table's name, columns, format and chunk ranges). A resumed copy
 * whose new plan differs (a table added, dropped, altered, or grown past a chunk boundary)
 * is refused before anything is written: its committed chunks could not be matched. With
 * the same plan, what committed is kept, the rest is loaded from the new snapshot, the
 * committed chunks are read again (only read: no target involved) so that every table's
 * figures are the new snapshot's, and the final comparison holds the whole target against
 * that one snapshot: rows that changed at the source between the runs fail the copy, named
 * per table. Nothing is silently kept that differs from the source. */
#ifndef PF_COPY_H
#define PF_COPY_H

#include "engine/catalog.h"
#include "engine/restore.h"
#include "engine/verify_db.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *source, *target; /* connection strings; the target names its database */
    int jobs;
    int create, resume;
    catalog_filter filter;       /* -t/-T/-n/-N, as dump */
    const struct profile *profile;
    int globals;
    const char *keep_dump;       /* --keep-dump: also write a dump of the source here (a new or
                                    empty directory, or s3://), completed once the copy is
                                    verified */
    restore_progress_fn progress;
    void *progress_ctx;
    pf_notice_fn notice;
    void *notice_ctx;
    pf_job_fn job_done;          /* each job of the load as it finishes (restore.h), or NULL */
    void *job_ctx;
    volatile sig_atomic_t *interrupted;
} copy_options;

typedef struct {
    restore_summary load;        /* the restore's figures */
    verify_db_result verify;     /* the final comparison, per table */
    double verify_seconds;
    double seconds;
    char snapshot[64];
} copy_summary;

/* 0 when the target equals the source; -1 with err otherwise (a difference found by the
 * final comparison leaves s->verify filled). Free s with copy_summary_free. */
int copy_run(const copy_options *o, copy_summary *s, char *err, size_t errlen);
void copy_summary_free(copy_summary *s);

#endif
