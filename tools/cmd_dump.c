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
#include "tools/cli_log.h"

#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

typedef struct {
    dump_options o;
    cli_conn cc;
    int json, encrypt;
    const char *passfile, *repo, *profile_spec;
    repo_slot slot; /* --repo: the new backup (o.dir points into it, so it lives here) */
} dump_args;

/* --tag: what the manifest and 'list --repo' show, one line. */
static int check_tag(const char *tag)
{
    for (const char *p = tag; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return cli_usage_error("dump", "invalid --tag \"%s\": no control characters", tag);
    if (!*tag || strlen(tag) > 200)
        return cli_usage_error("dump", "invalid --tag \"%s\": 1 to 200 characters", tag);
    return CLI_RUN;
}

/* The options whose value is checked; CLI_RUN, or the exit code of a usage error. */
static int dump_value(dump_options *o, int c, char *arg)
{
    switch (c) {
    case 'j':
        if (cli_parse_jobs(arg, &o->jobs) < 0)
            return cli_usage_error("dump", "invalid --jobs value \"%s\": expected 1 to 256", arg);
        break;
    case OPT_COMPRESS:
        if (parse_compress(arg, &o->codec, &o->level) < 0)
            return cli_usage_error("dump", "invalid --compress value \"%s\": expected zstd, zstd:LEVEL (1-19, -7..-1) or none", arg);
        break;
    case OPT_LAYOUT:
        if (strcmp(arg, "columns") != 0 && strcmp(arg, "rows") != 0)
            return cli_usage_error("dump", "invalid --layout value \"%s\": expected columns or rows", arg);
        o->row_layout = strcmp(arg, "rows") == 0;
        break;
    case OPT_FORMAT:
        if (strcmp(arg, "binary") != 0 && strcmp(arg, "text") != 0)
            return cli_usage_error("dump", "invalid --format value \"%s\": expected binary or text", arg);
        o->text_format = strcmp(arg, "text") == 0;
        break;
    case OPT_CHUNK_SIZE:
        if (pf_parse_size(arg, &o->chunk_size) < 0 || o->chunk_size < 8192)
            return cli_usage_error("dump", "invalid --chunk-size value \"%s\": expected a size such as 64MB (at least 8kB)", arg);
        break;
    case OPT_TAG:
        o->tag = arg;
        return check_tag(arg);
    case OPT_EXCLUDE_TABLE_DATA:
        if (!*arg)
            return cli_usage_error("dump", "%s", "--exclude-table-data needs a pattern");
        cli_push(&o->filter.exclude_table_data, &o->filter.n_exclude_table_data, arg);
        break;
    case OPT_LOCK_WAIT_TIMEOUT:
        if (!valid_lock_timeout(arg))
            return cli_usage_error("dump", "invalid --lock-wait-timeout value \"%s\": expected milliseconds "
                                           "or a duration such as 30s, 500ms or 2min", arg);
        o->lock_wait_timeout = arg;
        break;
    }
    return CLI_RUN;
}

/* One option (c is cli_getopt's return); CLI_RUN, or the exit code. */
static int dump_option(dump_args *a, int c, char **argv)
{
    catalog_filter *f = &a->o.filter;
    if (cli_log_option(c, optarg))
        return CLI_RUN;
    switch (c) {
    case 'd': a->cc.conninfo = cli_take_conninfo(optarg); break;
    case 'h': case 'p': case 'U': case 'w': case 'W': {
        int rc = cli_conn_option("dump", &a->cc, c, optarg);
        return rc ? rc : CLI_RUN;
    }
    case 'f': a->o.dir = optarg; break;
    case 't': cli_push(&f->include_tables, &f->n_include_tables, optarg); break;
    case 'T': cli_push(&f->exclude_tables, &f->n_exclude_tables, optarg); break;
    case 'n': cli_push(&f->include_schemas, &f->n_include_schemas, optarg); break;
    case 'N': cli_push(&f->exclude_schemas, &f->n_exclude_schemas, optarg); break;
    case OPT_JSON: a->json = 1; break;
    case OPT_ENCRYPT: a->encrypt = 1; break;
    case OPT_PASSPHRASE_FILE: a->passfile = optarg; break;
    case OPT_REPO: a->repo = optarg; break;
    case OPT_KEEP_FOREVER: a->o.keep_forever = 1; break;
    case OPT_PROFILE: a->profile_spec = optarg; break;
    case OPT_GLOBALS: a->o.globals = 1; break;
    case OPT_NO_UNLOGGED_TABLE_DATA: f->no_unlogged_table_data = 1; break;
    case OPT_HELP: return cli_help("dump");
    case ':': case '?': return cli_option_error("dump", c, argv);
    default: return dump_value(&a->o, c, optarg);
    }
    return CLI_RUN;
}

/* The command line into a; CLI_RUN, or the exit code (0 after --help). */
static int dump_parse(dump_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->o.jobs = 2;
    a->o.codec = CHUNK_CODEC_ZSTD;
    a->o.level = 1;
    a->o.chunk_size = DUMP_DEFAULT_CHUNK_SIZE;
    a->cc.conn_opt = "-d";
    cli_log_init("dump");
    int c, rc;
    while ((c = cli_getopt(cli_find_command("dump"), argc, argv)) != -1)
        if ((rc = dump_option(a, c, argv)) != CLI_RUN)
            return rc;
    /* the database as the last argument, as pg_dump takes it (not with -d, as pg_dump) */
    if (optind < argc && !a->cc.conninfo) {
        a->cc.conninfo = cli_take_conninfo(argv[optind++]);
        a->cc.conn_opt = "DBNAME";
    }
    if (optind < argc)
        return cli_usage_error("dump", a->cc.conn_opt[0] == '-' && a->cc.conninfo
                                           ? "unexpected argument \"%s\" (the database is already given by -d)"
                                           : "unexpected argument \"%s\"", argv[optind]);
    if (!a->o.dir && !a->repo)
        return cli_usage_error("dump", "%s", "missing -f DIR (or --repo REPO)");
    if (a->o.dir && a->repo)
        return cli_usage_error("dump", "%s", "-f and --repo cannot be used together");
    if (a->passfile && !a->encrypt)
        return cli_usage_error("dump", "%s", "--passphrase-file goes with --encrypt");
    return cli_log_open();
}

/* What the run needs beyond the command line: the I/O mode checked, the profile, the
 * passphrase, and last the connection string (-W asks for the password). CLI_RUN, or the
 * exit code after the error was printed. */
static int dump_prepare(dump_args *a, char **passphrase)
{
    char err[PF_ERRLEN];
    io_mode io; /* checked now; the store reads it when it opens */
    if (io_mode_from_env(&io, err, sizeof err) < 0) {
        fprintf(stderr, "pgferry dump: %s\n", err);
        return EXIT_USAGE;
    }
    if (a->profile_spec && !(a->o.profile = cli_keep(NULL, profile_load(a->profile_spec, err, sizeof err)))) {
        fprintf(stderr, "pgferry dump: --profile: %s\n", err);
        return EXIT_USAGE;
    }
    if (a->encrypt) {
        if (cli_passphrase("dump", a->passfile, passphrase) < 0)
            return 1;
        if (!*passphrase) {
            fprintf(stderr, "pgferry dump: --encrypt needs a passphrase: --passphrase-file FILE or PGFERRY_PASSPHRASE\n");
            return EXIT_USAGE;
        }
        a->o.passphrase = *passphrase;
    }
    char *conninfo;
    /* without a database named: PGDATABASE or libpq's default, as pg_dump */
    int rc = cli_conn_build("dump", &a->cc, 0, &conninfo);
    if (rc != 0)
        return rc;
    a->o.conninfo = conninfo;
    return CLI_RUN;
}

static void dump_print_json(const dump_options *o, const char *repo, const dump_summary *s)
{
    json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s}",
                          "ok", 1, "dir", o->dir, "snapshot", s->snapshot_id, "snapshot_lsn", s->snapshot_lsn,
                          "tables", (json_int_t)s->tables, "chunks", (json_int_t)s->chunks,
                          "rows", (json_int_t)s->rows, "raw_bytes", (json_int_t)s->raw_bytes,
                          "stored_bytes", (json_int_t)s->stored_bytes, "sequences", (json_int_t)s->sequences,
                          "large_objects", (json_int_t)s->large_objects,
                          "reconnects", (json_int_t)s->reconnects, "dump_seconds", s->seconds,
                          "writer", s->used_uring ? "io_uring" : "plain");
    json_object_set_new(j, "dir", cli_json_path(o->dir));
    json_object_set_new(j, "repo", cli_json_path(repo));
    /* the server's side of the cost: CPU of the dump's backends, per GB of COPY data */
    json_object_set_new(j, "server_cpu_seconds", s->server_cpu_seconds >= 0 ? json_real(s->server_cpu_seconds) : json_null());
    json_object_set_new(j, "server_cpu_seconds_per_gb",
                        s->server_cpu_seconds >= 0 && s->raw_bytes > 0
                            ? json_real(s->server_cpu_seconds / ((double)s->raw_bytes / 1e9))
                            : json_null());
    cli_json_print(j);
}

