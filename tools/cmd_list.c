/* pgferry list */
#include "common/pf_util.h"
#include "engine/dumpcheck.h"
#include "engine/manifest.h"
#include "tools/cli.h"
#include "tools/repo_cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *nz(const char *s) { return s && *s ? s : "?"; }

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static char *table_label(const manifest_table *t)
{
    char *s;
    return asprintf(&s, "%s.%s", t->schema, t->name) < 0 ? NULL : s;
}

static void fmt_ratio(uint64_t raw, uint64_t stored, char *out, size_t outlen)
{
    if (stored == 0)
        snprintf(out, outlen, "-");
    else
        snprintf(out, outlen, "%.1fx", (double)raw / (double)stored);
}

/* Characters a terminal shows for a UTF-8 string (names such as "Sales Ω" are not ASCII). */
static size_t display_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void print_padded(const char *s, size_t width)
{
    fputs(s, stdout);
    for (size_t w = display_width(s); w < width; w++)
        fputc(' ', stdout);
}

static void print_row(const char *name, size_t namew, const char *fmt, const char *rows, const char *chunks,
                      const char *raw, const char *stored, const char *ratio)
{
    print_padded(name, namew);
    printf("  %-6s  %12s  %6s  %10s  %10s  %6s\n", fmt, rows, chunks, raw, stored, ratio);
}

/* How many chunks each codec wrote ("zstd+columns": binary rows in the column layout);
 * chunks of dumps that did not record it count under the dump's compression. */
static json_t *codec_counts(const manifest *m)
{
    json_t *o = json_object();
    for (size_t t = 0; t <= m->ntables; t++) {
        const manifest_table *mt = t < m->ntables ? &m->tables[t] : m->has_large_objects ? &m->large_objects : NULL;
        for (size_t i = 0; mt && i < mt->nchunks; i++) {
            int c = mt->chunks[i].codec;
            const char *name = c >= 0 ? chunk_codec_name((chunk_codec)c) : m->compression ? m->compression : "unknown";
            json_t *n = json_object_get(o, name);
            json_object_set_new(o, name, json_integer(n ? json_integer_value(n) + 1 : 1));
        }
    }
    return o;
}

