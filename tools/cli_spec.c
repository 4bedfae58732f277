/* cli_spec: every command and option of pgferry, described once (see cli_spec.h). */
#include "tools/cli_spec.h"

#include <string.h>

#define END {NULL, 0, 0, NULL, NULL, 0, NULL}
#define HELP_OPT {"help", '?', OPT_HELP, NULL, "this help", 0, NULL}

/* The connection options of every command that connects, as pg_dump spells them. */
#define CONN_OPTS(sec)                                                                          \
    {"host", 'h', 'h', "HOST", "server host name or socket directory", sec, NULL},              \
    {"port", 'p', 'p', "PORT", "server port", sec, NULL},                                       \
    {"username", 'U', 'U', "NAME", "role to connect as", sec, NULL},                            \
    {"no-password", 'w', 'w', NULL, "never ask for a password (the default without -W)", sec, NULL}, \
    {"password", 'W', 'W', NULL, "ask for the password on the terminal (/dev/tty, not echoed)\n" \
                                 "before connecting", sec, NULL}

/* How a command that reads one backup names it in a repository (tools/repo_cli.h). */
#define REPO_OPTS(sec, backup_extra)                                                            \
    {"repo", 0, OPT_REPO, "REPO", "read a backup of this repository ('pgferry dump --repo')\n"  \
                                  "instead of a directory; with one of:", sec, CLI_COMPLETE_DIR}, \
    {"as-of", 0, OPT_AS_OF, "TIME", "the newest complete backup taken at or before TIME (ISO 8601:\n" \
                                    "2026-11-27T03:00:00Z, an offset such as +01:00, or UTC when\n" \
                                    "none is given; 2026-11-27 is that day's midnight UTC)", sec, NULL}, \
    {"backup", 0, OPT_BACKUP, "NAME", "latest (the newest complete backup), a label\n"          \
                                      "(20261127T030000Z) or a tag (dump --tag; its newest backup)" \
                                      backup_extra, sec, NULL}

#define JOBS_OPT(what) {"jobs", 'j', 'j', "N", what " (default 2)", 0, NULL}
#define JSON_OPT(what) {"json", 0, OPT_JSON, NULL, what, 0, NULL}
/* Logging, for the commands that run long (tools/cli_log.h). */
#define LOG_OPTS                                                                                \
    {"progress", 0, OPT_PROGRESS, NULL, "show progress even when stderr is not a terminal: there, a\n" \
                                        "plain timestamped line every 5 s and one at the end", 0, NULL}, \
    {"no-progress", 0, OPT_NO_PROGRESS, NULL, "never show progress", 0, NULL},                 \
    {"verbose", 'v', 'v', NULL, "log each job as it finishes (chunk, index, constraint,\n"      \
                                "ANALYZE) with its seconds, rows and bytes, timestamped", 0, NULL}, \
    {"quiet", 0, OPT_QUIET, NULL, "print nothing but errors on stderr (with -v: the jobs go to\n" \
                                  "--log-file only)", 0, NULL},                        \
    {"log-file", 0, OPT_LOG_FILE, "FILE", "also append plain timestamped lines to FILE (progress,\n" \
                                          "jobs with -v, warnings, errors, the summary), terminal\n" \
                                          "or not, --quiet or not", 0, CLI_COMPLETE_FILE}
#define ENV_INTERVAL {"PGFERRY_PROGRESS_INTERVAL", "seconds between the plain progress lines (default 5)"}
#define PASSFILE_OPT                                                                            \
    {"passphrase-file", 0, OPT_PASSPHRASE_FILE, "FILE",                                         \
     "passphrase of an encrypted dump (else PGFERRY_PASSPHRASE)", 0, CLI_COMPLETE_FILE}

#define ENV_PASSPHRASE {"PGFERRY_PASSPHRASE", "the passphrase of an encrypted dump when --passphrase-file\n" \
                                              "is not given (removed from the environment once read)"}
#define ENV_PG {"PGHOST, PGPORT, PGUSER, ...", "libpq's variables, ~/.pgpass and service files apply to\n" \
                                               "what the connection options leave unset"}
#define ENV_IO {"PGFERRY_IO", "uring, plain or auto (default): how files are written\n" \
                               "(auto: io_uring where the kernel allows it)"}
#define ENV_NOW {"PGFERRY_NOW", "unix seconds or a UTC time that replaces the clock, for tests"}

#define EXIT_USAGE_ITEM {"2", "usage error"}
#define EXIT_INT_ITEM {"130", "interrupted"}

/* ---- dump ---------------------------------------------------------------------------- */

