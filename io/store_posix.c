/* store_posix: the store over a local directory. Writes go through pf_io's writer (io_uring
 * with several buffers in flight, or plain writes; PGFERRY_IO chooses), to "<name>.tmp"
 * first, renamed at commit, with the file and its directory fsynced (or, for
 * STORE_W_DEFER_SYNC, the whole filesystem synced once by store_sync). Locks are flock()s on
 * lock files, so a dead holder's lock is released by the kernel. */
#include "io/store_impl.h"

#include "common/pf_util.h"
#include "io/pf_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    pf_store base;
    char *root;   /* the directory, without a trailing '/' */
    int rootfd;   /* opened once the root exists: syncfs on it reports writeback errors since */
    io_mode mode;
    atomic_int deferred; /* files were committed with STORE_W_DEFER_SYNC: sync must syncfs */
} posix_store;

typedef struct {
    store_reader base;
    int fd;
    char *path;
    uint64_t size, pos, end;
} posix_reader;

typedef struct {
    store_writer base;
    io_writer *w;
} posix_writer;

typedef struct {
    store_lock base;
    int fd;
    int remove;   /* taken with STORE_LOCK_NEW: its name goes on release */
    char *path;
} posix_lock;

#define PS(s) ((posix_store *)(s))

static const char *posix_strerror(int e, char *buf, size_t len)
{
    return strerror_r(e, buf, len);
}

/* root/name; name "" is the root itself. */
static void posix_path(const posix_store *s, const char *name, char *out, size_t outlen)
{
    if (!name || !*name)
        snprintf(out, outlen, "%s", s->root);
    else
        snprintf(out, outlen, "%s/%s", s->root, name);
}

static pf_store *posix_new(const char *location, const char *root, unsigned flags, char *err, size_t errlen)
{
    char eb[128];
    posix_store *s = calloc(1, sizeof *s);
    if (!s || !(s->root = strdup(root)) || !(s->base.location = strdup(location))) {
        if (s)
            free(s->root);
        free(s);
        pf_err(err, errlen, "%s: out of memory", location);
        return NULL;
    }
    s->base.ops = &store_posix_ops;
    s->rootfd = -1;
    size_t len = strlen(s->root);
    while (len > 1 && s->root[len - 1] == '/')
        s->root[--len] = '\0';
    if (io_mode_from_env(&s->mode, err, errlen) < 0)
        goto fail;
    if (flags & STORE_CREATE) {
        if (mkdir(s->root, 0700) != 0) {
            if (errno != EEXIST) {
                pf_err(err, errlen, "create %s: %s", s->root, posix_strerror(errno, eb, sizeof eb));
                goto fail;
            }
            if (chmod(s->root, 0700) != 0) {
                pf_err(err, errlen, "chmod %s: %s", s->root, posix_strerror(errno, eb, sizeof eb));
                goto fail;
            }
        }
    }
    s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0 && (flags & STORE_CREATE)) {
        pf_err(err, errlen, "open %s: %s", s->root, posix_strerror(errno, eb, sizeof eb));
        goto fail;
    }
    return &s->base;
fail:
    store_posix_ops.close(&s->base);
    return NULL;
}

static pf_store *posix_open(const char *location, unsigned flags, char *err, size_t errlen)
{
    return posix_new(location, location, flags, err, errlen);
}

static pf_store *posix_open_sub(const pf_store *parent, const char *name, unsigned flags, char *err, size_t errlen)
{
    char path[4096];
    posix_path(PS(parent), name, path, sizeof path);
    return posix_new(path, path, flags, err, errlen);
}

static void posix_close(pf_store *base)
{
    posix_store *s = PS(base);
    if (s->rootfd >= 0)
        close(s->rootfd);
    free(s->root);
    free(s->base.location);
    free(s);
}

