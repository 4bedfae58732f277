/* Unit tests for engine/manifest: a manifest survives serialise → parse and write → read
 * field by field; its last line is a SHA-256 of everything before it; and any damage
 * (every single-byte change, every truncation), a missing file, an unsafe chunk path or an
 * unknown format version is an error rather than a manifest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/pf_util.h"
#include "engine/manifest.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static char *sdup(const char *s) { return s ? strdup(s) : NULL; }

static void fill_hash(chunk_hash *h, uint64_t *seed)
{
    for (int i = 0; i < 16; i++)
        h->b[i] = (uint8_t)(rng_next(seed) >> 56);
}

static void fill_rowhash(rowhash *h, uint64_t *seed)
{
    h->hi = rng_next(seed);
    h->lo = rng_next(seed);
}

/* A chunk; end == UINT64_MAX is open-ended, ranged == 0 has no range. */
static void set_chunk(manifest_chunk *c, const char *file, int ranged, uint64_t start, uint64_t end,
                      uint64_t *seed)
{
    c->file = sdup(file);
    c->ranged = ranged;
    c->start_page = ranged ? start : 0;
    c->end_page = ranged ? end : 0;
    c->rows = rng_next(seed) % 1000000000ULL;
    c->raw_bytes = rng_next(seed) % (1ULL << 40);
    c->stored_bytes = rng_next(seed) % (1ULL << 40);
    fill_hash(&c->raw_hash, seed);
    fill_hash(&c->stored_hash, seed);
    fill_rowhash(&c->content, seed);
}

static void set_cols(manifest_table *t, const char *const *cols, size_t n)
{
    t->ncols = n;
    t->cols = calloc(n + 1, sizeof *t->cols);
    assert_non_null(t->cols);
    for (size_t i = 0; i < n; i++)
        t->cols[i] = sdup(cols[i]);
}

/* Everything heap-allocated, so manifest_free releases it like a parsed one. */
static void build_manifest(manifest *m)
{
    uint64_t seed = 2024;
    memset(m, 0, sizeof *m);
    m->format_version = MANIFEST_FORMAT_VERSION;
    m->tool_version = sdup("0.1.0");
    m->server_version = sdup("16.4 (Debian 16.4-1)");
    m->server_version_num = 160004;
    m->host = NULL; /* Unix socket: no host */
    m->port = sdup("5432");
    m->database = sdup("shop \"prod\" ü");
    m->snapshot_id = sdup("00000003-0000001B-1");
    m->snapshot_lsn = sdup("0/1A2B3C4D");
    m->snapshot_time = sdup("2024-05-01 12:34:56.789+00");
    m->started_at = sdup("2024-05-01T12:34:56Z");
    m->finished_at = sdup("2024-05-01T12:40:00Z");
    m->compression = sdup("zstd");
    m->compression_level = -5;
    m->format = sdup("auto");
    m->chunk_size = 64ULL << 20;
    m->jobs = 8;
    m->schema_file = sdup("schema.dump");
    m->schema_bytes = 123456789;
    fill_hash(&m->schema_hash, &seed);

    m->ntables = 2;
    m->tables = calloc(3, sizeof *m->tables);
    assert_non_null(m->tables);

    manifest_table *a = &m->tables[0];
    a->schema = sdup("Sch\"éma");
    a->name = sdup("Tâble \"quoted\" 'single' back\\slash 日本語 \"manifest_checksum\": \"");
    a->parent_schema = sdup("public");
    a->parent_name = sdup("measurements");
    a->format = sdup("binary");
    a->persistence = 'p';
    static const char *const acols[] = {"id", "Ünïcödé col", "with \"quote\"", "tab\there", "$x"};
    set_cols(a, acols, 5);
    a->rows = 5000000000ULL;
    a->raw_bytes = 1ULL << 41;
    a->stored_bytes = 1ULL << 39;
    fill_rowhash(&a->content, &seed);
    a->nchunks = 3;
    a->chunks = calloc(4, sizeof *a->chunks);
    set_chunk(&a->chunks[0], "data/16384.0.chunk", 1, 0, 8192, &seed);
    set_chunk(&a->chunks[1], "data/16384.1.chunk", 1, 8192, 16384, &seed);
    set_chunk(&a->chunks[2], "data/16384.2.chunk", 1, 16384, UINT64_MAX, &seed);

    manifest_table *b = &m->tables[1];
    b->schema = sdup("public");
    b->name = sdup("événements");
    b->format = sdup("text");
    b->persistence = 'u';
    static const char *const bcols[] = {"a"};
    set_cols(b, bcols, 1);
    b->rows = 0;
    b->raw_bytes = 0;
    b->stored_bytes = 77;
    b->content = (rowhash){0, 0};
    b->nchunks = 1;
    b->chunks = calloc(2, sizeof *b->chunks);
    set_chunk(&b->chunks[0], "data/16390.0.chunk", 0, 0, 0, &seed);

    m->nseqs = 3;
    m->seqs = calloc(4, sizeof *m->seqs);
    m->seqs[0] = (manifest_sequence){sdup("public"), sdup("orders_id_seq"), 4711, 1};
    m->seqs[1] = (manifest_sequence){sdup("Sch\"éma"), sdup("séq"), INT64_MIN, 0};
    m->seqs[2] = (manifest_sequence){sdup("public"), sdup("big"), INT64_MAX, 1};

    m->has_large_objects = 1;
    manifest_table *lo = &m->large_objects;
    lo->schema = sdup("pg_catalog");
    lo->name = sdup("large objects");
    lo->format = sdup("lo");
    lo->persistence = 'p';
    set_cols(lo, NULL, 0);
    lo->rows = 12;
    lo->raw_bytes = 1 << 20;
    lo->stored_bytes = 1 << 18;
    fill_rowhash(&lo->content, &seed);
    lo->nchunks = 2;
    lo->chunks = calloc(3, sizeof *lo->chunks);
    set_chunk(&lo->chunks[0], "lo/0.chunk", 0, 0, 0, &seed);
    set_chunk(&lo->chunks[1], "lo/1.chunk", 0, 0, 0, &seed);
}

