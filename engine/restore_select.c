/* restore_select: which tables and archive entries a restore takes, in which phase, and
 * their SQL rewritten where a table is restored under another name. */
#include "engine/restore_int.h"

#include "engine/catalog.h"
#include "engine/pgconn.h"
#include "engine/profile.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int restore_entry_is(const archive_entry *e, const char *desc) { return strcmp(e->desc, desc) == 0; }

/* ---- names ------------------------------------------------------------------------------ */

/* Splits "schema.name" with SQL identifier rules: unquoted parts fold to lower case,
 * quoted parts keep case and may contain dots. *schema is NULL when not qualified. */
static int parse_qualified(const char *s, char **schema, char **name)
{
    char *parts[2] = {NULL, NULL};
    int np = 0;
    const char *p = s;
    while (np < 2) {
        size_t n = 0;
        char *out = malloc(strlen(p) + 1);
        if (!out)
            goto bad;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) {
                    free(out);
                    goto bad;
                }
                if (*p == '"') {
                    if (p[1] == '"') {
                        out[n++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                out[n++] = *p++;
            }
        } else {
            while (*p && *p != '.')
                out[n++] = (char)tolower((unsigned char)*p++);
        }
        out[n] = '\0';
        if (n == 0) {
            free(out);
            goto bad;
        }
        parts[np++] = out;
        if (*p == '.') {
            p++;
            continue;
        }
        break;
    }
    if (*p)
        goto bad;
    if (np == 2) {
        *schema = parts[0];
        *name = parts[1];
    } else {
        *schema = NULL;
        *name = parts[0];
    }
    return 0;
bad:
    free(parts[0]);
    free(parts[1]);
    return -1;
}

typedef struct {
    regex_t schema, name;
    int has_schema;
} pattern;

static int pattern_compile(const char *pat, int schema_only, pattern *p, const char *opt, char *err, size_t errlen)
{
    char *sre = NULL, *nre = NULL;
    memset(p, 0, sizeof *p);
    if (catalog_pattern_regex(pat, &sre, &nre, err, errlen) < 0)
        return -1;
    if (schema_only && sre) {
        free(sre);
        free(nre);
        return pf_err(err, errlen, "improper qualified name in %s pattern: %s", opt, pat);
    }
    int rc = 0;
    if (regcomp(&p->name, nre, REG_EXTENDED | REG_NOSUB) != 0)
        rc = pf_err(err, errlen, "%s pattern \"%s\" cannot be used", opt, pat);
    else if (sre && regcomp(&p->schema, sre, REG_EXTENDED | REG_NOSUB) != 0) {
        regfree(&p->name);
        rc = pf_err(err, errlen, "%s pattern \"%s\" cannot be used", opt, pat);
    }
    p->has_schema = sre != NULL;
    free(sre);
    free(nre);
    return rc;
}

static int pattern_table(const pattern *p, const char *schema, const char *name)
{
    return (!p->has_schema || regexec(&p->schema, schema, 0, NULL, 0) == 0) && regexec(&p->name, name, 0, NULL, 0) == 0;
}

static int pattern_schema(const pattern *p, const char *schema)
{
    return regexec(&p->name, schema, 0, NULL, 0) == 0;
}

static void pattern_free(pattern *p)
{
    regfree(&p->name);
    if (p->has_schema)
        regfree(&p->schema);
}

/* ---- SQL rewriting for renamed tables and databases ----------------------------------- */

typedef struct {
    char *from, *to;
} rep;

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* Length of the literal or comment starting at p (that rewriting must leave alone: a
 * comment on a table may name the table), or 0: '...' (with '' and, for E'...', \'),
 * $tag$...$tag$, -- to the end of the line, and C-style comments. */
static size_t skip_literal(const char *sql, const char *p)
{
    const char *q = p;
    if (*p == '\'') {
        int esc = p > sql && (p[-1] == 'E' || p[-1] == 'e') && (p - 1 == sql || !ident_char(p[-2]));
        for (q = p + 1; *q; q++) {
            if (esc && *q == '\\' && q[1]) {
                q++;
                continue;
            }
            if (*q == '\'') {
                if (q[1] == '\'') {
                    q++;
                    continue;
                }
                return (size_t)(q + 1 - p);
            }
        }
        return (size_t)(q - p);
    }
    if (*p == '$' && (p == sql || !ident_char(p[-1]))) {
        q = p + 1;
        while (*q && (isalpha((unsigned char)*q) || *q == '_' || (q > p + 1 && isdigit((unsigned char)*q))))
            q++;
        if (*q != '$')
            return 0;
        size_t taglen = (size_t)(q + 1 - p);
        const char *end;
        for (end = q + 1; *end; end++)
            if (*end == '$' && strncmp(end, p, taglen) == 0)
                return (size_t)(end + taglen - p);
        return (size_t)(end - p);
    }
    if (p[0] == '-' && p[1] == '-') {
        q = strchr(p, '\n');
        return q ? (size_t)(q - p) : strlen(p);
    }
    if (p[0] == '/' && p[1] == '*') {
        q = strstr(p + 2, "*/");
        return q ? (size_t)(q + 2 - p) : strlen(p);
    }
    return 0;
}

/* Replaces whole-token occurrences of each from with to, outside literals and comments.
 * A token boundary is a character that cannot continue an identifier (a quoted name
 * carries its own quotes). */
static char *rewrite(const char *sql, const rep *reps, size_t n)
{
    size_t cap = strlen(sql) * 2 + 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = sql; *p;) {
        size_t lit = skip_literal(sql, p);
        size_t take = lit, tl = 0;
        const char *to = NULL;
        if (!lit) {
            int at_boundary = p == sql || (!ident_char(p[-1]) && p[-1] != '.' && p[-1] != '"');
            for (size_t i = 0; at_boundary && i < n; i++) {
                size_t fl = strlen(reps[i].from);
                if (strncmp(p, reps[i].from, fl) != 0)
                    continue;
                char next = p[fl];
                if (ident_char(next) || (reps[i].from[fl - 1] != '"' && next == '"'))
                    continue;
                to = reps[i].to;
                tl = strlen(to);
                take = fl;
                break;
            }
            if (!to)
                take = 1;
        }
        size_t add = to ? tl : take;
        if (len + add + 1 > cap) {
            cap = 2 * (len + add + 1);
            char *o2 = realloc(out, cap);
            if (!o2) {
                free(out);
                return NULL;
            }
            out = o2;
        }
        memcpy(out + len, to ? to : p, add);
        len += add;
        p += take;
    }
    out[len] = '\0';
    return out;
}

