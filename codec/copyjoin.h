/* copyjoin: several COPY streams (each one complete COPY ... TO output of the same table and
 * format, e.g. the chunks of one table) joined into one COPY ... FROM stream, so a whole
 * table can be loaded by a single COPY statement.
 *
 *   text:    rows follow rows: the streams are concatenated as they are;
 *   binary:  the first stream's header, every stream's tuples, the last stream's -1 trailer
 *            (the header of every later stream and the trailer of every earlier one are
 *            dropped; a withheld trailer must be the 2 bytes 0xFFFF).
 *
 * One COPY matters where rows of one chunk refer to rows of another through a foreign key
 * checked at the end of each statement, and where COPY FREEZE should cover a whole table.
 * No libpq here: the joined bytes go to a chunk_sink_fn. */
#ifndef PF_COPYJOIN_H
#define PF_COPYJOIN_H

#include "codec/chunk.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    chunk_sink_fn sink;
    void *sink_ctx;
    int binary, first, last;
    /* binary header of a later stream being skipped */
    uint8_t head[19];
    size_t head_have;
    uint64_t skip;            /* extension bytes still to skip */
    int head_done;
    uint8_t tail[2];          /* the last bytes seen: a possible trailer, held back */
    size_t tail_have;
} copyjoin;

/* Starts one of the streams: first (keeps the header), last (keeps the trailer). */
void copyjoin_begin(copyjoin *j, int binary, int first, int last, chunk_sink_fn sink, void *sink_ctx);
/* chunk_sink_fn: ctx is the copyjoin. */
int copyjoin_feed(void *j, const void *buf, size_t len, char *err, size_t errlen);
/* Ends the stream: a held-back trailer must be one. */
int copyjoin_end(copyjoin *j, char *err, size_t errlen);

#endif
