#include "engine/drill.h"

#include "common/pf_util.h"
#include "engine/manifest.h"
#include "engine/pgconn.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int admin_exec(const char *conninfo, const char *sql, const char *what, char *err, size_t errlen)
{
    PGconn *c = pgconn_open(conninfo, err, errlen);
    if (!c)
        return -1;
    int rc = pgconn_exec(c, sql, what, err, errlen);
    PQfinish(c);
    return rc;
}

int drill_run(const drill_options *o, drill_report *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    double start = pf_now();
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r->started_at, sizeof r->started_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
    snprintf(r->scratch_db, sizeof r->scratch_db, "pgferry_drill_%s_%d", stamp, (int)getpid());

    manifest m;
    pf_store *st = store_open(o->dir, 0, err, errlen);
    int mrc = st ? manifest_read_key(st, o->passphrase, &m, err, errlen) : -1;
    store_close(st);
    if (mrc < 0)
        return -1;
    for (size_t i = 0; i < m.ntables; i++) {
        r->dump_raw_bytes += m.tables[i].raw_bytes;
        r->dump_rows += m.tables[i].rows;
    }

    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", r->scratch_db);
    if (admin_exec(o->target, sql, "create scratch database", err, errlen) < 0) {
        manifest_free(&m);
        return -1;
    }
    char *scratch = pgconn_with_dbname(o->target, r->scratch_db, err, errlen);
    if (!scratch) {
        manifest_free(&m);
        return -1;
    }

    restore_options ro;
    memset(&ro, 0, sizeof ro);
    ro.dir = o->dir;
    ro.conninfo = scratch;
    ro.jobs = o->jobs;
    ro.progress = o->restore_progress;
    ro.progress_ctx = o->restore_progress_ctx;
    ro.job_done = o->job_done;
    ro.job_ctx = o->job_ctx;
    ro.notice = o->notice;
    ro.notice_ctx = o->notice_ctx;
    ro.interrupted = o->interrupted;
    ro.passphrase = o->passphrase;
    ro.trace_path = o->trace_path;
    ro.trace_out = &r->trace;
    char e2[PF_ERRLEN];
    if (restore_run(&ro, &r->restore, e2, sizeof e2) < 0) {
        snprintf(r->error, sizeof r->error, "restore failed: %s", e2);
    } else {
        r->restored = 1;
        double t0 = pf_now();
        if (verify_db_run(&m, scratch, o->jobs, o->interrupted, o->verify_progress, o->verify_progress_ctx,
                          &r->verify, e2, sizeof e2) < 0)
            snprintf(r->error, sizeof r->error, "verification could not run: %s", e2);
        else if (r->verify.problems > 0)
            snprintf(r->error, sizeof r->error, "%zu table(s) differ from the dump", r->verify.problems);
        else
            r->ok = 1;
        r->t_verify = pf_now() - t0;
    }
    free(scratch);
    manifest_free(&m);

    if (!o->keep) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", r->scratch_db);
        if (admin_exec(o->target, sql, "drop scratch database", e2, sizeof e2) == 0)
            r->dropped = 1;
        else if (!*r->error)
            snprintf(r->error, sizeof r->error, "%s", e2);
    }
    r->t_total = pf_now() - start;
    return 0;
}

static double mbps(uint64_t bytes, double s) { return s > 0 ? (double)bytes / 1048576.0 / s : 0; }

