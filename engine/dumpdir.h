/* dumpdir: the layout of a dump, shared by every command that reads or writes one. The
 * only module that knows the dump's file names; everything is read and written through
 * the dump's store (io/store.h), by these names:
 *
 *   manifest.json           the manifest (MANIFEST_FILE, engine/manifest.h), written last
 *   schema.dump             pg_dump's custom-format archive (pre- and post-data)
 *   globals.json            roles, memberships, tablespaces (dump --globals)
 *   data/<table>.<seq>.chunk one chunk of one table (<table>: the dump's table index)
 *   .pg_dump.log            pg_dump's stderr while it runs (removed on success)
 */
#ifndef PF_DUMPDIR_H
#define PF_DUMPDIR_H

#include "codec/chunk.h"
#include "engine/manifest.h"
#include "io/store.h"

#include <stddef.h>
#include <stdint.h>

#define DUMPDIR_SCHEMA_FILE "schema.dump"
#define DUMPDIR_GLOBALS_FILE "globals.json"
#define DUMPDIR_DATA "data"
#define DUMPDIR_PG_DUMP_LOG ".pg_dump.log"

/* "data/<table>.<seq>.chunk". */
void dumpdir_chunk_name(size_t table, unsigned seq, char *out, size_t outlen);

/* Removes what a failed dump wrote, so nothing is left looking like a dump: the chunks,
 * the schema archive, globals, pg_dump's log and temporaries (never a file the dump did
 * not write). */
void dumpdir_remove_partial(pf_store *st);

/* xxh3-128 and size of a whole file as stored (the schema archive's entry in the manifest). */
int dumpdir_hash_file(const pf_store *st, const char *name, chunk_hash *h, uint64_t *size, char *err,
                      size_t errlen);

/* A small file of the dump (globals.json) read whole, decrypted when the dump is encrypted
 * (m's keys open). *out is malloc'd and NUL-terminated. The file's stored hash is
 * dumpcheck's to check. */
int dumpdir_read_small(const pf_store *st, const manifest *m, const char *name, char **out, size_t *len,
                       char *err, size_t errlen);

#endif
