/* archive: reads a pg_dump custom-format archive (the dump's schema.dump) so restore can
 * schedule its entries itself.
 *
 * The table of contents gives each entry's id, kind ("TABLE", "INDEX", "FK CONSTRAINT"),
 * section, schema, name and dependencies. The SQL of the entries comes from pg_restore
 * itself, rendered once as a script (`pg_restore -v -f -`) and split at its
 * "-- TOC entry N" markers, so owners, ACLs and every object kind are produced exactly
 * as pg_restore would, while pgferry decides when and on which connection each runs. */
#ifndef PF_ARCHIVE_H
#define PF_ARCHIVE_H

#include "codec/cipher.h"
#include "io/store.h"

#include <stddef.h>

enum { ARCHIVE_SECTION_NONE = 1, ARCHIVE_SECTION_PRE_DATA, ARCHIVE_SECTION_DATA, ARCHIVE_SECTION_POST_DATA };

typedef struct {
    int id;
    char *desc;       /* "TABLE", "INDEX", "CONSTRAINT", "COMMENT", "ACL", ... */
    int section;
    char *namespace;  /* NULL for objects outside schemas */
    char *tag;        /* object name (for constraints "table conname") */
    char *owner;
    char *drop;       /* the entry's DROP statement, for --clean */
    char *defn;       /* the entry's SQL as pg_dump wrote it (a TABLE's CREATE TABLE) */
    int *deps;
    size_t ndeps;
    char *sql;        /* filled by archive_render(): what pg_restore would run, with the
                         tablespace / access method settings it needs in front */
} archive_entry;

typedef struct {
    archive_entry *entries;
    size_t n;
    char *header_sql; /* pg_restore's session settings (psql meta-commands and
                         client_encoding removed) */
    char encoding[64];  /* the archive's client_encoding: entries' SQL is in it */
    unsigned char *data; /* the whole archive, decrypted (schema archives are small) */
    size_t len;
    long *byid;          /* dump id -> entry index (-1), for archive_find */
    int maxid;
} archive;

/* Reads a custom-format archive into memory (decrypting it with key and aad when key is
 * not NULL: an encrypted archive is never written out in the clear) and parses its TOC.
 * Errors name the file. */
int archive_load(const pf_store *st, const char *name, const cipher_key *key, const char *aad, archive *a,
                 char *err, size_t errlen);

/* The same for an archive already in memory and in the clear (dump checks what pg_dump
 * wrote before the manifest): takes ownership of data (malloc'd), also on failure. name
 * is for messages. */
int archive_from_memory(unsigned char *data, size_t len, const char *name, archive *a, char *err,
                        size_t errlen);

/* Runs `pg_restore -v -f - -L <list of wanted ids>` on the archive (fed through a pipe)
 * and attaches each entry's SQL. wanted[i] != 0 selects a->entries[i]. no_owner / no_acl /
 * create as pg_restore's options (the DATABASE entries are rendered only with create). */
int archive_render(archive *a, const char *pg_restore, const unsigned char *wanted, int no_owner,
                   int no_acl, int create, const char *tmpdir, char *err, size_t errlen);

/* Index of the entry with that dump id, or -1. Constant time: restore asks for every
 * dependency of every entry, tens of thousands of times for a large schema. */
long archive_find(const archive *a, int id);

void archive_free(archive *a);

#endif
