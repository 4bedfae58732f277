#include "codec/cipher.h"

#include "common/pf_util.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t magic[8] = {'P', 'G', 'F', 'E', 'N', 'C', '1', 0};

int cipher_random(void *buf, size_t n, char *err, size_t errlen)
{
    if (RAND_bytes(buf, (int)n) != 1)
        return pf_err(err, errlen, "random number generator failed");
    return 0;
}

int cipher_kdf_default(cipher_kdf *kdf, char *err, size_t errlen)
{
    kdf->n = 1u << 15;
    kdf->r = 8;
    kdf->p = 3;
    return cipher_random(kdf->salt, sizeof kdf->salt, err, errlen);
}

int cipher_derive_kek(const char *pass, size_t passlen, const cipher_kdf *kdf, cipher_key *kek,
                      char *err, size_t errlen)
{
    if (passlen == 0)
        return pf_err(err, errlen, "the passphrase is empty");
    /* bounds keep a damaged or hostile manifest from asking for absurd work or memory */
    if (kdf->n < 1024 || kdf->n > (1u << 22) || (kdf->n & (kdf->n - 1)) || kdf->r < 1 || kdf->r > 32 ||
        kdf->p < 1 || kdf->p > 16)
        return pf_err(err, errlen, "unsupported key derivation parameters");
    uint64_t maxmem = 128ull * kdf->r * (kdf->n + kdf->p + 2) + (1u << 20);
    if (EVP_PBE_scrypt(pass, passlen, kdf->salt, sizeof kdf->salt, kdf->n, kdf->r, kdf->p, maxmem, kek->k,
                       sizeof kek->k) != 1)
        return pf_err(err, errlen, "scrypt key derivation failed");
    return 0;
}

/* One-shot AES-256-GCM. */
static int gcm(int enc, const cipher_key *k, const uint8_t *nonce, const char *aad, const uint8_t *in,
               size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, CIPHER_NONCE_LEN, NULL) == 1 &&
             EVP_CipherInit_ex(c, NULL, NULL, k->k, nonce, enc) == 1;
    int n = 0;
    if (ok && aad)
        ok = EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1;
    if (ok)
        ok = EVP_CipherUpdate(c, out, &n, in, (int)len) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CIPHER_TAG_LEN, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(c, out + n, &n) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CIPHER_TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

int cipher_wrap_key(const cipher_key *kek, const cipher_key *dk, const char *aad,
                    uint8_t out[CIPHER_WRAPPED_LEN], char *err, size_t errlen)
{
    if (cipher_random(out, CIPHER_NONCE_LEN, err, errlen) < 0)
        return -1;
    if (gcm(1, kek, out, aad, dk->k, CIPHER_KEY_LEN, out + CIPHER_NONCE_LEN,
            out + CIPHER_NONCE_LEN + CIPHER_KEY_LEN) < 0)
        return pf_err(err, errlen, "key wrap failed");
    return 0;
}

int cipher_unwrap_key(const cipher_key *kek, const uint8_t in[CIPHER_WRAPPED_LEN], const char *aad,
                      cipher_key *dk, char *err, size_t errlen)
{
    uint8_t tag[CIPHER_TAG_LEN];
    memcpy(tag, in + CIPHER_NONCE_LEN + CIPHER_KEY_LEN, sizeof tag);
    if (gcm(0, kek, in, aad, in + CIPHER_NONCE_LEN, CIPHER_KEY_LEN, dk->k, tag) < 0) {
        memset(dk, 0, sizeof *dk);
        return pf_err(err, errlen, "wrong passphrase (or the key in the manifest is damaged)");
    }
    return 0;
}

