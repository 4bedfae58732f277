/* cli_spec: the one description of pgferry's commands and their options. From it come
 * each command's getopt_long tables (cli_getopt), its --help (cli_spec_help), and, at build
 * time, the man pages and the bash completion (tools/gen/pgferry_gen.c), so the four
 * cannot drift apart. Pure data and libc: the generator links this file and cli_spec_fmt.c
 * only.
 *
 * Text conventions, shared by --help and the man pages: an option's help and an
 * environment variable's meaning are lines separated by "\n", shown beside and under the
 * option in --help and joined into one paragraph in a man page; prose (description, a
 * section's intro and outro) is written as --help prints it, a blank line between
 * paragraphs, and a line that starts with two spaces is kept as it is (an example, a
 * table) where a man page would fill the text. */
#ifndef PF_CLI_SPEC_H
#define PF_CLI_SPEC_H

#include <stdio.h>

/* What getopt returns for the long options without a short letter (short options return
 * their letter). Shared by every command that has the option. */
enum {
    OPT_JSON = 256, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_PASSPHRASE_FILE, OPT_REPO, OPT_AS_OF, OPT_BACKUP,
    OPT_DB, OPT_TARGET, OPT_TRACE, OPT_REPORT, OPT_KEEP, OPT_PROFILE, OPT_GLOBALS, OPT_QUIET, OPT_LOG_FILE,
    /* dump */
    OPT_COMPRESS, OPT_FORMAT, OPT_LAYOUT, OPT_CHUNK_SIZE, OPT_ENCRYPT, OPT_TAG, OPT_KEEP_FOREVER,
    OPT_EXCLUDE_TABLE_DATA, OPT_NO_UNLOGGED_TABLE_DATA, OPT_LOCK_WAIT_TIMEOUT,
    /* restore */
    OPT_CREATE, OPT_CLEAN, OPT_SCHEMA_ONLY, OPT_DATA_ONLY, OPT_RENAME_TABLE, OPT_INTO_SCHEMA, OPT_RESUME,
    OPT_NO_OWNER, OPT_NO_ACL, OPT_NO_ANALYZE, OPT_SECTION, OPT_DISABLE_TRIGGERS, OPT_KEEP_GRANTS,
    OPT_MAINTENANCE_MEMORY,
    /* copy */
    OPT_SOURCE, OPT_KEEP_DUMP,
    /* verify */
    OPT_REQUIRE_TABLE,
    /* diff */
    OPT_KEY, OPT_CASCADE, OPT_SQL, OPT_ONLY, OPT_WORK_MEM,
    /* prune */
    OPT_KEEP_LAST, OPT_KEEP_DAILY, OPT_KEEP_WEEKLY, OPT_KEEP_MONTHLY, OPT_KEEP_YEARLY, OPT_KEEP_WITHIN,
    OPT_DRY_RUN,
    /* status */
    OPT_MAX_AGE, OPT_WARN_AGE, OPT_REQUIRE_VERIFIED, OPT_MAX_DRILL_AGE, OPT_MAX_RTO,
    OPT_HELP = 1000 /* --help and -? (-h is the host, as in pg_dump) */
};

/* How the bash completion completes an option's value or a command's arguments. */
#define CLI_COMPLETE_FILE "@file"
#define CLI_COMPLETE_DIR "@dir"

typedef struct {
    const char *name;     /* long name; NULL ends a command's array */
    char short_opt;       /* its letter, or 0 (-? for --help is shown, not given to getopt) */
    int id;               /* what cli_getopt returns: short_opt, or an OPT_* value */
    const char *arg;      /* the value's name ("DIR", "N"), or NULL for a flag */
    const char *help;     /* lines, see above */
    int section;          /* index into cli_cmd.sections */
    const char *complete; /* the value's completion: CLI_COMPLETE_*, words, or NULL (none) */
} cli_opt;

typedef struct {
    const char *title; /* heading ("Connection options (as pg_dump)"), NULL for the first */
    const char *intro, *outro; /* prose before and after its options, or NULL */
} cli_section;

typedef struct {
    const char *key;  /* an exit code ("0") or a variable's name */
    const char *text; /* lines, see above */
} cli_item;

typedef struct {
    const char *what;    /* what it does, one line */
    const char *command; /* the command line */
} cli_example;

#define CLI_MAX_SECTIONS 4
#define CLI_MAX_ITEMS 8

typedef struct {
    const char *name;        /* "dump" */
    const char *summary;     /* one line, for 'pgferry help' and the man page's NAME */
    const char *usage;       /* synopsis lines after "pgferry NAME" ("\n" between; a line
                                starting with two spaces continues the one before) */
    const char *description; /* prose */
    cli_section sections[CLI_MAX_SECTIONS];
    const cli_opt *opts;
    cli_item exit_codes[CLI_MAX_ITEMS];
    const char *exit_note;   /* prose after the exit codes, or NULL */
    cli_item environment[CLI_MAX_ITEMS];
    cli_example examples[CLI_MAX_ITEMS];
    const char *args;        /* completion of the arguments that are not options */
} cli_cmd;

/* The commands, in the order 'pgferry help' lists them; NULL ends. */
extern const cli_cmd *const cli_commands[];
/* pgferry itself: its description, exit codes and environment (opts: none). */
extern const cli_cmd cli_main_cmd;
/* The command named name, or NULL. */
const cli_cmd *cli_find_command(const char *name);
/* c's option whose getopt value is id, or NULL. */
const cli_opt *cli_find_option(const cli_cmd *c, int id);

/* ---- cli_spec_fmt.c ---- */
/* Writes a command's --help (pgferry's own for &cli_main_cmd). */
void cli_spec_help(const cli_cmd *c, FILE *out);
/* Writes a command's man page (roff, man(7) macros; pgferry(1) for &cli_main_cmd). */
void cli_spec_man(const cli_cmd *c, FILE *out);
/* Writes the bash completion of every command. */
void cli_spec_bash_completion(FILE *out);

#endif