static int add_rep(rep **reps, size_t *n, size_t *cap, char *from, char *to)
{
    if (!from || !to) {
        free(from);
        free(to);
        return -1;
    }
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 8;
        rep *r = realloc(*reps, c * sizeof(rep));
        if (!r) {
            free(from);
            free(to);
            return -1;
        }
        *reps = r;
        *cap = c;
    }
    (*reps)[(*n)++] = (rep){from, to};
    return 0;
}

static void free_reps(rep *reps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(reps[i].from);
        free(reps[i].to);
    }
    free(reps);
}

/* Quotes like pg_dump does (only where needed), which is how names appear in the SQL
 * pg_restore renders: the server's quote_ident() follows the same rules. */
static char *dump_quote(PGconn *c, const char *ident)
{
    const char *p[1] = {ident};
    PGresult *r = PQexecParams(c, "SELECT pg_catalog.quote_ident($1)", 1, NULL, p, NULL, NULL, 0);
    char *out = PQresultStatus(r) == PGRES_TUPLES_OK ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return out;
}

static char *dump_qualified(PGconn *c, const char *schema, const char *name)
{
    char *a = dump_quote(c, schema), *b = dump_quote(c, name), *out = NULL;
    if (a && b && asprintf(&out, "%s.%s", a, b) < 0)
        out = NULL;
    free(a);
    free(b);
    return out;
}

/* ---- tables ------------------------------------------------------------------------------ */

