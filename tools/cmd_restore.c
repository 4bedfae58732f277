/* pgferry restore */
#include "common/pf_util.h"
#include "engine/profile.h"
#include "engine/restore.h"
#include "io/pf_io.h"
#include "tools/cli.h"
#include "tools/cli_log.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

typedef struct {
    restore_options o;
    cli_conn cc;
    repo_cli_sel sel;
    int json, have_f;
    const char *passfile, *profile_spec;
} restore_args;

/* --rename-table OLD=NEW (arg is an argv element, split in place). */
static int add_rename(restore_options *o, char *arg)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return cli_usage_error("restore", "invalid --rename-table value \"%s\": expected OLD=NEW", arg);
    restore_rename *rn = realloc(o->renames, (o->nrenames + 1) * sizeof *rn);
    if (!rn)
        return 1;
    cli_keep(o->renames, rn);
    o->renames = rn;
    *eq = '\0';
    o->renames[o->nrenames].from = arg;
    o->renames[o->nrenames].to = eq + 1;
    o->nrenames++;
    return CLI_RUN;
}

/* The options whose value is checked; CLI_RUN, or the exit code of a usage error. */
static int restore_value(restore_options *o, int c, char *arg)
{
    switch (c) {
    case OPT_SECTION:
        if (parse_section(arg, &o->sections) < 0)
            return cli_usage_error("restore", "invalid --section value \"%s\": expected pre-data, data or post-data", arg);
        break;
    case OPT_MAINTENANCE_MEMORY:
        if (pf_parse_size(arg, &o->maintenance_memory) < 0 || o->maintenance_memory < (1u << 20))
            return cli_usage_error("restore", "invalid --maintenance-memory value \"%s\": expected a size such as 1GB (at least 1MB)", arg);
        break;
    case 'j':
        if (cli_parse_jobs(arg, &o->jobs) < 0)
            return cli_usage_error("restore", "invalid --jobs value \"%s\": expected 1 to 256", arg);
        break;
    case OPT_RENAME_TABLE: return add_rename(o, arg);
    case OPT_INTO_SCHEMA:
        if (!*arg)
            return cli_usage_error("restore", "%s", "--into-schema needs a schema name");
        o->into_schema = arg;
        break;
    }
    return CLI_RUN;
}

/* The flags and plain values; 0 when c is none of them. */
static int restore_flag(restore_args *a, int c, char *arg)
{
    restore_options *o = &a->o;
    switch (c) {
    case 'f': o->dir = arg; a->have_f = 1; break;
    case 'd': a->cc.conninfo = cli_take_conninfo(arg); break;
    case 'T': cli_push(&o->exclude_tables, &o->nexclude_tables, arg); break;
    case 'N': cli_push(&o->exclude_schemas, &o->nexclude_schemas, arg); break;
    case 't': cli_push(&o->tables, &o->ntables, arg); break;
    case 'n': cli_push(&o->schemas, &o->nschemas, arg); break;
    case OPT_DISABLE_TRIGGERS: o->disable_triggers = 1; break;
    case OPT_PROFILE: a->profile_spec = arg; break;
    case OPT_GLOBALS: o->globals = 1; break;
    case OPT_KEEP_GRANTS: o->keep_grants = 1; break;
    case OPT_TRACE: o->trace_path = arg; break;
    case OPT_CREATE: o->create = 1; break;
    case OPT_CLEAN: o->clean = 1; break;
    case OPT_SCHEMA_ONLY: o->schema_only = 1; break;
    case OPT_DATA_ONLY: o->data_only = 1; break;
    case OPT_RESUME: o->resume = 1; break;
    case OPT_NO_OWNER: o->no_owner = 1; break;
    case OPT_NO_ACL: o->no_acl = 1; break;
    case OPT_JSON: a->json = 1; break;
    case OPT_PASSPHRASE_FILE: a->passfile = arg; break;
    case OPT_NO_ANALYZE: o->no_analyze = 1; break;
    case OPT_REPO: case OPT_AS_OF: case OPT_BACKUP: repo_cli_option(&a->sel, c, arg); break;
    default: return 0;
    }
    return 1;
}

/* One option (c is cli_getopt's return); CLI_RUN, or the exit code. */
static int restore_option(restore_args *a, int c, char **argv)
{
    if (restore_flag(a, c, optarg) || cli_log_option(c, optarg))
        return CLI_RUN;
    switch (c) {
    case 'h': case 'p': case 'U': case 'w': case 'W': {
        int rc = cli_conn_option("restore", &a->cc, c, optarg);
        return rc ? rc : CLI_RUN;
    }
    case OPT_HELP: return cli_help("restore");
    case ':': case '?': return cli_option_error("restore", c, argv);
    default: return restore_value(&a->o, c, optarg);
    }
}

