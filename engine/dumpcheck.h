/* dumpcheck: the one check of a dump's integrity that dump, restore, verify, drill and list
 * share, so that no command trusts a dump another would reject.
 *
 *   manifest   per-table totals agree with the table's chunks (the checksum proves the
 *              manifest was not changed since it was written, not that its writer summed
 *              right); no file named twice
 *   files      every file the manifest names is there, a regular file, of its recorded
 *              size; no other file or directory anywhere in the dump (manifest.json aside)
 *   schema     the schema archive has its recorded size and xxh3-128; decrypted when the
 *              dump is encrypted and its keys are open
 *   tables     the archive's TABLE entries and the manifest's tables match one to one:
 *              every table with rows has its definition, every definition has rows or is
 *              recorded as defined without rows (partitioned, --exclude-table-data, ...)
 *
 * What it does not do is read chunk contents: verify does that for every chunk, restore as
 * each chunk loads. Every problem is reported, not only the first. */
#ifndef PF_DUMPCHECK_H
#define PF_DUMPCHECK_H

#include "engine/archive.h"
#include "engine/manifest.h"

#include <stdint.h>

/* One problem. Strings are valid only during the callback. */
typedef struct {
    const char *file;   /* relative to the dump directory ("data/3.2.chunk"), or NULL */
    const char *table;  /* "schema.name" ("large objects" for those), or NULL */
    long chunk;         /* chunk index within the table, or -1 */
    const char *error;  /* one line; names its subject when file is NULL */
} dumpcheck_problem;

typedef void (*dumpcheck_report_fn)(void *ctx, const dumpcheck_problem *p);

/* The archive's tables against the manifest's; reports each difference, returns how many. */
size_t dumpcheck_tables(const manifest *m, const archive *a, dumpcheck_report_fn report, void *ctx);

/* Manifest, files, schema and tables of the dump in st (see above). When arch is not NULL
 * and the schema archive could be read, it is left in *arch for the caller (archive_free);
 * otherwise *arch is zeroed. *bytes_read (may be NULL) gets the bytes read. Returns the
 * number of problems reported, or -1 with err when the check could not run (out of
 * memory). An encrypted dump whose keys are not open (list without a passphrase) gets
 * every check but those of the archive's contents. */
long dumpcheck_dir(const pf_store *st, const manifest *m, dumpcheck_report_fn report, void *ctx, archive *arch,
                   uint64_t *bytes_read, char *err, size_t errlen);

/* A report function that keeps the first problem as one line ("<file> (<table> chunk N):
 * <error>") and counts them: for commands that stop at the first problem. */
typedef struct {
    char first[1024];
    uint64_t count;
} dumpcheck_first;
void dumpcheck_keep_first(void *ctx, const dumpcheck_problem *p);

#endif