static int compile_all(const char **pats, size_t n, int schema_only, const char *opt, pattern **out, char *err,
                       size_t errlen)
{
    *out = calloc(n + 1, sizeof **out);
    if (!*out)
        return pf_err(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (pattern_compile(pats[i], schema_only, &(*out)[i], opt, err, errlen) < 0) {
            for (size_t k = 0; k < i; k++)
                pattern_free(&(*out)[k]);
            free(*out);
            *out = NULL;
            return -1;
        }
    return 0;
}

static void free_all(pattern *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        pattern_free(&p[i]);
    free(p);
}

static int add_schema_sel(restore_ctx *ctx, const char *schema)
{
    for (size_t k = 0; k < ctx->nschema_sel; k++)
        if (!strcmp(ctx->schema_sel[k], schema))
            return 0;
    char *d = strdup(schema);
    if (!d)
        return -1;
    ctx->schema_sel[ctx->nschema_sel++] = d;
    return 0;
}

/* Selection as pg_restore's: -t picks tables, -n schemas (both: either); -T and -N then
 * take tables and schemas out. An include pattern that matches nothing is an error. */
/* The compiled -t/-n/-T/-N patterns and which of -t/-n matched something. */
typedef struct {
    pattern *inc_t, *inc_n, *exc_t, *exc_n;
    unsigned char *hit_t, *hit_n;
} selection;

/* Whether table t is selected: 1, 0, or -1 out of memory. */
static int select_one(restore_ctx *ctx, selection *sl, const rtable *t)
{
    const restore_options *o = ctx->o;
    const char *sch = t->mt->schema, *nam = t->mt->name;
    int sel = !(o->ntables > 0 || o->nschemas > 0);
    for (size_t p = 0; p < o->ntables; p++)
        if (pattern_table(&sl->inc_t[p], sch, nam))
            sel = sl->hit_t[p] = 1;
    for (size_t p = 0; p < o->nschemas; p++)
        if (pattern_schema(&sl->inc_n[p], sch)) {
            sel = sl->hit_n[p] = 1;
            if (add_schema_sel(ctx, sch) < 0)
                return -1;
        }
    for (size_t p = 0; p < o->nexclude_tables && sel; p++)
        if (pattern_table(&sl->exc_t[p], sch, nam))
            sel = 0;
    for (size_t p = 0; p < o->nexclude_schemas && sel; p++)
        if (pattern_schema(&sl->exc_n[p], sch))
            sel = 0;
    return sel;
}

/* -n also names schemas whose tables all came without data (or that hold none); then
 * every -t and -n must have matched. */
static int check_hits(restore_ctx *ctx, selection *sl, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    for (size_t p = 0; p < o->nschemas; p++)
        for (size_t i = 0; i < ctx->a.n && !sl->hit_n[p]; i++) {
            archive_entry *e = &ctx->a.entries[i];
            const char *sch = restore_entry_is(e, "SCHEMA") ? e->tag : e->namespace;
            if (sch && pattern_schema(&sl->inc_n[p], sch)) {
                sl->hit_n[p] = 1;
                if (add_schema_sel(ctx, sch) < 0)
                    return pf_err(err, errlen, "out of memory");
            }
        }
    for (size_t p = 0; p < o->ntables; p++)
        if (!sl->hit_t[p])
            return pf_err(err, errlen, "no table in the dump matches -t \"%s\"", o->tables[p]);
    for (size_t p = 0; p < o->nschemas; p++)
        if (!sl->hit_n[p])
            return pf_err(err, errlen, "no schema in the dump matches -n \"%s\"", o->schemas[p]);
    return 0;
}

static int select_tables(restore_ctx *ctx, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    selection sl = {0};
    int rc = -1;
    if (compile_all(o->tables, o->ntables, 0, "-t", &sl.inc_t, err, errlen) < 0 ||
        compile_all(o->schemas, o->nschemas, 1, "-n", &sl.inc_n, err, errlen) < 0 ||
        compile_all(o->exclude_tables, o->nexclude_tables, 0, "-T", &sl.exc_t, err, errlen) < 0 ||
        compile_all(o->exclude_schemas, o->nexclude_schemas, 1, "-N", &sl.exc_n, err, errlen) < 0)
        goto out;
    ctx->schema_sel = calloc(ctx->ntables + o->nschemas + 1, sizeof(char *));
    sl.hit_t = calloc(o->ntables + 1, 1);
    sl.hit_n = calloc(o->nschemas + 1, 1);
    if (!ctx->schema_sel || !sl.hit_t || !sl.hit_n) {
        pf_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ctx->ntables; i++) {
        int sel = select_one(ctx, &sl, &ctx->tables[i]);
        if (sel < 0) {
            pf_err(err, errlen, "out of memory");
            goto out;
        }
        ctx->tables[i].selected = sel;
    }
    rc = check_hits(ctx, &sl, err, errlen);
out:
    free(sl.hit_t);
    free(sl.hit_n);
    free_all(sl.inc_t, o->ntables);
    free_all(sl.inc_n, o->nschemas);
    free_all(sl.exc_t, o->nexclude_tables);
    free_all(sl.exc_n, o->nexclude_schemas);
    return rc;
}

int restore_setup_tables(restore_ctx *ctx, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    ctx->ntables = ctx->m.ntables;
    ctx->tables = calloc(ctx->ntables + 1, sizeof *ctx->tables);
    if (!ctx->tables)
        return pf_err(err, errlen, "out of memory");
    for (size_t i = 0; i < ctx->ntables; i++) {
        rtable *t = &ctx->tables[i];
        t->mt = &ctx->m.tables[i];
        t->dst_schema = strdup(t->mt->schema);
        t->dst_name = strdup(t->mt->name);
        t->toc = -1;
        t->loaded = -1;
        if (asprintf(&t->label, "%s.%s", t->mt->schema, t->mt->name) < 0)
            t->label = NULL;
        if (!t->dst_schema || !t->dst_name || !t->label)
            return pf_err(err, errlen, "out of memory");
    }
    ctx->filtered = o->ntables > 0 || o->nschemas > 0 || o->nexclude_tables > 0 || o->nexclude_schemas > 0;
    if ((o->nrenames || o->into_schema) && o->ntables == 0)
        return pf_err(err, errlen, "--rename-table and --into-schema restore single tables: select them with -t");
    if (select_tables(ctx, err, errlen) < 0)
        return -1;

    for (size_t r = 0; r < o->nrenames; r++) {
        char *fs, *fn, *ts, *tn;
        if (parse_qualified(o->renames[r].from, &fs, &fn) < 0)
            return pf_err(err, errlen, "--rename-table %s=%s: not a table name", o->renames[r].from, o->renames[r].to);
        if (parse_qualified(o->renames[r].to, &ts, &tn) < 0) {
            free(fs);
            free(fn);
            return pf_err(err, errlen, "--rename-table %s=%s: not a table name", o->renames[r].from, o->renames[r].to);
        }
        long hit = -1;
        int twice = 0;
        for (size_t i = 0; i < ctx->ntables; i++) {
            rtable *t = &ctx->tables[i];
            if (strcmp(t->mt->name, fn) || (fs && strcmp(t->mt->schema, fs)))
                continue;
            twice |= hit >= 0;
            hit = (long)i;
        }
        free(fs);
        free(fn);
        if (twice || hit < 0 || !ctx->tables[hit].selected) {
            free(ts);
            free(tn);
            if (twice)
                return pf_err(err, errlen, "--rename-table %s: more than one table has that name: qualify it with its schema",
                              o->renames[r].from);
            return pf_err(err, errlen, "--rename-table %s: %s", o->renames[r].from,
                          hit < 0 ? "no such table in the dump" : "table not selected by -t/-n");
        }
        rtable *t = &ctx->tables[hit];
        free(t->dst_schema);
        free(t->dst_name);
        t->dst_schema = ts ? ts : strdup(o->into_schema ? o->into_schema : t->mt->schema);
        t->dst_name = tn;
        if (!t->dst_schema)
            return pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < ctx->ntables; i++) {
        rtable *t = &ctx->tables[i];
        if (o->into_schema && t->selected && !strcmp(t->dst_schema, t->mt->schema) && !strcmp(t->dst_name, t->mt->name)) {
            free(t->dst_schema);
            t->dst_schema = strdup(o->into_schema);
            if (!t->dst_schema)
                return pf_err(err, errlen, "out of memory");
        }
        t->renamed = strcmp(t->dst_schema, t->mt->schema) || strcmp(t->dst_name, t->mt->name);
    }
    return 0;
}

static int cmp_rtable_name(const void *a, const void *b)
{
    const rtable *x = *(const rtable *const *)a, *y = *(const rtable *const *)b;
    int s = strcmp(x->mt->schema, y->mt->schema);
    return s ? s : strcmp(x->mt->name, y->mt->name);
}

/* TABLE entries to the dump's tables, by name through a sorted index: ten thousand tables
 * against fifty thousand entries would otherwise be half a billion string comparisons. */
void restore_map_tables(restore_ctx *ctx)
{
    const rtable **by_name = malloc((ctx->ntables + 1) * sizeof *by_name);
    for (size_t i = 0; i < ctx->a.n; i++)
        ctx->entry_table[i] = -1;
    if (!by_name)
        return;
    for (size_t t = 0; t < ctx->ntables; t++)
        by_name[t] = &ctx->tables[t];
    qsort(by_name, ctx->ntables, sizeof *by_name, cmp_rtable_name);
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!restore_entry_is(e, "TABLE") || !e->namespace)
            continue;
        rtable key_t;
        manifest_table key_m;
        key_m.schema = e->namespace;
        key_m.name = e->tag;
        key_t.mt = &key_m;
        const rtable *keyp = &key_t;
        const rtable **hit = bsearch(&keyp, by_name, ctx->ntables, sizeof *by_name, cmp_rtable_name);
        if (hit) {
            ctx->entry_table[i] = (long)(*hit - ctx->tables);
            ctx->tables[*hit - ctx->tables].toc = (long)i;
        }
    }
    free(by_name);
}