static int posix_root_state(const pf_store *base, store_root_state_t *state, char *err, size_t errlen)
{
    const posix_store *s = PS(base);
    char eb[128];
    struct stat sb;
    *state = STORE_ROOT_MISSING;
    if (stat(s->root, &sb) != 0) {
        if (errno == ENOENT)
            return 0;
        return pf_err(err, errlen, "%s: %s", s->root, posix_strerror(errno, eb, sizeof eb));
    }
    if (!S_ISDIR(sb.st_mode))
        return pf_err(err, errlen, "%s exists and is not a directory", s->root);
    DIR *d = opendir(s->root);
    if (!d)
        return pf_err(err, errlen, "%s: %s", s->root, posix_strerror(errno, eb, sizeof eb));
    struct dirent *de;
    *state = STORE_ROOT_EMPTY;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            *state = STORE_ROOT_USED;
    closedir(d);
    return 0;
}

static int posix_local_path(const pf_store *base, const char *name, char *out, size_t outlen)
{
    posix_path(PS(base), name, out, outlen);
    return 0;
}

static void posix_info(const struct stat *sb, store_info *info)
{
    info->is_prefix = S_ISDIR(sb->st_mode);
    info->size = info->is_prefix ? 0 : (uint64_t)sb->st_size;
    info->mtime = sb->st_mtime;
}

static int posix_stat(const pf_store *base, const char *name, store_info *info, char *err, size_t errlen)
{
    char path[4096], eb[128];
    struct stat sb;
    posix_path(PS(base), name, path, sizeof path);
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return pf_err(err, errlen, "stat %s: %s", path, posix_strerror(errno, eb, sizeof eb));
    }
    posix_info(&sb, info);
    return 1;
}

static int posix_list(const pf_store *base, const char *prefix, store_list_fn fn, void *ctx, char *err,
                      size_t errlen)
{
    char path[4096], eb[128];
    posix_path(PS(base), prefix, path, sizeof path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return pf_err(err, errlen, "%s: %s", path, posix_strerror(errno, eb, sizeof eb));
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return pf_err(err, errlen, "%s: %s", path, posix_strerror(e, eb, sizeof eb));
    }
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat sb;
        store_info info = {0};
        /* symlinks are listed as files, never followed */
        if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            posix_info(&sb, &info);
        else if (errno == ENOENT)
            continue;
        rc = fn(ctx, de->d_name, &info);
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = pf_err(err, errlen, "%s: %s", path, posix_strerror(errno, eb, sizeof eb));
    closedir(d);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

static void posix_reader_close(store_reader *base)
{
    posix_reader *r = (posix_reader *)base;
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r);
}

static store_reader *posix_reader_open(const pf_store *base, const char *name, uint64_t offset, uint64_t len,
                                       char *err, size_t errlen)
{
    char path[4096], eb[128];
    struct stat st;
    posix_path(PS(base), name, path, sizeof path);
    posix_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        pf_err(err, errlen, "open %s: out of memory", path);
        return NULL;
    }
    r->base.ops = &store_posix_ops;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        pf_err(err, errlen, "open %s: %s", path, posix_strerror(errno, eb, sizeof eb));
        posix_reader_close(&r->base);
        return NULL;
    }
    if (fstat(r->fd, &st) < 0) {
        pf_err(err, errlen, "stat %s: %s", path, posix_strerror(errno, eb, sizeof eb));
        posix_reader_close(&r->base);
        return NULL;
    }
    r->size = (uint64_t)st.st_size;
    r->pos = offset;
    r->end = len == STORE_TO_END || offset + len < offset ? UINT64_MAX : offset + len;
    /* read once, front to back: let the kernel read ahead further */
    posix_fadvise(r->fd, (off_t)offset, 0, POSIX_FADV_SEQUENTIAL);
    return &r->base;
}

