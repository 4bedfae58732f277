/* itest_dump: `pgferry dump` against a real cluster, checked from the outside.
 *
 * Every check recomputes what the dump claims on its own: row counts and the content hash
 * come from this file's own COPY of the source, split into rows and hashed here (sum mod
 * 2^128 of each row's XXH3-128), chunk files are decoded and compared byte for byte with a
 * fresh COPY of their ctid range, and a dump taken while transfers run must hold a bank
 * whose balances add up. Faults (unreachable server, bad password, permission, no match,
 * non-empty DIR, full disk, terminated worker/coordinator, Ctrl-C) must each end with one
 * line on stderr, the right exit code, and no manifest or chunk files left behind.
 *
 * Run: PGFERRY=<build>/pgferry PGFERRY_SRC=<source dir> \
 *      bash tests/harness/with_cluster.sh <build>/tests/itest_dump
 * (ctest sets both variables.) The test runs the CLI as a child process; the cluster's
 * server may run as another OS user, so nothing here reads the server's files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "codec/chunk.h"
#include "common/pf_util.h"
#include "io/pf_io.h"

#define SRC_DB "pf_dump_src"   /* tools/sample_data.sql, scale 1 */
#define BIG_DB "pf_dump_big"   /* one wide table, long enough to interrupt */
#define BANK_DB "pf_dump_bank" /* snapshot consistency */
#define PERM_DB "pf_dump_perm" /* permission denied */
#define BIG_ROWS 320000
#define BANK_ROWS 200000
#define BANK_START_BALANCE 1000

static const char *pgferry_bin, *src_dir;
static char *tmpbase;      /* every file this test writes goes below it */
static char *sample_dump;  /* DIR of the sample dump (test 1), read by tests 2 and 3 */
static int sample_dump_ok;
/* Background children (pgferry, the transfer loop): killed at teardown if a failed
 * assertion left one running, or stopped. */
static pid_t kids[8];

static void kid_add(pid_t pid)
{
    for (size_t i = 0; i < sizeof kids / sizeof *kids; i++)
        if (kids[i] == 0) {
            kids[i] = pid;
            return;
        }
}

static void kid_del(pid_t pid)
{
    for (size_t i = 0; i < sizeof kids / sizeof *kids; i++)
        if (kids[i] == pid)
            kids[i] = 0;
}

/* ---- small utilities ----------------------------------------------------------------- */

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        fail_msg("out of memory");
    return s;
}

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            fail_msg("out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void buf_free(buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Whole file, NUL-terminated; NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_put(&b, tmp, n);
    fclose(f);
    buf_put(&b, "", 1);
    if (len)
        *len = b.len - 1;
    return (char *)b.p;
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *path)
{
    if (exists(path))
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Files below dir whose name contains ".chunk" (finished or temporary). */
static int n_chunk_files;
static int count_chunk(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_F && strstr(path + ftw->base, ".chunk"))
        n_chunk_files++;
    return 0;
}

static int chunk_files_below(const char *dir)
{
    n_chunk_files = 0;
    if (exists(dir))
        nftw(dir, count_chunk, 16, FTW_PHYS);
    return n_chunk_files;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- running pgferry ------------------------------------------------------------------ */

typedef struct {
    int code;  /* exit code, or 128 + signal */
    char *out; /* stdout */
    char *err; /* stderr */
} result;

static int status_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Starts pgferry with argv (argv[0] is the program name), stdout/stderr into files. */
static pid_t spawn_pgferry(const char *const *argv, const char *outf, const char *errf)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int o = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || o < 0 || e < 0)
            _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(pgferry_bin, (char *const *)argv);
        _exit(127);
    }
    kid_add(pid);
    return pid;
}

static int wait_code(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));
    kid_del(pid);
    return status_code(st);
}

static void collect(result *r, int code, const char *outf, const char *errf)
{
    r->code = code;
    r->out = slurp(outf, NULL);
    r->err = slurp(errf, NULL);
    if (!r->out || !r->err)
        fail_msg("cannot read the output of pgferry");
    unlink(outf);
    unlink(errf);
}

static void run_argv(result *r, const char *const *argv)
{
    char *outf = xfmt("%s/run.out", tmpbase), *errf = xfmt("%s/run.err", tmpbase);
    pid_t pid = spawn_pgferry(argv, outf, errf);
    collect(r, wait_code(pid), outf, errf);
    free(outf);
    free(errf);
}

#define RUN(r, ...) run_argv((r), (const char *const[]){"pgferry", __VA_ARGS__, NULL})

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* The whole of stderr is exactly one non-empty line. */
static void assert_one_line(const result *r)
{
    size_t n = strlen(r->err);
    if (n < 2 || r->err[n - 1] != '\n' || memchr(r->err, '\n', n - 1) != NULL)
        fail_msg("expected exactly one line on stderr, got %zu bytes:\n%s", n, r->err);
    print_message("  exit %d, stderr: %s", r->code, r->err);
}

static void assert_err_has(const result *r, const char *needle)
{
    if (!strstr(r->err, needle))
        fail_msg("stderr does not mention \"%s\": %s", needle, r->err);
}

/* A failed dump leaves no manifest and no chunk files; a DIR pgferry created is gone. */
static void assert_no_dump(const char *dir, int dir_was_there)
{
    char *m = xfmt("%s/manifest.json", dir);
    if (exists(m))
        fail_msg("%s exists after a failed dump", m);
    free(m);
    int n = chunk_files_below(dir);
    if (n)
        fail_msg("%d chunk files left in %s after a failed dump", n, dir);
    if (!dir_was_there && exists(dir))
        fail_msg("%s was left behind by a failed dump", dir);
}

static json_t *parse_json_or_fail(const char *text, const char *what)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("%s is not JSON (%s, line %d): %s", what, e.text, e.line, text);
    return j;
}

/* ---- SQL ------------------------------------------------------------------------------ */

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("\"%.200s\": %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* First value of the first row (malloc'd), or NULL when there is no row or it is NULL. */
static char *query1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("\"%.200s\": %s", sql, PQerrorMessage(c));
    char *v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return v;
}

