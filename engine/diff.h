/* diff: compares tables of a live database with a backup, row by row by key, and writes
 * the SQL that puts the backup's rows back (`pgferry diff`).
 *
 * What is compared. Per table, the dump's columns in the dump's order and COPY format
 * (binary or text, as the manifest records per table). The backup side is the table's
 * chunk files, read with the chunk reader (engine/chunkfile.h: decryption, zstd, every
 * chunk checked against the manifest's hashes and row counts, so a damaged backup is an
 * error, never a wrong script); the live side is one
 *   COPY (SELECT cols FROM ONLY t) TO STDOUT [(FORMAT binary)]
 * per table, all inside one REPEATABLE READ, READ ONLY transaction (one snapshot for every
 * table, so the tables of a foreign-key cascade are seen at one instant; nothing is ever
 * written). A row is identified by its key: the primary key, else the replica identity
 * index, else --key columns. Two rows are the same row when their key fields are equal
 * bytes, and unchanged when all their fields are: both sides come from the same server's
 * output functions under the same session settings (engine/pgconn.c), so equal values
 * give equal bytes. The server's ORDER BY cannot be used to merge the two sides: it
 * follows collations and type semantics (numeric 1.0 = 1.00, case-insensitive collations)
 * that the client cannot reproduce, and the backup's rows are in heap order anyway.
 *
 * How, with bounded memory: a grace hash join. Both sides are partitioned by a hash
 * (xxh3) of their key fields' bytes into B bucket files in a private temporary directory:
 * the backup's chunks by up to N threads at once (-j), the live COPY at the same time by
 * the table's own thread. B is chosen from the backup's raw size so that one bucket of
 * backup rows fits the memory budget (--work-mem, default 32 MB). Then per bucket, the
 * backup's rows are loaded into a hash table and the live rows of the same bucket are
 * streamed against it: a live row without a match was added since the backup; one whose
 * fields differ was changed; backup rows left unmatched were deleted. Memory holds one
 * bucket of backup rows, whatever the table's size; the disk holds one copy of both sides
 * of one table at a time (removed as soon as the table is done).
 *
 * The SQL script. Values come from their text form: a text-format dump's fields are
 * unescaped (COPY text escapes); a binary-format dump's fields are sent back to the
 * server as binary parameters of the column's type and read back as text (`SELECT $1, $2,
 * ...` with binary parameters and a text result: the type's receive then output function,
 * exactly what the value looked like; no client-side decoder, so every type works,
 * extension types included; deleted rows go 128 to a query, `SELECT ... FROM (VALUES (1,
 * $1, ...), ...) ORDER BY 1`, so a mass deletion does not cost a round trip per row). Literals are '...' (or E'...' when the value holds a
 * backslash: the same meaning under any standard_conforming_strings) cast to the live
 * column's type. The script runs in one transaction with pg_dump's session settings:
 * DELETE of rows added since (only with DIFF_ADDED) children first, INSERT of deleted
 * rows parents first (foreign keys among the compared tables), then UPDATE of changed
 * rows, setting only the columns that differ. Each statement names its row by key. */
#ifndef PF_DIFF_H
#define PF_DIFF_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

enum { DIFF_DELETED = 1, DIFF_CHANGED = 2, DIFF_ADDED = 4 };

#define DIFF_DEFAULT_WORK_MEM (32u << 20)

typedef struct {
    const char *dir;              /* the dump */
    const char *passphrase;       /* encrypted dump, or NULL */
    const char *conninfo;         /* the live database */
    const char *const *tables;    /* as given with -t: schema.table or table */
    size_t ntables;
    const char *const *key;       /* --key columns for the tables named in `tables`, or NULL */
    size_t nkey;
    int cascade;                  /* also the tables referencing them ON DELETE CASCADE */
    int sql_kinds;                /* DIFF_* bits the script puts back */
    const char *sql_path;         /* the script: NULL none, "-" standard output */
    const char *backup_name;      /* for the script's header comment, or NULL */
    int jobs;                     /* parallel chunk readers */
    uint64_t work_mem;            /* memory budget of one bucket (0: default) */
    const char *tmpdir;           /* NULL: $TMPDIR or /tmp */
    volatile sig_atomic_t *interrupted;
} diff_options;

typedef struct {
    char *schema, *name;
    char **key;                   /* key column names */
    size_t nkey;
    const char *key_source;       /* "primary key", "replica identity", "--key" */
    int cascaded;                 /* added by --cascade */
    uint64_t backup_rows, live_rows;
    uint64_t deleted, added, changed, unchanged;
    unsigned buckets;
} diff_table_result;

typedef struct {
    diff_table_result *t;         /* in the script's order (parents first) */
    size_t n;
    uint64_t statements;          /* written to the script */
    double seconds;
} diff_result;

/* Returns 0 with res filled (and the script written, atomically, when asked), -1 with err
 * on a failure, -2 with err for bad input (a table that does not exist or is not in the
 * backup, no key, an unknown --key column). Nothing is written on an error. */
int diff_run(const diff_options *o, diff_result *res, char *err, size_t errlen);
void diff_result_free(diff_result *r);

#endif
