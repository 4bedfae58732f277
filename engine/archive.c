#include "engine/archive.h"

#include "common/pf_util.h"
#include "engine/pgtools.h"
#include "io/store.h"

#include <fcntl.h>
#include <pthread.h>

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
    size_t len;       /* the archive's size: no string is longer than what is left */
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
    long pos = ftell(r->f);
    if (len > (1LL << 30) || pos < 0 || (unsigned long long)len > r->len - (size_t)pos) {
        r->failed = 1; /* damaged: longer than the rest of the archive */
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        r->failed = 1;
        return NULL;
    }
    if (len && fread(s, 1, (size_t)len, r->f) != (size_t)len) {
        r->failed = 1;
        free(s);
        return NULL;
    }
    s[len] = '\0';
    return s;
}

static char *rstr_opt(rd *r)
{
    int isnull;
    return rstr(r, &isnull);
}

#define VERS(a, b, c) (((a) * 256 + (b)) * 256 + (c))

/* The archive's header, up to its entry count: the format version in *version. */
static int read_header(rd *r, const char *path, int *version, long long *count, char *err, size_t errlen)
{
    char magic[5];
    if (fread(magic, 1, 5, r->f) != 5 || memcmp(magic, "PGDMP", 5) != 0)
        return pf_err(err, errlen, "%s: not a pg_dump custom-format archive", path);
    int vmaj = rbyte(r), vmin = rbyte(r), vrev = rbyte(r);
    *version = VERS(vmaj, vmin, vrev);
    r->int_size = rbyte(r);
    r->off_size = rbyte(r);
    int format = rbyte(r);
    if (r->failed || *version < VERS(1, 12, 0) || *version > VERS(1, 16, 255) || r->int_size < 1 ||
        r->int_size > 8 || r->off_size < 1 || r->off_size > 16 || format != 1)
        return pf_err(err, errlen, "%s: unsupported archive (version %d.%d, format %d)", path, vmaj, vmin, format);
    if (*version >= VERS(1, 15, 0))
        rbyte(r); /* compression algorithm */
    else
        rint_(r); /* compression level */
    for (int i = 0; i < 7; i++)
        rint_(r); /* creation time */
    free(rstr_opt(r)); /* database name */
    free(rstr_opt(r)); /* server version */
    free(rstr_opt(r)); /* pg_dump version */
    *count = rint_(r);
    if (r->failed || *count < 0 || *count > 10000000)
        return pf_err(err, errlen, "%s: damaged archive header", path);
    return 0;
}

/* An entry's dependencies: ids as strings, up to a NULL one. */
static void read_deps(rd *r, archive_entry *e)
{
    size_t cap = 0;
    for (;;) {
        int isnull;
        char *d = rstr(r, &isnull);
        if (isnull || r->failed)
            break;
        if (e->ndeps == cap) {
            cap = cap ? 2 * cap : 4;
            int *nd = realloc(e->deps, cap * sizeof(int));
            if (!nd) {
                free(d);
                r->failed = 1;
                break;
            }
            e->deps = nd;
        }
        e->deps[e->ndeps++] = atoi(d);
        free(d);
    }
}

/* One TOC entry (r->failed set when it is damaged). */
static void read_entry(rd *r, archive_entry *e, int version)
{
    e->id = (int)rint_(r);
    rint_(r);                 /* hadDumper */
    free(rstr_opt(r));        /* table oid */
    free(rstr_opt(r));        /* oid */
    e->tag = rstr_opt(r);
    e->desc = rstr_opt(r);
    e->section = (int)rint_(r);
    e->defn = rstr_opt(r);    /* pg_restore renders it; diff reads column types in it */
    e->drop = rstr_opt(r);
    free(rstr_opt(r));        /* copy statement */
    e->namespace = rstr_opt(r);
    free(rstr_opt(r));        /* tablespace */
    if (version >= VERS(1, 14, 0))
        free(rstr_opt(r));    /* table access method */
    if (version >= VERS(1, 16, 0))
        rint_(r);             /* relkind */
    e->owner = rstr_opt(r);
    free(rstr_opt(r));        /* formerly WITH OIDS */
    read_deps(r, e);
    /* custom format: data state byte and data offset */
    for (int k = 0; k < 1 + r->off_size; k++)
        rbyte(r);
    if (!e->desc || !e->tag || e->id <= 0)
        r->failed = 1;
}

