/* Unit tests for engine/archive (the custom-format TOC reader), on a schema archive made by
 * pg_dump 15 -Fc -s (tests/fixtures/archive/small.dump; small.dump.list is pg_restore -l
 * of it): entries, sections, names, owners, dependencies, lookups by id; every truncation
 * and damaged bytes refused or read without reading out of bounds (run under ASan too);
 * an encrypted copy read with its key, refused without the right one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/cipher.h"
#include "common/pf_util.h"
#include "engine/archive.h"
#include "io/store.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PF_SOURCE_DIR
#define PF_SOURCE_DIR "."
#endif
#define FIXTURES PF_SOURCE_DIR "/tests/fixtures/archive"

static unsigned char *fixture(size_t *len)
{
    char err[PF_ERRLEN], *data;
    pf_store *st = store_open(FIXTURES, 0, err, sizeof err);
    assert_non_null(st);
    if (store_read_all(st, "small.dump", &data, len, err, sizeof err) < 0)
        fail_msg("%s", err);
    store_close(st);
    return (unsigned char *)data;
}

static const archive_entry *by_desc_tag(const archive *a, const char *desc, const char *tag)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->entries[i].desc, desc) && a->entries[i].tag && !strcmp(a->entries[i].tag, tag))
            return &a->entries[i];
    return NULL;
}

static int depends_on(const archive *a, const archive_entry *e, const archive_entry *on)
{
    for (size_t i = 0; i < e->ndeps; i++)
        if (e->deps[i] == on->id)
            return 1;
    (void)a;
    return 0;
}

static void test_toc(void **state)
{
    (void)state;
    char err[PF_ERRLEN];
    archive a;
    pf_store *st = store_open(FIXTURES, 0, err, sizeof err);
    if (archive_load(st, "small.dump", NULL, NULL, &a, err, sizeof err) < 0)
        fail_msg("archive_load: %s", err);
    store_close(st);
    /* pg_restore -l lists 10 entries (the ENCODING/STDSTRINGS/SEARCHPATH ones aside) */
    const char *want[][3] = {
        {"SCHEMA", "app", NULL},
        {"TABLE", "customer", "app"},
        {"TABLE", "orders", "app"},
        {"VIEW", "big_orders", "app"},
        {"SEQUENCE", "seq", "app"},
        {"COMMENT", "TABLE customer", "app"},
        {"CONSTRAINT", "customer customer_pkey", "app"},
        {"CONSTRAINT", "orders orders_pkey", "app"},
        {"INDEX", "orders_customer", "app"},
        {"FK CONSTRAINT", "orders orders_customer_fkey", "app"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const archive_entry *e = by_desc_tag(&a, want[i][0], want[i][1]);
        if (!e)
            fail_msg("no %s %s in the archive", want[i][0], want[i][1]);
        if (want[i][2])
            assert_string_equal(e->namespace, want[i][2]);
        assert_string_equal(e->owner, "postgres");
        assert_true(archive_find(&a, e->id) >= 0);
        assert_ptr_equal(&a.entries[archive_find(&a, e->id)], e);
    }
    const archive_entry *schema = by_desc_tag(&a, "SCHEMA", "app");
    const archive_entry *customer = by_desc_tag(&a, "TABLE", "customer");
    const archive_entry *orders = by_desc_tag(&a, "TABLE", "orders");
    const archive_entry *pkey = by_desc_tag(&a, "CONSTRAINT", "customer customer_pkey");
    const archive_entry *fk = by_desc_tag(&a, "FK CONSTRAINT", "orders orders_customer_fkey");
    const archive_entry *idx = by_desc_tag(&a, "INDEX", "orders_customer");
    const archive_entry *comment = by_desc_tag(&a, "COMMENT", "TABLE customer");
    const archive_entry *view = by_desc_tag(&a, "VIEW", "big_orders");
    /* sections */
    assert_int_equal(schema->section, ARCHIVE_SECTION_PRE_DATA);
    assert_int_equal(customer->section, ARCHIVE_SECTION_PRE_DATA);
    assert_int_equal(pkey->section, ARCHIVE_SECTION_POST_DATA);
    assert_int_equal(idx->section, ARCHIVE_SECTION_POST_DATA);
    assert_int_equal(fk->section, ARCHIVE_SECTION_POST_DATA);
    /* dependencies */
    assert_true(depends_on(&a, customer, schema));
    assert_true(depends_on(&a, pkey, customer));
    assert_true(depends_on(&a, idx, orders));
    assert_true(depends_on(&a, fk, pkey));
    assert_true(depends_on(&a, comment, customer));
    assert_true(depends_on(&a, view, orders));
    assert_false(depends_on(&a, customer, orders));
    /* DROP statements for --clean */
    assert_non_null(strstr(customer->drop, "DROP TABLE app.customer"));
    assert_true(archive_find(&a, 999999) < 0);
    assert_true(archive_find(&a, -1) < 0);
    assert_true(a.len > 0 && a.data != NULL);
    archive_free(&a);
}

