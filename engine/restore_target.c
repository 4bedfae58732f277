/* restore_target: the target database: connections, --create, the emptiness check, --clean,
 * and the journal that makes every unit of work commit exactly once. */
#include "engine/restore_int.h"

#include "engine/pgconn.h"
#include "engine/profile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- connections ------------------------------------------------------------------------ */

/* The server's warnings (CREATE PUBLICATION under wal_level=replica, ...) are shown once
 * each, however many connections and entries meet them; notices are not shown. */
static void on_notice(void *arg, const PGresult *r)
{
    restore_ctx *ctx = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (!sev || strcmp(sev, "WARNING") != 0 || !msg)
        return;
    pthread_mutex_lock(&ctx->notice_mu);
    int seen = 0;
    for (size_t i = 0; i < ctx->nwarned && !seen; i++)
        seen = strcmp(ctx->warned[i], msg) == 0;
    if (!seen && ctx->nwarned < sizeof ctx->warned / sizeof *ctx->warned) {
        char *d = strdup(msg);
        if (d)
            ctx->warned[ctx->nwarned++] = d;
        pf_notice(ctx->o->notice, ctx->o->notice_ctx, "restore: server warning: %s", msg);
    }
    pthread_mutex_unlock(&ctx->notice_mu);
}

PGconn *restore_connect(restore_ctx *ctx, char *err, size_t errlen)
{
    PGconn *c = pgconn_open(ctx->o->conninfo, err, errlen);
    if (!c)
        return NULL;
    PQsetNoticeReceiver(c, on_notice, ctx);
    /* pg_restore's own session settings (check_function_bodies = off, ...), then what a
     * bulk load wants: a journal row commits with its work, so a crash cannot split them,
     * and asynchronous commit loses nothing --resume would not redo. A database default of
     * read-only transactions (restored last) must not stop a resumed run. */
    if (pgconn_exec(c, ctx->a.header_sql ? ctx->a.header_sql : "", "session settings", err, errlen) < 0 ||
        pgconn_exec(c, "SET synchronous_commit = off; SET default_transaction_read_only = off",
                    "session settings", err, errlen) < 0) {
        PQfinish(c);
        return NULL;
    }
    /* --disable-triggers: as pg_restore's, user triggers and foreign-key checks do not fire
     * while rows load; through session_replication_role, which a crash cannot leave set
     * (ALTER TABLE ... DISABLE TRIGGER would stay disabled if the restore died) */
    if (ctx->o->disable_triggers && ctx->do_data && !ctx->do_pre) {
        PGresult *r = PQexec(c, "SET session_replication_role = replica");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char line[PF_ERRLEN];
            pf_err(err, errlen, "--disable-triggers: %s (it needs a superuser, or GRANT SET ON PARAMETER session_replication_role)",
                   pgconn_result_errline(r, line, sizeof line));
            PQclear(r);
            PQfinish(c);
            return NULL;
        }
        PQclear(r);
    }
    return c;
}

/* ---- --create ------------------------------------------------------------------------- */

/* A connection to the maintenance database of the target's server. */
static PGconn *connect_maintenance(restore_ctx *ctx, char *err, size_t errlen)
{
    char *ci = pgconn_with_dbname(ctx->o->conninfo, "postgres", err, errlen);
    if (!ci)
        return NULL;
    PGconn *c = pgconn_open(ci, err, errlen);
    free(ci);
    if (!c) {
        char keep[PF_ERRLEN];
        snprintf(keep, sizeof keep, "%s", err);
        pf_err(err, errlen, "--create: database postgres of the target server: %s", keep);
    }
    return c;
}

static int database_exists(PGconn *c, const char *name, int *exists, char *err, size_t errlen)
{
    const char *p[1] = {name};
    PGresult *r = pgconn_query(c, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, p,
                               "--create", err, errlen);
    if (!r)
        return -1;
    *exists = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

/* The database's own SQL from the archive (--create): CREATE DATABASE runs first, on the
 * maintenance database; the rest (owner, settings, comment, privileges) at the end. Only
 * the statements themselves: pg_restore also writes its session settings after each
 * \connect, which must not change the restore's own session. */
static int database_sql(restore_ctx *ctx, char *err, size_t errlen)
{
    size_t cap = 256, len = 0;
    char *fin = malloc(cap);
    if (!fin)
        return pf_err(err, errlen, "out of memory");
    fin[0] = '\0';
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i] || ctx->entry_phase[i] != PH_DATABASE || !e->sql)
            continue;
        for (char *line = e->sql; *line;) {
            char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
            int create = strncmp(line, "CREATE DATABASE ", 16) == 0;
            int session = strncmp(line, "SET ", 4) == 0 || strncmp(line, "SELECT pg_catalog.set_config(", 29) == 0 ||
                          line[0] == '-' || line[0] == '\n';
            if (create) {
                free(ctx->db_create_sql);
                if (!(ctx->db_create_sql = strndup(line, n))) {
                    free(fin);
                    return pf_err(err, errlen, "out of memory");
                }
            } else if (!session) {
                if (len + n + 1 > cap) {
                    cap = 2 * (len + n + 1);
                    char *f2 = realloc(fin, cap);
                    if (!f2) {
                        free(fin);
                        return pf_err(err, errlen, "out of memory");
                    }
                    fin = f2;
                }
                memcpy(fin + len, line, n);
                len += n;
                fin[len] = '\0';
            }
            line += n;
        }
    }
    ctx->db_finish_sql = fin;
    return 0;
}

/* CREATE DATABASE as the dump's DATABASE entry says (encoding, locale, collation
 * provider), under the target's name; the rest of the database's own SQL (owner,
 * settings, comment, privileges) runs at the end of the restore. An existing database is
 * the target of --resume; otherwise it is an error. */
int restore_create_database(restore_ctx *ctx, char *err, size_t errlen)
{
    PGconn *c = connect_maintenance(ctx, err, errlen);
    if (!c)
        return -1;
    int exists = 0, rc = -1;
    /* the database's SQL names the dump's database: the target's name instead */
    if (restore_rename_database(ctx, c, err, errlen) < 0 || database_sql(ctx, err, errlen) < 0 ||
        database_exists(c, ctx->target_db, &exists, err, errlen) < 0)
        goto out;
    if (exists) {
        if (ctx->o->resume)
            rc = 0;
        else
            pf_err(err, errlen, "--create: database \"%s\" already exists (to finish an interrupted restore into it, add --resume)",
                   ctx->target_db);
        goto out;
    }
    char *sql = NULL;
    if (ctx->db_create_sql)
        sql = strdup(ctx->db_create_sql);
    else {
        /* a dump narrowed by -t/-n has no DATABASE entry: the server's defaults */
        char *q = pgconn_quote_ident(c, ctx->target_db);
        if (q && asprintf(&sql, "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", q) < 0)
            sql = NULL;
        free(q);
    }
    if (!sql) {
        pf_err(err, errlen, "out of memory");
        goto out;
    }
    rc = pgconn_exec(c, sql, "--create", err, errlen);
    free(sql);
    if (rc == 0)
        ctx->created_db = 1;
    else if (ctx->o->resume) {
        /* a killed restore's backend goes on with its CREATE DATABASE and may commit it
         * after the check above: the database is then there to be resumed */
        char e2[PF_ERRLEN];
        if (database_exists(c, ctx->target_db, &exists, e2, sizeof e2) == 0 && exists)
            rc = 0;
    }
out:
    PQfinish(c);
    return rc;
}

