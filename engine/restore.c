#include "engine/restore.h"

#include "codec/chunk.h"
#include "common/pf_util.h"
#include "engine/archive.h"
#include "engine/catalog.h"
#include "engine/chunkfile.h"
#include "engine/dumpdir.h"
#include "engine/manifest.h"
#include "engine/pgconn.h"
#include "engine/pgtools.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_SCHEMA "_pgferry"
#define FREEZE_MIN_BYTES (2u << 20)

/* ---- model ------------------------------------------------------------------------------ */

typedef struct {
    manifest_table *mt;
    char *dst_schema, *dst_name; /* where the rows go (differs from mt when renamed) */
    char *qname;                 /* quoted dst */
    char *label;                 /* schema.name of the dump, for messages */
    int selected, renamed;
    long toc;                    /* its TABLE entry, -1 if none */
    size_t chunks_left;          /* under mu */
    int data_done;               /* under mu */
    int busy, busy_shared;       /* running entry jobs touching it (lock avoidance) */
    size_t *listeners;           /* entry jobs waiting for its data */
    size_t nlisteners, caplisteners;
} rtable;

typedef struct {
    long entry;                  /* archive entry index, -1 for ANALYZE of table `analyze` */
    size_t analyze;
    int phase;                   /* PH_* */
    int state;                   /* 0 waiting, 1 ready, 2 running, 3 done */
    int waiting;                 /* unmet prerequisites */
    int shared;                  /* only takes a SHARE lock (CREATE INDEX): may run beside others */
    size_t *tables;              /* rtables it locks */
    size_t ntables;
    size_t *dependents;          /* entry jobs that wait for this one */
    size_t ndependents, capdependents;
} rentry;

typedef struct {
    size_t table, chunk;
    int done;
} rchunk;

enum { PH_SKIP = 0, PH_PRE, PH_POST, PH_ACL, PH_POSTACL };

typedef struct restore_ctx restore_ctx;

typedef struct {
    restore_ctx *ctx;
    int id;
    pthread_t thread;
    PGconn *conn;
    PGcancel *cancel;
} rworker;

struct restore_ctx {
    const restore_options *o;
    manifest m;
    archive a;
    rtable *tables;
    size_t ntables;
    long *entry_table;           /* archive entry -> rtable index for TABLE entries, else -1 */
    int *entry_phase;
    unsigned char *wanted;
    rentry *jobs;                /* post-data entry jobs */
    size_t njobs;
    long *entry_job;             /* archive entry -> job index or -1 */
    rchunk *chunks;
    size_t nchunks, next_chunk;
    size_t jobs_left;            /* entry jobs + chunks not done */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int failed;
    atomic_int stop;
    char first_err[PF_ERRLEN];
    char **done_items;           /* sorted journal items already committed (resume) */
    char **seq_dst;              /* archive entry -> where a SEQUENCE of a renamed table goes */
    size_t ndone;
    atomic_uint_fast64_t rows, raw, chunks_done, entries_done;
    uint64_t total_raw;
    rworker *workers;
    int nworkers;
    double data_end;             /* when the last chunk committed (under mu) */
    size_t *ready;               /* see make_ready (under mu) */
    size_t nready, ready_head;
};

static void fail(restore_ctx *ctx, const char *msg)
{
    pthread_mutex_lock(&ctx->mu);
    if (!ctx->failed) {
        ctx->failed = 1;
        snprintf(ctx->first_err, sizeof ctx->first_err, "%s", msg);
    }
    pthread_cond_broadcast(&ctx->cv);
    pthread_mutex_unlock(&ctx->mu);
    atomic_store(&ctx->stop, 1);
}

static int push_idx(size_t **arr, size_t *n, size_t *cap, size_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 4;
        size_t *a = realloc(*arr, c * sizeof(size_t));
        if (!a)
            return -1;
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

/* ---- names ------------------------------------------------------------------------------ */

/* Splits "schema.name" with SQL identifier rules: unquoted parts fold to lower case,
 * quoted parts keep case and may contain dots. *schema is NULL when not qualified. */
static int parse_qualified(const char *s, char **schema, char **name)
{
    char *parts[2] = {NULL, NULL};
    int np = 0;
    const char *p = s;
    while (np < 2) {
        size_t cap = strlen(p) + 1, n = 0;
        char *out = malloc(cap);
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) {
                    free(out);
                    goto bad;
                }
                if (*p == '"') {
                    if (p[1] == '"') {
                        out[n++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                out[n++] = *p++;
            }
        } else {
            while (*p && *p != '.')
                out[n++] = (char)tolower((unsigned char)*p++);
        }
        out[n] = '\0';
        if (n == 0) {
            free(out);
            goto bad;
        }
        parts[np++] = out;
        if (*p == '.') {
            p++;
            continue;
        }
        break;
    }
    if (*p)
        goto bad;
    if (np == 2) {
        *schema = parts[0];
        *name = parts[1];
    } else {
        *schema = NULL;
        *name = parts[0];
    }
    return 0;
bad:
    free(parts[0]);
    free(parts[1]);
    return -1;
}

static int regex_match(const char *re, const char *s)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int m = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return m;
}

/* ---- SQL rewriting for renamed tables ------------------------------------------------ */

typedef struct {
    char *from, *to;
} rep;

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* Replaces whole-token occurrences of each from with to. A token boundary is a character
 * that cannot continue an identifier (a quoted name carries its own quotes). */
