#include "engine/repo.h"

#include "common/pf_util.h"
#include "engine/manifest.h"
#include "io/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECKSUM_KEY "\"manifest_checksum\": \""
/* An orphan lock file (no backup directory, no holder) younger than this may belong to a
 * dump that created it a moment ago and is about to create its directory. */
#define ORPHAN_LOCK_AGE 3600

/* ---- labels, times, ages ---------------------------------------------------------------- */

void repo_format_label(time_t t, int seq, char *out, size_t outlen)
{
    struct tm tm;
    char base[32];
    gmtime_r(&t, &tm);
    strftime(base, sizeof base, "%Y%m%dT%H%M%SZ", &tm);
    if (seq > 0)
        snprintf(out, outlen, "%s-%d", base, seq);
    else
        snprintf(out, outlen, "%s", base);
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* timegm over checked fields: -1 unless the date and time exist (no Feb 30, no 25:00). */
static int make_utc(int y, int mo, int d, int h, int mi, int s, time_t *out)
{
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 ||
        h < 0 || mi < 0 || s < 0)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_year != y - 1900 || back.tm_mon != mo - 1 || back.tm_mday != d)
        return -1;
    *out = t;
    return 0;
}

int repo_parse_label(const char *name, time_t *t, int *seq)
{
    size_t len = strlen(name);
    if (len < REPO_LABEL_LEN || !digits(name, 8) || name[8] != 'T' || !digits(name + 9, 6) || name[15] != 'Z')
        return -1;
    int sq = 0;
    if (len > REPO_LABEL_LEN) {
        const char *s = name + REPO_LABEL_LEN;
        size_t n = len - REPO_LABEL_LEN - 1;
        if (s[0] != '-' || n < 1 || n > 6 || !digits(s + 1, n) || s[1] == '0')
            return -1;
        sq = num(s + 1, n);
    }
    time_t v;
    if (make_utc(num(name, 4), num(name + 4, 2), num(name + 6, 2), num(name + 9, 2), num(name + 11, 2),
                 num(name + 13, 2), &v) < 0)
        return -1;
    if (t)
        *t = v;
    if (seq)
        *seq = sq;
    return 0;
}

int repo_parse_time(const char *s, time_t *out)
{
    size_t len = strlen(s);
    if (len > 0 && len <= 12 && digits(s, len)) {
        *out = (time_t)strtoll(s, NULL, 10);
        return 0;
    }
    if (repo_parse_label(s, out, NULL) == 0)
        return 0;
    /* YYYY-MM-DD[(T| )HH:MM[:SS]][Z] */
    if (len < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return -1;
    int h = 0, mi = 0, sec = 0;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!digits(p, 2) || p[2] != ':' || !digits(p + 3, 2))
            return -1;
        h = num(p, 2);
        mi = num(p + 3, 2);
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2))
                return -1;
            sec = num(p + 1, 2);
            p += 3;
        }
    }
    int off = 0; /* the offset east of UTC, in seconds */
    if (p > s + 10) {
        if (*p == '.' || *p == ',') { /* fractions of a second: dropped (times are whole seconds) */
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            p++;
            if (!digits(p, 2))
                return -1;
            oh = num(p, 2);
            p += 2;
            if (*p == ':') {
                if (!digits(p + 1, 2))
                    return -1;
                om = num(p + 1, 2);
                p += 3;
            } else if (digits(p, 2) && strlen(p) == 2) {
                om = num(p, 2);
                p += 2;
            }
            if (oh > 23 || om > 59)
                return -1;
            off = sign * (oh * 3600 + om * 60);
        } else if (*p == 'Z' || *p == 'z') {
            p++;
        }
    } else if (*p == 'Z') {
        p++;
    }
    if (*p)
        return -1;
    time_t t;
    if (make_utc(num(s, 4), num(s + 5, 2), num(s + 8, 2), h, mi, sec, &t) < 0)
        return -1;
    *out = t - off;
    return 0;
}

void repo_format_time(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int repo_now(time_t *out, char *err, size_t errlen)
{
    const char *e = getenv("PGFERRY_NOW");
    if (e && *e) {
        if (repo_parse_time(e, out) < 0)
            return pf_err(err, errlen,
                          "invalid PGFERRY_NOW \"%s\": expected unix seconds or a UTC time such as 2026-11-27T03:00:00Z",
                          e);
        return 0;
    }
    *out = time(NULL);
    return 0;
}

/* The units of repo_parse_duration, largest first. */
static int64_t duration_unit(char c, int *rank)
{
    static const char units[] = "ywdhms";
    static const int64_t secs[] = {365 * (int64_t)REPO_DAY, 7 * (int64_t)REPO_DAY, REPO_DAY, 3600, 60, 1};
    const char *u = c ? strchr(units, c) : NULL;
    if (!u)
        return 0;
    *rank = (int)(u - units);
    return secs[*rank];
}

int repo_parse_duration(const char *s, int64_t *seconds)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    int64_t total = 0;
    int last_rank = -1;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno)
            return -1;
        int rank = 6;
        int64_t mult = *end ? duration_unit(*end, &rank) : (p == s ? 1 : 0);
        if (mult == 0 || rank <= last_rank) /* unknown unit, or units out of order or twice */
            return -1;
        if (v > (INT64_MAX - total) / mult)
            return -1;
        total += (int64_t)v * mult;
        last_rank = rank;
        p = *end ? end + 1 : end;
    }
    if (total == 0)
        return -2;
    *seconds = total;
    return 0;
}

void repo_format_age(int64_t s, char *out, size_t outlen)
{
    const char *sign = "";
    if (s < 0) {
        sign = "-";
        s = -s;
    }
    if (s < 60)
        snprintf(out, outlen, "%s%llds", sign, (long long)s);
    else if (s < 3600)
        snprintf(out, outlen, "%s%lldm", sign, (long long)(s / 60));
    else if (s < REPO_DAY) {
        if ((s % 3600) / 60)
            snprintf(out, outlen, "%s%lldh%lldm", sign, (long long)(s / 3600), (long long)((s % 3600) / 60));
        else
            snprintf(out, outlen, "%s%lldh", sign, (long long)(s / 3600));
    } else {
        if ((s % REPO_DAY) / 3600)
            snprintf(out, outlen, "%s%lldd%lldh", sign, (long long)(s / REPO_DAY),
                     (long long)((s % REPO_DAY) / 3600));
        else
            snprintf(out, outlen, "%s%lldd", sign, (long long)(s / REPO_DAY));
    }
}

/* ---- files ------------------------------------------------------------------------------ */

/* Every name in a repository is built here: ".<label>.lock", ".verify/<label>.json",
 * ".removing-<label>". */
static void lock_name(const char *label, char *out, size_t outlen)
{
    snprintf(out, outlen, ".%s.lock", label);
}

