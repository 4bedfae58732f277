/* chunk: the on-disk stream of one chunk (one COPY range of one table).
 *
 * A chunk file is
 *
 *   header   "PGFCHNK\0" magic (8) | format version u16 | codec u16 | level i32      (16 bytes)
 *   blocks   repeated: u32 length (1..CHUNK_MAX_BLOCK) | length bytes of codec output
 *   end      u32 0
 *   trailer  raw length u64 | payload length u64 | raw xxh3-128 (16) | stored xxh3-128 (16)
 *            | "PGFEND\0\0" magic (8)
 *
 * All integers little-endian; hashes in XXH128 canonical (big-endian) byte order.
 * "payload length" counts the bytes of all blocks' data. "raw" is the bytes given to the
 * encoder (COPY output); "stored hash" covers every byte of the file before the stored
 * hash field itself, so a file can be checked without decoding, and any change to the
 * header, the blocks, the lengths or the raw hash is detected. Bytes after the trailer,
 * a missing trailer, a zstd stream that does not end where the blocks end, or a length
 * that disagrees are all errors. Memory is bounded (one block plus zstd's window)
 * whatever the chunk size.
 *
 * The encoder pushes stored bytes to a sink; the decoder takes stored bytes in pieces
 * of any size and pushes raw bytes to a sink. Raw bytes reach the decoder's sink before
 * the trailer is checked: callers must treat them as provisional until
 * chunk_decoder_finish() returns 0 (restore aborts its COPY otherwise). */
#ifndef PF_CHUNK_H
#define PF_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#define CHUNK_FORMAT_VERSION 1
#define CHUNK_HEADER_SIZE 16
#define CHUNK_TRAILER_SIZE (4 + 8 + 8 + 16 + 16 + 8)
#define CHUNK_MAX_BLOCK (4u << 20) /* largest block length a decoder accepts */

/* The codec in a chunk's header: how the raw COPY bytes became the blocks' bytes; the ids
 * of codec/compress.c's registry, which holds them all (named here for callers and tests).
 * ZSTD_COLUMNS is zstd over the column layout of codec/colsplit.h (binary COPY). */
typedef enum { CHUNK_CODEC_NONE = 0, CHUNK_CODEC_ZSTD = 1, CHUNK_CODEC_ZSTD_COLUMNS = 2 } chunk_codec;

/* xxh3-128 in canonical byte order (what files and the manifest hold). */
typedef struct { uint8_t b[16]; } chunk_hash;

typedef struct {
    uint64_t raw_bytes;     /* bytes given to the encoder / produced by the decoder */
    uint64_t stored_bytes;  /* whole file size: header + blocks + trailer */
    chunk_hash raw_hash;    /* xxh3-128 of the raw bytes */
    chunk_hash stored_hash; /* xxh3-128 of the file up to the stored hash field */
} chunk_stats;

/* Sinks return 0, or -1 after filling err. Where a sink is passed, NULL means "discard"
 * (sizes and hashes are still computed, e.g. for verify). */
typedef int (*chunk_sink_fn)(void *ctx, const void *buf, size_t len, char *err, size_t errlen);

/* A registered compressor's name ("none", "zstd", "zstd+columns") <-> its id. 0 or -1. */
int chunk_codec_parse(const char *name, chunk_codec *out);
const char *chunk_codec_name(chunk_codec c);

/* Hex form of a hash (33 bytes) and back. */
void chunk_hash_hex(const chunk_hash *h, char out[33]);
int chunk_hash_from_hex(const char *hex, chunk_hash *out);
int chunk_hash_equal(const chunk_hash *a, const chunk_hash *b);

typedef struct chunk_encoder chunk_encoder;

/* level: the compressor's level (zstd: 1..19, negative for fast levels; anything
 * ZSTD_minCLevel() .. ZSTD_maxCLevel() is accepted), ignored without levels (stored as 0).
 * Returns NULL and fills err on failure. All buffers are allocated here; the header is
 * emitted on the first write or at finish, so an encoder can be reset and reused without
 * allocating again. Call chunk_encoder_reset() before the first chunk. */
chunk_encoder *chunk_encoder_new(chunk_codec codec, int level, char *err, size_t errlen);
chunk_codec chunk_encoder_codec(const chunk_encoder *e);
/* Starts a new chunk writing to sink, discarding any unfinished or failed one. */
void chunk_encoder_reset(chunk_encoder *e, chunk_sink_fn sink, void *sink_ctx);
int chunk_encoder_write(chunk_encoder *e, const void *data, size_t len, char *err, size_t errlen);
/* Flushes everything, writes end marker and trailer, fills *st (may be NULL). Once per
 * chunk. Errors (including the sink's) are final until the next reset. */
int chunk_encoder_finish(chunk_encoder *e, chunk_stats *st, char *err, size_t errlen);
void chunk_encoder_free(chunk_encoder *e);

typedef struct chunk_decoder chunk_decoder;

/* Refuses zstd frames whose window exceeds 2^27 bytes, so memory stays bounded on any input. */
chunk_decoder *chunk_decoder_new(char *err, size_t errlen);
/* Starts a new chunk (call before the first one too), discarding any previous state. */
void chunk_decoder_reset(chunk_decoder *d, chunk_sink_fn sink, void *sink_ctx);
/* Feeds stored bytes (any piece size). Errors are final for this chunk: later feed and
 * finish calls return -1 with the same message. */
int chunk_decoder_feed(chunk_decoder *d, const void *data, size_t len, char *err, size_t errlen);
/* Checks that the stream ended exactly after a valid trailer whose lengths and hashes match
 * what was decoded; fills *st (may be NULL). */
int chunk_decoder_finish(chunk_decoder *d, chunk_stats *st, char *err, size_t errlen);
void chunk_decoder_free(chunk_decoder *d);

/* Codec the decoder found in the header (valid after the header was fed; NONE before). */
chunk_codec chunk_decoder_codec(const chunk_decoder *d);

#endif
