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

static const uint8_t magic[8] = {'P', 'G', 'F', 'E', 'N', 'C', '2', 0};
static const uint8_t magic_v1[8] = {'P', 'G', 'F', 'E', 'N', 'C', '1', 0};

#define AUTH_FAILED "authentication failed: the file was altered, truncated, moved or belongs to another dump"

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

/* HKDF-SHA256 (RFC 5869); no salt means HashLen zero bytes. */
static int hkdf(const cipher_key *ikm, const uint8_t *salt, size_t saltlen, const char *info, cipher_key *out)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t outlen = sizeof out->k;
    int ok = c && EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
             EVP_PKEY_CTX_set1_hkdf_key(c, ikm->k, sizeof ikm->k) > 0 &&
             (!salt || EVP_PKEY_CTX_set1_hkdf_salt(c, salt, (int)saltlen) > 0) &&
             EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)info, (int)strlen(info)) > 0 &&
             EVP_PKEY_derive(c, out->k, &outlen) > 0;
    EVP_PKEY_CTX_free(c);
    return ok ? 0 : -1;
}

int cipher_subkey(const cipher_key *dk, const char *info, cipher_key *out, char *err, size_t errlen)
{
    return hkdf(dk, NULL, 0, info, out) == 0 ? 0 : pf_err(err, errlen, "key derivation (HKDF) failed");
}

void cipher_hmac(const cipher_key *k, const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), k->k, sizeof k->k, data, len, out, &n);
}

/* ---- streams ---------------------------------------------------------------------------- */

/* A stream holds one segment: while encrypting, plaintext gathered until the segment is full;
 * while decrypting, ciphertext and tag gathered until the segment is whole. Segments are
 * sealed and opened in place, so this is the only buffer. The EVP context keeps the file key
 * for the whole file; each segment only sets a new nonce. */
#define SEG CIPHER_SEGMENT_LEN
#define SEG_CT (CIPHER_SEGMENT_LEN + CIPHER_TAG_LEN)

enum { S_IDLE, S_HEAD, S_OPEN, S_DONE, S_FAILED };

struct cipher_stream {
    EVP_CIPHER_CTX *ctx;
    chunk_sink_fn sink;
    void *sink_ctx;
    uint8_t *buf;            /* SEG_CT bytes */
    size_t len;              /* bytes gathered in buf */
    uint64_t seg;            /* number of the next segment */
    uint8_t head[CIPHER_HEADER_LEN];
    size_t head_len;         /* decrypt: header bytes gathered */
    cipher_key key;          /* decrypt: the data key, until the header gives the salt */
    char aad[512];
    size_t aad_len;
    int enc, state;
};

cipher_stream *cipher_stream_new(char *err, size_t errlen)
{
    cipher_stream *s = calloc(1, sizeof *s);
    if (s) {
        s->ctx = EVP_CIPHER_CTX_new();
        s->buf = malloc(SEG_CT);
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
    if (s->buf)
        OPENSSL_cleanse(s->buf, SEG_CT);
    free(s->buf);
    OPENSSL_cleanse(&s->key, sizeof s->key);
    free(s);
}

static int set_aad(cipher_stream *s, const char *aad, char *err, size_t errlen)
{
    size_t n = strlen(aad);
    if (n >= sizeof s->aad)
        return pf_err(err, errlen, "file identity for encryption is too long (%zu bytes)", n);
    memcpy(s->aad, aad, n + 1);
    s->aad_len = n;
    return 0;
}

/* Keys the context with the file key HKDF(data key, salt, "pgferry segment key"). */
static int key_file(cipher_stream *s, const cipher_key *dk, const uint8_t *salt, char *err, size_t errlen)
{
    cipher_key fk;
    int ok = hkdf(dk, salt, CIPHER_SALT_LEN, "pgferry segment key", &fk) == 0 &&
             EVP_CipherInit_ex(s->ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, s->enc) == 1 &&
             EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_IVLEN, CIPHER_NONCE_LEN, NULL) == 1 &&
             EVP_CipherInit_ex(s->ctx, NULL, NULL, fk.k, NULL, s->enc) == 1;
    OPENSSL_cleanse(&fk, sizeof fk);
    return ok ? 0 : pf_err(err, errlen, "cipher setup failed");
}