/* A restore that created its database and failed before anything of it committed leaves
 * no empty database behind (a retry would find it "already exists"). */
void restore_drop_created_database(restore_ctx *ctx)
{
    if (!ctx->created_db)
        return;
    char e2[PF_ERRLEN];
    PGconn *c = connect_maintenance(ctx, e2, sizeof e2);
    if (!c)
        return;
    char *q = pgconn_quote_ident(c, ctx->target_db), *sql = NULL;
    if (q && asprintf(&sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", q) >= 0)
        pgconn_exec(c, sql, "drop database", e2, sizeof e2);
    free(q);
    free(sql);
    PQfinish(c);
    ctx->created_db = 0;
}

/* ---- emptiness -------------------------------------------------------------------------- */

int restore_check_empty(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (!ctx->filtered) {
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
            pf_err(err, errlen, "target database is not empty (it has %s.%s): %s", PQgetvalue(r, 0, 0),
                   PQgetvalue(r, 0, 1),
                   ctx->o->live ? "copy into an empty database (or a new one with --create)"
                                : "restore into an empty database, or use --clean to replace the dump's objects");
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

/* ---- journal ---------------------------------------------------------------------------- */

int restore_journal_has(const restore_ctx *ctx, const char *item)
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

int restore_journal_add(PGconn *c, restore_ctx *ctx, const char *item, char *err, size_t errlen)
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

int restore_journal_committed(PGconn *c, const char *item, char *err, size_t errlen)
{
    const char *p[1] = {item};
    PGresult *r = pgconn_query(c, "SELECT 1 FROM " JOURNAL_SCHEMA ".journal WHERE item = $1", 1, p, "read journal",
                               err, errlen);
    if (!r)
        return -1;
    int n = PQntuples(r);
    PQclear(r);
    return n > 0;
}

/* Runs sql in a transaction that also records item in the journal. */
int restore_run_journaled(PGconn *c, restore_ctx *ctx, const char *sql, const char *item, const char *what,
                          char *err, size_t errlen)
{
    if (pgconn_exec(c, "BEGIN", what, err, errlen) < 0)
        return -1;
    if (pgconn_exec(c, sql, what, err, errlen) < 0 || restore_journal_add(c, ctx, item, err, errlen) < 0 ||
        pgconn_exec(c, "COMMIT", what, err, errlen) < 0) {
        if (PQstatus(c) == CONNECTION_OK)
            PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    return 0;
}

/* The same for SQL rendered from the archive: it is in the archive's encoding, which
 * applies for that transaction only (pgferry's own statements and the rows are UTF-8). */
int restore_run_archive_sql(PGconn *c, restore_ctx *ctx, const char *sql, const char *item, const char *what,
                            char *err, size_t errlen)
{
    const char *enc = ctx->a.encoding;
    if (!*enc || !strcmp(enc, "UTF8") || !strcmp(enc, "UTF-8"))
        return restore_run_journaled(c, ctx, sql, item, what, err, errlen);
    char *all = NULL;
    if (asprintf(&all, "SET LOCAL client_encoding = '%s';\n%s", enc, sql) < 0)
        return pf_err(err, errlen, "out of memory");
    int rc = restore_run_journaled(c, ctx, all, item, what, err, errlen);
    free(all);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_journal(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    PGresult *r = pgconn_query(c, "SELECT item, dump FROM " JOURNAL_SCHEMA ".journal", 0, NULL, "read journal", err,
                               errlen);
    if (!r)
        return -1;
    size_t n = (size_t)PQntuples(r);
    ctx->done_items = calloc(n + 1, sizeof(char *));
    if (!ctx->done_items) {
        PQclear(r);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(PQgetvalue(r, (int)i, 1), ctx->m.checksum) != 0) {
            PQclear(r);
            return pf_err(err, errlen, "%s",
                          ctx->o->live ? "--resume: the source changed since the interrupted copy (its tables or their sizes differ, so what committed cannot be matched with what is left): copy again into a new or empty database"
                                       : "--resume: the unfinished restore in this database came from another dump (finish it with that dump, or start over with --clean)");
        }
        if (!(ctx->done_items[ctx->ndone++] = strdup(PQgetvalue(r, (int)i, 0)))) {
            PQclear(r);
            return pf_err(err, errlen, "out of memory");
        }
    }
    PQclear(r);
    qsort(ctx->done_items, ctx->ndone, sizeof(char *), cmp_str);
    return 0;
}

/* A clean that fails has its journal: the message says how to finish it. */
static int clean_or_hint(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (restore_clean(ctx, c, err, errlen) == 0)
        return 0;
    size_t n = strlen(err);
    snprintf(err + n, errlen - n, " (nothing of the dump was restored yet: fix the cause and run again with --resume)");
    return -1;
}

static const char *const journal_ddl =
    "CREATE SCHEMA " JOURNAL_SCHEMA ";"
    " CREATE TABLE " JOURNAL_SCHEMA ".journal (item text PRIMARY KEY, dump text NOT NULL,"
    " at timestamptz NOT NULL DEFAULT now())";

/* Opens the journal of this restore: an earlier run's (--resume), or a new one. A new one
 * is created in one transaction with its first row, so a restore killed at any instant
 * either left nothing (a plain run, or --resume, starts over) or a journal that --resume
 * continues. --clean starts a new journal that says so, before it drops anything: a clean
 * that fails or is killed is finished by --resume. */
int restore_journal_open(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    PGresult *r = pgconn_query(c, "SELECT pg_catalog.to_regclass('" JOURNAL_SCHEMA ".journal') IS NOT NULL", 0, NULL,
                               "check journal", err, errlen);
    if (!r)
        return -1;
    int exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (exists && o->resume) {
        if (read_journal(ctx, c, err, errlen) < 0)
            return -1;
        for (size_t i = 0; i < ctx->a.n; i++) {
            char item[64];
            snprintf(item, sizeof item, "keep:%d", ctx->a.entries[i].id);
            ctx->keep_create[i] = restore_journal_has(ctx, item);
        }
        if (restore_journal_has(ctx, "clean") && !restore_journal_has(ctx, "clean:done"))
            return clean_or_hint(ctx, c, err, errlen);
        return 0;
    }
    if (exists && !o->clean)
        return pf_err(err, errlen, "a previous restore into this database did not finish: rerun with --resume to finish it, or --clean to start over");
    if (!exists && o->resume && !o->clean) {
        /* killed before its journal committed: nothing of it is in; start from the top,
         * into a target that is as a fresh restore wants it */
        if (ctx->do_pre && !ctx->o->profile && !ctx->filtered && restore_check_empty(ctx, c, err, errlen) < 0) {
            char keep[PF_ERRLEN];
            snprintf(keep, sizeof keep, "%s", err);
            return pf_err(err, errlen, "--resume: there is no unfinished pgferry restore in this database (no " JOURNAL_SCHEMA ".journal), and %s",
                          keep);
        }
        pf_notice(o->notice, o->notice_ctx,
                  "restore: no unfinished restore in this database (nothing of an earlier run committed): restoring from the start");
    }
    if (o->clean) {
        char *sql = NULL;
        if (asprintf(&sql, "DROP SCHEMA IF EXISTS " JOURNAL_SCHEMA " CASCADE; %s", journal_ddl) < 0)
            return pf_err(err, errlen, "out of memory");
        int rc = restore_run_journaled(c, ctx, sql, "clean", "create journal", err, errlen);
        free(sql);
        if (rc < 0)
            return -1;
        return clean_or_hint(ctx, c, err, errlen);
    }
    /* a live target (--profile, -t/-n/-T/-N) was checked object by object already */
    if (ctx->do_pre && !ctx->o->profile && !ctx->filtered && restore_check_empty(ctx, c, err, errlen) < 0)
        return -1;
    if (pgconn_exec(c, journal_ddl, "create journal", err, errlen) < 0) {
        if (strstr(err, "permission denied")) {
            char keep[PF_ERRLEN];
            snprintf(keep, sizeof keep, "%s", err);
            pf_err(err, errlen, "%s: the restore journal (schema " JOURNAL_SCHEMA ", dropped at the end) needs CREATE on the target database (GRANT CREATE ON DATABASE %s TO %s)",
                   keep, PQdb(c), PQuser(c));
        }
        return -1;
    }
    return 0;
}

/* ---- --clean ------------------------------------------------------------------------------ */

/* True when sql holds a statement, not only comments and white space (pg_dump writes
 * "-- *not* dropping schema, since initdb creates it" as the DROP of schema public). */
static int has_statement(const char *sql)
{
    for (const char *p = sql; *p;) {
        if (isspace((unsigned char)*p))
            p++;
        else if (p[0] == '-' && p[1] == '-') {
            const char *nl = strchr(p, '\n');
            p = nl ? nl + 1 : p + strlen(p);
        } else
            return 1;
    }
    return 0;
}

/* Errors a DROP may meet that are not a problem: the object is already gone (an earlier
 * drop took it along), or it goes with its parent (a partition's inherited constraint). */
static int gone_state(const char *state)
{
    return state && (!strcmp(state, "42P01") || !strcmp(state, "42704") || !strcmp(state, "3F000") ||
                     !strcmp(state, "42883") || !strcmp(state, "42P16"));
}

#define CLEAN_BATCH 200

/* Each wanted entry's DROP, newest first, in journaled batches (the lock table holds a few
 * thousand locks per transaction). A DROP that fails for another reason than "already
 * gone" is tried again once everything else is dropped (what it depended on may be gone
 * by then); a schema that still holds objects the dump does not know about is kept (and
 * its CREATE becomes CREATE SCHEMA IF NOT EXISTS); anything else fails the clean, which
 * --resume finishes once the cause is fixed. */
/* A DROP that takes what depends on it along (DROP ... CASCADE; ALTER TABLE ... DROP
 * CONSTRAINT ... CASCADE), for the clean of a schema-scoped restore. */
static char *cascading(const char *drop)
{
    size_t cap = strlen(drop) + 64, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *line = drop; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        int stmt = (strncmp(line, "DROP ", 5) == 0 || (strncmp(line, "ALTER ", 6) == 0 && strstr(line, " DROP CONSTRAINT ") &&
                                                       strstr(line, " DROP CONSTRAINT ") < line + n)) &&
                   n > 0 && line[n - 1] == ';';
        if (o + n + 16 > cap) {
            cap = 2 * (o + n + 16);
            char *o2 = realloc(out, cap);
            if (!o2) {
                free(out);
                return NULL;
            }
            out = o2;
        }
        memcpy(out + o, line, stmt ? n - 1 : n);
        o += stmt ? n - 1 : n;
        if (stmt)
            o += (size_t)sprintf(out + o, " CASCADE;");
        if (nl)
            out[o++] = '\n';
        line += n + (nl ? 1 : 0);
    }
    out[o] = '\0';
    return out;
}

/* ---- lists of names ---------------------------------------------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
} strlist;

static int sl_add(strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, c * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = c;
    }
    if (!(l->v[l->n] = strdup(s)))
        return -1;
    l->n++;
    return 0;
}

static void sl_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* "a, b, c (and 7 more)" */
static void sl_join(const strlist *l, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        if (i == 8) {
            snprintf(out + len, outlen - len, " (and %zu more)", l->n - i);
            return;
        }
        int w = snprintf(out + len, outlen - len, "%s%s", i ? ", " : "", l->v[i]);
        if (w < 0 || (size_t)w >= outlen - len)
            return;
        len += (size_t)w;
    }
}

/* Objects of the user's schemas that the dump does not have (a table or view added since
 * the dump), dropped with what depends on them: a schema-scoped --clean (--profile, -n)
 * leaves those schemas exactly as the dump has them. */
/* The dump's objects in the schemas it restores into: "schema \x1f name" records joined
 * by \x1e in *have, those schemas' names joined by \x1e in *scope (malloc'd both). */
static int dump_objects(restore_ctx *ctx, char **have, char **scope, char *err, size_t errlen)
{
    size_t hlen = 0;
    FILE *h = open_memstream(have, &hlen);
    strlist sch = {0};
    int rc = h ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i] || ctx->if_absent[i] || !e->namespace)
            continue;
        if (fprintf(h, "%s%s\x1f%s", ftell(h) > 0 ? "\x1e" : "", e->namespace, e->tag) < 0 ||
            sl_add(&sch, e->namespace) < 0)
            rc = -1;
    }
    if (h && fclose(h) != 0)
        rc = -1;
    size_t slen = 1;
    for (size_t i = 0; i < sch.n; i++)
        slen += strlen(sch.v[i]) + 1;
    if (rc == 0 && (*scope = malloc(slen))) {
        size_t at = 0;
        (*scope)[0] = '\0';
        for (size_t i = 0; i < sch.n; i++)
            at += (size_t)sprintf(*scope + at, "%s%s", i ? "\x1e" : "", sch.v[i]);
    } else
        rc = -1;
    sl_free(&sch);
    return rc < 0 ? pf_err(err, errlen, "out of memory") : 0;
}

