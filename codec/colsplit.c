/* colsplit: column-wise layout of binary COPY blocks (see colsplit.h for the format). */
#include "codec/colsplit.h"
#include "common/pf_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FRAME_RAW = 1, FRAME_COLS = 2 };
enum { XF_BYTES = 0, XF_PLANES = 1, XF_DELTA = 2 };
#define MAX_FIELDS 1664 /* MaxTupleAttributeNumber */
#define SIG_LEN 11
static const uint8_t copy_sig[SIG_LEN] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};


static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Returns bytes read (1..10), 0 when p..end holds no complete varint, -1 when it is too long. */
static int get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int i = 0; i < 10; i++) {
        if (p + i >= end)
            return 0;
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return -1;
}

static void store_be(uint8_t *p, uint64_t v, int w)
{
    for (int i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * (w - 1 - i)));
}

static uint64_t load_be(const uint8_t *p, int w)
{
    uint64_t v = 0;
    for (int i = 0; i < w; i++)
        v = v << 8 | p[i];
    return v;
}

/* v - prev in w bytes, as a zigzag number that fits in w bytes, and back. */
static uint64_t zz_enc(uint64_t v, uint64_t prev, int w)
{
    int sh = 64 - 8 * w;
    int64_t d = (int64_t)((v - prev) << sh) >> sh;
    uint64_t z = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
    return w == 8 ? z : z & ((UINT64_C(1) << (8 * w)) - 1);
}

static uint64_t zz_dec(uint64_t z, uint64_t prev, int w)
{
    uint64_t d = (z >> 1) ^ (0 - (z & 1));
    uint64_t v = prev + d;
    return w == 8 ? v : v & ((UINT64_C(1) << (8 * w)) - 1);
}

static int zero_bytes(uint64_t v, int w)
{
    int n = 0;
    for (int i = 0; i < w; i++, v >>= 8)
        n += (v & 0xff) == 0;
    return n;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    uint8_t *b = realloc(*buf, c);
    if (!b)
        return -1;
    *buf = b;
    *cap = c;
    return 0;
}

/* ---------------------------------------------------------------- encoder */

enum { ENC_START, ENC_ROWS, ENC_PASS };

typedef struct {
    uint32_t nonnull, width;
    uint64_t data;
    int fixed, xf;
    long zeros_plain, zeros_delta;
    uint64_t prev;
} colstat;

struct colsplit_enc {
    colsplit_sink_fn sink;
    void *ctx;
    int mode;
    /* where buf[0] stands in the row stream: `skip` bytes of a value (or of the COPY
     * header) still to pass, then `fields_left` field headers of the current row
     * (-1 = at a row boundary) */
    uint64_t skip;
    long fields_left;
    uint8_t *buf;
    size_t len, cap;
    uint8_t *frame;
    size_t fcap;
    uint32_t *fo, *fl; /* offsets and lengths (UINT32_MAX = NULL) of the block's fields */
    size_t fcount, focap;
    colstat *cs;
};

colsplit_enc *colsplit_enc_new(void)
{
    colsplit_enc *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->cap = COLSPLIT_BLOCK;
    e->buf = malloc(e->cap);
    e->cs = calloc(MAX_FIELDS, sizeof *e->cs);
    if (!e->buf || !e->cs) {
        colsplit_enc_free(e);
        return NULL;
    }
    return e;
}

void colsplit_enc_reset(colsplit_enc *e, colsplit_sink_fn sink, void *ctx)
{
    e->sink = sink;
    e->ctx = ctx;
    e->mode = ENC_START;
    e->skip = 0;
    e->fields_left = -1;
    e->len = 0;
}

void colsplit_enc_free(colsplit_enc *e)
{
    if (!e)
        return;
    free(e->buf);
    free(e->frame);
    free(e->fo);
    free(e->fl);
    free(e->cs);
    free(e);
}

