#include "engine/diffrow.h"

#include "common/pf_util.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t binary_signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* ---- streaming row splitter ------------------------------------------------------------ */

struct diffrow_splitter {
    copyrows_format fmt;
    diffrow_fn fn;
    void *ctx;
    int header_done;  /* binary: the file header was consumed */
    int ended;        /* binary: the -1 trailer was seen */
    uint8_t *pend;    /* bytes of an unfinished row (or header) */
    size_t plen, pcap;
};

diffrow_splitter *diffrow_splitter_new(copyrows_format fmt, diffrow_fn fn, void *ctx)
{
    diffrow_splitter *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fmt = fmt;
    s->fn = fn;
    s->ctx = ctx;
    return s;
}

void diffrow_splitter_reset(diffrow_splitter *s)
{
    s->header_done = 0;
    s->ended = 0;
    s->plen = 0;
}

void diffrow_splitter_free(diffrow_splitter *s)
{
    if (!s)
        return;
    free(s->pend);
    free(s);
}

static int pend_put(diffrow_splitter *s, const uint8_t *d, size_t n)
{
    if (s->plen + n > s->pcap) {
        size_t cap = s->pcap ? s->pcap : 4096;
        while (cap < s->plen + n)
            cap *= 2;
        uint8_t *p = realloc(s->pend, cap);
        if (!p)
            return -1;
        s->pend = p;
        s->pcap = cap;
    }
    memcpy(s->pend + s->plen, d, n);
    s->plen += n;
    return 0;
}

/* Binary: how many bytes the item at p (n available) needs: the header, a tuple or the
 * trailer. 0 when more bytes are needed to tell; -1 on a malformed stream. */
static int64_t binary_need(diffrow_splitter *s, const uint8_t *p, size_t n, int *is_trailer)
{
    *is_trailer = 0;
    if (!s->header_done) {
        if (n < 19)
            return 0;
        if (memcmp(p, binary_signature, 11) != 0)
            return -1;
        uint32_t ext = be32(p + 15);
        return n >= 19 + (size_t)ext ? 19 + (int64_t)ext : 0;
    }
    if (n < 2)
        return 0;
    int16_t nf = (int16_t)be16(p);
    if (nf == -1) {
        *is_trailer = 1;
        return 2;
    }
    if (nf < 0)
        return -1;
    size_t at = 2;
    for (int i = 0; i < nf; i++) {
        if (n < at + 4)
            return 0;
        int32_t fl = (int32_t)be32(p + at);
        at += 4;
        if (fl < -1)
            return -1;
        if (fl > 0)
            at += (size_t)fl;
    }
    return n >= at ? (int64_t)at : 0;
}

/* Cuts as many whole items as p[0..n) holds; returns how many bytes were used. */
static int64_t consume(diffrow_splitter *s, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    size_t used = 0;
    if (s->fmt == COPYROWS_TEXT) {
        while (used < n) {
            const uint8_t *nl = memchr(p + used, '\n', n - used);
            if (!nl)
                break;
            size_t len = (size_t)(nl - (p + used));
            if (!(len == 2 && p[used] == '\\' && p[used + 1] == '.') && /* end-of-data marker */
                s->fn(s->ctx, p + used, len, err, errlen) < 0)
                return -1;
            used += len + 1;
        }
        return (int64_t)used;
    }
    while (used < n) {
        if (s->ended) {
            pf_err(err, errlen, "malformed binary COPY data: bytes after the trailer");
            return -1;
        }
        int trailer;
        int64_t need = binary_need(s, p + used, n - used, &trailer);
        if (need < 0) {
            pf_err(err, errlen, "malformed binary COPY data");
            return -1;
        }
        if (need == 0)
            break;
        if (!s->header_done)
            s->header_done = 1;
        else if (trailer)
            s->ended = 1;
        else if (s->fn(s->ctx, p + used, (size_t)need, err, errlen) < 0)
            return -1;
        used += (size_t)need;
    }
    return (int64_t)used;
}

int diffrow_splitter_feed(diffrow_splitter *s, const void *data, size_t len, char *err, size_t errlen)
{
    const uint8_t *d = data;
    if (s->plen > 0) {
        /* finish the pending item first: add bytes until it is whole. Text: up to the next
         * newline; binary: add everything (simple; rows are small next to the feeds). */
        if (s->fmt == COPYROWS_TEXT) {
            const uint8_t *nl = memchr(d, '\n', len);
            size_t take = nl ? (size_t)(nl - d) + 1 : len;
            if (pend_put(s, d, take) < 0)
                return pf_err(err, errlen, "out of memory");
            d += take;
            len -= take;
            if (!nl)
                return 0;
            int64_t u = consume(s, s->pend, s->plen, err, errlen);
            if (u < 0)
                return -1;
            s->plen = 0;
        } else {
            if (pend_put(s, d, len) < 0)
                return pf_err(err, errlen, "out of memory");
            int64_t u = consume(s, s->pend, s->plen, err, errlen);
            if (u < 0)
                return -1;
            memmove(s->pend, s->pend + u, s->plen - (size_t)u);
            s->plen -= (size_t)u;
            return 0;
        }
    }
    int64_t u = consume(s, d, len, err, errlen);
    if (u < 0)
        return -1;
    if ((size_t)u < len && pend_put(s, d + u, len - (size_t)u) < 0)
        return pf_err(err, errlen, "out of memory");
    return 0;
}