static int posix_reader_read(store_reader *base, void *buf, size_t cap, size_t *got, char *err, size_t errlen)
{
    posix_reader *r = (posix_reader *)base;
    char eb[128];
    uint8_t *p = buf;
    size_t n = 0;
    if (r->end - r->pos < cap)
        cap = (size_t)(r->end - r->pos);
    /* fill the buffer unless the range ends: callers then see a short count only at its end */
    while (n < cap) {
        ssize_t k = pread(r->fd, p + n, cap - n, (off_t)r->pos);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            *got = n;
            return pf_err(err, errlen, "read %s: %s", r->path, posix_strerror(errno, eb, sizeof eb));
        }
        if (k == 0)
            break;
        n += (size_t)k;
        r->pos += (uint64_t)k;
    }
    *got = n;
    return 0;
}

static uint64_t posix_reader_file_size(const store_reader *base)
{
    return ((const posix_reader *)base)->size;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* mkdir -p of the directories above name (mode 0700). */
static int posix_make_parents(const posix_store *s, const char *name, char *err, size_t errlen)
{
    char path[4096], eb[128];
    posix_path(s, name, path, sizeof path);
    size_t skip = strlen(s->root) + 1;
    for (char *p = path + skip; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        int bad = mkdir(path, 0700) != 0 && errno != EEXIST;
        int e = errno;
        *p = '/';
        if (bad) {
            *p = '\0';
            return pf_err(err, errlen, "create %s: %s", path, posix_strerror(e, eb, sizeof eb));
        }
    }
    return 0;
}

static store_writer *posix_writer_open(pf_store *base, const char *name, unsigned flags, char *err, size_t errlen)
{
    posix_store *s = PS(base);
    char path[4096];
    if (strchr(name, '/') && posix_make_parents(s, name, err, errlen) < 0)
        return NULL;
    posix_path(s, name, path, sizeof path);
    if (flags & STORE_W_REPLACE_TEMP) {
        char tmp[4096 + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        unlink(tmp);
    }
    posix_writer *w = calloc(1, sizeof *w);
    if (!w) {
        pf_err(err, errlen, "open %s: out of memory", path);
        return NULL;
    }
    w->base.ops = &store_posix_ops;
    /* io_uring pays off with several buffers in flight; a file smaller than one buffer is a
     * single write, and setting up a ring for each of ten thousand small files costs more
     * than it saves */
    io_mode mode = s->mode;
    if (mode == IO_MODE_AUTO && (flags & STORE_W_SMALL))
        mode = IO_MODE_PLAIN;
    w->w = io_writer_open(path, 0600, mode, err, errlen);
    if (!w->w) {
        free(w);
        return NULL;
    }
    if (flags & STORE_W_DEFER_SYNC) {
        io_writer_defer_sync(w->w);
        atomic_store(&s->deferred, 1);
    }
    return &w->base;
}

static int posix_writer_write(store_writer *base, const void *data, size_t len, char *err, size_t errlen)
{
    return io_writer_write(((posix_writer *)base)->w, data, len, err, errlen);
}

static int posix_writer_commit(store_writer *base, char *err, size_t errlen)
{
    posix_writer *w = (posix_writer *)base;
    int rc = io_writer_commit(w->w, err, errlen);
    free(w);
    return rc;
}

static void posix_writer_abort(store_writer *base)
{
    posix_writer *w = (posix_writer *)base;
    io_writer_abort(w->w);
    free(w);
}

static uint64_t posix_writer_offset(const store_writer *base)
{
    return io_writer_offset(((const posix_writer *)base)->w);
}

static int posix_writer_async(const store_writer *base)
{
    return io_writer_uses_uring(((const posix_writer *)base)->w);
}

static int posix_mkprefix(pf_store *base, const char *name, char *err, size_t errlen)
{
    char path[4096], eb[128];
    posix_path(PS(base), name, path, sizeof path);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return pf_err(err, errlen, "create %s: %s", path, posix_strerror(errno, eb, sizeof eb));
    return 0;
}

static int sync_subdir(void *ctx, const char *name, const store_info *info)
{
    void **a = ctx; /* {store, prefix, err, errlen} */
    if (!info->is_prefix)
        return 0;
    char sub[4096], path[4096];
    const char *prefix = a[1];
    snprintf(sub, sizeof sub, "%s%s%s", prefix, *prefix ? "/" : "", name);
    posix_path(a[0], sub, path, sizeof path);
    return io_fsync_dir(path, a[2], *(size_t *)a[3]) < 0 ? -1 : 0;
}

/* When files were written with DEFER_SYNC: syncfs (it also reports any writeback error
 * since the root was opened) and the entries in prefix's subdirectories (a dump's data/).
 * Always: prefix itself and its parent (a rename, a removal, a new directory). Without
 * deferred files no syncfs, which would flush the whole filesystem. */
static int posix_sync(pf_store *base, const char *prefix, char *err, size_t errlen)
{
    posix_store *s = PS(base);
    char path[4096];
    if (atomic_load(&s->deferred)) {
        if (s->rootfd >= 0 && io_syncfs(s->rootfd, s->root, err, errlen) < 0)
            return -1;
        void *a[4] = {s, (void *)prefix, err, &errlen};
        if (posix_list(base, prefix, sync_subdir, a, err, errlen) != 0)
            return -1;
    }
    posix_path(s, prefix, path, sizeof path);
    if (io_fsync_dir(path, err, errlen) < 0)
        return -1;
    if (*prefix) {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", prefix);
        char *slash = strrchr(parent, '/');
        if (slash)
            *slash = '\0';
        else
            parent[0] = '\0';
        posix_path(s, parent, path, sizeof path);
        return io_fsync_dir(path, err, errlen);
    }
    return 0;
}

/* ---- removing --------------------------------------------------------------------------- */

static int posix_remove(pf_store *base, const char *name, char *err, size_t errlen)
{
    char path[4096], eb[128];
    posix_path(PS(base), name, path, sizeof path);
    if (unlink(path) == 0 || errno == ENOENT)
        return 0;
    if ((errno == EISDIR || errno == EPERM) && (rmdir(path) == 0 || errno == ENOENT))
        return 0;
    return pf_err(err, errlen, "remove %s: %s", path, posix_strerror(errno, eb, sizeof eb));
}

/* Deletes dirfd/name and everything under it (symlinks are removed, never followed). */
static int remove_tree(int dirfd, const char *name, const char *shown, char *err, size_t errlen, int depth)
{
    char eb[128];
    if (depth > 32)
        return pf_err(err, errlen, "remove %s: directories nested too deep", shown);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR || errno == ELOOP) {
            if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
                return pf_err(err, errlen, "remove %s: %s", shown, posix_strerror(errno, eb, sizeof eb));
            return 0;
        }
        return pf_err(err, errlen, "open %s: %s", shown, posix_strerror(errno, eb, sizeof eb));
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return pf_err(err, errlen, "open %s: %s", shown, posix_strerror(e, eb, sizeof eb));
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;
            rc = pf_err(err, errlen, "stat %s/%s: %s", shown, de->d_name, posix_strerror(errno, eb, sizeof eb));
        } else if (S_ISDIR(st.st_mode)) {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", shown, de->d_name);
            rc = remove_tree(fd, de->d_name, sub, err, errlen, depth + 1);
        } else if (unlinkat(fd, de->d_name, 0) != 0 && errno != ENOENT) {
            rc = pf_err(err, errlen, "remove %s/%s: %s", shown, de->d_name, posix_strerror(errno, eb, sizeof eb));
        }
    }
    closedir(d);
    if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = pf_err(err, errlen, "remove %s: %s", shown, posix_strerror(errno, eb, sizeof eb));
    return rc;
}

