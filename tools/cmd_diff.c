/* pgferry diff */
#include "common/pf_util.h"
#include "engine/diff.h"
#include "tools/cli.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_only(const char *arg, int *kinds)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (strcmp(w, "deleted") == 0)
            *kinds |= DIFF_DELETED;
        else if (strcmp(w, "changed") == 0)
            *kinds |= DIFF_CHANGED;
        else if (strcmp(w, "added") == 0)
            *kinds |= DIFF_ADDED;
        else if (strcmp(w, "all") == 0)
            *kinds |= DIFF_DELETED | DIFF_CHANGED | DIFF_ADDED;
        else
            rc = -1;
    }
    if (!*arg)
        rc = -1;
    free(copy);
    return rc;
}

static int split_key(char *arg, const char ***out, size_t *n)
{
    char *save = NULL;
    for (char *w = strtok_r(arg, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        while (*w == ' ')
            w++;
        size_t l = strlen(w);
        while (l > 0 && w[l - 1] == ' ')
            w[--l] = '\0';
        if (!*w)
            return -1;
        cli_push(out, n, w);
    }
    return *n > 0 ? 0 : -1;
}

typedef struct {
    diff_options o;
    int json, kinds, have_f;
    const char *passfile, **tables, **key;
    size_t ntables, nkey;
    cli_conn cc;
    repo_cli_sel sel;
} diff_args;

/* The options whose value is checked; CLI_RUN, or the exit code of a usage error. */
static int diff_value(diff_args *a, int c, char *arg)
{
    switch (c) {
    case 't':
        if (!*arg)
            return cli_usage_error("diff", "%s", "--table needs a table name");
        cli_push(&a->tables, &a->ntables, arg);
        break;
    case 'j':
        if (cli_parse_jobs(arg, &a->o.jobs) < 0)
            return cli_usage_error("diff", "invalid --jobs value \"%s\": expected 1 to 256", arg);
        break;
    case OPT_KEY:
        if (a->key)
            return cli_usage_error("diff", "%s", "--key is given once, as a comma-separated list");
        if (split_key(arg, &a->key, &a->nkey) < 0)
            return cli_usage_error("diff", "invalid --key value \"%s\": expected column names separated by commas", arg);
        break;
    case OPT_SQL:
        if (!*arg)
            return cli_usage_error("diff", "%s", "--sql needs a file name (or - for standard output)");
        a->o.sql_path = arg;
        break;
    case OPT_ONLY:
        if (parse_only(arg, &a->kinds) < 0)
            return cli_usage_error("diff", "invalid --only value \"%s\": expected deleted, changed or all", arg);
        break;
    case OPT_WORK_MEM:
        if (pf_parse_size(arg, &a->o.work_mem) < 0 || a->o.work_mem < (1u << 20))
            return cli_usage_error("diff", "invalid --work-mem value \"%s\": expected a size such as 32MB (at least 1MB)", arg);
        break;
    }
    return CLI_RUN;
}

/* One option (c is cli_getopt's return); CLI_RUN, or the exit code. */
static int diff_option(diff_args *a, int c, char **argv)
{
    switch (c) {
    case 'f': a->o.dir = optarg; a->have_f = 1; break;
    case 'd': a->cc.conninfo = cli_take_conninfo(optarg); break;
    case OPT_CASCADE: a->o.cascade = 1; break;
    case OPT_JSON: a->json = 1; break;
    case OPT_PASSPHRASE_FILE: a->passfile = optarg; break;
    case 'h': case 'p': case 'U': case 'w': case 'W': {
        int rc = cli_conn_option("diff", &a->cc, c, optarg);
        return rc ? rc : CLI_RUN;
    }
    case OPT_REPO: case OPT_AS_OF: case OPT_BACKUP: repo_cli_option(&a->sel, c, optarg); break;
    case OPT_HELP: return cli_help("diff");
    case ':': case '?': return cli_option_error("diff", c, argv);
    default: return diff_value(a, c, optarg);
    }
    return CLI_RUN;
}

/* What must go together, once the options are read; CLI_RUN, or the exit code. */
static int diff_check(const diff_args *a)
{
    if (!a->o.dir && !repo_cli_any(&a->sel))
        return cli_usage_error("diff", "%s", "missing the backup: -f DIR, DIR or --repo REPO --as-of TIME");
    if (a->ntables == 0)
        return cli_usage_error("diff", "%s", "missing -t TABLE (the tables to compare)");
    if (!a->cc.conninfo)
        return cli_usage_error("diff", "%s", "missing -d DBNAME (the live database to compare)");
    if (a->kinds && !a->o.sql_path)
        return cli_usage_error("diff", "%s", "--only goes with --sql FILE (what the script puts back)");
    if (a->o.sql_path && a->json && strcmp(a->o.sql_path, "-") == 0)
        return cli_usage_error("diff", "%s", "--sql - and --json both write to standard output: give --sql a file");
    if (a->o.sql_path && strcmp(a->o.sql_path, "-") != 0 && cli_check_output("diff", "--sql", a->o.sql_path) != 0)
        return EXIT_USAGE;
    return CLI_RUN;
}

/* The command line into a, the backup resolved (label: "LABEL of REPO" for one in a
 * repository) and the connection string built; CLI_RUN, or the exit code. */
static int diff_parse(diff_args *a, int argc, char **argv, char *repo_dir, size_t repo_dirlen, char *label,
                      size_t labellen)
{
    memset(a, 0, sizeof *a);
    a->o.jobs = 2;
    a->cc.conn_opt = "-d";
    int c, rc;
    while ((c = cli_getopt(cli_find_command("diff"), argc, argv)) != -1)
        if ((rc = diff_option(a, c, argv)) != CLI_RUN)
            return rc;
    if (optind < argc && !a->o.dir)
        a->o.dir = argv[optind++];
    if (optind < argc)
        return cli_usage_error("diff", a->have_f ? "unexpected argument \"%s\" (the backup is already given by -f)"
                                                 : "unexpected argument \"%s\"", argv[optind]);
    if ((rc = diff_check(a)) != CLI_RUN)
        return rc;
    a->o.sql_kinds = a->kinds ? a->kinds : DIFF_DELETED | DIFF_CHANGED;
    if ((rc = repo_cli_resolve("diff", &a->sel, a->o.dir, repo_dir, repo_dirlen, &a->o.dir)) != 0)
        return rc;
    if (a->sel.repo) {
        const char *slash = strrchr(a->o.dir, '/');
        snprintf(label, labellen, "%s of %s", slash ? slash + 1 : a->o.dir, a->sel.repo);
        a->o.backup_name = label;
    }
    char *conninfo;
    if ((rc = cli_conn_build("diff", &a->cc, 1, &conninfo)) != 0)
        return rc;
    a->o.conninfo = conninfo;
    a->o.tables = a->tables;
    a->o.ntables = a->ntables;
    a->o.key = a->key;
    a->o.nkey = a->nkey;
    return CLI_RUN;
}

static json_t *diff_table_json(const diff_table_result *t)
{
    json_t *k = json_array();
    for (size_t x = 0; x < t->nkey; x++)
        json_array_append_new(k, json_string(t->key[x]));
    json_t *tj = json_object();
    char name[1024];
    snprintf(name, sizeof name, "%s.%s", t->schema, t->name);
    json_object_set_new(tj, "table", json_string(name));
    json_object_set_new(tj, "key", k);
    json_object_set_new(tj, "key_source", json_string(t->key_source));
    json_object_set_new(tj, "cascaded", json_boolean(t->cascaded));
    json_object_set_new(tj, "backup_rows", json_integer((json_int_t)t->backup_rows));
    json_object_set_new(tj, "live_rows", json_integer((json_int_t)t->live_rows));
    json_object_set_new(tj, "deleted", json_integer((json_int_t)t->deleted));
    json_object_set_new(tj, "added", json_integer((json_int_t)t->added));
    json_object_set_new(tj, "changed", json_integer((json_int_t)t->changed));
    json_object_set_new(tj, "unchanged", json_integer((json_int_t)t->unchanged));
    json_object_set_new(tj, "buckets", json_integer((json_int_t)t->buckets));
    return tj;
}

static void diff_print_json(const diff_options *o, const diff_result *res)
{
    json_t *j = json_object(), *arr = json_array();
    json_object_set_new(j, "ok", json_true());
    json_object_set_new(j, "backup", cli_json_path(o->dir));
    uint64_t tot[4] = {0};
    for (size_t i = 0; i < res->n; i++) {
        const diff_table_result *t = &res->t[i];
        json_array_append_new(arr, diff_table_json(t));
        tot[0] += t->deleted, tot[1] += t->added, tot[2] += t->changed, tot[3] += t->unchanged;
    }
    json_object_set_new(j, "tables", arr);
    json_object_set_new(j, "totals", json_pack("{s:I, s:I, s:I, s:I}", "deleted", (json_int_t)tot[0], "added",
                                               (json_int_t)tot[1], "changed", (json_int_t)tot[2], "unchanged",
                                               (json_int_t)tot[3]));
    json_object_set_new(j, "sql", cli_json_path(o->sql_path));
    json_object_set_new(j, "statements", json_integer((json_int_t)res->statements));
    json_object_set_new(j, "diff_seconds", json_real(res->seconds));
    cli_json_print(j);
}

static void diff_print_text(const diff_options *o, const diff_result *res)
{
    /* with --sql - the script owns standard output */
    FILE *out = o->sql_path && strcmp(o->sql_path, "-") == 0 ? stderr : stdout;
    fprintf(out, "%-40s %10s %10s %10s %10s  %s\n", "TABLE", "DELETED", "ADDED", "CHANGED", "UNCHANGED", "KEY");
    for (size_t i = 0; i < res->n; i++) {
        const diff_table_result *t = &res->t[i];
        char name[1024], keys[1024] = "";
        snprintf(name, sizeof name, "%s.%s%s", t->schema, t->name, t->cascaded ? " (cascade)" : "");
        size_t at = 0;
        for (size_t x = 0; x < t->nkey && at < sizeof keys; x++) {
            int n = snprintf(keys + at, sizeof keys - at, "%s%s", x ? "," : "", t->key[x]);
            at += n > 0 ? (size_t)n : 0;
        }
        fprintf(out, "%-40s %10llu %10llu %10llu %10llu  %s (%s)\n", name, (unsigned long long)t->deleted,
                (unsigned long long)t->added, (unsigned long long)t->changed, (unsigned long long)t->unchanged,
                keys, t->key_source);
    }
    if (o->sql_path && strcmp(o->sql_path, "-") != 0)
        fprintf(out, "diff: %llu statement%s written to %s\n", (unsigned long long)res->statements,
                res->statements == 1 ? "" : "s", o->sql_path);
}

/* A failed diff: a table the user named wrongly (rc -2) is a usage error. */
static int diff_failed(int rc, int json, const char *err)
{
    if (rc != -2 || cli_interrupted)
        return cli_fail("diff", json, err);
    fprintf(stderr, "pgferry diff: %s\n", err);
    cli_json_error(err);
    return EXIT_USAGE;
}

int cmd_diff(int argc, char **argv)
{
    diff_args a;
    char repo_dir[4096], label[512] = "", err[PF_ERRLEN], *passphrase = NULL;
    int rc = diff_parse(&a, argc, argv, repo_dir, sizeof repo_dir, label, sizeof label);
    if (rc == CLI_RUN && cli_passphrase("diff", a.passfile, &passphrase) < 0)
        rc = 1;
    if (rc != CLI_RUN) {
        free(a.tables);
        free(a.key);
        return rc;
    }
    a.o.passphrase = passphrase;
    a.o.interrupted = &cli_interrupted;
    cli_install_signals();
    diff_result res;
    rc = diff_run(&a.o, &res, err, sizeof err);
    cli_forget(passphrase);
    free(a.tables);
    free(a.key);
    if (rc < 0)
        return diff_failed(rc, a.json, err);
    if (a.json)
        diff_print_json(&a.o, &res);
    else
        diff_print_text(&a.o, &res);
    diff_result_free(&res);
    return cli_interrupted ? EXIT_INTERRUPTED : 0;
}