static char *rewrite(const char *sql, const rep *reps, size_t n)
{
    size_t cap = strlen(sql) * 2 + 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = sql; *p;) {
        int done = 0;
        int at_boundary = p == sql || (!ident_char(p[-1]) && p[-1] != '.' && p[-1] != '"');
        if (at_boundary) {
            for (size_t i = 0; i < n; i++) {
                size_t fl = strlen(reps[i].from);
                if (strncmp(p, reps[i].from, fl) != 0)
                    continue;
                char next = p[fl];
                if (ident_char(next) || (reps[i].from[fl - 1] != '"' && next == '"'))
                    continue;
                size_t tl = strlen(reps[i].to);
                if (len + tl + 1 > cap) {
                    cap = 2 * (len + tl + 1);
                    out = realloc(out, cap);
                }
                memcpy(out + len, reps[i].to, tl);
                len += tl;
                p += fl;
                done = 1;
                break;
            }
        }
        if (!done) {
            if (len + 2 > cap) {
                cap *= 2;
                out = realloc(out, cap);
            }
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

/* ---- journal ---------------------------------------------------------------------------- */

static int journal_has(restore_ctx *ctx, const char *item)
{
    size_t lo = 0, hi = ctx->ndone;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ctx->done_items[mid], item);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int journal_add(PGconn *c, restore_ctx *ctx, const char *item, char *err, size_t errlen)
{
    const char *p[2] = {item, ctx->m.checksum};
    PGresult *r = PQexecParams(c, "INSERT INTO " JOURNAL_SCHEMA ".journal (item, dump) VALUES ($1, $2)",
                               2, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    char line[PF_ERRLEN];
    if (!ok)
        pf_err(err, errlen, "journal: %s", pgconn_result_errline(r, line, sizeof line));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Runs sql in a transaction that also records item in the journal. */
static int run_with_journal(PGconn *c, restore_ctx *ctx, const char *sql, const char *item,
                            const char *what, char *err, size_t errlen)
{
    if (pgconn_exec(c, "BEGIN", what, err, errlen) < 0)
        return -1;
    if (pgconn_exec(c, sql, what, err, errlen) < 0 || journal_add(c, ctx, item, err, errlen) < 0 ||
        pgconn_exec(c, "COMMIT", what, err, errlen) < 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    return 0;
}

static int cmp_rtable_name(const void *a, const void *b)
{
    const rtable *x = *(const rtable *const *)a, *y = *(const rtable *const *)b;
    int s = strcmp(x->mt->schema, y->mt->schema);
    return s ? s : strcmp(x->mt->name, y->mt->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- connections ------------------------------------------------------------------------ */

static PGconn *open_target(restore_ctx *ctx, char *err, size_t errlen)
{
    PGconn *c = pgconn_open(ctx->o->conninfo, err, errlen);
    if (!c)
        return NULL;
    /* pg_restore's own session settings (check_function_bodies = off, ...), then what a
     * bulk load wants: a journal row commits with its chunk, so a crash cannot split
     * them, and asynchronous commit loses nothing --resume would not redo. */
    if (pgconn_exec(c, ctx->a.header_sql ? ctx->a.header_sql : "", "session settings", err, errlen) < 0 ||
        pgconn_exec(c, "SET synchronous_commit = off; SET maintenance_work_mem = '512MB'",
                    "session settings", err, errlen) < 0) {
        PQfinish(c);
        return NULL;
    }
    /* --data-only loads every table's chunks at once into tables whose foreign keys and
     * triggers already exist, so a referencing row may come before the row it references:
     * as pg_restore --disable-triggers, skip triggers and FK checks (superuser only; a
     * full restore adds them after the data anyway) */
    const char *su = PQparameterStatus(c, "is_superuser");
    if (ctx->o->data_only && su && strcmp(su, "on") == 0 &&
        pgconn_exec(c, "SET session_replication_role = replica", "session settings", err, errlen) < 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* ---- chunk loading ---------------------------------------------------------------------- */

static int copy_sink(void *conn, const void *buf, size_t len, char *err, size_t errlen)
{
    if (PQputCopyData(conn, buf, (int)len) != 1) {
        char line[PF_ERRLEN];
        return pf_err(err, errlen, "%s", pgconn_errline(conn, line, sizeof line));
    }
    return 0;
}

static int ctx_stopped(void *ctx)
{
    return atomic_load(&((restore_ctx *)ctx)->stop);
}

/* COPY qname (cols) FROM STDIN (...). A table without columns (CREATE TABLE t (), or every
 * column dropped) still has rows: its COPY names no column list at all, as pg_dump's. */
static char *copy_in_sql(PGconn *conn, const char *qname, const manifest_table *mt, int binary, int freeze)
{
    size_t sl = 96 + strlen(qname);
    for (size_t i = 0; i < mt->ncols; i++)
        sl += 2 * strlen(mt->cols[i]) + 4;
    char *sql = malloc(sl);
    if (!sql)
        return NULL;
    size_t n = (size_t)sprintf(sql, "COPY %s%s", qname, mt->ncols ? " (" : "");
    for (size_t i = 0; i < mt->ncols; i++) {
        char *q = pgconn_quote_ident(conn, mt->cols[i]);
        if (!q) {
            free(sql);
            return NULL;
        }
        n += (size_t)sprintf(sql + n, "%s%s", i ? ", " : "", q);
        free(q);
    }
    sprintf(sql + n, "%s FROM STDIN (FORMAT %s%s)", mt->ncols ? ")" : "", binary ? "binary" : "text",
            freeze ? ", FREEZE" : "");
    return sql;
}

/* Streams one chunk into an open COPY ... FROM STDIN on conn, checking it as it goes and
 * against the manifest before the COPY is allowed to end. On any mismatch the COPY is
 * aborted, so nothing of the chunk can commit. The caller owns the transaction. */
static int copy_chunk_in(restore_ctx *ctx, PGconn *conn, chunkfile_reader *b, const manifest_table *mt,
                         const char *qname, const char *label, size_t ci, int freeze, char *err,
                         size_t errlen)
{
    const manifest_chunk *mc = &mt->chunks[ci];
    char path[4096], why[PF_ERRLEN], what[512];
    snprintf(path, sizeof path, "%s/%s", ctx->o->dir, mc->file);
    snprintf(what, sizeof what, "chunk %s (%s chunk %zu)", mc->file, label, ci);
    int binary = strcmp(mt->format, "text") != 0;

    char *sql = copy_in_sql(conn, qname, mt, binary, freeze);
    if (!sql)
        return pf_err(err, errlen, "out of memory");
    PGresult *res = PQexec(conn, sql);
    free(sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        char line[PF_ERRLEN];
        pf_err(err, errlen, "table %s: %s", label, pgconn_result_errline(res, line, sizeof line));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    /* the chunk streams into the COPY; it must check out against the manifest before the
     * COPY is allowed to end, or the COPY is aborted and nothing of it can commit */
    chunkfile_result cr;
    int frc = chunkfile_read(b, path, mc->file, mt->format, copy_sink, conn, ctx_stopped, ctx, &cr, why,
                             sizeof why);
    if (frc == 0)
        frc = chunkfile_check(&ctx->m, mc, &cr, why, sizeof why);
    if (frc < 0) {
        PQputCopyEnd(conn, "pgferry: chunk failed verification");
        while ((res = PQgetResult(conn)))
            PQclear(res);
        return pf_err(err, errlen, "%s: %s", what, why);
    }
    if (PQputCopyEnd(conn, NULL) != 1) {
        char line[PF_ERRLEN];
        return pf_err(err, errlen, "table %s: %s", label, pgconn_errline(conn, line, sizeof line));
    }
    res = PQgetResult(conn);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        char line[PF_ERRLEN];
        pf_err(err, errlen, "table %s: %s", label, pgconn_result_errline(res, line, sizeof line));
    }
    PQclear(res);
    while ((res = PQgetResult(conn)))
        PQclear(res);
    return ok ? 0 : -1;
}

/* One chunk, one transaction, one journal row. */
static int load_chunk(rworker *w, chunkfile_reader *b, rtable *t, size_t ci, int freeze, char *err, size_t errlen)
{
    restore_ctx *ctx = w->ctx;
    manifest_chunk *mc = &t->mt->chunks[ci];
    char what[512];
    snprintf(what, sizeof what, "chunk %s (%s chunk %zu)", mc->file, t->label, ci);
    if (pgconn_exec(w->conn, "BEGIN", what, err, errlen) < 0)
        return -1;
    if (freeze) {
        /* FREEZE needs the table created or truncated in this transaction: rows are
         * written frozen, and a crash before COMMIT leaves the table as it was. */
        char *tr = NULL;
        int bad = asprintf(&tr, "TRUNCATE ONLY %s", t->qname) < 0 ||
                  pgconn_exec(w->conn, tr, what, err, errlen) < 0;
        free(tr);
        if (bad)
            goto rollback;
    }
    if (copy_chunk_in(ctx, w->conn, b, t->mt, t->qname, t->label, ci, freeze, err, errlen) < 0)
        goto rollback;
    char item[4200];
    snprintf(item, sizeof item, "chunk:%s", mc->file);
    if (journal_add(w->conn, ctx, item, err, errlen) < 0 ||
        pgconn_exec(w->conn, "COMMIT", what, err, errlen) < 0)
        goto rollback;
    atomic_fetch_add(&ctx->rows, mc->rows);
    atomic_fetch_add(&ctx->raw, mc->raw_bytes);
    return 0;
rollback:
    if (PQstatus(w->conn) == CONNECTION_OK)
        PQclear(PQexec(w->conn, "ROLLBACK"));
    return -1;
}

/* ---- scheduler -------------------------------------------------------------------------- */

/* Jobs whose prerequisites are all met, in the order they became ready; picking scans
 * from the first one still ready. Under mu. */
static void make_ready(restore_ctx *ctx, size_t ji)
{
    ctx->jobs[ji].state = 1;
    ctx->ready[ctx->nready++] = ji;
}

/* Marks a table's data complete and releases entries that waited for it. Under mu. */
static void table_data_done(restore_ctx *ctx, size_t ti)
{
    rtable *t = &ctx->tables[ti];
    if (t->data_done)
        return;
    t->data_done = 1;
    for (size_t i = 0; i < t->nlisteners; i++) {
        rentry *j = &ctx->jobs[t->listeners[i]];
        if (--j->waiting == 0 && j->state == 0)
            make_ready(ctx, t->listeners[i]);
    }
}

static void entry_done(restore_ctx *ctx, size_t ji)
{
    rentry *j = &ctx->jobs[ji];
    j->state = 3;
    for (size_t i = 0; i < j->ndependents; i++) {
        rentry *d = &ctx->jobs[j->dependents[i]];
        if (--d->waiting == 0 && d->state == 0)
            make_ready(ctx, j->dependents[i]);
    }
}

/* Entry jobs that take strong locks never run beside another job on the same table:
 * two FOREIGN KEY additions locking two tables in opposite orders would deadlock. */
static int lock_free(restore_ctx *ctx, const rentry *j)
{
    for (size_t i = 0; i < j->ntables; i++) {
        const rtable *t = &ctx->tables[j->tables[i]];
        if (j->shared ? t->busy > t->busy_shared : t->busy > 0)
            return 0;
    }
    return 1;
}

static void set_busy(restore_ctx *ctx, const rentry *j, int delta)
{
    for (size_t i = 0; i < j->ntables; i++) {
        rtable *t = &ctx->tables[j->tables[i]];
        t->busy += delta;
        if (j->shared)
            t->busy_shared += delta;
    }
}

typedef struct {
    int kind; /* 0 none, 1 entry, 2 chunk */
    size_t idx;
} pick;

/* Under mu: ready entries first (they unblock constraints and let index builds overlap
 * other tables' loads), then the largest chunk left. */
static pick next_work(restore_ctx *ctx)
{
    while (ctx->ready_head < ctx->nready && ctx->jobs[ctx->ready[ctx->ready_head]].state != 1)
        ctx->ready_head++;
    for (size_t k = ctx->ready_head; k < ctx->nready; k++) {
        rentry *j = &ctx->jobs[ctx->ready[k]];
        if (j->state == 1 && lock_free(ctx, j))
            return (pick){1, ctx->ready[k]};
    }
    while (ctx->next_chunk < ctx->nchunks && ctx->chunks[ctx->next_chunk].done)
        ctx->next_chunk++;
    if (ctx->next_chunk < ctx->nchunks)
        return (pick){2, ctx->next_chunk++};
    return (pick){0, 0};
}

static void *worker_main(void *arg)
{
    rworker *w = arg;
    restore_ctx *ctx = w->ctx;
    char err[PF_ERRLEN];
    chunkfile_reader *b = chunkfile_reader_new(&ctx->m, err, sizeof err);
    if (!b) {
        fail(ctx, err);
        goto out;
    }
    PGconn *c = open_target(ctx, err, sizeof err);
    if (!c) {
        fail(ctx, err);
        goto out;
    }
    pthread_mutex_lock(&ctx->mu);
    w->conn = c;
    w->cancel = PQgetCancel(c);
    pthread_mutex_unlock(&ctx->mu);

    pthread_mutex_lock(&ctx->mu);
    for (;;) {
        if (ctx->failed || atomic_load(&ctx->stop) || ctx->jobs_left == 0)
            break;
        pick p = next_work(ctx);
        if (p.kind == 0) {
            pthread_cond_wait(&ctx->cv, &ctx->mu);
            continue;
        }
        if (p.kind == 1) {
            rentry *j = &ctx->jobs[p.idx];
            j->state = 2;
            set_busy(ctx, j, 1);
            pthread_mutex_unlock(&ctx->mu);
            char item[600], what[600], *sql = NULL;
            if (j->entry < 0) {
                rtable *t = &ctx->tables[j->analyze];
                snprintf(item, sizeof item, "analyze:%s", t->qname);
                snprintf(what, sizeof what, "ANALYZE %s", t->qname);
                sql = strdup(what);
            } else {
                archive_entry *e = &ctx->a.entries[j->entry];
                snprintf(item, sizeof item, "entry:%d", e->id);
                snprintf(what, sizeof what, "%s %s%s%s", e->desc, e->namespace ? e->namespace : "",
                         e->namespace ? "." : "", e->tag);
            }
            int rc = run_with_journal(w->conn, ctx, sql ? sql : ctx->a.entries[j->entry].sql, item, what,
                                      err, sizeof err);
            free(sql);
            pthread_mutex_lock(&ctx->mu);
            set_busy(ctx, j, -1);
            if (rc < 0) {
                pthread_mutex_unlock(&ctx->mu);
                fail(ctx, err);
                pthread_mutex_lock(&ctx->mu);
                break;
            }
            entry_done(ctx, p.idx);
            atomic_fetch_add(&ctx->entries_done, 1);
        } else {
            rchunk *ch = &ctx->chunks[p.idx];
            rtable *t = &ctx->tables[ch->table];
            /* one chunk, not yet loaded: load it in the transaction that truncates the
             * table, with FREEZE (not for --data-only: the table is the user's). Not for
             * small ones: TRUNCATE makes a new file and its commit scans all of
             * shared_buffers for the old one, and below wal_skip_threshold (2MB) the
             * server writes the table to WAL at commit anyway, so it saves nothing and
             * costs about a millisecond of server time per table. */
            int freeze = t->mt->nchunks == 1 && !ctx->o->data_only &&
                         t->mt->chunks[ch->chunk].raw_bytes >= FREEZE_MIN_BYTES;
            pthread_mutex_unlock(&ctx->mu);
            int rc = load_chunk(w, b, t, ch->chunk, freeze, err, sizeof err);
            pthread_mutex_lock(&ctx->mu);
            if (rc < 0) {
                pthread_mutex_unlock(&ctx->mu);
                fail(ctx, err);
                pthread_mutex_lock(&ctx->mu);
                break;
            }
            ch->done = 1;
            if (atomic_fetch_add(&ctx->chunks_done, 1) + 1 == ctx->nchunks)
                ctx->data_end = pf_now();
            if (--t->chunks_left == 0)
                table_data_done(ctx, ch->table);
        }
        ctx->jobs_left--;
        pthread_cond_broadcast(&ctx->cv);
    }
    pthread_cond_broadcast(&ctx->cv);
    pthread_mutex_unlock(&ctx->mu);
out:
    pthread_mutex_lock(&ctx->mu);
    PGcancel *k = w->cancel;
    PGconn *conn = w->conn;
    w->cancel = NULL;
    w->conn = NULL;
    pthread_mutex_unlock(&ctx->mu);
    if (k)
        PQfreeCancel(k);
    if (conn)
        PQfinish(conn);
    chunkfile_reader_free(b);
    return NULL;
}

/* ---- checks ----------------------------------------------------------------------------- */

static int check_files(restore_ctx *ctx, char *err, size_t errlen)
{
    /* Every chunk the restore will read must be there with its recorded size, and nothing
     * else may sit among them: a stray or missing file means the directory is not the
     * dump the manifest describes. Content is checked as each chunk loads. */
    char path[4096];
    size_t expected = 0;
    for (size_t t = 0; t < ctx->m.ntables + (ctx->m.has_large_objects ? 1 : 0); t++) {
        manifest_table *mt = t < ctx->m.ntables ? &ctx->m.tables[t] : &ctx->m.large_objects;
        for (size_t c = 0; c < mt->nchunks; c++) {
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s", ctx->o->dir, mt->chunks[c].file);
            if (stat(path, &sb) != 0)
                return pf_err(err, errlen, "chunk %s (%s.%s chunk %zu) is missing", mt->chunks[c].file,
                              mt->schema, mt->name, c);
            if ((uint64_t)sb.st_size != mt->chunks[c].stored_bytes)
                return pf_err(err, errlen, "chunk %s (%s.%s chunk %zu) is %lld bytes, the manifest says %llu",
                              mt->chunks[c].file, mt->schema, mt->name, c, (long long)sb.st_size,
                              (unsigned long long)mt->chunks[c].stored_bytes);
            expected++;
        }
    }
    snprintf(path, sizeof path, "%s/data", ctx->o->dir);
    DIR *d = opendir(path);
    if (!d)
        return expected ? pf_err(err, errlen, "%s: %s", path, strerror(errno)) : 0;
    struct dirent *de;
    size_t found = 0;
    char extra[256] = "";
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        found++;
        if (!*extra)
            snprintf(extra, sizeof extra, "%s", de->d_name);
    }
    closedir(d);
    if (found != expected) {
        /* name one file that is not in the manifest */
        d = opendir(path);
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            int known = 0;
            char rel[300];
            snprintf(rel, sizeof rel, "data/%s", de->d_name);
            for (size_t t = 0; t < ctx->m.ntables + (ctx->m.has_large_objects ? 1 : 0) && !known; t++) {
                manifest_table *mt = t < ctx->m.ntables ? &ctx->m.tables[t] : &ctx->m.large_objects;
                for (size_t c = 0; c < mt->nchunks && !known; c++)
                    known = strcmp(mt->chunks[c].file, rel) == 0;
            }
            if (!known) {
                snprintf(extra, sizeof extra, "%s", de->d_name);
                break;
            }
        }
        if (d)
            closedir(d);
        return pf_err(err, errlen, "unexpected file data/%s in the dump: it is not in the manifest", extra);
    }
    return 0;
}

static int check_schema_file(restore_ctx *ctx, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ctx->o->dir, ctx->m.schema_file);
    chunk_hash h;
    uint64_t size = 0;
    if (dumpdir_hash_file(path, &h, &size, err, errlen) < 0)
        return -1;
    if (size != ctx->m.schema_bytes || !chunk_hash_equal(&h, &ctx->m.schema_hash))
        return pf_err(err, errlen, "%s does not match the manifest (damaged or replaced)", ctx->m.schema_file);
    return 0;
}

/* ---- selection -------------------------------------------------------------------------- */

/* Kinds of entries that belong to one table and travel with it in a -t restore. */
static int own_kind(const char *desc, int renamed)
{
    static const char *const always[] = {"DEFAULT", "CONSTRAINT", "CHECK CONSTRAINT", "INDEX",
                                         "COMMENT", "ACL", "SECURITY LABEL", "STATISTICS", "SEQUENCE",
                                         NULL};
    /* Left out of a renamed copy: they would tie the copy to live objects (attach it to
     * the live partitioned table, take over the live sequence) or act on other tables. */
    static const char *const unless_renamed[] = {"FK CONSTRAINT", "TRIGGER", "RULE", "POLICY",
                                                 "ROW SECURITY", "SEQUENCE OWNED BY", "TABLE ATTACH",
                                                 "INDEX ATTACH", "PUBLICATION TABLE", NULL};
    for (int i = 0; always[i]; i++)
        if (strcmp(desc, always[i]) == 0)
            return 1;
    for (int i = 0; unless_renamed[i]; i++)
        if (strcmp(desc, unless_renamed[i]) == 0)
            return !renamed;
    return 0;
}

static int entry_is(const archive_entry *e, const char *desc) { return strcmp(e->desc, desc) == 0; }

/* Tables (rtable indexes) an entry depends on directly. */
static size_t entry_tables(restore_ctx *ctx, const archive_entry *e, size_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t d = 0; d < e->ndeps; d++) {
        long k = archive_find(&ctx->a, e->deps[d]);
        if (k >= 0 && ctx->entry_table[k] >= 0 && n < cap)
            out[n++] = (size_t)ctx->entry_table[k];
    }
    return n;
}

static int select_entries(restore_ctx *ctx, int filtered, char **schema_sel, size_t nschema_sel)
{
    archive *a = &ctx->a;
    for (size_t i = 0; i < a->n; i++) {
        archive_entry *e = &a->entries[i];
        if (entry_is(e, "ENCODING") || entry_is(e, "STDSTRINGS") || entry_is(e, "SEARCHPATH") ||
            entry_is(e, "DATABASE") || entry_is(e, "DATABASE PROPERTIES"))
            continue;
        if (!filtered) {
            ctx->wanted[i] = 1;
            continue;
        }
        if (ctx->entry_table[i] >= 0 && ctx->tables[ctx->entry_table[i]].selected)
            ctx->wanted[i] = 1;
        for (size_t s = 0; s < nschema_sel; s++)
            if ((e->namespace && strcmp(e->namespace, schema_sel[s]) == 0) ||
                (entry_is(e, "SCHEMA") && strcmp(e->tag, schema_sel[s]) == 0))
                ctx->wanted[i] = 1;
        /* a table of a selected schema that was not itself selected (-n with -T-like
         * narrowing does not exist, but keep TABLE entries consistent with the data) */
        if (ctx->wanted[i] && ctx->entry_table[i] >= 0 && !ctx->tables[ctx->entry_table[i]].selected)
            ctx->wanted[i] = 0;
    }
    if (!filtered)
        return 0;
    /* Pull in what belongs to the selected tables, until nothing changes: entries that
     * depend on a selected table (or on an entry pulled in) and on no table left out. */
    size_t tabs[64];
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < a->n; i++) {
            archive_entry *e = &a->entries[i];
            if (ctx->wanted[i] || ctx->entry_table[i] >= 0)
                continue;
            size_t nt = entry_tables(ctx, e, tabs, 64);
            int renamed = 0, all_selected = 1, via = 0;
            for (size_t k = 0; k < nt; k++) {
                if (!ctx->tables[tabs[k]].selected)
                    all_selected = 0;
                if (ctx->tables[tabs[k]].renamed)
                    renamed = 1;
                via = 1;
            }
            for (size_t d = 0; d < e->ndeps && !via; d++) {
                long k = archive_find(a, e->deps[d]);
                if (k >= 0 && ctx->wanted[k] && ctx->entry_table[k] < 0 &&
                    (entry_is(e, "COMMENT") || entry_is(e, "ACL") || entry_is(e, "SECURITY LABEL") ||
                     entry_is(e, "INDEX ATTACH")))
                    via = 1;
            }
            if (!via || !all_selected || !own_kind(e->desc, renamed))
                continue;
            /* a plain SEQUENCE comes in only through SEQUENCE OWNED BY, below; an identity
             * sequence depends on its table directly */
            if (entry_is(e, "SEQUENCE") && nt == 0)
                continue;
            ctx->wanted[i] = 1;
            changed = 1;
            if (entry_is(e, "SEQUENCE OWNED BY"))
                for (size_t d = 0; d < e->ndeps; d++) {
                    long k = archive_find(a, e->deps[d]);
                    if (k >= 0 && entry_is(&a->entries[k], "SEQUENCE") && !ctx->wanted[k])
                        ctx->wanted[k] = 1;
                }
        }
    }
    return 0;
}

/* Phase of a wanted entry, following pg_restore: pre-data, post-data, ACLs, then event
 * triggers (and materialized view refresh, which pgferry adds). */
static int entry_phase(restore_ctx *ctx, size_t i)
{
    archive_entry *e = &ctx->a.entries[i];
    if (entry_is(e, "ACL") || entry_is(e, "DEFAULT ACL"))
        return PH_ACL;
    if (entry_is(e, "EVENT TRIGGER") || (entry_is(e, "COMMENT") && strncmp(e->tag, "EVENT TRIGGER ", 14) == 0))
        return PH_POSTACL;
    if (e->section == ARCHIVE_SECTION_POST_DATA)
        return PH_POST;
    if (e->section == ARCHIVE_SECTION_NONE)
        for (size_t d = 0; d < e->ndeps; d++) {
            long k = archive_find(&ctx->a, e->deps[d]);
            if (k >= 0 && ctx->wanted[k] && ctx->entry_phase[k] == PH_POST)
                return PH_POST;
        }
    return PH_PRE;
}

/* Names for a table's own objects in a renamed copy in the same schema, where index and
 * constraint names would collide with the live table's: the table's name in them is
 * replaced (users_pkey -> users_restored_pkey), or the new name put in front. */
static char *owned_new_name(const char *old, const char *old_table, const char *new_table)
{
    char *out = NULL;
    size_t ol = strlen(old_table);
    if (strncmp(old, old_table, ol) == 0)
        (void)!asprintf(&out, "%s%s", new_table, old + ol);
    else
        (void)!asprintf(&out, "%s_%s", new_table, old);
    if (out && strlen(out) > 63) /* NAMEDATALEN - 1; cut on a character boundary */
    {
        size_t n = 63;
        while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
            n--;
        out[n] = '\0';
    }
    return out;
}

static int add_rep(rep **reps, size_t *n, size_t *cap, char *from, char *to)
{
    if (!from || !to) {
        free(from);
        free(to);
        return -1;
    }
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        *reps = realloc(*reps, *cap * sizeof(rep));
    }
    (*reps)[(*n)++] = (rep){from, to};
    return 0;
}

/* Quotes like pg_dump does (only where needed), which is how names appear in the SQL
 * pg_restore renders: the server's quote_ident() follows the same rules. */
static char *dump_quote(PGconn *c, const char *ident)
{
    const char *p[1] = {ident};
    PGresult *r = PQexecParams(c, "SELECT pg_catalog.quote_ident($1)", 1, NULL, p, NULL, NULL, 0);
    char *out = PQresultStatus(r) == PGRES_TUPLES_OK ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return out;
}

static char *dump_qualified(PGconn *c, const char *schema, const char *name)
{
    char *a = dump_quote(c, schema), *b = dump_quote(c, name), *out = NULL;
    if (a && b && asprintf(&out, "%s.%s", a, b) < 0)
        out = NULL;
    free(a);
    free(b);
    return out;
}

/* Builds the replacements for one renamed table and applies them to the entries that
 * belong to it: its own, and comments or ACLs on those. */
static int apply_rename(restore_ctx *ctx, PGconn *c, size_t ti, char *err, size_t errlen)
{
    rtable *t = &ctx->tables[ti];
    rep *reps = NULL;
    size_t n = 0, cap = 0;
    int same_schema = strcmp(t->dst_schema, t->mt->schema) == 0;
    unsigned char *mine = calloc(ctx->a.n + 1, 1);
    if (!mine)
        return pf_err(err, errlen, "out of memory");
    size_t tabs[64];
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < ctx->a.n; i++) {
            archive_entry *e = &ctx->a.entries[i];
            if (!ctx->wanted[i] || mine[i])
                continue;
            int m = ctx->entry_table[i] == (long)ti;
            size_t nt = entry_tables(ctx, e, tabs, 64);
            for (size_t k = 0; k < nt; k++)
                m |= tabs[k] == ti;
            for (size_t d = 0; d < e->ndeps && !m; d++) {
                long k = archive_find(&ctx->a, e->deps[d]);
                m = k >= 0 && mine[k];
            }
            if (m) {
                mine[i] = 1;
                changed = 1;
            }
        }
    }
    add_rep(&reps, &n, &cap, dump_qualified(c, t->mt->schema, t->mt->name),
            dump_qualified(c, t->dst_schema, t->dst_name));
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!mine[i] || ctx->entry_table[i] == (long)ti)
            continue;
        const char *obj = NULL;
        size_t tl = strlen(t->mt->name);
        if (entry_is(e, "INDEX") || entry_is(e, "SEQUENCE"))
            obj = e->tag;
        else if ((entry_is(e, "CONSTRAINT") || entry_is(e, "CHECK CONSTRAINT")) &&
                 strncmp(e->tag, t->mt->name, tl) == 0 && e->tag[tl] == ' ')
            obj = e->tag + tl + 1;
        if (!obj)
            continue;
        char *nn = owned_new_name(obj, t->mt->name, t->dst_name);
        if (entry_is(e, "SEQUENCE")) { /* identity sequence: a new one, never the live one */
            add_rep(&reps, &n, &cap, dump_qualified(c, e->namespace, obj),
                    dump_qualified(c, t->dst_schema, nn));
            /* and its value goes there too (sequences_sql), not into the live one */
            free(ctx->seq_dst[i]);
            ctx->seq_dst[i] = pgconn_qualified(c, t->dst_schema, nn);
        } else if (same_schema) /* index names are unique per schema */
            add_rep(&reps, &n, &cap, dump_quote(c, obj), dump_quote(c, nn));
        free(nn);
    }
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!mine[i])
            continue;
        if (e->sql) {
            char *s = rewrite(e->sql, reps, n);
            free(e->sql);
            e->sql = s;
        }
        if (e->drop) {
            char *s = rewrite(e->drop, reps, n);
            free(e->drop);
            e->drop = s;
        }
    }
    free(mine);
    for (size_t i = 0; i < n; i++) {
        free(reps[i].from);
        free(reps[i].to);
    }
    free(reps);
    (void)err;
    (void)errlen;
    return 0;
}