int cipher_subkey(const cipher_key *dk, const char *info, cipher_key *out, char *err, size_t errlen)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t outlen = sizeof out->k;
    int ok = c && EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
             EVP_PKEY_CTX_set1_hkdf_key(c, dk->k, sizeof dk->k) > 0 &&
             EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)info, (int)strlen(info)) > 0 &&
             EVP_PKEY_derive(c, out->k, &outlen) > 0;
    EVP_PKEY_CTX_free(c);
    return ok ? 0 : pf_err(err, errlen, "key derivation (HKDF) failed");
}

void cipher_hmac(const cipher_key *k, const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), k->k, sizeof k->k, data, len, out, &n);
}

/* ---- streams ---------------------------------------------------------------------------- */

struct cipher_stream {
    EVP_CIPHER_CTX *ctx;
    chunk_sink_fn sink;
    void *sink_ctx;
    uint8_t *buf;            /* ciphertext/plaintext staging */
    size_t cap;
    uint8_t head[CIPHER_HEADER_LEN];
    size_t head_len;         /* decrypt: header bytes gathered */
    uint8_t tail[CIPHER_TAG_LEN];
    size_t tail_len;         /* decrypt: the last bytes seen, maybe the tag */
    cipher_key key;
    char aad[512];
    int failed, started;
};

