/* diff: see diff.h for the design (grace hash join over bucket files). */
#include "engine/diff.h"

#include "common/pf_util.h"
#include "engine/archive.h"
#include "engine/chunkfile.h"
#include "engine/diffrow.h"
#include "engine/manifest.h"
#include "engine/pgconn.h"
#include "io/pf_io.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_BUCKETS 4096
#define REC_HDR 12 /* u64 key hash, u32 row length */

typedef struct {
    const manifest_table *mt;
    char *schema, *name;          /* live names (= the dump's) */
    char *qname;                  /* "schema"."name" */
    unsigned oid;
    int cascaded;
    char **key;                   /* key column names */
    size_t nkey;
    const char *key_source;
    size_t *keycol;               /* key column positions in mt->cols */
    char **qcols;                 /* quoted column names, dump order */
    char **types;                 /* format_type of each dump column in the live table */
    unsigned *typoids;
    copyrows_format fmt;
} dtable;

typedef struct {
    const diff_options *o;
    manifest m;
    int have_m;
    pf_store *st;           /* the backup */
    PGconn *conn;
    dtable *t;
    size_t nt;
    char tmp[4096];               /* private temp directory */
    diffrow_buf sql;              /* statement being built */
    uint64_t statements;
} dstate;

static int stopped(const dstate *s) { return s->o->interrupted && *s->o->interrupted; }

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void dtable_free(dtable *t)
{
    free(t->schema);
    free(t->name);
    free(t->qname);
    free_strv(t->key, t->nkey);
    free(t->keycol);
    if (t->mt) {
        free_strv(t->qcols, t->mt->ncols);
        free_strv(t->types, t->mt->ncols);
    }
    free(t->typoids);
}

/* ---- catalog ---------------------------------------------------------------------------- */

static const manifest_table *find_mt(const manifest *m, const char *schema, const char *name)
{
    for (size_t i = 0; i < m->ntables; i++)
        if (!strcmp(m->tables[i].schema, schema) && !strcmp(m->tables[i].name, name))
            return &m->tables[i];
    return NULL;
}

static int have_oid(const dstate *s, unsigned oid)
{
    for (size_t i = 0; i < s->nt; i++)
        if (s->t[i].oid == oid)
            return 1;
    return 0;
}

static int add_table(dstate *s, unsigned oid, const char *schema, const char *name, int cascaded)
{
    if (have_oid(s, oid))
        return 0;
    dtable *nt = realloc(s->t, (s->nt + 1) * sizeof *nt);
    if (!nt)
        return -1;
    s->t = nt;
    dtable *t = &s->t[s->nt++];
    memset(t, 0, sizeof *t);
    t->oid = oid;
    t->schema = strdup(schema);
    t->name = strdup(name);
    t->cascaded = cascaded;
    return t->schema && t->name ? 0 : -1;
}

/* A partitioned table: its leaf partitions (the dump holds their rows, each under its own
 * name). */
static int add_partitions(dstate *s, const char *oid, char *err, size_t errlen)
{
    const char *params[1] = {oid};
    PGresult *r = pgconn_query(s->conn,
                               "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid) p "
                               "JOIN pg_catalog.pg_class c ON c.oid = p.relid "
                               "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE p.isleaf AND c.relkind = 'r' ORDER BY 2, 3",
                               1, params, "partitions", err, errlen);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        if (add_table(s, (unsigned)strtoul(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                      0) < 0)
            rc = pf_err(err, errlen, "out of memory");
    PQclear(r);
    return rc;
}

/* -t NAME: schema.table or table (in any schema; ambiguous when several hold it). Runs
 * before the snapshot's transaction, so a name parse_ident rejects does not abort it. */
static int resolve_name(dstate *s, const char *given, char *err, size_t errlen)
{
    static const char *const q =
        "SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, "
        "(SELECT pg_catalog.parse_ident($1) AS p) x "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND CASE pg_catalog.cardinality(x.p) "
        "WHEN 2 THEN n.nspname = x.p[1] AND c.relname = x.p[2] "
        "WHEN 1 THEN c.relname = x.p[1] ELSE false END ORDER BY 2, 3";
    const char *params[1] = {given};
    char qerr[PF_ERRLEN];
    PGresult *r = pgconn_query(s->conn, q, 1, params, "table name", qerr, sizeof qerr);
    if (!r)
        return pf_err(err, errlen, "invalid table name \"%s\": %s", given, qerr), -2;
    int n = PQntuples(r), rc = 0;
    if (n == 0) {
        rc = -2;
        pf_err(err, errlen, "table \"%s\" does not exist in the database", given);
    } else if (n > 1) {
        rc = -2;
        pf_err(err, errlen, "table name \"%s\" is ambiguous: %s.%s and %s.%s (give schema.table)", given,
               PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 1, 1), PQgetvalue(r, 1, 2));
    } else if (PQgetvalue(r, 0, 3)[0] == 'p') {
        rc = add_partitions(s, PQgetvalue(r, 0, 0), err, errlen);
    } else if (PQgetvalue(r, 0, 3)[0] != 'r') {
        rc = -2;
        pf_err(err, errlen, "%s.%s is not a table", PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
    } else if (add_table(s, (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10), PQgetvalue(r, 0, 1),
                         PQgetvalue(r, 0, 2), 0) < 0) {
        rc = pf_err(err, errlen, "out of memory");
    }
    PQclear(r);
    return rc;
}

static char *oid_array(const dstate *s)
{
    diffrow_buf b = {0};
    char num[32];
    diffrow_buf_puts(&b, "{");
    for (size_t i = 0; i < s->nt; i++) {
        snprintf(num, sizeof num, "%s%u", i ? "," : "", s->t[i].oid);
        diffrow_buf_puts(&b, num);
    }
    if (diffrow_buf_puts(&b, "}") < 0) {
        diffrow_buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* --cascade: every table that references one of the set through an ON DELETE CASCADE
 * foreign key, recursively. */
static int add_cascade(dstate *s, char *err, size_t errlen)
{
    static const char *const q =
        "WITH RECURSIVE r(oid) AS (SELECT pg_catalog.unnest($1::pg_catalog.oid[]) UNION "
        "SELECT c.conrelid FROM pg_catalog.pg_constraint c JOIN r ON c.confrelid = r.oid "
        "WHERE c.contype = 'f' AND c.confdeltype = 'c') "
        "SELECT c.oid, n.nspname, c.relname FROM r JOIN pg_catalog.pg_class c ON c.oid = r.oid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
        "ORDER BY n.nspname, c.relname";
    char *arr = oid_array(s);
    if (!arr)
        return pf_err(err, errlen, "out of memory");
    const char *params[1] = {arr};
    PGresult *r = pgconn_query(s->conn, q, 1, params, "foreign keys", err, errlen);
    free(arr);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        if (add_table(s, (unsigned)strtoul(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1),
                      PQgetvalue(r, i, 2), 1) < 0)
            rc = pf_err(err, errlen, "out of memory");
    PQclear(r);
    return rc;
}

/* Parses a text[] value of names (as PostgreSQL prints it) into a vector. */
static int parse_name_array(const char *s, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (*s++ != '{')
        return -1;
    while (*s && *s != '}') {
        diffrow_buf b = {0};
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1])
                    s++;
                diffrow_buf_put(&b, s++, 1);
            }
            if (*s == '"')
                s++;
        } else {
            while (*s && *s != ',' && *s != '}')
                diffrow_buf_put(&b, s++, 1);
        }
        diffrow_buf_puts(&b, "");
        char **v = realloc(*out, (*n + 1) * sizeof *v);
        if (!v || !b.p) {
            free(b.p);
            return -1;
        }
        *out = v;
        v[(*n)++] = b.p;
        if (*s == ',')
            s++;
    }
    return 0;
}

/* The columns' types (names, for the script's casts; OIDs, for rendering binary values)
 * and quoted names; a column of the backup missing in the database is an error (-2). */
static int describe_columns(dstate *s, dtable *t, const char *const *params, char *err, size_t errlen)
{
    const manifest_table *mt = t->mt;
    PGresult *r = pgconn_query(s->conn,
                               "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid "
                               "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.oid "
                               "AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''",
                               1, params, "columns", err, errlen);
    if (!r)
        return -1;
    for (size_t c = 0; c < mt->ncols; c++) {
        for (int i = 0; i < PQntuples(r); i++)
            if (strcmp(PQgetvalue(r, i, 0), mt->cols[c]) == 0) {
                t->types[c] = strdup(PQgetvalue(r, i, 1));
                t->typoids[c] = (unsigned)strtoul(PQgetvalue(r, i, 2), NULL, 10);
            }
        t->qcols[c] = pgconn_quote_ident(s->conn, mt->cols[c]);
        if (!t->types[c]) {
            PQclear(r);
            return pf_err(err, errlen, "column %s of %s.%s is in the backup but not in the database", mt->cols[c],
                          t->schema, t->name), -2;
        }
    }
    PQclear(r);
    return 0;
}

