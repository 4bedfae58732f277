#include "engine/catalog.h"

#include "common/pf_util.h"
#include "engine/pgconn.h"
#include "engine/profile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable strings ---------------------------------------------------------------- */

typedef struct { char *s; size_t len, cap; int oom; } sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}
static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(sbuf *b, char c) { sb_putn(b, &c, 1); }

/* ---- patterns -------------------------------------------------------------------------- */

int catalog_pattern_regex(const char *pattern, char **schema_re, char **name_re,
                          char *err, size_t errlen)
{
    /* Mirrors patternToSQLRegex() in PostgreSQL's fe_utils/string_utils.c. */
    sbuf parts[2] = {{0}, {0}};
    int cur = 0, inquotes = 0;
    sb_puts(&parts[0], "^(");
    for (const char *cp = pattern; *cp;) {
        char ch = *cp;
        if (ch == '"') {
            if (inquotes && cp[1] == '"') {
                sb_putc(&parts[cur], '"');
                cp++;
            } else
                inquotes = !inquotes;
            cp++;
        } else if (!inquotes && isupper((unsigned char)ch)) {
            sb_putc(&parts[cur], (char)tolower((unsigned char)ch));
            cp++;
        } else if (!inquotes && ch == '*') {
            sb_puts(&parts[cur], ".*");
            cp++;
        } else if (!inquotes && ch == '?') {
            sb_putc(&parts[cur], '.');
            cp++;
        } else if (!inquotes && ch == '.') {
            if (cur == 1) {
                free(parts[0].s);
                free(parts[1].s);
                return pf_err(err, errlen, "improper qualified name (too many dotted names): %s", pattern);
            }
            cur = 1;
            sb_puts(&parts[cur], "^(");
            cp++;
        } else if (ch == '$') {
            sb_puts(&parts[cur], "\\$");
            cp++;
        } else {
            if (inquotes && strchr("|*+?()[]{}.^\\", ch))
                sb_putc(&parts[cur], '\\');
            else if (ch == '[' && cp[1] == ']')
                sb_putc(&parts[cur], '\\');
            sb_putc(&parts[cur], ch);
            cp++;
        }
    }
    if (inquotes) {
        free(parts[0].s);
        free(parts[1].s);
        return pf_err(err, errlen, "unterminated quoted identifier in pattern: %s", pattern);
    }
    for (int i = 0; i <= cur; i++)
        sb_puts(&parts[i], ")$");
    if (parts[0].oom || parts[1].oom) {
        free(parts[0].s);
        free(parts[1].s);
        return pf_err(err, errlen, "out of memory");
    }
    if (cur == 1) {
        *schema_re = parts[0].s;
        *name_re = parts[1].s;
    } else {
        *schema_re = NULL;
        *name_re = parts[0].s;
    }
    return 0;
}

/* ---- oid sets as array literals ------------------------------------------------------ */

/* Appends the oids found by `sql` (run with the two regex parameters) to `arr`, an array
 * literal under construction that starts with "{". Returns how many, -1 on error. */
static long collect_oids(PGconn *c, const char *sql, const char *schema_re, const char *name_re,
                         sbuf *arr, char *err, size_t errlen)
{
    const char *params[2] = {schema_re, name_re};
    PGresult *r = pgconn_query(c, sql, 2, params, "pattern lookup", err, errlen);
    if (!r)
        return -1;
    long n = PQntuples(r);
    for (long i = 0; i < n; i++) {
        if (arr->len > 1)
            sb_putc(arr, ',');
        sb_puts(arr, PQgetvalue(r, (int)i, 0));
    }
    PQclear(r);
    return n;
}

static const char *const table_pattern_sql =
    "SELECT c.oid FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
    " WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r','p','v','m','S','f']::\"char\"[])"
    " AND c.relname OPERATOR(pg_catalog.~) $2::text COLLATE pg_catalog.default"
    " AND CASE WHEN $1::text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid)"
    "     ELSE n.nspname OPERATOR(pg_catalog.~) $1::text COLLATE pg_catalog.default END";

