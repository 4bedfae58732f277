#include "engine/keyring.h"

#include "common/pf_util.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void aad_for(const char *dump_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "pgferry-key|%s", dump_id ? dump_id : "");
}

static int derive_subkeys(keyring *k, char *err, size_t errlen)
{
    return cipher_subkey(&k->data_key, "pgferry manifest", &k->manifest_key, err, errlen) < 0 ||
                   cipher_subkey(&k->data_key, "pgferry hashes", &k->hash_key, err, errlen) < 0
               ? -1
               : 0;
}

int keyring_create(keyring *k, const char *dump_id, const char *passphrase, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    if (!dump_id)
        return pf_err(err, errlen, "manifest: no dump id");
    cipher_key kek;
    char aad[256];
    aad_for(dump_id, aad, sizeof aad);
    int rc = cipher_kdf_default(&k->kdf, err, errlen) < 0 ||
                     cipher_random(k->data_key.k, sizeof k->data_key.k, err, errlen) < 0 ||
                     cipher_derive_kek(passphrase, strlen(passphrase), &k->kdf, &kek, err, errlen) < 0 ||
                     cipher_wrap_key(&kek, &k->data_key, aad, k->wrapped_key, err, errlen) < 0 ||
                     derive_subkeys(k, err, errlen) < 0
                 ? -1
                 : 0;
    memset(&kek, 0, sizeof kek);
    if (rc < 0)
        keyring_forget(k);
    k->have_keys = rc == 0;
    return rc;
}

int keyring_load(keyring *k, json_t *e, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    json_t *s = json_object_get(e, "salt"), *w = json_object_get(e, "wrapped_key");
    k->kdf.n = (uint64_t)json_integer_value(json_object_get(e, "n"));
    k->kdf.r = (uint32_t)json_integer_value(json_object_get(e, "r"));
    k->kdf.p = (uint32_t)json_integer_value(json_object_get(e, "p"));
    if (!json_is_string(s) || !json_is_string(w) || pf_unhex(json_string_value(s), k->kdf.salt, CIPHER_SALT_LEN) < 0 ||
        pf_unhex(json_string_value(w), k->wrapped_key, CIPHER_WRAPPED_LEN) < 0)
        return pf_err(err, errlen, "manifest: damaged encryption parameters");
    return 0;
}

int keyring_open(keyring *k, const char *dump_id, const char *passphrase, char *err, size_t errlen)
{
    cipher_key kek;
    char aad[256];
    aad_for(dump_id, aad, sizeof aad);
    int rc = cipher_derive_kek(passphrase, strlen(passphrase), &k->kdf, &kek, err, errlen) < 0 ||
                     cipher_unwrap_key(&kek, k->wrapped_key, aad, &k->data_key, err, errlen) < 0 ||
                     derive_subkeys(k, err, errlen) < 0
                 ? -1
                 : 0;
    memset(&kek, 0, sizeof kek);
    k->have_keys = rc == 0;
    return rc;
}

json_t *keyring_json(const keyring *k)
{
    char salt[2 * CIPHER_SALT_LEN + 1], wk[2 * CIPHER_WRAPPED_LEN + 1];
    pf_hex(k->kdf.salt, CIPHER_SALT_LEN, salt);
    pf_hex(k->wrapped_key, CIPHER_WRAPPED_LEN, wk);
    json_t *e = json_object();
    json_object_set_new(e, "cipher", json_string("aes-256-gcm"));
    json_object_set_new(e, "kdf", json_string("scrypt"));
    json_object_set_new(e, "n", json_integer((json_int_t)k->kdf.n));
    json_object_set_new(e, "r", json_integer(k->kdf.r));
    json_object_set_new(e, "p", json_integer(k->kdf.p));
    json_object_set_new(e, "salt", json_string(salt));
    json_object_set_new(e, "wrapped_key", json_string(wk));
    json_object_set_new(e, "manifest_checksum", json_string("hmac-sha256"));
    return e;
}

void keyring_protect16(const keyring *k, uint8_t b[16])
{
    uint8_t mac[32];
    cipher_hmac(&k->hash_key, b, 16, mac);
    memcpy(b, mac, 16);
}

void keyring_mac_hex(const keyring *k, const void *data, size_t len, char out[65])
{
    uint8_t mac[32];
    cipher_hmac(&k->manifest_key, data, len, mac);
    pf_hex(mac, 32, out);
}

void keyring_forget(keyring *k)
{
    volatile uint8_t *p = (volatile uint8_t *)k;
    for (size_t i = 0; i < sizeof *k; i++)
        p[i] = 0;
}
