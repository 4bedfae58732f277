/* restore: the driver. The parts are in restore_*.c (see restore_int.h). */
#include "engine/restore_int.h"

#include "engine/dumpcheck.h"
#include "engine/dumpdir.h"
#include "engine/globals.h"
#include "engine/pgconn.h"
#include "engine/pgtools.h"
#include "engine/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void restore_job_done(const restore_ctx *ctx, const char *kind, const char *name, double seconds, uint64_t rows,
                      uint64_t bytes)
{
    if (!ctx->o->job_done)
        return;
    pf_job j = {kind, name, seconds, rows, bytes};
    ctx->o->job_done(ctx->o->job_ctx, &j);
}

void restore_fail(restore_ctx *ctx, const char *msg)
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

/* The progress figures, to the caller's callback (the CLI draws them). */
static void report_progress(restore_ctx *ctx, double start, int state)
{
    restore_progress p;
    memset(&p, 0, sizeof p);
    p.elapsed = pf_now() - start;
    p.raw_bytes = atomic_load(&ctx->raw);
    p.eta = p.raw_bytes > 0 && ctx->total_raw > p.raw_bytes
                ? p.elapsed * (double)(ctx->total_raw - p.raw_bytes) / (double)p.raw_bytes
                : -1;
    p.chunks_done = atomic_load(&ctx->chunks_done);
    p.chunks = ctx->nchunks;
    p.rows = atomic_load(&ctx->rows);
    p.post_done = atomic_load(&ctx->entries_done);
    p.post_total = ctx->nentry_jobs;
    p.state = state;
    ctx->o->progress(ctx->o->progress_ctx, &p);
}

static void draw_progress(restore_ctx *ctx, double start, int final)
{
    report_progress(ctx, start, final ? 1 : 0);
}

/* The target database's name, from the connection options (as libpq reads them: -d's
 * dbname, else PGDATABASE). */
static char *target_name(const char *conninfo)
{
    char *perr = NULL, *name = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
    PQfreemem(perr);
    for (PQconninfoOption *p = opts; p && p->keyword; p++)
        if (strcmp(p->keyword, "dbname") == 0 && p->val && *p->val)
            name = strdup(p->val);
    PQconninfoFree(opts);
    if (!name && getenv("PGDATABASE") && *getenv("PGDATABASE"))
        name = strdup(getenv("PGDATABASE"));
    return name;
}

/* REFRESH MATERIALIZED VIEW for each restored one, in archive (dependency) order: their
 * contents are data, filled once their tables' rows and indexes are in. */
static char *matview_sql(restore_ctx *ctx, PGconn *c)
{
    size_t cap = 64, len = 0;
    char *mv = malloc(cap);
    if (!mv)
        return NULL;
    mv[0] = '\0';
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i] || !restore_entry_is(e, "MATERIALIZED VIEW") || !e->namespace)
            continue;
        if (manifest_unpopulated(&ctx->m, e->namespace, e->tag))
            continue; /* WITH NO DATA at the source: stays so */
        char *q = pgconn_qualified(c, e->namespace, e->tag), line[1200];
        snprintf(line, sizeof line, "REFRESH MATERIALIZED VIEW %s;\n", q ? q : "");
        free(q);
        if (len + strlen(line) + 1 > cap) {
            cap = 2 * (len + strlen(line) + 1);
            char *m2 = realloc(mv, cap);
            if (!m2) {
                free(mv);
                return NULL;
            }
            mv = m2;
        }
        len += (size_t)sprintf(mv + len, "%s", line);
    }
    return mv;
}

/* Partitioned tables' own statistics (across their partitions) need their own ANALYZE: done
 * as a job where the restore creates the partition root (it analyzes the partitions too);
 * here, at the end, for partitions restored into a root that was there (their own ANALYZE
 * ran as their rows came in). */
