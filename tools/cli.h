/* cli: what the command files of the pgferry CLI share (tools/cli.c). Each command lives
 * in tools/cmd_<name>.c and is listed in tools/pgferry.c. */
#ifndef PF_CLI_H
#define PF_CLI_H

#include <signal.h>
#include <stddef.h>

#include "engine/catalog.h"
#include "tools/cli_spec.h"

#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

/* What a command's option parser returns when the command is to run (else the exit code:
 * 0 after --help, EXIT_USAGE after a usage error). */
#define CLI_RUN (-1)

/* The next option of the command described by c (cli_spec.h): getopt_long with the long
 * options and optstring built from c->opts; ':' for a missing value, '?' for an unknown
 * option (then call cli_option_error). */
int cli_getopt(const cli_cmd *c, int argc, char **argv);
/* Prints a command's --help on stdout (pgferry's own for NULL); returns 0. */
int cli_help(const char *cmd);

/* ---- the JSON contract (tools/cli_json.c; README "JSON output") -------------------------
 * With --json anywhere in a command's arguments (before "--") it prints exactly one JSON
 * object on stdout, at the end, whatever happens (success, failure, usage error):
 *   contract  CLI_JSON_CONTRACT; its number changes only when a field changes meaning or
 *             goes away (new fields do not change it)
 *   ok        true exactly when the exit code is 0      command  the command's name
 *   version   pgferry's version                         started  ISO 8601 UTC
 *   seconds   the command's wall time (a number)        exit     the exit code
 *   error     what failed (only when something did)
 * then the command's own fields, in the order it added them; every path in them absolute
 * (cli_json_path). */
#define CLI_JSON_CONTRACT "pgferry.json/1"
typedef struct json_t json_t;
/* main(): before the command runs (argv[0] is the command's name). */
void cli_json_begin(const char *cmd, int argc, char **argv);
/* main(): after it; prints the object when --json was given; returns rc. */
int cli_json_end(int rc);
/* True when --json was given. */
int cli_json_on(void);
/* A command's own fields (takes the reference; a second call adds to the first). Prints
 * nothing until cli_json_end(). */
void cli_json_print(json_t *o);
/* The error to report when the command fails (the first one given counts). */
void cli_json_error(const char *err);
/* A path as JSON: absolute (resolved against the working directory), URLs (s3://) as they
 * are, NULL as null. */
json_t *cli_json_path(const char *path);

/* Set by SIGINT/SIGTERM once cli_install_signals() ran. */
extern volatile sig_atomic_t cli_interrupted;
void cli_install_signals(void);

/* Prints "pgferry CMD: <fmt with arg> (try 'pgferry CMD --help')" (and makes it the --json
 * object's "error") and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);
/* For cli_getopt's ':' and '?' returns: for -? prints the command's help on stdout and
 * returns 0; otherwise prints the usage error (the option missing its value, or unknown;
 * -h on a command that does not connect says help is --help or -?) and returns
 * EXIT_USAGE. */
int cli_option_error(const char *cmd, int c, char **argv);
/* A command's failure: the one-line error on stderr, and the "error" of its --json object;
 * returns the exit code (130 when interrupted, else 1). json: unused (kept for callers). */
int cli_fail(const char *cmd, int json, const char *err);
/* A file an option names for pgferry to write at the end (--trace, --report): its
 * directory must exist and be writable, and the path must not be a directory, so a long run
 * does not end without it. Prints the usage error and returns EXIT_USAGE, else 0. */
int cli_check_output(const char *cmd, const char *opt, const char *path);
/* Parses a job count 1..256. */
int cli_parse_jobs(const char *s, int *out);
/* The passphrase of an encrypted dump: from FILE (--passphrase-file; one trailing newline
 * dropped), else from PGFERRY_PASSPHRASE (then removed from the environment, so child
 * processes never see it), else NULL. Never from the command line. Returns 0, or -1
 * after printing a one-line error for cmd. *out is malloc'd; free with cli_forget(). */
int cli_passphrase(const char *cmd, const char *file, char **out);
void cli_forget(char *secret);
/* Registers a (re)allocated option array (old: what it replaces, or NULL) so it stays
 * reachable until exit; returns fresh. */
void *cli_keep(void *old, void *fresh);
/* Appends to a growable array of strings. */
int cli_push(const char ***arr, size_t *n, const char *v);
/* Frees the pattern arrays cli_push filled in f (-t -T -n -N --exclude-table-data); the
 * strings are argv's. */
void cli_filter_free(catalog_filter *f);

/* ---- connecting ------------------------------------------------------------------------
 * Every command that connects takes a connection string (dump and restore -d, verify --db,
 * drill --target, dump's positional DBNAME), which may be a plain database name, key=value
 * pairs or a URI, plus -h/-p/-U/-w/-W. */

/* Returns a copy (kept for the life of the process) of a connection-string argument and,
 * when libpq's parser finds a password in it (key=value, URI user:password@ or ?password=,
 * percent-encoded or not), overwrites the argument in place (an argv element) with a
 * rendering without the password, or with '*' where that does not fit, so the password
 * is not readable in /proc/<pid>/cmdline. A string libpq cannot parse is '*'-filled
 * whole (it may hold a password). */
char *cli_take_conninfo(char *arg);

typedef struct {
    const char *conninfo;          /* the command's connection string (a cli_take_conninfo copy) */
    const char *conn_opt;          /* how it was given, for messages: "-d", "--db", "--target", "DBNAME" */
    const char *host, *port, *user; /* -h, -p, -U */
    int prompt;                    /* -W (a later -w clears it, as in pg_dump) */
} cli_conn;

/* Takes -h/-p/-U/-w/-W (c is getopt's return). Returns 0, or EXIT_USAGE after printing
 * the usage error for a bad value. */
int cli_conn_option(const char *cmd, cli_conn *cc, int c, const char *arg);
/* True when any of -h/-p/-U/-W was given. */
int cli_conn_any(const cli_conn *cc);

/* Builds the one connection string a command uses, as pg_dump builds its connection:
 * cc->conninfo parsed by libpq (URIs expanded; a plain word is a database name), then
 * -h/-p/-U and the password asked for by -W fill in host, port, user and password where
 * the string does not set them: what the string says wins, as in pg_dump, and both win
 * over PG* variables, which libpq applies to what is still unset when connecting. The
 * result is key='value' pairs, kept for the life of the process. need_db: the string
 * must name a database (dbname, or a service) - PGDATABASE does not count. Returns 0, or
 * the exit code after printing the error (2 usage, 1 no terminal for -W, 130 Ctrl-C at
 * the prompt). */
int cli_conn_build(const char *cmd, const cli_conn *cc, int need_db, char **out);

int cmd_dump(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_drill(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