static int parse_toc(const char *path, archive *a, char *err, size_t errlen)
{
    rd r = {0};
    r.f = fmemopen(a->data, a->len, "rb");
    r.len = a->len;
    if (!r.f)
        return pf_err(err, errlen, "%s: %s", path, strerror(errno));
    int version = 0;
    long long count = 0;
    int rc = read_header(&r, path, &version, &count, err, errlen);
    if (rc == 0 && !(a->entries = calloc((size_t)count + 1, sizeof *a->entries)))
        rc = pf_err(err, errlen, "out of memory");
    for (long long i = 0; rc == 0 && i < count && !r.failed; i++)
        read_entry(&r, &a->entries[a->n++], version);
    fclose(r.f);
    if (rc == 0 && r.failed)
        rc = pf_err(err, errlen, "%s: damaged or truncated archive table of contents", path);
    return rc;
}

typedef struct {
    unsigned char *buf;
    size_t len, cap;
} membuf;

static int mem_sink(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
    membuf *m = ctx;
    if (m->len + len > m->cap) {
        size_t c = m->cap ? m->cap : 1 << 16;
        while (c < m->len + len)
            c *= 2;
        unsigned char *b = realloc(m->buf, c);
        if (!b)
            return pf_err(err, errlen, "out of memory");
        m->buf = b;
        m->cap = c;
    }
    memcpy(m->buf + m->len, data, len);
    m->len += len;
    return 0;
}

static int archive_parse(const char *path, archive *a, char *err, size_t errlen);

int archive_load(const pf_store *st, const char *name, const cipher_key *key, const char *aad, archive *a,
                 char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    char *raw = NULL, path[4096];
    size_t rawlen = 0;
    store_display(st, name, path, sizeof path);
    if (store_read_all(st, name, &raw, &rawlen, err, errlen) < 0)
        return -1;
    if (key) {
        membuf mb = {0};
        char e2[PF_ERRLEN];
        cipher_stream *cs = cipher_stream_new(err, errlen);
        int rc = cs ? 0 : -1;
        if (rc == 0)
            rc = cipher_decrypt_begin(cs, key, aad, mem_sink, &mb, e2, sizeof e2) < 0 ||
                         cipher_decrypt_feed(cs, raw, rawlen, e2, sizeof e2) < 0 ||
                         cipher_decrypt_end(cs, e2, sizeof e2) < 0
                     ? pf_err(err, errlen, "%s: %s", path, e2)
                     : 0;
        cipher_stream_free(cs);
        explicit_bzero(raw, rawlen);
        free(raw);
        if (rc < 0) {
            free(mb.buf);
            return -1;
        }
        a->data = mb.buf;
        a->len = mb.len;
    } else {
        a->data = (unsigned char *)raw;
        a->len = rawlen;
    }
    return archive_parse(path, a, err, errlen);
}

int archive_from_memory(unsigned char *data, size_t len, const char *name, archive *a, char *err,
                        size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->data = data;
    a->len = len;
    return archive_parse(name, a, err, errlen);
}

static int archive_parse(const char *path, archive *a, char *err, size_t errlen)
{
    if (parse_toc(path, a, err, errlen) < 0) {
        archive_free(a);
        return -1;
    }
    for (size_t i = 0; i < a->n; i++)
        if (a->entries[i].id > a->maxid)
            a->maxid = a->entries[i].id;
    a->byid = malloc(((size_t)a->maxid + 1) * sizeof(long));
    if (!a->byid) {
        archive_free(a);
        return pf_err(err, errlen, "out of memory");
    }
    for (int i = 0; i <= a->maxid; i++)
        a->byid[i] = -1;
    for (size_t i = 0; i < a->n; i++)
        a->byid[a->entries[i].id] = (long)i;
    return 0;
}