static int analyze_parents(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (restore_journal_has(ctx, "analyze-parents"))
        return 0;
    size_t cap = 64, len = 0;
    char *sql = malloc(cap);
    if (!sql)
        return pf_err(err, errlen, "out of memory");
    sql[0] = '\0';
    for (size_t t = 0; t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        if (!rt->selected || rt->renamed || !rt->mt->parent_name || rt->root_analyzed)
            continue;
        int seen = 0;
        for (size_t k = 0; k < t && !seen; k++)
            seen = ctx->tables[k].selected && !ctx->tables[k].renamed && ctx->tables[k].mt->parent_name &&
                   !strcmp(ctx->tables[k].mt->parent_name, rt->mt->parent_name) &&
                   !strcmp(ctx->tables[k].mt->parent_schema, rt->mt->parent_schema);
        if (seen)
            continue;
        char *q = pgconn_qualified(c, rt->mt->parent_schema, rt->mt->parent_name);
        size_t need = len + (q ? strlen(q) : 0) + 16;
        if (need > cap) {
            cap = 2 * need;
            char *s2 = realloc(sql, cap);
            if (!s2) {
                free(q);
                free(sql);
                return pf_err(err, errlen, "out of memory");
            }
            sql = s2;
        }
        len += (size_t)sprintf(sql + len, "ANALYZE %s;\n", q ? q : "");
        free(q);
    }
    int rc = *sql ? restore_run_journaled(c, ctx, sql, "analyze-parents", "analyze", err, errlen) : 0;
    free(sql);
    return rc;
}

static int finish_steps(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    int lo = ctx->m.has_large_objects && o->ntables == 0 && o->nschemas == 0;
    if (ctx->do_data && !restore_journal_has(ctx, "sequences")) {
        /* never twice: the application may have used the sequences since */
        char *seq = restore_sequences_sql(ctx, c);
        int src = !seq ? pf_err(err, errlen, "out of memory")
                  : *seq ? restore_run_journaled(c, ctx, seq, "sequences", "set sequences", err, errlen)
                         : 0;
        free(seq);
        if (src < 0)
            return -1;
    }
    if (ctx->do_data && lo && restore_large_objects(ctx, c, err, errlen) < 0)
        return -1;
    if (ctx->do_pre && (restore_acl_baseline(ctx, c, err, errlen) < 0 ||
                        restore_run_phase(ctx, c, PH_ACL, "acl", NULL, err, errlen) < 0))
        return -1;
    /* event triggers (post-data) and materialized views' contents (data: --data-only
     * refreshes them too, as pg_restore does) */
    char *mv = ctx->do_data ? matview_sql(ctx, c) : strdup("");
    if (!mv)
        return pf_err(err, errlen, "out of memory");
    int prc = restore_run_phase(ctx, c, ctx->do_post ? PH_POSTACL : PH_SKIP, "post-acl", mv, err, errlen);
    free(mv);
    if (prc < 0)
        return -1;
    if (ctx->do_data && !o->no_analyze && analyze_parents(ctx, c, err, errlen) < 0)
        return -1;
    /* the database's own settings last: a default like default_transaction_read_only must
     * not apply to the restore itself */
    if (ctx->db_finish_sql && *ctx->db_finish_sql && !restore_journal_has(ctx, "database") &&
        restore_run_archive_sql(c, ctx, ctx->db_finish_sql, "database", "database properties", err, errlen) < 0)
        return -1;
    return 0;
}

static void sections(restore_ctx *ctx)
{
    const restore_options *o = ctx->o;
    int s = o->sections;
    if (!s)
        s = o->schema_only ? RESTORE_SECTION_PRE | RESTORE_SECTION_POST
            : o->data_only ? RESTORE_SECTION_DATA
                           : RESTORE_SECTION_PRE | RESTORE_SECTION_DATA | RESTORE_SECTION_POST;
    ctx->do_pre = !!(s & RESTORE_SECTION_PRE);
    ctx->do_data = !!(s & RESTORE_SECTION_DATA);
    ctx->do_post = !!(s & RESTORE_SECTION_POST);
}

