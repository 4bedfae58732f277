/* pgferry: command-line entry. Parses options, runs one command, maps errors to exit
 * codes: 0 success, 1 failure, 2 usage error, 130 interrupted. */
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

static const char *const main_help =
    "pgferry " PGFERRY_VERSION " - fast, verifiable PostgreSQL backups\n"
    "\n"
    "Usage: pgferry COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  dump      parallel consistent dump of a database into a directory\n"
    "  restore   parallel verified restore of a dump\n"
    "  copy      database to database in one pass, verified, resumable\n"
    "  verify    prove a dump is whole (offline: every file, chunk, hash and row count)\n"
    "  list      show what a dump holds\n"
    "  drill     timed restore drill into a scratch database\n"
    "  diff      compare tables with a backup by key; SQL that puts lost rows back\n"
    "  prune     apply a retention policy to a backup repository\n"
    "  status    alert on stale or failed backups (monitoring check)\n"
    "  cat       decode one chunk file to standard output (COPY data)\n"
    "\n"
    "Run 'pgferry COMMAND --help' (or -?) for a command's options. dump, restore, verify,\n"
    "drill and diff connect as pg_dump does: -h HOST, -p PORT, -U USER, -w, -W and a\n"
    "database name or connection string (dump: -d or the last argument; restore and diff:\n"
    "-d; verify: --db; drill: --target). restore, verify, drill, diff, list and cat read a\n"
    "backup from a directory or from a repository: --repo REPO --as-of TIME | --backup NAME.\n"
    "\n"
    "Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.\n"
    "Environment: PGFERRY_IO=uring|plain|auto selects the file writer (default auto: io_uring\n"
    "where the kernel allows it, plain writes otherwise); PGFERRY_PG_BINDIR names the directory\n"
    "of pg_dump/pg_restore; PG* variables, .pgpass and service files work as in libpq.\n";

static int run_command(const char *cmd, int argc, char **argv)
{
    if (strcmp(cmd, "dump") == 0)
        return cmd_dump(argc, argv);
    if (strcmp(cmd, "drill") == 0)
        return cmd_drill(argc, argv);
    if (strcmp(cmd, "restore") == 0)
        return cmd_restore(argc, argv);
    if (strcmp(cmd, "copy") == 0)
        return cmd_copy(argc, argv);
    if (strcmp(cmd, "cat") == 0)
        return cmd_cat(argc, argv);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc, argv);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc, argv);
    if (strcmp(cmd, "diff") == 0)
        return cmd_diff(argc, argv);
    if (strcmp(cmd, "prune") == 0)
        return cmd_prune(argc, argv);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(argc, argv);
    if (cmd[0] == '-')
        fprintf(stderr, "pgferry: unknown option %s (try 'pgferry --help')\n", cmd);
    else
        fprintf(stderr, "pgferry: unknown command \"%s\" (try 'pgferry --help')\n", cmd);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-?") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_help, stdout);
        return 0;
    }
    if (strcmp(cmd, "-h") == 0) { /* -h is the host, as in pg_dump */
        fprintf(stderr, "pgferry: unknown option -h: help is --help or -? (try 'pgferry --help')\n");
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("pgferry %s\n", PGFERRY_VERSION);
        return 0;
    }
    cli_json_begin(cmd, argc - 1, argv + 1);
    return cli_json_end(run_command(cmd, argc - 1, argv + 1));
}
