/* cli_log: progress, notices, job lines and errors on stderr and in --log-file (see
 * cli_log.h). */
#include "tools/cli_log.h"

#include "engine/dump.h"
#include "engine/restore.h"
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_INTERVAL_DEFAULT 5.0

static struct {
    const char *cmd;
    int tty;            /* stderr is a terminal */
    int progress;       /* on stderr: terminal by default, --progress, --no-progress */
    int progress_given; /* --progress or --no-progress was given */
    int verbose, quiet;
    const char *log_path;
    FILE *log;
    double interval;    /* seconds between plain progress lines */
    double last_plain;  /* when the last one was written (0: never) */
    int drawn;          /* a progress line is drawn on the terminal, unfinished */
    pthread_mutex_t mu;
} L = {.mu = PTHREAD_MUTEX_INITIALIZER};

void cli_log_init(const char *cmd)
{
    L.cmd = cmd;
    L.tty = isatty(2);
    L.progress = L.tty;
    L.interval = LOG_INTERVAL_DEFAULT;
    const char *iv = getenv("PGFERRY_PROGRESS_INTERVAL");
    char *end;
    double v = iv ? strtod(iv, &end) : 0;
    if (iv && *iv && !*end && v > 0)
        L.interval = v;
}

int cli_log_option(int c, const char *arg)
{
    switch (c) {
    case OPT_PROGRESS: L.progress = 1; L.progress_given = 1; return 1;
    case OPT_NO_PROGRESS: L.progress = 0; L.progress_given = 1; return 1;
    case 'v': L.verbose = 1; return 1;
    case OPT_QUIET: L.quiet = 1; return 1;
    case OPT_LOG_FILE: L.log_path = arg; return 1;
    default: return 0;
    }
}

int cli_log_open(void)
{
    if (L.quiet && L.progress_given && L.progress)
        return cli_usage_error(L.cmd, "%s", "--quiet and --progress exclude each other");
    if (L.quiet)
        L.progress = 0;
    if (!L.log_path)
        return CLI_RUN;
    int fd = *L.log_path ? open(L.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600) : -1;
    if (fd < 0 || !(L.log = fdopen(fd, "a"))) {
        char why[256];
        snprintf(why, sizeof why, "--log-file \"%s\": %s", L.log_path, *L.log_path ? strerror(errno) : "an empty file name");
        if (fd >= 0)
            close(fd);
        return cli_usage_error(L.cmd, "%s", why);
    }
    setvbuf(L.log, NULL, _IOLBF, 0);
    char ts[32];
    time_t now = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(L.log, "%s %s: started (pgferry %s, pid %d)\n", ts, L.cmd, PGFERRY_VERSION, (int)getpid());
    return CLI_RUN;
}

void cli_log_close(void)
{
    if (L.log)
        fclose(L.log);
    L.log = NULL;
}

int cli_log_wants_progress(void) { return L.progress || L.log; }
int cli_log_verbose(void) { return L.verbose; }
int cli_log_quiet(void) { return L.quiet; }

/* ---- writing lines (L.mu held) -------------------------------------------------------- */

