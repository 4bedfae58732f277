/* pgferry cat */
#include "codec/chunk.h"
#include "codec/cipher.h"
#include "common/pf_util.h"
#include "engine/manifest.h"
#include "io/pf_io.h"
#include "tools/cli.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cat_help =
    "Usage: pgferry cat [--passphrase-file FILE] CHUNKFILE\n"
    "\n"
    "Decodes one chunk file and writes its COPY data to standard output, e.g.\n"
    "  pgferry cat DIR/data/3.0.chunk | psql -c 'COPY t FROM STDIN (FORMAT binary)'\n"
    "The data is checked as it streams: a damaged chunk ends with exit code 1 and an error\n"
    "naming it, after some of its bytes may already have been written. A chunk of an\n"
    "encrypted dump is decrypted with the key in its dump's manifest (DIR/manifest.json),\n"
    "opened with the passphrase (--passphrase-file FILE or PGFERRY_PASSPHRASE).\n";

static int stdout_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    (void)ctx;
    if (fwrite(buf, 1, len, stdout) != len)
        return pf_err(err, errlen, "write to standard output failed");
    return 0;
}

static int decoder_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    return chunk_decoder_feed(ctx, buf, len, err, errlen);
}

int cmd_cat(int argc, char **argv)
{
    static const struct option opts[] = {{"passphrase-file", required_argument, NULL, 1},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *passfile = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 1: passfile = optarg; break;
        case 'h': fputs(cat_help, stdout); return 0;
        case ':': return cli_usage_error("cat", "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error("cat", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("cat", "%s", "expects exactly one CHUNKFILE");
    const char *path = argv[optind];
    char err[PF_ERRLEN];
    char *passphrase = NULL;
    if (cli_passphrase("cat", passfile, &passphrase) < 0)
        return 1;
    io_reader *r = io_reader_open(path, err, sizeof err);
    if (!r) {
        cli_forget(passphrase);
        fprintf(stderr, "pgferry cat: %s\n", err);
        return 1;
    }
    chunk_decoder *d = chunk_decoder_new(err, sizeof err);
    uint8_t *buf = malloc(1 << 20);
    cipher_stream *cs = NULL;
    manifest m;
    memset(&m, 0, sizeof m);
    int rc = d && buf ? 0 : -1;
    chunk_decoder_reset(d, stdout_sink, NULL);
    chunk_sink_fn feed = decoder_sink;
    void *feed_ctx = d;
    if (rc == 0 && passphrase) {
        /* the key and the file's identity come from the dump the chunk belongs to */
        char *p1 = strdup(path), *p2 = strdup(path);
        char *dir = dirname(dirname(p1)), rel[512], aad[512];
        snprintf(rel, sizeof rel, "data/%s", basename(p2));
        rc = manifest_read_key(dir, passphrase, &m, err, sizeof err);
        if (rc == 0 && m.encrypted && (cs = cipher_stream_new(err, sizeof err)) != NULL) {
            manifest_file_aad(&m, rel, aad, sizeof aad);
            rc = cipher_decrypt_begin(cs, &m.data_key, aad, decoder_sink, d, err, sizeof err);
            feed = cipher_decrypt_feed;
            feed_ctx = cs;
        } else if (rc == 0)
            rc = -1;
        free(p1);
        free(p2);
    }
    cli_forget(passphrase);
    if (rc == 0) {
        size_t got;
        int first = 1;
        while ((rc = io_reader_read(r, buf, 1 << 20, &got, err, sizeof err)) == 0 && got > 0) {
            if (first && !cs && got >= 7 && memcmp(buf, "PGFENC1", 7) == 0) {
                rc = pf_err(err, sizeof err, "this chunk is encrypted: give its dump's passphrase "
                                             "with --passphrase-file FILE or PGFERRY_PASSPHRASE");
                break;
            }
            first = 0;
            if ((rc = feed(feed_ctx, buf, got, err, sizeof err)) < 0)
                break;
        }
        if (rc == 0 && cs)
            rc = cipher_decrypt_end(cs, err, sizeof err);
        if (rc == 0)
            rc = chunk_decoder_finish(d, NULL, err, sizeof err);
    }
    if (fflush(stdout) != 0 && rc == 0)
        rc = pf_err(err, sizeof err, "write to standard output failed");
    free(buf);
    chunk_decoder_free(d);
    cipher_stream_free(cs);
    manifest_free(&m);
    io_reader_close(r);
    if (rc < 0) {
        fprintf(stderr, "pgferry cat: %s: %s\n", path, err);
        return 1;
    }
    return 0;
}
