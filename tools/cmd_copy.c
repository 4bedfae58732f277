/* pgferry copy */
#include "common/pf_util.h"
#include "engine/copy.h"
#include "engine/profile.h"
#include "tools/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const copy_help =
    "Usage: pgferry copy [OPTIONS] --source CONNINFO --target CONNINFO\n"
    "\n"
    "Copies a database into another in one pass, with no files in between: the source is\n"
    "read in one snapshot, each chunk streamed from its COPY TO straight into a COPY FROM on\n"
    "the target (binary where the types allow), by the restore's scheduler: N workers, a\n"
    "table's indexes and constraints as soon as its rows are in, sequences, large objects\n"
    "and ANALYZE. Each chunk's rows and content hash as sent are checked against what the\n"
    "source's COPY gave, and the rows the target took against the rows sent, before it\n"
    "commits; at the end every table of the target is read back and compared with the\n"
    "source's snapshot. Every load commits with a row in the target's _pgferry.journal, so\n"
    "--resume finishes an interrupted copy.\n"
    "\n"
    "      --source=CONNINFO     the database to copy (a name, key=value pairs or a URI)\n"
    "      --target=CONNINFO     the database to copy into; it must name its database and be\n"
    "                            empty (or not exist yet, with --create)\n"
    "  -j, --jobs=N              parallel workers (default 2)\n"
    "      --create              create the target database first, as the source's\n"
    "  -t, --table=PATTERN       copy only matching tables (repeatable, as pg_dump)\n"
    "  -T, --exclude-table=PATTERN  leave matching tables out (repeatable)\n"
    "  -n, --schema=PATTERN      copy only matching schemas (repeatable)\n"
    "  -N, --exclude-schema=PATTERN  leave matching schemas out (repeatable)\n"
    "      --profile=NAME|FILE   a managed platform's profile (built in: supabase): what the\n"
    "                            platform owns is neither read nor written\n"
    "      --globals             create the roles and tablespaces the copied objects use that\n"
    "                            the target lacks\n"
    "      --keep-dump=DIR       also write a dump of the source into DIR (new or empty, or\n"
    "                            s3://BUCKET/PREFIX) from the same reads: one pass, two\n"
    "                            destinations; its manifest is written once the copy is\n"
    "                            verified (restore it with pgferry restore)\n"
    "      --resume              finish an interrupted copy into the same target (a new\n"
    "                            snapshot of the source is read; see the README)\n"
    "      --progress            show a progress line even when stderr is not a terminal\n"
    "      --no-progress         never show progress\n"
    "      --json                print a JSON summary on stdout\n"
    "  -?, --help                this help\n"
    "\n"
    "Connection options (for both databases, where their strings leave them unset):\n"
    "  -h, --host=HOST           server host name or socket directory\n"
    "  -p, --port=PORT           server port\n"
    "  -U, --username=NAME       role to connect as\n"
    "  -w, --no-password         never ask for a password (the default)\n"
    "\n"
    "Exit codes: 0 copied and verified, 1 failed (what committed is kept; --resume finishes\n"
    "it), 2 usage error, 130 interrupted.\n";

typedef struct {
    copy_options o;
    cli_conn src, dst;
    int progress, json;
    const char *profile_spec;
} copy_args;

static int parse_args(int argc, char **argv, copy_args *a)
{
    static const struct option opts[] = {
        {"source", required_argument, NULL, 1},        {"target", required_argument, NULL, 2},
        {"jobs", required_argument, NULL, 'j'},        {"create", no_argument, NULL, 3},
        {"table", required_argument, NULL, 't'},       {"exclude-table", required_argument, NULL, 'T'},
        {"schema", required_argument, NULL, 'n'},      {"exclude-schema", required_argument, NULL, 'N'},
        {"profile", required_argument, NULL, 4},       {"globals", no_argument, NULL, 5},
        {"resume", no_argument, NULL, 6},              {"progress", no_argument, NULL, 7},
        {"no-progress", no_argument, NULL, 8},         {"json", no_argument, NULL, 9},
        {"help", no_argument, NULL, CLI_OPT_HELP},     {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},        {"username", required_argument, NULL, 'U'},
        {"no-password", no_argument, NULL, 'w'},       {"keep-dump", required_argument, NULL, 10},
        {NULL, 0, NULL, 0}};
    catalog_filter *f = &a->o.filter;
    int c, rc;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":j:t:T:n:N:h:p:U:w", opts, NULL)) != -1) {
        switch (c) {
        case 1: a->src.conninfo = cli_take_conninfo(optarg); break;
        case 2: a->dst.conninfo = cli_take_conninfo(optarg); break;
        case 'h': case 'p': case 'U': case 'w':
            if ((rc = cli_conn_option("copy", &a->src, c, optarg)) != 0 ||
                (rc = cli_conn_option("copy", &a->dst, c, optarg)) != 0)
                return rc;
            break;
        case 'j':
            if (cli_parse_jobs(optarg, &a->o.jobs) < 0)
                return cli_usage_error("copy", "invalid --jobs value \"%s\": expected 1 to 256", optarg);
            break;
        case 3: a->o.create = 1; break;
        case 't': cli_push(&f->include_tables, &f->n_include_tables, optarg); break;
        case 'T': cli_push(&f->exclude_tables, &f->n_exclude_tables, optarg); break;
        case 'n': cli_push(&f->include_schemas, &f->n_include_schemas, optarg); break;
        case 'N': cli_push(&f->exclude_schemas, &f->n_exclude_schemas, optarg); break;
        case 4: a->profile_spec = optarg; break;
        case 5: a->o.globals = 1; break;
        case 6: a->o.resume = 1; break;
        case 7: a->progress = 1; break;
        case 8: a->progress = 0; break;
        case 9: a->json = 1; break;
        case 10:
            if (!*optarg)
                return cli_usage_error("copy", "%s", "--keep-dump needs a directory");
            a->o.keep_dump = optarg;
            break;
        case CLI_OPT_HELP: fputs(copy_help, stdout); return -1;
        default: return (rc = cli_option_error("copy", c, argv, copy_help)) == 0 ? -1 : rc;
        }
    }
    if (optind < argc)
        return cli_usage_error("copy", "unexpected argument \"%s\" (the databases are --source and --target)",
                               argv[optind]);
    if (!a->src.conninfo)
        return cli_usage_error("copy", "%s", "missing --source CONNINFO");
    if (!a->dst.conninfo)
        return cli_usage_error("copy", "%s", "missing --target CONNINFO");
    return 0;
}

