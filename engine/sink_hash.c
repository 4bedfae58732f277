#include "engine/sink_hash.h"

#include "codec/hasher.h"
#include "common/pf_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    chunk_hasher *h;
    uint64_t bytes;
} hash_worker;

static void *hash_worker_new(void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    hash_worker *hw = calloc(1, sizeof *hw);
    if (!hw || !(hw->h = chunk_hasher_new())) {
        free(hw);
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    return hw;
}

static void hash_worker_free(void *ws)
{
    hash_worker *hw = ws;
    if (!hw)
        return;
    chunk_hasher_free(hw->h);
    free(hw);
}

static int hash_chunk_begin(void *ws, const copysink_chunk *c, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    hash_worker *hw = ws;
    chunk_hasher_reset(hw->h);
    hw->bytes = 0;
    return 0;
}

static int hash_chunk_write(void *ws, const void *data, size_t len, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    hash_worker *hw = ws;
    chunk_hasher_update(hw->h, data, len);
    hw->bytes += len;
    return 0;
}

static int hash_chunk_end(void *ws, copysink_result *res, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    hash_worker *hw = ws;
    memset(res, 0, sizeof *res);
    res->raw_bytes = res->stored_bytes = hw->bytes;
    res->raw_hash = res->stored_hash = chunk_hasher_digest(hw->h);
    res->codec = -1;
    return 0;
}

static void hash_chunk_abort(void *ws)
{
    (void)ws;
}

static const copysink_ops hash_ops = {
    .name = "verify",
    .worker_new = hash_worker_new,
    .worker_free = hash_worker_free,
    .chunk_begin = hash_chunk_begin,
    .chunk_write = hash_chunk_write,
    .chunk_end = hash_chunk_end,
    .chunk_abort = hash_chunk_abort,
};

int sink_hash_open(copysink *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    out->ops = &hash_ops;
    out->ctx = NULL;
    return 0;
}

void sink_hash_close(copysink *s)
{
    s->ctx = NULL;
}
