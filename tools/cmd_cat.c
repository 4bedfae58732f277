/* pgferry cat */
#include "codec/chunk.h"
#include "common/pf_util.h"
#include "io/pf_io.h"
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cat_help =
    "Usage: pgferry cat CHUNKFILE\n"
    "\n"
    "Decodes one chunk file and writes its COPY data to standard output, e.g.\n"
    "  pgferry cat DIR/data/3.0.chunk | psql -c 'COPY t FROM STDIN (FORMAT binary)'\n"
    "The data is checked as it streams: a damaged chunk ends with exit code 1 and an error\n"
    "naming it, after some of its bytes may already have been written.\n";

static int stdout_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    (void)ctx;
    if (fwrite(buf, 1, len, stdout) != len)
        return pf_err(err, errlen, "write to standard output failed");
    return 0;
}

int cmd_cat(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(cat_help, stdout);
        return 0;
    }
    if (argc != 2)
        return cli_usage_error("cat", "%s", "expects exactly one CHUNKFILE");
    char err[PF_ERRLEN];
    io_reader *r = io_reader_open(argv[1], err, sizeof err);
    if (!r) {
        fprintf(stderr, "pgferry cat: %s\n", err);
        return 1;
    }
    chunk_decoder *d = chunk_decoder_new(err, sizeof err);
    uint8_t *buf = malloc(1 << 20);
    int rc = d && buf ? 0 : -1;
    if (rc == 0) {
        chunk_decoder_reset(d, stdout_sink, NULL);
        size_t got;
        while ((rc = io_reader_read(r, buf, 1 << 20, &got, err, sizeof err)) == 0 && got > 0)
            if ((rc = chunk_decoder_feed(d, buf, got, err, sizeof err)) < 0)
                break;
        if (rc == 0)
            rc = chunk_decoder_finish(d, NULL, err, sizeof err);
    }
    if (fflush(stdout) != 0 && rc == 0)
        rc = pf_err(err, sizeof err, "write to standard output failed");
    free(buf);
    chunk_decoder_free(d);
    io_reader_close(r);
    if (rc < 0) {
        fprintf(stderr, "pgferry cat: %s: %s\n", argv[1], err);
        return 1;
    }
    return 0;
}