static const cli_opt dump_opts[] = {
    {"file", 'f', 'f', "DIR", "output directory: must not exist or be empty (created 0700)", 0, CLI_COMPLETE_DIR},
    {"repo", 0, OPT_REPO, "REPO", "instead of -f: a new backup in REPO/<UTC start time>/, e.g.\n"
                                  "REPO/20261127T030000Z (REPO created 0700 if missing; see\n"
                                  "'pgferry list --repo', 'pgferry prune', 'pgferry status').\n"
                                  "DIR and REPO may be s3://BUCKET/PREFIX (S3 and compatible\n"
                                  "stores; credentials, region and endpoint from the AWS_*\n"
                                  "variables and ~/.aws, as the AWS CLI reads them)", 0, CLI_COMPLETE_DIR},
    {"tag", 0, OPT_TAG, "NAME", "record NAME in the manifest (e.g. pre-migration-2026-11-27)", 0, NULL},
    {"keep-forever", 0, OPT_KEEP_FOREVER, NULL, "mark the backup so that 'pgferry prune' never removes it", 0, NULL},
    JOBS_OPT("parallel workers"),
    {"table", 't', 't', "PATTERN", "dump only matching tables (repeatable; pg_dump patterns)", 0, NULL},
    {"exclude-table", 'T', 'T', "PATTERN", "leave matching tables out (repeatable)", 0, NULL},
    {"schema", 'n', 'n', "PATTERN", "dump only matching schemas (repeatable)", 0, NULL},
    {"exclude-schema", 'N', 'N', "PATTERN", "leave matching schemas out (repeatable)", 0, NULL},
    {"exclude-table-data", 0, OPT_EXCLUDE_TABLE_DATA, "PATTERN", "dump the definition of matching tables but not\n"
                                                                 "their rows (repeatable, as pg_dump)", 0, NULL},
    {"no-unlogged-table-data", 0, OPT_NO_UNLOGGED_TABLE_DATA, NULL, "do not dump the rows of unlogged tables", 0, NULL},
    {"lock-wait-timeout", 0, OPT_LOCK_WAIT_TIMEOUT, "TIMEOUT", "fail instead of waiting longer than TIMEOUT for a\n"
                                                               "table lock: milliseconds, or a duration such as 30s, 500ms,\n"
                                                               "2min (as pg_dump; default: wait)", 0, NULL},
    {"compress", 0, OPT_COMPRESS, "zstd[:LEVEL]|none", "chunk compression (default zstd:1)", 0, "zstd zstd:1 zstd:3 zstd:9 none"},
    {"format", 0, OPT_FORMAT, "binary|text", "COPY format (default binary; tables with types whose binary\n"
                                             "form is not portable use text anyway, recorded per table)", 0, "binary text"},
    {"layout", 0, OPT_LAYOUT, "columns|rows", "how binary rows are laid out before zstd: columns (default:\n"
                                              "each block of rows stored column by column, smaller) or rows\n"
                                              "(as COPY sends them; what dumps made before the column layout hold)", 0, "columns rows"},
    {"chunk-size", 0, OPT_CHUNK_SIZE, "SIZE", "target chunk size, e.g. 64MB (kB, MB, GB; default 64MB)", 0, NULL},
    LOG_OPTS,
    JSON_OPT("print a JSON summary on stdout"),
    {"encrypt", 0, OPT_ENCRYPT, NULL, "encrypt every file (AES-256-GCM, a random key per dump,\n"
                                      "wrapped with a key derived from the passphrase by scrypt)", 0, NULL},
    {"passphrase-file", 0, OPT_PASSPHRASE_FILE, "FILE", "the passphrase (else PGFERRY_PASSPHRASE); never on the\n"
                                                        "command line", 0, CLI_COMPLETE_FILE},
    {"profile", 0, OPT_PROFILE, "NAME|FILE", "a managed platform's profile (built in: supabase): the\n"
                                             "platform's own rows and the tables it keeps from the user are\n"
                                             "left out; the user's rows in its schemas (auth, storage) and\n"
                                             "everything the user made are dumped", 0, "supabase"},
    {"globals", 0, OPT_GLOBALS, NULL, "also store the roles the dump refers to (attributes without\n"
                                      "passwords, memberships, settings) and its tablespaces, for\n"
                                      "restore --globals", 0, NULL},
    HELP_OPT,
    {"dbname", 'd', 'd', "CONNINFO", "the database to dump: a name, a key=value string or a URI\n"
                                     "(postgresql://user@host:port/name); or give it as DBNAME,\n"
                                     "the last argument (not both). Without either, PGDATABASE or\n"
                                     "libpq's default, as pg_dump", 1, NULL},
    CONN_OPTS(1),
    END};

static const cli_cmd dump_cmd = {
    .name = "dump",
    .summary = "parallel consistent dump of a database into a directory",
    .usage = "[OPTIONS] (-f DIR | --repo REPO) [DBNAME]",
    .description = "Dumps a database into DIR from one snapshot, with N workers reading chunks of tables in\n"
                   "parallel. Each chunk is compressed and checksummed; the schema comes from\n"
                   "pg_dump --schema-only in the same snapshot; manifest.json is written last.",
    .sections = {{NULL, NULL, NULL},
                 {"Connection options (as pg_dump)", NULL,
                  "Host, port and user written in the connection string win over -h, -p and -U (as in\n"
                  "pg_dump, with a warning when they differ); both win over the PG* variables. A password\n"
                  "in the connection string is blanked out of pgferry's command line when it starts and\n"
                  "reaches pg_dump only through its environment; -W, PGPASSWORD or ~/.pgpass keep it off\n"
                  "the command line entirely.\n"
                  "\n"
                  "An include pattern (-t, -n) that matches nothing is an error."}},
    .opts = dump_opts,
    .exit_codes = {{"0", "dump complete"}, {"1", "failed (no manifest written)"}, EXIT_USAGE_ITEM,
                   {"130", "interrupted (no manifest written)"}},
    .environment = {ENV_PASSPHRASE, ENV_IO, ENV_INTERVAL,
                    {"PGFERRY_PG_BINDIR", "the directory of pg_dump (else /usr/lib/postgresql/<server\n"
                                          "major>/bin, pg_config --bindir, PATH)"},
                    ENV_PG},
    .examples = {{"Dump database app from db1 with 4 workers",
                  "pgferry dump -h db1 -U backup -f /backups/app-2026-11-27 -j 4 app"},
                 {"From cron: progress every 5 s and each chunk into a log file, errors on stderr",
                  "pgferry dump --repo /backups/app -v --quiet --log-file /var/log/pgferry/app.log app"},
                 {"A new backup in a repository, then the retention policy",
                  "pgferry dump -d dbname=app --repo /backups/app && pgferry prune --repo /backups/app"},
                 {"Two tables and one schema, zstd level 3",
                  "pgferry dump -d postgresql://backup@db1/app -f DIR -t public.users -t 'billing.*' --compress zstd:3"}},
    .args = "",
};