/* The command line into a; CLI_RUN, or the exit code (0 after --help). */
static int restore_parse(restore_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->o.jobs = 2;
    a->cc.conn_opt = "-d";
    cli_log_init("restore");
    int c, rc;
    while ((c = cli_getopt(cli_find_command("restore"), argc, argv)) != -1)
        if ((rc = restore_option(a, c, argv)) != CLI_RUN)
            return rc;
    /* the dump as the last argument, as pg_restore takes its archive */
    if (optind < argc && !a->o.dir)
        a->o.dir = argv[optind++];
    if (optind < argc)
        return cli_usage_error("restore", a->have_f ? "unexpected argument \"%s\" (the dump is already given by -f)"
                                                    : "unexpected argument \"%s\"", argv[optind]);
    if (!a->o.dir && !repo_cli_any(&a->sel))
        return cli_usage_error("restore", "%s", "missing the dump: -f DIR, DIR or --repo REPO --as-of TIME");
    if (a->o.schema_only && a->o.data_only)
        return cli_usage_error("restore", "%s", "--schema-only and --data-only exclude each other");
    if (a->o.clean && a->o.data_only)
        return cli_usage_error("restore", "%s", "--clean and --data-only exclude each other");
    if (a->o.trace_path && (rc = cli_check_output("restore", "--trace", a->o.trace_path)) != 0)
        return rc;
    return cli_log_open();
}

/* The backup resolved in its repository, the I/O mode checked, the connection string (a
 * restore names its target: never libpq's default database), the profile and the
 * passphrase. CLI_RUN, or the exit code after the error was printed. */
static int restore_prepare(restore_args *a, char *repo_dir, size_t repo_dirlen, char **passphrase)
{
    char err[PF_ERRLEN], *conninfo;
    int rc;
    if ((rc = repo_cli_resolve("restore", &a->sel, a->o.dir, repo_dir, repo_dirlen, &a->o.dir)) != 0)
        return rc;
    io_mode io; /* checked now; the store reads it when it opens */
    if (io_mode_from_env(&io, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry restore: %s\n", err);
        return EXIT_USAGE;
    }
    if ((rc = cli_conn_build("restore", &a->cc, 1, &conninfo)) != 0)
        return rc;
    a->o.conninfo = conninfo;
    if (a->profile_spec && !(a->o.profile = profile_load(a->profile_spec, err, sizeof err))) {
        fprintf(stderr, "pgferry restore: --profile: %s\n", err);
        return EXIT_USAGE;
    }
    if (cli_passphrase("restore", a->passfile, passphrase) < 0) {
        profile_free((profile *)a->o.profile);
        return 1;
    }
    a->o.passphrase = *passphrase;
    return CLI_RUN;
}

static void restore_print_json(const restore_options *o, const restore_summary *s)
{
    json_t *j = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:f, s:f, s:f, s:f, s:f, s:f}}",
                          "ok", 1, "database", s->database, "tables", (json_int_t)s->tables,
                          "chunks", (json_int_t)s->chunks, "chunks_skipped", (json_int_t)s->chunks_skipped,
                          "rows", (json_int_t)s->rows, "raw_bytes", (json_int_t)s->raw_bytes,
                          "post_data_entries", (json_int_t)s->entries, "reconnects", (json_int_t)s->reconnects,
                          "phase_seconds", "total", s->seconds,
                          "checks", s->t_checks, "pre_data", s->t_pre, "data", s->t_data,
                          "indexes_constraints", s->t_post, "finish", s->t_finish);
    json_object_set_new(j, "dir", cli_json_path(o->dir));
    json_object_set_new(j, "trace", cli_json_path(o->trace_path));
    /* the server's CPU by phase, where the server is on this machine (else null) */
    json_t *cpu = json_object();
    const double v[4] = {s->cpu_pre, s->cpu_data, s->cpu_post, s->cpu_finish};
    const char *k[4] = {"pre_data", "data", "post_data", "finish"};
    for (int i = 0; i < 4; i++)
        json_object_set_new(cpu, k[i], v[i] >= 0 ? json_real(floor(v[i] * 100.0 + 0.5) / 100.0) : json_null());
    json_object_set_new(j, "server_cpu_seconds", cpu);
    cli_json_print(j);
}

static void restore_free(restore_options *o, char *passphrase)
{
    cli_forget(passphrase);
    profile_free((profile *)o->profile);
    free(o->tables);
    free(o->schemas);
    free(o->renames);
    free(o->exclude_tables);
    free(o->exclude_schemas);
}

int cmd_restore(int argc, char **argv)
{
    restore_args a;
    char repo_dir[4096], err[PF_ERRLEN], *passphrase = NULL;
    int rc = restore_parse(&a, argc, argv);
    if (rc == CLI_RUN)
        rc = restore_prepare(&a, repo_dir, sizeof repo_dir, &passphrase);
    if (rc != CLI_RUN)
        return rc;
    a.o.progress = cli_log_wants_progress() ? cli_restore_progress : NULL;
    a.o.job_done = cli_log_verbose() ? cli_log_job : NULL;
    a.o.notice = cli_notice;
    a.o.interrupted = &cli_interrupted;
    cli_install_signals();
    restore_summary s;
    rc = restore_run(&a.o, &s, err, sizeof err);
    restore_free(&a.o, passphrase);
    if (rc < 0)
        return cli_fail("restore", a.json, err);
    if (a.json) {
        restore_print_json(&a.o, &s);
    } else {
        char b[32];
        cli_log_info("restore: %llu tables, %llu chunks (%llu already in), %llu rows, %s into %s in %.1f s",
                (unsigned long long)s.tables, (unsigned long long)s.chunks,
                (unsigned long long)s.chunks_skipped, (unsigned long long)s.rows,
                pf_fmt_bytes(s.raw_bytes, b, sizeof b), s.database, s.seconds);
    }
    return 0;
}