/* ---- entries ---------------------------------------------------------------------------- */

/* Kinds of entries that belong to one table and travel with it in a -t restore. */
static int own_kind(const char *desc, int renamed, int keep_grants)
{
    static const char *const always[] = {"DEFAULT", "CONSTRAINT", "CHECK CONSTRAINT", "INDEX",
                                         "COMMENT", "SECURITY LABEL", "STATISTICS", "SEQUENCE",
                                         "ROW SECURITY", NULL};
    /* Left out of a renamed copy: they would tie the copy to live objects (attach it to
     * the live partitioned table, take over the live sequence) or act on other tables. Its
     * row-level security stays enabled without the live table's policies (no policy: no
     * row for anyone but its owner), and it has no privileges but its owner's unless asked
     * (--keep-grants): a copy never shows what the live table protects. */
    static const char *const unless_renamed[] = {"FK CONSTRAINT", "TRIGGER", "RULE", "POLICY",
                                                 "SEQUENCE OWNED BY", "TABLE ATTACH",
                                                 "INDEX ATTACH", "PUBLICATION TABLE", NULL};
    if (strcmp(desc, "ACL") == 0)
        return !renamed || keep_grants;
    for (int i = 0; always[i]; i++)
        if (strcmp(desc, always[i]) == 0)
            return 1;
    for (int i = 0; unless_renamed[i]; i++)
        if (strcmp(desc, unless_renamed[i]) == 0)
            return !renamed;
    return 0;
}

/* Tables (rtable indexes) an entry depends on directly. */
size_t restore_entry_tables(restore_ctx *ctx, const archive_entry *e, size_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t d = 0; d < e->ndeps; d++) {
        long k = archive_find(&ctx->a, e->deps[d]);
        if (k >= 0 && ctx->entry_table[k] >= 0 && n < cap)
            out[n++] = (size_t)ctx->entry_table[k];
    }
    return n;
}

