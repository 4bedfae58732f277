#include "engine/dumpdir.h"

#include "codec/cipher.h"
#include "codec/hasher.h"

#include "common/pf_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dumpdir_chunk_name(size_t table, unsigned seq, char *out, size_t outlen)
{
    snprintf(out, outlen, DUMPDIR_DATA "/%zu.%u.chunk", table, seq);
}

static int remove_chunk(void *ctx, const char *name, const store_info *info)
{
    char file[512];
    if (name[0] == '.' || info->is_prefix)
        return 0;
    snprintf(file, sizeof file, DUMPDIR_DATA "/%s", name);
    store_remove(ctx, file, NULL, 0);
    return 0;
}

void dumpdir_remove_partial(pf_store *st)
{
    store_list(st, DUMPDIR_DATA, remove_chunk, st, NULL, 0);
    store_remove(st, DUMPDIR_DATA, NULL, 0); /* only when empty */
    const char *files[] = {DUMPDIR_SCHEMA_FILE,  DUMPDIR_SCHEMA_FILE ".tmp",  DUMPDIR_PG_DUMP_LOG, MANIFEST_FILE ".tmp",
                           DUMPDIR_GLOBALS_FILE, DUMPDIR_GLOBALS_FILE ".tmp"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        store_remove(st, files[i], NULL, 0);
}

int dumpdir_hash_file(const pf_store *st, const char *name, chunk_hash *h, uint64_t *size, char *err,
                      size_t errlen)
{
    store_reader *r = store_reader_open(st, name, 0, STORE_TO_END, err, errlen);
    if (!r)
        return -1;
    chunk_hasher *hs = chunk_hasher_new();
    uint8_t *buf = malloc(1 << 20);
    if (!hs || !buf) {
        if (hs)
            chunk_hasher_free(hs);
        free(buf);
        store_reader_close(r);
        return pf_err(err, errlen, "out of memory");
    }
    size_t got;
    int rc;
    *size = 0;
    while ((rc = store_reader_read(r, buf, 1 << 20, &got, err, errlen)) == 0 && got > 0) {
        chunk_hasher_update(hs, buf, got);
        *size += got;
    }
    *h = chunk_hasher_digest(hs);
    chunk_hasher_free(hs);
    free(buf);
    store_reader_close(r);
    return rc;
}

typedef struct {
    char *b;
    size_t n, cap;
} rbuf;

static int rbuf_sink(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
    rbuf *r = ctx;
    if (r->n + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->n + len + 1)
            cap *= 2;
        char *b = realloc(r->b, cap);
        if (!b)
            return pf_err(err, errlen, "out of memory");
        r->b = b;
        r->cap = cap;
    }
    memcpy(r->b + r->n, data, len);
    r->n += len;
    r->b[r->n] = '\0';
    return 0;
}

int dumpdir_read_small(const pf_store *st, const manifest *m, const char *name, char **out, size_t *len,
                       char *err, size_t errlen)
{
    char *raw = NULL;
    size_t rawlen = 0;
    *out = NULL;
    *len = 0;
    if (store_read_all(st, name, &raw, &rawlen, err, errlen) < 0)
        return -1;
    if (!m->encrypted) {
        *out = raw;
        *len = rawlen;
        return 0;
    }
    rbuf r = {0};
    char aad[512], e2[PF_ERRLEN];
    manifest_file_aad(m, name, aad, sizeof aad);
    cipher_stream *cs = cipher_stream_new(err, errlen);
    int rc = -1;
    if (cs) {
        rc = cipher_decrypt_begin(cs, &m->keys.data_key, aad, rbuf_sink, &r, e2, sizeof e2) < 0 ||
                     cipher_decrypt_feed(cs, raw, rawlen, e2, sizeof e2) < 0 ||
                     cipher_decrypt_end(cs, e2, sizeof e2) < 0
                 ? pf_err(err, errlen, "%s: %s", name, e2)
                 : 0;
        cipher_stream_free(cs);
    }
    free(raw);
    if (rc < 0) {
        free(r.b);
        return -1;
    }
    *out = r.b ? r.b : strdup("");
    *len = r.n;
    return *out ? 0 : pf_err(err, errlen, "out of memory");
}
