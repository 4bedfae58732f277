/* read_ceiling: how fast can N connections read a database's rows at all?
 *
 *   read_ceiling -d CONNINFO [-j N] [-t PATTERN]... [--chunk-size SIZE]
 *
 * The same work as pgferry dump's data phase with everything client-side removed: one
 * coordinator exports a REPEATABLE READ snapshot, N threads each open their own connection
 * (pgferry's session settings), import it, and run
 *   COPY (SELECT * FROM ONLY t WHERE ctid >= '(a,0)' AND ctid < '(b,0)') TO STDOUT (FORMAT binary)
 * over the chunks pgferry would plan (the same catalog query and planner: engine/catalog.c,
 * engine/plan.c; ~chunk-size of pages, last range open-ended, largest first). The bytes are
 * received with PQgetCopyData and dropped: no hashing, no compression, no files.
 * Prints one line: chunks, tables, bytes, seconds, MB/s (and with --tsv a machine line). */
#include "common/pf_util.h"
#include "engine/catalog.h"
#include "engine/pgconn.h"
#include "engine/plan.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *conninfo;
    char snapshot[64];
    char **select_sql; /* per table: SELECT * FROM ONLY "s"."t" */
    plan_chunk *chunks;
    size_t nchunks;
    atomic_size_t next;
    atomic_uint_fast64_t bytes;
    atomic_int failed;
    pthread_mutex_t mu;
    char err[PF_ERRLEN];
} rc_ctx;

static void rc_fail(rc_ctx *x, const char *msg)
{
    pthread_mutex_lock(&x->mu);
    if (!atomic_exchange(&x->failed, 1))
        snprintf(x->err, sizeof x->err, "%s", msg);
    pthread_mutex_unlock(&x->mu);
}

