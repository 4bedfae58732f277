#include "engine/verify_db.h"

#include "common/pf_util.h"
#include "engine/dump.h"
#include "engine/sink_hash.h"

#include <stdlib.h>
#include <string.h>

const char *verify_db_status_text(verify_db_status s)
{
    switch (s) {
    case VERIFY_DB_OK: return "ok";
    case VERIFY_DB_MISSING: return "missing from the database";
    case VERIFY_DB_ROWS_DIFFER: return "row count differs";
    case VERIFY_DB_CONTENT_DIFFERS: return "content differs";
    case VERIFY_DB_COLUMNS_DIFFER: return "columns or format differ";
    }
    return "?";
}

static int same_columns(const manifest_table *a, const manifest_table *b)
{
    if (a->ncols != b->ncols || strcmp(a->format, b->format) != 0)
        return 0;
    for (size_t i = 0; i < a->ncols; i++)
        if (strcmp(a->cols[i], b->cols[i]) != 0)
            return 0;
    return 1;
}

static void compare(const manifest *m, const manifest_table *want, const manifest_table *got,
                    verify_db_table *out)
{
    out->schema = strdup(want->schema);
    out->name = strdup(want->name);
    out->dump_rows = want->rows;
    if (!got) {
        out->status = VERIFY_DB_MISSING;
        return;
    }
    out->db_rows = got->rows;
    if (!same_columns(want, got))
        out->status = VERIFY_DB_COLUMNS_DIFFER;
    else if (want->rows != got->rows)
        out->status = VERIFY_DB_ROWS_DIFFER;
    else if (!manifest_rowhash_matches(m, &got->content, &want->content))
        out->status = VERIFY_DB_CONTENT_DIFFERS;
    else
        out->status = VERIFY_DB_OK;
}

int verify_db_run(const manifest *m, const char *conninfo, int jobs, volatile sig_atomic_t *interrupted,
                  dump_progress_fn progress, void *progress_ctx, verify_db_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    dump_options o;
    memset(&o, 0, sizeof o);
    o.conninfo = conninfo;
    o.jobs = jobs;
    o.codec = CHUNK_CODEC_NONE;
    o.text_format = copy_format_parse(m->format) == COPY_TEXT;
    o.chunk_size = m->chunk_size ? m->chunk_size : DUMP_DEFAULT_CHUNK_SIZE;
    o.progress = progress;
    o.progress_ctx = progress_ctx;
    o.interrupted = interrupted;
    o.filter.exact = 1;
    o.filter.n_exact = m->ntables;
    o.filter.exact_schemas = calloc(m->ntables + 1, sizeof(char *));
    o.filter.exact_names = calloc(m->ntables + 1, sizeof(char *));
    o.filter.exact_large_objects = m->has_large_objects;
    o.filter.exact_cols = calloc(m->ntables + 1, sizeof(char **));
    size_t *ncols = calloc(m->ntables + 1, sizeof(size_t));
    o.filter.exact_ncols = ncols;
    if (!o.filter.exact_schemas || !o.filter.exact_names || !o.filter.exact_cols || !ncols) {
        free(o.filter.exact_schemas);
        free(o.filter.exact_names);
        free(o.filter.exact_cols);
        free(ncols);
        return pf_err(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < m->ntables; i++) {
        o.filter.exact_schemas[i] = m->tables[i].schema;
        o.filter.exact_names[i] = m->tables[i].name;
        o.filter.exact_cols[i] = m->tables[i].cols;
        ncols[i] = m->tables[i].ncols;
    }
    manifest live;
    memset(&live, 0, sizeof live);
    o.out_manifest = &live;
    dump_summary s;
    int rc = -1;
    if (m->ntables == 0 && !m->has_large_objects) {
        rc = 0; /* nothing to read */
    } else {
        /* the dump engine into a sink that keeps nothing but the figures */
        copysink sink;
        if (sink_hash_open(&sink, err, errlen) == 0 && dump_run(&o, &sink, &s, err, errlen) == 0) {
            rc = 0;
            res->seconds = s.seconds;
        }
        sink_hash_close(&sink);
    }
    free(o.filter.exact_schemas);
    free(o.filter.exact_names);
    free(o.filter.exact_cols);
    free(ncols);
    if (rc < 0)
        return -1;

    res->ntables = m->ntables + (m->has_large_objects ? 1 : 0);
    res->tables = calloc(res->ntables + 1, sizeof *res->tables);
    for (size_t i = 0; i < m->ntables; i++) {
        const manifest_table *want = &m->tables[i], *got = NULL;
        for (size_t k = 0; k < live.ntables && !got; k++)
            if (!strcmp(live.tables[k].schema, want->schema) && !strcmp(live.tables[k].name, want->name))
                got = &live.tables[k];
        compare(m, want, got, &res->tables[i]);
    }
    if (m->has_large_objects)
        compare(m, &m->large_objects, live.has_large_objects ? &live.large_objects : NULL,
                &res->tables[m->ntables]);
    for (size_t i = 0; i < res->ntables; i++) {
        res->rows += res->tables[i].db_rows;
        if (res->tables[i].status != VERIFY_DB_OK)
            res->problems++;
    }
    manifest_free(&live);
    return 0;
}

void verify_db_result_free(verify_db_result *res)
{
    for (size_t i = 0; i < res->ntables; i++) {
        free(res->tables[i].schema);
        free(res->tables[i].name);
    }
    free(res->tables);
    memset(res, 0, sizeof *res);
}