static void verify_name(const char *label, char *out, size_t outlen)
{
    snprintf(out, outlen, REPO_VERIFY_DIR "/%s.json", label);
}

typedef struct {
    const pf_store *st;
    const char *prefix;
    uint64_t total;
    int depth;
} tree_walk;

static int tree_entry(void *ctx, const char *name, const store_info *info)
{
    tree_walk *w = ctx;
    if (!info->is_prefix) {
        w->total += info->size;
        return 0;
    }
    if (w->depth >= 32)
        return 0;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", w->prefix, name);
    tree_walk inner = {w->st, sub, 0, w->depth + 1};
    store_list(w->st, sub, tree_entry, &inner, NULL, 0);
    w->total += inner.total;
    return 0;
}

/* Bytes of every file under prefix (symlinks are not followed). */
static uint64_t tree_bytes(const pf_store *st, const char *prefix)
{
    tree_walk w = {st, prefix, 0, 0};
    store_list(st, prefix, tree_entry, &w, NULL, 0);
    return w.total;
}

static int backup_locked(const pf_store *st, const char *label)
{
    char name[REPO_LABEL_MAX + 8];
    lock_name(label, name, sizeof name);
    /* a dump holds it exclusively; readers (list and status, say) never see each other */
    return store_lock_held(st, name);
}

int repo_backup_locked(const char *repo, const char *label)
{
    pf_store *st = store_open(repo, 0, NULL, 0);
    int locked = st ? backup_locked(st, label) : 0;
    store_close(st);
    return locked;
}

/* ---- manifest state --------------------------------------------------------------------- */

static char *jdup(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* Ends with '"manifest_checksum": "<64 hex>"\n}\n', as manifest_serialize writes it. */
static int has_checksum_line(const char *text, size_t len)
{
    size_t klen = strlen(CHECKSUM_KEY), tail = klen + 64 + 4;
    if (len < tail)
        return 0;
    const char *p = text + len - tail;
    if (memcmp(p, CHECKSUM_KEY, klen) != 0 || memcmp(text + len - 4, "\"\n}\n", 4) != 0)
        return 0;
    for (size_t i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)p[klen + i]))
            return 0;
    return 1;
}

static int set_note(repo_backup *b, const char *fmt, const char *arg)
{
    free(b->note);
    b->note = NULL;
    if (asprintf(&b->note, fmt, arg) < 0) {
        b->note = NULL;
        return -1;
    }
    return 0;
}

static int manifest_state(const pf_store *dir, repo_backup *b)
{
    b->complete = b->authenticated = 0;
    char err[PF_ERRLEN];
    manifest m;
    if (manifest_read(dir, &m, err, sizeof err) == 0) {
        b->complete = b->authenticated = 1;
        b->keep_forever = m.keep_forever;
        b->tag = m.tag ? strdup(m.tag) : NULL;
        b->started_at = m.started_at ? strdup(m.started_at) : NULL;
        b->finished_at = m.finished_at ? strdup(m.finished_at) : NULL;
        b->database = m.database ? strdup(m.database) : NULL;
        b->tables = m.ntables;
        for (size_t i = 0; i < m.ntables; i++)
            b->rows += m.tables[i].rows;
        manifest_free(&m);
        return 1;
    }
    char *text = NULL;
    size_t len = 0;
    char ioerr[PF_ERRLEN];
    store_info info;
    if (store_read_all(dir, MANIFEST_FILE, &text, &len, ioerr, sizeof ioerr) < 0) {
        if (store_stat(dir, MANIFEST_FILE, &info, NULL, 0) == 0)
            return set_note(b, "%s", "no manifest.json (failed, interrupted or still running dump)") < 0 ? -1 : 0;
        return set_note(b, "%s", ioerr) < 0 ? -1 : 0;
    }
    /* An encrypted dump's manifest closes with an HMAC that only its passphrase can check:
     * without it, whole when it ends with its checksum line and is a pgferry manifest that
     * says it is encrypted. A plain manifest that fails manifest_read() is damaged. */
    json_t *o = NULL;
    if (has_checksum_line(text, len))
        o = json_loadb(text, len, 0, NULL);
    free(text);
    if (!o || !json_is_integer(json_object_get(o, "pgferry_manifest_version")) ||
        !json_is_object(json_object_get(o, "encryption"))) {
        json_decref(o);
        return set_note(b, "damaged manifest: %s", err) < 0 ? -1 : 0;
    }
    b->complete = 1;
    b->keep_forever = json_is_true(json_object_get(o, "keep_forever"));
    b->tag = jdup(o, "tag");
    b->started_at = jdup(o, "started_at");
    b->finished_at = jdup(o, "finished_at");
    b->database = jdup(json_object_get(o, "source"), "database");
    json_t *tables = json_object_get(o, "tables");
    b->tables = json_array_size(tables);
    for (size_t i = 0; i < json_array_size(tables); i++) {
        json_t *r = json_object_get(json_array_get(tables, i), "rows");
        if (json_is_integer(r) && json_integer_value(r) > 0)
            b->rows += (uint64_t)json_integer_value(r);
    }
    json_decref(o);
    return set_note(b, "encrypted: manifest not authenticated without the passphrase (%s)", err) < 0 ? -1 : 1;
}

int repo_manifest_state(const char *backup_dir, repo_backup *b)
{
    char err[PF_ERRLEN];
    pf_store *st = store_open(backup_dir, 0, err, sizeof err);
    if (!st) {
        b->complete = b->authenticated = 0;
        return set_note(b, "%s", err) < 0 ? -1 : 0;
    }
    int rc = manifest_state(st, b);
    store_close(st);
    return rc;
}

/* ---- scan ------------------------------------------------------------------------------- */

static void read_verification(const pf_store *st, repo_backup *b)
{
    char name[REPO_LABEL_MAX + 16], *text = NULL;
    size_t len;
    verify_name(b->label, name, sizeof name);
    if (store_read_all(st, name, &text, &len, NULL, 0) < 0)
        return;
    json_t *o = json_loadb(text, len, 0, NULL);
    free(text);
    if (!o)
        return;
    json_t *ok = json_object_get(o, "ok"), *t = json_object_get(o, "time"), *p = json_object_get(o, "problems");
    if (json_is_boolean(ok)) {
        b->verified = json_is_true(ok) ? REPO_VERIFY_OK : REPO_VERIFY_FAILED;
        if (!json_is_string(t) || repo_parse_time(json_string_value(t), &b->verified_at) < 0)
            b->verified_at = 0;
        b->verify_problems = json_is_integer(p) && json_integer_value(p) > 0 ? (uint64_t)json_integer_value(p) : 0;
    }
    json_decref(o);
}

