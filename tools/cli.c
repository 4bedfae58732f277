/* cli: helpers the pgferry commands share: signals, usage errors and failures, option
 * values, secrets (passphrases, passwords), and the one place where a command's
 * connection options become the connection string it uses. */
#include "tools/cli.h"
#include "tools/cli_log.h"

#include "common/pf_util.h"
#include "engine/dump.h"
#include "engine/pgconn.h"
#include "engine/restore.h"
#include "io/pf_io.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <termios.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t cli_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

void cli_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    char msg[PF_ERRLEN];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(msg, sizeof msg, fmt, arg);
#pragma GCC diagnostic pop
    fprintf(stderr, "pgferry %s: %s (try 'pgferry %s --help')\n", cmd, msg, cmd);
    cli_json_error(msg);
    return EXIT_USAGE;
}

int cli_check_output(const char *cmd, const char *opt, const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return cli_usage_error(cmd, "%s", "out of memory");
    const char *dir = dirname(copy);
    struct stat st;
    const char *why = NULL;
    if (!*path)
        why = "an empty file name";
    else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        why = "is a directory";
    else if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        why = "its directory does not exist";
    else if (access(dir, W_OK | X_OK) != 0)
        why = "its directory is not writable";
    int rc = 0;
    if (why) {
        fprintf(stderr, "pgferry %s: %s \"%s\": %s (try 'pgferry %s --help')\n", cmd, opt, path, why, cmd);
        rc = EXIT_USAGE;
    }
    free(copy);
    return rc;
}

int cli_getopt(const cli_cmd *c, int argc, char **argv)
{
    /* one command runs per process: its tables are built on its first call */
    static const cli_cmd *built;
    static struct option longopts[96];
    static char optstring[96];
    if (built != c) {
        size_t n = 0, k = 0;
        optstring[k++] = ':'; /* a missing value returns ':' */
        for (const cli_opt *o = c->opts; o->name && n + 1 < sizeof longopts / sizeof *longopts; o++) {
            longopts[n++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->id};
            if (o->short_opt && o->short_opt != '?' && k + 3 < sizeof optstring) {
                optstring[k++] = o->short_opt;
                if (o->arg)
                    optstring[k++] = ':';
            }
        }
        longopts[n] = (struct option){NULL, 0, NULL, 0};
        optstring[k] = '\0';
        built = c;
        opterr = 0;
    }
    return getopt_long(argc, argv, optstring, longopts, NULL);
}

int cli_help(const char *cmd)
{
    const cli_cmd *c = cmd ? cli_find_command(cmd) : &cli_main_cmd;
    cli_spec_help(c ? c : &cli_main_cmd, stdout);
    return 0;
}

int cli_option_error(const char *cmd, int c, char **argv)
{
    /* glibc: optopt is the option character of an unknown short option, 0 for an unknown
     * long one; for a missing value the option is the argument just consumed */
    char opt[256];
    if (c != ':' && optopt)
        snprintf(opt, sizeof opt, "-%c", optopt);
    else
        snprintf(opt, sizeof opt, "%s", optind > 0 ? argv[optind - 1] : "?");
    if (c == ':')
        return cli_usage_error(cmd, "option %s needs a value", opt);
    if (optopt == '?') /* -?, pg_dump's short help option */
        return cli_help(cmd);
    if (optopt == 'h') /* -h is the host for the commands that connect, not help */
        return cli_usage_error(cmd, "%s", "unknown option -h: help is --help or -?");
    return cli_usage_error(cmd, "unknown option %s", opt);
}

int cli_fail(const char *cmd, int json, const char *err)
{
    (void)json;
    cli_log_error("pgferry %s: %s", cmd, err);
    cli_json_error(err);
    return cli_interrupted ? EXIT_INTERRUPTED : 1;
}

int cli_parse_jobs(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < 1 || v > 256)
        return -1;
    *out = (int)v;
    return 0;
}

