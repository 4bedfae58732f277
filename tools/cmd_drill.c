/* pgferry drill */
#include "common/pf_util.h"
#include "engine/drill.h"
#include "engine/repo.h"
#include "io/pf_io.h"
#include "tools/cli.h"
#include "tools/cli_log.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* What the command line asked for. */
typedef struct {
    drill_options o;
    cli_conn cc;
    repo_cli_sel sel;
    char repo_dir[4096];
    const char *report, *passfile;
    int json;
    time_t now;               /* when the drill started (PGFERRY_NOW for tests) */
    char abs_dir[4096];       /* the dump's directory made absolute, for the reports */
    char recorded[4200];      /* the drill record written, or "" */
} drill_cli;

/* getopt's loop: CLI_RUN to go on, else the exit code. */
static int parse_options(drill_cli *d, int argc, char **argv)
{
    int c, rc;
    cli_log_init("drill");
    while ((c = cli_getopt(cli_find_command("drill"), argc, argv)) != -1) {
        if (cli_log_option(c, optarg))
            continue;
        switch (c) {
        case OPT_TARGET: d->cc.conninfo = cli_take_conninfo(optarg); break;
        case 'h': case 'p': case 'U': case 'w': case 'W':
            if ((rc = cli_conn_option("drill", &d->cc, c, optarg)) != 0)
                return rc;
            break;
        case 'j':
            if (cli_parse_jobs(optarg, &d->o.jobs) < 0)
                return cli_usage_error("drill", "invalid --jobs value \"%s\": expected 1 to 256", optarg);
            break;
        case OPT_KEEP: d->o.keep = 1; break;
        case OPT_REPORT: d->report = optarg; break;
        case OPT_PASSPHRASE_FILE: d->passfile = optarg; break;
        case OPT_TRACE: d->o.trace_path = optarg; break;
        case OPT_JSON: d->json = 1; break;
        case OPT_REPO: case OPT_AS_OF: case OPT_BACKUP: repo_cli_option(&d->sel, c, optarg); break;
        case OPT_HELP: return cli_help("drill");
        default: return cli_option_error("drill", c, argv);
        }
    }
    return CLI_RUN;
}

/* The dump to drill, the target and the output files: 0, or the exit code. */
static int check_arguments(drill_cli *d, int argc, char **argv)
{
    int rc;
    if (optind >= argc && !repo_cli_any(&d->sel))
        return cli_usage_error("drill", "%s", "missing DIR (or --repo REPO --as-of TIME)");
    if (optind < argc)
        d->o.dir = argv[optind++];
    if (optind < argc)
        return cli_usage_error("drill", "unexpected argument \"%s\"", argv[optind]);
    if ((rc = repo_cli_resolve("drill", &d->sel, d->o.dir, d->repo_dir, sizeof d->repo_dir, &d->o.dir)) != 0)
        return rc;
    if (d->o.dir[0] != '/' && !strstr(d->o.dir, "://") && realpath(d->o.dir, d->abs_dir))
        d->o.dir = d->abs_dir; /* reports name the dump wherever they are read */
    if (!d->cc.conninfo)
        return cli_usage_error("drill", "%s", "missing --target CONNINFO (a database on the server to drill on, "
                                              "e.g. --target postgres)");
    if ((d->report && (rc = cli_check_output("drill", "--report", d->report)) != 0) ||
        (d->o.trace_path && (rc = cli_check_output("drill", "--trace", d->o.trace_path)) != 0) ||
        (rc = cli_log_open()) != CLI_RUN)
        return rc;
    char err[PF_ERRLEN];
    if (repo_now(&d->now, err, sizeof err) < 0)
        return cli_usage_error("drill", "%s", err);
    char *target;
    if ((rc = cli_conn_build("drill", &d->cc, 0, &target)) != 0)
        return rc;
    d->o.target = target;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t sl = strlen(s), xl = strlen(suffix);
    return sl > xl && strcasecmp(s + sl - xl, suffix) == 0;
}

/* --report FILE: HTML for .html/.htm, Markdown for .md, else JSON. 0, or 1 after printing
 * why not. */
static int write_report(const drill_cli *d, const drill_report *r, const char *md)
{
    char err[PF_ERRLEN];
    char *text = ends_with(d->report, ".html") || ends_with(d->report, ".htm") ? drill_html(&d->o, r)
                 : ends_with(d->report, ".md")                                   ? strdup(md)
                                                                                 : drill_json(&d->o, r);
    int rc = 0;
    if (!text || io_write_file_atomic(d->report, text, strlen(text), 0600, err, sizeof err) < 0) {
        cli_log_error("pgferry drill: report %s: %s", d->report, text ? err : "out of memory");
        rc = 1;
    }
    free(text);
    return rc;
}