/* The key the rows are matched on: --key, else the primary key, else the replica identity
 * index; none is an error naming the table (-2). */
static int describe_key(dstate *s, dtable *t, const char *const *params, char *err, size_t errlen)
{
    PGresult *r;
    if (s->o->nkey > 0 && !t->cascaded) {
        t->key = calloc(s->o->nkey, sizeof *t->key);
        if (!t->key)
            return pf_err(err, errlen, "out of memory");
        for (size_t i = 0; i < s->o->nkey; i++)
            t->key[i] = strdup(s->o->key[i]);
        t->nkey = s->o->nkey;
        t->key_source = "--key";
    } else {
        r = pgconn_query(s->conn,
                         "SELECT pg_catalog.array_agg(a.attname ORDER BY k.ord)::pg_catalog.text[], i.indisprimary "
                         "FROM pg_catalog.pg_index i, pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord), "
                         "pg_catalog.pg_attribute a WHERE i.indrelid = $1::pg_catalog.oid "
                         "AND (i.indisprimary OR i.indisreplident) AND i.indexprs IS NULL AND i.indpred IS NULL "
                         "AND i.indisvalid AND k.ord <= i.indnkeyatts AND a.attrelid = i.indrelid "
                         "AND a.attnum = k.attnum GROUP BY i.indexrelid, i.indisprimary "
                         "ORDER BY i.indisprimary DESC LIMIT 1",
                         1, params, "key", err, errlen);
        if (!r)
            return -1;
        if (PQntuples(r) == 0) {
            PQclear(r);
            return pf_err(err, errlen, "table %s.%s has no primary key or replica identity index: name its key "
                                       "columns with --key col,...", t->schema, t->name), -2;
        }
        int bad = parse_name_array(PQgetvalue(r, 0, 0), &t->key, &t->nkey);
        t->key_source = PQgetvalue(r, 0, 1)[0] == 't' ? "primary key" : "replica identity";
        PQclear(r);
        if (bad < 0 || t->nkey == 0)
            return pf_err(err, errlen, "table %s.%s: could not read its key", t->schema, t->name);
    }
    return 0;
}

/* The table's key, columns and types in the live database, matched with the dump's. */
static int describe(dstate *s, dtable *t, char *err, size_t errlen)
{
    char oid[32];
    snprintf(oid, sizeof oid, "%u", t->oid);
    const char *params[1] = {oid};
    t->mt = find_mt(&s->m, t->schema, t->name);
    if (!t->mt)
        return pf_err(err, errlen, "table %s.%s%s is not in the backup", t->schema, t->name,
                      t->cascaded ? " (it references a compared table ON DELETE CASCADE)" : ""), -2;
    const manifest_table *mt = t->mt;
    if (strcmp(mt->format, "binary") == 0)
        t->fmt = COPYROWS_BINARY;
    else if (strcmp(mt->format, "text") == 0)
        t->fmt = COPYROWS_TEXT;
    else
        return pf_err(err, errlen, "table %s.%s: unknown COPY format \"%s\" in the backup", t->schema, t->name,
                      mt->format);
    t->qname = pgconn_qualified(s->conn, t->schema, t->name);
    t->qcols = calloc(mt->ncols + 1, sizeof *t->qcols);
    t->types = calloc(mt->ncols + 1, sizeof *t->types);
    t->typoids = calloc(mt->ncols + 1, sizeof *t->typoids);
    if (!t->qname || !t->qcols || !t->types || !t->typoids)
        return pf_err(err, errlen, "out of memory");
    int rc = describe_columns(s, t, params, err, errlen);
    if (rc == 0)
        rc = describe_key(s, t, params, err, errlen);
    if (rc < 0)
        return rc;
    t->keycol = calloc(t->nkey, sizeof *t->keycol);
    if (!t->keycol)
        return pf_err(err, errlen, "out of memory");
    for (size_t k = 0; k < t->nkey; k++) {
        size_t c = 0;
        while (c < mt->ncols && strcmp(mt->cols[c], t->key[k]) != 0)
            c++;
        if (c == mt->ncols)
            return pf_err(err, errlen, "key column %s is not a column of %s.%s in the backup", t->key[k], t->schema,
                          t->name), -2;
        t->keycol[k] = c;
    }
    return 0;
}

/* Where pg_dump's CREATE TABLE defines column col: just after "\n    col " (the name as
 * is or double-quoted, as pg_dump's fmtId may write it), or NULL. */
static const char *column_def(const char *defn, const char *col)
{
    diffrow_buf plain = {0}, quoted = {0};
    diffrow_buf_puts(&plain, "\n    ");
    diffrow_buf_puts(&plain, col);
    diffrow_buf_puts(&plain, " ");
    diffrow_buf_puts(&quoted, "\n    \"");
    for (const char *c = col; *c; c++)
        diffrow_buf_put(&quoted, c, *c == '"' ? 1 : 0), diffrow_buf_put(&quoted, c, 1);
    diffrow_buf_puts(&quoted, "\" ");
    const char *at = NULL;
    if (plain.p && quoted.p) {
        if ((at = strstr(defn, plain.p)))
            at += plain.len;
        else if ((at = strstr(defn, quoted.p)))
            at += quoted.len;
    }
    diffrow_buf_free(&plain);
    diffrow_buf_free(&quoted);
    return at;
}

/* The type in a column's definition (def: just after its name): the rest of its line
 * up to the first column option pg_dump writes after the type. malloc'd. */
static char *def_type(const char *def)
{
    static const char *const after[] = {" NOT NULL", " DEFAULT ", " COLLATE ", " GENERATED ", " CONSTRAINT ",
                                        " CHECK ", " NULL"};
    size_t l = strcspn(def, "\n");
    if (l > 0 && def[l - 1] == ',')
        l--;
    char *t = strndup(def, l);
    if (!t)
        return NULL;
    for (size_t i = 0; i < sizeof after / sizeof *after; i++) {
        char *p = strstr(t, after[i]);
        if (p)
            *p = '\0';
    }
    return t;
}

/* A type name without its modifiers: "character varying(10)[]" -> "character varying[]",
 * "timestamp(3) with time zone" -> "timestamp with time zone". Modifiers do not change a
 * type's binary format. */
static void strip_typmod(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    int depth = 0;
    for (; *in && o + 1 < outlen; in++) {
        if (*in == '(')
            depth++;
        else if (*in == ')' && depth > 0)
            depth--;
        else if (depth == 0)
            out[o++] = *in;
    }
    out[o] = '\0';
}

static int same_type(const char *backup, const char *live)
{
    char a[512], b[512];
    strip_typmod(backup, a, sizeof a);
    strip_typmod(live, b, sizeof b);
    return strcmp(a, b) == 0;
}

/* A binary-format backup's bytes mean something only as the types they were dumped as:
 * receiving them as another type can fail or, worse, give another value (int8 bytes read
 * as float8). The dump's schema archive holds each table's CREATE TABLE, where pg_dump
 * writes every column as its name and format_type(): a column whose type changed since
 * the backup is an error. (Text-format tables need no such check: their values are
 * literals, cast to the column's type as it is now.) */
static int check_types(dstate *s, char *err, size_t errlen)
{
    int need = 0;
    for (size_t i = 0; i < s->nt; i++)
        need |= s->t[i].fmt == COPYROWS_BINARY;
    if (!need || !s->m.schema_file)
        return 0;
    char aad[512];
    manifest_file_aad(&s->m, s->m.schema_file, aad, sizeof aad);
    archive a;
    memset(&a, 0, sizeof a);
    if (archive_load(s->st, s->m.schema_file, s->m.encrypted ? &s->m.keys.data_key : NULL, aad, &a, err, errlen) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < s->nt && rc == 0; i++) {
        const dtable *t = &s->t[i];
        if (t->fmt != COPYROWS_BINARY)
            continue;
        const char *defn = NULL;
        for (size_t k = 0; k < a.n && !defn; k++) {
            const archive_entry *e = &a.entries[k];
            if (e->desc && !strcmp(e->desc, "TABLE") && e->namespace && !strcmp(e->namespace, t->schema) &&
                e->tag && !strcmp(e->tag, t->name) && e->defn)
                defn = e->defn;
        }
        if (!defn)
            continue;
        for (size_t c = 0; c < t->mt->ncols && rc == 0; c++) {
            const char *def = column_def(defn, t->mt->cols[c]);
            if (!def)
                continue; /* not written there (a partition, an inherited column): nothing to check */
            char *was = def_type(def);
            if (!was) {
                rc = pf_err(err, errlen, "out of memory");
                break;
            }
            if (!same_type(was, t->types[c]))
                rc = pf_err(err, errlen,
                            "column %s of %s.%s changed type since the backup (backup: %s; now: %s): the backup's "
                            "binary values cannot be compared or put back as the new type (restore the table next to "
                            "the live one instead)",
                            t->mt->cols[c], t->schema, t->name, was, t->types[c]);
            free(was);
        }
    }
    archive_free(&a);
    return rc;
}

