/* pgferry_gen: writes the man pages and the bash completion from the command descriptions
 * (tools/cli_spec.c), at build time:
 *   pgferry_gen man OUTDIR      OUTDIR/pgferry.1 and OUTDIR/pgferry-<command>.1
 *   pgferry_gen bash FILE       the bash completion */
#include "tools/cli_spec.h"

#include <stdio.h>
#include <string.h>

static int write_page(const char *dir, const cli_cmd *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pgferry%s%s.1", dir, c->name ? "-" : "", c->name ? c->name : "");
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    cli_spec_man(c, f);
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

static int write_man(const char *dir)
{
    int rc = write_page(dir, &cli_main_cmd);
    for (size_t i = 0; cli_commands[i] && rc == 0; i++)
        rc = write_page(dir, cli_commands[i]);
    return rc;
}

static int write_bash(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    cli_spec_bash_completion(f);
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "man") == 0)
        return write_man(argv[2]);
    if (argc == 3 && strcmp(argv[1], "bash") == 0)
        return write_bash(argv[2]);
    fprintf(stderr, "usage: pgferry_gen man OUTDIR | pgferry_gen bash FILE\n");
    return 2;
}
