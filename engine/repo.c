#include "engine/repo.h"

#include "common/pf_util.h"
#include "engine/manifest.h"
#include "io/pf_io.h"

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

int repo_parse_age(const char *s, int64_t *seconds)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return -1;
    int64_t mult = 1;
    if (*end) {
        switch (*end) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = REPO_DAY; break;
        case 'w': mult = 7 * REPO_DAY; break;
        default: return -1;
        }
        if (end[1])
            return -1;
    }
    if (v > INT64_MAX / mult)
        return -1;
    *seconds = (int64_t)v * mult;
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

static void join(char *out, size_t outlen, const char *a, const char *b)
{
    snprintf(out, outlen, "%s/%s", a, b);
}

static void lock_path(const char *repo, const char *label, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/.%s.lock", repo, label);
}

/* Bytes of every regular file under dirfd/name (no symlinks followed). */
static uint64_t tree_bytes(int dirfd, const char *name, int depth)
{
    if (depth > 32)
        return 0;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
        else if (S_ISDIR(st.st_mode))
            total += tree_bytes(fd, de->d_name, depth + 1);
    }
    closedir(d);
    return total;
}

/* Deletes dirfd/name and everything under it (symlinks are removed, never followed). */
static int remove_tree(int dirfd, const char *name, const char *shown, char *err, size_t errlen, int depth)
{
    if (depth > 32)
        return pf_err(err, errlen, "remove %s: directories nested too deep", shown);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR || errno == ELOOP) {
            if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
                return pf_err(err, errlen, "remove %s: %s", shown, strerror(errno));
            return 0;
        }
        return pf_err(err, errlen, "open %s: %s", shown, strerror(errno));
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return pf_err(err, errlen, "open %s: %s", shown, strerror(e));
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;
            rc = pf_err(err, errlen, "stat %s/%s: %s", shown, de->d_name, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", shown, de->d_name);
            rc = remove_tree(fd, de->d_name, sub, err, errlen, depth + 1);
        } else if (unlinkat(fd, de->d_name, 0) != 0 && errno != ENOENT) {
            rc = pf_err(err, errlen, "remove %s/%s: %s", shown, de->d_name, strerror(errno));
        }
    }
    closedir(d);
    if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = pf_err(err, errlen, "remove %s: %s", shown, strerror(errno));
    return rc;
}