/* ---- restore ------------------------------------------------------------------------- */

static const cli_opt restore_opts[] = {
    {"file", 'f', 'f', "DIR", "the dump to restore (or DIR as the last argument, as\n"
                              "pg_restore takes its archive)", 0, CLI_COMPLETE_DIR},
    REPO_OPTS(0, ""),
    JOBS_OPT("parallel workers"),
    {"create", 0, OPT_CREATE, NULL, "create the target database named in -d first", 0, NULL},
    {"clean", 0, OPT_CLEAN, NULL, "drop the dump's objects in the target before restoring", 0, NULL},
    {"table", 't', 't', "PATTERN", "restore only matching tables and their own indexes,\n"
                                   "constraints, defaults and comments (repeatable)", 0, NULL},
    {"exclude-table", 'T', 'T', "PATTERN", "leave matching tables out (repeatable)", 0, NULL},
    {"schema", 'n', 'n', "PATTERN", "restore only matching schemas (repeatable)", 0, NULL},
    {"exclude-schema", 'N', 'N', "PATTERN", "leave matching schemas out (repeatable)", 0, NULL},
    {"section", 0, OPT_SECTION, "SECTION", "restore only this section: pre-data, data or post-data\n"
                                           "(repeatable, as pg_restore)", 0, "pre-data data post-data"},
    {"schema-only", 0, OPT_SCHEMA_ONLY, NULL, "definitions only, no rows", 0, NULL},
    {"data-only", 0, OPT_DATA_ONLY, NULL, "rows only, into existing tables", 0, NULL},
    {"disable-triggers", 0, OPT_DISABLE_TRIGGERS, NULL, "with --data-only: no user triggers or foreign-key checks\n"
                                                        "fire while rows load (needs a superuser, as pg_restore)", 0, NULL},
    {"rename-table", 0, OPT_RENAME_TABLE, "OLD=NEW", "restore table OLD as NEW (with -t), e.g.\n"
                                                     "public.users=public.users_restored", 0, NULL},
    {"into-schema", 0, OPT_INTO_SCHEMA, "NAME", "restore the selected tables into schema NAME (created if\n"
                                                "missing), beside the live ones", 0, NULL},
    {"resume", 0, OPT_RESUME, NULL, "finish an interrupted restore into the same database", 0, NULL},
    {"no-owner", 0, OPT_NO_OWNER, NULL, "do not set owners", 0, NULL},
    {"no-acl", 0, OPT_NO_ACL, NULL, "do not restore privileges (GRANT/REVOKE)", 0, NULL},
    {"no-analyze", 0, OPT_NO_ANALYZE, NULL, "skip ANALYZE (by default each table is analyzed as soon as\n"
                                            "its rows are in, so the restored database is ready to serve)", 0, NULL},
    LOG_OPTS,
    JSON_OPT("print a JSON summary on stdout"),
    PASSFILE_OPT,
    {"profile", 0, OPT_PROFILE, "NAME|FILE", "a managed platform's profile (built in: supabase): its schemas,\n"
                                             "extensions, roles, event triggers and publications are left\n"
                                             "to the platform; the target may be a live project, where only\n"
                                             "what the dump creates must not exist yet (checked before\n"
                                             "anything is written, with what is missing named)", 0, "supabase"},
    {"globals", 0, OPT_GLOBALS, NULL, "first create the dump's roles and tablespaces that the target\n"
                                      "lacks (dump --globals); existing and reserved ones are left alone", 0, NULL},
    {"trace", 0, OPT_TRACE, "FILE", "write where the time went: a Chrome trace-event file (open it\n"
                                    "in ui.perfetto.dev or chrome://tracing), a span per job per\n"
                                    "worker with its bytes, rows and server CPU (a local server)", 0, CLI_COMPLETE_FILE},
    {"maintenance-memory", 0, OPT_MAINTENANCE_MEMORY, "SIZE", "memory for index builds, shared by those running at once\n"
                                                              "(default 1GB: each of N workers gets 1/N, and the share of a\n"
                                                              "worker with nothing left to do goes to the builds still\n"
                                                              "running, with its CPU for PostgreSQL's parallel index build)", 0, NULL},
    {"keep-grants", 0, OPT_KEEP_GRANTS, NULL, "a table restored under another name or schema keeps the live\n"
                                              "table's privileges (by default only its owner has any, and a\n"
                                              "copy of a table with row-level security has it enabled)", 0, NULL},
    HELP_OPT,
    {"dbname", 'd', 'd', "CONNINFO", "the target database, required: a name, a key=value string\n"
                                     "with dbname=NAME, or a URI postgresql://user@host:port/NAME.\n"
                                     "PGDATABASE does not count: a restore never lands in a\n"
                                     "default database", 1, NULL},
    CONN_OPTS(1),
    END};