static void print_human(const char *dir, const manifest *m, const char *status)
{
    char a[32], b[32], c[32], d[32], r[32];
    printf("dump       %s\n", dir);
    printf("status     %s\n", status);
    printf("started    %s\n", nz(m->started_at));
    printf("finished   %s\n", nz(m->finished_at));
    printf("source     host %s, port %s, database %s\n", nz(m->host), nz(m->port), nz(m->database));
    printf("server     PostgreSQL %s\n", nz(m->server_version));
    printf("snapshot   %s, LSN %s, %s\n", nz(m->snapshot_id), nz(m->snapshot_lsn), nz(m->snapshot_time));
    if (m->compression && strcmp(m->compression, "zstd") == 0)
        snprintf(c, sizeof c, "zstd level %d", m->compression_level);
    else
        snprintf(c, sizeof c, "%s", nz(m->compression));
    printf("options    compression %s, format %s, chunk size %s, %d jobs%s\n", c, nz(m->format),
           pf_fmt_bytes(m->chunk_size, a, sizeof a), m->jobs,
           m->encrypted ? ", encrypted (AES-256-GCM, scrypt)" : "");
    json_t *cc = codec_counts(m);
    if (json_object_size(cc) > 0) {
        const char *k;
        json_t *v;
        int first = 1;
        printf("codecs    ");
        json_object_foreach(cc, k, v) {
            printf("%s %lld chunk%s %s", first ? "" : ",", (long long)json_integer_value(v),
                   json_integer_value(v) == 1 ? "" : "s", k);
            first = 0;
        }
        printf("%s\n", json_object_get(cc, "zstd+columns") ? " (zstd+columns: binary rows stored column by column)" : "");
    }
    json_decref(cc);
    printf("schema     %s, %s\n", nz(m->schema_file), pf_fmt_bytes(m->schema_bytes, a, sizeof a));
    printf("tool       pgferry %s, manifest version %d\n\n", nz(m->tool_version), m->format_version);

    char **labels = calloc(m->ntables + 1, sizeof *labels);
    size_t namew = strlen("TABLE");
    char total_label[64];
    snprintf(total_label, sizeof total_label, "total: %zu table%s", m->ntables, m->ntables == 1 ? "" : "s");
    if (display_width(total_label) > namew)
        namew = display_width(total_label);
    for (size_t i = 0; labels && i < m->ntables; i++) {
        labels[i] = table_label(&m->tables[i]);
        if (labels[i] && display_width(labels[i]) > namew)
            namew = display_width(labels[i]);
    }
    print_row("TABLE", namew, "FORMAT", "ROWS", "CHUNKS", "RAW", "STORED", "RATIO");
    uint64_t rows = 0, chunks = 0, raw = 0, stored = 0;
    for (size_t i = 0; i < m->ntables; i++) {
        const manifest_table *t = &m->tables[i];
        snprintf(c, sizeof c, "%llu", (unsigned long long)t->rows);
        snprintf(d, sizeof d, "%zu", t->nchunks);
        fmt_ratio(t->raw_bytes, t->stored_bytes, r, sizeof r);
        print_row(labels && labels[i] ? labels[i] : t->name, namew, t->format, c, d,
                  pf_fmt_bytes(t->raw_bytes, a, sizeof a), pf_fmt_bytes(t->stored_bytes, b, sizeof b), r);
        rows += t->rows;
        chunks += t->nchunks;
        raw += t->raw_bytes;
        stored += t->stored_bytes;
    }
    snprintf(c, sizeof c, "%llu", (unsigned long long)rows);
    snprintf(d, sizeof d, "%llu", (unsigned long long)chunks);
    fmt_ratio(raw, stored, r, sizeof r);
    print_row(total_label, namew, "", c, d, pf_fmt_bytes(raw, a, sizeof a), pf_fmt_bytes(stored, b, sizeof b), r);
    printf("\nsequences      %zu\n", m->nseqs);
    if (m->has_large_objects) {
        const manifest_table *t = &m->large_objects;
        printf("large objects  %llu (%zu chunk%s, %s raw, %s stored)\n", (unsigned long long)t->rows, t->nchunks,
               t->nchunks == 1 ? "" : "s", pf_fmt_bytes(t->raw_bytes, a, sizeof a),
               pf_fmt_bytes(t->stored_bytes, b, sizeof b));
    } else {
        printf("large objects  0\n");
    }
    for (size_t i = 0; labels && i < m->ntables; i++)
        free(labels[i]);
    free(labels);
}

