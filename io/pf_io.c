/* pf_io: output and input files (see pf_io.h).
 *
 * The writer copies the caller's bytes into a small set of fixed buffers. With io_uring,
 * a full buffer is submitted as one IORING_OP_WRITE at its file offset and the writer
 * moves on to the next free buffer, so compression of the next megabyte overlaps the
 * kernel writing the previous ones; it blocks only when every buffer is in flight. The
 * plain mode keeps the same buffering (so the syscall count stays low) but writes each
 * full buffer synchronously with pwrite().
 *
 * Errors are sticky: the first failure (usually the root cause, e.g. ENOSPC) is kept in
 * the writer and every later call reports that same line. */
#include "io/pf_io.h"

#include "common/pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* 4 x 1 MiB: enough to keep a disk busy while the worker prepares the next buffer,
 * small enough that dozens of parallel workers stay well under 100 MiB. */
#define IO_BUF_SIZE ((size_t)1 << 20)
#define IO_NBUF 4
/* Each buffer has at most one write in flight; the spare entries cost nothing. */
#define IO_RING_DEPTH 8
/* Reads of this size amortise syscalls without holding much memory. */
#define IO_READ_CHUNK ((size_t)1 << 20)

typedef struct {
    uint8_t *data;
    size_t len;    /* bytes filled */
    size_t done;   /* bytes the kernel has written so far (short writes resume here) */
    uint64_t off;  /* file offset of data[0], fixed at submission */
    int busy;      /* a write for this buffer is in flight */
} io_buf;

struct io_writer {
    int fd;
    int own_file;      /* 1: opened by io_writer_open (temp + rename); 0: caller's fd */
    char *path;        /* final name (own_file only) */
    char *name;        /* the name errors use: the temp file, or the caller's name */
    int use_uring;
    int ring_ok;       /* ring initialised and still usable for waiting */
    struct io_uring ring;
    io_buf bufs[IO_NBUF];
    int nbuf;
    int cur;           /* buffer being filled, -1 when none */
    int inflight;
    uint64_t accepted; /* bytes handed to io_writer_write */
    uint64_t next_off; /* file offset of the next buffer to write */
    int failed;
    int defer_sync;    /* commit without fsync (io_writer_defer_sync) */
    char errmsg[PF_ERRLEN];
};

struct io_reader {
    int fd;
    char *path;
    uint64_t size;
};

/* strerror() may share a static buffer between threads; workers format errors
 * concurrently, so use the GNU strerror_r into a caller-provided buffer. */
static const char *io_strerror(int e, char *buf, size_t len)
{
    return strerror_r(e, buf, len);
}

/* Records the first error only: later failures are usually consequences of it. */
static int io_fail(io_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int io_fail(io_writer *w, const char *fmt, ...)
{
    if (!w->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
        va_end(ap);
        w->failed = 1;
    }
    return -1;
}

static int io_fail_errno(io_writer *w, const char *what, int e)
{
    char eb[128];
    return io_fail(w, "%s %s: %s", what, w->name, io_strerror(e, eb, sizeof eb));
}

static int io_report(const io_writer *w, char *err, size_t errlen)
{
    return pf_err(err, errlen, "%s", w->errmsg);
}

int io_mode_from_env(io_mode *out, char *err, size_t errlen)
{
    const char *v = getenv("PGFERRY_IO");
    if (!v || !*v || strcasecmp(v, "auto") == 0)
        *out = IO_MODE_AUTO;
    else if (strcasecmp(v, "uring") == 0)
        *out = IO_MODE_URING;
    else if (strcasecmp(v, "plain") == 0)
        *out = IO_MODE_PLAIN;
    else
        return pf_err(err, errlen, "PGFERRY_IO=%s: expected uring, plain or auto", v);
    return 0;
}

/* ---- plain writes ------------------------------------------------------------------ */

static int io_pwrite_all(io_writer *w, const uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(w->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return io_fail_errno(w, "write", errno);
        }
        if (n == 0) /* a regular file never does this; do not spin if something does */
            return io_fail(w, "write %s: no progress at offset %llu", w->name,
                           (unsigned long long)off);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* ---- io_uring writes --------------------------------------------------------------- */

/* Queues the unwritten remainder of b and submits it. */
static int io_submit_buf(io_writer *w, io_buf *b)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe) {
        /* Cannot happen with one write per buffer and a deeper ring, but be safe. */
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
        if (!sqe)
            return io_fail(w, "write %s: io_uring submission queue full", w->name);
    }
    io_uring_prep_write(sqe, w->fd, b->data + b->done, (unsigned)(b->len - b->done),
                        b->off + b->done);
    io_uring_sqe_set_data(sqe, b);
    int ret;
    do
        ret = io_uring_submit(&w->ring);
    while (ret == -EINTR || ret == -EAGAIN);
    if (ret < 0) {
        char eb[128];
        /* The kernel never saw this write, so it will not complete: not in flight. */
        b->busy = 0;
        w->inflight--;
        return io_fail(w, "io_uring submit for %s: %s", w->name, io_strerror(-ret, eb, sizeof eb));
    }
    return 0;
}

