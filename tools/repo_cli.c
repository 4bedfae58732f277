/* pgferry list --repo, and what prune and status share with it. */
#include "tools/repo_cli.h"

#include "common/pf_util.h"
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

const char *repo_cli_state(const repo_backup *b)
{
    return b->writing ? "writing" : b->complete ? "complete" : "incomplete";
}

void repo_cli_verified(const repo_backup *b, char *out, size_t outlen)
{
    char when[32] = "";
    if (b->verified != REPO_VERIFY_NEVER && b->verified_at) {
        struct tm tm;
        gmtime_r(&b->verified_at, &tm);
        strftime(when, sizeof when, " %Y-%m-%dT%H:%MZ", &tm);
    }
    if (b->verified == REPO_VERIFY_OK)
        snprintf(out, outlen, "ok%s", when);
    else if (b->verified == REPO_VERIFY_FAILED)
        snprintf(out, outlen, "FAILED%s", when);
    else
        snprintf(out, outlen, "never");
}

json_t *repo_cli_backup_json(const repo_backup *b, time_t now)
{
    char when[32];
    json_t *o = json_object();
    json_object_set_new(o, "label", json_string(b->label));
    repo_format_time(b->time, when, sizeof when);
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "age_seconds", json_integer((json_int_t)(now - b->time)));
    json_object_set_new(o, "status", json_string(repo_cli_state(b)));
    json_object_set_new(o, "complete", json_boolean(b->complete));
    json_object_set_new(o, "writing", json_boolean(b->writing));
    json_object_set_new(o, "authenticated", json_boolean(b->authenticated));
    json_object_set_new(o, "tag", jstr(b->tag));
    json_object_set_new(o, "keep_forever", json_boolean(b->keep_forever));
    json_object_set_new(o, "tables", json_integer((json_int_t)b->tables));
    json_object_set_new(o, "rows", json_integer((json_int_t)b->rows));
    json_object_set_new(o, "bytes", json_integer((json_int_t)b->bytes));
    json_object_set_new(o, "started_at", jstr(b->started_at));
    json_object_set_new(o, "finished_at", jstr(b->finished_at));
    json_object_set_new(o, "database", jstr(b->database));
    json_object_set_new(o, "note", jstr(b->note));
    if (b->verified == REPO_VERIFY_NEVER) {
        json_object_set_new(o, "verification", json_null());
    } else {
        json_t *v = json_object();
        json_object_set_new(v, "ok", json_boolean(b->verified == REPO_VERIFY_OK));
        if (b->verified_at) {
            repo_format_time(b->verified_at, when, sizeof when);
            json_object_set_new(v, "time", json_string(when));
        } else {
            json_object_set_new(v, "time", json_null());
        }
        json_object_set_new(v, "problems", json_integer((json_int_t)b->verify_problems));
        json_object_set_new(o, "verification", v);
    }
    return o;
}


/* A note worth showing: a manifest that could not be authenticated or is damaged (a plain
 * "no manifest" is what "incomplete" says already). */
static int worth_noting(const repo_backup *b)
{
    return b->note && (b->complete || strncmp(b->note, "no manifest", 11) != 0);
}

json_t *repo_cli_drill_json(const repo_drill *d, time_t now)
{
    if (!d)
        return json_null();
    char when[32];
    repo_format_time(d->time, when, sizeof when);
    return json_pack("{s:s, s:s, s:I, s:b, s:o}", "label", d->label, "time", when, "age_seconds",
                     (json_int_t)(now - d->time), "ok", d->ok, "rto_seconds",
                     d->rto >= 0 ? json_real(d->rto) : json_null());
}

void repo_cli_drill_text(const repo_drill *d, time_t now, char *out, size_t outlen)
{
    if (!d) {
        snprintf(out, outlen, "never");
        return;
    }
    char when[32], age[32], rto[32] = "unknown";
    repo_format_time(d->time, when, sizeof when);
    repo_format_age((int64_t)(now - d->time), age, sizeof age);
    if (d->rto >= 0)
        repo_format_age((int64_t)(d->rto + 0.5), rto, sizeof rto);
    snprintf(out, outlen, "%s %s (%s ago) of %s, restore %s", d->ok ? "PASS" : "FAILED", when, age, d->label, rto);
}

/* A backup's last drill for list's DRILLED column: "ok 2026-11-28T05:00Z", "FAILED ..." or
 * "never" (as VERIFIED). */
static void drilled_text(const repo_drill *d, char *out, size_t outlen)
{
    char when[32] = "";
    if (d) {
        struct tm tm;
        gmtime_r(&d->time, &tm);
        strftime(when, sizeof when, " %Y-%m-%dT%H:%MZ", &tm);
    }
    snprintf(out, outlen, "%s%s", !d ? "never" : d->ok ? "ok" : "FAILED", when);
}

/* list --repo --json: the listing with the drills. */
static void list_json(const char *repo, const repo_listing *l, time_t now, uint64_t total, size_t ncomplete)
{
    json_t *o = json_object(), *arr = json_array();
    char when[32];
    json_object_set_new(o, "repo", cli_json_path(repo));
    repo_format_time(now, when, sizeof when);
    json_object_set_new(o, "now", json_string(when));
    json_object_set_new(o, "count", json_integer((json_int_t)l->n));
    json_object_set_new(o, "complete", json_integer((json_int_t)ncomplete));
    json_object_set_new(o, "bytes", json_integer((json_int_t)total));
    for (size_t i = 0; i < l->n; i++) {
        json_t *b = repo_cli_backup_json(&l->b[i], now);
        json_object_set_new(b, "last_drill", repo_cli_drill_json(repo_last_drill(l->drills, l->ndrills,
                                                                                 l->b[i].label, 0), now));
        json_array_append_new(arr, b);
    }
    json_object_set_new(o, "backups", arr);
    json_object_set_new(o, "drills", json_integer((json_int_t)l->ndrills));
    json_object_set_new(o, "last_drill", repo_cli_drill_json(repo_last_drill(l->drills, l->ndrills, NULL, 0), now));
    json_object_set_new(o, "last_passing_drill",
                        repo_cli_drill_json(repo_last_drill(l->drills, l->ndrills, NULL, 1), now));
    cli_json_print(o);
}

