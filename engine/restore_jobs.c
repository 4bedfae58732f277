/* restore_jobs: data and post-data as scheduler jobs (engine/sched.h), and the workers
 * that run them.
 *
 *   load     some chunks of one table, one transaction (see restore_load.c)
 *   entry    one post-data archive entry: an index, a constraint, a trigger...
 *   analyze  ANALYZE of one table, once its rows are in
 *
 * Per table, a milestone "all its rows are in" stands between its loads and what waits for
 * them. A worker whose connection is lost (terminated backend, failover, server restart)
 * reconnects and, unless the journal shows the job committed before the loss, runs it
 * again: up to JOB_ATTEMPTS times per job. */
#include "engine/restore_int.h"
#include "engine/pool.h"

#include "engine/pgconn.h"
#include "engine/trace.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- graph ------------------------------------------------------------------------------ */

static long add_job(restore_ctx *ctx, long id, rjob j)
{
    if (id < 0)
        return -1;
    if ((size_t)id >= ctx->njobs) {
        size_t n = (size_t)id + 1, cap = 64;
        while (cap < n)
            cap *= 2;
        rjob *a = realloc(ctx->jobs, cap * sizeof *a);
        if (!a)
            return -1;
        for (size_t i = ctx->njobs; i < cap; i++)
            memset(&a[i], 0, sizeof a[i]);
        ctx->jobs = a;
        ctx->njobs = n;
    }
    ctx->jobs[id] = j;
    return id;
}

/* Data tables of a TABLE entry: its rtable, or the leaf partitions of a partitioned table
 * (their rows are where its rows are). */
static size_t table_entry_data(restore_ctx *ctx, long k, size_t **out, size_t *cap)
{
    size_t n = 0;
    if (ctx->entry_table[k] >= 0) {
        if (*cap < 1 && !(*out = realloc(*out, (*cap = 16) * sizeof **out)))
            return 0;
        (*out)[n++] = (size_t)ctx->entry_table[k];
        return n;
    }
    const archive_entry *e = &ctx->a.entries[k];
    if (!restore_entry_is(e, "TABLE") || !e->namespace)
        return 0;
    for (size_t t = 0; t < ctx->ntables; t++) {
        const manifest_table *mt = ctx->tables[t].mt;
        if (!mt->parent_name || strcmp(mt->parent_name, e->tag) || strcmp(mt->parent_schema, e->namespace))
            continue;
        if (n == *cap) {
            size_t c = *cap ? 2 * *cap : 16;
            size_t *a = realloc(*out, c * sizeof *a);
            if (!a)
                return n;
            *out = a;
            *cap = c;
        }
        (*out)[n++] = t;
    }
    return n;
}

/* Data tables an entry belongs to, through its TABLE dependencies. */
static size_t entry_data(restore_ctx *ctx, const archive_entry *e, size_t **out, size_t *cap)
{
    size_t n = 0, *one = NULL, onecap = 0;
    for (size_t d = 0; d < e->ndeps; d++) {
        long k = archive_find(&ctx->a, e->deps[d]);
        if (k < 0)
            continue;
        size_t m = table_entry_data(ctx, k, &one, &onecap);
        for (size_t i = 0; i < m; i++) {
            if (n == *cap) {
                size_t c = *cap ? 2 * *cap : 16;
                size_t *a = realloc(*out, c * sizeof *a);
                if (!a)
                    break;
                *out = a;
                *cap = c;
            }
            (*out)[n++] = one[i];
        }
    }
    free(one);
    return n;
}

/* What an entry locks, as scheduler resources: the data tables of its TABLE dependencies,
 * and a TABLE dependency without data (a partitioned table, at any level) as a resource of
 * its own, so that jobs on one partitioned table, such as the INDEX ATTACH of sibling
 * partitions' indexes to it, never run at once (the server can leave the parent index
 * invalid when they do). */
static size_t entry_resources(restore_ctx *ctx, const archive_entry *e, const long *virt, size_t **out, size_t *cap)
{
    size_t n = entry_data(ctx, e, out, cap);
    for (size_t d = 0; d < e->ndeps; d++) {
        long k = archive_find(&ctx->a, e->deps[d]);
        if (k < 0 || virt[k] < 0)
            continue;
        if (n == *cap) {
            size_t c = *cap ? 2 * *cap : 16;
            size_t *a = realloc(*out, c * sizeof *a);
            if (!a)
                return n;
            *out = a;
            *cap = c;
        }
        (*out)[n++] = (size_t)virt[k];
    }
    return n;
}

/* Reads one identifier as SQL writes it (plain or "quoted"), returning where it ends. */
static const char *sql_ident(const char *p)
{
    if (*p == '"') {
        for (p++; *p; p++)
            if (*p == '"') {
                if (p[1] != '"')
                    return p + 1;
                p++;
            }
        return NULL;
    }
    const char *s = p;
    while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '$' || (unsigned char)*p >= 0x80))
        p++;
    return p > s ? p : NULL;
}

/* pg_dump's "ALTER TABLE ONLY t ADD CONSTRAINT c PRIMARY KEY (cols);" (or UNIQUE), nothing
 * more (no INCLUDE, WITH, USING INDEX TABLESPACE, DEFERRABLE, NULLS NOT DISTINCT), as two
 * statements: CREATE UNIQUE INDEX c ON ONLY... and ADD CONSTRAINT c ... USING INDEX c. The
 * settings pg_restore put before it (default_tablespace) stay in front of the index. */
