/* Unit tests for codec/chunk: round trips, exact file layout, and that every corruption,
 * truncation or extension of a chunk is reported rather than accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "codec/chunk.h"
#include "copygen.h"
#include "common/pf_util.h"

/* ---------------------------------------------------------------- helpers */

/* splitmix64: deterministic, so a failing case can be reproduced from its seed. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rng_next(&s) >> 56);
}

/* Text that looks like COPY output: compresses, but not to nothing. */
static void fill_rows(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    size_t i = 0;
    while (i < n) {
        char line[64];
        int k = snprintf(line, sizeof line, "%llu\tname_%llu\t2024-01-%02u\n",
                         (unsigned long long)(i / 7), (unsigned long long)(rng_next(&s) % 1000),
                         (unsigned)(rng_next(&s) % 28 + 1));
        for (int j = 0; j < k && i < n; j++)
            p[i++] = (uint8_t)line[j];
    }
}

static void fill_pattern(uint8_t *p, size_t n)
{
    static const char pat[] = "42\tthe quick brown fox\t\\N\t3.14159\n";
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)pat[i % (sizeof pat - 1)];
}

typedef struct {
    uint8_t *p;
    size_t len, cap;
    size_t calls;
} buf_t;

static int buf_sink(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    buf_t *b = ctx;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->calls++;
    return 0;
}

static void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static chunk_hash xxh128_of(const void *p, size_t n)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
    chunk_hash h;
    memcpy(h.b, c.digest, 16);
    return h;
}

static void assert_same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    assert_int_equal(alen, blen);
    if (alen && memcmp(a, b, alen) != 0) {
        size_t i = 0;
        while (a[i] == b[i])
            i++;
        fail_msg("bytes differ first at offset %zu of %zu", i, alen);
    }
}

static void assert_stats_equal(const chunk_stats *a, const chunk_stats *b)
{
    assert_int_equal(a->raw_bytes, b->raw_bytes);
    assert_int_equal(a->stored_bytes, b->stored_bytes);
    assert_true(chunk_hash_equal(&a->raw_hash, &b->raw_hash));
    assert_true(chunk_hash_equal(&a->stored_hash, &b->stored_hash));
}

static const size_t enc_pieces[] = {1, 7, 4093, 65537, 1048579, 3};
static const size_t dec_pieces[] = {1, 13, 4099, 65536, 333333, 2};
static const size_t one_piece[] = {SIZE_MAX};
static const size_t byte_piece[] = {1};
#define NPIECES(a) (sizeof(a) / sizeof((a)[0]))

static void encode_with(chunk_encoder *e, const uint8_t *in, size_t len, const size_t *pieces, size_t np,
                        buf_t *out, chunk_stats *st)
{
    char err[PF_ERRLEN] = "";
    chunk_encoder_reset(e, buf_sink, out);
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = pieces[i % np];
        if (n > len - off)
            n = len - off;
        if (chunk_encoder_write(e, in + off, n, err, sizeof err) != 0)
            fail_msg("encoder write: %s", err);
        off += n;
    }
    if (chunk_encoder_finish(e, st, err, sizeof err) != 0)
        fail_msg("encoder finish: %s", err);
}

static void encode(chunk_codec codec, int level, const uint8_t *in, size_t len, const size_t *pieces,
                   size_t np, buf_t *out, chunk_stats *st)
{
    char err[PF_ERRLEN] = "";
    chunk_encoder *e = chunk_encoder_new(codec, level, err, sizeof err);
    if (!e)
        fail_msg("encoder new: %s", err);
    encode_with(e, in, len, pieces, np, out, st);
    chunk_encoder_free(e);
}

/* Feeds file in pieces; returns 0 only if every feed and finish succeeded.
 * *failed_in_feed tells which step reported the error. */
static int decode_with(chunk_decoder *d, const uint8_t *file, size_t size, const size_t *pieces, size_t np,
                       buf_t *out, chunk_stats *st, char *err, size_t errlen, int *failed_in_feed)
{
    err[0] = '\0';
    chunk_decoder_reset(d, out ? buf_sink : NULL, out);
    size_t off = 0;
    for (size_t i = 0; off < size; i++) {
        size_t n = pieces[i % np];
        if (n > size - off)
            n = size - off;
        if (chunk_decoder_feed(d, file + off, n, err, errlen) != 0) {
            if (failed_in_feed)
                *failed_in_feed = 1;
            return -1;
        }
        off += n;
    }
    if (failed_in_feed)
        *failed_in_feed = 0;
    return chunk_decoder_finish(d, st, err, errlen);
}