/* Drops what the schemas in scope hold that the dump does not (tables, views, sequences
 * not owned by a column, functions, types), so they become exactly the dump's. */
static int clean_extras(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    char *have = NULL, *scope = NULL;
    if (dump_objects(ctx, &have, &scope, err, errlen) < 0) {
        free(have);
        free(scope);
        return -1;
    }
    const char *p[2] = {have, scope};
    static const char *const sql =
        "WITH have AS (SELECT pg_catalog.split_part(x, E'\\x1f', 1) AS sch, pg_catalog.split_part(x, E'\\x1f', 2) AS nm"
        "              FROM pg_catalog.regexp_split_to_table($1, E'\\x1e') x),"
        " scope AS (SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n"
        "           WHERE n.nspname = ANY (pg_catalog.regexp_split_to_array($2, E'\\x1e'))),"
        " ext AS (SELECT d.objid FROM pg_catalog.pg_depend d WHERE d.deptype = 'e')"
        " SELECT 'DROP ' || CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'"
        "        WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END"
        "        || ' IF EXISTS ' || c.oid::regclass::text || ' CASCADE'"
        " FROM pg_catalog.pg_class c JOIN scope s ON s.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition"
        "   AND c.oid NOT IN (SELECT objid FROM ext)"
        "   AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = c.oid"
        "            AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')))"
        "   AND NOT EXISTS (SELECT 1 FROM have h WHERE h.sch = s.nspname AND h.nm = c.relname)"
        " UNION ALL"
        " SELECT 'DROP ' || CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END"
        "        || ' IF EXISTS ' || p.oid::regprocedure::text || ' CASCADE'"
        " FROM pg_catalog.pg_proc p JOIN scope s ON s.oid = p.pronamespace"
        " WHERE p.oid NOT IN (SELECT objid FROM ext)"
        "   AND NOT EXISTS (SELECT 1 FROM have h WHERE h.sch = s.nspname"
        "                   AND h.nm = p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')')"
        " UNION ALL"
        " SELECT 'DROP ' || CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END || ' IF EXISTS '"
        "        || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(t.typname) || ' CASCADE'"
        " FROM pg_catalog.pg_type t JOIN scope s ON s.oid = t.typnamespace"
        " WHERE t.typtype IN ('e', 'd', 'r', 'm', 'c') AND t.oid NOT IN (SELECT objid FROM ext)"
        "   AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')"
        "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid)"
        "   AND NOT EXISTS (SELECT 1 FROM have h WHERE h.sch = s.nspname AND h.nm = t.typname)";
    PGresult *r = pgconn_query(c, sql, 2, p, "clean", err, errlen);
    free(have);
    free(scope);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = pgconn_exec(c, PQgetvalue(r, i, 0), "clean", err, errlen);
    PQclear(r);
    return rc;
}

