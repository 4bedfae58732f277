/* repo: a backup repository — many dumps side by side in one directory — with retention
 * (grandfather-father-son) and staleness checks for monitoring.
 *
 * Layout of a repository REPO:
 *
 *   REPO/.pgferry-repo             marker written by `dump --repo`; prune refuses a directory
 *                                  without it, verify records results only inside one
 *   REPO/<label>/                  one dump (exactly what `dump -f` writes)
 *   REPO/.<label>.lock             flock()ed by the dump writing <label> for its whole run;
 *                                  outside the dump so verify's "no unlisted files" holds
 *   REPO/.verify/<label>.json      last `pgferry verify` result for <label>
 *   REPO/.drills/<label>-<time>.json  one `pgferry drill` of <label> at <time> (a label-shaped
 *                                  UTC time): the evidence that backups restore, kept when
 *                                  the backup itself is pruned (never a backup: not a label)
 *   REPO/.pgferry.lock             flock()ed by prune (one prune at a time)
 *   REPO/.removing-<label>/        a dump being deleted by prune (renamed first, so a crash
 *                                  mid-removal never leaves a half-deleted dump that looks
 *                                  like a dump; the next prune finishes the job)
 *
 * Labels. A label is the UTC time the dump started, "YYYYMMDDTHHMMSSZ" (sorts as time), with
 * "-N" appended (N = 1, 2, ...) when that name is taken. Every subdirectory whose name
 * parses as a label is a backup; everything else is ignored. A backup's time is its label's
 * time, never the manifest's started_at, so a dump copied under another label counts by
 * that label.
 *
 * States. A backup is
 *   - being written: a process holds the flock on REPO/.<label>.lock (a dead process's lock
 *     is released by the kernel, so this is exact). Never removed, whatever its age.
 *   - complete: its manifest is whole (repo_manifest_state(); see there for encrypted dumps).
 *   - incomplete: otherwise (no manifest: a failed, interrupted or killed dump).
 *
 * Retention (repo_decide(); like restic's `forget`). Complete backups that are not being
 * written, newest first:
 *   keep-last N      the N newest
 *   keep-daily D     the newest backup of each of the D most recent UTC calendar days that
 *                    have a complete backup (days without backups do not use up a slot)
 *   keep-weekly W    the same per ISO 8601 week (Monday to Sunday, UTC; week 53 and weeks
 *                    that span New Year are one week)
 *   keep-monthly M   the same per calendar month (UTC)
 *   keep-yearly Y    the same per calendar year (UTC)
 *   keep-within D    every backup newer than now - D (as borg's --keep-within; restic
 *                    counts from the newest backup instead)
 * A backup is kept when any rule keeps it; each bucket rule counts only the buckets it
 * keeps, independently of the others (as restic and borg do).
 * Always kept: the newest complete backup, backups marked keep-forever, backups being
 * written. Incomplete backups are removed once older than a day (24 h by label time) and
 * kept before that. Tagged backups follow the same rules as untagged ones; only
 * keep-forever exempts a backup. Keep-forever backups take part in the day/week/month
 * buckets like any other (a keep-forever backup that is the newest of its day is that day's
 * daily backup). Every rule that keeps a backup is reported, not just the first.
 *
 * Time is always a parameter (`now`), so tests use a fixed clock; the CLI takes it from
 * repo_now() (time(NULL), or PGFERRY_NOW for tests).
 *
 * Errors follow pf_util's convention: 0 or -1 with one line in the caller's err buffer. */
#ifndef PF_REPO_H
#define PF_REPO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define REPO_MARKER ".pgferry-repo"
#define REPO_PRUNE_LOCK ".pgferry.lock"
#define REPO_VERIFY_DIR ".verify"
#define REPO_DRILL_DIR ".drills"
#define REPO_REMOVING_PREFIX ".removing-"
#define REPO_LABEL_LEN 16  /* "YYYYMMDDTHHMMSSZ" */
#define REPO_LABEL_MAX 32  /* with a "-N" suffix and the NUL */
#define REPO_DAY (24 * 3600)

/* ---- labels, times, ages ---------------------------------------------------------------- */

/* "YYYYMMDDTHHMMSSZ" for t, with "-seq" when seq > 0. out needs REPO_LABEL_MAX bytes. */
void repo_format_label(time_t t, int seq, char *out, size_t outlen);
/* Parses a label: 0 with *t and *seq (0 without suffix), or -1 when name is not a label
 * (wrong shape, impossible date, suffix 0 or with leading zeros). */
int repo_parse_label(const char *name, time_t *t, int *seq);

/* A UTC time: unix seconds ("1795748400"), ISO 8601 ("2026-11-27T03:00:00Z", seconds,
 * 'Z' and the time part optional: "2026-11-27T03:00", "2026-11-27") or a label. */