static void assert_str_eq_null(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_table_equal(const manifest_table *a, const manifest_table *b)
{
    assert_str_eq_null(a->schema, b->schema);
    assert_str_eq_null(a->name, b->name);
    assert_str_eq_null(a->parent_schema, b->parent_schema);
    assert_str_eq_null(a->parent_name, b->parent_name);
    assert_str_eq_null(a->format, b->format);
    assert_int_equal(a->persistence, b->persistence);
    assert_int_equal(a->ncols, b->ncols);
    for (size_t i = 0; i < a->ncols; i++)
        assert_string_equal(a->cols[i], b->cols[i]);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->raw_bytes, b->raw_bytes);
    assert_int_equal(a->stored_bytes, b->stored_bytes);
    assert_true(rowhash_equal(&a->content, &b->content));
    assert_int_equal(a->nchunks, b->nchunks);
    for (size_t i = 0; i < a->nchunks; i++) {
        const manifest_chunk *x = &a->chunks[i], *y = &b->chunks[i];
        assert_str_eq_null(x->file, y->file);
        assert_int_equal(x->ranged, y->ranged);
        assert_int_equal(x->start_page, y->start_page);
        assert_int_equal(x->end_page, y->end_page);
        assert_int_equal(x->rows, y->rows);
        assert_int_equal(x->raw_bytes, y->raw_bytes);
        assert_int_equal(x->stored_bytes, y->stored_bytes);
        assert_true(chunk_hash_equal(&x->raw_hash, &y->raw_hash));
        assert_true(chunk_hash_equal(&x->stored_hash, &y->stored_hash));
        assert_true(rowhash_equal(&x->content, &y->content));
    }
}

