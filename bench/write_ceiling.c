/* write_ceiling: how fast can N connections load a dump's rows at all?
 *
 *   write_ceiling -d CONNINFO --dump DIR --decoded DIR2 [-j N]
 *
 * The data phase of pgferry restore with everything client-side removed: the chunks of the
 * pgferry dump DIR were decoded beforehand (`pgferry cat DIR/data/T.C.chunk > DIR2/T.C.copy`),
 * the tables exist without indexes or constraints (pg_restore --section=pre-data), and N
 * threads, each with its own connection, stream those files with PQputCopyData into
 *   COPY t (cols) FROM STDIN (FORMAT binary|text)
 * largest first. What pgferry may do, the ceiling does too, with the same load strategy: a
 * table of no more than one worker's share of all the rows (total / N) is one job, its
 * files loaded in one transaction, as BEGIN; TRUNCATE; COPY ... FREEZE (each file); COMMIT
 * from --freeze-min on (no later hint-bit pass, no WAL under wal_level=minimal); the chunks
 * of a larger table load concurrently in their own transactions. No decompression, no
 * hashing, no row splitting, no journal. Index builds are timed separately by the caller
 * (pg_restore --section=post-data). Prints bytes, seconds, MB/s.
 *
 * --freeze-min BYTES (default 2MB, as pgferry): smaller tables are loaded without TRUNCATE
 * and FREEZE (below it the TRUNCATE costs more than it saves: a new relation file, and at
 * commit a scan of all of shared_buffers for the old one). */
#include "common/pf_util.h"
#include "engine/manifest.h"
#include "engine/pgconn.h"
#include "io/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_SIZE (1u << 20)

typedef struct {
    char **paths;   /* decoded COPY files, loaded in this order */
    size_t npaths;
    char *sql;      /* COPY ... FROM STDIN ... */
    char *truncate; /* non-NULL: load with FREEZE after this */
    uint64_t bytes;
} job;

typedef struct {
    const char *conninfo;
    job *jobs;
    size_t njobs;
    atomic_size_t next;
    atomic_uint_fast64_t bytes;
    atomic_int failed;
    pthread_mutex_t mu;
    char err[PF_ERRLEN];
} wc_ctx;

static void wc_fail(wc_ctx *x, const char *msg)
{
    pthread_mutex_lock(&x->mu);
    if (!atomic_exchange(&x->failed, 1))
        snprintf(x->err, sizeof x->err, "%s", msg);
    pthread_mutex_unlock(&x->mu);
}

static int load_file(PGconn *c, const char *path, const char *sql, char *buf, char *err, size_t errlen)
{
    char line[PF_ERRLEN];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pf_err(err, errlen, "%s: %s", path, strerror(errno));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        pf_err(err, errlen, "%s: %s", sql, pgconn_result_errline(r, line, sizeof line));
        PQclear(r);
        close(fd);
        return -1;
    }
    PQclear(r);
    ssize_t n;
    while ((n = read(fd, buf, BUF_SIZE)) > 0)
        if (PQputCopyData(c, buf, (int)n) != 1) {
            close(fd);
            return pf_err(err, errlen, "%s: %s", path, pgconn_errline(c, line, sizeof line));
        }
    close(fd);
    if (n < 0) {
        PQputCopyEnd(c, "read error");
        while ((r = PQgetResult(c)))
            PQclear(r);
        return pf_err(err, errlen, "%s: %s", path, strerror(errno));
    }
    if (PQputCopyEnd(c, NULL) != 1)
        return pf_err(err, errlen, "%s: %s", path, pgconn_errline(c, line, sizeof line));
    int rc = 0;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = pf_err(err, errlen, "%s: %s", path, pgconn_result_errline(r, line, sizeof line));
        PQclear(r);
    }
    return rc;
}