int diffrow_splitter_finish(diffrow_splitter *s, char *err, size_t errlen)
{
    if (s->plen > 0)
        return pf_err(err, errlen, "COPY data ends inside a row");
    if (s->fmt == COPYROWS_BINARY && s->header_done && !s->ended)
        return pf_err(err, errlen, "binary COPY data ends without its trailer");
    return 0;
}

/* ---- fields ---------------------------------------------------------------------------- */

int diffrow_fields(copyrows_format fmt, const uint8_t *row, size_t len, size_t ncols, diffrow_field *out,
                   char *err, size_t errlen)
{
    if (fmt == COPYROWS_TEXT) {
        size_t i = 0, start = 0;
        for (size_t k = 0; k <= len; k++) {
            if (k < len && row[k] != '\t')
                continue;
            if (i >= ncols)
                return pf_err(err, errlen, "row has more than %zu fields", ncols);
            out[i].off = (uint32_t)start;
            out[i].len = (k - start == 2 && row[start] == '\\' && row[start + 1] == 'N') ? -1 : (int32_t)(k - start);
            i++;
            start = k + 1;
        }
        if (i != ncols)
            return pf_err(err, errlen, "row has %zu fields, expected %zu", i, ncols);
        return 0;
    }
    if (len < 2 || be16(row) != ncols)
        return pf_err(err, errlen, "row has %d fields, expected %zu", len < 2 ? -1 : (int)(int16_t)be16(row), ncols);
    size_t at = 2;
    for (size_t i = 0; i < ncols; i++) {
        if (at + 4 > len)
            return pf_err(err, errlen, "row ends inside a field");
        int32_t fl = (int32_t)be32(row + at);
        at += 4;
        out[i].off = (uint32_t)at;
        out[i].len = fl;
        if (fl > 0)
            at += (size_t)fl;
        if (at > len)
            return pf_err(err, errlen, "row ends inside a field");
    }
    return 0;
}

/* ---- text values and literals ---------------------------------------------------------- */

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* As PostgreSQL's CopyReadAttributesText. */
size_t diffrow_unescape(const uint8_t *f, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = f[i];
        if (c != '\\' || i + 1 >= len) {
            out[o++] = (char)c;
            continue;
        }
        c = f[++i];
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'v': out[o++] = '\v'; break;
        case 'x':
            if (i + 1 < len && hexval(f[i + 1]) >= 0) {
                int v = hexval(f[++i]);
                if (i + 1 < len && hexval(f[i + 1]) >= 0)
                    v = v * 16 + hexval(f[++i]);
                out[o++] = (char)v;
            } else {
                out[o++] = 'x';
            }
            break;
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0';
                if (i + 1 < len && f[i + 1] >= '0' && f[i + 1] <= '7') {
                    v = v * 8 + (f[++i] - '0');
                    if (i + 1 < len && f[i + 1] >= '0' && f[i + 1] <= '7')
                        v = v * 8 + (f[++i] - '0');
                }
                out[o++] = (char)(v & 0xff);
            } else {
                out[o++] = (char)c;
            }
        }
    }
    out[o] = '\0';
    return o;
}

int diffrow_buf_put(diffrow_buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

int diffrow_buf_puts(diffrow_buf *b, const char *s) { return diffrow_buf_put(b, s, strlen(s)); }

void diffrow_buf_free(diffrow_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int diffrow_literal(diffrow_buf *b, const char *v, size_t len, const char *type)
{
    int esc = memchr(v, '\\', len) != NULL;
    if (diffrow_buf_puts(b, esc ? "E'" : "'") < 0)
        return -1;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] != '\'' && v[i] != '\\')
            continue;
        /* the run before, then the character twice */
        if (diffrow_buf_put(b, v + start, i - start + 1) < 0 || diffrow_buf_put(b, v + i, 1) < 0)
            return -1;
        start = i + 1;
    }
    if (diffrow_buf_put(b, v + start, len - start) < 0 || diffrow_buf_puts(b, "'") < 0)
        return -1;
    if (type && (diffrow_buf_puts(b, "::") < 0 || diffrow_buf_puts(b, type) < 0))
        return -1;
    return 0;
}