static const cli_cmd restore_cmd = {
    .name = "restore",
    .summary = "parallel verified restore of a dump",
    .usage = "[OPTIONS] -d DBNAME (-f DIR | DIR)\n"
             "[OPTIONS] -d DBNAME --repo REPO (--as-of TIME | --backup NAME)",
    .description = "Restores a pgferry dump. N workers load chunks concurrently (several on one table),\n"
                   "each chunk checked against its hashes before its COPY commits; a table's indexes and\n"
                   "constraints are built as soon as its last chunk is in. Every chunk and schema step\n"
                   "commits with a row in the target's _pgferry.journal, so --resume finishes an\n"
                   "interrupted restore exactly where it stopped.",
    .sections = {{NULL, NULL, NULL},
                 {"Connection options (as pg_restore)", NULL,
                  "Host, port and user written in -d win over -h, -p and -U (as in pg_restore, with a\n"
                  "warning when they differ); both win over the PG* variables. A password in -d is\n"
                  "blanked out of pgferry's command line when it starts; -W, PGPASSWORD or ~/.pgpass\n"
                  "keep it off the command line entirely."}},
    .opts = restore_opts,
    .exit_codes = {{"0", "restored"}, {"1", "failed (what committed is kept; --resume finishes it)"},
                   EXIT_USAGE_ITEM, EXIT_INT_ITEM},
    .environment = {ENV_PASSPHRASE, ENV_IO, ENV_INTERVAL,
                    {"PGFERRY_PG_BINDIR", "the directory of pg_restore"}, ENV_PG},
    .examples = {{"Restore into a new database with 4 workers",
                  "pgferry restore -f DIR -d \"host=db2 dbname=app_copy\" --create -j 4"},
                 {"Finish an interrupted restore", "pgferry restore -f DIR -d dbname=app --resume"},
                 {"One table next to the live one",
                  "pgferry restore -f DIR -d dbname=app -t public.users --rename-table public.users=public.users_restored"},
                 {"The newest backup of a repository taken before a time",
                  "pgferry restore -d app_copy --create --repo /backups/app --as-of 2026-11-27T03:00Z"}},
    .args = CLI_COMPLETE_DIR,
};

/* ---- copy ---------------------------------------------------------------------------- */

static const cli_opt copy_opts[] = {
    {"source", 0, OPT_SOURCE, "CONNINFO", "the database to copy (a name, key=value pairs or a URI)", 0, NULL},
    {"target", 0, OPT_TARGET, "CONNINFO", "the database to copy into; it must name its database and be\n"
                                          "empty (or not exist yet, with --create)", 0, NULL},
    JOBS_OPT("parallel workers"),
    {"create", 0, OPT_CREATE, NULL, "create the target database first, as the source's", 0, NULL},
    {"table", 't', 't', "PATTERN", "copy only matching tables (repeatable, as pg_dump)", 0, NULL},
    {"exclude-table", 'T', 'T', "PATTERN", "leave matching tables out (repeatable)", 0, NULL},
    {"schema", 'n', 'n', "PATTERN", "copy only matching schemas (repeatable)", 0, NULL},
    {"exclude-schema", 'N', 'N', "PATTERN", "leave matching schemas out (repeatable)", 0, NULL},
    {"profile", 0, OPT_PROFILE, "NAME|FILE", "a managed platform's profile (built in: supabase): what the\n"
                                             "platform owns is neither read nor written", 0, "supabase"},
    {"globals", 0, OPT_GLOBALS, NULL, "create the roles and tablespaces the copied objects use that\n"
                                      "the target lacks", 0, NULL},
    {"keep-dump", 0, OPT_KEEP_DUMP, "DIR", "also write a dump of the source into DIR (new or empty, or\n"
                                           "s3://BUCKET/PREFIX) from the same reads: one pass, two\n"
                                           "destinations; its manifest is written once the copy is\n"
                                           "verified (restore it with pgferry restore)", 0, CLI_COMPLETE_DIR},
    {"resume", 0, OPT_RESUME, NULL, "finish an interrupted copy into the same target (a new\n"
                                    "snapshot of the source is read; see the README)", 0, NULL},
    LOG_OPTS,
    JSON_OPT("print a JSON summary on stdout"),
    HELP_OPT,
    {"host", 'h', 'h', "HOST", "server host name or socket directory", 1, NULL},
    {"port", 'p', 'p', "PORT", "server port", 1, NULL},
    {"username", 'U', 'U', "NAME", "role to connect as", 1, NULL},
    {"no-password", 'w', 'w', NULL, "never ask for a password (the default without -W)", 1, NULL},
    {"password", 'W', 'W', NULL, "ask for the passwords on the terminal (/dev/tty, not echoed)\n"
                                 "before connecting: the source's, then the target's, each\n"
                                 "unless its connection string has one", 1, NULL},
    END};

static const cli_cmd copy_cmd = {
    .name = "copy",
    .summary = "database to database in one pass, verified, resumable",
    .usage = "[OPTIONS] --source CONNINFO --target CONNINFO",
    .description = "Copies a database into another in one pass, with no files in between: the source is\n"
                   "read in one snapshot, each chunk streamed from its COPY TO straight into a COPY FROM on\n"
                   "the target (binary where the types allow), by the restore's scheduler: N workers, a\n"
                   "table's indexes and constraints as soon as its rows are in, sequences, large objects\n"
                   "and ANALYZE. Each chunk's rows and content hash as sent are checked against what the\n"
                   "source's COPY gave, and the rows the target took against the rows sent, before it\n"
                   "commits; at the end every table of the target is read back and compared with the\n"
                   "source's snapshot. Every load commits with a row in the target's _pgferry.journal, so\n"
                   "--resume finishes an interrupted copy.",
    .sections = {{NULL, NULL, NULL},
                 {"Connection options (for both databases, where their strings leave them unset)", NULL, NULL}},
    .opts = copy_opts,
    .exit_codes = {{"0", "copied and verified"}, {"1", "failed (what committed is kept; --resume finishes it)"},
                   EXIT_USAGE_ITEM, EXIT_INT_ITEM},
    .environment = {ENV_INTERVAL, ENV_PG},
    .examples = {{"Copy app to a new database on another server with 4 workers",
                  "pgferry copy --source \"host=db1 dbname=app\" --target \"host=db2 dbname=app\" --create -j 4"},
                 {"Copy and keep a dump of what was read",
                  "pgferry copy --source app --target app_copy --create --keep-dump /backups/app-copy"}},
    .args = "",
};

/* ---- verify -------------------------------------------------------------------------- */