static int posix_remove_tree(pf_store *base, const char *name, char *err, size_t errlen)
{
    posix_store *s = PS(base);
    char path[4096], eb[128];
    posix_path(s, name, path, sizeof path);
    int dfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return pf_err(err, errlen, "open %s: %s", s->root, posix_strerror(errno, eb, sizeof eb));
    int rc = remove_tree(dfd, name, path, err, errlen, 0);
    close(dfd);
    return rc;
}

static int posix_rename(pf_store *base, const char *from, const char *to, char *err, size_t errlen)
{
    char a[4096], b[4096], eb[128];
    posix_path(PS(base), from, a, sizeof a);
    posix_path(PS(base), to, b, sizeof b);
    if (rename(a, b) != 0)
        return pf_err(err, errlen, "rename %s to %s: %s", a, b, posix_strerror(errno, eb, sizeof eb));
    return 0;
}

/* ---- locks ------------------------------------------------------------------------------ */

static store_lock *posix_lock_take(pf_store *base, const char *name, const char *owner, unsigned flags, int *busy,
                                   char *err, size_t errlen)
{
    char path[4096], eb[128];
    posix_path(PS(base), name, path, sizeof path);
    *busy = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | ((flags & STORE_LOCK_NEW) ? O_EXCL : 0), 0600);
    if (fd < 0) {
        if (errno == EEXIST) {
            *busy = 1;
            pf_err(err, errlen, "%s exists", path);
        } else
            pf_err(err, errlen, "%s %s: %s", (flags & STORE_LOCK_NEW) ? "create" : "open", path,
                   posix_strerror(errno, eb, sizeof eb));
        return NULL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (flags & STORE_LOCK_NEW)
            unlink(path);
        *busy = e == EWOULDBLOCK;
        pf_err(err, errlen, "lock %s: %s", path, posix_strerror(e, eb, sizeof eb));
        return NULL;
    }
    posix_lock *l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        free(l);
        unlink(path);
        close(fd);
        pf_err(err, errlen, "lock %s: out of memory", path);
        return NULL;
    }
    l->base.ops = &store_posix_ops;
    l->fd = fd;
    l->remove = (flags & STORE_LOCK_NEW) != 0;
    if (owner && ftruncate(fd, 0) == 0 && write(fd, owner, strlen(owner)) < 0) { /* informative only */
    }
    return &l->base;
}

