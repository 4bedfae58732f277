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

static const char *const prune_help =
    "Usage: pgferry prune --repo REPO [--keep-last N] [--keep-daily N] [--keep-weekly N]\n"
    "                     [--keep-monthly N] [--dry-run] [--json]\n"
    "\n"
    "Applies a grandfather-father-son retention policy to a backup repository written by\n"
    "'pgferry dump --repo' and prints every backup with keep or remove and the rules that\n"
    "decided it. Complete backups, newest first:\n"
    "\n"
    "      --keep-last=N         keep the N newest\n"
    "      --keep-daily=N        keep the newest of each of the N most recent days (UTC) that\n"
    "                            have a backup\n"
    "      --keep-weekly=N       the same per ISO week (Monday to Sunday, UTC)\n"
    "      --keep-monthly=N      the same per calendar month (UTC)\n"
    "\n"
    "Without any --keep-* option: --keep-daily 7 --keep-weekly 4 --keep-monthly 12. With\n"
    "some, the others are 0. Whatever the policy, prune never removes the newest complete\n"
    "backup, a backup marked keep-forever (dump --keep-forever), or a backup being written\n"
    "(a dump holds its lock); it removes incomplete backups (failed or killed dumps) once\n"
    "they are older than a day. A backup's time is its label (when its dump started).\n"
    "A backup is removed by renaming it to .removing-<label> and then deleting it, so an\n"
    "interrupted prune never leaves a half-deleted backup; the next prune finishes it.\n"
    "\n"
    "      --repo=REPO           the repository (must hold the " REPO_MARKER " marker)\n"
    "      --dry-run             show the decisions, remove nothing\n"
    "      --json                print a JSON object on stdout\n"
    "  -?, --help                this help\n"
    "\n"
    "Exit codes: 0 done, 1 a backup could not be removed or the repository not read,\n"
    "2 usage error. PGFERRY_NOW (unix seconds or a UTC time) replaces the clock, for tests.\n";