/* Where the drill ran, for the record: host, port, database and role (never a password). */
static json_t *target_json(const char *conninfo)
{
    json_t *o = json_object();
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    static const char *const keep[] = {"host", "hostaddr", "port", "dbname", "user"};
    for (PQconninfoOption *x = opts; x && x->keyword; x++)
        for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
            if (strcmp(x->keyword, keep[i]) == 0 && x->val && *x->val)
                json_object_set_new(o, keep[i], json_string(x->val));
    PQconninfoFree(opts);
    return o;
}

/* A drill of a labelled backup in a repository leaves its evidence there; elsewhere
 * nothing is written. A record that cannot be written is said, not fatal (as verify). */
static void record_drill(drill_cli *d, const drill_report *r)
{
    json_t *rec = drill_json_object(&d->o, r);
    if (!rec)
        return;
    json_object_set(rec, "phase_seconds", json_object_get(rec, "seconds"));
    json_object_del(rec, "seconds");
    json_object_set_new(rec, "pgferry_version", json_string(PGFERRY_VERSION));
    json_object_set_new(rec, "target", target_json(d->o.target));
    char err[PF_ERRLEN];
    double rto = r->restored ? r->restore.seconds : -1;
    int rc = repo_record_drill(d->o.dir, r->ok, rto, rec, d->now, d->recorded, sizeof d->recorded, err, sizeof err);
    if (rc < 0) {
        d->recorded[0] = '\0';
        cli_log_error("pgferry drill: warning: could not record the drill in the repository: %s", err);
    } else if (rc > 0) {
        char line[4300];
        snprintf(line, sizeof line, "pgferry drill: recorded in %s", d->recorded);
        cli_notice(NULL, line);
    }
}

/* drill --json: the report's fields, with the dump's and the files' paths absolute. */
static void print_json(const drill_cli *d, const drill_report *r)
{
    json_t *j = drill_json_object(&d->o, r);
    if (!j)
        return;
    json_t *phases = json_object_get(j, "seconds"); /* "seconds" is the contract's wall time */
    json_object_set(j, "phase_seconds", phases);
    json_object_del(j, "seconds");
    if (r->ok)
        json_object_del(j, "error"); /* the contract has "error" only when something failed */
    json_object_set_new(j, "dump", cli_json_path(d->o.dir));
    json_object_set_new(j, "repo", cli_json_path(d->sel.repo));
    json_object_set_new(j, "report", cli_json_path(d->report));
    json_object_set_new(j, "trace", cli_json_path(d->o.trace_path));
    json_object_set_new(j, "rto_seconds", r->restored ? json_real(r->restore.seconds) : json_null());
    json_object_set_new(j, "recorded", *d->recorded ? cli_json_path(d->recorded) : json_null());
    cli_json_print(j);
}

int cmd_drill(int argc, char **argv)
{
    drill_cli d;
    memset(&d, 0, sizeof d);
    d.o.jobs = 2;
    d.cc.conn_opt = "--target";
    int rc = parse_options(&d, argc, argv);
    if (rc != CLI_RUN)
        return rc;
    if ((rc = check_arguments(&d, argc, argv)) != 0)
        return rc;
    char *passphrase = NULL;
    if (cli_passphrase("drill", d.passfile, &passphrase) < 0)
        return 1;
    d.o.passphrase = passphrase;
    d.o.interrupted = &cli_interrupted;
    d.o.notice = cli_notice;
    if (cli_log_wants_progress()) {
        d.o.restore_progress = cli_restore_progress;
        d.o.verify_progress = cli_dump_progress;
    }
    d.o.job_done = cli_log_verbose() ? cli_log_job : NULL;
    cli_install_signals();
    char err[PF_ERRLEN];
    drill_report r;
    int drc = drill_run(&d.o, &r, err, sizeof err);
    cli_forget(passphrase);
    if (drc < 0)
        return cli_fail("drill", d.json, err);
    record_drill(&d, &r);
    char *md = drill_markdown(&d.o, &r);
    if (d.json)
        print_json(&d, &r);
    else if (!cli_log_quiet())
        fputs(md, stdout);
    rc = r.ok ? 0 : 1;
    if (r.ok)
        cli_log_record("drill: passed (scratch database %s)", r.scratch_db);
    if (d.report && write_report(&d, &r, md) != 0)
        rc = 1;
    if (!r.ok) {
        cli_log_error("pgferry drill: FAILED: %s", r.error);
        cli_json_error(r.error);
    }
    free(md);
    drill_report_free(&r);
    return cli_interrupted ? EXIT_INTERRUPTED : rc;
}
