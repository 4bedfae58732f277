/* pgferry restore */
#include "common/pf_util.h"
#include "engine/profile.h"
#include "engine/restore.h"
#include "io/pf_io.h"
#include "tools/cli.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const restore_help =
    "Usage: pgferry restore [OPTIONS] -d DBNAME (-f DIR | DIR)\n"
    "       pgferry restore [OPTIONS] -d DBNAME --repo REPO (--as-of TIME | --backup NAME)\n"
    "\n"
    "Restores a pgferry dump. N workers load chunks concurrently (several on one table),\n"
    "each chunk checked against its hashes before its COPY commits; a table's indexes and\n"
    "constraints are built as soon as its last chunk is in. Every chunk and schema step\n"
    "commits with a row in the target's _pgferry.journal, so --resume finishes an\n"
    "interrupted restore exactly where it stopped.\n"
    "\n"
    "  -f, --file=DIR            the dump to restore (or DIR as the last argument, as\n"
    "                            pg_restore takes its archive)\n"
    REPO_CLI_HELP
    "  -j, --jobs=N              parallel workers (default 2)\n"
    "      --create              create the target database named in -d first\n"
    "      --clean               drop the dump's objects in the target before restoring\n"
    "  -t, --table=PATTERN       restore only matching tables and their own indexes,\n"
    "                            constraints, defaults and comments (repeatable)\n"
    "  -T, --exclude-table=PATTERN  leave matching tables out (repeatable)\n"
    "  -n, --schema=PATTERN      restore only matching schemas (repeatable)\n"
    "  -N, --exclude-schema=PATTERN  leave matching schemas out (repeatable)\n"
    "      --section=SECTION     restore only this section: pre-data, data or post-data\n"
    "                            (repeatable, as pg_restore)\n"
    "      --schema-only         definitions only, no rows\n"
    "      --data-only           rows only, into existing tables\n"
    "      --disable-triggers    with --data-only: no user triggers or foreign-key checks\n"
    "                            fire while rows load (needs a superuser, as pg_restore)\n"
    "      --rename-table=OLD=NEW  restore table OLD as NEW (with -t), e.g.\n"
    "                            public.users=public.users_restored\n"
    "      --into-schema=NAME    restore the selected tables into schema NAME (created if\n"
    "                            missing), beside the live ones\n"
    "      --resume              finish an interrupted restore into the same database\n"
    "      --no-owner            do not set owners\n"
    "      --no-acl              do not restore privileges (GRANT/REVOKE)\n"
    "      --no-analyze          skip ANALYZE (by default each table is analyzed as soon as\n"
    "                            its rows are in, so the restored database is ready to serve)\n"
    "      --progress            show a progress line even when stderr is not a terminal\n"
    "      --no-progress         never show progress\n"
    "      --json                print a JSON summary on stdout\n"
    "      --passphrase-file=FILE  passphrase of an encrypted dump (else PGFERRY_PASSPHRASE)\n"
    "      --profile=NAME|FILE   a managed platform's profile (built in: supabase): its schemas,\n"
    "                            extensions, roles, event triggers and publications are left\n"
    "                            to the platform; the target may be a live project, where only\n"
    "                            what the dump creates must not exist yet (checked before\n"
    "                            anything is written, with what is missing named)\n"
    "      --globals             first create the dump's roles and tablespaces that the target\n"
    "                            lacks (dump --globals); existing and reserved ones are left alone\n"
    "      --trace=FILE          write where the time went: a Chrome trace-event file (open it\n"
    "                            in ui.perfetto.dev or chrome://tracing), a span per job per\n"
    "                            worker with its bytes, rows and server CPU (a local server)\n"
    "      --maintenance-memory=SIZE  memory for index builds, shared by those running at once\n"
    "                            (default 1GB: each of N workers gets 1/N, and the share of a\n"
    "                            worker with nothing left to do goes to the builds still\n"
    "                            running, with its CPU for PostgreSQL's parallel index build)\n"
    "      --keep-grants         a table restored under another name or schema keeps the live\n"
    "                            table's privileges (by default only its owner has any, and a\n"
    "                            copy of a table with row-level security has it enabled)\n"
    "  -?, --help                this help\n"
    "\n"
    "Connection options (as pg_restore):\n"
    "  -d, --dbname=CONNINFO     the target database, required: a name, a key=value string\n"
    "                            with dbname=NAME, or a URI postgresql://user@host:port/NAME.\n"
    "                            PGDATABASE does not count: a restore never lands in a\n"
    "                            default database\n"
    CLI_CONN_HELP
    "Host, port and user written in -d win over -h, -p and -U (as in pg_restore, with a\n"
    "warning when they differ); both win over the PG* variables. A password in -d is\n"
    "blanked out of pgferry's command line when it starts; -W, PGPASSWORD or ~/.pgpass\n"
    "keep it off the command line entirely.\n"
    "\n"
    "Exit codes: 0 restored, 1 failed (what committed is kept; --resume finishes it),\n"
    "2 usage error, 130 interrupted.\n";