static chunk_decoder *new_decoder(void)
{
    char err[PF_ERRLEN] = "";
    chunk_decoder *d = chunk_decoder_new(err, sizeof err);
    if (!d)
        fail_msg("decoder new: %s", err);
    return d;
}

/* Walks the file as the format in chunk.h describes it, independently of the decoder. */
static void check_layout(const uint8_t *f, size_t size, chunk_codec codec, const chunk_stats *st,
                         size_t *nblocks_out)
{
    assert_true(size >= CHUNK_HEADER_SIZE + CHUNK_TRAILER_SIZE);
    assert_int_equal(st->stored_bytes, size);
    assert_memory_equal(f, "PGFCHNK\0", 8);
    assert_int_equal(pf_get_le16(f + 8), CHUNK_FORMAT_VERSION);
    assert_int_equal(pf_get_le16(f + 10), codec);
    size_t pos = CHUNK_HEADER_SIZE, nblocks = 0;
    uint64_t payload = 0;
    for (;;) {
        assert_true(pos + 4 <= size);
        uint32_t blen = pf_get_le32(f + pos);
        pos += 4;
        if (blen == 0)
            break;
        assert_true(blen <= CHUNK_MAX_BLOCK);
        assert_true(pos + blen <= size);
        pos += blen;
        payload += blen;
        nblocks++;
    }
    assert_int_equal(pos + CHUNK_TRAILER_SIZE - 4, size);
    assert_int_equal(pf_get_le64(f + pos), st->raw_bytes);
    assert_int_equal(pf_get_le64(f + pos + 8), payload);
    assert_memory_equal(f + pos + 16, st->raw_hash.b, 16);
    assert_memory_equal(f + pos + 32, st->stored_hash.b, 16);
    assert_memory_equal(f + pos + 48, "PGFEND\0\0", 8);
    chunk_hash sh = xxh128_of(f, size - 24);
    assert_true(chunk_hash_equal(&sh, &st->stored_hash));
    if (nblocks_out)
        *nblocks_out = nblocks;
}

/* ---------------------------------------------------------------- round trips */

static void roundtrip(chunk_codec codec, const uint8_t *in, size_t len)
{
    buf_t file = {0};
    chunk_stats est, dst;
    encode(codec, 3, in, len, enc_pieces, NPIECES(enc_pieces), &file, &est);

    assert_int_equal(est.raw_bytes, len);
    chunk_hash rh = xxh128_of(in, len);
    assert_true(chunk_hash_equal(&rh, &est.raw_hash));
    size_t nblocks;
    check_layout(file.p, file.len, codec, &est, &nblocks);
    if (codec == CHUNK_CODEC_NONE)
        assert_int_equal(file.len, CHUNK_HEADER_SIZE + CHUNK_TRAILER_SIZE + len + 4 * nblocks);

    /* Several piece patterns; byte-at-a-time only where it stays cheap. */
    const size_t *pats[] = {one_piece, dec_pieces, byte_piece};
    const size_t npats[] = {1, NPIECES(dec_pieces), 1};
    chunk_decoder *d = new_decoder();
    for (int k = 0; k < 3; k++) {
        if (pats[k] == byte_piece && file.len > 64 * 1024)
            continue;
        buf_t out = {0};
        char err[PF_ERRLEN];
        memset(&dst, 0, sizeof dst);
        if (decode_with(d, file.p, file.len, pats[k], npats[k], &out, &dst, err, sizeof err, NULL) != 0)
            fail_msg("decode (pattern %d) failed: %s", k, err);
        assert_same_bytes(out.p, out.len, in, len);
        assert_stats_equal(&est, &dst);
        assert_int_equal(chunk_decoder_codec(d), codec);
        buf_free(&out);
    }
    chunk_decoder_free(d);
    buf_free(&file);
}

static void roundtrip_both(const uint8_t *in, size_t len)
{
    roundtrip(CHUNK_CODEC_NONE, in, len);
    roundtrip(CHUNK_CODEC_ZSTD, in, len);
    roundtrip(CHUNK_CODEC_ZSTD_COLUMNS, in, len);
}

static void test_roundtrip_empty(void **state)
{
    (void)state;
    roundtrip_both((const uint8_t *)"", 0);
}

static void test_roundtrip_one_byte(void **state)
{
    (void)state;
    uint8_t b = 0x5a;
    roundtrip_both(&b, 1);
}

static void test_roundtrip_4k_random(void **state)
{
    (void)state;
    uint8_t *in = malloc(4096);
    fill_random(in, 4096, 1);
    roundtrip_both(in, 4096);
    free(in);
}