/* The dump itself, into -f DIR or a new slot of --repo (locked for the whole run so prune
 * and status know); 0, or -1 with err (-2: the repository's slot could not be made). */
static int dump_into(dump_args *a, dump_summary *s, char *err, size_t errlen)
{
    if (a->repo) {
        time_t now;
        if (repo_now(&now, err, errlen) < 0 || repo_slot_begin(a->repo, now, &a->slot, err, errlen) < 0)
            return -2;
        a->o.dir = a->slot.dir;
    }
    int rc = dump_to_dir(&a->o, s, err, errlen);
    repo_slot_end(&a->slot);
    return rc;
}

static void dump_free(dump_args *a, char *passphrase)
{
    cli_forget(passphrase);
    profile_free((profile *)a->o.profile);
    cli_filter_free(&a->o.filter);
}

int cmd_dump(int argc, char **argv)
{
    dump_args a;
    char *passphrase = NULL, err[PF_ERRLEN];
    int rc = dump_parse(&a, argc, argv);
    if (rc == CLI_RUN)
        rc = dump_prepare(&a, &passphrase);
    if (rc != CLI_RUN) {
        cli_forget(passphrase);
        return rc;
    }
    a.o.progress = cli_log_wants_progress() ? cli_dump_progress : NULL;
    a.o.job_done = cli_log_verbose() ? cli_log_job : NULL;
    a.o.interrupted = &cli_interrupted;
    cli_install_signals();
    dump_summary s;
    int drc = dump_into(&a, &s, err, sizeof err);
    dump_free(&a, passphrase);
    if (drc == -2) {
        cli_log_error("pgferry dump: %s", err);
        return 1;
    }
    if (drc < 0)
        return cli_fail("dump", a.json, err);
    if (a.json) {
        dump_print_json(&a.o, a.repo, &s);
    } else {
        char b1[32], b2[32];
        cli_log_info("dump: %llu tables, %llu chunks, %llu rows, %s raw -> %s stored in %.1f s (%s)",
                (unsigned long long)s.tables, (unsigned long long)s.chunks, (unsigned long long)s.rows,
                pf_fmt_bytes(s.raw_bytes, b1, sizeof b1), pf_fmt_bytes(s.stored_bytes, b2, sizeof b2),
                s.seconds, a.o.dir);
    }
    return 0;
}