static long long query_ll(PGconn *c, const char *sql)
{
    char *v = query1(c, sql);
    if (!v)
        fail_msg("\"%s\" returned no value", sql);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* A connection whose COPY text output is byte-identical to what pgferry's sessions get
 * (pg_dump's settings); binary output does not depend on them. */
static PGconn *db_connect(const char *dbname)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {dbname, "pf_itest", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (!c || PQstatus(c) != CONNECTION_OK)
        fail_msg("connect to %s: %s", dbname, c ? PQerrorMessage(c) : "out of memory");
    exec_ok(c, "SET client_min_messages = warning; SET DateStyle = ISO; SET IntervalStyle = postgres;"
               " SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET client_encoding = 'UTF8'");
    return c;
}

static void create_db(PGconn *admin, const char *name)
{
    char *sql = xfmt("DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    exec_ok(admin, sql);
    free(sql);
    sql = xfmt("CREATE DATABASE %s", name);
    exec_ok(admin, sql);
    free(sql);
}

static void drop_db(PGconn *admin, const char *name)
{
    char *sql = xfmt("DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    PQclear(PQexec(admin, sql));
    free(sql);
}

static char *quote_ident(PGconn *c, const char *s)
{
    char *q = PQescapeIdentifier(c, s, strlen(s));
    if (!q)
        fail_msg("PQescapeIdentifier: %s", PQerrorMessage(c));
    char *out = strdup(q);
    PQfreemem(q);
    return out;
}

/* ---- own COPY, own row splitting, own content hash ------------------------------------ */

typedef struct {
    uint64_t hi, lo;
} h128;

static void h128_add_row(h128 *acc, const void *row, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(row, len);
    uint64_t lo = acc->lo + h.low64;
    acc->hi += h.high64 + (lo < acc->lo);
    acc->lo = lo;
}

static void h128_hex(const h128 *h, char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h->hi, (unsigned long long)h->lo);
}

static const uint8_t copy_signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

/* Runs a COPY ... TO STDOUT; counts and hashes its rows: text, one message per line
 * (hashed without its newline); binary, one message per tuple after the 19-byte header in
 * the first message, up to the two-byte -1 trailer. keep: every byte, when not NULL. */
static void copy_out(PGconn *c, const char *sql, int binary, buf *keep, uint64_t *rows, h128 *hash)
{
    *rows = 0;
    hash->hi = hash->lo = 0;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT)
        fail_msg("\"%.300s\": %s", sql, PQerrorMessage(c));
    PQclear(r);
    char *msg;
    int len, first = 1, trailers = 0;
    while ((len = PQgetCopyData(c, &msg, 0)) > 0) {
        if (keep)
            buf_put(keep, msg, (size_t)len);
        const uint8_t *p = (const uint8_t *)msg;
        size_t n = (size_t)len;
        if (binary) {
            if (first) {
                if (n < 19 || memcmp(p, copy_signature, 11) != 0)
                    fail_msg("binary COPY without its header: %s", sql);
                p += 19;
                n -= 19;
            }
            if (n == 2 && p[0] == 0xff && p[1] == 0xff)
                trailers++;
            else if (n > 0) {
                if (trailers)
                    fail_msg("binary COPY data after the trailer: %s", sql);
                h128_add_row(hash, p, n);
                (*rows)++;
            }
        } else {
            if (p[n - 1] != '\n')
                fail_msg("text COPY message is not one line: %s", sql);
            h128_add_row(hash, p, n - 1);
            (*rows)++;
        }
        first = 0;
        PQfreemem(msg);
    }
    if (len != -1)
        fail_msg("COPY failed: %s", PQerrorMessage(c));
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("COPY failed: %s", PQerrorMessage(c));
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    if (binary && trailers != 1)
        fail_msg("binary COPY with %d trailers: %s", trailers, sql);
}

static const char *const lo_select =
    "SELECT m.oid, pg_catalog.pg_get_userbyid(m.lomowner)::text, m.lomacl::text,"
    " pg_catalog.obj_description(m.oid, 'pg_largeobject'),"
    " pg_catalog.lo_get(m.oid) FROM pg_catalog.pg_largeobject_metadata m";

/* "SELECT <manifest columns> FROM ONLY schema.table", every identifier quoted by libpq. */
static char *table_select(PGconn *c, json_t *t)
{
    const char *schema = json_string_value(json_object_get(t, "schema"));
    const char *name = json_string_value(json_object_get(t, "name"));
    json_t *cols = json_object_get(t, "columns");
    assert_non_null(schema);
    assert_non_null(name);
    assert_true(json_is_array(cols));
    if (strcmp(schema, "pg_catalog") == 0 && strcmp(name, "pg_largeobject") == 0)
        return strdup(lo_select);
    buf b = {0};
    buf_put(&b, "SELECT ", 7);
    size_t i;
    json_t *col;
    json_array_foreach(cols, i, col) {
        char *q = quote_ident(c, json_string_value(col));
        if (i)
            buf_put(&b, ", ", 2);
        buf_put(&b, q, strlen(q));
        free(q);
    }
    /* a table without columns: SELECT FROM t (rows of no columns), as pgferry reads it */
    char *qs = quote_ident(c, schema), *qn = quote_ident(c, name);
    char *tail = xfmt(" FROM ONLY %s.%s", qs, qn);
    buf_put(&b, tail, strlen(tail) + 1);
    free(qs);
    free(qn);
    free(tail);
    return (char *)b.p;
}

static const char *fmt_suffix(json_t *t)
{
    const char *f = json_string_value(json_object_get(t, "format"));
    assert_non_null(f);
    if (strcmp(f, "binary") == 0)
        return " (FORMAT binary)";
    assert_string_equal(f, "text");
    return "";
}

static int is_binary(json_t *t)
{
    return fmt_suffix(t)[0] != '\0';
}

/* Row count and content hash of a manifest table, recomputed from the live source. */
static void assert_table_matches_source(PGconn *c, json_t *t)
{
    char *sel = table_select(c, t);
    char *sql = xfmt("COPY (%s) TO STDOUT%s", sel, fmt_suffix(t));
    uint64_t rows;
    h128 h;
    copy_out(c, sql, is_binary(t), NULL, &rows, &h);
    char hex[33];
    h128_hex(&h, hex);
    const char *label = json_string_value(json_object_get(t, "name"));
    uint64_t mrows = (uint64_t)json_integer_value(json_object_get(t, "rows"));
    const char *mhash = json_string_value(json_object_get(t, "content_hash"));
    assert_non_null(mhash);
    if (rows != mrows)
        fail_msg("%s: %llu rows in the source, %llu in the manifest", label,
                 (unsigned long long)rows, (unsigned long long)mrows);
    if (strcasecmp(hex, mhash) != 0)
        fail_msg("%s: content hash %s from the source, %s in the manifest", label, hex, mhash);
    /* the chunks add up to the table */
    uint64_t crows = 0;
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(t, "chunks"), i, ch)
        crows += (uint64_t)json_integer_value(json_object_get(ch, "rows"));
    assert_int_equal(crows, mrows);
    free(sql);
    free(sel);
}

/* ---- manifest and chunk files --------------------------------------------------------- */

static json_t *load_manifest(const char *dir)
{
    char *path = xfmt("%s/manifest.json", dir);
    size_t len;
    char *text = slurp(path, &len);
    if (!text)
        fail_msg("%s: %s", path, strerror(errno));
    /* the last member is the SHA-256 of every byte before its line */
    const char *key = "  \"manifest_checksum\": \"";
    char *at = strstr(text, key);
    assert_non_null(at);
    uint8_t md[32];
    unsigned int mdlen = 0;
    EVP_Digest(text, (size_t)(at - text), md, &mdlen, EVP_sha256(), NULL);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (strncasecmp(at + strlen(key), hex, 64) != 0)
        fail_msg("%s: manifest_checksum does not match its content", path);
    json_t *m = parse_json_or_fail(text, path);
    free(text);
    free(path);
    return m;
}

static json_t *find_table(json_t *m, const char *schema, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(m, "tables"), i, t) {
        if (strcmp(json_string_value(json_object_get(t, "schema")), schema) == 0 &&
            strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return t;
    }
    return NULL;
}

static json_t *need_table(json_t *m, const char *schema, const char *name)
{
    json_t *t = find_table(m, schema, name);
    if (!t)
        fail_msg("table %s.%s is not in the manifest", schema, name);
    return t;
}

static int sink_to_buf(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    buf_put(ctx, data, len);
    return 0;
}

/* Decodes DIR/file with the codec into out (fed in odd-sized pieces); the trailer must
 * check out. */
static void decode_chunk(const char *dir, const char *file, buf *out, chunk_stats *st, size_t *file_size)
{
    char *path = xfmt("%s/%s", dir, file);
    size_t len;
    char *data = slurp(path, &len);
    if (!data)
        fail_msg("%s: %s", path, strerror(errno));
    char err[512];
    chunk_decoder *d = chunk_decoder_new(err, sizeof err);
    if (!d)
        fail_msg("chunk_decoder_new: %s", err);
    chunk_decoder_reset(d, sink_to_buf, out);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < 100003 ? len - off : 100003;
        if (chunk_decoder_feed(d, data + off, n, err, sizeof err) < 0)
            fail_msg("%s: %s", path, err);
        off += n;
    }
    if (chunk_decoder_finish(d, st, err, sizeof err) < 0)
        fail_msg("%s: chunk_decoder_finish: %s", path, err);
    chunk_decoder_free(d);
    *file_size = len;
    free(data);
    free(path);
}

