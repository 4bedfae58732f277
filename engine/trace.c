#include "engine/trace.h"

#include "common/pf_util.h"
#include "io/pf_io.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct {
    int tid;
    char *cat, *name;
    double start, end, cpu;
    uint64_t bytes, rows;
} span;

struct trace {
    pthread_mutex_t mu;
    double t0;
    span *s;
    size_t n, cap;
};

trace *trace_new(void)
{
    trace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->t0 = pf_now();
    return t;
}

void trace_free(trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->s[i].cat);
        free(t->s[i].name);
    }
    free(t->s);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void trace_span(trace *t, int tid, const char *cat, const char *name, double start, double end, uint64_t bytes,
                uint64_t rows, double server_cpu)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    if (t->n == t->cap) {
        size_t c = t->cap ? 2 * t->cap : 256;
        span *s = realloc(t->s, c * sizeof *s);
        if (!s) {
            pthread_mutex_unlock(&t->mu);
            return; /* a trace without one span beats a failed restore */
        }
        t->s = s;
        t->cap = c;
    }
    span *sp = &t->s[t->n];
    sp->cat = strdup(cat);
    sp->name = strdup(name);
    if (sp->cat && sp->name) {
        sp->tid = tid;
        sp->start = start;
        sp->end = end;
        sp->cpu = server_cpu;
        sp->bytes = bytes;
        sp->rows = rows;
        t->n++;
    } else {
        free(sp->cat);
        free(sp->name);
    }
    pthread_mutex_unlock(&t->mu);
}

json_t *trace_json(const trace *t)
{
    json_t *ev = json_array();
    pthread_mutex_lock((pthread_mutex_t *)&t->mu);
    /* thread names first: worker N, and the coordinating connection */
    int maxtid = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->s[i].tid > maxtid)
            maxtid = t->s[i].tid;
    for (int tid = 0; tid <= maxtid; tid++) {
        char nm[32];
        if (tid)
            snprintf(nm, sizeof nm, "worker %d", tid);
        else
            snprintf(nm, sizeof nm, "coordinator");
        json_array_append_new(ev, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "thread_name", "ph", "M", "pid", 1,
                                            "tid", tid, "args", "name", nm));
    }
    for (size_t i = 0; i < t->n; i++) {
        const span *s = &t->s[i];
        json_t *args = json_object();
        if (s->bytes)
            json_object_set_new(args, "bytes", json_integer((json_int_t)s->bytes));
        if (s->rows)
            json_object_set_new(args, "rows", json_integer((json_int_t)s->rows));
        if (s->cpu >= 0)
            json_object_set_new(args, "server_cpu_ms", json_real(floor(s->cpu * 10000.0 + 0.5) / 10.0));
        json_array_append_new(ev, json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:o}", "name", s->name, "cat", s->cat,
                                            "ph", "X", "ts", (json_int_t)((s->start - t->t0) * 1e6), "dur",
                                            (json_int_t)((s->end - s->start) * 1e6), "pid", 1, "tid", s->tid, "args",
                                            args));
    }
    pthread_mutex_unlock((pthread_mutex_t *)&t->mu);
    return json_pack("{s:o, s:s}", "traceEvents", ev, "displayTimeUnit", "ms");
}

int trace_write(const trace *t, const char *path, char *err, size_t errlen)
{
    json_t *doc = trace_json(t);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return pf_err(err, errlen, "trace: cannot serialise");
    int rc = io_write_file_atomic(path, text, strlen(text), 0644, err, errlen);
    free(text);
    return rc;
}

/* The server is on this machine: a Unix socket, or a loopback address. */
static int local_server(PGconn *c)
{
    const char *h = PQhost(c);
    if (!h || !*h || h[0] == '/')
        return 1;
    return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1");
}

/* user + system seconds from the text of /proc/<pid>/stat (USER_HZ ticks, 100 on Linux) */
static double stat_cpu(const char *buf)
{
    /* after "(comm)": state is field 3; utime and stime are fields 14 and 15 */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

static int read_proc(int pid, const char *what, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, what);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t k = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[k] = '\0';
    return 0;
}

/* The backend's stat file, opened once per backend: a PostgreSQL backend sets its process
 * title ("postgres: user db host ..."), which tells it from another process of that pid
 * (a server in another pid namespace). */
static double local_cpu(trace_cpu *tc, PGconn *c)
{
    char buf[1024];
    int pid = PQbackendPID(c);
    if (tc->pid != pid || tc->fd <= 0) {
        trace_cpu_close(tc);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        if (read_proc(pid, "cmdline", buf, sizeof buf) < 0 || strncmp(buf, "postgres:", 9) != 0 ||
            (tc->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            tc->fd = 0;
            return -1;
        }
        tc->pid = pid;
    }
    ssize_t n = pread(tc->fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return stat_cpu(buf);
}

void trace_cpu_close(trace_cpu *tc)
{
    if (tc->fd > 0)
        close(tc->fd);
    tc->fd = 0;
    tc->pid = 0;
}

/* The server reads its own /proc (Linux; superuser or pg_read_server_files). One query. */
static double sql_cpu(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT pg_catalog.pg_read_file('/proc/' || pg_catalog.pg_backend_pid() || '/stat')");
    double v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = stat_cpu(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

int trace_cpu_mode(PGconn *c)
{
    if (!c || PQstatus(c) != CONNECTION_OK)
        return TRACE_CPU_NONE;
    trace_cpu tc = {0};
    double v = local_server(c) ? local_cpu(&tc, c) : -1;
    trace_cpu_close(&tc);
    if (v >= 0)
        return TRACE_CPU_PROC;
    /* a failed probe leaves no transaction behind: it runs outside one */
    if (PQtransactionStatus(c) == PQTRANS_IDLE && sql_cpu(c) >= 0)
        return TRACE_CPU_SQL;
    return TRACE_CPU_NONE;
}

double trace_backend_cpu(trace_cpu *tc, PGconn *c, int mode)
{
    if (!c || PQstatus(c) != CONNECTION_OK)
        return -1;
    if (mode == TRACE_CPU_PROC)
        return local_cpu(tc, c);
    if (mode == TRACE_CPU_SQL && PQtransactionStatus(c) == PQTRANS_IDLE)
        return sql_cpu(c);
    return -1;
}