int cmd_list_repo(const char *repo, int json)
{
    time_t now;
    char err[PF_ERRLEN];
    if (repo_now(&now, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry list: %s\n", err);
        return EXIT_USAGE;
    }
    repo_listing l;
    if (repo_scan(repo, &l, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry list: %s\n", err);
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "repo", cli_json_path(repo));
            json_object_set_new(o, "error", json_string(err));
            cli_json_print(o);
        }
        return 1;
    }
    uint64_t total = 0;
    size_t ncomplete = 0;
    for (size_t i = 0; i < l.n; i++) {
        total += l.b[i].bytes;
        ncomplete += l.b[i].complete;
    }
    if (json) {
        list_json(repo, &l, now, total, ncomplete);
        repo_listing_free(&l);
        return 0;
    }
    char a[32];
    printf("repository %s: %zu backup%s, %zu complete, %s%s\n", repo, l.n, l.n == 1 ? "" : "s", ncomplete,
           pf_fmt_bytes(total, a, sizeof a), l.has_marker || l.n == 0 ? "" : " (no " REPO_MARKER " marker)");
    if (l.n > 0)
        printf("%-19s  %-19s  %-10s  %6s  %10s  %-23s  %-23s  %s\n", "LABEL", "STARTED (UTC)", "STATUS", "TABLES",
               "SIZE", "VERIFIED", "DRILLED", "TAG");
    for (size_t i = 0; i < l.n; i++) {
        const repo_backup *b = &l.b[i];
        char started[32], tables[32], ver[48], drilled[48], tag[512];
        struct tm tm;
        gmtime_r(&b->time, &tm);
        strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S", &tm);
        if (b->complete)
            snprintf(tables, sizeof tables, "%llu", (unsigned long long)b->tables);
        else
            snprintf(tables, sizeof tables, "-");
        repo_cli_verified(b, ver, sizeof ver);
        drilled_text(repo_last_drill(l.drills, l.ndrills, b->label, 0), drilled, sizeof drilled);
        snprintf(tag, sizeof tag, "%s%s", b->tag ? b->tag : "-", b->keep_forever ? " (keep-forever)" : "");
        printf("%-19s  %-19s  %-10s  %6s  %10s  %-23s  %-23s  %s\n", b->label, started, repo_cli_state(b), tables,
               pf_fmt_bytes(b->bytes, a, sizeof a), ver, drilled, tag);
    }
    for (size_t i = 0; i < l.n; i++)
        if (worth_noting(&l.b[i]))
            printf("note: %s: %s\n", l.b[i].label, l.b[i].note);
    char drill[256];
    const repo_drill *last = repo_last_drill(l.drills, l.ndrills, NULL, 0);
    repo_cli_drill_text(last, now, drill, sizeof drill);
    printf("last drill: %s\n", drill);
    if (last && !last->ok) {
        repo_cli_drill_text(repo_last_drill(l.drills, l.ndrills, NULL, 1), now, drill, sizeof drill);
        printf("last passing drill: %s\n", drill);
    }
    repo_listing_free(&l);
    return 0;
}

int repo_cli_option(repo_cli_sel *s, int c, const char *arg)
{
    switch (c) {
    case OPT_REPO: s->repo = arg; return 1;
    case OPT_AS_OF: s->as_of = arg; return 1;
    case OPT_BACKUP: s->backup = arg; return 1;
    }
    return 0;
}

int repo_cli_any(const repo_cli_sel *s) { return s->repo || s->as_of || s->backup; }

int repo_cli_resolve(const char *cmd, const repo_cli_sel *s, const char *dir, char *out, size_t outlen,
                     const char **dir_out)
{
    if (!repo_cli_any(s)) {
        *dir_out = dir;
        return 0;
    }
    if (!s->repo)
        return cli_usage_error(cmd, "%s needs --repo REPO (the repository to choose the backup from)",
                               s->as_of ? "--as-of" : "--backup");
    if (!*s->repo)
        return cli_usage_error(cmd, "%s", "--repo needs a directory");
    if (dir)
        return cli_usage_error(cmd, "--repo and a dump directory (\"%s\") exclude each other", dir);
    if (s->as_of && s->backup)
        return cli_usage_error(cmd, "%s", "--as-of and --backup exclude each other: give one");
    if (!s->as_of && !s->backup)
        return cli_usage_error(cmd, "%s", "--repo needs --as-of TIME or --backup latest|LABEL|TAG");
    repo_choice ch;
    char err[PF_ERRLEN];
    int rc = repo_select(s->repo, s->as_of, s->backup, &ch, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "pgferry %s: %s\n", cmd, err);
        return rc == -2 ? EXIT_USAGE : 1;
    }
    char when[32];
    repo_format_time(ch.time, when, sizeof when);
    fprintf(stderr, "pgferry %s: using backup %s (%s%s%s) from %s\n", cmd, ch.label, when, ch.tag ? ", tag " : "",
            ch.tag ? ch.tag : "", s->repo);
    free(ch.tag);
    snprintf(out, outlen, "%s", ch.dir);
    *dir_out = out;
    return 0;
}