/* ---- fixtures ------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    pgferry_bin = getenv("PGFERRY");
    src_dir = getenv("PGFERRY_SRC");
    if (!pgferry_bin || !src_dir || access(pgferry_bin, X_OK) != 0) {
        fprintf(stderr, "itest_dump: set PGFERRY (the pgferry binary) and PGFERRY_SRC (the source tree)\n");
        return -1;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    tmpbase = xfmt("%s/pf-itest-dump.XXXXXX", tmp);
    if (!mkdtemp(tmpbase)) {
        fprintf(stderr, "itest_dump: mkdtemp %s: %s\n", tmpbase, strerror(errno));
        return -1;
    }

    PGconn *admin = db_connect("postgres");
    create_db(admin, SRC_DB);
    create_db(admin, BIG_DB);
    PQfinish(admin);

    double t0 = now_s();
    char *cmd = xfmt("psql -X -q -v ON_ERROR_STOP=1 -v scale=1 -d " SRC_DB " -f '%s/tools/sample_data.sql'",
                     src_dir);
    int rc = system(cmd);
    free(cmd);
    if (rc != 0) {
        fprintf(stderr, "itest_dump: loading tools/sample_data.sql failed (%d)\n", rc);
        return -1;
    }
    /* ~100 MB in one table of wide rows: a dump of it takes long enough to be caught in
     * the middle (a worker's COPY is visible in pg_stat_activity). */
    PGconn *big = db_connect(BIG_DB);
    exec_ok(big, "CREATE TABLE public.big (id int NOT NULL, payload text NOT NULL)");
    char *sql = xfmt("INSERT INTO public.big SELECT g, repeat(md5(g::text), 9) FROM generate_series(1, %d) g",
                     BIG_ROWS);
    exec_ok(big, sql);
    free(sql);
    exec_ok(big, "VACUUM ANALYZE public.big");
    PQfinish(big);
    /* a table that belongs to an extension is the extension's business, not data */
    PGconn *src = db_connect(SRC_DB);
    exec_ok(src, "CREATE TABLE public.ext_member (a int); INSERT INTO public.ext_member VALUES (1);"
                 " ALTER EXTENSION pgcrypto ADD TABLE public.ext_member");
    PQfinish(src);
    print_message("fixtures loaded in %.1f s (%s)\n", now_s() - t0, tmpbase);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof kids / sizeof *kids; i++)
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            kill(kids[i], SIGCONT);
            waitpid(kids[i], NULL, 0);
            kids[i] = 0;
        }
    PGconn *admin = PQconnectdb("dbname=postgres application_name=pf_itest");
    if (PQstatus(admin) == CONNECTION_OK) {
        PQclear(PQexec(admin, "SET client_min_messages = warning"));
        drop_db(admin, SRC_DB);
        drop_db(admin, BIG_DB);
        drop_db(admin, BANK_DB);
        drop_db(admin, PERM_DB);
        PQclear(PQexec(admin, "DROP ROLE IF EXISTS pf_reader"));
        PQclear(PQexec(admin, "DROP ROLE IF EXISTS pf_pwuser"));
    }
    PQfinish(admin);
    if (tmpbase) {
        rm_rf(tmpbase);
        free(tmpbase);
        tmpbase = NULL;
    }
    free(sample_dump);
    return 0;
}

/* ---- 1. the sample dataset dumps ------------------------------------------------------ */