static int emit_frame(colsplit_enc *e, int kind, const uint8_t *body, size_t n, char *err, size_t errlen)
{
    uint8_t h[11];
    h[0] = (uint8_t)kind;
    size_t hl = 1 + put_varint(h + 1, n);
    if (e->sink(e->ctx, h, hl, err, errlen) != 0)
        return -1;
    return n ? e->sink(e->ctx, body, n, err, errlen) : 0;
}

static int emit_raw(colsplit_enc *e, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    while (n > 0) {
        size_t k = n < COLSPLIT_BLOCK ? n : COLSPLIT_BLOCK;
        if (emit_frame(e, FRAME_RAW, p, k, err, errlen) != 0)
            return -1;
        p += k;
        n -= k;
    }
    return 0;
}

static int add_field(colsplit_enc *e, uint32_t off, uint32_t len)
{
    if (e->fcount == e->focap) {
        size_t c = e->focap ? 2 * e->focap : 65536;
        uint32_t *a = realloc(e->fo, c * sizeof *a);
        if (!a)
            return -1;
        e->fo = a;
        uint32_t *b = realloc(e->fl, c * sizeof *b);
        if (!b)
            return -1;
        e->fl = b;
        e->focap = c;
    }
    e->fo[e->fcount] = off;
    e->fl[e->fcount] = len;
    e->fcount++;
    return 0;
}

/* One columns frame of `rows` rows of `nf` fields whose offsets are in fo/fl. */
/* Each column's statistics over the rows: fixed width or not, its bytes, and how many
 * zero bytes its values have plain and delta-coded; the rows' bytes in all. */
static uint64_t column_stats(colsplit_enc *e, size_t rows, int nf)
{
    uint64_t raw = 0;
    for (int c = 0; c < nf; c++) {
        memset(&e->cs[c], 0, sizeof e->cs[c]);
        e->cs[c].fixed = 1;
    }
    for (size_t r = 0; r < rows; r++) {
        for (int c = 0; c < nf; c++) {
            colstat *s = &e->cs[c];
            uint32_t l = e->fl[r * nf + c];
            if (l == UINT32_MAX)
                continue;
            if (s->nonnull == 0)
                s->width = l;
            else if (l != s->width)
                s->fixed = 0;
            s->nonnull++;
            s->data += l;
            raw += l;
            if (s->fixed && (l == 2 || l == 4 || l == 8)) {
                uint64_t v = load_be(e->buf + e->fo[r * nf + c], (int)l);
                s->zeros_plain += zero_bytes(v, (int)l);
                s->zeros_delta += zero_bytes(zz_enc(v, s->prev, (int)l), (int)l);
                s->prev = v;
            }
        }
    }
    return raw;
}

/* Column c's values at o: as they are (bytes), or fixed-width values split into byte planes
 * (most significant first), delta-coded when that gives more zeros. Returns their size. */
static size_t put_values(colsplit_enc *e, size_t rows, int nf, int c, uint8_t *o)
{
    colstat *s = &e->cs[c];
    size_t n = 0;
    if (s->xf == XF_BYTES) {
        for (size_t r = 0; r < rows; r++) {
            uint32_t l = e->fl[r * nf + c];
            if (l != UINT32_MAX && l) {
                memcpy(o + n, e->buf + e->fo[r * nf + c], l);
                n += l;
            }
        }
        return n;
    }
    int w = (int)s->width;
    uint64_t prev = 0;
    size_t i = 0, cnt = s->nonnull;
    for (size_t r = 0; r < rows; r++) {
        uint32_t l = e->fl[r * nf + c];
        if (l == UINT32_MAX)
            continue;
        uint64_t v = load_be(e->buf + e->fo[r * nf + c], w);
        uint64_t x = s->xf == XF_DELTA ? zz_enc(v, prev, w) : v;
        prev = v;
        for (int b = 0; b < w; b++)
            o[(size_t)b * cnt + i] = (uint8_t)(x >> (8 * (w - 1 - b)));
        i++;
    }
    return (size_t)w * cnt;
}

