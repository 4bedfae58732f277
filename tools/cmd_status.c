/* pgferry status: a monitoring check (Nagios/Icinga plugin convention). */
#include "common/pf_util.h"
#include "engine/repo.h"
#include "tools/cli.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_help =
    "Usage: pgferry status --repo REPO --max-age AGE [--warn-age AGE] [--require-verified]\n"
    "                      [--max-drill-age AGE] [--max-rto DURATION] [--json]\n"
    "\n"
    "Checks a backup repository for monitoring and prints one line with Nagios performance\n"
    "data after the '|' (age in seconds with warn/crit, size in bytes, tables, the last\n"
    "passing drill's age and RTO in seconds with --max-drill-age/--max-rto as warn), e.g.\n"
    "  PGFERRY OK - newest backup 20261127T030000Z is 3h12m old (complete, 12 tables, 1.2 GB)\n"
    "  | 'age'=11520s;90000;93600;0; 'size'=1288490188B;;;0; 'tables'=12;;;0;\n"
    "  'drill_age'=U;;;0; 'rto'=U;;;0;\n"
    "(one line: shown on three here; U: no passing drill recorded).\n"
    "\n"
    "  CRITICAL  no complete backup; the newest complete backup is older than --max-age;\n"
    "            with --require-verified, its last 'pgferry verify' failed\n"
    "  WARNING   the newest complete backup is older than --warn-age; the newest backup is\n"
    "            incomplete and no dump is writing it (a failed or killed dump); with\n"
    "            --require-verified, the newest complete backup was never verified; with\n"
    "            --max-drill-age or --max-rto, the drill checks above (drills are evidence\n"
    "            that backups restore, never CRITICAL: the backups themselves may be fine)\n"
    "  OK        otherwise (a dump in progress is mentioned, not an error)\n"
    "A backup's age counts from its label, the time its dump started: allow for the dump's\n"
    "duration (for daily dumps, e.g. --warn-age 25h --max-age 26h).\n"
    "\n"
    "      --repo=REPO           the repository ('pgferry dump --repo')\n"
    "      --max-age=AGE         CRITICAL beyond this age: numbers with units y, w, d, h, m, s,\n"
    "                            largest first (26h, 1d12h, 2w); zero is a usage error\n"
    "      --warn-age=AGE        WARNING beyond this age (less than --max-age)\n"
    "      --require-verified    also judge the newest complete backup's last verification\n"
    "      --max-drill-age=AGE   WARNING when the last passing restore drill ('pgferry drill'\n"
    "                            of a backup in REPO) is older (35d for monthly drills), when\n"
    "                            there is none, or when the newest drill failed\n"
    "      --max-rto=DURATION    WARNING when that drill's restore took longer (the\n"
    "                            recovery-time objective, e.g. 2h); also the newest drill failed\n"
    "      --json                print a JSON object on stdout instead of the line\n"
    "  -?, --help                this help\n"
    "\n"
    "Exit codes (monitoring-plugin convention): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the\n"
    "repository cannot be read, or a usage error: unlike other pgferry commands, status\n"
    "exits 3 on usage errors so that a broken check is never mistaken for CRITICAL).\n"
    "PGFERRY_NOW (unix seconds or a UTC time) replaces the clock, for tests.\n";

static int usage3(const char *fmt, const char *arg)
{
    cli_usage_error("status", fmt, arg);
    return REPO_STATUS_UNKNOWN;
}

static void put_backup(json_t *o, const char *key, const repo_backup *b, time_t now)
{
    json_object_set_new(o, key, b ? repo_cli_backup_json(b, now) : json_null());
}

static int bad_duration(const char *opt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, "invalid %s \"%s\": expected a positive duration such as 26h, 1d12h or 2w (units y, w, "
             "d, h, m, s)", opt, arg);
    return usage3("%s", msg);
}

/* What the command line asked for. */
typedef struct {
    const char *repo;
    repo_status_opts so;
    int have_max, json;
} status_cli;

