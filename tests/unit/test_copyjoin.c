/* Unit tests for codec/copyjoin: COPY streams joined into one. */
#include "codec/copyjoin.h"
#include "codec/copyrows.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    uint8_t *b;
    size_t n, cap;
} buf;

static void put(buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static int sink(void *ctx, const void *p, size_t n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    put(ctx, p, n);
    return 0;
}

static void be32(buf *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 4);
}

/* A binary COPY stream with rows [from, to) of one int4 column; ext extension bytes. */
static void binary_stream(buf *o, int from, int to, uint32_t ext, int header)
{
    if (header) {
        put(o, "PGCOPY\n\377\r\n\0", 11);
        be32(o, 0);
        be32(o, ext);
        for (uint32_t i = 0; i < ext; i++)
            put(o, "x", 1);
    }
    for (int r = from; r < to; r++) {
        uint8_t fc[2] = {0, 1};
        put(o, fc, 2);
        be32(o, 4);
        be32(o, (uint32_t)r);
    }
}

static void trailer(buf *o)
{
    put(o, "\xff\xff", 2);
}

/* Joins streams fed in pieces of `piece` bytes. */
static int join(buf *streams, int n, int binary, size_t piece, buf *outb, char *err)
{
    for (int s = 0; s < n; s++) {
        copyjoin j;
        copyjoin_begin(&j, binary, s == 0, s == n - 1, sink, outb);
        for (size_t off = 0; off < streams[s].n; off += piece) {
            size_t k = streams[s].n - off < piece ? streams[s].n - off : piece;
            if (copyjoin_feed(&j, streams[s].b + off, k, err, 256) < 0)
                return -1;
        }
        if (copyjoin_end(&j, err, 256) < 0)
            return -1;
    }
    return 0;
}

static void test_binary_join(void **state)
{
    (void)state;
    for (uint32_t ext = 0; ext <= 5; ext += 5) {
        buf want = {0};
        binary_stream(&want, 0, 30, ext, 1);
        trailer(&want);
        for (size_t piece = 1; piece <= 70; piece += (piece < 24 ? 1 : 23)) {
            buf s[3] = {{0}, {0}, {0}}, got = {0};
            binary_stream(&s[0], 0, 10, ext, 1);
            trailer(&s[0]);
            binary_stream(&s[1], 10, 11, ext, 1);
            trailer(&s[1]);
            binary_stream(&s[2], 11, 30, ext, 1);
            trailer(&s[2]);
            char err[256];
            assert_int_equal(join(s, 3, 1, piece, &got, err), 0);
            assert_int_equal(got.n, want.n);
            assert_memory_equal(got.b, want.b, want.n);
            /* and the joined stream is one valid COPY stream of 30 rows */
            copyrows *cr = copyrows_new(COPYROWS_BINARY);
            assert_int_equal(copyrows_feed(cr, got.b, got.n, err, sizeof err), 0);
            assert_int_equal(copyrows_finish(cr, err, sizeof err), 0);
            assert_int_equal(copyrows_rows(cr), 30);
            copyrows_free(cr);
            for (int i = 0; i < 3; i++)
                free(s[i].b);
            free(got.b);
        }
        free(want.b);
    }
}

static void test_binary_empty_streams(void **state)
{
    (void)state;
    /* chunks without rows (an empty range) are header + trailer only */
    buf s[3] = {{0}, {0}, {0}}, got = {0}, want = {0};
    binary_stream(&s[0], 0, 0, 0, 1);
    trailer(&s[0]);
    binary_stream(&s[1], 0, 2, 0, 1);
    trailer(&s[1]);
    binary_stream(&s[2], 0, 0, 0, 1);
    trailer(&s[2]);
    binary_stream(&want, 0, 2, 0, 1);
    trailer(&want);
    char err[256];
    assert_int_equal(join(s, 3, 1, 3, &got, err), 0);
    assert_int_equal(got.n, want.n);
    assert_memory_equal(got.b, want.b, want.n);
    for (int i = 0; i < 3; i++)
        free(s[i].b);
    free(got.b);
    free(want.b);
}

static void test_binary_errors(void **state)
{
    (void)state;
    char err[256];
    /* an earlier stream without its trailer */
    buf s[2] = {{0}, {0}}, got = {0};
    binary_stream(&s[0], 0, 3, 0, 1);
    binary_stream(&s[1], 3, 4, 0, 1);
    trailer(&s[1]);
    assert_int_equal(join(s, 2, 1, 7, &got, err), -1);
    assert_non_null(strstr(err, "trailer"));
    free(s[0].b);
    free(s[1].b);
    free(got.b);
    /* a later stream with a bad signature */
    buf t[2] = {{0}, {0}};
    got = (buf){0};
    binary_stream(&t[0], 0, 1, 0, 1);
    trailer(&t[0]);
    put(&t[1], "XGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\xff\xff", 21);
    assert_int_equal(join(t, 2, 1, 4, &got, err), -1);
    assert_non_null(strstr(err, "signature"));
    free(t[0].b);
    free(t[1].b);
    free(got.b);
    /* a later stream cut inside its header */
    copyjoin j;
    got = (buf){0};
    copyjoin_begin(&j, 1, 0, 0, sink, &got);
    assert_int_equal(copyjoin_feed(&j, "PGCOPY\n", 7, err, sizeof err), 0);
    assert_int_equal(copyjoin_end(&j, err, sizeof err), -1);
    free(got.b);
}

static void test_text_join(void **state)
{
    (void)state;
    buf s[2] = {{0}, {0}}, got = {0};
    put(&s[0], "1\ta\n2\tb\n", 8);
    put(&s[1], "3\tc\n", 4);
    char err[256];
    assert_int_equal(join(s, 2, 0, 1, &got, err), 0);
    assert_int_equal(got.n, 12);
    assert_memory_equal(got.b, "1\ta\n2\tb\n3\tc\n", 12);
    free(s[0].b);
    free(s[1].b);
    free(got.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_join),
        cmocka_unit_test(test_binary_empty_streams),
        cmocka_unit_test(test_binary_errors),
        cmocka_unit_test(test_text_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
