/* cli_json: the one JSON contract of every command's --json (see cli.h and the README's
 * "JSON output"). main() calls cli_json_begin() before the command and cli_json_end()
 * with its exit code after it; a command hands its own fields to cli_json_print(). The
 * object is printed once, at the end, when the exit code is known: the common fields
 * first (contract, ok, command, version, started, seconds, exit, error), then the
 * command's own. A command that fails through a path that only writes its one-line error
 * on stderr still prints an object: stderr goes through a tee that remembers the last
 * "pgferry CMD: ..." line, which becomes "error". */
#include "tools/cli.h"

#include "common/pf_util.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    int on;                 /* --json was given */
    const char *cmd;
    double t0;
    char started[32];
    json_t *own;            /* the command's fields, or NULL */
    char *error;            /* what failed (first usage error or cli_fail), or NULL */
    char line[1024];        /* the stderr line being written */
    size_t len;
    char last[1024];        /* the last finished "pgferry ...:" line on stderr */
} J;

/* ---- the stderr tee ------------------------------------------------------------------- */

static void tee_line_done(void)
{
    J.line[J.len] = '\0';
    if (strncmp(J.line, "pgferry", 7) == 0 && (J.line[7] == ' ' || J.line[7] == ':') &&
        !strstr(J.line, ": warning: "))
        snprintf(J.last, sizeof J.last, "%s", J.line);
    J.len = 0;
}

static ssize_t tee_write(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n')
            tee_line_done();
        else if (buf[i] == '\r') /* a progress line being redrawn */
            J.len = 0;
        else if (J.len + 1 < sizeof J.line)
            J.line[J.len++] = buf[i];
    }
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(STDERR_FILENO, buf + done, size - done);
        if (w <= 0)
            return done ? (ssize_t)done : -1;
        done += (size_t)w;
    }
    return (ssize_t)size;
}

static void tee_stderr(void)
{
    cookie_io_functions_t io = {.read = NULL, .write = tee_write, .seek = NULL, .close = NULL};
    FILE *f = fopencookie(NULL, "w", io);
    if (!f)
        return; /* errors then come from cli_fail and usage errors only */
    setvbuf(f, NULL, _IONBF, 0);
    stderr = f;
}

/* "pgferry CMD: message" -> "message" */
static const char *strip_prefix(const char *line)
{
    const char *p = strstr(line, ": ");
    return strncmp(line, "pgferry", 7) == 0 && p ? p + 2 : line;
}

/* ---- the contract --------------------------------------------------------------------- */

void cli_json_begin(const char *cmd, int argc, char **argv)
{
    J.cmd = cmd;
    J.t0 = pf_now();
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(J.started, sizeof J.started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            J.on = 1;
    if (J.on)
        tee_stderr();
}

int cli_json_on(void)
{
    return J.on;
}

void cli_json_print(json_t *o)
{
    if (!J.on || !o) {
        json_decref(o);
        return;
    }
    if (!J.own) {
        J.own = o;
        return;
    }
    json_object_update(J.own, o); /* a second part: its keys win */
    json_decref(o);
}

void cli_json_error(const char *err)
{
    if (J.on && !J.error)
        J.error = strdup(err);
}

/* The common fields, in the contract's order. */
static json_t *common_fields(int rc)
{
    json_t *o = json_object();
    json_object_set_new(o, "contract", json_string(CLI_JSON_CONTRACT));
    json_object_set_new(o, "ok", json_boolean(rc == 0));
    json_object_set_new(o, "command", json_string(J.cmd));
    json_object_set_new(o, "version", json_string(PGFERRY_VERSION));
    json_object_set_new(o, "started", json_string(J.started));
    double s = pf_now() - J.t0;
    json_object_set_new(o, "seconds", json_real(s < 0 ? 0 : floor(s * 1000.0 + 0.5) / 1000.0));
    json_object_set_new(o, "exit", json_integer(rc));
    return o;
}

/* The error of a failed command: its own "error", else the first one reported, else its
 * last line on stderr. */
static void put_error(json_t *o, int rc)
{
    json_t *own = J.own ? json_object_get(J.own, "error") : NULL;
    if (own && json_is_string(own) && *json_string_value(own))
        json_object_set(o, "error", own);
    else if (J.error)
        json_object_set_new(o, "error", json_string(J.error));
    else if (rc != 0 && J.last[0])
        json_object_set_new(o, "error", json_string(strip_prefix(J.last)));
    else if (rc != 0)
        json_object_set_new(o, "error", json_string(rc == EXIT_INTERRUPTED ? "interrupted" : "failed"));
}

int cli_json_end(int rc)
{
    if (!J.on)
        return rc;
    if (!J.own && rc == 0 && !J.error) /* --help or -? with --json: the help was the output */
        return rc;
    json_t *o = common_fields(rc);
    put_error(o, rc);
    const char *k;
    json_t *v;
    json_object_foreach(J.own, k, v)
        if (!json_object_get(o, k)) /* the common fields win: "ok", "seconds" mean one thing */
            json_object_set(o, k, v);
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(o);
    json_decref(J.own);
    free(J.error);
    J.own = NULL;
    J.error = NULL;
    return rc;
}

json_t *cli_json_path(const char *path)
{
    if (!path)
        return json_null();
    if (path[0] == '/' || strstr(path, "://") || strcmp(path, "-") == 0)
        return json_string(path);
    char buf[PATH_MAX];
    if (realpath(path, buf))
        return json_string(buf);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return json_string(path);
    const char *p = path;
    while (strncmp(p, "./", 2) == 0)
        p += 2;
    json_t *s = json_sprintf("%s/%s", cwd, p);
    return s ? s : json_string(path);
}
