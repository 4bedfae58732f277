/* pgferry drill */
#include "common/pf_util.h"
#include "engine/drill.h"
#include "io/pf_io.h"
#include "tools/cli.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const drill_help =
    "Usage: pgferry drill [OPTIONS] (DIR | --repo REPO (--as-of TIME | --backup NAME))\n"
    "                     --target CONNINFO [-h HOST] [-p PORT] [-U USER]\n"
    "\n"
    "A timed restore drill: creates a scratch database with a unique name on the target\n"
    "server, restores the dump into it, proves every table equal to the dump (row counts\n"
    "and content hashes), records each phase's wall time and throughput, and drops the\n"
    "scratch database, also when something fails. Prints a Markdown summary.\n"
    "\n"
    REPO_CLI_HELP
    "  -j, --jobs=N              parallel workers for restore and verification (default 2)\n"
    "      --keep                keep the scratch database for inspection\n"
    "      --report=FILE         also write the report: Markdown if FILE ends in .md, else JSON\n"
    "      --progress            show progress even when stderr is not a terminal\n"
    "      --no-progress         never show progress\n"
    "      --passphrase-file=FILE  passphrase of an encrypted dump (else PGFERRY_PASSPHRASE)\n"
    "      --trace=FILE          also write the restore's trace (see pgferry restore --help)\n"
    "  -?, --help                this help\n"
    "\n"
    "Connection options:\n"
    "      --target=CONNINFO     a database on the server to drill on, required: a name (e.g.\n"
    "                            postgres), a key=value string or a URI; the role needs\n"
    "                            CREATEDB\n"
    CLI_CONN_HELP
    "Host, port and user written in --target win over -h, -p and -U (as in pg_dump). A\n"
    "password in --target is blanked out of pgferry's command line when it starts.\n"
    "\n"
    "Exit codes: 0 drill passed, 1 failed or differed, 2 usage error, 130 interrupted.\n";

int cmd_drill(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 1}, {"jobs", required_argument, NULL, 'j'},
        {"keep", no_argument, NULL, 2},         {"report", required_argument, NULL, 3},
        {"progress", no_argument, NULL, 4},     {"no-progress", no_argument, NULL, 5},
        {"help", no_argument, NULL, CLI_OPT_HELP}, {"passphrase-file", required_argument, NULL, 21},
        {"trace", required_argument, NULL, 22}, REPO_CLI_LONGOPTS,
        CLI_CONN_LONGOPTS,
        {NULL, 0, NULL, 0}};
    drill_options o;
    memset(&o, 0, sizeof o);
    o.jobs = 2;
    int progress = isatty(2);
    const char *report = NULL, *passfile = NULL;
    char *passphrase = NULL;
    int c, rc;
    cli_conn cc = {.conn_opt = "--target"};
    repo_cli_sel sel = {0};
    char repo_dir[4096];
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":j:" CLI_CONN_SHORTOPTS, opts, NULL)) != -1) {
        switch (c) {
        case 1: cc.conninfo = cli_take_conninfo(optarg); break;
        case 'h': case 'p': case 'U': case 'w': case 'W':
            if ((rc = cli_conn_option("drill", &cc, c, optarg)) != 0)
                return rc;
            break;
        case 'j':
            if (cli_parse_jobs(optarg, &o.jobs) < 0)
                return cli_usage_error("drill", "invalid --jobs value \"%s\": expected 1 to 256", optarg);
            break;
        case 2: o.keep = 1; break;
        case 3: report = optarg; break;
        case 4: progress = 1; break;
        case 5: progress = 0; break;
        case 21: passfile = optarg; break;
        case 22: o.trace_path = optarg; break;
        case REPO_CLI_OPT_REPO: case REPO_CLI_OPT_AS_OF: case REPO_CLI_OPT_BACKUP:
            repo_cli_option(&sel, c, optarg);
            break;
        case CLI_OPT_HELP: fputs(drill_help, stdout); return 0;
        default: return cli_option_error("drill", c, argv, drill_help);
        }
    }
    if (optind >= argc && !repo_cli_any(&sel))
        return cli_usage_error("drill", "%s", "missing DIR (or --repo REPO --as-of TIME)");
    if (optind < argc)
        o.dir = argv[optind++];
    if (optind < argc)
        return cli_usage_error("drill", "unexpected argument \"%s\"", argv[optind]);
    if ((rc = repo_cli_resolve("drill", &sel, o.dir, repo_dir, sizeof repo_dir, &o.dir)) != 0)
        return rc;
    if (!cc.conninfo)
        return cli_usage_error("drill", "%s", "missing --target CONNINFO (a database on the server to drill on, "
                                              "e.g. --target postgres)");
    if ((report && (rc = cli_check_output("drill", "--report", report)) != 0) ||
        (o.trace_path && (rc = cli_check_output("drill", "--trace", o.trace_path)) != 0))
        return rc;
    char *target;
    if ((rc = cli_conn_build("drill", &cc, 0, &target)) != 0)
        return rc;
    o.target = target;
    if (cli_passphrase("drill", passfile, &passphrase) < 0)
        return 1;
    o.passphrase = passphrase;
    o.interrupted = &cli_interrupted;
    cli_install_signals();
    char err[PF_ERRLEN];
    drill_report r;
    o.notice = cli_notice;
    if (progress) {
        o.restore_progress = cli_restore_progress;
        o.verify_progress = cli_dump_progress;
    }
    int drc = drill_run(&o, &r, err, sizeof err);
    cli_forget(passphrase);
    if (drc < 0) {
        fprintf(stderr, "pgferry drill: %s\n", err);
        return cli_interrupted ? EXIT_INTERRUPTED : 1;
    }
    char *md = drill_markdown(&o, &r);
    fputs(md, stdout);
    rc = r.ok ? 0 : 1;
    if (report) {
        size_t rl = strlen(report);
        char *text = rl > 3 && strcmp(report + rl - 3, ".md") == 0 ? strdup(md) : drill_json(&o, &r);
        if (!text || io_write_file_atomic(report, text, strlen(text), 0600, err, sizeof err) < 0) {
            fprintf(stderr, "pgferry drill: report %s: %s\n", report, text ? err : "out of memory");
            rc = 1;
        }
        free(text);
    }
    if (!r.ok)
        fprintf(stderr, "pgferry drill: FAILED: %s\n", r.error);
    free(md);
    drill_report_free(&r);
    return cli_interrupted ? EXIT_INTERRUPTED : rc;
}