/* getopt's loop and the checks: -1 to go on, else the exit code. */
static int parse_options(status_cli *st, int argc, char **argv)
{
    static const struct option opts[] = {
        {"repo", required_argument, NULL, 1},   {"max-age", required_argument, NULL, 2},
        {"warn-age", required_argument, NULL, 3}, {"require-verified", no_argument, NULL, 4},
        {"json", no_argument, NULL, 5},         {"help", no_argument, NULL, CLI_OPT_HELP},
        {"max-drill-age", required_argument, NULL, 6}, {"max-rto", required_argument, NULL, 7},
        {NULL, 0, NULL, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 1: st->repo = optarg; break;
        case 2:
            if (repo_parse_duration(optarg, &st->so.max_age) < 0)
                return bad_duration("--max-age", optarg);
            st->have_max = 1;
            break;
        case 3:
            if (repo_parse_duration(optarg, &st->so.warn_age) < 0)
                return bad_duration("--warn-age", optarg);
            break;
        case 4: st->so.require_verified = 1; break;
        case 6:
            if (repo_parse_duration(optarg, &st->so.max_drill_age) < 0)
                return bad_duration("--max-drill-age", optarg);
            break;
        case 7:
            if (repo_parse_duration(optarg, &st->so.max_rto) < 0)
                return bad_duration("--max-rto", optarg);
            break;
        case 5: st->json = 1; break;
        case CLI_OPT_HELP: fputs(status_help, stdout); return 0;
        default: /* usage errors are UNKNOWN here, see the help */
            return cli_option_error("status", c, argv, status_help) ? REPO_STATUS_UNKNOWN : 0;
        }
    }
    if (optind < argc)
        return usage3("unexpected argument \"%s\"", argv[optind]);
    if (!st->repo)
        return usage3("%s", "missing --repo REPO");
    if (!st->have_max)
        return usage3("%s", "missing --max-age AGE (e.g. 26h for daily dumps)");
    if (st->so.warn_age && st->so.warn_age >= st->so.max_age)
        return usage3("%s", "--warn-age must be less than --max-age");
    return -1;
}

/* Reads the repository and judges it: the code, and the line in line. A directory
 * without the marker is not a repository: UNKNOWN, not "no backup" (a mistyped path
 * must not look like a repository whose backups all vanished). */
static repo_status_code judge(status_cli *st, repo_listing *l, time_t now, char *line, size_t linelen)
{
    char err[PF_ERRLEN];
    if (repo_scan(st->repo, l, err, sizeof err) < 0) {
        snprintf(line, linelen, "PGFERRY UNKNOWN - cannot read %s", err);
        memset(l, 0, sizeof *l);
        return REPO_STATUS_UNKNOWN;
    }
    if (!l->has_marker) {
        snprintf(line, linelen, "PGFERRY UNKNOWN - %s is not a pgferry repository (no %s file)", st->repo,
                 REPO_MARKER);
        return REPO_STATUS_UNKNOWN;
    }
    st->so.drills = l->drills;
    st->so.ndrills = l->ndrills;
    return repo_status(l->b, l->n, &st->so, now, line, linelen);
}

static void print_json(const status_cli *st, const repo_listing *l, repo_status_code code, const char *line,
                       const char *perf, time_t now)
{
    const repo_backup *newest = l->n ? &l->b[l->n - 1] : NULL, *complete = NULL;
    size_t ncomplete = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->b[i].complete) {
            complete = &l->b[i];
            ncomplete++;
        }
    char when[32];
    repo_format_time(now, when, sizeof when);
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(repo_status_name(code)));
    json_object_set_new(o, "code", json_integer(code));
    json_object_set_new(o, "message", json_string(line));
    json_object_set_new(o, "perfdata", json_string(perf));
    json_object_set_new(o, "repo", cli_json_path(st->repo));
    json_object_set_new(o, "now", json_string(when));
    json_object_set_new(o, "max_age_seconds", json_integer((json_int_t)st->so.max_age));
    json_object_set_new(o, "warn_age_seconds", st->so.warn_age ? json_integer((json_int_t)st->so.warn_age) : json_null());
    json_object_set_new(o, "require_verified", json_boolean(st->so.require_verified));
    json_object_set_new(o, "backups", json_integer((json_int_t)l->n));
    json_object_set_new(o, "complete", json_integer((json_int_t)ncomplete));
    put_backup(o, "newest_complete", complete, now);
    put_backup(o, "newest", newest, now);
    json_object_set_new(o, "max_drill_age_seconds",
                        st->so.max_drill_age ? json_integer((json_int_t)st->so.max_drill_age) : json_null());
    json_object_set_new(o, "max_rto_seconds", st->so.max_rto ? json_integer((json_int_t)st->so.max_rto) : json_null());
    json_object_set_new(o, "last_drill", repo_cli_drill_json(repo_last_drill(l->drills, l->ndrills, NULL, 0), now));
    json_object_set_new(o, "last_passing_drill",
                        repo_cli_drill_json(repo_last_drill(l->drills, l->ndrills, NULL, 1), now));
    cli_json_print(o);
}

int cmd_status(int argc, char **argv)
{
    status_cli st;
    memset(&st, 0, sizeof st);
    int rc = parse_options(&st, argc, argv);
    if (rc >= 0)
        return rc;
    char err[PF_ERRLEN], line[2048], perf[512] = "";
    time_t now;
    if (repo_now(&now, err, sizeof err) < 0)
        return usage3("%s", err);
    repo_listing l;
    repo_status_code code = judge(&st, &l, now, line, sizeof line);
    if (l.has_marker)
        repo_status_perfdata(l.b, l.n, &st.so, now, perf, sizeof perf);
    if (code != REPO_STATUS_OK)
        cli_json_error(line);
    if (st.json)
        print_json(&st, &l, code, line, perf, now);
    else if (*perf)
        printf("%s | %s\n", line, perf);
    else
        puts(line);
    repo_listing_free(&l);
    return (int)code;
}
