#include "engine/dumpdir.h"

#include "codec/cipher.h"
#include "codec/hasher.h"

#include "common/pf_util.h"
#include "io/pf_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dumpdir_hash_file(const char *path, chunk_hash *h, uint64_t *size, char *err, size_t errlen)
{
    io_reader *r = io_reader_open(path, err, errlen);
    if (!r)
        return -1;
    chunk_hasher *hs = chunk_hasher_new();
    uint8_t *buf = malloc(1 << 20);
    if (!hs || !buf) {
        if (hs)
            chunk_hasher_free(hs);
        free(buf);
        io_reader_close(r);
        return pf_err(err, errlen, "out of memory");
    }
    size_t got;
    int rc;
    *size = 0;
    while ((rc = io_reader_read(r, buf, 1 << 20, &got, err, errlen)) == 0 && got > 0) {
        chunk_hasher_update(hs, buf, got);
        *size += got;
    }
    *h = chunk_hasher_digest(hs);
    chunk_hasher_free(hs);
    free(buf);
    io_reader_close(r);
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

int dumpdir_read_small(const char *dir, const manifest *m, const char *name, char **out, size_t *len, char *err,
                       size_t errlen)
{
    char path[4096], *raw = NULL;
    size_t rawlen = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *out = NULL;
    *len = 0;
    if (io_read_file(path, &raw, &rawlen, err, errlen) < 0)
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
        rc = cipher_decrypt_begin(cs, &m->data_key, aad, rbuf_sink, &r, e2, sizeof e2) < 0 ||
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
