#include "engine/verify.h"

#include "engine/chunkfile.h"
#include "engine/dumpcheck.h"
#include "engine/dumpdir.h"
#include "engine/pool.h"

#include "engine/verify_db.h"

#include "codec/chunk.h"
#include "codec/copyrows.h"
#include "common/pf_util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


struct verify_session {
    pf_store *st;
    verify_report_fn report;
    void *report_ctx;
    pthread_mutex_t mu;   /* serialises reports and totals: workers report as they go */
    int have_manifest;
    manifest m;
    verify_totals t;
    char **bad_files;     /* files named by problems, for problem_files (deduplicated on read) */
    size_t nbad, capbad;
    dump_progress_fn progress; /* verify_observe */
    void *progress_ctx;
    pf_job_fn job_done;
    void *job_ctx;
};

void verify_observe(verify_session *s, dump_progress_fn progress, void *progress_ctx, pf_job_fn job_done,
                    void *job_ctx)
{
    s->progress = progress;
    s->progress_ctx = progress_ctx;
    s->job_done = job_done;
    s->job_ctx = job_ctx;
}

/* ---- problems -------------------------------------------------------------------------- */

__attribute__((format(printf, 5, 6)))
static void report(verify_session *s, const char *file, const char *table, long chunk, const char *fmt, ...)
{
    char msg[PF_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    verify_problem p = {file, table, chunk, msg};
    pthread_mutex_lock(&s->mu);
    s->t.problems++;
    if (file) {
        if (s->nbad == s->capbad) {
            size_t cap = s->capbad ? 2 * s->capbad : 16;
            char **b = realloc(s->bad_files, cap * sizeof *b);
            if (b) {
                s->bad_files = b;
                s->capbad = cap;
            }
        }
        /* Out of memory here only makes problem_files an undercount: the problem itself
         * is still reported. */
        if (s->nbad < s->capbad && (s->bad_files[s->nbad] = strdup(file)) != NULL)
            s->nbad++;
    }
    if (s->report)
        s->report(s->report_ctx, &p);
    pthread_mutex_unlock(&s->mu);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void from_dumpcheck(void *ctx, const dumpcheck_problem *p)
{
    report(ctx, p->file, p->table, p->chunk, "%s", p->error);
}

/* ---- session --------------------------------------------------------------------------- */

verify_session *verify_open(const char *dir, const char *passphrase, verify_report_fn fn, void *ctx,
                            char *err, size_t errlen)
{
    verify_session *s = calloc(1, sizeof *s);
    if (!s) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    if (!(s->st = store_open(dir, 0, err, errlen))) {
        free(s);
        return NULL;
    }
    s->report = fn;
    s->report_ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    char merr[PF_ERRLEN];
    if (manifest_read_key(s->st, passphrase, &s->m, merr, sizeof merr) < 0)
        report(s, MANIFEST_FILE, NULL, -1, "%s", merr);
    else
        s->have_manifest = 1;
    return s;
}

void verify_close(verify_session *s)
{
    if (!s)
        return;
    if (s->have_manifest)
        manifest_free(&s->m);
    for (size_t i = 0; i < s->nbad; i++)
        free(s->bad_files[i]);
    free(s->bad_files);
    pthread_mutex_destroy(&s->mu);
    store_close(s->st);
    free(s);
}

const manifest *verify_session_manifest(const verify_session *s)
{
    return s->have_manifest ? &s->m : NULL;
}

int verify_session_ok(const verify_session *s)
{
    return s->have_manifest && s->t.problems == 0;
}

void verify_session_totals(const verify_session *s, verify_totals *out)
{
    verify_session *w = (verify_session *)s; /* the lock is not part of the value */
    pthread_mutex_lock(&w->mu);
    *out = s->t;
    if (w->nbad > 1)
        qsort(w->bad_files, w->nbad, sizeof *w->bad_files, cmp_str);
    uint64_t n = 0;
    for (size_t i = 0; i < s->nbad; i++)
        if (i == 0 || strcmp(s->bad_files[i], s->bad_files[i - 1]) != 0)
            n++;
    out->problem_files = n;
    pthread_mutex_unlock(&w->mu);
}

/* ---- --require-table ------------------------------------------------------------------- */

/* Splits NAME into at most two parts at unquoted dots. Quotes group, "" inside quotes is
 * one quote. Returns the number of parts (1 or 2), or -1 when malformed. */
static int split_name(const char *name, char *part[2], size_t cap)
{
    int np = 0;
    size_t n = 0;
    int inq = 0;
    part[0][0] = part[1][0] = '\0';
    for (const char *p = name;; p++) {
        if (*p == '\0' || (!inq && *p == '.')) {
            if (n == 0 || np == 2)
                return -1;
            part[np++][n] = '\0';
            n = 0;
            if (*p == '\0')
                break;
            continue;
        }
        if (*p == '"') {
            if (inq && p[1] == '"') {
                p++;
            } else {
                inq = !inq;
                continue;
            }
        }
        if (np == 2 || n + 1 >= cap)
            return -1;
        part[np][n++] = *p;
    }
    return inq ? -1 : np;
}

static int name_matches(const char *schema, const char *name, const char *ws, const char *wn)
{
    return schema && name && strcmp(name, wn) == 0 && (!ws || strcmp(schema, ws) == 0);
}

int verify_require_tables(verify_session *s, const char *const *names, size_t n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    if (!s->have_manifest)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a[256], b[256];
        char *part[2] = {a, b};
        int np = split_name(names[i], part, sizeof a);
        if (np < 0) {
            report(s, NULL, names[i], -1, "required table %s: not a valid name (schema.table or table)", names[i]);
            continue;
        }
        const char *ws = np == 2 ? a : NULL, *wn = np == 2 ? b : a;
        int found = 0;
        for (size_t k = 0; k < s->m.ntables && !found; k++) {
            const manifest_table *t = &s->m.tables[k];
            found = name_matches(t->schema, t->name, ws, wn) ||
                    name_matches(t->parent_schema, t->parent_name, ws, wn);
        }
        if (!found)
            report(s, NULL, names[i], -1, "required table %s is not in the dump", names[i]);
    }
    return 0;
}

/* ---- files ----------------------------------------------------------------------------- */

typedef struct {
    const manifest_table *table; /* NULL for the schema archive */
    const char *label;           /* "schema.name" */
    long index;
    const char *file;
    uint64_t size;               /* for ordering: largest first */
    int fmt;                     /* COPYROWS_*, or -1 when the manifest names no known format */
    int is_lo;
} vjob;

typedef struct {
    verify_session *s;
    vjob *jobs;
    size_t njobs;
    uint64_t total_bytes;        /* of the chunk files, for the ETA */
    double start;
    pthread_mutex_t mu;
    size_t next;
    int stop;                    /* guarded by mu: interrupted or a worker could not start */
    char fatal[PF_ERRLEN];
    volatile sig_atomic_t *interrupted;
} vrun;


typedef struct {
    vrun *run;
    chunkfile_reader *reader;
} vworker;

static int run_stopped(vrun *r)
{
    pthread_mutex_lock(&r->mu);
    if (!r->stop && r->interrupted && *r->interrupted) {
        r->stop = 1;
        snprintf(r->fatal, sizeof r->fatal, "interrupted");
    }
    int st = r->stop;
    pthread_mutex_unlock(&r->mu);
    return st;
}

static int stop_check(void *r)
{
    return run_stopped(r);
}

static void run_fail(vrun *r, const char *msg)
{
    pthread_mutex_lock(&r->mu);
    if (!r->stop) {
        r->stop = 1;
        snprintf(r->fatal, sizeof r->fatal, "%s", msg);
    }
    pthread_mutex_unlock(&r->mu);
}

static void hex128(const chunk_hash *h, char out[33])
{
    chunk_hash_hex(h, out);
}

/* The structural check (dumpcheck) already reported a missing or odd file. A file of the
 * wrong size is still decoded: how it is damaged (truncated, another chunk) helps. */
static int readable(const pf_store *st, const char *name)
{
    store_info info;
    return store_stat(st, name, &info, NULL, 0) == 1 && !info.is_prefix;
}

/* The run's figures to the session's progress callback (state: 0 running, 1 done). */
static void report_files_progress(vrun *r, int state)
{
    verify_session *s = r->s;
    if (!s->progress)
        return;
    dump_progress p;
    memset(&p, 0, sizeof p);
    p.what = "verify";
    pthread_mutex_lock(&s->mu);
    p.chunks_done = s->t.chunks;
    p.rows = s->t.rows;
    p.raw_bytes = s->t.raw_bytes;
    p.stored_bytes = s->t.bytes_read;
    pthread_mutex_unlock(&s->mu);
    p.chunks = r->njobs;
    p.elapsed = pf_now() - r->start;
    p.eta = p.stored_bytes > 0 && r->total_bytes > p.stored_bytes
                ? p.elapsed * (double)(r->total_bytes - p.stored_bytes) / (double)p.stored_bytes
                : -1;
    p.state = state;
    s->progress(s->progress_ctx, &p);
}

/* A chunk checked (whatever it held), to the session's job_done. */
static void report_chunk_checked(verify_session *s, const vjob *j, const chunkfile_result *res, double seconds)
{
    if (!s->job_done)
        return;
    char name[700];
    snprintf(name, sizeof name, "%s chunk %ld (%s)", j->label, j->index, j->file);
    pf_job pj = {"chunk", name, seconds, res->rows_counted ? res->rows : 0, res->st.raw_bytes};
    s->job_done(s->job_ctx, &pj);
}

static void check_chunk_contents(vworker *w, const vjob *j);

/* One chunk checked, then the progress. */
static void check_chunk(vworker *w, const vjob *j)
{
    check_chunk_contents(w, j);
    if (!run_stopped(w->run))
        report_files_progress(w->run, 0);
}

static void check_chunk_contents(vworker *w, const vjob *j)
{
    double t0 = pf_now();
    verify_session *s = w->run->s;
    const manifest_chunk *c = &j->table->chunks[j->index];
    char err[PF_ERRLEN], a[33], b[33];
    if (!readable(s->st, j->file))
        return;
    chunkfile_result res;
    int rc = chunkfile_read(w->reader, s->st, j->file, j->file, j->fmt >= 0 ? j->table->format : NULL, NULL, NULL,
                            stop_check, w->run, &res, err, sizeof err);
    int stopped = run_stopped(w->run);
    pthread_mutex_lock(&s->mu);
    s->t.bytes_read += res.file_bytes;
    if (!stopped) {
        s->t.chunks++;
        if (rc == 0)
            s->t.raw_bytes += res.st.raw_bytes;
        if (rc == 0 && res.rows_counted)
            *(j->is_lo ? &s->t.large_objects : &s->t.rows) += res.rows;
    }
    pthread_mutex_unlock(&s->mu);
    if (stopped)
        return;
    report_chunk_checked(s, j, &res, pf_now() - t0);
    if (rc < 0) {
        report(s, j->file, j->label, j->index, "%s", err);
        return;
    }
    /* The file is a whole, self-consistent chunk; now it must be the one the manifest names. */
    if (!chunk_hash_equal(&res.file_hash, &c->stored_hash)) {
        hex128(&c->stored_hash, a);
        hex128(&res.file_hash, b);
        report(s, j->file, j->label, j->index, "chunk stored hash mismatch (manifest %s, file %s)", a, b);
    }
    if (res.st.raw_bytes != c->raw_bytes)
        report(s, j->file, j->label, j->index, "raw length %llu bytes, manifest says %llu",
               (unsigned long long)res.st.raw_bytes, (unsigned long long)c->raw_bytes);
    if (!manifest_chunk_hash_matches(&s->m, &res.st.raw_hash, &c->raw_hash)) {
        hex128(&c->raw_hash, a);
        hex128(&res.st.raw_hash, b);
        report(s, j->file, j->label, j->index, "chunk raw hash mismatch (manifest %s, decoded %s)", a, b);
    }
    if (c->codec >= 0 && res.codec != c->codec)
        report(s, j->file, j->label, j->index, "encoded as %s, the manifest says %s",
               chunk_codec_name((chunk_codec)res.codec), chunk_codec_name((chunk_codec)c->codec));
    if (j->fmt < 0)
        return; /* reported once per table when the jobs were built */
    if (!res.rows_counted) {
        report(s, j->file, j->label, j->index, "COPY data (%s): %s", j->fmt == COPYROWS_BINARY ? "binary" : "text",
               res.rows_err);
        return;
    }
    if (res.rows != c->rows)
        report(s, j->file, j->label, j->index, "%s %llu, manifest says %llu",
               j->is_lo ? "large object count" : "row count", (unsigned long long)res.rows,
               (unsigned long long)c->rows);
    if (!manifest_rowhash_matches(&s->m, &res.content, &c->content)) {
        rowhash_hex(&c->content, a);
        rowhash_hex(&res.content, b);
        report(s, j->file, j->label, j->index, "content hash mismatch (manifest %s, decoded %s)", a, b);
    }
}

/* ---- the pool's callbacks (pool.h): a worker is a chunk reader ------------------------- */

static void *verify_worker_new(void *ctx, int id, char *err, size_t errlen)
{
    (void)id;
    vrun *r = ctx;
    vworker *w = calloc(1, sizeof *w);
    if (!w) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    w->run = r;
    if (!(w->reader = chunkfile_reader_new(&r->s->m, err, errlen))) {
        free(w);
        return NULL;
    }
    return w;
}

static void verify_worker_free(void *ctx, void *ws)
{
    (void)ctx;
    vworker *w = ws;
    chunkfile_reader_free(w->reader);
    free(w);
}

static int verify_next(void *ctx, void *ws, void **job)
{
    (void)ws;
    vrun *r = ctx;
    if (run_stopped(r))
        return 0;
    pthread_mutex_lock(&r->mu);
    vjob *j = r->next < r->njobs ? &r->jobs[r->next++] : NULL;
    pthread_mutex_unlock(&r->mu);
    *job = j;
    return j != NULL;
}

/* A chunk's problems are reported, not errors: the run goes on to the next. */
static int verify_job(void *ctx, void *ws, void *job, char *err, size_t errlen)
{
    (void)ctx, (void)err, (void)errlen;
    check_chunk(ws, job);
    return 0;
}

static const pool_ops verify_pool = {verify_worker_new, verify_worker_free, verify_next, verify_job, NULL};

static int cmp_job_size(const void *a, const void *b)
{
    const vjob *x = a, *y = b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static int add_table_jobs(verify_session *s, const manifest_table *t, const char *label, int is_lo, vjob *jobs,
                          size_t *n)
{
    int fmt = -1;
    copy_format cf = copy_format_parse(t->format);
    if (cf == COPY_BINARY)
        fmt = COPYROWS_BINARY;
    else if (cf == COPY_TEXT)
        fmt = COPYROWS_TEXT;
    else
        report(s, MANIFEST_FILE, label, -1, "unknown COPY format \"%s\": rows cannot be recounted", t->format);
    for (size_t i = 0; i < t->nchunks; i++)
        jobs[(*n)++] = (vjob){t, label, (long)i, t->chunks[i].file, t->chunks[i].stored_bytes, fmt, is_lo};
    return 0;
}

/* One job per chunk file of the dump (labels[i] names table i in messages). */
static int plan_jobs(verify_session *s, vrun *run, char **labels, char *err, size_t errlen)
{
    const manifest *m = &s->m;
    size_t total = 1;
    for (size_t i = 0; i < m->ntables; i++)
        total += m->tables[i].nchunks;
    if (m->has_large_objects)
        total += m->large_objects.nchunks;
    if (!(run->jobs = calloc(total, sizeof *run->jobs)))
        return pf_err(err, errlen, "out of memory");
    for (size_t i = 0; i < m->ntables; i++) {
        const manifest_table *t = &m->tables[i];
        if (asprintf(&labels[i], "%s.%s", t->schema, t->name) < 0) {
            labels[i] = NULL;
            return pf_err(err, errlen, "out of memory");
        }
        add_table_jobs(s, t, labels[i], 0, run->jobs, &run->njobs);
    }
    if (m->has_large_objects)
        add_table_jobs(s, &m->large_objects, "large objects", 1, run->jobs, &run->njobs);
    pthread_mutex_lock(&s->mu);
    s->t.tables = m->ntables;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* The jobs on up to `jobs` workers, largest first, so the last file to finish is a small
 * one and threads end together. */
static int run_jobs(vrun *run, int jobs, char *err, size_t errlen)
{
    qsort(run->jobs, run->njobs, sizeof *run->jobs, cmp_job_size);
    for (size_t i = 0; i < run->njobs; i++) /* for the ETA */
        run->total_bytes += run->jobs[i].size;
    run->start = pf_now();
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > run->njobs)
        jobs = (int)run->njobs;
    pool *p = pool_start(jobs, &verify_pool, run, err, errlen);
    if (!p)
        return -1;
    char perr[PF_ERRLEN];
    if (pool_join(p, perr, sizeof perr) < 0)
        run_fail(run, perr); /* a worker could not start */
    if (run->stop)
        return pf_err(err, errlen, "%s", run->fatal);
    report_files_progress(run, 1);
    return 0;
}

int verify_files(verify_session *s, int jobs, volatile sig_atomic_t *interrupted, char *err, size_t errlen)
{
    if (!s->have_manifest)
        return 0;
    const manifest *m = &s->m;
    vrun run;
    memset(&run, 0, sizeof run);
    run.s = s;
    run.interrupted = interrupted;
    pthread_mutex_init(&run.mu, NULL);
    char **labels = calloc(m->ntables + 1, sizeof *labels);
    int rc = labels ? plan_jobs(s, &run, labels, err, errlen) : pf_err(err, errlen, "out of memory");
    /* the structure, as every command checks it: manifest totals, files, schema archive,
     * the archive's tables against the dump's */
    uint64_t sread = 0;
    if (rc == 0 && dumpcheck_dir(s->st, m, from_dumpcheck, s, NULL, &sread, err, errlen) < 0)
        rc = -1; /* fatal; the problems it found are reported through from_dumpcheck */
    if (rc == 0) {
        pthread_mutex_lock(&s->mu);
        s->t.bytes_read += sread;
        pthread_mutex_unlock(&s->mu);
    }
    if (rc == 0 && run.njobs > 0)
        rc = run_jobs(&run, jobs, err, errlen);
    pthread_mutex_destroy(&run.mu);
    for (size_t i = 0; labels && i < m->ntables; i++)
        free(labels[i]);
    free(labels);
    free(run.jobs);
    return rc < 0 ? -1 : 0;
}

int verify_database(verify_session *s, const char *conninfo, int jobs,
                    volatile sig_atomic_t *interrupted, char *err, size_t errlen)
{
    const manifest *m = verify_session_manifest(s);
    if (!m)
        return 0; /* the manifest problem is already reported */
    verify_db_result res;
    if (verify_db_run(m, conninfo, jobs, interrupted, s->progress, s->progress_ctx, &res, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < res.ntables; i++) {
        const verify_db_table *t = &res.tables[i];
        if (t->status == VERIFY_DB_OK)
            continue;
        char label[1024];
        snprintf(label, sizeof label, "%s.%s", t->schema, t->name);
        if (t->status == VERIFY_DB_ROWS_DIFFER)
            report(s, NULL, label, -1, "database table %s has %llu rows, the dump %llu", label,
                   (unsigned long long)t->db_rows, (unsigned long long)t->dump_rows);
        else
            report(s, NULL, label, -1, "database table %s: %s", label, verify_db_status_text(t->status));
    }
    verify_db_result_free(&res);
    return 0;
}