static int cmp_backup(const void *a, const void *b)
{
    const repo_backup *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

typedef struct {
    repo_listing *out;
    size_t cap;
    int oom;
} scan_state;

static int scan_entry(void *ctx, const char *name, const store_info *info)
{
    scan_state *sc = ctx;
    repo_listing *out = sc->out;
    time_t t;
    int seq;
    if (repo_parse_label(name, &t, &seq) < 0 || !info->is_prefix)
        return 0;
    if (out->n == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 16;
        repo_backup *nb = realloc(out->b, nc * sizeof *nb);
        if (!nb) {
            sc->oom = 1;
            return 1;
        }
        out->b = nb;
        sc->cap = nc;
    }
    repo_backup *b = &out->b[out->n++];
    memset(b, 0, sizeof *b);
    snprintf(b->label, sizeof b->label, "%s", name);
    b->time = t;
    b->seq = seq;
    return 0;
}

/* A repository that is not there (or not a directory) is an error. */
static pf_store *open_repo(const char *repo, char *err, size_t errlen)
{
    char e2[PF_ERRLEN];
    store_info info;
    pf_store *st = store_open(repo, 0, err, errlen);
    if (!st)
        return NULL;
    int there = store_stat(st, "", &info, e2, sizeof e2);
    if (there <= 0 || !info.is_prefix) {
        /* "does not exist" rather than strerror(ENOENT): a repository may be an S3 prefix */
        if (there == 0)
            pf_err(err, errlen, "repository %s does not exist", repo);
        else
            pf_err(err, errlen, "repository %s: %s", repo, there < 0 ? e2 : strerror(ENOTDIR));
        store_close(st);
        return NULL;
    }
    return st;
}

/* REPO/.drills/ (see "reading drill records" below). */
static int read_drills(const pf_store *st, repo_listing *out);

int repo_scan(const char *repo, repo_listing *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    pf_store *st = open_repo(repo, err, errlen);
    if (!st)
        return -1;
    store_info info;
    out->has_marker = store_stat(st, REPO_MARKER, &info, NULL, 0) == 1;
    scan_state sc = {out, 0, 0};
    char e2[PF_ERRLEN];
    int rc = store_list(st, "", scan_entry, &sc, e2, sizeof e2);
    if (sc.oom)
        rc = pf_err(err, errlen, "out of memory");
    else if (rc < 0)
        rc = pf_err(err, errlen, "repository %s: %s", repo, e2);
    if (rc < 0) {
        repo_listing_free(out);
        store_close(st);
        return -1;
    }
    if (out->n > 1)
        qsort(out->b, out->n, sizeof *out->b, cmp_backup);
    for (size_t i = 0; i < out->n; i++) {
        repo_backup *b = &out->b[i];
        /* The lock first: a dump that finishes between the two looks complete, not failed. */
        b->writing = backup_locked(st, b->label);
        pf_store *dump = store_open_sub(st, b->label, 0, e2, sizeof e2);
        int mrc = dump ? manifest_state(dump, b) : set_note(b, "%s", e2);
        store_close(dump);
        if (mrc < 0) {
            repo_listing_free(out);
            store_close(st);
            return pf_err(err, errlen, "out of memory");
        }
        b->bytes = tree_bytes(st, b->label);
        read_verification(st, b);
    }
    if (read_drills(st, out) < 0) {
        repo_listing_free(out);
        store_close(st);
        return pf_err(err, errlen, "out of memory");
    }
    store_close(st);
    return 0;
}

void repo_listing_free(repo_listing *l)
{
    for (size_t i = 0; l->b && i < l->n; i++) {
        free(l->b[i].tag);
        free(l->b[i].started_at);
        free(l->b[i].finished_at);
        free(l->b[i].database);
        free(l->b[i].note);
    }
    free(l->b);
    free(l->drills);
    memset(l, 0, sizeof *l);
}

/* ---- retention -------------------------------------------------------------------------- */

static long day_key(time_t t)
{
    return (long)(t >= 0 ? t / REPO_DAY : (t - REPO_DAY + 1) / REPO_DAY);
}

static long week_key(time_t t)
{
    struct tm tm;
    char buf[16];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%G%V", &tm); /* ISO 8601 week-based year and week */
    return strtol(buf, NULL, 10);
}

static long month_key(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    return (long)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

typedef struct {
    const repo_backup *b;
    size_t i;
} ordered;

static int cmp_newest_first(const void *a, const void *b)
{
    return -cmp_backup(((const ordered *)a)->b, ((const ordered *)b)->b);
}

static long year_key(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    return (long)tm.tm_year + 1900;
}

/* One bucket rule (daily, weekly, monthly, yearly): keeps the newest backup of each of the
 * `want` most recent buckets that have one. Fed newest first. */
typedef struct {
    int want, used;
    long last;
    long (*key)(time_t);
    unsigned rule;
} bucket_rule;

static unsigned bucket_take(bucket_rule *r, time_t t)
{
    long key = r->key(t);
    if (r->used >= r->want || (r->used > 0 && key == r->last))
        return 0;
    r->used++;
    r->last = key;
    return r->rule;
}

/* Writing and incomplete backups are decided alone; the complete ones go to o[] (returns
 * how many) for the rules. */
static size_t decide_not_complete(const repo_backup *b, size_t n, time_t now, repo_decision *out, ordered *o)
{
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        out[i].keep = 0;
        out[i].rules = 0;
        if (b[i].writing) {
            out[i].keep = 1;
            out[i].rules = REPO_RULE_WRITING;
        } else if (!b[i].complete) {
            int old = now - b[i].time > REPO_DAY;
            out[i].keep = !old;
            out[i].rules = old ? REPO_RULE_INCOMPLETE_OLD : REPO_RULE_INCOMPLETE_RECENT;
        } else {
            o[nc].b = &b[i];
            o[nc].i = i;
            nc++;
        }
    }
    return nc;
}

int repo_decide(const repo_backup *b, size_t n, const repo_policy *p, time_t now, repo_decision *out)
{
    ordered *o = calloc(n + 1, sizeof *o);
    if (!o)
        return -1;
    size_t nc = decide_not_complete(b, n, now, out, o);
    qsort(o, nc, sizeof *o, cmp_newest_first);
    bucket_rule buckets[] = {{p->keep_daily, 0, 0, day_key, REPO_RULE_DAILY},
                             {p->keep_weekly, 0, 0, week_key, REPO_RULE_WEEKLY},
                             {p->keep_monthly, 0, 0, month_key, REPO_RULE_MONTHLY},
                             {p->keep_yearly, 0, 0, year_key, REPO_RULE_YEARLY}};
    for (size_t k = 0; k < nc; k++) {
        const repo_backup *x = o[k].b;
        unsigned r = 0;
        if (x->keep_forever)
            r |= REPO_RULE_FOREVER;
        if (k == 0)
            r |= REPO_RULE_NEWEST;
        if (p->keep_within > 0 && now - x->time < p->keep_within)
            r |= REPO_RULE_WITHIN;
        if ((int)k < p->keep_last)
            r |= REPO_RULE_LAST;
        for (size_t q = 0; q < sizeof buckets / sizeof *buckets; q++)
            r |= bucket_take(&buckets[q], x->time);
        out[o[k].i].keep = r != 0;
        out[o[k].i].rules = r ? r : REPO_RULE_NONE;
    }
    free(o);
    return 0;
}

const char *repo_rule_name(unsigned bit)
{
    switch (bit) {
    case REPO_RULE_WRITING: return "writing";
    case REPO_RULE_FOREVER: return "keep-forever";
    case REPO_RULE_NEWEST: return "newest";
    case REPO_RULE_LAST: return "last";
    case REPO_RULE_DAILY: return "daily";
    case REPO_RULE_WEEKLY: return "weekly";
    case REPO_RULE_MONTHLY: return "monthly";
    case REPO_RULE_YEARLY: return "yearly";
    case REPO_RULE_WITHIN: return "within";
    case REPO_RULE_INCOMPLETE_RECENT: return "incomplete-recent";
    case REPO_RULE_INCOMPLETE_OLD: return "incomplete-old";
    case REPO_RULE_NONE: return "none";
    default: return NULL;
    }
}

void repo_format_rules(const repo_backup *b, const repo_decision *d, const repo_policy *p, char *out,
                       size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    struct tm tm;
    gmtime_r(&b->time, &tm);
    for (unsigned bit = 1; bit <= REPO_RULE_NONE; bit <<= 1) {
        if (!(d->rules & bit))
            continue;
        char one[64];
        switch (bit) {
        case REPO_RULE_WRITING: snprintf(one, sizeof one, "being written"); break;
        case REPO_RULE_FOREVER: snprintf(one, sizeof one, "keep-forever"); break;
        case REPO_RULE_NEWEST: snprintf(one, sizeof one, "newest complete backup"); break;
        case REPO_RULE_LAST: snprintf(one, sizeof one, "last %d", p->keep_last); break;
        case REPO_RULE_DAILY: strftime(one, sizeof one, "daily %Y-%m-%d", &tm); break;
        case REPO_RULE_WEEKLY: strftime(one, sizeof one, "weekly %G-W%V", &tm); break;
        case REPO_RULE_MONTHLY: strftime(one, sizeof one, "monthly %Y-%m", &tm); break;
        case REPO_RULE_YEARLY: strftime(one, sizeof one, "yearly %Y", &tm); break;
        case REPO_RULE_WITHIN: {
            char age[32];
            repo_format_age(p->keep_within, age, sizeof age);
            snprintf(one, sizeof one, "within %s", age);
            break;
        }
        case REPO_RULE_INCOMPLETE_RECENT: snprintf(one, sizeof one, "incomplete, recent"); break;
        case REPO_RULE_INCOMPLETE_OLD: snprintf(one, sizeof one, "incomplete, older than a day"); break;
        default: snprintf(one, sizeof one, "no rule keeps it"); break;
        }
        int w = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", one);
        if (w < 0 || (size_t)w >= outlen - used)
            break;
        used += (size_t)w;
    }
}

/* ---- writing into a repository ---------------------------------------------------------- */

/* The repository, created (0700) with its marker when missing. */
static pf_store *ensure_repo(const char *repo, char *err, size_t errlen)
{
    char e2[PF_ERRLEN];
    store_info info;
    pf_store *st = store_open(repo, 0, err, errlen);
    if (!st)
        return NULL;
    int there = store_stat(st, "", &info, e2, sizeof e2);
    store_close(st);
    if (there == 1 && !info.is_prefix) {
        pf_err(err, errlen, "repository %s exists and is not a directory", repo);
        return NULL;
    }
    if (!(st = store_open(repo, STORE_CREATE, e2, sizeof e2))) {
        pf_err(err, errlen, "create repository %s: %s", repo, e2);
        return NULL;
    }
    if (store_stat(st, REPO_MARKER, &info, e2, sizeof e2) == 1)
        return st;
    static const char text[] =
        "pgferry backup repository: one dump per <label> directory; see 'pgferry list --repo'.\n";
    if (store_write_all(st, REPO_MARKER, text, sizeof text - 1, err, errlen) < 0) {
        store_close(st);
        return NULL;
    }
    return st;
}

int repo_slot_begin(const char *repo, time_t now, repo_slot *slot, char *err, size_t errlen)
{
    memset(slot, 0, sizeof *slot);
    pf_store *st = ensure_repo(repo, err, errlen);
    if (!st)
        return -1;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid()); /* informative only */
    for (int seq = 0; seq < 1000; seq++) {
        char lname[REPO_LABEL_MAX + 8];
        store_info info;
        repo_format_label(now, seq, slot->label, sizeof slot->label);
        lock_name(slot->label, lname, sizeof lname);
        store_display(st, slot->label, slot->dir, sizeof slot->dir);
        /* Cheap skip: the label's directory exists already. */
        if (store_stat(st, slot->label, &info, NULL, 0) != 0)
            continue;
        int busy;
        store_lock *l = store_lock_take(st, lname, pid, STORE_LOCK_NEW, &busy, err, errlen);
        if (!l) {
            if (busy)
                continue; /* another dump picked this label (or a killed one left its lock) */
            store_close(st);
            return -1;
        }
        /* the backup's directory appears only now, under its lock */
        if (store_stat(st, slot->label, &info, NULL, 0) != 0) {
            store_lock_release(l);
            continue;
        }
        if (store_mkprefix(st, slot->label, err, errlen) < 0 || store_sync(st, slot->label, err, errlen) < 0) {
            store_remove(st, slot->label, NULL, 0);
            store_lock_release(l);
            store_close(st);
            return -1;
        }
        slot->lock = l;
        slot->store = st;
        return 0;
    }
    store_close(st);
    return pf_err(err, errlen, "repository %s: no free label for %s (1000 taken)", repo, slot->label);
}

