/* Unit tests for codec/copyrows: text and binary COPY streams are split into the rows the
 * header promises, however the stream is cut into feeds, and the content hash is the sum
 * mod 2^128 of each row's xxh3-128, computed here independently of the module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "codec/copyrows.h"
#include "common/pf_util.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A stream under construction plus, kept apart from the parser, where its rows are. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
    size_t nrows;
    size_t row_off[256], row_len[256];
} stream;

static void put(stream *s, const void *d, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n)
            cap *= 2;
        s->p = realloc(s->p, cap);
        assert_non_null(s->p);
        s->cap = cap;
    }
    if (n)
        memcpy(s->p + s->len, d, n);
    s->len += n;
}

static void put_be16(stream *s, int16_t v)
{
    uint8_t b[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    put(s, b, 2);
}

static void put_be32(stream *s, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    put(s, b, 4);
}

static void stream_free(stream *s) { free(s->p); }

/* Binary header: the 11-byte signature, int32 flags, int32 extension length, extension. */
static void bin_header(stream *s, const void *ext, uint32_t extlen)
{
    put(s, "PGCOPY\n\377\r\n\0", 11);
    put_be32(s, 0);
    put_be32(s, (int32_t)extlen);
    put(s, ext, extlen);
}

/* One tuple; lens[i] == -1 is NULL. Recorded as a row from its field count on. */
static void bin_tuple(stream *s, int nf, const int32_t *lens, const char *const *vals)
{
    size_t start = s->len;
    put_be16(s, (int16_t)nf);
    for (int i = 0; i < nf; i++) {
        put_be32(s, lens[i]);
        if (lens[i] > 0)
            put(s, vals[i], (size_t)lens[i]);
    }
    assert_true(s->nrows < 256);
    s->row_off[s->nrows] = start;
    s->row_len[s->nrows] = s->len - start;
    s->nrows++;
}

static void bin_trailer(stream *s) { put_be16(s, -1); }

/* One text line; recorded as a row without its newline. */
static void text_line(stream *s, const char *line)
{
    assert_true(s->nrows < 256);
    s->row_off[s->nrows] = s->len;
    s->row_len[s->nrows] = strlen(line);
    s->nrows++;
    put(s, line, strlen(line));
    put(s, "\n", 1);
}

/* The reference hash: plain 128-bit arithmetic over XXH3_128bits of each recorded row. */
static unsigned __int128 ref_row(const void *d, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(d, n);
    return (unsigned __int128)h.high64 << 64 | h.low64;
}

static rowhash ref_hash(const stream *s)
{
    unsigned __int128 sum = 0;
    for (size_t i = 0; i < s->nrows; i++)
        sum += ref_row(s->p + s->row_off[i], s->row_len[i]);
    return (rowhash){(uint64_t)(sum >> 64), (uint64_t)sum};
}

typedef struct {
    int rc;          /* 0, or -1 from feed or finish */
    uint64_t rows;
    rowhash hash;
    char err[PF_ERRLEN];
} result;

/* Feeds data cut at the given points (ascending offsets), then finishes. */
static result run_cuts(copyrows_format fmt, const uint8_t *d, size_t n, const size_t *cuts,
                       size_t ncuts)
{
    result r = {0};
    copyrows *p = copyrows_new(fmt);
    assert_non_null(p);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && r.rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        if (copyrows_feed(p, d + at, end - at, r.err, sizeof r.err) < 0)
            r.rc = -1;
        at = end;
    }
    if (r.rc == 0 && copyrows_finish(p, r.err, sizeof r.err) < 0)
        r.rc = -1;
    r.rows = copyrows_rows(p);
    r.hash = copyrows_hash(p);
    copyrows_free(p);
    return r;
}

static result run_whole(copyrows_format fmt, const uint8_t *d, size_t n)
{
    return run_cuts(fmt, d, n, NULL, 0);
}

