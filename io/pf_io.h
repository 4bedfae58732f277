/* pf_io: files. A writer that keeps several buffers in flight through io_uring and falls
 * back to plain pwrite() when io_uring cannot be set up (ENOSYS, EPERM, as under a
 * container's seccomp profile); atomic commit (temp name, fsync, rename, fsync dir);
 * a reader for the restore side.
 *
 * Every error is returned as -1 with one line in the caller's buffer that names the file
 * and the kernel's reason (strerror), e.g. "write /x/y.tmp: No space left on device". */
#ifndef PF_IO_H
#define PF_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
    IO_MODE_AUTO = 0,  /* io_uring if it can be set up, else plain writes */
    IO_MODE_URING,     /* io_uring or fail */
    IO_MODE_PLAIN      /* plain pwrite() */
} io_mode;

/* Mode from the environment variable PGFERRY_IO ("uring", "plain", "auto"; unset = auto).
 * Unknown values: -1 and err filled. */
int io_mode_from_env(io_mode *out, char *err, size_t errlen);

typedef struct io_writer io_writer;

/* Opens `path` for writing through a temporary file "<path>.tmp" created with mode `perm`
 * (O_EXCL: an existing temp file is an error). Nothing appears at `path` until
 * io_writer_commit(). */
io_writer *io_writer_open(const char *path, int perm, io_mode mode, char *err, size_t errlen);
/* Writes to an already open fd from offset 0 (no temp, no rename): for tests such as
 * /dev/full, and for callers that manage the file themselves. The fd is not closed by
 * the writer. `name` is used in error messages. */
io_writer *io_writer_from_fd(int fd, const char *name, io_mode mode, char *err, size_t errlen);

int io_writer_write(io_writer *w, const void *data, size_t len, char *err, size_t errlen);
/* Waits for all writes, then (for a writer from io_writer_open) fsync, rename to the final
 * name, fsync the directory. For io_writer_from_fd: waits and fsyncs (fsync errors EINVAL
 * on special files are ignored). The writer is freed in any case. */
int io_writer_commit(io_writer *w, char *err, size_t errlen);
/* For a writer from io_writer_open: commit renames without fsyncing the file or its
 * directory; the caller makes the whole batch durable at once later (io_syncfs), as a dump
 * does before its manifest. Thousands of small files then cost one flush, not two each. */
void io_writer_defer_sync(io_writer *w);
/* Flushes the whole filesystem holding the directory open as dirfd (syncfs): with Linux
 * 5.8 or later it also reports any writeback error since dirfd was opened. */
int io_syncfs(int dirfd, const char *name, char *err, size_t errlen);

/* Drops the writer: waits for in-flight writes, closes and unlinks the temp file. */
void io_writer_abort(io_writer *w);
/* Bytes accepted so far. */
uint64_t io_writer_offset(const io_writer *w);
/* 1 when this writer uses io_uring, 0 for plain writes. */
int io_writer_uses_uring(const io_writer *w);

/* Atomically writes a whole small file (manifest): temp, fsync, rename, fsync dir. */
int io_write_file_atomic(const char *path, const void *data, size_t len, int perm, char *err, size_t errlen);
/* fsync a directory. */
int io_fsync_dir(const char *dir, char *err, size_t errlen);

typedef struct io_reader io_reader;
io_reader *io_reader_open(const char *path, char *err, size_t errlen);
/* Reads up to cap bytes; *got = 0 at end of file. */
int io_reader_read(io_reader *r, void *buf, size_t cap, size_t *got, char *err, size_t errlen);
uint64_t io_reader_size(const io_reader *r);
void io_reader_close(io_reader *r);

/* Reads a whole file into a malloc'd buffer (NUL-terminated; *len excludes it). */
int io_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen);

#endif