cipher_stream *cipher_stream_new(char *err, size_t errlen)
{
    cipher_stream *s = calloc(1, sizeof *s);
    if (s) {
        s->ctx = EVP_CIPHER_CTX_new();
        s->cap = 1 << 20;
        s->buf = malloc(s->cap + 32);
    }
    if (!s || !s->ctx || !s->buf) {
        cipher_stream_free(s);
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    return s;
}

void cipher_stream_free(cipher_stream *s)
{
    if (!s)
        return;
    EVP_CIPHER_CTX_free(s->ctx);
    free(s->buf);
    OPENSSL_cleanse(&s->key, sizeof s->key);
    free(s);
}

static int start(cipher_stream *s, int enc, const cipher_key *k, const char *aad, const uint8_t *nonce,
                 char *err, size_t errlen)
{
    int n;
    if (EVP_CIPHER_CTX_reset(s->ctx) != 1 ||
        EVP_CipherInit_ex(s->ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_IVLEN, CIPHER_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(s->ctx, NULL, NULL, k->k, nonce, enc) != 1 ||
        EVP_CipherUpdate(s->ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1)
        return pf_err(err, errlen, "cipher setup failed");
    s->started = 1;
    return 0;
}

int cipher_encrypt_begin(cipher_stream *s, const cipher_key *k, const char *aad, chunk_sink_fn sink,
                         void *sink_ctx, char *err, size_t errlen)
{
    uint8_t head[CIPHER_HEADER_LEN];
    memcpy(head, magic, 8);
    s->sink = sink;
    s->sink_ctx = sink_ctx;
    s->failed = 0;
    if (cipher_random(head + 8, CIPHER_NONCE_LEN, err, errlen) < 0 ||
        start(s, 1, k, aad, head + 8, err, errlen) < 0 || s->sink(s->sink_ctx, head, sizeof head, err, errlen) < 0) {
        s->failed = 1;
        return -1;
    }
    return 0;
}

int cipher_encrypt_sink(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
    cipher_stream *s = stream;
    const uint8_t *p = buf;
    if (s->failed)
        return pf_err(err, errlen, "encryption already failed");
    while (len > 0) {
        size_t n = len < s->cap ? len : s->cap;
        int out = 0;
        if (EVP_EncryptUpdate(s->ctx, s->buf, &out, p, (int)n) != 1) {
            s->failed = 1;
            return pf_err(err, errlen, "encryption failed");
        }
        if (out > 0 && s->sink(s->sink_ctx, s->buf, (size_t)out, err, errlen) < 0) {
            s->failed = 1;
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

int cipher_encrypt_end(cipher_stream *s, char *err, size_t errlen)
{
    int out = 0;
    uint8_t tag[CIPHER_TAG_LEN];
    if (s->failed || EVP_EncryptFinal_ex(s->ctx, s->buf, &out) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, CIPHER_TAG_LEN, tag) != 1)
        return pf_err(err, errlen, "encryption failed");
    if (out > 0 && s->sink(s->sink_ctx, s->buf, (size_t)out, err, errlen) < 0)
        return -1;
    return s->sink(s->sink_ctx, tag, sizeof tag, err, errlen);
}

int cipher_decrypt_begin(cipher_stream *s, const cipher_key *k, const char *aad, chunk_sink_fn sink,
                         void *sink_ctx, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    s->sink = sink;
    s->sink_ctx = sink_ctx;
    s->head_len = 0;
    s->tail_len = 0;
    s->failed = 0;
    s->started = 0;
    s->key = *k;
    snprintf(s->aad, sizeof s->aad, "%s", aad);
    return 0;
}

static int decrypt_bytes(cipher_stream *s, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    while (len > 0) {
        size_t n = len < s->cap ? len : s->cap;
        int out = 0;
        if (EVP_DecryptUpdate(s->ctx, s->buf, &out, p, (int)n) != 1) {
            s->failed = 1;
            return pf_err(err, errlen, "decryption failed");
        }
        if (out > 0 && s->sink && s->sink(s->sink_ctx, s->buf, (size_t)out, err, errlen) < 0) {
            s->failed = 1;
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

int cipher_decrypt_feed(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
    cipher_stream *s = stream;
    const uint8_t *p = buf;
    if (s->failed)
        return pf_err(err, errlen, "decryption already failed");
    if (s->head_len < CIPHER_HEADER_LEN) {
        size_t take = CIPHER_HEADER_LEN - s->head_len;
        if (take > len)
            take = len;
        memcpy(s->head + s->head_len, p, take);
        s->head_len += take;
        p += take;
        len -= take;
        if (s->head_len < CIPHER_HEADER_LEN)
            return 0;
        if (memcmp(s->head, magic, 8) != 0) {
            s->failed = 1;
            return pf_err(err, errlen, "not an encrypted pgferry file");
        }
        if (start(s, 0, &s->key, s->aad, s->head + 8, err, errlen) < 0) {
            s->failed = 1;
            return -1;
        }
    }
    /* The last CIPHER_TAG_LEN bytes of the file are the tag: always hold that many back. */
    if (s->tail_len + len <= CIPHER_TAG_LEN) {
        memcpy(s->tail + s->tail_len, p, len);
        s->tail_len += len;
        return 0;
    }
    size_t release = s->tail_len + len - CIPHER_TAG_LEN; /* bytes that are surely ciphertext */
    size_t from_tail = release < s->tail_len ? release : s->tail_len;
    if (from_tail && decrypt_bytes(s, s->tail, from_tail, err, errlen) < 0)
        return -1;
    memmove(s->tail, s->tail + from_tail, s->tail_len - from_tail);
    s->tail_len -= from_tail;
    size_t from_data = release - from_tail;
    if (from_data && decrypt_bytes(s, p, from_data, err, errlen) < 0)
        return -1;
    memcpy(s->tail + s->tail_len, p + from_data, len - from_data);
    s->tail_len += len - from_data;
    return 0;
}

int cipher_decrypt_end(cipher_stream *s, char *err, size_t errlen)
{
    if (s->failed)
        return pf_err(err, errlen, "decryption already failed");
    if (s->head_len < CIPHER_HEADER_LEN || s->tail_len < CIPHER_TAG_LEN || !s->started)
        return pf_err(err, errlen, "encrypted file is truncated");
    int out = 0;
    if (EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, CIPHER_TAG_LEN, s->tail) != 1 ||
        EVP_DecryptFinal_ex(s->ctx, s->buf, &out) != 1) {
        s->failed = 1;
        return pf_err(err, errlen, "authentication failed: the file was altered, truncated, moved or belongs to another dump");
    }
    if (out > 0 && s->sink)
        return s->sink(s->sink_ctx, s->buf, (size_t)out, err, errlen);
    return 0;
}
