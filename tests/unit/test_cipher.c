/* Unit tests for codec/cipher: the segmented file format (checked against an independent
 * reading of the layout in cipher.h), round trips at segment edges, and that no damage,
 * truncation, extension, reordering or misplacement of a file is accepted, nor lets a single
 * byte of an unauthenticated segment reach the sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec/cipher.h"
#include "common/pf_util.h"

#define SEG CIPHER_SEGMENT_LEN
#define SEG_CT (CIPHER_SEGMENT_LEN + CIPHER_TAG_LEN)
#define HDR CIPHER_HEADER_LEN
#define AUTH_MSG "authentication failed: the file was altered, truncated, moved or belongs to another dump"

static const char AAD[] = "3f2a9c0d1e7b4a55 data/12.3.chunk";

/* ---------------------------------------------------------------- helpers */

/* splitmix64: deterministic, so a failing case can be reproduced from its seed. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rng_next(&s) >> 56);
    return p;
}

static cipher_key key_of(uint8_t v)
{
    cipher_key k;
    for (size_t i = 0; i < sizeof k.k; i++)
        k.k[i] = (uint8_t)(v + 31 * i);
    return k;
}

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

static int buf_sink(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    buf_add(ctx, data, len);
    return 0;
}

static void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* What the decrypt sink saw, compared as it arrives with the plaintext that was encrypted:
 * every call must continue that plaintext exactly, and be one whole segment (only the last
 * call may be shorter). */
typedef struct {
    const uint8_t *expect;
    size_t expect_len;
    size_t got, calls;
    int mismatch, short_call_seen, call_after_short;
    int fail_after; /* > 0: the sink fails on that call (1-based) */
} rec_t;

static int rec_sink(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
    rec_t *r = ctx;
    r->calls++;
    if (r->short_call_seen)
        r->call_after_short = 1;
    if (len != SEG)
        r->short_call_seen = 1;
    if (r->got + len > r->expect_len || memcmp(r->expect + r->got, data, len) != 0)
        r->mismatch = 1;
    r->got += len;
    if (r->fail_after > 0 && r->calls == (size_t)r->fail_after)
        return pf_err(err, errlen, "test sink refused");
    return 0;
}

static void rec_init(rec_t *r, const uint8_t *expect, size_t len)
{
    memset(r, 0, sizeof *r);
    r->expect = expect;
    r->expect_len = len;
}

static const size_t one_piece[] = {SIZE_MAX};
static const size_t byte_piece[] = {1};
static const size_t odd_pieces[] = {7, 4093, 65537, 1, 200003, 65536, 13};
static const size_t odd_pieces2[] = {3, 65551, 99991, 16, 65552, 2, 777};
#define NP(a) (sizeof(a) / sizeof((a)[0]))

static cipher_stream *new_stream(void)
{
    char err[PF_ERRLEN] = "";
    cipher_stream *s = cipher_stream_new(err, sizeof err);
    if (!s)
        fail_msg("stream new: %s", err);
    return s;
}

static void encrypt_with(cipher_stream *s, const cipher_key *k, const char *aad, const uint8_t *pt, size_t len,
                         const size_t *pieces, size_t np, buf_t *out)
{
    char err[PF_ERRLEN] = "";
    if (cipher_encrypt_begin(s, k, aad, buf_sink, out, err, sizeof err) != 0)
        fail_msg("encrypt begin: %s", err);
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = pieces[i % np];
        if (n > len - off)
            n = len - off;
        if (cipher_encrypt_sink(s, pt + off, n, err, sizeof err) != 0)
            fail_msg("encrypt: %s", err);
        off += n;
    }
    if (cipher_encrypt_end(s, err, sizeof err) != 0)
        fail_msg("encrypt end: %s", err);
}

static void encrypt(const cipher_key *k, const char *aad, const uint8_t *pt, size_t len, buf_t *out)
{
    cipher_stream *s = new_stream();
    encrypt_with(s, k, aad, pt, len, one_piece, 1, out);
    cipher_stream_free(s);
}