/* Whether the role may set session_replication_role (a superuser, Supabase's postgres, or
 * GRANT SET ON PARAMETER): rows that go into a platform's tables then do not fire their
 * triggers, and their foreign keys need no load order. */
static int probe_replica(PGconn *c)
{
    PGresult *r = PQexec(c, "SET session_replication_role = replica");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQclear(PQexec(c, "RESET session_replication_role"));
    return ok;
}

static int apply_globals(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    const restore_live *live = ctx->o->live;
    if (!live && !ctx->m.globals_file)
        return pf_err(err, errlen, "--globals: this dump holds no roles or tablespaces (dump it with --globals)");
    char *text = NULL;
    size_t len = 0;
    globals_result gr;
    if (live && (!live->globals || !(text = strdup(live->globals))))
        return pf_err(err, errlen, "--globals: %s", live->globals ? "out of memory" : "the source's roles were not read");
    len = text ? strlen(text) : 0;
    if (!live && dumpdir_read_small(ctx->st, &ctx->m, ctx->m.globals_file, &text, &len, err, errlen) < 0)
        return -1;
    int rc = globals_apply(c, text, len, ctx->o->profile, ctx->o->notice, ctx->o->notice_ctx, &gr, err, errlen);
    free(text);
    if (rc == 0 && ctx->o->progress)
        pf_notice(ctx->o->notice, ctx->o->notice_ctx,
                  "restore: globals: %zu roles created (%zu there already, %zu reserved), %zu memberships, %zu tablespaces created",
                  gr.roles_created, gr.roles_existing, gr.roles_reserved, gr.memberships, gr.tablespaces_created);
    return rc;
}

/* 1 when something of this restore committed: a failed run leaves it for --resume. */
static int anything_committed(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM " JOURNAL_SCHEMA ".journal");
    int any = PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    PQclear(r);
    return any;
}

/* 1. The dump: the same checks as every command (manifest, files, schema archive, its
 * tables against the data); chunk contents are checked as each chunk loads. */
static int check_dump(restore_ctx *ctx, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    char tmp[PF_ERRLEN];
    if (o->live) {
        /* a live source: its plan and archive, read in one snapshot, need no checks */
        ctx->m = *o->live->m;
        ctx->a = *o->live->a;
        memset(o->live->a, 0, sizeof *o->live->a);
        return restore_setup_tables(ctx, err, errlen);
    }
    if (!(ctx->st = store_open(o->dir, 0, tmp, sizeof tmp)) ||
        manifest_read_key(ctx->st, o->passphrase, &ctx->m, tmp, sizeof tmp) < 0)
        return pf_err(err, errlen, "refusing to restore: %s", tmp);
    dumpcheck_first first = {0};
    long problems = dumpcheck_dir(ctx->st, &ctx->m, dumpcheck_keep_first, &first, &ctx->a, NULL, err, errlen);
    if (problems < 0)
        return -1;
    if (problems > 0)
        return pf_err(err, errlen, "refusing to restore %s: %s%s", o->dir, first.first,
                      problems > 1 ? " (and more: run pgferry verify)" : "");
    if (restore_setup_tables(ctx, err, errlen) < 0)
        return -1;
    for (size_t t = 0; !ctx->do_pre && t < ctx->ntables; t++)
        ctx->tables[t].preexisting = 1; /* --data-only: into the tables as they are */
    return 0;
}