static int load(PGconn *c, const job *j, char *buf, char *err, size_t errlen)
{
    int txn = j->truncate || j->npaths > 1;
    if (txn && pgconn_exec(c, "BEGIN", "begin", err, errlen) < 0)
        return -1;
    if (j->truncate && pgconn_exec(c, j->truncate, "truncate", err, errlen) < 0)
        return -1;
    for (size_t k = 0; k < j->npaths; k++)
        if (load_file(c, j->paths[k], j->sql, buf, err, errlen) < 0)
            return -1;
    if (txn && pgconn_exec(c, "COMMIT", "commit", err, errlen) < 0)
        return -1;
    return 0;
}

static void *worker(void *arg)
{
    wc_ctx *x = arg;
    char err[PF_ERRLEN];
    char *buf = malloc(BUF_SIZE);
    PGconn *c = pgconn_open(x->conninfo, err, sizeof err);
    if (!c || !buf) {
        wc_fail(x, c ? "out of memory" : err);
        free(buf);
        if (c)
            PQfinish(c);
        return NULL;
    }
    if (pgconn_exec(c, "SET synchronous_commit = off", "settings", err, sizeof err) < 0)
        wc_fail(x, err);
    size_t i;
    while (!atomic_load(&x->failed) && (i = atomic_fetch_add(&x->next, 1)) < x->njobs) {
        if (load(c, &x->jobs[i], buf, err, sizeof err) < 0) {
            wc_fail(x, err);
            break;
        }
        atomic_fetch_add(&x->bytes, x->jobs[i].bytes);
    }
    PQfinish(c);
    free(buf);
    return NULL;
}