static void test_dump_sample(void **state)
{
    (void)state;
    sample_dump = xfmt("%s/sample", tmpbase);
    result r;
    RUN(&r, "dump", "-d", "dbname=" SRC_DB, "-f", sample_dump, "-j", "3", "--chunk-size", "1MB",
        "--no-progress", "--json");
    if (r.code != 0)
        fail_msg("pgferry dump exited %d: %s", r.code, r.err);
    assert_string_equal(r.err, "");
    json_t *j = parse_json_or_fail(r.out, "--json output");
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "tables")), 20);
    assert_int_equal(json_integer_value(json_object_get(j, "large_objects")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "reconnects")), 0);

    /* the summary agrees with the manifest; the directory is private */
    json_t *m = load_manifest(sample_dump);
    json_int_t chunks = 0, rows = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(m, "tables"), i, t) {
        chunks += (json_int_t)json_array_size(json_object_get(t, "chunks"));
        rows += json_integer_value(json_object_get(t, "rows"));
    }
    json_t *lo = json_object_get(m, "large_objects");
    chunks += (json_int_t)json_array_size(json_object_get(lo, "chunks"));
    /* rows are the tables' (as list and verify count them), large objects on their own */
    assert_int_equal(json_integer_value(json_object_get(j, "chunks")), chunks);
    assert_int_equal(json_integer_value(json_object_get(j, "rows")), rows);
    assert_int_equal(json_integer_value(json_object_get(j, "large_objects")),
                     json_integer_value(json_object_get(lo, "rows")));
    struct stat sb;
    assert_int_equal(stat(sample_dump, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    json_decref(m);
    json_decref(j);
    result_free(&r);
    sample_dump_ok = 1;
}

/* ---- 2. every table's rows and content hash match the source --------------------------- */

static void test_manifest_matches_source(void **state)
{
    (void)state;
    if (!sample_dump_ok)
        fail_msg("needs the sample dump of test_dump_sample");
    json_t *m = load_manifest(sample_dump);
    PGconn *c = db_connect(SRC_DB);

    /* exactly the dataset's tables: leaf partitions, no parent, no view/matview */
    static const char *const want[][2] = {
        {"public", "accounts"}, {"public", "events_nopk"}, {"public", "measurements_2025"},
        {"public", "measurements_2026"}, {"public", "measurements_other"}, {"Sales Ω", "Order \"Lines\""},
        {"public", "types_zoo"}, {"public", "gen_drop"}, {"public", "docs"}, {"public", "cache"},
        {"public", "empty_table"}, {"public", "branches"}, {"public", "no_columns"}, {"public", "all_dropped"},
        {"public", "vehicles"}, {"public", "trucks"}, {"public", "nodes"}, {"ledger", "currencies"},
        {"public", "prices"}, {"public", "price_log"}};
    size_t nwant = sizeof want / sizeof *want;
    for (size_t k = 0; k < nwant; k++)
        need_table(m, want[k][0], want[k][1]);
    assert_int_equal(json_array_size(json_object_get(m, "tables")), nwant);
    assert_null(find_table(m, "public", "measurements"));
    assert_null(find_table(m, "public", "city_peaks"));
    assert_null(find_table(m, "public", "rich"));
    assert_null(find_table(m, "public", "ext_member"));

    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(m, "tables"), i, t) {
        const char *schema = json_string_value(json_object_get(t, "schema"));
        const char *name = json_string_value(json_object_get(t, "name"));
        /* nothing that belongs to an extension, nothing that is not a plain table */
        char *qs = quote_ident(c, schema), *qn = quote_ident(c, name);
        char *sql = xfmt("SELECT c.relkind::text || ':' || (SELECT count(*) FROM pg_depend d"
                         " WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')"
                         " FROM pg_class c WHERE c.oid = '%s.%s'::regclass",
                         qs, qn);
        char *kind = query1(c, sql);
        assert_non_null(kind);
        assert_string_equal(kind, "r:0");
        free(kind);
        free(sql);
        /* row count from count(*) too, not only from COPY */
        sql = xfmt("SELECT count(*) FROM ONLY %s.%s", qs, qn);
        assert_int_equal(query_ll(c, sql), json_integer_value(json_object_get(t, "rows")));
        free(sql);
        free(qs);
        free(qn);
        /* text only where binary is not portable: types_zoo has composite, enum[] and
         * extension-free but OID-bearing types */
        assert_string_equal(json_string_value(json_object_get(t, "format")),
                            strcmp(name, "types_zoo") == 0 ? "text" : "binary");
        assert_table_matches_source(c, t);
    }
    /* ext_member (left out above) really is a member of pgcrypto */
    assert_int_equal(query_ll(c, "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid"
                                 " WHERE e.extname = 'pgcrypto' AND d.deptype = 'e'"
                                 " AND d.objid = 'public.ext_member'::regclass"),
                     1);

    json_t *acc = need_table(m, "public", "accounts");
    assert_true(json_array_size(json_object_get(acc, "chunks")) > 5);
    assert_int_equal(json_integer_value(json_object_get(acc, "rows")), 200000);
    assert_true(json_is_true(json_object_get(need_table(m, "public", "cache"), "unlogged")));
    assert_true(json_is_false(json_object_get(acc, "unlogged")));
    assert_int_equal(json_integer_value(json_object_get(need_table(m, "public", "empty_table"), "rows")), 0);
    assert_int_equal(json_integer_value(json_object_get(need_table(m, "public", "events_nopk"), "rows")), 20050);
    json_t *part = need_table(m, "public", "measurements_other");
    assert_string_equal(json_string_value(json_object_get(part, "partition_of")), "measurements");

    /* gen_drop: neither the generated nor the dropped column is copied */
    json_t *cols = json_object_get(need_table(m, "public", "gen_drop"), "columns");
    assert_int_equal(json_array_size(cols), 3);
    assert_string_equal(json_string_value(json_array_get(cols, 0)), "id");
    assert_string_equal(json_string_value(json_array_get(cols, 1)), "a");
    assert_string_equal(json_string_value(json_array_get(cols, 2)), "b");
    cols = json_object_get(need_table(m, "Sales Ω", "Order \"Lines\""), "columns");
    assert_int_equal(json_array_size(cols), 3);
    assert_string_equal(json_string_value(json_array_get(cols, 0)), "Ünïcode col");

    /* the sequence was read inside the snapshot: START 1000 plus 42 nextval() calls */
    int seen_seq = 0;
    json_t *s;
    json_array_foreach(json_object_get(m, "sequences"), i, s) {
        if (strcmp(json_string_value(json_object_get(s, "name")), "invoice_no") == 0) {
            seen_seq = 1;
            assert_string_equal(json_string_value(json_object_get(s, "schema")), "public");
            assert_int_equal(json_integer_value(json_object_get(s, "last_value")), 1041);
            assert_true(json_is_true(json_object_get(s, "is_called")));
        }
    }
    assert_true(seen_seq);

    /* large objects: two rows, hashed like a table */
    json_t *lo = json_object_get(m, "large_objects");
    assert_true(json_is_object(lo));
    assert_int_equal(json_integer_value(json_object_get(lo, "rows")), 2);
    assert_table_matches_source(c, lo);

    PQfinish(c);
    json_decref(m);
}

/* ---- 3. chunks decode to exactly the rows of their range ------------------------------ */

static void check_chunks_of(PGconn *c, json_t *t)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    char *sel = table_select(c, t);
    int binary = is_binary(t);
    json_t *chunks = json_object_get(t, "chunks");
    size_t n = json_array_size(chunks);
    assert_true(n > 1);
    uint64_t next_start = 0;
    size_t i;
    json_t *ch;
    json_array_foreach(chunks, i, ch) {
        /* ranges: disjoint, contiguous from page 0, only the last one open-ended */
        json_t *sp = json_object_get(ch, "start_page"), *ep = json_object_get(ch, "end_page");
        assert_true(json_is_integer(sp));
        assert_int_equal((uint64_t)json_integer_value(sp), next_start);
        char *range;
        if (i + 1 == n) {
            assert_true(json_is_null(ep));
            range = xfmt("ctid >= '(%llu,0)'", (unsigned long long)next_start);
        } else {
            assert_true(json_is_integer(ep));
            uint64_t end = (uint64_t)json_integer_value(ep);
            assert_true(end > next_start);
            range = xfmt("ctid >= '(%llu,0)' AND ctid < '(%llu,0)'", (unsigned long long)next_start,
                         (unsigned long long)end);
            next_start = end;
        }

        buf dec = {0}, mine = {0};
        chunk_stats st;
        size_t fsize;
        const char *file = json_string_value(json_object_get(ch, "file"));
        decode_chunk(sample_dump, file, &dec, &st, &fsize);
        char hex[33];
        assert_int_equal(st.raw_bytes, (uint64_t)json_integer_value(json_object_get(ch, "raw_bytes")));
        assert_int_equal(dec.len, st.raw_bytes);
        assert_int_equal(st.stored_bytes, (uint64_t)json_integer_value(json_object_get(ch, "stored_bytes")));
        assert_int_equal(fsize, st.stored_bytes);
        chunk_hash_hex(&st.raw_hash, hex);
        assert_string_equal(hex, json_string_value(json_object_get(ch, "raw_hash")));
        /* the manifest's stored hash is the xxh3-128 of the whole file as stored */
        {
            char *fbytes = NULL, ferr[PF_ERRLEN];
            size_t flen = 0;
            char *fpath = xfmt("%s/%s", sample_dump, file);
            assert_int_equal(io_read_file(fpath, &fbytes, &flen, ferr, sizeof ferr), 0);
            XXH128_canonical_t fc;
            XXH128_canonicalFromHash(&fc, XXH3_128bits(fbytes, flen));
            chunk_hash fh;
            memcpy(fh.b, fc.digest, 16);
            chunk_hash_hex(&fh, hex);
            assert_string_equal(hex, json_string_value(json_object_get(ch, "stored_hash")));
            free(fbytes);
            free(fpath);
        }
        /* and the raw hash is the xxh3-128 of what came out */
        XXH128_canonical_t canon;
        XXH128_canonicalFromHash(&canon, XXH3_128bits(dec.p, dec.len));
        assert_memory_equal(canon.digest, st.raw_hash.b, 16);

        char *sql = xfmt("COPY (%s WHERE %s) TO STDOUT%s", sel, range, fmt_suffix(t));
        uint64_t rows;
        h128 h;
        copy_out(c, sql, binary, &mine, &rows, &h);
        if (mine.len != dec.len || memcmp(mine.p, dec.p, dec.len) != 0)
            fail_msg("%s chunk %zu (%s): decoded %zu bytes differ from the %zu bytes of a fresh COPY", name,
                     i, range, dec.len, mine.len);
        assert_int_equal(rows, (uint64_t)json_integer_value(json_object_get(ch, "rows")));
        h128_hex(&h, hex);
        assert_string_equal(hex, json_string_value(json_object_get(ch, "content_hash")));
        buf_free(&dec);
        buf_free(&mine);
        free(sql);
        free(range);
    }
    free(sel);
}