/* Column c at o: its transform (and width), its lengths (0 NULL, else length + 1) as a
 * sized run of varints, its values as a sized run. Returns the bytes written. */
static size_t put_column(colsplit_enc *e, size_t rows, int nf, int c, uint8_t *o)
{
    colstat *s = &e->cs[c];
    int w = (int)s->width;
    size_t n = 0;
    s->xf = XF_BYTES;
    if (s->nonnull > 0 && s->fixed && (w == 2 || w == 4 || w == 8))
        s->xf = s->zeros_delta > s->zeros_plain ? XF_DELTA : XF_PLANES;
    o[n++] = (uint8_t)s->xf;
    if (s->xf != XF_BYTES)
        o[n++] = (uint8_t)w;
    /* lengths: size first, so write them after a 5-byte gap and move them back */
    size_t at = n + 5, m = 0;
    for (size_t r = 0; r < rows; r++) {
        uint32_t l = e->fl[r * nf + c];
        m += put_varint(o + at + m, l == UINT32_MAX ? 0 : (uint64_t)l + 1);
    }
    size_t vl = put_varint(o + n, m);
    memmove(o + n + vl, o + at, m);
    n += vl + m;
    n += put_varint(o + n, s->data);
    return n + put_values(e, rows, nf, c, o + n);
}

static int emit_columns(colsplit_enc *e, size_t rows, int nf, char *err, size_t errlen)
{
    uint64_t raw = column_stats(e, rows, nf);
    size_t bound = 32 + (size_t)nf * 40 + raw + rows * (size_t)nf * 5;
    if (grow(&e->frame, &e->fcap, bound) != 0)
        return pf_err(err, errlen, "column layout: out of memory");
    uint8_t *o = e->frame;
    size_t n = 0;
    n += put_varint(o + n, rows);
    n += put_varint(o + n, (uint64_t)nf);
    for (int c = 0; c < nf; c++)
        n += put_column(e, rows, nf, c, o + n);
    return emit_frame(e, FRAME_COLS, o, n, err, errlen);
}

/* Frames what it can of buf: raw bytes up to the first row boundary, the whole rows
 * after it as one columns frame; keeps the incomplete rest (all of it at the end). */
/* At the stream's start: binary COPY (its header skipped, rows framed) or anything else
 * (passed as it is). 0 while too few bytes are in to tell. */
static int enc_detect(colsplit_enc *e, int final)
{
    if (e->mode != ENC_START)
        return 1;
    if (e->len < SIG_LEN + 8 && !final)
        return 0;
    if (e->len >= SIG_LEN + 8 && memcmp(e->buf, copy_sig, SIG_LEN) == 0) {
        e->mode = ENC_ROWS;
        e->skip = SIG_LEN + 8 + load_be(e->buf + SIG_LEN + 4, 4);
    } else {
        e->mode = ENC_PASS;
    }
    return 1;
}

/* Moves *pos through the bytes still to skip and the fields left of a row followed across
 * buffers, up to the next row boundary or the buffer's end; a field length that is not
 * binary COPY's switches to ENC_PASS. */
static void enc_follow(colsplit_enc *e, const uint8_t *b, size_t len, size_t *pos)
{
    while (e->skip > 0 || e->fields_left > 0) {
        if (e->skip > 0) {
            size_t k = len - *pos < e->skip ? len - *pos : (size_t)e->skip;
            *pos += k;
            e->skip -= k;
            if (e->skip > 0)
                return;
            continue;
        }
        if (len - *pos < 4)
            return;
        int32_t fl = (int32_t)(uint32_t)load_be(b + *pos, 4);
        *pos += 4;
        e->fields_left--;
        if (fl >= 0)
            e->skip = (uint64_t)fl;
        else if (fl != -1) { /* not binary COPY after all: the rest as it is */
            e->mode = ENC_PASS;
            return;
        }
    }
}

