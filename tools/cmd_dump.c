/* pgferry dump */
#include "codec/chunk.h"
#include "codec/compress.h"
#include "common/pf_util.h"
#include "engine/dump.h"
#include "engine/sink_file.h"
#include "engine/profile.h"
#include "engine/repo.h"
#include "io/pf_io.h"
#include "tools/cli.h"

#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const dump_help =
    "Usage: pgferry dump [OPTIONS] (-f DIR | --repo REPO) [DBNAME]\n"
    "\n"
    "Dumps a database into DIR from one snapshot, with N workers reading chunks of tables in\n"
    "parallel. Each chunk is compressed and checksummed; the schema comes from\n"
    "pg_dump --schema-only in the same snapshot; manifest.json is written last.\n"
    "\n"
    "  -f, --file=DIR            output directory: must not exist or be empty (created 0700)\n"
    "      --repo=REPO           instead of -f: a new backup in REPO/<UTC start time>/, e.g.\n"
    "                            REPO/20261127T030000Z (REPO created 0700 if missing; see\n"
    "                            'pgferry list --repo', 'pgferry prune', 'pgferry status')\n"
    "                            DIR and REPO may be s3://BUCKET/PREFIX (S3 and compatible\n"
    "                            stores; credentials, region and endpoint from the AWS_*\n"
    "                            variables and ~/.aws, as the AWS CLI reads them)\n"
    "      --tag=NAME            record NAME in the manifest (e.g. pre-migration-2026-11-27)\n"
    "      --keep-forever        mark the backup so that 'pgferry prune' never removes it\n"
    "  -j, --jobs=N              parallel workers (default 2)\n"
    "  -t, --table=PATTERN       dump only matching tables (repeatable; pg_dump patterns)\n"
    "  -T, --exclude-table=PATTERN  leave matching tables out (repeatable)\n"
    "  -n, --schema=PATTERN      dump only matching schemas (repeatable)\n"
    "  -N, --exclude-schema=PATTERN leave matching schemas out (repeatable)\n"
    "      --exclude-table-data=PATTERN  dump the definition of matching tables but not\n"
    "                            their rows (repeatable, as pg_dump)\n"
    "      --no-unlogged-table-data  do not dump the rows of unlogged tables\n"
    "      --lock-wait-timeout=TIMEOUT  fail instead of waiting longer than TIMEOUT for a\n"
    "                            table lock: milliseconds, or a duration such as 30s, 500ms,\n"
    "                            2min (as pg_dump; default: wait)\n"
    "      --compress=zstd[:LEVEL]|none  chunk compression (default zstd:1)\n"
    "      --format=binary|text  COPY format (default binary; tables with types whose binary\n"
    "                            form is not portable use text anyway, recorded per table)\n"
    "      --layout=columns|rows  how binary rows are laid out before zstd: columns (default:\n"
    "                            each block of rows stored column by column, smaller) or rows\n"
    "                            (as COPY sends them; what dumps made before the column layout hold)\n"
    "      --chunk-size=SIZE     target chunk size, e.g. 64MB (kB, MB, GB; default 64MB)\n"
    "      --progress            show a progress line even when stderr is not a terminal\n"
    "      --no-progress         never show progress\n"
    "      --json                print a JSON summary on stdout\n"
    "      --encrypt             encrypt every file (AES-256-GCM, a random key per dump,\n"
    "                            wrapped with a key derived from the passphrase by scrypt)\n"
    "      --passphrase-file=FILE  the passphrase (else PGFERRY_PASSPHRASE); never on the\n"
    "                            command line\n"
    "      --profile=NAME|FILE   a managed platform's profile (built in: supabase): the\n"
    "                            platform's own rows and the tables it keeps from the user are\n"
    "                            left out; the user's rows in its schemas (auth, storage) and\n"
    "                            everything the user made are dumped\n"
    "      --globals             also store the roles the dump refers to (attributes without\n"
    "                            passwords, memberships, settings) and its tablespaces, for\n"
    "                            restore --globals\n"
    "  -?, --help                this help\n"
    "\n"
    "Connection options (as pg_dump):\n"
    "  -d, --dbname=CONNINFO     the database to dump: a name, a key=value string or a URI\n"
    "                            (postgresql://user@host:port/name); or give it as DBNAME,\n"
    "                            the last argument (not both). Without either, PGDATABASE or\n"
    "                            libpq's default, as pg_dump\n"
    CLI_CONN_HELP
    "Host, port and user written in the connection string win over -h, -p and -U (as in\n"
    "pg_dump, with a warning when they differ); both win over the PG* variables. A password\n"
    "in the connection string is blanked out of pgferry's command line when it starts and\n"
    "reaches pg_dump only through its environment; -W, PGPASSWORD or ~/.pgpass keep it off\n"
    "the command line entirely.\n"
    "\n"
    "An include pattern (-t, -n) that matches nothing is an error.\n"
    "Exit codes: 0 dump complete, 1 failed (no manifest written), 2 usage error,\n"
    "130 interrupted (no manifest written).\n";

