/* diffrow: the row-level pieces of `pgferry diff` (engine/diff.h), kept apart so they can
 * be unit-tested without a database:
 *   - a streaming splitter that cuts a COPY stream (text or binary format), fed in pieces
 *     of any size, into rows and hands each whole row to a callback;
 *   - a field splitter over one row (offsets into the row, NULLs marked);
 *   - the text COPY format's unescaping (a field's bytes -> the value's text form);
 *   - SQL literals from a value's text form, safe whatever standard_conforming_strings is.
 *
 * Rows are compared as the bytes COPY produced: text format, one line without its newline
 * (fields still escaped); binary format, one tuple from its field count through its last
 * field. The same value gives the same bytes on both sides of a diff because both are
 * produced by the same server code under the same session settings (engine/pgconn.c). */
#ifndef PF_DIFFROW_H
#define PF_DIFFROW_H

#include "codec/copyrows.h"

#include <stddef.h>
#include <stdint.h>

/* ---- streaming row splitter ------------------------------------------------------------ */

/* Called with each whole row; returns 0, or -1 after filling err (stops the feed). */
typedef int (*diffrow_fn)(void *ctx, const uint8_t *row, size_t len, char *err, size_t errlen);

typedef struct diffrow_splitter diffrow_splitter;

diffrow_splitter *diffrow_splitter_new(copyrows_format fmt, diffrow_fn fn, void *ctx);
/* Forgets any partial row and the binary header state (a new stream follows). */
void diffrow_splitter_reset(diffrow_splitter *s);
int diffrow_splitter_feed(diffrow_splitter *s, const void *data, size_t len, char *err, size_t errlen);
/* The stream ended: -1 with err when it stopped inside a row (or header). */
int diffrow_splitter_finish(diffrow_splitter *s, char *err, size_t errlen);
void diffrow_splitter_free(diffrow_splitter *s);

/* ---- fields of one row ----------------------------------------------------------------- */

typedef struct {
    uint32_t off;   /* into the row */
    int32_t len;    /* -1: NULL */
} diffrow_field;

/* Splits a row into exactly ncols fields. text: tab-separated, "\N" alone is NULL; binary:
 * the field count must be ncols. Returns 0, or -1 with err. */
int diffrow_fields(copyrows_format fmt, const uint8_t *row, size_t len, size_t ncols, diffrow_field *out,
                   char *err, size_t errlen);

/* ---- text values and SQL literals ------------------------------------------------------ */

/* Decodes a text COPY field (not "\N") into out (which needs len + 1 bytes; the result is
 * NUL-terminated and never longer than the field). Returns the decoded length. */
size_t diffrow_unescape(const uint8_t *field, size_t len, char *out);

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} diffrow_buf;

int diffrow_buf_put(diffrow_buf *b, const void *data, size_t len);
int diffrow_buf_puts(diffrow_buf *b, const char *s);
void diffrow_buf_free(diffrow_buf *b);

/* Appends the SQL literal of the value whose text form is v[0..len): '...' with quotes
 * doubled, or E'...' with quotes and backslashes doubled when v holds a backslash (so the
 * literal means the same with standard_conforming_strings on or off), followed by
 * "::" and type when type is not NULL. Returns 0, or -1 when out of memory. */
int diffrow_literal(diffrow_buf *b, const char *v, size_t len, const char *type);

#endif