/* Feeds file in pieces; returns 0 only if every feed and the end succeeded. */
static int decrypt_with(cipher_stream *s, const cipher_key *k, const char *aad, const uint8_t *file, size_t size,
                        const size_t *pieces, size_t np, rec_t *rec, char *err, size_t errlen)
{
    err[0] = '\0';
    if (cipher_decrypt_begin(s, k, aad, rec_sink, rec, err, errlen) != 0)
        return -1;
    size_t off = 0;
    for (size_t i = 0; off < size; i++) {
        size_t n = pieces[i % np];
        if (n > size - off)
            n = size - off;
        if (cipher_decrypt_feed(s, file + off, n, err, errlen) != 0)
            return -1;
        off += n;
    }
    return cipher_decrypt_end(s, err, errlen);
}

static void assert_one_line(const char *err)
{
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
}

static size_t expected_size(size_t ptlen)
{
    return HDR + ptlen + CIPHER_TAG_LEN * (ptlen / SEG + 1);
}

/* A three-segment file (two full, a short final) that every damage test starts from. */
#define SMALL_LEN (2 * SEG + 100)

/* ---------------------------------------------------------------- format */

static void hkdf_ref(const uint8_t *ikm, const uint8_t *salt, size_t saltlen, const char *info, uint8_t out[32])
{
    /* RFC 5869 written out with HMAC, independently of cipher.c's use of EVP's HKDF */
    uint8_t zero[32] = {0}, prk[32], t[256];
    unsigned int n = 32;
    if (!salt) {
        salt = zero;
        saltlen = sizeof zero;
    }
    assert_non_null(HMAC(EVP_sha256(), salt, (int)saltlen, ikm, 32, prk, &n));
    size_t il = strlen(info);
    memcpy(t, info, il);
    t[il] = 1;
    assert_non_null(HMAC(EVP_sha256(), prk, 32, t, il + 1, out, &n));
}