static void test_chunks_decode_to_their_ranges(void **state)
{
    (void)state;
    if (!sample_dump_ok)
        fail_msg("needs the sample dump of test_dump_sample");
    json_t *m = load_manifest(sample_dump);
    PGconn *c = db_connect(SRC_DB);
    check_chunks_of(c, need_table(m, "public", "accounts"));
    check_chunks_of(c, need_table(m, "public", "docs")); /* TOAST-heavy: cut by bytes */
    PQfinish(c);
    json_decref(m);
}

/* ---- 4. one snapshot while transfers run ---------------------------------------------- */

/* Child process: moves money between random accounts until killed; counts commits. */
static void transfer_loop(volatile uint64_t *commits)
{
    PGconn *c = PQconnectdb("dbname=" BANK_DB " application_name=pf_itest_transfers");
    if (PQstatus(c) != CONNECTION_OK)
        _exit(3);
    unsigned seed = (unsigned)getpid();
    for (;;) {
        int a = 1 + (int)(rand_r(&seed) % BANK_ROWS), b = 1 + (int)(rand_r(&seed) % BANK_ROWS);
        int amount = 1 + (int)(rand_r(&seed) % 500);
        if (a == b)
            continue;
        char sql[256];
        snprintf(sql, sizeof sql,
                 "BEGIN; UPDATE bank SET balance = balance - %d WHERE id = %d;"
                 " UPDATE bank SET balance = balance + %d WHERE id = %d; COMMIT",
                 amount, a, amount, b);
        PGresult *r = PQexec(c, sql);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            _exit(4);
        __atomic_add_fetch(commits, 1, __ATOMIC_SEQ_CST);
    }
}

static void test_snapshot_consistency(void **state)
{
    (void)state;
    PGconn *admin = db_connect("postgres");
    create_db(admin, BANK_DB);
    PGconn *c = db_connect(BANK_DB);
    exec_ok(c, "CREATE TABLE public.bank (id int PRIMARY KEY, balance bigint NOT NULL)");
    char *sql = xfmt("INSERT INTO public.bank SELECT g, %d FROM generate_series(1, %d) g",
                     BANK_START_BALANCE, BANK_ROWS);
    exec_ok(c, sql);
    free(sql);
    exec_ok(c, "VACUUM ANALYZE public.bank");
    const long long total = (long long)BANK_START_BALANCE * BANK_ROWS;
    assert_int_equal(query_ll(c, "SELECT sum(balance) FROM bank"), total);

    volatile uint64_t *commits = mmap(NULL, sizeof *commits, PROT_READ | PROT_WRITE,
                                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(commits != MAP_FAILED);
    *commits = 0;
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        transfer_loop(commits);
    kid_add(child);

    /* transfers are committing before the dump starts ... */
    double t0 = now_s();
    while (__atomic_load_n(commits, __ATOMIC_SEQ_CST) < 200) {
        int st;
        if (waitpid(child, &st, WNOHANG) == child && (kid_del(child), 1))
            fail_msg("the transfer process died (%d)", status_code(st));
        if (now_s() - t0 > 120)
            fail_msg("no transfers committed in 120 s");
        sleep_ms(5);
    }
    uint64_t before = __atomic_load_n(commits, __ATOMIC_SEQ_CST);
    char *dir = xfmt("%s/bank", tmpbase);
    result r;
    RUN(&r, "dump", "-d", "dbname=" BANK_DB, "-f", dir, "-j", "3", "--chunk-size", "256kB", "--format",
        "text", "--no-progress", "--json");
    uint64_t after = __atomic_load_n(commits, __ATOMIC_SEQ_CST);
    kill(child, SIGKILL);
    int cst;
    waitpid(child, &cst, 0);
    kid_del(child);
    munmap((void *)commits, sizeof *commits);
    if (r.code != 0)
        fail_msg("dump under concurrent transfers exited %d: %s", r.code, r.err);
    /* ... and kept committing while it ran */
    print_message("%llu transfers committed during the dump\n", (unsigned long long)(after - before));
    assert_true(after > before);
    assert_int_equal(query_ll(c, "SELECT sum(balance) FROM bank"), total);
    assert_true(query_ll(c, "SELECT count(*) FROM bank WHERE balance <> " "1000") > 0);

    json_t *m = load_manifest(dir);
    json_t *t = need_table(m, "public", "bank");
    assert_string_equal(json_string_value(json_object_get(t, "format")), "text");
    json_t *chunks = json_object_get(t, "chunks");
    assert_true(json_array_size(chunks) > 3);
    uint8_t *seen = calloc(BANK_ROWS + 1, 1);
    assert_non_null(seen);
    long long sum = 0, nrows = 0;
    size_t i;
    json_t *ch;
    json_array_foreach(chunks, i, ch) {
        buf dec = {0};
        chunk_stats st;
        size_t fsize;
        decode_chunk(dir, json_string_value(json_object_get(ch, "file")), &dec, &st, &fsize);
        buf_put(&dec, "", 1);
        char *p = (char *)dec.p, *end = (char *)dec.p + dec.len - 1;
        while (p < end) {
            char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');
            assert_non_null(tab);
            assert_non_null(nl);
            assert_true(tab < nl);
            long id = strtol(p, NULL, 10);
            long long bal = strtoll(tab + 1, NULL, 10);
            if (id < 1 || id > BANK_ROWS)
                fail_msg("bank id %ld out of range", id);
            if (seen[id])
                fail_msg("bank id %ld appears twice in the dump", id);
            seen[id] = 1;
            sum += bal;
            nrows++;
            p = nl + 1;
        }
        buf_free(&dec);
    }
    assert_int_equal(nrows, BANK_ROWS);
    assert_int_equal(json_integer_value(json_object_get(t, "rows")), BANK_ROWS);
    if (sum != total)
        fail_msg("the dump's balances add up to %lld, not %lld: not one snapshot", sum, total);
    free(seen);
    json_decref(m);
    rm_rf(dir);
    free(dir);
    result_free(&r);
    PQfinish(c);
    drop_db(admin, BANK_DB);
    PQfinish(admin);
}

/* ---- 5. faults ------------------------------------------------------------------------ */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
    close(s); /* bound but never listening, then closed: nothing accepts there */
    return ntohs(a.sin_port);
}