/* Orders the tables parents first by the foreign keys among them (Kahn; tables in a
 * cycle keep their order, after the others). */
static int order_tables(dstate *s, char *err, size_t errlen)
{
    char *arr = oid_array(s);
    if (!arr)
        return pf_err(err, errlen, "out of memory");
    const char *params[1] = {arr};
    PGresult *r = pgconn_query(s->conn,
                               "SELECT DISTINCT conrelid, confrelid FROM pg_catalog.pg_constraint "
                               "WHERE contype = 'f' AND conrelid = ANY ($1::pg_catalog.oid[]) "
                               "AND confrelid = ANY ($1::pg_catalog.oid[]) AND conrelid <> confrelid",
                               1, params, "foreign keys", err, errlen);
    free(arr);
    if (!r)
        return -1;
    size_t n = s->nt, ne = (size_t)PQntuples(r);
    size_t *child = calloc(ne + 1, sizeof *child), *parent = calloc(ne + 1, sizeof *parent);
    int *done = calloc(n + 1, sizeof *done);
    dtable *out = calloc(n + 1, sizeof *out);
    if (!child || !parent || !done || !out) {
        PQclear(r);
        free(child), free(parent), free(done), free(out);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t e = 0; e < ne; e++) {
        unsigned c = (unsigned)strtoul(PQgetvalue(r, (int)e, 0), NULL, 10);
        unsigned p = (unsigned)strtoul(PQgetvalue(r, (int)e, 1), NULL, 10);
        for (size_t i = 0; i < n; i++) {
            if (s->t[i].oid == c)
                child[e] = i;
            if (s->t[i].oid == p)
                parent[e] = i;
        }
    }
    PQclear(r);
    size_t k = 0;
    for (int progress = 1; progress && k < n;) {
        progress = 0;
        for (size_t i = 0; i < n; i++) {
            if (done[i])
                continue;
            int ready = 1;
            for (size_t e = 0; e < ne && ready; e++)
                if (child[e] == i && !done[parent[e]])
                    ready = 0;
            if (ready) {
                done[i] = 1;
                out[k++] = s->t[i];
                progress = 1;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!done[i])
            out[k++] = s->t[i];
    free(s->t);
    s->t = out;
    free(child), free(parent), free(done);
    return 0;
}

/* ---- partitioning ----------------------------------------------------------------------- */

typedef struct {
    FILE *f;
    pthread_mutex_t mu;
    char path[4200];
} bucket;

typedef struct {
    dstate *s;
    dtable *t;
    bucket *bk;                   /* backup side (shared by the reader threads: locked) */
    bucket *lv;                   /* live side (one writer) */
    unsigned nb;
    /* backup readers */
    pthread_mutex_t mu;
    size_t next_chunk;
    int failed;
    char err[PF_ERRLEN];
    uint64_t backup_rows, live_rows;
} part_ctx;

typedef struct {
    part_ctx *pc;
    bucket *side;
    int locked;
    diffrow_field *f;
    uint8_t *kb;
    size_t kcap;
    uint64_t rows;
} row_ctx;

static uint64_t key_hash(row_ctx *rc, const dtable *t, const uint8_t *row)
{
    size_t need = 0;
    for (size_t k = 0; k < t->nkey; k++) {
        const diffrow_field *f = &rc->f[t->keycol[k]];
        need += 4 + (f->len > 0 ? (size_t)f->len : 0);
    }
    if (need > rc->kcap) {
        uint8_t *p = realloc(rc->kb, need);
        if (!p)
            return 0;
        rc->kb = p;
        rc->kcap = need;
    }
    size_t at = 0;
    for (size_t k = 0; k < t->nkey; k++) {
        const diffrow_field *f = &rc->f[t->keycol[k]];
        pf_put_le32(rc->kb + at, (uint32_t)f->len);
        at += 4;
        if (f->len > 0) {
            memcpy(rc->kb + at, row + f->off, (size_t)f->len);
            at += (size_t)f->len;
        }
    }
    return XXH3_64bits(rc->kb, at);
}

static unsigned bucket_of(uint64_t h, unsigned nb) { return (unsigned)((h >> 40) % nb); }

static int on_row(void *ctx, const uint8_t *row, size_t len, char *err, size_t errlen)
{
    row_ctx *rc = ctx;
    part_ctx *pc = rc->pc;
    if (stopped(pc->s) || pc->failed)
        return pf_err(err, errlen, "stopped");
    if (len > UINT32_MAX - REC_HDR)
        return pf_err(err, errlen, "row of %zu bytes is too large", len);
    if (diffrow_fields(pc->t->fmt, row, len, pc->t->mt->ncols, rc->f, err, errlen) < 0)
        return -1;
    uint64_t h = key_hash(rc, pc->t, row);
    bucket *b = &rc->side[bucket_of(h, pc->nb)];
    uint8_t hdr[REC_HDR];
    pf_put_le64(hdr, h);
    pf_put_le32(hdr + 8, (uint32_t)len);
    if (rc->locked)
        pthread_mutex_lock(&b->mu);
    int ok = fwrite(hdr, 1, REC_HDR, b->f) == REC_HDR && fwrite(row, 1, len, b->f) == len;
    if (rc->locked)
        pthread_mutex_unlock(&b->mu);
    if (!ok)
        return pf_err(err, errlen, "%s: %s", b->path, strerror(errno));
    rc->rows++;
    return 0;
}

static int splitter_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    return diffrow_splitter_feed(ctx, buf, len, err, errlen);
}

static int stop_fn(void *ctx)
{
    part_ctx *pc = ctx;
    return stopped(pc->s) || pc->failed;
}

static void part_fail(part_ctx *pc, const char *msg)
{
    pthread_mutex_lock(&pc->mu);
    if (!pc->failed) {
        pc->failed = 1;
        snprintf(pc->err, sizeof pc->err, "%s", msg);
    }
    pthread_mutex_unlock(&pc->mu);
}

static void *backup_reader(void *arg)
{
    part_ctx *pc = arg;
    const manifest_table *mt = pc->t->mt;
    char err[PF_ERRLEN], msg[PF_ERRLEN + 600];
    row_ctx rc = {.pc = pc, .side = pc->bk, .locked = 1};
    rc.f = calloc(mt->ncols + 1, sizeof *rc.f);
    diffrow_splitter *sp = diffrow_splitter_new(pc->t->fmt, on_row, &rc);
    chunkfile_reader *r = chunkfile_reader_new(&pc->s->m, err, sizeof err);
    if (!rc.f || !sp || !r) {
        part_fail(pc, r ? "out of memory" : err);
        goto out;
    }
    for (;;) {
        pthread_mutex_lock(&pc->mu);
        size_t ci = pc->next_chunk++;
        int failed = pc->failed;
        pthread_mutex_unlock(&pc->mu);
        if (ci >= mt->nchunks || failed)
            break;
        const manifest_chunk *mc = &mt->chunks[ci];
        chunkfile_result res;
        diffrow_splitter_reset(sp);
        if (chunkfile_read(r, pc->s->st, mc->file, mc->file, mt->format, splitter_sink, sp, stop_fn, pc, &res, err, sizeof err) < 0 ||
            diffrow_splitter_finish(sp, err, sizeof err) < 0 || chunkfile_check(&pc->s->m, mc, &res, err, sizeof err) < 0) {
            snprintf(msg, sizeof msg, "backup chunk %s of %s.%s: %s", mc->file, mt->schema, mt->name, err);
            part_fail(pc, stopped(pc->s) ? "interrupted" : msg);
            break;
        }
    }
out:
    pthread_mutex_lock(&pc->mu);
    pc->backup_rows += rc.rows;
    pthread_mutex_unlock(&pc->mu);
    chunkfile_reader_free(r);
    diffrow_splitter_free(sp);
    free(rc.f);
    free(rc.kb);
    return NULL;
}

/* The live side: one COPY in the dump's format and column order. */
static int read_live(part_ctx *pc, char *err, size_t errlen)
{
    dtable *t = pc->t;
    diffrow_buf q = {0};
    diffrow_buf_puts(&q, "COPY (SELECT ");
    for (size_t c = 0; c < t->mt->ncols; c++) {
        diffrow_buf_puts(&q, c ? ", " : "");
        diffrow_buf_puts(&q, t->qcols[c]);
    }
    diffrow_buf_puts(&q, " FROM ONLY ");
    diffrow_buf_puts(&q, t->qname);
    if (diffrow_buf_puts(&q, t->fmt == COPYROWS_BINARY ? ") TO STDOUT (FORMAT binary)" : ") TO STDOUT") < 0) {
        diffrow_buf_free(&q);
        return pf_err(err, errlen, "out of memory");
    }
    PGresult *r = PQexec(pc->s->conn, q.p);
    diffrow_buf_free(&q);
    char line[PF_ERRLEN];
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        pf_err(err, errlen, "reading %s.%s: %s", t->schema, t->name, pgconn_result_errline(r, line, sizeof line));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    row_ctx rc = {.pc = pc, .side = pc->lv, .locked = 0};
    rc.f = calloc(t->mt->ncols + 1, sizeof *rc.f);
    diffrow_splitter *sp = diffrow_splitter_new(t->fmt, on_row, &rc);
    int rcode = 0;
    if (!rc.f || !sp)
        rcode = pf_err(err, errlen, "out of memory");
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(pc->s->conn, &buf, 0);
        if (n == -1)
            break;
        if (n == -2) {
            if (rcode == 0)
                rcode = pf_err(err, errlen, "reading %s.%s: %s", t->schema, t->name,
                               pgconn_errline(pc->s->conn, line, sizeof line));
            break;
        }
        if (rcode == 0 && diffrow_splitter_feed(sp, buf, (size_t)n, err, errlen) < 0) {
            rcode = -1;
            PQfreemem(buf);
            break; /* the connection is dropped by the caller: no need to drain the COPY */
        }
        PQfreemem(buf);
    }
    if (rcode == 0 && diffrow_splitter_finish(sp, err, errlen) < 0)
        rcode = -1;
    if (rcode == 0) {
        r = PQgetResult(pc->s->conn);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rcode = pf_err(err, errlen, "reading %s.%s: %s", t->schema, t->name,
                           pgconn_result_errline(r, line, sizeof line));
        PQclear(r);
        while ((r = PQgetResult(pc->s->conn)))
            PQclear(r);
    }
    pc->live_rows = rc.rows;
    diffrow_splitter_free(sp);
    free(rc.f);
    free(rc.kb);
    return rcode;
}