static const cli_opt verify_opts[] = {
    REPO_OPTS(0, ""),
    JOBS_OPT("parallel readers"),
    {"require-table", 0, OPT_REQUIRE_TABLE, "NAME", "fail unless NAME is in the dump: schema.table, or table in any\n"
                                                    "schema (repeatable; exact names, \"double quotes\" around a part\n"
                                                    "that holds a dot; a partitioned table counts by its partitions)", 0, NULL},
    JSON_OPT("print a JSON object (ok, problems, totals) on stdout"),
    LOG_OPTS,
    PASSFILE_OPT,
    HELP_OPT,
    {"db", 0, OPT_DB, "CONNINFO", "also read every table of the dump from this database (one\n"
                                  "snapshot, in parallel) and compare its row count and content\n"
                                  "hash with the dump's: proves a restore equals the backup. A\n"
                                  "name, a key=value string or a URI", 1, NULL},
    CONN_OPTS(1),
    END};

static const cli_cmd verify_cmd = {
    .name = "verify",
    .summary = "prove a dump is whole (offline: every file, chunk, hash and row count)",
    .usage = "[OPTIONS] (DIR | --repo REPO (--as-of TIME | --backup NAME))\n"
             "  [--db CONNINFO [-h HOST] [-p PORT] [-U USER]]",
    .description = "Proves a dump is whole without a database: the manifest's checksum; every file it lists\n"
                   "is present with its size, and no other file is; every chunk (in parallel) has its stored\n"
                   "hash, decodes, and has the raw length and hash, row count and content hash the manifest\n"
                   "records (recounted from the decoded COPY data); the schema archive has its size and hash.\n"
                   "Every problem is reported on stderr with its file, table and chunk, not just the first.",
    .sections = {{NULL, NULL, NULL},
                 {"Comparing with a database", NULL,
                  "-h, -p, -U and -W go with --db; host, port and user written in --db win over them (as\n"
                  "in pg_dump). A password in --db is blanked out of pgferry's command line when it starts."}},
    .opts = verify_opts,
    .exit_codes = {{"0", "the dump is whole"},
                   {"1", "problems found (a dump without manifest.json is incomplete)"},
                   EXIT_USAGE_ITEM, EXIT_INT_ITEM},
    .environment = {ENV_PASSPHRASE, ENV_INTERVAL, ENV_PG},
    .examples = {{"Check every chunk with 4 readers and require a table",
                  "pgferry verify DIR -j 4 --require-table public.users"},
                 {"Prove a restored database equals the dump", "pgferry verify DIR --db dbname=app_copy"}},
    .args = CLI_COMPLETE_DIR,
};

/* ---- list ---------------------------------------------------------------------------- */

static const cli_opt list_opts[] = {
    {"repo", 0, OPT_REPO, "REPO", "list the backups of a repository ('pgferry dump --repo'), one\n"
                                  "a line: label, start time, complete/incomplete/writing, tables,\n"
                                  "size, last verification (ok, FAILED or never), tag", 0, CLI_COMPLETE_DIR},
    {"as-of", 0, OPT_AS_OF, "TIME", "with --repo: show the newest complete backup taken at or\n"
                                    "before TIME as for DIR (see pgferry restore --help)", 0, NULL},
    {"backup", 0, OPT_BACKUP, "NAME", "with --repo: show that backup (latest, a label or a tag) as\n"
                                      "for DIR", 0, NULL},
    JSON_OPT("print a JSON object on stdout"),
    {"passphrase-file", 0, OPT_PASSPHRASE_FILE, "FILE", "passphrase of an encrypted dump (else PGFERRY_PASSPHRASE),\n"
                                                        "with which its manifest is read and authenticated", 0,
     CLI_COMPLETE_FILE},
    HELP_OPT,
    END};

static const cli_cmd list_cmd = {
    .name = "list",
    .summary = "show what a dump holds",
    .usage = "DIR [--json] [--passphrase-file FILE]\n"
             "--repo REPO [--json]\n"
             "--repo REPO (--as-of TIME | --backup NAME) [--json]",
    .description = "Shows what a dump holds, from its manifest alone (no file is read but manifest.json):\n"
                   "when it ran, from which server and database, the snapshot, the options, and per table\n"
                   "its format, rows, chunks, raw and stored bytes and compression ratio; sequences and large\n"
                   "objects; and whether the dump is complete. 'pgferry verify DIR' checks the data itself.",
    .opts = list_opts,
    .exit_codes = {{"0", "complete dump (with --repo: listed, whatever the backups' states)"},
                   {"1", "incomplete (no manifest.json) or damaged manifest (with --repo: the repository\n"
                         "cannot be read)"},
                   EXIT_USAGE_ITEM},
    .environment = {ENV_PASSPHRASE, ENV_NOW},
    .examples = {{"What a dump holds", "pgferry list DIR"},
                 {"The backups of a repository, as JSON", "pgferry list --repo /backups/app --json"}},
    .args = CLI_COMPLETE_DIR,
};

/* ---- drill --------------------------------------------------------------------------- */

static const cli_opt drill_opts[] = {
    REPO_OPTS(0, ""),
    JOBS_OPT("parallel workers for restore and verification"),
    {"keep", 0, OPT_KEEP, NULL, "keep the scratch database for inspection", 0, NULL},
    {"report", 0, OPT_REPORT, "FILE", "also write the report: a self-contained HTML page (verdict,\n"
                                      "RTO, phases, a timeline per worker, per-table checks) if\n"
                                      "FILE ends in .html or .htm, Markdown if in .md, else JSON", 0,
     CLI_COMPLETE_FILE},
    LOG_OPTS,
    PASSFILE_OPT,
    {"trace", 0, OPT_TRACE, "FILE", "also write the restore's trace (see pgferry restore --help)", 0, CLI_COMPLETE_FILE},
    JSON_OPT("print the report as a JSON object on stdout instead of the\n"
             "Markdown (README: JSON output)"),
    HELP_OPT,
    {"target", 0, OPT_TARGET, "CONNINFO", "a database on the server to drill on, required: a name (e.g.\n"
                                          "postgres), a key=value string or a URI; the role needs\n"
                                          "CREATEDB", 1, NULL},
    CONN_OPTS(1),
    END};

