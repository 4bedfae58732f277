#include "engine/dump.h"
#include "engine/trace.h"

#include "codec/cipher.h"
#include "codec/compress.h"
#include "codec/copyrows.h"
#include "codec/hasher.h"
#include "common/pf_util.h"
#include "engine/archive.h"
#include "engine/dumpcheck.h"
#include "engine/copysink.h"
#include "engine/globals.h"
#include "engine/manifest.h"
#include "engine/pgconn.h"
#include "engine/pgtools.h"
#include "engine/plan.h"
#include "engine/pool.h"
#include "engine/profile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PGFERRY_VERSION
#define PGFERRY_VERSION "0"
#endif

#define SCHEMA_FILE DUMPDIR_SCHEMA_FILE
#define DATA_DIR DUMPDIR_DATA
#define MAX_RECONNECTS 3
#define SMALL_CHUNK_BYTES (1u << 20)

/* One unit of COPY work: a table (or the large objects) and the range of one chunk. */
typedef struct {
    char *select_sql;  /* "SELECT <cols> FROM ONLY <table>" (no range) */
    char *lock_sql;    /* LOCK ... NOWAIT, or NULL (large objects) */
    char *label;       /* schema.name for messages */
    int binary;
    manifest_table mt; /* filled as chunks finish */
} dtable;

typedef struct {
    size_t table;
    plan_chunk pc;
    manifest_chunk res;
} djob;

typedef struct dump_ctx dump_ctx;

typedef struct {
    void *sink;        /* the sink's worker state */
    copyrows *rows[2]; /* text, binary */
    uint64_t counted; /* bytes of the current chunk added to ctx->raw (progress) */
} wstate;

typedef struct {
    dump_ctx *ctx;
    int id;
    PGconn *conn;
    PGcancel *cancel; /* guarded by ctx->mu: a failing pool cancels a stuck COPY */
    unsigned char *locked; /* tables this connection holds ACCESS SHARE on */
    trace_cpu cpu;         /* its backend's CPU, read before it disconnects */
    wstate ws;
} dworker;

struct dump_ctx {
    const dump_options *o;
    char snapshot[64];
    dtable *tables;
    size_t ntables;
    djob *jobs;
    size_t njobs;
    uint64_t est_total;
    pthread_mutex_t mu;
    size_t next_job;
    atomic_int stop;      /* the pool failed: workers stop at the next row */
    pool *pool;
    atomic_uint_fast64_t chunks_done, rows, raw, stored, est_done, reconnects;
    atomic_int uring_used;
    int cpu_mode;         /* how backends' CPU is read (trace_cpu_mode) */
    double server_cpu;    /* CPU seconds of the worker backends that have disconnected (mu) */
    int server_cpu_missed; /* a backend's CPU could not be read */
    dworker *workers;
    int nworkers, jobs_used;
    const copysink *sink; /* where the COPY streams go */
    manifest *m;          /* the run's manifest model */
    PGconn *coord;        /* holds the snapshot until every chunk is in */
    catalog cat;
    double start;
    char started_at[32];
};

/* The first error stops the run (the pool calls dump_stop). */
static void fail(dump_ctx *ctx, const char *msg)
{
    pool_fail(ctx->pool, msg);
}

static djob *next_job(dump_ctx *ctx)
{
    djob *j = NULL;
    pthread_mutex_lock(&ctx->mu);
    if (ctx->next_job < ctx->njobs)
        j = &ctx->jobs[ctx->next_job++];
    pthread_mutex_unlock(&ctx->mu);
    return j;
}

/* ---- worker ---------------------------------------------------------------------------- */

static int worker_connect(dworker *w, char *err, size_t errlen)
{
    dump_ctx *ctx = w->ctx;
    PGconn *c = pgconn_open(ctx->o->conninfo, err, errlen);
    if (!c)
        return -1;
    char sql[160];
    snprintf(sql, sizeof sql,
             "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '%s'",
             ctx->snapshot);
    if (pgconn_exec(c, sql, "import snapshot", err, errlen) < 0) {
        PQfinish(c);
        return -1;
    }
    pthread_mutex_lock(&ctx->mu);
    w->conn = c;
    w->cancel = PQgetCancel(c);
    pthread_mutex_unlock(&ctx->mu);
    memset(w->locked, 0, ctx->ntables);
    return 0;
}

static void worker_disconnect(dworker *w)
{
    if (w->conn && w->ctx->cpu_mode != TRACE_CPU_NONE) {
        double cpu = trace_backend_cpu(&w->cpu, w->conn, w->ctx->cpu_mode);
        pthread_mutex_lock(&w->ctx->mu);
        if (cpu >= 0)
            w->ctx->server_cpu += cpu;
        else
            w->ctx->server_cpu_missed = 1;
        pthread_mutex_unlock(&w->ctx->mu);
    }
    trace_cpu_close(&w->cpu);
    pthread_mutex_lock(&w->ctx->mu);
    PGconn *c = w->conn;
    PGcancel *k = w->cancel;
    w->conn = NULL;
    w->cancel = NULL;
    pthread_mutex_unlock(&w->ctx->mu);
    if (k)
        PQfreeCancel(k);
    if (c)
        PQfinish(c);
}

/* Drains a connection after an error so it can be reused (or found dead). */
static void drain(PGconn *c)
{
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
}

/* A worker reads a table under its own ACCESS SHARE lock, taken without waiting: the
 * coordinator already holds one, so the only thing that can make it wait is a session that
 * asked for ACCESS EXCLUSIVE after the coordinator locked (it queues behind the dump, and the
 * worker would queue behind it: a deadlock the server cannot see). pg_dump -j fails the same
 * way. */
static int lock_for_worker(dworker *w, const dtable *t, size_t ti, char *err, size_t errlen)
{
    if (!t->lock_sql || w->locked[ti])
        return 0;
    PGresult *r = PQexec(w->conn, t->lock_sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        char line[PF_ERRLEN];
        if (state && strcmp(state, "55P03") == 0)
            pf_err(err, errlen, "table %s: another session asked for a lock that conflicts with the dump's after the dump began (it now waits for the dump, and the dump cannot read the table without waiting for it): run the dump again when that session is done",
                   t->label);
        else
            pf_err(err, errlen, "table %s: %s", t->label, pgconn_result_errline(r, line, sizeof line));
    }
    PQclear(r);
    if (ok)
        w->locked[ti] = 1;
    return ok ? 0 : -1;
}

static int run_chunk_once(dworker *w, wstate *ws, djob *j, char *err, size_t errlen);

