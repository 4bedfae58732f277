#include "engine/pgconn.h"

#include "common/pf_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The settings pg_dump applies (pg_backup_db.c / pg_dump.c setup_connection), so COPY
 * output is the same whatever the role's or database's defaults are. */
static const char *const session_sql =
    "SELECT pg_catalog.set_config('search_path', '', false);"
    "SET client_encoding = 'UTF8';"
    "SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC';"
    "SET extra_float_digits = 3; SET synchronize_seqscans = off;"
    "SET statement_timeout = 0; SET lock_timeout = 0;"
    "SET idle_in_transaction_session_timeout = 0; SET row_security = off";
/* No SET application_name here: pgconn_open passes fallback_application_name=pgferry,
 * which names the session only when the user's connection string names none. */

static void strip_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
}

static const char *clean_errline(const char *msg, char *out, size_t outlen)
{
    if (!msg || !*msg)
        msg = "unknown error";
    if (strncmp(msg, "ERROR:  ", 8) == 0)
        msg += 8;
    else if (strncmp(msg, "FATAL:  ", 8) == 0)
        msg += 8;
    snprintf(out, outlen, "%s", msg);
    strip_line(out);
    return out;
}

const char *pgconn_errline(PGconn *c, char *out, size_t outlen)
{
    return clean_errline(c ? PQerrorMessage(c) : NULL, out, outlen);
}

const char *pgconn_result_errline(const PGresult *r, char *out, size_t outlen)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m)
        return clean_errline(r ? PQresultErrorMessage(r) : NULL, out, outlen);
    clean_errline(m, out, outlen);
    /* the server's hint often says what to do ("increase max_locks_per_transaction") */
    const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
    size_t n = strlen(out);
    if (hint && *hint && n + 16 < outlen) {
        snprintf(out + n, outlen - n, " (hint: %s)", hint);
        strip_line(out);
    }
    return out;
}

PGconn *pgconn_open(const char *conninfo, char *err, size_t errlen)
{
    /* expand_dbname lets "conninfo" be a URI or key=value string as everywhere in libpq;
     * fallback_application_name keeps the user's own application_name when set. */
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *vals[] = {conninfo ? conninfo : "", "pgferry", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        pf_err(err, errlen, "connect: out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char line[PF_ERRLEN];
        pgconn_errline(c, line, sizeof line);
        /* libpq's message already names the server ("connection to server at ... failed: ...") */
        if (PQconnectionNeedsPassword(c))
            /* the server asks for a password and none was given: pgferry never prompts
             * unless told to (-W), so say where one can come from */
            pf_err(err, errlen, "connect: %s (the server asks for a password: give -W, or set "
                                "PGPASSWORD or a ~/.pgpass entry)", line);
        else
            pf_err(err, errlen, "connect: %s", line);
        PQfinish(c);
        return NULL;
    }
    if (PQserverVersion(c) < 90600) {
        pf_err(err, errlen, "connect: server version %d is not supported (9.6 or later needed)",
               PQserverVersion(c));
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexec(c, session_sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        char line[PF_ERRLEN];
        pf_err(err, errlen, "session settings: %s", pgconn_result_errline(r, line, sizeof line));
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

int pgconn_exec(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        char line[PF_ERRLEN];
        if (r)
            pgconn_result_errline(r, line, sizeof line);
        else
            pgconn_errline(c, line, sizeof line);
        PQclear(r);
        return pf_err(err, errlen, "%s: %s", what, line);
    }
    PQclear(r);
    return 0;
}

PGresult *pgconn_query(PGconn *c, const char *sql, int nparams, const char *const *params,
                       const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char line[PF_ERRLEN];
        if (r)
            pgconn_result_errline(r, line, sizeof line);
        else
            pgconn_errline(c, line, sizeof line);
        pf_err(err, errlen, "%s: %s", what, line);
        PQclear(r);
        return NULL;
    }
    return r;
}

int pgconn_is_conninfo(const char *s)
{
    /* libpq's recognized_connection_string(): a URI prefix or an '=' anywhere */
    return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0 ||
                 strchr(s, '=') != NULL);
}

/* A value needs quotes in a connection string when it is empty or holds white space, a
 * quote or a backslash (libpq reads an unquoted value up to white space, with \ escapes). */
static int needs_quotes(const char *v)
{
    if (!*v)
        return 1;
    for (const char *p = v; *p; p++)
        if (isspace((unsigned char)*p) || *p == '\'' || *p == '\\')
            return 1;
    return 0;
}

char *pgconn_render(const char *const *keys, const char *const *vals, size_t n, int omit_password,
                    int compact)
{
    size_t cap = 1, len = 0;
    for (size_t i = 0; i < n; i++)
        if (vals[i])
            cap += strlen(keys[i]) + 2 * strlen(vals[i]) + 4;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!vals[i] || (omit_password && strcmp(keys[i], "password") == 0))
            continue;
        int quote = !compact || needs_quotes(vals[i]);
        len += (size_t)sprintf(out + len, "%s%s=%s", len ? " " : "", keys[i], quote ? "'" : "");
        /* ' and \ escaped with a backslash, as libpq's conninfo grammar wants */
        for (const char *p = vals[i]; *p; p++) {
            if (*p == '\'' || *p == '\\')
                out[len++] = '\\';
            out[len++] = *p;
        }
        if (quote)
            out[len++] = '\'';
    }
    out[len] = '\0';
    return out;
}