static void assert_manifest_equal(const manifest *a, const manifest *b)
{
    assert_int_equal(a->format_version, b->format_version);
    assert_str_eq_null(a->tool_version, b->tool_version);
    assert_str_eq_null(a->server_version, b->server_version);
    assert_int_equal(a->server_version_num, b->server_version_num);
    assert_str_eq_null(a->host, b->host);
    assert_str_eq_null(a->port, b->port);
    assert_str_eq_null(a->database, b->database);
    assert_str_eq_null(a->snapshot_id, b->snapshot_id);
    assert_str_eq_null(a->snapshot_lsn, b->snapshot_lsn);
    assert_str_eq_null(a->snapshot_time, b->snapshot_time);
    assert_str_eq_null(a->started_at, b->started_at);
    assert_str_eq_null(a->finished_at, b->finished_at);
    assert_str_eq_null(a->compression, b->compression);
    assert_int_equal(a->compression_level, b->compression_level);
    assert_str_eq_null(a->format, b->format);
    assert_int_equal(a->chunk_size, b->chunk_size);
    assert_int_equal(a->jobs, b->jobs);
    assert_str_eq_null(a->schema_file, b->schema_file);
    assert_int_equal(a->schema_bytes, b->schema_bytes);
    assert_true(chunk_hash_equal(&a->schema_hash, &b->schema_hash));
    assert_int_equal(a->ntables, b->ntables);
    for (size_t i = 0; i < a->ntables; i++)
        assert_table_equal(&a->tables[i], &b->tables[i]);
    assert_int_equal(a->nseqs, b->nseqs);
    for (size_t i = 0; i < a->nseqs; i++) {
        assert_str_eq_null(a->seqs[i].schema, b->seqs[i].schema);
        assert_str_eq_null(a->seqs[i].name, b->seqs[i].name);
        assert_int_equal(a->seqs[i].last_value, b->seqs[i].last_value);
        assert_int_equal(a->seqs[i].is_called, b->seqs[i].is_called);
    }
    assert_int_equal(a->has_large_objects, b->has_large_objects);
    if (a->has_large_objects)
        assert_table_equal(&a->large_objects, &b->large_objects);
}

/* Parses from an exactly sized copy (no terminating NUL), so a read past the given
 * length is an AddressSanitizer error rather than luck. */
static int parse_exact(const char *text, size_t len, manifest *m, char *err, size_t errlen)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = manifest_parse(copy, len, m, err, errlen);
    free(copy);
    return rc;
}

static void assert_rejected(const char *text, size_t len, const char *what)
{
    manifest m;
    char err[PF_ERRLEN] = "";
    if (parse_exact(text, len, &m, err, sizeof err) == 0) {
        manifest_free(&m);
        fail_msg("manifest accepted: %s", what);
    }
    assert_true(strlen(err) > 0);
    manifest_free(&m); /* harmless on a failed parse */
}

static char *serialize_ok(const manifest *m)
{
    char err[PF_ERRLEN] = "";
    char *text = manifest_serialize(m, err, sizeof err);
    if (!text)
        fail_msg("serialise: %s", err);
    return text;
}

