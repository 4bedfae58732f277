/* Unit tests for engine/repo: labels, times and ages; grandfather-father-son retention on
 * synthetic calendars with a fixed "now" (400 daily backups, month and year boundaries, ISO
 * week 53 and weeks that span New Year, gaps, several backups a day, keep-last,
 * keep-forever and tagged backups, the newest complete backup outside every window,
 * incomplete and in-progress backups); the status verdict for each case; and, on a
 * temporary directory, the repository itself: slots and their locks, scan, verification
 * records, removal that refuses a backup being written, cleanup of interrupted removals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/pf_util.h"
#include "engine/manifest.h"
#include "engine/repo.h"

/* ---------------------------------------------------------------- helpers */

static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return timegm(&tm);
}

static repo_backup mk(time_t t)
{
    repo_backup b;
    memset(&b, 0, sizeof b);
    b.time = t;
    b.complete = 1;
    b.authenticated = 1;
    repo_format_label(t, 0, b.label, sizeof b.label);
    return b;
}

/* The kept backups' times as "YYYY-MM-DDTHH" joined by spaces, oldest first (b is in time
 * order), so a failure shows the whole set. */
static char *kept_set(const repo_backup *b, size_t n, const repo_decision *d)
{
    char *out = calloc(n * 16 + 1, 1);
    for (size_t i = 0; i < n; i++) {
        if (!d[i].keep)
            continue;
        struct tm tm;
        char one[32];
        gmtime_r(&b[i].time, &tm);
        strftime(one, sizeof one, "%Y-%m-%dT%H ", &tm);
        strcat(out, one);
    }
    size_t len = strlen(out);
    if (len)
        out[len - 1] = '\0';
    return out;
}

static void expect_kept(const repo_backup *b, size_t n, const repo_policy *p, time_t now, const char *want,
                        repo_decision *d)
{
    assert_int_equal(repo_decide(b, n, p, now, d), 0);
    char *got = kept_set(b, n, d);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "kept: %s\nwant: %s\n", got, want);
    assert_string_equal(got, want);
    free(got);
    /* every removed backup says why, every kept one names at least one rule */
    for (size_t i = 0; i < n; i++)
        assert_true(d[i].rules != 0);
}

static size_t index_of(const repo_backup *b, size_t n, time_t t)
{
    for (size_t i = 0; i < n; i++)
        if (b[i].time == t)
            return i;
    fail_msg("no backup at that time");
    return 0;
}

/* ---------------------------------------------------------------- labels, times, ages */

static void test_labels(void **state)
{
    (void)state;
    char l[REPO_LABEL_MAX];
    time_t t = utc(2026, 11, 27, 3, 0), back;
    int seq;
    repo_format_label(t, 0, l, sizeof l);
    assert_string_equal(l, "20261127T030000Z");
    assert_int_equal(repo_parse_label(l, &back, &seq), 0);
    assert_true(back == t);
    assert_int_equal(seq, 0);
    repo_format_label(t + 59, 12, l, sizeof l);
    assert_string_equal(l, "20261127T030059Z-12");
    assert_int_equal(repo_parse_label(l, &back, &seq), 0);
    assert_true(back == t + 59);
    assert_int_equal(seq, 12);
    assert_int_equal(repo_parse_label("20240229T235959Z", &back, NULL), 0); /* leap day */
    static const char *const bad[] = {"20261327T000000Z", "20250229T000000Z", "20261131T000000Z",
                                      "20261127T240000Z", "20261127T036000Z", "20261127T030000",
                                      "20261127 030000Z", "20261127T030000Z-0", "20261127T030000Z-01",
                                      "20261127T030000Z-", "20261127T030000Zx", ".20261127T030000Z",
                                      "2026112T030000Z", "", "manifest.json", "19691231T235959Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (repo_parse_label(bad[i], &back, &seq) == 0)
            fail_msg("accepted label \"%s\"", bad[i]);
    }
}

static void test_times_and_ages(void **state)
{
    (void)state;
    time_t t, want = utc(2026, 11, 27, 3, 0);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00Z", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27T03:00", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27 03:00:00", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("20261127T030000Z", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27", &t), 0);
    assert_true(t == utc(2026, 11, 27, 0, 0));
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)want);
    assert_int_equal(repo_parse_time(s, &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-02-30", &t), -1);
    assert_int_equal(repo_parse_time("2026-11-27T3:00", &t), -1);
    assert_int_equal(repo_parse_time("yesterday", &t), -1);
    assert_int_equal(repo_parse_time("", &t), -1);
    /* offsets and fractions of a second */
    assert_int_equal(repo_parse_time("2026-11-27T05:00:00+02:00", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27T05:00+0200", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27T05:00:00+02", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-26T21:30:00-05:30", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00.999Z", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00.5+00:00", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00z", &t), 0);
    assert_true(t == want);
    assert_int_equal(repo_parse_time("2026-11-27T01:00:00+02:00", &t), 0); /* across midnight */
    assert_true(t == utc(2026, 11, 26, 23, 0));
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00+24:00", &t), -1);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00+02:60", &t), -1);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00+2", &t), -1);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00.Z", &t), -1);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00Z+01:00", &t), -1);
    assert_int_equal(repo_parse_time("2026-11-27+01:00", &t), -1);
    assert_int_equal(repo_parse_time("2026-11-27T03:00:00+02:00x", &t), -1);
    repo_format_time(want, s, sizeof s);
    assert_string_equal(s, "2026-11-27T03:00:00Z");

    setenv("PGFERRY_NOW", "2026-11-27T03:00:00Z", 1);
    char err[PF_ERRLEN];
    assert_int_equal(repo_now(&t, err, sizeof err), 0);
    assert_true(t == want);
    setenv("PGFERRY_NOW", "soon", 1);
    assert_int_equal(repo_now(&t, err, sizeof err), -1);
    assert_non_null(strstr(err, "PGFERRY_NOW"));
    unsetenv("PGFERRY_NOW");
    assert_int_equal(repo_now(&t, err, sizeof err), 0);
    assert_true(t > want - 10 * 365 * REPO_DAY);

    int64_t a;
    assert_int_equal(repo_parse_duration("24h", &a), 0);
    assert_true(a == 86400);
    assert_int_equal(repo_parse_duration("90m", &a), 0);
    assert_true(a == 5400);
    assert_int_equal(repo_parse_duration("7d", &a), 0);
    assert_true(a == 7 * 86400);
    assert_int_equal(repo_parse_duration("1w", &a), 0);
    assert_true(a == 7 * 86400);
    assert_int_equal(repo_parse_duration("3600", &a), 0);
    assert_true(a == 3600);
    assert_int_equal(repo_parse_duration("45s", &a), 0);
    assert_true(a == 45);
    static const char *const bad[] = {"", "h", "24x", "-5h", "24hh", "1.5h", " 24h", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (repo_parse_duration(bad[i], &a) == 0)
            fail_msg("accepted age \"%s\"", bad[i]);
    repo_format_age(45, s, sizeof s);
    assert_string_equal(s, "45s");
    repo_format_age(12 * 60 + 5, s, sizeof s);
    assert_string_equal(s, "12m");
    repo_format_age(3 * 3600 + 12 * 60, s, sizeof s);
    assert_string_equal(s, "3h12m");
    repo_format_age(3600, s, sizeof s);
    assert_string_equal(s, "1h");
    repo_format_age(86400 + 4 * 3600 + 59, s, sizeof s);
    assert_string_equal(s, "1d4h");
    repo_format_age(2 * 86400, s, sizeof s);
    assert_string_equal(s, "2d");
    repo_format_age(-300, s, sizeof s);
    assert_string_equal(s, "-5m");
}