static result run_bytewise(copyrows_format fmt, const uint8_t *d, size_t n)
{
    result r = {0};
    copyrows *p = copyrows_new(fmt);
    assert_non_null(p);
    for (size_t i = 0; i < n && r.rc == 0; i++)
        if (copyrows_feed(p, d + i, 1, r.err, sizeof r.err) < 0)
            r.rc = -1;
    if (r.rc == 0 && copyrows_finish(p, r.err, sizeof r.err) < 0)
        r.rc = -1;
    r.rows = copyrows_rows(p);
    r.hash = copyrows_hash(p);
    copyrows_free(p);
    return r;
}

static void assert_ok(const result *r, const stream *s)
{
    if (r->rc != 0)
        fail_msg("unexpected error: %s", r->err);
    assert_int_equal(r->rows, s->nrows);
    rowhash want = ref_hash(s);
    assert_true(rowhash_equal(&r->hash, &want));
}

static void assert_fails(const result *r)
{
    assert_int_equal(r->rc, -1);
    assert_true(strlen(r->err) > 0);
}

/* Every way to cut the stream in two, every byte on its own, and a few random cuttings
 * all give the reference result. */
static void assert_all_splits(copyrows_format fmt, const stream *s)
{
    result r = run_whole(fmt, s->p, s->len);
    assert_ok(&r, s);
    for (size_t k = 0; k <= s->len; k++) {
        r = run_cuts(fmt, s->p, s->len, &k, 1);
        if (r.rc != 0 || r.rows != s->nrows)
            fail_msg("split at %zu of %zu: rc %d rows %llu (%s)", k, s->len, r.rc,
                     (unsigned long long)r.rows, r.err);
        assert_ok(&r, s);
    }
    r = run_bytewise(fmt, s->p, s->len);
    assert_ok(&r, s);
    uint64_t seed = 42;
    for (int t = 0; t < 50; t++) {
        size_t cuts[64], nc = 0, at = 0;
        while (nc < 64) {
            at += 1 + rng_next(&seed) % (s->len / 8 + 2);
            if (at >= s->len)
                break;
            cuts[nc++] = at;
        }
        r = run_cuts(fmt, s->p, s->len, cuts, nc);
        assert_ok(&r, s);
    }
}

/* A mixed binary stream: NULLs, empty values, zero-field tuples, binary bytes. */
static void build_binary(stream *s, const void *ext, uint32_t extlen)
{
    bin_header(s, ext, extlen);
    static const char *const v1[] = {"\x00\x00\x00\x2a", "hello", NULL};
    static const int32_t l1[] = {4, 5, -1};
    bin_tuple(s, 3, l1, v1);
    static const char *const v2[] = {"", "\xff\xff\x00\n\r", "x"};
    static const int32_t l2[] = {0, 5, 1};
    bin_tuple(s, 3, l2, v2);
    bin_tuple(s, 0, NULL, NULL);
    static const char *const v3[] = {NULL};
    static const int32_t l3[] = {-1};
    bin_tuple(s, 1, l3, v3);
    static const char *const v4[] = {"PGCOPY\n\377\r\n", "\xff\xff"}; /* looks like a header / trailer */
    static const int32_t l4[] = {10, 2};
    bin_tuple(s, 2, l4, v4);
    bin_trailer(s);
}

/* ---------------------------------------------------------------- rowhash */

static void test_rowhash_add_row_is_xxh3(void **state)
{
    (void)state;
    rowhash acc = {0, 0};
    rowhash_add_row(&acc, "abc", 3);
    XXH128_hash_t h = XXH3_128bits("abc", 3);
    assert_int_equal(acc.hi, h.high64);
    assert_int_equal(acc.lo, h.low64);
    rowhash_add_row(&acc, "", 0);
    unsigned __int128 sum = ref_row("abc", 3) + ref_row("", 0);
    assert_int_equal(acc.hi, (uint64_t)(sum >> 64));
    assert_int_equal(acc.lo, (uint64_t)sum);
}