int cli_passphrase(const char *cmd, const char *file, char **out)
{
    *out = NULL;
    if (file) {
        char *text = NULL, err[PF_ERRLEN];
        size_t len = 0;
        struct stat sb;
        if (io_read_file(file, &text, &len, err, sizeof err) < 0) {
            fprintf(stderr, "pgferry %s: passphrase file: %s\n", cmd, err);
            return -1;
        }
        if (stat(file, &sb) == 0 && (sb.st_mode & 077))
            fprintf(stderr, "pgferry %s: warning: passphrase file %s is readable by others (chmod 600 it)\n",
                    cmd, file);
        if (len > 0 && text[len - 1] == '\n')
            text[--len] = '\0';
        if (len > 0 && text[len - 1] == '\r')
            text[--len] = '\0';
        if (len == 0 || strlen(text) != len) {
            fprintf(stderr, "pgferry %s: passphrase file %s is empty or not text\n", cmd, file);
            cli_forget(text);
            return -1;
        }
        *out = text;
        return 0;
    }
    const char *env = getenv("PGFERRY_PASSPHRASE");
    if (env && *env) {
        *out = strdup(env);
        /* children (pg_dump, pg_restore) have no use for it */
        unsetenv("PGFERRY_PASSPHRASE");
    }
    return 0;
}

void cli_forget(char *secret)
{
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

/* Option arrays stay reachable until exit, so a usage error that returns early leaks
 * nothing that LeakSanitizer would report; commands still free them on their normal path. */
void *cli_keep(void *old, void *fresh)
{
    static void *kept[64];
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        if (kept[i] == old || (old == NULL && kept[i] == NULL)) {
            kept[i] = fresh;
            break;
        }
    return fresh;
}

int cli_push(const char ***arr, size_t *n, const char *v)
{
    const char **a = realloc(*arr, (*n + 1) * sizeof(char *));
    if (!a)
        return -1;
    cli_keep(*arr, a);
    a[(*n)++] = v;
    *arr = a;
    return 0;
}

void cli_filter_free(catalog_filter *f)
{
    free(f->include_tables);
    free(f->exclude_tables);
    free(f->include_schemas);
    free(f->exclude_schemas);
    free(f->exclude_table_data);
}

/* ---- connecting ---------------------------------------------------------------------- */

/* Strings that live as long as the process: commands and the engine keep pointers. */
static char *keep_string(char *s)
{
    static char *kept[16];
    static size_t nkept;
    if (!s) {
        fputs("pgferry: out of memory\n", stderr);
        exit(1);
    }
    if (nkept < sizeof kept / sizeof *kept)
        kept[nkept++] = s;
    return s;
}

/* Scrubs the values libpq parsed before they are freed (one of them may be a password). */
static void free_options(PQconninfoOption *opts)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val)
            explicit_bzero(o->val, strlen(o->val));
    PQconninfoFree(opts);
}

static size_t count_options(const PQconninfoOption *opts)
{
    size_t n = 0;
    while (opts[n].keyword)
        n++;
    return n;
}

static int find_key(const char *const *keys, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return (int)i;
    return -1;
}

char *cli_take_conninfo(char *arg)
{
    char *copy = keep_string(strdup(arg));
    if (!pgconn_is_conninfo(arg))
        return copy; /* a plain database name */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(arg, &perr);
    size_t len = strlen(arg);
    if (!opts) { /* cli_conn_build reports it; it may hold a password meanwhile */
        PQfreemem(perr);
        memset(arg, '*', len);
        return copy;
    }
    size_t n = count_options(opts);
    const char **keys = calloc(n + 1, sizeof *keys), **vals = calloc(n + 1, sizeof *vals);
    int has_password = 0;
    for (size_t i = 0; i < n; i++) {
        if (keys)
            keys[i] = opts[i].keyword;
        if (vals)
            vals[i] = opts[i].val;
        if (opts[i].val && *opts[i].val && strcmp(opts[i].keyword, "password") == 0)
            has_password = 1;
    }
    if (has_password) {
        char *shown = keys && vals ? pgconn_render(keys, vals, n, 1, 1) : NULL;
        size_t slen = shown ? strlen(shown) : 0;
        if (shown && slen <= len) {
            memcpy(arg, shown, slen);
            memset(arg + slen, ' ', len - slen);
        } else {
            memset(arg, '*', len);
        }
        free(shown);
    }
    free(keys);
    free(vals);
    free_options(opts);
    return copy;
}

