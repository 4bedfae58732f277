/* catalog: what a dump contains, read inside the dump's snapshot.
 *
 * Name patterns follow pg_dump (psql's \d rules): "schema.table", '*' and '?' wildcards,
 * unquoted letters folded to lower case, double quotes keep case and make wildcards
 * literal. Unlike pg_dump's default, an include pattern (-t, -n) that matches nothing is
 * an error naming the pattern (pg_dump's --strict-names). */
#ifndef PF_CATALOG_H
#define PF_CATALOG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char **include_tables;  size_t n_include_tables;   /* -t */
    const char **exclude_tables;  size_t n_exclude_tables;   /* -T */
    const char **include_schemas; size_t n_include_schemas;  /* -n */
    const char **exclude_schemas; size_t n_exclude_schemas;  /* -N */
    /* --exclude-table-data: the definition is dumped, the rows are not */
    const char **exclude_table_data; size_t n_exclude_table_data;
    int no_unlogged_table_data; /* --no-unlogged-table-data, as pg_dump */
    /* --profile: tables whose rows are the platform's are defined without rows */
    const struct profile *profile;
    /* Exactly these tables (schema[i], name[i]), no patterns: verify --db reads what a
     * manifest lists. Tables that do not exist are simply absent from the result. */
    int exact;                /* read exactly the tables listed below (maybe none) */
    const char **exact_schemas, **exact_names; size_t n_exact;
    /* and, when not NULL, each one's column list as the dump has it: a table whose columns
     * are the same but in another order (a restored inheritance child) is read in the
     * dump's order, so its rows hash the same */
    char ***exact_cols; const size_t *exact_ncols;
    int exact_large_objects;  /* with an exact list: include large objects */
} catalog_filter;

typedef struct {
    uint32_t oid;
    char *schema, *name;
    char persistence;       /* 'p' permanent, 'u' unlogged */
    int is_heap;            /* table access method is heap: ctid ranges are meaningful */
    char *parent_schema, *parent_name; /* partition root, or NULL */
    uint64_t main_bytes;    /* pg_relation_size(main fork) */
    uint64_t toast_bytes;   /* TOAST heap size */
    size_t ncols;
    char **cols;            /* COPY column list: no dropped, no generated columns */
    int binary_ok;          /* every column's binary I/O is portable between databases */
} catalog_table;

typedef struct {
    char *schema, *name;
    int64_t last_value;
    int is_called;
} catalog_sequence;

/* A table whose definition the schema archive holds but whose rows the dump does not:
 * partitioned tables (their rows are in their partitions), --exclude-table-data,
 * --no-unlogged-table-data. Recorded so that the archive's TABLE entries and the data
 * tables can be matched one to one. */
typedef struct {
    char *schema, *name;
    const char *reason;     /* "partitioned", "excluded", "unlogged", "platform" (static);
                               an extension's owner (malloc'd) in catalog.extensions */
} catalog_nodata;

typedef struct {
    catalog_table *tables;
    size_t ntables;
    catalog_sequence *seqs;
    size_t nseqs;
    catalog_nodata *nodata;
    size_t nnodata;
    catalog_nodata *unpopulated;   /* materialized views WITH NO DATA (reason NULL) */
    size_t nunpopulated;
    catalog_nodata *extensions;    /* installed extensions: name and owner (in reason's place) */
    size_t nextensions;
    int with_large_objects; /* as pg_dump: only when no -t/-n narrows the dump */
    uint64_t n_large_objects;
    /* What pg_dump --schema-only is told: the selection above, resolved once from the
     * patterns, as exact names ("--table", "\"s\".\"t\"", "--exclude-schema", ...), so
     * the archive's selection is pgferry's by construction rather than a second reading
     * of the same patterns (pg_dump 15 would also leave a -T table's partitions in, or a
     * -t table's partitions out). */
    char **pgdump_args;
    size_t npgdump_args;
} catalog;

/* Converts one pattern to anchored POSIX regexes for the schema part (NULL when the
 * pattern has no schema) and the name part. Returns 0, or -1 for a pattern with too many
 * dots or an unterminated quote. Results malloc'd. */
int catalog_pattern_regex(const char *pattern, char **schema_re, char **name_re,
                          char *err, size_t errlen);

/* Reads tables (leaf tables with data to copy), the tables without data, their columns,
 * sequences with their values, the large-object count, and pg_dump's arguments for the
 * same selection. Must run inside the dump's snapshot transaction. */
int catalog_load(PGconn *c, const catalog_filter *f, catalog *out, char *err, size_t errlen);
void catalog_free(catalog *cat);

#endif