static void test_rowhash_carry(void **state)
{
    (void)state;
    rowhash a = {0, UINT64_MAX}, one = {0, 1};
    rowhash_add(&a, &one);
    assert_int_equal(a.hi, 1);
    assert_int_equal(a.lo, 0);

    rowhash b = {5, UINT64_MAX - 1}, c = {7, 3}; /* lo sums to 2^64 + 1 */
    rowhash_add(&b, &c);
    assert_int_equal(b.hi, 13);
    assert_int_equal(b.lo, 1);

    rowhash w = {UINT64_MAX, UINT64_MAX};
    rowhash_add(&w, &one); /* wraps mod 2^128 */
    assert_int_equal(w.hi, 0);
    assert_int_equal(w.lo, 0);

    rowhash x = {UINT64_MAX, UINT64_MAX}, y = {UINT64_MAX, UINT64_MAX};
    rowhash_add(&x, &y); /* 2^129 - 2 mod 2^128 */
    assert_int_equal(x.hi, UINT64_MAX);
    assert_int_equal(x.lo, UINT64_MAX - 1);

    /* no carry when lo does not overflow */
    rowhash d = {1, 10}, e = {2, UINT64_MAX - 10};
    rowhash_add(&d, &e);
    assert_int_equal(d.hi, 3);
    assert_int_equal(d.lo, UINT64_MAX);

    /* random cross-check against 128-bit arithmetic */
    uint64_t seed = 7;
    for (int i = 0; i < 10000; i++) {
        rowhash p = {rng_next(&seed), rng_next(&seed)}, q = {rng_next(&seed), rng_next(&seed)};
        if (i % 3 == 0)
            p.lo |= 0xff00000000000000ULL, q.lo |= 0xff00000000000000ULL; /* force carries */
        unsigned __int128 s = ((unsigned __int128)p.hi << 64 | p.lo) + ((unsigned __int128)q.hi << 64 | q.lo);
        rowhash_add(&p, &q);
        assert_int_equal(p.hi, (uint64_t)(s >> 64));
        assert_int_equal(p.lo, (uint64_t)s);
    }
}

static void test_rowhash_hex(void **state)
{
    (void)state;
    rowhash h = {0x0123456789abcdefULL, 0xfedcba9876543210ULL}, back;
    char hex[33];
    rowhash_hex(&h, hex);
    assert_string_equal(hex, "0123456789abcdeffedcba9876543210");
    assert_int_equal(rowhash_from_hex(hex, &back), 0);
    assert_true(rowhash_equal(&h, &back));

    rowhash z = {0, 0};
    rowhash_hex(&z, hex);
    assert_string_equal(hex, "00000000000000000000000000000000");

    uint64_t seed = 3;
    for (int i = 0; i < 1000; i++) {
        rowhash r = {rng_next(&seed), rng_next(&seed)};
        rowhash_hex(&r, hex);
        assert_int_equal(strlen(hex), 32);
        assert_int_equal(rowhash_from_hex(hex, &back), 0);
        assert_true(rowhash_equal(&r, &back));
    }

    assert_int_equal(rowhash_from_hex("", &back), -1);
    assert_int_equal(rowhash_from_hex("0123456789abcdeffedcba987654321", &back), -1);   /* 31 */
    assert_int_equal(rowhash_from_hex("0123456789abcdeffedcba98765432100", &back), -1); /* 33 */
    assert_int_equal(rowhash_from_hex("0123456789abcdeffedcba987654321g", &back), -1);
    assert_int_equal(rowhash_from_hex("0123456789abcdef fedcba987654321", &back), -1);

    rowhash a = {1, 2}, b = {1, 2}, c = {1, 3}, d = {2, 2};
    assert_true(rowhash_equal(&a, &b));
    assert_false(rowhash_equal(&a, &c));
    assert_false(rowhash_equal(&a, &d));
}

/* ---------------------------------------------------------------- text */

