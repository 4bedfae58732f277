/* compress: the compressors a chunk can use, in one registry. A compressor is a name, the
 * id its chunks carry in their header (chunk.h; never reused), the levels a user may ask
 * for, and streaming encode/decode functions over caller-provided buffers. chunk.c frames
 * whatever a compressor produces; it never names one.
 *
 * Adding a compressor (lz4, say) is one file with one compress_ops (compress_lz4.c) and
 * one line in compress.c's table. "none" is the identity and has no functions. */
#ifndef PF_COMPRESS_H
#define PF_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;        /* "zstd": --compress NAME[:LEVEL], the manifest's "compression" */
    uint16_t id;             /* in every chunk header */
    int has_levels;          /* --compress NAME:LEVEL is accepted */
    int user_min, user_max;  /* levels a user may give (0 never: it means "default" to zstd) */
    int default_level;
    /* the stream must end exactly where the chunk's blocks end (a frame with an end) */
    int framed;
    /* binary COPY rows go through the column layout (codec/colsplit.h) before it */
    int columns;
    /* chosen by another option than --compress NAME (zstd+columns: --layout) */
    int internal;
    /* the library, for messages ("chunk zstd data is corrupt"); NULL: the name */
    const char *lib;
    /* encoder: all NULL for the identity */
    int (*enc_levels)(int *min, int *max); /* what enc_new accepts */
    void *(*enc_new)(int level, char *err, size_t errlen);
    void (*enc_reset)(void *st);
    /* Moves input to output. end = 0: returns once all input is taken or out is full.
     * end = 1: flushes and closes the stream; *done = 1 once it is closed (call again
     * with more output room until then). err gets the library's reason only. */
    int (*enc_run)(void *st, const uint8_t *in, size_t inlen, size_t *inpos, uint8_t *out, size_t outcap,
                   size_t *outpos, int end, int *done, char *err, size_t errlen);
    void (*enc_free)(void *st);
    /* decoder: all NULL for the identity */
    void *(*dec_new)(char *err, size_t errlen);
    void (*dec_reset)(void *st);
    /* Moves input to output; *ended = 1 when the stream's end was decoded. */
    int (*dec_run)(void *st, const uint8_t *in, size_t inlen, size_t *inpos, uint8_t *out, size_t outcap,
                   size_t *outpos, int *ended, char *err, size_t errlen);
    size_t (*dec_out_size)(void); /* a good output buffer size */
    void (*dec_free)(void *st);
} compress_ops;

/* By name (case-insensitive) or by header id; NULL when unknown. */
const compress_ops *compress_find(const char *name);
const compress_ops *compress_by_id(unsigned id);
/* The i-th registered compressor (0..), NULL past the end. */
const compress_ops *compress_at(size_t i);

/* "zstd", "zstd:LEVEL", "none": the compressor and level, or -1 when the name is unknown
 * or internal, a level is given to one without levels, or the level is outside its user
 * range. */
int compress_parse(const char *spec, const compress_ops **out, int *level);

/* The library's name for messages. */
const char *compress_lib(const compress_ops *c);
/* The same compressor with the column layout in front (zstd -> zstd+columns), or NULL. */
const compress_ops *compress_with_columns(const compress_ops *c);

extern const compress_ops compress_none_ops;
extern const compress_ops compress_zstd_ops;
extern const compress_ops compress_zstd_columns_ops;

#endif