/* Every prefix of the archive is refused (never read past its end), and no damaged byte
 * makes the reader crash or read out of bounds. */
static void test_truncated_and_damaged(void **state)
{
    (void)state;
    size_t len;
    unsigned char *data = fixture(&len);
    char err[PF_ERRLEN];
    archive a;
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, data, cut);
        int rc = archive_from_memory(copy, cut, "small.dump", &a, err, sizeof err);
        /* the TOC ends before the data section; a cut after it may still parse */
        if (rc == 0)
            archive_free(&a);
        else
            assert_true(strlen(err) > 0);
        if (cut < 64)
            assert_int_equal(rc, -1);
    }
    unsigned char *copy = malloc(len);
    memcpy(copy, data, len);
    copy[0] = 'X'; /* not "PGDMP" */
    assert_int_equal(archive_from_memory(copy, len, "small.dump", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "small.dump"));
    uint64_t x = 7;
    for (int round = 0; round < 2000; round++) {
        copy = malloc(len);
        memcpy(copy, data, len);
        for (int k = 0; k < 3; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = 5 + (size_t)(x >> 33) % (len - 5);
            copy[at] ^= (unsigned char)(1 + (x >> 20) % 255);
        }
        if (archive_from_memory(copy, len, "small.dump", &a, err, sizeof err) == 0)
            archive_free(&a);
    }
    free(data);
}

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

typedef struct {
    unsigned char *b;
    size_t n, cap;
} membuf;

static int mem_sink(void *ctx, const void *p, size_t len, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    membuf *m = ctx;
    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->b = realloc(m->b, m->cap);
    }
    memcpy(m->b + m->n, p, len);
    m->n += len;
    return 0;
}

static void test_encrypted(void **state)
{
    (void)state;
    size_t len;
    unsigned char *data = fixture(&len);
    char err[PF_ERRLEN];
    cipher_key k, other;
    assert_int_equal(cipher_random(k.k, sizeof k.k, err, sizeof err), 0);
    assert_int_equal(cipher_random(other.k, sizeof other.k, err, sizeof err), 0);
    membuf enc = {0};
    cipher_stream *cs = cipher_stream_new(err, sizeof err);
    assert_int_equal(cipher_encrypt_begin(cs, &k, "id:schema.dump", mem_sink, &enc, err, sizeof err), 0);
    assert_int_equal(cipher_encrypt_sink(cs, data, len, err, sizeof err), 0);
    assert_int_equal(cipher_encrypt_end(cs, err, sizeof err), 0);
    cipher_stream_free(cs);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pgferry-arch-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    pf_store *st = store_open(tmpdir, 0, err, sizeof err);
    assert_int_equal(store_write_all(st, "schema.dump", enc.b, enc.n, err, sizeof err), 0);
    archive a;
    assert_int_equal(archive_load(st, "schema.dump", &k, "id:schema.dump", &a, err, sizeof err), 0);
    assert_int_equal(a.len, len);
    assert_memory_equal(a.data, data, len);
    archive_free(&a);
    assert_int_equal(archive_load(st, "schema.dump", &other, "id:schema.dump", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "schema.dump"));
    assert_int_equal(archive_load(st, "schema.dump", &k, "id:elsewhere", &a, err, sizeof err), -1);
    assert_int_equal(archive_load(st, "missing.dump", NULL, NULL, &a, err, sizeof err), -1);
    store_close(st);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(enc.b);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toc),
        cmocka_unit_test(test_truncated_and_damaged),
        cmocka_unit_test(test_encrypted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
