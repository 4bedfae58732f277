/* compress_zstd: zstd streaming compression for chunks. The chunk carries its own xxh3 of
 * the raw bytes, so zstd's checksum is off; decoders refuse frames whose window exceeds
 * 2^27 bytes (levels 20..22 want 27), so a hostile or corrupt frame cannot make a reader
 * allocate more than 128 MiB. */
#include "codec/compress.h"

#include "common/pf_util.h"

#include <zstd.h>

#define ZSTD_WINDOWLOG_MAX 27

static int zstd_levels(int *min, int *max)
{
    *min = ZSTD_minCLevel();
    *max = ZSTD_maxCLevel();
    return 0;
}

static void *zstd_enc_new(int level, char *err, size_t errlen)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    size_t r = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0);
    if (ZSTD_isError(r)) {
        pf_err(err, errlen, "%s", ZSTD_getErrorName(r));
        ZSTD_freeCCtx(c);
        return NULL;
    }
    return c;
}

static void zstd_enc_reset(void *st)
{
    /* session-only: keeps the level and other parameters */
    ZSTD_CCtx_reset(st, ZSTD_reset_session_only);
}

static int zstd_enc_run(void *st, const uint8_t *in, size_t inlen, size_t *inpos, uint8_t *out, size_t outcap,
                        size_t *outpos, int end, int *done, char *err, size_t errlen)
{
    ZSTD_inBuffer ib = {in, inlen, *inpos};
    ZSTD_outBuffer ob = {out, outcap, *outpos};
    size_t r = ZSTD_compressStream2(st, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
    *inpos = ib.pos;
    *outpos = ob.pos;
    if (ZSTD_isError(r))
        return pf_err(err, errlen, "%s", ZSTD_getErrorName(r));
    *done = end ? r == 0 : ib.pos == ib.size;
    return 0;
}

static void zstd_enc_free(void *st)
{
    ZSTD_freeCCtx(st);
}

static void *zstd_dec_new(char *err, size_t errlen)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    size_t r = ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOWLOG_MAX);
    if (ZSTD_isError(r)) {
        pf_err(err, errlen, "%s", ZSTD_getErrorName(r));
        ZSTD_freeDCtx(d);
        return NULL;
    }
    return d;
}

static void zstd_dec_reset(void *st)
{
    ZSTD_DCtx_reset(st, ZSTD_reset_session_only);
}

static int zstd_dec_run(void *st, const uint8_t *in, size_t inlen, size_t *inpos, uint8_t *out, size_t outcap,
                        size_t *outpos, int *ended, char *err, size_t errlen)
{
    ZSTD_inBuffer ib = {in, inlen, *inpos};
    ZSTD_outBuffer ob = {out, outcap, *outpos};
    size_t r = ZSTD_decompressStream(st, &ob, &ib);
    *inpos = ib.pos;
    *outpos = ob.pos;
    if (ZSTD_isError(r))
        return pf_err(err, errlen, "%s", ZSTD_getErrorName(r));
    *ended = r == 0;
    return 0;
}

static size_t zstd_dec_out_size(void)
{
    return ZSTD_DStreamOutSize();
}

static void zstd_dec_free(void *st)
{
    ZSTD_freeDCtx(st);
}

const compress_ops compress_zstd_ops = {
    .name = "zstd",
    .lib = "zstd",
    .id = 1,
    .has_levels = 1,
    .user_min = -7,
    .user_max = 19,
    .default_level = 1,
    .framed = 1,
    .enc_levels = zstd_levels,
    .enc_new = zstd_enc_new,
    .enc_reset = zstd_enc_reset,
    .enc_run = zstd_enc_run,
    .enc_free = zstd_enc_free,
    .dec_new = zstd_dec_new,
    .dec_reset = zstd_dec_reset,
    .dec_run = zstd_dec_run,
    .dec_out_size = zstd_dec_out_size,
    .dec_free = zstd_dec_free,
};

/* zstd over the column layout of binary COPY rows (codec/colsplit.h): chosen by
 * dump --layout columns (the default for binary tables), not by --compress. */
const compress_ops compress_zstd_columns_ops = {
    .name = "zstd+columns",
    .id = 2,
    .has_levels = 1,
    .user_min = -7,
    .user_max = 19,
    .default_level = 1,
    .framed = 1,
    .columns = 1,
    .internal = 1,
    .lib = "zstd",
    .enc_levels = zstd_levels,
    .enc_new = zstd_enc_new,
    .enc_reset = zstd_enc_reset,
    .enc_run = zstd_enc_run,
    .enc_free = zstd_enc_free,
    .dec_new = zstd_dec_new,
    .dec_reset = zstd_dec_reset,
    .dec_run = zstd_dec_run,
    .dec_out_size = zstd_dec_out_size,
    .dec_free = zstd_dec_free,
};
