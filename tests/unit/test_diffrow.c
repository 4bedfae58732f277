/* Unit tests for engine/diffrow: the COPY row splitter fed in every piece size, field
 * splitting, text COPY unescaping and SQL literals. */
#include "common/pf_util.h"
#include "engine/diffrow.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    char rows[16][256];
    size_t lens[16];
    size_t n;
} collected;

static int collect(void *ctx, const uint8_t *row, size_t len, char *err, size_t errlen)
{
    collected *c = ctx;
    if (c->n >= 16 || len >= 256)
        return pf_err(err, errlen, "too many rows");
    memcpy(c->rows[c->n], row, len);
    c->lens[c->n++] = len;
    return 0;
}

/* Feeds data in pieces of `piece` bytes; returns the splitter's finish result. */
static int feed_all(copyrows_format fmt, const uint8_t *data, size_t len, size_t piece, collected *c)
{
    char err[PF_ERRLEN];
    memset(c, 0, sizeof *c);
    diffrow_splitter *s = diffrow_splitter_new(fmt, collect, c);
    assert_non_null(s);
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0; at += piece)
        rc = diffrow_splitter_feed(s, data + at, at + piece > len ? len - at : piece, err, sizeof err);
    if (rc == 0)
        rc = diffrow_splitter_finish(s, err, sizeof err);
    diffrow_splitter_free(s);
    return rc;
}

static void test_text_rows(void **state)
{
    (void)state;
    const char *data = "1\ta\\tb\n\n2\t\\N\n3\tx\\\\\n";
    for (size_t piece = 1; piece <= strlen(data); piece++) {
        collected c;
        assert_int_equal(feed_all(COPYROWS_TEXT, (const uint8_t *)data, strlen(data), piece, &c), 0);
        assert_int_equal(c.n, 4);
        assert_int_equal(c.lens[0], 6);
        assert_memory_equal(c.rows[0], "1\ta\\tb", 6);
        assert_int_equal(c.lens[1], 0); /* an empty row (one empty text column) */
        assert_memory_equal(c.rows[2], "2\t\\N", 4);
        assert_memory_equal(c.rows[3], "3\tx\\\\", 6);
    }
    collected c;
    assert_int_equal(feed_all(COPYROWS_TEXT, (const uint8_t *)"1\t2", 3, 2, &c), -1); /* no newline */
    assert_int_equal(feed_all(COPYROWS_TEXT, (const uint8_t *)"1\n\\.\n", 5, 1, &c), 0);
    assert_int_equal(c.n, 1); /* the end marker is not a row */
}

static size_t put_be32(uint8_t *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)(u >> 24), p[1] = (uint8_t)(u >> 16), p[2] = (uint8_t)(u >> 8), p[3] = (uint8_t)u;
    return 4;
}

static void test_binary_rows(void **state)
{
    (void)state;
    uint8_t d[256];
    size_t n = 0;
    memcpy(d, "PGCOPY\n\377\r\n\0", 11);
    n = 11;
    n += put_be32(d + n, 0);
    n += put_be32(d + n, 3); /* a header extension of 3 bytes */
    memcpy(d + n, "abc", 3);
    n += 3;
    size_t row1 = n;
    d[n++] = 0, d[n++] = 2; /* 2 fields */
    n += put_be32(d + n, 4);
    memcpy(d + n, "\0\0\0\7", 4);
    n += 4;
    n += put_be32(d + n, -1); /* NULL */
    size_t row2 = n;
    d[n++] = 0, d[n++] = 2;
    n += put_be32(d + n, 0); /* empty */
    n += put_be32(d + n, 2);
    d[n++] = '\\', d[n++] = 0;
    size_t end = n;
    d[n++] = 0xff, d[n++] = 0xff;
    for (size_t piece = 1; piece <= n; piece++) {
        collected c;
        assert_int_equal(feed_all(COPYROWS_BINARY, d, n, piece, &c), 0);
        assert_int_equal(c.n, 2);
        assert_int_equal(c.lens[0], row2 - row1);
        assert_memory_equal(c.rows[0], d + row1, row2 - row1);
        assert_int_equal(c.lens[1], end - row2);
        diffrow_field f[2];
        char err[PF_ERRLEN];
        assert_int_equal(diffrow_fields(COPYROWS_BINARY, (uint8_t *)c.rows[0], c.lens[0], 2, f, err, sizeof err), 0);
        assert_int_equal(f[0].len, 4);
        assert_int_equal(f[1].len, -1);
        assert_int_equal(diffrow_fields(COPYROWS_BINARY, (uint8_t *)c.rows[1], c.lens[1], 2, f, err, sizeof err), 0);
        assert_int_equal(f[0].len, 0);
        assert_int_equal(f[1].len, 2);
        assert_int_equal(diffrow_fields(COPYROWS_BINARY, (uint8_t *)c.rows[1], c.lens[1], 3, f, err, sizeof err), -1);
    }
    collected c;
    assert_int_equal(feed_all(COPYROWS_BINARY, d, end, 5, &c), -1);          /* no trailer */
    assert_int_equal(feed_all(COPYROWS_BINARY, d, n - 1, 5, &c), -1);        /* cut trailer */
    d[0] = 'X';
    assert_int_equal(feed_all(COPYROWS_BINARY, d, n, 64, &c), -1);           /* bad signature */
}