static void stamp(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Ends the progress line drawn on the terminal, so that another line starts clean. */
static void undraw(void)
{
    if (L.drawn)
        fputs("\r\033[K", stderr);
    L.drawn = 0;
}

/* A line to stderr (when to_stderr; timestamped off a terminal) and to the log file. */
static void emit(const char *line, int to_stderr)
{
    char ts[32];
    stamp(ts, sizeof ts);
    if (to_stderr) {
        undraw();
        if (L.tty)
            fprintf(stderr, "%s\n", line);
        else
            fprintf(stderr, "%s %s\n", ts, line);
    }
    if (L.log)
        fprintf(L.log, "%s %s\n", ts, line);
}

/* A progress line: redrawn on a terminal every call; plain (stderr off a terminal, the log
 * file) every interval and at the end (state != 0). */
static void emit_progress(const char *line, int state)
{
    pthread_mutex_lock(&L.mu);
    double now = pf_now();
    int due = state != 0 || L.last_plain == 0 || now - L.last_plain >= L.interval;
    if (L.progress && L.tty) {
        fprintf(stderr, "\r\033[K%s%s", line, state != 0 ? "\n" : "");
        L.drawn = state == 0;
        fflush(stderr);
    }
    if (due) {
        char ts[32];
        stamp(ts, sizeof ts);
        if (L.progress && !L.tty)
            fprintf(stderr, "%s %s\n", ts, line);
        if (L.log)
            fprintf(L.log, "%s %s\n", ts, line);
        L.last_plain = now;
    }
    pthread_mutex_unlock(&L.mu);
}

/* ---- the engines' callbacks ------------------------------------------------------------ */

static void fmt_eta(double eta, int state, char *out, size_t outlen)
{
    if (state == 1)
        snprintf(out, outlen, "done");
    else if (state < 0)
        snprintf(out, outlen, "failed");
    else if (eta >= 0)
        snprintf(out, outlen, "%d:%02d", (int)eta / 60, (int)eta % 60);
    else
        snprintf(out, outlen, "--:--");
}

void cli_dump_progress(void *ctx, const dump_progress *p)
{
    (void)ctx;
    char a[32], b[32], rate[32], eta[32], line[512];
    fmt_eta(p->eta, p->state, eta, sizeof eta);
    pf_fmt_bytes(p->elapsed > 0 ? (uint64_t)((double)p->raw_bytes / p->elapsed) : 0, rate, sizeof rate);
    if (strcmp(p->what, "verify") == 0) /* nothing is stored */
        snprintf(line, sizeof line, "verify: chunks %llu/%llu  rows %llu  read %s  %s/s  ETA %s",
                 (unsigned long long)p->chunks_done, (unsigned long long)p->chunks, (unsigned long long)p->rows,
                 pf_fmt_bytes(p->raw_bytes, a, sizeof a), rate, eta);
    else
        snprintf(line, sizeof line, "dump: chunks %llu/%llu  rows %llu  raw %s  stored %s  %s/s  ETA %s",
                 (unsigned long long)p->chunks_done, (unsigned long long)p->chunks, (unsigned long long)p->rows,
                 pf_fmt_bytes(p->raw_bytes, a, sizeof a), pf_fmt_bytes(p->stored_bytes, b, sizeof b), rate, eta);
    emit_progress(line, p->state);
}

void cli_restore_progress(void *ctx, const restore_progress *p)
{
    (void)ctx;
    char a[32], rate[32], eta[32], line[512];
    fmt_eta(p->eta, p->state, eta, sizeof eta);
    pf_fmt_bytes(p->elapsed > 0 ? (uint64_t)((double)p->raw_bytes / p->elapsed) : 0, rate, sizeof rate);
    snprintf(line, sizeof line, "restore: chunks %llu/%llu  rows %llu  %s  %s/s  post-data %llu/%llu  ETA %s",
             (unsigned long long)p->chunks_done, (unsigned long long)p->chunks, (unsigned long long)p->rows,
             pf_fmt_bytes(p->raw_bytes, a, sizeof a), rate, (unsigned long long)p->post_done,
             (unsigned long long)p->post_total, eta);
    emit_progress(line, p->state);
}

void cli_notice(void *ctx, const char *line)
{
    (void)ctx;
    pthread_mutex_lock(&L.mu);
    if (!L.quiet) { /* as the engine wrote it: other tools read these lines */
        undraw();
        fprintf(stderr, "%s\n", line);
    }
    emit(line, 0);
    pthread_mutex_unlock(&L.mu);
}

void cli_log_job(void *ctx, const pf_job *j)
{
    (void)ctx;
    if (!L.verbose)
        return;
    char line[1200], b[32], figures[96] = "";
    if (j->rows || j->bytes || strcmp(j->kind, "chunk") == 0 || strcmp(j->kind, "load") == 0)
        snprintf(figures, sizeof figures, ", %llu rows, %s", (unsigned long long)j->rows,
                 pf_fmt_bytes(j->bytes, b, sizeof b));
    snprintf(line, sizeof line, "%s: %s %s: %.2f s%s", L.cmd, j->kind, j->name, j->seconds, figures);
    pthread_mutex_lock(&L.mu);
    emit(line, !L.quiet);
    pthread_mutex_unlock(&L.mu);
}

/* How a formatted line goes out (emit_line). */
enum { LINE_INFO, LINE_RECORD, LINE_ERROR };

static void emit_line(int kind, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void emit_line(int kind, const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    pthread_mutex_lock(&L.mu);
    if (kind == LINE_ERROR) {
        undraw();
        fprintf(stderr, "%s\n", line); /* errors keep their form: scripts match them */
    }
    emit(line, kind == LINE_INFO && L.progress);
    pthread_mutex_unlock(&L.mu);
}

void cli_log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_line(LINE_INFO, fmt, ap);
    va_end(ap);
}

void cli_log_record(const char *fmt, ...)
{
    if (!L.log)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit_line(LINE_RECORD, fmt, ap);
    va_end(ap);
}

void cli_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_line(LINE_ERROR, fmt, ap);
    va_end(ap);
}