void repo_slot_end(repo_slot *slot)
{
    if (!slot->lock)
        return;
    /* the lock file goes while still held, so no one sees an unheld lock file beside an
     * unfinished dump */
    store_lock_release(slot->lock);
    store_close(slot->store);
    slot->lock = NULL;
    slot->store = NULL;
}

/* ---- removal ---------------------------------------------------------------------------- */

struct repo_lock {
    pf_store *st;
    store_lock *l;
};

repo_lock *repo_lock_prune(const char *repo, char *err, size_t errlen)
{
    repo_lock *rl = calloc(1, sizeof *rl);
    if (!rl) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    int busy;
    char e2[PF_ERRLEN], shown[4096];
    if ((rl->st = store_open(repo, 0, err, errlen)) != NULL &&
        !(rl->l = store_lock_take(rl->st, REPO_PRUNE_LOCK, NULL, 0, &busy, e2, sizeof e2))) {
        store_display(rl->st, REPO_PRUNE_LOCK, shown, sizeof shown);
        if (busy)
            pf_err(err, errlen, "another pgferry prune is running on %s (it holds %s)", repo, shown);
        else
            pf_err(err, errlen, "%s", e2);
    }
    if (!rl->l) {
        store_close(rl->st);
        free(rl);
        return NULL;
    }
    return rl;
}