static void test_roundtrip_compressible(void **state)
{
    (void)state;
    size_t n = 8u << 20;
    uint8_t *in = malloc(n);
    fill_pattern(in, n);
    roundtrip_both(in, n);

    buf_t file = {0};
    chunk_stats st;
    encode(CHUNK_CODEC_ZSTD, 3, in, n, enc_pieces, NPIECES(enc_pieces), &file, &st);
    print_message("8 MiB pattern -> %zu stored bytes with zstd\n", file.len);
    assert_true(file.len < n / 100);
    buf_free(&file);
    free(in);
}

static void test_roundtrip_large_random(void **state)
{
    (void)state;
    size_t n = 5u << 20;
    uint8_t *in = malloc(n);
    fill_random(in, n, 2);
    roundtrip_both(in, n);
    free(in);
}

/* Sizes that are not a multiple of zstd's 128 KiB block, so a frame's last block is short
 * and its output can still be pending when the last input byte has been consumed. */
static void test_roundtrip_unaligned(void **state)
{
    (void)state;
    size_t sizes[] = {(3u << 20) + 12345, (1u << 20) + 1, (128u << 10) + 77};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *in = malloc(sizes[i]);
        fill_rows(in, sizes[i], 20 + i);
        roundtrip_both(in, sizes[i]);
        free(in);
    }
}

static void test_roundtrip_levels(void **state)
{
    (void)state;
    size_t n = 100000;
    uint8_t *in = malloc(n);
    fill_rows(in, n, 3);
    int levels[] = {-5, 1, 19};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        buf_t file = {0}, out = {0};
        chunk_stats est, dst;
        char err[PF_ERRLEN];
        encode(CHUNK_CODEC_ZSTD, levels[i], in, n, enc_pieces, NPIECES(enc_pieces), &file, &est);
        assert_int_equal((int32_t)pf_get_le32(file.p + 12), levels[i]);
        chunk_decoder *d = new_decoder();
        if (decode_with(d, file.p, file.len, dec_pieces, NPIECES(dec_pieces), &out, &dst, err, sizeof err, NULL))
            fail_msg("level %d: %s", levels[i], err);
        assert_same_bytes(out.p, out.len, in, n);
        assert_stats_equal(&est, &dst);
        chunk_decoder_free(d);
        buf_free(&file);
        buf_free(&out);
    }
    free(in);
}

/* ---------------------------------------------------------------- reuse */

static void test_encoder_reuse(void **state)
{
    (void)state;
    for (int c = 0; c < 3; c++) { /* none, zstd, zstd+columns */
        chunk_codec codec = (chunk_codec)c;
        size_t na = 3u << 20, nb = 70000;
        uint8_t *a = malloc(na), *b = malloc(nb);
        fill_random(a, na / 2, 4);
        fill_rows(a + na / 2, na - na / 2, 5);
        fill_rows(b, nb, 6);

        char err[PF_ERRLEN];
        chunk_encoder *e = chunk_encoder_new(codec, 3, err, sizeof err);
        assert_non_null(e);
        chunk_decoder *d = new_decoder();
        const uint8_t *ins[] = {a, b, (const uint8_t *)"", b};
        size_t lens[] = {na, nb, 0, nb};
        for (int i = 0; i < 4; i++) {
            buf_t file = {0}, out = {0}, fresh = {0};
            chunk_stats est, dst, fst;
            encode_with(e, ins[i], lens[i], enc_pieces, NPIECES(enc_pieces), &file, &est);
            /* A reset encoder must behave exactly like a new one: same bytes out. */
            encode(codec, 3, ins[i], lens[i], enc_pieces, NPIECES(enc_pieces), &fresh, &fst);
            assert_same_bytes(file.p, file.len, fresh.p, fresh.len);
            assert_stats_equal(&est, &fst);
            if (decode_with(d, file.p, file.len, dec_pieces, NPIECES(dec_pieces), &out, &dst, err, sizeof err,
                            NULL) != 0)
                fail_msg("reuse %d: %s", i, err);
            assert_same_bytes(out.p, out.len, ins[i], lens[i]);
            assert_stats_equal(&est, &dst);
            buf_free(&file);
            buf_free(&out);
            buf_free(&fresh);

            /* Abandon a half-written chunk (as a failed COPY would): the next chunk must not
             * inherit anything from it. */
            buf_t junk = {0};
            chunk_encoder_reset(e, buf_sink, &junk);
            assert_int_equal(chunk_encoder_write(e, a, 100000, err, sizeof err), 0);
            buf_free(&junk);
        }
        chunk_encoder_free(e);
        chunk_decoder_free(d);
        free(a);
        free(b);
    }
}