static const char *const schema_pattern_sql =
    "SELECT n.oid FROM pg_catalog.pg_namespace n"
    " WHERE $1::text IS NULL AND n.nspname OPERATOR(pg_catalog.~) $2::text COLLATE pg_catalog.default";

/* Expands patterns into an oid array literal. `strict`: a pattern with no match is an
 * error naming it. */
static int expand_patterns(PGconn *c, const char **pats, size_t n, int is_table, int strict,
                           const char *opt, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (n == 0)
        return 0;
    sbuf arr = {0};
    sb_puts(&arr, "{");
    for (size_t i = 0; i < n; i++) {
        char *sre = NULL, *nre = NULL;
        if (catalog_pattern_regex(pats[i], &sre, &nre, err, errlen) < 0) {
            free(arr.s);
            return -1;
        }
        if (!is_table && sre) {
            free(sre);
            free(nre);
            free(arr.s);
            return pf_err(err, errlen, "improper qualified name in %s pattern: %s", opt, pats[i]);
        }
        long found = collect_oids(c, is_table ? table_pattern_sql : schema_pattern_sql, sre, nre,
                                  &arr, err, errlen);
        free(sre);
        free(nre);
        if (found < 0) {
            free(arr.s);
            return -1;
        }
        if (found == 0 && strict) {
            free(arr.s);
            return pf_err(err, errlen, "no %s matched pattern \"%s\" (%s)",
                          is_table ? "table" : "schema", pats[i], opt);
        }
    }
    sb_puts(&arr, "}");
    if (arr.oom) {
        free(arr.s);
        return pf_err(err, errlen, "out of memory");
    }
    *out = arr.s;
    return 0;
}