static int split_key(const char *sql, char **index_sql, char **cons_sql)
{
    const char *at = strstr(sql, "ALTER TABLE ONLY ");
    if (!at || (at != sql && at[-1] != '\n'))
        return -1;
    const char *t0 = at + 17, *t1 = sql_ident(t0);
    if (!t1 || *t1 != '.' || !(t1 = sql_ident(t1 + 1)))
        return -1;
    const char *p = t1;
    while (*p == '\n' || *p == ' ')
        p++;
    if (strncmp(p, "ADD CONSTRAINT ", 15) != 0)
        return -1;
    const char *c0 = p + 15, *c1 = sql_ident(c0);
    if (!c1)
        return -1;
    const char *kind;
    if (strncmp(c1, " PRIMARY KEY (", 14) == 0)
        kind = "PRIMARY KEY";
    else if (strncmp(c1, " UNIQUE (", 9) == 0)
        kind = "UNIQUE";
    else
        return -1;
    const char *l0 = strchr(c1, '('), *l1 = strchr(l0, ')');
    if (!l1 || strncmp(l1, ");", 2) != 0)
        return -1;
    for (const char *q = l1 + 2; *q; q++) {
        if (q[0] == '-' && q[1] == '-' && (q[-1] == '\n')) { /* a comment line (the next entry's header) */
            const char *nl = strchr(q, '\n');
            if (!nl)
                break;
            q = nl;
            continue;
        }
        if (*q != '\n' && *q != ' ')
            return -1;
    }
    int tl = (int)(t1 - t0), cl = (int)(c1 - c0), ll = (int)(l1 + 1 - l0), pl = (int)(at - sql);
    if (asprintf(index_sql, "%.*sCREATE UNIQUE INDEX %.*s ON ONLY %.*s USING btree %.*s;\n", pl, sql, cl, c0, tl, t0, ll,
                 l0) < 0)
        return -1;
    if (asprintf(cons_sql, "ALTER TABLE ONLY %.*s ADD CONSTRAINT %.*s %s USING INDEX %.*s;\n", tl, t0, cl, c0, kind, cl,
                 c0) < 0) {
        free(*index_sql);
        return -1;
    }
    return 0;
}

/* The scheduler's weights: each job's work estimated in microseconds of server CPU from
 * the manifest's bytes and rows (measured on PostgreSQL 15; only their proportions matter,
 * the scheduler runs first the job with the longest chain of work after it). */
static uint64_t cost_load(uint64_t raw) { return raw / 80 + 1; }
static uint64_t cost_index(const manifest_table *mt) { return mt->rows * 6 / 10 + mt->raw_bytes / 1000 + 100; }
static uint64_t cost_analyze(const manifest_table *mt)
{
    /* ANALYZE reads a sample of 300 x default_statistics_target (100) rows */
    uint64_t sample = mt->rows < 30000 ? mt->rows : 30000, width = mt->rows ? mt->raw_bytes / mt->rows : 0;
    return sample * (100 + width) / 33 + 100;
}
static uint64_t cost_entry(restore_ctx *ctx, const archive_entry *e, int part)
{
    long te = restore_entry_table_entry(ctx, e);
    const manifest_table *mt = te >= 0 && ctx->entry_table[te] >= 0 ? ctx->tables[ctx->entry_table[te]].mt : NULL;
    if (!mt || part == 2)
        return 100;
    if (restore_entry_is(e, "FK CONSTRAINT"))
        return mt->rows * 12 / 10 + 100; /* the check reads every row */
    if (restore_entry_is(e, "INDEX") || restore_entry_is(e, "CONSTRAINT"))
        return cost_index(mt);
    return 1000;
}

static int add_parent(rtable *t, size_t p)
{
    for (size_t i = 0; i < t->nparents; i++)
        if (t->parents[i] == p)
            return 0;
    if (t->nparents == t->capparents) {
        size_t c = t->capparents ? 2 * t->capparents : 4;
        size_t *a = realloc(t->parents, c * sizeof *a);
        if (!a)
            return -1;
        t->parents = a;
        t->capparents = c;
    }
    t->parents[t->nparents++] = p;
    return 0;
}

/* --data-only into tables whose foreign keys exist: a table's rows go in after the rows
 * they refer to (as pg_restore orders TABLE DATA). The foreign keys come from the archive:
 * an FK CONSTRAINT entry depends on its table and on the referenced table's key. */
static int foreign_key_parents(restore_ctx *ctx, char *err, size_t errlen)
{
    size_t *child = NULL, ccap = 0, *parent = NULL, pcap = 0;
    int rc = 0;
    for (size_t i = 0; i < ctx->a.n && rc == 0; i++) {
        const archive_entry *e = &ctx->a.entries[i];
        if (!restore_entry_is(e, "FK CONSTRAINT"))
            continue;
        size_t nc = entry_data(ctx, e, &child, &ccap), np = 0;
        for (size_t d = 0; d < e->ndeps && rc == 0; d++) {
            long k = archive_find(&ctx->a, e->deps[d]);
            if (k < 0 || restore_entry_is(&ctx->a.entries[k], "TABLE"))
                continue;
            np = entry_data(ctx, &ctx->a.entries[k], &parent, &pcap);
            for (size_t c = 0; c < nc && rc == 0; c++)
                for (size_t p = 0; p < np && rc == 0; p++) {
                    rtable *ct = &ctx->tables[child[c]];
                    if (child[c] == parent[p])
                        ct->self_ref = 1;
                    else if (add_parent(ct, parent[p]) < 0)
                        rc = pf_err(err, errlen, "out of memory");
                }
        }
    }
    free(child);
    free(parent);
    return rc;
}

/* Tables that refer to each other in a circle cannot be loaded one after the other with
 * their foreign keys checked: the edges inside such a group (Tarjan's strongly connected
 * components) are dropped, with a warning, as pg_dump warns. */