static void test_text_rows_and_hash(void **state)
{
    (void)state;
    stream s = {0};
    text_line(&s, "1\talice\t2024-01-01");
    text_line(&s, "2\t\\N\t\\N");
    text_line(&s, "");                         /* empty line: one row of one empty column */
    text_line(&s, "3\tbob\\nwith escaped newline");
    text_line(&s, "4\t\xc3\xa9t\xc3\xa9\t\r");  /* UTF-8, a CR that is data */
    assert_all_splits(COPYROWS_TEXT, &s);
    stream_free(&s);
}

static void test_text_empty_stream(void **state)
{
    (void)state;
    result r = run_whole(COPYROWS_TEXT, (const uint8_t *)"", 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.rows, 0);
    assert_int_equal(r.hash.hi, 0);
    assert_int_equal(r.hash.lo, 0);
}

static void test_text_long_line(void **state)
{
    (void)state;
    /* a line much longer than the internal buffer's first size, split across feeds */
    size_t n = 300000;
    char *line = malloc(n + 1);
    assert_non_null(line);
    for (size_t i = 0; i < n; i++)
        line[i] = (char)('a' + i % 26);
    line[n] = '\0';
    stream s = {0};
    text_line(&s, "short");
    text_line(&s, line);
    text_line(&s, "tail");
    result r = run_whole(COPYROWS_TEXT, s.p, s.len);
    assert_ok(&r, &s);
    size_t cuts[] = {3, 100, 4097, 70000, 299999, 300006, 300007};
    r = run_cuts(COPYROWS_TEXT, s.p, s.len, cuts, sizeof cuts / sizeof *cuts);
    assert_ok(&r, &s);
    r = run_bytewise(COPYROWS_TEXT, s.p, s.len);
    assert_ok(&r, &s);
    free(line);
    stream_free(&s);
}

static void test_text_without_final_newline(void **state)
{
    (void)state;
    const char *d = "1\ta\n2\tb";
    result r = run_whole(COPYROWS_TEXT, (const uint8_t *)d, strlen(d));
    assert_fails(&r);
    r = run_bytewise(COPYROWS_TEXT, (const uint8_t *)d, strlen(d));
    assert_fails(&r);
    r = run_whole(COPYROWS_TEXT, (const uint8_t *)"x", 1);
    assert_fails(&r);
}

/* ---------------------------------------------------------------- binary */

static void test_binary_rows_and_hash(void **state)
{
    (void)state;
    stream s = {0};
    build_binary(&s, NULL, 0);
    assert_int_equal(s.nrows, 5);
    assert_all_splits(COPYROWS_BINARY, &s);
    stream_free(&s);
}

static void test_binary_header_extension(void **state)
{
    (void)state;
    /* extension bytes that would look like rows or a trailer if misread */
    static const uint8_t ext[] = {0xff, 0xff, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 'z', 0xff, 0xff};
    stream s = {0};
    build_binary(&s, ext, sizeof ext);
    assert_all_splits(COPYROWS_BINARY, &s);
    stream_free(&s);

    /* a large extension, bigger than a single feed in the bytewise run */
    uint8_t *big = calloc(1, 70000);
    assert_non_null(big);
    memset(big, 0xff, 70000);
    stream t = {0};
    build_binary(&t, big, 70000);
    result r = run_whole(COPYROWS_BINARY, t.p, t.len);
    assert_ok(&r, &t);
    size_t cuts[] = {5, 19, 20, 1000, 69000, 70019, 70020};
    r = run_cuts(COPYROWS_BINARY, t.p, t.len, cuts, sizeof cuts / sizeof *cuts);
    assert_ok(&r, &t);
    r = run_bytewise(COPYROWS_BINARY, t.p, t.len);
    assert_ok(&r, &t);
    free(big);
    stream_free(&t);
}

