/* restore_int: what the parts of restore share (not a public interface).
 *
 *   restore.c         the driver: checks, target, phases, finishing steps
 *   restore_select.c  which tables and archive entries a restore takes, in which phase,
 *                     and their SQL rewritten for renamed copies
 *   restore_target.c  the target: connections, --create, emptiness, --clean, the journal
 *   restore_load.c    rows: chunk loads, large objects, sequence values
 *   restore_jobs.c    data and post-data as scheduler jobs, and the workers that run them */
#ifndef PF_RESTORE_INT_H
#define PF_RESTORE_INT_H

#include "common/pf_util.h"
#include "engine/archive.h"
#include "engine/chunkfile.h"
#include "engine/manifest.h"
#include "engine/restore.h"
#include "io/store.h"
#include "engine/sched.h"
#include "engine/trace.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_SCHEMA "_pgferry"
#define FREEZE_MIN_BYTES (2u << 20)
/* a primary key or unique constraint of a table of at least this much data is built as an
 * index, then made a constraint on it (below, the second transaction costs more) */
#define SPLIT_KEY_MIN_BYTES (1u << 20)
/* attempts of one job whose connection was lost before the restore fails */
#define JOB_ATTEMPTS 4

typedef struct {
    manifest_table *mt;
    char *dst_schema, *dst_name; /* where the rows go (differs from mt when renamed) */
    char *qname;                 /* quoted dst */
    char *root_qname;            /* a partition (not renamed): its partition root, quoted */
    int root_analyzed;           /* its root's ANALYZE job covers it (and all its tree) */
    char *label;                 /* schema.name of the dump, for messages */
    int selected, renamed;
    long toc;                    /* its TABLE entry, -1 if none */
    long loaded;                 /* scheduler milestone "all its rows are in", -1 if none */
    /* --data-only without --disable-triggers: foreign keys are checked as rows arrive, so
     * a table loads after the tables it refers to, and in one COPY when it refers to
     * itself (a row may refer to a row of another chunk) */
    size_t *parents;
    size_t nparents, capparents;
    int self_ref;
    /* its definition is not the restore's to make: a managed platform's table (--profile)
     * or --data-only's; rows go into the table as it is (no TRUNCATE, no FREEZE), with its
     * triggers and foreign keys live */
    int preexisting;
} rtable;

enum { JOB_MILESTONE = 0, JOB_LOAD, JOB_ENTRY, JOB_ANALYZE };

typedef struct {
    int kind;
    size_t table;                /* LOAD, ANALYZE (of a root: one of its partitions) */
    int root;                    /* ANALYZE of the table's partition root, which analyzes
                                    every partition under it too */
    size_t *chunks, nchunks;     /* LOAD: the table's chunks it loads, in order, one transaction */
    int one_copy;                /* LOAD: all of them through one COPY statement */
    int freeze;                  /* LOAD: TRUNCATE, then COPY ... FREEZE, in its transaction */
    long entry;                  /* ENTRY: archive entry index */
    uint64_t raw;                /* LOAD: bytes it loads */
    int attempts;
    /* ENTRY of a primary key or unique constraint split in two: the index built first
     * (part 1: CREATE UNIQUE INDEX, a SHARE lock, beside the table's other index builds),
     * then the constraint made from it (part 2: ADD CONSTRAINT ... USING INDEX) */
    int part;
    char *sql;                   /* the part's SQL (owned), instead of the entry's */
} rjob;

enum { ABSENT_NONE = 0, ABSENT_TRIGGER, ABSENT_POLICY, ABSENT_RULE, ABSENT_RLS, ABSENT_PUBREL };

/* Restore phases of archive entries, as pg_restore orders them. */
enum { PH_SKIP = 0, PH_PRE, PH_POST, PH_ACL, PH_POSTACL, PH_DATABASE };

typedef struct restore_ctx restore_ctx;

typedef struct {
    restore_ctx *ctx;
    int id;
    PGconn *conn;
    PGcancel *cancel;
    trace_cpu cpu;               /* its backend's CPU, for the trace */
    chunkfile_reader *reader;
    long job;                    /* the scheduler's id of the job taken */
    int idle;                    /* workers idle when it was taken */
} rworker;

struct restore_ctx {
    const restore_options *o;
    pf_store *st;                  /* the dump */
    int do_pre, do_data, do_post;  /* sections to restore */
    manifest m;
    archive a;
    rtable *tables;
    size_t ntables;
    int filtered;                /* -t/-n/-T/-N narrowed the restore */
    char **schema_sel;           /* schemas selected by -n (their own entries come too) */
    size_t nschema_sel;
    long *entry_table;           /* archive entry -> rtable index for TABLE entries, else -1 */
    int *entry_phase;            /* PH_* of wanted entries */
    unsigned char *wanted;
    char **seq_dst;              /* archive entry -> where a SEQUENCE of a renamed table goes */
    unsigned char *keep_create;  /* --clean kept the object (a schema holding other objects):
                                    its CREATE becomes CREATE ... IF NOT EXISTS */
    /* --profile: entries attached to the platform's objects (a trigger on auth.users, a
     * policy on storage.objects, a table in its publication): created only where the
     * target lacks them (ABSENT_*), decided once the target is known */
    unsigned char *if_absent;
    unsigned char *seq_extra;    /* a sequence of a managed table whose rows are restored */
    unsigned char *for_renamed;  /* pulled in for a table restored under another name */
    int can_replica;             /* the role may SET session_replication_role */
    /* --create: the database's own SQL, rendered by pg_restore --create, renamed */
    char *db_create_sql, *db_finish_sql;
    int created_db;              /* this run created the target database */
    char *target_db;             /* its name */