static void test_fault_unreachable(void **state)
{
    (void)state;
    char *dir = xfmt("%s/unreachable", tmpbase);
    char *conn = xfmt("host=127.0.0.1 port=%d dbname=postgres connect_timeout=10", free_port());
    result r;
    RUN(&r, "dump", "-d", conn, "-f", dir, "--no-progress");
    assert_int_equal(r.code, 1);
    assert_one_line(&r);
    assert_err_has(&r, "Connection refused");
    assert_no_dump(dir, 0);
    result_free(&r);
    free(conn);
    free(dir);
}

static void test_fault_bad_password(void **state)
{
    (void)state;
    PGconn *admin = db_connect("postgres");
    exec_ok(admin, "DROP ROLE IF EXISTS pf_pwuser");
    exec_ok(admin, "CREATE ROLE pf_pwuser LOGIN PASSWORD 'the-right-one'");
    char *dir = xfmt("%s/badpw", tmpbase);
    const char *pw = "Wr0ngPassw0rd-x9";
    char *conn = xfmt("host=127.0.0.1 user=pf_pwuser password=%s dbname=postgres", pw);
    char *uri = xfmt("postgresql://pf_pwuser:%s@127.0.0.1/postgres", pw);
    const char *conns[] = {conn, uri};
    for (int k = 0; k < 2; k++) {
        result r;
        RUN(&r, "dump", "-d", conns[k], "-f", dir, "--no-progress", "--json");
        assert_int_equal(r.code, 1);
        assert_one_line(&r);
        assert_err_has(&r, "password authentication failed");
        assert_err_has(&r, "pf_pwuser");
        if (strstr(r.err, pw) || strstr(r.out, pw))
            fail_msg("the password appears in the output: %s%s", r.err, r.out);
        json_t *j = parse_json_or_fail(r.out, "--json output");
        assert_true(json_is_false(json_object_get(j, "ok")));
        json_decref(j);
        assert_no_dump(dir, 0);
        result_free(&r);
    }
    exec_ok(admin, "DROP ROLE pf_pwuser");
    PQfinish(admin);
    free(uri);
    free(conn);
    free(dir);
}

static void test_fault_permission_denied(void **state)
{
    (void)state;
    PGconn *admin = db_connect("postgres");
    exec_ok(admin, "DROP ROLE IF EXISTS pf_reader");
    exec_ok(admin, "CREATE ROLE pf_reader LOGIN");
    create_db(admin, PERM_DB);
    PGconn *c = db_connect(PERM_DB);
    exec_ok(c, "CREATE TABLE public.readable (a int); INSERT INTO public.readable VALUES (1), (2);"
               " GRANT SELECT ON public.readable TO pf_reader;"
               " CREATE TABLE public.\"Locked Away\" (secret text); INSERT INTO public.\"Locked Away\" VALUES ('x')");
    PQfinish(c);
    char *dir = xfmt("%s/perm", tmpbase);
    /* the table named, and the whole database */
    for (int k = 0; k < 2; k++) {
        result r;
        if (k == 0)
            RUN(&r, "dump", "-d", "host=127.0.0.1 user=pf_reader dbname=" PERM_DB, "-f", dir, "-t",
                "\"Locked Away\"", "--no-progress");
        else
            RUN(&r, "dump", "-d", "host=127.0.0.1 user=pf_reader dbname=" PERM_DB, "-f", dir, "--no-progress");
        assert_int_equal(r.code, 1);
        assert_one_line(&r);
        assert_err_has(&r, "permission denied");
        assert_err_has(&r, "Locked Away");
        assert_no_dump(dir, 0);
        result_free(&r);
    }
    /* the readable table alone dumps fine as pf_reader: the failure above was the grant */
    result r;
    RUN(&r, "dump", "-d", "host=127.0.0.1 user=pf_reader dbname=" PERM_DB, "-f", dir, "-t", "readable",
        "--no-progress");
    if (r.code != 0)
        fail_msg("dump of a readable table as pf_reader exited %d: %s", r.code, r.err);
    json_t *m = load_manifest(dir);
    assert_int_equal(json_array_size(json_object_get(m, "tables")), 1);
    assert_int_equal(json_integer_value(json_object_get(need_table(m, "public", "readable"), "rows")), 2);
    json_decref(m);
    rm_rf(dir);
    result_free(&r);
    drop_db(admin, PERM_DB);
    exec_ok(admin, "DROP ROLE pf_reader");
    PQfinish(admin);
    free(dir);
}

static void test_fault_pattern_without_match(void **state)
{
    (void)state;
    char *dir = xfmt("%s/nomatch", tmpbase);
    result r;
    RUN(&r, "dump", "-d", "dbname=" SRC_DB, "-f", dir, "-t", "accounts", "-t", "nosuchtable", "--no-progress");
    assert_int_equal(r.code, 1);
    assert_one_line(&r);
    assert_err_has(&r, "nosuchtable");
    assert_no_dump(dir, 0);
    result_free(&r);
    RUN(&r, "dump", "-d", "dbname=" SRC_DB, "-f", dir, "-n", "nosuchschema", "--no-progress");
    assert_int_equal(r.code, 1);
    assert_one_line(&r);
    assert_err_has(&r, "nosuchschema");
    assert_no_dump(dir, 0);
    result_free(&r);
    free(dir);
}

static void test_fault_existing_dir(void **state)
{
    (void)state;
    char *dir = xfmt("%s/occupied", tmpbase);
    char *file = xfmt("%s/precious.txt", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    result r;
    RUN(&r, "dump", "-d", "dbname=" SRC_DB, "-f", dir, "--no-progress");
    assert_int_not_equal(r.code, 0);
    assert_one_line(&r);
    assert_err_has(&r, "not empty");
    assert_no_dump(dir, 1);
    char *text = slurp(file, NULL);
    assert_non_null(text);
    assert_string_equal(text, "keep me\n");
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0755);
    free(text);
    result_free(&r);
    /* a regular file as DIR is refused too */
    RUN(&r, "dump", "-d", "dbname=" SRC_DB, "-f", file, "--no-progress");
    assert_int_not_equal(r.code, 0);
    assert_one_line(&r);
    text = slurp(file, NULL);
    assert_string_equal(text, "keep me\n");
    free(text);
    result_free(&r);
    rm_rf(dir);
    free(file);
    free(dir);
}