/* Oids of an exact list of tables, as an oid[] literal ("{}" when none exist). */
static int expand_exact(PGconn *c, const catalog_filter *f, char **out, char *err, size_t errlen)
{
    sbuf s = {0}, n = {0};
    sb_putc(&s, '{');
    sb_putc(&n, '{');
    for (size_t i = 0; i < f->n_exact; i++) {
        /* array literal elements, double-quoted with \ and " escaped */
        const char *parts[2] = {f->exact_schemas[i], f->exact_names[i]};
        sbuf *dst[2] = {&s, &n};
        for (int k = 0; k < 2; k++) {
            if (i)
                sb_putc(dst[k], ',');
            sb_putc(dst[k], '"');
            for (const char *p = parts[k]; *p; p++) {
                if (*p == '"' || *p == '\\')
                    sb_putc(dst[k], '\\');
                sb_putc(dst[k], *p);
            }
            sb_putc(dst[k], '"');
        }
    }
    sb_putc(&s, '}');
    sb_putc(&n, '}');
    *out = NULL;
    if (s.oom || n.oom) {
        free(s.s);
        free(n.s);
        return pf_err(err, errlen, "out of memory");
    }
    const char *params[2] = {s.s, n.s};
    PGresult *r = pgconn_query(c,
        "SELECT coalesce(pg_catalog.array_agg(c.oid)::text, '{}') FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace"
        " JOIN ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS x(s, r)"
        "   ON ns.nspname = x.s AND c.relname = x.r"
        " WHERE c.relkind IN ('r', 'p')",
        2, params, "look up tables", err, errlen);
    free(s.s);
    free(n.s);
    if (!r)
        return -1;
    *out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* ---- catalog --------------------------------------------------------------------------- */

static char *dupv(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

/* Tables of the dump: leaf tables with rows to copy, and the TABLE-kind relations
 * (partitioned tables, --exclude-table-data, --no-unlogged-table-data) whose definition is
 * dumped without rows: column 9 says why (NULL: rows are copied). The selection follows
 * pg_dump: -t picks tables (and, unlike pg_dump 15, the partitions of a picked partitioned
 * table); without -t, -n/-N pick schemas; -T takes a table and its partitions out. */
static const char *const tables_sql =
    "SELECT c.oid, n.nspname, c.relname, c.relpersistence,"
    "  coalesce(am.amname = 'heap', true),"
    "  rn.nspname, rc.relname,"
    "  pg_catalog.pg_relation_size(c.oid),"
    "  CASE WHEN c.reltoastrelid <> 0 THEN pg_catalog.pg_relation_size(c.reltoastrelid) ELSE 0 END,"
    "  CASE WHEN c.relkind = 'p' THEN 'partitioned'"
    "       WHEN c.oid = ANY(coalesce($5::oid[], '{}')) THEN 'excluded'"
    "       WHEN c.relpersistence = 'u' AND $6::bool THEN 'unlogged' END"
    " FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam"
    " LEFT JOIN pg_catalog.pg_class rc ON c.relispartition AND rc.oid = pg_catalog.pg_partition_root(c.oid)"
    " LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'"
    "  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
    "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    "                  AND d.objid = c.oid AND d.deptype = 'e')"
    "  AND CASE WHEN $1::oid[] IS NOT NULL THEN"
    "        c.oid = ANY($1::oid[]) OR EXISTS (SELECT 1 FROM pg_catalog.pg_partition_ancestors(c.oid) a"
    "                                          WHERE a.relid = ANY($1::oid[]))"
    "      ELSE ($3::oid[] IS NULL OR n.oid = ANY($3::oid[])) AND NOT (n.oid = ANY(coalesce($4::oid[], '{}')))"
    "      END"
    /* pg_partition_ancestors() is empty for a table that is not a partition */
    "  AND NOT c.oid = ANY(coalesce($2::oid[], '{}'))"
    "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_partition_ancestors(c.oid) a"
    "                  WHERE a.relid = ANY(coalesce($2::oid[], '{}')))"
    " ORDER BY n.nspname, c.relname";

/* Exact pg_dump patterns for a set of relations: a double-quoted name matches only itself
 * (wildcards and dots inside quotes are literal; "" is a quote). */
#define QUOTED_NAME \
    "'\"' || pg_catalog.replace(n.nspname, '\"', '\"\"') || '\".\"' || pg_catalog.replace(c.relname, '\"', '\"\"') || '\"'"
static const char *const pgdump_tables_sql =
    "SELECT " QUOTED_NAME " FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.oid = ANY($1::oid[]) OR (c.relispartition AND EXISTS ("
    "   SELECT 1 FROM pg_catalog.pg_partition_ancestors(c.oid) a WHERE a.relid = ANY($1::oid[])))"
    " ORDER BY 1";
static const char *const pgdump_schemas_sql =
    "SELECT '\"' || pg_catalog.replace(n.nspname, '\"', '\"\"') || '\"' FROM pg_catalog.pg_namespace n"
    " WHERE n.oid = ANY($1::oid[]) ORDER BY 1";

/* Binary COPY values embed type OIDs for arrays, composites and ranges, and extension
 * types may lack binary I/O: only built-in types with send/receive functions, enums, and
 * domains over those are loaded the same into any database. Everything else is text. */
static const char *const columns_sql =
    "SELECT a.attrelid, a.attname,"
    "  (bt.oid < 16384 OR bt.typtype = 'e') AND bt.typsend <> 0 AND bt.typreceive <> 0"
    " FROM pg_catalog.pg_attribute a"
    " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    " JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
    " WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
    " ORDER BY a.attrelid, a.attnum";

static const char *const sequences_sql =
    "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind = 'S' AND c.relpersistence <> 't'"
    "  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
    "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    "                  AND d.objid = c.oid AND d.deptype = 'e')"
    "  AND CASE WHEN $1::oid[] IS NOT NULL THEN"
    "        c.oid = ANY($1::oid[]) OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
    "          WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid"
    "            AND d.deptype IN ('a', 'i') AND d.refobjid = ANY($5::oid[]))"
    "      ELSE ($3::oid[] IS NULL OR n.oid = ANY($3::oid[])) AND NOT (n.oid = ANY(coalesce($4::oid[], '{}')))"
    "      END"
    "  AND NOT (c.oid = ANY(coalesce($2::oid[], '{}')))"
    " ORDER BY n.nspname, c.relname";

