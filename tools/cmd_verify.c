/* pgferry verify */
#include "common/pf_util.h"
#include "engine/repo.h"
#include "engine/verify.h"
#include "tools/cli.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const verify_help =
    "Usage: pgferry verify [OPTIONS] (DIR | --repo REPO (--as-of TIME | --backup NAME))\n"
    "                      [--db CONNINFO [-h HOST] [-p PORT] [-U USER]]\n"
    "\n"
    "Proves a dump is whole without a database: the manifest's checksum; every file it lists\n"
    "is present with its size, and no other file is; every chunk (in parallel) has its stored\n"
    "hash, decodes, and has the raw length and hash, row count and content hash the manifest\n"
    "records (recounted from the decoded COPY data); the schema archive has its size and hash.\n"
    "Every problem is reported on stderr with its file, table and chunk, not just the first.\n"
    "\n"
    REPO_CLI_HELP
    "  -j, --jobs=N              parallel readers (default 2)\n"
    "      --require-table=NAME  fail unless NAME is in the dump: schema.table, or table in any\n"
    "                            schema (repeatable; exact names, \"double quotes\" around a part\n"
    "                            that holds a dot; a partitioned table counts by its partitions)\n"
    "      --json                print a JSON object (ok, problems, totals) on stdout\n"
    "      --passphrase-file=FILE  passphrase of an encrypted dump (else PGFERRY_PASSPHRASE)\n"
    "  -?, --help                this help\n"
    "\n"
    "Comparing with a database:\n"
    "      --db=CONNINFO         also read every table of the dump from this database (one\n"
    "                            snapshot, in parallel) and compare its row count and content\n"
    "                            hash with the dump's: proves a restore equals the backup. A\n"
    "                            name, a key=value string or a URI\n"
    CLI_CONN_HELP
    "-h, -p, -U and -W go with --db; host, port and user written in --db win over them (as\n"
    "in pg_dump). A password in --db is blanked out of pgferry's command line when it starts.\n"
    "\n"
    "Exit codes: 0 the dump is whole, 1 problems found (a dump without manifest.json is\n"
    "incomplete), 2 usage error, 130 interrupted.\n";

typedef struct {
    json_t *problems; /* NULL without --json */
} vcli;