void repo_unlock(repo_lock *rl)
{
    if (!rl)
        return;
    store_lock_release(rl->l);
    store_close(rl->st);
    free(rl);
}

static void remove_records(pf_store *st, const char *label)
{
    char name[REPO_LABEL_MAX + 16];
    verify_name(label, name, sizeof name);
    store_remove(st, name, NULL, 0);
    lock_name(label, name, sizeof name);
    store_remove(st, name, NULL, 0);
}

int repo_remove(const char *repo, const char *label, char *err, size_t errlen)
{
    if (repo_parse_label(label, NULL, NULL) < 0)
        return pf_err(err, errlen, "\"%s\" is not a backup label", label);
    pf_store *st = open_repo(repo, err, errlen);
    if (!st)
        return -1;
    if (backup_locked(st, label)) {
        store_close(st);
        return pf_err(err, errlen, "%s/%s is being written: not removed", repo, label);
    }
    char hidden[REPO_LABEL_MAX + 16];
    snprintf(hidden, sizeof hidden, REPO_REMOVING_PREFIX "%s", label);
    /* A leftover of an interrupted removal of the same name goes first; then the backup is
     * hidden in one step (made durable), so a crash midway never leaves a half-deleted dump
     * that looks like a dump. */
    int rc = store_remove_tree(st, hidden, err, errlen) < 0 || store_rename(st, label, hidden, err, errlen) < 0 ||
                     store_sync(st, "", err, errlen) < 0 || store_remove_tree(st, hidden, err, errlen) < 0
                 ? -1
                 : 0;
    if (rc == 0) {
        remove_records(st, label);
        rc = store_sync(st, "", err, errlen);
    }
    store_close(st);
    return rc;
}

/* ".<label>.lock" -> label into out; -1 when name is not a lock file name. */
static int lock_label(const char *name, char *out, size_t outlen)
{
    size_t len = strlen(name);
    if (len < 1 + REPO_LABEL_LEN + 5 || name[0] != '.' || strcmp(name + len - 5, ".lock") != 0 ||
        len - 6 >= outlen)
        return -1;
    memcpy(out, name + 1, len - 6);
    out[len - 6] = '\0';
    return repo_parse_label(out, NULL, NULL);
}

typedef struct {
    pf_store *st;
    time_t now;
    int cleaned, rc;
    char *err;
    size_t errlen;
} cleanup_state;

static int cleanup_entry(void *ctx, const char *name, const store_info *info)
{
    cleanup_state *c = ctx;
    char label[REPO_LABEL_MAX];
    store_info there;
    size_t pl = strlen(REPO_REMOVING_PREFIX);
    if (strncmp(name, REPO_REMOVING_PREFIX, pl) == 0 && repo_parse_label(name + pl, NULL, NULL) == 0) {
        if (store_remove_tree(c->st, name, c->err, c->errlen) < 0) {
            c->rc = -1;
            return 1;
        }
        c->cleaned++;
    } else if (lock_label(name, label, sizeof label) == 0 && store_stat(c->st, label, &there, NULL, 0) == 0 &&
               c->now - info->mtime > ORPHAN_LOCK_AGE && !store_lock_held(c->st, name)) {
        if (store_remove(c->st, name, NULL, 0) == 0)
            c->cleaned++;
    }
    return 0;
}

/* Verification records of backups that are gone. */
static int cleanup_record(void *ctx, const char *name, const store_info *info)
{
    cleanup_state *c = ctx;
    size_t len = strlen(name);
    char label[REPO_LABEL_MAX], rec[REPO_LABEL_MAX + 16];
    store_info there;
    (void)info;
    if (len <= 5 || len - 5 >= sizeof label || strcmp(name + len - 5, ".json") != 0)
        return 0;
    memcpy(label, name, len - 5);
    label[len - 5] = '\0';
    verify_name(label, rec, sizeof rec);
    if (repo_parse_label(label, NULL, NULL) == 0 && store_stat(c->st, label, &there, NULL, 0) == 0 &&
        store_remove(c->st, rec, NULL, 0) == 0)
        c->cleaned++;
    return 0;
}

int repo_cleanup(const char *repo, char *err, size_t errlen)
{
    pf_store *st = open_repo(repo, err, errlen);
    if (!st)
        return -1;
    cleanup_state c = {st, time(NULL), 0, 0, err, errlen};
    char e2[PF_ERRLEN];
    if (store_list(st, "", cleanup_entry, &c, e2, sizeof e2) < 0 && c.rc == 0)
        c.rc = pf_err(err, errlen, "repository %s: %s", repo, e2);
    if (c.rc == 0)
        store_list(st, REPO_VERIFY_DIR, cleanup_record, &c, NULL, 0);
    if (c.rc == 0 && c.cleaned > 0 && store_sync(st, "", err, errlen) < 0)
        c.rc = -1;
    store_close(st);
    return c.rc < 0 ? -1 : c.cleaned;
}

/* ---- verification records --------------------------------------------------------------- */

/* Where a backup directory lives: 0 with repo (its parent) and *base (its name, a label)
 * filled, -1 when its name is not a label. */
static int split_backup_dir(const char *backup_dir, char *dir, size_t dirlen, char *repo, size_t repolen,
                            const char **base)
{
    snprintf(dir, dirlen, "%s", backup_dir);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    char *slash = strrchr(dir, '/');
    *base = slash ? slash + 1 : dir;
    if (!slash)
        snprintf(repo, repolen, ".");
    else if (slash == dir)
        snprintf(repo, repolen, "/");
    else
        snprintf(repo, repolen, "%.*s", (int)(slash - dir), dir);
    return repo_parse_label(*base, NULL, NULL) < 0 ? -1 : 0;
}

/* The repository a labelled backup directory lives in, opened, or NULL (with *rc 0 when it
 * is not in a repository, -1 with err on an error). */
static pf_store *open_parent_repo(const char *backup_dir, char *dir, size_t dirlen, const char **base, int *rc,
                                  char *err, size_t errlen)
{
    char repo[4096];
    *rc = 0;
    if (split_backup_dir(backup_dir, dir, dirlen, repo, sizeof repo, base) < 0)
        return NULL;
    store_info info;
    pf_store *st = store_open(repo, 0, err, errlen);
    if (!st) {
        *rc = -1;
        return NULL;
    }
    if (store_stat(st, REPO_MARKER, &info, NULL, 0) != 1) {
        store_close(st);
        return NULL; /* not in a repository */
    }
    return st;
}