/* 2. The schema archive: the entries to restore, rendered by pg_restore. */
static int render_archive(restore_ctx *ctx, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    char pg_restore[4096];
    int src_major = ctx->m.server_version_num >= 100000 ? ctx->m.server_version_num / 10000 : 10;
    if (pgtools_find("pg_restore", src_major, pg_restore, sizeof pg_restore, err, errlen) < 0)
        return -1;
    size_t n = ctx->a.n + 1;
    ctx->entry_table = malloc(n * sizeof(long));
    ctx->entry_phase = calloc(n, sizeof(int));
    ctx->wanted = calloc(n, 1);
    ctx->keep_create = calloc(n, 1);
    ctx->seq_dst = calloc(n, sizeof(char *));
    ctx->if_absent = calloc(n, 1);
    ctx->seq_extra = calloc(n, 1);
    ctx->for_renamed = calloc(n, 1);
    if (!ctx->entry_table || !ctx->entry_phase || !ctx->wanted || !ctx->keep_create || !ctx->seq_dst ||
        !ctx->if_absent || !ctx->seq_extra || !ctx->for_renamed)
        return pf_err(err, errlen, "out of memory");
    restore_map_tables(ctx);
    if (restore_select_entries(ctx, err, errlen) < 0)
        return -1;
    /* pg_restore -C writes the database's own SQL (CREATE DATABASE, \connect) whether or
     * not the list names its entry: only when that entry is wanted (--create without -t or
     * -n; with them the database gets the server's defaults, restore_create_database) */
    int database_sql = 0;
    for (size_t i = 0; i < n; i++)
        database_sql |= ctx->wanted[i] && restore_is_database_entry(&ctx->a.entries[i]);
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    return archive_render(&ctx->a, pg_restore, ctx->wanted, o->no_owner, o->no_acl, database_sql, tmpdir, err,
                          errlen);
}

/* 3. The target: created (--create), connected, checked as a whole (all that is missing
 * in one error, before anything of the dump is written), the journal opened. */
static int prepare_target(restore_ctx *ctx, PGconn **cp, int *journal_open, restore_summary *s, char *err,
                          size_t errlen)
{
    const restore_options *o = ctx->o;
    ctx->target_db = target_name(o->conninfo);
    if (o->create && !ctx->target_db)
        return pf_err(err, errlen, "--create needs the new database's name (-d dbname=NAME)");
    if (o->create && restore_create_database(ctx, err, errlen) < 0)
        return -1;
    PGconn *c = *cp = restore_connect(ctx, err, errlen);
    if (!c)
        return -1;
    snprintf(s->database, sizeof s->database, "%s", PQdb(c));
    for (size_t t = 0; t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        if (!(rt->qname = pgconn_qualified(c, rt->dst_schema, rt->dst_name)) ||
            (rt->mt->parent_name && !rt->renamed &&
             !(rt->root_qname = pgconn_qualified(c, rt->mt->parent_schema, rt->mt->parent_name))))
            return pf_err(err, errlen, "out of memory");
    }
    if (restore_apply_renames(ctx, c, err, errlen) < 0)
        return -1;
    ctx->can_replica = probe_replica(c);
    /* the server's CPU per job: from /proc here, or (only for --trace, a query per reading)
     * from the server's own /proc */
    ctx->cpu_mode = trace_cpu_mode(c);
    if (ctx->cpu_mode == TRACE_CPU_SQL && !o->trace_path)
        ctx->cpu_mode = TRACE_CPU_NONE;
    ctx->cpu_data = ctx->cpu_post = ctx->cpu_mode == TRACE_CPU_NONE ? -1 : 0;
    /* roles and tablespaces first (what the rest needs), then the target as a whole */
    if ((o->globals && apply_globals(ctx, c, err, errlen) < 0) || restore_extension_owners(ctx, c, err, errlen) < 0 ||
        restore_profile_target(ctx, c, err, errlen) < 0 || restore_journal_open(ctx, c, err, errlen) < 0)
        return -1;
    *journal_open = 1;
    /* what the user attached to the platform's objects, where the target (after --clean)
     * lacks it */
    return o->profile ? restore_resolve_absent(ctx, c, err, errlen) : 0;
}

