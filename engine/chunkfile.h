/* chunkfile: reads one chunk file of a dump the way restore, verify and cat all need it:
 *
 *   file bytes -> xxh3-128 as stored -> AES-256-GCM (encrypted dumps) -> chunk decoder
 *              -> COPY row splitter (row count, content hash) -> the caller's sink
 *
 * Raw bytes reach the sink before the trailer and the GCM tag are checked: they are
 * provisional until chunkfile_read() returns 0 (restore aborts its COPY otherwise). A
 * row-splitting error is held back until the file itself checks out, so a damaged file
 * is reported for its damage, not for the garbage the damage produced. */
#ifndef PF_CHUNKFILE_H
#define PF_CHUNKFILE_H

#include "codec/chunk.h"
#include "codec/copyrows.h"
#include "common/pf_util.h"
#include "engine/manifest.h"
#include "io/store.h"

#include <stdint.h>

typedef struct chunkfile_reader chunkfile_reader;

typedef struct {
    uint64_t file_bytes;      /* bytes read from the file */
    chunk_hash file_hash;     /* xxh3-128 of them (the manifest's stored hash) */
    chunk_stats st;           /* decoder's figures, valid when chunkfile_read returned 0 */
    int codec;                /* the file header's chunk_codec, valid likewise */
    int rows_counted;         /* the COPY data split into rows cleanly */
    uint64_t rows;
    rowhash content;          /* unkeyed: compare with manifest_rowhash_matches */
    char rows_err[PF_ERRLEN]; /* why the rows could not be counted */
} chunkfile_result;

/* m gives the key and file identity of an encrypted dump (NULL: not encrypted). The reader
 * keeps its buffers for reuse, one per thread. */
chunkfile_reader *chunkfile_reader_new(const manifest *m, char *err, size_t errlen);
void chunkfile_reader_free(chunkfile_reader *r);

/* Reads name from the store st (the manifest's relative name is `file`, usually the same, used for the encryption's associated
 * data). format: "binary" or "text" to count rows, NULL not to. sink may be NULL. stop,
 * when not NULL, is asked between reads; when it returns non-zero the read ends with -1
 * "stopped". Returns 0 when the file was read to its end and decoded (and authenticated),
 * -1 with err otherwise; res is filled as far as the read got. */
int chunkfile_read(chunkfile_reader *r, const pf_store *st, const char *name, const char *file, const char *format,
                   chunk_sink_fn sink, void *sink_ctx, int (*stop)(void *), void *stop_ctx,
                   chunkfile_result *res, char *err, size_t errlen);

/* The first way a read differs from the manifest's entry for the chunk, or 0. */
int chunkfile_check(const manifest *m, const manifest_chunk *mc, const chunkfile_result *res, char *err,
                    size_t errlen);

#endif