/* --lock-wait-timeout: what SET lock_timeout takes (PostgreSQL's parse_int with time
 * units): a non-negative number (a fraction or exponent too), then optionally us, ms, s,
 * min, h or d (milliseconds without); at most INT_MAX ms. pg_dump passes the text to the
 * server unchecked; checking it here turns a typo into a usage error before any work. */
static int valid_lock_timeout(const char *s)
{
    static const struct { const char *unit; double ms; } units[] = {
        {"us", 0.001}, {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '+')
        p++;
    /* a number as strtol/strtod read it (PostgreSQL takes 1e3 and 0x10 too), not inf or nan */
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
        return 0;
    char *end;
    double v = strtod(p, &end);
    p = end;
    while (isspace((unsigned char)*p))
        p++;
    const char *unit = p;
    while (*p && !isspace((unsigned char)*p))
        p++;
    size_t ulen = (size_t)(p - unit);
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return 0;
    double ms = v;
    if (ulen) {
        size_t u = 0;
        for (; u < sizeof units / sizeof *units; u++)
            if (strlen(units[u].unit) == ulen && strncmp(unit, units[u].unit, ulen) == 0)
                break;
        if (u == sizeof units / sizeof *units)
            return 0;
        ms = v * units[u].ms;
    }
    return ms <= 2147483647.0;
}

static int parse_compress(const char *s, chunk_codec *codec, int *level)
{
    const compress_ops *c;
    if (compress_parse(s, &c, level) < 0)
        return -1;
    *codec = (chunk_codec)c->id;
    return 0;
}

int cmd_dump(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dbname", required_argument, NULL, 'd'},   {"file", required_argument, NULL, 'f'},
        {"jobs", required_argument, NULL, 'j'},     {"table", required_argument, NULL, 't'},
        {"exclude-table", required_argument, NULL, 'T'}, {"schema", required_argument, NULL, 'n'},
        {"exclude-schema", required_argument, NULL, 'N'}, {"compress", required_argument, NULL, 1},
        {"format", required_argument, NULL, 2},     {"chunk-size", required_argument, NULL, 3},
        {"progress", no_argument, NULL, 4},         {"no-progress", no_argument, NULL, 5},
        {"json", no_argument, NULL, 6},             {"help", no_argument, NULL, CLI_OPT_HELP},
        {"encrypt", no_argument, NULL, 20},         {"passphrase-file", required_argument, NULL, 21},
        {"profile", required_argument, NULL, 33},   {"globals", no_argument, NULL, 34},
        {"repo", required_argument, NULL, 30},      {"tag", required_argument, NULL, 31},
        {"keep-forever", no_argument, NULL, 32},
        {"exclude-table-data", required_argument, NULL, 40}, {"no-unlogged-table-data", no_argument, NULL, 41},
        {"lock-wait-timeout", required_argument, NULL, 42}, {"layout", required_argument, NULL, 43},
        CLI_CONN_LONGOPTS,
        {NULL, 0, NULL, 0}};
    dump_options o;
    memset(&o, 0, sizeof o);
    o.jobs = 2;
    o.codec = CHUNK_CODEC_ZSTD;
    o.level = 1;
    o.chunk_size = DUMP_DEFAULT_CHUNK_SIZE;
    int progress = isatty(2), json = 0, rc, encrypt = 0;
    cli_conn cc = {.conn_opt = "-d"};
    const char *passfile = NULL, *repo = NULL, *profile_spec = NULL;
    char *passphrase = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:f:j:t:T:n:N:" CLI_CONN_SHORTOPTS, opts, NULL)) != -1) {
        switch (c) {
        case 'd': cc.conninfo = cli_take_conninfo(optarg); break;
        case 'h': case 'p': case 'U': case 'w': case 'W':
            if ((rc = cli_conn_option("dump", &cc, c, optarg)) != 0)
                return rc;
            break;
        case 'f': o.dir = optarg; break;
        case 'j':
            if (cli_parse_jobs(optarg, &o.jobs) < 0)
                return cli_usage_error("dump", "invalid --jobs value \"%s\": expected 1 to 256", optarg);
            break;
        case 't': cli_push(&o.filter.include_tables, &o.filter.n_include_tables, optarg); break;
        case 'T': cli_push(&o.filter.exclude_tables, &o.filter.n_exclude_tables, optarg); break;
        case 'n': cli_push(&o.filter.include_schemas, &o.filter.n_include_schemas, optarg); break;
        case 'N': cli_push(&o.filter.exclude_schemas, &o.filter.n_exclude_schemas, optarg); break;
        case 1:
            if (parse_compress(optarg, &o.codec, &o.level) < 0)
                return cli_usage_error("dump", "invalid --compress value \"%s\": expected zstd, zstd:LEVEL (1-19, -7..-1) or none", optarg);
            break;
        case 43:
            if (strcmp(optarg, "columns") == 0)
                o.row_layout = 0;
            else if (strcmp(optarg, "rows") == 0)
                o.row_layout = 1;
            else
                return cli_usage_error("dump", "invalid --layout value \"%s\": expected columns or rows", optarg);
            break;
        case 2:
            if (strcmp(optarg, "binary") == 0)
                o.text_format = 0;
            else if (strcmp(optarg, "text") == 0)
                o.text_format = 1;
            else
                return cli_usage_error("dump", "invalid --format value \"%s\": expected binary or text", optarg);
            break;
        case 3:
            if (pf_parse_size(optarg, &o.chunk_size) < 0 || o.chunk_size < 8192)
                return cli_usage_error("dump", "invalid --chunk-size value \"%s\": expected a size such as 64MB (at least 8kB)", optarg);
            break;
        case 4: progress = 1; break;
        case 5: progress = 0; break;
        case 6: json = 1; break;
        case 20: encrypt = 1; break;
        case 21: passfile = optarg; break;
        case 30: repo = optarg; break;
        case 31:
            for (const char *p = optarg; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                    return cli_usage_error("dump", "invalid --tag \"%s\": no control characters", optarg);
            if (!*optarg || strlen(optarg) > 200)
                return cli_usage_error("dump", "invalid --tag \"%s\": 1 to 200 characters", optarg);
            o.tag = optarg;
            break;
        case 32: o.keep_forever = 1; break;
        case 33: profile_spec = optarg; break;
        case 34: o.globals = 1; break;
        case 40:
            if (!*optarg)
                return cli_usage_error("dump", "%s", "--exclude-table-data needs a pattern");
            cli_push(&o.filter.exclude_table_data, &o.filter.n_exclude_table_data, optarg);
            break;
        case 41: o.filter.no_unlogged_table_data = 1; break;
        case 42:
            if (!valid_lock_timeout(optarg))
                return cli_usage_error("dump", "invalid --lock-wait-timeout value \"%s\": expected milliseconds "
                                               "or a duration such as 30s, 500ms or 2min", optarg);
            o.lock_wait_timeout = optarg;
            break;
        case CLI_OPT_HELP: fputs(dump_help, stdout); return 0;
        default: return cli_option_error("dump", c, argv, dump_help);
        }
    }
    /* the database as the last argument, as pg_dump takes it (not with -d, as pg_dump) */
    if (optind < argc && !cc.conninfo) {
        cc.conninfo = cli_take_conninfo(argv[optind++]);
        cc.conn_opt = "DBNAME";
    }
    if (optind < argc)
        return cli_usage_error("dump", cc.conn_opt[0] == '-' && cc.conninfo
                                           ? "unexpected argument \"%s\" (the database is already given by -d)"
                                           : "unexpected argument \"%s\"", argv[optind]);
    if (!o.dir && !repo)
        return cli_usage_error("dump", "%s", "missing -f DIR (or --repo REPO)");
    if (o.dir && repo)
        return cli_usage_error("dump", "%s", "-f and --repo cannot be used together");
    char err[PF_ERRLEN];
    io_mode io; /* checked now; the store reads it when it opens */
    if (io_mode_from_env(&io, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry dump: %s\n", err);
        return EXIT_USAGE;
    }
    if (passfile && !encrypt)
        return cli_usage_error("dump", "%s", "--passphrase-file goes with --encrypt");
    profile *prof = NULL;
    if (profile_spec && !(prof = cli_keep(NULL, profile_load(profile_spec, err, sizeof err)))) {
        fprintf(stderr, "pgferry dump: --profile: %s\n", err);
        return EXIT_USAGE;
    }
    o.profile = prof;
    if (encrypt) {
        if (cli_passphrase("dump", passfile, &passphrase) < 0)
            return 1;
        if (!passphrase) {
            fprintf(stderr, "pgferry dump: --encrypt needs a passphrase: --passphrase-file FILE or PGFERRY_PASSPHRASE\n");
            return EXIT_USAGE;
        }
        o.passphrase = passphrase;
    }
    char *conninfo; /* last of the checks: -W asks for the password */
    /* without a database named: PGDATABASE or libpq's default, as pg_dump */
    if ((rc = cli_conn_build("dump", &cc, 0, &conninfo)) != 0) {
        cli_forget(passphrase);
        return rc;
    }
    o.conninfo = conninfo;
    o.progress = progress ? cli_dump_progress : NULL;
    o.interrupted = &cli_interrupted;
    cli_install_signals();
    dump_summary s;
    repo_slot slot;
    memset(&slot, 0, sizeof slot);
    if (repo) { /* REPO/<label>, locked for the whole run so prune and status know */
        time_t now;
        if (repo_now(&now, err, sizeof err) < 0 || repo_slot_begin(repo, now, &slot, err, sizeof err) < 0) {
            fprintf(stderr, "pgferry dump: %s\n", err);
            cli_forget(passphrase);
            return 1;
        }
        o.dir = slot.dir;
    }
    rc = dump_to_dir(&o, &s, err, sizeof err);
    repo_slot_end(&slot);
    cli_forget(passphrase);
    profile_free(prof);
    free(o.filter.include_tables);
    free(o.filter.exclude_tables);
    free(o.filter.include_schemas);
    free(o.filter.exclude_schemas);
    free(o.filter.exclude_table_data);
    if (rc < 0)
        return cli_fail("dump", json, err);
    if (json) {
        json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s}",
                              "ok", 1, "dir", o.dir, "snapshot", s.snapshot_id, "snapshot_lsn", s.snapshot_lsn,
                              "tables", (json_int_t)s.tables, "chunks", (json_int_t)s.chunks,
                              "rows", (json_int_t)s.rows, "raw_bytes", (json_int_t)s.raw_bytes,
                              "stored_bytes", (json_int_t)s.stored_bytes, "sequences", (json_int_t)s.sequences,
                              "large_objects", (json_int_t)s.large_objects,
                              "reconnects", (json_int_t)s.reconnects, "dump_seconds", s.seconds,
                              "writer", s.used_uring ? "io_uring" : "plain");
        json_object_set_new(j, "dir", cli_json_path(o.dir));
        json_object_set_new(j, "repo", cli_json_path(repo));
        /* the server's side of the cost: CPU of the dump's backends, per GB of COPY data */
        json_object_set_new(j, "server_cpu_seconds", s.server_cpu_seconds >= 0 ? json_real(s.server_cpu_seconds) : json_null());
        json_object_set_new(j, "server_cpu_seconds_per_gb",
                            s.server_cpu_seconds >= 0 && s.raw_bytes > 0
                                ? json_real(s.server_cpu_seconds / ((double)s.raw_bytes / 1e9))
                                : json_null());
        cli_json_print(j);
    } else if (progress) {
        char a[32], b[32];
        fprintf(stderr, "dump: %llu tables, %llu chunks, %llu rows, %s raw -> %s stored in %.1f s (%s)\n",
                (unsigned long long)s.tables, (unsigned long long)s.chunks, (unsigned long long)s.rows,
                pf_fmt_bytes(s.raw_bytes, a, sizeof a), pf_fmt_bytes(s.stored_bytes, b, sizeof b),
                s.seconds, o.dir);
    }
    return 0;
}