/* Handles one completion: finishes the buffer, resubmits the rest of a short write, or
 * records the error. */
static void io_complete(io_writer *w, io_buf *b, int res)
{
    if (res == -EINTR || res == -EAGAIN) {
        if (!w->failed && io_submit_buf(w, b) == 0)
            return;
    } else if (res < 0) {
        char eb[128];
        io_fail(w, "write %s: %s", w->name, io_strerror(-res, eb, sizeof eb));
    } else if (res == 0) {
        io_fail(w, "write %s: no progress at offset %llu", w->name,
                (unsigned long long)(b->off + b->done));
    } else {
        b->done += (size_t)res;
        /* Short write (e.g. the disk filled, or a signal): write the remainder at its
         * offset; the next attempt reports the reason if there is one. */
        if (b->done < b->len && !w->failed) {
            if (io_submit_buf(w, b) == 0)
                return;
        }
    }
    if (b->busy) {
        b->busy = 0;
        w->inflight--;
    }
    b->len = 0;
    b->done = 0;
}

/* Reaps completions: waits for one when `wait`, then takes whatever else is ready. */
static int io_reap(io_writer *w, int wait)
{
    struct io_uring_cqe *cqe;
    int ret;
    if (wait) {
        do
            ret = io_uring_wait_cqe(&w->ring, &cqe);
        while (ret == -EINTR);
        if (ret < 0) {
            char eb[128];
            /* We can no longer learn when the kernel is done with our buffers. */
            w->ring_ok = 0;
            return io_fail(w, "io_uring wait for %s: %s", w->name, io_strerror(-ret, eb, sizeof eb));
        }
    } else if (io_uring_peek_cqe(&w->ring, &cqe) != 0) {
        return 0;
    }
    do {
        io_buf *b = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&w->ring, cqe);
        io_complete(w, b, res);
    } while (io_uring_peek_cqe(&w->ring, &cqe) == 0);
    return 0;
}

/* Waits until no write is in flight. Returns -1 if any write failed. */
static int io_drain(io_writer *w)
{
    while (w->use_uring && w->inflight > 0 && w->ring_ok)
        io_reap(w, 1);
    return w->failed ? -1 : 0;
}

/* Makes w->cur a free, empty buffer, waiting for a completion if all are in flight. */
static int io_take_buf(io_writer *w)
{
    if (!w->use_uring) {
        w->cur = 0;
        return 0;
    }
    io_reap(w, 0); /* cheap; surfaces errors early and frees buffers */
    for (;;) {
        if (w->failed)
            return -1;
        for (int i = 0; i < w->nbuf; i++) {
            if (!w->bufs[i].busy) {
                w->cur = i;
                w->bufs[i].len = 0;
                w->bufs[i].done = 0;
                return 0;
            }
        }
        if (!w->ring_ok || io_reap(w, 1) < 0)
            return -1;
    }
}