/* Writes o (taking it) as prefix/name atomically: 0, or -1 with err. */
static int write_record(pf_store *st, const char *prefix, const char *name, json_t *o, char *err, size_t errlen)
{
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return pf_err(err, errlen, "%s: out of memory", name);
    if (store_mkprefix(st, prefix, err, errlen) < 0) {
        free(text);
        return -1;
    }
    size_t tl = strlen(text);
    text[tl] = '\n'; /* json_dumps' NUL becomes the final newline */
    /* a leftover of a run that crashed while recording is replaced */
    store_writer *w = store_writer_open(st, name, STORE_W_SMALL | STORE_W_REPLACE_TEMP, err, errlen);
    int rc = -1;
    if (w && store_writer_write(w, text, tl + 1, err, errlen) == 0)
        rc = store_writer_commit(w, err, errlen);
    else
        store_writer_abort(w);
    free(text);
    return rc;
}

int repo_record_verification(const char *backup_dir, int ok, uint64_t problems, int with_db, time_t now,
                             char *err, size_t errlen)
{
    char dir[4096], name[REPO_LABEL_MAX + 16], when[32];
    const char *base;
    int rc;
    pf_store *st = open_parent_repo(backup_dir, dir, sizeof dir, &base, &rc, err, errlen);
    if (!st)
        return rc;
    repo_format_time(now, when, sizeof when);
    json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:b}", "label", base, "time", when, "ok", ok ? 1 : 0,
                          "problems", (json_int_t)problems, "database", with_db ? 1 : 0);
    verify_name(base, name, sizeof name);
    rc = write_record(st, REPO_VERIFY_DIR, name, o, err, errlen);
    store_close(st);
    return rc;
}

int repo_record_drill(const char *backup_dir, int ok, double rto, json_t *record, time_t now, char *path,
                      size_t pathlen, char *err, size_t errlen)
{
    char dir[4096], name[2 * REPO_LABEL_MAX + 32], when[32], at[REPO_LABEL_MAX];
    const char *base;
    int rc;
    pf_store *st = open_parent_repo(backup_dir, dir, sizeof dir, &base, &rc, err, errlen);
    if (!st) {
        json_decref(record);
        return rc;
    }
    repo_format_time(now, when, sizeof when);
    repo_format_label(now, 0, at, sizeof at);
    json_t *o = json_pack("{s:s, s:s, s:b, s:o}", "label", base, "time", when, "ok", ok ? 1 : 0, "rto_seconds",
                          rto >= 0 ? json_real(rto) : json_null());
    if (o && record)
        json_object_update_missing(o, record);
    json_decref(record);
    snprintf(name, sizeof name, REPO_DRILL_DIR "/%s-%s.json", base, at);
    rc = write_record(st, REPO_DRILL_DIR, name, o, err, errlen);
    store_close(st);
    size_t base_off = (size_t)(base - dir);
    snprintf(path, pathlen, "%.*s%s", (int)base_off, dir, name); /* "REPO/" + name */
    return rc < 0 ? -1 : 1;
}

/* ---- reading drill records ---- */

typedef struct {
    const pf_store *st;
    repo_listing *out;
    size_t cap;
    int oom;
} drill_scan;

/* One REPO/.drills/ entry: "<label>-<time>.json" holding label, time, ok, rto_seconds.
 * Unreadable or foreign files are skipped: a drill record is evidence, not a backup. */
static int drill_entry(void *ctx, const char *name, const store_info *info)
{
    drill_scan *ds = ctx;
    size_t len = strlen(name);
    if (info->is_prefix || len <= 5 || strcmp(name + len - 5, ".json") != 0)
        return 0;
    char path[512], *text = NULL;
    size_t tl;
    snprintf(path, sizeof path, REPO_DRILL_DIR "/%s", name);
    if (store_read_all(ds->st, path, &text, &tl, NULL, 0) < 0)
        return 0;
    json_t *o = json_loadb(text, tl, 0, NULL);
    free(text);
    json_t *l = json_object_get(o, "label"), *t = json_object_get(o, "time"), *ok = json_object_get(o, "ok");
    json_t *rto = json_object_get(o, "rto_seconds");
    repo_drill d;
    memset(&d, 0, sizeof d);
    if (json_is_string(l) && repo_parse_label(json_string_value(l), NULL, NULL) == 0 && json_is_string(t) &&
        repo_parse_time(json_string_value(t), &d.time) == 0 && json_is_boolean(ok)) {
        snprintf(d.label, sizeof d.label, "%s", json_string_value(l));
        d.ok = json_is_true(ok);
        d.rto = json_is_number(rto) ? json_number_value(rto) : -1;
        if (ds->out->ndrills == ds->cap) {
            size_t nc = ds->cap ? 2 * ds->cap : 16;
            repo_drill *nd = realloc(ds->out->drills, nc * sizeof *nd);
            if (!nd) {
                ds->oom = 1;
                json_decref(o);
                return 1;
            }
            ds->out->drills = nd;
            ds->cap = nc;
        }
        ds->out->drills[ds->out->ndrills++] = d;
    }
    json_decref(o);
    return 0;
}

static int cmp_drill(const void *a, const void *b)
{
    const repo_drill *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return strcmp(x->label, y->label);
}

/* Every drill record, oldest first: 0, or -1 when out of memory. */
static int read_drills(const pf_store *st, repo_listing *out)
{
    drill_scan ds = {st, out, 0, 0};
    store_list(st, REPO_DRILL_DIR, drill_entry, &ds, NULL, 0);
    if (ds.oom)
        return -1;
    if (out->ndrills > 1)
        qsort(out->drills, out->ndrills, sizeof *out->drills, cmp_drill);
    return 0;
}

const repo_drill *repo_last_drill(const repo_drill *d, size_t n, const char *label, int ok_only)
{
    for (size_t i = n; i-- > 0;)
        if ((!label || strcmp(d[i].label, label) == 0) && (!ok_only || d[i].ok))
            return &d[i];
    return NULL;
}

/* ---- status ----------------------------------------------------------------------------- */

const char *repo_status_name(repo_status_code c)
{
    switch (c) {
    case REPO_STATUS_OK: return "OK";
    case REPO_STATUS_WARNING: return "WARNING";
    case REPO_STATUS_CRITICAL: return "CRITICAL";
    default: return "UNKNOWN";
    }
}

