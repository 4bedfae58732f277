/* chunk: framing, compression and hashing of one chunk file (format in chunk.h). */
#include "codec/chunk.h"

#include "codec/colsplit.h"
#include "codec/compress.h"
#include "common/pf_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t streaming API */
#include <xxhash.h>

/* Blocks are cut at 1 MiB: big enough that the 4-byte length fields cost nothing and a
 * sink sees large writes, small enough that a reader's memory stays modest. The decoder
 * accepts up to CHUNK_MAX_BLOCK so the encoder may grow this later without a format bump. */
#define CHUNK_ENC_BLOCK (1u << 20)
_Static_assert(CHUNK_ENC_BLOCK <= CHUNK_MAX_BLOCK, "encoder blocks must be readable");

/* What follows the end marker: raw len, payload len, raw hash, stored hash, magic. */
#define CHUNK_TAIL_SIZE (CHUNK_TRAILER_SIZE - 4)
#define TAIL_RAW_LEN 0
#define TAIL_PAYLOAD_LEN 8
#define TAIL_RAW_HASH 16
#define TAIL_STORED_HASH 32
#define TAIL_MAGIC 48
_Static_assert(TAIL_MAGIC + 8 == CHUNK_TAIL_SIZE, "trailer layout");

/* The decoder keeps one state per registered compressor (compress.c's table). */
#define CHUNK_MAX_CODECS 8

static const uint8_t chunk_magic[8] = {'P', 'G', 'F', 'C', 'H', 'N', 'K', '\0'};
static const uint8_t chunk_end_magic[8] = {'P', 'G', 'F', 'E', 'N', 'D', '\0', '\0'};

/* ---------------------------------------------------------------- small helpers */

int chunk_codec_parse(const char *name, chunk_codec *out)
{
    if (!name || !out)
        return -1;
    const compress_ops *c = compress_find(name);
    if (!c)
        return -1;
    *out = (chunk_codec)c->id;
    return 0;
}

const char *chunk_codec_name(chunk_codec c)
{
    const compress_ops *ops = compress_by_id((unsigned)c);
    return ops ? ops->name : "unknown";
}

void chunk_hash_hex(const chunk_hash *h, char out[33])
{
    pf_hex(h->b, sizeof h->b, out);
}

int chunk_hash_from_hex(const char *hex, chunk_hash *out)
{
    chunk_hash tmp;
    /* Parse into a temporary so a bad string leaves *out untouched. */
    if (!hex || !out || pf_unhex(hex, tmp.b, sizeof tmp.b) != 0)
        return -1;
    *out = tmp;
    return 0;
}

int chunk_hash_equal(const chunk_hash *a, const chunk_hash *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}

static void hash_digest(XXH3_state_t *s, chunk_hash *out)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(s));
    memcpy(out->b, c.digest, sizeof out->b);
}

/* Every failure is recorded in the object's own buffer first: that makes errors sticky
 * (later calls repeat the first cause) and works when the caller passed err == NULL. */
static int record_err(char *msg, size_t msglen, char *err, size_t errlen, const char *fmt, va_list ap)
{
    vsnprintf(msg, msglen, fmt, ap);
    return pf_err(err, errlen, "%s", msg);
}

/* ---------------------------------------------------------------- encoder */

enum { ENC_NEED_RESET, ENC_OPEN, ENC_FINISHED, ENC_FAILED };

struct chunk_encoder {
    chunk_codec codec;
    int level;
    const compress_ops *c;
    void *cst;                  /* the compressor's state; NULL for the identity */
    colsplit_enc *cols;         /* a compressor with the column layout: what it is given */
    XXH3_state_t *raw_xxh;
    XXH3_state_t *stored_xxh;
    /* 4-byte length slot followed by the block data, so a block reaches the sink in one call. */
    uint8_t *blk;
    size_t blen;
    chunk_sink_fn sink;
    void *sink_ctx;
    int state;
    int header_sent;
    uint64_t raw_bytes;
    uint64_t stored_bytes;
    uint64_t payload_bytes;
    char errmsg[PF_ERRLEN];
};

__attribute__((format(printf, 4, 5)))
static int enc_fail(chunk_encoder *e, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record_err(e->errmsg, sizeof e->errmsg, err, errlen, fmt, ap);
    va_end(ap);
    e->state = ENC_FAILED;
    return -1;
}

