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
    int c;
    while ((c = cli_getopt(cli_find_command("status"), argc, argv)) != -1) {
        switch (c) {
        case OPT_REPO: st->repo = optarg; break;
        case OPT_MAX_AGE:
            if (repo_parse_duration(optarg, &st->so.max_age) < 0)
                return bad_duration("--max-age", optarg);
            st->have_max = 1;
            break;
        case OPT_WARN_AGE:
            if (repo_parse_duration(optarg, &st->so.warn_age) < 0)
                return bad_duration("--warn-age", optarg);
            break;
        case OPT_REQUIRE_VERIFIED: st->so.require_verified = 1; break;
        case OPT_MAX_DRILL_AGE:
            if (repo_parse_duration(optarg, &st->so.max_drill_age) < 0)
                return bad_duration("--max-drill-age", optarg);
            break;
        case OPT_MAX_RTO:
            if (repo_parse_duration(optarg, &st->so.max_rto) < 0)
                return bad_duration("--max-rto", optarg);
            break;
        case OPT_JSON: st->json = 1; break;
        case OPT_HELP: return cli_help("status");
        default: /* usage errors are UNKNOWN here, see the help */
            return cli_option_error("status", c, argv) ? REPO_STATUS_UNKNOWN : 0;
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