void repo_status_perfdata(const repo_backup *b, size_t n, const repo_status_opts *o, time_t now, char *out,
                          size_t outlen)
{
    const repo_backup *c = NULL;
    for (size_t i = 0; i < n; i++)
        if (b[i].complete && (!c || cmp_backup(&b[i], c) > 0))
            c = &b[i];
    char warn[32] = "", age[32] = "U", size[32] = "U", tables[32] = "U";
    if (o->warn_age > 0)
        snprintf(warn, sizeof warn, "%lld", (long long)o->warn_age);
    if (c) {
        snprintf(age, sizeof age, "%llds", (long long)(now - c->time));
        snprintf(size, sizeof size, "%lluB", (unsigned long long)c->bytes);
        snprintf(tables, sizeof tables, "%llu", (unsigned long long)c->tables);
    }
    const repo_drill *d = repo_last_drill(o->drills, o->ndrills, NULL, 1);
    char dage[32] = "U", dwarn[32] = "", rto[32] = "U", rwarn[32] = "";
    if (d) {
        snprintf(dage, sizeof dage, "%llds", (long long)(now - d->time));
        if (d->rto >= 0)
            snprintf(rto, sizeof rto, "%.1fs", d->rto);
    }
    if (o->max_drill_age > 0)
        snprintf(dwarn, sizeof dwarn, "%lld", (long long)o->max_drill_age);
    if (o->max_rto > 0)
        snprintf(rwarn, sizeof rwarn, "%lld", (long long)o->max_rto);
    snprintf(out, outlen, "'age'=%s;%s;%lld;0; 'size'=%s;;;0; 'tables'=%s;;;0; 'drill_age'=%s;%s;;0; 'rto'=%s;%s;;0;",
             age, warn, (long long)o->max_age, size, tables, dage, dwarn, rto, rwarn);
}

typedef struct {
    repo_status_code code;
    char text[512];
} issue;

/* The drill checks (max_drill_age, max_rto): WARNINGs appended to is[]; returns the new
 * count. Only when one of the two is asked for. */
static size_t drill_issues(const repo_status_opts *o, time_t now, issue *is, size_t ni)
{
    if (o->max_drill_age <= 0 && o->max_rto <= 0)
        return ni;
    const repo_drill *pass = repo_last_drill(o->drills, o->ndrills, NULL, 1);
    const repo_drill *last = repo_last_drill(o->drills, o->ndrills, NULL, 0);
    char age[32], lim[32], when[32];
    if (last && !last->ok) {
        repo_format_time(last->time, when, sizeof when);
        is[ni].code = REPO_STATUS_WARNING;
        snprintf(is[ni++].text, sizeof is[0].text, "the last restore drill (of %s at %s) FAILED", last->label, when);
    }
    if (!pass) {
        is[ni].code = REPO_STATUS_WARNING;
        snprintf(is[ni++].text, sizeof is[0].text, "no passing restore drill recorded (%zu drill%s, none passed)",
                 o->ndrills, o->ndrills == 1 ? "" : "s");
        return ni;
    }
    repo_format_age((int64_t)(now - pass->time), age, sizeof age);
    if (o->max_drill_age > 0 && now - pass->time > o->max_drill_age) {
        repo_format_age(o->max_drill_age, lim, sizeof lim);
        is[ni].code = REPO_STATUS_WARNING;
        snprintf(is[ni++].text, sizeof is[0].text, "last passing restore drill is %s old (max %s)", age, lim);
    }
    if (o->max_rto > 0 && pass->rto > (double)o->max_rto) {
        repo_format_age((int64_t)(pass->rto + 0.5), age, sizeof age);
        repo_format_age(o->max_rto, lim, sizeof lim);
        is[ni].code = REPO_STATUS_WARNING;
        snprintf(is[ni++].text, sizeof is[0].text, "last passing restore drill's restore took %s (RTO %s)", age, lim);
    }
    return ni;
}

/* ", last passing drill 3d ago (RTO 1m12s)" for an OK line, or "". */
static void drill_note(const repo_status_opts *o, time_t now, char *out, size_t outlen)
{
    const repo_drill *pass = repo_last_drill(o->drills, o->ndrills, NULL, 1);
    out[0] = '\0';
    if (!pass)
        return;
    char age[32], rto[32] = "unknown";
    repo_format_age((int64_t)(now - pass->time), age, sizeof age);
    if (pass->rto >= 0)
        repo_format_age((int64_t)(pass->rto + 0.5), rto, sizeof rto);
    snprintf(out, outlen, "; last passing drill %s ago (restore %s)", age, rto);
}

/* The newest backup and the newest complete one (NULL when none), and how many are not
 * complete. */
typedef struct {
    const repo_backup *newest, *complete;
    size_t nincomplete;
} status_scan;

static status_scan scan_for_status(const repo_backup *b, size_t n)
{
    status_scan sc = {NULL, NULL, 0};
    for (size_t i = 0; i < n; i++) {
        if (!sc.newest || cmp_backup(&b[i], sc.newest) > 0)
            sc.newest = &b[i];
        if (b[i].complete && (!sc.complete || cmp_backup(&b[i], sc.complete) > 0))
            sc.complete = &b[i];
        if (!b[i].complete)
            sc.nincomplete++;
    }
    return sc;
}

/* The newest complete backup's age and verification: issues appended to is[]. */
static size_t complete_issues(const repo_backup *complete, const repo_status_opts *o, time_t now, issue *is, size_t ni)
{
    char age[32], lim[32], when[32];
    int64_t a = (int64_t)(now - complete->time);
    repo_format_age(a, age, sizeof age);
    if (a > o->max_age) {
        repo_format_age(o->max_age, lim, sizeof lim);
        is[ni].code = REPO_STATUS_CRITICAL;
        snprintf(is[ni++].text, sizeof is[0].text, "newest complete backup %s is %s old (max %s)", complete->label,
                 age, lim);
    } else if (o->warn_age > 0 && a > o->warn_age) {
        repo_format_age(o->warn_age, lim, sizeof lim);
        is[ni].code = REPO_STATUS_WARNING;
        snprintf(is[ni++].text, sizeof is[0].text, "newest complete backup %s is %s old (warn %s)", complete->label,
                 age, lim);
    }
    if (!o->require_verified)
        return ni;
    if (complete->verified == REPO_VERIFY_FAILED) {
        repo_format_time(complete->verified_at, when, sizeof when);
        is[ni].code = REPO_STATUS_CRITICAL;
        snprintf(is[ni++].text, sizeof is[0].text, "newest complete backup %s failed verification at %s (%llu problem%s)",
                 complete->label, when, (unsigned long long)complete->verify_problems,
                 complete->verify_problems == 1 ? "" : "s");
    } else if (complete->verified == REPO_VERIFY_NEVER) {
        is[ni].code = REPO_STATUS_WARNING;
        snprintf(is[ni++].text, sizeof is[0].text, "newest complete backup %s was never verified", complete->label);
    }
    return ni;
}