static int gcm_open_ref(const uint8_t key[32], const uint8_t nonce[12], const char *aad, const uint8_t *ct,
                        size_t len, const uint8_t *tag, uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, got = 0, fin = 0;
    int ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
             EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
             (len == 0 || EVP_DecryptUpdate(c, out, &got, ct, (int)len) == 1) &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1 &&
             EVP_DecryptFinal_ex(c, out + got, &fin) == 1 && (size_t)(got + fin) == len;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/* Opens every segment with one-shot GCM, keys and nonces built as cipher.h describes. */
static void test_layout_matches_description(void **state)
{
    (void)state;
    const size_t lens[] = {0, 1, SEG - 1, SEG, SEG + 1, SMALL_LEN, 3 * SEG};
    cipher_key dk = key_of(1);
    for (size_t li = 0; li < NP(lens); li++) {
        size_t len = lens[li];
        uint8_t *pt = random_bytes(len, 100 + li);
        buf_t f = {0};
        encrypt(&dk, AAD, pt, len, &f);
        assert_int_equal(f.len, expected_size(len));
        assert_memory_equal(f.p, "PGFENC2\0", 8);
        uint8_t fk[32];
        hkdf_ref(dk.k, f.p + 8, CIPHER_SALT_LEN, "pgferry segment key", fk);
        size_t nseg = len / SEG + 1, pos = HDR;
        uint8_t *out = malloc(SEG + 1);
        for (size_t i = 0; i < nseg; i++) {
            size_t n = i + 1 < nseg ? SEG : len % SEG;
            uint8_t nonce[12] = {0};
            nonce[10] = (uint8_t)i;
            nonce[9] = (uint8_t)(i >> 8);
            nonce[11] = i + 1 == nseg;
            assert_int_equal(gcm_open_ref(fk, nonce, AAD, f.p + pos, n, f.p + pos + n, out), 0);
            assert_memory_equal(out, pt + i * SEG, n);
            nonce[11] ^= 1; /* the same bytes under the other flag do not open */
            assert_int_equal(gcm_open_ref(fk, nonce, AAD, f.p + pos, n, f.p + pos + n, out), -1);
            pos += n + CIPHER_TAG_LEN;
        }
        assert_int_equal(pos, f.len);
        free(out);
        free(pt);
        buf_free(&f);
    }
}

static void test_salt_fresh_per_file(void **state)
{
    (void)state;
    cipher_key dk = key_of(2);
    uint8_t *pt = random_bytes(1000, 5);
    buf_t a = {0}, b = {0};
    encrypt(&dk, AAD, pt, 1000, &a);
    encrypt(&dk, AAD, pt, 1000, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.p + 8, b.p + 8, CIPHER_SALT_LEN);
    assert_memory_not_equal(a.p + HDR, b.p + HDR, 1000); /* another key: another keystream */
    free(pt);
    buf_free(&a);
    buf_free(&b);
}

static void test_subkey_is_hkdf(void **state)
{
    (void)state;
    cipher_key dk = key_of(3), sub;
    char err[PF_ERRLEN];
    uint8_t ref[32];
    assert_int_equal(cipher_subkey(&dk, "pgferry manifest", &sub, err, sizeof err), 0);
    hkdf_ref(dk.k, NULL, 0, "pgferry manifest", ref);
    assert_memory_equal(sub.k, ref, 32);
}

static void test_key_wrap(void **state)
{
    (void)state;
    cipher_key kek = key_of(4), dk = key_of(5), got, wrong = key_of(6);
    uint8_t w[CIPHER_WRAPPED_LEN];
    char err[PF_ERRLEN];
    assert_int_equal(cipher_wrap_key(&kek, &dk, "dump-1", w, err, sizeof err), 0);
    assert_int_equal(cipher_unwrap_key(&kek, w, "dump-1", &got, err, sizeof err), 0);
    assert_memory_equal(got.k, dk.k, 32);
    assert_int_equal(cipher_unwrap_key(&wrong, w, "dump-1", &got, err, sizeof err), -1);
    assert_non_null(strstr(err, "wrong passphrase"));
    assert_int_equal(cipher_unwrap_key(&kek, w, "dump-2", &got, err, sizeof err), -1);
}

/* ---------------------------------------------------------------- round trips */

static void roundtrip(size_t len, const size_t *ep, size_t enp, const size_t *dp, size_t dnp, uint64_t seed)
{
    cipher_key dk = key_of(7);
    uint8_t *pt = random_bytes(len, seed);
    cipher_stream *s = new_stream();
    buf_t f = {0};
    encrypt_with(s, &dk, AAD, pt, len, ep, enp, &f);
    assert_int_equal(f.len, expected_size(len));
    rec_t r;
    rec_init(&r, pt, len);
    char err[PF_ERRLEN];
    if (decrypt_with(s, &dk, AAD, f.p, f.len, dp, dnp, &r, err, sizeof err) != 0)
        fail_msg("decrypt of %zu bytes: %s", len, err);
    assert_int_equal(r.got, len);
    assert_false(r.mismatch);
    assert_false(r.call_after_short);
    assert_int_equal(r.calls, (len + SEG - 1) / SEG); /* one call per non-empty segment */
    cipher_stream_free(s);
    buf_free(&f);
    free(pt);
}

static void test_roundtrip_edges(void **state)
{
    (void)state;
    const size_t lens[] = {0, 1, 15, 16, 17, SEG - 1, SEG, SEG + 1, 2 * SEG - 1, 2 * SEG, 2 * SEG + 1};
    for (size_t i = 0; i < NP(lens); i++) {
        roundtrip(lens[i], one_piece, 1, one_piece, 1, i);
        roundtrip(lens[i], byte_piece, 1, byte_piece, 1, i);
        roundtrip(lens[i], odd_pieces, NP(odd_pieces), odd_pieces2, NP(odd_pieces2), i);
        roundtrip(lens[i], odd_pieces2, NP(odd_pieces2), one_piece, 1, i);
    }
}

static void test_roundtrip_large(void **state)
{
    (void)state;
    size_t len = 5 * 1024 * 1024 + 12345;
    roundtrip(len, one_piece, 1, one_piece, 1, 42);
    roundtrip(len, odd_pieces, NP(odd_pieces), odd_pieces2, NP(odd_pieces2), 43);
    roundtrip(len, byte_piece, 1, odd_pieces, NP(odd_pieces), 44);
    roundtrip(len, odd_pieces2, NP(odd_pieces2), byte_piece, 1, 45);
    roundtrip(8 * (size_t)SEG, odd_pieces, NP(odd_pieces), byte_piece, 1, 46);
}

static void test_stream_reuse(void **state)
{
    (void)state;
    cipher_key dk = key_of(8);
    uint8_t *pt = random_bytes(SMALL_LEN, 9);
    cipher_stream *s = new_stream();
    char err[PF_ERRLEN];
    for (int round = 0; round < 3; round++) {
        buf_t f = {0};
        encrypt_with(s, &dk, AAD, pt, SMALL_LEN - 7 * (size_t)round, odd_pieces, NP(odd_pieces), &f);
        rec_t r;
        rec_init(&r, pt, SMALL_LEN);
        /* a failed decryption first, then the good one on the same stream */
        f.p[HDR + 5] ^= 1;
        assert_int_equal(decrypt_with(s, &dk, AAD, f.p, f.len, one_piece, 1, &r, err, sizeof err), -1);
        f.p[HDR + 5] ^= 1;
        rec_init(&r, pt, SMALL_LEN);
        assert_int_equal(decrypt_with(s, &dk, AAD, f.p, f.len, odd_pieces2, NP(odd_pieces2), &r, err, sizeof err), 0);
        assert_int_equal(r.got, SMALL_LEN - 7 * (size_t)round);
        assert_false(r.mismatch);
        buf_free(&f);
    }
    cipher_stream_free(s);
    free(pt);
}

static void test_misuse(void **state)
{
    (void)state;
    cipher_key dk = key_of(10);
    cipher_stream *s = new_stream();
    char err[PF_ERRLEN];
    buf_t f = {0};
    /* nothing begun */
    assert_int_equal(cipher_encrypt_sink(s, "x", 1, err, sizeof err), -1);
    assert_one_line(err);
    assert_int_equal(cipher_decrypt_feed(s, "x", 1, err, sizeof err), -1);
    assert_int_equal(cipher_decrypt_end(s, err, sizeof err), -1);
    /* after end, the stream takes nothing more */
    encrypt_with(s, &dk, AAD, (const uint8_t *)"abc", 3, one_piece, 1, &f);
    assert_int_equal(cipher_encrypt_sink(s, "x", 1, err, sizeof err), -1);
    assert_int_equal(cipher_encrypt_end(s, err, sizeof err), -1);
    rec_t r;
    rec_init(&r, (const uint8_t *)"abc", 3);
    assert_int_equal(decrypt_with(s, &dk, AAD, f.p, f.len, one_piece, 1, &r, err, sizeof err), 0);
    assert_int_equal(cipher_decrypt_feed(s, "x", 1, err, sizeof err), -1);
    assert_int_equal(cipher_decrypt_end(s, err, sizeof err), -1);
    /* after a failure, it says so */
    assert_int_equal(cipher_decrypt_begin(s, &dk, AAD, rec_sink, &r, err, sizeof err), 0);
    assert_int_equal(cipher_decrypt_feed(s, "garbage-garbage-garbage-garbage", 31, err, sizeof err), -1);
    assert_int_equal(cipher_decrypt_feed(s, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "already failed"));
    /* an identity too long for the stream is refused, not cut short */
    char longaad[600];
    memset(longaad, 'a', sizeof longaad - 1);
    longaad[sizeof longaad - 1] = '\0';
    assert_int_equal(cipher_encrypt_begin(s, &dk, longaad, buf_sink, &f, err, sizeof err), -1);
    assert_one_line(err);
    assert_int_equal(cipher_decrypt_begin(s, &dk, longaad, rec_sink, &r, err, sizeof err), -1);
    cipher_stream_free(s);
    buf_free(&f);
}

static int failing_sink(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
    (void)data;
    (void)len;
    int *left = ctx;
    if ((*left)-- <= 0)
        return pf_err(err, errlen, "disk full (test)");
    return 0;
}

static void test_sink_errors(void **state)
{
    (void)state;
    cipher_key dk = key_of(11);
    uint8_t *pt = random_bytes(SMALL_LEN, 12);
    cipher_stream *s = new_stream();
    char err[PF_ERRLEN];
    /* encryption: the header, a full segment, the final segment */
    for (int ok_calls = 0; ok_calls < 4; ok_calls++) {
        int left = ok_calls;
        int rc = cipher_encrypt_begin(s, &dk, AAD, failing_sink, &left, err, sizeof err);
        if (rc == 0)
            rc = cipher_encrypt_sink(s, pt, SMALL_LEN, err, sizeof err);
        if (rc == 0)
            rc = cipher_encrypt_end(s, err, sizeof err);
        if (rc == 0)
            fail_msg("sink failing after %d calls was not reported", ok_calls);
        assert_string_equal(err, "disk full (test)");
    }
    /* decryption: the sink's error comes back and the stream stops */
    buf_t f = {0};
    encrypt(&dk, AAD, pt, SMALL_LEN, &f);
    rec_t r;
    rec_init(&r, pt, SMALL_LEN);
    r.fail_after = 2;
    assert_int_equal(decrypt_with(s, &dk, AAD, f.p, f.len, one_piece, 1, &r, err, sizeof err), -1);
    assert_string_equal(err, "test sink refused");
    assert_int_equal(r.calls, 2);
    cipher_stream_free(s);
    buf_free(&f);
    free(pt);
}

/* ---------------------------------------------------------------- damage */

/* Decrypts damaged bytes and checks it fails with a one-line error, having released exactly
 * the first `released` segments of the plaintext and nothing else. */
static void expect_failure(cipher_stream *s, const cipher_key *k, const char *aad, const uint8_t *file, size_t size,
                           const size_t *pieces, size_t np, const uint8_t *pt, size_t ptlen, size_t released,
                           const char *msg_part, const char *what, size_t at)
{
    rec_t r;
    rec_init(&r, pt, ptlen);
    char err[PF_ERRLEN];
    if (decrypt_with(s, k, aad, file, size, pieces, np, &r, err, sizeof err) == 0)
        fail_msg("%s at %zu was accepted", what, at);
    assert_one_line(err);
    if (msg_part && !strstr(err, msg_part))
        fail_msg("%s at %zu: \"%s\" does not say \"%s\"", what, at, err, msg_part);
    if (r.mismatch || r.got != released * SEG)
        fail_msg("%s at %zu: released %zu bytes (%s), expected the %zu authenticated segments before it", what,
                 at, r.got, r.mismatch ? "not the plaintext" : "plaintext", released);
}

static void test_every_flip(void **state)
{
    (void)state;
    cipher_key dk = key_of(13);
    uint8_t *pt = random_bytes(SMALL_LEN, 14);
    buf_t f = {0};
    encrypt(&dk, AAD, pt, SMALL_LEN, &f);
    cipher_stream *s = new_stream();
    for (size_t i = 0; i < f.len; i++) {
        uint8_t mask = (uint8_t)(1u << (i % 8));
        f.p[i] ^= mask;
        size_t seg = i < HDR ? 0 : (i - HDR) / SEG_CT; /* a damaged salt spoils every segment */
        const char *msg = i < 8 ? "not an encrypted pgferry file" : AUTH_MSG;
        if (i % 2)
            expect_failure(s, &dk, AAD, f.p, f.len, one_piece, 1, pt, SMALL_LEN, seg, msg, "flip", i);
        else
            expect_failure(s, &dk, AAD, f.p, f.len, odd_pieces, NP(odd_pieces), pt, SMALL_LEN, seg, msg, "flip", i);
        f.p[i] ^= mask;
    }
    cipher_stream_free(s);
    buf_free(&f);
    free(pt);
}

static void test_every_truncation(void **state)
{
    (void)state;
    cipher_key dk = key_of(15);
    uint8_t *pt = random_bytes(SMALL_LEN, 16);
    buf_t f = {0};
    encrypt(&dk, AAD, pt, SMALL_LEN, &f);
    cipher_stream *s = new_stream();
    for (size_t t = 0; t < f.len; t++) {
        size_t whole = t < HDR ? 0 : (t - HDR) / SEG_CT; /* full segments still there */
        const char *msg = NULL;
        if (t >= HDR && (t - HDR) % SEG_CT == 0 && whole > 0)
            msg = "final segment is missing";
        else if (t < HDR || (t - HDR) % SEG_CT < CIPHER_TAG_LEN)
            msg = "truncated";
        else
            msg = AUTH_MSG;
        expect_failure(s, &dk, AAD, f.p, t, t % 3 ? one_piece : odd_pieces2, t % 3 ? 1 : NP(odd_pieces2), pt,
                       SMALL_LEN, whole, msg, "truncation", t);
    }
    cipher_stream_free(s);
    buf_free(&f);
    free(pt);
}

/* A file whose plaintext fills its segments ends in an empty final segment: without it, the
 * file would look whole at a segment boundary. */
static void test_truncation_of_empty_final(void **state)
{
    (void)state;
    cipher_key dk = key_of(17);
    uint8_t *pt = random_bytes(2 * SEG, 18);
    buf_t f = {0};
    encrypt(&dk, AAD, pt, 2 * SEG, &f);
    assert_int_equal(f.len, HDR + 2 * SEG_CT + CIPHER_TAG_LEN);
    cipher_stream *s = new_stream();
    expect_failure(s, &dk, AAD, f.p, f.len - CIPHER_TAG_LEN, one_piece, 1, pt, 2 * SEG, 2,
                   "final segment is missing", "drop empty final", 0);
    expect_failure(s, &dk, AAD, f.p, f.len - CIPHER_TAG_LEN, byte_piece, 1, pt, 2 * SEG, 2,
                   "final segment is missing", "drop empty final (bytewise)", 0);
    /* the empty final segment of an empty file: header alone is truncated */
    buf_t e = {0};
    encrypt(&dk, AAD, NULL, 0, &e);
    assert_int_equal(e.len, HDR + CIPHER_TAG_LEN);
    expect_failure(s, &dk, AAD, e.p, HDR, one_piece, 1, pt, 0, 0, "truncated", "empty file cut", 0);
    cipher_stream_free(s);
    buf_free(&f);
    buf_free(&e);
    free(pt);
}

static void test_appended_bytes(void **state)
{
    (void)state;
    cipher_key dk = key_of(19);
    const size_t lens[] = {0, 100, SEG, SMALL_LEN};
    const size_t extra[] = {1, 15, 16, 17, SEG_CT - 100, SEG_CT, SEG_CT + 1, 3 * SEG_CT};
    cipher_stream *s = new_stream();
    for (size_t li = 0; li < NP(lens); li++) {
        size_t len = lens[li];
        uint8_t *pt = random_bytes(len, 20 + li);
        buf_t f = {0};
        encrypt(&dk, AAD, pt, len, &f);
        size_t whole = len / SEG;
        for (size_t xi = 0; xi < NP(extra); xi++) {
            buf_t g = {0};
            buf_add(&g, f.p, f.len);
            uint8_t *junk = random_bytes(extra[xi], 99);
            buf_add(&g, junk, extra[xi]);
            free(junk);
            expect_failure(s, &dk, AAD, g.p, g.len, one_piece, 1, pt, len, whole, AUTH_MSG, "append", extra[xi]);
            expect_failure(s, &dk, AAD, g.p, g.len, odd_pieces2, NP(odd_pieces2), pt, len, whole, AUTH_MSG,
                           "append", extra[xi]);
            buf_free(&g);
        }
        /* the file's own final segment, or the whole file, once more */
        buf_t g = {0};
        buf_add(&g, f.p, f.len);
        buf_add(&g, f.p + HDR + whole * SEG_CT, f.len - HDR - whole * SEG_CT);
        expect_failure(s, &dk, AAD, g.p, g.len, one_piece, 1, pt, len, whole, AUTH_MSG, "final twice", len);
        g.len = 0;
        buf_add(&g, f.p, f.len);
        buf_add(&g, f.p, f.len);
        expect_failure(s, &dk, AAD, g.p, g.len, one_piece, 1, pt, len, whole, AUTH_MSG, "file twice", len);
        buf_free(&g);
        buf_free(&f);
        free(pt);
    }
    cipher_stream_free(s);
}

static void test_reordered_segments(void **state)
{
    (void)state;
    cipher_key dk = key_of(21);
    size_t len = 3 * SEG + 100;
    uint8_t *pt = random_bytes(len, 22);
    buf_t f = {0};
    encrypt(&dk, AAD, pt, len, &f);
    const uint8_t *seg[4];
    size_t segl[4];
    for (int i = 0; i < 4; i++) {
        seg[i] = f.p + HDR + (size_t)i * SEG_CT;
        segl[i] = i < 3 ? SEG_CT : 100 + CIPHER_TAG_LEN;
    }
    /* orders of segments, -1 ends; and how many segments come out before the failure */
    static const struct {
        int order[6];
        size_t released;
    } cases[] = {
        {{1, 0, 2, 3, -1}, 0},    /* swap two */
        {{0, 2, 1, 3, -1}, 1},    /* swap two later */
        {{0, 0, 1, 2, 3, -1}, 1}, /* duplicate */
        {{0, 1, 1, 2, 3, -1}, 2}, /* duplicate later */
        {{0, 2, 3, -1}, 1},       /* drop one */
        {{0, 1, 2, -1}, 3},       /* drop the final one */
        {{0, 1, 3, -1}, 2},       /* drop the one before the final */
        {{3, -1}, 0},             /* only the final one */
        {{0, 1, 2, 2, 3, -1}, 3}, /* duplicate the last full one */
    };
    cipher_stream *s = new_stream();
    for (size_t c = 0; c < NP(cases); c++) {
        buf_t g = {0};
        buf_add(&g, f.p, HDR);
        for (int j = 0; cases[c].order[j] >= 0; j++)
            buf_add(&g, seg[cases[c].order[j]], segl[cases[c].order[j]]);
        expect_failure(s, &dk, AAD, g.p, g.len, one_piece, 1, pt, len, cases[c].released, NULL, "reorder case", c);
        expect_failure(s, &dk, AAD, g.p, g.len, odd_pieces, NP(odd_pieces), pt, len, cases[c].released, NULL,
                       "reorder case", c);
        buf_free(&g);
    }
    /* a segment from another file of the same dump (same data key, same identity) */
    buf_t o = {0}, g = {0};
    encrypt(&dk, AAD, pt, len, &o);
    buf_add(&g, f.p, HDR + SEG_CT);
    buf_add(&g, o.p + HDR + SEG_CT, o.len - HDR - SEG_CT);
    expect_failure(s, &dk, AAD, g.p, g.len, one_piece, 1, pt, len, 1, AUTH_MSG, "segments of another file", 0);
    cipher_stream_free(s);
    buf_free(&o);
    buf_free(&g);
    buf_free(&f);
    free(pt);
}

static void test_wrong_aad_and_key(void **state)
{
    (void)state;
    cipher_key dk = key_of(23), other = key_of(24);
    const size_t lens[] = {0, 1, SMALL_LEN};
    cipher_stream *s = new_stream();
    for (size_t li = 0; li < NP(lens); li++) {
        uint8_t *pt = random_bytes(lens[li], 25);
        buf_t f = {0};
        encrypt(&dk, AAD, pt, lens[li], &f);
        expect_failure(s, &dk, "3f2a9c0d1e7b4a55 data/12.4.chunk", f.p, f.len, one_piece, 1, pt, lens[li], 0,
                       AUTH_MSG, "another name", lens[li]);
        expect_failure(s, &dk, "0f2a9c0d1e7b4a55 data/12.3.chunk", f.p, f.len, one_piece, 1, pt, lens[li], 0,
                       AUTH_MSG, "another dump id", lens[li]);
        expect_failure(s, &dk, "", f.p, f.len, one_piece, 1, pt, lens[li], 0, AUTH_MSG, "empty identity", lens[li]);
        expect_failure(s, &other, AAD, f.p, f.len, one_piece, 1, pt, lens[li], 0, AUTH_MSG, "wrong key", lens[li]);
        expect_failure(s, &other, AAD, f.p, f.len, byte_piece, 1, pt, lens[li], 0, AUTH_MSG, "wrong key", lens[li]);
        buf_free(&f);
        free(pt);
    }
    cipher_stream_free(s);
}

static void test_old_format_and_garbage(void **state)
{
    (void)state;
    cipher_key dk = key_of(26);
    cipher_stream *s = new_stream();
    uint8_t *v1 = random_bytes(200, 27);
    memcpy(v1, "PGFENC1\0", 8);
    rec_t r;
    rec_init(&r, v1, 0);
    char err[PF_ERRLEN];
    for (size_t n = 8; n <= 200; n += 192) {
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            rec_init(&r, v1, 0);
            assert_int_equal(decrypt_with(s, &dk, AAD, v1, n, bytewise ? byte_piece : one_piece, 1, &r, err,
                                          sizeof err),
                             -1);
            assert_string_equal(err, "encrypted with an older pgferry format (PGFENC1) that is no longer read");
            assert_int_equal(r.got, 0);
        }
    }
    /* a plain chunk file, or anything else */
    uint8_t *junk = random_bytes(200, 28);
    memcpy(junk, "PGFCHNK\0", 8);
    rec_init(&r, junk, 0);
    assert_int_equal(decrypt_with(s, &dk, AAD, junk, 200, one_piece, 1, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an encrypted pgferry file"));
    /* too short to say */
    for (size_t n = 0; n < 8; n++) {
        rec_init(&r, junk, 0);
        assert_int_equal(decrypt_with(s, &dk, AAD, (const uint8_t *)"PGFENC2\0", n, one_piece, 1, &r, err,
                                      sizeof err),
                         -1);
        assert_non_null(strstr(err, "truncated"));
    }
    free(junk);
    free(v1);
    cipher_stream_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_description),
        cmocka_unit_test(test_salt_fresh_per_file),
        cmocka_unit_test(test_subkey_is_hkdf),
        cmocka_unit_test(test_key_wrap),
        cmocka_unit_test(test_roundtrip_edges),
        cmocka_unit_test(test_roundtrip_large),
        cmocka_unit_test(test_stream_reuse),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_sink_errors),
        cmocka_unit_test(test_every_flip),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_truncation_of_empty_final),
        cmocka_unit_test(test_appended_bytes),
        cmocka_unit_test(test_reordered_segments),
        cmocka_unit_test(test_wrong_aad_and_key),
        cmocka_unit_test(test_old_format_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
