/* pgferry prune */
#include "common/pf_util.h"
#include "engine/repo.h"
#include "tools/cli.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_count(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* What the command line asked for. */
typedef struct {
    const char *repo;
    repo_policy pol;
    int dry, json;
} prune_cli;

static int bad_count(const char *opt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, "invalid %s \"%s\": expected a number from 0", opt, arg);
    return cli_usage_error("prune", "%s", msg);
}

/* getopt's loop and the checks: -1 to go on, else the exit code. */
static int parse_options(prune_cli *pc, int argc, char **argv)
{
    const cli_cmd *cmd = cli_find_command("prune");
    int given = 0, c;
    while ((c = cli_getopt(cmd, argc, argv)) != -1) {
        int *slot = NULL;
        switch (c) {
        case OPT_REPO: pc->repo = optarg; break;
        case OPT_KEEP_LAST: slot = &pc->pol.keep_last; break;
        case OPT_KEEP_DAILY: slot = &pc->pol.keep_daily; break;
        case OPT_KEEP_WEEKLY: slot = &pc->pol.keep_weekly; break;
        case OPT_KEEP_MONTHLY: slot = &pc->pol.keep_monthly; break;
        case OPT_KEEP_YEARLY: slot = &pc->pol.keep_yearly; break;
        case OPT_DRY_RUN: pc->dry = 1; break;
        case OPT_JSON: pc->json = 1; break;
        case OPT_KEEP_WITHIN:
            if (repo_parse_duration(optarg, &pc->pol.keep_within) < 0)
                return cli_usage_error("prune", "invalid --keep-within \"%s\": expected a positive duration such as "
                                                "7d, 1d12h or 2w (units y, w, d, h, m, s)", optarg);
            given = 1;
            break;
        case OPT_HELP: return cli_help("prune");
        default: return cli_option_error("prune", c, argv);
        }
        if (slot) {
            char opt[64];
            snprintf(opt, sizeof opt, "--%s", cli_find_option(cmd, c)->name);
            if (parse_count(optarg, slot) < 0)
                return bad_count(opt, optarg);
            given = 1;
        }
    }
    if (optind < argc)
        return cli_usage_error("prune", "unexpected argument \"%s\"", argv[optind]);
    if (!pc->repo)
        return cli_usage_error("prune", "%s", "missing --repo REPO");
    if (!given) {
        repo_policy def = REPO_POLICY_DEFAULT;
        pc->pol = def;
    }
    return -1;
}

/* The listing prune decides on: for a real run, a fresh one taken under the prune lock
 * after finishing interrupted removals. 0, or 1 after printing why (*lock NULL). */
