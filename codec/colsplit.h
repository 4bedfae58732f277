/* colsplit: a reversible column-wise layout of binary COPY data, applied before zstd.
 *
 * Binary COPY interleaves the fields of each row: an int16 field count, then for each
 * field an int32 length (-1 for NULL) and its bytes. A compressor sees an id, a
 * timestamp, a name, an amount, the next id, ...: the values that resemble each other
 * are far apart, and the 4-byte lengths repeat in between. colsplit cuts the stream into
 * blocks of whole rows (about COLSPLIT_BLOCK bytes) and writes each block column by
 * column: a column's lengths together, then its values together. Columns whose values
 * all have the same width of 2, 4 or 8 bytes (integers, dates, timestamps, floats) are
 * stored byte plane by byte plane (all first bytes, then all second bytes, ...), either
 * as they are or as the zigzag difference from the previous row's value (ids, sequences
 * and timestamps that grow become runs of small numbers), whichever leaves more zero
 * bytes. This is a pure byte transform: it knows nothing of types, and decoding gives
 * back exactly the bytes that were encoded, whatever they were.
 *
 * The transformed stream is a sequence of frames, each [kind u8][body length varint][body]:
 *   kind 1, raw:     the body is stream bytes as they are (the COPY header, the trailer,
 *                    a row larger than a block, or anything that is not binary COPY);
 *   kind 2, columns: varint rows (>= 1), varint fields, then per field: u8 transform
 *                    (0 bytes as they are, 1 byte planes, 2 byte planes of zigzag
 *                    differences), u8 width (transforms 1 and 2), varint length-stream
 *                    size, the lengths (one varint per row: 0 = NULL, else length + 1),
 *                    varint value-stream size, the values.
 * The decoder checks every count and size against the frame and fails on the first
 * inconsistency; its memory is bounded by the largest frame (COLSPLIT_FRAME_MAX). */
#ifndef PF_COLSPLIT_H
#define PF_COLSPLIT_H

#include <stddef.h>
#include <stdint.h>

#define COLSPLIT_BLOCK (1u << 20)        /* rows are gathered into blocks of about this many bytes */
#define COLSPLIT_FRAME_MAX (64u << 20)   /* largest frame body a decoder accepts */

/* Receives the encoder's frames or the decoder's raw bytes; returns 0, or -1 after filling err. */
typedef int (*colsplit_sink_fn)(void *ctx, const void *buf, size_t len, char *err, size_t errlen);

typedef struct colsplit_enc colsplit_enc;
colsplit_enc *colsplit_enc_new(void); /* NULL when out of memory */
void colsplit_enc_reset(colsplit_enc *e, colsplit_sink_fn sink, void *ctx);
int colsplit_enc_write(colsplit_enc *e, const void *data, size_t len, char *err, size_t errlen);
int colsplit_enc_finish(colsplit_enc *e, char *err, size_t errlen);
void colsplit_enc_free(colsplit_enc *e);

typedef struct colsplit_dec colsplit_dec;
colsplit_dec *colsplit_dec_new(void);
void colsplit_dec_reset(colsplit_dec *d, colsplit_sink_fn sink, void *ctx);
int colsplit_dec_feed(colsplit_dec *d, const void *data, size_t len, char *err, size_t errlen);
/* Fails when the stream ends inside a frame. */
int colsplit_dec_finish(colsplit_dec *d, char *err, size_t errlen);
void colsplit_dec_free(colsplit_dec *d);

#endif
