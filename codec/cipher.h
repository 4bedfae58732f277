/* cipher: encryption at rest (AES-256-GCM through OpenSSL EVP) and the keys around it.
 *
 *   passphrase --scrypt(salt, N, r, p)--> key-encryption key
 *   data key (random, one per dump) --AES-256-GCM wrap under the KEK--> stored in the manifest
 *   data key --HKDF-SHA256("pgferry manifest" / "pgferry hashes")--> HMAC keys
 *   data key --HKDF-SHA256(salt = the file's salt, "pgferry segment key")--> one file's key
 *
 * An encrypted file (format 2, segmented like age's STREAM) is
 *
 *   "PGFENC2\0" (8) | salt (16) | segment 0 | segment 1 | ... | final segment
 *   segment = AES-256-GCM(file key, nonce, aad, plaintext) | GCM tag (16)
 *   nonce   = segment number (11 bytes, big-endian) | 1 on the final segment, else 0 (1 byte)
 *
 * Every segment but the last holds exactly CIPHER_SEGMENT_LEN bytes of plaintext; the last
 * holds fewer (none when the plaintext is empty or a multiple of the segment size), so a
 * file always ends with exactly one segment marked final. The salt is random per file, so
 * each file has its own key and a (key, nonce) pair never repeats although one data key
 * encrypts a whole dump. The file's identity (dump id and file name) is every segment's
 * associated data, so a file moved to another name or into another dump fails; the segment
 * number and final flag in the nonce make reordered, dropped, duplicated or appended
 * segments and truncation fail.
 *
 * The decryptor holds one segment, checks its tag, and only then passes its plaintext on:
 * everything that reaches a decrypt sink is authenticated. A failure may still come after
 * earlier segments were released (a later segment is damaged, or the file is cut short),
 * so a whole file is proven only when cipher_decrypt_end() returns 0. */
#ifndef PF_CIPHER_H
#define PF_CIPHER_H

#include "codec/chunk.h"

#include <stddef.h>
#include <stdint.h>

#define CIPHER_KEY_LEN 32
#define CIPHER_NONCE_LEN 12
#define CIPHER_TAG_LEN 16
#define CIPHER_SALT_LEN 16
#define CIPHER_HEADER_LEN (8 + CIPHER_SALT_LEN)   /* magic | per-file salt */
#define CIPHER_SEGMENT_LEN (64 * 1024)           /* plaintext bytes per segment but the last */
#define CIPHER_WRAPPED_LEN (CIPHER_NONCE_LEN + CIPHER_KEY_LEN + CIPHER_TAG_LEN)

typedef struct { uint8_t k[CIPHER_KEY_LEN]; } cipher_key;

typedef struct {
    uint64_t n;     /* scrypt cost (power of two) */
    uint32_t r, p;
    uint8_t salt[CIPHER_SALT_LEN];
} cipher_kdf;

/* Defaults with a fresh random salt: N=2^15, r=8, p=3 (OWASP's scrypt floor; 32 MB). */
int cipher_kdf_default(cipher_kdf *kdf, char *err, size_t errlen);
int cipher_derive_kek(const char *pass, size_t passlen, const cipher_kdf *kdf, cipher_key *kek,
                      char *err, size_t errlen);
int cipher_random(void *buf, size_t n, char *err, size_t errlen);

/* Wraps / unwraps the data key; aad binds it to its dump. Unwrap with the wrong KEK (wrong
 * passphrase) fails with "wrong passphrase (or the key in the manifest is damaged)". */
int cipher_wrap_key(const cipher_key *kek, const cipher_key *dk, const char *aad,
                    uint8_t out[CIPHER_WRAPPED_LEN], char *err, size_t errlen);
int cipher_unwrap_key(const cipher_key *kek, const uint8_t in[CIPHER_WRAPPED_LEN], const char *aad,
                      cipher_key *dk, char *err, size_t errlen);

/* HKDF-SHA256 subkey of the data key for one purpose. */
int cipher_subkey(const cipher_key *dk, const char *info, cipher_key *out, char *err, size_t errlen);
/* HMAC-SHA256. */
void cipher_hmac(const cipher_key *k, const void *data, size_t len, uint8_t out[32]);

typedef struct cipher_stream cipher_stream;

cipher_stream *cipher_stream_new(char *err, size_t errlen);
void cipher_stream_free(cipher_stream *s);

/* One stream encrypts or decrypts one file at a time and can be reused for the next; it holds
 * one segment in memory. aad is at most 511 bytes. */

/* Encryption: begin writes the header to sink; cipher_encrypt_sink (a chunk_sink_fn, ctx =
 * the stream) gathers plaintext and forwards each full segment, encrypted; end writes the
 * final segment. */
int cipher_encrypt_begin(cipher_stream *s, const cipher_key *k, const char *aad, chunk_sink_fn sink,
                         void *sink_ctx, char *err, size_t errlen);
int cipher_encrypt_sink(void *stream, const void *buf, size_t len, char *err, size_t errlen);
int cipher_encrypt_end(cipher_stream *s, char *err, size_t errlen);

/* Decryption: feed takes the encrypted file in pieces of any size (also a chunk_sink_fn,
 * ctx = the stream) and passes each segment's plaintext to sink once its tag is checked;
 * end checks the final segment and that nothing follows it. A tag that does not match says
 * "authentication failed: the file was altered, truncated, moved or belongs to another
 * dump"; a file of the older format 1 ("PGFENC1") is refused with its own message. */
int cipher_decrypt_begin(cipher_stream *s, const cipher_key *k, const char *aad, chunk_sink_fn sink,
                         void *sink_ctx, char *err, size_t errlen);
int cipher_decrypt_feed(void *stream, const void *buf, size_t len, char *err, size_t errlen);
int cipher_decrypt_end(cipher_stream *s, char *err, size_t errlen);

#endif