int repo_parse_time(const char *s, time_t *out);
/* "2026-11-27T03:00:00Z". */
void repo_format_time(time_t t, char *out, size_t outlen);
/* Now: time(NULL), or PGFERRY_NOW (any form repo_parse_time takes) when set, so tests can
 * fix the clock. -1 with err when PGFERRY_NOW does not parse. */
int repo_now(time_t *out, char *err, size_t errlen);

/* The one parser of durations and ages (status --max-age/--warn-age/--max-drill-age/
 * --max-rto, prune --keep-within): numbers each followed by a unit, largest unit first,
 * each unit at most once: s seconds, m minutes, h hours, d days (24 h), w weeks (7 d),
 * y years (365 d): "24h", "90m", "1d12h", "2w", "1y6w". A bare number is seconds
 * ("3600"). Returns 0 with *seconds (> 0), -1 when s is not such a duration, -2 when it
 * is zero ("0h": never a useful age, so a usage error). Negative values are malformed. */
int repo_parse_duration(const char *s, int64_t *seconds);
/* "45s", "12m", "3h12m", "2d4h" (two units at most; negative ages as "-5m"). */
void repo_format_age(int64_t seconds, char *out, size_t outlen);

/* ---- what a repository holds ------------------------------------------------------------ */

typedef enum {
    REPO_VERIFY_NEVER = 0,
    REPO_VERIFY_OK = 1,
    REPO_VERIFY_FAILED = 2
} repo_verify_result;

typedef struct {
    char label[REPO_LABEL_MAX];
    time_t time;              /* from the label */
    int seq;                  /* label suffix, 0 without */
    int complete;             /* the manifest is whole (repo_manifest_state) */
    int authenticated;        /* ... and manifest_read() accepted it (0 e.g. encrypted) */
    int writing;              /* a dump holds the backup's lock */
    int keep_forever;         /* from the manifest */
    char *tag;                /* from the manifest, or NULL */
    char *started_at, *finished_at, *database; /* from the manifest, or NULL */
    uint64_t tables, rows;    /* from the manifest */
    uint64_t bytes;           /* on disk: every file under the backup's directory */
    char *note;               /* why not complete / not authenticated, or NULL */
    repo_verify_result verified;
    time_t verified_at;
    uint64_t verify_problems;
} repo_backup;

/* One recorded drill (REPO/.drills/). */
typedef struct {
    char label[REPO_LABEL_MAX]; /* the backup drilled */
    time_t time;              /* when the drill ran */
    int ok;                   /* restored and every table identical */
    double rto;               /* seconds from the restore's start to ready to serve; < 0 unknown */
} repo_drill;

typedef struct {
    repo_backup *b;           /* oldest first (label time, then suffix) */
    size_t n;
    int has_marker;           /* REPO/.pgferry-repo exists */
    repo_drill *drills;       /* every readable drill record, oldest first */
    size_t ndrills;
} repo_listing;

/* The newest drill (ok_only: the newest passing one) of label (NULL: of any backup), or
 * NULL. */
const repo_drill *repo_last_drill(const repo_drill *d, size_t n, const char *label, int ok_only);

/* Reads a repository: every label directory, its manifest, size, lock and last
 * verification. A repository that does not exist or cannot be read is an error; one
 * backup whose files cannot be read is listed as incomplete with a note. */
int repo_scan(const char *repo, repo_listing *out, char *err, size_t errlen);
void repo_listing_free(repo_listing *l);

/* The one place that decides whether a backup directory holds a whole manifest (list,
 * prune and status have no passphrase). Complete when manifest_read() accepts it
 * (b->authenticated = 1). An encrypted dump's manifest closes with an HMAC that needs the
 * passphrase: it counts as complete when manifest.json ends with its "manifest_checksum"
 * line and parses as a pgferry manifest with an "encryption" object (b->authenticated = 0,
 * b->note says so). Anything else is incomplete (no manifest) or damaged (note). Fills b's
 * manifest fields (tag, keep_forever, tables, ...) from what could be read. Returns 1
 * complete, 0 not complete, -1 out of memory. */
int repo_manifest_state(const char *backup_dir, repo_backup *b);

/* 1 when a process holds the lock of REPO/<label> (a dump is writing it), else 0. */
int repo_backup_locked(const char *repo, const char *label);

/* ---- choosing one backup (restore, verify, drill, diff, list with --repo) --------------- */

