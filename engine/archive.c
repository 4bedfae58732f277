#include "engine/archive.h"

#include "common/pf_util.h"
#include "engine/pgtools.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- TOC reader (format of pg_backup_archiver.c ReadHead/ReadToc) --------------------- */

typedef struct {
    FILE *f;
    int int_size, off_size;
    int failed;
} rd;

static int rbyte(rd *r)
{
    int c = fgetc(r->f);
    if (c == EOF)
        r->failed = 1;
    return c == EOF ? 0 : c;
}

static long long rint_(rd *r)
{
    int sign = rbyte(r);
    unsigned long long v = 0;
    for (int i = 0; i < r->int_size; i++) {
        unsigned long long b = (unsigned long long)rbyte(r);
        if (i < 8)
            v |= b << (8 * i);
    }
    return sign ? -(long long)v : (long long)v;
}

/* Strings are an int length (-1 = NULL) then the bytes. */
static char *rstr(rd *r, int *isnull)
{
    long long len = rint_(r);
    *isnull = 0;
    if (r->failed)
        return NULL;
    if (len < 0) {
        *isnull = 1;
        return NULL;
    }
    if (len > (1LL << 30)) {
        r->failed = 1;
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        r->failed = 1;
        return NULL;
    }
    if (len && fread(s, 1, (size_t)len, r->f) != (size_t)len)
        r->failed = 1;
    s[len] = '\0';
    return s;
}

static char *rstr_opt(rd *r)
{
    int isnull;
    return rstr(r, &isnull);
}

#define VERS(a, b, c) (((a) * 256 + (b)) * 256 + (c))

int archive_read_toc(const char *path, archive *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    rd r = {0};
    r.f = fopen(path, "rb");
    if (!r.f)
        return pf_err(err, errlen, "open %s: %s", path, strerror(errno));
    char magic[5];
    if (fread(magic, 1, 5, r.f) != 5 || memcmp(magic, "PGDMP", 5) != 0) {
        fclose(r.f);
        return pf_err(err, errlen, "%s: not a pg_dump custom-format archive", path);
    }
    int vmaj = rbyte(&r), vmin = rbyte(&r), vrev = rbyte(&r);
    int version = VERS(vmaj, vmin, vrev);
    r.int_size = rbyte(&r);
    r.off_size = rbyte(&r);
    int format = rbyte(&r);
    if (r.failed || version < VERS(1, 12, 0) || version > VERS(1, 16, 255) || r.int_size < 1 ||
        r.int_size > 8 || r.off_size < 1 || r.off_size > 16 || format != 1) {
        fclose(r.f);
        return pf_err(err, errlen, "%s: unsupported archive (version %d.%d, format %d)", path, vmaj,
                      vmin, format);
    }
    if (version >= VERS(1, 15, 0))
        rbyte(&r); /* compression algorithm */
    else
        rint_(&r); /* compression level */
    for (int i = 0; i < 7; i++)
        rint_(&r); /* creation time */
    free(rstr_opt(&r)); /* database name */
    free(rstr_opt(&r)); /* server version */
    free(rstr_opt(&r)); /* pg_dump version */
    long long count = rint_(&r);
    if (r.failed || count < 0 || count > 10000000) {
        fclose(r.f);
        return pf_err(err, errlen, "%s: damaged archive header", path);
    }
    a->entries = calloc((size_t)count + 1, sizeof *a->entries);
    if (!a->entries) {
        fclose(r.f);
        return pf_err(err, errlen, "out of memory");
    }
    for (long long i = 0; i < count && !r.failed; i++) {
        archive_entry *e = &a->entries[a->n++];
        e->id = (int)rint_(&r);
        rint_(&r);                /* hadDumper */
        free(rstr_opt(&r));       /* table oid */
        free(rstr_opt(&r));       /* oid */
        e->tag = rstr_opt(&r);
        e->desc = rstr_opt(&r);
        e->section = (int)rint_(&r);
        free(rstr_opt(&r));       /* defn: pg_restore renders it */
        e->drop = rstr_opt(&r);
        free(rstr_opt(&r));       /* copy statement */
        e->namespace = rstr_opt(&r);
        free(rstr_opt(&r));       /* tablespace */
        if (version >= VERS(1, 14, 0))
            free(rstr_opt(&r));   /* table access method */
        if (version >= VERS(1, 16, 0))
            rint_(&r);            /* relkind */
        e->owner = rstr_opt(&r);
        free(rstr_opt(&r));       /* formerly WITH OIDS */
        size_t cap = 0;
        for (;;) {
            int isnull;
            char *d = rstr(&r, &isnull);
            if (isnull || r.failed)
                break;
            if (e->ndeps == cap) {
                cap = cap ? 2 * cap : 4;
                int *nd = realloc(e->deps, cap * sizeof(int));
                if (!nd) {
                    free(d);
                    r.failed = 1;
                    break;
                }
                e->deps = nd;
            }
            e->deps[e->ndeps++] = atoi(d);
            free(d);
        }
        /* custom format: data state byte and data offset */
        for (int k = 0; k < 1 + r.off_size; k++)
            rbyte(&r);
        if (!e->desc || !e->tag || e->id <= 0)
            r.failed = 1;
    }
    fclose(r.f);
    if (r.failed) {
        archive_free(a);
        return pf_err(err, errlen, "%s: damaged or truncated archive table of contents", path);
    }
    return 0;
}