/* ---- rendering the script --------------------------------------------------------------- */

typedef struct {
    dstate *s;
    dtable *t;
    FILE *del, *ins, *upd;
    char stmt[64];                /* prepared statement rendering a binary row as text */
    char bstmt[64];               /* ... and `batch` rows at once (deleted rows) */
    int batch;
    char **vals;                  /* text form of each column of the rendered row (NULL: NULL) */
    PGresult *res;                /* holds vals for binary rows */
    diffrow_buf scratch;          /* unescaped text values */
    size_t *voff;                 /* offsets into scratch (text rows), SIZE_MAX NULL */
} emitter;

/* Fills e->vals with the text form of every column of a row (fields f). */
static int render_row(emitter *e, const uint8_t *row, const diffrow_field *f, char *err, size_t errlen)
{
    dtable *t = e->t;
    size_t n = t->mt->ncols;
    if (e->res) {
        PQclear(e->res);
        e->res = NULL;
    }
    if (t->fmt == COPYROWS_TEXT) {
        e->scratch.len = 0;
        for (size_t c = 0; c < n; c++) {
            if (f[c].len < 0) {
                e->voff[c] = SIZE_MAX;
                continue;
            }
            size_t start = e->scratch.len, flen = (size_t)f[c].len;
            if (e->scratch.cap < start + flen + 2) {
                size_t cap = e->scratch.cap ? e->scratch.cap : 256;
                while (cap < start + flen + 2)
                    cap *= 2;
                char *p = realloc(e->scratch.p, cap);
                if (!p)
                    return pf_err(err, errlen, "out of memory");
                e->scratch.p = p;
                e->scratch.cap = cap;
            }
            size_t dl = diffrow_unescape(row + f[c].off, flen, e->scratch.p + start);
            e->scratch.len = start + dl + 1; /* keep the NUL */
            e->voff[c] = start;
        }
        for (size_t c = 0; c < n; c++)
            e->vals[c] = e->voff[c] == SIZE_MAX ? NULL : e->scratch.p + e->voff[c];
        return 0;
    }
    const char **pv = calloc(n + 1, sizeof *pv);
    int *pl = calloc(n + 1, sizeof *pl), *pf = calloc(n + 1, sizeof *pf);
    if (!pv || !pl || !pf) {
        free(pv), free(pl), free(pf);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t c = 0; c < n; c++) {
        pv[c] = f[c].len < 0 ? NULL : (const char *)row + f[c].off;
        pl[c] = f[c].len < 0 ? 0 : f[c].len;
        pf[c] = 1;
    }
    PGresult *r = PQexecPrepared(e->s->conn, e->stmt, (int)n, pv, pl, pf, 0);
    free(pv), free(pl), free(pf);
    char line[PF_ERRLEN];
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        pf_err(err, errlen, "rendering a row of %s.%s as text: %s", t->schema, t->name,
               pgconn_result_errline(r, line, sizeof line));
        PQclear(r);
        return -1;
    }
    for (size_t c = 0; c < n; c++)
        e->vals[c] = PQgetisnull(r, 0, (int)c) ? NULL : PQgetvalue(r, 0, (int)c);
    e->res = r;
    return 0;
}

static int put_value(emitter *e, size_t c)
{
    if (!e->vals[c])
        return diffrow_buf_puts(&e->s->sql, "NULL");
    return diffrow_literal(&e->s->sql, e->vals[c], strlen(e->vals[c]), e->t->types[c]);
}

static int put_where(emitter *e)
{
    dtable *t = e->t;
    diffrow_buf *b = &e->s->sql;
    int rc = diffrow_buf_puts(b, " WHERE ");
    for (size_t k = 0; k < t->nkey && rc == 0; k++) {
        size_t c = t->keycol[k];
        rc |= diffrow_buf_puts(b, k ? " AND " : "");
        rc |= diffrow_buf_puts(b, t->qcols[c]);
        if (!e->vals[c]) {
            rc |= diffrow_buf_puts(b, " IS NULL");
        } else {
            rc |= diffrow_buf_puts(b, " = ");
            rc |= put_value(e, c);
        }
    }
    return rc;
}

static int flush_stmt(emitter *e, FILE *f, char *err, size_t errlen)
{
    diffrow_buf *b = &e->s->sql;
    if (diffrow_buf_puts(b, ";\n") < 0)
        return pf_err(err, errlen, "out of memory");
    if (fwrite(b->p, 1, b->len, f) != b->len)
        return pf_err(err, errlen, "writing the script's parts in %s: %s", e->s->tmp, strerror(errno));
    b->len = 0;
    e->s->statements++;
    return 0;
}

/* INSERT of the row whose text values are in e->vals. */
static int write_insert(emitter *e, char *err, size_t errlen)
{
    dtable *t = e->t;
    diffrow_buf *b = &e->s->sql;
    int rc = diffrow_buf_puts(b, "INSERT INTO ") | diffrow_buf_puts(b, t->qname) | diffrow_buf_puts(b, " (");
    for (size_t c = 0; c < t->mt->ncols; c++)
        rc |= diffrow_buf_puts(b, c ? ", " : "") | diffrow_buf_puts(b, t->qcols[c]);
    rc |= diffrow_buf_puts(b, ") OVERRIDING SYSTEM VALUE VALUES (");
    for (size_t c = 0; c < t->mt->ncols; c++)
        rc |= diffrow_buf_puts(b, c ? ", " : "") | put_value(e, c);
    rc |= diffrow_buf_puts(b, ")");
    if (rc)
        return pf_err(err, errlen, "out of memory");
    return flush_stmt(e, e->ins, err, errlen);
}

