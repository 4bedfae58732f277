#include "engine/dumpcheck.h"

#include "codec/hasher.h"
#include "common/pf_util.h"
#include "engine/dumpdir.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    dumpcheck_report_fn fn;
    void *ctx;
    size_t count;
} reporter;

__attribute__((format(printf, 5, 6)))
static void report(reporter *r, const char *file, const char *table, long chunk, const char *fmt, ...)
{
    char msg[PF_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dumpcheck_problem p = {file, table, chunk, msg};
    r->count++;
    if (r->fn)
        r->fn(r->ctx, &p);
}

void dumpcheck_keep_first(void *ctx, const dumpcheck_problem *p)
{
    dumpcheck_first *f = ctx;
    if (f->count++ > 0)
        return;
    if (p->file && p->table && p->chunk >= 0)
        snprintf(f->first, sizeof f->first, "%s (%s chunk %ld): %s", p->file, p->table, p->chunk, p->error);
    else if (p->file && p->table)
        snprintf(f->first, sizeof f->first, "%s (%s): %s", p->file, p->table, p->error);
    else if (p->file && !strstr(p->error, p->file))
        snprintf(f->first, sizeof f->first, "%s: %s", p->file, p->error);
    else
        snprintf(f->first, sizeof f->first, "%s", p->error);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- tables: archive against manifest ------------------------------------------------ */

/* "schema" SEP "name": a key no identifier can fake (identifiers hold no \x01). */
static char *table_key(const char *schema, const char *name)
{
    char *k = NULL;
    return asprintf(&k, "%s\x01%s", schema ? schema : "", name ? name : "") < 0 ? NULL : k;
}

static int in_sorted(char **set, size_t n, const char *key)
{
    return key && bsearch(&key, set, n, sizeof *set, cmp_str) != NULL;
}

size_t dumpcheck_tables(const manifest *m, const archive *a, dumpcheck_report_fn fn, void *ctx)
{
    reporter r = {fn, ctx, 0};
    size_t ndef = 0;
    char **defs = calloc(a->n + 1, sizeof *defs);
    char **data = calloc(m->ntables + 1, sizeof *data);
    char **nodata = calloc(m->nnodata + 1, sizeof *nodata);
    if (!defs || !data || !nodata) {
        report(&r, NULL, NULL, -1, "out of memory checking the schema archive's tables");
        goto out;
    }
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->entries[i].desc, "TABLE") == 0 && a->entries[i].namespace)
            defs[ndef++] = table_key(a->entries[i].namespace, a->entries[i].tag);
    for (size_t i = 0; i < m->ntables; i++)
        data[i] = table_key(m->tables[i].schema, m->tables[i].name);
    for (size_t i = 0; i < m->nnodata; i++)
        nodata[i] = table_key(m->nodata[i].schema, m->nodata[i].name);
    qsort(defs, ndef, sizeof *defs, cmp_str);
    qsort(nodata, m->nnodata, sizeof *nodata, cmp_str);
    char **data_sorted = malloc((m->ntables + 1) * sizeof *data_sorted);
    if (!data_sorted) {
        report(&r, NULL, NULL, -1, "out of memory checking the schema archive's tables");
        goto out;
    }
    memcpy(data_sorted, data, m->ntables * sizeof *data);
    qsort(data_sorted, m->ntables, sizeof *data_sorted, cmp_str);
    for (size_t i = 0; i < m->ntables; i++) {
        const manifest_table *t = &m->tables[i];
        if (!in_sorted(defs, ndef, data[i]))
            report(&r, m->schema_file, NULL, -1,
                   "table %s.%s has rows in the dump but no definition in the schema archive", t->schema, t->name);
    }
    for (size_t i = 0; i < m->nnodata; i++) {
        const manifest_nodata *t = &m->nodata[i];
        if (!in_sorted(defs, ndef, nodata[i]))
            report(&r, m->schema_file, NULL, -1,
                   "table %s.%s is recorded as defined without rows (%s) but the schema archive does not define it",
                   t->schema, t->name, t->reason);
        if (in_sorted(data_sorted, m->ntables, nodata[i]))
            report(&r, MANIFEST_FILE, NULL, -1, "table %s.%s is listed both with rows and without", t->schema,
                   t->name);
    }
    /* Version 1 manifests did not record tables without rows: only the first direction. */
    if (m->nodata_recorded)
        for (size_t i = 0; i < a->n; i++) {
            const archive_entry *e = &a->entries[i];
            if (strcmp(e->desc, "TABLE") != 0 || !e->namespace)
                continue;
            char *k = table_key(e->namespace, e->tag);
            if (k && !in_sorted(data_sorted, m->ntables, k) && !in_sorted(nodata, m->nnodata, k))
                report(&r, m->schema_file, NULL, -1,
                       "table %s.%s is defined in the schema archive but its rows are not in the dump",
                       e->namespace, e->tag);
            free(k);
        }
    free(data_sorted);
out:
    for (size_t i = 0; defs && i < ndef; i++)
        free(defs[i]);
    for (size_t i = 0; data && i < m->ntables; i++)
        free(data[i]);
    for (size_t i = 0; nodata && i < m->nnodata; i++)
        free(nodata[i]);
    free(defs);
    free(data);
    free(nodata);
    return r.count;
}