static void test_encoder_misuse(void **state)
{
    (void)state;
    char err[PF_ERRLEN] = "";
    chunk_stats st;
    assert_null(chunk_encoder_new(CHUNK_CODEC_ZSTD, 1000, err, sizeof err));
    assert_non_null(strstr(err, "level"));
    assert_null(chunk_encoder_new((chunk_codec)9, 1, err, sizeof err));
    assert_non_null(strstr(err, "codec"));

    chunk_encoder *e = chunk_encoder_new(CHUNK_CODEC_ZSTD, 1, err, sizeof err);
    assert_non_null(e);
    err[0] = '\0';
    assert_int_equal(chunk_encoder_write(e, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "reset"));
    buf_t file = {0};
    chunk_encoder_reset(e, buf_sink, &file);
    assert_int_equal(chunk_encoder_write(e, "x", 1, err, sizeof err), 0);
    assert_int_equal(chunk_encoder_finish(e, &st, err, sizeof err), 0);
    err[0] = '\0';
    assert_int_equal(chunk_encoder_write(e, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "finished"));
    err[0] = '\0';
    assert_int_equal(chunk_encoder_finish(e, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "finished"));
    chunk_encoder_free(e);
    buf_free(&file);
}

static int failing_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    (void)buf;
    (void)len;
    int *budget = ctx;
    if ((*budget)-- > 0)
        return 0;
    return pf_err(err, errlen, "disk full on test sink");
}

static void test_sink_errors(void **state)
{
    (void)state;
    char err[PF_ERRLEN] = "";
    size_t n = 3u << 20;
    uint8_t *in = malloc(n);
    fill_random(in, n, 7);

    /* Encoder: the sink's own message comes back, and the failure sticks. */
    chunk_encoder *e = chunk_encoder_new(CHUNK_CODEC_NONE, 0, err, sizeof err);
    int budget = 1;
    chunk_encoder_reset(e, failing_sink, &budget);
    int rc = chunk_encoder_write(e, in, n, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "disk full"));
    err[0] = '\0';
    assert_int_equal(chunk_encoder_finish(e, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "disk full"));
    chunk_encoder_free(e);

    /* Decoder. */
    buf_t file = {0};
    chunk_stats st;
    encode(CHUNK_CODEC_ZSTD, 1, in, n, enc_pieces, NPIECES(enc_pieces), &file, &st);
    chunk_decoder *d = new_decoder();
    budget = 2;
    chunk_decoder_reset(d, failing_sink, &budget);
    rc = chunk_decoder_feed(d, file.p, file.len, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "disk full"));
    err[0] = '\0';
    assert_int_equal(chunk_decoder_finish(d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "disk full"));
    chunk_decoder_free(d);
    buf_free(&file);
    free(in);
}

static void test_decoder_reset_midstream(void **state)
{
    (void)state;
    size_t n = 50000;
    uint8_t *in = malloc(n);
    fill_rows(in, n, 8);
    buf_t file = {0}, out = {0};
    chunk_stats est, dst;
    char err[PF_ERRLEN];
    encode(CHUNK_CODEC_ZSTD, 3, in, n, enc_pieces, NPIECES(enc_pieces), &file, &est);
    chunk_decoder *d = new_decoder();
    chunk_decoder_reset(d, NULL, NULL);
    assert_int_equal(chunk_decoder_feed(d, file.p, file.len / 2, err, sizeof err), 0);
    /* Abandon that chunk half way (e.g. a retried read) and decode a whole one. */
    assert_int_equal(decode_with(d, file.p, file.len, dec_pieces, NPIECES(dec_pieces), &out, &dst, err,
                                 sizeof err, NULL), 0);
    assert_same_bytes(out.p, out.len, in, n);
    assert_stats_equal(&est, &dst);
    err[0] = '\0';
    assert_int_equal(chunk_decoder_finish(d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "finished"));
    chunk_decoder_free(d);
    buf_free(&file);
    buf_free(&out);
    free(in);
}

/* ---------------------------------------------------------------- corruption */

/* Small chunks of a few hundred bytes, so that every offset can be tried. */
static void small_chunk(chunk_codec codec, buf_t *file, chunk_stats *st)
{
    uint8_t in[1500];
    size_t n;
    if (codec == CHUNK_CODEC_ZSTD_COLUMNS) {
        n = copygen_binary(in, sizeof in, 20, 9, 0, 0);
        assert_true(n > 0);
    } else if (codec == CHUNK_CODEC_ZSTD) {
        n = sizeof in;
        fill_rows(in, n, 9);
    } else {
        n = 250;
        fill_random(in, n, 9);
    }
    /* Odd write pieces so the block and frame boundaries are the ones real use produces. */
    encode(codec, 3, in, n, enc_pieces, NPIECES(enc_pieces), file, st);
}

