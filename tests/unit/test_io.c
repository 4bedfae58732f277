/* Unit tests for io/pf_io: the io_uring and plain writers (each test that can runs once
 * per mode), atomic commit, error messages for ENOSPC / EACCES / ENOENT / EEXIST /
 * EFBIG, the fallback when io_uring_setup is blocked, readers and PGFERRY_IO. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/pf_util.h"
#include "io/pf_io.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The writer's buffer size and count (pf_io.c: IO_BUF_SIZE, IO_NBUF). The tests use
 * them only to pick sizes at the interesting boundaries; they stay valid if those change. */
#define BUF_SIZE ((size_t)1 << 20)
#define NBUF 4

#define assert_contains(hay, needle)                                                        \
    do {                                                                                    \
        if (!strstr((hay), (needle)))                                                       \
            fail_msg("error \"%s\" does not contain \"%s\"", (hay), (needle));              \
    } while (0)

/* Per-test fixture: the mode under test and a private scratch directory. */
typedef struct {
    io_mode mode;
    char dir[64];
    char mnt[96];  /* tmpfs mount point, when mounted */
    int mounted;
    mode_t old_umask;
} fx;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->mode = *state ? *(io_mode *)*state : IO_MODE_AUTO;
    f->old_umask = umask(022);
    strcpy(f->dir, "/tmp/pgferry-test-io-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Runs also when the test failed, so mounts and files never outlive the test. */
static int fx_teardown(void **state)
{
    fx *f = *state;
    if (f->mounted && umount2(f->mnt, MNT_DETACH) < 0)
        fprintf(stderr, "umount %s: %s\n", f->mnt, strerror(errno));
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    umask(f->old_umask);
    free(f);
    return 0;
}

static char *path_in(const fx *f, const char *name)
{
    static __thread char buf[4][256];
    static __thread int i;
    char *p = buf[i++ % 4];
    snprintf(p, 256, "%s/%s", f->dir, name);
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Deterministic bytes that differ at every offset, so a misplaced or dropped piece shows. */
static uint8_t *make_data(size_t len, uint64_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

static void assert_same_bytes(const uint8_t *got, const uint8_t *want, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (got[i] != want[i])
            fail_msg("contents differ at byte %zu of %zu: got 0x%02x, want 0x%02x", i, len, got[i], want[i]);
}

/* Reads path with io_reader in odd-sized reads and compares with want. */
static void assert_file_is(const char *path, const uint8_t *want, size_t len)
{
    char err[PF_ERRLEN] = "";
    io_reader *r = io_reader_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    assert_int_equal(io_reader_size(r), len);
    size_t cap = 100003, off = 0, got;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (io_reader_read(r, buf, cap, &got, err, sizeof err) < 0)
            fail_msg("%s", err);
        if (got == 0)
            break;
        if (off + got > len)
            fail_msg("%s: more than %zu bytes", path, len);
        assert_same_bytes(buf, want + off, got);
        off += got;
    }
    assert_int_equal(off, len);
    free(buf);
    io_reader_close(r);
}

/* Odd sizes crossing buffer boundaries in every way: tiny, page-ish, just over a buffer,
 * and larger than all buffers together (forces waiting for completions). */
static const size_t pieces[] = {1, 7, 4093, 65537, ((size_t)1 << 20) + 3, 333, 2 * ((size_t)1 << 20) + 17,
                                511, 5 * ((size_t)1 << 20) + 1, 12345};

static void write_pieces(io_writer *w, const uint8_t *data, size_t len, int whole)
{
    char err[PF_ERRLEN] = "";
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = whole ? len : pieces[i % (sizeof pieces / sizeof pieces[0])];
        if (n > len - off)
            n = len - off;
        if (io_writer_write(w, data + off, n, err, sizeof err) < 0)
            fail_msg("%s", err);
        off += n;
        assert_int_equal(io_writer_offset(w), off);
    }
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_mode_from_env(void **state)
{
    (void)state;
    char err[PF_ERRLEN] = "";
    io_mode m;
    const char *old = getenv("PGFERRY_IO");
    char *saved = old ? strdup(old) : NULL;

    unsetenv("PGFERRY_IO");
    m = IO_MODE_PLAIN;
    assert_int_equal(io_mode_from_env(&m, err, sizeof err), 0);
    assert_int_equal(m, IO_MODE_AUTO);

    setenv("PGFERRY_IO", "plain", 1);
    assert_int_equal(io_mode_from_env(&m, err, sizeof err), 0);
    assert_int_equal(m, IO_MODE_PLAIN);

    setenv("PGFERRY_IO", "uring", 1);
    assert_int_equal(io_mode_from_env(&m, err, sizeof err), 0);
    assert_int_equal(m, IO_MODE_URING);

    setenv("PGFERRY_IO", "auto", 1);
    assert_int_equal(io_mode_from_env(&m, err, sizeof err), 0);
    assert_int_equal(m, IO_MODE_AUTO);

    setenv("PGFERRY_IO", "bogus", 1);
    assert_int_equal(io_mode_from_env(&m, err, sizeof err), -1);
    assert_contains(err, "PGFERRY_IO");
    assert_contains(err, "bogus");

    if (saved)
        setenv("PGFERRY_IO", saved, 1);
    else
        unsetenv("PGFERRY_IO");
    free(saved);
}

static void test_uses_uring(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    io_writer *w = io_writer_open(path_in(f, "u"), 0600, f->mode, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    /* io_uring works on the machines these tests run on, so URING must really use it. */
    assert_int_equal(io_writer_uses_uring(w), f->mode == IO_MODE_URING ? 1 : 0);
    io_writer_abort(w);
}

static void test_roundtrip(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    /* Empty, exactly one buffer, exactly all buffers, one byte more, and a few MiB. */
    const size_t sizes[] = {0, BUF_SIZE, NBUF * BUF_SIZE, NBUF * BUF_SIZE + 1, 5 * BUF_SIZE + 12345, 100};
    /* A restrictive umask must not change the requested mode (the writer fchmods). */
    umask(0277);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int whole = 0; whole <= 1; whole++) {
            char name[64];
            snprintf(name, sizeof name, "chunk-%zu-%d", s, whole);
            const char *path = path_in(f, name);
            char tmp[300];
            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            uint8_t *data = make_data(sizes[s], s * 2 + (size_t)whole + 1);

            io_writer *w = io_writer_open(path, 0600, f->mode, err, sizeof err);
            if (!w)
                fail_msg("%s", err);
            assert_int_equal(io_writer_uses_uring(w), f->mode == IO_MODE_URING);
            write_pieces(w, data, sizes[s], whole);

            struct stat st;
            assert_false(exists(path)); /* nothing at the final name before commit */
            assert_int_equal(stat(tmp, &st), 0);
            assert_int_equal(st.st_mode & 07777, 0600);

            if (io_writer_commit(w, err, sizeof err) < 0)
                fail_msg("%s", err);
            assert_false(exists(tmp));
            assert_int_equal(stat(path, &st), 0);
            assert_int_equal(st.st_mode & 07777, 0600);
            assert_int_equal(st.st_size, sizes[s]);
            assert_file_is(path, data, sizes[s]);
            free(data);
        }
    }
}

/* Deferred durability: commit renames without fsync; io_syncfs makes the batch durable
 * and reports errors (a bad fd here) as values naming what was synced. */
static void test_defer_sync(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    int dirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
    assert_true(dirfd >= 0);
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "deferred-%d", i);
        const char *path = path_in(f, name);
        uint8_t *data = make_data((size_t)i * 1000 + 1, (uint64_t)i + 7);
        io_writer *w = io_writer_open(path, 0600, f->mode, err, sizeof err);
        if (!w)
            fail_msg("%s", err);
        io_writer_defer_sync(w);
        write_pieces(w, data, (size_t)i * 1000 + 1, 0);
        if (io_writer_commit(w, err, sizeof err) < 0)
            fail_msg("%s", err);
        char tmp[300];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        assert_false(exists(tmp));
        assert_file_is(path, data, (size_t)i * 1000 + 1);
        free(data);
    }
    assert_int_equal(io_syncfs(dirfd, f->dir, err, sizeof err), 0);
    close(dirfd);
    assert_int_equal(io_syncfs(-1, "nowhere", err, sizeof err), -1);
    assert_non_null(strstr(err, "nowhere"));
    assert_non_null(strstr(err, "Bad file descriptor"));
}