/* SELECT c1, ..., cn FROM (VALUES (1, $1, ..., $n), ...) v(o, c1, ..., cn) ORDER BY o */
static int batch_sql(const dtable *t, int n, diffrow_buf *q)
{
    size_t nc = t->mt->ncols;
    char num[64];
    int rc = diffrow_buf_puts(q, "SELECT ");
    for (size_t c = 0; c < nc; c++) {
        snprintf(num, sizeof num, "%sc%zu", c ? ", " : "", c + 1);
        rc |= diffrow_buf_puts(q, num);
    }
    rc |= diffrow_buf_puts(q, " FROM (VALUES ");
    for (int i = 0; i < n; i++) {
        snprintf(num, sizeof num, "%s(%d", i ? ", " : "", i + 1);
        rc |= diffrow_buf_puts(q, num);
        for (size_t c = 0; c < nc; c++) {
            snprintf(num, sizeof num, ", $%zu", (size_t)i * nc + c + 1);
            rc |= diffrow_buf_puts(q, num);
        }
        rc |= diffrow_buf_puts(q, ")");
    }
    rc |= diffrow_buf_puts(q, ") v(o");
    for (size_t c = 0; c < nc; c++) {
        snprintf(num, sizeof num, ", c%zu", c + 1);
        rc |= diffrow_buf_puts(q, num);
    }
    rc |= diffrow_buf_puts(q, ") ORDER BY o");
    return rc ? -1 : 0;
}

/* Deleted rows of a binary-format table are rendered RENDER_BATCH at a time, in one round
 * trip: SELECT c1, ... FROM (VALUES (1, $1, ...), (2, $n+1, ...), ...) v ORDER BY 1. */
#define RENDER_BATCH 128

static int render_batch_size(const dtable *t)
{
    size_t k = 65535 / (t->mt->ncols ? t->mt->ncols : 1);
    return (int)(k < RENDER_BATCH ? k : RENDER_BATCH);
}