char *drill_markdown(const drill_options *o, const drill_report *r)
{
    char *out = NULL;
    char raw[32];
    pf_fmt_bytes(r->dump_raw_bytes, raw, sizeof raw);
    const restore_summary *s = &r->restore;
    size_t cap = 8192 + r->verify.ntables * 200;
    out = malloc(cap);
    size_t n = 0;
    n += (size_t)snprintf(out + n, cap - n,
                          "# pgferry restore drill\n\n"
                          "- dump: `%s` (%llu rows, %s of COPY data)\n"
                          "- started: %s, scratch database `%s`%s\n"
                          "- result: **%s**%s%s\n\n"
                          "| phase | seconds | throughput | server CPU s |\n|---|---:|---|---:|\n",
                          o->dir, (unsigned long long)r->dump_rows, raw, r->started_at, r->scratch_db,
                          r->dropped ? " (dropped)" : (o->keep ? " (kept)" : " (NOT dropped)"),
                          r->ok ? "PASS" : "FAIL", *r->error ? ": " : "", r->error);
    if (r->restored || s->seconds > 0) {
        /* server CPU: of the loads (data), of the index, constraint and ANALYZE jobs
         * (wherever they ran: many overlap the data phase), and of the coordinator's steps;
         * blank when the server's CPU cannot be read from here */
        char c[4][32];
        const double v[4] = {s->cpu_pre, s->cpu_data, s->cpu_post, s->cpu_finish};
        for (int i = 0; i < 4; i++)
            v[i] >= 0 ? snprintf(c[i], sizeof c[i], "%.2f", v[i]) : snprintf(c[i], sizeof c[i], " ");
        n += (size_t)snprintf(out + n, cap - n,
                              "| checks (manifest, files, schema archive) | %.2f | | |\n"
                              "| schema (pre-data) | %.2f | | %s |\n"
                              "| data | %.2f | %.1f MB/s, %.0f rows/s | %s |\n"
                              "| indexes and constraints (after the last chunk; CPU: all of them and ANALYZE) | %.2f | | %s |\n"
                              "| post-data (sequences, ACLs, matviews, ANALYZE of partitioned tables) | %.2f | | %s |\n",
                              s->t_checks, s->t_pre, c[0], s->t_data, mbps(s->raw_bytes, s->t_data),
                              s->t_data > 0 ? (double)s->rows / s->t_data : 0, c[1], s->t_post, c[2], s->t_finish,
                              c[3]);
    }
    if (r->restored)
        n += (size_t)snprintf(out + n, cap - n, "| verification (every table's rows and content hash) | %.2f | %.1f MB/s | |\n",
                              r->t_verify, mbps(r->dump_raw_bytes, r->t_verify));
    n += (size_t)snprintf(out + n, cap - n, "| **total** | **%.2f** | | |\n", r->t_total);
    if (r->verify.ntables) {
        n += (size_t)snprintf(out + n, cap - n, "\n| table | rows in dump | rows restored | check |\n|---|---:|---:|---|\n");
        for (size_t i = 0; i < r->verify.ntables && n < cap - 256; i++) {
            const verify_db_table *t = &r->verify.tables[i];
            n += (size_t)snprintf(out + n, cap - n, "| %s.%s | %llu | %llu | %s |\n", t->schema, t->name,
                                  (unsigned long long)t->dump_rows, (unsigned long long)t->db_rows,
                                  verify_db_status_text(t->status));
        }
    }
    return out;
}

json_t *drill_json_object(const drill_options *o, const drill_report *r)
{
    const restore_summary *s = &r->restore;
    json_t *tables = json_array();
    for (size_t i = 0; i < r->verify.ntables; i++) {
        const verify_db_table *t = &r->verify.tables[i];
        json_array_append_new(tables, json_pack("{s:s, s:s, s:I, s:I, s:s}", "schema", t->schema, "name", t->name,
                                                "dump_rows", (json_int_t)t->dump_rows, "restored_rows",
                                                (json_int_t)t->db_rows, "check", verify_db_status_text(t->status)));
    }
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:b, s:s, s:b, s:I, s:I, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:f}, s:{s:f, s:f}, s:o}",
        "dump", o->dir, "started_at", r->started_at, "scratch_database", r->scratch_db, "ok", r->ok,
        "error", r->error, "scratch_dropped", r->dropped, "rows", (json_int_t)r->dump_rows, "raw_bytes",
        (json_int_t)r->dump_raw_bytes, "seconds", "checks", s->t_checks, "schema", s->t_pre, "data", s->t_data,
        "indexes_constraints", s->t_post, "post_data", s->t_finish, "verification", r->t_verify, "total",
        r->t_total, "throughput_mb_s", "data", mbps(s->raw_bytes, s->t_data), "verification",
        mbps(r->dump_raw_bytes, r->t_verify), "tables", tables);
    /* the server's CPU by phase, as restore --json has it (null: cannot be read from here) */
    json_t *cpu = json_object();
    const double v[4] = {s->cpu_pre, s->cpu_data, s->cpu_post, s->cpu_finish};
    const char *k[4] = {"pre_data", "data", "post_data", "finish"};
    for (int i = 0; i < 4; i++)
        json_object_set_new(cpu, k[i], r->restored && v[i] >= 0 ? json_real(floor(v[i] * 100.0 + 0.5) / 100.0) : json_null());
    json_object_set_new(j, "server_cpu_seconds", cpu);
    return j;
}

char *drill_json(const drill_options *o, const drill_report *r)
{
    json_t *j = drill_json_object(o, r);
    char *out = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return out;
}

void drill_report_free(drill_report *r)
{
    verify_db_result_free(&r->verify);
    json_decref(r->trace);
    r->trace = NULL;
}