    /* journal: items committed by earlier runs, sorted */
    char **done_items;
    size_t ndone;

    /* data and post-data */
    sched *s;
    rjob *jobs;                  /* by scheduler job id */
    size_t njobs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int failed;
    atomic_int stop;
    char first_err[PF_ERRLEN];
    atomic_uint_fast64_t rows, raw, chunks_done, entries_done, reconnects;
    uint64_t chunks_skipped;     /* committed by an earlier run */
    uint64_t total_raw;
    size_t nchunks, nentry_jobs;
    size_t loads_left;           /* under mu */
    uint64_t straggler_bytes;    /* a table above this is split across workers */
    double data_end;             /* when the last load committed (under mu) */
    rworker *workers;
    int nworkers;
    struct trace *trace;         /* every job's span, and its backend's CPU */
    double cpu_data, cpu_post;   /* server CPU of the jobs, -1 unknown (under mu) */
    int cpu_mode;                /* how to read it (TRACE_CPU_*) */
    pthread_mutex_t notice_mu;   /* server warnings already shown */
    char *warned[32];
    size_t nwarned;
};

/* restore.c */
void restore_fail(restore_ctx *ctx, const char *msg);
/* A finished job (or phase) to the caller's job_done, when it has one. */
void restore_job_done(const restore_ctx *ctx, const char *kind, const char *name, double seconds, uint64_t rows,
                      uint64_t bytes);
int restore_entry_is(const archive_entry *e, const char *desc);

/* restore_select.c */
int restore_setup_tables(restore_ctx *ctx, char *err, size_t errlen);
void restore_map_tables(restore_ctx *ctx);
int restore_select_entries(restore_ctx *ctx, char *err, size_t errlen);
size_t restore_entry_tables(restore_ctx *ctx, const archive_entry *e, size_t *out, size_t cap);
int restore_apply_renames(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
/* The database-level entries (--create), and their SQL renamed for the target database. */
int restore_is_database_entry(const archive_entry *e);
int restore_rename_database(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
/* The TABLE entry an entry hangs on (its first TABLE dependency), or -1. */
long restore_entry_table_entry(restore_ctx *ctx, const archive_entry *e);
/* --profile, against the target: what is there already, what is missing (one error naming
 * it all, before anything is written), which attached entries to create, and owners the
 * restoring role cannot give away. */
int restore_profile_target(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
int restore_resolve_absent(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
/* Privileges the target gives new objects by default (ALTER DEFAULT PRIVILEGES) taken back
 * from the objects this restore made, so their ACL entries leave exactly the dump's. */
int restore_acl_baseline(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
int restore_extension_owners(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);

/* restore_target.c */
PGconn *restore_connect(restore_ctx *ctx, char *err, size_t errlen);
int restore_create_database(restore_ctx *ctx, char *err, size_t errlen);
void restore_drop_created_database(restore_ctx *ctx);
int restore_check_empty(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
int restore_clean(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
int restore_journal_open(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
int restore_journal_has(const restore_ctx *ctx, const char *item);
int restore_journal_add(PGconn *c, restore_ctx *ctx, const char *item, char *err, size_t errlen);
int restore_run_journaled(PGconn *c, restore_ctx *ctx, const char *sql, const char *item, const char *what,
                          char *err, size_t errlen);
int restore_run_archive_sql(PGconn *c, restore_ctx *ctx, const char *sql, const char *item, const char *what,
                            char *err, size_t errlen);
/* Whether item committed, asked of the server (after a lost connection: did the COMMIT
 * make it?). 1 yes, 0 no, -1 error. */
int restore_journal_committed(PGconn *c, const char *item, char *err, size_t errlen);
int restore_run_phase(restore_ctx *ctx, PGconn *c, int phase, const char *item, const char *extra, char *err,
                      size_t errlen);

/* restore_load.c */
int restore_load_job(restore_ctx *ctx, PGconn *c, chunkfile_reader *b, const rjob *j, char *err, size_t errlen);
void restore_load_item(const restore_ctx *ctx, const rjob *j, char *out, size_t outlen);
int restore_large_objects(restore_ctx *ctx, PGconn *c, char *err, size_t errlen);
char *restore_sequences_sql(restore_ctx *ctx, PGconn *c);

/* restore_jobs.c */
/* A load into an existing table with session_replication_role = replica (no triggers, no
 * foreign-key checks); a load whose rows are checked as they arrive (load order matters). */
int restore_replica_load(const restore_ctx *ctx, const rtable *t);
int restore_checked_load(const restore_ctx *ctx, const rtable *t);
int restore_build_jobs(restore_ctx *ctx, char *err, size_t errlen);
int restore_run_jobs(restore_ctx *ctx, PGconn **coord, void (*progress)(restore_ctx *, double, int), double start,
                     char *err, size_t errlen);
PGconn *restore_reconnect(restore_ctx *ctx, char *err, size_t errlen);
void restore_free_jobs(restore_ctx *ctx);

#endif