int restore_is_database_entry(const archive_entry *e)
{
    if (restore_entry_is(e, "DATABASE") || restore_entry_is(e, "DATABASE PROPERTIES"))
        return 1;
    /* COMMENT ON DATABASE, its ACL and security labels carry the tag "DATABASE name" */
    return !e->namespace && strncmp(e->tag, "DATABASE ", 9) == 0 &&
           (restore_entry_is(e, "COMMENT") || restore_entry_is(e, "ACL") || restore_entry_is(e, "SECURITY LABEL"));
}

/* -t / -n: the selected tables, the selected schemas' entries, and what belongs to them. */
static void select_included(restore_ctx *ctx)
{
    archive *a = &ctx->a;
    for (size_t i = 0; i < a->n; i++) {
        archive_entry *e = &a->entries[i];
        if (ctx->entry_table[i] >= 0 && ctx->tables[ctx->entry_table[i]].selected)
            ctx->wanted[i] = 1;
        for (size_t s = 0; s < ctx->nschema_sel; s++)
            if ((e->namespace && strcmp(e->namespace, ctx->schema_sel[s]) == 0) ||
                (restore_entry_is(e, "SCHEMA") && strcmp(e->tag, ctx->schema_sel[s]) == 0))
                ctx->wanted[i] = 1;
        /* a data table of a selected schema that was itself taken out (-T) */
        if (ctx->wanted[i] && ctx->entry_table[i] >= 0 && !ctx->tables[ctx->entry_table[i]].selected)
            ctx->wanted[i] = 0;
    }
    /* Pull in what belongs to the selected tables, until nothing changes: entries that
     * depend on a selected table (or on an entry pulled in) and on no table left out. */
    size_t tabs[64];
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < a->n; i++) {
            archive_entry *e = &a->entries[i];
            if (ctx->wanted[i] || ctx->entry_table[i] >= 0)
                continue;
            size_t nt = restore_entry_tables(ctx, e, tabs, 64);
            int renamed = 0, all_selected = 1, via = 0;
            for (size_t k = 0; k < nt; k++) {
                if (!ctx->tables[tabs[k]].selected)
                    all_selected = 0;
                if (ctx->tables[tabs[k]].renamed)
                    renamed = 1;
                via = 1;
            }
            for (size_t d = 0; d < e->ndeps && !via; d++) {
                long k = archive_find(a, e->deps[d]);
                if (k >= 0 && ctx->wanted[k] && ctx->entry_table[k] < 0 &&
                    (restore_entry_is(e, "COMMENT") || restore_entry_is(e, "ACL") ||
                     restore_entry_is(e, "SECURITY LABEL") || restore_entry_is(e, "INDEX ATTACH"))) {
                    via = 1;
                    renamed |= ctx->for_renamed[k]; /* the grants of a renamed copy's sequence */
                }
            }
            if (!via || !all_selected || !own_kind(e->desc, renamed, ctx->o->keep_grants))
                continue;
            ctx->for_renamed[i] = (unsigned char)renamed;
            /* a plain SEQUENCE comes in only through SEQUENCE OWNED BY, below; an identity
             * sequence depends on its table directly */
            if (restore_entry_is(e, "SEQUENCE") && nt == 0)
                continue;
            ctx->wanted[i] = 1;
            changed = 1;
            if (restore_entry_is(e, "SEQUENCE OWNED BY"))
                for (size_t d = 0; d < e->ndeps; d++) {
                    long k = archive_find(a, e->deps[d]);
                    if (k >= 0 && restore_entry_is(&a->entries[k], "SEQUENCE") && !ctx->wanted[k]) {
                        ctx->wanted[k] = 1;
                        ctx->for_renamed[k] = (unsigned char)renamed;
                    }
                }
        }
    }
}

/* -T / -N: the tables and schemas taken out, and every entry that depends on them (an
 * index of the table, a view over it, a foreign key to it), so nothing is created that
 * would refer to what is not there. Only what was taken out spreads: an entry merely not
 * selected (the schema of a -t table) does not. */
static int exclude(restore_ctx *ctx, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    archive *a = &ctx->a;
    pattern *exc_n = NULL, *exc_t = NULL;
    unsigned char *out = calloc(a->n + 1, 1);
    int rc = -1;
    if (!out || compile_all(o->exclude_schemas, o->nexclude_schemas, 1, "-N", &exc_n, err, errlen) < 0 ||
        compile_all(o->exclude_tables, o->nexclude_tables, 0, "-T", &exc_t, err, errlen) < 0)
        goto done;
    for (size_t i = 0; i < a->n; i++) {
        archive_entry *e = &a->entries[i];
        if (ctx->entry_table[i] >= 0 && !ctx->tables[ctx->entry_table[i]].selected)
            out[i] = 1;
        const char *sch = restore_entry_is(e, "SCHEMA") ? e->tag : e->namespace;
        for (size_t p = 0; sch && p < o->nexclude_schemas; p++)
            if (pattern_schema(&exc_n[p], sch))
                out[i] = 1;
        /* a table without data (a partitioned table) has no rtable: by its entry */
        if (restore_entry_is(e, "TABLE") && e->namespace)
            for (size_t p = 0; p < o->nexclude_tables; p++)
                if (pattern_table(&exc_t[p], e->namespace, e->tag))
                    out[i] = 1;
    }
    /* archive order is dependency order: few passes */
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < a->n; i++) {
            archive_entry *e = &a->entries[i];
            for (size_t d = 0; d < e->ndeps && !out[i]; d++) {
                long k = archive_find(a, e->deps[d]);
                if (k >= 0 && out[k]) {
                    out[i] = 1;
                    changed = 1;
                }
            }
        }
    }
    for (size_t i = 0; i < a->n; i++)
        if (out[i])
            ctx->wanted[i] = 0;
    /* a data table whose definition went (a partition of a -T table): no rows either */
    for (size_t t = 0; t < ctx->ntables; t++)
        if (ctx->tables[t].toc >= 0 && out[ctx->tables[t].toc])
            ctx->tables[t].selected = 0;
    rc = 0;
