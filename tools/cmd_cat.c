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

static int stdout_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    (void)ctx;
    if (fwrite(buf, 1, len, stdout) != len)
        return pf_err(err, errlen, "write to standard output failed");
    return 0;
}

/* The command line: the chunk's path (joined with its backup's directory when it is in a
 * repository; joined needs 8192 bytes) and --passphrase-file; CLI_RUN, or the exit code. */
static int cat_parse(int argc, char **argv, const char **path, char *joined, const char **passfile)
{
    repo_cli_sel sel = {0};
    char repo_dir[4096];
    int c;
    while ((c = cli_getopt(cli_find_command("cat"), argc, argv)) != -1) {
        switch (c) {
        case OPT_PASSPHRASE_FILE: *passfile = optarg; break;
        case OPT_REPO: case OPT_AS_OF: case OPT_BACKUP: repo_cli_option(&sel, c, optarg); break;
        case OPT_HELP: return cli_help("cat");
        default: return cli_option_error("cat", c, argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("cat", "%s", "expects exactly one CHUNKFILE");
    *path = argv[optind];
    if (repo_cli_any(&sel)) {
        const char *dir;
        int urc = repo_cli_resolve("cat", &sel, NULL, repo_dir, sizeof repo_dir, &dir);
        if (urc != 0)
            return urc;
        if ((*path)[0] == '/' || strstr(*path, ".."))
            return cli_usage_error("cat", "with --repo, CHUNKFILE is a path inside the backup (e.g. data/3.0.chunk), "
                                          "not \"%s\"", *path);
        snprintf(joined, 8192, "%s/%s", dir, *path);
        *path = joined;
    }
    return CLI_RUN;
}

/* Says why, rather than "bad header magic", for a chunk of an encrypted dump read
 * without its passphrase. */
static void explain_encrypted(pf_store *st, const char *base, char *err, size_t errlen)
{
    char rerr[PF_ERRLEN], head[8] = {0};
    size_t got = 0;
    store_reader *in = store_reader_open(st, base, 0, 7, rerr, sizeof rerr);
    if (in && store_reader_read(in, head, 7, &got, rerr, sizeof rerr) == 0 && got == 7 &&
        memcmp(head, "PGFENC", 6) == 0)
        pf_err(err, errlen, "this chunk is encrypted: give its dump's passphrase "
                            "with --passphrase-file FILE or PGFERRY_PASSPHRASE");
    store_reader_close(in);
}

/* Decodes the chunk base of st (rel: its path in the dump) to standard output, with the
 * key of m when not NULL; 0, or -1 with err. */
static int cat_decode(pf_store *st, const char *base, const char *rel, const manifest *m, char *err, size_t errlen)
{
    chunkfile_reader *r = chunkfile_reader_new(m, err, errlen);
    if (!r)
        return -1;
    chunkfile_result res;
    int rc = chunkfile_read(r, st, base, rel, NULL, stdout_sink, NULL, NULL, NULL, &res, err, errlen);
    if (rc < 0 && !m && res.file_bytes >= 7 && strstr(err, "magic"))
        explain_encrypted(st, base, err, errlen);
    chunkfile_reader_free(r);
    return rc;
}

/* The chunk at path: its key and identity come from the dump it belongs to (the manifest
 * two directories up), read with the passphrase when there is one; 0, or -1 with err. */
static int cat_chunk(const char *path, const char *passphrase, char *err, size_t errlen)
{
    char *p1 = strdup(path), *p2 = strdup(path), *p3 = strdup(path);
    manifest m;
    memset(&m, 0, sizeof m);
    int rc = p1 && p2 && p3 ? 0 : pf_err(err, errlen, "out of memory"), have_m = 0;
    const char *base = rc == 0 ? basename(p2) : "";
    char rel[512];
    snprintf(rel, sizeof rel, DUMPDIR_DATA "/%s", base);
    if (rc == 0 && passphrase) {
        pf_store *dump = store_open(dirname(dirname(p1)), 0, err, errlen);
        rc = dump ? manifest_read_key(dump, passphrase, &m, err, errlen) : -1;
        store_close(dump);
        have_m = rc == 0;
    }
    pf_store *st = rc == 0 ? store_open(dirname(p3), 0, err, errlen) : NULL;
    if (rc == 0)
        rc = st ? cat_decode(st, base, rel, have_m ? &m : NULL, err, errlen) : -1;
    if (fflush(stdout) != 0 && rc == 0)
        rc = pf_err(err, errlen, "write to standard output failed");
    if (have_m)
        manifest_free(&m);
    store_close(st);
    free(p1);
    free(p2);
    free(p3);
    return rc;
}

int cmd_cat(int argc, char **argv)
{
    char joined[8192], err[PF_ERRLEN], *passphrase = NULL;
    const char *path = NULL, *passfile = NULL;
    int rc = cat_parse(argc, argv, &path, joined, &passfile);
    if (rc != CLI_RUN)
        return rc;
    if (cli_passphrase("cat", passfile, &passphrase) < 0)
        return 1;
    rc = cat_chunk(path, passphrase, err, sizeof err);
    cli_forget(passphrase);
    if (rc < 0) {
        fprintf(stderr, "pgferry cat: %s: %s\n", path, err);
        return 1;
    }
    return 0;
}