/* Writes (plain) or submits (io_uring) the current buffer. */
static int io_flush_cur(io_writer *w)
{
    if (w->cur < 0)
        return 0;
    io_buf *b = &w->bufs[w->cur];
    if (b->len == 0)
        return 0;
    if (!w->use_uring) {
        int rc = io_pwrite_all(w, b->data, b->len, w->next_off);
        w->next_off += b->len;
        b->len = 0;
        return rc;
    }
    b->off = w->next_off;
    b->done = 0;
    b->busy = 1;
    w->next_off += b->len;
    w->inflight++;
    w->cur = -1;
    return io_submit_buf(w, b);
}

/* ---- writer lifecycle -------------------------------------------------------------- */

/* Returns 1 when the running kernel can do IORING_OP_WRITE (5.6+); older kernels have
 * io_uring but would fail every write with EINVAL. */
static int io_ring_can_write(struct io_uring *ring)
{
    struct io_uring_probe *p = io_uring_get_probe_ring(ring);
    if (!p)
        return 0;
    int ok = io_uring_opcode_supported(p, IORING_OP_WRITE);
    io_uring_free_probe(p);
    return ok;
}

static void io_writer_free(io_writer *w)
{
    if (!w)
        return;
    if (w->use_uring)
        io_uring_queue_exit(&w->ring);
    /* If a wait failed while writes were in flight the kernel may still read these
     * buffers; leaking them is the only safe choice in that (never seen) case. */
    if (w->inflight == 0) {
        for (int i = 0; i < w->nbuf; i++)
            free(w->bufs[i].data);
    }
    free(w->path);
    free(w->name);
    free(w);
}

/* Buffers and ring for a writer whose fd and names are set. */
static int io_writer_init(io_writer *w, io_mode mode)
{
    w->cur = -1;
    w->nbuf = 1;
    if (mode != IO_MODE_PLAIN) {
        int ret = io_uring_queue_init(IO_RING_DEPTH, &w->ring, 0);
        if (ret == 0 && !io_ring_can_write(&w->ring)) {
            io_uring_queue_exit(&w->ring);
            ret = -EINVAL;
        }
        if (ret == 0) {
            w->use_uring = 1;
            w->ring_ok = 1;
            w->nbuf = IO_NBUF;
        } else if (mode == IO_MODE_URING) {
            char eb[128];
            /* Any reason (ENOSYS, EPERM under seccomp, ENOMEM from memlock limits)
             * means the same thing for AUTO: write plainly. URING asked for it. */
            return io_fail(w, "io_uring setup for %s: %s", w->name,
                           io_strerror(-ret, eb, sizeof eb));
        }
    }
    for (int i = 0; i < w->nbuf; i++) {
        /* Page-aligned so the kernel copies whole pages (and O_DIRECT stays possible). */
        void *p;
        if (posix_memalign(&p, 4096, IO_BUF_SIZE) != 0) {
            w->nbuf = i;
            return io_fail(w, "write %s: out of memory for buffers", w->name);
        }
        w->bufs[i].data = p;
    }
    return 0;
}

io_writer *io_writer_open(const char *path, int perm, io_mode mode, char *err, size_t errlen)
{
    char eb[128];
    io_writer *w = calloc(1, sizeof *w);
    if (!w) {
        pf_err(err, errlen, "open %s: out of memory", path);
        return NULL;
    }
    w->fd = -1;
    w->own_file = 1;
    w->path = strdup(path);
    if (w->path && asprintf(&w->name, "%s.tmp", path) < 0)
        w->name = NULL;
    if (!w->path || !w->name) {
        pf_err(err, errlen, "open %s: out of memory", path);
        io_writer_free(w);
        return NULL;
    }
    /* O_EXCL: a leftover temp means another writer or a crashed run; never clobber it. */
    w->fd = open(w->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)perm);
    if (w->fd < 0) {
        pf_err(err, errlen, "open %s: %s", w->name, io_strerror(errno, eb, sizeof eb));
        io_writer_free(w);
        return NULL;
    }
    /* open() applies the umask; dump files must have exactly `perm` (0600). */
    if (fchmod(w->fd, (mode_t)perm) < 0)
        io_fail_errno(w, "fchmod", errno);
    else
        io_writer_init(w, mode);
    if (w->failed) {
        io_report(w, err, errlen);
        close(w->fd);
        unlink(w->name);
        io_writer_free(w);
        return NULL;
    }
    return w;
}