/* Schema-scoped (a profile's user schemas, -n): the schemas become exactly the dump's, so
 * what is not in the dump goes, and the dump's own DROPs cascade. */
static int clean_scoped(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (pgconn_exec(c, "BEGIN", "clean", err, errlen) < 0 || clean_extras(ctx, c, err, errlen) < 0 ||
        pgconn_exec(c, "COMMIT", "clean", err, errlen) < 0) {
        if (PQstatus(c) == CONNECTION_OK)
            PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    for (size_t k = 0; k < ctx->a.n; k++) {
        archive_entry *e = &ctx->a.entries[k];
        if (!ctx->wanted[k] || ctx->if_absent[k] || !e->drop || !has_statement(e->drop))
            continue;
        char *cd = cascading(e->drop);
        if (!cd)
            return pf_err(err, errlen, "out of memory");
        free(e->drop);
        e->drop = cd;
    }
    return 0;
}

/* Runs a DROP under a savepoint; returns its result (rolled back to the savepoint when it
 * failed) for the caller to judge. */
static PGresult *try_drop(PGconn *c, const char *drop, int *failed)
{
    PQclear(PQexec(c, "SAVEPOINT pgferry_clean"));
    PGresult *r = PQexec(c, drop);
    ExecStatusType st = PQresultStatus(r);
    *failed = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY;
    if (*failed)
        PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT pgferry_clean"));
    return r;
}

/* The dump's DROPs in reverse order, in batches of CLEAN_BATCH per transaction (left
 * open after the last); one that fails because something still depends on the object
 * goes to later[] to be retried after the rest. What the user attached to the platform's
 * objects is never dropped by name: it is the platform's own, or goes with what it depends
 * on (and comes back). */
static int drop_pass(restore_ctx *ctx, PGconn *c, size_t *later, size_t *nlater, char *err, size_t errlen)
{
    size_t in_batch = 0;
    if (pgconn_exec(c, "BEGIN", "clean", err, errlen) < 0)
        return -1;
    for (size_t k = ctx->a.n; k-- > 0;) {
        archive_entry *e = &ctx->a.entries[k];
        if (!ctx->wanted[k] || ctx->if_absent[k] || ctx->entry_phase[k] == PH_DATABASE || !e->drop ||
            !has_statement(e->drop))
            continue;
        int failed;
        PGresult *r = try_drop(c, e->drop, &failed);
        if (failed && !gone_state(PQresultErrorField(r, PG_DIAG_SQLSTATE)))
            later[(*nlater)++] = k;
        PQclear(r);
        if (PQstatus(c) != CONNECTION_OK)
            return pf_err(err, errlen, "clean: connection lost");
        if (++in_batch == CLEAN_BATCH) {
            in_batch = 0;
            if (pgconn_exec(c, "COMMIT", "clean", err, errlen) < 0 || pgconn_exec(c, "BEGIN", "clean", err, errlen) < 0)
                return -1;
        }
    }
    return 0;
}

/* The DROPs that failed the first time, now that the rest is gone. A schema still holding
 * objects the dump does not know is kept (journaled, so a resumed restore keeps it too). */
static int drop_retry(restore_ctx *ctx, PGconn *c, const size_t *later, size_t nlater, char *err, size_t errlen)
{
    for (size_t i = 0; i < nlater; i++) {
        size_t k = later[i];
        archive_entry *e = &ctx->a.entries[k];
        int failed;
        PGresult *r = try_drop(c, e->drop, &failed);
        const char *state = failed ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        int rc = 0;
        if (failed && state && !strcmp(state, "2BP01") && restore_entry_is(e, "SCHEMA")) {
            char item[64];
            snprintf(item, sizeof item, "keep:%d", e->id);
            ctx->keep_create[k] = 1;
            rc = restore_journal_add(c, ctx, item, err, errlen);
        } else if (failed && !gone_state(state)) {
            char line[PF_ERRLEN];
            rc = pf_err(err, errlen, "clean: %s %s%s%s: %s", e->desc, e->namespace ? e->namespace : "",
                        e->namespace ? "." : "", e->tag, pgconn_result_errline(r, line, sizeof line));
        }
        PQclear(r);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int restore_clean(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    size_t *later = calloc(ctx->a.n + 1, sizeof *later), nlater = 0;
    if (!later)
        return pf_err(err, errlen, "out of memory");
    int rc = (ctx->o->profile || ctx->o->nschemas) ? clean_scoped(ctx, c, err, errlen) : 0;
    if (rc == 0)
        rc = drop_pass(ctx, c, later, &nlater, err, errlen);
    if (rc == 0)
        rc = drop_retry(ctx, c, later, nlater, err, errlen);
    if (rc == 0 && (restore_journal_add(c, ctx, "clean:done", err, errlen) < 0 ||
                    pgconn_exec(c, "COMMIT", "clean", err, errlen) < 0))
        rc = -1;
    if (rc < 0 && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    free(later);
    return rc;
}

/* ---- journaled phases --------------------------------------------------------------------- */

/* The SQL of an entry as it runs: a schema --clean had to keep is created only if missing. */
static const char *entry_sql(restore_ctx *ctx, size_t i, char **owned)
{
    archive_entry *e = &ctx->a.entries[i];
    *owned = NULL;
    if (!ctx->keep_create[i])
        return e->sql;
    const char *p = strstr(e->sql, "CREATE SCHEMA ");
    if (!p || (p != e->sql && p[-1] != '\n'))
        return e->sql;
    if (asprintf(owned, "%.*sCREATE SCHEMA IF NOT EXISTS %s", (int)(p - e->sql), e->sql, p + 14) < 0)
        return e->sql;
    return *owned;
}

/* Runs the SQL of all wanted entries of one phase, in archive order, in journaled
 * transactions of at most PHASE_BATCH entries ("<item>:<k>"): each CREATE holds its lock
 * until commit, and ten thousand tables in one transaction would exhaust the server's
 * lock table (max_locks_per_transaction). extra runs with the last batch. */
#define PHASE_BATCH 500
int restore_run_phase(restore_ctx *ctx, PGconn *c, int phase, const char *item, const char *extra, char *err,
                      size_t errlen)
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
                len += strlen(ctx->a.entries[i].sql) + 32;
                taken++;
            }
        int last = k + 1 == nbatches;
        if (last && extra)
            len += strlen(extra);
        if (restore_journal_has(ctx, name))
            continue;
        char *sql = malloc(len), *p = sql;
        if (!sql)
            return pf_err(err, errlen, "out of memory");
        for (size_t j = start; j < i; j++)
            if (ctx->wanted[j] && ctx->entry_phase[j] == phase && ctx->a.entries[j].sql) {
                char *owned;
                p += sprintf(p, "%s\n", entry_sql(ctx, j, &owned));
                free(owned);
            }
        if (last && extra)
            p += sprintf(p, "%s", extra);
        *p = '\0';
        int rc = restore_run_archive_sql(c, ctx, sql, name, item, err, errlen);
        free(sql);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- a live target (--profile) ------------------------------------------------------------- */

/* An identifier as SQL writes it ("a""b" or a) back to its name. */
static void unquote(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    if (n >= 2 && s[0] == '"') {
        for (size_t i = 1; i + 1 < n && o + 1 < outlen; i++) {
            if (s[i] == '"' && s[i + 1] == '"')
                i++;
            out[o++] = s[i];
        }
    } else
        for (size_t i = 0; i < n && o + 1 < outlen; i++)
            out[o++] = s[i];
    out[o] = '\0';
}

/* The roles an ACL entry's GRANT/REVOKE statements name after TO / FROM. */
static int acl_roles(const char *sql, strlist *roles)
{
    for (const char *line = sql; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *to = NULL;
        if (strncmp(line, "GRANT ", 6) == 0)
            to = strstr(line, " TO ");
        else if (strncmp(line, "REVOKE ", 7) == 0)
            to = strstr(line, " FROM ");
        if (to && to < line + n) {
            const char *p = to + (to[1] == 'T' ? 4 : 6), *end = line + n;
            const char *w = strstr(p, " WITH GRANT OPTION");
            if (w && w < end)
                end = w;
            w = strstr(p, " GRANTED BY ");
            if (w && w < end)
                end = w;
            while (end > p && (end[-1] == ';' || end[-1] == ' '))
                end--;
            while (p < end) {
                const char *q = p;
                int inq = 0;
                while (q < end && (inq || *q != ',')) {
                    if (*q == '"')
                        inq = !inq;
                    q++;
                }
                const char *a = p, *b = q;
                while (a < b && *a == ' ')
                    a++;
                char name[256];
                unquote(a, (size_t)(b - a), name, sizeof name);
                if (*name && strcmp(name, "PUBLIC") != 0 && sl_add(roles, name) < 0)
                    return -1;
                p = q < end ? q + 1 : q;
            }
        }
        line += n + (nl ? 1 : 0);
    }
    return 0;
}

static int exists_q(PGconn *c, const char *sql, int np, const char *const *p, int *yes, char *err, size_t errlen)
{
    PGresult *r = pgconn_query(c, sql, np, p, "check target", err, errlen);
    if (!r)
        return -1;
    *yes = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

/* Whether the object a wanted entry creates is in the target already. */
static int entry_exists(restore_ctx *ctx, PGconn *c, const archive_entry *e, int *yes, char *err, size_t errlen)
{
    static const char *const rel_kinds[] = {"TABLE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "FOREIGN TABLE", NULL};
    *yes = 0;
    if (!e->namespace) {
        if (restore_entry_is(e, "SCHEMA") && strcmp(e->tag, "public") != 0) {
            const char *p[1] = {e->tag};
            return exists_q(c, "SELECT true FROM pg_catalog.pg_namespace WHERE nspname = $1", 1, p, yes, err, errlen);
        }
        if (restore_entry_is(e, "EXTENSION")) {
            const char *p[1] = {e->tag};
            return exists_q(c, "SELECT true FROM pg_catalog.pg_extension WHERE extname = $1", 1, p, yes, err, errlen);
        }
        return 0;
    }
    long ti = ctx->entry_table[e - ctx->a.entries];
    if (ti >= 0 && ctx->tables[ti].renamed) { /* a copy goes where its new name says */
        const char *p[2] = {ctx->tables[ti].dst_schema, ctx->tables[ti].dst_name};
        return exists_q(c,
                        "SELECT true FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = $1 AND c.relname = $2",
                        2, p, yes, err, errlen);
    }
    if (ctx->seq_dst[e - ctx->a.entries])
        return 0; /* a renamed copy's own sequence gets a name of its own */
    const char *p[2] = {e->namespace, e->tag};
    for (int i = 0; rel_kinds[i]; i++)
        if (restore_entry_is(e, rel_kinds[i]))
            return exists_q(c,
                            "SELECT true FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE n.nspname = $1 AND c.relname = $2",
                            2, p, yes, err, errlen);
    if (restore_entry_is(e, "TYPE") || restore_entry_is(e, "DOMAIN"))
        return exists_q(c,
                        "SELECT true FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
                        " WHERE n.nspname = $1 AND t.typname = $2",
                        2, p, yes, err, errlen);
    if (restore_entry_is(e, "FUNCTION") || restore_entry_is(e, "PROCEDURE") || restore_entry_is(e, "AGGREGATE"))
        /* the tag is name(identity arguments), as pg_dump writes it */
        return exists_q(c,
                        "SELECT true FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
                        " WHERE n.nspname = $1"
                        " AND p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' = $2",
                        2, p, yes, err, errlen);
    return 0;
}

/* ALTER ... OWNER TO <role> lines for reserved roles the restoring role cannot become are
 * dropped: the object stays the restoring role's (as the platform's own tools do). */
static int strip_owners(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    strlist cant = {0}, can = {0};
    int rc = 0;
    for (size_t i = 0; i < ctx->a.n && rc == 0; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i] || !e->sql || !e->owner || !profile_match(ctx->o->profile, PROFILE_RESERVED_ROLES, e->owner))
            continue;
        int known_cant = 0, known_can = 0;
        for (size_t k = 0; k < cant.n; k++)
            known_cant |= !strcmp(cant.v[k], e->owner);
        for (size_t k = 0; k < can.n; k++)
            known_can |= !strcmp(can.v[k], e->owner);
        if (!known_cant && !known_can) {
            const char *p[1] = {e->owner};
            int member = 0;
            if (exists_q(c,
                         "SELECT pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')"
                         " FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
                         1, p, &member, err, errlen) < 0) {
                rc = -1;
                break;
            }
            if (sl_add(member ? &can : &cant, e->owner) < 0) {
                rc = pf_err(err, errlen, "out of memory");
                break;
            }
            known_cant = !member;
        }
        if (!known_cant)
            continue;
        char tail[300];
        char *q = pgconn_quote_ident(c, e->owner);
        snprintf(tail, sizeof tail, " OWNER TO %s;", q ? q : e->owner);
        free(q);
        size_t tl = strlen(tail), o = 0;
        char *out = malloc(strlen(e->sql) + 1);
        if (!out) {
            rc = pf_err(err, errlen, "out of memory");
            break;
        }
        for (const char *line = e->sql; *line;) {
            const char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
            size_t body = nl ? n - 1 : n;
            int drop = strncmp(line, "ALTER ", 6) == 0 && body >= tl && memcmp(line + body - tl, tail, tl) == 0;
            if (!drop) {
                memcpy(out + o, line, n);
                o += n;
            }
            line += n;
        }
        out[o] = '\0';
        free(e->sql);
        e->sql = out;
    }
    sl_free(&cant);
    sl_free(&can);
    return rc;
}

/* What the preflight found missing or in the way. */
typedef struct {
    strlist ext, roles, schemas, tables, there;
} preflight;

static int oom(char *err, size_t errlen) { return pf_err(err, errlen, "out of memory"); }

/* The platform's extensions the dump used (a whole-database restore) missing. */
static int missing_extensions(restore_ctx *ctx, PGconn *c, preflight *pf, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    for (size_t i = 0; o->profile && !(o->ntables || o->nschemas) && i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!restore_entry_is(e, "EXTENSION") || !profile_match(o->profile, PROFILE_PLATFORM_EXTENSIONS, e->tag))
            continue;
        int yes;
        if (entry_exists(ctx, c, e, &yes, err, errlen) < 0)
            return -1;
        if (!yes && sl_add(&pf->ext, e->tag) < 0)
            return oom(err, errlen);
    }
    return 0;
}

/* Roles the restored entries name (owners, grantees) that the target lacks. */
static int missing_roles(restore_ctx *ctx, PGconn *c, preflight *pf, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    strlist want = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i])
            continue;
        if ((!o->no_owner && e->owner && *e->owner && e->sql && strstr(e->sql, " OWNER TO ") &&
             sl_add(&want, e->owner) < 0) ||
            (!o->no_acl && restore_entry_is(e, "ACL") && e->sql && acl_roles(e->sql, &want) < 0))
            rc = oom(err, errlen);
    }
    for (size_t i = 0; rc == 0 && i < want.n; i++) {
        const char *p[1] = {want.v[i]};
        int yes;
        rc = exists_q(c, "SELECT true FROM pg_catalog.pg_roles WHERE rolname = $1", 1, p, &yes, err, errlen);
        if (rc == 0 && !yes && sl_add(&pf->roles, want.v[i]) < 0)
            rc = oom(err, errlen);
    }
    sl_free(&want);
    return rc;
}