/* The whole rows at pos with the same field count (*nf), their fields recorded in e; the
 * row count (ending at *end), or -1 out of memory. Stops at the trailer (-1), another
 * shape (a frame of its own) or a row the buffer does not hold whole. */
static long enc_rows(colsplit_enc *e, const uint8_t *b, size_t len, size_t pos, int *nf, size_t *end)
{
    long rows = 0;
    *nf = -2;
    *end = pos;
    e->fcount = 0;
    while (len - *end >= 2) {
        int16_t k = (int16_t)(uint16_t)load_be(b + *end, 2);
        if (k < 0 || k > MAX_FIELDS || (*nf != -2 && k != *nf))
            break;
        size_t q = *end + 2, f0 = e->fcount;
        int ok = 1;
        for (int i = 0; i < k && ok; i++) {
            int32_t fl = len - q < 4 ? -2 : (int32_t)(uint32_t)load_be(b + q, 4);
            if (fl < -1 || (fl >= 0 && (size_t)fl > len - q - 4)) {
                ok = 0;
                break;
            }
            q += 4;
            if (add_field(e, (uint32_t)q, fl < 0 ? UINT32_MAX : (uint32_t)fl) != 0)
                return -1;
            if (fl > 0)
                q += (size_t)fl;
        }
        if (!ok) {
            e->fcount = f0;
            break;
        }
        *nf = k;
        rows++;
        *end = q;
    }
    return rows;
}

/* At pos no whole row: 1 when the encoder must stop for now (more bytes may complete it,
 * or the trailer passed the rest on); 0 after starting to follow a row larger than the
 * buffer (its bytes go raw); -1 on error. */
static int enc_no_row(colsplit_enc *e, const uint8_t *b, size_t len, size_t *pos, int final, char *err,
                      size_t errlen)
{
    if (len - *pos < 2)
        return 1;
    int16_t k = (int16_t)(uint16_t)load_be(b + *pos, 2);
    if (k < 0 || k > MAX_FIELDS) { /* the trailer (-1): it and anything after it as they are */
        e->mode = ENC_PASS;
        if (emit_raw(e, b + *pos, len - *pos, err, errlen) != 0)
            return -1;
        *pos = len;
        return 1;
    }
    if (final || *pos > 0 || len < e->cap)
        return 1; /* a row that may still complete in a fuller buffer */
    if (emit_raw(e, b + *pos, 2, err, errlen) != 0)
        return -1;
    *pos += 2;
    e->fields_left = k;
    return 0;
}

static int enc_flush(colsplit_enc *e, int final, char *err, size_t errlen)
{
    uint8_t *b = e->buf;
    size_t len = e->len, pos = 0;
    if (!enc_detect(e, final))
        return 0;
    if (e->mode == ENC_PASS) {
        e->len = 0;
        return emit_raw(e, b, len, err, errlen) != 0 ? -1 : 0;
    }
    for (;;) {
        size_t start = pos;
        enc_follow(e, b, len, &pos);
        if (e->mode == ENC_PASS) { /* what this pass has not framed yet, as it is */
            e->len = 0;
            return emit_raw(e, b + start, len - start, err, errlen) != 0 ? -1 : 0;
        }
        if (pos > start && emit_raw(e, b + start, pos - start, err, errlen) != 0)
            return -1;
        if (e->skip > 0 || e->fields_left > 0)
            break; /* the buffer ends inside a row */
        e->fields_left = -1;
        int nf;
        size_t end;
        long rows = enc_rows(e, b, len, pos, &nf, &end);
        if (rows < 0)
            return pf_err(err, errlen, "column layout: out of memory");
        if (rows > 0) {
            int rc = nf == 0 ? emit_raw(e, b + pos, end - pos, err, errlen) /* rows without columns */
                             : emit_columns(e, (size_t)rows, nf, err, errlen);
            if (rc != 0)
                return -1;
            pos = end;
            continue;
        }
        int stop = enc_no_row(e, b, len, &pos, final, err, errlen);
        if (stop < 0)
            return -1;
        if (stop)
            break;
    }
    if (final) {
        if (emit_raw(e, b + pos, len - pos, err, errlen) != 0)
            return -1;
        pos = len;
    }
    memmove(b, b + pos, len - pos);
    e->len = len - pos;
    return 0;
}