done:
    if (!out)
        pf_err(err, errlen, "out of memory");
    free(out);
    free_all(exc_n, o->nexclude_schemas);
    free_all(exc_t, o->nexclude_tables);
    return rc;
}

long restore_entry_table_entry(restore_ctx *ctx, const archive_entry *e)
{
    for (size_t d = 0; d < e->ndeps; d++) {
        long k = archive_find(&ctx->a, e->deps[d]);
        if (k >= 0 && restore_entry_is(&ctx->a.entries[k], "TABLE"))
            return k;
    }
    return -1;
}

/* The name in a tag such as `EXTENSION "uuid-ossp"` (pg_dump quotes it where SQL needs). */
static const char *tag_name(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    if (*s == '"') {
        for (s++; *s && o + 1 < outlen; s++) {
            if (*s == '"') {
                if (s[1] != '"')
                    break;
                s++;
            }
            out[o++] = *s;
        }
    } else
        while (*s && o + 1 < outlen)
            out[o++] = *s++;
    out[o] = '\0';
    return out;
}

/* The object an entry names by its tag "<table> <name>" is on a table in a managed schema. */
static int on_managed_table(restore_ctx *ctx, const archive_entry *e)
{
    long t = restore_entry_table_entry(ctx, e);
    return t >= 0 && profile_match(ctx->o->profile, PROFILE_MANAGED_SCHEMAS, ctx->a.entries[t].namespace);
}

/* --profile: what of the dump is the platform's (left to it), what the user attached to the
 * platform's objects (created where missing), and the platform's tables whose rows are the
 * user's (loaded as they are; left alone by --clean, which puts back the user's schemas). */
static void profile_classify(restore_ctx *ctx)
{
    const profile *p = ctx->o->profile;
    archive *a = &ctx->a;
    for (size_t i = 0; i < a->n; i++) {
        archive_entry *e = &a->entries[i];
        if (!ctx->wanted[i])
            continue;
        const char *ns = e->namespace;
        int managed_ns = ns && profile_match(p, PROFILE_MANAGED_SCHEMAS, ns);
        int skip = 0, absent = ABSENT_NONE;
        char name[512];
        if (restore_entry_is(e, "EVENT TRIGGER") ||
            (restore_entry_is(e, "COMMENT") && !ns && strncmp(e->tag, "EVENT TRIGGER ", 14) == 0))
            skip = profile_match(p, PROFILE_SKIP, "event-triggers");
        else if (restore_entry_is(e, "EXTENSION"))
            skip = profile_match(p, PROFILE_PLATFORM_EXTENSIONS, e->tag);
        else if (restore_entry_is(e, "COMMENT") && !ns && strncmp(e->tag, "EXTENSION ", 10) == 0)
            skip = profile_match(p, PROFILE_PLATFORM_EXTENSIONS, tag_name(e->tag + 10, name, sizeof name));
        else if (restore_entry_is(e, "PUBLICATION"))
            skip = profile_match(p, PROFILE_PLATFORM_PUBLICATIONS, e->tag);
        else if (restore_entry_is(e, "COMMENT") && !ns && strncmp(e->tag, "PUBLICATION ", 12) == 0)
            skip = profile_match(p, PROFILE_PLATFORM_PUBLICATIONS, tag_name(e->tag + 12, name, sizeof name));
        else if (restore_entry_is(e, "PUBLICATION TABLE") || restore_entry_is(e, "PUBLICATION TABLES IN SCHEMA")) {
            /* tag "<publication> <table or schema>": the publication is the platform's? */
            char pub[512];
            snprintf(pub, sizeof pub, "%s", e->tag);
            char *sp = strchr(pub, ' ');
            if (sp)
                *sp = '\0';
            if (profile_match(p, PROFILE_PLATFORM_PUBLICATIONS, pub))
                absent = ABSENT_PUBREL;
            else if (managed_ns)
                skip = 1;
        } else if (restore_entry_is(e, "DEFAULT ACL"))
            skip = managed_ns || (profile_match(p, PROFILE_SKIP, "reserved-role-default-privileges") &&
                                  e->owner && profile_match(p, PROFILE_RESERVED_ROLES, e->owner));
        else if (restore_entry_is(e, "SCHEMA"))
            skip = profile_match(p, PROFILE_MANAGED_SCHEMAS, e->tag);
        else if ((restore_entry_is(e, "COMMENT") || restore_entry_is(e, "ACL") || restore_entry_is(e, "SECURITY LABEL")) &&
                 !ns && strncmp(e->tag, "SCHEMA ", 7) == 0)
            skip = profile_match(p, PROFILE_MANAGED_SCHEMAS, tag_name(e->tag + 7, name, sizeof name));
        else if (managed_ns && on_managed_table(ctx, e) && restore_entry_is(e, "TRIGGER"))
            absent = ABSENT_TRIGGER;
        else if (managed_ns && on_managed_table(ctx, e) && restore_entry_is(e, "POLICY"))
            absent = ABSENT_POLICY;
        else if (managed_ns && on_managed_table(ctx, e) && restore_entry_is(e, "RULE"))
            absent = ABSENT_RULE;
        else if (managed_ns && on_managed_table(ctx, e) && restore_entry_is(e, "ROW SECURITY"))
            absent = ABSENT_RLS;
        else if (managed_ns)
            skip = 1;
        if (skip)
            ctx->wanted[i] = 0;
        ctx->if_absent[i] = (unsigned char)absent;
        /* a managed table's sequence gets its value when the table's rows are restored */
        if (skip && managed_ns && !ctx->o->clean && restore_entry_is(e, "SEQUENCE") &&
            profile_match(p, PROFILE_USER_DATA_SCHEMAS, ns))
            ctx->seq_extra[i] = 1;
    }
    for (size_t t = 0; t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        if (!profile_match(p, PROFILE_MANAGED_SCHEMAS, rt->mt->schema))
            continue;
        rt->preexisting = 1;
        /* --clean puts the user's schemas back and leaves the platform's alone */
        if (ctx->o->clean)
            rt->selected = 0;
    }
}