int repo_backup_locked(const char *repo, const char *label)
{
    char path[4096];
    lock_path(repo, label, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    /* Shared, so that two readers (list and status, say) never see each other as a writer;
     * a dump holds it exclusively. */
    int locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
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

int repo_manifest_state(const char *dir, repo_backup *b)
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
    char path[4096];
    join(path, sizeof path, dir, MANIFEST_FILE);
    char *text = NULL;
    size_t len = 0;
    char ioerr[PF_ERRLEN];
    if (io_read_file(path, &text, &len, ioerr, sizeof ioerr) < 0) {
        if (access(path, F_OK) != 0 && errno == ENOENT)
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

/* ---- scan ------------------------------------------------------------------------------- */

static void read_verification(const char *repo, repo_backup *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" REPO_VERIFY_DIR "/%s.json", repo, b->label);
    json_t *o = json_load_file(path, 0, NULL);
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

int repo_scan(const char *repo, repo_listing *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int dfd = open(repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return pf_err(err, errlen, "repository %s: %s", repo, strerror(errno));
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return pf_err(err, errlen, "repository %s: %s", repo, strerror(e));
    }
    struct stat st;
    out->has_marker = fstatat(dfd, REPO_MARKER, &st, 0) == 0;
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    errno = 0;
    while ((de = readdir(d))) {
        time_t t;
        int seq;
        if (repo_parse_label(de->d_name, &t, &seq) < 0)
            continue;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            repo_backup *nb = realloc(out->b, nc * sizeof *nb);
            if (!nb) {
                rc = pf_err(err, errlen, "out of memory");
                break;
            }
            out->b = nb;
            cap = nc;
        }
        repo_backup *b = &out->b[out->n++];
        memset(b, 0, sizeof *b);
        snprintf(b->label, sizeof b->label, "%s", de->d_name);
        b->time = t;
        b->seq = seq;
    }
    if (rc == 0 && errno != 0)
        rc = pf_err(err, errlen, "repository %s: %s", repo, strerror(errno));
    closedir(d);
    if (rc < 0) {
        repo_listing_free(out);
        return -1;
    }
    if (out->n > 1)
        qsort(out->b, out->n, sizeof *out->b, cmp_backup);
    for (size_t i = 0; i < out->n; i++) {
        repo_backup *b = &out->b[i];
        char dir[4096];
        join(dir, sizeof dir, repo, b->label);
        /* The lock first: a dump that finishes between the two looks complete, not failed. */
        b->writing = repo_backup_locked(repo, b->label);
        if (repo_manifest_state(dir, b) < 0) {
            repo_listing_free(out);
            return pf_err(err, errlen, "out of memory");
        }
        int dfd2 = open(repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd2 >= 0) {
            b->bytes = tree_bytes(dfd2, b->label, 0);
            close(dfd2);
        }
        read_verification(repo, b);
    }
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

int repo_decide(const repo_backup *b, size_t n, const repo_policy *p, time_t now, repo_decision *out)
{
    ordered *o = calloc(n + 1, sizeof *o);
    if (!o)
        return -1;
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
    qsort(o, nc, sizeof *o, cmp_newest_first);
    int last = 0, daily = 0, weekly = 0, monthly = 0;
    long lday = 0, lweek = 0, lmonth = 0;
    for (size_t k = 0; k < nc; k++) {
        const repo_backup *x = o[k].b;
        unsigned r = 0;
        if (x->keep_forever)
            r |= REPO_RULE_FOREVER;
        if (k == 0)
            r |= REPO_RULE_NEWEST;
        if (last < p->keep_last) {
            r |= REPO_RULE_LAST;
            last++;
        }
        long key = day_key(x->time);
        if (daily < p->keep_daily && (daily == 0 || key != lday)) {
            r |= REPO_RULE_DAILY;
            daily++;
            lday = key;
        }
        key = week_key(x->time);
        if (weekly < p->keep_weekly && (weekly == 0 || key != lweek)) {
            r |= REPO_RULE_WEEKLY;
            weekly++;
            lweek = key;
        }
        key = month_key(x->time);
        if (monthly < p->keep_monthly && (monthly == 0 || key != lmonth)) {
            r |= REPO_RULE_MONTHLY;
            monthly++;
            lmonth = key;
        }
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

static int ensure_repo(const char *repo, char *err, size_t errlen)
{
    struct stat st;
    if (mkdir(repo, 0700) != 0) {
        if (errno != EEXIST)
            return pf_err(err, errlen, "create repository %s: %s", repo, strerror(errno));
        if (stat(repo, &st) != 0 || !S_ISDIR(st.st_mode))
            return pf_err(err, errlen, "repository %s exists and is not a directory", repo);
    }
    char path[4096];
    join(path, sizeof path, repo, REPO_MARKER);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        return pf_err(err, errlen, "create %s: %s", path, strerror(errno));
    }
    static const char text[] =
        "pgferry backup repository: one dump per <label> directory; see 'pgferry list --repo'.\n";
    int bad = write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1) || fsync(fd) != 0;
    int e = errno;
    close(fd);
    if (bad)
        return pf_err(err, errlen, "write %s: %s", path, strerror(e));
    return io_fsync_dir(repo, err, errlen);
}

int repo_slot_begin(const char *repo, time_t now, repo_slot *slot, char *err, size_t errlen)
{
    memset(slot, 0, sizeof *slot);
    slot->lockfd = -1;
    if (ensure_repo(repo, err, errlen) < 0)
        return -1;
    for (int seq = 0; seq < 1000; seq++) {
        repo_format_label(now, seq, slot->label, sizeof slot->label);
        lock_path(repo, slot->label, slot->lockpath, sizeof slot->lockpath);
        join(slot->dir, sizeof slot->dir, repo, slot->label);
        /* Cheap skip: the label's directory exists already. */
        if (access(slot->dir, F_OK) == 0)
            continue;
        int fd = open(slot->lockpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                continue; /* another dump picked this label (or a killed one left its lock) */
            return pf_err(err, errlen, "create %s: %s", slot->lockpath, strerror(errno));
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            unlink(slot->lockpath);
            return pf_err(err, errlen, "lock %s: %s", slot->lockpath, strerror(e));
        }
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (write(fd, pid, (size_t)n) != n) { /* informative only */
        }
        if (mkdir(slot->dir, 0700) != 0) {
            int e = errno;
            unlink(slot->lockpath);
            close(fd);
            if (e == EEXIST)
                continue;
            return pf_err(err, errlen, "create %s: %s", slot->dir, strerror(e));
        }
        slot->lockfd = fd;
        if (io_fsync_dir(repo, err, errlen) < 0) {
            rmdir(slot->dir);
            repo_slot_end(slot);
            return -1;
        }
        return 0;
    }
    return pf_err(err, errlen, "repository %s: no free label for %s (1000 taken)", repo, slot->label);
}

void repo_slot_end(repo_slot *slot)
{
    if (slot->lockfd < 0)
        return;
    /* Unlink while still holding the lock, so no one sees an unheld lock file beside an
     * unfinished dump. */
    unlink(slot->lockpath);
    close(slot->lockfd);
    slot->lockfd = -1;
}

/* ---- removal ---------------------------------------------------------------------------- */

int repo_lock_prune(const char *repo, char *err, size_t errlen)
{
    char path[4096];
    join(path, sizeof path, repo, REPO_PRUNE_LOCK);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return pf_err(err, errlen, "open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return pf_err(err, errlen, "another pgferry prune is running on %s (it holds %s)", repo, path);
        return pf_err(err, errlen, "lock %s: %s", path, strerror(e));
    }
    return fd;
}

static void unlink_records(const char *repo, const char *label)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" REPO_VERIFY_DIR "/%s.json", repo, label);
    unlink(path);
    lock_path(repo, label, path, sizeof path);
    unlink(path);
}

int repo_remove(const char *repo, const char *label, char *err, size_t errlen)
{
    if (repo_parse_label(label, NULL, NULL) < 0)
        return pf_err(err, errlen, "\"%s\" is not a backup label", label);
    if (repo_backup_locked(repo, label))
        return pf_err(err, errlen, "%s/%s is being written: not removed", repo, label);
    char from[4096], to[4096], hidden[REPO_LABEL_MAX + 16];
    join(from, sizeof from, repo, label);
    snprintf(hidden, sizeof hidden, REPO_REMOVING_PREFIX "%s", label);
    join(to, sizeof to, repo, hidden);
    int dfd = open(repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return pf_err(err, errlen, "repository %s: %s", repo, strerror(errno));
    /* A leftover of an interrupted removal of the same name goes first. */
    if (remove_tree(dfd, hidden, to, err, errlen, 0) < 0) {
        close(dfd);
        return -1;
    }
    if (renameat(dfd, label, dfd, hidden) != 0) {
        int e = errno;
        close(dfd);
        return pf_err(err, errlen, "rename %s to %s: %s", from, to, strerror(e));
    }
    if (fsync(dfd) != 0) {
        int e = errno;
        close(dfd);
        return pf_err(err, errlen, "fsync directory %s: %s", repo, strerror(e));
    }
    int rc = remove_tree(dfd, hidden, to, err, errlen, 0);
    close(dfd);
    if (rc < 0)
        return -1;
    unlink_records(repo, label);
    return io_fsync_dir(repo, err, errlen);
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

int repo_cleanup(const char *repo, char *err, size_t errlen)
{
    int dfd = open(repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return pf_err(err, errlen, "repository %s: %s", repo, strerror(errno));
    DIR *d = fdopendir(dup(dfd));
    if (!d) {
        int e = errno;
        close(dfd);
        return pf_err(err, errlen, "repository %s: %s", repo, strerror(e));
    }
    int cleaned = 0, rc = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        char label[REPO_LABEL_MAX], path[4096];
        struct stat st;
        size_t pl = strlen(REPO_REMOVING_PREFIX);
        if (strncmp(de->d_name, REPO_REMOVING_PREFIX, pl) == 0 &&
            repo_parse_label(de->d_name + pl, NULL, NULL) == 0) {
            join(path, sizeof path, repo, de->d_name);
            if (remove_tree(dfd, de->d_name, path, err, errlen, 0) < 0)
                rc = -1;
            else
                cleaned++;
        } else if (lock_label(de->d_name, label, sizeof label) == 0 &&
                   fstatat(dfd, label, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
                   fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && now - st.st_mtime > ORPHAN_LOCK_AGE &&
                   !repo_backup_locked(repo, label)) {
            if (unlinkat(dfd, de->d_name, 0) == 0)
                cleaned++;
        }
    }
    closedir(d);
    /* Verification records of backups that are gone. */
    int vfd = openat(dfd, REPO_VERIFY_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *vd = vfd >= 0 ? fdopendir(vfd) : NULL;
    if (vd) {
        while (rc == 0 && (de = readdir(vd))) {
            size_t len = strlen(de->d_name);
            char label[REPO_LABEL_MAX];
            struct stat st;
            if (len <= 5 || len - 5 >= sizeof label || strcmp(de->d_name + len - 5, ".json") != 0)
                continue;
            memcpy(label, de->d_name, len - 5);
            label[len - 5] = '\0';
            if (repo_parse_label(label, NULL, NULL) == 0 && fstatat(dfd, label, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
                errno == ENOENT && unlinkat(vfd, de->d_name, 0) == 0)
                cleaned++;
        }
        closedir(vd);
    } else if (vfd >= 0) {
        close(vfd);
    }
    close(dfd);
    if (rc == 0 && cleaned > 0 && io_fsync_dir(repo, err, errlen) < 0)
        return -1;
    return rc < 0 ? -1 : cleaned;
}

/* ---- verification records --------------------------------------------------------------- */

int repo_record_verification(const char *backup_dir, int ok, uint64_t problems, int with_db, time_t now,
                             char *err, size_t errlen)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", backup_dir);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    char repo[4096];
    if (!slash)
        snprintf(repo, sizeof repo, ".");
    else if (slash == dir)
        snprintf(repo, sizeof repo, "/");
    else
        snprintf(repo, sizeof repo, "%.*s", (int)(slash - dir), dir);
    if (repo_parse_label(base, NULL, NULL) < 0)
        return 0;
    char path[4096];
    struct stat st;
    join(path, sizeof path, repo, REPO_MARKER);
    if (stat(path, &st) != 0)
        return 0; /* not in a repository */
    join(path, sizeof path, repo, REPO_VERIFY_DIR);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return pf_err(err, errlen, "create %s: %s", path, strerror(errno));
    char when[32];
    repo_format_time(now, when, sizeof when);
    json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:b}", "label", base, "time", when, "ok", ok ? 1 : 0,
                          "problems", (json_int_t)problems, "database", with_db ? 1 : 0);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return pf_err(err, errlen, "verification record: out of memory");
    snprintf(path, sizeof path, "%s/" REPO_VERIFY_DIR "/%s.json", repo, base);
    char tmp[4096 + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp); /* left by a verify that crashed while recording */
    size_t tl = strlen(text);
    text[tl] = '\n'; /* json_dumps' NUL becomes the final newline */
    int rc = io_write_file_atomic(path, text, tl + 1, 0600, err, errlen);
    free(text);
    return rc;
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

typedef struct {
    repo_status_code code;
    char text[512];
} issue;

repo_status_code repo_status(const repo_backup *b, size_t n, const repo_status_opts *o, time_t now, char *line,
                             size_t linelen)
{
    issue is[6];
    size_t ni = 0;
    const repo_backup *newest = NULL, *complete = NULL;
    size_t nincomplete = 0;
    for (size_t i = 0; i < n; i++) {
        if (!newest || cmp_backup(&b[i], newest) > 0)
            newest = &b[i];
        if (b[i].complete && (!complete || cmp_backup(&b[i], complete) > 0))
            complete = &b[i];
        if (!b[i].complete)
            nincomplete++;
    }
    char age[32], lim[32], size[32], when[32];
    if (!complete) {
        is[ni].code = REPO_STATUS_CRITICAL;
        if (n == 0)
            snprintf(is[ni].text, sizeof is[ni].text, "no backup in the repository");
        else
            snprintf(is[ni].text, sizeof is[ni].text, "no complete backup in the repository (%zu incomplete)",
                     nincomplete);
        ni++;
    } else {
        int64_t a = (int64_t)(now - complete->time);
        repo_format_age(a, age, sizeof age);
        if (a > o->max_age) {
            repo_format_age(o->max_age, lim, sizeof lim);
            is[ni].code = REPO_STATUS_CRITICAL;
            snprintf(is[ni].text, sizeof is[ni].text, "newest complete backup %s is %s old (max %s)", complete->label,
                     age, lim);
            ni++;
        } else if (o->warn_age > 0 && a > o->warn_age) {
            repo_format_age(o->warn_age, lim, sizeof lim);
            is[ni].code = REPO_STATUS_WARNING;
            snprintf(is[ni].text, sizeof is[ni].text, "newest complete backup %s is %s old (warn %s)",
                     complete->label, age, lim);
            ni++;
        }
        if (o->require_verified) {
            if (complete->verified == REPO_VERIFY_FAILED) {
                repo_format_time(complete->verified_at, when, sizeof when);
                is[ni].code = REPO_STATUS_CRITICAL;
                snprintf(is[ni].text, sizeof is[ni].text,
                         "newest complete backup %s failed verification at %s (%llu problem%s)", complete->label,
                         when, (unsigned long long)complete->verify_problems,
                         complete->verify_problems == 1 ? "" : "s");
                ni++;
            } else if (complete->verified == REPO_VERIFY_NEVER) {
                is[ni].code = REPO_STATUS_WARNING;
                snprintf(is[ni].text, sizeof is[ni].text, "newest complete backup %s was never verified",
                         complete->label);
                ni++;
            }
        }
    }
    if (newest && !newest->complete && !newest->writing) {
        repo_format_age((int64_t)(now - newest->time), age, sizeof age);
        is[ni].code = REPO_STATUS_WARNING;
        snprintf(is[ni].text, sizeof is[ni].text,
                 "newest backup %s is incomplete (failed or interrupted dump, started %s ago)", newest->label, age);
        ni++;
    }

    repo_status_code code = REPO_STATUS_OK;
    for (size_t i = 0; i < ni; i++)
        if (is[i].code > code)
            code = is[i].code;
    size_t used = (size_t)snprintf(line, linelen, "PGFERRY %s - ", repo_status_name(code));
    if (used >= linelen)
        return code;
    if (ni == 0) {
        repo_format_age((int64_t)(now - complete->time), age, sizeof age);
        pf_fmt_bytes(complete->bytes, size, sizeof size);
        int w = snprintf(line + used, linelen - used, "newest backup %s is %s old (complete, %llu table%s, %s%s)",
                         complete->label, age, (unsigned long long)complete->tables,
                         complete->tables == 1 ? "" : "s", size,
                         complete->verified == REPO_VERIFY_OK ? ", verified" : "");
        if (w > 0 && (size_t)w < linelen - used)
            used += (size_t)w;
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
    if (newest && newest->writing && used < linelen) {
        repo_format_age((int64_t)(now - newest->time), age, sizeof age);
        snprintf(line + used, linelen - used, "; dump %s running for %s", newest->label, age);
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
    int n = snprintf(out->dir, sizeof out->dir, "%s/%s", repo, b->label);
    repo_listing_free(&l);
    if (n < 0 || (size_t)n >= sizeof out->dir) {
        free(out->tag);
        out->tag = NULL;
        return pf_err(err, errlen, "repository path too long");
    }
    return 0;
}