/* ---- manifest totals ------------------------------------------------------------------ */

static void check_totals(reporter *r, const manifest *m, const manifest_table *t, const char *label)
{
    uint64_t rows = 0, raw = 0, stored = 0;
    rowhash content = {0, 0};
    for (size_t i = 0; i < t->nchunks; i++) {
        rows += t->chunks[i].rows;
        raw += t->chunks[i].raw_bytes;
        stored += t->chunks[i].stored_bytes;
        rowhash_add(&content, &t->chunks[i].content);
    }
    /* encrypted: chunk content hashes are keyed one by one, so their sum says nothing */
    if (rows != t->rows || raw != t->raw_bytes || stored != t->stored_bytes ||
        (!m->encrypted && !rowhash_equal(&content, &t->content)))
        report(r, MANIFEST_FILE, label, -1, "table totals (rows, bytes or content hash) disagree with its chunks");
}

/* ---- files ---------------------------------------------------------------------------- */

typedef struct {
    const char *file;
    const char *label;
    long chunk;
    uint64_t size;
} listed;

typedef struct {
    char **files; /* sorted relative paths the manifest names */
    size_t nfiles;
    char **dirs;  /* sorted directories those live in ("data") */
    size_t ndirs;
} expected;

static void expected_free(expected *e)
{
    for (size_t i = 0; i < e->ndirs; i++)
        free(e->dirs[i]);
    free(e->dirs);
    free(e->files); /* the strings belong to the manifest */
}

static int expected_build(reporter *r, const listed *l, size_t n, expected *e)
{
    memset(e, 0, sizeof *e);
    size_t slashes = 0;
    for (size_t i = 0; i < n; i++)
        for (const char *p = strchr(l[i].file, '/'); p; p = strchr(p + 1, '/'))
            slashes++;
    e->files = calloc(n + 1, sizeof *e->files);
    e->dirs = calloc(slashes + 2, sizeof *e->dirs);
    if (!e->files || !e->dirs || !(e->dirs[e->ndirs++] = strdup(DUMPDIR_DATA)))
        return -1; /* "data" is there even in a dump without rows */
    for (size_t i = 0; i < n; i++) {
        e->files[e->nfiles++] = (char *)l[i].file;
        /* each parent directory of a listed file ("data", and "a", "a/b" for "a/b/f") */
        for (const char *p = strchr(l[i].file, '/'); p; p = strchr(p + 1, '/')) {
            char *dir = strndup(l[i].file, (size_t)(p - l[i].file));
            if (!dir)
                return -1;
            size_t k;
            for (k = 0; k < e->ndirs && strcmp(e->dirs[k], dir) != 0; k++)
                ;
            if (k < e->ndirs) {
                free(dir);
                continue;
            }
            e->dirs[e->ndirs++] = dir;
        }
    }
    qsort(e->files, e->nfiles, sizeof *e->files, cmp_str);
    qsort(e->dirs, e->ndirs, sizeof *e->dirs, cmp_str);
    for (size_t i = 1; i < e->nfiles; i++)
        if (strcmp(e->files[i], e->files[i - 1]) == 0 && (i < 2 || strcmp(e->files[i], e->files[i - 2]) != 0))
            report(r, e->files[i], NULL, -1, "named more than once in the manifest");
    return 0;
}

