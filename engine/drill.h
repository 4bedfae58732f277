/* drill: a timed restore drill, the evidence that a backup restores.
 *
 * Creates a scratch database with a unique name on the target server, restores the dump
 * into it, proves it equal to the dump (verify_db), records each phase's wall time and
 * throughput, and drops the scratch database (unless kept), also on failure. */
#ifndef PF_DRILL_H
#define PF_DRILL_H

#include "engine/restore.h"
#include "engine/verify_db.h"

#include <signal.h>

typedef struct {
    const char *dir;
    const char *target;       /* conninfo of a database on the target server (e.g. postgres) */
    int jobs;
    int keep;
    restore_progress_fn restore_progress; /* the restore's progress, or NULL */
    void *restore_progress_ctx;
    dump_progress_fn verify_progress; /* the verification's, or NULL */
    void *verify_progress_ctx;
    pf_notice_fn notice;      /* the restore's warnings, or NULL */
    void *notice_ctx;
    pf_job_fn job_done;       /* each job of the restore as it finishes, or NULL */
    void *job_ctx;
    volatile sig_atomic_t *interrupted;
    const char *passphrase;   /* for encrypted dumps, or NULL */
    const char *trace_path;   /* the restore's trace (restore --trace), or NULL */
} drill_options;

typedef struct {
    char scratch_db[128];
    int ok;                   /* restored and identical */
    int restored;
    char error[512];          /* why not ok */
    restore_summary restore;
    verify_db_result verify;
    double t_verify, t_total;
    int dropped;              /* scratch database removed */
    char started_at[32];
    uint64_t dump_raw_bytes, dump_rows;
    struct json_t *trace;     /* the restore's trace (trace_json), or NULL */
} drill_report;

/* Returns 0 when the drill ran to a verdict (see report->ok), -1 when it could not start. */
int drill_run(const drill_options *o, drill_report *r, char *err, size_t errlen);
/* The report as one self-contained HTML page (malloc'd; engine/drill_html.c): verdict
 * and RTO, phase times, a timeline per worker from the restore's trace, per-table checks.
 * Inline CSS and SVG only: nothing is fetched from anywhere. */
char *drill_html(const drill_options *o, const drill_report *r);
/* The report as Markdown (malloc'd). */
char *drill_markdown(const drill_options *o, const drill_report *r);
/* The report as a JSON object (dump, started_at, scratch_database, ok, error,
 * scratch_dropped, rows, raw_bytes, seconds per phase, throughput_mb_s, tables,
 * server_cpu_seconds). */
struct json_t;
struct json_t *drill_json_object(const drill_options *o, const drill_report *r);
/* The same as text (malloc'd). */
char *drill_json(const drill_options *o, const drill_report *r);
void drill_report_free(drill_report *r);

#endif