/* The platform's schemas and tables the dump puts things into, missing. */
static int missing_places(restore_ctx *ctx, PGconn *c, preflight *pf, char *err, size_t errlen)
{
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i] || !ctx->if_absent[i] || !e->namespace || ctx->if_absent[i] == ABSENT_PUBREL)
            continue;
        const char *p[1] = {e->namespace};
        int yes;
        if (exists_q(c, "SELECT true FROM pg_catalog.pg_namespace WHERE nspname = $1", 1, p, &yes, err, errlen) < 0)
            return -1;
        if (!yes && sl_add(&pf->schemas, e->namespace) < 0)
            return oom(err, errlen);
    }
    for (size_t t = 0; t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        if (!rt->selected || !rt->preexisting || !ctx->do_data)
            continue;
        const char *p[2] = {rt->mt->schema, rt->mt->name};
        int yes;
        if (exists_q(c,
                     "SELECT true FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                     " WHERE n.nspname = $1 AND c.relname = $2",
                     2, p, &yes, err, errlen) < 0)
            return -1;
        if (!yes && sl_add(&pf->tables, rt->label) < 0)
            return oom(err, errlen);
    }
    return 0;
}

/* What the dump creates must not be there (--clean replaces it; --resume finds its own). */
static int already_there(restore_ctx *ctx, PGconn *c, preflight *pf, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    int resuming = 0;
    char name[1200];
    if (o->resume && exists_q(c, "SELECT pg_catalog.to_regclass('" JOURNAL_SCHEMA ".journal') IS NOT NULL", 0, NULL,
                              &resuming, err, errlen) < 0)
        return -1;
    for (size_t i = 0; !o->clean && !resuming && ctx->do_pre && i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i] || ctx->entry_phase[i] != PH_PRE || ctx->if_absent[i])
            continue;
        int yes;
        if (entry_exists(ctx, c, e, &yes, err, errlen) < 0)
            return -1;
        if (!yes)
            continue;
        long ti = ctx->entry_table[i];
        if (ti >= 0 && ctx->tables[ti].renamed) /* a copy: named as it would be */
            snprintf(name, sizeof name, "%s.%s", ctx->tables[ti].dst_schema, ctx->tables[ti].dst_name);
        else
            snprintf(name, sizeof name, "%s%s%s", e->namespace ? e->namespace : "", e->namespace ? "." : "", e->tag);
        if (sl_add(&pf->there, name) < 0)
            return oom(err, errlen);
    }
    return 0;
}