static int break_cycles(restore_ctx *ctx, char *err, size_t errlen)
{
    size_t n = ctx->ntables;
    long *index = malloc((n + 1) * sizeof *index), *low = malloc((n + 1) * sizeof *low);
    size_t *stack = malloc((n + 1) * sizeof *stack), *comp = malloc((n + 1) * sizeof *comp);
    unsigned char *on = calloc(n + 1, 1);
    size_t *cs_node = malloc((n + 1) * sizeof *cs_node), *cs_edge = malloc((n + 1) * sizeof *cs_edge);
    if (!index || !low || !stack || !comp || !on || !cs_node || !cs_edge) {
        free(index); free(low); free(stack); free(comp); free(on); free(cs_node); free(cs_edge);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        index[i] = -1;
    long next = 0;
    size_t sp = 0, ncomp = 0;
    for (size_t root = 0; root < n; root++) {
        if (index[root] >= 0)
            continue;
        size_t depth = 0;
        cs_node[0] = root;
        cs_edge[0] = 0;
        index[root] = low[root] = next++;
        stack[sp++] = root;
        on[root] = 1;
        while (depth != (size_t)-1) {
            size_t v = cs_node[depth];
            rtable *t = &ctx->tables[v];
            if (cs_edge[depth] < t->nparents) {
                size_t w = t->parents[cs_edge[depth]++];
                if (index[w] < 0) {
                    index[w] = low[w] = next++;
                    stack[sp++] = w;
                    on[w] = 1;
                    depth++;
                    cs_node[depth] = w;
                    cs_edge[depth] = 0;
                } else if (on[w] && index[w] < low[v])
                    low[v] = index[w];
                continue;
            }
            if (low[v] == index[v]) {
                size_t w;
                do {
                    w = stack[--sp];
                    on[w] = 0;
                    comp[w] = ncomp;
                } while (w != v);
                ncomp++;
            }
            if (depth == 0)
                break;
            depth--;
            size_t u = cs_node[depth];
            if (low[v] < low[u])
                low[u] = low[v];
        }
    }
    int warned = 0;
    for (size_t v = 0; v < n; v++) {
        rtable *t = &ctx->tables[v];
        size_t keep = 0;
        for (size_t i = 0; i < t->nparents; i++) {
            size_t w = t->parents[i];
            if (comp[w] != comp[v]) {
                t->parents[keep++] = w;
                continue;
            }
            if (!warned++)
                pf_notice(ctx->o->notice, ctx->o->notice_ctx,
                          "restore: warning: table %s and table %s refer to each other through foreign keys: their rows may fail those checks while loading (--disable-triggers avoids it)",
                          t->label, ctx->tables[w].label);
        }
        t->nparents = keep;
    }
    free(index); free(low); free(stack); free(comp); free(on); free(cs_node); free(cs_edge);
    return 0;
}

int restore_replica_load(const restore_ctx *ctx, const rtable *t)
{
    if (!t->preexisting)
        return 0;
    if (ctx->o->disable_triggers)
        return 1; /* --data-only --disable-triggers: the whole session */
    return ctx->o->profile && ctx->can_replica;
}

int restore_checked_load(const restore_ctx *ctx, const rtable *t)
{
    return t->preexisting && !restore_replica_load(ctx, t);
}

static int add_loads(restore_ctx *ctx, size_t ti, char *err, size_t errlen)
{
    rtable *t = &ctx->tables[ti];
    const manifest_table *mt = t->mt;
    size_t *left = calloc(mt->nchunks + 1, sizeof *left), nleft = 0;
    if (!left)
        return pf_err(err, errlen, "out of memory");
    uint64_t raw = 0;
    for (size_t k = 0; k < mt->nchunks; k++) {
        char item[4200];
        snprintf(item, sizeof item, "chunk:%s", mt->chunks[k].file);
        ctx->total_raw += mt->chunks[k].raw_bytes;
        ctx->nchunks++;
        if (restore_journal_has(ctx, item)) {
            ctx->chunks_skipped++;
            atomic_fetch_add(&ctx->raw, mt->chunks[k].raw_bytes);
            atomic_fetch_add(&ctx->rows, mt->chunks[k].rows);
            atomic_fetch_add(&ctx->chunks_done, 1);
            continue;
        }
        left[nleft++] = k;
        raw += mt->chunks[k].raw_bytes;
    }
    t->loaded = sched_add_milestone(ctx->s);
    if (add_job(ctx, t->loaded, (rjob){.kind = JOB_MILESTONE, .table = ti}) < 0) {
        free(left);
        return pf_err(err, errlen, "out of memory");
    }
    /* The load strategy. A table one worker can load without becoming the straggler is
     * one job: all its chunks in one transaction through one COPY, after a TRUNCATE that
     * makes it a COPY ... FREEZE (rows written frozen and pages all-visible: no later
     * hint-bit pass rewriting every page, cheaper scans for its index builds, ANALYZE
     * and copy's final comparison, and no WAL at all under wal_level=minimal). A FREEZE
     * load takes about 3/4 of the work of loading the same rows unfrozen, so a table is
     * the straggler only above 4/3 of an even share of all the rows (total / workers;
     * straggler_bytes). Only those tables, which would finish last, are split into a job
     * per chunk for several workers at once (they contend for the table's extension lock
     * and lose FREEZE, but the restore does not wait on one worker). FREEZE is not worth
     * it below wal_skip_threshold (2MB): there the TRUNCATE's buffer scan costs more than
     * it saves. A table that refers to itself, loaded with its foreign keys live, is one
     * COPY whatever its size. PGFERRY_RESTORE_SPLIT=always or never overrides the choice
     * (for measuring it). */
    const char *mode = getenv("PGFERRY_RESTORE_SPLIT");
    int split = raw > ctx->straggler_bytes;
    if (mode && strcmp(mode, "always") == 0)
        split = 1;
    else if (mode && strcmp(mode, "never") == 0)
        split = 0;
    int whole = (t->self_ref && restore_checked_load(ctx, t)) || mt->nchunks == 1 || !split;
    size_t units = whole ? (nleft > 0) : nleft;
    for (size_t u = 0; u < units; u++) {
        rjob j = {.kind = JOB_LOAD, .table = ti, .entry = -1};
        j.nchunks = whole ? nleft : 1;
        j.chunks = malloc(j.nchunks * sizeof *j.chunks);
        if (!j.chunks) {
            free(left);
            return pf_err(err, errlen, "out of memory");
        }
        memcpy(j.chunks, whole ? left : &left[u], j.nchunks * sizeof *j.chunks);
        for (size_t k = 0; k < j.nchunks; k++)
            j.raw += mt->chunks[j.chunks[k]].raw_bytes;
        j.one_copy = whole && j.nchunks > 1;
        j.freeze = whole && !t->preexisting && nleft == mt->nchunks && raw >= FREEZE_MIN_BYTES;
        long id = add_job(ctx, sched_add(ctx->s, 0, cost_load(j.raw), SCHED_LOCK_NONE), j);
        if (id < 0 || sched_after(ctx->s, (size_t)t->loaded, (size_t)id) < 0) {
            free(j.chunks);
            free(left);
            return pf_err(err, errlen, "out of memory");
        }
        ctx->loads_left++;
    }
    free(left);
    return 0;
}

static void job_item(restore_ctx *ctx, const rjob *j, char *item, size_t n);

/* An ANALYZE job, once what it waits for and locks is set: its weight, its count, and done
 * already when a resumed run's journal says so. */
static int analyze_job_added(restore_ctx *ctx, size_t id, uint64_t cost)
{
    if (sched_set_weight(ctx->s, id, cost) < 0)
        return -1;
    ctx->nentry_jobs++;
    char item[4200];
    job_item(ctx, &ctx->jobs[id], item, sizeof item);
    if (restore_journal_has(ctx, item)) {
        sched_mark_done(ctx->s, id);
        atomic_fetch_add(&ctx->entries_done, 1);
    }
    return 0;
}

/* The scratch state of building the job graph: per archive entry its post-data job (-1:
 * none) and its lock resource (a TABLE entry without data: a resource of its own, -1:
 * none); the post-data jobs of each TABLE entry as lists (table_first -> next_entry). */
typedef struct {
    long *entry_job, *virt, *table_first, *next_entry;
    unsigned char *in_tree;
} jplan;

static void jplan_free(jplan *p)
{
    free(p->entry_job);
    free(p->virt);
    free(p->table_first);
    free(p->next_entry);
    free(p->in_tree);
}

/* Lock resources: the data tables, then every TABLE entry without data; the scheduler. */
static int plan_resources(restore_ctx *ctx, jplan *p)
{
    size_t n = ctx->a.n + 1;
    p->entry_job = malloc(n * sizeof *p->entry_job);
    p->virt = malloc(n * sizeof *p->virt);
    p->table_first = malloc(n * sizeof *p->table_first);
    p->next_entry = malloc(n * sizeof *p->next_entry);
    p->in_tree = malloc(n);
    if (!p->entry_job || !p->virt || !p->table_first || !p->next_entry || !p->in_tree)
        return -1;
    size_t nres = ctx->ntables;
    for (size_t i = 0; i < ctx->a.n; i++) {
        p->virt[i] = restore_entry_is(&ctx->a.entries[i], "TABLE") && ctx->entry_table[i] < 0 ? (long)nres++ : -1;
        p->entry_job[i] = p->table_first[i] = -1;
    }
    ctx->s = sched_new(nres);
    return ctx->s ? 0 : -1;
}

/* The loads of the selected tables; where foreign keys are live during the loads
 * (--data-only, a platform's tables, unless triggers are off for them), a referencing
 * table's loads wait for its parents' rows. */
static int plan_loads(restore_ctx *ctx, char *err, size_t errlen)
{
    int fk_order = 0;
    for (size_t t = 0; t < ctx->ntables; t++)
        fk_order |= ctx->tables[t].selected && restore_checked_load(ctx, &ctx->tables[t]);
    fk_order &= ctx->do_data;
    if (fk_order && (foreign_key_parents(ctx, err, errlen) < 0 || break_cycles(ctx, err, errlen) < 0))
        return -1;
    if (!ctx->do_data)
        return 0;
    uint64_t all = 0;
    for (size_t t = 0; t < ctx->ntables; t++)
        if (ctx->tables[t].selected)
            all += ctx->tables[t].mt->raw_bytes;
    /* 4/3 of an even share: what a FREEZE load of it costs against an unfrozen one (add_loads) */
    ctx->straggler_bytes = all / 3 * 4 / (uint64_t)(ctx->o->jobs > 0 ? ctx->o->jobs : 1);
    for (size_t t = 0; t < ctx->ntables; t++)
        if (ctx->tables[t].selected && add_loads(ctx, t, err, errlen) < 0)
            return -1;
    for (size_t t = 0; fk_order && t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        if (!rt->selected || !restore_checked_load(ctx, rt))
            continue;
        for (size_t k = 0; k < rt->nparents; k++) {
            rtable *pt = &ctx->tables[rt->parents[k]];
            if (!pt->selected || pt->loaded < 0)
                continue;
            for (size_t j = 0; j < ctx->njobs; j++)
                if (ctx->jobs[j].kind == JOB_LOAD && ctx->jobs[j].table == t &&
                    sched_after(ctx->s, j, (size_t)pt->loaded) < 0)
                    return pf_err(err, errlen, "out of memory");
        }
    }
    return 0;
}

/* A job done by an earlier run of the restore (--resume) is marked done. */
static void plan_journaled(restore_ctx *ctx, const archive_entry *e, const char *suffix, long job)
{
    char item[64];
    snprintf(item, sizeof item, "entry:%d%s", e->id, suffix);
    if (restore_journal_has(ctx, item))
        sched_mark_done(ctx->s, (size_t)job);
}

/* Job id waits for the rows of (and locks) every table the entry touches, and for the
 * entries it builds on (locking their tables too). 0, or -1 when out of memory. */
static int plan_entry_waits(restore_ctx *ctx, jplan *p, const archive_entry *e, long id, long pre, size_t **tabs,
                            size_t *tcap)
{
    size_t nt = entry_resources(ctx, e, p->virt, tabs, tcap);
    for (size_t k = 0; k < nt; k++) {
        rtable *rt = (*tabs)[k] < ctx->ntables ? &ctx->tables[(*tabs)[k]] : NULL;
        if (sched_lock(ctx->s, (size_t)id, (*tabs)[k]) < 0 ||
            (rt && rt->loaded >= 0 && sched_after(ctx->s, (size_t)id, (size_t)rt->loaded) < 0) ||
            (pre >= 0 && (sched_lock(ctx->s, (size_t)pre, (*tabs)[k]) < 0 ||
                          (rt && rt->loaded >= 0 && sched_after(ctx->s, (size_t)pre, (size_t)rt->loaded) < 0))))
            return -1;
    }
    for (size_t d = 0; d < e->ndeps; d++) {
        long k = archive_find(&ctx->a, e->deps[d]);
        if (k < 0)
            continue;
        size_t *dt = NULL, dcap = 0, nd = entry_resources(ctx, &ctx->a.entries[k], p->virt, &dt, &dcap);
        int bad = 0;
        for (size_t q = 0; q < nd && !bad; q++)
            bad = sched_lock(ctx->s, (size_t)id, dt[q]) < 0;
        free(dt);
        if (bad || (p->entry_job[k] >= 0 && sched_after(ctx->s, (size_t)id, (size_t)p->entry_job[k]) < 0))
            return -1;
    }
    return 0;
}

/* The job of one post-data entry. A primary key or unique constraint of a plain table
 * large enough to be worth a second transaction becomes two: its index, built beside the
 * table's other indexes (a SHARE lock), then the constraint on it. */
static int plan_post_entry(restore_ctx *ctx, jplan *p, size_t i, size_t **tabs, size_t *tcap)
{
    archive_entry *e = &ctx->a.entries[i];
    int shared = restore_entry_is(e, "INDEX");
    char *isql = NULL, *csql = NULL;
    long pre = -1;
    long te = restore_entry_table_entry(ctx, e);
    if (restore_entry_is(e, "CONSTRAINT") && te >= 0 && ctx->entry_table[te] >= 0 &&
        ctx->tables[ctx->entry_table[te]].mt->raw_bytes >= SPLIT_KEY_MIN_BYTES &&
        split_key(e->sql, &isql, &csql) == 0) {
        pre = add_job(ctx, sched_add(ctx->s, 0, cost_entry(ctx, e, 1), SCHED_LOCK_SHARED),
                      (rjob){.kind = JOB_ENTRY, .entry = (long)i, .part = 1, .sql = isql});
        if (pre < 0) {
            free(isql);
            free(csql);
            return -1;
        }
        plan_journaled(ctx, e, ":index", pre);
    }
    long id = add_job(ctx, sched_add(ctx->s, 0, cost_entry(ctx, e, pre >= 0 ? 2 : 0),
                                     shared ? SCHED_LOCK_SHARED : SCHED_LOCK_EXCLUSIVE),
                      (rjob){.kind = JOB_ENTRY, .entry = (long)i, .part = pre >= 0 ? 2 : 0, .sql = csql});
    if (id < 0) {
        free(csql);
        return -1;
    }
    p->entry_job[i] = id;
    ctx->nentry_jobs++;
    char item[64];
    snprintf(item, sizeof item, "entry:%d", e->id);
    if (restore_journal_has(ctx, item)) {
        sched_mark_done(ctx->s, (size_t)id);
        if (pre >= 0)
            sched_mark_done(ctx->s, (size_t)pre);
        atomic_fetch_add(&ctx->entries_done, 1);
    }
    if (pre >= 0 && sched_after(ctx->s, (size_t)id, (size_t)pre) < 0)
        return -1;
    return plan_entry_waits(ctx, p, e, id, pre, tabs, tcap);
}

/* Post-data entries: after the rows of their own tables are in and the entries they build
 * on are done; locking their tables and those of what they build on (a foreign key locks
 * the table it references, through that table's key). Then each TABLE entry's list of
 * its post-data jobs, for the ANALYZE of its rows to wait for. */
static int plan_post_data(restore_ctx *ctx, jplan *p)
{
    size_t *tabs = NULL, tcap = 0;
    for (size_t i = 0; ctx->do_post && i < ctx->a.n; i++) {
        if (!(ctx->wanted[i] && ctx->entry_phase[i] == PH_POST && ctx->a.entries[i].sql))
            continue;
        if (plan_post_entry(ctx, p, i, &tabs, &tcap) < 0) {
            free(tabs);
            return -1;
        }
    }
    free(tabs);
    for (size_t i = 0; i < ctx->a.n; i++) {
        long te = p->entry_job[i] >= 0 ? restore_entry_table_entry(ctx, &ctx->a.entries[i]) : -1;
        if (te >= 0) {
            p->next_entry[i] = p->table_first[te];
            p->table_first[te] = (long)i;
        }
    }
    return 0;
}

/* Job id waits for the post-data jobs of TABLE entry x (-1: none). */
static int after_post_of(restore_ctx *ctx, const jplan *p, long id, long x)
{
    for (long q = x >= 0 ? p->table_first[x] : -1; q >= 0; q = p->next_entry[q])
        if (sched_after(ctx->s, (size_t)id, (size_t)p->entry_job[q]) < 0)
            return -1;
    return 0;
}

/* Marks in p->in_tree the TABLE entries of the partition tree under entry k (those whose
 * TABLE entries depend on an entry of the tree). */
static void mark_tree(restore_ctx *ctx, jplan *p, size_t k)
{
    memset(p->in_tree, 0, ctx->a.n);
    p->in_tree[k] = 1;
    for (int grew = 1; grew;) {
        grew = 0;
        for (size_t x = 0; x < ctx->a.n; x++) {
            if (p->in_tree[x] || p->virt[x] < 0)
                continue;
            for (size_t d = 0; d < ctx->a.entries[x].ndeps && !p->in_tree[x]; d++) {
                long pk = archive_find(&ctx->a, ctx->a.entries[x].deps[d]);
                if (pk >= 0 && p->in_tree[pk])
                    p->in_tree[x] = grew = 1;
            }
        }
    }
}

/* One ANALYZE of the partition tree whose root is TABLE entry k, if the restore loads
 * partitions of it: it locks the tree's partitioned tables and waits for their post-data
 * jobs (indexes, attachments), and for each partition's rows and post-data jobs. */
static int plan_analyze_tree(restore_ctx *ctx, jplan *p, size_t k)
{
    const archive_entry *e = &ctx->a.entries[k];
    long id = -1;
    uint64_t cost = 100;
    for (size_t t = 0; t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        if (!rt->selected || !rt->root_qname || strcmp(rt->mt->parent_name, e->tag) ||
            strcmp(rt->mt->parent_schema, e->namespace))
            continue;
        if (id < 0) {
            id = add_job(ctx, sched_add(ctx->s, 0, 0, SCHED_LOCK_EXCLUSIVE),
                         (rjob){.kind = JOB_ANALYZE, .table = t, .root = 1});
            if (id < 0)
                return -1;
            mark_tree(ctx, p, k);
            for (size_t x = 0; x < ctx->a.n; x++)
                if (p->in_tree[x] &&
                    (sched_lock(ctx->s, (size_t)id, (size_t)p->virt[x]) < 0 || after_post_of(ctx, p, id, (long)x) < 0))
                    return -1;
        }
        rt->root_analyzed = 1;
        cost += cost_analyze(rt->mt);
        if (sched_lock(ctx->s, (size_t)id, t) < 0 ||
            (rt->loaded >= 0 && sched_after(ctx->s, (size_t)id, (size_t)rt->loaded) < 0) ||
            after_post_of(ctx, p, id, rt->toc) < 0)
            return -1;
    }
    return id >= 0 ? analyze_job_added(ctx, (size_t)id, cost) : 0;
}

/* ANALYZE, released when the rows are in and the indexes built (ANALYZE gathers the
 * statistics of expression indexes, and the two lock each other out anyway), so
 * statistics are built while other tables still load rather than in one pass at the end.
 * A partition tree the restore creates is analyzed once, from its root, which covers the
 * root's own statistics and every partition's (PostgreSQL's ANALYZE of a partitioned
 * table recurses): analyzing the partitions first would do them twice. */
static int plan_analyze(restore_ctx *ctx, jplan *p)
{
    if (!ctx->do_data || ctx->o->no_analyze)
        return 0;
    for (size_t k = 0; k < ctx->a.n; k++) {
        const archive_entry *e = &ctx->a.entries[k];
        if (ctx->wanted[k] && p->virt[k] >= 0 && restore_entry_is(e, "TABLE") && e->namespace &&
            plan_analyze_tree(ctx, p, k) < 0)
            return -1;
    }
    for (size_t t = 0; t < ctx->ntables; t++) {
        rtable *rt = &ctx->tables[t];
        if (!rt->selected || rt->root_analyzed)
            continue;
        long id = add_job(ctx, sched_add(ctx->s, 0, 0, SCHED_LOCK_EXCLUSIVE), (rjob){.kind = JOB_ANALYZE, .table = t});
        if (id < 0 || sched_lock(ctx->s, (size_t)id, t) < 0 ||
            (rt->loaded >= 0 && sched_after(ctx->s, (size_t)id, (size_t)rt->loaded) < 0) ||
            after_post_of(ctx, p, id, rt->toc) < 0 || analyze_job_added(ctx, (size_t)id, cost_analyze(rt->mt)) < 0)
            return -1;
    }
    return 0;
}

/* The restore's job graph: loads, post-data entries, ANALYZE; then the scheduler starts. */
int restore_build_jobs(restore_ctx *ctx, char *err, size_t errlen)
{
    jplan p = {0};
    int rc = -1;
    size_t stuck = 0;
    if (plan_resources(ctx, &p) < 0)
        pf_err(err, errlen, "out of memory");
    else if (plan_loads(ctx, err, errlen) < 0)
        ;
    else if (plan_post_data(ctx, &p) < 0 || plan_analyze(ctx, &p) < 0)
        pf_err(err, errlen, "out of memory");
    else if (sched_start(ctx->s, &stuck) < 0)
        pf_err(err, errlen, "restore plan: job %zu waits for itself through a cycle", stuck);
    else
        rc = 0;
    jplan_free(&p);
    return rc;
}

void restore_free_jobs(restore_ctx *ctx)
{
    for (size_t i = 0; i < ctx->njobs; i++) {
        free(ctx->jobs[i].chunks);
        free(ctx->jobs[i].sql);
    }
    free(ctx->jobs);
    ctx->jobs = NULL;
    ctx->njobs = 0;
    sched_free(ctx->s);
    ctx->s = NULL;
}

/* ---- workers ------------------------------------------------------------------------------ */

static void job_item(restore_ctx *ctx, const rjob *j, char *item, size_t n)
{
    if (j->kind == JOB_LOAD)
        restore_load_item(ctx, j, item, n);
    else if (j->kind == JOB_ENTRY)
        snprintf(item, n, "entry:%d%s", ctx->a.entries[j->entry].id, j->part == 1 ? ":index" : "");
    else
        snprintf(item, n, "analyze:%s", j->root ? ctx->tables[j->table].root_qname : ctx->tables[j->table].qname);
}

/* The job builds an index: CREATE INDEX, a key constraint, or a split key's index. */
static int builds_index(const restore_ctx *ctx, const rjob *j)
{
    if (j->kind != JOB_ENTRY || j->part == 2)
        return 0;
    const archive_entry *e = &ctx->a.entries[j->entry];
    return restore_entry_is(e, "INDEX") || restore_entry_is(e, "CONSTRAINT") || j->part == 1;
}

static int run_job(rworker *w, chunkfile_reader *b, const rjob *j, int idle, char *err, size_t errlen)
{
    restore_ctx *ctx = w->ctx;
    char item[4200], what[600], *sql = NULL;
    if (j->kind == JOB_LOAD)
        return restore_load_job(ctx, w->conn, b, j, err, errlen);
    job_item(ctx, j, item, sizeof item);
    if (j->kind == JOB_ANALYZE) {
        snprintf(what, sizeof what, "ANALYZE %s", j->root ? ctx->tables[j->table].root_qname : ctx->tables[j->table].qname);
        sql = what;
    } else {
        archive_entry *e = &ctx->a.entries[j->entry];
        snprintf(what, sizeof what, "%s %s%s%s%s", e->desc, e->namespace ? e->namespace : "", e->namespace ? "." : "",
                 e->tag, j->part == 1 ? " (its index)" : "");
        sql = j->sql ? j->sql : e->sql;
    }
    char *own = NULL;
    if (builds_index(ctx, j)) {
        /* Index builds share the memory budget: a worker's share, and the shares of the
         * workers that have nothing to do (fewer jobs left than workers). PostgreSQL's
         * parallel index build gets the CPU of those idle workers and one process more
         * (at most N - 1): a build that turns out to be the last job of a table (its
         * ANALYZE waits for it) then does not leave the other workers idle, and while other
         * jobs run, the processes share the CPUs (measured: no slower there). */
        int jobs = ctx->o->jobs > 0 ? ctx->o->jobs : 1;
        uint64_t budget = ctx->o->maintenance_memory ? ctx->o->maintenance_memory : (1ULL << 30);
        uint64_t kb = budget / (uint64_t)jobs * (uint64_t)(1 + idle) / 1024;
        if (kb < 1024)
            kb = 1024;
        int par = idle + 1 < jobs - 1 ? idle + 1 : jobs - 1;
        if (asprintf(&own, "SET LOCAL maintenance_work_mem = '%llukB'; SET LOCAL max_parallel_maintenance_workers = %d;\n%s",
                     (unsigned long long)kb, par, sql) < 0)
            return pf_err(err, errlen, "out of memory");
        sql = own;
    }
    int rc = j->kind == JOB_ENTRY ? restore_run_archive_sql(w->conn, ctx, sql, item, what, err, errlen)
                                  : restore_run_journaled(w->conn, ctx, sql, item, what, err, errlen);
    free(own);
    return rc;
}

/* A finished job's span in the trace and its server CPU in the phase's total. */
static void record_job(rworker *w, const rjob *j, double t0, double cpu)
{
    restore_ctx *ctx = w->ctx;
    char name[700];
    const char *cat = "load";
    uint64_t bytes = 0, rows = 0;
    if (j->kind == JOB_LOAD) {
        const manifest_table *mt = ctx->tables[j->table].mt;
        for (size_t k = 0; k < j->nchunks; k++) {
            bytes += mt->chunks[j->chunks[k]].raw_bytes;
            rows += mt->chunks[j->chunks[k]].rows;
        }
        if (j->nchunks == mt->nchunks)
            snprintf(name, sizeof name, "%s%s", ctx->tables[j->table].label, j->freeze ? " (FREEZE)" : "");
        else
            snprintf(name, sizeof name, "%s chunk %zu", ctx->tables[j->table].label, j->chunks[0]);
    } else if (j->kind == JOB_ANALYZE) {
        cat = "analyze";
        if (j->root)
            snprintf(name, sizeof name, "ANALYZE %s.%s (and its partitions)", ctx->tables[j->table].mt->parent_schema,
                     ctx->tables[j->table].mt->parent_name);
        else
            snprintf(name, sizeof name, "ANALYZE %s", ctx->tables[j->table].label);
    } else {
        const archive_entry *e = &ctx->a.entries[j->entry];
        cat = restore_entry_is(e, "INDEX") ? "index"
              : strstr(e->desc, "CONSTRAINT") ? "constraint"
                                               : "post-data";
        snprintf(name, sizeof name, "%s %s%s%s%s", e->desc, e->namespace ? e->namespace : "", e->namespace ? "." : "",
                 e->tag, j->part == 1 ? " (its index)" : j->part == 2 ? " (on its index)" : "");
        if (j->part == 1)
            cat = "index";
    }
    trace_span(ctx->trace, w->id, cat, name, t0, pf_now(), bytes, rows, cpu);
    restore_job_done(ctx, cat, name, pf_now() - t0, rows, bytes);
    pthread_mutex_lock(&ctx->mu);
    double *sum = j->kind == JOB_LOAD ? &ctx->cpu_data : &ctx->cpu_post;
    if (cpu < 0 || *sum < 0)
        *sum = -1;
    else
        *sum += cpu;
    pthread_mutex_unlock(&ctx->mu);
}

static void set_conn(rworker *w, PGconn *c)
{
    pthread_mutex_lock(&w->ctx->mu);
    PGcancel *old = w->cancel;
    PGconn *oc = w->conn;
    w->conn = c;
    w->cancel = c ? PQgetCancel(c) : NULL;
    pthread_mutex_unlock(&w->ctx->mu);
    if (old)
        PQfreeCancel(old);
    if (oc)
        PQfinish(oc);
}

/* A new connection after one was lost: the server may be restarting (a failover), so a
 * few tries over about fifteen seconds. NULL with err when none came. */
PGconn *restore_reconnect(restore_ctx *ctx, char *err, size_t errlen)
{
    useconds_t wait = 250000;
    for (int i = 0; i < 7 && !atomic_load(&ctx->stop); i++) {
        PGconn *c = restore_connect(ctx, err, errlen);
        if (c) {
            atomic_fetch_add(&ctx->reconnects, 1);
            return c;
        }
        usleep(wait);
        if (wait < 4000000)
            wait *= 2;
    }
    return NULL;
}

static int reconnect(rworker *w, char *err, size_t errlen)
{
    set_conn(w, NULL);
    PGconn *c = restore_reconnect(w->ctx, err, errlen);
    if (!c)
        return -1;
    set_conn(w, c);
    return 0;
}

/* ---- the pool's callbacks (pool.h): a worker is a connection to the target ---------------- */

static void restore_worker_free(void *arg, void *ws);

static void *restore_worker_new(void *arg, int id, char *err, size_t errlen)
{
    restore_ctx *ctx = arg;
    rworker *w = &ctx->workers[id - 1];
    w->ctx = ctx;
    w->id = id;
    w->reader = chunkfile_reader_new(&ctx->m, err, errlen);
    PGconn *c = w->reader ? restore_connect(ctx, err, errlen) : NULL;
    if (!c) {
        restore_worker_free(ctx, w);
        return NULL;
    }
    set_conn(w, c);
    return w;
}

static void restore_worker_free(void *arg, void *ws)
{
    (void)arg;
    rworker *w = ws;
    set_conn(w, NULL);
    trace_cpu_close(&w->cpu);
    chunkfile_reader_free(w->reader);
    w->reader = NULL;
}

/* The ready job the scheduler picks, waiting while none is ready but some are left. */
static int restore_next(void *arg, void *ws, void **job)
{
    restore_ctx *ctx = arg;
    rworker *w = ws;
    pthread_mutex_lock(&ctx->mu);
    for (;;) {
        if (ctx->failed || atomic_load(&ctx->stop) || sched_left(ctx->s) == 0) {
            pthread_cond_broadcast(&ctx->cv);
            pthread_mutex_unlock(&ctx->mu);
            return 0;
        }
        long id = sched_next(ctx->s);
        if (id < 0) {
            pthread_cond_wait(&ctx->cv, &ctx->mu);
            continue;
        }
        /* workers with nothing to do now: not running, and no job ready for them */
        long busy = (long)sched_running(ctx->s) + (long)sched_ready(ctx->s);
        w->idle = ctx->nworkers > busy ? (int)(ctx->nworkers - busy) : 0;
        w->job = id;
        pthread_mutex_unlock(&ctx->mu);
        *job = &ctx->jobs[id];
        return 1;
    }
}

/* A job whose connection went: its transaction rolled back, unless its COMMIT got through
 * before the loss, which the journal tells. 1: run it again, 0: it committed, -1: err. */
static int recover_job(rworker *w, rjob *j, char *err, size_t errlen)
{
    restore_ctx *ctx = w->ctx;
    char why[PF_ERRLEN], item[4200];
    snprintf(why, sizeof why, "%s", err);
    job_item(ctx, j, item, sizeof item);
    if (++j->attempts >= JOB_ATTEMPTS)
        return pf_err(err, errlen, "worker %d: gave up after %d lost connections: %s", w->id, j->attempts, why);
    if (reconnect(w, err, errlen) < 0) {
        char e2[PF_ERRLEN];
        snprintf(e2, sizeof e2, "%s", err);
        return pf_err(err, errlen, "worker %d lost its connection (%s) and could not reconnect: %s", w->id, why, e2);
    }
    int done = restore_journal_committed(w->conn, item, err, errlen);
    if (done < 0)
        return -1;
    if (done == 0)
        return 1;
    if (j->kind == JOB_LOAD)
        for (size_t k = 0; k < j->nchunks; k++) {
            atomic_fetch_add(&ctx->rows, ctx->tables[j->table].mt->chunks[j->chunks[k]].rows);
            atomic_fetch_add(&ctx->raw, ctx->tables[j->table].mt->chunks[j->chunks[k]].raw_bytes);
        }
    return 0;
}

static int restore_job(void *arg, void *ws, void *job, char *err, size_t errlen)
{
    restore_ctx *ctx = arg;
    rworker *w = ws;
    rjob *j = job;
    double t0 = pf_now(), cpu0 = trace_backend_cpu(&w->cpu, w->conn, ctx->cpu_mode);
    PGconn *conn0 = w->conn;
    int rc = run_job(w, w->reader, j, w->idle, err, errlen);
    if (rc == 0)
        record_job(w, j, t0, conn0 == w->conn && cpu0 >= 0 ? trace_backend_cpu(&w->cpu, w->conn, ctx->cpu_mode) - cpu0 : -1);
    if (rc < 0 && !atomic_load(&ctx->stop) && PQstatus(w->conn) != CONNECTION_OK) {
        rc = recover_job(w, j, err, errlen);
        if (rc == 1) {
            pthread_mutex_lock(&ctx->mu);
            sched_retry(ctx->s, (size_t)w->job);
            pthread_cond_broadcast(&ctx->cv);
            pthread_mutex_unlock(&ctx->mu);
            return 0;
        }
    }
    if (rc < 0)
        return -1;
    pthread_mutex_lock(&ctx->mu);
    sched_finish(ctx->s, (size_t)w->job);
    if (j->kind == JOB_LOAD) {
        atomic_fetch_add(&ctx->chunks_done, j->nchunks);
        if (--ctx->loads_left == 0)
            ctx->data_end = pf_now();
    } else if (j->part != 1) /* a split key counts once, when its constraint is made */
        atomic_fetch_add(&ctx->entries_done, 1);
    pthread_cond_broadcast(&ctx->cv);
    pthread_mutex_unlock(&ctx->mu);
    return 0;
}

static void restore_stop(void *arg, const char *why)
{
    restore_fail(arg, why);
}

static const pool_ops restore_pool = {restore_worker_new, restore_worker_free, restore_next, restore_job,
                                      restore_stop};

/* Runs every job with o->jobs workers; the calling thread draws progress and watches for
 * an interrupt. On failure the others' statements are cancelled (their transactions roll
 * back) and the first error is returned. */
int restore_run_jobs(restore_ctx *ctx, PGconn **coord, void (*progress)(restore_ctx *, double, int), double start,
                     char *err, size_t errlen)
{
    const restore_options *o = ctx->o;
    if (sched_left(ctx->s) == 0)
        return 0;
    int jobs = o->jobs > 0 ? o->jobs : 1;
    ctx->workers = calloc((size_t)jobs, sizeof *ctx->workers);
    if (!ctx->workers)
        return pf_err(err, errlen, "out of memory");
    ctx->nworkers = jobs;
    pool *p = pool_start(jobs, &restore_pool, ctx, err, errlen);
    if (!p)
        return -1;
    double last = 0, last_ping = pf_now();
    for (;;) {
        pthread_mutex_lock(&ctx->mu);
        int over = sched_left(ctx->s) == 0 || ctx->failed;
        pthread_mutex_unlock(&ctx->mu);
        if (over)
            break;
        if (o->interrupted && *o->interrupted)
            restore_fail(ctx, "interrupted");
        if (pf_now() - last_ping > 1.0) {
            /* the coordinating connection runs the finishing steps: if it went, it is
             * replaced now, or the restore stops with what committed kept */
            char e2[PF_ERRLEN], why[PF_ERRLEN + 64];
            if (pgconn_exec(*coord, "SELECT 1", "coordinator", e2, sizeof e2) < 0) {
                PGconn *n = restore_reconnect(ctx, why, sizeof why);
                if (n) {
                    PQfinish(*coord);
                    *coord = n;
                } else {
                    char msg[2 * PF_ERRLEN + 64];
                    snprintf(msg, sizeof msg, "lost the connection to the target (%s) and could not reconnect: %s", e2, why);
                    restore_fail(ctx, msg);
                }
            }
            last_ping = pf_now();
        }
        if (progress && pf_now() - last > 0.25) {
            progress(ctx, start, 0);
            last = pf_now();
        }
        usleep(20000);
    }
    if (ctx->failed) {
        char buf[256];
        pthread_mutex_lock(&ctx->mu);
        for (int i = 0; i < ctx->nworkers; i++)
            if (ctx->workers[i].cancel)
                PQcancel(ctx->workers[i].cancel, buf, sizeof buf);
        pthread_cond_broadcast(&ctx->cv);
        pthread_mutex_unlock(&ctx->mu);
    }
    char perr[PF_ERRLEN];
    if (pool_join(p, perr, sizeof perr) < 0)
        restore_fail(ctx, perr); /* kept only when nothing failed before */
    if (ctx->failed)
        return pf_err(err, errlen, "%s", ctx->first_err);
    return 0;
}