static int load_columns(PGconn *c, catalog *cat, const char *oids, char *err, size_t errlen)
{
    const char *p[1] = {oids};
    PGresult *r = pgconn_query(c, columns_sql, 1, p, "read columns", err, errlen);
    if (!r)
        return -1;
    int n = PQntuples(r);
    size_t t = 0;
    for (int i = 0; i < n;) {
        uint32_t oid = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        while (t < cat->ntables && cat->tables[t].oid != oid)
            t++; /* both sides are in oid order */
        if (t == cat->ntables)
            break;
        int j = i;
        while (j < n && (uint32_t)strtoul(PQgetvalue(r, j, 0), NULL, 10) == oid)
            j++;
        catalog_table *tb = &cat->tables[t];
        tb->cols = calloc((size_t)(j - i) + 1, sizeof(char *));
        if (!tb->cols) {
            PQclear(r);
            return pf_err(err, errlen, "out of memory");
        }
        tb->binary_ok = 1;
        for (int k = i; k < j; k++) {
            tb->cols[tb->ncols++] = strdup(PQgetvalue(r, k, 1));
            if (strcmp(PQgetvalue(r, k, 2), "t") != 0)
                tb->binary_ok = 0;
        }
        i = j;
    }
    PQclear(r);
    return 0;
}

static int cmp_table_oid(const void *a, const void *b)
{
    uint32_t x = ((const catalog_table *)a)->oid, y = ((const catalog_table *)b)->oid;
    return x < y ? -1 : x > y;
}

static int cmp_table_name(const void *a, const void *b)
{
    const catalog_table *x = a, *y = b;
    int s = strcmp(x->schema, y->schema);
    return s ? s : strcmp(x->name, y->name);
}