static void test_text_fields(void **state)
{
    (void)state;
    diffrow_field f[4];
    char err[PF_ERRLEN];
    const uint8_t *row = (const uint8_t *)"a\t\\N\t\t\\\\N";
    assert_int_equal(diffrow_fields(COPYROWS_TEXT, row, strlen((const char *)row), 4, f, err, sizeof err), 0);
    assert_int_equal(f[0].off, 0);
    assert_int_equal(f[0].len, 1);
    assert_int_equal(f[1].len, -1); /* \N */
    assert_int_equal(f[2].len, 0);  /* empty string */
    assert_int_equal(f[3].len, 3);  /* \\N: a backslash and N, not NULL */
    assert_int_equal(diffrow_fields(COPYROWS_TEXT, row, strlen((const char *)row), 3, f, err, sizeof err), -1);
    assert_int_equal(diffrow_fields(COPYROWS_TEXT, row, strlen((const char *)row), 5, f, err, sizeof err), -1);
    assert_int_equal(diffrow_fields(COPYROWS_TEXT, (const uint8_t *)"", 0, 1, f, err, sizeof err), 0);
    assert_int_equal(f[0].len, 0);
}

static void test_unescape(void **state)
{
    (void)state;
    char out[64];
    const char *in = "a\\tb\\nc\\\\d\\101\\x41\\x4g\\r\\b\\f\\v\\q\\";
    size_t n = diffrow_unescape((const uint8_t *)in, strlen(in), out);
    const char want[] = "a\tb\nc\\dAA\x04g\r\b\f\vq\\";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, n);
    assert_int_equal(out[n], '\0');
    n = diffrow_unescape((const uint8_t *)"\\303\\251", 8, out); /* octal bytes: UTF-8 e-acute */
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\xc3\xa9", 2);
}

static void test_literals(void **state)
{
    (void)state;
    diffrow_buf b = {0};
    assert_int_equal(diffrow_literal(&b, "plain", 5, "text"), 0);
    assert_string_equal(b.p, "'plain'::text");
    b.len = 0;
    assert_int_equal(diffrow_literal(&b, "it's", 4, NULL), 0);
    assert_string_equal(b.p, "'it''s'");
    b.len = 0;
    assert_int_equal(diffrow_literal(&b, "a\\b'c", 5, "bytea"), 0);
    assert_string_equal(b.p, "E'a\\\\b''c'::bytea");
    b.len = 0;
    assert_int_equal(diffrow_literal(&b, "", 0, "integer[]"), 0);
    assert_string_equal(b.p, "''::integer[]");
    b.len = 0;
    assert_int_equal(diffrow_literal(&b, "\xe2\x98\x83\n\t", 5, NULL), 0); /* unicode, newline, tab as is */
    assert_string_equal(b.p, "'\xe2\x98\x83\n\t'");
    b.len = 0;
    assert_int_equal(diffrow_literal(&b, "''\\\\", 4, NULL), 0);
    assert_string_equal(b.p, "E'''''\\\\\\\\'");
    diffrow_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_rows),   cmocka_unit_test(test_binary_rows), cmocka_unit_test(test_text_fields),
        cmocka_unit_test(test_unescape),    cmocka_unit_test(test_literals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