chunk_encoder *chunk_encoder_new(chunk_codec codec, int level, char *err, size_t errlen)
{
    const compress_ops *c = compress_by_id((unsigned)codec);
    if (!c) {
        pf_err(err, errlen, "chunk encoder: unknown codec %d", (int)codec);
        return NULL;
    }
    int lmin = 0, lmax = 0;
    if (c->enc_levels && (c->enc_levels(&lmin, &lmax), level < lmin || level > lmax)) {
        pf_err(err, errlen, "chunk encoder: %s level %d is out of range (%d..%d)", compress_lib(c), level, lmin, lmax);
        return NULL;
    }
    chunk_encoder *e = calloc(1, sizeof *e);
    if (!e) {
        pf_err(err, errlen, "chunk encoder: out of memory");
        return NULL;
    }
    e->codec = codec;
    e->c = c;
    e->level = c->has_levels ? level : 0;
    e->state = ENC_NEED_RESET;
    e->blk = malloc(4 + (size_t)CHUNK_ENC_BLOCK);
    e->raw_xxh = XXH3_createState();
    e->stored_xxh = XXH3_createState();
    if (!e->blk || !e->raw_xxh || !e->stored_xxh)
        goto oom;
    if (c->columns && !(e->cols = colsplit_enc_new()))
        goto oom;
    if (c->enc_new) {
        char why[PF_ERRLEN];
        e->cst = c->enc_new(level, why, sizeof why);
        if (!e->cst) {
            pf_err(err, errlen, "chunk encoder: %s setup failed: %s", compress_lib(c), why);
            chunk_encoder_free(e);
            return NULL;
        }
    }
    return e;
oom:
    pf_err(err, errlen, "chunk encoder: out of memory");
    chunk_encoder_free(e);
    return NULL;
}

static int enc_cols_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen);

void chunk_encoder_reset(chunk_encoder *e, chunk_sink_fn sink, void *sink_ctx)
{
    e->sink = sink;
    e->sink_ctx = sink_ctx;
    e->state = ENC_OPEN;
    e->header_sent = 0;
    e->blen = 0;
    e->raw_bytes = e->stored_bytes = e->payload_bytes = 0;
    e->errmsg[0] = '\0';
    XXH3_128bits_reset(e->raw_xxh);
    XXH3_128bits_reset(e->stored_xxh);
    if (e->cst)
        e->c->enc_reset(e->cst);
    if (e->cols)
        colsplit_enc_reset(e->cols, enc_cols_sink, e);
}

static int enc_sink(chunk_encoder *e, const void *buf, size_t len, char *err, size_t errlen)
{
    e->stored_bytes += len;
    if (!e->sink)
        return 0;
    e->errmsg[0] = '\0';
    if (e->sink(e->sink_ctx, buf, len, e->errmsg, sizeof e->errmsg) != 0) {
        if (!e->errmsg[0])
            snprintf(e->errmsg, sizeof e->errmsg, "chunk encoder: sink failed");
        e->state = ENC_FAILED;
        return pf_err(err, errlen, "%s", e->errmsg);
    }
    return 0;
}

/* Every stored byte before the trailer passes through here so the stored hash cannot miss any. */
static int enc_emit(chunk_encoder *e, const void *buf, size_t len, char *err, size_t errlen)
{
    XXH3_128bits_update(e->stored_xxh, buf, len);
    return enc_sink(e, buf, len, err, errlen);
}

static int enc_header(chunk_encoder *e, char *err, size_t errlen)
{
    if (e->header_sent)
        return 0;
    uint8_t h[CHUNK_HEADER_SIZE];
    memcpy(h, chunk_magic, 8);
    pf_put_le16(h + 8, CHUNK_FORMAT_VERSION);
    pf_put_le16(h + 10, (uint16_t)e->codec);
    pf_put_le32(h + 12, (uint32_t)e->level);
    e->header_sent = 1;
    return enc_emit(e, h, sizeof h, err, errlen);
}

static int enc_flush_block(chunk_encoder *e, char *err, size_t errlen)
{
    if (e->blen == 0)
        return 0;
    pf_put_le32(e->blk, (uint32_t)e->blen);
    e->payload_bytes += e->blen;
    size_t n = 4 + e->blen;
    e->blen = 0;
    return enc_emit(e, e->blk, n, err, errlen);
}