/* A chunk written, to the caller's job_done (pgferry -v). */
static void report_chunk(const dump_ctx *ctx, const djob *j, double seconds)
{
    if (!ctx->o->job_done)
        return;
    char name[700];
    snprintf(name, sizeof name, "%s chunk %u%s%s", ctx->tables[j->table].label, (unsigned)j->pc.seq,
             j->res.file ? " -> " : "", j->res.file ? j->res.file : "");
    pf_job pj = {"chunk", name, seconds, j->res.rows, j->res.raw_bytes};
    ctx->o->job_done(ctx->o->job_ctx, &pj);
}

/* One chunk. A failed attempt takes back the bytes it counted for progress, so a chunk
 * redone after a reconnect is counted once. */
static int run_chunk(dworker *w, wstate *ws, djob *j, char *err, size_t errlen)
{
    ws->counted = 0;
    double t0 = pf_now();
    int rc = run_chunk_once(w, ws, j, err, errlen);
    if (rc < 0)
        atomic_fetch_sub(&w->ctx->raw, ws->counted);
    else
        report_chunk(w->ctx, j, pf_now() - t0);
    return rc;
}

/* The COPY statement of one chunk (malloc'd), or NULL when out of memory. */
static char *chunk_copy_sql(const dtable *t, const djob *j)
{
    char *sql = NULL;
    const char *fmt = t->binary ? " (FORMAT binary)" : "";
    int n;
    if (j->pc.ranged && j->pc.end_page != PLAN_OPEN_END)
        n = asprintf(&sql, "COPY (%s WHERE ctid >= '(%llu,0)'::pg_catalog.tid AND ctid < '(%llu,0)'::pg_catalog.tid) TO STDOUT%s",
                     t->select_sql, (unsigned long long)j->pc.start_page, (unsigned long long)j->pc.end_page, fmt);
    else if (j->pc.ranged)
        n = asprintf(&sql, "COPY (%s WHERE ctid >= '(%llu,0)'::pg_catalog.tid) TO STDOUT%s", t->select_sql,
                     (unsigned long long)j->pc.start_page, fmt);
    else
        n = asprintf(&sql, "COPY (%s) TO STDOUT%s", t->select_sql, fmt);
    return n < 0 ? NULL : sql;
}

/* Streams the COPY's rows through the row splitter into the sink; returns the raw bytes in
 * *bytes. The COPY is left to its caller to end (or abandon). */
