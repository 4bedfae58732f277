/* copy: the driver (see copy.h). */
#include "engine/copy.h"

#include "codec/copyrows.h"
#include "common/pf_util.h"
#include "engine/dump.h"
#include "engine/globals.h"
#include "engine/manifest.h"
#include "engine/pgconn.h"
#include "engine/pgtools.h"
#include "engine/sink_file.h"

#include <pthread.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOURNAL_TABLE "_pgferry.journal"

/* --keep-dump: the file sink (sink_file.c) fed the same bytes, driven here as dump_run
 * drives it; its chunk results are kept until the manifest is written, last. */
typedef struct {
    dump_options o;
    copysink sink;
    copysink_run run;
    int started;
    pthread_mutex_t mu;
    void **idle;           /* worker states not in use (mu) */
    size_t nidle, nws;
    copysink_result *res;  /* per chunk (copy_ctx.first indexing) */
} keep_dump;

typedef struct {
    const copy_options *o;
    dump_source *src;
    manifest *m;
    size_t *first;         /* per table (and the large objects): index of its chunk 0 in read */
    unsigned char *read;   /* per chunk: read from the source in this run */
    keep_dump *keep;       /* --keep-dump, or NULL */
} copy_ctx;

/* ---- one chunk, source to target ------------------------------------------------------- */

/* What passes from the source's COPY to the target's, counted and hashed as sent, and
 * into the kept dump (as read: before anything could alter it). */
typedef struct {
    chunk_sink_fn sink;
    void *sink_ctx;
    copyrows *sent;
    uint64_t bytes;
    int corrupt; /* test builds: flip a byte of the first piece (PGFERRY_TEST_CORRUPT_CHUNK) */
    const copysink_ops *keep;
    void *keep_ws;
    volatile sig_atomic_t *interrupted;
} passage;

static int pass_on(void *vp, const void *buf, size_t len, char *err, size_t errlen)
{
    passage *p = vp;
    if (p->interrupted && *p->interrupted)
        return pf_err(err, errlen, "interrupted");
    if (p->keep_ws && p->keep->chunk_write(p->keep_ws, buf, len, err, errlen) < 0)
        return -1;
#ifdef PGFERRY_TESTING
    if (p->corrupt && len > 0) {
        /* the last byte of the first piece: a row's last value, so the stream still splits
         * into rows and only the content differs */
        ((unsigned char *)buf)[len - 1] ^= 0x01;
        p->corrupt = 0;
    }
#endif
    p->bytes += len;
    if (copyrows_feed(p->sent, buf, len, err, errlen) < 0)
        return -1;
    return p->sink ? p->sink(p->sink_ctx, buf, len, err, errlen) : 0;
}

/* ---- --keep-dump ---------------------------------------------------------------------------- */

static void *keep_take(keep_dump *k, char *err, size_t errlen)
{
    void *ws = NULL;
    pthread_mutex_lock(&k->mu);
    if (k->nidle > 0)
        ws = k->idle[--k->nidle];
    pthread_mutex_unlock(&k->mu);
    if (!ws && (ws = k->sink.ops->worker_new(k->sink.ctx, err, errlen))) {
        pthread_mutex_lock(&k->mu);
        void **i2 = realloc(k->idle, (k->nws + 1) * sizeof *i2);
        if (i2) {
            k->idle = i2;
            k->nws++;
        }
        pthread_mutex_unlock(&k->mu);
        if (!i2) {
            k->sink.ops->worker_free(ws);
            pf_err(err, errlen, "out of memory");
            return NULL;
        }
    }
    return ws;
}

static void keep_give(keep_dump *k, void *ws)
{
    pthread_mutex_lock(&k->mu);
    k->idle[k->nidle++] = ws; /* room for every state made */
    pthread_mutex_unlock(&k->mu);
}

/* Starts the kept chunk's file (p->keep_ws set), or does nothing without --keep-dump. */
static int keep_begin(copy_ctx *cc, size_t t, size_t ci, const manifest_table *mt, passage *p, char *err,
                      size_t errlen)
{
    keep_dump *k = cc->keep;
    if (!k)
        return 0;
    copysink_chunk c = {t, (unsigned)ci, mt->chunks[ci].raw_bytes, copy_format_parse(mt->format) != COPY_TEXT};
    if (!(p->keep_ws = keep_take(k, err, errlen)))
        return -1;
    p->keep = k->sink.ops;
    if (p->keep->chunk_begin(p->keep_ws, &c, err, errlen) < 0) {
        keep_give(k, p->keep_ws);
        p->keep_ws = NULL;
        return -1;
    }
    return 0;
}