/* ---------------------------------------------------------------- durations */

/* The one duration parser: compound values, largest unit first, zero apart. */
static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t want;
    } good[] = {{"1d12h", 36 * 3600},      {"2w", 14 * 86400},         {"90m", 5400},
                {"1y", 365 * 86400},      {"1y2w3d4h5m6s", 365 * 86400 + 17 * 86400 + 4 * 3600 + 5 * 60 + 6},
                {"36h", 36 * 3600},       {"0d5m", 300},              {"3600", 3600},
                {"1h30m", 5400},          {"007s", 7}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int64_t a = -1;
        if (repo_parse_duration(good[i].s, &a) != 0 || a != good[i].want)
            fail_msg("\"%s\": got %lld (rc %d), want %lld", good[i].s, (long long)a,
                     repo_parse_duration(good[i].s, &a), (long long)good[i].want);
    }
    /* zero, whatever its spelling, is its own error (a usage error for every option) */
    static const char *const zero[] = {"0", "0h", "0d0h", "0s", "00m"};
    for (size_t i = 0; i < sizeof zero / sizeof *zero; i++) {
        int64_t a;
        if (repo_parse_duration(zero[i], &a) != -2)
            fail_msg("\"%s\" is not reported as zero", zero[i]);
    }
    static const char *const bad[] = {"-1h", "1h1d",  "1h1h", "1h30",  "d",   "1x", "1.5h", "1 h", "1h ",
                                      "+1h", "h1",    "",     "1d-2h", "1hm", "1M", "999999999999y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t a;
        if (repo_parse_duration(bad[i], &a) != -1)
            fail_msg("accepted duration \"%s\"", bad[i]);
    }
    assert_int_equal(repo_parse_duration(NULL, &(int64_t){0}), -1);
}

/* keep-within keeps everything newer than now - D, besides the other rules; keep-yearly
 * the newest of each of the N most recent years. */
static void test_keep_within_and_yearly(void **state)
{
    (void)state;
    enum { N = 6 };
    repo_backup b[N] = {mk(utc(2023, 6, 1, 3, 0)),  mk(utc(2024, 3, 1, 3, 0)),  mk(utc(2024, 9, 1, 3, 0)),
                        mk(utc(2026, 11, 20, 3, 0)), mk(utc(2026, 11, 28, 3, 0)), mk(utc(2026, 11, 30, 3, 0))};
    repo_decision d[N];
    time_t now = utc(2026, 12, 1, 4, 0);
    repo_policy within = {0, 0, 0, 0, 0, 7 * REPO_DAY};
    expect_kept(b, N, &within, now, "2026-11-28T03 2026-11-30T03", d);
    assert_int_equal(d[4].rules, REPO_RULE_WITHIN);
    char why[256];
    repo_format_rules(&b[4], &d[4], &within, why, sizeof why);
    assert_string_equal(why, "within 7d");
    assert_string_equal(repo_rule_name(REPO_RULE_WITHIN), "within");

    repo_policy yearly = {0, 0, 0, 0, 2, 0};
    expect_kept(b, N, &yearly, now, "2024-09-01T03 2026-11-30T03", d);
    repo_format_rules(&b[2], &d[2], &yearly, why, sizeof why);
    assert_string_equal(why, "yearly 2024");
    assert_string_equal(repo_rule_name(REPO_RULE_YEARLY), "yearly");

    /* combined, restic-style: each rule on its own, a backup kept by any */
    repo_policy both = {1, 0, 0, 0, 3, 36 * 3600};
    expect_kept(b, N, &both, now, "2023-06-01T03 2024-09-01T03 2026-11-30T03", d);
    assert_int_equal(d[5].rules, REPO_RULE_NEWEST | REPO_RULE_LAST | REPO_RULE_YEARLY | REPO_RULE_WITHIN);
}

/* Nagios performance data of the newest complete backup. */
static void test_status_perfdata(void **state)
{
    (void)state;
    repo_backup b[2] = {mk(utc(2026, 11, 27, 3, 0)), mk(utc(2026, 11, 28, 3, 0))};
    b[0].bytes = 1000;
    b[0].tables = 12;
    b[1].complete = 0;
    repo_status_opts o = {.max_age = 26 * 3600, .warn_age = 25 * 3600};
    char out[512];
    repo_status_perfdata(b, 2, &o, utc(2026, 11, 27, 6, 12), out, sizeof out);
    assert_string_equal(out, "'age'=11520s;90000;93600;0; 'size'=1000B;;;0; 'tables'=12;;;0; 'drill_age'=U;;;0; 'rto'=U;;;0;");
    o.warn_age = 0;
    repo_status_perfdata(b + 1, 1, &o, utc(2026, 11, 28, 6, 0), out, sizeof out);
    assert_string_equal(out, "'age'=U;;93600;0; 'size'=U;;;0; 'tables'=U;;;0; 'drill_age'=U;;;0; 'rto'=U;;;0;");
}

/* Drills as evidence: --max-drill-age and --max-rto are WARNINGs about the last passing
 * drill; no passing drill at all is a WARNING that says so. */