/* --section, as pg_restore names them. */
static int parse_section(const char *s, int *bits)
{
    if (strcmp(s, "pre-data") == 0)
        *bits |= RESTORE_SECTION_PRE;
    else if (strcmp(s, "data") == 0)
        *bits |= RESTORE_SECTION_DATA;
    else if (strcmp(s, "post-data") == 0)
        *bits |= RESTORE_SECTION_POST;
    else
        return -1;
    return 0;
}

int cmd_restore(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},     {"dbname", required_argument, NULL, 'd'},
        {"jobs", required_argument, NULL, 'j'},     {"create", no_argument, NULL, 1},
        {"clean", no_argument, NULL, 2},            {"table", required_argument, NULL, 't'},
        {"schema", required_argument, NULL, 'n'},   {"schema-only", no_argument, NULL, 3},
        {"data-only", no_argument, NULL, 4},        {"rename-table", required_argument, NULL, 5},
        {"into-schema", required_argument, NULL, 6}, {"resume", no_argument, NULL, 7},
        {"no-owner", no_argument, NULL, 8},         {"no-acl", no_argument, NULL, 9},
        {"progress", no_argument, NULL, 10},        {"no-progress", no_argument, NULL, 11},
        {"json", no_argument, NULL, 12},            {"help", no_argument, NULL, CLI_OPT_HELP},
        {"passphrase-file", required_argument, NULL, 21}, {"no-analyze", no_argument, NULL, 22},
        {"exclude-table", required_argument, NULL, 'T'}, {"exclude-schema", required_argument, NULL, 'N'},
        {"section", required_argument, NULL, 23},   {"disable-triggers", no_argument, NULL, 24},
        {"profile", required_argument, NULL, 25},   {"globals", no_argument, NULL, 26},
        {"keep-grants", no_argument, NULL, 27},     {"trace", required_argument, NULL, 28},
        {"maintenance-memory", required_argument, NULL, 29}, REPO_CLI_LONGOPTS,
        CLI_CONN_LONGOPTS,
        {NULL, 0, NULL, 0}};
    restore_options o;
    memset(&o, 0, sizeof o);
    o.jobs = 2;
    int progress = isatty(2), json = 0, have_f = 0, c, rc;
    cli_conn cc = {.conn_opt = "-d"};
    repo_cli_sel sel = {0};
    char repo_dir[4096];
    const char *passfile = NULL, *profile_spec = NULL;
    char *passphrase = NULL;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:d:j:t:T:n:N:" CLI_CONN_SHORTOPTS, opts, NULL)) != -1) {
        switch (c) {
        case 'f': o.dir = optarg; have_f = 1; break;
        case 'd': cc.conninfo = cli_take_conninfo(optarg); break;
        case 'h': case 'p': case 'U': case 'w': case 'W':
            if ((rc = cli_conn_option("restore", &cc, c, optarg)) != 0)
                return rc;
            break;
        case 'T': cli_push(&o.exclude_tables, &o.nexclude_tables, optarg); break;
        case 'N': cli_push(&o.exclude_schemas, &o.nexclude_schemas, optarg); break;
        case 23:
            if (parse_section(optarg, &o.sections) < 0)
                return cli_usage_error("restore", "invalid --section value \"%s\": expected pre-data, data or post-data", optarg);
            break;
        case 24: o.disable_triggers = 1; break;
        case 25: profile_spec = optarg; break;
        case 26: o.globals = 1; break;
        case 27: o.keep_grants = 1; break;
        case 28: o.trace_path = optarg; break;
        case 29:
            if (pf_parse_size(optarg, &o.maintenance_memory) < 0 || o.maintenance_memory < (1u << 20))
                return cli_usage_error("restore", "invalid --maintenance-memory value \"%s\": expected a size such as 1GB (at least 1MB)", optarg);
            break;
        case 'j':
            if (cli_parse_jobs(optarg, &o.jobs) < 0)
                return cli_usage_error("restore", "invalid --jobs value \"%s\": expected 1 to 256", optarg);
            break;
        case 1: o.create = 1; break;
        case 2: o.clean = 1; break;
        case 't': cli_push(&o.tables, &o.ntables, optarg); break;
        case 'n': cli_push(&o.schemas, &o.nschemas, optarg); break;
        case 3: o.schema_only = 1; break;
        case 4: o.data_only = 1; break;
        case 5: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                return cli_usage_error("restore", "invalid --rename-table value \"%s\": expected OLD=NEW", optarg);
            restore_rename *rn = realloc(o.renames, (o.nrenames + 1) * sizeof *rn);
            if (!rn)
                return 1;
            cli_keep(o.renames, rn);
            o.renames = rn;
            *eq = '\0';
            o.renames[o.nrenames].from = optarg;
            o.renames[o.nrenames].to = eq + 1;
            o.nrenames++;
            break;
        }
        case 6:
            if (!*optarg)
                return cli_usage_error("restore", "%s", "--into-schema needs a schema name");
            o.into_schema = optarg;
            break;
        case 7: o.resume = 1; break;
        case 8: o.no_owner = 1; break;
        case 9: o.no_acl = 1; break;
        case 10: progress = 1; break;
        case 11: progress = 0; break;
        case 12: json = 1; break;
        case 21: passfile = optarg; break;
        case 22: o.no_analyze = 1; break;
        case REPO_CLI_OPT_REPO: case REPO_CLI_OPT_AS_OF: case REPO_CLI_OPT_BACKUP:
            repo_cli_option(&sel, c, optarg);
            break;
        case CLI_OPT_HELP: fputs(restore_help, stdout); return 0;
        default: return cli_option_error("restore", c, argv, restore_help);
        }
    }
    /* the dump as the last argument, as pg_restore takes its archive */
    if (optind < argc && !o.dir)
        o.dir = argv[optind++];
    if (optind < argc)
        return cli_usage_error("restore", have_f
                                              ? "unexpected argument \"%s\" (the dump is already given by -f)"
                                              : "unexpected argument \"%s\"", argv[optind]);
    if (!o.dir && !repo_cli_any(&sel))
        return cli_usage_error("restore", "%s", "missing the dump: -f DIR, DIR or --repo REPO --as-of TIME");
    if (o.schema_only && o.data_only)
        return cli_usage_error("restore", "%s", "--schema-only and --data-only exclude each other");
    if (o.clean && o.data_only)
        return cli_usage_error("restore", "%s", "--clean and --data-only exclude each other");
    if (o.trace_path && (rc = cli_check_output("restore", "--trace", o.trace_path)) != 0)
        return rc;
    if ((rc = repo_cli_resolve("restore", &sel, o.dir, repo_dir, sizeof repo_dir, &o.dir)) != 0)
        return rc;
    char err[PF_ERRLEN];
    io_mode io; /* checked now; the store reads it when it opens */
    if (io_mode_from_env(&io, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry restore: %s\n", err);
        return EXIT_USAGE;
    }
    char *conninfo; /* a restore names its target: never libpq's default database */
    if ((rc = cli_conn_build("restore", &cc, 1, &conninfo)) != 0)
        return rc;
    o.conninfo = conninfo;
    profile *prof = NULL;
    if (profile_spec && !(prof = profile_load(profile_spec, err, sizeof err))) {
        fprintf(stderr, "pgferry restore: --profile: %s\n", err);
        return EXIT_USAGE;
    }
    o.profile = prof;
    if (cli_passphrase("restore", passfile, &passphrase) < 0) {
        profile_free(prof);
        return 1;
    }
    o.passphrase = passphrase;
    o.progress = progress ? cli_restore_progress : NULL;
    o.notice = cli_notice;
    o.interrupted = &cli_interrupted;
    cli_install_signals();
    restore_summary s;
    rc = restore_run(&o, &s, err, sizeof err);
    cli_forget(passphrase);
    profile_free(prof);
    free(o.tables);
    free(o.schemas);
    free(o.renames);
    free(o.exclude_tables);
    free(o.exclude_schemas);
    if (rc < 0)
        return cli_fail("restore", json, err);
    if (json) {
        json_t *j = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:f, s:f, s:f, s:f, s:f, s:f}}",
                              "ok", 1, "database", s.database, "tables", (json_int_t)s.tables,
                              "chunks", (json_int_t)s.chunks, "chunks_skipped", (json_int_t)s.chunks_skipped,
                              "rows", (json_int_t)s.rows, "raw_bytes", (json_int_t)s.raw_bytes,
                              "post_data_entries", (json_int_t)s.entries, "reconnects", (json_int_t)s.reconnects,
                              "phase_seconds", "total", s.seconds,
                              "checks", s.t_checks, "pre_data", s.t_pre, "data", s.t_data,
                              "indexes_constraints", s.t_post, "finish", s.t_finish);
        json_object_set_new(j, "dir", cli_json_path(o.dir));
        json_object_set_new(j, "trace", cli_json_path(o.trace_path));
        /* the server's CPU by phase, where the server is on this machine (else null) */
        json_t *cpu = json_object();
        const double v[4] = {s.cpu_pre, s.cpu_data, s.cpu_post, s.cpu_finish};
        const char *k[4] = {"pre_data", "data", "post_data", "finish"};
        for (int i = 0; i < 4; i++)
            json_object_set_new(cpu, k[i], v[i] >= 0 ? json_real(floor(v[i] * 100.0 + 0.5) / 100.0) : json_null());
        json_object_set_new(j, "server_cpu_seconds", cpu);
        cli_json_print(j);
    } else if (progress) {
        char a[32];
        fprintf(stderr, "restore: %llu tables, %llu chunks (%llu already in), %llu rows, %s into %s in %.1f s\n",
                (unsigned long long)s.tables, (unsigned long long)s.chunks,
                (unsigned long long)s.chunks_skipped, (unsigned long long)s.rows,
                pf_fmt_bytes(s.raw_bytes, a, sizeof a), s.database, s.seconds);
    }
    return 0;
}