static int enc_check_open(chunk_encoder *e, char *err, size_t errlen)
{
    switch (e->state) {
    case ENC_OPEN: return 0;
    case ENC_NEED_RESET: return pf_err(err, errlen, "chunk encoder used before chunk_encoder_reset");
    case ENC_FINISHED: return pf_err(err, errlen, "chunk encoder already finished; reset it first");
    default: return pf_err(err, errlen, "%s", e->errmsg);
    }
}

/* Drives the compressor until it has taken all of the input (end = 0) or closed its
 * stream (end = 1), cutting a block each time the buffer fills. */
static int enc_compress(chunk_encoder *e, const void *data, size_t len, int end, char *err, size_t errlen)
{
    size_t pos = 0;
    for (;;) {
        char why[PF_ERRLEN];
        size_t out = e->blen;
        int done = 0;
        if (e->c->enc_run(e->cst, data, len, &pos, e->blk + 4, CHUNK_ENC_BLOCK, &out, end, &done, why, sizeof why) < 0)
            return enc_fail(e, err, errlen, "chunk %s compression failed: %s", compress_lib(e->c), why);
        e->blen = out;
        if (e->blen == CHUNK_ENC_BLOCK && enc_flush_block(e, err, errlen) != 0)
            return -1;
        if (done)
            return 0;
    }
}

/* The column layout's frames go to the compressor. */
static int enc_cols_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    return enc_compress(ctx, buf, len, 0, err, errlen);
}

