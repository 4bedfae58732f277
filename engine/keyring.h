/* keyring: the keys of an encrypted dump, apart from the manifest that records it.
 *
 * Stored (in the manifest's "encryption" object): the scrypt parameters and the data key
 * wrapped under the passphrase's key, bound to the dump's id. In memory only, once the
 * passphrase opened it: the data key (files are encrypted under it, codec/cipher.h) and two
 * keys derived from it: one keys the row-data hashes the manifest stores (so they reveal
 * nothing about the rows), one the manifest's closing HMAC (so no edit goes unnoticed).
 * The manifest (engine/manifest.c) holds one keyring and asks it; nothing else reads the
 * key material but the file readers and writers, which take the data key. */
#ifndef PF_KEYRING_H
#define PF_KEYRING_H

#include "codec/cipher.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    cipher_kdf kdf;
    uint8_t wrapped_key[CIPHER_WRAPPED_LEN];
    int have_keys;              /* opened: the keys below are set */
    cipher_key data_key, hash_key, manifest_key;
} keyring;

/* A new dump's: a random data key wrapped under passphrase, bound to dump_id. */
int keyring_create(keyring *k, const char *dump_id, const char *passphrase, char *err, size_t errlen);
/* The stored part from the manifest's "encryption" object (json_t *). */
struct json_t;
int keyring_load(keyring *k, struct json_t *enc, char *err, size_t errlen);
/* Opens the stored part with passphrase (a wrong one fails authentication). */
int keyring_open(keyring *k, const char *dump_id, const char *passphrase, char *err, size_t errlen);
/* The "encryption" object (a new reference). */
struct json_t *keyring_json(const keyring *k);
/* Keys 16 bytes of a row-data hash in place (HMAC under the hash key, truncated). */
void keyring_protect16(const keyring *k, uint8_t b[16]);
/* The manifest's closing HMAC of len bytes, as 64 hex digits. */
void keyring_mac_hex(const keyring *k, const void *data, size_t len, char out[65]);
/* Wipes the keys. */
void keyring_forget(keyring *k);

#endif