/* Commits the kept chunk's file (ok) or drops it. */
static int keep_end(copy_ctx *cc, size_t idx, passage *p, int ok, char *err, size_t errlen)
{
    keep_dump *k = cc->keep;
    if (!p->keep_ws)
        return ok ? 0 : -1;
    copysink_result res;
    if (!ok)
        p->keep->chunk_abort(p->keep_ws);
    else if (p->keep->chunk_end(p->keep_ws, &res, err, errlen) < 0)
        ok = 0;
    else {
        pthread_mutex_lock(&k->mu);
        free(k->res[idx].file);
        k->res[idx] = res;
        pthread_mutex_unlock(&k->mu);
    }
    keep_give(k, p->keep_ws);
    p->keep_ws = NULL;
    return ok ? 0 : -1;
}

/* The table's index in the manifest (the large objects are m->ntables). */
static size_t table_index(const copy_ctx *cc, const manifest_table *mt)
{
    const manifest *m = cc->m;
    if (mt >= m->tables && mt < m->tables + m->ntables)
        return (size_t)(mt - m->tables);
    return m->ntables;
}

static int corrupt_wanted(const manifest_table *mt, size_t ci)
{
#ifdef PGFERRY_TESTING
    const char *want = getenv("PGFERRY_TEST_CORRUPT_CHUNK");
    char name[512];
    snprintf(name, sizeof name, "%s.%s", mt->schema, mt->name);
    return want && ci == 0 && strcmp(want, name) == 0;
#else
    (void)mt, (void)ci;
    return 0;
#endif
}

/* Chunk ci of table t from the source through pass_on into sink (NULL: read only), and into
 * the kept dump; what was sent must be what the source's row splitter read, row for row.
 * Fills the chunk's figures in the plan. */
static int read_chunk(copy_ctx *cc, size_t t, const manifest_table *mt, size_t ci, chunk_sink_fn sink,
                      void *sink_ctx, char *err, size_t errlen)
{
    passage p = {sink, sink_ctx, NULL, 0, sink ? corrupt_wanted(mt, ci) : 0, NULL, NULL, cc->o->interrupted};
    int binary = copy_format_parse(mt->format) != COPY_TEXT;
    if (!(p.sent = copyrows_new(binary ? COPYROWS_BINARY : COPYROWS_TEXT)))
        return pf_err(err, errlen, "out of memory");
    uint64_t rows = 0;
    rowhash content = {0, 0};
    int rc = keep_begin(cc, t, ci, mt, &p, err, errlen);
    if (rc == 0)
        rc = dump_source_read(cc->src, t, ci, pass_on, &p, &rows, &content, err, errlen);
    if (rc == 0 && copyrows_finish(p.sent, err, errlen) < 0)
        rc = -1;
    if (rc == 0) {
        rowhash sent = copyrows_hash(p.sent);
        if (copyrows_rows(p.sent) != rows || !rowhash_equal(&sent, &content))
            rc = pf_err(err, errlen, "the rows sent to the target differ from the rows read at the source (%llu read, %llu sent, content hash %s)",
                        (unsigned long long)rows, (unsigned long long)copyrows_rows(p.sent),
                        rowhash_equal(&sent, &content) ? "equal" : "different");
    }
    copyrows_free(p.sent);
    if (keep_end(cc, cc->first[t] + ci, &p, rc == 0, err, errlen) < 0 || rc < 0)
        return -1;
    cc->read[cc->first[t] + ci] = 1;
    manifest_chunk *mc = &mt->chunks[ci];
    mc->rows = rows;
    mc->content = content;
    mc->raw_bytes = p.bytes;
    return 0;
}

/* restore_live.stream: chunk ci of mt from the source into the target's open COPY. */
static int copy_stream(void *vctx, const manifest_table *mt, size_t ci, chunk_sink_fn sink, void *sink_ctx, char *err,
                       size_t errlen)
{
    copy_ctx *cc = vctx;
    return read_chunk(cc, table_index(cc, mt), mt, ci, sink, sink_ctx, err, errlen);
}

/* ---- the schema: pg_dump in the snapshot ----------------------------------------------- */