static const cli_cmd drill_cmd = {
    .name = "drill",
    .summary = "timed restore drill into a scratch database",
    .usage = "[OPTIONS] (DIR | --repo REPO (--as-of TIME | --backup NAME))\n"
             "  --target CONNINFO [-h HOST] [-p PORT] [-U USER]",
    .description = "A timed restore drill: creates a scratch database with a unique name on the target\n"
                   "server, restores the dump into it, proves every table equal to the dump (row counts\n"
                   "and content hashes), records each phase's wall time and throughput, and drops the\n"
                   "scratch database, also when something fails. Prints a Markdown summary. A drill of a\n"
                   "backup in a repository is recorded there (REPO/.drills/<label>-<time>.json: result,\n"
                   "phases, RTO = the restore's wall time to ready to serve), for 'pgferry list --repo'\n"
                   "and 'pgferry status --max-drill-age/--max-rto'.",
    .sections = {{NULL, NULL, NULL},
                 {"Connection options", NULL,
                  "Host, port and user written in --target win over -h, -p and -U (as in pg_dump). A\n"
                  "password in --target is blanked out of pgferry's command line when it starts."}},
    .opts = drill_opts,
    .exit_codes = {{"0", "drill passed"}, {"1", "failed or differed"}, EXIT_USAGE_ITEM, EXIT_INT_ITEM},
    .environment = {ENV_PASSPHRASE, ENV_INTERVAL, {"PGFERRY_PG_BINDIR", "the directory of pg_restore"}, ENV_PG},
    .examples = {{"A monthly drill with a Markdown report",
                  "pgferry drill DIR --target dbname=postgres --report drill-2026-11.md"},
                 {"Drill the newest backup of a repository, with an HTML report",
                  "pgferry drill --repo /backups/app --backup latest --target postgres -j 4 --report drill.html"}},
    .args = CLI_COMPLETE_DIR,
};

/* ---- diff ---------------------------------------------------------------------------- */

static const cli_opt diff_opts[] = {
    {"file", 'f', 'f', "DIR", "the backup (or DIR as the last argument)", 0, CLI_COMPLETE_DIR},
    REPO_OPTS(0, ""),
    {"table", 't', 't', "NAME", "a table to compare: schema.table, or table when one schema\n"
                                "holds it (repeatable, at least one)", 0, NULL},
    {"key", 0, OPT_KEY, "COL,...", "the key columns of the tables named with -t (default: the\n"
                                   "primary key, else the replica identity index)", 0, NULL},
    {"cascade", 0, OPT_CASCADE, NULL, "also compare the tables that reference these through ON DELETE\n"
                                      "CASCADE foreign keys (recursively), with their own keys", 0, NULL},
    {"sql", 0, OPT_SQL, "FILE", "write the script that restores the backup's rows (FILE is\n"
                                "written atomically; - for standard output): INSERT of rows\n"
                                "deleted since, UPDATE of rows changed since (only the columns\n"
                                "that differ), tables in foreign-key order", 0, CLI_COMPLETE_FILE},
    {"only", 0, OPT_ONLY, "WHAT", "what the script puts back: deleted, changed, or all (also\n"
                                  "DELETE of rows added since the backup); comma-separated or\n"
                                  "repeated (default deleted,changed)", 0, "deleted changed added all"},
    JOBS_OPT("parallel readers of the backup's chunks"),
    {"work-mem", 0, OPT_WORK_MEM, "SIZE", "memory for one bucket of rows (default 32MB)", 0, NULL},
    JSON_OPT("print per-table counts as JSON on stdout"),
    PASSFILE_OPT,
    HELP_OPT,
    {"dbname", 'd', 'd', "CONNINFO", "the live database, required: a name, a key=value string or\n"
                                     "a URI", 1, NULL},
    CONN_OPTS(1),
    END};

static const cli_cmd diff_cmd = {
    .name = "diff",
    .summary = "compare tables with a backup by key; SQL that puts lost rows back",
    .usage = "[OPTIONS] -d DBNAME -t TABLE [-t TABLE...]\n"
             "  (-f DIR | DIR | --repo REPO (--as-of TIME | --backup NAME))",
    .description = "Compares tables of a live database with a backup, row by row by key (the primary key,\n"
                   "else the replica identity index, else --key), and prints per table the rows deleted,\n"
                   "added and changed since the backup. With --sql, writes a script that puts the backup's\n"
                   "rows back in one transaction. Read-only on the database (one REPEATABLE READ, READ ONLY\n"
                   "snapshot for all tables); memory stays bounded whatever the table's size (both sides\n"
                   "are partitioned into bucket files in a temporary directory, one bucket in memory).",
    .sections = {{NULL, NULL, NULL}, {"Connection options", NULL, NULL}},
    .opts = diff_opts,
    .exit_codes = {{"0", "compared (whatever the differences)"}, {"1", "failed"},
                   {"2", "usage error (also: a table that does not exist, is not in the backup or has no key)"},
                   EXIT_INT_ITEM},
    .environment = {ENV_PASSPHRASE, {"TMPDIR", "where the bucket files go (default /tmp)"}, ENV_PG},
    .examples = {{"What changed in a table since the backup, and the SQL that puts it back",
                  "pgferry diff -d app -t public.users --sql undo.sql /backups/app-2026-11-27"}},
    .args = CLI_COMPLETE_DIR,
};

/* ---- prune --------------------------------------------------------------------------- */

