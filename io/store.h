/* store: where dumps and repositories live. Every file a dump or a repository holds is read
 * and written through this interface, by name relative to the store's root; the engine never
 * builds paths or calls POSIX for them.
 *
 * A store is opened from a location string: today a local directory ("/backups/x",
 * "rel/dir"), implemented by store_posix.c over pf_io's writer (io_uring or plain writes).
 * The interface is shaped so that an object store (s3://bucket/prefix) is one more backend:
 *
 *   - names, never descriptors or paths: "manifest.json", "data/3.1.chunk", ".verify/x.json";
 *     '/' separates levels, a "directory" is only a common prefix
 *   - reads of a whole file or of a byte range (an HTTP Range GET)
 *   - writes streamed in parts and visible only after commit, all or nothing (temp + rename
 *     here; a multipart upload completed at commit, aborted otherwise, for an object store)
 *   - listing one level under a prefix (ListObjectsV2 with a delimiter)
 *   - locks that are named objects holding a small text (their owner), taken without waiting
 *
 * Errors follow pf_util's convention: -1 (or NULL) with one line in the caller's buffer that
 * names the file and the reason, e.g. "open /x/manifest.json: No such file or directory". */
#ifndef PF_STORE_H
#define PF_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct pf_store pf_store;
typedef struct store_reader store_reader;
typedef struct store_writer store_writer;
typedef struct store_lock store_lock;

/* ---- opening ---------------------------------------------------------------------------- */

enum {
    STORE_CREATE = 1 << 0, /* create the root (mode 0700), or make an existing one private */
};

/* Opens the store at location. Without STORE_CREATE a missing root is not an error: reads
 * fail on their own names, and store_root_state() says what is there. */
pf_store *store_open(const char *location, unsigned flags, char *err, size_t errlen);
/* A store rooted at `name` inside parent (a dump inside a repository). */
pf_store *store_open_sub(const pf_store *parent, const char *name, unsigned flags, char *err, size_t errlen);
void store_close(pf_store *s);
/* The location as given (for messages). */
const char *store_location(const pf_store *s);

typedef enum {
    STORE_ROOT_MISSING = 0,  /* nothing there */
    STORE_ROOT_EMPTY = 1,    /* exists and holds nothing */
    STORE_ROOT_USED = 2      /* holds something */
} store_root_state_t;
/* What the root holds; -1 with err when it cannot be read or is not a directory/prefix. */
int store_root_state(const pf_store *s, store_root_state_t *state, char *err, size_t errlen);

/* "location/name" for messages (not for opening anything). */
void store_display(const pf_store *s, const char *name, char *out, size_t outlen);

/* The local file behind a name, for the few external programs that need one (pg_dump's
 * stderr log, pg_restore's archive argument): 0 and out filled, or -1 when the store has no
 * local files (an object store then stages a local copy). */
int store_local_path(const pf_store *s, const char *name, char *out, size_t outlen);

/* ---- names ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t size;  /* bytes of a file; 0 for a prefix */
    int is_prefix;  /* a "directory": names exist under name + "/" */
    time_t mtime;   /* last modification (0 when unknown) */
} store_info;

/* 1 with *info when name exists, 0 when it does not, -1 with err when that cannot be told. */
int store_stat(const pf_store *s, const char *name, store_info *info, char *err, size_t errlen);

/* Calls fn for every entry one level under prefix ("" = the root; "data" = "data/..."), in
 * no particular order, with the entry's name relative to prefix (no '/'; hidden names
 * included). fn returns 0 to go on, non-zero to stop (store_list then returns that value).
 * A missing prefix lists nothing. */
typedef int (*store_list_fn)(void *ctx, const char *name, const store_info *info);
int store_list(const pf_store *s, const char *prefix, store_list_fn fn, void *ctx, char *err, size_t errlen);

/* ---- reading ---------------------------------------------------------------------------- */

#define STORE_TO_END UINT64_MAX

/* Opens name for reading `len` bytes from `offset` (STORE_TO_END: to the end of the file).
 * A range past the end is cut at the end. */
store_reader *store_reader_open(const pf_store *s, const char *name, uint64_t offset, uint64_t len, char *err,
                                size_t errlen);
