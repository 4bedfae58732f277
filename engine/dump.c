#include "engine/dump.h"
#include "engine/trace.h"

#include "codec/cipher.h"
#include "codec/compress.h"
#include "codec/copyrows.h"
#include "codec/hasher.h"
#include "common/pf_util.h"
#include "engine/archive.h"
#include "engine/dumpcheck.h"
#include "engine/chunkwriter.h"
#include "engine/dumpdir.h"
#include "engine/globals.h"
#include "engine/manifest.h"
#include "engine/pgconn.h"
#include "engine/pgtools.h"
#include "engine/plan.h"
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
    dump_ctx *ctx;
    int id;
    pthread_t thread;
    PGconn *conn;
    PGcancel *cancel; /* guarded by ctx->mu: the main thread cancels a stuck COPY */
    int started;
    unsigned char *locked; /* tables this connection holds ACCESS SHARE on */
    trace_cpu cpu;         /* its backend's CPU, read before it disconnects */
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
    atomic_int stop;
    int failed;
    char first_err[PF_ERRLEN];
    atomic_uint_fast64_t chunks_done, rows, raw, stored, est_done, reconnects;
    atomic_int uring_used;
    int cpu_mode;         /* how backends' CPU is read (trace_cpu_mode) */
    double server_cpu;    /* CPU seconds of the worker backends that have disconnected (mu) */
    int server_cpu_missed; /* a backend's CPU could not be read */
    dworker *workers;
    manifest *m;          /* dump id and keys (encryption) */
    pf_store *st;         /* where the dump goes (NULL: hash only) */
};