static void on_problem(void *ctx, const verify_problem *p)
{
    vcli *c = ctx;
    if (p->file && p->table && p->chunk >= 0)
        fprintf(stderr, "verify: %s (%s chunk %ld): %s\n", p->file, p->table, p->chunk, p->error);
    else if (p->file && p->table)
        fprintf(stderr, "verify: %s (%s): %s\n", p->file, p->table, p->error);
    else if (p->file && !strstr(p->error, p->file))
        fprintf(stderr, "verify: %s: %s\n", p->file, p->error);
    else /* the message names its subject itself */
        fprintf(stderr, "verify: %s\n", p->error);
    if (c->problems) {
        json_t *o = json_object();
        json_object_set_new(o, "file", p->file ? json_string(p->file) : json_null());
        json_object_set_new(o, "table", p->table ? json_string(p->table) : json_null());
        json_object_set_new(o, "chunk", p->chunk >= 0 ? json_integer(p->chunk) : json_null());
        json_object_set_new(o, "error", json_string(p->error));
        json_array_append_new(c->problems, o);
    }
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"jobs", required_argument, NULL, 'j'}, {"require-table", required_argument, NULL, 1},
        {"json", no_argument, NULL, 2},         {"db", required_argument, NULL, 3},
        {"help", no_argument, NULL, CLI_OPT_HELP}, {"passphrase-file", required_argument, NULL, 21},
        CLI_CONN_LONGOPTS, REPO_CLI_LONGOPTS,
        {NULL, 0, NULL, 0}};
    int jobs = 2, json = 0, c, urc;
    const char *passfile = NULL;
    char *db = NULL;
    cli_conn cc = {.conn_opt = "--db"};
    repo_cli_sel sel = {0};
    char repo_dir[4096];
    char *passphrase = NULL;
    const char **req = NULL;
    size_t nreq = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":j:" CLI_CONN_SHORTOPTS, opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (cli_parse_jobs(optarg, &jobs) < 0) {
                free(req);
                return cli_usage_error("verify", "invalid --jobs value \"%s\": expected 1 to 256", optarg);
            }
            break;
        case 1:
            if (!*optarg) {
                free(req);
                return cli_usage_error("verify", "%s", "--require-table needs a table name");
            }
            cli_push(&req, &nreq, optarg);
            break;
        case 2: json = 1; break;
        case 3: cc.conninfo = cli_take_conninfo(optarg); break;
        case 21: passfile = optarg; break;
        case 'h': case 'p': case 'U': case 'w': case 'W':
            if ((urc = cli_conn_option("verify", &cc, c, optarg)) != 0) {
                free(req);
                return urc;
            }
            break;
        case REPO_CLI_OPT_REPO: case REPO_CLI_OPT_AS_OF: case REPO_CLI_OPT_BACKUP:
            repo_cli_option(&sel, c, optarg);
            break;
        case CLI_OPT_HELP: free(req); fputs(verify_help, stdout); return 0;
        default: free(req); return cli_option_error("verify", c, argv, verify_help);
        }
    }
    if (optind >= argc && !repo_cli_any(&sel)) {
        free(req);
        return cli_usage_error("verify", "%s", "missing DIR (or --repo REPO --as-of TIME)");
    }
    if (optind + 1 < argc) {
        free(req);
        return cli_usage_error("verify", "unexpected argument \"%s\"", argv[optind + 1]);
    }
    const char *dir = optind < argc ? argv[optind] : NULL;
    if ((urc = repo_cli_resolve("verify", &sel, dir, repo_dir, sizeof repo_dir, &dir)) != 0) {
        free(req);
        return urc;
    }
    if (!cc.conninfo && cli_conn_any(&cc)) {
        free(req);
        return cli_usage_error("verify", "%s", "-h, -p, -U and -W go with --db CONNINFO (the database to compare with)");
    }
    if (cc.conninfo && (urc = cli_conn_build("verify", &cc, 0, &db)) != 0) {
        free(req);
        return urc;
    }
    cli_install_signals();

    vcli cli = {json ? json_array() : NULL};
    char err[PF_ERRLEN];
    double start = pf_now();
    int rc = -1;
    if (cli_passphrase("verify", passfile, &passphrase) < 0) {
        free(req);
        return 1;
    }
    verify_session *s = verify_open(dir, passphrase, on_problem, &cli, err, sizeof err);
    cli_forget(passphrase);
    if (s && verify_require_tables(s, req, nreq, err, sizeof err) == 0 &&
        verify_files(s, jobs, &cli_interrupted, err, sizeof err) == 0 &&
        (!db || verify_database(s, db, jobs, &cli_interrupted, err, sizeof err) == 0))
        rc = 0;
    free(req);
    int status;
    if (rc < 0) {
        fprintf(stderr, "pgferry verify: %s\n", err);
        status = cli_interrupted ? EXIT_INTERRUPTED : 1;
    } else {
        status = verify_session_ok(s) ? 0 : 1;
    }
    verify_totals t = {0};
    if (s)
        verify_session_totals(s, &t);
    if (rc == 0) { /* a verdict: a backup inside a repository records it (REPO/.verify/) */
        char rerr[PF_ERRLEN];
        if (repo_record_verification(dir, status == 0, t.problems, db != NULL, time(NULL), rerr, sizeof rerr) < 0)
            fprintf(stderr, "pgferry verify: could not record the result: %s\n", rerr);
    }
    const manifest *m = s ? verify_session_manifest(s) : NULL;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_boolean(status == 0));
        json_object_set_new(o, "dir", cli_json_path(dir));
        if (rc < 0)
            json_object_set_new(o, "error", json_string(err));
        json_object_set_new(o, "problems", cli.problems);
        json_t *tot = json_object();
        json_object_set_new(tot, "tables", json_integer((json_int_t)t.tables));
        json_object_set_new(tot, "chunks", json_integer((json_int_t)t.chunks));
        json_object_set_new(tot, "rows", json_integer((json_int_t)t.rows));
        json_object_set_new(tot, "large_objects", json_integer((json_int_t)t.large_objects));
        json_object_set_new(tot, "raw_bytes", json_integer((json_int_t)t.raw_bytes));
        json_object_set_new(tot, "bytes_read", json_integer((json_int_t)t.bytes_read));
        json_object_set_new(tot, "problems", json_integer((json_int_t)t.problems));
        json_object_set_new(tot, "problem_files", json_integer((json_int_t)t.problem_files));
        json_object_set_new(o, "totals", tot);
        json_object_set_new(o, "verify_seconds", json_real(pf_now() - start));
        cli_json_print(o);
    } else if (status == 0) {
        char a[32], b[32], lo[64] = "";
        if (m && m->has_large_objects)
            snprintf(lo, sizeof lo, ", %llu large objects", (unsigned long long)t.large_objects);
        /* "checked" counts the COPY data decoded and recounted; "read" what was on disk. */
        printf("verify: OK: %llu tables, %llu chunks, %llu rows%s, %s checked (%s read)\n",
               (unsigned long long)t.tables, (unsigned long long)t.chunks, (unsigned long long)t.rows, lo,
               pf_fmt_bytes(t.raw_bytes, a, sizeof a), pf_fmt_bytes(t.bytes_read, b, sizeof b));
    } else if (rc == 0) {
        if (t.problem_files > 0)
            printf("verify: FAILED: %llu problem%s in %llu file%s\n", (unsigned long long)t.problems,
                   t.problems == 1 ? "" : "s", (unsigned long long)t.problem_files, t.problem_files == 1 ? "" : "s");
        else
            printf("verify: FAILED: %llu problem%s\n", (unsigned long long)t.problems, t.problems == 1 ? "" : "s");
    }
    verify_close(s);
    return status;
}