static void posix_lock_release(store_lock *base)
{
    posix_lock *l = (posix_lock *)base;
    /* a fresh name goes while still held, so no one sees an unheld lock file beside what it
     * protects; a shared name stays (removing it would let a waiter lock the old file while
     * a newcomer locks a new one) */
    if (l->remove)
        unlink(l->path);
    close(l->fd);
    free(l->path);
    free(l);
}

static int posix_lock_held(const pf_store *base, const char *name)
{
    char path[4096];
    posix_path(PS(base), name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    /* shared, so that two readers (list and status, say) never see each other as a holder */
    int locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return locked;
}

const store_ops store_posix_ops = {
    .scheme = NULL,
    .open = posix_open,
    .open_sub = posix_open_sub,
    .close = posix_close,
    .root_state = posix_root_state,
    .local_path = posix_local_path,
    .stat = posix_stat,
    .list = posix_list,
    .reader_open = posix_reader_open,
    .reader_read = posix_reader_read,
    .reader_file_size = posix_reader_file_size,
    .reader_close = posix_reader_close,
    .writer_open = posix_writer_open,
    .writer_write = posix_writer_write,
    .writer_commit = posix_writer_commit,
    .writer_abort = posix_writer_abort,
    .writer_offset = posix_writer_offset,
    .writer_async = posix_writer_async,
    .mkprefix = posix_mkprefix,
    .sync = posix_sync,
    .remove = posix_remove,
    .remove_tree = posix_remove_tree,
    .rename = posix_rename,
    .lock_take = posix_lock_take,
    .lock_release = posix_lock_release,
    .lock_held = posix_lock_held,
};