typedef struct {
    reporter *r;
    const pf_store *st;
    const expected *e;
    const char *rel;
} scan_ctx;

static void scan_dir(reporter *r, const pf_store *st, const expected *e, const char *rel);

static int scan_entry(void *ctx, const char *name, const store_info *info)
{
    scan_ctx *c = ctx;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s%s%s", c->rel, *c->rel ? "/" : "", name);
    if (!*c->rel && strcmp(name, MANIFEST_FILE) == 0)
        return 0;
    if (in_sorted(c->e->files, c->e->nfiles, sub))
        return 0; /* its own check reports a wrong type or size */
    if (info->is_prefix && in_sorted(c->e->dirs, c->e->ndirs, sub))
        scan_dir(c->r, c->st, c->e, sub);
    else
        report(c->r, sub, NULL, -1,
               info->is_prefix ? "unexpected directory (not in the manifest)" : "unexpected file (not in the manifest)");
    return 0;
}

/* Lists st/rel and reports every entry the manifest does not name. Only directories that
 * hold listed files are entered; any other directory is itself unexpected. */
static void scan_dir(reporter *r, const pf_store *st, const expected *e, const char *rel)
{
    char e2[PF_ERRLEN];
    store_info info;
    scan_ctx c = {r, st, e, rel};
    /* a directory the manifest expects ("data") must be there and listable */
    if (store_stat(st, rel, &info, e2, sizeof e2) <= 0 || !info.is_prefix) {
        report(r, *rel ? rel : ".", NULL, -1, "cannot list directory: %s", strerror(ENOENT));
        return;
    }
    if (store_list(st, rel, scan_entry, &c, e2, sizeof e2) < 0) {
        const char *why = strrchr(e2, ':');
        report(r, *rel ? rel : ".", NULL, -1, "cannot list directory: %s", why ? why + 2 : e2);
    }
}

/* 0 when the file is there, regular and of its size; else reported, -1. */
static int check_present(reporter *r, const pf_store *st, const listed *l)
{
    char e2[PF_ERRLEN];
    store_info info;
    int there = store_stat(st, l->file, &info, e2, sizeof e2);
    if (there <= 0) {
        const char *why = strrchr(e2, ':');
        if (there == 0)
            report(r, l->file, l->label, l->chunk, "missing file");
        else
            report(r, l->file, l->label, l->chunk, "stat: %s", why ? why + 2 : e2);
        return -1;
    }
    if (info.is_prefix) {
        report(r, l->file, l->label, l->chunk, "not a regular file");
        return -1;
    }
    if (info.size != l->size) {
        report(r, l->file, l->label, l->chunk, "size %llu bytes, manifest says %llu", (unsigned long long)info.size,
               (unsigned long long)l->size);
        return -1;
    }
    return 0;
}

/* A small file's xxh3-128 as stored against the manifest's. */
static void check_hash(reporter *r, const pf_store *st, const char *file, const chunk_hash *want,
                       uint64_t *bytes_read)
{
    char e2[PF_ERRLEN];
    chunk_hash h;
    uint64_t size = 0;
    if (dumpdir_hash_file(st, file, &h, &size, e2, sizeof e2) < 0)
        return; /* missing or unreadable: check_present said so */
    *bytes_read += size;
    if (!chunk_hash_equal(&h, want))
        report(r, file, NULL, -1, "hash differs from the manifest (damaged or replaced)");
}

