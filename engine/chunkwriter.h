/* chunkwriter: writes one file of a dump the way the dump needs it, the mirror of
 * chunkfile.c (the read side):
 *
 *   bytes -> [buffer -> chunk encoder (compress, raw xxh3-128, framing)]   chunk files only
 *         -> [AES-256-GCM]                                                encrypted dumps
 *         -> xxh3-128 and size as stored (the manifest's stored hash)
 *         -> the store's atomic writer
 *
 * One filter chain (codec/filter.h), built once and reused from file to file: a worker
 * keeps one for its chunks, the schema archive and small files (globals.json) use one of
 * their own kind. Nothing is visible in the store until chunkwriter_commit(). */
#ifndef PF_CHUNKWRITER_H
#define PF_CHUNKWRITER_H

#include "codec/chunk.h"
#include "engine/manifest.h"
#include "io/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct chunkwriter chunkwriter;

typedef struct {
    uint64_t stored_bytes;   /* the file as stored */
    chunk_hash stored_hash;  /* xxh3-128 of it */
    chunk_stats st;          /* chunk files: the encoder's figures (raw bytes and hash) */
    chunk_codec codec;       /* chunk files: the codec in the file's header */
} chunkwriter_result;

/* m gives the key and the files' identity when the dump is encrypted (m->encrypted). */
chunkwriter *chunkwriter_new_chunks(const manifest *m, chunk_codec codec, int level, char *err, size_t errlen);
chunkwriter *chunkwriter_new_files(const manifest *m, char *err, size_t errlen);
void chunkwriter_free(chunkwriter *cw);

/* Starts the file `name` in st (store_flags: STORE_W_*). */
int chunkwriter_open(chunkwriter *cw, pf_store *st, const char *name, unsigned store_flags, char *err,
                     size_t errlen);
int chunkwriter_write(chunkwriter *cw, const void *data, size_t len, char *err, size_t errlen);
/* Ends the chain and commits the file; fills res. The file is dropped on failure. */
int chunkwriter_commit(chunkwriter *cw, chunkwriter_result *res, char *err, size_t errlen);
/* Drops the file being written (nothing when none is). */
void chunkwriter_abort(chunkwriter *cw);
/* 1 when the last file's writer kept several writes in flight (io_uring). */
int chunkwriter_async(const chunkwriter *cw);

/* A whole small file, written durably. */
int chunkwriter_write_file(chunkwriter *cw, pf_store *st, const char *name, const void *data, size_t len,
                           chunkwriter_result *res, char *err, size_t errlen);

#endif
