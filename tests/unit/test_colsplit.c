/* colsplit: the column layout gives back exactly the bytes it was given, whatever they
 * are, in any piece sizes; it is smaller after zstd; damaged frames are refused. */
#include "codec/colsplit.h"
#include "common/pf_util.h"
#include "copygen.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zstd.h>

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static int put(void *ctx, const void *data, size_t n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    buf_t *b = ctx;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static void encode(const uint8_t *in, size_t len, size_t piece, buf_t *out)
{
    char err[PF_ERRLEN];
    colsplit_enc *e = colsplit_enc_new();
    assert_non_null(e);
    colsplit_enc_reset(e, put, out);
    for (size_t off = 0; off < len; off += piece) {
        size_t k = len - off < piece ? len - off : piece;
        if (colsplit_enc_write(e, in + off, k, err, sizeof err) != 0)
            fail_msg("encode: %s", err);
    }
    if (colsplit_enc_finish(e, err, sizeof err) != 0)
        fail_msg("encode finish: %s", err);
    colsplit_enc_free(e);
}

/* 0, or -1 with err */
static int decode(const uint8_t *in, size_t len, size_t piece, buf_t *out, char *err, size_t errlen)
{
    colsplit_dec *d = colsplit_dec_new();
    assert_non_null(d);
    colsplit_dec_reset(d, put, out);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += piece) {
        size_t k = len - off < piece ? len - off : piece;
        rc = colsplit_dec_feed(d, in + off, k, err, errlen);
    }
    if (rc == 0)
        rc = colsplit_dec_finish(d, err, errlen);
    colsplit_dec_free(d);
    return rc;
}

static void roundtrip(const char *what, const uint8_t *in, size_t len)
{
    static const size_t pieces[] = {1, 7, 4096, 1u << 30};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        if (pieces[i] < 7 && len > 200000)
            continue;
        for (size_t j = 0; j < sizeof pieces / sizeof *pieces; j++) {
            if (pieces[j] < 7 && len > 200000)
                continue;
            buf_t t = {0}, back = {0};
            char err[PF_ERRLEN];
            encode(in, len, pieces[i], &t);
            if (decode(t.p, t.len, pieces[j], &back, err, sizeof err) != 0)
                fail_msg("%s (write %zu, read %zu): %s", what, pieces[i], pieces[j], err);
            if (back.len != len || (len && memcmp(back.p, in, len) != 0))
                fail_msg("%s (write %zu, read %zu): %zu bytes back of %zu, or different", what, pieces[i],
                         pieces[j], back.len, len);
            free(t.p);
            free(back.p);
        }
    }
}

static uint8_t *gen(size_t rows, uint64_t seed, size_t big_every, size_t big_len, size_t *len)
{
    size_t cap = 100 + rows * (80 + (big_every ? big_len / big_every + 64 : 0)) + big_len * 2;
    uint8_t *p = malloc(cap);
    assert_non_null(p);
    *len = copygen_binary(p, cap, rows, seed, big_every, big_len);
    assert_true(*len > 0);
    return p;
}

static void test_roundtrip_shapes(void **state)
{
    (void)state;
    roundtrip("empty", NULL, 0);
    roundtrip("not COPY", (const uint8_t *)"hello, world\n", 13);
    const char *text = "1\tone\n2\t\\N\n3\tthree\n";
    roundtrip("text COPY", (const uint8_t *)text, strlen(text));
    size_t n;
    uint8_t *p = gen(1000, 1, 0, 0, &n);
    roundtrip("1,000 rows", p, n);
    for (size_t cut = 0; cut < 200; cut++) /* ends anywhere: in the header, in a row */
        roundtrip("1,000 rows cut short", p, cut);
    roundtrip("1,000 rows without the trailer", p, n - 2);
    roundtrip("1,000 rows ending mid-row", p, n - 9);
    free(p);
    p = gen(60000, 2, 0, 0, &n); /* several blocks */
    assert_true(n > 3 * COLSPLIT_BLOCK);
    roundtrip("60,000 rows", p, n);
    free(p);
    p = gen(300, 3, 100, 3u << 20, &n); /* rows larger than a block */
    roundtrip("rows of 3 MB among small ones", p, n);
    roundtrip("a 3 MB row cut short", p, n - (1u << 20));
    free(p);
}