int cli_conn_option(const char *cmd, cli_conn *cc, int c, const char *arg)
{
    switch (c) {
    case 'h':
        if (!*arg)
            return cli_usage_error(cmd, "%s", "-h needs a host name or socket directory");
        cc->host = arg;
        break;
    case 'p':
        /* a port, or a comma-separated list of them for several hosts, as libpq takes */
        if (!*arg || strspn(arg, "0123456789,") != strlen(arg))
            return cli_usage_error(cmd, "invalid -p value \"%s\": expected a port number", arg);
        cc->port = arg;
        break;
    case 'U':
        if (!*arg)
            return cli_usage_error(cmd, "%s", "-U needs a role name");
        cc->user = arg;
        break;
    case 'W': cc->prompt = 1; break;
    case 'w': cc->prompt = 0; break;
    }
    return 0;
}

int cli_conn_any(const cli_conn *cc)
{
    return cc->host || cc->port || cc->user || cc->prompt;
}

/* libpq's parse errors quote parts of the string ('missing "=" after "..."'), and those
 * may be pieces of a password: keep the message, drop the quoted parts. */
static void redact_quoted(const char *msg, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = msg;
    while (*p && *p != '\n' && o + 8 < outlen) {
        const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (end) {
            size_t q = (size_t)(end - p - 1);
            if (q <= 1) { /* a quoted character ("=") says what is wrong and hides nothing */
                memcpy(out + o, p, q + 2);
                o += q + 2;
            } else {
                memcpy(out + o, "\"...\"", 5);
                o += 5;
            }
            p = end + 1;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}

static volatile sig_atomic_t prompt_signal;

static void on_prompt_signal(int sig)
{
    prompt_signal = sig;
}

/* Asks for the password on /dev/tty with echo off, as psql's simple_prompt does; never
 * from stdin (that may be a pipe of data) and never echoed. "Password: ", or "Password
 * for --source: " when a long option names the connection (copy's --source and --target,
 * drill's --target). Returns 0 and *out (malloc'd), or an exit code after printing why. */
static int read_password(const char *cmd, const char *conn_opt, char **out)
{
    *out = NULL;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pgferry %s: -W: cannot open /dev/tty to ask for the password (%s): "
                        "use PGPASSWORD or ~/.pgpass without a terminal\n",
                cmd, strerror(errno));
        return 1;
    }
    /* Ctrl-C at the prompt must give the terminal its echo back: the handlers only note
     * the signal (no SA_RESTART, so read() returns) and the terminal is restored below. */
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_signal;
    sigemptyset(&sa.sa_mask);
    prompt_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    struct termios saved, quiet;
    int have_tio = tcgetattr(fd, &saved) == 0;
    if (have_tio) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    char prompt[64] = "Password: ";
    if (conn_opt && strncmp(conn_opt, "--", 2) == 0)
        snprintf(prompt, sizeof prompt, "Password for %s: ", conn_opt);
    ssize_t w = write(fd, prompt, strlen(prompt));
    (void)w;
    char buf[1024];
    size_t len = 0;
    int done = 0, failed = 0;
    while (!done && !prompt_signal) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            failed = errno;
            break;
        }
        if (r == 0 || c == '\n') /* end of input ends the password, as in psql */
            done = 1;
        else if (len + 1 < sizeof buf) /* longer input is cut, as psql cuts it */
            buf[len++] = c;
    }
    buf[len] = '\0';
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    if (have_tio)
        tcsetattr(fd, TCSAFLUSH, &saved);
    w = write(fd, "\n", 1);
    (void)w;
    close(fd);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    if (prompt_signal || failed) {
        explicit_bzero(buf, sizeof buf);
        if (prompt_signal) {
            fprintf(stderr, "pgferry %s: interrupted at the password prompt\n", cmd);
            return EXIT_INTERRUPTED;
        }
        fprintf(stderr, "pgferry %s: -W: cannot read the password from /dev/tty: %s\n", cmd, strerror(failed));
        return 1;
    }
    *out = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    if (!*out) {
        fprintf(stderr, "pgferry %s: out of memory\n", cmd);
        return 1;
    }
    return 0;
}

