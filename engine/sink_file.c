/* sink_file: the dump's own sink (copysink.h): every chunk a file in the dump's store
 * through a chunkwriter, pg_dump's schema archive streamed through the same chain (or the
 * one copy read already, handed over), globals,
 * and the manifest last. Only once the catalog is read and the tables locked is the
 * directory created; a failed dump removes what it wrote. */
#include "engine/sink_file.h"

#include "codec/compress.h"
#include "common/pf_util.h"
#include "engine/archive.h"
#include "engine/chunkwriter.h"
#include "engine/dumpcheck.h"
#include "engine/dumpdir.h"
#include "engine/globals.h"
#include "engine/pgconn.h"
#include "engine/pgtools.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHEMA_FILE DUMPDIR_SCHEMA_FILE
/* a chunk smaller than one write buffer is a single write: no io_uring setup */
#define SMALL_CHUNK_BYTES (1u << 20)

/* The dump's store: a new or empty directory. *existed: it was there (empty). */
static pf_store *open_dump_store(const char *dir, int *existed, char *err, size_t errlen)
{
    store_root_state_t state;
    pf_store *st = store_open(dir, 0, err, errlen);
    if (!st)
        return NULL;
    if (store_root_state(st, &state, err, errlen) < 0) {
        store_close(st);
        return NULL;
    }
    if (state == STORE_ROOT_USED) {
        pf_err(err, errlen, "%s exists and is not empty: dump into a new or empty directory", dir);
        store_close(st);
        return NULL;
    }
    *existed = state == STORE_ROOT_EMPTY;
    return st;
}

/* pg_dump writes the schema archive to a pipe; this thread streams it through the same
 * pipeline as chunks (encryption when asked, hashing, the atomic writer), so the archive
 * is never on disk in the clear. */
typedef struct {
    int fd;
    chunkwriter *cw;      /* the archive's file, open while pg_dump writes */
    /* pg_dump's archive in the clear, in memory: its table of contents is checked against
     * the data tables before the manifest is written (schema archives are small) */
    unsigned char *copy;
    size_t copy_len, copy_cap;
    pthread_t thread;
    int started;
    int rc;
    char err[PF_ERRLEN];
} schema_pipe;