static void fail(dump_ctx *ctx, const char *msg)
{
    pthread_mutex_lock(&ctx->mu);
    if (!ctx->failed) {
        ctx->failed = 1;
        snprintf(ctx->first_err, sizeof ctx->first_err, "%s", msg);
    }
    pthread_mutex_unlock(&ctx->mu);
    atomic_store(&ctx->stop, 1);
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

typedef struct {
    chunkwriter *cw;     /* the current chunk's: one of cws */
    chunkwriter *cws[2]; /* text, binary tables (binary ones in the column layout) */
    copyrows *rows[2]; /* text, binary */
    uint64_t counted; /* bytes of the current chunk added to ctx->raw (progress) */
} wstate;

static void chunk_file_name(const djob *j, const dtable *t, char *out, size_t outlen)
{
    (void)t;
    dumpdir_chunk_name(j->table, j->pc.seq, out, outlen);
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

/* One chunk. A failed attempt takes back the bytes it counted for progress, so a chunk
 * redone after a reconnect is counted once. */
static int run_chunk(dworker *w, wstate *ws, djob *j, char *err, size_t errlen)
{
    ws->counted = 0;
    int rc = run_chunk_once(w, ws, j, err, errlen);
    if (rc < 0)
        atomic_fetch_sub(&w->ctx->raw, ws->counted);
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

/* Streams the COPY's rows through the row splitter into the chunk writer; returns the raw
 * bytes in *bytes. The COPY is left to its caller to end (or abandon). */
static int stream_copy(dworker *w, wstate *ws, const dtable *t, copyrows *cr, uint64_t *bytes, char *err,
                       size_t errlen)
{
    dump_ctx *ctx = w->ctx;
    char *buf;
    int len, rc = 0;
    while ((len = PQgetCopyData(w->conn, &buf, 0)) > 0) {
        rc = copyrows_feed(cr, buf, (size_t)len, err, errlen) < 0 ||
                     chunkwriter_write(ws->cw, buf, (size_t)len, err, errlen) < 0
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
    dtable *t = &ctx->tables[j->table];
    char file[256];
    chunk_file_name(j, t, file, sizeof file);
    if (lock_for_worker(w, t, j->table, err, errlen) < 0)
        return -1;
    char *sql = chunk_copy_sql(t, j);
    if (!sql)
        return pf_err(err, errlen, "out of memory");

    /* hash-only (verify --db): no file, the chain still hashes; otherwise durable all at
     * once before the manifest (store_sync), and a small chunk is a single write */
    unsigned flags = STORE_W_DEFER_SYNC | (j->pc.est_bytes < SMALL_CHUNK_BYTES ? STORE_W_SMALL : 0);
    ws->cw = ws->cws[t->binary];
    if (chunkwriter_open(ws->cw, ctx->o->hash_only ? NULL : ctx->st, file, flags, err, errlen) < 0) {
        free(sql);
        return -1;
    }
    if (chunkwriter_async(ws->cw))
        atomic_store(&ctx->uring_used, 1);
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
        chunkwriter_abort(ws->cw);
        return -1;
    }
    PQclear(r);

    uint64_t bytes = 0;
    if (stream_copy(w, ws, t, cr, &bytes, err, errlen) < 0) {
        abandon_copy(w->conn);
        chunkwriter_abort(ws->cw);
        return -1;
    }
    drain(w->conn);
    chunkwriter_result res;
    if (copyrows_finish(cr, err, errlen) < 0) {
        chunkwriter_abort(ws->cw);
        return -1;
    }
    if (chunkwriter_commit(ws->cw, &res, err, errlen) < 0)
        return -1;

    manifest_chunk *mc = &j->res;
    if (!(mc->file = strdup(file)))
        return pf_err(err, errlen, "out of memory");
    mc->ranged = j->pc.ranged;
    mc->start_page = j->pc.start_page;
    mc->end_page = j->pc.end_page;
    mc->rows = copyrows_rows(cr);
    mc->raw_bytes = res.st.raw_bytes;
    mc->stored_bytes = res.stored_bytes;
    mc->raw_hash = res.st.raw_hash;
    mc->stored_hash = res.stored_hash;
    mc->content = copyrows_hash(cr);
    mc->codec = (int)res.codec;
    if (res.st.raw_bytes != bytes)
        return pf_err(err, errlen, "table %s: encoder saw %llu bytes, COPY sent %llu", t->label,
                      (unsigned long long)res.st.raw_bytes, (unsigned long long)bytes);
    atomic_fetch_add(&ctx->rows, mc->rows);
    atomic_fetch_add(&ctx->stored, mc->stored_bytes);
    atomic_fetch_add(&ctx->est_done, j->pc.est_bytes);
    atomic_fetch_add(&ctx->chunks_done, 1);
    return 0;
}

static void *worker_main(void *arg)
{
    dworker *w = arg;
    dump_ctx *ctx = w->ctx;
    char err[PF_ERRLEN], msg[PF_ERRLEN + 64];
    wstate ws = {0};
    /* zstd over binary COPY: in the column layout (smaller, and cheaper to compress) */
    const compress_ops *comp = compress_by_id((unsigned)ctx->o->codec);
    const compress_ops *cols = comp && !ctx->o->row_layout ? compress_with_columns(comp) : NULL;
    chunk_codec bin = cols ? (chunk_codec)cols->id : ctx->o->codec;
    const manifest *keys = ctx->o->hash_only ? NULL : ctx->m;
    ws.cws[0] = chunkwriter_new_chunks(keys, ctx->o->codec, ctx->o->level, err, sizeof err);
    ws.cws[1] = ws.cws[0] ? chunkwriter_new_chunks(keys, bin, ctx->o->level, err, sizeof err) : NULL;
    ws.rows[0] = copyrows_new(COPYROWS_TEXT);
    ws.rows[1] = copyrows_new(COPYROWS_BINARY);
    w->locked = calloc(ctx->ntables + 1, 1);
    if (!ws.cws[0] || !ws.cws[1] || !ws.rows[0] || !ws.rows[1] || !w->locked) {
        fail(ctx, ws.cws[0] && ws.cws[1] ? "out of memory" : err);
        goto out;
    }
    if (worker_connect(w, err, sizeof err) < 0) {
        snprintf(msg, sizeof msg, "worker %d: %s", w->id, err);
        fail(ctx, msg);
        goto out;
    }
    djob *j;
    while (!atomic_load(&ctx->stop) && (j = next_job(ctx)) != NULL) {
        for (int attempt = 0;; attempt++) {
            if (run_chunk(w, &ws, j, err, sizeof err) == 0)
                break;
            if (atomic_load(&ctx->stop))
                goto out;
            /* A worker whose own connection died (terminated backend, network) reconnects
             * and re-imports the snapshot: that works for as long as the coordinator
             * holds it, and the chunk's rows are the same. Any other error is final. */
            if (PQstatus(w->conn) != CONNECTION_BAD || attempt >= MAX_RECONNECTS) {
                fail(ctx, err);
                goto out;
            }
            char why[PF_ERRLEN];
            snprintf(why, sizeof why, "%s", err);
            worker_disconnect(w);
            if (worker_connect(w, err, sizeof err) < 0) {
                snprintf(msg, sizeof msg,
                         "worker %d lost its connection (%s) and could not rejoin the snapshot: %s",
                         w->id, why, err);
                fail(ctx, msg);
                goto out;
            }
            atomic_fetch_add(&ctx->reconnects, 1);
        }
    }
out:
    worker_disconnect(w);
    free(w->locked);
    w->locked = NULL;
    chunkwriter_free(ws.cws[0]);
    chunkwriter_free(ws.cws[1]);
    copyrows_free(ws.rows[0]);
    copyrows_free(ws.rows[1]);
    return NULL;
}

/* ---- directory ------------------------------------------------------------------------- */

/* The dump's store: a new or empty directory. *existed: it was there (empty). */
static pf_store *open_dump_store(const char *dir, int *existed, char *err, size_t errlen)
{
    store_root_state_t state;
    pf_store *st = store_open(dir, 0, err, errlen);
    if (!st)
        return NULL;
    if (store_root_state(st, &state, err, errlen) < 0) {
        store_close(st);
        return NULL;
    }
    if (state == STORE_ROOT_USED) {
        pf_err(err, errlen, "%s exists and is not empty: dump into a new or empty directory", dir);
        store_close(st);
        return NULL;
    }
    *existed = state == STORE_ROOT_EMPTY;
    return st;
}

static void utc_now(char *out, size_t outlen)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- progress -------------------------------------------------------------------------- */

static void draw_progress(dump_ctx *ctx, double start, int final)
{
    double el = pf_now() - start;
    uint64_t raw = atomic_load(&ctx->raw), stored = atomic_load(&ctx->stored);
    uint64_t est_done = atomic_load(&ctx->est_done);
    char a[32], b[32], rate[32], eta[32] = "--:--";
    if (est_done > 0 && !final) {
        double left = el * (double)(ctx->est_total - est_done) / (double)est_done;
        snprintf(eta, sizeof eta, "%d:%02d", (int)left / 60, (int)left % 60);
    } else if (final)
        snprintf(eta, sizeof eta, "done");
    pf_fmt_bytes(el > 0 ? (uint64_t)((double)raw / el) : 0, rate, sizeof rate);
    if (ctx->o->hash_only) /* verify --db: nothing is stored */
        fprintf(stderr, "\r\033[Kverify: chunks %llu/%zu  rows %llu  read %s  %s/s  ETA %s%s",
                (unsigned long long)atomic_load(&ctx->chunks_done), ctx->njobs,
                (unsigned long long)atomic_load(&ctx->rows), pf_fmt_bytes(raw, a, sizeof a), rate, eta,
                final ? "\n" : "");
    else
        fprintf(stderr, "\r\033[Kdump: chunks %llu/%zu  rows %llu  raw %s  stored %s  %s/s  ETA %s%s",
                (unsigned long long)atomic_load(&ctx->chunks_done), ctx->njobs,
                (unsigned long long)atomic_load(&ctx->rows), pf_fmt_bytes(raw, a, sizeof a),
                pf_fmt_bytes(stored, b, sizeof b), rate, eta, final ? "\n" : "");
    fflush(stderr);
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

/* pg_dump writes the schema archive to a pipe; this thread streams it through the same
 * pipeline as chunks (encryption when asked, hashing, the atomic writer), so the archive
 * is never on disk in the clear. */
typedef struct {
    int fd;
    chunkwriter *cw;      /* the archive's file, open while pg_dump writes */
    /* pg_dump's archive in the clear, in memory: its table of contents is checked against
     * the data tables before the manifest is written (schema archives are small) */
    unsigned char *copy;
    size_t copy_len, copy_cap;
    pthread_t thread;
    int started;
    int rc;
    char err[PF_ERRLEN];
} schema_pipe;

static void *schema_reader(void *arg)
{
    schema_pipe *sp = arg;
    uint8_t *buf = malloc(1 << 20);
    sp->rc = buf ? 0 : pf_err(sp->err, sizeof sp->err, "out of memory");
    while (sp->rc == 0) {
        ssize_t n = read(sp->fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sp->rc = pf_err(sp->err, sizeof sp->err, "read from pg_dump: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (sp->copy_len + (size_t)n > sp->copy_cap) {
            size_t cap = sp->copy_cap ? sp->copy_cap : 1 << 20;
            while (cap < sp->copy_len + (size_t)n)
                cap *= 2;
            unsigned char *c2 = realloc(sp->copy, cap);
            if (!c2) {
                sp->rc = pf_err(sp->err, sizeof sp->err, "out of memory");
                break;
            }
            sp->copy = c2;
            sp->copy_cap = cap;
        }
        memcpy(sp->copy + sp->copy_len, buf, (size_t)n);
        sp->copy_len += (size_t)n;
        sp->rc = chunkwriter_write(sp->cw, buf, (size_t)n, sp->err, sizeof sp->err);
    }
    /* closing our end makes a pg_dump still writing fail rather than block forever */
    close(sp->fd);
    sp->fd = -1;
    free(buf);
    return NULL;
}

/* Waits for the reader and releases the pipeline; the file is dropped unless committed
 * (commit_schema_pipe). */
static int finish_schema_pipe(schema_pipe *sp, int keep, char *err, size_t errlen)
{
    int rc = 0;
    if (sp->started) {
        pthread_join(sp->thread, NULL);
        sp->started = 0;
        if (sp->rc < 0 && keep)
            rc = pf_err(err, errlen, "schema archive: %s", sp->err);
    } else if (sp->fd >= 0) {
        close(sp->fd);
        sp->fd = -1;
    }
    chunkwriter_free(sp->cw);
    sp->cw = NULL;
    free(sp->copy);
    sp->copy = NULL;
    sp->copy_len = sp->copy_cap = 0;
    return rc;
}

static int start_schema_dump(const dump_options *o, pf_store *st, const char *logf, PGconn *coord,
                             const catalog *cat, manifest *m, const char *snapshot, schema_pipe *sp, pid_t *pid,
                             char *err, size_t errlen)
{
    char pg_dump[4096], lockarg[256];
    if (pgtools_find("pg_dump", pgconn_server_major(coord), pg_dump, sizeof pg_dump, err, errlen) < 0)
        return -1;
    char *conn_nopw = NULL, *password = NULL;
    if (pgconn_split_password(o->conninfo, &conn_nopw, &password, err, errlen) < 0)
        return -1;
    size_t maxargs = 32 + cat->npgdump_args;
    char **argv = calloc(maxargs, sizeof(char *));
    if (!argv) {
        free(conn_nopw);
        if (password) {
            explicit_bzero(password, strlen(password));
            free(password);
        }
        return pf_err(err, errlen, "out of memory");
    }
    size_t a = 0;
    char snaparg[128];
    snprintf(snaparg, sizeof snaparg, "--snapshot=%s", snapshot);
    argv[a++] = pg_dump;
    argv[a++] = "--format=custom";
    argv[a++] = "--schema-only";
    argv[a++] = "--no-sync";
    argv[a++] = snaparg;
    if (o->lock_wait_timeout) {
        snprintf(lockarg, sizeof lockarg, "--lock-wait-timeout=%s", o->lock_wait_timeout);
        argv[a++] = lockarg;
    }
    argv[a++] = "--dbname";
    argv[a++] = conn_nopw;
    /* the selection resolved by the catalog, as exact names: the archive holds the
     * definitions of exactly the tables whose rows the dump holds */
    for (size_t i = 0; i < cat->npgdump_args; i++)
        argv[a++] = cat->pgdump_args[i];
    argv[a] = NULL;
    int fds[2] = {-1, -1}, rc = -1;
    if (pipe2(fds, O_CLOEXEC) != 0)
        pf_err(err, errlen, "pipe: %s", strerror(errno));
    else if ((sp->cw = chunkwriter_new_files(m, err, errlen)) != NULL &&
             chunkwriter_open(sp->cw, st, SCHEMA_FILE, STORE_W_DEFER_SYNC, err, errlen) == 0)
        rc = pgtools_spawn(argv, -1, fds[1], logf, password, pid, err, errlen);
    if (fds[1] >= 0)
        close(fds[1]);
    sp->fd = fds[0];
    if (rc == 0) {
        if (pthread_create(&sp->thread, NULL, schema_reader, sp) == 0)
            sp->started = 1;
        else
            rc = pf_err(err, errlen, "cannot start the schema reader thread");
    }
    free(argv);
    free(conn_nopw);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    return rc;
}

/* A small file of the dump written whole (encrypted like every file of an encrypted dump),
 * atomically; its size and xxh3-128 as stored go to the manifest. */
static int write_small_file(pf_store *st, const manifest *m, const char *name, const void *data, size_t len,
                            uint64_t *bytes, chunk_hash *hash, char *err, size_t errlen)
{
    chunkwriter *cw = chunkwriter_new_files(m, err, errlen);
    chunkwriter_result res;
    int rc = cw ? chunkwriter_write_file(cw, st, name, data, len, &res, err, errlen) : -1;
    chunkwriter_free(cw);
    if (rc == 0) {
        *bytes = res.stored_bytes;
        *hash = res.stored_hash;
    }
    return rc;
}

static void cancel_workers(dump_ctx *ctx, int nworkers)
{
    char buf[256];
    pthread_mutex_lock(&ctx->mu);
    for (int i = 0; i < nworkers; i++)
        if (ctx->workers[i].cancel)
            PQcancel(ctx->workers[i].cancel, buf, sizeof buf);
    pthread_mutex_unlock(&ctx->mu);
}

int dump_run(const dump_options *o, dump_summary *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    double start = pf_now();
    char started_at[32];
    utc_now(started_at, sizeof started_at);
    int dir_existed = 0;
    pf_store *st = NULL;
    if (!o->hash_only && !(st = open_dump_store(o->dir, &dir_existed, err, errlen)))
        return -1;

    dump_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = o;
    pthread_mutex_init(&ctx.mu, NULL);
    catalog cat = {0};
    plan_chunk *chunks = NULL;
    size_t nchunks = 0;
    manifest m = {0};
    int rc = -1, created = 0, nworkers = 0;
    pid_t schema_pid = -1;
    schema_pipe sp;
    memset(&sp, 0, sizeof sp);
    archive toc;
    memset(&toc, 0, sizeof toc);
    int have_toc = 0;
    char *globals_text = NULL;
    sp.fd = -1;
    char logf[4096] = "";

    ctx.m = &m;
    uint8_t id[16];
    char idhex[33];
    if (cipher_random(id, sizeof id, err, errlen) < 0) {
        store_close(st);
        return -1;
    }
    pf_hex(id, sizeof id, idhex);
    if (!(m.dump_id = strdup(idhex))) {
        store_close(st);
        return pf_err(err, errlen, "out of memory");
    }
    /* the key exists before any file does: every file of the dump is encrypted */
    if (o->passphrase && !o->hash_only && manifest_init_encryption(&m, o->passphrase, err, errlen) < 0) {
        manifest_free(&m);
        store_close(st);
        return -1;
    }

    PGconn *coord = pgconn_open(o->conninfo, err, errlen);
    if (!coord)
        goto out;
    /* backends' CPU from /proc when the server is on this machine (the SQL way needs
     * idle sessions, and the dump's are in their snapshot) */
    ctx.cpu_mode = trace_cpu_mode(coord) == TRACE_CPU_PROC ? TRACE_CPU_PROC : TRACE_CPU_NONE;
    if (pgconn_exec(coord, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "begin snapshot", err, errlen) < 0)
        goto out;
    PGresult *r = pgconn_query(coord,
                               "SELECT pg_catalog.pg_export_snapshot(),"
                               " CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()"
                               "      ELSE pg_catalog.pg_current_wal_lsn() END,"
                               " pg_catalog.to_char(pg_catalog.now(), 'YYYY-MM-DD\"T\"HH24:MI:SS.USOF'),"
                               " pg_catalog.current_setting('server_version'), pg_catalog.current_database()",
                               0, NULL, "export snapshot", err, errlen);
    if (!r)
        goto out;
    snprintf(ctx.snapshot, sizeof ctx.snapshot, "%s", PQgetvalue(r, 0, 0));
    snprintf(s->snapshot_id, sizeof s->snapshot_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(s->snapshot_lsn, sizeof s->snapshot_lsn, "%s", PQgetvalue(r, 0, 1));
    m.snapshot_id = strdup(PQgetvalue(r, 0, 0));
    m.snapshot_lsn = strdup(PQgetvalue(r, 0, 1));
    m.snapshot_time = strdup(PQgetvalue(r, 0, 2));
    m.server_version = strdup(PQgetvalue(r, 0, 3));
    m.database = strdup(PQgetvalue(r, 0, 4));
    PQclear(r);
    m.server_version_num = PQserverVersion(coord);
    m.host = strdup(PQhost(coord) ? PQhost(coord) : "");
    m.port = strdup(PQport(coord) ? PQport(coord) : "");

    if (o->lock_wait_timeout && set_lock_timeout(coord, o->lock_wait_timeout, err, errlen) < 0)
        goto out;
    /* a profile's tables to leave out join -T; its platform rows are left out by the catalog */
    catalog_filter filter = o->filter;
    const char **exc = NULL;
    if (o->profile) {
        size_t np;
        const char *const *pt = profile_list(o->profile, PROFILE_EXCLUDE_TABLES, &np);
        exc = calloc(filter.n_exclude_tables + np + 1, sizeof *exc);
        if (!exc) {
            pf_err(err, errlen, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < filter.n_exclude_tables; i++)
            exc[i] = filter.exclude_tables[i];
        for (size_t i = 0; i < np; i++)
            exc[filter.n_exclude_tables + i] = pt[i];
        filter.exclude_tables = exc;
        filter.n_exclude_tables += np;
        filter.profile = o->profile;
    }
    int crc = catalog_load(coord, &filter, &cat, err, errlen);
    free(exc);
    if (crc < 0) {
        if (o->lock_wait_timeout && strstr(err, "lock timeout")) {
            char keep[PF_ERRLEN];
            snprintf(keep, sizeof keep, "%s", err);
            pf_err(err, errlen, "could not read the catalog within --lock-wait-timeout %s: another session holds or waits for a conflicting lock (%s)",
                   o->lock_wait_timeout, keep);
        }
        goto out;
    }
    if (lock_tables(coord, &cat, o->lock_wait_timeout, err, errlen) < 0)
        goto out;
    /* --globals: the roles and tablespaces, read in the snapshot as everything else */
    if (o->globals && !o->hash_only && !(globals_text = globals_read(coord, err, errlen)))
        goto out;

    /* Tables to copy, then the chunk plan. */
    ctx.ntables = cat.ntables + (cat.with_large_objects && cat.n_large_objects > 0);
    ctx.tables = calloc(ctx.ntables + 1, sizeof *ctx.tables);
    plan_input *pin = calloc(ctx.ntables + 1, sizeof *pin);
    if (!ctx.tables || !pin) {
        free(pin);
        pf_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cat.ntables; i++) {
        catalog_table *ct = &cat.tables[i];
        dtable *t = &ctx.tables[i];
        t->select_sql = build_select(coord, ct);
        char *q = pgconn_qualified(coord, ct->schema, ct->name);
        if (!q || asprintf(&t->lock_sql, "LOCK TABLE ONLY %s IN ACCESS SHARE MODE NOWAIT", q) < 0)
            t->lock_sql = NULL;
        free(q);
        if (!t->select_sql || !t->lock_sql) {
            free(pin);
            pf_err(err, errlen, "out of memory");
            goto out;
        }
        if (asprintf(&t->label, "%s.%s", ct->schema, ct->name) < 0)
            t->label = NULL;
        t->binary = !o->text_format && ct->binary_ok;
        t->mt.schema = strdup(ct->schema);
        t->mt.name = strdup(ct->name);
        t->mt.parent_schema = ct->parent_schema ? strdup(ct->parent_schema) : NULL;
        t->mt.parent_name = ct->parent_name ? strdup(ct->parent_name) : NULL;
        t->mt.format = strdup(t->binary ? "binary" : "text");
        t->mt.persistence = ct->persistence;
        t->mt.ncols = ct->ncols;
        t->mt.cols = calloc(ct->ncols + 1, sizeof(char *));
        for (size_t k = 0; k < ct->ncols; k++)
            t->mt.cols[k] = strdup(ct->cols[k]);
        pin[i] = (plan_input){ct->main_bytes, ct->toast_bytes, ct->is_heap};
    }
    if (ctx.ntables > cat.ntables) {
        /* Large objects travel as one more "table": one row per object, so they are
         * chunked, hashed, verified and counted by the same code as table rows. */
        dtable *t = &ctx.tables[cat.ntables];
        t->select_sql = strdup("SELECT m.oid, pg_catalog.pg_get_userbyid(m.lomowner)::text, m.lomacl::text,"
                               " pg_catalog.obj_description(m.oid, 'pg_largeobject'),"
                               " pg_catalog.lo_get(m.oid) FROM pg_catalog.pg_largeobject_metadata m");
        t->label = strdup("large objects");
        t->binary = 1;
        t->mt.schema = strdup("pg_catalog");
        t->mt.name = strdup("pg_largeobject");
        t->mt.format = strdup("binary");
        t->mt.persistence = 'p';
        /* comments are part of a large object as pg_dump dumps it (its archive holds them
         * as BLOB entries, which a --schema-only archive does not) */
        const char *cols[] = {"oid", "owner", "acl", "comment", "data"};
        t->mt.ncols = 5;
        t->mt.cols = calloc(6, sizeof(char *));
        for (int k = 0; k < 5; k++)
            t->mt.cols[k] = strdup(cols[k]);
        /* unknown size: plan it as big so it starts first */
        pin[cat.ntables] = (plan_input){UINT64_MAX / 4, 0, 0};
    }
    int tid_range = PQserverVersion(coord) >= 140000;
    int prc = plan_chunks(pin, ctx.ntables, o->chunk_size, tid_range, &chunks, &nchunks);
    free(pin);
    if (prc < 0) {
        pf_err(err, errlen, "out of memory");
        goto out;
    }
    ctx.njobs = nchunks;
    ctx.jobs = calloc(nchunks + 1, sizeof *ctx.jobs);
    for (size_t i = 0; i < nchunks; i++) {
        ctx.jobs[i].table = chunks[i].table;
        ctx.jobs[i].pc = chunks[i];
        if (chunks[i].est_bytes < UINT64_MAX / 8)
            ctx.est_total += chunks[i].est_bytes;
        else
            ctx.jobs[i].pc.est_bytes = 0;
    }

    /* Only now, with the catalog read and the tables locked, create the directory. */
    if (!o->hash_only) {
        /* created (or made private) now: the store's sync then reports every writeback
         * error since, and a failed dump removes only what it made */
        store_close(st);
        if (!(st = store_open(o->dir, STORE_CREATE, err, errlen)))
            goto out;
        created = !dir_existed;
        ctx.st = st;
        if (store_mkprefix(st, DATA_DIR, err, errlen) < 0)
            goto out;
        if (store_local_path(st, DUMPDIR_PG_DUMP_LOG, logf, sizeof logf) < 0) {
            pf_err(err, errlen, "%s: pg_dump needs a local directory for its log", o->dir);
            goto out;
        }

        if (start_schema_dump(o, st, logf, coord, &cat, &m, ctx.snapshot, &sp, &schema_pid, err, errlen) < 0)
            goto out;
    }

    int jobs = o->jobs > 0 ? o->jobs : 1;
    if ((size_t)jobs > nchunks && nchunks > 0)
        jobs = (int)nchunks;
    ctx.workers = calloc((size_t)jobs, sizeof *ctx.workers);
    for (int i = 0; i < jobs; i++) {
        ctx.workers[i].ctx = &ctx;
        ctx.workers[i].id = i + 1;
        if (pthread_create(&ctx.workers[i].thread, NULL, worker_main, &ctx.workers[i]) != 0) {
            fail(&ctx, "cannot start worker thread");
            break;
        }
        ctx.workers[i].started = 1;
        nworkers++;
    }

    /* Main loop: progress, interrupts, the coordinator's health and pg_dump's exit. */
    int schema_done = o->hash_only;
    double last_draw = 0, last_ping = pf_now();
    for (;;) {
        if (o->interrupted && *o->interrupted && !atomic_load(&ctx.stop))
            fail(&ctx, "interrupted");
        if (atomic_load(&ctx.stop))
            cancel_workers(&ctx, nworkers);
        if (!schema_done && schema_pid > 0) {
            char e2[PF_ERRLEN];
            int w = pgtools_wait(schema_pid, 0, "pg_dump --schema-only", logf, e2, sizeof e2);
            if (w <= 0) {
                schema_done = 1;
                schema_pid = -1;
                if (w < 0)
                    fail(&ctx, e2);
            }
        }
        int running = 0;
        if (atomic_load(&ctx.chunks_done) < ctx.njobs && !atomic_load(&ctx.stop))
            running = 1;
        if (!running && (schema_done || atomic_load(&ctx.stop)))
            break;
        double now = pf_now();
        if (now - last_ping > 1.0 && !atomic_load(&ctx.stop)) {
            /* The snapshot lives only as long as this connection and its transaction. */
            char e2[PF_ERRLEN], msg[PF_ERRLEN + 64];
            if (pgconn_exec(coord, "SELECT 1", "coordinator", e2, sizeof e2) < 0) {
                snprintf(msg, sizeof msg, "coordinator connection lost, snapshot %s is gone: %s",
                         ctx.snapshot, e2);
                fail(&ctx, msg);
            }
            last_ping = now;
        }
        if (o->progress && now - last_draw > 0.25) {
            draw_progress(&ctx, start, 0);
            last_draw = now;
        }
        usleep(20000);
    }
    for (int i = 0; i < nworkers; i++)
        pthread_join(ctx.workers[i].thread, NULL);
    if (schema_pid > 0) {
        kill(schema_pid, SIGTERM);
        char e2[PF_ERRLEN];
        pgtools_wait(schema_pid, 1, "pg_dump", NULL, e2, sizeof e2);
        schema_pid = -1;
    }
    if (o->progress)
        draw_progress(&ctx, start, !ctx.failed);
    if (ctx.failed) {
        if (o->progress && ctx.failed)
            fputc('\n', stderr);
        char e2[PF_ERRLEN];
        if (o->interrupted && *o->interrupted)
            pf_err(err, errlen, "interrupted: dump stopped, no manifest written");
        else if (strncmp(ctx.first_err, "coordinator", 11) != 0 &&
                 pgconn_exec(coord, "SELECT 1", "coordinator", e2, sizeof e2) < 0)
            /* A lost coordinator takes the snapshot along, so pg_dump or a rejoining
             * worker may fail first ("invalid snapshot identifier"): name the cause. */
            pf_err(err, errlen, "coordinator connection lost, snapshot %s is gone: %s", ctx.snapshot, e2);
        else
            pf_err(err, errlen, "%s", ctx.first_err);
        goto out;
    }

    if (!o->hash_only) {
        /* Schema archive: everything pg_dump wrote is through the pipeline; commit it. */
        if (sp.started) {
            pthread_join(sp.thread, NULL);
            sp.started = 0;
        }
        if (sp.rc < 0) {
            pf_err(err, errlen, "schema archive: %s", sp.err);
            goto out;
        }
        chunkwriter_result sres;
        if (chunkwriter_commit(sp.cw, &sres, err, errlen) < 0)
            goto out;
        m.schema_hash = sres.stored_hash;
        m.schema_bytes = sres.stored_bytes;
        unsigned char *copy = sp.copy;
        sp.copy = NULL;
        if (archive_from_memory(copy, sp.copy_len, SCHEMA_FILE, &toc, err, errlen) < 0)
            goto out;
        have_toc = 1;
        if (finish_schema_pipe(&sp, 1, err, errlen) < 0)
            goto out;
        store_remove(st, DUMPDIR_PG_DUMP_LOG, NULL, 0);
        /* every chunk and the schema archive on disk, and their names, before the manifest
         * says the dump is complete */
        if (store_sync(st, "", err, errlen) < 0)
            goto out;
    }

    /* Release the snapshot only after every chunk is in. */
    char e3[PF_ERRLEN];
    if (pgconn_exec(coord, "COMMIT", "end snapshot", e3, sizeof e3) < 0) {
        /* the coordinator died after the last chunk, before the next health check */
        pf_err(err, errlen, "coordinator connection lost, snapshot %s is gone: %s", ctx.snapshot, e3);
        goto out;
    }

    /* Assemble the manifest: chunks per table in page order. */
    for (size_t i = 0; i < ctx.njobs; i++)
        ctx.tables[ctx.jobs[i].table].mt.nchunks++;
    for (size_t t = 0; t < ctx.ntables; t++) {
        ctx.tables[t].mt.chunks = calloc(ctx.tables[t].mt.nchunks + 1, sizeof(manifest_chunk));
        ctx.tables[t].mt.nchunks = 0;
    }
    for (size_t i = 0; i < ctx.njobs; i++) {
        djob *j = &ctx.jobs[i];
        manifest_table *mt = &ctx.tables[j->table].mt;
        mt->chunks[j->pc.seq] = j->res;
        j->res.file = NULL; /* moved */
        mt->nchunks++;
        mt->rows += mt->chunks[j->pc.seq].rows;
        mt->raw_bytes += mt->chunks[j->pc.seq].raw_bytes;
        mt->stored_bytes += mt->chunks[j->pc.seq].stored_bytes;
        rowhash_add(&mt->content, &mt->chunks[j->pc.seq].content);
        /* encrypted: hashes of row data are stored keyed, never in the clear */
        manifest_protect_chunk_hash(&m, &mt->chunks[j->pc.seq].raw_hash);
        manifest_protect_rowhash(&m, &mt->chunks[j->pc.seq].content);
    }
    for (size_t t = 0; t < ctx.ntables; t++)
        manifest_protect_rowhash(&m, &ctx.tables[t].mt.content);
    m.format_version = MANIFEST_FORMAT_VERSION;
    m.tool_version = strdup(PGFERRY_VERSION);
    m.started_at = strdup(started_at);
    char fin[32];
    utc_now(fin, sizeof fin);
    m.finished_at = strdup(fin);
    m.compression = strdup(chunk_codec_name(o->codec));
    const compress_ops *comp = compress_by_id((unsigned)o->codec);
    m.compression_level = comp && comp->has_levels ? o->level : 0;
    m.format = strdup(o->text_format ? "text" : "binary");
    m.tag = o->tag ? strdup(o->tag) : NULL;
    m.profile = o->profile ? strdup(profile_name(o->profile)) : NULL;
    m.keep_forever = o->keep_forever;
    m.chunk_size = o->chunk_size;
    m.jobs = jobs;
    m.schema_file = strdup(SCHEMA_FILE);
    m.ntables = cat.ntables;
    m.tables = calloc(cat.ntables + 1, sizeof *m.tables);
    for (size_t t = 0; t < cat.ntables; t++) {
        m.tables[t] = ctx.tables[t].mt;
        memset(&ctx.tables[t].mt, 0, sizeof ctx.tables[t].mt);
    }
    if (ctx.ntables > cat.ntables) {
        m.has_large_objects = 1;
        m.large_objects = ctx.tables[cat.ntables].mt;
        memset(&ctx.tables[cat.ntables].mt, 0, sizeof(manifest_table));
    }
    m.nseqs = cat.nseqs;
    m.seqs = calloc(cat.nseqs + 1, sizeof *m.seqs);
    for (size_t i = 0; i < cat.nseqs; i++) {
        m.seqs[i].schema = strdup(cat.seqs[i].schema);
        m.seqs[i].name = strdup(cat.seqs[i].name);
        m.seqs[i].last_value = cat.seqs[i].last_value;
        m.seqs[i].is_called = cat.seqs[i].is_called;
    }
    m.nodata_recorded = 1;
    m.nnodata = cat.nnodata;
    m.nodata = calloc(cat.nnodata + 1, sizeof *m.nodata);
    for (size_t i = 0; m.nodata && i < cat.nnodata; i++) {
        m.nodata[i].schema = strdup(cat.nodata[i].schema);
        m.nodata[i].name = strdup(cat.nodata[i].name);
        m.nodata[i].reason = strdup(cat.nodata[i].reason);
    }
    m.nunpopulated = cat.nunpopulated;
    m.unpopulated = calloc(cat.nunpopulated + 1, sizeof *m.unpopulated);
    for (size_t i = 0; m.unpopulated && i < cat.nunpopulated; i++) {
        m.unpopulated[i].schema = strdup(cat.unpopulated[i].schema);
        m.unpopulated[i].name = strdup(cat.unpopulated[i].name);
    }
    m.nextensions = cat.nextensions;
    m.extensions = calloc(cat.nextensions + 1, sizeof *m.extensions);
    for (size_t i = 0; m.extensions && i < cat.nextensions; i++) {
        m.extensions[i].name = strdup(cat.extensions[i].name);
        m.extensions[i].reason = cat.extensions[i].reason ? strdup(cat.extensions[i].reason) : NULL;
    }
    if (!m.nodata || !m.unpopulated || !m.extensions) {
        pf_err(err, errlen, "out of memory");
        goto out;
    }
    if (have_toc) {
        /* The archive must define exactly the tables whose rows are here: a dump that
         * would not restore is not made to look complete. */
        dumpcheck_first first = {0};
        if (dumpcheck_tables(&m, &toc, dumpcheck_keep_first, &first) > 0) {
            pf_err(err, errlen, "the schema archive does not match the data (%llu problem%s): %s",
                   (unsigned long long)first.count, first.count == 1 ? "" : "s", first.first);
            goto out;
        }
    }
    if (globals_text && write_small_file(st, &m, DUMPDIR_GLOBALS_FILE, globals_text, strlen(globals_text),
                                         &m.globals_bytes, &m.globals_hash, err, errlen) < 0)
        goto out;
    if (globals_text && !(m.globals_file = strdup(DUMPDIR_GLOBALS_FILE))) {
        pf_err(err, errlen, "out of memory");
        goto out;
    }
    if (!o->hash_only && manifest_write(&m, st, err, errlen) < 0)
        goto out;

    s->tables = cat.ntables;
    s->chunks = ctx.njobs;
    /* table rows; large objects are counted on their own (as list and verify count them) */
    for (size_t t = 0; t < m.ntables; t++)
        s->rows += m.tables[t].rows;
    s->raw_bytes = atomic_load(&ctx.raw);
    s->stored_bytes = atomic_load(&ctx.stored);
    s->sequences = cat.nseqs;
    s->large_objects = m.has_large_objects ? m.large_objects.rows : 0;
    s->reconnects = atomic_load(&ctx.reconnects);
    s->used_uring = atomic_load(&ctx.uring_used);
    s->server_cpu_seconds = -1;
    if (ctx.cpu_mode != TRACE_CPU_NONE && !ctx.server_cpu_missed) {
        trace_cpu tc = {0};
        double c = trace_backend_cpu(&tc, coord, ctx.cpu_mode);
        trace_cpu_close(&tc);
        if (c >= 0)
            s->server_cpu_seconds = ctx.server_cpu + c;
    }
    rc = 0;
out:
    if (schema_pid > 0) {
        kill(schema_pid, SIGTERM);
        char e2[PF_ERRLEN];
        pgtools_wait(schema_pid, 1, "pg_dump", NULL, e2, sizeof e2);
    }
    finish_schema_pipe(&sp, 0, NULL, 0);
    if (have_toc)
        archive_free(&toc);
    free(globals_text);
    if (rc < 0 && st && (created || dir_existed)) {
        dumpdir_remove_partial(st);
        if (created)
            store_remove(st, "", NULL, 0); /* the directory itself, when empty */
    }
    store_close(st);
    if (coord)
        PQfinish(coord);
    if (rc == 0 && o->out_manifest) {
        *o->out_manifest = m; /* the caller owns it now */
        memset(&m, 0, sizeof m);
    }
    manifest_free(&m);
    for (size_t t = 0; t < ctx.ntables; t++) {
        free(ctx.tables[t].select_sql);
        free(ctx.tables[t].lock_sql);
        free(ctx.tables[t].label);
        manifest_table *mt = &ctx.tables[t].mt;
        free(mt->schema);
        free(mt->name);
        free(mt->parent_schema);
        free(mt->parent_name);
        free(mt->format);
        for (size_t k = 0; k < mt->ncols; k++)
            free(mt->cols[k]);
        free(mt->cols);
        free(mt->chunks);
    }
    for (size_t i = 0; i < ctx.njobs; i++)
        free(ctx.jobs[i].res.file);
    free(ctx.tables);
    free(ctx.jobs);
    free(ctx.workers);
    free(chunks);
    catalog_free(&cat);
    pthread_mutex_destroy(&ctx.mu);
    s->seconds = pf_now() - start;
    return rc;
}