static void test_every_flip(void **state)
{
    (void)state;
    int tried = 0, in_feed = 0, in_finish = 0;
    chunk_decoder *d = new_decoder();
    for (int c = 0; c < 3; c++) { /* none, zstd, zstd+columns */
        chunk_codec codec = (chunk_codec)c;
        buf_t file = {0};
        chunk_stats st;
        small_chunk(codec, &file, &st);
        print_message("%s small chunk: %zu bytes\n", chunk_codec_name(codec), file.len);
        assert_true(file.len > 100 && file.len < 1000);
        uint8_t *bad = malloc(file.len);
        static const uint8_t masks[] = {0x01, 0xff};
        for (size_t off = 0; off < file.len; off++) {
            for (size_t m = 0; m < sizeof masks; m++) {
                for (int mode = 0; mode < 2; mode++) {
                    memcpy(bad, file.p, file.len);
                    bad[off] ^= masks[m];
                    char err[PF_ERRLEN];
                    int feed_failed = 0;
                    buf_t out = {0};
                    int rc = decode_with(d, bad, file.len, mode ? byte_piece : one_piece, 1, &out, NULL, err,
                                         sizeof err, &feed_failed);
                    if (rc == 0)
                        fail_msg("%s: flip ^0x%02x at offset %zu (mode %d) was accepted",
                                 chunk_codec_name(codec), masks[m], off, mode);
                    assert_true(err[0] != '\0');
                    tried++;
                    if (feed_failed)
                        in_feed++;
                    else
                        in_finish++;
                    buf_free(&out);
                }
            }
        }
        free(bad);
        buf_free(&file);
    }
    chunk_decoder_free(d);
    print_message("flips tried: %d (caught by feed %d, by finish %d), all rejected\n", tried, in_feed,
                  in_finish);
    assert_true(tried > 1000);
}

static void test_every_truncation_and_extension(void **state)
{
    (void)state;
    int truncs = 0, exts = 0;
    chunk_decoder *d = new_decoder();
    for (int c = 0; c < 3; c++) { /* none, zstd, zstd+columns */
        chunk_codec codec = (chunk_codec)c;
        buf_t file = {0};
        chunk_stats st;
        small_chunk(codec, &file, &st);
        char err[PF_ERRLEN];
        for (size_t len = 0; len < file.len; len++) {
            for (int mode = 0; mode < 2; mode++) {
                int feed_failed = 0;
                int rc = decode_with(d, file.p, len, mode ? byte_piece : one_piece, 1, NULL, NULL, err,
                                     sizeof err, &feed_failed);
                if (rc == 0)
                    fail_msg("%s: truncation to %zu of %zu bytes was accepted", chunk_codec_name(codec), len,
                             file.len);
                /* A prefix of a valid chunk is itself valid so far: only finish may object. */
                assert_false(feed_failed);
                assert_non_null(strstr(err, "truncated"));
                truncs++;
            }
        }

        uint8_t *ext = malloc(file.len + CHUNK_TRAILER_SIZE + file.len);
        memcpy(ext, file.p, file.len);
        const uint8_t extra[] = {0x00, 0x01, 0xff, 'P'};
        for (size_t i = 0; i < sizeof extra; i++) {
            ext[file.len] = extra[i];
            assert_int_equal(decode_with(d, ext, file.len + 1, one_piece, 1, NULL, NULL, err, sizeof err, NULL), -1);
            assert_non_null(strstr(err, "trailing data"));
            exts++;
        }
        memcpy(ext + file.len, file.p + file.len - CHUNK_TRAILER_SIZE, CHUNK_TRAILER_SIZE);
        for (int mode = 0; mode < 2; mode++) {
            assert_int_equal(decode_with(d, ext, file.len + CHUNK_TRAILER_SIZE, mode ? byte_piece : one_piece, 1,
                                         NULL, NULL, err, sizeof err, NULL), -1);
            assert_non_null(strstr(err, "trailing data"));
            exts++;
        }
        memcpy(ext + file.len, file.p, file.len);
        assert_int_equal(decode_with(d, ext, 2 * file.len, dec_pieces, NPIECES(dec_pieces), NULL, NULL, err,
                                     sizeof err, NULL), -1);
        assert_non_null(strstr(err, "trailing data"));
        exts++;
        /* The unmodified chunk still decodes with the same decoder: the cases above were real. */
        assert_int_equal(decode_with(d, file.p, file.len, one_piece, 1, NULL, NULL, err, sizeof err, NULL), 0);
        free(ext);
        buf_free(&file);
    }
    chunk_decoder_free(d);
    print_message("truncations tried: %d, extensions tried: %d, all rejected\n", truncs, exts);
}