/* Reads the schema archive: its hash as stored, then (keys permitting) its table of
 * contents against the manifest's tables. */
static void check_schema(reporter *r, const pf_store *st, const manifest *m, archive *arch, uint64_t *bytes_read)
{
    char e2[PF_ERRLEN];
    chunk_hash h;
    uint64_t size = 0;
    if (dumpdir_hash_file(st, m->schema_file, &h, &size, e2, sizeof e2) < 0) {
        report(r, m->schema_file, NULL, -1, "%s", e2);
        return;
    }
    *bytes_read += size;
    if (!chunk_hash_equal(&h, &m->schema_hash)) {
        char a[33], b[33];
        chunk_hash_hex(&m->schema_hash, a);
        chunk_hash_hex(&h, b);
        report(r, m->schema_file, NULL, -1, "schema archive hash mismatch (manifest %s, file %s)", a, b);
        return;
    }
    if (m->encrypted && !m->keys.have_keys)
        return; /* listed without the passphrase: the contents cannot be read */
    archive a;
    char aad[512];
    manifest_file_aad(m, m->schema_file, aad, sizeof aad);
    if (archive_load(st, m->schema_file, m->encrypted ? &m->keys.data_key : NULL, aad, &a, e2, sizeof e2) < 0) {
        report(r, m->schema_file, NULL, -1, "%s", e2);
        return;
    }
    r->count += dumpcheck_tables(m, &a, r->fn, r->ctx);
    if (arch)
        *arch = a;
    else
        archive_free(&a);
}

long dumpcheck_dir(const pf_store *st, const manifest *m, dumpcheck_report_fn fn, void *ctx, archive *arch,
                   uint64_t *bytes_read, char *err, size_t errlen)
{
    reporter r = {fn, ctx, 0};
    uint64_t read = 0;
    if (arch)
        memset(arch, 0, sizeof *arch);
    size_t total = 2;
    for (size_t i = 0; i < m->ntables; i++)
        total += m->tables[i].nchunks;
    if (m->has_large_objects)
        total += m->large_objects.nchunks;
    listed *l = calloc(total, sizeof *l);
    char **labels = calloc(m->ntables + 1, sizeof *labels);
    expected e = {0};
    long rc = -1;
    if (!l || !labels)
        goto oom;
    size_t n = 0;
    for (size_t t = 0; t <= m->ntables; t++) {
        const manifest_table *mt = t < m->ntables ? &m->tables[t] : m->has_large_objects ? &m->large_objects : NULL;
        if (!mt)
            break;
        const char *label = "large objects";
        if (t < m->ntables) {
            if (asprintf(&labels[t], "%s.%s", mt->schema, mt->name) < 0) {
                labels[t] = NULL;
                goto oom;
            }
            label = labels[t];
        }
        check_totals(&r, m, mt, label);
        for (size_t c = 0; c < mt->nchunks; c++)
            l[n++] = (listed){mt->chunks[c].file, label, (long)c, mt->chunks[c].stored_bytes};
    }
    l[n++] = (listed){m->schema_file, NULL, -1, m->schema_bytes};
    if (m->globals_file)
        l[n++] = (listed){m->globals_file, "globals", -1, m->globals_bytes};
    if (expected_build(&r, l, n, &e) < 0)
        goto oom;
    scan_dir(&r, st, &e, "");
    int schema_there = 1;
    for (size_t i = 0; i < n; i++)
        if (check_present(&r, st, &l[i]) < 0 && l[i].label == NULL)
            schema_there = 0;
    if (schema_there)
        check_schema(&r, st, m, arch, &read);
    if (m->globals_file)
        check_hash(&r, st, m->globals_file, &m->globals_hash, &read);
    rc = (long)r.count;
    goto out;
oom:
    pf_err(err, errlen, "out of memory");
out:
    expected_free(&e);
    if (labels)
        for (size_t i = 0; i < m->ntables; i++)
            free(labels[i]);
    free(labels);
    free(l);
    if (bytes_read)
        *bytes_read = read;
    return rc;
}