static void *schema_reader(void *arg)
{
    schema_pipe *sp = arg;
    uint8_t *buf = malloc(1 << 20);
    sp->rc = buf ? 0 : pf_err(sp->err, sizeof sp->err, "out of memory");
    while (sp->rc == 0) {
        ssize_t n = read(sp->fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sp->rc = pf_err(sp->err, sizeof sp->err, "read from pg_dump: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (sp->copy_len + (size_t)n > sp->copy_cap) {
            size_t cap = sp->copy_cap ? sp->copy_cap : 1 << 20;
            while (cap < sp->copy_len + (size_t)n)
                cap *= 2;
            unsigned char *c2 = realloc(sp->copy, cap);
            if (!c2) {
                sp->rc = pf_err(sp->err, sizeof sp->err, "out of memory");
                break;
            }
            sp->copy = c2;
            sp->copy_cap = cap;
        }
        memcpy(sp->copy + sp->copy_len, buf, (size_t)n);
        sp->copy_len += (size_t)n;
        sp->rc = chunkwriter_write(sp->cw, buf, (size_t)n, sp->err, sizeof sp->err);
    }
    /* closing our end makes a pg_dump still writing fail rather than block forever */
    close(sp->fd);
    sp->fd = -1;
    free(buf);
    return NULL;
}

/* Waits for the reader and releases the pipeline; the file is dropped unless committed
 * (commit_schema_pipe). */
static int finish_schema_pipe(schema_pipe *sp, int keep, char *err, size_t errlen)
{
    int rc = 0;
    if (sp->started) {
        pthread_join(sp->thread, NULL);
        sp->started = 0;
        if (sp->rc < 0 && keep)
            rc = pf_err(err, errlen, "schema archive: %s", sp->err);
    } else if (sp->fd >= 0) {
        close(sp->fd);
        sp->fd = -1;
    }
    chunkwriter_free(sp->cw);
    sp->cw = NULL;
    free(sp->copy);
    sp->copy = NULL;
    sp->copy_len = sp->copy_cap = 0;
    return rc;
}

/* The schema archive's file, opened for writing (committed at finish). */
static int open_schema_file(schema_pipe *sp, pf_store *st, const manifest *m, char *err, size_t errlen)
{
    if (!(sp->cw = chunkwriter_new_files(m, err, errlen)))
        return -1;
    return chunkwriter_open(sp->cw, st, SCHEMA_FILE, STORE_W_DEFER_SYNC, err, errlen) != 0 ? -1 : 0;
}

static int start_schema_dump(const dump_options *o, pf_store *st, const char *logf, PGconn *coord,
                             const catalog *cat, manifest *m, const char *snapshot, schema_pipe *sp, pid_t *pid,
                             char *err, size_t errlen)
{
    if (open_schema_file(sp, st, m, err, errlen) < 0)
        return -1;
    /* the selection resolved by the catalog, as exact names: the archive holds the
     * definitions of exactly the tables whose rows the dump holds */
    if (pgtools_schema_dump(o->conninfo, pgconn_server_major(coord), snapshot, o->lock_wait_timeout, cat->pgdump_args,
                            cat->npgdump_args, logf, pid, &sp->fd, err, errlen) < 0)
        return -1;
    if (pthread_create(&sp->thread, NULL, schema_reader, sp) != 0)
        return pf_err(err, errlen, "cannot start the schema reader thread");
    sp->started = 1;
    return 0;
}

/* A small file of the dump written whole (encrypted like every file of an encrypted dump),
 * atomically; its size and xxh3-128 as stored go to the manifest. */
static int write_small_file(pf_store *st, const manifest *m, const char *name, const void *data, size_t len,
                            uint64_t *bytes, chunk_hash *hash, char *err, size_t errlen)
{
    chunkwriter *cw = chunkwriter_new_files(m, err, errlen);
    chunkwriter_result res;
    int rc = cw ? chunkwriter_write_file(cw, st, name, data, len, &res, err, errlen) : -1;
    chunkwriter_free(cw);
    if (rc == 0) {
        *bytes = res.stored_bytes;
        *hash = res.stored_hash;
    }
    return rc;
}

/* ---- the sink ---------------------------------------------------------------------------- */

typedef struct {
    const dump_options *o;
    const manifest *m;    /* the run's, from start: keys and the dump's identity */
    pf_store *st;
    int existed, created;
    char logf[4096];
    int log_staged;       /* logf is a local temp file (the store has no local files) */
    schema_pipe sp;
    pid_t schema_pid;
    archive toc;
    int have_toc;
    char *globals_text;
    unsigned char *given; /* the schema archive handed over (sink_file_use_read), or NULL */
    size_t given_len;
} file_sink;

typedef struct {
    file_sink *fs;
    chunkwriter *cw;     /* the current chunk's: one of cws */
    chunkwriter *cws[2]; /* text, binary tables (binary ones in the column layout) */
    char file[256];
} file_worker;

/* An archive already read (copy's) goes through the same chain as pg_dump's stream would,
 * and stays in memory for the check at complete, as the reader's copy does. */
static int write_given_schema(file_sink *fs, manifest *m, char *err, size_t errlen)
{
    schema_pipe *sp = &fs->sp;
    if (open_schema_file(sp, fs->st, m, err, errlen) < 0 ||
        chunkwriter_write(sp->cw, fs->given, fs->given_len, err, errlen) < 0)
        return -1;
    sp->copy = fs->given;
    sp->copy_len = sp->copy_cap = fs->given_len;
    fs->given = NULL;
    return 0;
}

static int file_start(void *ctx, const copysink_run *run, char *err, size_t errlen)
{
    file_sink *fs = ctx;
    const dump_options *o = fs->o;
    fs->m = run->m;
    /* the key exists before any file does: every file of the dump is encrypted */
    if (o->passphrase && manifest_init_encryption(run->m, o->passphrase, err, errlen) < 0)
        return -1;
    /* --globals: the roles and tablespaces, read in the snapshot as everything else
     * (unless handed over already read) */
    if (o->globals && !fs->globals_text && !(fs->globals_text = globals_read(run->coord, err, errlen)))
        return -1;
    /* created (or made private) now: the store's sync then reports every writeback error
     * since, and a failed dump removes only what it made */
    store_close(fs->st);
    if (!(fs->st = store_open(o->dir, STORE_CREATE, err, errlen)))
        return -1;
    fs->created = !fs->existed;
    if (store_mkprefix(fs->st, DUMPDIR_DATA, err, errlen) < 0)
        return -1;
    if (fs->given)
        return write_given_schema(fs, run->m, err, errlen);
    if (store_local_path(fs->st, DUMPDIR_PG_DUMP_LOG, fs->logf, sizeof fs->logf) < 0) {
        /* an object store: pg_dump's stderr goes to a private local temp file instead */
        const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(fs->logf, sizeof fs->logf, "%s/pgferry-pg_dump-XXXXXX", tmpdir);
        int fd = mkstemp(fs->logf);
        if (fd < 0)
            return pf_err(err, errlen, "create a temp file in %s for pg_dump's log: %s", tmpdir, strerror(errno));
        close(fd);
        fs->log_staged = 1;
    }
    return start_schema_dump(o, fs->st, fs->logf, run->coord, run->cat, run->m, run->snapshot, &fs->sp,
                             &fs->schema_pid, err, errlen);
}

static int file_poll(void *ctx, char *err, size_t errlen)
{
    file_sink *fs = ctx;
    if (fs->schema_pid <= 0)
        return 0;
    int w = pgtools_wait(fs->schema_pid, 0, "pg_dump --schema-only", fs->logf, err, errlen);
    if (w <= 0)
        fs->schema_pid = -1;
    return w;
}

static void stop_pg_dump(file_sink *fs)
{
    if (fs->schema_pid > 0) {
        kill(fs->schema_pid, SIGTERM);
        char e2[PF_ERRLEN];
        pgtools_wait(fs->schema_pid, 1, "pg_dump", NULL, e2, sizeof e2);
        fs->schema_pid = -1;
    }
}

/* Every chunk is in: the schema archive, everything pg_dump wrote through the chain, is
 * committed, and all of it made durable before the manifest can say the dump is whole. */
static int file_finish(void *ctx, const copysink_run *run, char *err, size_t errlen)
{
    file_sink *fs = ctx;
    schema_pipe *sp = &fs->sp;
    stop_pg_dump(fs);
    if (sp->started) {
        pthread_join(sp->thread, NULL);
        sp->started = 0;
    }
    if (sp->rc < 0)
        return pf_err(err, errlen, "schema archive: %s", sp->err);
    chunkwriter_result sres;
    if (chunkwriter_commit(sp->cw, &sres, err, errlen) < 0)
        return -1;
    run->m->schema_hash = sres.stored_hash;
    run->m->schema_bytes = sres.stored_bytes;
    unsigned char *copy = sp->copy;
    sp->copy = NULL;
    if (archive_from_memory(copy, sp->copy_len, SCHEMA_FILE, &fs->toc, err, errlen) < 0)
        return -1;
    fs->have_toc = 1;
    if (finish_schema_pipe(sp, 1, err, errlen) < 0)
        return -1;
    store_remove(fs->st, DUMPDIR_PG_DUMP_LOG, NULL, 0);
    /* every chunk and the schema archive on disk, and their names */
    return store_sync(fs->st, "", err, errlen);
}

/* The manifest, last: once the archive is proven to define exactly the tables whose rows
 * are here (a dump that would not restore is not made to look complete), and globals. */
static int file_complete(void *ctx, const copysink_run *run, char *err, size_t errlen)
{
    file_sink *fs = ctx;
    manifest *m = run->m;
    const compress_ops *comp = compress_by_id((unsigned)fs->o->codec);
    m->compression = strdup(chunk_codec_name(fs->o->codec));
    m->compression_level = comp && comp->has_levels ? fs->o->level : 0;
    m->schema_file = strdup(SCHEMA_FILE);
    if (!m->compression || !m->schema_file)
        return pf_err(err, errlen, "out of memory");
    dumpcheck_first first = {0};
    if (dumpcheck_tables(m, &fs->toc, dumpcheck_keep_first, &first) > 0)
        return pf_err(err, errlen, "the schema archive does not match the data (%llu problem%s): %s",
                      (unsigned long long)first.count, first.count == 1 ? "" : "s", first.first);
    if (fs->globals_text) {
        if (write_small_file(fs->st, m, DUMPDIR_GLOBALS_FILE, fs->globals_text, strlen(fs->globals_text),
                             &m->globals_bytes, &m->globals_hash, err, errlen) < 0)
            return -1;
        if (!(m->globals_file = strdup(DUMPDIR_GLOBALS_FILE)))
            return pf_err(err, errlen, "out of memory");
    }
    return manifest_write(m, fs->st, err, errlen);
}

/* Removes what a failed dump wrote, so nothing is left looking like a dump. */
static void file_fail(void *ctx)
{
    file_sink *fs = ctx;
    stop_pg_dump(fs);
    finish_schema_pipe(&fs->sp, 0, NULL, 0);
    if (fs->st && (fs->created || fs->existed)) {
        dumpdir_remove_partial(fs->st);
        if (fs->created)
            store_remove(fs->st, "", NULL, 0); /* the directory itself, when empty */
    }
}

static void *file_worker_new(void *ctx, char *err, size_t errlen)
{
    file_sink *fs = ctx;
    file_worker *fw = calloc(1, sizeof *fw);
    if (!fw) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    fw->fs = fs;
    /* zstd over binary COPY: in the column layout (smaller, and cheaper to compress) */
    const dump_options *o = fs->o;
    const compress_ops *comp = compress_by_id((unsigned)o->codec);
    const compress_ops *cols = comp && !o->row_layout ? compress_with_columns(comp) : NULL;
    chunk_codec bin = cols ? (chunk_codec)cols->id : o->codec;
    /* the keys were made by start, before any worker */
    if (!(fw->cws[0] = chunkwriter_new_chunks(fs->m, o->codec, o->level, err, errlen)) ||
        !(fw->cws[1] = chunkwriter_new_chunks(fs->m, bin, o->level, err, errlen))) {
        chunkwriter_free(fw->cws[0]);
        free(fw);
        return NULL;
    }
    return fw;
}

static void file_worker_free(void *ws)
{
    file_worker *fw = ws;
    if (!fw)
        return;
    chunkwriter_free(fw->cws[0]);
    chunkwriter_free(fw->cws[1]);
    free(fw);
}

static int file_chunk_begin(void *ws, const copysink_chunk *c, char *err, size_t errlen)
{
    file_worker *fw = ws;
    fw->cw = fw->cws[c->binary != 0];
    dumpdir_chunk_name(c->table, c->seq, fw->file, sizeof fw->file);
    /* durable all at once before the manifest (store_sync), not two fsyncs per chunk */
    unsigned flags = STORE_W_DEFER_SYNC | (c->est_bytes < SMALL_CHUNK_BYTES ? STORE_W_SMALL : 0);
    return chunkwriter_open(fw->cw, fw->fs->st, fw->file, flags, err, errlen);
}

static int file_chunk_write(void *ws, const void *data, size_t len, char *err, size_t errlen)
{
    return chunkwriter_write(((file_worker *)ws)->cw, data, len, err, errlen);
}

static int file_chunk_end(void *ws, copysink_result *res, char *err, size_t errlen)
{
    file_worker *fw = ws;
    chunkwriter_result cr;
    memset(res, 0, sizeof *res);
    res->async = chunkwriter_async(fw->cw);
    if (chunkwriter_commit(fw->cw, &cr, err, errlen) < 0)
        return -1;
    if (!(res->file = strdup(fw->file)))
        return pf_err(err, errlen, "out of memory");
    res->raw_bytes = cr.st.raw_bytes;
    res->raw_hash = cr.st.raw_hash;
    res->stored_bytes = cr.stored_bytes;
    res->stored_hash = cr.stored_hash;
    res->codec = (int)cr.codec;
    return 0;
}

static void file_chunk_abort(void *ws)
{
    chunkwriter_abort(((file_worker *)ws)->cw);
}

static const copysink_ops file_ops = {
    .name = "dump",
    .start = file_start,
    .poll = file_poll,
    .finish = file_finish,
    .complete = file_complete,
    .fail = file_fail,
    .worker_new = file_worker_new,
    .worker_free = file_worker_free,
    .chunk_begin = file_chunk_begin,
    .chunk_write = file_chunk_write,
    .chunk_end = file_chunk_end,
    .chunk_abort = file_chunk_abort,
};

int sink_file_open(const dump_options *o, copysink *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    file_sink *fs = calloc(1, sizeof *fs);
    if (!fs)
        return pf_err(err, errlen, "out of memory");
    fs->o = o;
    fs->sp.fd = -1;
    fs->schema_pid = -1;
    if (!(fs->st = open_dump_store(o->dir, &fs->existed, err, errlen))) {
        free(fs);
        return -1;
    }
    out->ops = &file_ops;
    out->ctx = fs;
    return 0;
}

int sink_file_use_read(copysink *s, const void *schema, size_t len, const char *globals, char *err, size_t errlen)
{
    file_sink *fs = s->ctx;
    unsigned char *c = malloc(len ? len : 1);
    char *g = globals ? strdup(globals) : NULL;
    if (!c || (globals && !g)) {
        free(c);
        free(g);
        return pf_err(err, errlen, "out of memory");
    }
    memcpy(c, schema, len);
    free(fs->given);
    fs->given = c;
    fs->given_len = len;
    free(fs->globals_text);
    fs->globals_text = g;
    return 0;
}

void sink_file_close(copysink *s)
{
    file_sink *fs = s->ctx;
    if (!fs)
        return;
    free(fs->given);
    stop_pg_dump(fs);
    finish_schema_pipe(&fs->sp, 0, NULL, 0);
    if (fs->have_toc)
        archive_free(&fs->toc);
    free(fs->globals_text);
    if (fs->log_staged)
        unlink(fs->logf);
    store_close(fs->st);
    free(fs);
    s->ctx = NULL;
}

int dump_to_dir(const dump_options *o, dump_summary *s, char *err, size_t errlen)
{
    copysink sink;
    memset(s, 0, sizeof *s);
    if (sink_file_open(o, &sink, err, errlen) < 0)
        return -1;
    int rc = dump_run(o, &sink, s, err, errlen);
    sink_file_close(&sink);
    return rc;
}