static void test_status_drills(void **state)
{
    (void)state;
    repo_backup b[1] = {mk(utc(2026, 12, 1, 3, 0))};
    b[0].tables = 3;
    time_t now = utc(2026, 12, 1, 6, 0);
    repo_status_opts o = {.max_age = 26 * 3600, .max_drill_age = 35 * REPO_DAY, .max_rto = 2 * 3600};
    char line[1024], perf[512];
    assert_int_equal(repo_status(b, 1, &o, now, line, sizeof line), REPO_STATUS_WARNING);
    assert_string_equal(line, "PGFERRY WARNING - no passing restore drill recorded (0 drills, none passed)");

    repo_drill d[3] = {{"20261020T030000Z", utc(2026, 10, 20, 5, 0), 1, 72.4},
                       {"20261110T030000Z", utc(2026, 11, 10, 5, 0), 1, 3 * 3600},
                       {"20261130T030000Z", utc(2026, 11, 30, 5, 0), 0, 60}};
    o.drills = d;
    o.ndrills = 1; /* passed 42 days ago: too old */
    assert_int_equal(repo_status(b, 1, &o, now, line, sizeof line), REPO_STATUS_WARNING);
    assert_non_null(strstr(line, "last passing restore drill is 42d1h old (max 35d)"));
    repo_status_perfdata(b, 1, &o, now, perf, sizeof perf);
    assert_non_null(strstr(perf, " 'drill_age'=3632400s;3024000;;0; 'rto'=72.4s;7200;;0;"));

    o.ndrills = 2; /* passed 21 days ago, but its restore took 3h against an RTO of 2h */
    assert_int_equal(repo_status(b, 1, &o, now, line, sizeof line), REPO_STATUS_WARNING);
    assert_string_equal(line, "PGFERRY WARNING - last passing restore drill's restore took 3h (RTO 2h)");
    o.max_rto = 4 * 3600;
    assert_int_equal(repo_status(b, 1, &o, now, line, sizeof line), REPO_STATUS_OK);
    assert_non_null(strstr(line, "(complete, 3 tables, 0 B); last passing drill 21d1h ago (restore 3h)"));

    o.ndrills = 3; /* the newest drill failed: said, whatever the older passing one */
    assert_int_equal(repo_status(b, 1, &o, now, line, sizeof line), REPO_STATUS_WARNING);
    assert_string_equal(line, "PGFERRY WARNING - the last restore drill (of 20261130T030000Z at "
                              "2026-11-30T05:00:00Z) FAILED");
    /* without the drill options, drills do not change the verdict */
    repo_status_opts plain = {.max_age = 26 * 3600, .drills = d, .ndrills = 3};
    assert_int_equal(repo_status(b, 1, &plain, now, line, sizeof line), REPO_STATUS_OK);
    assert_ptr_equal(repo_last_drill(d, 3, NULL, 1), &d[1]);
    assert_ptr_equal(repo_last_drill(d, 3, "20261020T030000Z", 0), &d[0]);
    assert_null(repo_last_drill(d, 3, "20261201T030000Z", 0));
}

/* ---------------------------------------------------------------- retention */

/* 400 daily backups at 03:00 ending Wed 2026-12-02; the defaults keep 7 daily, 4 weekly
 * (two more: the three newer weeks' newest are daily ones already) and 12 monthly (month
 * ends back to January 2026): 19 in all. */