static void test_binary_large_field(void **state)
{
    (void)state;
    size_t n = 200000;
    char *v = malloc(n);
    assert_non_null(v);
    uint64_t seed = 11;
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(rng_next(&seed) >> 56);
    stream s = {0};
    bin_header(&s, NULL, 0);
    const char *vals[] = {"a", v, NULL};
    const int32_t lens[] = {1, (int32_t)n, -1};
    bin_tuple(&s, 3, lens, vals);
    bin_tuple(&s, 1, lens, vals);
    bin_trailer(&s);
    result r = run_whole(COPYROWS_BINARY, s.p, s.len);
    assert_ok(&r, &s);
    size_t cuts[] = {1, 20, 25, 30, 65536 + 10, 131072, 200020, 200032, s.len - 1};
    r = run_cuts(COPYROWS_BINARY, s.p, s.len, cuts, sizeof cuts / sizeof *cuts);
    assert_ok(&r, &s);
    r = run_bytewise(COPYROWS_BINARY, s.p, s.len);
    assert_ok(&r, &s);
    free(v);
    stream_free(&s);
}

static void test_binary_no_rows(void **state)
{
    (void)state;
    stream s = {0};
    bin_header(&s, NULL, 0);
    bin_trailer(&s);
    assert_all_splits(COPYROWS_BINARY, &s);
    result r = run_whole(COPYROWS_BINARY, s.p, s.len);
    assert_int_equal(r.rows, 0);
    assert_int_equal(r.hash.hi, 0);
    assert_int_equal(r.hash.lo, 0);
    stream_free(&s);
}

/* A binary stream that holds the same tuples in another order. */
static void build_permuted(stream *s, const int *order, int n, int dup_first)
{
    static const char *const names[] = {"alpha", "beta", "gamma", "delta", "epsilon"};
    bin_header(s, NULL, 0);
    for (int i = 0; i < n; i++) {
        char id[4] = {0, 0, 0, (char)order[i]};
        const char *vals[] = {id, names[order[i]]};
        const int32_t lens[] = {4, (int32_t)strlen(names[order[i]])};
        bin_tuple(s, 2, lens, vals);
        if (dup_first && i == 0)
            for (int d = 0; d < dup_first; d++)
                bin_tuple(s, 2, lens, vals);
    }
    bin_trailer(s);
}

static void test_order_independence(void **state)
{
    (void)state;
    static const int orders[][5] = {{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}, {1, 4, 0, 3, 2}};
    rowhash first = {0, 0};
    for (size_t k = 0; k < sizeof orders / sizeof *orders; k++) {
        stream s = {0};
        build_permuted(&s, orders[k], 5, 0);
        result r = run_whole(COPYROWS_BINARY, s.p, s.len);
        assert_ok(&r, &s);
        assert_int_equal(r.rows, 5);
        if (k == 0)
            first = r.hash;
        else
            assert_true(rowhash_equal(&first, &r.hash));
        stream_free(&s);
    }

    /* one duplicate changes the hash; two duplicates do not cancel (XOR would) */
    stream d1 = {0}, d2 = {0};
    build_permuted(&d1, orders[0], 5, 1);
    build_permuted(&d2, orders[0], 5, 2);
    result r1 = run_whole(COPYROWS_BINARY, d1.p, d1.len);
    result r2 = run_whole(COPYROWS_BINARY, d2.p, d2.len);
    assert_ok(&r1, &d1);
    assert_ok(&r2, &d2);
    assert_int_equal(r1.rows, 6);
    assert_int_equal(r2.rows, 7);
    assert_false(rowhash_equal(&first, &r1.hash));
    assert_false(rowhash_equal(&first, &r2.hash));
    assert_false(rowhash_equal(&r1.hash, &r2.hash));
    stream_free(&d1);
    stream_free(&d2);

    /* text: permuted lines give the same hash, a doubled line a different one */
    const char *a = "1\tx\n2\ty\n3\tz\n", *b = "3\tz\n1\tx\n2\ty\n", *c = "3\tz\n1\tx\n2\ty\n2\ty\n";
    const char *e = "3\tz\n1\tx\n2\ty\n2\ty\n2\ty\n";
    result ra = run_whole(COPYROWS_TEXT, (const uint8_t *)a, strlen(a));
    result rb = run_whole(COPYROWS_TEXT, (const uint8_t *)b, strlen(b));
    result rc = run_whole(COPYROWS_TEXT, (const uint8_t *)c, strlen(c));
    result re = run_whole(COPYROWS_TEXT, (const uint8_t *)e, strlen(e));
    assert_true(rowhash_equal(&ra.hash, &rb.hash));
    assert_false(rowhash_equal(&ra.hash, &rc.hash));
    assert_false(rowhash_equal(&ra.hash, &re.hash));
    assert_false(rowhash_equal(&rc.hash, &re.hash));

    /* the hash of a stream is the sum of the hashes of its parts (chunks) */
    const char *p1 = "1\tx\n", *p2 = "2\ty\n3\tz\n";
    result q1 = run_whole(COPYROWS_TEXT, (const uint8_t *)p1, strlen(p1));
    result q2 = run_whole(COPYROWS_TEXT, (const uint8_t *)p2, strlen(p2));
    rowhash sum = q1.hash;
    rowhash_add(&sum, &q2.hash);
    assert_true(rowhash_equal(&sum, &ra.hash));
}

