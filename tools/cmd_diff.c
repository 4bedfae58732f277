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

static const char *const diff_help =
    "Usage: pgferry diff [OPTIONS] -d DBNAME -t TABLE [-t TABLE...]\n"
    "                    (-f DIR | DIR | --repo REPO (--as-of TIME | --backup NAME))\n"
    "\n"
    "Compares tables of a live database with a backup, row by row by key (the primary key,\n"
    "else the replica identity index, else --key), and prints per table the rows deleted,\n"
    "added and changed since the backup. With --sql, writes a script that puts the backup's\n"
    "rows back in one transaction. Read-only on the database (one REPEATABLE READ, READ ONLY\n"
    "snapshot for all tables); memory stays bounded whatever the table's size (both sides\n"
    "are partitioned into bucket files in a temporary directory, one bucket in memory).\n"
    "\n"
    "  -f, --file=DIR            the backup (or DIR as the last argument)\n"
    REPO_CLI_HELP
    "  -t, --table=NAME          a table to compare: schema.table, or table when one schema\n"
    "                            holds it (repeatable, at least one)\n"
    "      --key=COL,...         the key columns of the tables named with -t (default: the\n"
    "                            primary key, else the replica identity index)\n"
    "      --cascade             also compare the tables that reference these through ON DELETE\n"
    "                            CASCADE foreign keys (recursively), with their own keys\n"
    "      --sql=FILE            write the script that restores the backup's rows (FILE is\n"
    "                            written atomically; - for standard output): INSERT of rows\n"
    "                            deleted since, UPDATE of rows changed since (only the columns\n"
    "                            that differ), tables in foreign-key order\n"
    "      --only=WHAT           what the script puts back: deleted, changed, or all (also\n"
    "                            DELETE of rows added since the backup); comma-separated or\n"
    "                            repeated (default deleted,changed)\n"
    "  -j, --jobs=N              parallel readers of the backup's chunks (default 2)\n"
    "      --work-mem=SIZE       memory for one bucket of rows (default 32MB)\n"
    "      --json                print per-table counts as JSON on stdout\n"
    "      --passphrase-file=FILE  passphrase of an encrypted dump (else PGFERRY_PASSPHRASE)\n"
    "  -?, --help                this help\n"
    "\n"
    "Connection options:\n"
    "  -d, --dbname=CONNINFO     the live database, required: a name, a key=value string or\n"
    "                            a URI\n"
    CLI_CONN_HELP
    "\n"
    "Exit codes: 0 compared (whatever the differences), 1 failed, 2 usage error (also: a table\n"
    "that does not exist, is not in the backup or has no key), 130 interrupted.\n";

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

int cmd_diff(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},   {"dbname", required_argument, NULL, 'd'},
        {"table", required_argument, NULL, 't'},  {"jobs", required_argument, NULL, 'j'},
        {"key", required_argument, NULL, 1},      {"cascade", no_argument, NULL, 2},
        {"sql", required_argument, NULL, 3},      {"only", required_argument, NULL, 4},
        {"json", no_argument, NULL, 5},           {"work-mem", required_argument, NULL, 6},
        {"passphrase-file", required_argument, NULL, 21},
        {"help", no_argument, NULL, CLI_OPT_HELP}, CLI_CONN_LONGOPTS, REPO_CLI_LONGOPTS,
        {NULL, 0, NULL, 0}};
    diff_options o;
    memset(&o, 0, sizeof o);
    o.jobs = 2;
    int json = 0, c, rc, kinds = 0, have_f = 0;
    const char *passfile = NULL, **tables = NULL, **key = NULL;
    size_t ntables = 0, nkey = 0;
    char *passphrase = NULL;
    cli_conn cc = {.conn_opt = "-d"};
    repo_cli_sel sel = {0};
    char repo_dir[4096], label[512] = "";
    opterr = 0;