int cli_conn_build(const char *cmd, const cli_conn *cc, int need_db, char **out)
{
    *out = NULL;
    const char *src = cc->conninfo && *cc->conninfo ? cc->conninfo : NULL;
    const char *what = cc->conn_opt ? cc->conn_opt : "-d";
    int is_conninfo = src && pgconn_is_conninfo(src);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(is_conninfo ? src : "", &perr);
    if (!opts) {
        char line[PF_ERRLEN], msg[PF_ERRLEN + 64];
        redact_quoted(perr ? perr : "out of memory", line, sizeof line);
        PQfreemem(perr);
        snprintf(msg, sizeof msg, "%s is not a valid connection string: %s", what, line);
        return cli_usage_error(cmd, "%s", msg);
    }
    size_t n = count_options(opts);
    const char **keys = calloc(n + 1, sizeof *keys), **vals = calloc(n + 1, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        free_options(opts);
        fprintf(stderr, "pgferry %s: out of memory\n", cmd);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = opts[i].keyword;
        /* an empty value says nothing: libpq treats it as unset too */
        vals[i] = opts[i].val && *opts[i].val ? opts[i].val : NULL;
    }
    int k_db = find_key(keys, n, "dbname"), k_service = find_key(keys, n, "service");
    int k_pw = find_key(keys, n, "password");
    if (src && !is_conninfo && k_db >= 0)
        vals[k_db] = src; /* a plain database name */

    int rc = 0;
    char *password = NULL;
    if (need_db && !(k_db >= 0 && vals[k_db]) && !(k_service >= 0 && vals[k_service])) {
        char msg[512];
        if (!src)
            snprintf(msg, sizeof msg, "missing %s: name the target database (%s NAME, a key=value string with "
                                      "dbname=NAME, or a URI); PGDATABASE does not count", what, what);
        else
            snprintf(msg, sizeof msg, "%s names no database: add dbname=NAME (or a URI path /NAME); "
                                      "PGDATABASE does not count", what);
        rc = cli_usage_error(cmd, "%s", msg);
        goto done;
    }
    /* pg_dump passes host, port, user and password before the expanded dbname string, so
     * what that string sets wins: do the same, and say so when they differ */
    const struct { const char *key, *val, *opt; } fill[] = {
        {"host", cc->host, "-h"}, {"port", cc->port, "-p"}, {"user", cc->user, "-U"}};
    for (size_t f = 0; f < sizeof fill / sizeof *fill; f++) {
        int k = find_key(keys, n, fill[f].key);
        if (!fill[f].val || k < 0)
            continue;
        if (!vals[k])
            vals[k] = fill[f].val;
        else if (strcmp(vals[k], fill[f].val) != 0)
            fprintf(stderr, "pgferry %s: warning: %s is ignored: %s sets %s (as in pg_dump)\n", cmd,
                    fill[f].opt, what, fill[f].key);
    }
    if (cc->prompt && k_pw >= 0 && !vals[k_pw]) {
        rc = read_password(cmd, cc->conn_opt, &password);
        if (rc != 0)
            goto done;
        vals[k_pw] = password;
    }
    *out = keep_string(pgconn_render(keys, vals, n, 0, 0));
done:
    cli_forget(password);
    free(keys);
    free(vals);
    free_options(opts);
    return rc;
}

