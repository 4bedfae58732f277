#include "engine/chunkfile.h"

#include "codec/cipher.h"
#include "codec/hasher.h"
#include "io/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_SIZE (1u << 20)

struct chunkfile_reader {
    const manifest *m;
    chunk_decoder *dec;
    copyrows *rows[2]; /* COPYROWS_TEXT, COPYROWS_BINARY */
    uint8_t *buf;
    chunk_hasher *fh;
    cipher_stream *cs;
    /* per read */
    copyrows *cur;
    int rows_failed;
    chunk_sink_fn sink;
    void *sink_ctx;
    chunkfile_result *res;
};

chunkfile_reader *chunkfile_reader_new(const manifest *m, char *err, size_t errlen)
{
    chunkfile_reader *r = calloc(1, sizeof *r);
    if (!r) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    r->m = m;
    r->dec = chunk_decoder_new(err, errlen);
    r->rows[COPYROWS_TEXT] = copyrows_new(COPYROWS_TEXT);
    r->rows[COPYROWS_BINARY] = copyrows_new(COPYROWS_BINARY);
    r->buf = malloc(READ_SIZE);
    r->fh = chunk_hasher_new();
    int encrypted = m && m->encrypted;
    if (encrypted)
        r->cs = cipher_stream_new(err, errlen);
    if (!r->dec || !r->rows[0] || !r->rows[1] || !r->buf || !r->fh || (encrypted && !r->cs)) {
        chunkfile_reader_free(r);
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    return r;
}

void chunkfile_reader_free(chunkfile_reader *r)
{
    if (!r)
        return;
    chunk_decoder_free(r->dec);
    copyrows_free(r->rows[0]);
    copyrows_free(r->rows[1]);
    free(r->buf);
    if (r->fh)
        chunk_hasher_free(r->fh);
    cipher_stream_free(r->cs);
    free(r);
}

/* decoder output: count rows (holding errors back), then the caller's sink */
static int raw_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    chunkfile_reader *r = ctx;
    if (r->cur && !r->rows_failed &&
        copyrows_feed(r->cur, buf, len, r->res->rows_err, sizeof r->res->rows_err) < 0)
        r->rows_failed = 1;
    return r->sink ? r->sink(r->sink_ctx, buf, len, err, errlen) : 0;
}

static int decoder_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    return chunk_decoder_feed(ctx, buf, len, err, errlen);
}

int chunkfile_read(chunkfile_reader *r, const pf_store *st, const char *name, const char *file, const char *format,
                   chunk_sink_fn sink, void *sink_ctx, int (*stop)(void *), void *stop_ctx,
                   chunkfile_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    r->res = res;
    r->sink = sink;
    r->sink_ctx = sink_ctx;
    r->rows_failed = 0;
    r->cur = NULL;
    copy_format cf = copy_format_parse(format);
    if (format && cf == COPY_TEXT)
        r->cur = r->rows[COPYROWS_TEXT];
    else if (format && cf == COPY_BINARY)
        r->cur = r->rows[COPYROWS_BINARY];
    else if (format)
        snprintf(res->rows_err, sizeof res->rows_err, "unknown COPY format \"%s\"", format);
    if (r->cur)
        copyrows_reset(r->cur);
    chunk_decoder_reset(r->dec, raw_sink, r);
    chunk_hasher_reset(r->fh);
    chunk_sink_fn feed = decoder_sink;
    void *feed_ctx = r->dec;
    int encrypted = r->m && r->m->encrypted;
    if (encrypted) {
        char aad[512];
        manifest_file_aad(r->m, file, aad, sizeof aad);
        if (cipher_decrypt_begin(r->cs, &r->m->keys.data_key, aad, decoder_sink, r->dec, err, errlen) < 0)
            return -1;
        feed = cipher_decrypt_feed;
        feed_ctx = r->cs;
    }
    store_reader *in = store_reader_open(st, name, 0, STORE_TO_END, err, errlen);
    if (!in)
        return -1;
    size_t got;
    int rc;
    while ((rc = store_reader_read(in, r->buf, READ_SIZE, &got, err, errlen)) == 0 && got > 0) {
        chunk_hasher_update(r->fh, r->buf, got);
        res->file_bytes += got;
        if ((rc = feed(feed_ctx, r->buf, got, err, errlen)) < 0)
            break;
        if (stop && stop(stop_ctx)) {
            rc = pf_err(err, errlen, "stopped");
            break;
        }
    }
    store_reader_close(in);
    res->file_hash = chunk_hasher_digest(r->fh);
    if (rc == 0 && encrypted)
        rc = cipher_decrypt_end(r->cs, err, errlen);
    if (rc == 0)
        rc = chunk_decoder_finish(r->dec, &res->st, err, errlen);
    res->codec = (int)chunk_decoder_codec(r->dec);
    if (rc == 0 && r->cur && !r->rows_failed) {
        if (copyrows_finish(r->cur, res->rows_err, sizeof res->rows_err) == 0) {
            res->rows_counted = 1;
            res->rows = copyrows_rows(r->cur);
            res->content = copyrows_hash(r->cur);
        }
    }
    return rc;
}

int chunkfile_check(const manifest *m, const manifest_chunk *mc, const chunkfile_result *res, char *err,
                    size_t errlen)
{
    if (res->file_bytes != mc->stored_bytes || !chunk_hash_equal(&res->file_hash, &mc->stored_hash))
        return pf_err(err, errlen, "stored hash or size differs from the manifest");
    if (res->st.raw_bytes != mc->raw_bytes || !manifest_chunk_hash_matches(m, &res->st.raw_hash, &mc->raw_hash))
        return pf_err(err, errlen, "raw hash or size differs from the manifest");
    if (mc->codec >= 0 && res->codec != mc->codec)
        return pf_err(err, errlen, "encoded as %s, the manifest says %s", chunk_codec_name((chunk_codec)res->codec),
                      chunk_codec_name((chunk_codec)mc->codec));
    if (!res->rows_counted)
        return pf_err(err, errlen, "COPY data: %s", res->rows_err);
    if (res->rows != mc->rows)
        return pf_err(err, errlen, "%llu rows, the manifest says %llu", (unsigned long long)res->rows,
                      (unsigned long long)mc->rows);
    if (!manifest_rowhash_matches(m, &res->content, &mc->content))
        return pf_err(err, errlen, "content hash differs from the manifest");
    return 0;
}