long archive_find(const archive *a, int id)
{
    return id > 0 && id <= a->maxid ? a->byid[id] : -1;
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

typedef struct {
    int fd;
    const unsigned char *data;
    size_t len;
} feed_job;

/* Feeds the archive to pg_restore's stdin while the caller reads its stdout. */
static void *feed_stdin(void *arg)
{
    feed_job *j = arg;
    size_t off = 0;
    while (off < j->len) {
        ssize_t n = write(j->fd, j->data + off, j->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* pg_restore stopped reading: its exit status says why */
        off += (size_t)n;
    }
    close(j->fd);
    return NULL;
}

/* The --use-list file: the wanted entries' ids. */
static int write_list(const archive *a, const unsigned char *wanted, const char *listf, char *err, size_t errlen)
{
    FILE *lf = fopen(listf, "w");
    if (!lf)
        return pf_err(err, errlen, "create %s: %s", listf, strerror(errno));
    for (size_t i = 0; i < a->n; i++)
        if (wanted[i])
            fprintf(lf, "%d;\n", a->entries[i].id);
    if (fclose(lf) != 0)
        return pf_err(err, errlen, "write %s: %s", listf, strerror(errno));
    return 0;
}

/* Starts pg_restore rendering the listed entries as SQL on its stdout: *to_stdin and
 * *from_stdout are the caller's ends. */
static int spawn_render(const char *pg_restore, const char *listf, const char *logf, int no_owner, int no_acl,
                        int create, pid_t *pid, int *to_stdin, int *from_stdout, char *err, size_t errlen)
{
    char *argv[16];
    int k = 0;
    char listopt[4096 + 16];
    snprintf(listopt, sizeof listopt, "--use-list=%s", listf);
    argv[k++] = (char *)pg_restore;
    argv[k++] = "--verbose";
    argv[k++] = "--format=custom";
    argv[k++] = "--file=-";
    argv[k++] = listopt;
    if (no_owner)
        argv[k++] = "--no-owner";
    if (no_acl)
        argv[k++] = "--no-acl";
    if (create) /* the database's own entries are rendered only with it */
        argv[k++] = "--create";
    argv[k] = NULL;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        pf_err(err, errlen, "pipe: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
        }
        return -1;
    }
    int rc = pgtools_spawn(argv, in[0], out[1], logf, NULL, pid, err, errlen);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        return -1;
    }
    *to_stdin = in[1];
    *from_stdout = out[0];
    return 0;
}

/* Reading pg_restore's SQL: the header, then each entry's text after its marker. */
typedef struct {
    archive *a;
    const unsigned char *wanted;
    /* pg_restore emits "SET default_tablespace" / "SET default_table_access_method" only
     * when they change, before the next entry's marker. Entries will run in another order
     * on other connections, so each entry gets the settings in force at its marker. */
    char tablespace[512], tableam[512];
    char *cur, *header;
    size_t curlen, curcap, hlen, hcap;
    long cur_entry;              /* -1: still in the header */
} render_state;

/* The entry being read is complete: its SQL is cur. */
static void end_entry(render_state *r)
{
    if (r->cur_entry >= 0)
        r->a->entries[r->cur_entry].sql = r->cur;
    else
        free(r->cur);
    r->cur = NULL;
    r->curlen = r->curcap = 0;
}