/* ---- driver ----------------------------------------------------------------------------- */

static void draw_progress(restore_ctx *ctx, double start, int final)
{
    double el = pf_now() - start;
    uint64_t raw = atomic_load(&ctx->raw);
    char a[32], rate[32], eta[32] = "--:--";
    if (raw > 0 && !final && ctx->total_raw > raw) {
        double left = el * (double)(ctx->total_raw - raw) / (double)raw;
        snprintf(eta, sizeof eta, "%d:%02d", (int)left / 60, (int)left % 60);
    } else if (final)
        snprintf(eta, sizeof eta, "done");
    pf_fmt_bytes(el > 0 ? (uint64_t)((double)raw / el) : 0, rate, sizeof rate);
    fprintf(stderr, "\r\033[Krestore: chunks %llu/%zu  rows %llu  %s  %s/s  post-data %llu/%zu  ETA %s%s",
            (unsigned long long)atomic_load(&ctx->chunks_done), ctx->nchunks,
            (unsigned long long)atomic_load(&ctx->rows), pf_fmt_bytes(raw, a, sizeof a), rate,
            (unsigned long long)atomic_load(&ctx->entries_done), ctx->njobs, eta, final ? "\n" : "");
    fflush(stderr);
}

static int create_database(const restore_options *o, int resume, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(o->conninfo, &perr);
    if (!opts) {
        PQfreemem(perr);
        return pf_err(err, errlen, "--create: cannot parse the connection string");
    }
    char *dbname = NULL;
    for (PQconninfoOption *p = opts; p->keyword; p++)
        if (strcmp(p->keyword, "dbname") == 0 && p->val && *p->val)
            dbname = strdup(p->val);
    PQconninfoFree(opts);
    if (!dbname && getenv("PGDATABASE"))
        dbname = strdup(getenv("PGDATABASE"));
    if (!dbname)
        return pf_err(err, errlen, "--create needs the new database's name in -d (dbname=...)");
    /* connect to the maintenance database of the same server: later keywords win */
    const char *keys[] = {"dbname", "dbname", "fallback_application_name", NULL};
    const char *vals[] = {o->conninfo, "postgres", "pgferry", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    int rc = -1;
    char line[PF_ERRLEN];
    if (PQstatus(c) != CONNECTION_OK) {
        pf_err(err, errlen, "--create: connect to database postgres: %s", pgconn_errline(c, line, sizeof line));
        goto out;
    }
    const char *p1[1] = {dbname};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, NULL, p1, NULL, NULL, 0);
    int exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (exists) {
        if (resume) {
            rc = 0;
            goto out;
        }
        pf_err(err, errlen, "--create: database \"%s\" already exists", dbname);
        goto out;
    }
    char *q = pgconn_quote_ident(c, dbname), *sql = NULL;
    if (q && asprintf(&sql, "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", q) >= 0)
        rc = pgconn_exec(c, sql, "--create", err, errlen);
    free(q);
    free(sql);
out:
    PQfinish(c);
    free(dbname);
    return rc;
}