/* Rebuilds conninfo as key='value' pairs, leaving the password out (returned apart in
 * *password when not NULL) and replacing dbname when dbname is not NULL. */
static char *rebuild_conninfo(const char *conninfo, const char *dbname, char **password, char *err,
                              size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
    if (!opts) {
        char line[PF_ERRLEN];
        clean_errline(perr, line, sizeof line);
        PQfreemem(perr);
        pf_err(err, errlen, "connection string: %s", line);
        return NULL;
    }
    size_t n = 0;
    while (opts[n].keyword)
        n++;
    const char **keys = calloc(n + 1, sizeof *keys), **vals = calloc(n + 1, sizeof *vals);
    char *out = NULL;
    int have_db = 0;
    if (keys && vals) {
        for (size_t i = 0; i < n; i++) {
            keys[i] = opts[i].keyword;
            vals[i] = opts[i].val;
            if (strcmp(keys[i], "dbname") == 0) {
                if (dbname)
                    vals[i] = dbname;
                have_db = 1;
            }
            if (password && vals[i] && strcmp(keys[i], "password") == 0 && !*password)
                *password = strdup(vals[i]);
        }
        out = pgconn_render(keys, vals, n, password != NULL, 0);
    }
    free(keys);
    free(vals);
    PQconninfoFree(opts);
    if (!out) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    if (dbname && !have_db) {
        /* dbname was not among the parsed options (it always is in libpq, but be sure) */
        free(out);
        pf_err(err, errlen, "connection string: no dbname option");
        return NULL;
    }
    return out;
}

int pgconn_split_password(const char *conninfo, char **without_pw, char **password,
                          char *err, size_t errlen)
{
    *password = NULL;
    *without_pw = rebuild_conninfo(conninfo, NULL, password, err, errlen);
    return *without_pw ? 0 : -1;
}

char *pgconn_with_dbname(const char *conninfo, const char *dbname, char *err, size_t errlen)
{
    return rebuild_conninfo(conninfo, dbname, NULL, err, errlen);
}

char *pgconn_quote_ident(PGconn *c, const char *ident)
{
    char *q = PQescapeIdentifier(c, ident, strlen(ident));
    if (!q)
        return NULL;
    char *out = strdup(q); /* callers free() without caring which allocator made it */
    PQfreemem(q);
    return out;
}

char *pgconn_qualified(PGconn *c, const char *schema, const char *name)
{
    char *a = pgconn_quote_ident(c, schema), *b = pgconn_quote_ident(c, name);
    char *out = NULL;
    if (a && b && asprintf(&out, "%s.%s", a, b) < 0)
        out = NULL;
    free(a);
    free(b);
    return out;
}

int pgconn_server_major(PGconn *c)
{
    int v = PQserverVersion(c);
    return v >= 100000 ? v / 10000 : v / 100;
}