/* Every issue of the listing, in the order found. */
static size_t status_issues(const status_scan *sc, size_t n, const repo_status_opts *o, time_t now, issue *is)
{
    size_t ni = 0;
    char age[32];
    if (!sc->complete) {
        is[ni].code = REPO_STATUS_CRITICAL;
        if (n == 0)
            snprintf(is[ni++].text, sizeof is[0].text, "no backup in the repository");
        else
            snprintf(is[ni++].text, sizeof is[0].text, "no complete backup in the repository (%zu incomplete)",
                     sc->nincomplete);
    } else {
        ni = complete_issues(sc->complete, o, now, is, ni);
    }
    if (sc->newest && !sc->newest->complete && !sc->newest->writing) {
        repo_format_age((int64_t)(now - sc->newest->time), age, sizeof age);
        is[ni].code = REPO_STATUS_WARNING;
        snprintf(is[ni++].text, sizeof is[0].text,
                 "newest backup %s is incomplete (failed or interrupted dump, started %s ago)", sc->newest->label, age);
    }
    return drill_issues(o, now, is, ni);
}

/* The line for an OK verdict: the newest complete backup, and the last passing drill. */
static size_t ok_text(const status_scan *sc, const repo_status_opts *o, time_t now, char *out, size_t outlen)
{
    char age[32], size[32], note[128];
    const repo_backup *c = sc->complete;
    repo_format_age((int64_t)(now - c->time), age, sizeof age);
    pf_fmt_bytes(c->bytes, size, sizeof size);
    drill_note(o, now, note, sizeof note);
    int w = snprintf(out, outlen, "newest backup %s is %s old (complete, %llu table%s, %s%s)%s", c->label, age,
                     (unsigned long long)c->tables, c->tables == 1 ? "" : "s", size,
                     c->verified == REPO_VERIFY_OK ? ", verified" : "", note);
    return w > 0 && (size_t)w < outlen ? (size_t)w : 0;
}

repo_status_code repo_status(const repo_backup *b, size_t n, const repo_status_opts *o, time_t now, char *line,
                             size_t linelen)
{
    issue is[10];
    status_scan sc = scan_for_status(b, n);
    size_t ni = status_issues(&sc, n, o, now, is);
    repo_status_code code = REPO_STATUS_OK;
    for (size_t i = 0; i < ni; i++)
        if (is[i].code > code)
            code = is[i].code;
    size_t used = (size_t)snprintf(line, linelen, "PGFERRY %s - ", repo_status_name(code));
    if (used >= linelen)
        return code;
    if (ni == 0) {
        used += ok_text(&sc, o, now, line + used, linelen - used);
    } else {
        /* worst first, in the order found within a level */
        int first = 1;
        for (int lvl = REPO_STATUS_CRITICAL; lvl >= REPO_STATUS_WARNING; lvl--)
            for (size_t i = 0; i < ni; i++) {
                if ((int)is[i].code != lvl)
                    continue;
                int w = snprintf(line + used, linelen - used, "%s%s", first ? "" : "; ", is[i].text);
                if (w < 0 || (size_t)w >= linelen - used)
                    return code;
                used += (size_t)w;
                first = 0;
            }
    }
    if (sc.newest && sc.newest->writing && used < linelen) {
        char age[32];
        repo_format_age((int64_t)(now - sc.newest->time), age, sizeof age);
        snprintf(line + used, linelen - used, "; dump %s running for %s", sc.newest->label, age);
    }
    return code;
}

/* ---- choosing one backup ---------------------------------------------------------------- */

static int usable(const repo_backup *b) { return b->complete && !b->writing; }

int repo_pick(const repo_backup *b, size_t n, const char *as_of, const char *name, size_t *idx, char *err,
              size_t errlen)
{
    size_t oldest = n, newest = n;
    for (size_t i = 0; i < n; i++)
        if (usable(&b[i])) {
            if (oldest == n)
                oldest = i;
            newest = i;
        }
    if (as_of) {
        time_t t;
        char when[32], ow[32];
        if (repo_parse_time(as_of, &t) < 0)
            return pf_err(err, errlen,
                          "invalid --as-of value \"%s\": expected a time such as 2026-11-27T03:00:00Z, "
                          "2026-11-27T04:00:00+01:00 or 2026-11-27 (UTC when no offset is given)",
                          as_of);
        repo_format_time(t, when, sizeof when);
        if (oldest == n)
            return pf_err(err, errlen, "no complete backup at or before %s: the repository has no complete backup",
                          when);
        size_t pick = n;
        for (size_t i = 0; i < n; i++)
            if (usable(&b[i]) && b[i].time <= t)
                pick = i; /* oldest first: the last match is the newest */
        if (pick == n) {
            repo_format_time(b[oldest].time, ow, sizeof ow);
            return pf_err(err, errlen, "no complete backup at or before %s: the oldest is %s (%s)", when,
                          b[oldest].label, ow);
        }
        *idx = pick;
        return 0;
    }
    if (!name || !*name)
        return pf_err(err, errlen, "no backup named: give --as-of TIME or --backup latest|LABEL|TAG");
    if (strcmp(name, "latest") == 0) {
        if (newest == n)
            return pf_err(err, errlen, "no complete backup in the repository");
        *idx = newest;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i].label, name) == 0) {
            if (b[i].writing)
                return pf_err(err, errlen, "backup %s is being written", name);
            if (!b[i].complete)
                return pf_err(err, errlen, "backup %s is not complete%s%s", name, b[i].note ? ": " : "",
                              b[i].note ? b[i].note : "");
            *idx = i;
            return 0;
        }
    size_t pick = n;
    for (size_t i = 0; i < n; i++)
        if (usable(&b[i]) && b[i].tag && strcmp(b[i].tag, name) == 0)
            pick = i;
    if (pick == n)
        return pf_err(err, errlen, "no backup labelled or tagged \"%s\" (complete ones only)", name);
    *idx = pick;
    return 0;
}

int repo_select(const char *repo, const char *as_of, const char *name, repo_choice *out, char *err,
                size_t errlen)
{
    memset(out, 0, sizeof *out);
    repo_listing l;
    if (repo_scan(repo, &l, err, errlen) < 0)
        return -1;
    size_t idx;
    char why[PF_ERRLEN];
    if (repo_pick(l.b, l.n, as_of, name, &idx, why, sizeof why) < 0) {
        repo_listing_free(&l);
        pf_err(err, errlen, "%s: %s", repo, why);
        return -2;
    }
    const repo_backup *b = &l.b[idx];
    snprintf(out->label, sizeof out->label, "%s", b->label);
    out->time = b->time;
    out->tag = b->tag ? strdup(b->tag) : NULL;
    /* the backup's location, as the store names it */
    pf_store *st = strlen(repo) + strlen(b->label) + 2 <= sizeof out->dir ? store_open(repo, 0, NULL, 0) : NULL;
    if (st)
        store_display(st, b->label, out->dir, sizeof out->dir);
    store_close(st);
    repo_listing_free(&l);
    if (!st) {
        free(out->tag);
        out->tag = NULL;
        return pf_err(err, errlen, "repository path too long");
    }
    return 0;
}
