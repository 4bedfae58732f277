/* dumpdir: the layout of a dump directory, shared by every command that reads or writes
 * one. */
#ifndef PF_DUMPDIR_H
#define PF_DUMPDIR_H

#include "codec/chunk.h"
#include "engine/manifest.h"

#include <stdint.h>

#define DUMPDIR_SCHEMA_FILE "schema.dump"
#define DUMPDIR_DATA "data"

/* xxh3-128 and size of a whole file (the schema archive's entry in the manifest). */
int dumpdir_hash_file(const char *path, chunk_hash *h, uint64_t *size, char *err, size_t errlen);

/* A small file of the dump (globals.json) read whole, decrypted when the dump is encrypted
 * (m's keys open). *out is malloc'd and NUL-terminated. The file's stored hash is
 * dumpcheck's to check. */
int dumpdir_read_small(const char *dir, const manifest *m, const char *name, char **out, size_t *len, char *err,
                       size_t errlen);

#endif