static int parse_count(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

int cmd_prune(int argc, char **argv)
{
    static const struct option opts[] = {
        {"repo", required_argument, NULL, 1},       {"keep-last", required_argument, NULL, 2},
        {"keep-daily", required_argument, NULL, 3}, {"keep-weekly", required_argument, NULL, 4},
        {"keep-monthly", required_argument, NULL, 5}, {"dry-run", no_argument, NULL, 6},
        {"json", no_argument, NULL, 7},             {"help", no_argument, NULL, CLI_OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *repo = NULL;
    repo_policy pol = {0, 0, 0, 0};
    int given = 0, dry = 0, json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        int *slot = NULL;
        switch (c) {
        case 1: repo = optarg; break;
        case 2: slot = &pol.keep_last; break;
        case 3: slot = &pol.keep_daily; break;
        case 4: slot = &pol.keep_weekly; break;
        case 5: slot = &pol.keep_monthly; break;
        case 6: dry = 1; break;
        case 7: json = 1; break;
        case CLI_OPT_HELP: fputs(prune_help, stdout); return 0;
        default: return cli_option_error("prune", c, argv, prune_help);
        }
        if (slot) {
            if (parse_count(optarg, slot) < 0)
                return cli_usage_error("prune", "invalid count \"%s\": expected a number from 0", optarg);
            given = 1;
        }
    }
    if (optind < argc)
        return cli_usage_error("prune", "unexpected argument \"%s\"", argv[optind]);
    if (!repo)
        return cli_usage_error("prune", "%s", "missing --repo REPO");
    if (!given) {
        repo_policy def = REPO_POLICY_DEFAULT;
        pol = def;
    }
    char err[PF_ERRLEN];
    time_t now;
    if (repo_now(&now, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry prune: %s\n", err);
        return EXIT_USAGE;
    }

    repo_listing l;
    if (repo_scan(repo, &l, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry prune: %s\n", err);
        return 1;
    }
    if (!l.has_marker) {
        fprintf(stderr,
                "pgferry prune: %s is not a pgferry repository (no %s file): nothing removed. "
                "'pgferry dump --repo' creates it; create it by hand only for a directory that holds "
                "nothing but backups\n",
                repo, REPO_MARKER);
        repo_listing_free(&l);
        return 1;
    }
    repo_lock *lock = NULL;
    int failures = 0;
    if (!dry) {
        /* Decide on a fresh listing taken under the prune lock. */
        repo_listing_free(&l);
        if (!(lock = repo_lock_prune(repo, err, sizeof err))) {
            fprintf(stderr, "pgferry prune: %s\n", err);
            return 1;
        }
        if (repo_cleanup(repo, err, sizeof err) < 0) {
            fprintf(stderr, "pgferry prune: %s\n", err);
            failures++;
        }
        if (repo_scan(repo, &l, err, sizeof err) < 0) {
            fprintf(stderr, "pgferry prune: %s\n", err);
            repo_unlock(lock);
            return 1;
        }
    }
    repo_decision *d = calloc(l.n + 1, sizeof *d);
    if (!d || repo_decide(l.b, l.n, &pol, now, d) < 0) {
        fprintf(stderr, "pgferry prune: out of memory\n");
        free(d);
        repo_listing_free(&l);
        repo_unlock(lock);
        return 1;
    }

    char when[32], a[32];
    repo_format_time(now, when, sizeof when);
    if (!json)
        printf("prune %s: keep-last %d, keep-daily %d, keep-weekly %d, keep-monthly %d (now %s)%s\n", repo,
               pol.keep_last, pol.keep_daily, pol.keep_weekly, pol.keep_monthly, when,
               dry ? " - dry run, nothing is removed" : "");
    json_t *arr = json ? json_array() : NULL;
    size_t kept = 0, removed = 0;
    uint64_t freed = 0;
    for (size_t i = 0; i < l.n; i++) {
        const repo_backup *b = &l.b[i];
        char why[512], rerr[PF_ERRLEN] = "";
        repo_format_rules(b, &d[i], &pol, why, sizeof why);
        int ok = 1;
        if (!d[i].keep && !dry) {
            fflush(stdout);
            if (repo_remove(repo, b->label, rerr, sizeof rerr) < 0) {
                ok = 0;
                failures++;
                fprintf(stderr, "pgferry prune: %s\n", rerr);
            }
        }
        if (d[i].keep)
            kept++;
        else if (ok) {
            removed++;
            freed += b->bytes;
        }
        if (json) {
            json_t *o = repo_cli_backup_json(b, now), *rules = json_array();
            json_object_set_new(o, "action", json_string(d[i].keep ? "keep" : "remove"));
            json_object_set_new(o, "reason", json_string(why));
            for (unsigned bit = 1; bit <= REPO_RULE_NONE; bit <<= 1)
                if (d[i].rules & bit)
                    json_array_append_new(rules, json_string(repo_rule_name(bit)));
            json_object_set_new(o, "rules", rules);
            json_object_set_new(o, "removed", json_boolean(!d[i].keep && !dry && ok));
            if (!ok)
                json_object_set_new(o, "error", json_string(rerr));
            json_array_append_new(arr, o);
        } else {
            char tag[300] = "";
            if (b->tag)
                snprintf(tag, sizeof tag, " [%s]", b->tag);
            printf("%-6s  %-19s  %-10s  %s%s%s\n", d[i].keep ? "keep" : "remove", b->label, repo_cli_state(b), why,
                   tag, ok ? "" : " (FAILED to remove)");
        }
    }
    if (json) {
        json_t *o = json_object(), *p = json_object();
        json_object_set_new(o, "repo", cli_json_path(repo));
        json_object_set_new(o, "now", json_string(when));
        json_object_set_new(o, "dry_run", json_boolean(dry));
        json_object_set_new(p, "keep_last", json_integer(pol.keep_last));
        json_object_set_new(p, "keep_daily", json_integer(pol.keep_daily));
        json_object_set_new(p, "keep_weekly", json_integer(pol.keep_weekly));
        json_object_set_new(p, "keep_monthly", json_integer(pol.keep_monthly));
        json_object_set_new(o, "policy", p);
        json_object_set_new(o, "backups", arr);
        json_object_set_new(o, "kept", json_integer((json_int_t)kept));
        json_object_set_new(o, dry ? "would_remove" : "removed", json_integer((json_int_t)removed));
        json_object_set_new(o, dry ? "would_free_bytes" : "freed_bytes", json_integer((json_int_t)freed));
        json_object_set_new(o, "failures", json_integer(failures));
        cli_json_print(o);
    } else if (dry) {
        printf("prune: %zu kept, %zu would be removed (%s); dry run: nothing removed\n", kept, removed,
               pf_fmt_bytes(freed, a, sizeof a));
    } else {
        printf("prune: %zu kept, %zu removed (%s freed)%s\n", kept, removed, pf_fmt_bytes(freed, a, sizeof a),
               failures ? ", with failures (see above)" : "");
    }
    free(d);
    repo_listing_free(&l);
    repo_unlock(lock);
    return failures ? 1 : 0;
}