int colsplit_enc_write(colsplit_enc *e, const void *data, size_t len, char *err, size_t errlen)
{
    const uint8_t *p = data;
    while (len > 0) {
        size_t k = e->cap - e->len;
        if (k > len)
            k = len;
        memcpy(e->buf + e->len, p, k);
        e->len += k;
        p += k;
        len -= k;
        if (e->len == e->cap) {
            if (enc_flush(e, 0, err, errlen) != 0)
                return -1;
            if (e->len == e->cap) /* a full buffer always frames something */
                return pf_err(err, errlen, "column layout: no progress on a full block");
        }
    }
    return 0;
}

int colsplit_enc_finish(colsplit_enc *e, char *err, size_t errlen)
{
    return enc_flush(e, 1, err, errlen);
}

/* ---------------------------------------------------------------- decoder */

struct colsplit_dec {
    colsplit_sink_fn sink;
    void *ctx;
    uint8_t hdr[11];
    size_t hlen;
    int kind;       /* 0: reading a frame header */
    uint64_t left;  /* body bytes still to come */
    uint8_t *body;  /* a columns frame's body */
    size_t blen, bcap;
    uint8_t *out;
    size_t olen, ocap;
    uint64_t at; /* stream offset, for messages */
};

colsplit_dec *colsplit_dec_new(void)
{
    colsplit_dec *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->ocap = 1u << 20;
    d->out = malloc(d->ocap);
    if (!d->out) {
        free(d);
        return NULL;
    }
    return d;
}

void colsplit_dec_reset(colsplit_dec *d, colsplit_sink_fn sink, void *ctx)
{
    d->sink = sink;
    d->ctx = ctx;
    d->hlen = 0;
    d->kind = 0;
    d->left = 0;
    d->blen = 0;
    d->olen = 0;
    d->at = 0;
}

void colsplit_dec_free(colsplit_dec *d)
{
    if (!d)
        return;
    free(d->body);
    free(d->out);
    free(d);
}

static int out_flush(colsplit_dec *d, char *err, size_t errlen)
{
    if (d->olen == 0)
        return 0;
    size_t n = d->olen;
    d->olen = 0;
    return d->sink ? d->sink(d->ctx, d->out, n, err, errlen) : 0;
}

static int out_put(colsplit_dec *d, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    while (n > 0) {
        if (d->olen == d->ocap && out_flush(d, err, errlen) != 0)
            return -1;
        size_t k = d->ocap - d->olen;
        if (k > n)
            k = n;
        memcpy(d->out + d->olen, p, k);
        d->olen += k;
        p += k;
        n -= k;
    }
    return 0;
}

typedef struct {
    int xf, w;
    const uint8_t *lp, *lend; /* lengths */
    const uint8_t *vp, *vend; /* values */
    size_t cnt, i;            /* planes: values and the next one */
    uint64_t prev;
} dcol;

__attribute__((format(printf, 4, 5)))
static int bad(const colsplit_dec *d, char *err, size_t errlen, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return pf_err(err, errlen, "column layout: corrupt data at byte %llu of the decompressed stream: %s",
                  (unsigned long long)d->at, what);
}
#define BAD(...) bad(d, err, errlen, __VA_ARGS__)

/* One column's header in a columns frame at *p: transform, width, then its lengths and
 * values as sized byte runs. */
