/* pgferry: command-line entry. Parses options, runs one command, maps errors to exit
 * codes: 0 success, 1 failure, 2 usage error, 130 interrupted. */
#include "tools/cli.h"

#include "common/pf_util.h"
#include "io/pf_io.h"

#include <jansson.h>
#include <sys/stat.h>

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

static const char *const main_help =
    "pgferry " PGFERRY_VERSION " - fast, verifiable PostgreSQL backups\n"
    "\n"
    "Usage: pgferry COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  dump      parallel consistent dump of a database into a directory\n"
    "  restore   parallel verified restore of a dump\n"
    "  verify    prove a dump is whole (offline: every file, chunk, hash and row count)\n"
    "  list      show what a dump holds\n"
    "  drill     timed restore drill into a scratch database\n"
    "  prune     apply a retention policy to a backup repository\n"
    "  status    alert on stale or failed backups (monitoring check)\n"
    "  cat       decode one chunk file to standard output (COPY data)\n"
    "\n"
    "Run 'pgferry COMMAND --help' for a command's options.\n"
    "\n"
    "Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.\n"
    "Environment: PGFERRY_IO=uring|plain|auto selects the file writer (default auto: io_uring\n"
    "where the kernel allows it, plain writes otherwise); PGFERRY_PG_BINDIR names the directory\n"
    "of pg_dump/pg_restore; PG* variables, .pgpass and service files work as in libpq.\n";

int cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "pgferry %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try 'pgferry %s --help')\n", cmd);
    return EXIT_USAGE;
}

int cli_fail(const char *cmd, int json, const char *err)
{
    fprintf(stderr, "pgferry %s: %s\n", cmd, err);
    if (json) {
        json_t *j = json_pack("{s:b, s:s}", "ok", 0, "error", err);
        json_dumpf(j, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(j);
    }
    return cli_interrupted ? EXIT_INTERRUPTED : 1;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
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

char *cli_take_conninfo(char *arg)
{
    /* the copies live as long as the process (commands keep pointers into options) */
    static char *kept[8];
    static size_t nkept;
    char *copy = strdup(arg);
    if (nkept < sizeof kept / sizeof *kept)
        kept[nkept++] = copy;
    /* key=value form: password=secret or password='se cret' */
    for (char *p = strstr(arg, "password"); p; p = strstr(p + 1, "password")) {
        char *q = p + 8;
        while (*q == ' ')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ')
            q++;
        if (*q == '\'') {
            for (q++; *q && *q != '\''; q++)
                *q = '*';
        } else
            for (; *q && *q != ' '; q++)
                *q = '*';
    }
    /* URI form: postgresql://user:secret@host */
    char *scheme = strstr(arg, "://");
    if (scheme) {
        char *at = strchr(scheme + 3, '@'), *colon = strchr(scheme + 3, ':');
        if (at && colon && colon < at)
            for (char *q = colon + 1; q < at; q++)
                *q = '*';
        /* ?password=secret in the query string is covered by the key=value loop */
    }
    return copy;
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_help, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("pgferry %s\n", PGFERRY_VERSION);
        return 0;
    }
    if (strcmp(cmd, "dump") == 0)
        return cmd_dump(argc - 1, argv + 1);
    if (strcmp(cmd, "drill") == 0)
        return cmd_drill(argc - 1, argv + 1);
    if (strcmp(cmd, "restore") == 0)
        return cmd_restore(argc - 1, argv + 1);
    if (strcmp(cmd, "cat") == 0)
        return cmd_cat(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "prune") == 0)
        return cmd_prune(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    if (cmd[0] == '-')
        fprintf(stderr, "pgferry: unknown option %s (try 'pgferry --help')\n", cmd);
    else
        fprintf(stderr, "pgferry: unknown command \"%s\" (try 'pgferry --help')\n", cmd);
    return EXIT_USAGE;
}