/* The one error naming everything the preflight found, or 0 when it found nothing. */
static int preflight_report(preflight *pf, char *err, size_t errlen)
{
    const struct {
        strlist *l;
        const char *fmt;
    } parts[] = {
        {&pf->ext, "missing extensions %s (enable them first, e.g. CREATE EXTENSION IF NOT EXISTS ... WITH SCHEMA "
                   "extensions)"},
        {&pf->roles, "missing roles %s (create them, or restore with --globals from a dump --globals)"},
        {&pf->schemas, "missing schemas %s (the target is not a project of this platform?)"},
        {&pf->tables, "missing platform tables %s (their rows cannot be restored)"},
        {&pf->there, "already in the target: %s (restore with --clean to replace them, or into another database)"},
    };
    char msg[4 * PF_ERRLEN] = "", list[1024];
    size_t len = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i].l->n)
            continue;
        sl_join(parts[i].l, list, sizeof list);
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s", len ? "; " : "");
        if (len < sizeof msg)
            len += (size_t)snprintf(msg + len, sizeof msg - len, parts[i].fmt, list);
        if (len >= sizeof msg)
            len = sizeof msg - 1;
    }
    if (len == 0)
        return 0;
    return pf_err(err, errlen, "the target is not ready for this dump (nothing was written): %s", msg);
}

