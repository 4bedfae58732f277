/* restore_target: the target database: connections, --create, the emptiness check, --clean,
 * and the journal that makes every unit of work commit exactly once. */
#include "engine/restore_int.h"

#include "engine/pgconn.h"

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
        fprintf(stderr, "restore: server warning: %s\n", msg);
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
        pgconn_exec(c, "SET synchronous_commit = off; SET maintenance_work_mem = '512MB';"
                       " SET default_transaction_read_only = off",
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
                ctx->db_create_sql = strndup(line, n);
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
            return pf_err(err, errlen, "--resume: the unfinished restore in this database came from another dump (finish it with that dump, or start over with --clean)");
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
        if (ctx->do_pre && restore_check_empty(ctx, c, err, errlen) < 0) {
            char keep[PF_ERRLEN];
            snprintf(keep, sizeof keep, "%s", err);
            return pf_err(err, errlen, "--resume: there is no unfinished pgferry restore in this database (no " JOURNAL_SCHEMA ".journal), and %s",
                          keep);
        }
        fprintf(stderr, "restore: no unfinished restore in this database (nothing of an earlier run committed): restoring from the start\n");
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
    if (ctx->do_pre && restore_check_empty(ctx, c, err, errlen) < 0)
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
int restore_clean(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    size_t *later = calloc(ctx->a.n + 1, sizeof *later), nlater = 0;
    if (!later)
        return pf_err(err, errlen, "out of memory");
    int rc = -1, in_tx = 0;
    size_t in_batch = 0;
    for (size_t k = ctx->a.n; k-- > 0;) {
        archive_entry *e = &ctx->a.entries[k];
        if (!ctx->wanted[k] || ctx->entry_phase[k] == PH_DATABASE || !e->drop || !has_statement(e->drop))
            continue;
        if (!in_tx && pgconn_exec(c, "BEGIN", "clean", err, errlen) < 0)
            goto out;
        in_tx = 1;
        PQclear(PQexec(c, "SAVEPOINT pgferry_clean"));
        PGresult *r = PQexec(c, e->drop);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
            if (!gone_state(PQresultErrorField(r, PG_DIAG_SQLSTATE)))
                later[nlater++] = k;
            PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT pgferry_clean"));
        }
        PQclear(r);
        if (PQstatus(c) != CONNECTION_OK) {
            pf_err(err, errlen, "clean: connection lost");
            goto out;
        }
        if (++in_batch == CLEAN_BATCH) {
            if (pgconn_exec(c, "COMMIT", "clean", err, errlen) < 0)
                goto out;
            in_tx = 0;
            in_batch = 0;
        }
    }
    if (!in_tx && pgconn_exec(c, "BEGIN", "clean", err, errlen) < 0)
        goto out;
    in_tx = 1;
    for (size_t i = 0; i < nlater; i++) {
        size_t k = later[i];
        archive_entry *e = &ctx->a.entries[k];
        PQclear(PQexec(c, "SAVEPOINT pgferry_clean"));
        PGresult *r = PQexec(c, e->drop);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (state && !strcmp(state, "2BP01") && restore_entry_is(e, "SCHEMA")) {
                char item[64];
                snprintf(item, sizeof item, "keep:%d", e->id);
                ctx->keep_create[k] = 1;
                PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT pgferry_clean"));
                if (restore_journal_add(c, ctx, item, err, errlen) < 0) {
                    PQclear(r);
                    goto out;
                }
            } else if (!gone_state(state)) {
                char line[PF_ERRLEN];
                pf_err(err, errlen, "clean: %s %s%s%s: %s", e->desc, e->namespace ? e->namespace : "",
                       e->namespace ? "." : "", e->tag, pgconn_result_errline(r, line, sizeof line));
                PQclear(r);
                goto out;
            } else
                PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT pgferry_clean"));
        }
        PQclear(r);
    }
    if (restore_journal_add(c, ctx, "clean:done", err, errlen) < 0 || pgconn_exec(c, "COMMIT", "clean", err, errlen) < 0)
        goto out;
    in_tx = 0;
    rc = 0;
out:
    if (in_tx && PQstatus(c) == CONNECTION_OK)
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