static int stream_copy(dworker *w, wstate *ws, const dtable *t, copyrows *cr, uint64_t *bytes, char *err,
                       size_t errlen)
{
    dump_ctx *ctx = w->ctx;
    char *buf;
    int len, rc = 0;
    while ((len = PQgetCopyData(w->conn, &buf, 0)) > 0) {
        rc = copyrows_feed(cr, buf, (size_t)len, err, errlen) < 0 ||
                     ctx->sink->ops->chunk_write(ws->sink, buf, (size_t)len, err, errlen) < 0
                 ? -1
                 : 0;
        PQfreemem(buf);
        if (rc < 0)
            return -1;
        *bytes += (uint64_t)len;
        atomic_fetch_add(&ctx->raw, (uint64_t)len);
        ws->counted += (uint64_t)len;
        if (atomic_load(&ctx->stop))
            return pf_err(err, errlen, "stopped");
    }
    char line[PF_ERRLEN];
    if (len == -2)
        return pf_err(err, errlen, "table %s: %s", t->label, pgconn_errline(w->conn, line, sizeof line));
    PGresult *r = PQgetResult(w->conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pf_err(err, errlen, "table %s: %s", t->label, pgconn_result_errline(r, line, sizeof line));
    PQclear(r);
    return rc;
}

/* A COPY abandoned midway leaves the connection in COPY state: the main thread's cancel (or
 * a dead connection) ends it; drain what is left. */
static void abandon_copy(PGconn *conn)
{
    if (PQstatus(conn) == CONNECTION_OK) {
        PQrequestCancel(conn);
        char *b;
        while (PQgetCopyData(conn, &b, 0) > 0)
            PQfreemem(b);
    }
    drain(conn);
}

static int run_chunk_once(dworker *w, wstate *ws, djob *j, char *err, size_t errlen)
{
    dump_ctx *ctx = w->ctx;
    const copysink_ops *sink = ctx->sink->ops;
    dtable *t = &ctx->tables[j->table];
    if (lock_for_worker(w, t, j->table, err, errlen) < 0)
        return -1;
    char *sql = chunk_copy_sql(t, j);
    if (!sql)
        return pf_err(err, errlen, "out of memory");
    copysink_chunk c = {j->table, j->pc.seq, j->pc.est_bytes, t->binary};
    if (sink->chunk_begin(ws->sink, &c, err, errlen) < 0) {
        free(sql);
        return -1;
    }
    copyrows *cr = ws->rows[t->binary];
    copyrows_reset(cr);

    PGresult *r = PQexec(w->conn, sql);
    free(sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        char line[PF_ERRLEN];
        pf_err(err, errlen, "table %s: %s", t->label, pgconn_result_errline(r, line, sizeof line));
        if (!r)
            pf_err(err, errlen, "table %s: %s", t->label, pgconn_errline(w->conn, line, sizeof line));
        PQclear(r);
        sink->chunk_abort(ws->sink);
        return -1;
    }
    PQclear(r);

    uint64_t bytes = 0;
    if (stream_copy(w, ws, t, cr, &bytes, err, errlen) < 0) {
        abandon_copy(w->conn);
        sink->chunk_abort(ws->sink);
        return -1;
    }
    drain(w->conn);
    if (copyrows_finish(cr, err, errlen) < 0) {
        sink->chunk_abort(ws->sink);
        return -1;
    }
    copysink_result res;
    if (sink->chunk_end(ws->sink, &res, err, errlen) < 0)
        return -1;
    if (res.async)
        atomic_store(&ctx->uring_used, 1);

    manifest_chunk *mc = &j->res;
    mc->file = res.file;
    mc->ranged = j->pc.ranged;
    mc->start_page = j->pc.start_page;
    mc->end_page = j->pc.end_page;
    mc->rows = copyrows_rows(cr);
    mc->raw_bytes = res.raw_bytes;
    mc->stored_bytes = res.stored_bytes;
    mc->raw_hash = res.raw_hash;
    mc->stored_hash = res.stored_hash;
    mc->content = copyrows_hash(cr);
    mc->codec = res.codec;
    if (res.raw_bytes != bytes)
        return pf_err(err, errlen, "table %s: encoder saw %llu bytes, COPY sent %llu", t->label,
                      (unsigned long long)res.raw_bytes, (unsigned long long)bytes);
    if (j->table < ctx->cat.ntables) /* table rows: large objects are counted on their own (summarize) */
        atomic_fetch_add(&ctx->rows, mc->rows);
    atomic_fetch_add(&ctx->stored, mc->stored_bytes);
    atomic_fetch_add(&ctx->est_done, j->pc.est_bytes);
    atomic_fetch_add(&ctx->chunks_done, 1);
    return 0;
}

/* ---- the pool's callbacks (pool.h): a worker is a connection in the snapshot ------------- */

static void dump_worker_free(void *arg, void *ws);

static void *dump_worker_new(void *arg, int id, char *err, size_t errlen)
{
    dump_ctx *ctx = arg;
    dworker *w = &ctx->workers[id - 1];
    w->ctx = ctx;
    w->id = id;
    w->ws.sink = ctx->sink->ops->worker_new(ctx->sink->ctx, err, errlen);
    w->ws.rows[0] = copyrows_new(COPYROWS_TEXT);
    w->ws.rows[1] = copyrows_new(COPYROWS_BINARY);
    w->locked = calloc(ctx->ntables + 1, 1);
    char e2[PF_ERRLEN];
    if (!w->ws.sink || !w->ws.rows[0] || !w->ws.rows[1] || !w->locked) {
        if (w->ws.sink)
            pf_err(err, errlen, "out of memory");
    } else if (worker_connect(w, e2, sizeof e2) < 0) {
        pf_err(err, errlen, "worker %d: %s", id, e2);
    } else
        return w;
    dump_worker_free(ctx, w);
    return NULL;
}

static void dump_worker_free(void *arg, void *ws)
{
    dump_ctx *ctx = arg;
    dworker *w = ws;
    worker_disconnect(w);
    free(w->locked);
    w->locked = NULL;
    if (w->ws.sink)
        ctx->sink->ops->worker_free(w->ws.sink);
    copyrows_free(w->ws.rows[0]);
    copyrows_free(w->ws.rows[1]);
    memset(&w->ws, 0, sizeof w->ws);
}

static int dump_next(void *arg, void *ws, void **job)
{
    (void)ws;
    if (atomic_load(&((dump_ctx *)arg)->stop))
        return 0;
    djob *j = next_job(arg);
    *job = j;
    return j != NULL;
}

/* One chunk. A worker whose own connection died (terminated backend, network) reconnects
 * and re-imports the snapshot: that works for as long as the coordinator holds it, and the
 * chunk's rows are the same. Any other error is final. */
static int dump_job(void *arg, void *ws, void *job, char *err, size_t errlen)
{
    dump_ctx *ctx = arg;
    dworker *w = ws;
    for (int attempt = 0;; attempt++) {
        if (run_chunk(w, &w->ws, job, err, errlen) == 0)
            return 0;
        if (atomic_load(&ctx->stop) || PQstatus(w->conn) != CONNECTION_BAD || attempt >= MAX_RECONNECTS)
            return -1;
        char why[PF_ERRLEN], e2[PF_ERRLEN];
        snprintf(why, sizeof why, "%s", err);
        worker_disconnect(w);
        if (worker_connect(w, e2, sizeof e2) < 0)
            return pf_err(err, errlen, "worker %d lost its connection (%s) and could not rejoin the snapshot: %s",
                          w->id, why, e2);
        atomic_fetch_add(&ctx->reconnects, 1);
    }
}

static void cancel_workers(dump_ctx *ctx);

static void dump_stop(void *arg, const char *why)
{
    (void)why; /* the pool keeps it */
    dump_ctx *ctx = arg;
    atomic_store(&ctx->stop, 1);
    cancel_workers(ctx);
}

static const pool_ops dump_pool = {dump_worker_new, dump_worker_free, dump_next, dump_job, dump_stop};

static void utc_now(char *out, size_t outlen)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The progress figures, to the caller's callback (the CLI draws them). */
static void report_progress(dump_ctx *ctx, int state)
{
    if (!ctx->o->progress)
        return;
    dump_progress p;
    memset(&p, 0, sizeof p);
    p.what = ctx->sink->ops->name;
    p.elapsed = pf_now() - ctx->start;
    p.chunks_done = atomic_load(&ctx->chunks_done);
    p.chunks = ctx->njobs;
    p.rows = atomic_load(&ctx->rows);
    p.raw_bytes = atomic_load(&ctx->raw);
    p.stored_bytes = atomic_load(&ctx->stored);
    uint64_t est_done = atomic_load(&ctx->est_done);
    p.eta = est_done > 0 ? p.elapsed * (double)(ctx->est_total - est_done) / (double)est_done : -1;
    p.state = state;
    ctx->o->progress(ctx->o->progress_ctx, &p);
}

/* ---- driver ---------------------------------------------------------------------------- */

static char *build_select(PGconn *c, const catalog_table *t)
{
    char *q = pgconn_qualified(c, t->schema, t->name);
    size_t cap = 64 + (q ? strlen(q) : 0);
    for (size_t i = 0; i < t->ncols; i++)
        cap += 2 * strlen(t->cols[i]) + 4;
    char *s = malloc(cap);
    if (!s || !q) {
        free(q);
        free(s);
        return NULL;
    }
    size_t n = (size_t)sprintf(s, "SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        char *qc = pgconn_quote_ident(c, t->cols[i]);
        n += (size_t)sprintf(s + n, "%s%s", i ? ", " : "", qc ? qc : "");
        free(qc);
    }
    sprintf(s + n, " FROM ONLY %s", q);
    free(q);
    return s;
}

/* --lock-wait-timeout holds from the first catalog read (pg_relation_size() locks each
 * table it measures) until every table is locked. */
static int set_lock_timeout(PGconn *c, const char *timeout, char *err, size_t errlen)
{
    const char *p[1] = {timeout ? timeout : "0"};
    PGresult *r = PQexecParams(c, "SELECT pg_catalog.set_config('lock_timeout', $1, false)", 1, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    char line[PF_ERRLEN];
    if (!ok)
        pf_err(err, errlen, "--lock-wait-timeout %s: %s", timeout, pgconn_result_errline(r, line, sizeof line));
    PQclear(r);
    return ok ? 0 : -1;
}

static int lock_tables(PGconn *c, const catalog *cat, const char *timeout, char *err, size_t errlen)
{
    /* ACCESS SHARE keeps concurrent DDL (DROP, ALTER, TRUNCATE) from pulling tables away
     * from under the snapshot, as pg_dump does. Batched: one round trip per 500 tables.
     * With --lock-wait-timeout, a lock that is not granted in time fails the dump instead
     * of queueing it (and every session behind it) behind someone's ACCESS EXCLUSIVE. */
    for (size_t start = 0; start < cat->ntables; start += 500) {
        size_t end = start + 500 < cat->ntables ? start + 500 : cat->ntables;
        size_t cap = 64, n = 0;
        char *sql = malloc(cap);
        n = (size_t)sprintf(sql, "LOCK TABLE ");
        for (size_t i = start; i < end; i++) {
            char *q = pgconn_qualified(c, cat->tables[i].schema, cat->tables[i].name);
            size_t need = n + strlen(q) + 16;
            if (need + 64 > cap) {
                cap = 2 * (need + 64);
                sql = realloc(sql, cap);
            }
            n += (size_t)sprintf(sql + n, "%sONLY %s", i > start ? ", " : "", q);
            free(q);
        }
        sprintf(sql + n, " IN ACCESS SHARE MODE");
        PGresult *r = PQexec(c, sql);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            char line[PF_ERRLEN];
            if (timeout && state && strcmp(state, "55P03") == 0)
                pf_err(err, errlen, "could not lock the tables within --lock-wait-timeout %s: another session holds or waits for a conflicting lock (%s)",
                       timeout, pgconn_result_errline(r, line, sizeof line));
            else
                pf_err(err, errlen, "lock tables: %s", pgconn_result_errline(r, line, sizeof line));
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return timeout ? set_lock_timeout(c, NULL, err, errlen) : 0;
}

static void cancel_workers(dump_ctx *ctx)
{
    char buf[256];
    pthread_mutex_lock(&ctx->mu);
    for (int i = 0; i < ctx->jobs_used; i++)
        if (ctx->workers[i].cancel)
            PQcancel(ctx->workers[i].cancel, buf, sizeof buf);
    pthread_mutex_unlock(&ctx->mu);
}

/* ---- the run, step by step ------------------------------------------------------------- */

/* The coordinator: REPEATABLE READ, READ ONLY, its snapshot exported and recorded. */
static int begin_snapshot(dump_ctx *ctx, dump_summary *s, char *err, size_t errlen)
{
    manifest *m = ctx->m;
    uint8_t id[16];
    char idhex[33];
    if (cipher_random(id, sizeof id, err, errlen) < 0)
        return -1;
    pf_hex(id, sizeof id, idhex);
    if (!(m->dump_id = strdup(idhex)))
        return pf_err(err, errlen, "out of memory");
    if (!(ctx->coord = pgconn_open(ctx->o->conninfo, err, errlen)))
        return -1;
    /* backends' CPU from /proc when the server is on this machine (the SQL way needs idle
     * sessions, and the dump's are in their snapshot) */
    ctx->cpu_mode = trace_cpu_mode(ctx->coord) == TRACE_CPU_PROC ? TRACE_CPU_PROC : TRACE_CPU_NONE;
    if (pgconn_exec(ctx->coord, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "begin snapshot", err, errlen) < 0)
        return -1;
    PGresult *r = pgconn_query(ctx->coord,
                               "SELECT pg_catalog.pg_export_snapshot(),"
                               " CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()"
                               "      ELSE pg_catalog.pg_current_wal_lsn() END,"
                               " pg_catalog.to_char(pg_catalog.now(), 'YYYY-MM-DD\"T\"HH24:MI:SS.USOF'),"
                               " pg_catalog.current_setting('server_version'), pg_catalog.current_database()",
                               0, NULL, "export snapshot", err, errlen);
    if (!r)
        return -1;
    snprintf(ctx->snapshot, sizeof ctx->snapshot, "%s", PQgetvalue(r, 0, 0));
    snprintf(s->snapshot_id, sizeof s->snapshot_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(s->snapshot_lsn, sizeof s->snapshot_lsn, "%s", PQgetvalue(r, 0, 1));
    m->snapshot_id = strdup(PQgetvalue(r, 0, 0));
    m->snapshot_lsn = strdup(PQgetvalue(r, 0, 1));
    m->snapshot_time = strdup(PQgetvalue(r, 0, 2));
    m->server_version = strdup(PQgetvalue(r, 0, 3));
    m->database = strdup(PQgetvalue(r, 0, 4));
    PQclear(r);
    m->server_version_num = PQserverVersion(ctx->coord);
    m->host = strdup(PQhost(ctx->coord) ? PQhost(ctx->coord) : "");
    m->port = strdup(PQport(ctx->coord) ? PQport(ctx->coord) : "");
    if (!m->snapshot_id || !m->snapshot_lsn || !m->snapshot_time || !m->server_version || !m->database || !m->host ||
        !m->port)
        return pf_err(err, errlen, "out of memory");
    return 0;
}

/* The tables to dump (the user's selection, a profile's tables left out), locked as
 * pg_dump locks them. */
static int read_catalog(dump_ctx *ctx, char *err, size_t errlen)
{
    const dump_options *o = ctx->o;
    if (o->lock_wait_timeout && set_lock_timeout(ctx->coord, o->lock_wait_timeout, err, errlen) < 0)
        return -1;
    /* a profile's tables to leave out join -T; its platform rows are left out by the catalog */
    catalog_filter filter = o->filter;
    const char **exc = NULL;
    if (o->profile) {
        size_t np;
        const char *const *pt = profile_list(o->profile, PROFILE_EXCLUDE_TABLES, &np);
        exc = calloc(filter.n_exclude_tables + np + 1, sizeof *exc);
        if (!exc)
            return pf_err(err, errlen, "out of memory");
        for (size_t i = 0; i < filter.n_exclude_tables; i++)
            exc[i] = filter.exclude_tables[i];
        for (size_t i = 0; i < np; i++)
            exc[filter.n_exclude_tables + i] = pt[i];
        filter.exclude_tables = exc;
        filter.n_exclude_tables += np;
        filter.profile = o->profile;
    }
    int crc = catalog_load(ctx->coord, &filter, &ctx->cat, err, errlen);
    free(exc);
    if (crc < 0) {
        if (o->lock_wait_timeout && strstr(err, "lock timeout")) {
            char keep[PF_ERRLEN];
            snprintf(keep, sizeof keep, "%s", err);
            pf_err(err, errlen, "could not read the catalog within --lock-wait-timeout %s: another session holds or waits for a conflicting lock (%s)",
                   o->lock_wait_timeout, keep);
        }
        return -1;
    }
    return lock_tables(ctx->coord, &ctx->cat, o->lock_wait_timeout, err, errlen);
}

/* One table's COPY statement, lock and manifest entry. */
static int setup_table(dump_ctx *ctx, const catalog_table *ct, dtable *t)
{
    PGconn *coord = ctx->coord;
    t->select_sql = build_select(coord, ct);
    char *q = pgconn_qualified(coord, ct->schema, ct->name);
    if (!q || asprintf(&t->lock_sql, "LOCK TABLE ONLY %s IN ACCESS SHARE MODE NOWAIT", q) < 0)
        t->lock_sql = NULL;
    free(q);
    if (asprintf(&t->label, "%s.%s", ct->schema, ct->name) < 0)
        t->label = NULL;
    t->binary = !ctx->o->text_format && ct->binary_ok;
    t->mt.schema = strdup(ct->schema);
    t->mt.name = strdup(ct->name);
    t->mt.parent_schema = ct->parent_schema ? strdup(ct->parent_schema) : NULL;
    t->mt.parent_name = ct->parent_name ? strdup(ct->parent_name) : NULL;
    t->mt.format = strdup(copy_format_name(t->binary ? COPY_BINARY : COPY_TEXT));
    t->mt.persistence = ct->persistence;
    t->mt.ncols = ct->ncols;
    t->mt.cols = calloc(ct->ncols + 1, sizeof(char *));
    int ok = t->select_sql && t->lock_sql && t->label && t->mt.schema && t->mt.name && t->mt.format && t->mt.cols &&
             (!ct->parent_schema || t->mt.parent_schema) && (!ct->parent_name || t->mt.parent_name);
    for (size_t k = 0; ok && k < ct->ncols; k++)
        ok = (t->mt.cols[k] = strdup(ct->cols[k])) != NULL;
    return ok ? 0 : -1;
}

/* Large objects travel as one more "table": one row per object, so they are chunked,
 * hashed, verified and counted by the same code as table rows. */
static int setup_large_objects(dtable *t)
{
    t->select_sql = strdup("SELECT m.oid, pg_catalog.pg_get_userbyid(m.lomowner)::text, m.lomacl::text,"
                           " pg_catalog.obj_description(m.oid, 'pg_largeobject'),"
                           " pg_catalog.lo_get(m.oid) FROM pg_catalog.pg_largeobject_metadata m");
    t->label = strdup("large objects");
    t->binary = 1;
    t->mt.schema = strdup("pg_catalog");
    t->mt.name = strdup("pg_largeobject");
    t->mt.format = strdup(copy_format_name(COPY_BINARY));
    t->mt.persistence = 'p';
    /* comments are part of a large object as pg_dump dumps it (its archive holds them as
     * BLOB entries, which a --schema-only archive does not) */
    const char *cols[] = {"oid", "owner", "acl", "comment", "data"};
    t->mt.ncols = 5;
    t->mt.cols = calloc(6, sizeof(char *));
    int ok = t->select_sql && t->label && t->mt.schema && t->mt.name && t->mt.format && t->mt.cols;
    for (int k = 0; ok && k < 5; k++)
        ok = (t->mt.cols[k] = strdup(cols[k])) != NULL;
    return ok ? 0 : -1;
}

/* The tables to copy, then the chunk plan: jobs largest first. */
static int plan_jobs(dump_ctx *ctx, char *err, size_t errlen)
{
    const catalog *cat = &ctx->cat;
    ctx->ntables = cat->ntables + (cat->with_large_objects && cat->n_large_objects > 0);
    ctx->tables = calloc(ctx->ntables + 1, sizeof *ctx->tables);
    plan_input *pin = calloc(ctx->ntables + 1, sizeof *pin);
    if (!ctx->tables || !pin) {
        free(pin);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < cat->ntables; i++) {
        const catalog_table *ct = &cat->tables[i];
        if (setup_table(ctx, ct, &ctx->tables[i]) < 0) {
            free(pin);
            return pf_err(err, errlen, "out of memory");
        }
        pin[i] = (plan_input){ct->main_bytes, ct->toast_bytes, ct->is_heap};
    }
    if (ctx->ntables > cat->ntables) {
        if (setup_large_objects(&ctx->tables[cat->ntables]) < 0) {
            free(pin);
            return pf_err(err, errlen, "out of memory");
        }
        /* unknown size: plan it as big so it starts first */
        pin[cat->ntables] = (plan_input){UINT64_MAX / 4, 0, 0};
    }
    int tid_range = PQserverVersion(ctx->coord) >= 140000;
    plan_chunk *chunks = NULL;
    size_t nchunks = 0;
    int prc = plan_chunks(pin, ctx->ntables, ctx->o->chunk_size, tid_range, &chunks, &nchunks);
    free(pin);
    if (prc < 0)
        return pf_err(err, errlen, "out of memory");
    ctx->njobs = nchunks;
    ctx->jobs = calloc(nchunks + 1, sizeof *ctx->jobs);
    if (!ctx->jobs) {
        free(chunks);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < nchunks; i++) {
        ctx->jobs[i].table = chunks[i].table;
        ctx->jobs[i].pc = chunks[i];
        if (chunks[i].est_bytes < UINT64_MAX / 8)
            ctx->est_total += chunks[i].est_bytes;
        else
            ctx->jobs[i].pc.est_bytes = 0;
    }
    free(chunks);
    return 0;
}

/* The main loop's checks: interrupts, the sink's background work, the coordinator's
 * health. Returns 1 while there is work going on. */
static int tick(dump_ctx *ctx, int *sink_busy, double *last_ping)
{
    const dump_options *o = ctx->o;
    if (o->interrupted && *o->interrupted && !atomic_load(&ctx->stop))
        fail(ctx, "interrupted");
    if (atomic_load(&ctx->stop))
        cancel_workers(ctx);
    if (*sink_busy && ctx->sink->ops->poll) {
        char e2[PF_ERRLEN];
        int w = ctx->sink->ops->poll(ctx->sink->ctx, e2, sizeof e2);
        if (w <= 0)
            *sink_busy = 0;
        if (w < 0)
            fail(ctx, e2);
    }
    int running = pool_running(ctx->pool) > 0 && !atomic_load(&ctx->stop);
    if (!running && (!*sink_busy || atomic_load(&ctx->stop)))
        return 0;
    double now = pf_now();
    if (now - *last_ping > 1.0 && !atomic_load(&ctx->stop)) {
        /* The snapshot lives only as long as this connection and its transaction. */
        char e2[PF_ERRLEN], msg[PF_ERRLEN + 64];
        if (pgconn_exec(ctx->coord, "SELECT 1", "coordinator", e2, sizeof e2) < 0) {
            snprintf(msg, sizeof msg, "coordinator connection lost, snapshot %s is gone: %s", ctx->snapshot, e2);
            fail(ctx, msg);
        }
        *last_ping = now;
    }
    return 1;
}

/* N workers over the jobs, the coordinator watched meanwhile; the first error stops all. */
static int run_workers(dump_ctx *ctx, char *err, size_t errlen)
{
    const dump_options *o = ctx->o;
    int jobs = o->jobs > 0 ? o->jobs : 1;
    if ((size_t)jobs > ctx->njobs && ctx->njobs > 0)
        jobs = (int)ctx->njobs;
    ctx->jobs_used = jobs;
    ctx->workers = calloc((size_t)jobs, sizeof *ctx->workers);
    if (!ctx->workers)
        return pf_err(err, errlen, "out of memory");
    if (!(ctx->pool = pool_start(jobs, &dump_pool, ctx, err, errlen)))
        return -1;
    int sink_busy = ctx->sink->ops->poll != NULL;
    double last_draw = 0, last_ping = pf_now();
    while (tick(ctx, &sink_busy, &last_ping)) {
        double now = pf_now();
        if (now - last_draw > 0.25) {
            report_progress(ctx, 0);
            last_draw = now;
        }
        usleep(20000);
    }
    int failed = pool_failed(ctx->pool);
    char first[PF_ERRLEN], e2[PF_ERRLEN];
    pool_join(ctx->pool, first, sizeof first);
    ctx->pool = NULL;
    report_progress(ctx, failed ? -1 : 1);
    if (!failed)
        return 0;
    if (o->interrupted && *o->interrupted)
        return pf_err(err, errlen, "interrupted: dump stopped, no manifest written");
    if (strncmp(first, "coordinator", 11) != 0 &&
        pgconn_exec(ctx->coord, "SELECT 1", "coordinator", e2, sizeof e2) < 0)
        /* A lost coordinator takes the snapshot along, so pg_dump or a rejoining worker
         * may fail first ("invalid snapshot identifier"): name the cause. */
        return pf_err(err, errlen, "coordinator connection lost, snapshot %s is gone: %s", ctx->snapshot, e2);
    return pf_err(err, errlen, "%s", first);
}

/* Releases the snapshot, only after every chunk is in. */
static int end_snapshot(dump_ctx *ctx, char *err, size_t errlen)
{
    char e3[PF_ERRLEN];
    if (pgconn_exec(ctx->coord, "COMMIT", "end snapshot", e3, sizeof e3) < 0)
        /* the coordinator died after the last chunk, before the next health check */
        return pf_err(err, errlen, "coordinator connection lost, snapshot %s is gone: %s", ctx->snapshot, e3);
    return 0;
}

/* Each table's chunks in page order, its totals, hashes of row data keyed when encrypted. */
static int collect_chunks(dump_ctx *ctx)
{
    manifest *m = ctx->m;
    for (size_t i = 0; i < ctx->njobs; i++)
        ctx->tables[ctx->jobs[i].table].mt.nchunks++;
    for (size_t t = 0; t < ctx->ntables; t++) {
        ctx->tables[t].mt.chunks = calloc(ctx->tables[t].mt.nchunks + 1, sizeof(manifest_chunk));
        if (!ctx->tables[t].mt.chunks)
            return -1;
        ctx->tables[t].mt.nchunks = 0;
    }
    for (size_t i = 0; i < ctx->njobs; i++) {
        djob *j = &ctx->jobs[i];
        manifest_table *mt = &ctx->tables[j->table].mt;
        manifest_chunk *mc = &mt->chunks[j->pc.seq];
        *mc = j->res;
        j->res.file = NULL; /* moved */
        mt->nchunks++;
        mt->rows += mc->rows;
        mt->raw_bytes += mc->raw_bytes;
        mt->stored_bytes += mc->stored_bytes;
        rowhash_add(&mt->content, &mc->content);
        /* encrypted: hashes of row data are stored keyed, never in the clear */
        manifest_protect_chunk_hash(m, &mc->raw_hash);
        manifest_protect_rowhash(m, &mc->content);
    }
    for (size_t t = 0; t < ctx->ntables; t++)
        manifest_protect_rowhash(m, &ctx->tables[t].mt.content);
    return 0;
}

/* The catalog's sequences, tables without rows, unpopulated matviews and extensions. */
static int collect_catalog(dump_ctx *ctx)
{
    manifest *m = ctx->m;
    const catalog *cat = &ctx->cat;
    m->nseqs = cat->nseqs;
    m->seqs = calloc(cat->nseqs + 1, sizeof *m->seqs);
    for (size_t i = 0; m->seqs && i < cat->nseqs; i++) {
        m->seqs[i].schema = strdup(cat->seqs[i].schema);
        m->seqs[i].name = strdup(cat->seqs[i].name);
        m->seqs[i].last_value = cat->seqs[i].last_value;
        m->seqs[i].is_called = cat->seqs[i].is_called;
    }
    m->nodata_recorded = 1;
    m->nnodata = cat->nnodata;
    m->nodata = calloc(cat->nnodata + 1, sizeof *m->nodata);
    for (size_t i = 0; m->nodata && i < cat->nnodata; i++) {
        m->nodata[i].schema = strdup(cat->nodata[i].schema);
        m->nodata[i].name = strdup(cat->nodata[i].name);
        m->nodata[i].reason = strdup(cat->nodata[i].reason);
    }
    m->nunpopulated = cat->nunpopulated;
    m->unpopulated = calloc(cat->nunpopulated + 1, sizeof *m->unpopulated);
    for (size_t i = 0; m->unpopulated && i < cat->nunpopulated; i++) {
        m->unpopulated[i].schema = strdup(cat->unpopulated[i].schema);
        m->unpopulated[i].name = strdup(cat->unpopulated[i].name);
    }
    m->nextensions = cat->nextensions;
    m->extensions = calloc(cat->nextensions + 1, sizeof *m->extensions);
    for (size_t i = 0; m->extensions && i < cat->nextensions; i++) {
        m->extensions[i].name = strdup(cat->extensions[i].name);
        m->extensions[i].reason = cat->extensions[i].reason ? strdup(cat->extensions[i].reason) : NULL;
    }
    return m->seqs && m->nodata && m->unpopulated && m->extensions ? 0 : -1;
}

/* The run's manifest model: what was dumped, how, and when. */
static int assemble_manifest(dump_ctx *ctx, char *err, size_t errlen)
{
    const dump_options *o = ctx->o;
    manifest *m = ctx->m;
    const catalog *cat = &ctx->cat;
    if (collect_chunks(ctx) < 0)
        return pf_err(err, errlen, "out of memory");
    char fin[32];
    utc_now(fin, sizeof fin);
    m->format_version = MANIFEST_FORMAT_VERSION;
    m->tool_version = strdup(PGFERRY_VERSION);
    m->started_at = strdup(ctx->started_at);
    m->finished_at = strdup(fin);
    m->format = strdup(copy_format_name(o->text_format ? COPY_TEXT : COPY_BINARY));
    m->tag = o->tag ? strdup(o->tag) : NULL;
    m->profile = o->profile ? strdup(profile_name(o->profile)) : NULL;
    m->keep_forever = o->keep_forever;
    m->chunk_size = o->chunk_size;
    m->jobs = ctx->jobs_used;
    m->ntables = cat->ntables;
    m->tables = calloc(cat->ntables + 1, sizeof *m->tables);
    if (!m->tool_version || !m->started_at || !m->finished_at || !m->format || (o->tag && !m->tag) ||
        (o->profile && !m->profile) || !m->tables)
        return pf_err(err, errlen, "out of memory");
    for (size_t t = 0; t < cat->ntables; t++) {
        m->tables[t] = ctx->tables[t].mt;
        memset(&ctx->tables[t].mt, 0, sizeof ctx->tables[t].mt);
    }
    if (ctx->ntables > cat->ntables) {
        m->has_large_objects = 1;
        m->large_objects = ctx->tables[cat->ntables].mt;
        memset(&ctx->tables[cat->ntables].mt, 0, sizeof(manifest_table));
    }
    return collect_catalog(ctx) < 0 ? pf_err(err, errlen, "out of memory") : 0;
}

static void summarize(dump_ctx *ctx, dump_summary *s)
{
    const manifest *m = ctx->m;
    s->tables = ctx->cat.ntables;
    s->chunks = ctx->njobs;
    /* table rows; large objects are counted on their own (as list and verify count them) */
    for (size_t t = 0; t < m->ntables; t++)
        s->rows += m->tables[t].rows;
    s->raw_bytes = atomic_load(&ctx->raw);
    s->stored_bytes = atomic_load(&ctx->stored);
    s->sequences = ctx->cat.nseqs;
    s->large_objects = m->has_large_objects ? m->large_objects.rows : 0;
    s->reconnects = atomic_load(&ctx->reconnects);
    s->used_uring = atomic_load(&ctx->uring_used);
    /* the server's side: CPU of the workers' backends (read as each disconnected) and the
     * coordinator's */
    s->server_cpu_seconds = -1;
    if (ctx->cpu_mode != TRACE_CPU_NONE && !ctx->server_cpu_missed) {
        trace_cpu tc = {0};
        double c = trace_backend_cpu(&tc, ctx->coord, ctx->cpu_mode);
        trace_cpu_close(&tc);
        if (c >= 0)
            s->server_cpu_seconds = ctx->server_cpu + c;
    }
}

static void free_tables(dump_ctx *ctx)
{
    for (size_t t = 0; ctx->tables && t < ctx->ntables; t++) {
        free(ctx->tables[t].select_sql);
        free(ctx->tables[t].lock_sql);
        free(ctx->tables[t].label);
        manifest_table *mt = &ctx->tables[t].mt;
        free(mt->schema);
        free(mt->name);
        free(mt->parent_schema);
        free(mt->parent_name);
        free(mt->format);
        for (size_t k = 0; mt->cols && k < mt->ncols; k++)
            free(mt->cols[k]);
        free(mt->cols);
        free(mt->chunks);
    }
    for (size_t i = 0; ctx->jobs && i < ctx->njobs; i++)
        free(ctx->jobs[i].res.file);
    free(ctx->tables);
    free(ctx->jobs);
    free(ctx->workers);
}

#define SINK_STEP(fn) (!sink->ops->fn || sink->ops->fn(sink->ctx, &run, err, errlen) == 0)

int dump_run(const dump_options *o, const copysink *sink, dump_summary *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    manifest m = {0};
    dump_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = o;
    ctx.sink = sink;
    ctx.m = &m;
    ctx.start = pf_now();
    utc_now(ctx.started_at, sizeof ctx.started_at);
    pthread_mutex_init(&ctx.mu, NULL);
    copysink_run run = {NULL, ctx.snapshot, &ctx.cat, &m};

    int ok = begin_snapshot(&ctx, s, err, errlen) == 0 && read_catalog(&ctx, err, errlen) == 0 &&
             plan_jobs(&ctx, err, errlen) == 0;
    run.coord = ctx.coord;
    ok = ok && SINK_STEP(start) && run_workers(&ctx, err, errlen) == 0 && SINK_STEP(finish) &&
         end_snapshot(&ctx, err, errlen) == 0 && assemble_manifest(&ctx, err, errlen) == 0 && SINK_STEP(complete);
    if (ok)
        summarize(&ctx, s);
    else if (sink->ops->fail)
        sink->ops->fail(sink->ctx);
    if (ctx.coord)
        PQfinish(ctx.coord);
    if (ok && o->out_manifest) {
        *o->out_manifest = m; /* the caller owns it now */
        memset(&m, 0, sizeof m);
    }
    manifest_free(&m);
    free_tables(&ctx);
    catalog_free(&ctx.cat);
    pthread_mutex_destroy(&ctx.mu);
    s->seconds = pf_now() - ctx.start;
    return ok ? 0 : -1;
}

/* ---- a live source: the run's first steps, then chunks read on demand (pgferry copy) ---- */

struct dump_source {
    dump_ctx ctx;
    manifest m;
    dump_summary s;
    int nslots;
    unsigned char *busy;  /* slot in use (ctx.mu) */
};

/* The sink of a live read: the bytes go to the caller's function as they arrive. */
typedef struct {
    chunk_sink_fn fn;
    void *fctx;
    uint64_t bytes;
} fwd_worker;

static int fwd_chunk_begin(void *ws, const copysink_chunk *c, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    ((fwd_worker *)ws)->bytes = 0;
    return 0;
}

static int fwd_chunk_write(void *ws, const void *data, size_t len, char *err, size_t errlen)
{
    fwd_worker *fw = ws;
    fw->bytes += len;
    return fw->fn(fw->fctx, data, len, err, errlen);
}

static int fwd_chunk_end(void *ws, copysink_result *res, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    memset(res, 0, sizeof *res);
    res->raw_bytes = res->stored_bytes = ((fwd_worker *)ws)->bytes;
    res->codec = -1;
    return 0;
}

static void fwd_chunk_abort(void *ws)
{
    (void)ws;
}

static const copysink_ops fwd_ops = {
    .name = "copy",
    .chunk_begin = fwd_chunk_begin,
    .chunk_write = fwd_chunk_write,
    .chunk_end = fwd_chunk_end,
    .chunk_abort = fwd_chunk_abort,
};
static const copysink fwd_sink = {&fwd_ops, NULL};

/* The plan as a manifest: each chunk named "live/<table>.<seq>", its range, and the
 * plan's size estimate as its raw bytes until a read gives the real figures. */
static int name_planned_chunks(dump_ctx *ctx)
{
    for (size_t i = 0; i < ctx->njobs; i++) {
        djob *j = &ctx->jobs[i];
        if (asprintf(&j->res.file, "live/%zu.%u", j->table, j->pc.seq) < 0) {
            j->res.file = NULL;
            return -1;
        }
        j->res.ranged = j->pc.ranged;
        j->res.start_page = j->pc.start_page;
        j->res.end_page = j->pc.end_page;
        j->res.raw_bytes = j->pc.est_bytes;
        j->res.codec = -1;
    }
    return 0;
}

int dump_source_open(const dump_options *o, dump_source **out, char *err, size_t errlen)
{
    dump_source *src = calloc(1, sizeof *src);
    int slots = (o->jobs > 0 ? o->jobs : 1) + 1;
    if (!src || !(src->busy = calloc((size_t)slots, 1))) {
        free(src);
        return pf_err(err, errlen, "out of memory");
    }
    dump_ctx *ctx = &src->ctx;
    ctx->o = o;
    ctx->sink = &fwd_sink;
    ctx->m = &src->m;
    ctx->start = pf_now();
    utc_now(ctx->started_at, sizeof ctx->started_at);
    pthread_mutex_init(&ctx->mu, NULL);
    src->nslots = slots;
    *out = src;
    if (begin_snapshot(ctx, &src->s, err, errlen) < 0 || read_catalog(ctx, err, errlen) < 0 ||
        plan_jobs(ctx, err, errlen) < 0)
        return -1;
    ctx->jobs_used = slots - 1;
    if (name_planned_chunks(ctx) < 0)
        return pf_err(err, errlen, "out of memory");
    if (!(ctx->workers = calloc((size_t)slots, sizeof *ctx->workers)))
        return pf_err(err, errlen, "out of memory");
    return assemble_manifest(ctx, err, errlen);
}

manifest *dump_source_manifest(dump_source *src)
{
    return &src->m;
}

PGconn *dump_source_coord(dump_source *src)
{
    return src->ctx.coord;
}

const catalog *dump_source_catalog(dump_source *src)
{
    return &src->ctx.cat;
}

const char *dump_source_snapshot(dump_source *src)
{
    return src->ctx.snapshot;
}

/* A free worker slot, connected in the snapshot (a slot whose connection was lost
 * reconnects: the snapshot lives as long as the coordinator). */
static dworker *take_slot(dump_source *src, char *err, size_t errlen)
{
    dump_ctx *ctx = &src->ctx;
    int id = -1;
    pthread_mutex_lock(&ctx->mu);
    for (int i = 0; i < src->nslots && id < 0; i++)
        if (!src->busy[i])
            src->busy[id = i] = 1;
    pthread_mutex_unlock(&ctx->mu);
    if (id < 0) {
        pf_err(err, errlen, "more concurrent reads than workers");
        return NULL;
    }
    dworker *w = &ctx->workers[id];
    if (!w->ctx) {
        w->ctx = ctx;
        w->id = id + 1;
        w->ws.rows[0] = copyrows_new(COPYROWS_TEXT);
        w->ws.rows[1] = copyrows_new(COPYROWS_BINARY);
        w->locked = calloc(ctx->ntables + 1, 1);
        if (!w->ws.rows[0] || !w->ws.rows[1] || !w->locked) {
            pf_err(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (w->conn && PQstatus(w->conn) != CONNECTION_OK)
        worker_disconnect(w);
    char e2[PF_ERRLEN];
    if (!w->conn && worker_connect(w, e2, sizeof e2) < 0) {
        pf_err(err, errlen, "source connection: %s", e2);
        goto fail;
    }
    return w;
fail:
    pthread_mutex_lock(&ctx->mu);
    src->busy[id] = 0;
    pthread_mutex_unlock(&ctx->mu);
    return NULL;
}

int dump_source_read(dump_source *src, size_t table, size_t seq, chunk_sink_fn fn, void *fctx, uint64_t *rows,
                     rowhash *content, char *err, size_t errlen)
{
    dump_ctx *ctx = &src->ctx;
    const djob *found = NULL;
    for (size_t i = 0; i < ctx->njobs && !found; i++)
        if (ctx->jobs[i].table == table && ctx->jobs[i].pc.seq == seq)
            found = &ctx->jobs[i];
    if (!found)
        return pf_err(err, errlen, "no chunk %zu of table %zu in the plan", seq, table);
    dworker *w = take_slot(src, err, errlen);
    if (!w)
        return -1;
    fwd_worker fw = {fn, fctx, 0};
    w->ws.sink = &fw;
    djob j = *found;
    memset(&j.res, 0, sizeof j.res);
    int rc = run_chunk(w, &w->ws, &j, err, errlen);
    if (rc < 0 && PQstatus(w->conn) == CONNECTION_OK)
        drain(w->conn);
    w->ws.sink = NULL;
    free(j.res.file);
    *rows = j.res.rows;
    *content = j.res.content;
    pthread_mutex_lock(&ctx->mu);
    src->busy[w->id - 1] = 0;
    pthread_mutex_unlock(&ctx->mu);
    return rc;
}

int dump_source_close(dump_source *src, char *err, size_t errlen)
{
    if (!src)
        return 0;
    dump_ctx *ctx = &src->ctx;
    int rc = 0;
    for (int i = 0; ctx->workers && i < src->nslots; i++) {
        dworker *w = &ctx->workers[i];
        if (!w->ctx)
            continue;
        worker_disconnect(w);
        free(w->locked);
        copyrows_free(w->ws.rows[0]);
        copyrows_free(w->ws.rows[1]);
    }
    if (ctx->coord && PQstatus(ctx->coord) == CONNECTION_OK)
        rc = end_snapshot(ctx, err, errlen);
    if (ctx->coord)
        PQfinish(ctx->coord);
    manifest_free(&src->m);
    free_tables(ctx);
    catalog_free(&ctx->cat);
    pthread_mutex_destroy(&ctx->mu);
    free(src->busy);
    free(src);
    return rc;
}