static const cli_opt prune_opts[] = {
    {"keep-last", 0, OPT_KEEP_LAST, "N", "keep the N newest", 0, NULL},
    {"keep-within", 0, OPT_KEEP_WITHIN, "DURATION", "keep every backup newer than DURATION before now: numbers\n"
                                                    "with units y, w, d, h, m, s, largest first (7d, 1d12h, 2w)", 0, NULL},
    {"keep-daily", 0, OPT_KEEP_DAILY, "N", "keep the newest of each of the N most recent days (UTC) that\n"
                                           "have a backup", 0, NULL},
    {"keep-weekly", 0, OPT_KEEP_WEEKLY, "N", "the same per ISO week (Monday to Sunday, UTC)", 0, NULL},
    {"keep-monthly", 0, OPT_KEEP_MONTHLY, "N", "the same per calendar month (UTC)", 0, NULL},
    {"keep-yearly", 0, OPT_KEEP_YEARLY, "N", "the same per calendar year (UTC)", 0, NULL},
    {"repo", 0, OPT_REPO, "REPO", "the repository (must hold the .pgferry-repo marker)", 1, CLI_COMPLETE_DIR},
    {"dry-run", 0, OPT_DRY_RUN, NULL, "show the decisions, remove nothing", 1, NULL},
    {"json", 0, OPT_JSON, NULL, "print a JSON object on stdout", 1, NULL},
    {"help", '?', OPT_HELP, NULL, "this help", 1, NULL},
    END};

static const cli_cmd prune_cmd = {
    .name = "prune",
    .summary = "apply a retention policy to a backup repository",
    .usage = "--repo REPO [--keep-last N] [--keep-within DURATION]\n"
             "  [--keep-daily N] [--keep-weekly N] [--keep-monthly N]\n"
             "  [--keep-yearly N] [--dry-run] [--json]",
    .description = "Applies a grandfather-father-son retention policy to a backup repository written by\n"
                   "'pgferry dump --repo' and prints every backup with keep or remove and the rules that\n"
                   "decided it.",
    .sections = {{"Retention rules", "Complete backups, newest first:",
                  "A backup is kept when any rule keeps it; each rule counts on its own (as restic and\n"
                  "borg do: --keep-daily 7 --keep-weekly 4 keeps up to 7 + 4 backups, fewer when one\n"
                  "backup is both). Without any --keep-* option: --keep-daily 7 --keep-weekly 4\n"
                  "--keep-monthly 12. With some, the others are 0. Whatever the policy, prune never\n"
                  "removes the newest complete backup, a backup marked keep-forever (dump\n"
                  "--keep-forever), or a backup being written (a dump holds its lock); it removes\n"
                  "incomplete backups (failed or killed dumps) once they are older than a day. A\n"
                  "backup's time is its label (when its dump started).\n"
                  "A backup is removed by renaming it to .removing-<label> and then deleting it, so an\n"
                  "interrupted prune never leaves a half-deleted backup; the next prune finishes it."},
                 {"Options", NULL, NULL}},
    .opts = prune_opts,
    .exit_codes = {{"0", "done"}, {"1", "a backup could not be removed or the repository not read"}, EXIT_USAGE_ITEM},
    .environment = {ENV_NOW},
    .examples = {{"See what the default policy would remove", "pgferry prune --repo /backups/app --dry-run"},
                 {"Keep the last 3 and 8 weekly backups", "pgferry prune --repo /backups/app --keep-last 3 --keep-weekly 8"},
                 {"Everything of the last 2 days and one a year",
                  "pgferry prune --repo /backups/app --keep-within 2d --keep-yearly 10"}},
    .args = "",
};

/* ---- status -------------------------------------------------------------------------- */

static const cli_opt status_opts[] = {
    {"repo", 0, OPT_REPO, "REPO", "the repository ('pgferry dump --repo')", 0, CLI_COMPLETE_DIR},
    {"max-age", 0, OPT_MAX_AGE, "AGE", "CRITICAL beyond this age: numbers with units y, w, d, h, m, s,\n"
                                       "largest first (26h, 1d12h, 2w); zero is a usage error", 0, NULL},
    {"warn-age", 0, OPT_WARN_AGE, "AGE", "WARNING beyond this age (less than --max-age)", 0, NULL},
    {"require-verified", 0, OPT_REQUIRE_VERIFIED, NULL, "also judge the newest complete backup's last verification", 0, NULL},
    {"max-drill-age", 0, OPT_MAX_DRILL_AGE, "AGE", "WARNING when the last passing restore drill ('pgferry drill'\n"
                                                   "of a backup in REPO) is older (35d for monthly drills), when\n"
                                                   "there is none, or when the newest drill failed", 0, NULL},
    {"max-rto", 0, OPT_MAX_RTO, "DURATION", "WARNING when that drill's restore took longer (the\n"
                                            "recovery-time objective, e.g. 2h); also the newest drill failed", 0, NULL},
    JSON_OPT("print a JSON object on stdout instead of the line"),
    HELP_OPT,
    END};