long archive_find(const archive *a, int id)
{
    /* pg_dump numbers entries densely but not in TOC order; a linear scan is fine for
     * callers that build their own index once. */
    for (size_t i = 0; i < a->n; i++)
        if (a->entries[i].id == id)
            return (long)i;
    return -1;
}

/* ---- rendering ------------------------------------------------------------------------- */

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Appends [s, e) to *buf. */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int archive_render(archive *a, const char *path, const char *pg_restore, const unsigned char *wanted,
                   int no_owner, int no_acl, const char *tmpdir, char *err, size_t errlen)
{
    char listf[4096], outf[4096], logf[4096];
    snprintf(listf, sizeof listf, "%s/pgferry-toc.%d.list", tmpdir, (int)getpid());
    snprintf(outf, sizeof outf, "%s/pgferry-toc.%d.sql", tmpdir, (int)getpid());
    snprintf(logf, sizeof logf, "%s/pgferry-toc.%d.log", tmpdir, (int)getpid());
    FILE *lf = fopen(listf, "w");
    if (!lf)
        return pf_err(err, errlen, "create %s: %s", listf, strerror(errno));
    for (size_t i = 0; i < a->n; i++)
        if (wanted[i])
            fprintf(lf, "%d;\n", a->entries[i].id);
    if (fclose(lf) != 0)
        return pf_err(err, errlen, "write %s: %s", listf, strerror(errno));

    char *argv[16];
    int k = 0;
    char fileopt[4096 + 8], listopt[4096 + 8];
    snprintf(fileopt, sizeof fileopt, "--file=%s", outf);
    snprintf(listopt, sizeof listopt, "--use-list=%s", listf);
    argv[k++] = (char *)pg_restore;
    argv[k++] = "--verbose";
    argv[k++] = fileopt;
    argv[k++] = listopt;
    if (no_owner)
        argv[k++] = "--no-owner";
    if (no_acl)
        argv[k++] = "--no-acl";
    argv[k++] = (char *)path;
    argv[k] = NULL;
    pid_t pid;
    int rc = pgtools_spawn(argv, logf, NULL, &pid, err, errlen);
    if (rc == 0)
        rc = pgtools_wait(pid, 1, "pg_restore", logf, err, errlen);
    unlink(listf);
    unlink(logf);
    if (rc != 0) {
        unlink(outf);
        return -1;
    }
    FILE *f = fopen(outf, "r");
    if (!f) {
        unlink(outf);
        return pf_err(err, errlen, "open %s: %s", outf, strerror(errno));
    }
    unlink(outf);

    /* Map dump id -> entry for the markers. */
    int maxid = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->entries[i].id > maxid)
            maxid = a->entries[i].id;
    long *byid = malloc(((size_t)maxid + 1) * sizeof(long));
    for (int i = 0; i <= maxid; i++)
        byid[i] = -1;
    for (size_t i = 0; i < a->n; i++)
        byid[a->entries[i].id] = (long)i;

    /* pg_restore emits "SET default_tablespace" / "SET default_table_access_method" only
     * when they change, before the next entry's marker. Entries will run in another order
     * on other connections, so each entry gets the settings in force at its marker. */
    char tablespace[512] = "SET default_tablespace = '';\n";
    char tableam[512] = "SET default_table_access_method = heap;\n";
    char *cur = NULL, *header = NULL;
    size_t curlen = 0, curcap = 0, hlen = 0, hcap = 0;
    long cur_entry = -1; /* -1: still in the header */
    int in_header = 1;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    int ok = 1;
    while ((n = getline(&line, &lcap, f)) > 0 && ok) {
        if (line[0] == '\\') /* psql meta-commands (\restrict, \unrestrict) are not SQL */
            continue;
        if (starts_with(line, "SET default_tablespace = ") && (size_t)n < sizeof tablespace) {
            memcpy(tablespace, line, (size_t)n + 1);
            continue;
        }
        if (starts_with(line, "SET default_table_access_method = ") && (size_t)n < sizeof tableam) {
            memcpy(tableam, line, (size_t)n + 1);
            continue;
        }
        int id;
        if (sscanf(line, "-- TOC entry %d (class", &id) == 1 && id > 0 && id <= maxid && byid[id] >= 0 &&
            wanted[byid[id]] && !a->entries[byid[id]].sql) {
            if (cur_entry >= 0)
                a->entries[cur_entry].sql = cur;
            else
                free(cur);
            cur = NULL;
            curlen = curcap = 0;
            in_header = 0;
            cur_entry = byid[id];
            ok = append(&cur, &curlen, &curcap, tablespace, strlen(tablespace)) == 0 &&
                 append(&cur, &curlen, &curcap, tableam, strlen(tableam)) == 0;
            continue;
        }
        if (in_header)
            ok = append(&header, &hlen, &hcap, line, (size_t)n) == 0;
        else
            ok = append(&cur, &curlen, &curcap, line, (size_t)n) == 0;
    }
    if (cur_entry >= 0)
        a->entries[cur_entry].sql = cur;
    else
        free(cur);
    free(line);
    fclose(f);
    free(byid);
    if (!ok) {
        free(header);
        return pf_err(err, errlen, "out of memory rendering %s", path);
    }
    a->header_sql = header ? header : strdup("");
    return 0;
}

void archive_free(archive *a)
{
    for (size_t i = 0; i < a->n; i++) {
        archive_entry *e = &a->entries[i];
        free(e->desc);
        free(e->namespace);
        free(e->tag);
        free(e->owner);
        free(e->drop);
        free(e->deps);
        free(e->sql);
    }
    free(a->entries);
    free(a->header_sql);
    memset(a, 0, sizeof *a);
}