static json_t *json_listing(const char *dir, const manifest *m, const char *status, const dumpcheck_first *chk)
{
    json_t *o = json_object();
    json_object_set_new(o, "dir", cli_json_path(dir));
    json_object_set_new(o, "complete", json_boolean(chk->count == 0));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "manifest_authenticated", json_boolean(!m->unverified));
    if (chk->count)
        json_object_set_new(o, "error", json_string(chk->first));
    json_object_set_new(o, "tool_version", jstr(m->tool_version));
    json_object_set_new(o, "manifest_version", json_integer(m->format_version));
    json_object_set_new(o, "started_at", jstr(m->started_at));
    json_object_set_new(o, "finished_at", jstr(m->finished_at));
    json_object_set_new(o, "source", manifest_source_json(m));
    json_object_set_new(o, "snapshot", manifest_snapshot_json(m));
    json_t *opt = json_object();
    json_object_set_new(opt, "compression", jstr(m->compression));
    json_object_set_new(opt, "compression_level", json_integer(m->compression_level));
    json_object_set_new(opt, "chunk_codecs", codec_counts(m));
    json_object_set_new(opt, "encrypted", json_boolean(m->encrypted));
    json_object_set_new(opt, "format", jstr(m->format));
    json_object_set_new(opt, "chunk_size", json_integer((json_int_t)m->chunk_size));
    json_object_set_new(opt, "jobs", json_integer(m->jobs));
    json_object_set_new(o, "options", opt);
    json_t *schema = json_object();
    json_object_set_new(schema, "file", jstr(m->schema_file));
    json_object_set_new(schema, "bytes", json_integer((json_int_t)m->schema_bytes));
    json_object_set_new(o, "schema", schema);
    json_t *tables = json_array();
    uint64_t rows = 0, chunks = 0, raw = 0, stored = 0;
    for (size_t i = 0; i < m->ntables; i++) {
        const manifest_table *t = &m->tables[i];
        json_t *to = json_object();
        json_object_set_new(to, "schema", jstr(t->schema));
        json_object_set_new(to, "name", jstr(t->name));
        if (t->parent_name) {
            json_object_set_new(to, "partition_of_schema", jstr(t->parent_schema));
            json_object_set_new(to, "partition_of", jstr(t->parent_name));
        }
        json_object_set_new(to, "format", jstr(t->format));
        json_object_set_new(to, "rows", json_integer((json_int_t)t->rows));
        json_object_set_new(to, "chunks", json_integer((json_int_t)t->nchunks));
        json_object_set_new(to, "raw_bytes", json_integer((json_int_t)t->raw_bytes));
        json_object_set_new(to, "stored_bytes", json_integer((json_int_t)t->stored_bytes));
        json_object_set_new(to, "ratio", t->stored_bytes ? json_real((double)t->raw_bytes / (double)t->stored_bytes)
                                                         : json_null());
        json_array_append_new(tables, to);
        rows += t->rows;
        chunks += t->nchunks;
        raw += t->raw_bytes;
        stored += t->stored_bytes;
    }
    json_object_set_new(o, "tables", tables);
    /* the same totals as dump --json and verify --json: chunk files of tables and large
     * objects alike, table rows, large objects on their own */
    const manifest_table *lot = m->has_large_objects ? &m->large_objects : NULL;
    json_t *tot = json_object();
    json_object_set_new(tot, "tables", json_integer((json_int_t)m->ntables));
    json_object_set_new(tot, "rows", json_integer((json_int_t)rows));
    json_object_set_new(tot, "chunks", json_integer((json_int_t)(chunks + (lot ? lot->nchunks : 0))));
    json_object_set_new(tot, "large_objects", json_integer(lot ? (json_int_t)lot->rows : 0));
    json_object_set_new(tot, "raw_bytes", json_integer((json_int_t)raw));
    json_object_set_new(tot, "stored_bytes", json_integer((json_int_t)stored));
    json_object_set_new(tot, "ratio", stored ? json_real((double)raw / (double)stored) : json_null());
    json_object_set_new(o, "totals", tot);
    json_object_set_new(o, "sequences", json_integer((json_int_t)m->nseqs));
    const manifest_table *lo = m->has_large_objects ? &m->large_objects : NULL;
    json_t *loj = json_object();
    json_object_set_new(loj, "count", json_integer(lo ? (json_int_t)lo->rows : 0));
    json_object_set_new(loj, "chunks", json_integer(lo ? (json_int_t)lo->nchunks : 0));
    json_object_set_new(loj, "raw_bytes", json_integer(lo ? (json_int_t)lo->raw_bytes : 0));
    json_object_set_new(loj, "stored_bytes", json_integer(lo ? (json_int_t)lo->stored_bytes : 0));
    json_object_set_new(o, "large_objects", loj);
    return o;
}


/* A dump whose manifest could not be read: tells the failures apart (no directory, no
 * manifest: the dump never finished, a manifest that does not check out: the dump was
 * damaged afterwards). Returns 1. */