static const cli_cmd status_cmd = {
    .name = "status",
    .summary = "alert on stale or failed backups (monitoring check)",
    .usage = "--repo REPO --max-age AGE [--warn-age AGE] [--require-verified]\n"
             "  [--max-drill-age AGE] [--max-rto DURATION] [--json]",
    .description = "Checks a backup repository for monitoring and prints one line with Nagios performance\n"
                   "data after the '|' (age in seconds with warn/crit, size in bytes, tables, the last\n"
                   "passing drill's age and RTO in seconds with --max-drill-age/--max-rto as warn), e.g.\n"
                   "  PGFERRY OK - newest backup 20261127T030000Z is 3h12m old (complete, 12 tables, 1.2 GB)\n"
                   "  | 'age'=11520s;90000;93600;0; 'size'=1288490188B;;;0; 'tables'=12;;;0;\n"
                   "  'drill_age'=U;;;0; 'rto'=U;;;0;\n"
                   "(one line: shown on three here; U: no passing drill recorded).\n"
                   "\n"
                   "  CRITICAL  no complete backup; the newest complete backup is older than --max-age;\n"
                   "            with --require-verified, its last 'pgferry verify' failed\n"
                   "  WARNING   the newest complete backup is older than --warn-age; the newest backup is\n"
                   "            incomplete and no dump is writing it (a failed or killed dump); with\n"
                   "            --require-verified, the newest complete backup was never verified; with\n"
                   "            --max-drill-age or --max-rto, the drill checks above (drills are evidence\n"
                   "            that backups restore, never CRITICAL: the backups themselves may be fine)\n"
                   "  OK        otherwise (a dump in progress is mentioned, not an error)\n"
                   "\n"
                   "A backup's age counts from its label, the time its dump started: allow for the dump's\n"
                   "duration (for daily dumps, e.g. --warn-age 25h --max-age 26h).",
    .opts = status_opts,
    .exit_codes = {{"0", "OK"}, {"1", "WARNING"}, {"2", "CRITICAL"},
                   {"3", "UNKNOWN (the repository cannot be read, or a usage error: unlike other pgferry\n"
                         "commands, status exits 3 on usage errors so that a broken check is never mistaken\n"
                         "for CRITICAL)"}},
    .exit_note = "The monitoring-plugin (Nagios, Icinga) convention.",
    .environment = {ENV_NOW},
    .examples = {{"A daily dump's check", "pgferry status --repo /backups/app --warn-age 25h --max-age 26h"},
                 {"Also a monthly drill that restores within 2 hours",
                  "pgferry status --repo /backups/app --max-age 26h --max-drill-age 35d --max-rto 2h"}},
    .args = "",
};

/* ---- cat ----------------------------------------------------------------------------- */

static const cli_opt cat_opts[] = {
    PASSFILE_OPT,
    REPO_OPTS(0, "\n(then CHUNKFILE is relative to the backup, e.g. data/3.0.chunk)"),
    HELP_OPT,
    END};

static const cli_cmd cat_cmd = {
    .name = "cat",
    .summary = "decode one chunk file to standard output (COPY data)",
    .usage = "[--passphrase-file FILE] CHUNKFILE\n"
             "[--passphrase-file FILE] --repo REPO (--as-of TIME | --backup NAME) data/FILE",
    .description = "Decodes one chunk file and writes its COPY data to standard output, e.g.\n"
                   "  pgferry cat DIR/data/3.0.chunk | psql -c 'COPY t FROM STDIN (FORMAT binary)'\n"
                   "The data is checked as it streams: a damaged chunk ends with exit code 1 and an error\n"
                   "naming it, after some of its bytes may already have been written. A chunk of an\n"
                   "encrypted dump is decrypted with the key in its dump's manifest (DIR/manifest.json),\n"
                   "opened with the passphrase (--passphrase-file FILE or PGFERRY_PASSPHRASE).",
    .opts = cat_opts,
    .exit_codes = {{"0", "the whole chunk was written"}, {"1", "damaged or unreadable chunk"}, EXIT_USAGE_ITEM},
    .environment = {ENV_PASSPHRASE},
    .examples = {{"Load one chunk with psql",
                  "pgferry cat DIR/data/3.0.chunk | psql -c 'COPY t FROM STDIN (FORMAT binary)'"}},
    .args = CLI_COMPLETE_FILE,
};

/* ---- pgferry ------------------------------------------------------------------------- */

static const cli_opt main_opts[] = {
    {"help", '?', OPT_HELP, NULL, "this help ('pgferry help COMMAND': a command's)", 0, NULL},
    {"version", 'V', 'V', NULL, "the version", 0, NULL},
    END};

const cli_cmd cli_main_cmd = {
    .name = NULL,
    .summary = "fast, verifiable PostgreSQL backups",
    .usage = "COMMAND [OPTIONS]\n"
             "help [COMMAND]",
    .description = "Run 'pgferry COMMAND --help' (or -?, or 'pgferry help COMMAND') for a command's options.\n"
                   "dump, restore, verify, drill and diff connect as pg_dump does: -h HOST, -p PORT, -U USER,\n"
                   "-w, -W and a database name or connection string (dump: -d or the last argument; restore\n"
                   "and diff: -d; verify: --db; drill: --target). restore, verify, drill, diff, list and cat\n"
                   "read a backup from a directory or from a repository: --repo REPO --as-of TIME | --backup\n"
                   "NAME.",
    .opts = main_opts,
    .exit_codes = {{"0", "success"}, {"1", "failure"}, EXIT_USAGE_ITEM, EXIT_INT_ITEM},
    .environment = {ENV_IO,
                    {"PGFERRY_PG_BINDIR", "the directory of pg_dump and pg_restore"},
                    ENV_PASSPHRASE, ENV_PG},
    .examples = {{"Dump, verify and restore",
                  "pgferry dump -f /backups/app-1 app && pgferry verify /backups/app-1 && "
                  "pgferry restore -d app_copy --create /backups/app-1"}},
};

const cli_cmd *const cli_commands[] = {&dump_cmd, &restore_cmd, &copy_cmd, &verify_cmd, &list_cmd, &drill_cmd,
                                       &diff_cmd, &prune_cmd, &status_cmd, &cat_cmd, NULL};

const cli_opt *cli_find_option(const cli_cmd *c, int id)
{
    for (const cli_opt *o = c->opts; o->name; o++)
        if (o->id == id)
            return o;
    return NULL;
}

const cli_cmd *cli_find_command(const char *name)
{
    for (size_t i = 0; cli_commands[i]; i++)
        if (strcmp(cli_commands[i]->name, name) == 0)
            return cli_commands[i];
    return NULL;
}
