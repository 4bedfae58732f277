/* hasher: streaming xxh3-128 of a whole file, in the canonical byte order the manifest
 * keeps. The manifest's stored hash of every file (chunks, schema archive, encrypted or
 * not) is this hash of the file's bytes as they lie on disk, so any file can be checked
 * without decoding or decrypting it. */
#ifndef PF_HASHER_H
#define PF_HASHER_H

#include "codec/chunk.h"

#include <stddef.h>

typedef struct chunk_hasher chunk_hasher;

chunk_hasher *chunk_hasher_new(void);
void chunk_hasher_reset(chunk_hasher *h);
void chunk_hasher_update(chunk_hasher *h, const void *data, size_t len);
chunk_hash chunk_hasher_digest(const chunk_hasher *h);
void chunk_hasher_free(chunk_hasher *h);

#endif