static int read_column(colsplit_dec *d, const uint8_t **pp, const uint8_t *end, dcol *s, uint64_t c, char *err,
                       size_t errlen)
{
    const uint8_t *p = *pp;
    uint64_t n;
    int k;
    if (p >= end || *p > XF_DELTA)
        return BAD("column %llu transform", (unsigned long long)c);
    s->xf = *p++;
    if (s->xf != XF_BYTES) {
        if (p >= end || (*p != 2 && *p != 4 && *p != 8))
            return BAD("column %llu width", (unsigned long long)c);
        s->w = *p++;
    }
    if ((k = get_varint(p, end, &n)) <= 0 || n > (uint64_t)(end - p - k))
        return BAD("column %llu lengths size", (unsigned long long)c);
    p += k;
    s->lp = p;
    s->lend = p + n;
    p += n;
    if ((k = get_varint(p, end, &n)) <= 0 || n > (uint64_t)(end - p - k))
        return BAD("column %llu values size", (unsigned long long)c);
    p += k;
    s->vp = p;
    s->vend = p + n;
    p += n;
    if (s->xf != XF_BYTES) {
        if (n % (uint64_t)s->w)
            return BAD("column %llu values size", (unsigned long long)c);
        s->cnt = n / (uint64_t)s->w;
    }
    *pp = p;
    return 0;
}

/* The value (length l) of the next row in column s, written out: bytes as they are, or
 * a fixed-width plane value put back together (and undeltaed). */
static int decode_value(colsplit_dec *d, dcol *s, uint64_t c, uint64_t l, char *err, size_t errlen)
{
    if (s->xf == XF_BYTES) {
        if (l > (uint64_t)(s->vend - s->vp))
            return BAD("column %llu values end early", (unsigned long long)c);
        if (d->ocap - d->olen >= l) {
            memcpy(d->out + d->olen, s->vp, l);
            d->olen += l;
        } else if (out_put(d, s->vp, l, err, errlen) != 0)
            return -1;
        s->vp += l;
        return 0;
    }
    if (l != (uint64_t)s->w || s->i >= s->cnt)
        return BAD("column %llu value %zu", (unsigned long long)c, s->i);
    uint64_t x = 0;
    const uint8_t *v0 = s->vp + s->i;
    for (int b = 0; b < s->w; b++)
        x = x << 8 | v0[(size_t)b * s->cnt];
    uint64_t v = s->xf == XF_DELTA ? zz_dec(x, s->prev, s->w) : x;
    s->prev = v;
    s->i++;
    if (d->ocap - d->olen < 8 && out_flush(d, err, errlen) != 0)
        return -1;
    store_be(d->out + d->olen, v, s->w);
    d->olen += (size_t)s->w;
    return 0;
}

/* The next row's field of column s: its length word, then its value. */
static int decode_field(colsplit_dec *d, dcol *s, uint64_t c, char *err, size_t errlen)
{
    uint64_t l1;
    int k;
    if (s->lp < s->lend && *s->lp < 0x80)
        l1 = *s->lp++;
    else if ((k = get_varint(s->lp, s->lend, &l1)) > 0)
        s->lp += k;
    else
        return BAD("column %llu has fewer lengths than rows", (unsigned long long)c);
    uint64_t l = l1 - 1;
    if (l1 != 0 && l > INT32_MAX)
        return BAD("column %llu length", (unsigned long long)c);
    if (d->ocap - d->olen < 4 && out_flush(d, err, errlen) != 0)
        return -1;
    store_be(d->out + d->olen, l1 == 0 ? UINT32_MAX : l, 4);
    d->olen += 4;
    return l1 == 0 ? 0 : decode_value(d, s, c, l, err, errlen);
}