#define USAGE(...) do { free(tables); free(key); return cli_usage_error("diff", __VA_ARGS__); } while (0)
    while ((c = getopt_long(argc, argv, ":f:d:t:j:" CLI_CONN_SHORTOPTS, opts, NULL)) != -1) {
        switch (c) {
        case 'f': o.dir = optarg; have_f = 1; break;
        case 'd': cc.conninfo = cli_take_conninfo(optarg); break;
        case 't':
            if (!*optarg)
                USAGE("%s", "--table needs a table name");
            cli_push(&tables, &ntables, optarg);
            break;
        case 'j':
            if (cli_parse_jobs(optarg, &o.jobs) < 0)
                USAGE("invalid --jobs value \"%s\": expected 1 to 256", optarg);
            break;
        case 1:
            if (key)
                USAGE("%s", "--key is given once, as a comma-separated list");
            if (split_key(optarg, &key, &nkey) < 0)
                USAGE("invalid --key value \"%s\": expected column names separated by commas", optarg);
            break;
        case 2: o.cascade = 1; break;
        case 3:
            if (!*optarg)
                USAGE("%s", "--sql needs a file name (or - for standard output)");
            o.sql_path = optarg;
            break;
        case 4:
            if (parse_only(optarg, &kinds) < 0)
                USAGE("invalid --only value \"%s\": expected deleted, changed or all", optarg);
            break;
        case 5: json = 1; break;
        case 6:
            if (pf_parse_size(optarg, &o.work_mem) < 0 || o.work_mem < (1u << 20))
                USAGE("invalid --work-mem value \"%s\": expected a size such as 32MB (at least 1MB)", optarg);
            break;
        case 21: passfile = optarg; break;
        case 'h': case 'p': case 'U': case 'w': case 'W':
            if ((rc = cli_conn_option("diff", &cc, c, optarg)) != 0) {
                free(tables);
                free(key);
                return rc;
            }
            break;
        case REPO_CLI_OPT_REPO: case REPO_CLI_OPT_AS_OF: case REPO_CLI_OPT_BACKUP:
            repo_cli_option(&sel, c, optarg);
            break;
        case CLI_OPT_HELP: free(tables); free(key); fputs(diff_help, stdout); return 0;
        default: free(tables); free(key); return cli_option_error("diff", c, argv, diff_help);
        }
    }
    if (optind < argc && !o.dir)
        o.dir = argv[optind++];
    if (optind < argc)
        USAGE(have_f ? "unexpected argument \"%s\" (the backup is already given by -f)" : "unexpected argument \"%s\"",
              argv[optind]);
    if (!o.dir && !repo_cli_any(&sel))
        USAGE("%s", "missing the backup: -f DIR, DIR or --repo REPO --as-of TIME");
    if (ntables == 0)
        USAGE("%s", "missing -t TABLE (the tables to compare)");
    if (!cc.conninfo)
        USAGE("%s", "missing -d DBNAME (the live database to compare)");
    if (kinds && !o.sql_path)
        USAGE("%s", "--only goes with --sql FILE (what the script puts back)");
    if (o.sql_path && json && strcmp(o.sql_path, "-") == 0)
        USAGE("%s", "--sql - and --json both write to standard output: give --sql a file");
    if (o.sql_path && strcmp(o.sql_path, "-") != 0 && (rc = cli_check_output("diff", "--sql", o.sql_path)) != 0) {
        free(tables);
        free(key);
        return rc;
    }
#undef USAGE
    o.sql_kinds = kinds ? kinds : DIFF_DELETED | DIFF_CHANGED;
    if ((rc = repo_cli_resolve("diff", &sel, o.dir, repo_dir, sizeof repo_dir, &o.dir)) != 0) {
        free(tables);
        free(key);
        return rc;
    }
    if (sel.repo) {
        const char *slash = strrchr(o.dir, '/');
        snprintf(label, sizeof label, "%s of %s", slash ? slash + 1 : o.dir, sel.repo);
        o.backup_name = label;
    }
    char *conninfo;
    if ((rc = cli_conn_build("diff", &cc, 1, &conninfo)) != 0) {
        free(tables);
        free(key);
        return rc;
    }
    o.conninfo = conninfo;
    o.tables = tables;
    o.ntables = ntables;
    o.key = key;
    o.nkey = nkey;
    if (cli_passphrase("diff", passfile, &passphrase) < 0) {
        free(tables);
        free(key);
        return 1;
    }
    o.passphrase = passphrase;
    o.interrupted = &cli_interrupted;
    cli_install_signals();
    char err[PF_ERRLEN];
    diff_result res;
    rc = diff_run(&o, &res, err, sizeof err);
    cli_forget(passphrase);
    free(tables);
    free(key);
    if (rc < 0) {
        if (rc == -2 && !cli_interrupted) {
            fprintf(stderr, "pgferry diff: %s\n", err);
            cli_json_error(err);
            return EXIT_USAGE;
        }
        return cli_fail("diff", json, err);
    }
    if (json) {
        json_t *j = json_object(), *arr = json_array();
        json_object_set_new(j, "ok", json_true());
        json_object_set_new(j, "backup", cli_json_path(o.dir));
        uint64_t tot[4] = {0};
        for (size_t i = 0; i < res.n; i++) {
            const diff_table_result *t = &res.t[i];
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
            json_array_append_new(arr, tj);
            tot[0] += t->deleted, tot[1] += t->added, tot[2] += t->changed, tot[3] += t->unchanged;
        }
        json_object_set_new(j, "tables", arr);
        json_object_set_new(j, "totals", json_pack("{s:I, s:I, s:I, s:I}", "deleted", (json_int_t)tot[0], "added",
                                                   (json_int_t)tot[1], "changed", (json_int_t)tot[2], "unchanged",
                                                   (json_int_t)tot[3]));
        json_object_set_new(j, "sql", cli_json_path(o.sql_path));
        json_object_set_new(j, "statements", json_integer((json_int_t)res.statements));
        json_object_set_new(j, "diff_seconds", json_real(res.seconds));
        cli_json_print(j);
    } else {
        /* with --sql - the script owns standard output */
        FILE *out = o.sql_path && strcmp(o.sql_path, "-") == 0 ? stderr : stdout;
        fprintf(out, "%-40s %10s %10s %10s %10s  %s\n", "TABLE", "DELETED", "ADDED", "CHANGED", "UNCHANGED", "KEY");
        for (size_t i = 0; i < res.n; i++) {
            const diff_table_result *t = &res.t[i];
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
        if (o.sql_path && strcmp(o.sql_path, "-") != 0)
            fprintf(out, "diff: %llu statement%s written to %s\n", (unsigned long long)res.statements,
                    res.statements == 1 ? "" : "s", o.sql_path);
    }
    diff_result_free(&res);
    return cli_interrupted ? EXIT_INTERRUPTED : 0;
}
