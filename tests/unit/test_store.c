/* Unit tests for io/store (the POSIX store): root states, atomic writes (commit, abort,
 * nothing visible before commit, temp leftovers), whole and ranged reads, listing, stat,
 * removal (files, trees), rename, sync, and locks (conflicts between two processes and
 * between two handles of one process, release, held probes, fresh names). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/pf_util.h"
#include "io/store.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pgferry-store-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int exists(const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static pf_store *open_sub(const char *name, unsigned flags)
{
    char loc[256], err[PF_ERRLEN];
    snprintf(loc, sizeof loc, "%s/%s", tmpdir, name);
    pf_store *st = store_open(loc, flags, err, sizeof err);
    if (!st)
        fail_msg("store_open %s: %s", loc, err);
    return st;
}

static void test_root(void **state)
{
    (void)state;
    char err[PF_ERRLEN];
    store_root_state_t rs;
    pf_store *st = open_sub("root", 0);
    assert_int_equal(store_root_state(st, &rs, err, sizeof err), 0);
    assert_int_equal(rs, STORE_ROOT_MISSING);
    store_close(st);

    st = open_sub("root", STORE_CREATE);
    assert_int_equal(store_root_state(st, &rs, err, sizeof err), 0);
    assert_int_equal(rs, STORE_ROOT_EMPTY);
    struct stat sb;
    char path[256];
    snprintf(path, sizeof path, "%s/root", tmpdir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(store_write_all(st, "f", "x", 1, err, sizeof err), 0);
    assert_int_equal(store_root_state(st, &rs, err, sizeof err), 0);
    assert_int_equal(rs, STORE_ROOT_USED);
    char shown[512];
    store_display(st, "a/b", shown, sizeof shown);
    assert_true(strstr(shown, "/root/a/b") != NULL);
    store_close(st);

    /* a file where the root should be */
    st = open_sub("root/f", 0);
    assert_int_equal(store_root_state(st, &rs, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a directory"));
    store_close(st);

    /* s3:// is a backend of its own (store_s3.c); other schemes are refused */
    assert_null(store_open("gs://bucket/prefix", 0, err, sizeof err));
    assert_non_null(strstr(err, "not supported"));
}

static void test_write_commit_abort(void **state)
{
    (void)state;
    char err[PF_ERRLEN];
    pf_store *st = open_sub("w", STORE_CREATE);

    /* nothing under the name until commit; parents made on the way */
    store_writer *w = store_writer_open(st, "data/1.0.chunk", 0, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(store_writer_write(w, "hello ", 6, err, sizeof err), 0);
    assert_int_equal(store_writer_write(w, "world", 5, err, sizeof err), 0);
    assert_int_equal(store_writer_offset(w), 11);
    assert_false(exists("%s/w/data/1.0.chunk", tmpdir));
    /* a second writer of the same name meanwhile is refused, not interleaved */
    assert_null(store_writer_open(st, "data/1.0.chunk", 0, err, sizeof err));
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    assert_true(exists("%s/w/data/1.0.chunk", tmpdir));
    assert_false(exists("%s/w/data/1.0.chunk.tmp", tmpdir));

    store_info info;
    assert_int_equal(store_stat(st, "data/1.0.chunk", &info, err, sizeof err), 1);
    assert_int_equal(info.size, 11);
    assert_false(info.is_prefix);
    assert_int_equal(store_stat(st, "data", &info, err, sizeof err), 1);
    assert_true(info.is_prefix);
    assert_int_equal(store_stat(st, "nothing", &info, err, sizeof err), 0);

    /* abort leaves nothing, and the old file stays as it was */
    w = store_writer_open(st, "data/1.0.chunk", STORE_W_DEFER_SYNC | STORE_W_SMALL, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(store_writer_write(w, "other", 5, err, sizeof err), 0);
    store_writer_abort(w);
    assert_false(exists("%s/w/data/1.0.chunk.tmp", tmpdir));
    char *text;
    size_t len;
    assert_int_equal(store_read_all(st, "data/1.0.chunk", &text, &len, err, sizeof err), 0);
    assert_int_equal(len, 11);
    assert_string_equal(text, "hello world");
    free(text);

    /* a leftover temp: refused unless the writer says to replace it */
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/w/g.json.tmp", tmpdir);
    FILE *f = fopen(tmp, "w");
    fputs("junk", f);
    fclose(f);
    assert_null(store_writer_open(st, "g.json", 0, err, sizeof err));
    w = store_writer_open(st, "g.json", STORE_W_REPLACE_TEMP, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(store_writer_write(w, "{}", 2, err, sizeof err), 0);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    assert_false(exists("%s", tmp));

    /* replacing on commit; a deferred batch made durable by sync */
    assert_int_equal(store_write_all(st, "g.json", "{\"a\":1}", 7, err, sizeof err), 0);
    assert_int_equal(store_read_all(st, "g.json", &text, &len, err, sizeof err), 0);
    assert_string_equal(text, "{\"a\":1}");
    free(text);
    assert_int_equal(store_sync(st, "", err, sizeof err), 0);
    assert_int_equal(store_sync(st, "data", err, sizeof err), 0);

    /* errors name the file */
    assert_int_equal(store_read_all(st, "missing", &text, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "/w/missing"));
    store_close(st);
}

static void test_ranges(void **state)
{
    (void)state;
    char err[PF_ERRLEN], buf[64];
    pf_store *st = open_sub("r", STORE_CREATE);
    assert_int_equal(store_write_all(st, "f", "0123456789", 10, err, sizeof err), 0);
    size_t got;
    store_reader *r = store_reader_open(st, "f", 3, 4, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(store_reader_file_size(r), 10);
    assert_int_equal(store_reader_read(r, buf, sizeof buf, &got, err, sizeof err), 0);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "3456", 4);
    assert_int_equal(store_reader_read(r, buf, sizeof buf, &got, err, sizeof err), 0);
    assert_int_equal(got, 0);
    store_reader_close(r);

    /* small reads walk the range; a range past the end stops at the end */
    r = store_reader_open(st, "f", 7, 100, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(store_reader_read(r, buf, 2, &got, err, sizeof err), 0);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "78", 2);
    assert_int_equal(store_reader_read(r, buf, 2, &got, err, sizeof err), 0);
    assert_int_equal(got, 1);
    assert_int_equal(buf[0], '9');
    store_reader_close(r);

    r = store_reader_open(st, "f", 0, STORE_TO_END, err, sizeof err);
    assert_int_equal(store_reader_read(r, buf, sizeof buf, &got, err, sizeof err), 0);
    assert_int_equal(got, 10);
    store_reader_close(r);
    r = store_reader_open(st, "f", 20, STORE_TO_END, err, sizeof err);
    assert_int_equal(store_reader_read(r, buf, sizeof buf, &got, err, sizeof err), 0);
    assert_int_equal(got, 0);
    store_reader_close(r);
    store_close(st);
}

typedef struct {
    char names[16][64];
    int dirs[16];
    int n;
} listing;

static int collect(void *ctx, const char *name, const store_info *info)
{
    listing *l = ctx;
    if (l->n < 16) {
        snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
        l->dirs[l->n++] = info->is_prefix;
    }
    return 0;
}

static int has(const listing *l, const char *name, int dir)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return l->dirs[i] == dir;
    return 0;
}

static int stop_at_first(void *ctx, const char *name, const store_info *info)
{
    (void)ctx, (void)name, (void)info;
    return 7;
}

static void test_list_remove_rename(void **state)
{
    (void)state;
    char err[PF_ERRLEN];
    pf_store *st = open_sub("l", STORE_CREATE);
    assert_int_equal(store_write_all(st, "a", "1", 1, err, sizeof err), 0);
    assert_int_equal(store_write_all(st, ".hidden", "1", 1, err, sizeof err), 0);
    assert_int_equal(store_write_all(st, "d/x", "22", 2, err, sizeof err), 0);
    assert_int_equal(store_write_all(st, "d/e/y", "333", 3, err, sizeof err), 0);
    assert_int_equal(store_mkprefix(st, "empty", err, sizeof err), 0);
    assert_int_equal(store_mkprefix(st, "empty", err, sizeof err), 0);

    listing l = {0};
    assert_int_equal(store_list(st, "", collect, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 4);
    assert_true(has(&l, "a", 0));
    assert_true(has(&l, ".hidden", 0));
    assert_true(has(&l, "d", 1));
    assert_true(has(&l, "empty", 1));
    memset(&l, 0, sizeof l);
    assert_int_equal(store_list(st, "d", collect, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    assert_true(has(&l, "x", 0));
    assert_true(has(&l, "e", 1));
    memset(&l, 0, sizeof l);
    assert_int_equal(store_list(st, "nothing", collect, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(store_list(st, "", stop_at_first, NULL, err, sizeof err), 7);

    /* remove: a file, a missing one, an empty prefix; a tree */
    assert_int_equal(store_remove(st, "a", err, sizeof err), 0);
    assert_false(exists("%s/l/a", tmpdir));
    assert_int_equal(store_remove(st, "a", err, sizeof err), 0);
    assert_int_equal(store_remove(st, "empty", err, sizeof err), 0);
    assert_false(exists("%s/l/empty", tmpdir));
    assert_int_equal(store_remove(st, "d", err, sizeof err), -1); /* not empty */

    /* rename a whole prefix in one step, then remove the tree */
    assert_int_equal(store_rename(st, "d", ".removing-d", err, sizeof err), 0);
    assert_false(exists("%s/l/d", tmpdir));
    assert_true(exists("%s/l/.removing-d/e/y", tmpdir));
    assert_int_equal(store_remove_tree(st, ".removing-d", err, sizeof err), 0);
    assert_false(exists("%s/l/.removing-d", tmpdir));
    assert_int_equal(store_remove_tree(st, ".removing-d", err, sizeof err), 0);
    assert_int_equal(store_rename(st, "nope", "other", err, sizeof err), -1);
    assert_non_null(strstr(err, "rename"));

    /* a store inside another */
    pf_store *sub = store_open_sub(st, "inner", STORE_CREATE, err, sizeof err);
    assert_non_null(sub);
    assert_int_equal(store_write_all(sub, "f", "z", 1, err, sizeof err), 0);
    assert_true(exists("%s/l/inner/f", tmpdir));
    store_close(sub);
    store_close(st);
}

/* In a child process: 1 when it could take the lock, 0 when busy, 2 on other errors. */
static int child_take(const char *loc, const char *name, unsigned flags)
{
    pid_t pid = fork();
    if (pid == 0) {
        char err[PF_ERRLEN];
        int busy = 0;
        pf_store *st = store_open(loc, 0, err, sizeof err);
        store_lock *l = st ? store_lock_take(st, name, "child\n", flags, &busy, err, sizeof err) : NULL;
        _exit(l ? 1 : busy ? 0 : 2);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

static void test_locks(void **state)
{
    (void)state;
    char err[PF_ERRLEN], loc[256];
    snprintf(loc, sizeof loc, "%s/k", tmpdir);
    pf_store *st = open_sub("k", STORE_CREATE);
    int busy = -1;

    /* a shared name: one holder at a time, in this process or another */
    store_lock *a = store_lock_take(st, ".pgferry.lock", NULL, 0, &busy, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(store_lock_held(st, ".pgferry.lock"), 1);
    assert_null(store_lock_take(st, ".pgferry.lock", NULL, 0, &busy, err, sizeof err));
    assert_int_equal(busy, 1);
    assert_int_equal(child_take(loc, ".pgferry.lock", 0), 0);
    store_lock_release(a);
    assert_int_equal(store_lock_held(st, ".pgferry.lock"), 0);
    assert_true(exists("%s/k/.pgferry.lock", tmpdir)); /* a shared name stays */
    assert_int_equal(child_take(loc, ".pgferry.lock", 0), 1);

    /* a fresh name: taken once, with its owner written in, removed on release */
    store_lock *b = store_lock_take(st, ".x.lock", "1234\n", STORE_LOCK_NEW, &busy, err, sizeof err);
    assert_non_null(b);
    char *text;
    size_t len;
    assert_int_equal(store_read_all(st, ".x.lock", &text, &len, err, sizeof err), 0);
    assert_string_equal(text, "1234\n");
    free(text);
    assert_null(store_lock_take(st, ".x.lock", NULL, STORE_LOCK_NEW, &busy, err, sizeof err));
    assert_int_equal(busy, 1);
    assert_int_equal(child_take(loc, ".x.lock", 0), 0);
    assert_int_equal(store_lock_held(st, ".x.lock"), 1);
    store_lock_release(b);
    assert_false(exists("%s/k/.x.lock", tmpdir));
    assert_int_equal(store_lock_held(st, ".x.lock"), 0);

    /* a dead holder's lock is free (the kernel released it) */
    assert_int_equal(child_take(loc, ".y.lock", STORE_LOCK_NEW), 1);
    assert_true(exists("%s/k/.y.lock", tmpdir));
    assert_int_equal(store_lock_held(st, ".y.lock"), 0);
    store_lock *c = store_lock_take(st, ".y.lock", NULL, 0, &busy, err, sizeof err);
    assert_non_null(c);
    store_lock_release(c);

    /* other failures are not "busy" */
    assert_null(store_lock_take(st, "no/such/dir.lock", NULL, 0, &busy, err, sizeof err));
    assert_int_equal(busy, 0);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_commit_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_remove_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