static int decode_columns(colsplit_dec *d, char *err, size_t errlen)
{
    const uint8_t *p = d->body, *end = d->body + d->blen;
    uint64_t rows, nf;
    int k;
    if ((k = get_varint(p, end, &rows)) <= 0 || rows == 0)
        return BAD("row count");
    p += k;
    if ((k = get_varint(p, end, &nf)) <= 0 || nf == 0 || nf > MAX_FIELDS)
        return BAD("field count");
    p += k;
    dcol *cols = calloc(nf, sizeof *cols);
    if (!cols)
        return pf_err(err, errlen, "column layout: out of memory");
    int rc = 0;
    for (uint64_t c = 0; rc == 0 && c < nf; c++)
        rc = read_column(d, &p, end, &cols[c], c, err, errlen);
    if (rc == 0 && p != end)
        rc = BAD("bytes after the last column");
    for (uint64_t r = 0; rc == 0 && r < rows; r++) {
        /* room for the field count and every field's length word at once */
        if (d->ocap - d->olen < 2 + 4 * nf && out_flush(d, err, errlen) != 0) {
            rc = -1;
            break;
        }
        d->out[d->olen] = (uint8_t)(nf >> 8);
        d->out[d->olen + 1] = (uint8_t)nf;
        d->olen += 2;
        for (uint64_t c = 0; rc == 0 && c < nf; c++)
            rc = decode_field(d, &cols[c], c, err, errlen);
    }
    for (uint64_t c = 0; rc == 0 && c < nf; c++) {
        dcol *s = &cols[c];
        if (s->lp != s->lend || (s->xf == XF_BYTES ? s->vp != s->vend : s->i != s->cnt))
            rc = BAD("column %llu has more data than rows", (unsigned long long)c);
    }
    free(cols);
    return rc < 0 ? -1 : 0;
}

int colsplit_dec_feed(colsplit_dec *d, const void *data, size_t len, char *err, size_t errlen)
{
    const uint8_t *p = data;
    while (len > 0) {
        if (d->kind == 0) {
            d->hdr[d->hlen++] = *p++;
            len--;
            if (d->hdr[0] != FRAME_RAW && d->hdr[0] != FRAME_COLS)
                return BAD("unknown frame kind %u", d->hdr[0]);
            if (d->hlen == 1)
                continue;
            uint64_t n;
            int k = get_varint(d->hdr + 1, d->hdr + d->hlen, &n);
            if (k < 0 || (k == 0 && d->hlen == sizeof d->hdr))
                return BAD("frame length");
            if (k == 0)
                continue;
            if (n > COLSPLIT_FRAME_MAX || (d->hdr[0] == FRAME_COLS && n == 0))
                return BAD("frame length %llu", (unsigned long long)n);
            d->at += d->hlen;
            d->kind = d->hdr[0];
            d->hlen = 0;
            d->left = n;
            d->blen = 0;
            if (d->kind == FRAME_COLS && grow(&d->body, &d->bcap, (size_t)n) != 0)
                return pf_err(err, errlen, "column layout: out of memory");
            if (n == 0)
                d->kind = 0;
            continue;
        }
        size_t k = len < d->left ? len : (size_t)d->left;
        if (d->kind == FRAME_RAW) {
            if (out_put(d, p, k, err, errlen) != 0)
                return -1;
        } else {
            memcpy(d->body + d->blen, p, k);
            d->blen += k;
        }
        p += k;
        len -= k;
        d->left -= k;
        if (d->kind == FRAME_RAW)
            d->at += k;
        if (d->left == 0) {
            if (d->kind == FRAME_COLS && decode_columns(d, err, errlen) != 0)
                return -1;
            if (d->kind == FRAME_COLS)
                d->at += d->blen;
            d->kind = 0;
        }
    }
    return out_flush(d, err, errlen);
}

int colsplit_dec_finish(colsplit_dec *d, char *err, size_t errlen)
{
    if (d->kind != 0 || d->hlen != 0)
        return BAD("the stream ends inside a frame");
    return out_flush(d, err, errlen);
}