static void test_fault_disk_full(void **state)
{
    (void)state;
    char *mnt = xfmt("%s/small-fs", tmpbase);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0700") != 0) {
        int e = errno;
        rmdir(mnt);
        free(mnt);
        print_message("skipping the disk-full test: cannot mount a tmpfs (%s)\n", strerror(e));
        skip();
        return;
    }
    char *dir = xfmt("%s/dump", mnt);
    result r;
    /* ~100 MB uncompressed into 2 MB */
    RUN(&r, "dump", "-d", "dbname=" BIG_DB, "-f", dir, "-j", "2", "--chunk-size", "256kB", "--compress", "none",
        "--no-progress");
    int code = r.code;
    char *err = strdup(r.err);
    int left = exists(dir), chunks = chunk_files_below(mnt);
    char *man = xfmt("%s/manifest.json", dir);
    int has_manifest = exists(man);
    free(man);
    result_free(&r);
    if (umount(mnt) != 0)
        umount2(mnt, MNT_DETACH);
    rmdir(mnt);
    print_message("  exit %d, stderr: %s", code, err);
    if (code != 1)
        fail_msg("dump into a full filesystem exited %d: %s", code, err);
    if (!strstr(err, "No space left on device"))
        fail_msg("message does not say \"No space left on device\": %s", err);
    size_t n = strlen(err);
    if (n < 2 || err[n - 1] != '\n' || memchr(err, '\n', n - 1))
        fail_msg("expected one line on stderr: %s", err);
    assert_false(has_manifest);
    assert_int_equal(chunks, 0);
    assert_false(left);
    free(err);
    free(dir);
    free(mnt);
}

/* pgferry backends of BIG_DB (application_name 'pgferry'; pg_dump's is 'pg_dump'). A
 * worker is the one running COPY; the coordinator is the first to connect, holds the
 * exported snapshot (backend_xmin) and never runs COPY. */
static const char *const worker_in_copy_sql =
    "SELECT pid FROM pg_stat_activity WHERE datname = '" BIG_DB "' AND application_name = 'pgferry'"
    " AND state = 'active' AND query LIKE 'COPY%' ORDER BY backend_start LIMIT 1";
static const char *const coordinator_sql =
    "SELECT pid FROM pg_stat_activity WHERE datname = '" BIG_DB "' AND application_name = 'pgferry'"
    " AND backend_xmin IS NOT NULL AND query NOT LIKE 'COPY%' AND query NOT LIKE '%SET TRANSACTION SNAPSHOT%'"
    " ORDER BY backend_start LIMIT 1";

/* Polls until a worker is seen in COPY. Returns its pid, or 0 if pgferry exited first
 * (*code then holds its exit code). */
static int wait_for_worker_copy(PGconn *c, pid_t pid, int *code)
{
    double t0 = now_s();
    for (;;) {
        char *v = query1(c, worker_in_copy_sql);
        if (v) {
            int bpid = atoi(v);
            free(v);
            return bpid;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            kid_del(pid);
            *code = status_code(st);
            return 0;
        }
        if (now_s() - t0 > 300) {
            kill(pid, SIGKILL);
            wait_code(pid);
            fail_msg("no pgferry worker was seen running COPY within 300 s");
        }
        sleep_ms(2);
    }
}

static void terminate_and_wait(PGconn *c, int bpid)
{
    char *sql = xfmt("SELECT pg_terminate_backend(%d)", bpid);
    exec_ok(c, sql);
    free(sql);
    sql = xfmt("SELECT 1 FROM pg_stat_activity WHERE pid = %d", bpid);
    double t0 = now_s();
    for (;;) {
        char *v = query1(c, sql);
        if (!v)
            break;
        free(v);
        if (now_s() - t0 > 60)
            fail_msg("backend %d did not go away", bpid);
        sleep_ms(5);
    }
    free(sql);
}

/* The source's own view of BIG_DB's table, for content checks. */
static void big_source_hash(PGconn *c, json_t *t, uint64_t *rows, char hex[33])
{
    char *sel = table_select(c, t);
    char *sql = xfmt("COPY (%s) TO STDOUT%s", sel, fmt_suffix(t));
    h128 h;
    copy_out(c, sql, is_binary(t), NULL, rows, &h);
    h128_hex(&h, hex);
    free(sql);
    free(sel);
}

/* After SIGSTOP: waits until backend bpid is blocked sending COPY data to the frozen
 * client (1), or has finished its COPY (0). */
static int blocked_mid_copy(PGconn *c, int bpid)
{
    char *sql = xfmt("SELECT state = 'active' AND query LIKE 'COPY%%',"
                     " coalesce(wait_event = 'ClientWrite', false)"
                     " FROM pg_stat_activity WHERE pid = %d",
                     bpid);
    int blocked = 0;
    double t0 = now_s();
    for (;;) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", sql, PQerrorMessage(c));
        int active = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        blocked = active && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
        PQclear(r);
        if (blocked || !active || now_s() - t0 > 60)
            break;
        sleep_ms(5);
    }
    free(sql);
    return blocked;
}

/* Dumps BIG_DB with -j 2 and terminates one worker's backend in the middle: with
 * mid_stream, while that backend is blocked sending a COPY (the chunk is half read);
 * otherwise whatever it is doing once seen running COPY (usually between chunks). The
 * worker must reconnect, rejoin the snapshot and redo its chunk: the dump succeeds,
 * reports the reconnect, and its content still matches the source. */
static void dump_with_worker_terminated(const char *chunk_size, int mid_stream)
{
    PGconn *c = db_connect(BIG_DB);
    char *dir = xfmt("%s/worker-killed", tmpbase);
    char *outf = xfmt("%s/wk.out", tmpbase), *errf = xfmt("%s/wk.err", tmpbase);
    const char *const argv[] = {"pgferry", "dump", "-d", "dbname=" BIG_DB, "-f", dir, "-j", "2",
                                "--chunk-size", chunk_size, "--no-progress", "--json", NULL};
    result r = {0};
    for (int attempt = 1;; attempt++) {
        pid_t pid = spawn_pgferry(argv, outf, errf);
        int code = -1, bpid;
        for (;;) {
            bpid = wait_for_worker_copy(c, pid, &code);
            if (bpid == 0)
                break;
            /* Freeze pgferry so the dump cannot finish meanwhile. */
            kill(pid, SIGSTOP);
            if (!mid_stream || blocked_mid_copy(c, bpid))
                break;
            kill(pid, SIGCONT); /* that chunk fit in the socket buffers: catch another */
        }
        if (bpid == 0) {
            /* finished before a worker could be caught: only plausible on a very fast machine */
            collect(&r, code, outf, errf);
            if (attempt >= 3)
                fail_msg("pgferry finished (exit %d) before a worker could be caught, 3 times", code);
            result_free(&r);
            rm_rf(dir);
            continue;
        }
        char *check = xfmt("SELECT state || coalesce(' / ' || wait_event, '') FROM pg_stat_activity"
                           " WHERE pid = %d AND query LIKE 'COPY%%'",
                           bpid);
        char *state_now = query1(c, check);
        free(check);
        if (!state_now)
            fail_msg("worker backend %d is gone or no longer a COPY worker", bpid);
        print_message("chunk size %s: terminating worker backend %d (%s)\n", chunk_size, bpid, state_now);
        free(state_now);
        terminate_and_wait(c, bpid);
        kill(pid, SIGCONT);
        collect(&r, wait_code(pid), outf, errf);
        break;
    }
    if (r.code != 0)
        fail_msg("dump with a terminated worker exited %d: %s", r.code, r.err);
    json_t *j = parse_json_or_fail(r.out, "--json output");
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_int_t reconnects = json_integer_value(json_object_get(j, "reconnects"));
    print_message("reconnects: %lld\n", (long long)reconnects);
    assert_true(reconnects >= 1);
    json_decref(j);

    json_t *m = load_manifest(dir);
    json_t *t = need_table(m, "public", "big");
    assert_true(json_array_size(json_object_get(t, "chunks")) > 4);
    uint64_t rows;
    char hex[33];
    big_source_hash(c, t, &rows, hex);
    assert_int_equal(rows, BIG_ROWS);
    assert_int_equal(json_integer_value(json_object_get(t, "rows")), BIG_ROWS);
    assert_string_equal(hex, json_string_value(json_object_get(t, "content_hash")));
    /* no leftovers of the abandoned attempt */
    char *data = xfmt("%s/data", dir);
    assert_int_equal(chunk_files_below(data), (int)json_array_size(json_object_get(t, "chunks")));
    free(data);
    json_decref(m);
    rm_rf(dir);
    result_free(&r);
    PQfinish(c);
    free(outf);
    free(errf);
    free(dir);
}