static void test_roundtrip_odd_rows(void **state)
{
    (void)state;
    /* field counts that change, rows without fields, an empty value, a bad length */
    uint8_t b[512];
    size_t n = 0;
    size_t h = copygen_binary(b, sizeof b, 0, 1, 0, 0) - 2; /* the header alone */
    n = h;
    static const int shapes[] = {2, 2, 0, 0, 3, 2, 1, 1};
    for (size_t r = 0; r < sizeof shapes / sizeof *shapes; r++) {
        n += copygen_be(b + n, (uint64_t)shapes[r], 2);
        for (int f = 0; f < shapes[r]; f++) {
            if (f == 1) {
                n += copygen_be(b + n, 0, 4); /* an empty value */
                continue;
            }
            n += copygen_be(b + n, 4, 4);
            n += copygen_be(b + n, r * 10 + (size_t)f, 4);
        }
    }
    n += copygen_be(b + n, 0xffff, 2);
    roundtrip("changing field counts", b, n);
    size_t m = n - 2;
    m += copygen_be(b + m, 1, 2);
    m += copygen_be(b + m, 0xfffffff0, 4); /* a length below -1: not binary COPY after all */
    m += copygen_be(b + m, 12345, 4);
    roundtrip("a negative length", b, m);
    /* two COPY streams back to back */
    size_t len;
    uint8_t *p = gen(50, 4, 0, 0, &len);
    uint8_t *two = malloc(2 * len);
    assert_non_null(two);
    memcpy(two, p, len);
    memcpy(two + len, p, len);
    roundtrip("two streams", two, 2 * len);
    free(two);
    free(p);
    /* a trailer followed by more than a block of anything */
    p = gen(10, 5, 0, 0, &len);
    size_t big = len + 3 * COLSPLIT_BLOCK;
    two = malloc(big);
    assert_non_null(two);
    memcpy(two, p, len);
    for (size_t i = len; i < big; i++)
        two[i] = (uint8_t)(i * 7);
    roundtrip("bytes after the trailer", two, big);
    /* a row that does not fit a block and holds a length below -1 after its first field */
    size_t h2 = copygen_binary(two, big, 0, 1, 0, 0) - 2, q = h2;
    q += copygen_be(two + q, 2, 2);
    q += copygen_be(two + q, 10, 4);
    memset(two + q, 'x', 10);
    q += 10;
    q += copygen_be(two + q, 0xfffffff0, 4);
    roundtrip("a block-sized row with a bad length", two, big);
    free(two);
    free(p);
}

static void test_layout_and_size(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = gen(50000, 5, 0, 0, &n);
    buf_t t = {0};
    encode(p, n, 65536, &t);
    /* the COPY header as a raw frame, then columns */
    assert_int_equal(t.p[0], 1);
    assert_int_equal(t.p[1], 19);
    assert_int_equal(t.p[2 + 19], 2);
    size_t cap = ZSTD_compressBound(n);
    uint8_t *z = malloc(cap);
    assert_non_null(z);
    size_t plain = ZSTD_compress(z, cap, p, n, 1);
    size_t cols = ZSTD_compress(z, cap, t.p, t.len, 1);
    assert_false(ZSTD_isError(plain));
    assert_false(ZSTD_isError(cols));
    print_message("50,000 rows: %zu bytes, zstd:1 %zu, columns + zstd:1 %zu\n", n, plain, cols);
    assert_true(cols * 10 < plain * 8); /* at least 20% smaller on this data */
    free(z);
    free(t.p);
    free(p);
}

static void test_damage(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = gen(40, 6, 0, 0, &n);
    buf_t t = {0};
    encode(p, n, 1u << 30, &t);
    char err[PF_ERRLEN];
    size_t refused = 0;
    /* any changed byte: refused, or different bytes out (the chunk's hash catches those) */
    for (size_t off = 0; off < t.len; off++) {
        for (int x = 1; x < 256; x <<= 3) {
            t.p[off] ^= (uint8_t)x;
            buf_t back = {0};
            if (decode(t.p, t.len, 1u << 30, &back, err, sizeof err) != 0) {
                assert_non_null(strstr(err, "column layout"));
                refused++;
            } else if (back.len == n && memcmp(back.p, p, n) == 0) {
                fail_msg("byte %zu ^ %d decoded to the original", off, x);
            }
            t.p[off] ^= (uint8_t)x;
            free(back.p);
        }
    }
    print_message("%zu of %zu damaged streams refused by the layout itself\n", refused, 3 * t.len);
    assert_true(refused > 0); /* the structure is checked; values are for the chunk hash */
    /* cut anywhere: refused, or a strict prefix (at a frame boundary) */
    for (size_t cut = 0; cut < t.len; cut++) {
        buf_t back = {0};
        if (decode(t.p, cut, 3, &back, err, sizeof err) == 0)
            assert_true(back.len < n && (back.len == 0 || memcmp(back.p, p, back.len) == 0));
        else
            assert_non_null(strstr(err, "column layout"));
        free(back.p);
    }
    free(t.p);
    free(p);
    /* frames that cannot be */
    static const struct {
        const char *what;
        uint8_t b[8];
        size_t n;
        const char *says;
    } bad[] = {
        {"unknown kind", {7, 0}, 2, "unknown frame kind"},
        {"columns frame of no rows", {2, 2, 0, 1}, 4, "row count"},
        {"frame longer than the maximum", {1, 0xff, 0xff, 0xff, 0xff, 0x0f}, 6, "frame length"},
        {"stream ends in a frame", {1, 5, 'a'}, 3, "ends inside a frame"},
        {"columns frame with zero fields", {2, 2, 1, 0}, 4, "field count"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        buf_t back = {0};
        if (decode(bad[i].b, bad[i].n, 1, &back, err, sizeof err) == 0)
            fail_msg("%s: accepted", bad[i].what);
        if (!strstr(err, bad[i].says))
            fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].what, err, bad[i].says);
        free(back.p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_shapes),
        cmocka_unit_test(test_roundtrip_odd_rows),
        cmocka_unit_test(test_layout_and_size),
        cmocka_unit_test(test_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
