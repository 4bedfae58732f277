/* filter: stages of one byte stream, stacked (as pgBackRest's IoFilter): each filter takes
 * bytes, does its work and passes what it produces to the next; the last one hands them to
 * a sink (a store writer, a buffer). Ending a chain flushes each filter in order, so what a
 * filter holds back (a compressor's last block, a cipher's tag) reaches the next before it
 * ends in turn.
 *
 *   write side of a dump file:  [chunk: compress + frame] -> [encrypt] -> [hash + count] -> sink
 *
 * (the read side is chunkfile.c: hash -> decrypt -> chunk decoder). A chain is reused from
 * file to file: filter_chain_reset() starts it again without allocating. */
#ifndef PF_FILTER_H
#define PF_FILTER_H

#include "codec/chunk.h"
#include "codec/cipher.h"

#include <stddef.h>
#include <stdint.h>

typedef struct filter filter;

typedef struct {
    const char *name;
    /* takes bytes, passes what it makes on with filter_pass() */
    int (*write)(filter *f, const void *buf, size_t len, char *err, size_t errlen);
    /* flushes what it holds back (NULL: nothing held) */
    int (*end)(filter *f, char *err, size_t errlen);
    /* starts a new stream (NULL: stateless) */
    void (*reset)(filter *f);
    void (*free)(filter *f);
} filter_ops;

struct filter {
    const filter_ops *ops;
    filter *next;
};

/* Links filters[0] -> filters[1] -> ... (NULL entries are skipped) and returns the head. */
filter *filter_chain(filter **filters, size_t n);
/* Writes into a chain (f may be NULL: the bytes are dropped). */
int filter_write(filter *f, const void *buf, size_t len, char *err, size_t errlen);
/* What a filter hands to the next one. */
int filter_pass(filter *f, const void *buf, size_t len, char *err, size_t errlen);
/* Ends every filter of the chain, head first. */
int filter_chain_end(filter *head, char *err, size_t errlen);
void filter_chain_reset(filter *head);
/* Frees every filter of the chain. */
void filter_chain_free(filter *head);
/* A chunk_sink_fn that writes into the chain ctx (a filter *). */
int filter_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen);

/* ---- the filters ------------------------------------------------------------------------ */

/* The chunk stream (chunk.h): compression, raw xxh3-128, framing. Its figures after end. */
filter *filter_chunk_new(chunk_codec codec, int level, char *err, size_t errlen);
void filter_chunk_stats(const filter *f, chunk_stats *st);
chunk_codec filter_chunk_codec(const filter *f);

/* AES-256-GCM segments (cipher.h) under key with associated data aad, both set per stream
 * with filter_encrypt_begin() before the first write. */
filter *filter_encrypt_new(char *err, size_t errlen);
int filter_encrypt_begin(filter *f, const cipher_key *key, const char *aad, char *err, size_t errlen);

/* xxh3-128 and count of the bytes as they pass (what the manifest calls "stored"). */
filter *filter_hash_new(char *err, size_t errlen);
void filter_hash_result(const filter *f, uint64_t *bytes, chunk_hash *hash);

/* Gathers small writes into buffers of `size` bytes before passing them on (COPY rows are
 * small; compressors and hashes run faster over large buffers). */
filter *filter_buffer_new(size_t size, char *err, size_t errlen);

/* The end of a chain: hands every byte to fn(ctx) (set per stream; NULL fn drops them). */
filter *filter_sink_new(char *err, size_t errlen);
void filter_sink_set(filter *f, chunk_sink_fn fn, void *ctx);

#endif