static int list_unreadable(pf_store *st, const char *dir, const char *err, int json)
{
    store_info info;
    int nodir = !st || store_stat(st, "", &info, NULL, 0) != 1 || !info.is_prefix;
    int missing = st && store_stat(st, MANIFEST_FILE, &info, NULL, 0) == 0;
    store_close(st);
    const char *status = nodir ? "not a dump: no such directory" : missing ? "incomplete: no manifest" : "damaged manifest";
    fprintf(stderr, "pgferry list: %s\n", err);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "dir", cli_json_path(dir));
        json_object_set_new(o, "complete", json_false());
        json_object_set_new(o, "status", json_string(status));
        json_object_set_new(o, "error", json_string(err));
        cli_json_print(o);
    } else {
        printf("dump       %s\nstatus     %s\n", dir, status);
    }
    return 1;
}

/* One dump: its manifest, then its structure as restore and verify check it (files,
 * sizes, the schema archive): a dump is complete only when all of it is there. */
static int list_dump(const char *dir, const char *passfile, int json)
{
    manifest m;
    char err[PF_ERRLEN], *passphrase = NULL;
    if (cli_passphrase("list", passfile, &passphrase) < 0)
        return 1;
    pf_store *st = store_open(dir, 0, err, sizeof err);
    int mrc = st ? manifest_read_unverified(st, passphrase, &m, err, sizeof err) : -1;
    cli_forget(passphrase);
    if (mrc < 0)
        return list_unreadable(st, dir, err, json);
    dumpcheck_first chk = {0};
    long problems = dumpcheck_dir(st, &m, dumpcheck_keep_first, &chk, NULL, NULL, err, sizeof err);
    store_close(st);
    if (problems < 0) {
        manifest_free(&m);
        fprintf(stderr, "pgferry list: %s\n", err);
        return 1;
    }
    char status[1200];
    if (chk.count)
        snprintf(status, sizeof status, "damaged: %s%s", chk.first,
                 chk.count > 1 ? " (and more: run pgferry verify)" : "");
    else if (m.unverified)
        snprintf(status, sizeof status, "complete; encrypted: manifest HMAC not checked without the passphrase");
    else
        snprintf(status, sizeof status, "complete");
    if (chk.count)
        fprintf(stderr, "pgferry list: %s is damaged: %s\n", dir, chk.first);
    if (json)
        cli_json_print(json_listing(dir, &m, status, &chk));
    else
        print_human(dir, &m, status);
    manifest_free(&m);
    return chk.count ? 1 : 0;
}

int cmd_list(int argc, char **argv)
{
    int json = 0, c;
    const char *passfile = NULL, *repo = NULL;
    repo_cli_sel sel = {0};
    char repo_dir[4096];
    while ((c = cli_getopt(cli_find_command("list"), argc, argv)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_PASSPHRASE_FILE: passfile = optarg; break;
        case OPT_REPO: repo = optarg; break;
        case OPT_AS_OF: case OPT_BACKUP: repo_cli_option(&sel, c, optarg); break;
        case OPT_HELP: return cli_help("list");
        default: return cli_option_error("list", c, argv);
        }
    }
    if (repo && optind < argc)
        return cli_usage_error("list", "unexpected argument \"%s\" (DIR and --repo are exclusive)", argv[optind]);
    if (repo && !sel.as_of && !sel.backup)
        return cmd_list_repo(repo, json);
    sel.repo = repo;
    if (optind >= argc && !repo_cli_any(&sel))
        return cli_usage_error("list", "%s", "missing DIR");
    if (optind + 1 < argc)
        return cli_usage_error("list", "unexpected argument \"%s\"", argv[optind + 1]);
    const char *dir = optind < argc ? argv[optind] : NULL;
    int src = repo_cli_resolve("list", &sel, dir, repo_dir, sizeof repo_dir, &dir);
    return src != 0 ? src : list_dump(dir, passfile, json);
}