io_writer *io_writer_from_fd(int fd, const char *name, io_mode mode, char *err, size_t errlen)
{
    io_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->name = strdup(name ? name : "(fd)"))) {
        pf_err(err, errlen, "write %s: out of memory", name ? name : "(fd)");
        free(w);
        return NULL;
    }
    w->fd = fd;
    if (io_writer_init(w, mode) < 0) {
        io_report(w, err, errlen);
        io_writer_free(w);
        return NULL;
    }
    return w;
}

int io_writer_write(io_writer *w, const void *data, size_t len, char *err, size_t errlen)
{
    const uint8_t *p = data;
    if (w->failed)
        return io_report(w, err, errlen);
    while (len > 0) {
        if (w->cur < 0 && io_take_buf(w) < 0)
            return io_report(w, err, errlen);
        io_buf *b = &w->bufs[w->cur];
        /* Plain mode, empty buffer, big input: write straight from the caller's memory
         * (pwrite is synchronous, so the memory need not outlive this call). */
        if (!w->use_uring && b->len == 0 && len >= IO_BUF_SIZE) {
            size_t n = len - len % IO_BUF_SIZE;
            int rc = io_pwrite_all(w, p, n, w->next_off);
            w->next_off += n;
            w->accepted += n;
            if (rc < 0)
                return io_report(w, err, errlen);
            p += n;
            len -= n;
            continue;
        }
        size_t n = IO_BUF_SIZE - b->len;
        if (n > len)
            n = len;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        p += n;
        len -= n;
        w->accepted += n;
        if (b->len == IO_BUF_SIZE && io_flush_cur(w) < 0)
            return io_report(w, err, errlen);
    }
    return 0;
}

/* Returns the directory part of path ("." or "/" where there is none), malloc'd. */
static char *io_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

void io_writer_defer_sync(io_writer *w)
{
    w->defer_sync = 1;
}

int io_syncfs(int dirfd, const char *name, char *err, size_t errlen)
{
    char eb[128];
    if (syncfs(dirfd) < 0)
        return pf_err(err, errlen, "sync %s: %s", name, io_strerror(errno, eb, sizeof eb));
    return 0;
}

int io_writer_commit(io_writer *w, char *err, size_t errlen)
{
    char eb[128];
    int renamed = 0;
    if (!w->failed)
        io_flush_cur(w);
    io_drain(w);
    if (!w->failed && !w->defer_sync && fsync(w->fd) < 0) {
        /* /dev/full, pipes and the like cannot be synced; for a caller's fd that is
         * not an error (their data went wherever such files send it). */
        if (w->own_file || (errno != EINVAL && errno != EROFS))
            io_fail_errno(w, "fsync", errno);
    }
    if (w->own_file) {
        if (close(w->fd) < 0 && !w->failed)
            io_fail_errno(w, "close", errno);
        w->fd = -1;
        if (!w->failed) {
            if (rename(w->name, w->path) < 0)
                io_fail(w, "rename %s -> %s: %s", w->name, w->path,
                        io_strerror(errno, eb, sizeof eb));
            else
                renamed = 1;
        }
        if (renamed && !w->defer_sync) {
            /* The rename is durable only once the directory entry is on disk. */
            char *dir = io_dirname(w->path);
            if (!dir)
                io_fail(w, "fsync directory of %s: out of memory", w->path);
            else if (io_fsync_dir(dir, w->errmsg, sizeof w->errmsg) < 0)
                w->failed = 1;
            free(dir);
        } else if (!renamed) {
            /* A failed commit leaves nothing behind, as the caller cannot abort now. */
            unlink(w->name);
        }
    }
    int rc = w->failed ? io_report(w, err, errlen) : 0;
    io_writer_free(w);
    return rc;
}