/* 4. Pre-data: schemas, types, tables... */
static int restore_pre_data(restore_ctx *ctx, PGconn *c, trace_cpu *ccpu, restore_summary *s, char *err,
                            size_t errlen)
{
    const restore_options *o = ctx->o;
    double t0 = pf_now(), cpu0 = trace_backend_cpu(ccpu, c, ctx->cpu_mode);
    if (ctx->do_pre) {
        if (o->into_schema && !restore_journal_has(ctx, "pre-data:0")) {
            /* the schema must exist before the tables that go into it */
            char *q = pgconn_quote_ident(c, o->into_schema), *sql = NULL;
            int bad = !q || asprintf(&sql, "CREATE SCHEMA IF NOT EXISTS %s", q) < 0 ||
                      pgconn_exec(c, sql, "create schema", err, errlen) < 0;
            free(q);
            free(sql);
            if (bad)
                return -1;
        }
        if (restore_run_phase(ctx, c, PH_PRE, "pre-data", NULL, err, errlen) < 0)
            return -1;
    }
    s->t_pre = pf_now() - t0;
    s->cpu_pre = cpu0 >= 0 ? trace_backend_cpu(ccpu, c, ctx->cpu_mode) - cpu0 : -1;
    trace_span(ctx->trace, 0, "pre-data", "pre-data", t0, pf_now(), 0, 0, s->cpu_pre);
    restore_job_done(ctx, "pre-data", "schemas, types, functions, tables", s->t_pre, 0, 0);
    return 0;
}

/* 5. Data and post-data, scheduled together. */
static int restore_data_and_post(restore_ctx *ctx, PGconn **c, double start, restore_summary *s, char *err,
                                 size_t errlen)
{
    const restore_options *o = ctx->o;
    char tmp[PF_ERRLEN];
    double t0 = pf_now();
    if (restore_build_jobs(ctx, err, errlen) < 0)
        return -1;
    for (size_t t = 0; t < ctx->ntables; t++)
        if (ctx->tables[t].selected && ctx->do_data)
            s->tables++;
    if (restore_run_jobs(ctx, c, o->progress ? draw_progress : NULL, start, tmp, sizeof tmp) < 0) {
        if (o->progress)
            report_progress(ctx, start, -1);
        if (o->interrupted && *o->interrupted)
            return pf_err(err, errlen, "interrupted: what committed is kept; run again with --resume to finish");
        return pf_err(err, errlen, "%s (what committed is kept: fix the cause and run again with --resume)", tmp);
    }
    if (o->progress)
        draw_progress(ctx, start, 1);
    /* data and post-data overlap; split at the last load's commit */
    double end = pf_now(), dend = ctx->data_end > t0 ? ctx->data_end : t0;
    s->t_data = dend - t0;
    s->t_post = end - dend;
    return 0;
}

/* 6. Sequences, large objects, ACLs, materialized views, statistics, the database; the
 * journal goes last. */
static int restore_finish(restore_ctx *ctx, PGconn *c, trace_cpu *ccpu, restore_summary *s, char *err,
                          size_t errlen)
{
    char tmp[PF_ERRLEN];
    double t0 = pf_now(), cpu0 = trace_backend_cpu(ccpu, c, ctx->cpu_mode);
    if (finish_steps(ctx, c, tmp, sizeof tmp) < 0 ||
        pgconn_exec(c, "DROP SCHEMA " JOURNAL_SCHEMA " CASCADE", "drop journal", tmp, sizeof tmp) < 0)
        return pf_err(err, errlen, "%s (what committed is kept: fix the cause and run again with --resume)", tmp);
    s->t_finish = pf_now() - t0;
    s->cpu_finish = cpu0 >= 0 ? trace_backend_cpu(ccpu, c, ctx->cpu_mode) - cpu0 : -1;
    s->cpu_data = ctx->cpu_data;
    s->cpu_post = ctx->cpu_post;
    trace_span(ctx->trace, 0, "finish", "sequences, large objects, ACLs, materialized views", t0, pf_now(), 0, 0,
               s->cpu_finish);
    restore_job_done(ctx, "finish", "sequences, large objects, ACLs, materialized views", s->t_finish, 0, 0);
    s->chunks = ctx->nchunks;
    s->chunks_skipped = ctx->chunks_skipped;
    s->rows = atomic_load(&ctx->rows);
    s->raw_bytes = atomic_load(&ctx->raw);
    s->entries = ctx->nentry_jobs;
    s->reconnects = atomic_load(&ctx->reconnects);
    return 0;
}

