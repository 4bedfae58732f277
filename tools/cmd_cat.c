/* pgferry cat */
#include "engine/chunkfile.h"
#include "common/pf_util.h"
#include "engine/manifest.h"
#include "engine/dumpdir.h"
#include "io/store.h"
#include "tools/cli.h"
#include "tools/repo_cli.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cat_help =
    "Usage: pgferry cat [--passphrase-file FILE] CHUNKFILE\n"
    "       pgferry cat [--passphrase-file FILE] --repo REPO (--as-of TIME | --backup NAME)\n"
    "                   data/FILE\n"
    "\n"
    "Decodes one chunk file and writes its COPY data to standard output, e.g.\n"
    "  pgferry cat DIR/data/3.0.chunk | psql -c 'COPY t FROM STDIN (FORMAT binary)'\n"
    "The data is checked as it streams: a damaged chunk ends with exit code 1 and an error\n"
    "naming it, after some of its bytes may already have been written. A chunk of an\n"
    "encrypted dump is decrypted with the key in its dump's manifest (DIR/manifest.json),\n"
    "opened with the passphrase (--passphrase-file FILE or PGFERRY_PASSPHRASE).\n"
    "\n"
    "      --passphrase-file=FILE  passphrase of an encrypted dump (else PGFERRY_PASSPHRASE)\n"
    REPO_CLI_HELP
    "                            (then CHUNKFILE is relative to the backup, e.g. data/3.0.chunk)\n"
    "  -?, --help                this help\n";

static int stdout_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    (void)ctx;
    if (fwrite(buf, 1, len, stdout) != len)
        return pf_err(err, errlen, "write to standard output failed");
    return 0;
}

int cmd_cat(int argc, char **argv)
{
    static const struct option opts[] = {{"passphrase-file", required_argument, NULL, 1},
                                         {"help", no_argument, NULL, CLI_OPT_HELP},
                                         REPO_CLI_LONGOPTS,
                                         {NULL, 0, NULL, 0}};
    repo_cli_sel sel = {0};
    char repo_dir[4096], joined[8192];
    const char *passfile = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 1: passfile = optarg; break;
        case REPO_CLI_OPT_REPO: case REPO_CLI_OPT_AS_OF: case REPO_CLI_OPT_BACKUP:
            repo_cli_option(&sel, c, optarg);
            break;
        case CLI_OPT_HELP: fputs(cat_help, stdout); return 0;
        default: return cli_option_error("cat", c, argv, cat_help);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("cat", "%s", "expects exactly one CHUNKFILE");
    const char *path = argv[optind];
    if (repo_cli_any(&sel)) {
        const char *dir;
        int urc = repo_cli_resolve("cat", &sel, NULL, repo_dir, sizeof repo_dir, &dir);
        if (urc != 0)
            return urc;
        if (path[0] == '/' || strstr(path, ".."))
            return cli_usage_error("cat", "with --repo, CHUNKFILE is a path inside the backup (e.g. data/3.0.chunk), "
                                          "not \"%s\"", path);
        snprintf(joined, sizeof joined, "%s/%s", dir, path);
        path = joined;
    }
    char err[PF_ERRLEN];
    char *passphrase = NULL;
    if (cli_passphrase("cat", passfile, &passphrase) < 0)
        return 1;
    /* the key and the file's identity come from the dump the chunk belongs to */
    manifest m;
    memset(&m, 0, sizeof m);
    int rc = 0, have_m = 0;
    char *p1 = strdup(path), *p2 = strdup(path), *p3 = strdup(path);
    if (!p1 || !p2 || !p3) {
        free(p1);
        free(p2);
        free(p3);
        cli_forget(passphrase);
        fprintf(stderr, "pgferry cat: out of memory\n");
        return 1;
    }
    const char *base = basename(p2);
    char rel[512];
    snprintf(rel, sizeof rel, DUMPDIR_DATA "/%s", base);
    if (passphrase) {
        pf_store *dump = store_open(dirname(dirname(p1)), 0, err, sizeof err);
        rc = dump ? manifest_read_key(dump, passphrase, &m, err, sizeof err) : -1;
        store_close(dump);
        have_m = rc == 0;
    }
    pf_store *st = rc == 0 ? store_open(dirname(p3), 0, err, sizeof err) : NULL;
    if (rc == 0 && !st)
        rc = -1;
    cli_forget(passphrase);
    chunkfile_reader *r = rc == 0 ? chunkfile_reader_new(have_m ? &m : NULL, err, sizeof err) : NULL;
    if (rc == 0 && !r)
        rc = -1;
    if (rc == 0) {
        chunkfile_result res;
        rc = chunkfile_read(r, st, base, rel, NULL, stdout_sink, NULL, NULL, NULL, &res, err, sizeof err);
        if (rc < 0 && !have_m && res.file_bytes >= 7 && strstr(err, "magic")) {
            /* say why, rather than "bad header magic", for an encrypted chunk */
            store_reader *in = store_reader_open(st, base, 0, 7, err, sizeof err);
            char head[8] = {0};
            size_t got = 0;
            if (in && store_reader_read(in, head, 7, &got, err, sizeof err) == 0 && got == 7 &&
                memcmp(head, "PGFENC", 6) == 0)
                pf_err(err, sizeof err, "this chunk is encrypted: give its dump's passphrase "
                                        "with --passphrase-file FILE or PGFERRY_PASSPHRASE");
            store_reader_close(in);
        }
    }
    if (fflush(stdout) != 0 && rc == 0)
        rc = pf_err(err, sizeof err, "write to standard output failed");
    chunkfile_reader_free(r);
    if (have_m)
        manifest_free(&m);
    store_close(st);
    free(p1);
    free(p2);
    free(p3);
    if (rc < 0) {
        fprintf(stderr, "pgferry cat: %s: %s\n", path, err);
        return 1;
    }
    return 0;
}