int restore_profile_target(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    if (!o->profile && !ctx->filtered)
        return 0;
    if (o->profile && strip_owners(ctx, c, err, errlen) < 0)
        return -1;
    preflight pf = {0};
    int rc = missing_extensions(ctx, c, &pf, err, errlen);
    if (rc == 0)
        rc = missing_roles(ctx, c, &pf, err, errlen);
    if (rc == 0)
        rc = missing_places(ctx, c, &pf, err, errlen);
    if (rc == 0)
        rc = already_there(ctx, c, &pf, err, errlen);
    if (rc == 0)
        rc = preflight_report(&pf, err, errlen);
    sl_free(&pf.ext);
    sl_free(&pf.roles);
    sl_free(&pf.schemas);
    sl_free(&pf.tables);
    sl_free(&pf.there);
    return rc;
}

/* Name of the object an attached entry's tag names after "<table> ". */
static const char *attached_name(restore_ctx *ctx, const archive_entry *e, const archive_entry **table)
{
    long t = restore_entry_table_entry(ctx, e);
    *table = t >= 0 ? &ctx->a.entries[t] : NULL;
    size_t tl = *table ? strlen((*table)->tag) : 0;
    if (*table && strncmp(e->tag, (*table)->tag, tl) == 0 && e->tag[tl] == ' ')
        return e->tag + tl + 1;
    return e->tag;
}

int restore_resolve_absent(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i] || !ctx->if_absent[i])
            continue;
        const archive_entry *t;
        const char *obj = attached_name(ctx, e, &t);
        int yes = 0;
        if (ctx->if_absent[i] == ABSENT_PUBREL) {
            /* tag "<publication> <table>": the table is the entry's dependency */
            char pub[512];
            snprintf(pub, sizeof pub, "%s", e->tag);
            char *sp = strchr(pub, ' ');
            if (sp)
                *sp = '\0';
            if (!t)
                continue;
            const char *p[3] = {pub, t->namespace, t->tag};
            if (exists_q(c,
                         "SELECT true FROM pg_catalog.pg_publication_tables WHERE pubname = $1"
                         " AND schemaname = $2 AND tablename = $3",
                         3, p, &yes, err, errlen) < 0)
                return -1;
            if (!yes) {
                /* the platform's publication itself must be there */
                const char *q1[1] = {pub};
                int pub_there;
                if (exists_q(c, "SELECT true FROM pg_catalog.pg_publication WHERE pubname = $1", 1, q1, &pub_there, err,
                             errlen) < 0)
                    return -1;
                if (!pub_there) {
                    pf_notice(ctx->o->notice, ctx->o->notice_ctx,
                              "restore: warning: publication %s is not in the target: %s.%s is not added to it", pub,
                              t->namespace, t->tag);
                    yes = 1;
                }
            }
        } else if (t) {
            const char *p[3] = {t->namespace, t->tag, obj};
            const char *sql = ctx->if_absent[i] == ABSENT_TRIGGER
                                  ? "SELECT true FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid"
                                    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                    " WHERE n.nspname = $1 AND c.relname = $2 AND g.tgname = $3"
                              : ctx->if_absent[i] == ABSENT_POLICY
                                  ? "SELECT true FROM pg_catalog.pg_policies WHERE schemaname = $1 AND tablename = $2"
                                    " AND policyname = $3"
                              : ctx->if_absent[i] == ABSENT_RULE
                                  ? "SELECT true FROM pg_catalog.pg_rules WHERE schemaname = $1 AND tablename = $2"
                                    " AND rulename = $3"
                                  : "SELECT c.relrowsecurity FROM pg_catalog.pg_class c"
                                    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                    " WHERE n.nspname = $1 AND c.relname = $2 AND $3::text IS NOT NULL";
            if (exists_q(c, sql, 3, p, &yes, err, errlen) < 0)
                return -1;
        }
        if (yes)
            ctx->wanted[i] = 0; /* the platform's (or already the user's): left as it is */
    }
    return 0;
}