static int cmp_job(const void *a, const void *b)
{
    const job *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: write_ceiling -d CONNINFO --dump DIR --decoded DIR2 [-j N] [--freeze-min BYTES] [--tsv]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *conninfo = "", *dump = NULL, *decoded = NULL;
    int jobs = 2, tsv = 0;
    uint64_t freeze_min = 2u << 20;
    static const struct option opts[] = {{"dbname", required_argument, NULL, 'd'},
                                         {"freeze-min", required_argument, NULL, 4},
                                         {"jobs", required_argument, NULL, 'j'},
                                         {"dump", required_argument, NULL, 1},
                                         {"decoded", required_argument, NULL, 2},
                                         {"tsv", no_argument, NULL, 3},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "d:j:", opts, NULL)) != -1) {
        switch (o) {
        case 'd': conninfo = optarg; break;
        case 'j': jobs = atoi(optarg); break;
        case 1: dump = optarg; break;
        case 2: decoded = optarg; break;
        case 3: tsv = 1; break;
        case 4:
            if (pf_parse_size(optarg, &freeze_min) < 0)
                usage();
            break;
        default: usage();
        }
    }
    if (jobs < 1 || !dump || !decoded || optind != argc)
        usage();

    char err[PF_ERRLEN];
    manifest m;
    memset(&m, 0, sizeof m);
    pf_store *st = store_open(dump, 0, err, sizeof err);
    if (!st || manifest_read(st, &m, err, sizeof err) < 0) {
        fprintf(stderr, "write_ceiling: %s\n", err);
        return 1;
    }
    store_close(st);
    /* quoting needs a connection (PQescapeIdentifier) */
    PGconn *c = pgconn_open(conninfo, err, sizeof err);
    if (!c) {
        fprintf(stderr, "write_ceiling: %s\n", err);
        return 1;
    }
    size_t n = 0;
    uint64_t all = 0;
    for (size_t t = 0; t < m.ntables; t++) {
        n += m.tables[t].nchunks;
        all += m.tables[t].raw_bytes;
    }
    uint64_t share = all / (uint64_t)jobs; /* above it a table is split, as pgferry does */
    wc_ctx x;
    memset(&x, 0, sizeof x);
    pthread_mutex_init(&x.mu, NULL);
    x.conninfo = conninfo;
    x.jobs = calloc(n + 1, sizeof *x.jobs);
    for (size_t t = 0; t < m.ntables; t++) {
        manifest_table *mt = &m.tables[t];
        if (mt->nchunks == 0)
            continue;
        char *q = pgconn_qualified(c, mt->schema, mt->name);
        size_t cap = 128 + strlen(q);
        for (size_t k = 0; k < mt->ncols; k++)
            cap += 2 * strlen(mt->cols[k]) + 4;
        char *cols = malloc(cap);
        size_t len = 0;
        cols[0] = '\0';
        for (size_t k = 0; k < mt->ncols; k++) {
            char *qc = pgconn_quote_ident(c, mt->cols[k]);
            len += (size_t)sprintf(cols + len, "%s%s", k ? ", " : "", qc);
            free(qc);
        }
        int whole = mt->nchunks == 1 || mt->raw_bytes <= share;
        int freeze = whole && mt->raw_bytes >= freeze_min;
        for (size_t k = 0; k < mt->nchunks; k++) {
            job *j = &x.jobs[whole ? x.njobs - (k > 0) : x.njobs];
            if (!whole || k == 0) {
                x.njobs++;
                if (asprintf(&j->sql, "COPY %s (%s) FROM STDIN (FORMAT %s%s)", q, cols,
                             strcmp(mt->format, "binary") == 0 ? "binary" : "text", freeze ? ", FREEZE" : "") < 0 ||
                    (freeze && asprintf(&j->truncate, "TRUNCATE ONLY %s", q) < 0) ||
                    !(j->paths = calloc(whole ? mt->nchunks : 1, sizeof *j->paths)))
                    return 1;
            }
            const char *base = strrchr(mt->chunks[k].file, '/');
            base = base ? base + 1 : mt->chunks[k].file;
            size_t bl = strlen(base);
            if (bl > 6 && strcmp(base + bl - 6, ".chunk") == 0)
                bl -= 6;
            char **path = &j->paths[j->npaths++];
            if (asprintf(path, "%s/%.*s.copy", decoded, (int)bl, base) < 0)
                return 1;
            j->bytes += mt->chunks[k].raw_bytes;
            if (access(*path, R_OK) != 0) {
                fprintf(stderr, "write_ceiling: %s: %s (decode the dump first: pgferry cat)\n", *path,
                        strerror(errno));
                return 1;
            }
        }
        free(cols);
        free(q);
    }
    PQfinish(c);
    qsort(x.jobs, x.njobs, sizeof *x.jobs, cmp_job);

    double t0 = pf_now();
    if ((size_t)jobs > x.njobs && x.njobs > 0)
        jobs = (int)x.njobs;
    pthread_t *th = calloc((size_t)jobs + 1, sizeof *th);
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&th[i], NULL, worker, &x) != 0) {
            fprintf(stderr, "write_ceiling: cannot start thread\n");
            return 1;
        }
    for (int i = 0; i < jobs; i++)
        pthread_join(th[i], NULL);
    double secs = pf_now() - t0;
    if (atomic_load(&x.failed)) {
        fprintf(stderr, "write_ceiling: %s\n", x.err);
        return 1;
    }
    uint64_t bytes = atomic_load(&x.bytes);
    if (tsv)
        printf("write_ceiling\t%zu\t%llu\t%.3f\n", x.njobs, (unsigned long long)bytes, secs);
    else
        printf("write_ceiling: %zu jobs, -j %d: %llu bytes of COPY data in %.2f s, %.1f MB/s\n", x.njobs, jobs,
               (unsigned long long)bytes, secs, secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
    for (size_t i = 0; i < x.njobs; i++) {
        for (size_t k = 0; k < x.jobs[i].npaths; k++)
            free(x.jobs[i].paths[k]);
        free(x.jobs[i].paths);
        free(x.jobs[i].sql);
        free(x.jobs[i].truncate);
    }
    free(x.jobs);
    free(th);
    manifest_free(&m);
    return 0;
}
