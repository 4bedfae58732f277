/* copyrows: splits a PostgreSQL COPY stream (text or binary format) into rows, and the
 * order-independent content hash built from them.
 *
 * The same splitter runs on the dump side (over what the server sends) and on every
 * later check (over decoded chunk files, or a live database's COPY output), so a row is
 * hashed from the same bytes wherever it is seen:
 *   text:   one line, without its terminating newline;
 *   binary: one tuple, from its field count through its last field (the file header and
 *           the -1 trailer are not rows).
 * The content hash of a set of rows is the sum modulo 2^128 of each row's xxh3-128: it
 * does not depend on row order or on how rows are split into chunks, and (unlike XOR)
 * duplicate rows do not cancel out. */
#ifndef PF_COPYROWS_H
#define PF_COPYROWS_H

#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t hi, lo; } rowhash;

void rowhash_add_row(rowhash *acc, const void *row, size_t len);
void rowhash_add(rowhash *acc, const rowhash *other);
int rowhash_equal(const rowhash *a, const rowhash *b);
void rowhash_hex(const rowhash *h, char out[33]);
int rowhash_from_hex(const char *hex, rowhash *out);

typedef enum { COPYROWS_TEXT = 0, COPYROWS_BINARY = 1 } copyrows_format;

typedef struct copyrows copyrows;

copyrows *copyrows_new(copyrows_format fmt);
void copyrows_reset(copyrows *p);
/* Feeds a piece of the stream (any size). Returns 0, or -1 with err on a malformed stream. */
int copyrows_feed(copyrows *p, const void *data, size_t len, char *err, size_t errlen);
/* Checks the stream ended on a row boundary (binary: after its trailer). */
int copyrows_finish(copyrows *p, char *err, size_t errlen);
uint64_t copyrows_rows(const copyrows *p);
rowhash copyrows_hash(const copyrows *p);
void copyrows_free(copyrows *p);

#endif