static void test_reset(void **state)
{
    (void)state;
    stream s = {0};
    build_binary(&s, NULL, 0);
    char err[PF_ERRLEN];
    copyrows *p = copyrows_new(COPYROWS_BINARY);
    assert_non_null(p);
    assert_int_equal(copyrows_feed(p, s.p, 30, err, sizeof err), 0); /* mid-tuple */
    copyrows_reset(p);
    assert_int_equal(copyrows_rows(p), 0);
    assert_int_equal(copyrows_feed(p, s.p, s.len, err, sizeof err), 0);
    assert_int_equal(copyrows_finish(p, err, sizeof err), 0);
    assert_int_equal(copyrows_rows(p), s.nrows);
    rowhash got = copyrows_hash(p), want = ref_hash(&s);
    assert_true(rowhash_equal(&got, &want));
    copyrows_free(p);
    copyrows_free(NULL);
    stream_free(&s);
}

/* ---------------------------------------------------------------- malformed */

/* A malformed stream fails whole, bytewise, and at every split point. */
static void assert_malformed(const stream *s)
{
    result r = run_whole(COPYROWS_BINARY, s->p, s->len);
    assert_fails(&r);
    r = run_bytewise(COPYROWS_BINARY, s->p, s->len);
    assert_fails(&r);
    for (size_t k = 0; k <= s->len; k++) {
        r = run_cuts(COPYROWS_BINARY, s->p, s->len, &k, 1);
        if (r.rc != -1)
            fail_msg("malformed stream accepted when split at %zu", k);
        assert_true(strlen(r.err) > 0);
    }
}

/* The error comes from copyrows_feed itself, not only from finish, and names what is
 * wrong (not some later consequence of misreading it). */
