#include "engine/chunkwriter.h"

#include "codec/filter.h"
#include "common/pf_util.h"

#include <stdlib.h>
#include <string.h>

/* Rows are small; gather them so the compressor and the hashes see large buffers. */
#define CHUNKWRITER_STAGE (256u << 10)

struct chunkwriter {
    const manifest *m;
    filter *head;      /* the chain */
    filter *chunk;     /* the chunk encoder, or NULL (plain files) */
    filter *encrypt;   /* or NULL */
    filter *hash;
    filter *sink;
    store_writer *wr;  /* the file being written, or NULL */
    int async;
};

static int to_store(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    return store_writer_write(ctx, buf, len, err, errlen);
}

static chunkwriter *build(const manifest *m, int chunks, chunk_codec codec, int level, char *err, size_t errlen)
{
    chunkwriter *cw = calloc(1, sizeof *cw);
    if (!cw) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    cw->m = m;
    filter *buffer = NULL;
    int ok = (!chunks || ((buffer = filter_buffer_new(CHUNKWRITER_STAGE, err, errlen)) != NULL &&
                          (cw->chunk = filter_chunk_new(codec, level, err, errlen)) != NULL)) &&
             (!m || !m->encrypted || (cw->encrypt = filter_encrypt_new(err, errlen)) != NULL) &&
             (cw->hash = filter_hash_new(err, errlen)) != NULL && (cw->sink = filter_sink_new(err, errlen)) != NULL;
    filter *all[] = {buffer, cw->chunk, cw->encrypt, cw->hash, cw->sink};
    cw->head = filter_chain(all, sizeof all / sizeof *all);
    if (!ok) {
        chunkwriter_free(cw);
        return NULL;
    }
    return cw;
}

chunkwriter *chunkwriter_new_chunks(const manifest *m, chunk_codec codec, int level, char *err, size_t errlen)
{
    return build(m, 1, codec, level, err, errlen);
}

chunkwriter *chunkwriter_new_files(const manifest *m, char *err, size_t errlen)
{
    return build(m, 0, CHUNK_CODEC_NONE, 0, err, errlen);
}

void chunkwriter_free(chunkwriter *cw)
{
    if (!cw)
        return;
    chunkwriter_abort(cw);
    filter_chain_free(cw->head);
    free(cw);
}

int chunkwriter_open(chunkwriter *cw, pf_store *st, const char *name, unsigned store_flags, char *err,
                     size_t errlen)
{
    chunkwriter_abort(cw);
    if (st && !(cw->wr = store_writer_open(st, name, store_flags, err, errlen)))
        return -1;
    cw->async = cw->wr && store_writer_async(cw->wr);
    filter_sink_set(cw->sink, cw->wr ? to_store : NULL, cw->wr);
    filter_chain_reset(cw->head);
    if (cw->encrypt) {
        char aad[512];
        manifest_file_aad(cw->m, name, aad, sizeof aad);
        if (filter_encrypt_begin(cw->encrypt, &cw->m->keys.data_key, aad, err, errlen) < 0) {
            chunkwriter_abort(cw);
            return -1;
        }
    }
    return 0;
}

int chunkwriter_write(chunkwriter *cw, const void *data, size_t len, char *err, size_t errlen)
{
    return filter_write(cw->head, data, len, err, errlen);
}

int chunkwriter_commit(chunkwriter *cw, chunkwriter_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (filter_chain_end(cw->head, err, errlen) < 0) {
        chunkwriter_abort(cw);
        return -1;
    }
    if (cw->chunk) {
        filter_chunk_stats(cw->chunk, &res->st);
        res->codec = filter_chunk_codec(cw->chunk);
    }
    filter_hash_result(cw->hash, &res->stored_bytes, &res->stored_hash);
    store_writer *wr = cw->wr;
    cw->wr = NULL;
    filter_sink_set(cw->sink, NULL, NULL);
    return wr ? store_writer_commit(wr, err, errlen) : 0;
}

void chunkwriter_abort(chunkwriter *cw)
{
    if (cw->wr) {
        store_writer_abort(cw->wr);
        cw->wr = NULL;
    }
    if (cw->sink)
        filter_sink_set(cw->sink, NULL, NULL);
}

int chunkwriter_async(const chunkwriter *cw)
{
    return cw->async;
}

int chunkwriter_write_file(chunkwriter *cw, pf_store *st, const char *name, const void *data, size_t len,
                           chunkwriter_result *res, char *err, size_t errlen)
{
    if (chunkwriter_open(cw, st, name, STORE_W_SMALL, err, errlen) < 0)
        return -1;
    if (chunkwriter_write(cw, data, len, err, errlen) < 0) {
        chunkwriter_abort(cw);
        return -1;
    }
    return chunkwriter_commit(cw, res, err, errlen);
}