static void print_json(const copy_summary *s, const char *keep_dump)
{
    const restore_summary *r = &s->load;
    json_t *tables = json_array();
    for (size_t i = 0; i < s->verify.ntables; i++) {
        const verify_db_table *t = &s->verify.tables[i];
        json_array_append_new(tables, json_pack("{s:s, s:s, s:I, s:s}", "schema", t->schema, "name", t->name, "rows",
                                                (json_int_t)t->db_rows, "status", verify_db_status_text(t->status)));
    }
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:f, s:f, s:f, s:f, s:f, s:f}}",
                          "database", r->database, "snapshot", s->snapshot, "tables", (json_int_t)r->tables,
                          "chunks", (json_int_t)r->chunks, "chunks_skipped", (json_int_t)r->chunks_skipped,
                          "rows", (json_int_t)r->rows, "raw_bytes", (json_int_t)r->raw_bytes,
                          "post_data_entries", (json_int_t)r->entries, "reconnects", (json_int_t)r->reconnects,
                          "phase_seconds", "total", s->seconds, "pre_data", r->t_pre, "data", r->t_data,
                          "indexes_constraints", r->t_post, "finish", r->t_finish, "verify", s->verify_seconds);
    json_object_set_new(j, "keep_dump", cli_json_path(keep_dump));
    json_object_set_new(j, "verified", tables);
    cli_json_print(j);
}

static void free_filter(catalog_filter *f)
{
    free(f->include_tables);
    free(f->exclude_tables);
    free(f->include_schemas);
    free(f->exclude_schemas);
}

int cmd_copy(int argc, char **argv)
{
    copy_args a;
    memset(&a, 0, sizeof a);
    a.o.jobs = 2;
    a.progress = isatty(2);
    a.src.conn_opt = "--source";
    a.dst.conn_opt = "--target";
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        free_filter(&a.o.filter);
        return rc < 0 ? 0 : rc;
    }
    char *source, *target, err[PF_ERRLEN];
    profile *prof = NULL;
    if ((rc = cli_conn_build("copy", &a.src, 0, &source)) != 0 || (rc = cli_conn_build("copy", &a.dst, 1, &target)) != 0) {
        free_filter(&a.o.filter);
        return rc;
    }
    if (a.profile_spec && !(prof = profile_load(a.profile_spec, err, sizeof err))) {
        fprintf(stderr, "pgferry copy: --profile: %s\n", err);
        free_filter(&a.o.filter);
        return EXIT_USAGE;
    }
    a.o.source = source;
    a.o.target = target;
    a.o.profile = prof;
    a.o.progress = a.progress ? cli_restore_progress : NULL;
    a.o.notice = cli_notice;
    a.o.interrupted = &cli_interrupted;
    cli_install_signals();
    copy_summary s;
    rc = copy_run(&a.o, &s, err, sizeof err);
    profile_free(prof);
    free_filter(&a.o.filter);
    if (rc < 0) {
        copy_summary_free(&s);
        return cli_fail("copy", a.json, err);
    }
    if (a.json) {
        print_json(&s, a.o.keep_dump);
    } else if (a.progress) {
        char b[32];
        fprintf(stderr, "copy: %llu tables, %llu rows, %s into %s in %.1f s; every table verified equal to the source\n",
                (unsigned long long)s.load.tables, (unsigned long long)s.load.rows,
                pf_fmt_bytes(s.load.raw_bytes, b, sizeof b), s.load.database, s.seconds);
    }
    copy_summary_free(&s);
    return 0;
}
