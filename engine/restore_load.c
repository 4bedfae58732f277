/* restore_load: rows into the target. A load job is some chunks of one table in one
 * transaction that also writes their journal rows; each chunk is checked against the
 * manifest (stored hash, raw hash, rows, content hash) before its COPY may end, or the
 * COPY is aborted and nothing of the job commits. */
#include "engine/restore_int.h"

#include "codec/copyjoin.h"
#include "engine/pgconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int copy_begin(PGconn *conn, const char *qname, const manifest_table *mt, const char *label, int freeze,
                      char *err, size_t errlen)
{
    char *sql = copy_in_sql(conn, qname, mt, copy_format_parse(mt->format) != COPY_TEXT, freeze);
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
    return 0;
}

/* A live source's COPY: the target must have taken every row streamed (a row it took
 * twice or dropped is a difference no hash on our side would see). */
static int check_taken(PGresult *res, const char *label, uint64_t want, char *err, size_t errlen)
{
    const char *n = PQcmdTuples(res);
    if (want == UINT64_MAX || strtoull(n, NULL, 10) == want)
        return 0;
    return pf_err(err, errlen, "table %s: the target took %s rows of the %llu sent", label, n,
                  (unsigned long long)want);
}

/* Ends the COPY: aborted (why != NULL: nothing of it can commit) or completed, and then
 * holding want rows (UINT64_MAX: not checked). */
static int copy_end(PGconn *conn, const char *label, const char *why, uint64_t want, char *err, size_t errlen)
{
    PGresult *res;
    if (why) {
        PQputCopyEnd(conn, why);
        while ((res = PQgetResult(conn)))
            PQclear(res);
        return -1;
    }
    char line[PF_ERRLEN];
    if (PQputCopyEnd(conn, NULL) != 1)
        return pf_err(err, errlen, "table %s: %s", label, pgconn_errline(conn, line, sizeof line));
    res = PQgetResult(conn);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        pf_err(err, errlen, "table %s: %s", label, pgconn_result_errline(res, line, sizeof line));
    else if (check_taken(res, label, want, err, errlen) < 0)
        ok = 0;
    PQclear(res);
    while ((res = PQgetResult(conn)))
        PQclear(res);
    return ok ? 0 : -1;
}

/* Streams one chunk file into the open COPY (through join when joining), then checks it
 * against the manifest. */
static int stream_chunk(restore_ctx *ctx, PGconn *conn, chunkfile_reader *b, const manifest_table *mt,
                        const char *label, size_t ci, copyjoin *join, char *err, size_t errlen)
{
    const manifest_chunk *mc = &mt->chunks[ci];
    char why[PF_ERRLEN];
    const restore_live *live = ctx->o->live;
    if (live) {
        int lrc = live->stream(live->ctx, mt, ci, join ? copyjoin_feed : copy_sink, join ? (void *)join : (void *)conn,
                               why, sizeof why);
        if (lrc == 0 && join)
            lrc = copyjoin_end(join, why, sizeof why);
        return lrc < 0 ? pf_err(err, errlen, "chunk %s (%s chunk %zu): %s", mc->file, label, ci, why) : 0;
    }
    chunkfile_result cr;
    int frc = chunkfile_read(b, ctx->st, mc->file, mc->file, mt->format, join ? copyjoin_feed : copy_sink,
                             join ? (void *)join : (void *)conn, ctx_stopped, ctx, &cr, why, sizeof why);
    if (frc == 0 && join)
        frc = copyjoin_end(join, why, sizeof why);
    if (frc == 0)
        frc = chunkfile_check(&ctx->m, mc, &cr, why, sizeof why);
    if (frc < 0)
        return pf_err(err, errlen, "chunk %s (%s chunk %zu): %s", mc->file, label, ci, why);
    return 0;
}

/* Copies chunks into qname: one COPY per chunk, or one COPY for all of them (one_copy). The
 * caller owns the transaction. */
