/* cli_log: what a long-running command (dump, restore, copy, verify, drill) tells the person or
 * the log file watching it (tools/cli_log.c):
 *
 *   on a terminal     the progress line, redrawn in place (\r), as pgferry always did
 *   off a terminal    with --progress: a plain line every PGFERRY_PROGRESS_INTERVAL seconds
 *                     (default 5) and one at the end, each starting with the UTC time
 *                     ("2026-11-30T03:40:12Z dump: chunks 3/10 ..."); no \r, no escapes
 *   -v, --verbose     a timestamped line per job as it finishes: each chunk, index,
 *                     constraint and ANALYZE, with its seconds, rows and bytes
 *   --quiet           nothing but errors on stderr (with -v, the job lines go to the log
 *                     file only)
 *   --log-file FILE   the same plain, timestamped lines (progress, jobs with -v, warnings,
 *                     errors, the summary) appended to FILE, terminal or not, quiet or not
 *
 * The engines report through the callbacks below (progress, notices, finished jobs), from
 * several threads at once; one lock keeps lines whole. The state is the command's logging
 * configuration, set once from its options. */
#ifndef PF_CLI_LOG_H
#define PF_CLI_LOG_H

#include "common/pf_util.h"

/* Starts a command's logging with the defaults: progress when stderr is a terminal. */
void cli_log_init(const char *cmd);
/* Takes the logging options (c is cli_getopt's return: OPT_PROGRESS, OPT_NO_PROGRESS, 'v',
 * OPT_QUIET, OPT_LOG_FILE); 1 when c was one, else 0. */
int cli_log_option(int c, const char *arg);
/* After the options: checks them (--quiet with --progress is a usage error) and
 * opens --log-file for appending (created 0600), so a bad path is a usage error before
 * anything runs. Returns CLI_RUN, or EXIT_USAGE after printing the error. */
int cli_log_open(void);
void cli_log_close(void);

/* 1 when the progress callbacks are wanted (on stderr or in the log file). */
int cli_log_wants_progress(void);
/* 1 with -v (cli_log_job is wanted). */
int cli_log_verbose(void);
/* 1 with --quiet: a command prints its result lines only when this is 0. */
int cli_log_quiet(void);

struct dump_progress_s;
/* The dump engine's progress (a dump_progress_fn; ctx unused): "dump: chunks 3/10 rows ...",
 * "verify: chunks 3/10 rows ... read ...". */
void cli_dump_progress(void *ctx, const struct dump_progress_s *p);
struct restore_progress_s;
/* The restore's: "restore: chunks 3/10 rows ... post-data 4/9 ETA 0:12". */
void cli_restore_progress(void *ctx, const struct restore_progress_s *p);
/* An engine's line for the user (a pf_notice_fn): stderr unless --quiet, and the log file. */
void cli_notice(void *ctx, const char *line);
/* A finished job (a pf_job_fn), with -v: "restore: index INDEX public.t_pkey: 0.12 s". */
void cli_log_job(void *ctx, const pf_job *j);
/* The command's closing summary ("dump: 3 tables, ..."): on stderr where progress is shown
 * (plain on a terminal, timestamped off it), and in the log file. */
void cli_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line for the log file only (what a command prints on stdout, its verdict). */
void cli_log_record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An error line, given whole ("pgferry dump: ..."): stderr always, and the log file. */
void cli_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
