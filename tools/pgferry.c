/* pgferry: command-line entry. Parses options, runs one command, maps errors to exit
 * codes: 0 success, 1 failure, 2 usage error, 130 interrupted. */
#include "tools/cli.h"

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
    "  prune     apply a retention policy to a backup repository  (not built yet)\n"
    "  status    alert on stale or failed backups                 (not built yet)\n"
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

int cli_push(const char ***arr, size_t *n, const char *v)
{
    const char **a = realloc(*arr, (*n + 1) * sizeof(char *));
    if (!a)
        return -1;
    a[(*n)++] = v;
    *arr = a;
    return 0;
}

/* ---- commands not built yet ------------------------------------------------------------ */

static int cmd_unbuilt(const char *name, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("Usage: pgferry %s ...\n\nThis command is not built yet.\n", name);
        return 0;
    }
    fprintf(stderr, "pgferry %s: this command is not built yet\n", name);
    return EXIT_USAGE;
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
    static const char *const unbuilt[] = {"prune", "status"};
    for (size_t i = 0; i < sizeof unbuilt / sizeof *unbuilt; i++)
        if (strcmp(cmd, unbuilt[i]) == 0)
            return cmd_unbuilt(cmd, argc - 1, argv + 1);
    if (cmd[0] == '-')
        fprintf(stderr, "pgferry: unknown option %s (try 'pgferry --help')\n", cmd);
    else
        fprintf(stderr, "pgferry: unknown command \"%s\" (try 'pgferry --help')\n", cmd);
    return EXIT_USAGE;
}