/* Each privilege beyond the object's built-in default (acldefault) is revoked: the dump's
 * ACL entries, which pg_dump writes against that default, then leave the source's */
static const char *const baseline_sql =
    "DO $pgferry$ DECLARE r record; BEGIN"
    " FOR r IN"
    "  WITH wanted AS (SELECT pg_catalog.split_part(x, E'\\x1f', 1) AS kind,"
    "                         pg_catalog.split_part(x, E'\\x1f', 2) AS sch, pg_catalog.split_part(x, E'\\x1f', 3) AS nm"
    "                  FROM pg_catalog.regexp_split_to_table(current_setting('pgferry.baseline'), E'\\x1e') x),"
    "  objs AS (SELECT c.oid::regclass::text AS obj, c.relacl AS acl,"
    "                  pg_catalog.acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner) AS dflt,"
    "                  CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kw"
    "           FROM wanted w JOIN pg_catalog.pg_namespace n ON n.nspname = w.sch"
    "           JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.nm WHERE w.kind = 'r'"
    "           UNION ALL"
    "           SELECT p.oid::regprocedure::text, p.proacl, pg_catalog.acldefault('f'::\"char\", p.proowner),"
    "                  'ROUTINE'"
    "           FROM wanted w JOIN pg_catalog.pg_namespace n ON n.nspname = w.sch"
    "           JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid"
    "            AND p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' = w.nm"
    "           WHERE w.kind = 'f')"
    "  SELECT o.kw, o.obj, a.privilege_type, a.grantee FROM objs o, pg_catalog.aclexplode(o.acl) a"
    "  WHERE o.acl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(o.dflt) d"
    "        WHERE d.grantee = a.grantee AND d.privilege_type = a.privilege_type)"
    " LOOP"
    "  EXECUTE pg_catalog.format('REVOKE %s ON %s %s FROM %s', r.privilege_type, r.kw, r.obj,"
    "    CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)) END);"
    " END LOOP; END $pgferry$";

/* The relations and functions this restore created (a renamed copy where its rows went):
 * "kind \x1f schema \x1f name" records (kind r or f) joined by \x1e, malloc'd in *out;
 * "" when there are none. */
static int created_objects(restore_ctx *ctx, char **out, char *err, size_t errlen)
{
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    if (!f)
        return pf_err(err, errlen, "out of memory");
    int bad = 0;
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!ctx->wanted[i] || ctx->entry_phase[i] != PH_PRE || !e->namespace || ctx->if_absent[i])
            continue;
        int rel = restore_entry_is(e, "TABLE") || restore_entry_is(e, "VIEW") ||
                  restore_entry_is(e, "MATERIALIZED VIEW") || restore_entry_is(e, "SEQUENCE") ||
                  restore_entry_is(e, "FOREIGN TABLE");
        int fn = restore_entry_is(e, "FUNCTION") || restore_entry_is(e, "PROCEDURE") ||
                 restore_entry_is(e, "AGGREGATE");
        if (!rel && !fn)
            continue;
        const char *sch = e->namespace, *nm = e->tag;
        long ti = ctx->entry_table[i];
        if (ti >= 0) {
            sch = ctx->tables[ti].dst_schema;
            nm = ctx->tables[ti].dst_name;
        }
        bad |= fprintf(f, "%s%c\x1f%s\x1f%s", ftell(f) > 0 ? "\x1e" : "", fn ? 'f' : 'r', sch, nm) < 0;
    }
    if (fclose(f) != 0 || bad)
        return pf_err(err, errlen, "out of memory");
    return 0;
}

int restore_acl_baseline(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (restore_journal_has(ctx, "acl-baseline") || ctx->o->no_acl)
        return 0;
    /* only where the target's defaults could have given something */
    int any = 0;
    if (exists_q(c, "SELECT true FROM pg_catalog.pg_default_acl LIMIT 1", 0, NULL, &any, err, errlen) < 0)
        return -1;
    if (!any)
        return 0;
    char *names = NULL;
    if (created_objects(ctx, &names, err, errlen) < 0) {
        free(names);
        return -1;
    }
    if (!*names) {
        free(names);
        return 0;
    }
    const char *p[1] = {names};
    int rc = pgconn_exec(c, "BEGIN", "acl baseline", err, errlen);
    if (rc == 0) {
        PGresult *r = PQexecParams(c, "SELECT pg_catalog.set_config('pgferry.baseline', $1, true)", 1, NULL, p, NULL,
                                   NULL, 0);
        rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : pf_err(err, errlen, "acl baseline: cannot set its list");
        PQclear(r);
    }
    if (rc == 0)
        rc = pgconn_exec(c, baseline_sql, "acl baseline", err, errlen);
    if (rc == 0)
        rc = restore_journal_add(c, ctx, "acl-baseline", err, errlen);
    if (rc == 0)
        rc = pgconn_exec(c, "COMMIT", "acl baseline", err, errlen);
    if (rc < 0 && PQstatus(c) == CONNECTION_OK)
        PQclear(PQexec(c, "ROLLBACK"));
    free(names);
    return rc;
}

/* An extension is owned by whoever runs CREATE EXTENSION, and pg_dump writes no ALTER
 * EXTENSION ... OWNER: run as its owner at the source when that role is a superuser the
 * restoring role may become, so the extension and its objects keep their owner (as
 * superusers install them on managed platforms). */
int restore_extension_owners(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    if (ctx->o->no_owner)
        return 0;
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        const char *owner = ctx->wanted[i] && restore_entry_is(e, "EXTENSION") && e->sql
                                ? manifest_extension_owner(&ctx->m, e->tag)
                                : NULL;
        if (!owner)
            continue;
        const char *p[1] = {owner};
        int yes = 0;
        if (exists_q(c,
                     "SELECT r.rolsuper AND r.rolname <> current_user"
                     " AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')"
                     " FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
                     1, p, &yes, err, errlen) < 0)
            return -1;
        if (!yes)
            continue;
        char *q = pgconn_quote_ident(c, owner), *sql = NULL;
        if (!q || asprintf(&sql, "SET ROLE %s;\n%sRESET ROLE;\n", q, e->sql) < 0) {
            free(q);
            return pf_err(err, errlen, "out of memory");
        }
        free(q);
        free(e->sql);
        e->sql = sql;
    }
    return 0;
}