static void free_ctx(restore_ctx *ctx)
{
    for (size_t t = 0; t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        free(rt->dst_schema);
        free(rt->dst_name);
        free(rt->qname);
        free(rt->root_qname);
        free(rt->label);
        free(rt->parents);
    }
    free(ctx->tables);
    restore_free_jobs(ctx);
    free(ctx->workers);
    free(ctx->entry_table);
    free(ctx->entry_phase);
    for (size_t i = 0; ctx->seq_dst && i < ctx->a.n; i++)
        free(ctx->seq_dst[i]);
    free(ctx->seq_dst);
    free(ctx->wanted);
    free(ctx->keep_create);
    free(ctx->if_absent);
    free(ctx->seq_extra);
    free(ctx->for_renamed);
    free(ctx->db_create_sql);
    free(ctx->db_finish_sql);
    free(ctx->target_db);
    for (size_t i = 0; i < ctx->ndone; i++)
        free(ctx->done_items[i]);
    free(ctx->done_items);
    for (size_t i = 0; i < ctx->nschema_sel; i++)
        free(ctx->schema_sel[i]);
    free(ctx->schema_sel);
    archive_free(&ctx->a);
    if (ctx->o->live)
        memset(&ctx->m, 0, sizeof ctx->m); /* borrowed */
    manifest_free(&ctx->m);
    store_close(ctx->st);
    for (size_t i = 0; i < ctx->nwarned; i++)
        free(ctx->warned[i]);
}

int restore_run(const restore_options *o, restore_summary *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    double start = pf_now();
    restore_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = o;
    sections(&ctx);
    pthread_mutex_init(&ctx.mu, NULL);
    pthread_mutex_init(&ctx.notice_mu, NULL);
    pthread_cond_init(&ctx.cv, NULL);
    ctx.trace = trace_new();
    s->cpu_pre = s->cpu_data = s->cpu_post = s->cpu_finish = -1;
    PGconn *c = NULL;
    trace_cpu ccpu = {0};
    int journal_open = 0;

    int ok = check_dump(&ctx, err, errlen) == 0 && render_archive(&ctx, err, errlen) == 0;
    s->t_checks = pf_now() - start;
    ok = ok && prepare_target(&ctx, &c, &journal_open, s, err, errlen) == 0 &&
         restore_pre_data(&ctx, c, &ccpu, s, err, errlen) == 0 &&
         restore_data_and_post(&ctx, &c, start, s, err, errlen) == 0 &&
         restore_finish(&ctx, c, &ccpu, s, err, errlen) == 0;

    trace_cpu_close(&ccpu);
    if (!ok && c && journal_open && PQstatus(c) == CONNECTION_OK && !anything_committed(c)) {
        /* nothing committed yet: leave no journal that would ask for --resume, and no
         * database this run created */
        PQclear(PQexec(c, "DROP SCHEMA " JOURNAL_SCHEMA " CASCADE"));
        journal_open = 0;
    }
    if (c)
        PQfinish(c);
    if (!ok && ctx.created_db && !journal_open)
        restore_drop_created_database(&ctx);
    free_ctx(&ctx);
    if (o->trace_path && ctx.trace) {
        /* also after a failure: that is when it helps most */
        char terr[PF_ERRLEN];
        if (trace_write(ctx.trace, o->trace_path, terr, sizeof terr) < 0)
            pf_notice(o->notice, o->notice_ctx, "restore: warning: --trace: %s", terr);
    }
    if (o->trace_out && ctx.trace)
        *o->trace_out = trace_json(ctx.trace);
    trace_free(ctx.trace);
    pthread_mutex_destroy(&ctx.mu);
    pthread_mutex_destroy(&ctx.notice_mu);
    pthread_cond_destroy(&ctx.cv);
    s->seconds = pf_now() - start;
    return ok ? 0 : -1;
}