static void test_abort(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    const char *path = path_in(f, "aborted");
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* With writes in flight (more than all buffers). */
    size_t len = (NBUF + 1) * BUF_SIZE + 5;
    uint8_t *data = make_data(len, 7);
    io_writer *w = io_writer_open(path, 0600, f->mode, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    write_pieces(w, data, len, 0);
    assert_true(exists(tmp));
    io_writer_abort(w);
    assert_false(exists(tmp));
    assert_false(exists(path));

    /* And with nothing written; the same name is free again. */
    w = io_writer_open(path, 0600, f->mode, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    io_writer_abort(w);
    assert_false(exists(tmp));
    assert_false(exists(path));
    free(data);
}

/* A caller's fd: written from offset 0, synced, and left open. */
static void test_from_fd(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    const char *path = path_in(f, "byfd");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    size_t len = 2 * BUF_SIZE + BUF_SIZE / 2 + 3;
    uint8_t *data = make_data(len, 11);
    io_writer *w = io_writer_from_fd(fd, path, f->mode, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    assert_int_equal(io_writer_uses_uring(w), f->mode == IO_MODE_URING);
    write_pieces(w, data, len, 0);
    if (io_writer_commit(w, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_not_equal(fcntl(fd, F_GETFD), -1); /* still open */
    close(fd);
    assert_file_is(path, data, len);
    free(data);
}

static void test_dev_full(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";

    /* Error found at commit: a small write only fills the buffer. */
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    io_writer *w = io_writer_from_fd(fd, "/dev/full", f->mode, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    assert_int_equal(io_writer_uses_uring(w), f->mode == IO_MODE_URING);
    uint8_t small[100] = {1};
    assert_int_equal(io_writer_write(w, small, sizeof small, err, sizeof err), 0);
    assert_int_equal(io_writer_commit(w, err, sizeof err), -1);
    assert_contains(err, "/dev/full");
    assert_contains(err, "No space left on device");
    close(fd);

    /* Error found by write: more data than all buffers, so some write must wait for (or
     * perform) a write that fails; the error then sticks for later calls and commit. */
    fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    w = io_writer_from_fd(fd, "/dev/full", f->mode, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    size_t piece = 65536, total = 2 * NBUF * BUF_SIZE, off = 0;
    uint8_t *data = make_data(piece, 3);
    int failed = 0;
    for (; off < total; off += piece) {
        if (io_writer_write(w, data, piece, err, sizeof err) < 0) {
            failed = 1;
            break;
        }
    }
    if (!failed)
        fail_msg("no write failed on /dev/full after %zu bytes", off);
    assert_contains(err, "write /dev/full: No space left on device");
    err[0] = '\0';
    assert_int_equal(io_writer_write(w, data, 1, err, sizeof err), -1);
    assert_contains(err, "No space left on device");
    err[0] = '\0';
    assert_int_equal(io_writer_commit(w, err, sizeof err), -1);
    assert_contains(err, "write /dev/full: No space left on device");
    close(fd);
    free(data);
}

/* A real file system running full: a 256 kB tmpfs, 1 MiB written through the atomic
 * writer. Needs root (CAP_SYS_ADMIN); skipped where mounting is not permitted. */
static void test_tmpfs_enospc(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    snprintf(f->mnt, sizeof f->mnt, "%s/mnt", f->dir);
    assert_int_equal(mkdir(f->mnt, 0700), 0);
    if (mount("tmpfs", f->mnt, "tmpfs", 0, "size=256k") < 0) {
        if (errno == EPERM) {
            skip();
            return;
        }
        fail_msg("mount tmpfs on %s: %s", f->mnt, strerror(errno));
    }
    f->mounted = 1;

    char path[160], tmp[170];
    snprintf(path, sizeof path, "%s/chunk", f->mnt);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    size_t len = BUF_SIZE;
    uint8_t *data = make_data(len, 5);
    io_writer *w = io_writer_open(path, 0600, f->mode, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    assert_int_equal(io_writer_uses_uring(w), f->mode == IO_MODE_URING);
    if (io_writer_write(w, data, len, err, sizeof err) < 0)
        io_writer_abort(w);
    else
        assert_int_equal(io_writer_commit(w, err, sizeof err), -1);
    assert_contains(err, tmp);
    assert_contains(err, "No space left on device");
    /* Whichever call failed, nothing is left behind to fill the disk further. */
    assert_false(exists(tmp));
    assert_false(exists(path));
    free(data);
}

static void test_open_enoent(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    const char *path = path_in(f, "missing/sub/chunk");
    char want[320];
    snprintf(want, sizeof want, "open %s.tmp: No such file or directory", path);
    io_writer *w = io_writer_open(path, 0600, f->mode, err, sizeof err);
    assert_null(w);
    assert_contains(err, want);
}

/* Runs fn in a child process (for setuid, seccomp and rlimits that must not touch the
 * test runner) and fails if it does not exit 0. The child reports on stderr. */
static void run_in_child(int (*fn)(fx *, long), fx *f, long arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(f, arg));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        fail_msg("child died with signal %d", WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child failed with code %d (see its message above)", WEXITSTATUS(status));
}

#define CHILD_CHECK(cond, code, ...)                                                        \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "child check failed: %s: ", #cond);                             \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fprintf(stderr, "\n");                                                          \
            return (code);                                                                  \
        }                                                                                   \
    } while (0)

static int child_eacces(fx *f, long as_nobody)
{
    char err[PF_ERRLEN] = "";
    /* Root ignores permission bits, so become nobody first. */
    if (as_nobody && (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0))
        return 2;
    char path[128], want[200];
    snprintf(path, sizeof path, "%s/ro/chunk", f->dir);
    snprintf(want, sizeof want, "open %s.tmp: Permission denied", path);
    io_writer *w = io_writer_open(path, 0600, f->mode, err, sizeof err);
    CHILD_CHECK(w == NULL, 3, "open in a read-only directory succeeded");
    CHILD_CHECK(strstr(err, want) != NULL, 4, "error \"%s\" lacks \"%s\"", err, want);
    return 0;
}

static void test_open_eacces(void **state)
{
    fx *f = *state;
    char ro[128];
    snprintf(ro, sizeof ro, "%s/ro", f->dir);
    assert_int_equal(mkdir(ro, 0755), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    assert_int_equal(chmod(f->dir, 0755), 0); /* nobody must reach ro/ */
    run_in_child(child_eacces, f, geteuid() == 0);
    assert_false(exists(path_in(f, "ro/chunk.tmp")));
}

static void test_open_excl(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    const char *path = path_in(f, "busy");
    char tmp[300], want[340];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(want, sizeof want, "open %s: File exists", tmp);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fputs("keep", fp);
    fclose(fp);

    io_writer *w = io_writer_open(path, 0600, f->mode, err, sizeof err);
    assert_null(w);
    assert_contains(err, want);
    /* Someone else's temp file is left alone. */
    char *data;
    size_t len;
    if (io_read_file(tmp, &data, &len, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_string_equal(data, "keep");
    free(data);
    assert_false(exists(path));
}

/* A file size limit makes the kernel write part of a buffer and then refuse the rest:
 * exercises the short-write path (resubmit the remainder) and its error. */
static int child_efbig(fx *f, long unused)
{
    (void)unused;
    char err[PF_ERRLEN] = "";
    char path[128], want[200];
    snprintf(path, sizeof path, "%s/big", f->dir);
    snprintf(want, sizeof want, "write %s.tmp: File too large", path);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = BUF_SIZE + BUF_SIZE / 2;
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0, 2, "setrlimit: %s", strerror(errno));
    size_t len = 3 * BUF_SIZE;
    uint8_t *data = make_data(len, 9);
    io_writer *w = io_writer_open(path, 0600, f->mode, err, sizeof err);
    CHILD_CHECK(w != NULL, 3, "%s", err);
    CHILD_CHECK(io_writer_uses_uring(w) == (f->mode == IO_MODE_URING), 4, "wrong mode");
    if (io_writer_write(w, data, len, err, sizeof err) < 0)
        io_writer_abort(w);
    else
        CHILD_CHECK(io_writer_commit(w, err, sizeof err) < 0, 5, "commit succeeded beyond RLIMIT_FSIZE");
    CHILD_CHECK(strstr(err, want) != NULL, 6, "error \"%s\" lacks \"%s\"", err, want);
    CHILD_CHECK(access(path, F_OK) < 0, 7, "final file exists");
    free(data);
    return 0;
}

static void test_short_write_efbig(void **state)
{
    run_in_child(child_efbig, *state, 0);
}

/* A short write that is then resumed successfully (io_uring only: the plain writer retries
 * at once and would just hit the limit). The kernel writes half of the second buffer and
 * posts a short completion; the limit is lifted before the writer reaps it, so the
 * remainder must be written at the right offset for the contents to match. */
static int child_short_resume(fx *f, long unused)
{
    (void)unused;
    char err[PF_ERRLEN] = "";
    char path[128];
    snprintf(path, sizeof path, "%s/resumed", f->dir);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl, lifted;
    getrlimit(RLIMIT_FSIZE, &lifted);
    rl = lifted;
    rl.rlim_cur = BUF_SIZE + BUF_SIZE / 2;
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0, 2, "setrlimit: %s", strerror(errno));
    size_t first = 2 * BUF_SIZE, len = 3 * BUF_SIZE + 7;
    uint8_t *data = make_data(len, 17);
    io_writer *w = io_writer_open(path, 0600, IO_MODE_URING, err, sizeof err);
    CHILD_CHECK(w != NULL, 3, "%s", err);
    CHILD_CHECK(io_writer_write(w, data, first, err, sizeof err) == 0, 4, "%s", err);
    usleep(200 * 1000); /* let the short completion arrive before lifting the limit */
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &lifted) == 0, 2, "setrlimit: %s", strerror(errno));
    CHILD_CHECK(io_writer_write(w, data + first, len - first, err, sizeof err) == 0, 5, "%s", err);
    CHILD_CHECK(io_writer_commit(w, err, sizeof err) == 0, 6, "%s", err);
    char *back;
    size_t blen;
    CHILD_CHECK(io_read_file(path, &back, &blen, err, sizeof err) == 0, 7, "%s", err);
    CHILD_CHECK(blen == len, 8, "size %zu, want %zu", blen, len);
    for (size_t i = 0; i < len; i++)
        CHILD_CHECK((uint8_t)back[i] == data[i], 9, "contents differ at byte %zu", i);
    free(back);
    free(data);
    return 0;
}

static void test_short_write_resume(void **state)
{
    run_in_child(child_short_resume, *state, 0);
}

/* Blocks io_uring_setup with seccomp as container runtimes do (EPERM or ENOSYS): AUTO must
 * fall back to plain writes and still produce the file; URING must fail and say so. */
#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef TEST_AUDIT_ARCH
static int child_no_uring(fx *f, long blocked_errno)
{
    struct sock_filter insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)blocked_errno & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof insns / sizeof insns[0], .filter = insns};
    CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, 2, "%s", strerror(errno));
    CHILD_CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, 2, "%s", strerror(errno));

    char err[PF_ERRLEN] = "";
    char path[128], tmp[140];
    snprintf(path, sizeof path, "%s/fallback", f->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    io_writer *w = io_writer_open(path, 0600, IO_MODE_URING, err, sizeof err);
    CHILD_CHECK(w == NULL, 3, "URING mode opened without io_uring");
    CHILD_CHECK(strstr(err, "io_uring") && strstr(err, strerror((int)blocked_errno)), 4, "%s", err);
    CHILD_CHECK(access(tmp, F_OK) < 0, 5, "temp file left behind");

    size_t len = 3 * BUF_SIZE + 99;
    uint8_t *data = make_data(len, 13);
    w = io_writer_open(path, 0600, IO_MODE_AUTO, err, sizeof err);
    CHILD_CHECK(w != NULL, 6, "%s", err);
    CHILD_CHECK(io_writer_uses_uring(w) == 0, 7, "AUTO claims io_uring under seccomp");
    CHILD_CHECK(io_writer_write(w, data, len, err, sizeof err) == 0, 8, "%s", err);
    CHILD_CHECK(io_writer_commit(w, err, sizeof err) == 0, 9, "%s", err);
    char *back;
    size_t blen;
    CHILD_CHECK(io_read_file(path, &back, &blen, err, sizeof err) == 0, 10, "%s", err);
    CHILD_CHECK(blen == len && memcmp(back, data, len) == 0, 11, "contents differ");
    free(back);
    free(data);
    return 0;
}
#endif

static void test_auto_fallback(void **state)
{
#ifdef TEST_AUDIT_ARCH
    run_in_child(child_no_uring, *state, ENOSYS);
    run_in_child(child_no_uring, *state, EPERM);
#else
    (void)state;
    skip();
#endif
}

static void test_write_file_atomic(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    const char *path = path_in(f, "manifest.json");
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char *data;
    size_t len;
    struct stat st;

    umask(0077);
    if (io_write_file_atomic(path, "{\"a\":1}\n", 8, 0644, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_false(exists(tmp));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    if (io_read_file(path, &data, &len, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(len, 8);
    assert_string_equal(data, "{\"a\":1}\n");
    free(data);

    /* Replacing an existing file. */
    if (io_write_file_atomic(path, "bye", 3, 0600, err, sizeof err) < 0)
        fail_msg("%s", err);
    if (io_read_file(path, &data, &len, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(len, 3);
    assert_string_equal(data, "bye");
    free(data);

    /* Empty. */
    if (io_write_file_atomic(path, "", 0, 0600, err, sizeof err) < 0)
        fail_msg("%s", err);
    if (io_read_file(path, &data, &len, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(len, 0);
    assert_int_equal(data[0], '\0');
    free(data);

    /* Binary and larger than the reader's first guess and its read size. */
    size_t blen = 3 * BUF_SIZE + 17;
    uint8_t *bin = make_data(blen, 21);
    if (io_write_file_atomic(path, bin, blen, 0600, err, sizeof err) < 0)
        fail_msg("%s", err);
    if (io_read_file(path, &data, &len, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(len, blen);
    assert_same_bytes((uint8_t *)data, bin, blen);
    assert_int_equal(data[len], '\0');
    free(data);
    free(bin);

    /* A file whose size stat does not know (0 in /proc). */
    if (io_read_file("/proc/self/status", &data, &len, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_true(len > 0);
    assert_int_equal(strlen(data), len);
    assert_non_null(strstr(data, "Name:"));
    free(data);

    /* Failing: missing directory. */
    const char *bad = path_in(f, "nodir/manifest.json");
    char want[320];
    snprintf(want, sizeof want, "open %s.tmp: No such file or directory", bad);
    assert_int_equal(io_write_file_atomic(bad, "x", 1, 0600, err, sizeof err), -1);
    assert_contains(err, want);
}

static void test_read_errors(void **state)
{
    fx *f = *state;
    char err[PF_ERRLEN] = "";
    const char *missing = path_in(f, "nothere");
    char want[320];
    snprintf(want, sizeof want, "open %s: No such file or directory", missing);

    assert_null(io_reader_open(missing, err, sizeof err));
    assert_contains(err, want);

    char *data = (char *)1;
    size_t len = 7;
    err[0] = '\0';
    assert_int_equal(io_read_file(missing, &data, &len, err, sizeof err), -1);
    assert_contains(err, want);

    /* Reading a directory fails in read(), which must name it too. */
    io_reader *r = io_reader_open(f->dir, err, sizeof err);
    if (r) {
        char buf[16];
        size_t got;
        assert_int_equal(io_reader_read(r, buf, sizeof buf, &got, err, sizeof err), -1);
        assert_contains(err, f->dir);
        assert_contains(err, "Is a directory");
        io_reader_close(r);
    }

    assert_int_equal(io_fsync_dir(f->dir, err, sizeof err), 0);
    err[0] = '\0';
    assert_int_equal(io_fsync_dir(missing, err, sizeof err), -1);
    assert_contains(err, missing);
}

static io_mode mode_uring = IO_MODE_URING;
static io_mode mode_plain = IO_MODE_PLAIN;

#define ONE(fn) {#fn, fn, fx_setup, fx_teardown, NULL}
#define BOTH(fn) {#fn "/uring", fn, fx_setup, fx_teardown, &mode_uring}, \
                 {#fn "/plain", fn, fx_setup, fx_teardown, &mode_plain}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_from_env),
        BOTH(test_uses_uring),
        BOTH(test_roundtrip),
        BOTH(test_abort),
        BOTH(test_defer_sync),
        BOTH(test_from_fd),
        BOTH(test_dev_full),
        BOTH(test_tmpfs_enospc),
        BOTH(test_open_enoent),
        BOTH(test_open_eacces),
        BOTH(test_open_excl),
        BOTH(test_short_write_efbig),
        ONE(test_short_write_resume),
        ONE(test_auto_fallback),
        ONE(test_write_file_atomic),
        ONE(test_read_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
