/* pgferry verify */
#include "common/pf_util.h"
#include "engine/repo.h"
#include "engine/verify.h"
#include "tools/cli.h"
#include "tools/cli_log.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    json_t *problems; /* NULL without --json */
} vcli;

static void on_problem(void *ctx, const verify_problem *p)
{
    vcli *c = ctx;
    if (p->file && p->table && p->chunk >= 0)
        cli_log_error("verify: %s (%s chunk %ld): %s", p->file, p->table, p->chunk, p->error);
    else if (p->file && p->table)
        cli_log_error("verify: %s (%s): %s", p->file, p->table, p->error);
    else if (p->file && !strstr(p->error, p->file))
        cli_log_error("verify: %s: %s", p->file, p->error);
    else /* the message names its subject itself */
        cli_log_error("verify: %s", p->error);
    if (c->problems) {
        json_t *o = json_object();
        json_object_set_new(o, "file", p->file ? json_string(p->file) : json_null());
        json_object_set_new(o, "table", p->table ? json_string(p->table) : json_null());
        json_object_set_new(o, "chunk", p->chunk >= 0 ? json_integer(p->chunk) : json_null());
        json_object_set_new(o, "error", json_string(p->error));
        json_array_append_new(c->problems, o);
    }
}

typedef struct {
    int jobs, json;
    const char *passfile, *dir;
    cli_conn cc;
    repo_cli_sel sel;
    const char **req; /* --require-table */
    size_t nreq;
    char *db;         /* --db with -h/-p/-U/-W, built */
} verify_args;

/* One option (c is cli_getopt's return); CLI_RUN, or the exit code. */
static int verify_option(verify_args *a, int c, char **argv)
{
    if (cli_log_option(c, optarg))
        return CLI_RUN;
    switch (c) {
    case 'j':
        if (cli_parse_jobs(optarg, &a->jobs) < 0)
            return cli_usage_error("verify", "invalid --jobs value \"%s\": expected 1 to 256", optarg);
        break;
    case OPT_REQUIRE_TABLE:
        if (!*optarg)
            return cli_usage_error("verify", "%s", "--require-table needs a table name");
        cli_push(&a->req, &a->nreq, optarg);
        break;
    case OPT_JSON: a->json = 1; break;
    case OPT_DB: a->cc.conninfo = cli_take_conninfo(optarg); break;
    case OPT_PASSPHRASE_FILE: a->passfile = optarg; break;
    case 'h': case 'p': case 'U': case 'w': case 'W': {
        int rc = cli_conn_option("verify", &a->cc, c, optarg);
        return rc ? rc : CLI_RUN;
    }
    case OPT_REPO: case OPT_AS_OF: case OPT_BACKUP: repo_cli_option(&a->sel, c, optarg); break;
    case OPT_HELP: return cli_help("verify");
    default: return cli_option_error("verify", c, argv);
    }
    return CLI_RUN;
}

/* The command line into a, the backup resolved (repo_dir holds its directory when it is
 * in a repository) and the --db connection string built; CLI_RUN, or the exit code. */
static int verify_parse(verify_args *a, int argc, char **argv, char *repo_dir, size_t repo_dirlen)
{
    memset(a, 0, sizeof *a);
    a->jobs = 2;
    a->cc.conn_opt = "--db";
    cli_log_init("verify");
    int c, rc;
    while ((c = cli_getopt(cli_find_command("verify"), argc, argv)) != -1)
        if ((rc = verify_option(a, c, argv)) != CLI_RUN)
            return rc;
    if (optind >= argc && !repo_cli_any(&a->sel))
        return cli_usage_error("verify", "%s", "missing DIR (or --repo REPO --as-of TIME)");
    if (optind + 1 < argc)
        return cli_usage_error("verify", "unexpected argument \"%s\"", argv[optind + 1]);
    if ((rc = cli_log_open()) != CLI_RUN)
        return rc;
    a->dir = optind < argc ? argv[optind] : NULL;
    if ((rc = repo_cli_resolve("verify", &a->sel, a->dir, repo_dir, repo_dirlen, &a->dir)) != 0)
        return rc;
    if (!a->cc.conninfo && cli_conn_any(&a->cc))
        return cli_usage_error("verify", "%s", "-h, -p, -U and -W go with --db CONNINFO (the database to compare with)");
    if (a->cc.conninfo && (rc = cli_conn_build("verify", &a->cc, 0, &a->db)) != 0)
        return rc;
    return CLI_RUN;
}