/* Random multi-byte damage, as a disk or network would do it. */
static void test_random_damage(void **state)
{
    (void)state;
    chunk_decoder *d = new_decoder();
    uint64_t s = 10;
    int tried = 0;
    for (int c = 0; c < 3; c++) { /* none, zstd, zstd+columns */
        chunk_codec codec = (chunk_codec)c;
        buf_t file = {0};
        chunk_stats st;
        small_chunk(codec, &file, &st);
        uint8_t *bad = malloc(file.len);
        for (int iter = 0; iter < 3000; iter++) {
            memcpy(bad, file.p, file.len);
            int nflips = 1 + (int)(rng_next(&s) % 8);
            int changed = 0;
            for (int k = 0; k < nflips; k++) {
                size_t off = rng_next(&s) % file.len;
                uint8_t v = (uint8_t)rng_next(&s);
                changed |= bad[off] != v;
                bad[off] = v;
            }
            if (memcmp(bad, file.p, file.len) == 0 || !changed)
                continue;
            char err[PF_ERRLEN];
            size_t piece[] = {1 + rng_next(&s) % 64};
            if (decode_with(d, bad, file.len, piece, 1, NULL, NULL, err, sizeof err, NULL) == 0)
                fail_msg("random damage iteration %d accepted", iter);
            assert_true(err[0] != '\0');
            tried++;
        }
        free(bad);
        buf_free(&file);
    }
    chunk_decoder_free(d);
    print_message("random damage cases tried: %d, all rejected\n", tried);
}

/* ---------------------------------------------------------------- garbage */

static void expect_error(chunk_decoder *d, const uint8_t *p, size_t n, const char *word)
{
    char err[PF_ERRLEN];
    const size_t *pats[] = {one_piece, byte_piece, dec_pieces};
    const size_t npats[] = {1, 1, NPIECES(dec_pieces)};
    for (int k = 0; k < 3; k++) {
        buf_t out = {0};
        err[0] = '\0';
        assert_int_equal(decode_with(d, p, n, pats[k], npats[k], &out, NULL, err, sizeof err, NULL), -1);
        assert_true(err[0] != '\0');
        if (!strstr(err, word))
            fail_msg("error \"%s\" does not mention \"%s\"", err, word);
        buf_free(&out);
    }
}

static size_t put_header(uint8_t *p, unsigned version, unsigned codec)
{
    memcpy(p, "PGFCHNK\0", 8);
    pf_put_le16(p + 8, (uint16_t)version);
    pf_put_le16(p + 10, (uint16_t)codec);
    pf_put_le32(p + 12, 3);
    return CHUNK_HEADER_SIZE;
}