/* Starts segment s->seg: its nonce and the file's associated data. */
static int seg_start(cipher_stream *s, int final)
{
    uint8_t nonce[CIPHER_NONCE_LEN] = {0};
    for (int i = 0; i < 8; i++)
        nonce[10 - i] = (uint8_t)(s->seg >> (8 * i)); /* bytes 0..10: big-endian counter */
    nonce[11] = (uint8_t)(final != 0);
    int n;
    return EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, nonce, s->enc) == 1 &&
                   EVP_CipherUpdate(s->ctx, NULL, &n, (const uint8_t *)s->aad, (int)s->aad_len) == 1
               ? 0
               : -1;
}

/* Encrypts n plaintext bytes from in (s->buf itself or the caller's buffer) into s->buf,
 * appends the tag, and writes the segment. */
static int seal(cipher_stream *s, const uint8_t *in, size_t n, int final, char *err, size_t errlen)
{
    int out = 0, fin = 0;
    if (s->seg == UINT64_MAX || seg_start(s, final) < 0 ||
        (n > 0 && EVP_EncryptUpdate(s->ctx, s->buf, &out, in, (int)n) != 1) ||
        EVP_EncryptFinal_ex(s->ctx, s->buf + out, &fin) != 1 || (size_t)(out + fin) != n ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, CIPHER_TAG_LEN, s->buf + n) != 1) {
        s->state = S_FAILED;
        return pf_err(err, errlen, "encryption failed");
    }
    s->seg++;
    s->len = 0;
    if (s->sink(s->sink_ctx, s->buf, n + CIPHER_TAG_LEN, err, errlen) < 0) {
        s->state = S_FAILED;
        return -1;
    }
    return 0;
}

int cipher_encrypt_begin(cipher_stream *s, const cipher_key *k, const char *aad, chunk_sink_fn sink,
                         void *sink_ctx, char *err, size_t errlen)
{
    uint8_t head[CIPHER_HEADER_LEN];
    memcpy(head, magic, 8);
    s->sink = sink;
    s->sink_ctx = sink_ctx;
    s->enc = 1;
    s->len = 0;
    s->seg = 0;
    s->state = S_FAILED;
    if (set_aad(s, aad, err, errlen) < 0 || cipher_random(head + 8, CIPHER_SALT_LEN, err, errlen) < 0 ||
        key_file(s, k, head + 8, err, errlen) < 0 || s->sink(s->sink_ctx, head, sizeof head, err, errlen) < 0)
        return -1;
    s->state = S_OPEN;
    return 0;
}

static int not_open(const cipher_stream *s, const char *what, char *err, size_t errlen)
{
    if (s->state == S_FAILED)
        return pf_err(err, errlen, "%s already failed", what);
    return pf_err(err, errlen, "%s is not under way (not begun, or already ended)", what);
}