static int load_sequence_values(PGconn *c, catalog *cat, char *err, size_t errlen)
{
    /* One UNION ALL query per batch: thousands of serial columns must not cost thousands
     * of round trips. */
    const size_t batch = 200;
    for (size_t start = 0; start < cat->nseqs; start += batch) {
        size_t end = start + batch < cat->nseqs ? start + batch : cat->nseqs;
        sbuf q = {0};
        for (size_t i = start; i < end; i++) {
            char *qn = pgconn_qualified(c, cat->seqs[i].schema, cat->seqs[i].name);
            char head[64];
            snprintf(head, sizeof head, "%sSELECT %zu, last_value, is_called FROM ",
                     i > start ? " UNION ALL " : "", i);
            sb_puts(&q, head);
            sb_puts(&q, qn ? qn : "");
            free(qn);
        }
        if (q.oom) {
            free(q.s);
            return pf_err(err, errlen, "out of memory");
        }
        PGresult *r = pgconn_query(c, q.s, 0, NULL, "read sequence values", err, errlen);
        free(q.s);
        if (!r)
            return -1;
        for (int i = 0; i < PQntuples(r); i++) {
            size_t k = strtoul(PQgetvalue(r, i, 0), NULL, 10);
            cat->seqs[k].last_value = strtoll(PQgetvalue(r, i, 1), NULL, 10);
            cat->seqs[k].is_called = strcmp(PQgetvalue(r, i, 2), "t") == 0;
        }
        PQclear(r);
    }
    return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Puts the columns of table schema.name in the order given, when they are the same set. */
static void reorder_columns(catalog *cat, const char *schema, const char *name, char **want, size_t n)
{
    catalog_table key = {.schema = (char *)schema, .name = (char *)name};
    catalog_table *t = bsearch(&key, cat->tables, cat->ntables, sizeof *cat->tables, cmp_table_name);
    if (!t || t->ncols != n || n == 0)
        return;
    char **a = malloc(n * sizeof *a), **b = malloc(n * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    memcpy(a, t->cols, n * sizeof *a);
    memcpy(b, want, n * sizeof *b);
    qsort(a, n, sizeof *a, cmp_cstr);
    qsort(b, n, sizeof *b, cmp_cstr);
    int same = 1;
    for (size_t i = 0; i < n && same; i++)
        same = strcmp(a[i], b[i]) == 0;
    free(a);
    free(b);
    if (!same)
        return;
    char **cols = malloc((n + 1) * sizeof *cols);
    for (size_t i = 0; cols && i < n; i++)
        cols[i] = strdup(want[i]);
    for (size_t i = 0; cols && i < n; i++)
        if (!cols[i]) {
            for (size_t k = 0; k < n; k++)
                free(cols[k]);
            free(cols);
            return;
        }
    if (!cols)
        return;
    for (size_t i = 0; i < n; i++)
        free(t->cols[i]);
    free(t->cols);
    t->cols = cols;
}

/* Appends "opt", value for every row of sql run with the oid array param. */
static int add_pgdump_args(PGconn *c, catalog *cat, const char *sql, const char *oids, const char *opt,
                           char *err, size_t errlen)
{
    if (!oids)
        return 0;
    const char *p[1] = {oids};
    PGresult *r = pgconn_query(c, sql, 1, p, "resolve names for pg_dump", err, errlen);
    if (!r)
        return -1;
    size_t n = (size_t)PQntuples(r);
    char **a = realloc(cat->pgdump_args, (cat->npgdump_args + 2 * n + 1) * sizeof(char *));
    if (!a) {
        PQclear(r);
        return pf_err(err, errlen, "out of memory");
    }
    cat->pgdump_args = a;
    for (size_t i = 0; i < n; i++) {
        a[cat->npgdump_args] = strdup(opt);
        a[cat->npgdump_args + 1] = strdup(PQgetvalue(r, (int)i, 0));
        if (!a[cat->npgdump_args] || !a[cat->npgdump_args + 1]) {
            free(a[cat->npgdump_args]);
            free(a[cat->npgdump_args + 1]);
            PQclear(r);
            return pf_err(err, errlen, "out of memory");
        }
        cat->npgdump_args += 2;
    }
    PQclear(r);
    return 0;
}

static int load_tables(PGconn *c, const catalog_filter *f, catalog *cat, const char *const params[6],
                       char **oids_out, char *err, size_t errlen)
{
    PGresult *r = pgconn_query(c, tables_sql, 6, params, "read tables", err, errlen);
    if (!r)
        return -1;
    size_t n = (size_t)PQntuples(r);
    cat->tables = calloc(n + 1, sizeof *cat->tables);
    cat->nodata = calloc(n + 1, sizeof *cat->nodata);
    sbuf ob = {0};
    sb_putc(&ob, '{');
    if (!cat->tables || !cat->nodata)
        ob.oom = 1;
    for (size_t i = 0; i < n && !ob.oom; i++) {
        int row = (int)i;
        int platform = f->profile && PQgetisnull(r, row, 9) &&
                       profile_platform_rows(f->profile, PQgetvalue(r, row, 1), PQgetvalue(r, row, 2));
        if (!PQgetisnull(r, row, 9) || platform) {
            /* static strings: the reason is one of four words */
            const char *why = platform ? "platform" : PQgetvalue(r, row, 9);
            catalog_nodata *nd = &cat->nodata[cat->nnodata++];
            nd->schema = dupv(r, row, 1);
            nd->name = dupv(r, row, 2);
            nd->reason = !strcmp(why, "partitioned") ? "partitioned"
                         : !strcmp(why, "excluded")  ? "excluded"
                         : !strcmp(why, "platform")  ? "platform"
                                                     : "unlogged";
            continue;
        }
        catalog_table *t = &cat->tables[cat->ntables++];
        t->oid = (uint32_t)strtoul(PQgetvalue(r, row, 0), NULL, 10);
        t->schema = dupv(r, row, 1);
        t->name = dupv(r, row, 2);
        t->persistence = PQgetvalue(r, row, 3)[0];
        t->is_heap = strcmp(PQgetvalue(r, row, 4), "t") == 0;
        t->parent_schema = dupv(r, row, 5);
        t->parent_name = dupv(r, row, 6);
        t->main_bytes = strtoull(PQgetvalue(r, row, 7), NULL, 10);
        t->toast_bytes = strtoull(PQgetvalue(r, row, 8), NULL, 10);
        t->binary_ok = 1; /* until a column says otherwise (a table without columns stays so) */
        if (cat->ntables > 1)
            sb_putc(&ob, ',');
        sb_puts(&ob, PQgetvalue(r, row, 0));
    }
    sb_putc(&ob, '}');
    PQclear(r);
    *oids_out = ob.s;
    if (ob.oom)
        return pf_err(err, errlen, "out of memory");
    return 0;
}

/* Rows of sql as (schema, name[, reason]) entries: a NULL column stays NULL. */
static int load_named(PGconn *c, const char *sql, int nparams, const char *const *params, const char *what,
                      catalog_nodata **out, size_t *n, char *err, size_t errlen)
{
    PGresult *r = pgconn_query(c, sql, nparams, params, what, err, errlen);
    if (!r)
        return -1;
    *n = (size_t)PQntuples(r);
    *out = calloc(*n + 1, sizeof **out);
    if (!*out) {
        PQclear(r);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < *n; i++) {
        (*out)[i].schema = dupv(r, (int)i, 0);
        (*out)[i].name = dupv(r, (int)i, 1);
        if (PQnfields(r) > 2)
            (*out)[i].reason = dupv(r, (int)i, 2);
    }
    PQclear(r);
    return 0;
}

/* The sequences of the selection (the tables' oids own theirs) and their values. */
static int load_sequences(PGconn *c, catalog *cat, const char *const *sparams, char *err, size_t errlen)
{
    PGresult *r = pgconn_query(c, sequences_sql, 5, sparams, "read sequences", err, errlen);
    if (!r)
        return -1;
    cat->nseqs = (size_t)PQntuples(r);
    cat->seqs = calloc(cat->nseqs ? cat->nseqs : 1, sizeof *cat->seqs);
    if (!cat->seqs) {
        PQclear(r);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < cat->nseqs; i++) {
        cat->seqs[i].schema = dupv(r, (int)i, 0);
        cat->seqs[i].name = dupv(r, (int)i, 1);
    }
    PQclear(r);
    return load_sequence_values(c, cat, err, errlen);
}

/* pg_dump's selection, from the same oids. With -t, -n and -N do not apply (as in
 * pg_dump); exact names for everything picked. */
static int pgdump_selection(PGconn *c, const catalog_filter *f, catalog *cat, const char *inc_t, const char *exc_t,
                            const char *inc_n, const char *exc_n, char *err, size_t errlen)
{
    if (f->exact)
        return 0;
    if (inc_t) {
        if (add_pgdump_args(c, cat, pgdump_tables_sql, inc_t, "--table", err, errlen) < 0)
            return -1;
    } else if (add_pgdump_args(c, cat, pgdump_schemas_sql, inc_n, "--schema", err, errlen) < 0 ||
               add_pgdump_args(c, cat, pgdump_schemas_sql, exc_n, "--exclude-schema", err, errlen) < 0) {
        return -1;
    }
    return add_pgdump_args(c, cat, pgdump_tables_sql, exc_t, "--exclude-table", err, errlen);
}

/* What the dump records beside its tables: unpopulated materialized views (they stay so
 * on restore), extensions with their owners (pg_dump writes no owner for an extension),
 * the large objects' count when pg_dump includes them (no -t or -n narrows the dump). */
static int load_extras(PGconn *c, const catalog_filter *f, catalog *cat, char *err, size_t errlen)
{
    if (load_named(c,
                   "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
                   " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                   " WHERE c.relkind = 'm' AND NOT c.relispopulated ORDER BY 1, 2",
                   0, NULL, "read materialized views", &cat->unpopulated, &cat->nunpopulated, err, errlen) < 0 ||
        load_named(c,
                   "SELECT NULL, x.extname, pg_catalog.pg_get_userbyid(x.extowner) FROM pg_catalog.pg_extension x"
                   " ORDER BY 2",
                   0, NULL, "read extensions", &cat->extensions, &cat->nextensions, err, errlen) < 0)
        return -1;
    cat->with_large_objects = f->exact ? f->exact_large_objects
                                       : f->n_include_tables == 0 && f->n_include_schemas == 0;
    if (!cat->with_large_objects)
        return 0;
    PGresult *r = pgconn_query(c, "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata", 0, NULL,
                               "count large objects", err, errlen);
    if (!r)
        return -1;
    cat->n_large_objects = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int catalog_load(PGconn *c, const catalog_filter *f, catalog *cat, char *err, size_t errlen)
{
    memset(cat, 0, sizeof *cat);
    char *inc_t = NULL, *exc_t = NULL, *inc_n = NULL, *exc_n = NULL, *exc_d = NULL, *oids = NULL;
    int rc = -1;

    if (PQserverVersion(c) < 120000)
        return pf_err(err, errlen, "server version %d is not supported (PostgreSQL 12 or later needed)",
                      PQserverVersion(c));
    /* Unqualified -t patterns match visible tables, as in pg_dump: that needs the
     * database's own search_path for the lookup, then the safe one back. */
    if (pgconn_exec(c, "RESET search_path", "reset search_path", err, errlen) < 0)
        return -1;
    if (expand_patterns(c, f->include_tables, f->n_include_tables, 1, 1, "-t", &inc_t, err, errlen) < 0 ||
        expand_patterns(c, f->exclude_tables, f->n_exclude_tables, 1, 0, "-T", &exc_t, err, errlen) < 0 ||
        expand_patterns(c, f->include_schemas, f->n_include_schemas, 0, 1, "-n", &inc_n, err, errlen) < 0 ||
        expand_patterns(c, f->exclude_schemas, f->n_exclude_schemas, 0, 0, "-N", &exc_n, err, errlen) < 0 ||
        expand_patterns(c, f->exclude_table_data, f->n_exclude_table_data, 1, 0, "--exclude-table-data",
                        &exc_d, err, errlen) < 0)
        goto out;
    if (pgconn_exec(c, "SELECT pg_catalog.set_config('search_path', '', false)",
                    "set search_path", err, errlen) < 0)
        goto out;
    if (f->exact && expand_exact(c, f, &inc_t, err, errlen) < 0)
        goto out;

    const char *params[6] = {inc_t, exc_t, inc_n, exc_n, exc_d, f->no_unlogged_table_data ? "t" : "f"};
    if (load_tables(c, f, cat, params, &oids, err, errlen) < 0)
        goto out;
    qsort(cat->tables, cat->ntables, sizeof *cat->tables, cmp_table_oid);
    if (load_columns(c, cat, oids, err, errlen) < 0)
        goto out;
    qsort(cat->tables, cat->ntables, sizeof *cat->tables, cmp_table_name);
    if (f->n_exact && f->exact_cols)
        for (size_t i = 0; i < f->n_exact; i++)
            reorder_columns(cat, f->exact_schemas[i], f->exact_names[i], f->exact_cols[i], f->exact_ncols[i]);
    const char *sparams[5] = {inc_t, exc_t, inc_n, exc_n, oids};
    if (load_sequences(c, cat, sparams, err, errlen) < 0 ||
        pgdump_selection(c, f, cat, inc_t, exc_t, inc_n, exc_n, err, errlen) < 0 ||
        load_extras(c, f, cat, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    free(inc_t);
    free(exc_t);
    free(inc_n);
    free(exc_n);
    free(exc_d);
    free(oids);
    if (rc < 0)
        catalog_free(cat);
    return rc;
}

void catalog_free(catalog *cat)
{
    for (size_t i = 0; i < cat->ntables; i++) {
        catalog_table *t = &cat->tables[i];
        free(t->schema);
        free(t->name);
        free(t->parent_schema);
        free(t->parent_name);
        for (size_t k = 0; k < t->ncols; k++)
            free(t->cols[k]);
        free(t->cols);
    }
    free(cat->tables);
    for (size_t i = 0; i < cat->nnodata; i++) {
        free(cat->nodata[i].schema);
        free(cat->nodata[i].name);
    }
    free(cat->nodata);
    for (size_t i = 0; i < cat->nunpopulated; i++) {
        free(cat->unpopulated[i].schema);
        free(cat->unpopulated[i].name);
    }
    free(cat->unpopulated);
    for (size_t i = 0; i < cat->nextensions; i++) {
        free(cat->extensions[i].name);
        free((char *)cat->extensions[i].reason);
    }
    free(cat->extensions);
    for (size_t i = 0; i < cat->nseqs; i++) {
        free(cat->seqs[i].schema);
        free(cat->seqs[i].name);
    }
    free(cat->seqs);
    for (size_t i = 0; i < cat->npgdump_args; i++)
        free(cat->pgdump_args[i]);
    free(cat->pgdump_args);
    memset(cat, 0, sizeof *cat);
}
