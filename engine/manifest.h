/* manifest: the record of one dump, written last and atomically.
 *
 * JSON a person can read. Like PostgreSQL's backup_manifest, the file ends with
 *     "manifest_checksum": "<sha256>"
 * computed over every byte before that line, so truncation or any edit is detected
 * before a single field is trusted. A dump directory without a valid manifest is
 * incomplete. */
#ifndef PF_MANIFEST_H
#define PF_MANIFEST_H

#include "codec/chunk.h"
#include "codec/cipher.h"
#include "engine/keyring.h"
#include "codec/copyrows.h"
#include "io/store.h"

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_FILE "manifest.json"
/* 2: tables_without_data. Version 1 manifests are still read. */
#define MANIFEST_FORMAT_VERSION 2

typedef struct {
    char *file;           /* relative to the dump directory */
    int ranged;
    uint64_t start_page, end_page; /* end_page UINT64_MAX = open-ended */
    uint64_t rows, raw_bytes, stored_bytes;
    chunk_hash raw_hash, stored_hash;
    rowhash content;      /* sum of the chunk's row hashes */
    int codec;            /* chunk_codec of the file; -1: not recorded (dumps made before per-chunk codecs) */
} manifest_chunk;

typedef struct {
    char *schema, *name;
    char *parent_schema, *parent_name; /* partition root, or NULL */
    char *format;         /* "binary" or "text" */
    char persistence;     /* 'p' or 'u' */
    size_t ncols;
    char **cols;
    uint64_t rows, raw_bytes, stored_bytes;
    rowhash content;      /* order-independent content hash of the whole table */
    size_t nchunks;
    manifest_chunk *chunks;
} manifest_table;

typedef struct {
    char *schema, *name;
    int64_t last_value;
    int is_called;
} manifest_sequence;

/* A table the schema archive defines but whose rows are not in the dump, and why:
 * "partitioned", "excluded" (--exclude-table-data), "unlogged" (--no-unlogged-table-data). */
typedef struct {
    char *schema, *name, *reason;
} manifest_nodata;

/* A table's COPY format as the manifest records it: "binary" or "text" ("lo", from dumps of
 * an earlier version, is binary). */
typedef enum { COPY_FORMAT_UNKNOWN = -1, COPY_TEXT = 0, COPY_BINARY = 1 } copy_format;
copy_format copy_format_parse(const char *name);
const char *copy_format_name(copy_format f);

typedef struct manifest_s {
    char checksum[65];          /* the manifest's own SHA-256 (set when read) */
    int format_version;
    char *tool_version;
    char *server_version;       /* e.g. "15.8" */
    int server_version_num;
    char *host, *port, *database;
    char *snapshot_id, *snapshot_lsn, *snapshot_time;
    char *started_at, *finished_at;
    char *dump_id;              /* random id of this dump (hex) */
    char *tag;                  /* label given with dump --tag, or NULL */
    char *profile;              /* dump --profile NAME, or NULL */
    int keep_forever;           /* dump --keep-forever: retention never removes it */
    char *compression;          /* "zstd" or "none" */
    int compression_level;
    char *format;               /* requested COPY format */
    uint64_t chunk_size;
    int jobs;
    char *schema_file;          /* pg_dump custom-format archive */
    uint64_t schema_bytes;
    chunk_hash schema_hash;     /* xxh3-128 of the archive */
    char *globals_file;         /* dump --globals: roles and tablespaces (engine/globals.h), or NULL */
    uint64_t globals_bytes;
    chunk_hash globals_hash;
    size_t ntables;
    manifest_table *tables;
    size_t nseqs;
    manifest_sequence *seqs;
    int has_large_objects;
    manifest_table large_objects; /* name "large objects", format "lo" */
    /* Tables defined without rows. Version 1 manifests did not record them
     * (nodata_recorded 0): the archive can then only be checked one way. */
    int nodata_recorded;
    size_t nnodata;
    manifest_nodata *nodata;
    /* Materialized views WITH NO DATA at the source: restore leaves them so (no REFRESH). */
    size_t nunpopulated;
    manifest_nodata *unpopulated;  /* reason unused (NULL) */
    /* Extensions of the source and their owners (schema NULL, name, reason = owner) */
    size_t nextensions;
    manifest_nodata *extensions;

    /* Encryption (dump --encrypt): every file is encrypted (codec/cipher.h), stored hashes
     * cover the encrypted files, row-data hashes (raw and content) are stored keyed, and
     * the closing checksum is an HMAC. The keys are in the key ring (engine/keyring.h). */
    int encrypted;
    int unverified;             /* encrypted, read without its passphrase: HMAC not checked */
    keyring keys;
} manifest;

/* The owner of extension name at the source, or NULL. */
const char *manifest_extension_owner(const manifest *m, const char *name);
/* 1 when schema.name is a materialized view the source had not populated. */
int manifest_unpopulated(const manifest *m, const char *schema, const char *name);

/* Sets up encryption for a new dump: random data key, its wrapping under passphrase. */
int manifest_init_encryption(manifest *m, const char *passphrase, char *err, size_t errlen);

/* What a row-data hash looks like in the manifest: itself, or keyed when encrypted. */
void manifest_protect_chunk_hash(const manifest *m, chunk_hash *h);
void manifest_protect_rowhash(const manifest *m, rowhash *h);
/* Compares a computed hash with the manifest's (protected) one. */
int manifest_chunk_hash_matches(const manifest *m, const chunk_hash *computed, const chunk_hash *stored);
int manifest_rowhash_matches(const manifest *m, const rowhash *computed, const rowhash *stored);
/* Associated data binding an encrypted file to its dump and name. out needs 512 bytes. */
void manifest_file_aad(const manifest *m, const char *file, char *out, size_t outlen);

/* Serialises and writes manifest.json into the dump's store, atomically and durably. */
int manifest_write(const manifest *m, pf_store *st, char *err, size_t errlen);
/* The "source" and "snapshot" objects as the manifest holds them (list --json shows the
 * same). New references. */
struct json_t;
struct json_t *manifest_source_json(const manifest *m);
struct json_t *manifest_snapshot_json(const manifest *m);
/* Serialises to a malloc'd string (what manifest_write writes). */
char *manifest_serialize(const manifest *m, char *err, size_t errlen);
/* Reads and checks <dir>/manifest.json: missing, truncated, checksum mismatch and
 * malformed fields are each a distinct one-line error. */
int manifest_read(const pf_store *dir, manifest *m, char *err, size_t errlen);
/* The same with a passphrase (NULL: none): an encrypted dump needs it, and a passphrase
 * given for a dump that is not encrypted is an error (a dump swapped for a plain one). */
int manifest_read_key(const pf_store *dir, const char *passphrase, manifest *m, char *err, size_t errlen);
/* For showing a dump (list): as manifest_read_key, except that an encrypted dump read
 * without its passphrase is parsed anyway, with m->unverified set: its HMAC was not
 * checked, so nothing in it may be trusted. */
int manifest_read_unverified(const pf_store *dir, const char *passphrase, manifest *m, char *err, size_t errlen);
/* Parses a manifest text (checksum included). */
int manifest_parse(const char *text, size_t len, manifest *m, char *err, size_t errlen);
int manifest_parse_key(const char *text, size_t len, const char *passphrase, manifest *m, char *err,
                       size_t errlen);
void manifest_free(manifest *m);

#endif
