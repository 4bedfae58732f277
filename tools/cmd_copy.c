/* pgferry copy */
#include "common/pf_util.h"
#include "engine/copy.h"
#include "engine/profile.h"
#include "tools/cli.h"
#include "tools/cli_log.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    copy_options o;
    cli_conn src, dst;
    int json;
    const char *profile_spec;
} copy_args;

/* One option (c is cli_getopt's return); CLI_RUN, or the exit code. */
static int copy_option(copy_args *a, int c, char **argv)
{
    catalog_filter *f = &a->o.filter;
    int rc;
    if (cli_log_option(c, optarg))
        return CLI_RUN;
    switch (c) {
    case OPT_SOURCE: a->src.conninfo = cli_take_conninfo(optarg); break;
    case OPT_TARGET: a->dst.conninfo = cli_take_conninfo(optarg); break;
    case 'h': case 'p': case 'U': case 'w': case 'W':
        if ((rc = cli_conn_option("copy", &a->src, c, optarg)) != 0 ||
            (rc = cli_conn_option("copy", &a->dst, c, optarg)) != 0)
            return rc;
        break;
    case 'j':
        if (cli_parse_jobs(optarg, &a->o.jobs) < 0)
            return cli_usage_error("copy", "invalid --jobs value \"%s\": expected 1 to 256", optarg);
        break;
    case OPT_CREATE: a->o.create = 1; break;
    case 't': cli_push(&f->include_tables, &f->n_include_tables, optarg); break;
    case 'T': cli_push(&f->exclude_tables, &f->n_exclude_tables, optarg); break;
    case 'n': cli_push(&f->include_schemas, &f->n_include_schemas, optarg); break;
    case 'N': cli_push(&f->exclude_schemas, &f->n_exclude_schemas, optarg); break;
    case OPT_PROFILE: a->profile_spec = optarg; break;
    case OPT_GLOBALS: a->o.globals = 1; break;
    case OPT_RESUME: a->o.resume = 1; break;
    case OPT_JSON: a->json = 1; break;
    case OPT_KEEP_DUMP:
        if (!*optarg)
            return cli_usage_error("copy", "%s", "--keep-dump needs a directory");
        a->o.keep_dump = optarg;
        break;
    case OPT_HELP: return cli_help("copy");
    default: return cli_option_error("copy", c, argv);
    }
    return CLI_RUN;
}

/* The command line into a: 0 to go on, -1 after --help, else the exit code. */
static int parse_args(int argc, char **argv, copy_args *a)
{
    int c, rc;
    while ((c = cli_getopt(cli_find_command("copy"), argc, argv)) != -1)
        if ((rc = copy_option(a, c, argv)) != CLI_RUN)
            return rc == 0 ? -1 : rc;
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

int cmd_copy(int argc, char **argv)
{
    copy_args a;
    memset(&a, 0, sizeof a);
    a.o.jobs = 2;
    a.src.conn_opt = "--source";
    cli_log_init("copy");
    a.dst.conn_opt = "--target";
    int rc = parse_args(argc, argv, &a);
    if (rc == 0 && (rc = cli_log_open()) == CLI_RUN)
        rc = 0;
    if (rc != 0) {
        cli_filter_free(&a.o.filter);
        return rc < 0 ? 0 : rc;
    }
    char *source, *target, err[PF_ERRLEN];
    profile *prof = NULL;
    if ((rc = cli_conn_build("copy", &a.src, 0, &source)) != 0 || (rc = cli_conn_build("copy", &a.dst, 1, &target)) != 0) {
        cli_filter_free(&a.o.filter);
        return rc;
    }
    if (a.profile_spec && !(prof = profile_load(a.profile_spec, err, sizeof err))) {
        cli_log_error("pgferry copy: --profile: %s", err);
        cli_filter_free(&a.o.filter);
        return EXIT_USAGE;
    }
    a.o.source = source;
    a.o.target = target;
    a.o.profile = prof;
    a.o.progress = cli_log_wants_progress() ? cli_restore_progress : NULL;
    a.o.job_done = cli_log_verbose() ? cli_log_job : NULL;
    a.o.notice = cli_notice;
    a.o.interrupted = &cli_interrupted;
    cli_install_signals();
    copy_summary s;
    rc = copy_run(&a.o, &s, err, sizeof err);
    profile_free(prof);
    cli_filter_free(&a.o.filter);
    if (rc < 0) {
        copy_summary_free(&s);
        return cli_fail("copy", a.json, err);
    }
    if (a.json) {
        print_json(&s, a.o.keep_dump);
    } else {
        char b[32];
        cli_log_info("copy: %llu tables, %llu rows, %s into %s in %.1f s; every table verified equal to the source",
                (unsigned long long)s.load.tables, (unsigned long long)s.load.rows,
                pf_fmt_bytes(s.load.raw_bytes, b, sizeof b), s.load.database, s.seconds);
    }
    copy_summary_free(&s);
    return 0;
}
