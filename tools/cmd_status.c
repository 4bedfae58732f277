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
    "Usage: pgferry status --repo REPO --max-age AGE [--warn-age AGE] [--require-verified] [--json]\n"
    "\n"
    "Checks a backup repository for monitoring and prints one line, e.g.\n"
    "  PGFERRY OK - newest backup 20261127T030000Z is 3h12m old (complete, 12 tables, 1.2 GB)\n"
    "\n"
    "  CRITICAL  no complete backup; the newest complete backup is older than --max-age;\n"
    "            with --require-verified, its last 'pgferry verify' failed\n"
    "  WARNING   the newest complete backup is older than --warn-age; the newest backup is\n"
    "            incomplete and no dump is writing it (a failed or killed dump); with\n"
    "            --require-verified, the newest complete backup was never verified\n"
    "  OK        otherwise (a dump in progress is mentioned, not an error)\n"
    "A backup's age counts from its label, the time its dump started: allow for the dump's\n"
    "duration (for daily dumps, e.g. --warn-age 25h --max-age 26h).\n"
    "\n"
    "      --repo=REPO           the repository ('pgferry dump --repo')\n"
    "      --max-age=AGE         CRITICAL beyond this age: a number with s, m, h, d or w (24h)\n"
    "      --warn-age=AGE        WARNING beyond this age (less than --max-age)\n"
    "      --require-verified    also judge the newest complete backup's last verification\n"
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

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        {"repo", required_argument, NULL, 1},   {"max-age", required_argument, NULL, 2},
        {"warn-age", required_argument, NULL, 3}, {"require-verified", no_argument, NULL, 4},
        {"json", no_argument, NULL, 5},         {"help", no_argument, NULL, CLI_OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *repo = NULL;
    repo_status_opts so = {0, 0, 0};
    int have_max = 0, json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 1: repo = optarg; break;
        case 2:
            if (repo_parse_age(optarg, &so.max_age) < 0)
                return usage3("invalid --max-age \"%s\": expected a number with s, m, h, d or w, e.g. 24h", optarg);
            have_max = 1;
            break;
        case 3:
            if (repo_parse_age(optarg, &so.warn_age) < 0 || so.warn_age == 0)
                return usage3("invalid --warn-age \"%s\": expected a number with s, m, h, d or w, e.g. 20h", optarg);
            break;
        case 4: so.require_verified = 1; break;
        case 5: json = 1; break;
        case CLI_OPT_HELP: fputs(status_help, stdout); return 0;
        default: /* usage errors are UNKNOWN here, see the help */
            return cli_option_error("status", c, argv, status_help) ? REPO_STATUS_UNKNOWN : 0;
        }
    }
    if (optind < argc)
        return usage3("unexpected argument \"%s\"", argv[optind]);
    if (!repo)
        return usage3("%s", "missing --repo REPO");
    if (!have_max)
        return usage3("%s", "missing --max-age AGE (e.g. 26h for daily dumps)");
    if (so.warn_age && so.warn_age >= so.max_age)
        return usage3("%s", "--warn-age must be less than --max-age");
    char err[PF_ERRLEN], line[2048];
    time_t now;
    if (repo_now(&now, err, sizeof err) < 0)
        return usage3("%s", err);

    repo_listing l;
    repo_status_code code;
    if (repo_scan(repo, &l, err, sizeof err) < 0) {
        code = REPO_STATUS_UNKNOWN;
        snprintf(line, sizeof line, "PGFERRY UNKNOWN - cannot read %s", err);
        memset(&l, 0, sizeof l);
    } else {
        code = repo_status(l.b, l.n, &so, now, line, sizeof line);
    }
    if (json) {
        const repo_backup *newest = l.n ? &l.b[l.n - 1] : NULL, *complete = NULL;
        size_t ncomplete = 0;
        for (size_t i = 0; i < l.n; i++)
            if (l.b[i].complete) {
                complete = &l.b[i];
                ncomplete++;
            }
        char when[32];
        repo_format_time(now, when, sizeof when);
        json_t *o = json_object();
        json_object_set_new(o, "status", json_string(repo_status_name(code)));
        json_object_set_new(o, "code", json_integer(code));
        json_object_set_new(o, "message", json_string(line));
        json_object_set_new(o, "repo", json_string(repo));
        json_object_set_new(o, "now", json_string(when));
        json_object_set_new(o, "max_age_seconds", json_integer((json_int_t)so.max_age));
        json_object_set_new(o, "warn_age_seconds", so.warn_age ? json_integer((json_int_t)so.warn_age) : json_null());
        json_object_set_new(o, "require_verified", json_boolean(so.require_verified));
        json_object_set_new(o, "backups", json_integer((json_int_t)l.n));
        json_object_set_new(o, "complete", json_integer((json_int_t)ncomplete));
        put_backup(o, "newest_complete", complete, now);
        put_backup(o, "newest", newest, now);
        cli_json_print(o);
    } else {
        puts(line);
    }
    repo_listing_free(&l);
    return (int)code;
}