static void test_garbage(void **state)
{
    (void)state;
    chunk_decoder *d = new_decoder();
    size_t cap = 1 << 16;
    uint8_t *g = malloc(cap);

    fill_random(g, 1000, 11);
    expect_error(d, g, 1000, "magic");
    memset(g, 0, 1000);
    expect_error(d, g, 1000, "magic");

    size_t h = put_header(g, 2, CHUNK_CODEC_ZSTD);
    expect_error(d, g, h, "version");
    h = put_header(g, CHUNK_FORMAT_VERSION, 7);
    expect_error(d, g, h, "codec");

    /* Valid header, then bytes that read as an absurd block length. */
    for (unsigned codec = 0; codec < 2; codec++) {
        h = put_header(g, CHUNK_FORMAT_VERSION, codec);
        memset(g + h, 0xff, 500);
        expect_error(d, g, h + 500, "block length");
        pf_put_le32(g + h, CHUNK_MAX_BLOCK + 1);
        expect_error(d, g, h + 4, "block length");
        /* The largest legal length is accepted; the stream is then merely short. */
        pf_put_le32(g + h, CHUNK_MAX_BLOCK);
        expect_error(d, g, h + 4, "truncated");
        if (codec == CHUNK_CODEC_NONE)
            expect_error(d, g, h + 4 + 100, "truncated");
    }

    /* zstd header, then a block of random bytes that is no zstd frame. */
    h = put_header(g, CHUNK_FORMAT_VERSION, CHUNK_CODEC_ZSTD);
    pf_put_le32(g + h, 300);
    fill_random(g + h + 4, 300, 12);
    memset(g + h + 304, 0, 4);
    expect_error(d, g, h + 308, "zstd");

    /* zstd header and an immediate end marker: no frame at all. */
    pf_put_le32(g + h, 0);
    expect_error(d, g, h + 4, "zstd");

    /* A valid zstd chunk with a second frame smuggled into an extra block. */
    {
        buf_t a = {0}, b = {0};
        chunk_stats st;
        encode(CHUNK_CODEC_ZSTD, 1, (const uint8_t *)"hello", 5, one_piece, 1, &a, &st);
        encode(CHUNK_CODEC_ZSTD, 1, (const uint8_t *)"world", 5, one_piece, 1, &b, &st);
        size_t alen_blocks = a.len - CHUNK_TRAILER_SIZE;          /* header + blocks */
        size_t bblock = b.len - CHUNK_TRAILER_SIZE - CHUNK_HEADER_SIZE; /* b's length field + frame */
        uint8_t *m = malloc(a.len + bblock);
        memcpy(m, a.p, alen_blocks);
        memcpy(m + alen_blocks, b.p + CHUNK_HEADER_SIZE, bblock);
        memcpy(m + alen_blocks + bblock, a.p + alen_blocks, CHUNK_TRAILER_SIZE);
        expect_error(d, m, a.len + bblock, "zstd frame");
        free(m);
        buf_free(&a);
        buf_free(&b);
    }

    /* Random tails after a valid header, many seeds: never a crash, always an error. */
    uint64_t s = 13;
    int cases = 0;
    for (int i = 0; i < 400; i++) {
        unsigned codec = (unsigned)(i & 1);
        h = put_header(g, CHUNK_FORMAT_VERSION, codec);
        size_t n = 1 + rng_next(&s) % 4000;
        fill_random(g + h, n, 1000 + (uint64_t)i);
        if (i % 4 < 2) /* a plausible block length so the codec sees the garbage */
            pf_put_le32(g + h, (uint32_t)(rng_next(&s) % (n + 1)));
        char err[PF_ERRLEN] = "";
        size_t piece[] = {1 + rng_next(&s) % 300};
        assert_int_equal(decode_with(d, g, h + n, piece, 1, NULL, NULL, err, sizeof err, NULL), -1);
        assert_true(err[0] != '\0');
        cases++;
    }
    print_message("garbage tails tried: %d, all rejected\n", cases);

    /* Errors are sticky: after a failure the decoder rejects even valid input. */
    {
        buf_t ok = {0};
        chunk_stats st;
        char err[PF_ERRLEN];
        encode(CHUNK_CODEC_NONE, 0, (const uint8_t *)"abc", 3, one_piece, 1, &ok, &st);
        chunk_decoder_reset(d, NULL, NULL);
        assert_int_equal(chunk_decoder_feed(d, "garbage!garbage!", 16, err, sizeof err), -1);
        err[0] = '\0';
        assert_int_equal(chunk_decoder_feed(d, ok.p, ok.len, err, sizeof err), -1);
        assert_non_null(strstr(err, "magic"));
        err[0] = '\0';
        assert_int_equal(chunk_decoder_finish(d, NULL, err, sizeof err), -1);
        assert_non_null(strstr(err, "magic"));
        buf_free(&ok);
    }

    /* Before reset the decoder refuses work instead of crashing. */
    {
        chunk_decoder *fresh = new_decoder();
        char err[PF_ERRLEN] = "";
        assert_int_equal(chunk_decoder_feed(fresh, "x", 1, err, sizeof err), -1);
        assert_non_null(strstr(err, "reset"));
        chunk_decoder_free(fresh);
    }
    free(g);
    chunk_decoder_free(d);
}

/* Header fields the stored hash alone protects (level) and trailer fields with their own
 * check must each give their own message. */
static void test_distinct_messages(void **state)
{
    (void)state;
    buf_t file = {0};
    chunk_stats st;
    encode(CHUNK_CODEC_NONE, 0, (const uint8_t *)"some raw bytes", 14, one_piece, 1, &file, &st);
    chunk_decoder *d = new_decoder();
    uint8_t *bad = malloc(file.len);
    size_t tail = file.len - CHUNK_TRAILER_SIZE + 4;
    char err[PF_ERRLEN];

    struct {
        size_t off;
        const char *word;
    } cases[] = {
        {12, "stored hash mismatch"},          /* level */
        {tail + 0, "stored hash mismatch"},     /* raw length */
        {tail + 16, "stored hash mismatch"},    /* raw hash */
        {tail + 32, "stored hash mismatch"},    /* stored hash itself */
        {tail + 48, "trailer magic"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, file.p, file.len);
        bad[cases[i].off] ^= 0x01;
        assert_int_equal(decode_with(d, bad, file.len, one_piece, 1, NULL, NULL, err, sizeof err, NULL), -1);
        if (!strstr(err, cases[i].word))
            fail_msg("offset %zu: \"%s\" lacks \"%s\"", cases[i].off, err, cases[i].word);
    }

    /* Change a trailer field and re-seal the stored hash, as a buggy encoder would: the
     * field's own check must catch it. */
    struct {
        size_t off;
        const char *word;
    } sealed[] = {
        {tail + 0, "raw length mismatch"},
        {tail + 8, "payload length mismatch"},
        {tail + 16, "raw hash mismatch"},
    };
    for (size_t i = 0; i < sizeof sealed / sizeof sealed[0]; i++) {
        memcpy(bad, file.p, file.len);
        bad[sealed[i].off] ^= 0x01;
        chunk_hash sh = xxh128_of(bad, file.len - 24);
        memcpy(bad + file.len - 24, sh.b, 16);
        assert_int_equal(decode_with(d, bad, file.len, one_piece, 1, NULL, NULL, err, sizeof err, NULL), -1);
        if (!strstr(err, sealed[i].word))
            fail_msg("sealed offset %zu: \"%s\" lacks \"%s\"", sealed[i].off, err, sealed[i].word);
    }
    free(bad);
    chunk_decoder_free(d);
    buf_free(&file);
}