/* Reads up to cap bytes; fills the buffer unless the range ends; *got = 0 at its end. */
int store_reader_read(store_reader *r, void *buf, size_t cap, size_t *got, char *err, size_t errlen);
/* Size of the whole file (not of the range). */
uint64_t store_reader_file_size(const store_reader *r);
void store_reader_close(store_reader *r);

/* A whole file into a malloc'd buffer (NUL-terminated; *len excludes it). */
int store_read_all(const pf_store *s, const char *name, char **data, size_t *len, char *err, size_t errlen);

/* ---- writing ---------------------------------------------------------------------------- */

enum {
    /* commit makes the file visible but not yet durable: store_sync() makes the whole batch
     * durable at once (a dump's chunks before its manifest). */
    STORE_W_DEFER_SYNC = 1 << 0,
    /* a hint that the file is small (one buffer): no setup for many writes in flight */
    STORE_W_SMALL = 1 << 1,
    /* a leftover of an interrupted write of the same name is discarded (without it, such a
     * leftover makes the open fail: two writers never share a name unknowingly) */
    STORE_W_REPLACE_TEMP = 1 << 2,
};

/* Starts writing name (parents are created as needed). Nothing is visible under name until
 * store_writer_commit(); an existing file of that name is replaced at commit. */
store_writer *store_writer_open(pf_store *s, const char *name, unsigned flags, char *err, size_t errlen);
int store_writer_write(store_writer *w, const void *data, size_t len, char *err, size_t errlen);
/* Completes the file atomically (durably unless STORE_W_DEFER_SYNC) and frees the writer in
 * any case. */
int store_writer_commit(store_writer *w, char *err, size_t errlen);
/* Drops the writer and whatever it wrote. */
void store_writer_abort(store_writer *w);
/* Bytes accepted so far. */
uint64_t store_writer_offset(const store_writer *w);
/* 1 when this writer keeps several writes in flight (io_uring for the POSIX store). */
int store_writer_async(const store_writer *w);

/* A whole small file, atomically and durably. */
int store_write_all(pf_store *s, const char *name, const void *data, size_t len, char *err, size_t errlen);

/* Declares the prefix name (a directory, mode 0700, for the POSIX store; nothing for an
 * object store). An existing one is fine. */
int store_mkprefix(pf_store *s, const char *name, char *err, size_t errlen);

/* Makes durable everything committed with STORE_W_DEFER_SYNC under prefix ("" = the root),
 * and every removal, rename and new name in prefix and of prefix itself. */
int store_sync(pf_store *s, const char *prefix, char *err, size_t errlen);

/* ---- removing --------------------------------------------------------------------------- */

/* Removes one file; a missing one is not an error. */
int store_remove(pf_store *s, const char *name, char *err, size_t errlen);
/* Removes name and everything under name + "/"; missing is not an error. */
int store_remove_tree(pf_store *s, const char *name, char *err, size_t errlen);
/* Renames a file or a whole prefix in one step (prune hides a dump before deleting it). A
 * backend that cannot rename a prefix atomically may copy and delete, or refuse with err. */
int store_rename(pf_store *s, const char *from, const char *to, char *err, size_t errlen);

/* ---- locks ------------------------------------------------------------------------------ */

enum {
    STORE_LOCK_NEW = 1 << 0, /* the lock's name must not exist yet (a fresh label) */
};

/* Takes the lock `name` without waiting, writing `owner` into it. NULL with *busy = 1 when
 * someone else holds it (err says so), *busy = 0 for other errors. A holder that dies
 * releases it (the kernel's flock for the POSIX store; a lease for an object store). */
store_lock *store_lock_take(pf_store *s, const char *name, const char *owner, unsigned flags, int *busy,
                            char *err, size_t errlen);
/* Releases the lock; one taken with STORE_LOCK_NEW is removed too (its name was fresh),
 * others stay for the next holder. */
void store_lock_release(store_lock *l);
/* 1 when some holder has the lock name now, 0 when nobody does (or it does not exist). */
int store_lock_held(const pf_store *s, const char *name);

#endif
