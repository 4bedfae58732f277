/* pgconn: libpq connections with pg_dump's session settings, and small query helpers. */
#ifndef PF_PGCONN_H
#define PF_PGCONN_H

#include <libpq-fe.h>
#include <stddef.h>

/* Connects with `conninfo` (anything libpq accepts: URI, key=value, or "" for PG*
 * variables, .pgpass, service files) and applies the session settings every pgferry
 * connection uses (safe search_path, DateStyle=ISO, TimeZone=UTC, extra_float_digits=3,
 * client_encoding=UTF8, no timeouts, row_security=off, ...). application_name is the
 * user's when conninfo sets one, else "pgferry". On failure returns NULL with one line
 * naming the server and libpq's reason (never the password). */
PGconn *pgconn_open(const char *conninfo, char *err, size_t errlen);

/* Runs a command that returns no rows; -1 with "<what>: <server message>" on failure. */
int pgconn_exec(PGconn *c, const char *sql, const char *what, char *err, size_t errlen);

/* Runs a query expected to return rows (PGRES_TUPLES_OK). NULL and err on failure. */
PGresult *pgconn_query(PGconn *c, const char *sql, int nparams, const char *const *params,
                       const char *what, char *err, size_t errlen);

/* First line of libpq's last error, without the "ERROR:  " prefix (static buffer per
 * call site not needed: copies into out). */
const char *pgconn_errline(PGconn *c, char *out, size_t outlen);
const char *pgconn_result_errline(const PGresult *r, char *out, size_t outlen);

/* Splits conninfo into a copy without the password (for child processes' argv) and the
 * password itself (malloc'd or NULL), so that secrets travel by environment only.
 * Returns 0 or -1 (conninfo not parseable). */
int pgconn_split_password(const char *conninfo, char **without_pw, char **password,
                          char *err, size_t errlen);

/* True when s is a connection string (key=value pairs, or a URI starting with
 * postgresql:// or postgres://) rather than a plain database name: libpq's own rule for
 * expanding a dbname. */
int pgconn_is_conninfo(const char *s);

/* Serialises n keyword/value pairs as a connection string, skipping NULL values (and the
 * password when omit_password). Values are written 'quoted' with ' and \ escaped by a
 * backslash; with compact, only values that need it are quoted (for display). malloc'd,
 * NULL when out of memory. */
char *pgconn_render(const char *const *keys, const char *const *vals, size_t n, int omit_password,
                    int compact);

/* A copy of conninfo (any form libpq takes) as key='value' pairs with dbname replaced:
 * for connecting to another database of the same server. malloc'd, NULL on error. */
char *pgconn_with_dbname(const char *conninfo, const char *dbname, char *err, size_t errlen);

/* Quotes an identifier with libpq (PQescapeIdentifier). Result malloc'd (free()), NULL
 * on failure. */
char *pgconn_quote_ident(PGconn *c, const char *ident);
/* "schema"."name", malloc'd. */
char *pgconn_qualified(PGconn *c, const char *schema, const char *name);

/* Server major version (e.g. 15) from PQserverVersion. */
int pgconn_server_major(PGconn *c);

#endif