/* Phase of a wanted entry, following pg_restore: pre-data, post-data, ACLs, then event
 * triggers (and materialized view refresh, which pgferry adds); database-level SQL for
 * --create at the very end. */
static int entry_phase(restore_ctx *ctx, size_t i)
{
    archive_entry *e = &ctx->a.entries[i];
    if (restore_is_database_entry(e))
        return PH_DATABASE;
    if (restore_entry_is(e, "ACL") || restore_entry_is(e, "DEFAULT ACL"))
        return PH_ACL;
    if (restore_entry_is(e, "EVENT TRIGGER") ||
        (restore_entry_is(e, "COMMENT") && strncmp(e->tag, "EVENT TRIGGER ", 14) == 0))
        return PH_POSTACL;
    if (e->section == ARCHIVE_SECTION_POST_DATA)
        return PH_POST;
    if (e->section == ARCHIVE_SECTION_NONE)
        for (size_t d = 0; d < e->ndeps; d++) {
            long k = archive_find(&ctx->a, e->deps[d]);
            if (k >= 0 && ctx->wanted[k] && ctx->entry_phase[k] == PH_POST)
                return PH_POST;
        }
    return PH_PRE;
}

int restore_select_entries(restore_ctx *ctx, char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    archive *a = &ctx->a;
    int include = o->ntables > 0 || o->nschemas > 0;
    for (size_t i = 0; i < a->n; i++) {
        archive_entry *e = &a->entries[i];
        if (restore_entry_is(e, "ENCODING") || restore_entry_is(e, "STDSTRINGS") || restore_entry_is(e, "SEARCHPATH"))
            continue;
        if (restore_is_database_entry(e)) {
            ctx->wanted[i] = o->create && !include; /* as pg_restore: only with --create */
            continue;
        }
        if (!include)
            ctx->wanted[i] = 1;
    }
    if (include)
        select_included(ctx);
    if ((o->nexclude_tables || o->nexclude_schemas) && exclude(ctx, err, errlen) < 0)
        return -1;
    if (o->profile)
        profile_classify(ctx);
    for (size_t i = 0; i < a->n; i++)
        if (ctx->wanted[i])
            ctx->entry_phase[i] = entry_phase(ctx, i);
    return 0;
}

/* ---- renamed tables --------------------------------------------------------------------- */

/* Names for a table's own objects in a renamed copy in the same schema, where index and
 * constraint names would collide with the live table's: the table's name in them is
 * replaced (users_pkey -> users_restored_pkey), or the new name put in front. */
static char *owned_new_name(const char *old, const char *old_table, const char *new_table)
{
    char *out = NULL;
    size_t ol = strlen(old_table);
    if (strncmp(old, old_table, ol) == 0)
        (void)!asprintf(&out, "%s%s", new_table, old + ol);
    else
        (void)!asprintf(&out, "%s_%s", new_table, old);
    if (out && strlen(out) > 63) { /* NAMEDATALEN - 1; cut on a character boundary */
        size_t n = 63;
        while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
            n--;
        out[n] = '\0';
    }
    return out;
}