static int read_repo(const prune_cli *pc, repo_listing *l, repo_lock **lock, int *failures)
{
    char err[PF_ERRLEN];
    *lock = NULL;
    if (repo_scan(pc->repo, l, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry prune: %s\n", err);
        return 1;
    }
    if (!l->has_marker) {
        fprintf(stderr,
                "pgferry prune: %s is not a pgferry repository (no %s file): nothing removed. "
                "'pgferry dump --repo' creates it; create it by hand only for a directory that holds "
                "nothing but backups\n",
                pc->repo, REPO_MARKER);
        repo_listing_free(l);
        return 1;
    }
    if (pc->dry)
        return 0;
    repo_listing_free(l);
    if (!(*lock = repo_lock_prune(pc->repo, err, sizeof err))) {
        fprintf(stderr, "pgferry prune: %s\n", err);
        return 1;
    }
    if (repo_cleanup(pc->repo, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry prune: %s\n", err);
        (*failures)++;
    }
    if (repo_scan(pc->repo, l, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry prune: %s\n", err);
        repo_unlock(*lock);
        *lock = NULL;
        return 1;
    }
    return 0;
}

typedef struct {
    size_t kept, removed;
    uint64_t freed;
    int failures;
    json_t *arr; /* --json: one object per backup */
} prune_tally;

/* One backup: removes it when the decision says so (not in a dry run) and reports it. */
static void apply_one(const prune_cli *pc, const repo_backup *b, const repo_decision *d, time_t now, prune_tally *t)
{
    char why[512], rerr[PF_ERRLEN] = "";
    repo_format_rules(b, d, &pc->pol, why, sizeof why);
    int ok = 1;
    if (!d->keep && !pc->dry) {
        fflush(stdout);
        if (repo_remove(pc->repo, b->label, rerr, sizeof rerr) < 0) {
            ok = 0;
            t->failures++;
            fprintf(stderr, "pgferry prune: %s\n", rerr);
        }
    }
    if (d->keep)
        t->kept++;
    else if (ok) {
        t->removed++;
        t->freed += b->bytes;
    }
    if (pc->json) {
        json_t *o = repo_cli_backup_json(b, now), *rules = json_array();
        json_object_set_new(o, "action", json_string(d->keep ? "keep" : "remove"));
        json_object_set_new(o, "reason", json_string(why));
        for (unsigned bit = 1; bit <= REPO_RULE_NONE; bit <<= 1)
            if (d->rules & bit)
                json_array_append_new(rules, json_string(repo_rule_name(bit)));
        json_object_set_new(o, "rules", rules);
        json_object_set_new(o, "removed", json_boolean(!d->keep && !pc->dry && ok));
        if (!ok)
            json_object_set_new(o, "error", json_string(rerr));
        json_array_append_new(t->arr, o);
    } else {
        char tag[300] = "";
        if (b->tag)
            snprintf(tag, sizeof tag, " [%s]", b->tag);
        printf("%-6s  %-19s  %-10s  %s%s%s\n", d->keep ? "keep" : "remove", b->label, repo_cli_state(b), why, tag,
               ok ? "" : " (FAILED to remove)");
    }
}

static void print_policy_line(const prune_cli *pc, const char *when)
{
    char within[32] = "0";
    if (pc->pol.keep_within > 0)
        repo_format_age(pc->pol.keep_within, within, sizeof within);
    printf("prune %s: keep-last %d, keep-within %s, keep-daily %d, keep-weekly %d, keep-monthly %d, "
           "keep-yearly %d (now %s)%s\n",
           pc->repo, pc->pol.keep_last, within, pc->pol.keep_daily, pc->pol.keep_weekly, pc->pol.keep_monthly,
           pc->pol.keep_yearly, when, pc->dry ? " - dry run, nothing is removed" : "");
}

static void print_summary(const prune_cli *pc, const prune_tally *t, const char *when)
{
    char a[32];
    if (pc->json) {
        json_t *o = json_object(), *p = json_object();
        json_object_set_new(o, "repo", cli_json_path(pc->repo));
        json_object_set_new(o, "now", json_string(when));
        json_object_set_new(o, "dry_run", json_boolean(pc->dry));
        json_object_set_new(p, "keep_last", json_integer(pc->pol.keep_last));
        json_object_set_new(p, "keep_daily", json_integer(pc->pol.keep_daily));
        json_object_set_new(p, "keep_weekly", json_integer(pc->pol.keep_weekly));
        json_object_set_new(p, "keep_monthly", json_integer(pc->pol.keep_monthly));
        json_object_set_new(p, "keep_yearly", json_integer(pc->pol.keep_yearly));
        json_object_set_new(p, "keep_within_seconds", json_integer((json_int_t)pc->pol.keep_within));
        json_object_set_new(o, "policy", p);
        json_object_set(o, "backups", t->arr);
        json_object_set_new(o, "kept", json_integer((json_int_t)t->kept));
        json_object_set_new(o, pc->dry ? "would_remove" : "removed", json_integer((json_int_t)t->removed));
        json_object_set_new(o, pc->dry ? "would_free_bytes" : "freed_bytes", json_integer((json_int_t)t->freed));
        json_object_set_new(o, "failures", json_integer(t->failures));
        cli_json_print(o);
    } else if (pc->dry) {
        printf("prune: %zu kept, %zu would be removed (%s); dry run: nothing removed\n", t->kept, t->removed,
               pf_fmt_bytes(t->freed, a, sizeof a));
    } else {
        printf("prune: %zu kept, %zu removed (%s freed)%s\n", t->kept, t->removed, pf_fmt_bytes(t->freed, a, sizeof a),
               t->failures ? ", with failures (see above)" : "");
    }
}

int cmd_prune(int argc, char **argv)
{
    prune_cli pc;
    memset(&pc, 0, sizeof pc);
    int rc = parse_options(&pc, argc, argv);
    if (rc >= 0)
        return rc;
    char err[PF_ERRLEN], when[32];
    time_t now;
    if (repo_now(&now, err, sizeof err) < 0)
        return cli_usage_error("prune", "%s", err);
    repo_listing l;
    repo_lock *lock;
    prune_tally t = {0, 0, 0, 0, NULL};
    if ((rc = read_repo(&pc, &l, &lock, &t.failures)) != 0)
        return rc;
    repo_decision *d = calloc(l.n + 1, sizeof *d);
    if (!d || repo_decide(l.b, l.n, &pc.pol, now, d) < 0) {
        free(d);
        repo_listing_free(&l);
        repo_unlock(lock);
        return cli_fail("prune", pc.json, "out of memory");
    }
    repo_format_time(now, when, sizeof when);
    if (!pc.json)
        print_policy_line(&pc, when);
    t.arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        apply_one(&pc, &l.b[i], &d[i], now, &t);
    print_summary(&pc, &t, when);
    json_decref(t.arr);
    free(d);
    repo_listing_free(&l);
    repo_unlock(lock);
    return t.failures ? 1 : 0;
}
