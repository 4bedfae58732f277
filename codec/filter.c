/* filter: the chain and its filters (see filter.h). */
#include "codec/filter.h"

#include "codec/hasher.h"
#include "common/pf_util.h"

#include <stdlib.h>
#include <string.h>

filter *filter_chain(filter **filters, size_t n)
{
    filter *head = NULL, *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!filters[i])
            continue;
        filters[i]->next = NULL;
        if (prev)
            prev->next = filters[i];
        else
            head = filters[i];
        prev = filters[i];
    }
    return head;
}

int filter_write(filter *f, const void *buf, size_t len, char *err, size_t errlen)
{
    return f ? f->ops->write(f, buf, len, err, errlen) : 0;
}

int filter_pass(filter *f, const void *buf, size_t len, char *err, size_t errlen)
{
    return filter_write(f->next, buf, len, err, errlen);
}

int filter_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    return filter_write(ctx, buf, len, err, errlen);
}

int filter_chain_end(filter *head, char *err, size_t errlen)
{
    for (filter *f = head; f; f = f->next)
        if (f->ops->end && f->ops->end(f, err, errlen) < 0)
            return -1;
    return 0;
}

void filter_chain_reset(filter *head)
{
    for (filter *f = head; f; f = f->next)
        if (f->ops->reset)
            f->ops->reset(f);
}

void filter_chain_free(filter *head)
{
    while (head) {
        filter *next = head->next;
        head->ops->free(head);
        head = next;
    }
}

static void *filter_alloc(size_t size, const filter_ops *ops, char *err, size_t errlen)
{
    filter *f = calloc(1, size);
    if (!f) {
        pf_err(err, errlen, "%s filter: out of memory", ops->name);
        return NULL;
    }
    f->ops = ops;
    return f;
}

/* ---- chunk ------------------------------------------------------------------------------ */

typedef struct {
    filter base;
    chunk_encoder *enc;
    chunk_stats st;
} chunk_filter;

static int chunk_write(filter *f, const void *buf, size_t len, char *err, size_t errlen)
{
    return chunk_encoder_write(((chunk_filter *)f)->enc, buf, len, err, errlen);
}

static int chunk_end(filter *f, char *err, size_t errlen)
{
    chunk_filter *c = (chunk_filter *)f;
    return chunk_encoder_finish(c->enc, &c->st, err, errlen);
}

static void chunk_reset(filter *f)
{
    chunk_filter *c = (chunk_filter *)f;
    memset(&c->st, 0, sizeof c->st);
    /* what the encoder emits goes down the chain, wherever the chain now leads */
    chunk_encoder_reset(c->enc, filter_sink, f->next);
}

static void chunk_free(filter *f)
{
    chunk_encoder_free(((chunk_filter *)f)->enc);
    free(f);
}

static const filter_ops chunk_ops = {"chunk", chunk_write, chunk_end, chunk_reset, chunk_free};

filter *filter_chunk_new(chunk_codec codec, int level, char *err, size_t errlen)
{
    chunk_filter *c = filter_alloc(sizeof *c, &chunk_ops, err, errlen);
    if (c && !(c->enc = chunk_encoder_new(codec, level, err, errlen))) {
        free(c);
        return NULL;
    }
    return c ? &c->base : NULL;
}

void filter_chunk_stats(const filter *f, chunk_stats *st)
{
    *st = ((const chunk_filter *)f)->st;
}

chunk_codec filter_chunk_codec(const filter *f)
{
    return chunk_encoder_codec(((const chunk_filter *)f)->enc);
}

/* ---- encrypt ---------------------------------------------------------------------------- */

typedef struct {
    filter base;
    cipher_stream *cs;
} encrypt_filter;

static int encrypt_write(filter *f, const void *buf, size_t len, char *err, size_t errlen)
{
    return cipher_encrypt_sink(((encrypt_filter *)f)->cs, buf, len, err, errlen);
}

static int encrypt_end(filter *f, char *err, size_t errlen)
{
    return cipher_encrypt_end(((encrypt_filter *)f)->cs, err, errlen);
}

static void encrypt_free(filter *f)
{
    cipher_stream_free(((encrypt_filter *)f)->cs);
    free(f);
}

static const filter_ops encrypt_ops = {"encrypt", encrypt_write, encrypt_end, NULL, encrypt_free};