static void test_pick(void **state)
{
    (void)state;
    time_t t0 = utc(2026, 11, 27, 3, 0);
    repo_backup b[5];
    memset(b, 0, sizeof b);
    for (int i = 0; i < 5; i++) {
        b[i].time = t0 + i * 3600;
        b[i].complete = 1;
        repo_format_label(b[i].time, 0, b[i].label, sizeof b[i].label);
    }
    b[2].complete = 0; /* 05:00 failed */
    b[3].tag = "pre-migration";
    b[4].writing = 1; /* 07:00 being written */
    size_t idx;
    char err[PF_ERRLEN];
    assert_int_equal(repo_pick(b, 5, "2026-11-27T04:00:00Z", NULL, &idx, err, sizeof err), 0);
    assert_int_equal(idx, 1); /* exactly at a label's time */
    assert_int_equal(repo_pick(b, 5, "2026-11-27T03:59:59Z", NULL, &idx, err, sizeof err), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(repo_pick(b, 5, "2026-11-27T05:30:00Z", NULL, &idx, err, sizeof err), 0);
    assert_int_equal(idx, 1); /* the incomplete one is skipped */
    assert_int_equal(repo_pick(b, 5, "2026-11-27T08:00:00+01:00", NULL, &idx, err, sizeof err), 0);
    assert_int_equal(idx, 3); /* 07:00 UTC: the one being written is skipped */
    assert_int_equal(repo_pick(b, 5, "2026-11-27T02:59:59Z", NULL, &idx, err, sizeof err), -1);
    assert_non_null(strstr(err, "no complete backup at or before 2026-11-27T02:59:59Z"));
    assert_non_null(strstr(err, "20261127T030000Z"));
    assert_int_equal(repo_pick(b, 5, "tomorrow", NULL, &idx, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid --as-of"));
    assert_int_equal(repo_pick(b, 5, NULL, "latest", &idx, err, sizeof err), 0);
    assert_int_equal(idx, 3);
    assert_int_equal(repo_pick(b, 5, NULL, "20261127T040000Z", &idx, err, sizeof err), 0);
    assert_int_equal(idx, 1);
    assert_int_equal(repo_pick(b, 5, NULL, "pre-migration", &idx, err, sizeof err), 0);
    assert_int_equal(idx, 3);
    assert_int_equal(repo_pick(b, 5, NULL, "20261127T050000Z", &idx, err, sizeof err), -1);
    assert_non_null(strstr(err, "not complete"));
    assert_int_equal(repo_pick(b, 5, NULL, "nope", &idx, err, sizeof err), -1);
    assert_non_null(strstr(err, "no backup labelled or tagged \"nope\""));
    assert_int_equal(repo_pick(b, 0, NULL, "latest", &idx, err, sizeof err), -1);
    assert_non_null(strstr(err, "no complete backup"));
}

static void test_gfs_400_days(void **state)
{
    (void)state;
    enum { N = 400 };
    repo_backup *b = calloc(N, sizeof *b);
    repo_decision *d = calloc(N, sizeof *d);
    time_t last = utc(2026, 12, 2, 3, 0);
    for (int i = 0; i < N; i++)
        b[i] = mk(last - (time_t)(N - 1 - i) * REPO_DAY);
    repo_policy p = REPO_POLICY_DEFAULT;
    expect_kept(b, N, &p, last + 3600,
                "2026-01-31T03 2026-02-28T03 2026-03-31T03 2026-04-30T03 2026-05-31T03 2026-06-30T03 "
                "2026-07-31T03 2026-08-31T03 2026-09-30T03 2026-10-31T03 2026-11-15T03 2026-11-22T03 "
                "2026-11-26T03 2026-11-27T03 2026-11-28T03 2026-11-29T03 2026-11-30T03 2026-12-01T03 "
                "2026-12-02T03",
                d);
    size_t kept = 0;
    for (int i = 0; i < N; i++)
        kept += (size_t)d[i].keep;
    assert_int_equal(kept, 19);
    /* Every rule that keeps a backup is reported. */
    char why[256];
    repo_format_rules(&b[N - 1], &d[N - 1], &p, why, sizeof why);
    assert_string_equal(why, "newest complete backup, daily 2026-12-02, weekly 2026-W49, monthly 2026-12");
    size_t i = index_of(b, N, utc(2026, 11, 29, 3, 0));
    assert_int_equal(d[i].rules, REPO_RULE_DAILY | REPO_RULE_WEEKLY);
    i = index_of(b, N, utc(2026, 11, 15, 3, 0));
    assert_int_equal(d[i].rules, REPO_RULE_WEEKLY);
    repo_format_rules(&b[i], &d[i], &p, why, sizeof why);
    assert_string_equal(why, "weekly 2026-W46");
    i = index_of(b, N, utc(2026, 1, 31, 3, 0));
    assert_int_equal(d[i].rules, REPO_RULE_MONTHLY);
    i = index_of(b, N, utc(2026, 1, 30, 3, 0));
    assert_int_equal(d[i].keep, 0);
    assert_int_equal(d[i].rules, REPO_RULE_NONE);
    repo_format_rules(&b[i], &d[i], &p, why, sizeof why);
    assert_string_equal(why, "no rule keeps it");

    /* The input order does not matter: reversed, the same decisions. */
    repo_backup *r = calloc(N, sizeof *r);
    repo_decision *rd = calloc(N, sizeof *rd);
    for (int k = 0; k < N; k++)
        r[k] = b[N - 1 - k];
    assert_int_equal(repo_decide(r, N, &p, last + 3600, rd), 0);
    for (int k = 0; k < N; k++) {
        assert_int_equal(rd[k].keep, d[N - 1 - k].keep);
        assert_int_equal(rd[k].rules, d[N - 1 - k].rules);
    }
    free(r);
    free(rd);
    free(b);
    free(d);
}

/* Dec 20 2026 .. Jan 5 2027. ISO 2026-W53 runs Mon Dec 28 to Sun Jan 3: one week across
 * New Year. Weekly 3: Jan 5 (2027-W01), Jan 3 (2026-W53, not Dec 31), Dec 27 (2026-W52).
 * Monthly 2: Jan 5 and Dec 31. */
static void test_gfs_year_boundary(void **state)
{
    (void)state;
    enum { N = 17 };
    repo_backup b[N];
    repo_decision d[N];
    for (int i = 0; i < N; i++)
        b[i] = mk(utc(2026, 12, 20, 3, 0) + (time_t)i * REPO_DAY);
    repo_policy p = {0, 0, 3, 2, 0, 0};
    time_t now = utc(2027, 1, 5, 4, 0);
    expect_kept(b, N, &p, now, "2026-12-27T03 2026-12-31T03 2027-01-03T03 2027-01-05T03", d);
    char why[256];
    size_t i = index_of(b, N, utc(2027, 1, 3, 3, 0));
    repo_format_rules(&b[i], &d[i], &p, why, sizeof why);
    assert_string_equal(why, "weekly 2026-W53");
    i = index_of(b, N, utc(2026, 12, 31, 3, 0));
    repo_format_rules(&b[i], &d[i], &p, why, sizeof why);
    assert_string_equal(why, "monthly 2026-12");

    /* Daily across New Year: Dec 31 -> Jan 1 are two days. */
    repo_policy daily = {0, 3, 0, 0, 0, 0};
    expect_kept(b, N, &daily, now, "2027-01-03T03 2027-01-04T03 2027-01-05T03", d);
    repo_backup nye[3] = {mk(utc(2026, 12, 31, 23, 59)), mk(utc(2027, 1, 1, 0, 0)), mk(utc(2027, 1, 1, 0, 1))};
    repo_policy d2 = {0, 2, 0, 2, 0, 0};
    expect_kept(nye, 3, &d2, now, "2026-12-31T23 2027-01-01T00", d);
    assert_int_equal(d[0].rules, REPO_RULE_DAILY | REPO_RULE_MONTHLY);
    assert_int_equal(d[1].keep, 0); /* 00:00 is not the newest of Jan 1 */
    assert_int_equal(d[2].rules, REPO_RULE_NEWEST | REPO_RULE_DAILY | REPO_RULE_MONTHLY);
}

/* A year without week 53: Mon Dec 30 2024 is in 2025-W01 with Jan 1 2025. */
static void test_gfs_week_spans_years(void **state)
{
    (void)state;
    repo_backup b[3] = {mk(utc(2024, 12, 29, 3, 0)), mk(utc(2024, 12, 30, 3, 0)), mk(utc(2025, 1, 1, 3, 0))};
    repo_decision d[3];
    repo_policy p = {0, 0, 2, 0, 0, 0};
    expect_kept(b, 3, &p, utc(2025, 1, 1, 4, 0), "2024-12-29T03 2025-01-01T03", d);
    char why[64];
    repo_format_rules(&b[2], &d[2], &p, why, sizeof why);
    assert_string_equal(why, "newest complete backup, weekly 2025-W01");
    repo_format_rules(&b[0], &d[0], &p, why, sizeof why);
    assert_string_equal(why, "weekly 2024-W52");
    assert_int_equal(d[1].rules, REPO_RULE_NONE);
}

/* January daily, then nothing for five weeks, then Mar 9-11: days and weeks without
 * backups use up no slot, so the windows reach back into January. */
static void test_gfs_gaps(void **state)
{
    (void)state;
    enum { N = 34 };
    repo_backup b[N];
    repo_decision d[N];
    for (int i = 0; i < 31; i++)
        b[i] = mk(utc(2026, 1, 1, 3, 0) + (time_t)i * REPO_DAY);
    b[31] = mk(utc(2026, 3, 9, 3, 0));
    b[32] = mk(utc(2026, 3, 10, 3, 0));
    b[33] = mk(utc(2026, 3, 11, 3, 0));
    repo_policy p = {0, 7, 4, 0, 0, 0};
    expect_kept(b, N, &p, utc(2026, 3, 11, 12, 0),
                "2026-01-18T03 2026-01-25T03 2026-01-28T03 2026-01-29T03 2026-01-30T03 2026-01-31T03 "
                "2026-03-09T03 2026-03-10T03 2026-03-11T03",
                d);
    /* The newest is kept however old: a year later, with only keep-daily 1, it still is. */
    repo_policy one = {0, 1, 0, 0, 0, 0};
    expect_kept(b, N, &one, utc(2027, 3, 11, 12, 0), "2026-03-11T03", d);
}

/* Four backups a day for ten days: the newest of each day counts for that day. */
static void test_gfs_several_per_day(void **state)
{
    (void)state;
    enum { N = 40 };
    repo_backup b[N];
    repo_decision d[N];
    for (int i = 0; i < N; i++)
        b[i] = mk(utc(2026, 6, 1, 0, 0) + (time_t)(i / 4) * REPO_DAY + (time_t)(i % 4) * 6 * 3600);
    time_t now = utc(2026, 6, 10, 20, 0);
    repo_policy daily = {0, 3, 0, 0, 0, 0};
    expect_kept(b, N, &daily, now, "2026-06-08T18 2026-06-09T18 2026-06-10T18", d);
    repo_policy last = {5, 0, 0, 0, 0, 0};
    expect_kept(b, N, &last, now, "2026-06-09T18 2026-06-10T00 2026-06-10T06 2026-06-10T12 2026-06-10T18", d);
    char why[128];
    repo_format_rules(&b[N - 1], &d[N - 1], &last, why, sizeof why);
    assert_string_equal(why, "newest complete backup, last 5");
    repo_format_rules(&b[N - 2], &d[N - 2], &last, why, sizeof why);
    assert_string_equal(why, "last 5");
    /* keep-last and keep-daily together: the union. */
    repo_policy both = {2, 2, 0, 0, 0, 0};
    expect_kept(b, N, &both, now, "2026-06-09T18 2026-06-10T12 2026-06-10T18", d);
    assert_int_equal(d[N - 1].rules, REPO_RULE_NEWEST | REPO_RULE_LAST | REPO_RULE_DAILY);
}

/* Tagged backups follow the rules; keep-forever ones are always kept (and count for their
 * day like any other). */
static void test_gfs_forever_and_tags(void **state)
{
    (void)state;
    enum { N = 6 };
    repo_backup b[N];
    repo_decision d[N];
    b[0] = mk(utc(2025, 3, 1, 3, 0));
    b[0].tag = "pre-migration-2025-03-01";
    b[0].keep_forever = 1;
    b[1] = mk(utc(2025, 6, 1, 3, 0));
    b[1].tag = "before-upgrade";
    b[2] = mk(utc(2026, 11, 25, 3, 0));
    b[3] = mk(utc(2026, 11, 26, 3, 0));
    b[4] = mk(utc(2026, 11, 26, 14, 0));
    b[4].tag = "pre-migration-2026-11-26";
    b[4].keep_forever = 1;
    b[5] = mk(utc(2026, 11, 27, 3, 0));
    repo_policy p = {0, 2, 0, 0, 0, 0};
    expect_kept(b, N, &p, utc(2026, 11, 27, 4, 0), "2025-03-01T03 2026-11-26T14 2026-11-27T03", d);
    assert_int_equal(d[0].rules, REPO_RULE_FOREVER);
    assert_int_equal(d[1].rules, REPO_RULE_NONE); /* a tag alone does not keep */
    assert_int_equal(d[3].keep, 0);               /* Nov 26's daily slot went to the newer one */
    assert_int_equal(d[4].rules, REPO_RULE_FOREVER | REPO_RULE_DAILY);
    char why[128];
    repo_format_rules(&b[0], &d[0], &p, why, sizeof why);
    assert_string_equal(why, "keep-forever");
}

/* Incomplete and in-progress backups, and the newest complete backup when no rule is on. */
static void test_gfs_incomplete_and_writing(void **state)
{
    (void)state;
    enum { N = 7 };
    repo_backup b[N];
    repo_decision d[N];
    time_t now = utc(2026, 11, 27, 12, 0);
    b[0] = mk(utc(2026, 11, 1, 3, 0));
    b[1] = mk(utc(2026, 11, 2, 3, 0));             /* newest complete */
    b[2] = mk(utc(2026, 11, 20, 3, 0));            /* in progress for a week: kept */
    b[2].complete = 0;
    b[2].writing = 1;
    b[3] = mk(utc(2026, 11, 25, 3, 0));            /* incomplete, 2 days: removed */
    b[3].complete = 0;
    b[4] = mk(now - REPO_DAY - 1);                 /* just over a day: removed */
    b[4].complete = 0;
    b[5] = mk(now - REPO_DAY);                     /* exactly a day: still recent */
    b[5].complete = 0;
    b[6] = mk(utc(2026, 11, 27, 11, 0));           /* complete but its dump still holds the lock */
    b[6].writing = 1;
    repo_policy none = {0, 0, 0, 0, 0, 0};
    assert_int_equal(repo_decide(b, N, &none, now, d), 0);
    assert_int_equal(d[0].keep, 0);
    assert_int_equal(d[0].rules, REPO_RULE_NONE);
    assert_int_equal(d[1].keep, 1);
    assert_int_equal(d[1].rules, REPO_RULE_NEWEST);
    assert_int_equal(d[2].keep, 1);
    assert_int_equal(d[2].rules, REPO_RULE_WRITING);
    assert_int_equal(d[3].keep, 0);
    assert_int_equal(d[3].rules, REPO_RULE_INCOMPLETE_OLD);
    assert_int_equal(d[4].keep, 0);
    assert_int_equal(d[5].keep, 1);
    assert_int_equal(d[5].rules, REPO_RULE_INCOMPLETE_RECENT);
    assert_int_equal(d[6].keep, 1);
    assert_int_equal(d[6].rules, REPO_RULE_WRITING);
    char why[128];
    repo_format_rules(&b[2], &d[2], &none, why, sizeof why);
    assert_string_equal(why, "being written");
    repo_format_rules(&b[3], &d[3], &none, why, sizeof why);
    assert_string_equal(why, "incomplete, older than a day");
    repo_format_rules(&b[5], &d[5], &none, why, sizeof why);
    assert_string_equal(why, "incomplete, recent");
    repo_format_rules(&b[1], &d[1], &none, why, sizeof why);
    assert_string_equal(why, "newest complete backup");
    /* Even the widest policy never removes what is being written, whatever its age. */
    repo_policy p = REPO_POLICY_DEFAULT;
    assert_int_equal(repo_decide(b, N, &p, now + 365 * REPO_DAY, d), 0);
    assert_int_equal(d[2].keep, 1);
    assert_int_equal(d[6].keep, 1);
    /* Nothing at all, and nothing complete. */
    assert_int_equal(repo_decide(b, 0, &p, now, d), 0);
    repo_backup inc[1] = {mk(now - 3 * REPO_DAY)};
    inc[0].complete = 0;
    assert_int_equal(repo_decide(inc, 1, &p, now, d), 0);
    assert_int_equal(d[0].keep, 0);
    assert_string_equal(repo_rule_name(REPO_RULE_INCOMPLETE_OLD), "incomplete-old");
}

/* ---------------------------------------------------------------- status */

static repo_status_code st(const repo_backup *b, size_t n, int64_t max, int64_t warn, int req, time_t now,
                           const char *want_sub)
{
    char line[1024];
    repo_status_opts o = {.max_age = max, .warn_age = warn, .require_verified = req};
    repo_status_code c = repo_status(b, n, &o, now, line, sizeof line);
    if (want_sub && !strstr(line, want_sub))
        fail_msg("status line \"%s\" lacks \"%s\"", line, want_sub);
    return c;
}

static void test_status(void **state)
{
    (void)state;
    time_t now = utc(2026, 11, 27, 6, 12);
    repo_backup b[3];
    b[0] = mk(utc(2026, 11, 26, 3, 0));
    b[1] = mk(utc(2026, 11, 27, 3, 0));
    b[1].tables = 12;
    b[1].bytes = 1288490189; /* 1.2 GB */
    char line[1024];
    repo_status_opts o = {.max_age = 24 * 3600};
    assert_int_equal(repo_status(b, 2, &o, now, line, sizeof line), REPO_STATUS_OK);
    assert_string_equal(line, "PGFERRY OK - newest backup 20261127T030000Z is 3h12m old (complete, 12 tables, 1.2 GB)");

    /* no backup; nothing complete */
    assert_int_equal(st(b, 0, 86400, 0, 0, now, "PGFERRY CRITICAL - no backup"), REPO_STATUS_CRITICAL);
    repo_backup inc = mk(utc(2026, 11, 27, 3, 0));
    inc.complete = 0;
    assert_int_equal(st(&inc, 1, 86400, 0, 0, now, "no complete backup in the repository (1 incomplete)"),
                     REPO_STATUS_CRITICAL);
    /* too old / old */
    assert_int_equal(st(b, 2, 3 * 3600, 0, 0, now, "newest complete backup 20261127T030000Z is 3h12m old (max 3h)"),
                     REPO_STATUS_CRITICAL);
    assert_int_equal(st(b, 2, 24 * 3600, 3 * 3600, 0, now, "PGFERRY WARNING - newest complete backup "
                                                            "20261127T030000Z is 3h12m old (warn 3h)"),
                     REPO_STATUS_WARNING);
    assert_int_equal(st(b, 2, 24 * 3600, 4 * 3600, 0, now, "PGFERRY OK"), REPO_STATUS_OK);
    /* the boundary: exactly max_age old is still fine */
    assert_int_equal(st(b, 2, 3 * 3600 + 12 * 60, 0, 0, now, "PGFERRY OK"), REPO_STATUS_OK);
    /* newest backup incomplete and nobody writing it: a failed dump */
    b[2] = mk(utc(2026, 11, 27, 5, 0));
    b[2].complete = 0;
    assert_int_equal(st(b, 3, 86400, 0, 0, now, "PGFERRY WARNING - newest backup 20261127T050000Z is incomplete"),
                     REPO_STATUS_WARNING);
    /* ... still being written: fine, and said */
    b[2].writing = 1;
    assert_int_equal(st(b, 3, 86400, 0, 0, now, "; dump 20261127T050000Z running for 1h12m"), REPO_STATUS_OK);
    assert_int_equal(st(b, 3, 86400, 0, 0, now, "PGFERRY OK - newest backup 20261127T030000Z"), REPO_STATUS_OK);
    /* several problems: the worst decides, all are named, worst first */
    b[2].writing = 0;
    assert_int_equal(st(b, 3, 3600, 0, 0, now,
                        "PGFERRY CRITICAL - newest complete backup 20261127T030000Z is 3h12m old (max 1h); "
                        "newest backup 20261127T050000Z is incomplete"),
                     REPO_STATUS_CRITICAL);
    /* verification */
    assert_int_equal(st(b, 2, 86400, 0, 1, now, "PGFERRY WARNING - newest complete backup 20261127T030000Z was never verified"),
                     REPO_STATUS_WARNING);
    b[1].verified = REPO_VERIFY_FAILED;
    b[1].verified_at = utc(2026, 11, 27, 4, 0);
    b[1].verify_problems = 3;
    assert_int_equal(st(b, 2, 86400, 0, 1, now, "failed verification at 2026-11-27T04:00:00Z (3 problems)"),
                     REPO_STATUS_CRITICAL);
    assert_int_equal(st(b, 2, 86400, 0, 0, now, "PGFERRY OK"), REPO_STATUS_OK); /* not asked */
    b[1].verified = REPO_VERIFY_OK;
    assert_int_equal(st(b, 2, 86400, 0, 1, now, "(complete, 12 tables, 1.2 GB, verified)"), REPO_STATUS_OK);
    /* an older backup's verification does not count for the newest */
    b[0].verified = REPO_VERIFY_OK;
    b[1].verified = REPO_VERIFY_NEVER;
    assert_int_equal(st(b, 2, 86400, 0, 1, now, "never verified"), REPO_STATUS_WARNING);
    assert_string_equal(repo_status_name(REPO_STATUS_UNKNOWN), "UNKNOWN");
}

/* ---------------------------------------------------------------- the repository on disk */

static char tmpdir[256];

static int make_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/pf-test-repo.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmp(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int exists(const char *fmt, const char *a, const char *b)
{
    char p[1024];
    snprintf(p, sizeof p, fmt, a, b);
    return access(p, F_OK) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_manifest(const char *dir, const char *tag, int forever)
{
    manifest m;
    memset(&m, 0, sizeof m);
    m.format_version = MANIFEST_FORMAT_VERSION;
    m.tool_version = "test";
    m.database = "app";
    m.started_at = "2026-11-27T03:00:00Z";
    m.finished_at = "2026-11-27T03:01:00Z";
    m.tag = (char *)tag;
    m.keep_forever = forever;
    m.compression = "zstd";
    m.format = "binary";
    m.schema_file = "schema.dump";
    manifest_table t[2];
    memset(t, 0, sizeof t);
    t[0].schema = t[1].schema = "public";
    t[0].name = "a";
    t[1].name = "b";
    t[0].format = t[1].format = "binary";
    t[0].persistence = t[1].persistence = 'p';
    t[0].rows = 10;
    t[1].rows = 32;
    m.ntables = 2;
    m.tables = t;
    char err[PF_ERRLEN];
    pf_store *ds = store_open(dir, 0, err, sizeof err);
    if (!ds || manifest_write(&m, ds, err, sizeof err) < 0)
        fail_msg("manifest_write: %s", err);
    store_close(ds);
}

static void test_repo_on_disk(void **state)
{
    (void)state;
    char repo[512], err[PF_ERRLEN], path[1024];
    snprintf(repo, sizeof repo, "%s/r", tmpdir);
    time_t now = utc(2026, 11, 27, 3, 0);

    /* Two dumps starting in the same second get distinct labels; both locked. */
    repo_slot s1, s2;
    assert_int_equal(repo_slot_begin(repo, now, &s1, err, sizeof err), 0);
    assert_string_equal(s1.label, "20261127T030000Z");
    assert_true(exists("%s/%s", repo, REPO_MARKER));
    assert_true(exists("%s/%s", repo, s1.label));
    assert_true(exists("%s/.%s.lock", repo, s1.label));
    assert_int_equal(repo_slot_begin(repo, now, &s2, err, sizeof err), 0);
    assert_string_equal(s2.label, "20261127T030000Z-1");
    assert_int_equal(repo_backup_locked(repo, s1.label), 1);
    assert_int_equal(repo_backup_locked(repo, s2.label), 1);
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", repo, s1.label);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);

    /* s1 completes, s2 is still being written; a failed dump left an empty directory
     * yesterday; other entries are not backups. */
    write_manifest(s1.dir, "pre-migration", 1);
    repo_slot_end(&s1);
    assert_false(exists("%s/.%s.lock", repo, s1.label));
    assert_int_equal(repo_backup_locked(repo, s1.label), 0);
    snprintf(path, sizeof path, "%s/20261126T030000Z", repo);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/notes", repo);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/20261125T030000Z", repo); /* a file, not a directory */
    write_text(path, "x");

    /* A verification record, through a path with a trailing slash. */
    snprintf(path, sizeof path, "%s/%s/", repo, s1.label);
    assert_int_equal(repo_record_verification(path, 1, 0, 0, now + 600, err, sizeof err), 0);
    assert_true(exists("%s/" REPO_VERIFY_DIR "/%s.json", repo, s1.label));

    repo_listing l;
    assert_int_equal(repo_scan(repo, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 3);
    assert_true(l.has_marker);
    assert_string_equal(l.b[0].label, "20261126T030000Z");
    assert_false(l.b[0].complete);
    assert_false(l.b[0].writing);
    assert_non_null(l.b[0].note);
    assert_string_equal(l.b[1].label, s1.label);
    assert_true(l.b[1].complete);
    assert_true(l.b[1].authenticated);
    assert_false(l.b[1].writing);
    assert_string_equal(l.b[1].tag, "pre-migration");
    assert_true(l.b[1].keep_forever);
    assert_int_equal(l.b[1].tables, 2);
    assert_int_equal(l.b[1].rows, 42);
    assert_true(l.b[1].bytes > 0);
    assert_string_equal(l.b[1].database, "app");
    assert_int_equal(l.b[1].verified, REPO_VERIFY_OK);
    assert_true(l.b[1].verified_at == now + 600);
    assert_string_equal(l.b[2].label, s2.label);
    assert_true(l.b[2].writing);
    assert_false(l.b[2].complete);

    /* Retention over what is on disk: the dump being written and the newest complete stay,
     * yesterday's failed dump (older than a day by now + 2 h) goes. */
    repo_decision d[3];
    repo_policy p = {0, 0, 0, 0, 0, 0};
    assert_int_equal(repo_decide(l.b, l.n, &p, now + 2 * 3600, d), 0);
    assert_int_equal(d[0].keep, 0);
    assert_int_equal(d[1].keep, 1);
    assert_int_equal(d[2].keep, 1);
    repo_listing_free(&l);

    /* Removal refuses the backup being written and leaves it whole. */
    assert_int_equal(repo_remove(repo, s2.label, err, sizeof err), -1);
    assert_non_null(strstr(err, "being written"));
    assert_true(exists("%s/%s", repo, s2.label));
    assert_int_equal(repo_remove(repo, "../etc", err, sizeof err), -1);
    /* ... and removes the others with their records, leaving nothing hidden behind. */
    assert_int_equal(repo_remove(repo, "20261126T030000Z", err, sizeof err), 0);
    assert_false(exists("%s/%s", repo, "20261126T030000Z"));
    assert_int_equal(repo_remove(repo, s1.label, err, sizeof err), 0);
    assert_false(exists("%s/%s", repo, s1.label));
    assert_false(exists("%s/" REPO_REMOVING_PREFIX "%s", repo, s1.label));
    assert_false(exists("%s/" REPO_VERIFY_DIR "/%s.json", repo, s1.label));

    /* An interrupted removal is finished by cleanup; a stale verification record goes. */
    snprintf(path, sizeof path, "%s/" REPO_REMOVING_PREFIX "20261120T030000Z", repo);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/" REPO_REMOVING_PREFIX "20261120T030000Z/data", repo);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/" REPO_REMOVING_PREFIX "20261120T030000Z/data/0.0.chunk", repo);
    write_text(path, "chunk");
    snprintf(path, sizeof path, "%s/" REPO_VERIFY_DIR "/20261101T030000Z.json", repo);
    write_text(path, "{\"ok\": true}");
    assert_int_equal(repo_cleanup(repo, err, sizeof err), 2);
    assert_false(exists("%s/" REPO_REMOVING_PREFIX "%s", repo, "20261120T030000Z"));
    assert_true(exists("%s/%s", repo, s2.label)); /* untouched */
    assert_true(exists("%s/.%s.lock", repo, s2.label));

    /* One prune at a time. */
    repo_lock *pl = repo_lock_prune(repo, err, sizeof err);
    assert_non_null(pl);
    assert_null(repo_lock_prune(repo, err, sizeof err));
    assert_non_null(strstr(err, "another pgferry prune"));
    repo_unlock(pl);
    pl = repo_lock_prune(repo, err, sizeof err);
    assert_non_null(pl);
    repo_unlock(pl);

    /* The lock a shell takes with flock(1) counts like a dump's. */
    repo_slot_end(&s2);
    assert_int_equal(repo_backup_locked(repo, s2.label), 0);
    snprintf(path, sizeof path, "%s/.%s.lock", repo, s2.label);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(repo_backup_locked(repo, s2.label), 1);
    close(fd);
    assert_int_equal(repo_backup_locked(repo, s2.label), 0);
}

/* Encrypted manifests cannot be authenticated without the passphrase but are whole; a
 * plain manifest that does not check out is damaged, not complete. */
static void test_manifest_state(void **state)
{
    (void)state;
    char dir[512], path[1024];
    snprintf(dir, sizeof dir, "%s/m", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    repo_backup b;
    memset(&b, 0, sizeof b);
    assert_int_equal(repo_manifest_state(dir, &b), 0);
    assert_non_null(strstr(b.note, "no manifest.json"));
    free(b.note);

    const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char text[2048];
    snprintf(text, sizeof text,
             "{\n  \"pgferry_manifest_version\": 1,\n  \"source\": {\"database\": \"app\"},\n"
             "  \"tag\": \"t1\",\n  \"keep_forever\": true,\n"
             "  \"encryption\": {\"cipher\": \"aes-256-gcm\"},\n"
             "  \"tables\": [{\"rows\": 5}, {\"rows\": 7}],\n"
             "  \"manifest_checksum\": \"%s\"\n}\n",
             hex);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    write_text(path, text);
    memset(&b, 0, sizeof b);
    assert_int_equal(repo_manifest_state(dir, &b), 1);
    assert_true(b.complete);
    assert_false(b.authenticated);
    assert_true(b.keep_forever);
    assert_string_equal(b.tag, "t1");
    assert_int_equal(b.tables, 2);
    assert_int_equal(b.rows, 12);
    assert_non_null(strstr(b.note, "encrypted"));
    free(b.tag);
    free(b.database);
    free(b.note);

    /* the same without "encryption": a plain manifest whose checksum fails */
    char *e = strstr(text, "  \"encryption\"");
    char *nl = strchr(e, '\n');
    memmove(e, nl + 1, strlen(nl + 1) + 1);
    write_text(path, text);
    memset(&b, 0, sizeof b);
    assert_int_equal(repo_manifest_state(dir, &b), 0);
    assert_false(b.complete);
    assert_non_null(strstr(b.note, "damaged manifest"));
    free(b.tag);
    free(b.note);

    /* truncated */
    text[strlen(text) - 10] = '\0';
    write_text(path, text);
    memset(&b, 0, sizeof b);
    assert_int_equal(repo_manifest_state(dir, &b), 0);
    free(b.note);
}

/* verify records results only for a labelled backup inside a repository. */
static void test_record_outside_repo(void **state)
{
    (void)state;
    char dir[512], err[PF_ERRLEN];
    snprintf(dir, sizeof dir, "%s/plain", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(dir, sizeof dir, "%s/plain/20261127T030000Z", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(repo_record_verification(dir, 0, 3, 0, time(NULL), err, sizeof err), 0);
    assert_false(exists("%s/plain/%s", tmpdir, REPO_VERIFY_DIR));
    /* in a repository, but not a label */
    snprintf(dir, sizeof dir, "%s/plain/%s", tmpdir, REPO_MARKER);
    write_text(dir, "");
    snprintf(dir, sizeof dir, "%s/plain/mydump", tmpdir);
    assert_int_equal(repo_record_verification(dir, 0, 3, 0, time(NULL), err, sizeof err), 0);
    assert_false(exists("%s/plain/%s", tmpdir, REPO_VERIFY_DIR));
    /* a failed verdict is recorded and read back */
    snprintf(dir, sizeof dir, "%s/plain/20261127T030000Z", tmpdir);
    assert_int_equal(repo_record_verification(dir, 0, 3, 1, utc(2026, 11, 27, 4, 0), err, sizeof err), 0);
    snprintf(dir, sizeof dir, "%s/plain", tmpdir);
    repo_listing l;
    assert_int_equal(repo_scan(dir, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.b[0].verified, REPO_VERIFY_FAILED);
    assert_int_equal(l.b[0].verify_problems, 3);
    repo_listing_free(&l);
    /* a repository that does not exist */
    snprintf(dir, sizeof dir, "%s/nope", tmpdir);
    assert_int_equal(repo_scan(dir, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_times_and_ages),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_keep_within_and_yearly),
        cmocka_unit_test(test_status_perfdata),
        cmocka_unit_test(test_status_drills),
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_gfs_400_days),
        cmocka_unit_test(test_gfs_year_boundary),
        cmocka_unit_test(test_gfs_week_spans_years),
        cmocka_unit_test(test_gfs_gaps),
        cmocka_unit_test(test_gfs_several_per_day),
        cmocka_unit_test(test_gfs_forever_and_tags),
        cmocka_unit_test(test_gfs_incomplete_and_writing),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_repo_on_disk),
        cmocka_unit_test(test_manifest_state),
        cmocka_unit_test(test_record_outside_repo),
    };
    return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