static void verify_print_json(const verify_args *a, int status, int rc, const char *err, json_t *problems,
                              const verify_totals *t, double seconds)
{
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_boolean(status == 0));
    json_object_set_new(o, "dir", cli_json_path(a->dir));
    if (rc < 0)
        json_object_set_new(o, "error", json_string(err));
    json_object_set_new(o, "problems", problems);
    json_t *tot = json_object();
    json_object_set_new(tot, "tables", json_integer((json_int_t)t->tables));
    json_object_set_new(tot, "chunks", json_integer((json_int_t)t->chunks));
    json_object_set_new(tot, "rows", json_integer((json_int_t)t->rows));
    json_object_set_new(tot, "large_objects", json_integer((json_int_t)t->large_objects));
    json_object_set_new(tot, "raw_bytes", json_integer((json_int_t)t->raw_bytes));
    json_object_set_new(tot, "bytes_read", json_integer((json_int_t)t->bytes_read));
    json_object_set_new(tot, "problems", json_integer((json_int_t)t->problems));
    json_object_set_new(tot, "problem_files", json_integer((json_int_t)t->problem_files));
    json_object_set_new(o, "totals", tot);
    json_object_set_new(o, "verify_seconds", json_real(seconds));
    cli_json_print(o);
}

/* The verdict line on stdout: OK with what was checked, or FAILED with the count. */
/* The verdict line: OK with what was checked, or FAILED with the count; on stdout (an OK
 * not under --quiet) and in the log file. */
static void verify_print_text(const manifest *m, const verify_totals *t, int ok)
{
    char line[512], a[32], b[32], lo[64] = "";
    if (ok) {
        if (m && m->has_large_objects)
            snprintf(lo, sizeof lo, ", %llu large objects", (unsigned long long)t->large_objects);
        /* "checked" counts the COPY data decoded and recounted; "read" what was on disk. */
        snprintf(line, sizeof line, "verify: OK: %llu tables, %llu chunks, %llu rows%s, %s checked (%s read)",
                 (unsigned long long)t->tables, (unsigned long long)t->chunks, (unsigned long long)t->rows, lo,
                 pf_fmt_bytes(t->raw_bytes, a, sizeof a), pf_fmt_bytes(t->bytes_read, b, sizeof b));
    } else if (t->problem_files > 0) {
        snprintf(line, sizeof line, "verify: FAILED: %llu problem%s in %llu file%s", (unsigned long long)t->problems,
                 t->problems == 1 ? "" : "s", (unsigned long long)t->problem_files, t->problem_files == 1 ? "" : "s");
    } else {
        snprintf(line, sizeof line, "verify: FAILED: %llu problem%s", (unsigned long long)t->problems,
                 t->problems == 1 ? "" : "s");
    }
    if (!ok || !cli_log_quiet())
        printf("%s\n", line);
    cli_log_record("%s", line);
}

/* Every check; 0 when they ran (whatever they found), -1 with err when one could not. */
static int verify_checks(verify_session *s, const verify_args *a, char *err, size_t errlen)
{
    if (!s || verify_require_tables(s, a->req, a->nreq, err, errlen) < 0 ||
        verify_files(s, a->jobs, &cli_interrupted, err, errlen) < 0 ||
        (a->db && verify_database(s, a->db, a->jobs, &cli_interrupted, err, errlen) < 0))
        return -1;
    return 0;
}

int cmd_verify(int argc, char **argv)
{
    verify_args a;
    char repo_dir[4096], err[PF_ERRLEN], *passphrase = NULL;
    int rc = verify_parse(&a, argc, argv, repo_dir, sizeof repo_dir);
    if (rc != CLI_RUN || cli_passphrase("verify", a.passfile, &passphrase) < 0) {
        free(a.req);
        return rc != CLI_RUN ? rc : 1;
    }
    cli_install_signals();
    vcli cli = {a.json ? json_array() : NULL};
    double start = pf_now();
    verify_session *s = verify_open(a.dir, passphrase, on_problem, &cli, err, sizeof err);
    cli_forget(passphrase);
    if (s)
        verify_observe(s, cli_log_wants_progress() ? cli_dump_progress : NULL, NULL,
                       cli_log_verbose() ? cli_log_job : NULL, NULL);
    rc = verify_checks(s, &a, err, sizeof err);
    free(a.req);
    int status = rc < 0 ? (cli_interrupted ? EXIT_INTERRUPTED : 1) : verify_session_ok(s) ? 0 : 1;
    if (rc < 0)
        cli_log_error("pgferry verify: %s", err);
    verify_totals t = {0};
    if (s)
        verify_session_totals(s, &t);
    if (rc == 0) { /* a verdict: a backup inside a repository records it (REPO/.verify/) */
        char rerr[PF_ERRLEN];
        if (repo_record_verification(a.dir, status == 0, t.problems, a.db != NULL, time(NULL), rerr, sizeof rerr) < 0)
            cli_log_error("pgferry verify: could not record the result: %s", rerr);
    }
    if (a.json)
        verify_print_json(&a, status, rc, err, cli.problems, &t, pf_now() - start);
    else if (rc == 0)
        verify_print_text(s ? verify_session_manifest(s) : NULL, &t, status == 0);
    verify_close(s);
    return status;
}