static void test_fault_worker_terminated(void **state)
{
    (void)state;
    dump_with_worker_terminated("256kB", 0);
}

static void test_fault_worker_terminated_mid_copy(void **state)
{
    (void)state;
    /* chunks far larger than the socket buffers, so a frozen client blocks the COPY */
    dump_with_worker_terminated("16MB", 1);
}

static void test_fault_coordinator_terminated(void **state)
{
    (void)state;
    PGconn *c = db_connect(BIG_DB);
    char *dir = xfmt("%s/coord-killed", tmpbase);
    char *outf = xfmt("%s/ck.out", tmpbase), *errf = xfmt("%s/ck.err", tmpbase);
    const char *const argv[] = {"pgferry", "dump", "-d", "dbname=" BIG_DB, "-f", dir, "-j", "2",
                                "--chunk-size", "256kB", "--no-progress", NULL};
    result r = {0};
    for (int attempt = 1;; attempt++) {
        pid_t pid = spawn_pgferry(argv, outf, errf);
        int code = -1;
        int wpid = wait_for_worker_copy(c, pid, &code);
        if (wpid == 0) {
            collect(&r, code, outf, errf);
            if (attempt >= 3)
                fail_msg("pgferry finished (exit %d) before any worker COPY was seen, 3 times", code);
            result_free(&r);
            rm_rf(dir);
            continue;
        }
        kill(pid, SIGSTOP);
        char *v = query1(c, coordinator_sql);
        if (!v) {
            kill(pid, SIGKILL);
            wait_code(pid);
            fail_msg("no coordinator connection found in pg_stat_activity");
        }
        int cpid = atoi(v);
        free(v);
        assert_int_not_equal(cpid, wpid);
        terminate_and_wait(c, cpid);
        kill(pid, SIGCONT);
        collect(&r, wait_code(pid), outf, errf);
        break;
    }
    assert_int_equal(r.code, 1);
    assert_one_line(&r);
    /* whichever notices first (health check, COMMIT, pg_dump or a worker importing the
     * snapshot), the message names the cause */
    assert_err_has(&r, "coordinator connection lost");
    assert_err_has(&r, "snapshot");
    assert_no_dump(dir, 0);
    result_free(&r);
    PQfinish(c);
    free(outf);
    free(errf);
    free(dir);
}

static void test_fault_interrupted(void **state)
{
    (void)state;
    PGconn *c = db_connect(BIG_DB);
    char *dir = xfmt("%s/interrupted", tmpbase);
    char *outf = xfmt("%s/int.out", tmpbase), *errf = xfmt("%s/int.err", tmpbase);
    const char *const argv[] = {"pgferry", "dump", "-d", "dbname=" BIG_DB, "-f", dir, "-j", "1",
                                "--chunk-size", "1MB", "--no-progress", NULL};
    result r = {0};
    for (int attempt = 1;; attempt++) {
        pid_t pid = spawn_pgferry(argv, outf, errf);
        int code = -1;
        if (wait_for_worker_copy(c, pid, &code) == 0) {
            collect(&r, code, outf, errf);
            if (attempt >= 3)
                fail_msg("pgferry finished (exit %d) before any worker COPY was seen, 3 times", code);
            result_free(&r);
            rm_rf(dir);
            continue;
        }
        /* mid-dump for sure: stopped while a COPY runs, no manifest yet */
        kill(pid, SIGSTOP);
        char *man = xfmt("%s/manifest.json", dir);
        assert_false(exists(man));
        free(man);
        kill(pid, SIGINT);
        kill(pid, SIGCONT);
        collect(&r, wait_code(pid), outf, errf);
        break;
    }
    assert_int_equal(r.code, 130);
    assert_one_line(&r);
    assert_err_has(&r, "interrupted");
    assert_no_dump(dir, 0);
    /* nothing of the dump keeps running on the server */
    double t0 = now_s();
    while (query_ll(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = '" BIG_DB "'"
                       " AND application_name IN ('pgferry', 'pg_dump')") > 0) {
        if (now_s() - t0 > 30)
            fail_msg("pgferry's connections are still there 30 s after it exited");
        sleep_ms(20);
    }
    result_free(&r);
    PQfinish(c);
    free(outf);
    free(errf);
    free(dir);
}

/* ---- 6. usage errors ------------------------------------------------------------------ */

static void test_usage_errors(void **state)
{
    (void)state;
    char *dir = xfmt("%s/usage", tmpbase);
    static const char *const bad[][3] = {
        {"--compress", "brotli", "--compress"}, {"--compress", "zstd:99", "--compress"},
        {"--chunk-size", "12parsecs", "--chunk-size"}, {"--chunk-size", "1kB", "--chunk-size"},
        {"-j", "0", "--jobs"}, {"-j", "many", "--jobs"}, {"--format", "csv", "--format"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        result r;
        RUN(&r, "dump", "-d", "dbname=" SRC_DB, "-f", dir, bad[k][0], bad[k][1]);
        if (r.code != 2)
            fail_msg("%s %s: exit %d, expected 2 (%s)", bad[k][0], bad[k][1], r.code, r.err);
        assert_one_line(&r);
        assert_err_has(&r, bad[k][2]);
        assert_err_has(&r, bad[k][1]);
        assert_false(exists(dir));
        result_free(&r);
    }
    result r;
    RUN(&r, "dump", "-d", "dbname=" SRC_DB, "-j", "2");
    assert_int_equal(r.code, 2);
    assert_one_line(&r);
    assert_err_has(&r, "-f");
    result_free(&r);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_sample),
        cmocka_unit_test(test_manifest_matches_source),
        cmocka_unit_test(test_chunks_decode_to_their_ranges),
        cmocka_unit_test(test_snapshot_consistency),
        cmocka_unit_test(test_fault_unreachable),
        cmocka_unit_test(test_fault_bad_password),
        cmocka_unit_test(test_fault_permission_denied),
        cmocka_unit_test(test_fault_pattern_without_match),
        cmocka_unit_test(test_fault_existing_dir),
        cmocka_unit_test(test_fault_disk_full),
        cmocka_unit_test(test_fault_worker_terminated),
        cmocka_unit_test(test_fault_worker_terminated_mid_copy),
        cmocka_unit_test(test_fault_coordinator_terminated),
        cmocka_unit_test(test_fault_interrupted),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests_name("itest_dump", tests, group_setup, group_teardown);
}