static int rewrite_entries(restore_ctx *ctx, const unsigned char *mine, const rep *reps, size_t n)
{
    for (size_t i = 0; i < ctx->a.n; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!mine[i])
            continue;
        char **fields[2] = {&e->sql, &e->drop};
        for (int f = 0; f < 2; f++) {
            if (!*fields[f])
                continue;
            char *s = rewrite(*fields[f], reps, n);
            if (!s)
                return -1;
            free(*fields[f]);
            *fields[f] = s;
        }
    }
    return 0;
}

/* Builds the replacements for one renamed table and applies them to the entries that
 * belong to it: its own, and comments or ACLs on those. */
static int apply_rename(restore_ctx *ctx, PGconn *c, size_t ti, char *err, size_t errlen)
{
    rtable *t = &ctx->tables[ti];
    rep *reps = NULL;
    size_t n = 0, cap = 0;
    int same_schema = strcmp(t->dst_schema, t->mt->schema) == 0;
    unsigned char *mine = calloc(ctx->a.n + 1, 1);
    if (!mine)
        return pf_err(err, errlen, "out of memory");
    size_t tabs[64];
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < ctx->a.n; i++) {
            archive_entry *e = &ctx->a.entries[i];
            if (!ctx->wanted[i] || mine[i])
                continue;
            int m = ctx->entry_table[i] == (long)ti;
            size_t nt = restore_entry_tables(ctx, e, tabs, 64);
            for (size_t k = 0; k < nt; k++)
                m |= tabs[k] == ti;
            for (size_t d = 0; d < e->ndeps && !m; d++) {
                long k = archive_find(&ctx->a, e->deps[d]);
                m = k >= 0 && mine[k];
            }
            if (m) {
                mine[i] = 1;
                changed = 1;
            }
        }
    }
    int bad = add_rep(&reps, &n, &cap, dump_qualified(c, t->mt->schema, t->mt->name),
                      dump_qualified(c, t->dst_schema, t->dst_name)) < 0;
    for (size_t i = 0; i < ctx->a.n && !bad; i++) {
        archive_entry *e = &ctx->a.entries[i];
        if (!mine[i] || ctx->entry_table[i] == (long)ti)
            continue;
        const char *obj = NULL;
        size_t tl = strlen(t->mt->name);
        if (restore_entry_is(e, "INDEX") || restore_entry_is(e, "SEQUENCE"))
            obj = e->tag;
        else if ((restore_entry_is(e, "CONSTRAINT") || restore_entry_is(e, "CHECK CONSTRAINT")) &&
                 strncmp(e->tag, t->mt->name, tl) == 0 && e->tag[tl] == ' ')
            obj = e->tag + tl + 1;
        if (!obj)
            continue;
        char *nn = owned_new_name(obj, t->mt->name, t->dst_name);
        if (!nn) {
            bad = 1;
            break;
        }
        if (restore_entry_is(e, "SEQUENCE")) { /* identity sequence: a new one, never the live one */
            bad = add_rep(&reps, &n, &cap, dump_qualified(c, e->namespace, obj),
                          dump_qualified(c, t->dst_schema, nn)) < 0;
            /* and its value goes there too (sequences), not into the live one */
            free(ctx->seq_dst[i]);
            ctx->seq_dst[i] = pgconn_qualified(c, t->dst_schema, nn);
        } else if (same_schema) /* index names are unique per schema */
            bad = add_rep(&reps, &n, &cap, dump_quote(c, obj), dump_quote(c, nn)) < 0;
        free(nn);
    }
    if (!bad)
        bad = rewrite_entries(ctx, mine, reps, n) < 0;
    free(mine);
    free_reps(reps, n);
    return bad ? pf_err(err, errlen, "out of memory") : 0;
}

/* The database-level SQL of --create names the dump's database: the target's name instead. */
int restore_rename_database(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    const char *src = NULL;
    for (size_t i = 0; i < ctx->a.n && !src; i++)
        if (restore_entry_is(&ctx->a.entries[i], "DATABASE"))
            src = ctx->a.entries[i].tag;
    if (!src || !ctx->target_db || !strcmp(src, ctx->target_db))
        return 0;
    rep *reps = NULL;
    size_t n = 0, cap = 0;
    unsigned char *mine = calloc(ctx->a.n + 1, 1);
    int bad = !mine || add_rep(&reps, &n, &cap, dump_quote(c, src), dump_quote(c, ctx->target_db)) < 0;
    for (size_t i = 0; i < ctx->a.n && !bad; i++)
        mine[i] = ctx->wanted[i] && ctx->entry_phase[i] == PH_DATABASE;
    if (!bad)
        bad = rewrite_entries(ctx, mine, reps, n) < 0;
    free(mine);
    free_reps(reps, n);
    return bad ? pf_err(err, errlen, "out of memory") : 0;
}

int restore_apply_renames(restore_ctx *ctx, PGconn *c, char *err, size_t errlen)
{
    for (size_t t = 0; t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        if (rt->selected && rt->renamed && apply_rename(ctx, c, t, err, errlen) < 0)
            return -1;
    }
    return 0;
}
