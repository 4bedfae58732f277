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
/* "complete", "incomplete" or "writing". */
const char *repo_cli_state(const repo_backup *b);
/* "ok 2026-11-27T03:00Z", "FAILED 2026-11-27T03:00Z" or "never". */
void repo_cli_verified(const repo_backup *b, char *out, size_t outlen);
/* Prints a JSON value on stdout (and frees it). */
void repo_cli_print_json(json_t *o);

/* pgferry list --repo REPO [--json] */
int cmd_list_repo(const char *repo, int json);

#endif