void io_writer_abort(io_writer *w)
{
    if (!w)
        return;
    /* The kernel may still be reading our buffers; freeing them first would be a
     * use-after-free by the kernel. */
    io_drain(w);
    if (w->own_file) {
        close(w->fd);
        unlink(w->name);
    }
    io_writer_free(w);
}

uint64_t io_writer_offset(const io_writer *w)
{
    return w->accepted;
}

int io_writer_uses_uring(const io_writer *w)
{
    return w->use_uring;
}

/* ---- small files and directories --------------------------------------------------- */

int io_write_file_atomic(const char *path, const void *data, size_t len, int perm, char *err, size_t errlen)
{
    /* Small files gain nothing from io_uring; plain mode skips the ring setup. */
    io_writer *w = io_writer_open(path, perm, IO_MODE_PLAIN, err, errlen);
    if (!w)
        return -1;
    if (io_writer_write(w, data, len, err, errlen) < 0) {
        io_writer_abort(w);
        return -1;
    }
    return io_writer_commit(w, err, errlen);
}

int io_fsync_dir(const char *dir, char *err, size_t errlen)
{
    char eb[128];
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pf_err(err, errlen, "open directory %s: %s", dir, io_strerror(errno, eb, sizeof eb));
    if (fsync(fd) < 0) {
        int e = errno;
        close(fd);
        return pf_err(err, errlen, "fsync directory %s: %s", dir, io_strerror(e, eb, sizeof eb));
    }
    close(fd);
    return 0;
}

/* ---- reading ----------------------------------------------------------------------- */

io_reader *io_reader_open(const char *path, char *err, size_t errlen)
{
    char eb[128];
    struct stat st;
    io_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        pf_err(err, errlen, "open %s: out of memory", path);
        return NULL;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        pf_err(err, errlen, "open %s: %s", path, io_strerror(errno, eb, sizeof eb));
        io_reader_close(r);
        return NULL;
    }
    if (fstat(r->fd, &st) < 0) {
        pf_err(err, errlen, "stat %s: %s", path, io_strerror(errno, eb, sizeof eb));
        io_reader_close(r);
        return NULL;
    }
    r->size = (uint64_t)st.st_size;
    /* Chunks are read once, front to back: let the kernel read ahead further. */
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return r;
}

int io_reader_read(io_reader *r, void *buf, size_t cap, size_t *got, char *err, size_t errlen)
{
    char eb[128];
    uint8_t *p = buf;
    size_t n = 0;
    /* Fill the buffer unless the file ends: callers then see a short count only at EOF. */
    while (n < cap) {
        ssize_t k = read(r->fd, p + n, cap - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            *got = n;
            return pf_err(err, errlen, "read %s: %s", r->path, io_strerror(errno, eb, sizeof eb));
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    *got = n;
    return 0;
}

uint64_t io_reader_size(const io_reader *r)
{
    return r->size;
}

void io_reader_close(io_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r);
}

int io_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    io_reader *r = io_reader_open(path, err, errlen);
    if (!r)
        return -1;
    /* st_size is a hint only: files in /proc say 0, and a file may grow meanwhile. */
    size_t cap = (size_t)r->size + 1;
    if (cap < 4096)
        cap = 4096;
    size_t n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            io_reader_close(r);
            return pf_err(err, errlen, "read %s: out of memory", path);
        }
        size_t want = cap - 1 - n, got;
        if (want > IO_READ_CHUNK)
            want = IO_READ_CHUNK;
        if (io_reader_read(r, buf + n, want, &got, err, errlen) < 0) {
            free(buf);
            io_reader_close(r);
            return -1;
        }
        n += got;
        if (got < want)
            break;
        if (n == cap - 1) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    io_reader_close(r);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}