static int check_target_empty(restore_ctx *ctx, PGconn *c, int filtered, char *err, size_t errlen)
{
    if (!filtered) {
        PGresult *r = pgconn_query(c,
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r','p','v','m','S','f') AND n.nspname <> 'information_schema'"
            " AND n.nspname !~ '^pg_' AND n.nspname <> '" JOURNAL_SCHEMA "'"
            " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
            " ORDER BY 1, 2 LIMIT 1", 0, NULL, "check target", err, errlen);
        if (!r)
            return -1;
        int n = PQntuples(r);
        if (n > 0)
            pf_err(err, errlen, "target database is not empty (it has %s.%s): restore into an empty database, or use --clean to replace the dump's objects",
                   PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
        PQclear(r);
        return n > 0 ? -1 : 0;
    }
    for (size_t i = 0; i < ctx->ntables; i++) {
        rtable *t = &ctx->tables[i];
        if (!t->selected)
            continue;
        const char *p[2] = {t->dst_schema, t->dst_name};
        PGresult *r = pgconn_query(c,
            "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relname = $2", 2, p, "check target", err, errlen);
        if (!r)
            return -1;
        int n = PQntuples(r);
        PQclear(r);
        if (n > 0)
            return pf_err(err, errlen, "table %s.%s already exists in the target: choose another name (--rename-table, --into-schema) or use --clean",
                          t->dst_schema, t->dst_name);
    }
    return 0;
}

/* --clean: each entry's DROP, newest first; what is already gone is fine. */
static int clean_target(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (pgconn_exec(c, "BEGIN", "clean", err, errlen) < 0)
        return -1;
    for (size_t k = ctx->a.n; k-- > 0;) {
        archive_entry *e = &ctx->a.entries[k];
        if (!ctx->wanted[k] || !e->drop || !*e->drop)
            continue;
        PQclear(PQexec(c, "SAVEPOINT pgferry_clean"));
        PGresult *r = PQexec(c, e->drop);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            /* undefined table/object/schema/function; a schema that still holds objects
             * the dump does not know about is left in place */
            int ignorable = state && (!strcmp(state, "42P01") || !strcmp(state, "42704") ||
                                      !strcmp(state, "3F000") || !strcmp(state, "42883") ||
                                      (!strcmp(state, "2BP01") && entry_is(e, "SCHEMA")));
            if (!ignorable) {
                char line[PF_ERRLEN];
                pf_err(err, errlen, "clean: %s %s: %s", e->desc, e->tag, pgconn_result_errline(r, line, sizeof line));
                PQclear(r);
                PQclear(PQexec(c, "ROLLBACK"));
                return -1;
            }
            PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT pgferry_clean"));
        }
        PQclear(r);
    }
    return pgconn_exec(c, "COMMIT", "clean", err, errlen);
}