static int copy_chunks(restore_ctx *ctx, PGconn *conn, chunkfile_reader *b, const manifest_table *mt,
                       const char *qname, const char *label, const size_t *chunks, size_t n, int one_copy, int freeze,
                       char *err, size_t errlen)
{
    int binary = copy_format_parse(mt->format) != COPY_TEXT;
    uint64_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        int first = !one_copy || i == 0, last = !one_copy || i + 1 == n;
        if (first && copy_begin(conn, qname, mt, label, freeze, err, errlen) < 0)
            return -1;
        if (first)
            sent = 0;
        copyjoin join;
        if (one_copy)
            copyjoin_begin(&join, binary, i == 0, i + 1 == n, copy_sink, conn);
        if (stream_chunk(ctx, conn, b, mt, label, chunks[i], one_copy ? &join : NULL, err, errlen) < 0) {
            copy_end(conn, label, "pgferry: chunk failed verification", 0, err, errlen);
            return -1;
        }
        sent += mt->chunks[chunks[i]].rows;
        if (last && copy_end(conn, label, NULL, ctx->o->live ? sent : UINT64_MAX, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void restore_load_item(const restore_ctx *ctx, const rjob *j, char *out, size_t outlen)
{
    /* a job's chunks commit together: the first one's journal row stands for all */
    snprintf(out, outlen, "chunk:%s", ctx->tables[j->table].mt->chunks[j->chunks[0]].file);
}

int restore_load_job(restore_ctx *ctx, PGconn *c, chunkfile_reader *b, const rjob *j, char *err, size_t errlen)
{
    rtable *t = &ctx->tables[j->table];
    char what[512];
    snprintf(what, sizeof what, "table %s", t->label);
    if (pgconn_exec(c, "BEGIN", what, err, errlen) < 0)
        return -1;
    /* a platform's table: its own triggers (and foreign keys) stay quiet for its rows, where
     * the role may say so (--disable-triggers already did for the whole session) */
    if (t->preexisting && ctx->o->profile && ctx->can_replica &&
        pgconn_exec(c, "SET LOCAL session_replication_role = replica", what, err, errlen) < 0)
        goto rollback;
    if (j->freeze) {
        /* FREEZE needs the table created or truncated in this transaction: rows are
         * written frozen, and a crash before COMMIT leaves the table as it was. */
        char *tr = NULL;
        int bad = asprintf(&tr, "TRUNCATE ONLY %s", t->qname) < 0 || pgconn_exec(c, tr, what, err, errlen) < 0;
        free(tr);
        if (bad)
            goto rollback;
    }
    if (copy_chunks(ctx, c, b, t->mt, t->qname, t->label, j->chunks, j->nchunks, j->one_copy, j->freeze, err,
                    errlen) < 0)
        goto rollback;
    for (size_t i = 0; i < j->nchunks; i++) {
        char item[4200];
        snprintf(item, sizeof item, "chunk:%s", t->mt->chunks[j->chunks[i]].file);
        if (restore_journal_add(c, ctx, item, err, errlen) < 0)
            goto rollback;
    }
    if (pgconn_exec(c, "COMMIT", what, err, errlen) < 0)
        goto rollback;
    for (size_t i = 0; i < j->nchunks; i++) {
        atomic_fetch_add(&ctx->rows, t->mt->chunks[j->chunks[i]].rows);
        atomic_fetch_add(&ctx->raw, t->mt->chunks[j->chunks[i]].raw_bytes);
    }
    return 0;
rollback:
    if (PQstatus(c) == CONNECTION_OK)
        PQclear(PQexec(c, "ROLLBACK"));
    return -1;
}

/* Large objects: the dump holds them as rows (oid, owner, acl, data); they go through a
 * temporary table into lo_from_bytea, with their owners and privileges, in one journaled
 * transaction. */
int restore_large_objects(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (restore_journal_has(ctx, "large-objects"))
        return 0;
    int rc = -1;
    const manifest_table *lo = &ctx->m.large_objects;
    size_t *all = calloc(lo->nchunks + 1, sizeof *all);
    chunkfile_reader *b = chunkfile_reader_new(&ctx->m, err, errlen);
    if (!b || !all)
        goto out;
    for (size_t i = 0; i < lo->nchunks; i++)
        all[i] = i;
    /* the temporary table has the dump's columns: (oid, owner, acl, data) in older dumps,
     * (oid, owner, acl, comment, data) now */
    int has_comment = 0;
    char create[512] = "BEGIN; CREATE TEMP TABLE pgferry_lo (";
    for (size_t i = 0; i < lo->ncols; i++) {
        const char *n = lo->cols[i], *type = !strcmp(n, "oid") ? "oid" : !strcmp(n, "data") ? "bytea" : "text";
        if (strcmp(n, "oid") && strcmp(n, "owner") && strcmp(n, "acl") && strcmp(n, "comment") && strcmp(n, "data")) {
            pf_err(err, errlen, "large objects: unknown column \"%s\" in the manifest", n);
            goto out;
        }
        has_comment |= !strcmp(n, "comment");
        snprintf(create + strlen(create), sizeof create - strlen(create), "%s%s %s", i ? ", " : "", n, type);
    }
    snprintf(create + strlen(create), sizeof create - strlen(create), ") ON COMMIT DROP");
    if (pgconn_exec(c, create, "large objects", err, errlen) < 0)
        goto rollback;
    if (copy_chunks(ctx, c, b, lo, "pg_temp.pgferry_lo", "large objects", all, lo->nchunks, 0, 0, err, errlen) < 0)
        goto rollback;
    {
        char sql[4096];
        const char *comments = has_comment ? " FOR r IN SELECT oid, comment FROM pg_temp.pgferry_lo WHERE comment IS NOT NULL LOOP"
                                             "  EXECUTE pg_catalog.format('COMMENT ON LARGE OBJECT %s IS %L', r.oid, r.comment);"
                                             " END LOOP;"
                                           : "";
        /* --clean (also when resuming one): the dump's large objects replace those with
         * the same OIDs, as pg_restore --clean does */
        int replace = ctx->o->clean || restore_journal_has(ctx, "clean");
        snprintf(sql, sizeof sql,
                 "%s"
                 "SELECT count(pg_catalog.lo_from_bytea(oid, data)) FROM pg_temp.pgferry_lo;"
                 "DO $pgferry$ DECLARE r record; BEGIN"
                 "%s%s%s"
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
                 " END LOOP;",
                 comments);
        if (pgconn_exec(c, sql, "large objects", err, errlen) < 0 ||
            restore_journal_add(c, ctx, "large-objects", err, errlen) < 0 ||
            pgconn_exec(c, "COMMIT", "large objects", err, errlen) < 0)
            goto rollback;
    }
    rc = 0;
    goto out;
rollback:
    if (PQstatus(c) == CONNECTION_OK)
        PQclear(PQexec(c, "ROLLBACK"));
out:
    chunkfile_reader_free(b);
    free(all);
    return rc;
}

static int cmp_seq_name(const void *a, const void *b)
{
    const manifest_sequence *x = *(const manifest_sequence *const *)a, *y = *(const manifest_sequence *const *)b;
    int s = strcmp(x->schema, y->schema);
    return s ? s : strcmp(x->name, y->name);
}

/* setval() for every sequence whose SEQUENCE entry is restored, with the value read in
 * the dump's snapshot; a renamed table's identity sequence gets it under its new name.
 * NULL when out of memory. */
char *restore_sequences_sql(restore_ctx *ctx, PGconn *c)
{
    size_t cap = 256, len = 0;
    char *sql = malloc(cap);
    const manifest_sequence **by_name = malloc((ctx->m.nseqs + 1) * sizeof *by_name);
    if (!sql || !by_name) {
        free(sql);
        free(by_name);
        return NULL;
    }
    sql[0] = '\0';
    for (size_t i = 0; i < ctx->m.nseqs; i++)
        by_name[i] = &ctx->m.seqs[i];
    qsort(by_name, ctx->m.nseqs, sizeof *by_name, cmp_seq_name);
    for (size_t k = 0; k < ctx->a.n; k++) {
        archive_entry *e = &ctx->a.entries[k];
        if ((!ctx->wanted[k] && !ctx->seq_extra[k]) || !restore_entry_is(e, "SEQUENCE") || !e->namespace)
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
        if (ctx->seq_extra[k]) /* a platform's sequence: set where the target has it */
            snprintf(line, sizeof line,
                     "SELECT pg_catalog.setval(s, %lld, %s) FROM pg_catalog.to_regclass(%s) s WHERE s IS NOT NULL;\n",
                     (long long)q->last_value, q->is_called ? "true" : "false", lit ? lit : "NULL");
        else
            snprintf(line, sizeof line, "SELECT pg_catalog.setval(%s, %lld, %s);\n", lit ? lit : "NULL",
                     (long long)q->last_value, q->is_called ? "true" : "false");
        free(qn);
        PQfreemem(lit);
        if (len + strlen(line) + 1 > cap) {
            cap = 2 * (len + strlen(line) + 1);
            char *s2 = realloc(sql, cap);
            if (!s2) {
                free(sql);
                free(by_name);
                return NULL;
            }
            sql = s2;
        }
        len += (size_t)sprintf(sql + len, "%s", line);
    }
    free(by_name);
    return sql;
}