/* One line of pg_restore's output; 0, or -1 out of memory. */
static int render_line(render_state *r, const char *line, size_t n)
{
    if (line[0] == '\\') /* psql meta-commands (\restrict, \unrestrict) are not SQL */
        return 0;
    if (starts_with(line, "SET default_tablespace = ") && n < sizeof r->tablespace) {
        memcpy(r->tablespace, line, n + 1);
        return 0;
    }
    if (starts_with(line, "SET default_table_access_method = ") && n < sizeof r->tableam) {
        memcpy(r->tableam, line, n + 1);
        return 0;
    }
    int id;
    long k;
    if (sscanf(line, "-- TOC entry %d (class", &id) == 1 && (k = archive_find(r->a, id)) >= 0 && r->wanted[k] &&
        !r->a->entries[k].sql) {
        end_entry(r);
        r->cur_entry = k;
        return append(&r->cur, &r->curlen, &r->curcap, r->tablespace, strlen(r->tablespace)) == 0 &&
                       append(&r->cur, &r->curlen, &r->curcap, r->tableam, strlen(r->tableam)) == 0
                   ? 0
                   : -1;
    }
    char enc[64];
    if (r->cur_entry < 0 && sscanf(line, "SET client_encoding = '%63[^']'", enc) == 1) {
        /* the SQL's own encoding: restore sets it around the SQL it runs, not for its
         * whole session (its own statements and the COPY data are UTF-8) */
        snprintf(r->a->encoding, sizeof r->a->encoding, "%s", enc);
        return 0;
    }
    if (r->cur_entry < 0)
        return append(&r->header, &r->hlen, &r->hcap, line, n);
    return append(&r->cur, &r->curlen, &r->curcap, line, n);
}

/* Reads all of f (then drained, so pg_restore can exit); 0, or -1 out of memory. */
static int read_rendered(render_state *r, FILE *f)
{
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    int ok = 1;
    while (ok && (n = getline(&line, &lcap, f)) > 0)
        ok = render_line(r, line, (size_t)n) == 0;
    end_entry(r);
    free(line);
    while (fgetc(f) != EOF)
        ;
    return ok ? 0 : -1;
}

int archive_render(archive *a, const char *pg_restore, const unsigned char *wanted, int no_owner,
                   int no_acl, int create, const char *tmpdir, char *err, size_t errlen)
{
    char listf[4096], logf[4096];
    snprintf(listf, sizeof listf, "%s/pgferry-toc.%d.list", tmpdir, (int)getpid());
    snprintf(logf, sizeof logf, "%s/pgferry-toc.%d.log", tmpdir, (int)getpid());
    pid_t pid;
    int to_stdin, from_stdout;
    if (write_list(a, wanted, listf, err, errlen) < 0)
        return -1;
    if (spawn_render(pg_restore, listf, logf, no_owner, no_acl, create, &pid, &to_stdin, &from_stdout, err,
                     errlen) < 0) {
        unlink(listf);
        unlink(logf);
        return -1;
    }
    feed_job fj = {to_stdin, a->data, a->len};
    pthread_t feeder;
    int fed = pthread_create(&feeder, NULL, feed_stdin, &fj) == 0;
    if (!fed)
        close(to_stdin);
    render_state r = {.a = a, .wanted = wanted, .cur_entry = -1,
                      .tablespace = "SET default_tablespace = '';\n",
                      .tableam = "SET default_table_access_method = heap;\n"};
    FILE *f = fdopen(from_stdout, "r");
    int ok = -2; /* -2: no output stream */
    if (f) {
        ok = read_rendered(&r, f);
        fclose(f);
    } else {
        pf_err(err, errlen, "pg_restore output: %s", strerror(errno));
        close(from_stdout);
    }
    if (fed)
        pthread_join(feeder, NULL);
    char e2[PF_ERRLEN];
    int wrc = f ? pgtools_wait(pid, 1, "pg_restore", logf, err, errlen)
                : pgtools_wait(pid, 1, "pg_restore", logf, e2, sizeof e2);
    unlink(listf);
    unlink(logf);
    if (wrc != 0 || ok < 0) {
        free(r.header);
        return ok == -1 && wrc == 0 ? pf_err(err, errlen, "out of memory rendering the schema archive") : -1;
    }
    a->header_sql = r.header ? r.header : strdup("");
    return 0;
}

void archive_free(archive *a)
{
    for (size_t i = 0; i < a->n; i++) {
        archive_entry *e = &a->entries[i];
        free(e->desc);
        free(e->namespace);
        free(e->tag);
        free(e->defn);
        free(e->owner);
        free(e->drop);
        free(e->deps);
        free(e->sql);
    }
    free(a->entries);
    free(a->header_sql);
    if (a->data)
        explicit_bzero(a->data, a->len);
    free(a->data);
    free(a->byid);
    memset(a, 0, sizeof *a);
}