/* Pure: which of the n backups (oldest first, as repo_scan lists them) a command reads.
 *   as_of (not NULL): the newest complete backup whose label time is at or before the time
 *                     (any form repo_parse_time takes: ISO 8601 with Z or an offset, UTC
 *                     when absent); a backup being written does not count
 *   name  (not NULL): "latest" (the newest complete backup), a label (that backup, which
 *                     must be complete) or a tag (the newest complete backup with that tag)
 * Exactly one of as_of and name is set. Returns 0 with *idx, or -1 with err (one line
 * naming what did not match and, for as_of, the oldest complete backup). */
int repo_pick(const repo_backup *b, size_t n, const char *as_of, const char *name, size_t *idx, char *err,
              size_t errlen);

typedef struct {
    char label[REPO_LABEL_MAX];
    time_t time;
    char *tag;                /* malloc'd or NULL */
    char dir[4096];           /* REPO/<label> */
} repo_choice;

/* repo_scan + repo_pick. Returns 0 with out filled, -1 with err when the repository cannot
 * be read, -2 with err when no backup matches (a usage error for the CLI). */
int repo_select(const char *repo, const char *as_of, const char *name, repo_choice *out, char *err,
                size_t errlen);

/* ---- retention -------------------------------------------------------------------------- */

typedef struct {
    int keep_last, keep_daily, keep_weekly, keep_monthly; /* 0: rule off */
    int keep_yearly;          /* the newest of each of the N most recent UTC years */
    int64_t keep_within;      /* seconds: keep every complete backup newer than now - this */
} repo_policy;

/* What the CLI applies when no --keep-* option is given: daily 7, weekly 4, monthly 12. */
#define REPO_POLICY_DEFAULT {0, 7, 4, 12, 0, 0}

/* Rules that keep (or remove) a backup; a kept backup may carry several. */
enum {
    REPO_RULE_WRITING = 1 << 0,      /* "being written" */
    REPO_RULE_FOREVER = 1 << 1,      /* "keep-forever" */
    REPO_RULE_NEWEST = 1 << 2,       /* "newest complete backup" */
    REPO_RULE_LAST = 1 << 3,         /* "last N" */
    REPO_RULE_DAILY = 1 << 4,        /* "daily YYYY-MM-DD" */
    REPO_RULE_WEEKLY = 1 << 5,       /* "weekly YYYY-Www" */
    REPO_RULE_MONTHLY = 1 << 6,      /* "monthly YYYY-MM" */
    REPO_RULE_YEARLY = 1 << 7,       /* "yearly YYYY" */
    REPO_RULE_WITHIN = 1 << 8,       /* "within 7d" (newer than now - keep_within) */
    REPO_RULE_INCOMPLETE_RECENT = 1 << 9, /* keep: "incomplete, recent" */
    REPO_RULE_INCOMPLETE_OLD = 1 << 10,   /* remove: "incomplete, older than a day" */
    REPO_RULE_NONE = 1 << 11              /* remove: "no rule keeps it" */
};

typedef struct {
    int keep;                 /* 1 keep, 0 remove */
    unsigned rules;           /* REPO_RULE_* bits */
} repo_decision;

/* Pure: decides keep or remove for each of the n backups (any order; out[i] is for b[i]),
 * from their time, complete, writing and keep_forever fields. Only incomplete backups and
 * keep-within use now. Returns 0, or -1 when out of memory. */
int repo_decide(const repo_backup *b, size_t n, const repo_policy *p, time_t now, repo_decision *out);
/* The rules as text, every one that applies, in the order of the enum:
 * "newest complete backup, last 3, daily 2026-11-27, weekly 2026-W48, monthly 2026-11". */
void repo_format_rules(const repo_backup *b, const repo_decision *d, const repo_policy *p,
                       char *out, size_t outlen);
/* One short name per rule bit ("writing", "keep-forever", "newest", "last", "daily",
 * "weekly", "monthly", "yearly", "within", "incomplete-recent", "incomplete-old", "none");
 * NULL for others. */
const char *repo_rule_name(unsigned rule_bit);

/* ---- writing into a repository ---------------------------------------------------------- */

typedef struct {
    char label[REPO_LABEL_MAX];
    char dir[4096];           /* REPO/<label>: pass it to dump_run as its directory */
    struct pf_store *store;   /* the repository, while the slot is held */
    struct store_lock *lock;  /* REPO/.<label>.lock, NULL when not held */
} repo_slot;

/* Prepares a new backup: creates REPO (0700) and its marker when missing, picks the label
 * for now (adding a suffix when taken), creates and flock()s REPO/.<label>.lock (holding
 * this process's pid), and creates the empty directory REPO/<label> (0700). The lock is
 * held until repo_slot_end(). */
int repo_slot_begin(const char *repo, time_t now, repo_slot *slot, char *err, size_t errlen);
/* Releases the lock and removes the lock file. A failed dump's directory is left in place
 * (empty): status reports it as a failed dump, prune removes it a day later. */