static void *worker(void *arg)
{
    rc_ctx *x = arg;
    char err[PF_ERRLEN], sql[8192];
    PGconn *c = pgconn_open(x->conninfo, err, sizeof err);
    if (!c) {
        rc_fail(x, err);
        return NULL;
    }
    snprintf(sql, sizeof sql, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '%s'",
             x->snapshot);
    if (pgconn_exec(c, sql, "import snapshot", err, sizeof err) < 0) {
        rc_fail(x, err);
        PQfinish(c);
        return NULL;
    }
    size_t i;
    while (!atomic_load(&x->failed) && (i = atomic_fetch_add(&x->next, 1)) < x->nchunks) {
        const plan_chunk *pc = &x->chunks[i];
        const char *sel = x->select_sql[pc->table];
        if (pc->ranged && pc->end_page != PLAN_OPEN_END)
            snprintf(sql, sizeof sql, "COPY (%s WHERE ctid >= '(%llu,0)'::pg_catalog.tid AND ctid < '(%llu,0)'::pg_catalog.tid) TO STDOUT (FORMAT binary)",
                     sel, (unsigned long long)pc->start_page, (unsigned long long)pc->end_page);
        else if (pc->ranged)
            snprintf(sql, sizeof sql, "COPY (%s WHERE ctid >= '(%llu,0)'::pg_catalog.tid) TO STDOUT (FORMAT binary)", sel,
                     (unsigned long long)pc->start_page);
        else
            snprintf(sql, sizeof sql, "COPY (%s) TO STDOUT (FORMAT binary)", sel);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COPY_OUT) {
            char line[PF_ERRLEN];
            snprintf(err, sizeof err, "%s: %s", sel, pgconn_result_errline(r, line, sizeof line));
            PQclear(r);
            rc_fail(x, err);
            break;
        }
        PQclear(r);
        char *buf;
        int len;
        uint64_t n = 0;
        while ((len = PQgetCopyData(c, &buf, 0)) > 0) {
            n += (uint64_t)len;
            PQfreemem(buf);
        }
        atomic_fetch_add(&x->bytes, n);
        while ((r = PQgetResult(c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                char line[PF_ERRLEN];
                snprintf(err, sizeof err, "%s: %s", sel, pgconn_result_errline(r, line, sizeof line));
                rc_fail(x, err);
            }
            PQclear(r);
        }
    }
    PQfinish(c);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: read_ceiling -d CONNINFO [-j N] [-t PATTERN]... [--chunk-size SIZE] [--tsv]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *conninfo = "";
    int jobs = 2, tsv = 0;
    uint64_t chunk_size = 64ull << 20;
    const char *tables[256];
    size_t ntables = 0;
    static const struct option opts[] = {{"dbname", required_argument, NULL, 'd'},
                                         {"jobs", required_argument, NULL, 'j'},
                                         {"table", required_argument, NULL, 't'},
                                         {"chunk-size", required_argument, NULL, 1},
                                         {"tsv", no_argument, NULL, 2},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "d:j:t:", opts, NULL)) != -1) {
        switch (o) {
        case 'd': conninfo = optarg; break;
        case 'j': jobs = atoi(optarg); break;
        case 't':
            if (ntables < 256)
                tables[ntables++] = optarg;
            break;
        case 1:
            if (pf_parse_size(optarg, &chunk_size) < 0)
                usage();
            break;
        case 2: tsv = 1; break;
        default: usage();
        }
    }
    if (jobs < 1 || optind != argc)
        usage();

    char err[PF_ERRLEN];
    double t0 = pf_now();
    PGconn *coord = pgconn_open(conninfo, err, sizeof err);
    if (!coord) {
        fprintf(stderr, "read_ceiling: %s\n", err);
        return 1;
    }
    if (pgconn_exec(coord, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "begin", err, sizeof err) < 0) {
        fprintf(stderr, "read_ceiling: %s\n", err);
        return 1;
    }
    PGresult *r = pgconn_query(coord, "SELECT pg_catalog.pg_export_snapshot()", 0, NULL, "snapshot", err, sizeof err);
    if (!r) {
        fprintf(stderr, "read_ceiling: %s\n", err);
        return 1;
    }
    rc_ctx x;
    memset(&x, 0, sizeof x);
    pthread_mutex_init(&x.mu, NULL);
    x.conninfo = conninfo;
    snprintf(x.snapshot, sizeof x.snapshot, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);

    catalog_filter f;
    memset(&f, 0, sizeof f);
    f.include_tables = tables;
    f.n_include_tables = ntables;
    catalog cat;
    memset(&cat, 0, sizeof cat);
    if (catalog_load(coord, &f, &cat, err, sizeof err) < 0) {
        fprintf(stderr, "read_ceiling: %s\n", err);
        return 1;
    }
    x.select_sql = calloc(cat.ntables + 1, sizeof(char *));
    plan_input *pin = calloc(cat.ntables + 1, sizeof *pin);
    for (size_t i = 0; i < cat.ntables; i++) {
        char *q = pgconn_qualified(coord, cat.tables[i].schema, cat.tables[i].name);
        if (asprintf(&x.select_sql[i], "SELECT * FROM ONLY %s", q) < 0)
            return 1;
        free(q);
        pin[i] = (plan_input){cat.tables[i].main_bytes, cat.tables[i].toast_bytes, cat.tables[i].is_heap};
    }
    if (plan_chunks(pin, cat.ntables, chunk_size, PQserverVersion(coord) >= 140000, &x.chunks, &x.nchunks) < 0) {
        fprintf(stderr, "read_ceiling: out of memory\n");
        return 1;
    }
    double t_plan = pf_now() - t0;

    if ((size_t)jobs > x.nchunks && x.nchunks > 0)
        jobs = (int)x.nchunks;
    pthread_t *th = calloc((size_t)jobs, sizeof *th);
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&th[i], NULL, worker, &x) != 0) {
            fprintf(stderr, "read_ceiling: cannot start thread\n");
            return 1;
        }
    for (int i = 0; i < jobs; i++)
        pthread_join(th[i], NULL);
    PQclear(PQexec(coord, "COMMIT"));
    PQfinish(coord);
    double secs = pf_now() - t0;
    if (atomic_load(&x.failed)) {
        fprintf(stderr, "read_ceiling: %s\n", x.err);
        return 1;
    }
    uint64_t bytes = atomic_load(&x.bytes);
    if (tsv)
        printf("read_ceiling\t%zu\t%zu\t%llu\t%.3f\t%.3f\n", cat.ntables, x.nchunks, (unsigned long long)bytes,
               t_plan, secs);
    else
        printf("read_ceiling: %zu tables, %zu chunks, -j %d: %llu bytes of COPY data in %.2f s (plan %.2f s), %.1f MB/s\n",
               cat.ntables, x.nchunks, jobs, (unsigned long long)bytes, secs, t_plan,
               secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
    for (size_t i = 0; i < cat.ntables; i++)
        free(x.select_sql[i]);
    free(x.select_sql);
    free(pin);
    free(x.chunks);
    free(th);
    catalog_free(&cat);
    return 0;
}