/* Runs the SQL of all wanted entries of one phase, in archive order, in one journaled
 * transaction. */
/* Runs the SQL of all wanted entries of one phase, in archive order, in journaled
 * transactions of at most PHASE_BATCH entries ("<item>:<k>"): each CREATE holds its lock
 * until commit, and ten thousand tables in one transaction would exhaust the server's
 * lock table (max_locks_per_transaction). extra runs with the last batch. */
#define PHASE_BATCH 500
static int run_phase(restore_ctx *ctx, PGconn *c, int phase, const char *item, const char *extra,
                     char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < ctx->a.n; i++)
        if (ctx->wanted[i] && ctx->entry_phase[i] == phase && ctx->a.entries[i].sql)
            total++;
    size_t nbatches = total ? (total + PHASE_BATCH - 1) / PHASE_BATCH : 1, i = 0;
    for (size_t k = 0; k < nbatches; k++) {
        char name[96];
        snprintf(name, sizeof name, "%s:%zu", item, k);
        size_t start = i, taken = 0, len = 1;
        for (; i < ctx->a.n && taken < PHASE_BATCH; i++)
            if (ctx->wanted[i] && ctx->entry_phase[i] == phase && ctx->a.entries[i].sql) {
                len += strlen(ctx->a.entries[i].sql) + 2;
                taken++;
            }
        int last = k + 1 == nbatches;
        if (last && extra)
            len += strlen(extra);
        if (journal_has(ctx, name))
            continue;
        char *sql = malloc(len), *p = sql;
        if (!sql)
            return pf_err(err, errlen, "out of memory");
        for (size_t j = start; j < i; j++)
            if (ctx->wanted[j] && ctx->entry_phase[j] == phase && ctx->a.entries[j].sql)
                p += sprintf(p, "%s\n", ctx->a.entries[j].sql);
        if (last && extra)
            p += sprintf(p, "%s", extra);
        *p = '\0';
        int rc = run_with_journal(c, ctx, sql, name, item, err, errlen);
        free(sql);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int cmp_seq_name(const void *a, const void *b)
{
    const manifest_sequence *x = *(const manifest_sequence *const *)a, *y = *(const manifest_sequence *const *)b;
    int s = strcmp(x->schema, y->schema);
    return s ? s : strcmp(x->name, y->name);
}

/* setval() for every sequence whose SEQUENCE entry is restored, with the value read in
 * the dump's snapshot; a renamed table's identity sequence gets it under its new name. */
static char *sequences_sql(restore_ctx *ctx, PGconn *c)
{
    size_t cap = 256, len = 0;
    char *sql = malloc(cap);
    sql[0] = '\0';
    const manifest_sequence **by_name = malloc((ctx->m.nseqs + 1) * sizeof *by_name);
    for (size_t i = 0; i < ctx->m.nseqs; i++)
        by_name[i] = &ctx->m.seqs[i];
    qsort(by_name, ctx->m.nseqs, sizeof *by_name, cmp_seq_name);
    for (size_t k = 0; k < ctx->a.n; k++) {
        archive_entry *e = &ctx->a.entries[k];
        if (!ctx->wanted[k] || !entry_is(e, "SEQUENCE") || !e->namespace)
            continue;
        manifest_sequence key = {.schema = e->namespace, .name = e->tag};
        const manifest_sequence *keyp = &key;
        const manifest_sequence **hit = bsearch(&keyp, by_name, ctx->m.nseqs, sizeof *by_name, cmp_seq_name);
        if (!hit)
            continue;
        const manifest_sequence *q = *hit;
        char *qn = ctx->seq_dst[k] ? strdup(ctx->seq_dst[k]) : pgconn_qualified(c, q->schema, q->name);
        char *lit = qn ? PQescapeLiteral(c, qn, strlen(qn)) : NULL;
        char line[1024];
        snprintf(line, sizeof line, "SELECT pg_catalog.setval(%s, %lld, %s);\n", lit ? lit : "NULL",
                 (long long)q->last_value, q->is_called ? "true" : "false");
        if (len + strlen(line) + 1 > cap) {
            cap = 2 * (len + strlen(line) + 1);
            sql = realloc(sql, cap);
        }
        len += (size_t)sprintf(sql + len, "%s", line);
        free(qn);
        PQfreemem(lit);
    }
    free(by_name);
    return sql;
}

static int restore_large_objects(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (journal_has(ctx, "large-objects"))
        return 0;
    int rc = -1;
    chunkfile_reader *b = chunkfile_reader_new(&ctx->m, err, errlen);
    if (!b)
        goto out;
    if (pgconn_exec(c, "BEGIN; CREATE TEMP TABLE pgferry_lo (oid oid, owner text, acl text, data bytea) ON COMMIT DROP",
                    "large objects", err, errlen) < 0)
        goto rollback;
    for (size_t ci = 0; ci < ctx->m.large_objects.nchunks; ci++)
        if (copy_chunk_in(ctx, c, b, &ctx->m.large_objects, "pg_temp.pgferry_lo", "large objects", ci, 0,
                          err, errlen) < 0)
            goto rollback;
    {
        char sql[4096];
        /* --clean (also when resuming one): the dump's large objects replace those with
         * the same OIDs, as pg_restore --clean does */
        int replace = ctx->o->clean || journal_has(ctx, "clean");
        snprintf(sql, sizeof sql,
                 "%s"
                 "SELECT count(pg_catalog.lo_from_bytea(oid, data)) FROM pg_temp.pgferry_lo;"
                 "DO $pgferry$ DECLARE r record; BEGIN"
                 "%s%s"
                 " END $pgferry$",
                 !replace ? "" :
                 "SELECT count(pg_catalog.lo_unlink(l.oid)) FROM pg_temp.pgferry_lo l"
                 " WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = l.oid);",
                 ctx->o->no_owner ? "" :
                 " FOR r IN SELECT oid, owner FROM pg_temp.pgferry_lo LOOP"
                 "  EXECUTE pg_catalog.format('ALTER LARGE OBJECT %s OWNER TO %I', r.oid, r.owner);"
                 " END LOOP;",
                 ctx->o->no_acl ? "" :
                 " FOR r IN SELECT l.oid, a.privilege_type, a.grantee, a.is_grantable"
                 "   FROM pg_temp.pgferry_lo l, pg_catalog.aclexplode(l.acl::pg_catalog.aclitem[]) a"
                 "   WHERE l.acl IS NOT NULL LOOP"
                 "  EXECUTE pg_catalog.format('GRANT %s ON LARGE OBJECT %s TO %s%s', r.privilege_type, r.oid,"
                 "    CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)) END,"
                 "    CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);"
                 " END LOOP;");
        if (pgconn_exec(c, sql, "large objects", err, errlen) < 0 ||
            journal_add(c, ctx, "large-objects", err, errlen) < 0 ||
            pgconn_exec(c, "COMMIT", "large objects", err, errlen) < 0)
            goto rollback;
    }
    rc = 0;
    goto out;
rollback:
    PQclear(PQexec(c, "ROLLBACK"));
out:
    chunkfile_reader_free(b);
    return rc;
}

static int setup_tables(restore_ctx *ctx, int *filtered, char ***schema_sel, size_t *nschema_sel,
                        char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    ctx->ntables = ctx->m.ntables;
    ctx->tables = calloc(ctx->ntables + 1, sizeof *ctx->tables);
    for (size_t i = 0; i < ctx->ntables; i++) {
        rtable *t = &ctx->tables[i];
        t->mt = &ctx->m.tables[i];
        t->dst_schema = strdup(t->mt->schema);
        t->dst_name = strdup(t->mt->name);
        t->toc = -1;
        if (asprintf(&t->label, "%s.%s", t->mt->schema, t->mt->name) < 0)
            t->label = NULL;
    }
    *filtered = o->ntables > 0 || o->nschemas > 0;
    if ((o->nrenames || o->into_schema) && !*filtered)
        return pf_err(err, errlen, "--rename-table and --into-schema restore single tables: select them with -t");
    for (size_t p = 0; p < o->ntables; p++) {
        char *sre, *nre;
        if (catalog_pattern_regex(o->tables[p], &sre, &nre, err, errlen) < 0)
            return -1;
        int found = 0;
        for (size_t i = 0; i < ctx->ntables; i++) {
            rtable *t = &ctx->tables[i];
            if ((!sre || regex_match(sre, t->mt->schema)) && regex_match(nre, t->mt->name)) {
                t->selected = 1;
                found = 1;
            }
        }
        free(sre);
        free(nre);
        if (!found)
            return pf_err(err, errlen, "no table in the dump matches -t \"%s\"", o->tables[p]);
    }
    *schema_sel = calloc(ctx->ntables + o->nschemas + 1, sizeof(char *));
    for (size_t p = 0; p < o->nschemas; p++) {
        char *sre, *nre;
        if (catalog_pattern_regex(o->schemas[p], &sre, &nre, err, errlen) < 0)
            return -1;
        if (sre) {
            free(sre);
            free(nre);
            return pf_err(err, errlen, "improper qualified name in -n pattern: %s", o->schemas[p]);
        }
        int found = 0;
        for (size_t i = 0; i < ctx->ntables; i++) {
            rtable *t = &ctx->tables[i];
            if (!regex_match(nre, t->mt->schema))
                continue;
            t->selected = found = 1;
            int known = 0;
            for (size_t k = 0; k < *nschema_sel; k++)
                known |= !strcmp((*schema_sel)[k], t->mt->schema);
            if (!known)
                (*schema_sel)[(*nschema_sel)++] = strdup(t->mt->schema);
        }
        free(nre);
        if (!found)
            return pf_err(err, errlen, "no schema in the dump matches -n \"%s\"", o->schemas[p]);
    }
    if (!*filtered)
        for (size_t i = 0; i < ctx->ntables; i++)
            ctx->tables[i].selected = 1;

    for (size_t r = 0; r < o->nrenames; r++) {
        char *fs, *fn, *ts, *tn;
        if (parse_qualified(o->renames[r].from, &fs, &fn) < 0 || parse_qualified(o->renames[r].to, &ts, &tn) < 0)
            return pf_err(err, errlen, "--rename-table %s=%s: not a table name", o->renames[r].from, o->renames[r].to);
        long hit = -1;
        for (size_t i = 0; i < ctx->ntables; i++) {
            rtable *t = &ctx->tables[i];
            if (strcmp(t->mt->name, fn) || (fs && strcmp(t->mt->schema, fs)))
                continue;
            if (hit >= 0) {
                free(fs); free(fn); free(ts); free(tn);
                return pf_err(err, errlen, "--rename-table %s: more than one table has that name: qualify it with its schema",
                              o->renames[r].from);
            }
            hit = (long)i;
        }
        if (hit < 0 || !ctx->tables[hit].selected) {
            free(fs); free(fn); free(ts); free(tn);
            return pf_err(err, errlen, "--rename-table %s: %s", o->renames[r].from,
                          hit < 0 ? "no such table in the dump" : "table not selected by -t/-n");
        }
        rtable *t = &ctx->tables[hit];
        free(t->dst_schema);
        free(t->dst_name);
        t->dst_schema = ts ? ts : strdup(o->into_schema ? o->into_schema : t->mt->schema);
        t->dst_name = tn;
        free(fs);
        free(fn);
    }
    for (size_t i = 0; i < ctx->ntables; i++) {
        rtable *t = &ctx->tables[i];
        if (o->into_schema && t->selected && !strcmp(t->dst_schema, t->mt->schema) && !strcmp(t->dst_name, t->mt->name)) {
            free(t->dst_schema);
            t->dst_schema = strdup(o->into_schema);
        }
        t->renamed = strcmp(t->dst_schema, t->mt->schema) || strcmp(t->dst_name, t->mt->name);
    }
    return 0;
}

int restore_run(const restore_options *o, restore_summary *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    double start = pf_now(), t0;
    restore_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = o;
    pthread_mutex_init(&ctx.mu, NULL);
    pthread_cond_init(&ctx.cv, NULL);
    PGconn *c = NULL;
    int rc = -1, filtered = 0, created_journal = 0;
    char **schema_sel = NULL;
    size_t nschema_sel = 0;
    char tmp[PF_ERRLEN];

    /* 1. the dump */
    if (manifest_read_key(o->dir, o->passphrase, &ctx.m, tmp, sizeof tmp) < 0) {
        pf_err(err, errlen, "refusing to restore: %s", tmp);
        goto out;
    }
    if (check_files(&ctx, tmp, sizeof tmp) < 0 || check_schema_file(&ctx, tmp, sizeof tmp) < 0) {
        pf_err(err, errlen, "refusing to restore %s: %s", o->dir, tmp);
        goto out;
    }
    if (setup_tables(&ctx, &filtered, &schema_sel, &nschema_sel, err, errlen) < 0)
        goto out;

    /* 2. the schema archive */
    char path[4096], pg_restore[4096];
    snprintf(path, sizeof path, "%s/%s", o->dir, ctx.m.schema_file);
    int src_major = ctx.m.server_version_num >= 100000 ? ctx.m.server_version_num / 10000 : 10;
    char aad[512];
    manifest_file_aad(&ctx.m, ctx.m.schema_file, aad, sizeof aad);
    if (pgtools_find("pg_restore", src_major, pg_restore, sizeof pg_restore, err, errlen) < 0 ||
        archive_load(path, ctx.m.encrypted ? &ctx.m.data_key : NULL, aad, &ctx.a, err, errlen) < 0)
        goto out;
    ctx.entry_table = malloc((ctx.a.n + 1) * sizeof(long));
    ctx.entry_phase = calloc(ctx.a.n + 1, sizeof(int));
    ctx.wanted = calloc(ctx.a.n + 1, 1);
    ctx.entry_job = malloc((ctx.a.n + 1) * sizeof(long));
    ctx.seq_dst = calloc(ctx.a.n + 1, sizeof(char *));
    const rtable **by_name = malloc((ctx.ntables + 1) * sizeof *by_name);
    for (size_t t = 0; t < ctx.ntables; t++)
        by_name[t] = &ctx.tables[t];
    qsort(by_name, ctx.ntables, sizeof *by_name, cmp_rtable_name);
    for (size_t i = 0; i < ctx.a.n; i++) {
        ctx.entry_table[i] = -1;
        ctx.entry_job[i] = -1;
        archive_entry *e = &ctx.a.entries[i];
        if (!entry_is(e, "TABLE") || !e->namespace)
            continue;
        /* by name, through a sorted index: ten thousand tables against fifty thousand
         * entries would otherwise be half a billion string comparisons */
        rtable key_t;
        manifest_table key_m;
        key_m.schema = e->namespace;
        key_m.name = e->tag;
        key_t.mt = &key_m;
        const rtable *keyp = &key_t;
        const rtable **hit = bsearch(&keyp, by_name, ctx.ntables, sizeof *by_name, cmp_rtable_name);
        if (hit) {
            ctx.entry_table[i] = (long)(*hit - ctx.tables);
            ctx.tables[*hit - ctx.tables].toc = (long)i;
        }
    }
    free(by_name);
    select_entries(&ctx, filtered, schema_sel, nschema_sel);
    for (size_t i = 0; i < ctx.a.n; i++)
        if (ctx.wanted[i])
            ctx.entry_phase[i] = entry_phase(&ctx, i);
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (archive_render(&ctx.a, pg_restore, ctx.wanted, o->no_owner, o->no_acl, tmpdir, err, errlen) < 0)
        goto out;
    s->t_checks = pf_now() - start;

    /* 3. the target */
    if (o->create && create_database(o, o->resume, err, errlen) < 0)
        goto out;
    c = open_target(&ctx, err, errlen);
    if (!c)
        goto out;
    snprintf(s->database, sizeof s->database, "%s", PQdb(c));
    for (size_t t = 0; t < ctx.ntables; t++) {
        rtable *rt = &ctx.tables[t];
        rt->qname = pgconn_qualified(c, rt->dst_schema, rt->dst_name);
        if (rt->selected && rt->renamed && apply_rename(&ctx, c, t, err, errlen) < 0)
            goto out;
    }
    PGresult *r = pgconn_query(c, "SELECT pg_catalog.to_regclass('" JOURNAL_SCHEMA ".journal') IS NOT NULL",
                               0, NULL, "check journal", err, errlen);
    if (!r)
        goto out;
    int journal_exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (o->resume) {
        if (!journal_exists) {
            pf_err(err, errlen, "--resume: this database has no unfinished pgferry restore (no " JOURNAL_SCHEMA ".journal)");
            goto out;
        }
        r = pgconn_query(c, "SELECT item, dump FROM " JOURNAL_SCHEMA ".journal ORDER BY item COLLATE \"C\"", 0, NULL,
                         "read journal", err, errlen);
        if (!r)
            goto out;
        ctx.ndone = (size_t)PQntuples(r);
        ctx.done_items = calloc(ctx.ndone + 1, sizeof(char *));
        for (size_t i = 0; i < ctx.ndone; i++) {
            if (strcmp(PQgetvalue(r, (int)i, 1), ctx.m.checksum) != 0) {
                PQclear(r);
                pf_err(err, errlen, "--resume: the unfinished restore in this database came from another dump");
                goto out;
            }
            ctx.done_items[i] = strdup(PQgetvalue(r, (int)i, 0));
        }
        PQclear(r);
        qsort(ctx.done_items, ctx.ndone, sizeof(char *), cmp_str);
    } else {
        if (journal_exists && !o->clean) {
            pf_err(err, errlen, "a previous restore into this database did not finish: rerun with --resume to finish it, or --clean to start over");
            goto out;
        }
        if (o->clean) {
            if (pgconn_exec(c, "DROP SCHEMA IF EXISTS " JOURNAL_SCHEMA " CASCADE", "clean", err, errlen) < 0 ||
                (!o->data_only && clean_target(&ctx, c, err, errlen) < 0))
                goto out;
        } else if (!o->data_only && check_target_empty(&ctx, c, filtered, err, errlen) < 0)
            goto out;
        if (pgconn_exec(c, "CREATE SCHEMA " JOURNAL_SCHEMA ";"
                           " CREATE TABLE " JOURNAL_SCHEMA ".journal (item text PRIMARY KEY, dump text NOT NULL,"
                           " at timestamptz NOT NULL DEFAULT now())",
                        "create journal", err, errlen) < 0)
            goto out;
        created_journal = 1;
        /* remembered for --resume: the large objects step replaces existing ones */
        if (o->clean && journal_add(c, &ctx, "clean", err, errlen) < 0)
            goto out;
    }

    /* 4. pre-data */
    t0 = pf_now();
    if (!o->data_only) {
        char *extra = NULL;
        if (o->into_schema) {
            char *q = pgconn_quote_ident(c, o->into_schema);
            if (!q || asprintf(&extra, "CREATE SCHEMA IF NOT EXISTS %s;", q) < 0)
                extra = NULL;
            free(q);
        }
        /* the schema must exist before the tables that go into it */
        if (extra && !journal_has(&ctx, "pre-data:0") &&
            pgconn_exec(c, extra, "create schema", err, errlen) < 0) {
            free(extra);
            goto out;
        }
        free(extra);
        if (run_phase(&ctx, c, PH_PRE, "pre-data", NULL, err, errlen) < 0)
            goto out;
    }
    s->t_pre = pf_now() - t0;

    /* 5. data and post-data, scheduled together */
    t0 = pf_now();
    for (size_t t = 0; t < ctx.ntables; t++) {
        rtable *rt = &ctx.tables[t];
        if (!rt->selected || o->schema_only) {
            rt->data_done = 1;
            continue;
        }
        s->tables++;
        for (size_t k = 0; k < rt->mt->nchunks; k++)
            ctx.nchunks++;
    }
    ctx.chunks = calloc(ctx.nchunks + 1, sizeof *ctx.chunks);
    ctx.nchunks = 0;
    for (size_t t = 0; t < ctx.ntables; t++) {
        rtable *rt = &ctx.tables[t];
        if (rt->data_done)
            continue;
        for (size_t k = 0; k < rt->mt->nchunks; k++) {
            char item[4200];
            snprintf(item, sizeof item, "chunk:%s", rt->mt->chunks[k].file);
            rchunk *ch = &ctx.chunks[ctx.nchunks++];
            ch->table = t;
            ch->chunk = k;
            ch->done = journal_has(&ctx, item);
            ctx.total_raw += rt->mt->chunks[k].raw_bytes;
            if (ch->done) {
                s->chunks_skipped++;
                atomic_fetch_add(&ctx.raw, rt->mt->chunks[k].raw_bytes);
                atomic_fetch_add(&ctx.rows, rt->mt->chunks[k].rows);
                atomic_fetch_add(&ctx.chunks_done, 1);
            } else {
                rt->chunks_left++;
                ctx.jobs_left++;
            }
        }
        if (rt->chunks_left == 0)
            rt->data_done = 1;
    }
    /* largest first: the end of the restore is not one long table */
    for (size_t i = 1; i < ctx.nchunks; i++) {
        rchunk v = ctx.chunks[i];
        uint64_t sz = ctx.tables[v.table].mt->chunks[v.chunk].raw_bytes;
        size_t j = i;
        while (j > 0 && ctx.tables[ctx.chunks[j - 1].table].mt->chunks[ctx.chunks[j - 1].chunk].raw_bytes < sz) {
            ctx.chunks[j] = ctx.chunks[j - 1];
            j--;
        }
        ctx.chunks[j] = v;
    }
    /* post-data entries, then one ANALYZE per table: released when the table's rows are
     * in, they run while other tables still load instead of in one pass at the end */
    for (size_t i = 0; i < ctx.a.n && !o->data_only; i++)
        if (ctx.wanted[i] && ctx.entry_phase[i] == PH_POST && ctx.a.entries[i].sql)
            ctx.njobs++;
    ctx.jobs = calloc(ctx.njobs + ctx.ntables + 1, sizeof *ctx.jobs);
    ctx.njobs = 0;
    if (!o->data_only) {
        for (size_t i = 0; i < ctx.a.n; i++) {
            if (!(ctx.wanted[i] && ctx.entry_phase[i] == PH_POST && ctx.a.entries[i].sql))
                continue;
            ctx.entry_job[i] = (long)ctx.njobs;
            rentry *j = &ctx.jobs[ctx.njobs++];
            j->entry = (long)i;
            char item[64];
            snprintf(item, sizeof item, "entry:%d", ctx.a.entries[i].id);
            j->state = journal_has(&ctx, item) ? 3 : 0;
            j->shared = entry_is(&ctx.a.entries[i], "INDEX");
        }
        size_t tabs[64];
        for (size_t ji = 0; ji < ctx.njobs; ji++) {
            rentry *j = &ctx.jobs[ji];
            archive_entry *e = &ctx.a.entries[j->entry];
            size_t nt = entry_tables(&ctx, e, tabs, 64);
            /* tables it locks: its own, and those of the entries it builds on (the table a
             * foreign key references, through that table's primary key entry) */
            size_t cap = nt + e->ndeps * 4 + 1;
            j->tables = calloc(cap, sizeof(size_t));
            for (size_t k = 0; k < nt; k++)
                j->tables[j->ntables++] = tabs[k];
            for (size_t d = 0; d < e->ndeps; d++) {
                long k = archive_find(&ctx.a, e->deps[d]);
                if (k < 0)
                    continue;
                size_t dtabs[4];
                size_t n2 = entry_tables(&ctx, &ctx.a.entries[k], dtabs, 4);
                for (size_t q = 0; q < n2; q++)
                    j->tables[j->ntables++] = dtabs[q];
                if (j->state != 3 && ctx.entry_job[k] >= 0 && ctx.jobs[ctx.entry_job[k]].state != 3) {
                    rentry *dj = &ctx.jobs[ctx.entry_job[k]];
                    push_idx(&dj->dependents, &dj->ndependents, &dj->capdependents, ji);
                    j->waiting++;
                }
            }
            if (j->state == 3)
                continue;
            /* the entry's own tables: the first nt of j->tables */
            for (size_t k = 0; k < nt; k++) {
                rtable *rt = &ctx.tables[j->tables[k]];
                if (!rt->data_done) {
                    push_idx(&rt->listeners, &rt->nlisteners, &rt->caplisteners, ji);
                    j->waiting++;
                }
            }
            if (j->waiting == 0)
                j->state = 1;
            ctx.jobs_left++;
        }
    }
    for (size_t t = 0; t < ctx.ntables && !o->schema_only && !o->no_analyze; t++) {
        rtable *rt = &ctx.tables[t];
        if (!rt->selected)
            continue;
        size_t ji = ctx.njobs++;
        rentry *j = &ctx.jobs[ji];
        j->entry = -1;
        j->analyze = t;
        j->tables = calloc(1, sizeof(size_t));
        j->tables[j->ntables++] = t;
        char item[600];
        snprintf(item, sizeof item, "analyze:%s", rt->qname);
        if (journal_has(&ctx, item)) {
            j->state = 3;
            continue;
        }
        if (!rt->data_done) {
            push_idx(&rt->listeners, &rt->nlisteners, &rt->caplisteners, ji);
            j->waiting++;
        }
        j->state = j->waiting ? 0 : 1;
        ctx.jobs_left++;
    }
    /* what is ready from the start, in job order: entries before ANALYZE */
    ctx.ready = calloc(ctx.njobs + 1, sizeof *ctx.ready);
    for (size_t ji = 0; ji < ctx.njobs; ji++)
        if (ctx.jobs[ji].state == 1)
            make_ready(&ctx, ji);

    int jobs = o->jobs > 0 ? o->jobs : 1;
    ctx.workers = calloc((size_t)jobs, sizeof *ctx.workers);
    if (ctx.jobs_left > 0) {
        for (int i = 0; i < jobs; i++) {
            ctx.workers[i].ctx = &ctx;
            ctx.workers[i].id = i + 1;
            if (pthread_create(&ctx.workers[i].thread, NULL, worker_main, &ctx.workers[i]) != 0) {
                fail(&ctx, "cannot start worker thread");
                break;
            }
            ctx.nworkers++;
        }
        double last = 0;
        for (;;) {
            pthread_mutex_lock(&ctx.mu);
            int over = ctx.jobs_left == 0 || ctx.failed;
            pthread_mutex_unlock(&ctx.mu);
            if (over)
                break;
            if (o->interrupted && *o->interrupted)
                fail(&ctx, "interrupted");
            if (o->progress && pf_now() - last > 0.25) {
                draw_progress(&ctx, start, 0);
                last = pf_now();
            }
            usleep(20000);
        }
        if (ctx.failed) {
            /* stop the others' statements; their transactions roll back */
            char buf[256];
            pthread_mutex_lock(&ctx.mu);
            for (int i = 0; i < ctx.nworkers; i++)
                if (ctx.workers[i].cancel)
                    PQcancel(ctx.workers[i].cancel, buf, sizeof buf);
            pthread_cond_broadcast(&ctx.cv);
            pthread_mutex_unlock(&ctx.mu);
        }
        for (int i = 0; i < ctx.nworkers; i++)
            pthread_join(ctx.workers[i].thread, NULL);
    }
    if (o->progress)
        draw_progress(&ctx, start, !ctx.failed);
    if (ctx.failed) {
        if (o->progress)
            fputc('\n', stderr);
        if (o->interrupted && *o->interrupted)
            pf_err(err, errlen, "interrupted: what committed is kept; run again with --resume to finish");
        else
            pf_err(err, errlen, "%s (what committed is kept: fix the cause and run again with --resume)", ctx.first_err);
        goto out;
    }
    {
        /* data and post-data overlap; split at the last chunk's commit */
        double end = pf_now(), dend = ctx.data_end > t0 ? ctx.data_end : t0;
        s->t_data = dend - t0;
        s->t_post = end - dend;
    }

    /* 6. sequences, large objects, ACLs, materialized views, statistics */
    t0 = pf_now();
    {
        /* a resumed restore set them already when the journal says so: never twice (the
         * application may have used the sequences since) */
        if (!journal_has(&ctx, "sequences")) {
            char *seq = sequences_sql(&ctx, c);
            int src = !seq ? pf_err(err, errlen, "out of memory")
                      : *seq ? run_with_journal(c, &ctx, seq, "sequences", "set sequences", err, errlen)
                             : 0;
            free(seq);
            if (src < 0)
                goto out;
        }
    }
    if (ctx.m.has_large_objects && !filtered && !o->schema_only &&
        restore_large_objects(&ctx, c, err, errlen) < 0)
        goto out;
    {
        if (!o->data_only && run_phase(&ctx, c, PH_ACL, "acl", NULL, err, errlen) < 0)
            goto out;
        /* materialized views: filled after their tables' rows and indexes are in (their
         * contents are data: --data-only refreshes them too) */
        size_t cap = 64, len = 0;
        char *mv = malloc(cap);
        mv[0] = '\0';
        for (size_t i = 0; i < ctx.a.n; i++) {
            archive_entry *e = &ctx.a.entries[i];
            if (!ctx.wanted[i] || !entry_is(e, "MATERIALIZED VIEW") || o->schema_only)
                continue;
            char *q = pgconn_qualified(c, e->namespace, e->tag), line[1200];
            snprintf(line, sizeof line, "REFRESH MATERIALIZED VIEW %s;\n", q ? q : "");
            free(q);
            if (len + strlen(line) + 1 > cap) {
                cap = 2 * (len + strlen(line) + 1);
                mv = realloc(mv, cap);
            }
            len += (size_t)sprintf(mv + len, "%s", line);
        }
        int prc = run_phase(&ctx, c, o->data_only ? PH_SKIP : PH_POSTACL, "post-acl", mv, err, errlen);
        free(mv);
        if (prc < 0)
            goto out;
    }
    /* partitioned tables' own statistics (across their partitions) need their own
     * ANALYZE; the partitions were analyzed as their rows came in */
    for (size_t t = 0; t < ctx.ntables && !o->schema_only && !o->no_analyze; t++) {
        rtable *rt = &ctx.tables[t];
        if (!rt->selected || rt->renamed || !rt->mt->parent_name)
            continue;
        int seen = 0;
        for (size_t k = 0; k < t && !seen; k++)
            seen = ctx.tables[k].selected && !ctx.tables[k].renamed && ctx.tables[k].mt->parent_name &&
                   !strcmp(ctx.tables[k].mt->parent_name, rt->mt->parent_name) &&
                   !strcmp(ctx.tables[k].mt->parent_schema, rt->mt->parent_schema);
        if (seen)
            continue;
        char *q = pgconn_qualified(c, rt->mt->parent_schema, rt->mt->parent_name), *sql = NULL;
        int arc = q && asprintf(&sql, "ANALYZE %s", q) >= 0 ? pgconn_exec(c, sql, "analyze", err, errlen) : 0;
        free(q);
        free(sql);
        if (arc < 0)
            goto out;
    }
    if (pgconn_exec(c, "DROP SCHEMA " JOURNAL_SCHEMA " CASCADE", "drop journal", err, errlen) < 0)
        goto out;
    s->t_finish = pf_now() - t0;
    s->chunks = ctx.nchunks;
    s->rows = atomic_load(&ctx.rows);
    s->raw_bytes = atomic_load(&ctx.raw);
    s->entries = ctx.njobs;
    rc = 0;
out:
    if (c && rc < 0 && created_journal) {
        /* nothing committed yet: leave no journal that would ask for --resume */
        PGresult *jr = PQexec(c, "SELECT count(*) FROM " JOURNAL_SCHEMA ".journal");
        if (PQresultStatus(jr) == PGRES_TUPLES_OK && strcmp(PQgetvalue(jr, 0, 0), "0") == 0)
            PQclear(PQexec(c, "DROP SCHEMA " JOURNAL_SCHEMA " CASCADE"));
        PQclear(jr);
    }
    if (c)
        PQfinish(c);
    for (size_t t = 0; t < ctx.ntables; t++) {
        rtable *rt = &ctx.tables[t];
        free(rt->dst_schema);
        free(rt->dst_name);
        free(rt->qname);
        free(rt->label);
        free(rt->listeners);
    }
    free(ctx.tables);
    for (size_t j = 0; j < ctx.njobs; j++) {
        free(ctx.jobs[j].tables);
        free(ctx.jobs[j].dependents);
    }
    free(ctx.jobs);
    free(ctx.ready);
    free(ctx.chunks);
    free(ctx.workers);
    free(ctx.entry_table);
    free(ctx.entry_phase);
    free(ctx.entry_job);
    for (size_t i = 0; ctx.seq_dst && i < ctx.a.n; i++)
        free(ctx.seq_dst[i]);
    free(ctx.seq_dst);
    free(ctx.wanted);
    for (size_t i = 0; i < ctx.ndone; i++)
        free(ctx.done_items[i]);
    free(ctx.done_items);
    for (size_t i = 0; i < nschema_sel; i++)
        free(schema_sel[i]);
    free(schema_sel);
    archive_free(&ctx.a);
    manifest_free(&ctx.m);
    pthread_mutex_destroy(&ctx.mu);
    pthread_cond_destroy(&ctx.cv);
    s->seconds = pf_now() - start;
    return rc;
}
