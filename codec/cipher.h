/* cipher: encryption at rest (AES-256-GCM through OpenSSL EVP) and the keys around it.
 *
 *   passphrase --scrypt(salt, N, r, p)--> key-encryption key
 *   data key (random, one per dump) --AES-256-GCM wrap under the KEK--> stored in the manifest
 *   data key --HKDF-SHA256("pgferry manifest" / "pgferry hashes")--> HMAC keys
 *
 * An encrypted file is   "PGFENC1\0" (8) | nonce (12) | ciphertext | GCM tag (16)
 * with a random nonce per file and the file's identity (dump id and file name) as
 * associated data, so a file moved to another name or into another dump fails to
 * authenticate. The decryptor releases plaintext before the tag is checked (streams are
 * bounded in memory): callers treat it as provisional until cipher_decrypt_end() returns
 * 0, as they already do for the chunk decoder. */
#ifndef PF_CIPHER_H
#define PF_CIPHER_H

#include "codec/chunk.h"

#include <stddef.h>
#include <stdint.h>

#define CIPHER_KEY_LEN 32
#define CIPHER_NONCE_LEN 12
#define CIPHER_TAG_LEN 16
#define CIPHER_HEADER_LEN (8 + CIPHER_NONCE_LEN)
#define CIPHER_WRAPPED_LEN (CIPHER_NONCE_LEN + CIPHER_KEY_LEN + CIPHER_TAG_LEN)
#define CIPHER_SALT_LEN 16

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

/* Encryption: begin writes the header to sink; cipher_encrypt_sink (a chunk_sink_fn, ctx =
 * the stream) encrypts and forwards; end writes the tag. */
int cipher_encrypt_begin(cipher_stream *s, const cipher_key *k, const char *aad, chunk_sink_fn sink,
                         void *sink_ctx, char *err, size_t errlen);
int cipher_encrypt_sink(void *stream, const void *buf, size_t len, char *err, size_t errlen);
int cipher_encrypt_end(cipher_stream *s, char *err, size_t errlen);

/* Decryption: feed takes the encrypted file in pieces of any size (also a chunk_sink_fn,
 * ctx = the stream); plaintext goes to sink; end checks the tag. */
int cipher_decrypt_begin(cipher_stream *s, const cipher_key *k, const char *aad, chunk_sink_fn sink,
                         void *sink_ctx, char *err, size_t errlen);
int cipher_decrypt_feed(void *stream, const void *buf, size_t len, char *err, size_t errlen);
int cipher_decrypt_end(cipher_stream *s, char *err, size_t errlen);

#endif