static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/pf_test_manifest.XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void remove_tmpdir(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

/* Tests that need a directory get a fresh one in *state; teardown removes it even when
 * the test fails. */
static int tmpdir_setup(void **state)
{
    *state = make_tmpdir();
    return 0;
}

static int tmpdir_teardown(void **state)
{
    remove_tmpdir(*state);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_serialize_parse_round_trip(void **state)
{
    (void)state;
    manifest m, back;
    build_manifest(&m);
    char *text = serialize_ok(&m);
    char err[PF_ERRLEN] = "";
    if (parse_exact(text, strlen(text), &back, err, sizeof err) != 0)
        fail_msg("parse: %s", err);
    assert_manifest_equal(&m, &back);

    /* serialising the parsed manifest gives the same bytes */
    char *again = serialize_ok(&back);
    assert_string_equal(text, again);
    free(again);

    /* non-ASCII is kept as UTF-8 and quotes are escaped, not dropped */
    assert_non_null(strstr(text, "日本語"));
    assert_non_null(strstr(text, "\\\"quoted\\\""));
    free(text);
    manifest_free(&back);
    manifest_free(&m);
}

static void test_round_trip_minimal(void **state)
{
    (void)state;
    /* no tables, no sequences, no large objects */
    manifest m;
    memset(&m, 0, sizeof m);
    m.format_version = MANIFEST_FORMAT_VERSION;
    m.schema_file = strdup("schema.dump");
    char *text = serialize_ok(&m);
    manifest back;
    char err[PF_ERRLEN] = "";
    if (parse_exact(text, strlen(text), &back, err, sizeof err) != 0)
        fail_msg("parse: %s", err);
    assert_manifest_equal(&m, &back);
    assert_int_equal(back.has_large_objects, 0);
    free(text);
    manifest_free(&back);
    manifest_free(&m);
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(d, n, md, &mdlen, EVP_sha256(), NULL), 1);
    assert_int_equal(mdlen, 32);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static void test_checksum_line(void **state)
{
    (void)state;
    manifest m;
    build_manifest(&m);
    char *text = serialize_ok(&m);
    size_t len = strlen(text);
    static const char key[] = "  \"manifest_checksum\": \"";
    size_t tail = (sizeof key - 1) + 64 + strlen("\"\n}\n");
    assert_true(len > tail);
    const char *line = text + len - tail;
    assert_int_equal(line[-1], '\n');
    assert_memory_equal(line, key, sizeof key - 1);
    const char *hex = line + sizeof key - 1;
    for (int i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", hex[i]));
    assert_string_equal(hex + 64, "\"\n}\n");
    /* the member before it ends with ",\n" */
    assert_int_equal(line[-2], ',');

    char want[65];
    sha256_hex(text, (size_t)(line - text), want);
    assert_memory_equal(want, hex, 64);
    free(text);
    manifest_free(&m);
}

static void test_every_byte_change_rejected(void **state)
{
    (void)state;
    manifest m;
    build_manifest(&m);
    char *text = serialize_ok(&m);
    size_t len = strlen(text);
    char *buf = malloc(len);
    assert_non_null(buf);
    static const uint8_t masks[] = {0x01, 0x20, 0x80};
    size_t tried = 0;
    for (size_t k = 0; k < sizeof masks; k++)
        for (size_t i = 0; i < len; i++) {
            memcpy(buf, text, len);
            buf[i] = (char)(buf[i] ^ masks[k]);
            char what[64];
            snprintf(what, sizeof what, "byte %zu xor 0x%02x", i, masks[k]);
            assert_rejected(buf, len, what);
            tried++;
        }
    print_message("manifest: %zu single-byte changes of %zu bytes tried, all rejected\n", tried, len);
    /* the unchanged text still parses */
    manifest back;
    char err[PF_ERRLEN];
    assert_int_equal(parse_exact(text, len, &back, err, sizeof err), 0);
    manifest_free(&back);
    free(buf);
    free(text);
    manifest_free(&m);
}

static void test_every_truncation_rejected(void **state)
{
    (void)state;
    manifest m;
    build_manifest(&m);
    char *text = serialize_ok(&m);
    size_t len = strlen(text);
    for (size_t n = 0; n < len; n++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", n, len);
        assert_rejected(text, n, what);
    }
    print_message("manifest: %zu truncations tried, all rejected\n", len);

    /* and extensions: a byte appended, or the whole thing twice */
    char *ext = malloc(2 * len + 1);
    memcpy(ext, text, len);
    ext[len] = '\n';
    assert_rejected(ext, len + 1, "extra newline");
    ext[len] = ' ';
    assert_rejected(ext, len + 1, "extra space");
    memcpy(ext + len, text, len);
    assert_rejected(ext, 2 * len, "doubled");
    free(ext);
    free(text);
    manifest_free(&m);
}

static void test_write_read(void **state)
{
    const char *dir = *state;
    pf_store *ds = store_open(dir, 0, NULL, 0);
    assert_non_null(ds);
    manifest m, back;
    build_manifest(&m);
    char err[PF_ERRLEN] = "";
    if (manifest_write(&m, ds, err, sizeof err) != 0)
        fail_msg("write: %s", err);

    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_FILE);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    /* only the manifest in the directory: no temp file left behind */
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            files++, assert_string_equal(e->d_name, MANIFEST_FILE);
    closedir(d);
    assert_int_equal(files, 1);

    /* what is on disk is exactly what manifest_serialize gives */
    char *text = serialize_ok(&m);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *disk = malloc((size_t)st.st_size + 1);
    assert_int_equal(fread(disk, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    assert_int_equal((size_t)st.st_size, strlen(text));
    assert_memory_equal(disk, text, strlen(text));
    free(disk);

    if (manifest_read(ds, &back, err, sizeof err) != 0)
        fail_msg("read: %s", err);
    assert_manifest_equal(&m, &back);
    manifest_free(&back);

    /* overwriting works and keeps the mode */
    m.jobs = 3;
    assert_int_equal(manifest_write(&m, ds, err, sizeof err), 0);
    assert_int_equal(manifest_read(ds, &back, err, sizeof err), 0);
    assert_int_equal(back.jobs, 3);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    manifest_free(&back);

    /* damage on disk is caught by manifest_read */
    f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 10, SEEK_SET);
    fputc('#', f);
    fclose(f);
    err[0] = '\0';
    assert_int_equal(manifest_read(ds, &back, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    manifest_free(&back);

    free(text);
    manifest_free(&m);
    store_close(ds);
}

static void test_missing_manifest(void **state)
{
    const char *dir = *state;
    pf_store *ds = store_open(dir, 0, NULL, 0);
    assert_non_null(ds);
    manifest m;
    char err[PF_ERRLEN] = "";
    assert_int_equal(manifest_read(ds, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "incomplete"));
    manifest_free(&m);

    /* an empty manifest file is damaged, not a valid empty dump */
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_FILE);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    err[0] = '\0';
    assert_int_equal(manifest_read(ds, &m, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    manifest_free(&m);
    store_close(ds);
}

/* A manifest whose checksum is valid but whose content is not acceptable. */
static void assert_valid_checksum_rejected(const manifest *m, const char *what, const char *expect_in_err)
{
    char *text = serialize_ok(m);
    manifest back;
    char err[PF_ERRLEN] = "";
    if (parse_exact(text, strlen(text), &back, err, sizeof err) == 0) {
        manifest_free(&back);
        fail_msg("accepted: %s", what);
    }
    assert_true(strlen(err) > 0);
    if (expect_in_err && !strstr(err, expect_in_err))
        fail_msg("%s: error \"%s\" does not mention \"%s\"", what, err, expect_in_err);
    manifest_free(&back);
    free(text);
}

static void test_unsafe_paths_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {"../outside.chunk", "data/../../etc/passwd", "data/..",
                                      "/etc/passwd", "/data/16384.0.chunk", ".."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        manifest m;
        char what[128];

        build_manifest(&m);
        free(m.tables[0].chunks[1].file);
        m.tables[0].chunks[1].file = strdup(bad[i]);
        snprintf(what, sizeof what, "table chunk path %s", bad[i]);
        assert_valid_checksum_rejected(&m, what, NULL);
        manifest_free(&m);

        build_manifest(&m);
        free(m.large_objects.chunks[0].file);
        m.large_objects.chunks[0].file = strdup(bad[i]);
        snprintf(what, sizeof what, "large object chunk path %s", bad[i]);
        assert_valid_checksum_rejected(&m, what, NULL);
        manifest_free(&m);

        build_manifest(&m);
        free(m.schema_file);
        m.schema_file = strdup(bad[i]);
        snprintf(what, sizeof what, "schema path %s", bad[i]);
        assert_valid_checksum_rejected(&m, what, NULL);
        manifest_free(&m);
    }
    /* a chunk without a file at all */
    manifest m;
    build_manifest(&m);
    free(m.tables[1].chunks[0].file);
    m.tables[1].chunks[0].file = NULL;
    assert_valid_checksum_rejected(&m, "chunk without file", NULL);
    manifest_free(&m);
}

static void test_format_version_rejected(void **state)
{
    (void)state;
    static const int versions[] = {0, MANIFEST_FORMAT_VERSION + 1, 99, -1};
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        manifest m;
        build_manifest(&m);
        m.format_version = versions[i];
        char what[64];
        snprintf(what, sizeof what, "format version %d", versions[i]);
        assert_valid_checksum_rejected(&m, what, "version");
        manifest_free(&m);
    }
}

static void test_checksum_key_in_names(void **state)
{
    (void)state;
    /* the key text inside a name must not be taken for the checksum line; a name whose
     * escaped form could collide is part of build_manifest, and the round trip works */
    manifest m, back;
    build_manifest(&m);
    char *text = serialize_ok(&m);
    const char *first = strstr(text, "manifest_checksum");
    const char *last = NULL;
    for (const char *p = text; (p = strstr(p, "manifest_checksum")); p++)
        last = p;
    assert_true(first != last); /* the name mentions it too */
    char err[PF_ERRLEN];
    assert_int_equal(parse_exact(text, strlen(text), &back, err, sizeof err), 0);
    assert_string_equal(back.tables[0].name, m.tables[0].name);
    manifest_free(&back);
    free(text);
    manifest_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serialize_parse_round_trip),
        cmocka_unit_test(test_round_trip_minimal),
        cmocka_unit_test(test_checksum_line),
        cmocka_unit_test(test_every_byte_change_rejected),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test_setup_teardown(test_write_read, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_manifest, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test(test_unsafe_paths_rejected),
        cmocka_unit_test(test_format_version_rejected),
        cmocka_unit_test(test_checksum_key_in_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
