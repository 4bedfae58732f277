/* pgferry: command-line entry. Parses options, runs one command, maps errors to exit
 * codes: 0 success, 1 failure, 2 usage error, 130 interrupted. */
#include "tools/cli.h"
#include "tools/cli_log.h"

#include <stdio.h>
#include <string.h>

/* What runs each command of tools/cli_spec.c. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {{"dump", cmd_dump},     {"restore", cmd_restore}, {"copy", cmd_copy},
                {"verify", cmd_verify}, {"list", cmd_list},       {"drill", cmd_drill},
                {"diff", cmd_diff},     {"prune", cmd_prune},     {"status", cmd_status},
                {"cat", cmd_cat}};

/* pgferry help [COMMAND] */
static int help_command(int argc, char **argv)
{
    if (argc < 3)
        return cli_help(NULL);
    if (argc > 3) {
        fprintf(stderr, "pgferry help: unexpected argument \"%s\" (try 'pgferry help')\n", argv[3]);
        return EXIT_USAGE;
    }
    if (!cli_find_command(argv[2])) {
        fprintf(stderr, "pgferry help: unknown command \"%s\" (try 'pgferry help')\n", argv[2]);
        return EXIT_USAGE;
    }
    return cli_help(argv[2]);
}

static int run_command(const char *cmd, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc, argv);
    if (cmd[0] == '-')
        fprintf(stderr, "pgferry: unknown option %s (try 'pgferry --help')\n", cmd);
    else
        fprintf(stderr, "pgferry: unknown command \"%s\" (try 'pgferry --help')\n", cmd);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_spec_help(&cli_main_cmd, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-?") == 0)
        return cli_help(NULL);
    if (strcmp(cmd, "help") == 0)
        return help_command(argc, argv);
    if (strcmp(cmd, "-h") == 0) { /* -h is the host, as in pg_dump */
        fprintf(stderr, "pgferry: unknown option -h: help is --help or -? (try 'pgferry --help')\n");
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("pgferry %s\n", PGFERRY_VERSION);
        return 0;
    }
    cli_json_begin(cmd, argc - 1, argv + 1);
    int rc = run_command(cmd, argc - 1, argv + 1);
    cli_log_close();
    return cli_json_end(rc);
}
