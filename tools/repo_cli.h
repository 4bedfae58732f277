/* repo_cli: what the repository commands (list --repo, prune, status) share. */
#ifndef PF_REPO_CLI_H
#define PF_REPO_CLI_H

#include "engine/repo.h"

#include <jansson.h>
#include <time.h>

/* One backup as JSON: label, time, age_seconds, status, complete, writing, authenticated,
 * tag, keep_forever, tables, rows, bytes, started_at, finished_at, database, note,
 * verification ({ok, time, problems} or null). */
json_t *repo_cli_backup_json(const repo_backup *b, time_t now);
/* A drill record as JSON: label (the backup), time, age_seconds, ok, rto_seconds; null for
 * NULL. */
json_t *repo_cli_drill_json(const repo_drill *d, time_t now);
/* "PASS 2026-12-01T05:30:00Z (3d ago) of 20261127T030000Z, restore 1m12s" or "never". */
void repo_cli_drill_text(const repo_drill *d, time_t now, char *out, size_t outlen);
/* "complete", "incomplete" or "writing". */
const char *repo_cli_state(const repo_backup *b);
/* "ok 2026-11-27T03:00Z", "FAILED 2026-11-27T03:00Z" or "never". */
void repo_cli_verified(const repo_backup *b, char *out, size_t outlen);
/* How a command that reads one backup names it: a directory (-f DIR or DIR), or a
 * repository and which of its backups (--repo R with --as-of TIME or --backup
 * latest|LABEL|TAG). */
typedef struct {
    const char *repo, *as_of, *backup;
} repo_cli_sel;

/* Takes --repo, --as-of or --backup (c is cli_getopt's return: OPT_REPO, OPT_AS_OF,
 * OPT_BACKUP): 1 when it was one. */
int repo_cli_option(repo_cli_sel *s, int c, const char *arg);
/* The dump directory a command reads. dir: what -f/DIR gave, or NULL. Checks the
 * combination (--as-of/--backup need --repo, --repo and a directory exclude each other,
 * --as-of and --backup too, --repo needs one of them), resolves the backup and prints it
 * on stderr ("pgferry CMD: using backup LABEL (TIME, tag T) from REPO"). out needs 4096
 * bytes. Returns 0 with *dir_out (dir, or out), EXIT_USAGE for a usage error (a backup
 * that does not exist included), 1 when the repository cannot be read; the error is
 * printed. */
int repo_cli_resolve(const char *cmd, const repo_cli_sel *s, const char *dir, char *out, size_t outlen,
                     const char **dir_out);
/* 1 when any of --repo, --as-of, --backup was given. */
int repo_cli_any(const repo_cli_sel *s);

/* pgferry list --repo REPO [--json] */
int cmd_list_repo(const char *repo, int json);

#endif
