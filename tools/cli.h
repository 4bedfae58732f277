/* cli: what the command files of the pgferry CLI share. Each command lives in
 * tools/cmd_<name>.c and is listed in tools/pgferry.c. */
#ifndef PF_CLI_H
#define PF_CLI_H

#include <signal.h>

#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

/* Set by SIGINT/SIGTERM once cli_install_signals() ran. */
extern volatile sig_atomic_t cli_interrupted;
void cli_install_signals(void);

/* Prints "pgferry CMD: <fmt with arg> (try 'pgferry CMD --help')" and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);
/* A command's failure: the one-line error on stderr, {"ok": false, "error": ...} on stdout
 * with --json; returns the exit code (130 when interrupted, else 1). */
int cli_fail(const char *cmd, int json, const char *err);
/* True when argv asks for help (-h/--help anywhere before "--"). */
int cli_wants_help(int argc, char **argv);
/* Parses a job count 1..256. */
int cli_parse_jobs(const char *s, int *out);
/* The passphrase of an encrypted dump: from FILE (--passphrase-file; one trailing newline
 * dropped), else from PGFERRY_PASSPHRASE (then removed from the environment, so child
 * processes never see it), else NULL. Never from the command line. Returns 0, or -1
 * after printing a one-line error for cmd. *out is malloc'd; free with cli_forget(). */
int cli_passphrase(const char *cmd, const char *file, char **out);
void cli_forget(char *secret);
/* Returns a copy (kept for the life of the process) of a connection string and overwrites any password in the original (an
 * argv element) with '*', so it does not stay readable in /proc/<pid>/cmdline. Prefer
 * PGPASSWORD, .pgpass or a service file: this only shortens the exposure. */
char *cli_take_conninfo(char *arg);
/* Registers a (re)allocated option array (old: what it replaces, or NULL) so it stays
 * reachable until exit; returns fresh. */
void *cli_keep(void *old, void *fresh);
/* Appends to a growable array of strings. */
int cli_push(const char ***arr, size_t *n, const char *v);

int cmd_dump(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_drill(int argc, char **argv);
int cmd_verify(int, char **);
int cmd_list(int, char **);
int cmd_prune(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif
