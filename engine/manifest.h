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
#include "codec/copyrows.h"

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_FILE "manifest.json"
#define MANIFEST_FORMAT_VERSION 1

typedef struct {
    char *file;           /* relative to the dump directory */
    int ranged;
    uint64_t start_page, end_page; /* end_page UINT64_MAX = open-ended */
    uint64_t rows, raw_bytes, stored_bytes;
    chunk_hash raw_hash, stored_hash;
    rowhash content;      /* sum of the chunk's row hashes */
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

typedef struct manifest_s {
    char checksum[65];          /* the manifest's own SHA-256 (set when read) */
    int format_version;
    char *tool_version;
    char *server_version;       /* e.g. "15.8" */
    int server_version_num;
    char *host, *port, *database;
    char *snapshot_id, *snapshot_lsn, *snapshot_time;
    char *started_at, *finished_at;
    char *tag;                  /* label given with dump --tag, or NULL */
    int keep_forever;           /* dump --keep-forever: retention never removes it */
    char *compression;          /* "zstd" or "none" */
    int compression_level;
    char *format;               /* requested COPY format */
    uint64_t chunk_size;
    int jobs;
    char *schema_file;          /* pg_dump custom-format archive */
    uint64_t schema_bytes;
    chunk_hash schema_hash;     /* xxh3-128 of the archive */
    size_t ntables;
    manifest_table *tables;
    size_t nseqs;
    manifest_sequence *seqs;
    int has_large_objects;
    manifest_table large_objects; /* name "large objects", format "lo" */
} manifest;

/* Serialises and writes <dir>/manifest.json atomically (temp, fsync, rename, fsync dir). */
int manifest_write(const manifest *m, const char *dir, char *err, size_t errlen);
/* Serialises to a malloc'd string (what manifest_write writes). */
char *manifest_serialize(const manifest *m, char *err, size_t errlen);
/* Reads and checks <dir>/manifest.json: missing, truncated, checksum mismatch and
 * malformed fields are each a distinct one-line error. */
int manifest_read(const char *dir, manifest *m, char *err, size_t errlen);
/* Parses a manifest text (checksum included). */
int manifest_parse(const char *text, size_t len, manifest *m, char *err, size_t errlen);
void manifest_free(manifest *m);

#endif