/* Reads fd to its end into a malloc'd buffer. */
static int read_all(int fd, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    size_t cap = 1 << 20, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return pf_err(err, errlen, "out of memory");
    for (;;) {
        if (len == cap) {
            unsigned char *b2 = realloc(buf, cap * 2);
            if (!b2) {
                free(buf);
                return pf_err(err, errlen, "out of memory");
            }
            buf = b2;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return pf_err(err, errlen, "read from pg_dump: %s", strerror(errno));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

/* pg_dump --schema-only of exactly the tables the catalog selected, in the snapshot, its
 * custom-format archive read from a pipe; its stderr goes to logf. */
static int run_pg_dump(copy_ctx *cc, const char *logf, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    const catalog *cat = dump_source_catalog(cc->src);
    pid_t pid = -1;
    int fd = -1;
    if (pgtools_schema_dump(cc->o->source, pgconn_server_major(dump_source_coord(cc->src)),
                            dump_source_snapshot(cc->src), NULL, cat->pgdump_args, cat->npgdump_args, logf, &pid, &fd,
                            err, errlen) < 0)
        return -1;
    char e2[PF_ERRLEN];
    int rrc = read_all(fd, out, outlen, e2, sizeof e2);
    close(fd);
    int rc = pgtools_wait(pid, 1, "pg_dump --schema-only", logf, err, errlen) != 0 ? -1 : 0;
    if (rc == 0 && rrc < 0)
        rc = pf_err(err, errlen, "%s", e2);
    if (rc < 0 && rrc == 0)
        free(*out);
    return rc;
}

static int schema_archive(copy_ctx *cc, archive *a, char *err, size_t errlen)
{
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char logf[4096];
    snprintf(logf, sizeof logf, "%s/pgferry-pg_dump-XXXXXX", tmpdir);
    int fd = mkstemp(logf);
    if (fd < 0)
        return pf_err(err, errlen, "create a temp file in %s for pg_dump's log: %s", tmpdir, strerror(errno));
    close(fd);
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = run_pg_dump(cc, logf, &data, &len, err, errlen);
    unlink(logf);
    if (rc < 0)
        return -1;
    return archive_from_memory(data, len, "pg_dump's schema archive", a, err, errlen);
}

/* ---- before anything is written -------------------------------------------------------- */

/* The cluster's start time and the database's oid: equal on both sides only when source
 * and target are one database. NULL with err when it cannot be read. */
static char *db_identity(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = pgconn_query(c,
                               "SELECT pg_catalog.pg_postmaster_start_time()::text || '/' || d.oid"
                               " FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
                               0, NULL, "identify database", err, errlen);
    char *id = r && PQntuples(r) == 1 ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    if (r && !id)
        pf_err(err, errlen, "identify database: no answer");
    PQclear(r);
    return id;
}

static int journal_exists(PGconn *c, int *exists, char *err, size_t errlen)
{
    PGresult *r = pgconn_query(c, "SELECT pg_catalog.to_regclass('" JOURNAL_TABLE "') IS NOT NULL", 0, NULL,
                               "check journal", err, errlen);
    if (!r)
        return -1;
    *exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

/* The target (unless --create makes it): reachable, not the source itself, and with an
 * unfinished copy's journal when resuming. */
static int check_target(const copy_options *o, char *err, size_t errlen)
{
    if (o->create && !o->resume)
        return 0; /* made by the restore, which refuses a name that exists */
    char e2[PF_ERRLEN];
    PGconn *src = pgconn_open(o->source, e2, sizeof e2);
    if (!src)
        return pf_err(err, errlen, "source: %s", e2);
    PGconn *dst = pgconn_open(o->target, e2, sizeof e2);
    if (!dst) {
        PQfinish(src);
        /* --create --resume of a run killed before its CREATE DATABASE: the restore makes it */
        return o->create ? 0 : pf_err(err, errlen, "target: %s", e2);
    }
    char *a = db_identity(src, err, errlen), *b = a ? db_identity(dst, err, errlen) : NULL;
    int rc = a && b ? 0 : -1, exists = 0;
    if (rc == 0 && strcmp(a, b) == 0)
        rc = pf_err(err, errlen, "source and target are the same database (\"%s\"): copy into another database",
                    PQdb(dst));
    if (rc == 0 && o->resume && journal_exists(dst, &exists, err, errlen) < 0)
        rc = -1;
    if (rc == 0 && o->resume && !exists)
        rc = pf_err(err, errlen, "--resume: no unfinished copy in database \"%s\" (no " JOURNAL_TABLE "): run without --resume",
                    PQdb(dst));
    free(a);
    free(b);
    PQfinish(src);
    PQfinish(dst);
    return rc;
}

/* ---- resuming ------------------------------------------------------------------------------ */

static manifest_table *nth_table(manifest *m, size_t t)
{
    return t < m->ntables ? &m->tables[t] : m->has_large_objects ? &m->large_objects : NULL;
}

/* Which chunks this run reads: one flag per chunk of the plan. */
static int track_reads(copy_ctx *cc, char *err, size_t errlen)
{
    manifest *m = cc->m;
    size_t total = 0;
    if (!(cc->first = calloc(m->ntables + 2, sizeof *cc->first)))
        return pf_err(err, errlen, "out of memory");
    for (size_t t = 0; t <= m->ntables; t++) {
        cc->first[t] = total;
        manifest_table *mt = nth_table(m, t);
        total += mt ? mt->nchunks : 0;
    }
    return (cc->read = calloc(total + 1, 1)) ? 0 : pf_err(err, errlen, "out of memory");
}

/* The plan's fingerprint, as the journal's identity of this copy ("dump" column): every
 * table's name, columns, format and chunk ranges, by index, since the journal names
 * chunks by table index and sequence. A resumed copy whose plan differs is refused. */
static void fingerprint(manifest *m)
{
    rowhash fp = {0, 0};
    for (size_t t = 0; t <= m->ntables; t++) {
        manifest_table *mt = nth_table(m, t);
        if (!mt)
            continue;
        char line[8192];
        int n = snprintf(line, sizeof line, "%zu|%s|%s|%s|%zu", t, mt->schema, mt->name, mt->format, mt->nchunks);
        for (size_t c = 0; c < mt->ncols && n > 0 && (size_t)n < sizeof line; c++)
            n += snprintf(line + n, sizeof line - (size_t)n, "|%s", mt->cols[c]);
        rowhash_add_row(&fp, line, (size_t)n < sizeof line ? (size_t)n : sizeof line);
        for (size_t c = 0; c < mt->nchunks; c++) {
            n = snprintf(line, sizeof line, "%zu.%zu|%d|%llu|%llu", t, c, mt->chunks[c].ranged,
                         (unsigned long long)mt->chunks[c].start_page, (unsigned long long)mt->chunks[c].end_page);
            rowhash_add_row(&fp, line, (size_t)n);
        }
    }
    char hex[33];
    rowhash_hex(&fp, hex);
    snprintf(m->checksum, sizeof m->checksum, "copy-%s", hex);
}

/* Chunks an interrupted run committed were not read in this snapshot: read them now (no
 * target involved) so the final comparison holds the whole table against this snapshot,
 * and the kept dump has them. */
static int rehash_skipped(copy_ctx *cc, char *err, size_t errlen)
{
    manifest *m = cc->m;
    size_t n = 0;
    for (size_t t = 0; t <= m->ntables; t++) {
        manifest_table *mt = nth_table(m, t);
        for (size_t c = 0; mt && c < mt->nchunks; c++) {
            if (cc->read[cc->first[t] + c])
                continue;
            if (read_chunk(cc, t, mt, c, NULL, NULL, err, errlen) < 0)
                return -1;
            n++;
        }
    }
    if (n > 0)
        pf_notice(cc->o->notice, cc->o->notice_ctx,
                  "copy: %zu chunk%s the interrupted run committed read again in the new snapshot, for the final comparison",
                  n, n == 1 ? "" : "s");
    return 0;
}

/* ---- the kept dump's life ------------------------------------------------------------------- */

static size_t total_chunks(const copy_ctx *cc)
{
    const manifest *m = cc->m;
    size_t n = m->has_large_objects ? m->large_objects.nchunks : 0;
    for (size_t t = 0; t < m->ntables; t++)
        n += m->tables[t].nchunks;
    return n;
}

/* The dump's directory checked (new or empty), before anything is read; its sink starts
 * once the schema archive is read (keep_start). */
static int keep_open(copy_ctx *cc, keep_dump *k, char *err, size_t errlen)
{
    const copy_options *o = cc->o;
    k->o.dir = o->keep_dump;
    k->o.conninfo = o->source;
    k->o.jobs = o->jobs;
    k->o.codec = CHUNK_CODEC_ZSTD;
    k->o.level = 1;
    k->o.chunk_size = DUMP_DEFAULT_CHUNK_SIZE;
    k->o.profile = o->profile;
    k->o.globals = o->globals;
    pthread_mutex_init(&k->mu, NULL);
    if (!(k->res = calloc(total_chunks(cc) + 1, sizeof *k->res)))
        return pf_err(err, errlen, "out of memory");
    char e2[PF_ERRLEN];
    if (sink_file_open(&k->o, &k->sink, e2, sizeof e2) < 0)
        return pf_err(err, errlen, "--keep-dump: %s", e2);
    k->run = (copysink_run){dump_source_coord(cc->src), dump_source_snapshot(cc->src), dump_source_catalog(cc->src),
                            cc->m};
    return 0;
}

/* The sink started with copy's own schema archive and globals (the same pg_dump and query,
 * in the same snapshot, a dump would run): the directory is created and chunks may come. */
static int keep_start(copy_ctx *cc, keep_dump *k, const archive *a, const char *globals, char *err,
                      size_t errlen)
{
    if (sink_file_use_read(&k->sink, a->data, a->len, globals, err, errlen) < 0)
        return -1;
    k->started = 1;
    if (k->sink.ops->start(k->sink.ctx, &k->run, err, errlen) < 0)
        return -1;
    cc->keep = k;
    return 0;
}

/* The plan becomes the dump's manifest: each chunk's file and stored figures. */
static int keep_manifest(copy_ctx *cc, keep_dump *k, char *err, size_t errlen)
{
    manifest *m = cc->m;
    for (size_t t = 0; t <= m->ntables; t++) {
        manifest_table *mt = nth_table(m, t);
        for (size_t c = 0; mt && c < mt->nchunks; c++) {
            copysink_result *r = &k->res[cc->first[t] + c];
            manifest_chunk *mc = &mt->chunks[c];
            if (!r->file)
                return pf_err(err, errlen, "--keep-dump: chunk %zu of %s.%s was not written", c, mt->schema, mt->name);
            free(mc->file);
            mc->file = r->file;
            r->file = NULL;
            mc->raw_hash = r->raw_hash;
            mc->stored_bytes = r->stored_bytes;
            mc->stored_hash = r->stored_hash;
            mc->codec = r->codec;
            mt->stored_bytes += r->stored_bytes;
        }
    }
    return 0;
}

/* Once the target is verified: the schema archive and the manifest, last. */
static int keep_finish(copy_ctx *cc, keep_dump *k, char *err, size_t errlen)
{
    int w;
    while ((w = k->sink.ops->poll(k->sink.ctx, err, errlen)) == 1)
        usleep(20000);
    if (w < 0 || k->sink.ops->finish(k->sink.ctx, &k->run, err, errlen) < 0 || keep_manifest(cc, k, err, errlen) < 0)
        return -1;
    if (k->sink.ops->complete(k->sink.ctx, &k->run, err, errlen) < 0)
        return -1;
    k->started = 0; /* complete */
    return 0;
}

/* A dump not completed is removed: nothing is left looking like one. */
static void keep_close(keep_dump *k, size_t nres)
{
    if (k->started)
        k->sink.ops->fail(k->sink.ctx);
    for (size_t i = 0; i < k->nidle; i++)
        k->sink.ops->worker_free(k->idle[i]);
    free(k->idle);
    if (k->sink.ops)
        sink_file_close(&k->sink);
    for (size_t i = 0; k->res && i < nres; i++)
        free(k->res[i].file);
    free(k->res);
    pthread_mutex_destroy(&k->mu);
}

/* ---- the run ------------------------------------------------------------------------------ */

/* Each table's totals from its chunks, as a dump's manifest has them. */
static void sum_tables(manifest *m)
{
    for (size_t t = 0; t <= m->ntables; t++) {
        manifest_table *mt = nth_table(m, t);
        if (!mt)
            continue;
        mt->rows = mt->raw_bytes = 0;
        memset(&mt->content, 0, sizeof mt->content);
        for (size_t c = 0; c < mt->nchunks; c++) {
            mt->rows += mt->chunks[c].rows;
            mt->raw_bytes += mt->chunks[c].raw_bytes;
            rowhash_add(&mt->content, &mt->chunks[c].content);
        }
    }
}

/* The restore with the source live: pre-data, loads, post-data, finishing steps. */
static int load(copy_ctx *cc, archive *a, const char *globals, copy_summary *s, char *err, size_t errlen)
{
    const copy_options *o = cc->o;
    restore_live live = {cc->m, a, globals, copy_stream, cc};
    restore_options ro;
    memset(&ro, 0, sizeof ro);
    ro.live = &live;
    ro.conninfo = o->target;
    ro.jobs = o->jobs;
    ro.create = o->create;
    ro.resume = o->resume;
    ro.profile = o->profile;
    ro.globals = o->globals;
    ro.progress = o->progress;
    ro.progress_ctx = o->progress_ctx;
    ro.notice = o->notice;
    ro.notice_ctx = o->notice_ctx;
    ro.job_done = o->job_done;
    ro.job_ctx = o->job_ctx;
    ro.interrupted = o->interrupted;
    return restore_run(&ro, &s->load, err, errlen);
}

/* Every table of the target read back and compared with what the source's snapshot held. */
static int compare(copy_ctx *cc, copy_summary *s, char *err, size_t errlen)
{
    const copy_options *o = cc->o;
    sum_tables(cc->m);
    if (verify_db_run(cc->m, o->target, o->jobs, o->interrupted, NULL, NULL, &s->verify, err, errlen) < 0)
        return -1;
    s->verify_seconds = s->verify.seconds;
    if (s->verify.problems == 0)
        return 0;
    size_t n = (size_t)snprintf(err, errlen, "the target differs from the source in %zu table%s:",
                                s->verify.problems, s->verify.problems == 1 ? "" : "s");
    for (size_t i = 0; i < s->verify.ntables && n < errlen; i++) {
        const verify_db_table *t = &s->verify.tables[i];
        if (t->status != VERIFY_DB_OK)
            n += (size_t)snprintf(err + n, errlen - n, " %s.%s (%s)", t->schema, t->name,
                                  verify_db_status_text(t->status));
    }
    if (o->resume && n < errlen)
        snprintf(err + n, errlen - n, "; rows the interrupted run committed changed at the source since: copy again into a new or empty database");
    return -1;
}

static int copy_steps(copy_ctx *cc, const dump_options *d, copy_summary *s, char *err, size_t errlen)
{
    const copy_options *o = cc->o;
    archive a;
    memset(&a, 0, sizeof a);
    char *globals = NULL;
    if (dump_source_open(d, &cc->src, err, errlen) < 0)
        return -1;
    cc->m = dump_source_manifest(cc->src);
    snprintf(s->snapshot, sizeof s->snapshot, "%s", dump_source_snapshot(cc->src));
    fingerprint(cc->m);
    if (track_reads(cc, err, errlen) < 0)
        return -1;
    if (o->resume)
        pf_notice(o->notice, o->notice_ctx,
                  "copy: --resume reads a new snapshot of the source (%s): loads that committed are kept, the rest are read in it, and every table is compared with it at the end",
                  s->snapshot);
    keep_dump keep;
    memset(&keep, 0, sizeof keep);
    int rc = o->keep_dump ? keep_open(cc, &keep, err, errlen) : 0;
    if (rc == 0)
        rc = schema_archive(cc, &a, err, errlen);
    if (rc == 0 && o->globals && !(globals = globals_read(dump_source_coord(cc->src), err, errlen)))
        rc = -1;
    if (rc == 0 && o->keep_dump)
        rc = keep_start(cc, &keep, &a, globals, err, errlen);
    if (rc == 0)
        rc = load(cc, &a, globals, s, err, errlen);
    archive_free(&a); /* empty when the restore took it */
    free(globals);
    if (rc == 0 && o->resume)
        rc = rehash_skipped(cc, err, errlen);
    if (rc == 0)
        rc = compare(cc, s, err, errlen);
    if (rc == 0 && o->keep_dump)
        rc = keep_finish(cc, &keep, err, errlen);
    if (o->keep_dump)
        keep_close(&keep, cc->read ? total_chunks(cc) : 0);
    cc->keep = NULL;
    return rc;
}

int copy_run(const copy_options *o, copy_summary *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    double start = pf_now();
    if (check_target(o, err, errlen) < 0)
        return -1;
    dump_options d;
    memset(&d, 0, sizeof d);
    d.conninfo = o->source;
    d.jobs = o->jobs;
    d.filter = o->filter;
    d.codec = CHUNK_CODEC_NONE;
    d.chunk_size = DUMP_DEFAULT_CHUNK_SIZE;
    d.profile = o->profile;
    d.interrupted = o->interrupted;
    copy_ctx cc = {o, NULL, NULL, NULL, NULL, NULL};
    int rc = copy_steps(&cc, &d, s, err, errlen);
    free(cc.first);
    free(cc.read);
    char e2[PF_ERRLEN];
    if (dump_source_close(cc.src, e2, sizeof e2) < 0 && rc == 0)
        rc = pf_err(err, errlen, "%s", e2);
    s->seconds = pf_now() - start;
    return rc;
}

void copy_summary_free(copy_summary *s)
{
    verify_db_result_free(&s->verify);
}