/* Writes the INSERTs of n backup rows (binary format) rendered in one query. */
static int insert_batch(emitter *e, const uint8_t *const *rows, const uint32_t *lens, int n, char *err,
                        size_t errlen)
{
    dtable *t = e->t;
    size_t nc = t->mt->ncols, np = (size_t)n * nc;
    const char **pv = calloc(np + 1, sizeof *pv);
    int *pl = calloc(np + 1, sizeof *pl), *pf = calloc(np + 1, sizeof *pf);
    diffrow_field *f = calloc(nc + 1, sizeof *f);
    int rc = -1;
    PGresult *r = NULL;
    if (!pv || !pl || !pf || !f) {
        pf_err(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (diffrow_fields(t->fmt, rows[i], lens[i], nc, f, err, errlen) < 0)
            goto out;
        for (size_t c = 0; c < nc; c++) {
            size_t k = (size_t)i * nc + c;
            pv[k] = f[c].len < 0 ? NULL : (const char *)rows[i] + f[c].off;
            pl[k] = f[c].len < 0 ? 0 : f[c].len;
            pf[k] = 1;
        }
    }
    if (n == e->batch) {
        r = PQexecPrepared(e->s->conn, e->bstmt, (int)np, pv, pl, pf, 0);
    } else { /* the last, smaller batch: the same query for n rows, not prepared */
        diffrow_buf q = {0};
        if (batch_sql(t, n, &q) < 0) {
            pf_err(err, errlen, "out of memory");
            goto out;
        }
        Oid *types = calloc(np + 1, sizeof *types);
        if (!types) {
            diffrow_buf_free(&q);
            pf_err(err, errlen, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < np; k++)
            types[k] = t->typoids[k % nc];
        r = PQexecParams(e->s->conn, q.p, (int)np, types, pv, pl, pf, 0);
        free(types);
        diffrow_buf_free(&q);
    }
    char line[PF_ERRLEN];
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != n) {
        pf_err(err, errlen, "rendering rows of %s.%s as text: %s", t->schema, t->name,
               pgconn_result_errline(r, line, sizeof line));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        for (size_t c = 0; c < nc; c++)
            e->vals[c] = PQgetisnull(r, i, (int)c) ? NULL : PQgetvalue(r, i, (int)c);
        if (write_insert(e, err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    PQclear(r);
    free(pv), free(pl), free(pf), free(f);
    return rc;
}

static int emit_insert(emitter *e, const uint8_t *row, const diffrow_field *f, char *err, size_t errlen)
{
    if (render_row(e, row, f, err, errlen) < 0)
        return -1;
    return write_insert(e, err, errlen);
}

static int same_field(const uint8_t *ra, const diffrow_field *a, const uint8_t *rb, const diffrow_field *b)
{
    if (a->len != b->len)
        return 0;
    return a->len <= 0 || memcmp(ra + a->off, rb + b->off, (size_t)a->len) == 0;
}

/* backup row (bf) vs live row (lf): SET the columns that differ, to the backup's values. */
static int emit_update(emitter *e, const uint8_t *brow, const diffrow_field *bf, const uint8_t *lrow,
                       const diffrow_field *lf, char *err, size_t errlen)
{
    if (render_row(e, brow, bf, err, errlen) < 0)
        return -1;
    dtable *t = e->t;
    diffrow_buf *b = &e->s->sql;
    int rc = diffrow_buf_puts(b, "UPDATE ONLY ") | diffrow_buf_puts(b, t->qname) | diffrow_buf_puts(b, " SET ");
    int first = 1;
    for (size_t c = 0; c < t->mt->ncols; c++) {
        if (same_field(brow, &bf[c], lrow, &lf[c]))
            continue;
        rc |= diffrow_buf_puts(b, first ? "" : ", ") | diffrow_buf_puts(b, t->qcols[c]) | diffrow_buf_puts(b, " = ") |
              put_value(e, c);
        first = 0;
    }
    rc |= put_where(e);
    if (rc)
        return pf_err(err, errlen, "out of memory");
    return flush_stmt(e, e->upd, err, errlen);
}

static int emit_delete(emitter *e, const uint8_t *row, const diffrow_field *f, char *err, size_t errlen)
{
    if (render_row(e, row, f, err, errlen) < 0)
        return -1;
    diffrow_buf *b = &e->s->sql;
    int rc = diffrow_buf_puts(b, "DELETE FROM ONLY ") | diffrow_buf_puts(b, e->t->qname) | put_where(e);
    if (rc)
        return pf_err(err, errlen, "out of memory");
    return flush_stmt(e, e->del, err, errlen);
}

/* ---- joining one bucket ----------------------------------------------------------------- */

typedef struct {
    uint64_t h;
    size_t off;                   /* of the row in the arena */
    uint32_t len;
    uint8_t used, seen;
} slot;

static int read_all(FILE *f, uint8_t **buf, size_t *len, const char *path, char *err, size_t errlen)
{
    if (fflush(f) != 0 || fseeko(f, 0, SEEK_END) != 0)
        return pf_err(err, errlen, "%s: %s", path, strerror(errno));
    off_t size = ftello(f);
    rewind(f);
    *len = (size_t)size;
    *buf = malloc(*len + 1);
    if (!*buf)
        return pf_err(err, errlen, "out of memory for a bucket of %zu bytes", *len);
    if (*len && fread(*buf, 1, *len, f) != *len)
        return pf_err(err, errlen, "%s: short read", path);
    return 0;
}

static int key_equal(const dtable *t, const uint8_t *ra, const diffrow_field *fa, const uint8_t *rb,
                     const diffrow_field *fb)
{
    for (size_t k = 0; k < t->nkey; k++)
        if (!same_field(ra, &fa[t->keycol[k]], rb, &fb[t->keycol[k]]))
            return 0;
    return 1;
}

static const char *key_text(emitter *e, const uint8_t *row, const diffrow_field *f, char *out, size_t outlen)
{
    char err[PF_ERRLEN];
    if (render_row(e, row, f, err, sizeof err) < 0) {
        snprintf(out, outlen, "?");
        return out;
    }
    size_t at = 0;
    out[0] = '\0';
    for (size_t k = 0; k < e->t->nkey && at < outlen; k++) {
        const char *v = e->vals[e->t->keycol[k]];
        int n = snprintf(out + at, outlen - at, "%s%s=%s", k ? ", " : "", e->t->key[k], v ? v : "NULL");
        if (n < 0)
            break;
        at += (size_t)n;
    }
    return out;
}

/* One bucket's join: the backup's rows in memory (an arena of records and an open-addressing
 * table on their key hash), the live rows streamed against them. */
typedef struct {
    emitter *e;
    dtable *t;
    size_t ncols;
    uint8_t *arena;               /* the backup bucket's records */
    size_t alen;
    slot *tab;
    size_t cap;                   /* a power of two, at least twice the rows */
    diffrow_field *bf, *lf;       /* fields of a backup row, of a live row */
    int kinds;                    /* what goes into the script (DIFF_*), 0 without --sql */
} joiner;

static int key_not_unique(joiner *b, const uint8_t *row, const diffrow_field *f, const char *where, char *err,
                          size_t errlen)
{
    char kt[512];
    pf_err(err, errlen, "%s.%s: key (%s) is not unique in the %s: the %s columns do not identify a row",
           b->t->schema, b->t->name, key_text(b->e, row, f, kt, sizeof kt), where, b->t->key_source);
    return -2;
}

/* The slot of the backup row whose key equals the row's (fields f), or NULL. fb receives
 * the probed rows' fields. */
static slot *bucket_find(joiner *b, uint64_t h, const uint8_t *row, const diffrow_field *f, diffrow_field *fb)
{
    char err[PF_ERRLEN];
    for (size_t i = (size_t)h & (b->cap - 1); b->tab[i].used; i = (i + 1) & (b->cap - 1)) {
        slot *sl = &b->tab[i];
        if (sl->h == h &&
            diffrow_fields(b->t->fmt, b->arena + sl->off, sl->len, b->ncols, fb, err, sizeof err) == 0 &&
            key_equal(b->t, row, f, b->arena + sl->off, fb))
            return sl;
    }
    return NULL;
}

/* Reads the backup bucket's file into the arena (then removes the file) and builds the
 * table; a key seen twice is an error (-2). */
static int bucket_load(joiner *b, part_ctx *pc, unsigned k, char *err, size_t errlen)
{
    if (read_all(pc->bk[k].f, &b->arena, &b->alen, pc->bk[k].path, err, errlen) < 0)
        return -1;
    fclose(pc->bk[k].f);
    pc->bk[k].f = NULL;
    unlink(pc->bk[k].path);
    size_t nrows = 0;
    for (size_t at = 0; at + REC_HDR <= b->alen; at += REC_HDR + pf_get_le32(b->arena + at + 8))
        nrows++;
    for (b->cap = 16; b->cap < nrows * 2;)
        b->cap *= 2;
    if (!(b->tab = calloc(b->cap, sizeof *b->tab)))
        return pf_err(err, errlen, "out of memory");
    for (size_t at = 0; at + REC_HDR <= b->alen;) {
        uint64_t h = pf_get_le64(b->arena + at);
        uint32_t len = pf_get_le32(b->arena + at + 8);
        const uint8_t *row = b->arena + at + REC_HDR;
        if (diffrow_fields(b->t->fmt, row, len, b->ncols, b->bf, err, errlen) < 0)
            return -1;
        if (bucket_find(b, h, row, b->bf, b->lf))
            return key_not_unique(b, row, b->bf, "backup", err, errlen);
        size_t i = (size_t)h & (b->cap - 1);
        while (b->tab[i].used)
            i = (i + 1) & (b->cap - 1);
        b->tab[i] = (slot){.h = h, .off = at + REC_HDR, .len = len, .used = 1};
        at += REC_HDR + len;
    }
    return 0;
}

/* One live row against the table: added, unchanged or changed (and its statement). */
static int bucket_probe_row(joiner *b, uint64_t h, const uint8_t *lrow, uint32_t len, diff_table_result *res,
                            char *err, size_t errlen)
{
    if (diffrow_fields(b->t->fmt, lrow, len, b->ncols, b->lf, err, errlen) < 0)
        return -1;
    slot *hit = bucket_find(b, h, lrow, b->lf, b->bf);
    if (!hit) {
        res->added++;
        return (b->kinds & DIFF_ADDED) ? emit_delete(b->e, lrow, b->lf, err, errlen) : 0;
    }
    if (hit->seen)
        return key_not_unique(b, lrow, b->lf, "database", err, errlen);
    hit->seen = 1;
    const uint8_t *brow = b->arena + hit->off;
    if (hit->len == len && memcmp(brow, lrow, len) == 0) {
        res->unchanged++;
        return 0;
    }
    res->changed++;
    return (b->kinds & DIFF_CHANGED) ? emit_update(b->e, brow, b->bf, lrow, b->lf, err, errlen) : 0;
}

static int grow(uint8_t **p, size_t *cap, size_t want)
{
    uint8_t *n = realloc(*p, want);
    if (!n)
        return -1;
    *p = n;
    *cap = want;
    return 0;
}

/* Streams the live bucket's records through bucket_probe_row. */
static int bucket_probe(joiner *b, FILE *lfp, const char *path, diff_table_result *res, char *err, size_t errlen)
{
    if (fflush(lfp) != 0)
        return pf_err(err, errlen, "%s: %s", path, strerror(errno));
    rewind(lfp);
    uint8_t hdr[REC_HDR], *lrow = NULL;
    size_t lcap = 0;
    int rc = 0;
    while (rc == 0 && fread(hdr, 1, REC_HDR, lfp) == REC_HDR) {
        uint32_t len = pf_get_le32(hdr + 8);
        if (stopped(b->e->s)) {
            rc = pf_err(err, errlen, "interrupted");
        } else if (len > lcap && grow(&lrow, &lcap, len) < 0) {
            rc = pf_err(err, errlen, "out of memory");
        } else if (fread(lrow, 1, len, lfp) != len) {
            rc = pf_err(err, errlen, "%s: short read", path);
        } else {
            rc = bucket_probe_row(b, pf_get_le64(hdr), lrow, len, res, err, errlen);
        }
    }
    free(lrow);
    if (rc == 0 && ferror(lfp))
        rc = pf_err(err, errlen, "%s: read error", path);
    return rc;
}

/* The backup rows no live row matched: deleted since the backup; with --sql, INSERTs for
 * them (binary rows rendered by the server a batch at a time). */
static int bucket_emit_deleted(joiner *b, diff_table_result *res, char *err, size_t errlen)
{
    emitter *e = b->e;
    const uint8_t **qrows = NULL;
    uint32_t *qlens = NULL;
    int nq = 0, rc = 0;
    if ((b->kinds & DIFF_DELETED) && e->batch > 1) {
        qrows = calloc((size_t)e->batch, sizeof *qrows);
        qlens = calloc((size_t)e->batch, sizeof *qlens);
        if (!qrows || !qlens)
            rc = pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < b->cap; i++) {
        if (!b->tab[i].used || b->tab[i].seen)
            continue;
        res->deleted++;
        if (!(b->kinds & DIFF_DELETED))
            continue;
        const uint8_t *brow = b->arena + b->tab[i].off;
        if (e->batch > 1) {
            qrows[nq] = brow;
            qlens[nq++] = b->tab[i].len;
            if (nq == e->batch) {
                rc = insert_batch(e, qrows, qlens, nq, err, errlen);
                nq = 0;
            }
        } else if (diffrow_fields(b->t->fmt, brow, b->tab[i].len, b->ncols, b->bf, err, errlen) < 0) {
            rc = -1;
        } else {
            rc = emit_insert(e, brow, b->bf, err, errlen);
        }
    }
    if (rc == 0 && nq > 0)
        rc = insert_batch(e, qrows, qlens, nq, err, errlen);
    free(qrows);
    free(qlens);
    return rc < 0 ? -1 : 0;
}

static int join_bucket(emitter *e, part_ctx *pc, unsigned k, diff_table_result *res, char *err, size_t errlen)
{
    dtable *t = pc->t;
    joiner b = {.e = e, .t = t, .ncols = t->mt->ncols, .kinds = e->s->o->sql_path ? e->s->o->sql_kinds : 0};
    b.bf = calloc(b.ncols + 1, sizeof *b.bf);
    b.lf = calloc(b.ncols + 1, sizeof *b.lf);
    int rc = (!b.bf || !b.lf) ? pf_err(err, errlen, "out of memory") : bucket_load(&b, pc, k, err, errlen);
    if (rc == 0)
        rc = bucket_probe(&b, pc->lv[k].f, pc->lv[k].path, res, err, errlen);
    if (rc == 0)
        rc = bucket_emit_deleted(&b, res, err, errlen);
    if (pc->lv[k].f) {
        fclose(pc->lv[k].f);
        pc->lv[k].f = NULL;
        unlink(pc->lv[k].path);
    }
    free(b.arena);
    free(b.tab);
    free(b.bf);
    free(b.lf);
    return rc;
}

/* ---- one table -------------------------------------------------------------------------- */

static unsigned max_buckets(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 2 * MAX_BUCKETS + 256) {
            rl.rlim_cur = rl.rlim_max < 2 * MAX_BUCKETS + 256 ? rl.rlim_max : 2 * MAX_BUCKETS + 256;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * MAX_BUCKETS + 256)
            return rl.rlim_cur > 200 ? (unsigned)((rl.rlim_cur - 128) / 2) : 32;
    }
    return MAX_BUCKETS;
}

static int open_parts(dstate *s, size_t ti, emitter *e, char *err, size_t errlen)
{
    char path[4200];
    const char *ext[3] = {"del", "ins", "upd"};
    FILE **f[3] = {&e->del, &e->ins, &e->upd};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%zu.%s.sql", s->tmp, ti, ext[i]);
        if (!(*f[i] = fopen(path, "w+")))
            return pf_err(err, errlen, "%s: %s", path, strerror(errno));
    }
    return 0;
}

/* The bucket count for a table: a bucket's rows plus its hash table (about 32 bytes a row)
 * within the work-memory budget, each bucket's bytes aimed at half of it. */
static unsigned bucket_count(const dstate *s, const manifest_table *mt)
{
    uint64_t budget = s->o->work_mem ? s->o->work_mem : DIFF_DEFAULT_WORK_MEM;
    uint64_t per = budget / 2 > 4096 ? budget / 2 : 4096;
    uint64_t want = (mt->raw_bytes + mt->rows * 32) / per + 1;
    unsigned mb = max_buckets();
    return want > mb ? mb : (unsigned)want;
}

/* Opens the table's backup and live bucket files in the temp directory. */
static int part_open(part_ctx *pc, size_t ti, char *err, size_t errlen)
{
    pc->bk = calloc(pc->nb, sizeof *pc->bk);
    pc->lv = calloc(pc->nb, sizeof *pc->lv);
    if (!pc->bk || !pc->lv)
        return pf_err(err, errlen, "out of memory");
    for (unsigned k = 0; k < pc->nb; k++) {
        pthread_mutex_init(&pc->bk[k].mu, NULL);
        snprintf(pc->bk[k].path, sizeof pc->bk[k].path, "%s/%zu.b%u", pc->s->tmp, ti, k);
        snprintf(pc->lv[k].path, sizeof pc->lv[k].path, "%s/%zu.l%u", pc->s->tmp, ti, k);
        if (!(pc->bk[k].f = fopen(pc->bk[k].path, "w+")) || !(pc->lv[k].f = fopen(pc->lv[k].path, "w+")))
            return pf_err(err, errlen, "%s: %s", pc->bk[k].f ? pc->lv[k].path : pc->bk[k].path, strerror(errno));
    }
    return 0;
}

static void part_close(part_ctx *pc)
{
    for (unsigned k = 0; k < pc->nb && pc->bk; k++) {
        if (pc->bk[k].f) {
            fclose(pc->bk[k].f);
            unlink(pc->bk[k].path);
        }
        pthread_mutex_destroy(&pc->bk[k].mu);
    }
    for (unsigned k = 0; k < pc->nb && pc->lv; k++)
        if (pc->lv[k].f) {
            fclose(pc->lv[k].f);
            unlink(pc->lv[k].path);
        }
    free(pc->bk);
    free(pc->lv);
    pthread_mutex_destroy(&pc->mu);
}

/* Partitions both sides into the buckets: the backup's chunks on up to `jobs` threads,
 * the live COPY on this one. */
static int partition(part_ctx *pc, char *err, size_t errlen)
{
    dstate *s = pc->s;
    size_t nthreads = (size_t)(s->o->jobs > 0 ? s->o->jobs : 1);
    if (nthreads > pc->t->mt->nchunks)
        nthreads = pc->t->mt->nchunks;
    pthread_t th[256];
    size_t started = 0;
    for (; started < nthreads && started < 256; started++)
        if (pthread_create(&th[started], NULL, backup_reader, pc) != 0) {
            part_fail(pc, "could not start a reader thread");
            break;
        }
    char lerr[PF_ERRLEN];
    if (read_live(pc, lerr, sizeof lerr) < 0)
        part_fail(pc, stopped(s) ? "interrupted" : lerr);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (pc->failed)
        return pf_err(err, errlen, "%s", pc->err);
    if (stopped(s))
        return pf_err(err, errlen, "interrupted");
    return 0;
}

/* Prepares statement `name` of `q` with nparams binary parameters, the columns' types
 * repeated. */
static int prepare_typed(dstate *s, dtable *t, const char *name, const char *q, size_t nparams, char *err,
                         size_t errlen)
{
    size_t nc = t->mt->ncols;
    Oid *types = calloc(nparams + 1, sizeof *types);
    if (!q || !types) {
        free(types);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t x = 0; x < nparams; x++)
        types[x] = t->typoids[x % nc];
    PGresult *r = PQprepare(s->conn, name, q, (int)nparams, types);
    free(types);
    char line[PF_ERRLEN];
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pf_err(err, errlen, "%s.%s: %s", t->schema, t->name, pgconn_result_errline(r, line, sizeof line));
    PQclear(r);
    return rc;
}

/* Binary rows are rendered as text by the server for the script (and for naming a key in
 * an error): SELECT $1, $2, ... with binary parameters of the columns' types, one row at a
 * time, and the deleted rows' INSERTs `batch` rows at a time. */
static int prepare_render(emitter *e, size_t ti, char *err, size_t errlen)
{
    dtable *t = e->t;
    size_t nc = t->mt->ncols;
    diffrow_buf q = {0};
    char num[32];
    diffrow_buf_puts(&q, "SELECT ");
    for (size_t c = 0; c < nc; c++) {
        snprintf(num, sizeof num, "%s$%zu", c ? ", " : "", c + 1);
        diffrow_buf_puts(&q, num);
    }
    snprintf(e->stmt, sizeof e->stmt, "pgferry_render_%zu", ti);
    int rc = prepare_typed(e->s, t, e->stmt, q.p, nc, err, errlen);
    diffrow_buf_free(&q);
    if (rc < 0)
        return -1;
    e->batch = render_batch_size(t);
    if (!e->s->o->sql_path || !(e->s->o->sql_kinds & DIFF_DELETED) || e->batch <= 1) {
        e->batch = 0;
        return 0;
    }
    diffrow_buf bq = {0};
    if (batch_sql(t, e->batch, &bq) < 0) {
        diffrow_buf_free(&bq);
        return pf_err(err, errlen, "out of memory");
    }
    snprintf(e->bstmt, sizeof e->bstmt, "pgferry_render_batch_%zu", ti);
    rc = prepare_typed(e->s, t, e->bstmt, bq.p, (size_t)e->batch * nc, err, errlen);
    diffrow_buf_free(&bq);
    return rc;
}

static int emitter_close(emitter *e, int rc, char *err, size_t errlen)
{
    if (e->res)
        PQclear(e->res);
    diffrow_buf_free(&e->scratch);
    free(e->vals);
    free(e->voff);
    FILE *f[3] = {e->del, e->ins, e->upd};
    for (int i = 0; i < 3; i++)
        if (f[i] && fclose(f[i]) != 0 && rc == 0)
            rc = pf_err(err, errlen, "writing the script's parts in %s: %s", e->s->tmp, strerror(errno));
    return rc;
}

static int diff_table(dstate *s, size_t ti, diff_table_result *res, char *err, size_t errlen)
{
    dtable *t = &s->t[ti];
    part_ctx pc = {.s = s, .t = t, .nb = bucket_count(s, t->mt)};
    pthread_mutex_init(&pc.mu, NULL);
    res->buckets = pc.nb;
    emitter e = {.s = s, .t = t};
    e.vals = calloc(t->mt->ncols + 1, sizeof *e.vals);
    e.voff = calloc(t->mt->ncols + 1, sizeof *e.voff);
    int rc = (!e.vals || !e.voff) ? pf_err(err, errlen, "out of memory") : part_open(&pc, ti, err, errlen);
    if (rc == 0 && s->o->sql_path)
        rc = open_parts(s, ti, &e, err, errlen);
    if (rc == 0)
        rc = partition(&pc, err, errlen);
    if (rc == 0) {
        res->backup_rows = pc.backup_rows;
        res->live_rows = pc.live_rows;
        if (t->fmt == COPYROWS_BINARY)
            rc = prepare_render(&e, ti, err, errlen);
    }
    for (unsigned k = 0; rc == 0 && k < pc.nb; k++)
        rc = join_bucket(&e, &pc, k, res, err, errlen);
    part_close(&pc);
    return emitter_close(&e, rc, err, errlen);
}

/* ---- the script ------------------------------------------------------------------------- */

typedef struct {
    io_writer *w;
    FILE *out;
} sink;

static int sink_put(sink *k, const void *d, size_t n, char *err, size_t errlen)
{
    if (k->w)
        return io_writer_write(k->w, d, n, err, errlen);
    if (fwrite(d, 1, n, k->out) != n)
        return pf_err(err, errlen, "write to standard output failed");
    return 0;
}

static int sink_puts(sink *k, const char *s, char *err, size_t errlen) { return sink_put(k, s, strlen(s), err, errlen); }

static int sink_file(sink *k, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return pf_err(err, errlen, "%s: %s", path, strerror(errno));
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        rc = sink_put(k, buf, n, err, errlen);
    if (rc == 0 && ferror(f))
        rc = pf_err(err, errlen, "%s: read error", path);
    fclose(f);
    return rc;
}

static int write_script(dstate *s, const diff_result *res, char *err, size_t errlen)
{
    const diff_options *o = s->o;
    sink k = {0};
    if (strcmp(o->sql_path, "-") == 0) {
        k.out = stdout;
    } else {
        k.w = io_writer_open(o->sql_path, 0600, IO_MODE_PLAIN, err, errlen);
        if (!k.w)
            return -1;
    }
    char line[8192];
    uint64_t del = 0, ins = 0, upd = 0;
    for (size_t i = 0; i < res->n; i++) {
        del += (o->sql_kinds & DIFF_ADDED) ? res->t[i].added : 0;
        ins += (o->sql_kinds & DIFF_DELETED) ? res->t[i].deleted : 0;
        upd += (o->sql_kinds & DIFF_CHANGED) ? res->t[i].changed : 0;
    }
    snprintf(line, sizeof line,
             "-- pgferry diff: puts back the rows of %zu table%s as they were in backup %s\n"
             "-- (%llu INSERT of rows deleted since, %llu UPDATE of rows changed since, %llu DELETE of rows added "
             "since)\n"
             "-- One transaction: run it with psql -v ON_ERROR_STOP=1 -f FILE\n"
             "SET client_encoding = 'UTF8';\n"
             "SET standard_conforming_strings = on;\n"
             "BEGIN;\n"
             "SET LOCAL DateStyle = ISO;\nSET LOCAL IntervalStyle = postgres;\nSET LOCAL TimeZone = 'UTC';\n"
             "SET LOCAL extra_float_digits = 3;\nSET LOCAL search_path = pg_catalog;\n"
             "SET CONSTRAINTS ALL DEFERRED;\n",
             res->n, res->n == 1 ? "" : "s", o->backup_name ? o->backup_name : o->dir, (unsigned long long)ins,
             (unsigned long long)upd, (unsigned long long)del);
    int rc = sink_puts(&k, line, err, errlen);
    /* DELETE children first; INSERT and UPDATE parents first (s->t is parents first) */
    const char *part[3] = {"del", "ins", "upd"};
    for (int p = 0; p < 3 && rc == 0; p++) {
        for (size_t j = 0; j < s->nt && rc == 0; j++) {
            size_t i = p == 0 ? s->nt - 1 - j : j;
            uint64_t n = p == 0 ? res->t[i].added : p == 1 ? res->t[i].deleted : res->t[i].changed;
            int kind = p == 0 ? DIFF_ADDED : p == 1 ? DIFF_DELETED : DIFF_CHANGED;
            if (!(o->sql_kinds & kind) || n == 0)
                continue;
            snprintf(line, sizeof line, "\n-- %s: %s %llu row%s %s since the backup\n", s->t[i].qname,
                     p == 0 ? "delete" : p == 1 ? "insert" : "update", (unsigned long long)n, n == 1 ? "" : "s",
                     p == 0 ? "added" : p == 1 ? "deleted" : "changed");
            char path[4200];
            snprintf(path, sizeof path, "%s/%zu.%s.sql", s->tmp, i, part[p]);
            rc = sink_puts(&k, line, err, errlen);
            if (rc == 0)
                rc = sink_file(&k, path, err, errlen);
        }
    }
    if (rc == 0)
        rc = sink_puts(&k, "\nCOMMIT;\n", err, errlen);
    if (k.w) {
        if (rc == 0)
            rc = io_writer_commit(k.w, err, errlen);
        else
            io_writer_abort(k.w);
    } else if (rc == 0 && fflush(stdout) != 0) {
        rc = pf_err(err, errlen, "write to standard output failed");
    }
    return rc;
}

/* ---- driver ----------------------------------------------------------------------------- */

static void remove_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char path[4400];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

/* The run's temporary directory (buckets, the script's parts): under --tmpdir, else
 * $TMPDIR, else /tmp. */
static int make_tmp(dstate *s, char *err, size_t errlen)
{
    const char *base = s->o->tmpdir ? s->o->tmpdir : getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(s->tmp, sizeof s->tmp, "%s/pgferry-diff-XXXXXX", base);
    if (!mkdtemp(s->tmp)) {
        s->tmp[0] = '\0';
        return pf_err(err, errlen, "temporary directory in %s: %s", base, strerror(errno));
    }
    return 0;
}

/* One result per compared table, named, with its key. */
static int result_tables(dstate *s, diff_result *res, char *err, size_t errlen)
{
    res->t = calloc(s->nt + 1, sizeof *res->t);
    if (!res->t)
        return pf_err(err, errlen, "out of memory");
    res->n = s->nt;
    for (size_t i = 0; i < s->nt; i++) {
        diff_table_result *tr = &res->t[i];
        dtable *t = &s->t[i];
        tr->schema = strdup(t->schema);
        tr->name = strdup(t->name);
        tr->key = calloc(t->nkey + 1, sizeof *tr->key);
        if (!tr->schema || !tr->name || !tr->key)
            return pf_err(err, errlen, "out of memory");
        tr->nkey = t->nkey;
        for (size_t k = 0; k < t->nkey; k++)
            if (!(tr->key[k] = strdup(t->key[k])))
                return pf_err(err, errlen, "out of memory");
        tr->key_source = t->key_source;
        tr->cascaded = t->cascaded;
    }
    return 0;
}

int diff_run(const diff_options *o, diff_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    double start = pf_now();
    dstate s;
    memset(&s, 0, sizeof s);
    s.o = o;
    int rc = -1;
    if (!(s.st = store_open(o->dir, 0, err, errlen)))
        return -1;
    if (manifest_read_key(s.st, o->passphrase, &s.m, err, errlen) < 0) {
        store_close(s.st);
        return -1;
    }
    s.have_m = 1;
    s.conn = pgconn_open(o->conninfo, err, errlen);
    if (!s.conn)
        goto out;
    for (size_t i = 0; i < o->ntables; i++)
        if ((rc = resolve_name(&s, o->tables[i], err, errlen)) < 0)
            goto out;
    rc = -1;
    if (pgconn_exec(s.conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "begin", err, errlen) < 0)
        goto out;
    if (o->cascade && add_cascade(&s, err, errlen) < 0)
        goto out;
    for (size_t i = 0; i < s.nt; i++)
        if ((rc = describe(&s, &s.t[i], err, errlen)) < 0)
            goto out;
    rc = -1;
    if (check_types(&s, err, errlen) < 0 || order_tables(&s, err, errlen) < 0)
        goto out;
    if (make_tmp(&s, err, errlen) < 0 || result_tables(&s, res, err, errlen) < 0)
        goto out;
    for (size_t i = 0; i < s.nt; i++)
        if ((rc = diff_table(&s, i, &res->t[i], err, errlen)) < 0)
            goto out;
    rc = -1;
    pgconn_exec(s.conn, "COMMIT", "commit", err, errlen);
    res->statements = s.statements;
    if (o->sql_path && write_script(&s, res, err, errlen) < 0)
        goto out;
    res->seconds = pf_now() - start;
    rc = 0;
out:
    if (s.tmp[0])
        remove_tmp(s.tmp);
    if (s.conn)
        PQfinish(s.conn);
    for (size_t i = 0; i < s.nt; i++)
        dtable_free(&s.t[i]);
    free(s.t);
    diffrow_buf_free(&s.sql);
    if (s.have_m)
        manifest_free(&s.m);
    store_close(s.st);
    if (rc < 0)
        diff_result_free(res);
    return rc;
}

void diff_result_free(diff_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->t[i].schema);
        free(r->t[i].name);
        if (r->t[i].key)
            free_strv(r->t[i].key, r->t[i].nkey);
    }
    free(r->t);
    memset(r, 0, sizeof *r);
}