/* ---------------------------------------------------------------- small API */

static void test_codec_names(void **state)
{
    (void)state;
    chunk_codec c = (chunk_codec)99;
    assert_int_equal(chunk_codec_parse("zstd", &c), 0);
    assert_int_equal(c, CHUNK_CODEC_ZSTD);
    assert_int_equal(chunk_codec_parse("none", &c), 0);
    assert_int_equal(c, CHUNK_CODEC_NONE);
    assert_int_equal(chunk_codec_parse("gzip", &c), -1);
    assert_int_equal(chunk_codec_parse("", &c), -1);
    assert_int_equal(chunk_codec_parse(NULL, &c), -1);
    assert_int_equal(chunk_codec_parse("zstd+columns", &c), 0);
    assert_int_equal(c, CHUNK_CODEC_ZSTD_COLUMNS);
    assert_string_equal(chunk_codec_name(CHUNK_CODEC_ZSTD_COLUMNS), "zstd+columns");
    assert_string_equal(chunk_codec_name(CHUNK_CODEC_ZSTD), "zstd");
    assert_string_equal(chunk_codec_name(CHUNK_CODEC_NONE), "none");
    assert_string_equal(chunk_codec_name((chunk_codec)5), "unknown");
}

static void test_hash_hex(void **state)
{
    (void)state;
    chunk_hash h, back;
    for (int i = 0; i < 16; i++)
        h.b[i] = (uint8_t)(i * 17 + 3);
    char hex[33];
    chunk_hash_hex(&h, hex);
    assert_string_equal(hex, "031425364758697a8b9cadbecfe0f102");
    assert_int_equal(chunk_hash_from_hex(hex, &back), 0);
    assert_true(chunk_hash_equal(&h, &back));
    assert_int_equal(chunk_hash_from_hex("031425364758697A8B9CADBECFE0F102", &back), 0);
    assert_true(chunk_hash_equal(&h, &back));
    back.b[15] ^= 1;
    assert_false(chunk_hash_equal(&h, &back));
    chunk_hash keep = back;
    assert_int_equal(chunk_hash_from_hex("031425364758697a8b9cadbecfe0f10", &back), -1);
    assert_int_equal(chunk_hash_from_hex("031425364758697a8b9cadbecfe0f1022", &back), -1);
    assert_int_equal(chunk_hash_from_hex("031425364758697x8b9cadbecfe0f102", &back), -1);
    assert_int_equal(chunk_hash_from_hex(NULL, &back), -1);
    assert_true(chunk_hash_equal(&keep, &back));

    /* Byte order is XXH128 canonical (big-endian high64 first). */
    XXH128_hash_t raw = XXH3_128bits("abc", 3);
    chunk_hash c = xxh128_of("abc", 3);
    assert_int_equal(c.b[0], (uint8_t)(raw.high64 >> 56));
    assert_int_equal(c.b[15], (uint8_t)raw.low64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_names),
        cmocka_unit_test(test_hash_hex),
        cmocka_unit_test(test_roundtrip_empty),
        cmocka_unit_test(test_roundtrip_one_byte),
        cmocka_unit_test(test_roundtrip_4k_random),
        cmocka_unit_test(test_roundtrip_compressible),
        cmocka_unit_test(test_roundtrip_large_random),
        cmocka_unit_test(test_roundtrip_unaligned),
        cmocka_unit_test(test_roundtrip_levels),
        cmocka_unit_test(test_encoder_reuse),
        cmocka_unit_test(test_encoder_misuse),
        cmocka_unit_test(test_sink_errors),
        cmocka_unit_test(test_decoder_reset_midstream),
        cmocka_unit_test(test_every_flip),
        cmocka_unit_test(test_every_truncation_and_extension),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_distinct_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