int chunk_encoder_write(chunk_encoder *e, const void *data, size_t len, char *err, size_t errlen)
{
    if (enc_check_open(e, err, errlen) != 0)
        return -1;
    if (len == 0)
        return 0;
    if (enc_header(e, err, errlen) != 0)
        return -1;
    XXH3_128bits_update(e->raw_xxh, data, len);
    e->raw_bytes += len;
    if (e->cols) {
        char m[PF_ERRLEN];
        if (colsplit_enc_write(e->cols, data, len, m, sizeof m) != 0)
            return e->state == ENC_FAILED ? pf_err(err, errlen, "%s", e->errmsg) : enc_fail(e, err, errlen, "%s", m);
        return 0;
    }
    if (e->cst)
        return enc_compress(e, data, len, 0, err, errlen);
    const uint8_t *p = data;
    while (len > 0) {
        size_t n = CHUNK_ENC_BLOCK - e->blen;
        if (n > len)
            n = len;
        memcpy(e->blk + 4 + e->blen, p, n);
        e->blen += n;
        p += n;
        len -= n;
        if (e->blen == CHUNK_ENC_BLOCK && enc_flush_block(e, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int chunk_encoder_finish(chunk_encoder *e, chunk_stats *st, char *err, size_t errlen)
{
    if (enc_check_open(e, err, errlen) != 0)
        return -1;
    if (enc_header(e, err, errlen) != 0)
        return -1;
    char m[PF_ERRLEN];
    if (e->cols && colsplit_enc_finish(e->cols, m, sizeof m) != 0)
        return e->state == ENC_FAILED ? pf_err(err, errlen, "%s", e->errmsg) : enc_fail(e, err, errlen, "%s", m);
    /* Always close the stream, even for empty input, so the decoder can demand exactly one. */
    if (e->cst && enc_compress(e, NULL, 0, 1, err, errlen) != 0)
        return -1;
    if (enc_flush_block(e, err, errlen) != 0)
        return -1;

    chunk_stats s;
    memset(&s, 0, sizeof s);
    hash_digest(e->raw_xxh, &s.raw_hash);

    uint8_t t[CHUNK_TRAILER_SIZE];
    uint8_t *tail = t + 4;
    pf_put_le32(t, 0);
    pf_put_le64(tail + TAIL_RAW_LEN, e->raw_bytes);
    pf_put_le64(tail + TAIL_PAYLOAD_LEN, e->payload_bytes);
    memcpy(tail + TAIL_RAW_HASH, s.raw_hash.b, 16);
    /* The stored hash covers the trailer up to its own field: hash that part first, then
     * send the whole trailer in one piece. */
    XXH3_128bits_update(e->stored_xxh, t, 4 + TAIL_STORED_HASH);
    hash_digest(e->stored_xxh, &s.stored_hash);
    memcpy(tail + TAIL_STORED_HASH, s.stored_hash.b, 16);
    memcpy(tail + TAIL_MAGIC, chunk_end_magic, 8);

    if (enc_sink(e, t, sizeof t, err, errlen) != 0)
        return -1;
    s.raw_bytes = e->raw_bytes;
    s.stored_bytes = e->stored_bytes;
    e->state = ENC_FINISHED;
    if (st)
        *st = s;
    return 0;
}

chunk_codec chunk_encoder_codec(const chunk_encoder *e)
{
    return e->codec;
}

void chunk_encoder_free(chunk_encoder *e)
{
    if (!e)
        return;
    if (e->cst)
        e->c->enc_free(e->cst);
    colsplit_enc_free(e->cols);
    XXH3_freeState(e->raw_xxh);
    XXH3_freeState(e->stored_xxh);
    free(e->blk);
    free(e);
}

/* ---------------------------------------------------------------- decoder */

enum { DEC_NEED_RESET, DEC_HEADER, DEC_BLEN, DEC_BDATA, DEC_TAIL, DEC_DONE, DEC_FINISHED, DEC_FAILED };

struct chunk_decoder {
    void *cst[CHUNK_MAX_CODECS]; /* per registered compressor, NULL for the identity */
    const compress_ops *c;       /* the chunk's, from its header */
    void *cur;                   /* its state */
    colsplit_dec *cols;          /* turns the output of a compressor with the column layout back into rows */
    XXH3_state_t *raw_xxh;
    XXH3_state_t *stored_xxh;
    uint8_t *out; /* decompressed output, delivered to the sink each time it fills */
    size_t outcap;
    chunk_sink_fn sink;
    void *sink_ctx;
    int state;
    chunk_codec codec;
    /* Header, block length or trailer bytes gathered across feeds. */
    uint8_t acc[CHUNK_TAIL_SIZE];
    size_t acc_len;
    uint32_t block_left;
    int frame_done;
    uint64_t raw_bytes;
    uint64_t stored_bytes;
    uint64_t payload_bytes;
    char errmsg[PF_ERRLEN];
};

__attribute__((format(printf, 4, 5)))
static int dec_fail(chunk_decoder *d, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record_err(d->errmsg, sizeof d->errmsg, err, errlen, fmt, ap);
    va_end(ap);
    d->state = DEC_FAILED;
    return -1;
}

chunk_decoder *chunk_decoder_new(char *err, size_t errlen)
{
    chunk_decoder *d = calloc(1, sizeof *d);
    if (!d) {
        pf_err(err, errlen, "chunk decoder: out of memory");
        return NULL;
    }
    d->state = DEC_NEED_RESET;
    d->raw_xxh = XXH3_createState();
    d->stored_xxh = XXH3_createState();
    if (!d->raw_xxh || !d->stored_xxh || !(d->cols = colsplit_dec_new()))
        goto oom;
    /* every compressor's state now, so that reading a chunk never allocates */
    const compress_ops *c;
    for (size_t i = 0; (c = compress_at(i)) != NULL && i < CHUNK_MAX_CODECS; i++) {
        if (!c->dec_new)
            continue;
        char why[PF_ERRLEN];
        if (!(d->cst[i] = c->dec_new(why, sizeof why))) {
            pf_err(err, errlen, "chunk decoder: %s setup failed: %s", compress_lib(c), why);
            chunk_decoder_free(d);
            return NULL;
        }
        if (c->dec_out_size() > d->outcap)
            d->outcap = c->dec_out_size();
    }
    if (d->outcap && !(d->out = malloc(d->outcap)))
        goto oom;
    return d;
oom:
    pf_err(err, errlen, "chunk decoder: out of memory");
    chunk_decoder_free(d);
    return NULL;
}

static int dec_cols_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen);

void chunk_decoder_reset(chunk_decoder *d, chunk_sink_fn sink, void *sink_ctx)
{
    d->sink = sink;
    d->sink_ctx = sink_ctx;
    d->state = DEC_HEADER;
    d->codec = CHUNK_CODEC_NONE;
    d->c = NULL;
    d->cur = NULL;
    d->acc_len = 0;
    d->block_left = 0;
    d->frame_done = 0;
    d->raw_bytes = d->stored_bytes = d->payload_bytes = 0;
    d->errmsg[0] = '\0';
    XXH3_128bits_reset(d->raw_xxh);
    XXH3_128bits_reset(d->stored_xxh);
    const compress_ops *c;
    for (size_t i = 0; (c = compress_at(i)) != NULL && i < CHUNK_MAX_CODECS; i++)
        if (d->cst[i])
            c->dec_reset(d->cst[i]);
    colsplit_dec_reset(d->cols, dec_cols_sink, d);
}

chunk_codec chunk_decoder_codec(const chunk_decoder *d)
{
    return d->codec;
}

static int dec_raw(chunk_decoder *d, const void *buf, size_t len, char *err, size_t errlen);

static int dec_cols_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    return dec_raw(ctx, buf, len, err, errlen);
}

/* The compressor's output: the raw bytes, or their column layout */
static int dec_deliver(chunk_decoder *d, const void *buf, size_t len, char *err, size_t errlen)
{
    if (!d->c || !d->c->columns)
        return dec_raw(d, buf, len, err, errlen);
    char m[PF_ERRLEN];
    if (colsplit_dec_feed(d->cols, buf, len, m, sizeof m) != 0)
        return d->state == DEC_FAILED ? pf_err(err, errlen, "%s", d->errmsg) : dec_fail(d, err, errlen, "%s", m);
    return 0;
}

static int dec_raw(chunk_decoder *d, const void *buf, size_t len, char *err, size_t errlen)
{
    XXH3_128bits_update(d->raw_xxh, buf, len);
    d->raw_bytes += len;
    if (!d->sink)
        return 0;
    d->errmsg[0] = '\0';
    if (d->sink(d->sink_ctx, buf, len, d->errmsg, sizeof d->errmsg) != 0) {
        if (!d->errmsg[0])
            snprintf(d->errmsg, sizeof d->errmsg, "chunk decoder: sink failed");
        d->state = DEC_FAILED;
        return pf_err(err, errlen, "%s", d->errmsg);
    }
    return 0;
}

static int dec_codec(chunk_decoder *d, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    const char *name = compress_lib(d->c);
    /* The encoder writes exactly one stream; a second one means the blocks were tampered with. */
    if (d->frame_done)
        return dec_fail(d, err, errlen, "chunk has data after the end of its %s frame (at byte %llu)", name,
                        (unsigned long long)d->stored_bytes);
    size_t inpos = 0;
    for (;;) {
        char why[PF_ERRLEN];
        size_t before = inpos, outpos = 0;
        int ended = 0;
        if (d->c->dec_run(d->cur, p, n, &inpos, d->out, d->outcap, &outpos, &ended, why, sizeof why) < 0)
            return dec_fail(d, err, errlen, "chunk %s data is corrupt: %s", name, why);
        if (outpos && dec_deliver(d, d->out, outpos, err, errlen) != 0)
            return -1;
        if (ended) {
            d->frame_done = 1;
            if (inpos < n)
                return dec_fail(d, err, errlen, "chunk has data after the end of its %s frame", name);
            return 0;
        }
        /* A full output buffer may hide more buffered output, so only stop when it is not full. */
        if (inpos == n && outpos < d->outcap)
            return 0;
        if (inpos == before && outpos == 0)
            return dec_fail(d, err, errlen, "chunk %s decoder made no progress", name);
    }
}

static int dec_header(chunk_decoder *d, char *err, size_t errlen)
{
    const uint8_t *h = d->acc;
    if (memcmp(h, chunk_magic, 8) != 0)
        return dec_fail(d, err, errlen, "not a pgferry chunk (bad header magic)");
    unsigned version = pf_get_le16(h + 8);
    if (version != CHUNK_FORMAT_VERSION)
        return dec_fail(d, err, errlen, "chunk format version %u is not supported (this build reads %u)",
                        version, (unsigned)CHUNK_FORMAT_VERSION);
    unsigned codec = pf_get_le16(h + 10);
    const compress_ops *c;
    size_t i;
    for (i = 0; (c = compress_at(i)) != NULL && c->id != codec; i++)
        ;
    if (!c || i >= CHUNK_MAX_CODECS)
        return dec_fail(d, err, errlen, "chunk has unknown codec %u", codec);
    d->codec = (chunk_codec)codec;
    d->c = c;
    d->cur = d->cst[i];
    return 0;
}

/* Copies up to `want - acc_len` bytes into acc; returns how many it took. */
static size_t dec_gather(chunk_decoder *d, const uint8_t *p, size_t n, size_t want)
{
    size_t take = want - d->acc_len;
    if (take > n)
        take = n;
    memcpy(d->acc + d->acc_len, p, take);
    d->acc_len += take;
    return take;
}

/* Each state's step takes bytes of p (len > 0) and returns how many, or -1. */

static long step_header(chunk_decoder *d, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    size_t took = dec_gather(d, p, len, CHUNK_HEADER_SIZE);
    XXH3_128bits_update(d->stored_xxh, p, took);
    if (d->acc_len == CHUNK_HEADER_SIZE) {
        if (dec_header(d, err, errlen) != 0)
            return -1;
        d->acc_len = 0;
        d->state = DEC_BLEN;
    }
    return (long)took;
}

/* A block's length word: 0 ends the blocks (the trailer follows). */
static long step_blen(chunk_decoder *d, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    size_t took = dec_gather(d, p, len, 4);
    XXH3_128bits_update(d->stored_xxh, p, took);
    if (d->acc_len < 4)
        return (long)took;
    uint32_t blen = pf_get_le32(d->acc);
    d->acc_len = 0;
    if (blen == 0) {
        if (d->cur && d->c->framed && !d->frame_done)
            return dec_fail(d, err, errlen, "chunk %s stream does not end where the blocks end (frame incomplete)",
                            compress_lib(d->c));
        d->state = DEC_TAIL;
    } else if (blen > CHUNK_MAX_BLOCK) {
        return dec_fail(d, err, errlen, "chunk block length %u exceeds the maximum %u (at byte %llu)", blen,
                        (unsigned)CHUNK_MAX_BLOCK, (unsigned long long)d->stored_bytes);
    } else {
        d->block_left = blen;
        d->state = DEC_BDATA;
    }
    return (long)took;
}

/* A block's bytes: through the decompressor, or delivered as they are. */
static long step_bdata(chunk_decoder *d, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    size_t took = len < d->block_left ? len : d->block_left;
    XXH3_128bits_update(d->stored_xxh, p, took);
    d->payload_bytes += took;
    d->block_left -= (uint32_t)took;
    if (d->block_left == 0)
        d->state = DEC_BLEN;
    int rc = d->cur ? dec_codec(d, p, took, err, errlen) : dec_deliver(d, p, took, err, errlen);
    return rc != 0 ? -1 : (long)took;
}

static long step_tail(chunk_decoder *d, const uint8_t *p, size_t len)
{
    size_t at = d->acc_len;
    size_t took = dec_gather(d, p, len, CHUNK_TAIL_SIZE);
    /* Only the bytes before the stored hash field are covered by it. */
    if (at < TAIL_STORED_HASH) {
        size_t h = TAIL_STORED_HASH - at;
        XXH3_128bits_update(d->stored_xxh, p, h < took ? h : took);
    }
    if (d->acc_len == CHUNK_TAIL_SIZE)
        d->state = DEC_DONE;
    return (long)took;
}

int chunk_decoder_feed(chunk_decoder *d, const void *data, size_t len, char *err, size_t errlen)
{
    switch (d->state) {
    case DEC_NEED_RESET: return pf_err(err, errlen, "chunk decoder used before chunk_decoder_reset");
    case DEC_FAILED: return pf_err(err, errlen, "%s", d->errmsg);
    case DEC_FINISHED: return pf_err(err, errlen, "chunk decoder already finished; reset it first");
    default: break;
    }
    const uint8_t *p = data;
    while (len > 0) {
        long took;
        switch (d->state) {
        case DEC_HEADER: took = step_header(d, p, len, err, errlen); break;
        case DEC_BLEN: took = step_blen(d, p, len, err, errlen); break;
        case DEC_BDATA: took = step_bdata(d, p, len, err, errlen); break;
        case DEC_TAIL: took = step_tail(d, p, len); break;
        case DEC_DONE:
            return dec_fail(d, err, errlen, "trailing data after chunk trailer (at byte %llu)",
                            (unsigned long long)d->stored_bytes);
        default: return dec_fail(d, err, errlen, "chunk decoder in an impossible state");
        }
        if (took < 0)
            return -1;
        d->stored_bytes += (size_t)took;
        p += took;
        len -= (size_t)took;
    }
    return 0;
}

int chunk_decoder_finish(chunk_decoder *d, chunk_stats *st, char *err, size_t errlen)
{
    switch (d->state) {
    case DEC_NEED_RESET: return pf_err(err, errlen, "chunk decoder used before chunk_decoder_reset");
    case DEC_FAILED: return pf_err(err, errlen, "%s", d->errmsg);
    case DEC_FINISHED: return pf_err(err, errlen, "chunk decoder already finished; reset it first");
    case DEC_DONE: break;
    default: {
        static const char *where[] = {
            [DEC_HEADER] = "header", [DEC_BLEN] = "block length", [DEC_BDATA] = "block data",
            [DEC_TAIL] = "trailer"};
        return dec_fail(d, err, errlen, "truncated chunk: stream ends inside the %s after %llu bytes",
                        where[d->state], (unsigned long long)d->stored_bytes);
    }
    }
    const uint8_t *tail = d->acc;
    chunk_stats s;
    hash_digest(d->raw_xxh, &s.raw_hash);
    hash_digest(d->stored_xxh, &s.stored_hash);
    s.raw_bytes = d->raw_bytes;
    s.stored_bytes = d->stored_bytes;
    char want[33], got[33];

    if (memcmp(tail + TAIL_MAGIC, chunk_end_magic, 8) != 0)
        return dec_fail(d, err, errlen, "chunk trailer magic is wrong (not a complete pgferry chunk)");
    /* Stored hash first: if the file itself is damaged, that is the diagnosis that matters,
     * and the length/raw checks below would only describe symptoms of it. */
    if (memcmp(tail + TAIL_STORED_HASH, s.stored_hash.b, 16) != 0) {
        pf_hex(tail + TAIL_STORED_HASH, 16, want);
        chunk_hash_hex(&s.stored_hash, got);
        return dec_fail(d, err, errlen, "chunk stored hash mismatch (trailer %s, file %s)", want, got);
    }
    char m[PF_ERRLEN];
    if (d->c && d->c->columns && colsplit_dec_finish(d->cols, m, sizeof m) != 0)
        return d->state == DEC_FAILED ? pf_err(err, errlen, "%s", d->errmsg) : dec_fail(d, err, errlen, "%s", m);
    uint64_t payload = pf_get_le64(tail + TAIL_PAYLOAD_LEN);
    if (payload != d->payload_bytes)
        return dec_fail(d, err, errlen, "chunk payload length mismatch (trailer %llu, blocks %llu)",
                        (unsigned long long)payload, (unsigned long long)d->payload_bytes);
    uint64_t raw = pf_get_le64(tail + TAIL_RAW_LEN);
    if (raw != d->raw_bytes)
        return dec_fail(d, err, errlen, "chunk raw length mismatch (trailer %llu, decoded %llu)",
                        (unsigned long long)raw, (unsigned long long)d->raw_bytes);
    if (memcmp(tail + TAIL_RAW_HASH, s.raw_hash.b, 16) != 0) {
        pf_hex(tail + TAIL_RAW_HASH, 16, want);
        chunk_hash_hex(&s.raw_hash, got);
        return dec_fail(d, err, errlen, "chunk raw hash mismatch (trailer %s, decoded %s)", want, got);
    }
    d->state = DEC_FINISHED;
    if (st)
        *st = s;
    return 0;
}

void chunk_decoder_free(chunk_decoder *d)
{
    if (!d)
        return;
    const compress_ops *c;
    for (size_t i = 0; (c = compress_at(i)) != NULL && i < CHUNK_MAX_CODECS; i++)
        if (d->cst[i])
            c->dec_free(d->cst[i]);
    colsplit_dec_free(d->cols);
    XXH3_freeState(d->raw_xxh);
    XXH3_freeState(d->stored_xxh);
    free(d->out);
    free(d);
}