static void assert_feed_fails(const stream *s, const char *needle)
{
    char err[PF_ERRLEN] = "";
    copyrows *p = copyrows_new(COPYROWS_BINARY);
    assert_non_null(p);
    assert_int_equal(copyrows_feed(p, s->p, s->len, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    copyrows_free(p);
}

static void test_bad_signature(void **state)
{
    (void)state;
    for (size_t pos = 0; pos < 11; pos++) {
        stream s = {0};
        build_binary(&s, NULL, 0);
        s.p[pos] ^= 0x01;
        assert_malformed(&s);
        assert_feed_fails(&s, "signature");
        stream_free(&s);
    }
    /* a text stream fed to the binary splitter */
    const char *t = "1\talice\n2\tbob\n3\tcarol\n4\tdave\n";
    result r = run_whole(COPYROWS_BINARY, (const uint8_t *)t, strlen(t));
    assert_fails(&r);
    /* short garbage is rejected as soon as it cannot be a signature */
    char err[PF_ERRLEN] = "";
    copyrows *p = copyrows_new(COPYROWS_BINARY);
    assert_int_equal(copyrows_feed(p, "PGX", 3, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    copyrows_free(p);
}

/* Each malformed stream below is valid apart from the one bad value, so a splitter that
 * misread that value (as a trailer, an empty tuple or a NULL) would accept it. */
static void test_bad_field_count(void **state)
{
    (void)state;
    static const int16_t bad[] = {-2, -3, -32768};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        for (int variant = 0; variant < 2; variant++) {
            stream s = {0};
            bin_header(&s, NULL, 0);
            static const char *const v[] = {"ok"};
            static const int32_t l[] = {2};
            bin_tuple(&s, 1, l, v);
            put_be16(&s, bad[i]);
            if (variant) /* a continuation that parses if the count were read as 1 field */
                put(&s, "\0\0\0\1x", 5);
            bin_trailer(&s);
            assert_malformed(&s);
            assert_feed_fails(&s, "field count");
            stream_free(&s);
        }
    }
}

static void test_bad_field_length(void **state)
{
    (void)state;
    static const int32_t bad[] = {-2, -100, INT32_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        stream s = {0};
        bin_header(&s, NULL, 0);
        put_be16(&s, 2);
        put_be32(&s, -1);
        put_be32(&s, bad[i]); /* read as NULL, the stream would be complete */
        bin_trailer(&s);
        assert_malformed(&s);
        assert_feed_fails(&s, "field length");
        stream_free(&s);
    }
}

static void test_data_after_trailer(void **state)
{
    (void)state;
    stream s = {0};
    build_binary(&s, NULL, 0);
    put(&s, "\0", 1);
    assert_malformed(&s);
    assert_feed_fails(&s, "trailer");
    stream_free(&s);

    /* a second, separate feed after the trailer */
    stream t = {0};
    build_binary(&t, NULL, 0);
    char err[PF_ERRLEN] = "";
    copyrows *p = copyrows_new(COPYROWS_BINARY);
    assert_int_equal(copyrows_feed(p, t.p, t.len, err, sizeof err), 0);
    assert_int_equal(copyrows_feed(p, "\xff\xff", 2, err, sizeof err), -1); /* even another trailer */
    assert_true(strlen(err) > 0);
    copyrows_free(p);
    stream_free(&t);
}

static void test_missing_trailer(void **state)
{
    (void)state;
    stream s = {0};
    build_binary(&s, NULL, 0);
    /* every prefix of a valid stream is incomplete: header, inside a tuple, or without
     * the trailer */
    for (size_t k = 0; k < s.len; k++) {
        result r = run_whole(COPYROWS_BINARY, s.p, k);
        if (r.rc != -1)
            fail_msg("binary prefix of %zu/%zu bytes accepted", k, s.len);
        assert_true(strlen(r.err) > 0);
    }
    stream_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rowhash_add_row_is_xxh3),
        cmocka_unit_test(test_rowhash_carry),
        cmocka_unit_test(test_rowhash_hex),
        cmocka_unit_test(test_text_rows_and_hash),
        cmocka_unit_test(test_text_empty_stream),
        cmocka_unit_test(test_text_long_line),
        cmocka_unit_test(test_text_without_final_newline),
        cmocka_unit_test(test_binary_rows_and_hash),
        cmocka_unit_test(test_binary_header_extension),
        cmocka_unit_test(test_binary_large_field),
        cmocka_unit_test(test_binary_no_rows),
        cmocka_unit_test(test_order_independence),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_bad_field_count),
        cmocka_unit_test(test_bad_field_length),
        cmocka_unit_test(test_data_after_trailer),
        cmocka_unit_test(test_missing_trailer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