void repo_slot_end(repo_slot *slot);

/* ---- removal ---------------------------------------------------------------------------- */

/* Removes REPO/<label>: refuses when its lock is held; renames it to
 * REPO/.removing-<label>, fsyncs REPO, deletes the tree, the lock file and the
 * verification record, and fsyncs REPO again. */
int repo_remove(const char *repo, const char *label, char *err, size_t errlen);
/* Finishes removals a crash interrupted (.removing-* directories) and deletes lock files
 * that no process holds and whose backup is gone. Returns how many entries it cleaned, or
 * -1 with err for the first failure. */
int repo_cleanup(const char *repo, char *err, size_t errlen);
/* Takes the repository's prune lock without waiting: returns it (repo_unlock releases it),
 * or NULL with err ("another prune is running ..."). */
typedef struct repo_lock repo_lock;
repo_lock *repo_lock_prune(const char *repo, char *err, size_t errlen);
void repo_unlock(repo_lock *l);

/* ---- verification records --------------------------------------------------------------- */

/* Called by `pgferry verify` after its verdict: when backup_dir's parent is a repository
 * (holds REPO_MARKER) and backup_dir's name is a label, writes REPO/.verify/<label>.json
 * {"label", "time", "ok", "problems", "database"} atomically. Does nothing (returns 0) for a
 * dump outside a repository. with_db: verify also compared a live database. */
int repo_record_verification(const char *backup_dir, int ok, uint64_t problems, int with_db,
                             time_t now, char *err, size_t errlen);

/* ---- drill records ---------------------------------------------------------------------- */

/* Called by `pgferry drill` after its verdict: when backup_dir's parent is a repository and
 * backup_dir's name is a label, writes record (a JSON object; "label", "time" and "ok" are
 * set here) to REPO/.drills/<label>-<now as a label>.json atomically through the store
 * layer (so on s3:// too). rto < 0: unknown. Returns 1 written (path: where), 0 not in a
 * repository, -1 with err. */
struct json_t;
int repo_record_drill(const char *backup_dir, int ok, double rto, struct json_t *record, time_t now, char *path,
                      size_t pathlen, char *err, size_t errlen);

/* ---- status ----------------------------------------------------------------------------- */

typedef enum {
    REPO_STATUS_OK = 0,
    REPO_STATUS_WARNING = 1,
    REPO_STATUS_CRITICAL = 2,
    REPO_STATUS_UNKNOWN = 3
} repo_status_code;

typedef struct {
    int64_t max_age;          /* CRITICAL when the newest complete backup is older */
    int64_t warn_age;         /* WARNING when older; <= 0: off */
    int require_verified;     /* newest complete: failed verification CRITICAL, never WARNING */
    int64_t max_drill_age;    /* WARNING when the last passing drill is older; <= 0: off */
    int64_t max_rto;          /* WARNING when the last passing drill's restore took longer; <= 0: off */
    const repo_drill *drills; /* the repository's drill records (repo_listing.drills) */
    size_t ndrills;
} repo_status_opts;

/* Pure: the monitoring verdict over a listing, and one line for people
 * "PGFERRY OK - newest backup 20261127T030000Z is 3h12m old (complete, 12 tables, 1.2 GB)".
 *   CRITICAL  no complete backup; newest complete older than max_age; with
 *             require_verified, its last verification failed
 *   WARNING   newest complete older than warn_age; the newest backup is incomplete and not
 *             being written (a failed dump); with require_verified, never verified; with
 *             max_drill_age: no passing drill recorded, or the last one is older; with
 *             max_rto: the last passing drill's restore took longer; (with either) the
 *             newest drill failed. Drills are evidence, not the backups themselves: never
 *             CRITICAL.
 * When several apply, the line names each (worst first) and the code is the worst. */
repo_status_code repo_status(const repo_backup *b, size_t n, const repo_status_opts *o, time_t now,
                             char *line, size_t linelen);
const char *repo_status_name(repo_status_code c);
/* Nagios performance data of the newest complete backup, for after the line's '|'
 * (syntax 'label'=value[UOM];warn;crit;min;max, space-separated):
 *   'age'=11520s;90000;93600;0; 'size'=617146B;;;0; 'tables'=20;;;0;
 *   'drill_age'=259200s;3024000;;0; 'rto'=72.5s;7200;;0;
 * (warn/crit from warn_age/max_age, max_drill_age/max_rto; U for the value when there is no
 * complete backup, or no passing drill). */
void repo_status_perfdata(const repo_backup *b, size_t n, const repo_status_opts *o, time_t now, char *out,
                          size_t outlen);

#endif