filter *filter_encrypt_new(char *err, size_t errlen)
{
    encrypt_filter *e = filter_alloc(sizeof *e, &encrypt_ops, err, errlen);
    if (e && !(e->cs = cipher_stream_new(err, errlen))) {
        free(e);
        return NULL;
    }
    return e ? &e->base : NULL;
}

int filter_encrypt_begin(filter *f, const cipher_key *key, const char *aad, char *err, size_t errlen)
{
    return cipher_encrypt_begin(((encrypt_filter *)f)->cs, key, aad, filter_sink, f->next, err, errlen);
}

/* ---- hash ------------------------------------------------------------------------------- */

typedef struct {
    filter base;
    chunk_hasher *h;
    uint64_t bytes;
} hash_filter;

static int hash_write(filter *f, const void *buf, size_t len, char *err, size_t errlen)
{
    hash_filter *h = (hash_filter *)f;
    chunk_hasher_update(h->h, buf, len);
    h->bytes += len;
    return filter_pass(f, buf, len, err, errlen);
}

static void hash_reset(filter *f)
{
    hash_filter *h = (hash_filter *)f;
    chunk_hasher_reset(h->h);
    h->bytes = 0;
}

static void hash_free(filter *f)
{
    chunk_hasher_free(((hash_filter *)f)->h);
    free(f);
}

static const filter_ops hash_ops = {"hash", hash_write, NULL, hash_reset, hash_free};

filter *filter_hash_new(char *err, size_t errlen)
{
    hash_filter *h = filter_alloc(sizeof *h, &hash_ops, err, errlen);
    if (h && !(h->h = chunk_hasher_new())) {
        free(h);
        pf_err(err, errlen, "hash filter: out of memory");
        return NULL;
    }
    return h ? &h->base : NULL;
}

void filter_hash_result(const filter *f, uint64_t *bytes, chunk_hash *hash)
{
    const hash_filter *h = (const hash_filter *)f;
    *bytes = h->bytes;
    *hash = chunk_hasher_digest(h->h);
}

/* ---- buffer ----------------------------------------------------------------------------- */

typedef struct {
    filter base;
    uint8_t *buf;
    size_t size, used;
} buffer_filter;

static int buffer_write(filter *f, const void *data, size_t len, char *err, size_t errlen)
{
    buffer_filter *b = (buffer_filter *)f;
    if (b->used + len > b->size && b->used > 0) {
        if (filter_pass(f, b->buf, b->used, err, errlen) < 0)
            return -1;
        b->used = 0;
    }
    if (len > b->size)
        return filter_pass(f, data, len, err, errlen);
    memcpy(b->buf + b->used, data, len);
    b->used += len;
    return 0;
}

static int buffer_end(filter *f, char *err, size_t errlen)
{
    buffer_filter *b = (buffer_filter *)f;
    size_t n = b->used;
    b->used = 0;
    return n ? filter_pass(f, b->buf, n, err, errlen) : 0;
}

static void buffer_reset(filter *f)
{
    ((buffer_filter *)f)->used = 0;
}

static void buffer_free(filter *f)
{
    free(((buffer_filter *)f)->buf);
    free(f);
}

static const filter_ops buffer_ops = {"buffer", buffer_write, buffer_end, buffer_reset, buffer_free};

filter *filter_buffer_new(size_t size, char *err, size_t errlen)
{
    buffer_filter *b = filter_alloc(sizeof *b, &buffer_ops, err, errlen);
    if (b && !(b->buf = malloc(size))) {
        free(b);
        pf_err(err, errlen, "buffer filter: out of memory");
        return NULL;
    }
    if (b)
        b->size = size;
    return b ? &b->base : NULL;
}

/* ---- sink ------------------------------------------------------------------------------- */

typedef struct {
    filter base;
    chunk_sink_fn fn;
    void *ctx;
} sink_filter;

static int sink_write(filter *f, const void *buf, size_t len, char *err, size_t errlen)
{
    sink_filter *s = (sink_filter *)f;
    return s->fn ? s->fn(s->ctx, buf, len, err, errlen) : 0;
}

static void sink_free(filter *f)
{
    free(f);
}

static const filter_ops sink_ops = {"sink", sink_write, NULL, NULL, sink_free};

filter *filter_sink_new(char *err, size_t errlen)
{
    sink_filter *s = filter_alloc(sizeof *s, &sink_ops, err, errlen);
    return s ? &s->base : NULL;
}

void filter_sink_set(filter *f, chunk_sink_fn fn, void *ctx)
{
    sink_filter *s = (sink_filter *)f;
    s->fn = fn;
    s->ctx = ctx;
}