int cipher_encrypt_sink(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
    cipher_stream *s = stream;
    const uint8_t *p = buf;
    if (!s->enc || s->state != S_OPEN)
        return not_open(s, "encryption", err, errlen);
    while (len > 0) {
        if (s->len == 0 && len >= SEG) { /* a whole segment straight from the caller */
            if (seal(s, p, SEG, 0, err, errlen) < 0)
                return -1;
            p += SEG;
            len -= SEG;
            continue;
        }
        size_t n = SEG - s->len < len ? SEG - s->len : len;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        p += n;
        len -= n;
        /* a full segment goes out now, so the final one is always shorter than SEG */
        if (s->len == SEG && seal(s, s->buf, SEG, 0, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int cipher_encrypt_end(cipher_stream *s, char *err, size_t errlen)
{
    if (!s->enc || s->state != S_OPEN)
        return not_open(s, "encryption", err, errlen);
    if (seal(s, s->buf, s->len, 1, err, errlen) < 0)
        return -1;
    s->state = S_DONE;
    return 0;
}

int cipher_decrypt_begin(cipher_stream *s, const cipher_key *k, const char *aad, chunk_sink_fn sink,
                         void *sink_ctx, char *err, size_t errlen)
{
    s->sink = sink;
    s->sink_ctx = sink_ctx;
    s->enc = 0;
    s->len = 0;
    s->seg = 0;
    s->head_len = 0;
    s->state = S_FAILED;
    if (set_aad(s, aad, err, errlen) < 0)
        return -1;
    s->key = *k;
    s->state = S_HEAD;
    return 0;
}

/* Checks and decrypts one segment of n bytes (ciphertext and tag) from in (s->buf itself or
 * the caller's buffer) into s->buf, and only then passes the plaintext on. */
static int open_seg(cipher_stream *s, const uint8_t *in, size_t n, int final, char *err, size_t errlen)
{
    size_t pt = n - CIPHER_TAG_LEN;
    uint8_t tag[CIPHER_TAG_LEN];
    int out = 0, fin = 0;
    memcpy(tag, in + pt, sizeof tag);
    if (s->seg == UINT64_MAX || seg_start(s, final) < 0 ||
        (pt > 0 && EVP_DecryptUpdate(s->ctx, s->buf, &out, in, (int)pt) != 1) ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, CIPHER_TAG_LEN, tag) != 1 ||
        EVP_DecryptFinal_ex(s->ctx, s->buf + out, &fin) != 1 || (size_t)(out + fin) != pt) {
        OPENSSL_cleanse(s->buf, pt); /* never keep unauthenticated plaintext around */
        s->state = S_FAILED;
        return pf_err(err, errlen, AUTH_FAILED);
    }
    s->seg++;
    s->len = 0;
    if (pt > 0 && s->sink && s->sink(s->sink_ctx, s->buf, pt, err, errlen) < 0) {
        s->state = S_FAILED;
        return -1;
    }
    return 0;
}

static int read_head(cipher_stream *s, const uint8_t **p, size_t *len, char *err, size_t errlen)
{
    size_t take = CIPHER_HEADER_LEN - s->head_len;
    if (take > *len)
        take = *len;
    memcpy(s->head + s->head_len, *p, take);
    s->head_len += take;
    *p += take;
    *len -= take;
    if (s->head_len >= 8 && s->head_len - take < 8) { /* the magic just became whole */
        if (memcmp(s->head, magic_v1, 8) == 0) {
            s->state = S_FAILED;
            return pf_err(err, errlen, "encrypted with an older pgferry format (PGFENC1) that is no longer read");
        }
        if (memcmp(s->head, magic, 8) != 0) {
            s->state = S_FAILED;
            return pf_err(err, errlen, "not an encrypted pgferry file (bad magic)");
        }
    }
    if (s->head_len < CIPHER_HEADER_LEN)
        return 0;
    int rc = key_file(s, &s->key, s->head + 8, err, errlen);
    OPENSSL_cleanse(&s->key, sizeof s->key);
    s->state = rc == 0 ? S_OPEN : S_FAILED;
    return rc;
}

int cipher_decrypt_feed(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
    cipher_stream *s = stream;
    const uint8_t *p = buf;
    if (s->enc || (s->state != S_HEAD && s->state != S_OPEN))
        return not_open(s, "decryption", err, errlen);
    if (s->state == S_HEAD && read_head(s, &p, &len, err, errlen) < 0)
        return -1;
    while (len > 0) {
        /* A whole SEG_CT bytes is never the final segment (that one is shorter), so it can
         * be opened as soon as it is here, without waiting to learn whether more follows. */
        if (s->len == 0 && len >= SEG_CT) {
            if (open_seg(s, p, SEG_CT, 0, err, errlen) < 0)
                return -1;
            p += SEG_CT;
            len -= SEG_CT;
            continue;
        }
        size_t n = SEG_CT - s->len < len ? SEG_CT - s->len : len;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        p += n;
        len -= n;
        if (s->len == SEG_CT && open_seg(s, s->buf, SEG_CT, 0, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int cipher_decrypt_end(cipher_stream *s, char *err, size_t errlen)
{
    if (s->enc || (s->state != S_HEAD && s->state != S_OPEN))
        return not_open(s, "decryption", err, errlen);
    if (s->state == S_HEAD || s->len < CIPHER_TAG_LEN) {
        int at_boundary = s->state == S_OPEN && s->len == 0 && s->seg > 0;
        s->state = S_FAILED;
        OPENSSL_cleanse(&s->key, sizeof s->key);
        return pf_err(err, errlen, at_boundary ? "encrypted file is truncated: its final segment is missing"
                                               : "encrypted file is truncated");
    }
    if (open_seg(s, s->buf, s->len, 1, err, errlen) < 0)
        return -1;
    s->state = S_DONE;
    return 0;
}
