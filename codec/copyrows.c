#include "codec/copyrows.h"

#include "common/pf_util.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void rowhash_add_row(rowhash *acc, const void *row, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(row, len);
    rowhash r = {h.high64, h.low64};
    rowhash_add(acc, &r);
}

void rowhash_add(rowhash *acc, const rowhash *o)
{
    uint64_t lo = acc->lo + o->lo;
    acc->hi += o->hi + (lo < acc->lo);
    acc->lo = lo;
}

int rowhash_equal(const rowhash *a, const rowhash *b)
{
    return a->hi == b->hi && a->lo == b->lo;
}

void rowhash_hex(const rowhash *h, char out[33])
{
    uint8_t b[16];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(h->hi >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(h->lo >> (56 - 8 * i));
    }
    pf_hex(b, 16, out);
}

int rowhash_from_hex(const char *hex, rowhash *out)
{
    uint8_t b[16];
    if (pf_unhex(hex, b, 16) < 0)
        return -1;
    out->hi = out->lo = 0;
    for (int i = 0; i < 8; i++) {
        out->hi = out->hi << 8 | b[i];
        out->lo = out->lo << 8 | b[8 + i];
    }
    return 0;
}

static const uint8_t binary_signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

enum state { ST_HEADER, ST_ROWS, ST_DONE };

struct copyrows {
    copyrows_format fmt;
    enum state st;
    uint64_t rows;
    rowhash hash;
    /* A row (or the binary header) that straddles feeds is gathered here. Rows that fit in
     * one feed, the usual case for COPY messages, are hashed in place. */
    uint8_t *buf;
    size_t len, cap;
};

copyrows *copyrows_new(copyrows_format fmt)
{
    copyrows *p = calloc(1, sizeof *p);
    if (p) {
        p->fmt = fmt;
        copyrows_reset(p);
    }
    return p;
}

void copyrows_reset(copyrows *p)
{
    p->st = p->fmt == COPYROWS_BINARY ? ST_HEADER : ST_ROWS;
    p->rows = 0;
    p->hash.hi = p->hash.lo = 0;
    p->len = 0;
}

void copyrows_free(copyrows *p)
{
    if (p) {
        free(p->buf);
        free(p);
    }
}

uint64_t copyrows_rows(const copyrows *p) { return p->rows; }
rowhash copyrows_hash(const copyrows *p) { return p->hash; }

static int append(copyrows *p, const uint8_t *d, size_t n)
{
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n)
            cap *= 2;
        uint8_t *b = realloc(p->buf, cap);
        if (!b)
            return -1;
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, d, n);
    p->len += n;
    return 0;
}

/* Binary: how many bytes the item at s (header, tuple or trailer) needs, 0 if not yet
 * known from the n bytes available, or -1 if malformed. *is_trailer set for the -1 trailer. */
static int64_t binary_item_len(copyrows *p, const uint8_t *s, size_t n, int *is_trailer,
                               char *err, size_t errlen)
{
    *is_trailer = 0;
    if (p->st == ST_HEADER) {
        if (n < 19)
            return memcmp(s, binary_signature, n < 11 ? n : 11) ? (pf_err(err, errlen, "COPY stream: bad binary signature"), -1) : 0;
        if (memcmp(s, binary_signature, 11) != 0)
            return pf_err(err, errlen, "COPY stream: bad binary signature");
        uint32_t ext = (uint32_t)s[15] << 24 | (uint32_t)s[16] << 16 | (uint32_t)s[17] << 8 | s[18];
        if (ext > (1u << 30))
            return pf_err(err, errlen, "COPY stream: bad binary header extension length");
        /* the extension area must be complete too: consuming a header longer than n
         * bytes would step past the end of the input */
        if (n < 19 + (size_t)ext)
            return 0;
        return 19 + (int64_t)ext;
    }
    if (n < 2)
        return 0;
    int16_t nf = (int16_t)((uint16_t)s[0] << 8 | s[1]);
    if (nf == -1) {
        *is_trailer = 1;
        return 2;
    }
    if (nf < 0)
        return pf_err(err, errlen, "COPY stream: bad field count %d", nf);
    size_t off = 2;
    for (int i = 0; i < nf; i++) {
        if (n < off + 4)
            return 0;
        int32_t fl = (int32_t)((uint32_t)s[off] << 24 | (uint32_t)s[off + 1] << 16 |
                               (uint32_t)s[off + 2] << 8 | s[off + 3]);
        off += 4;
        if (fl == -1)
            continue;
        if (fl < 0)
            return pf_err(err, errlen, "COPY stream: bad field length %d", fl);
        off += (size_t)fl;
        if (n < off)
            return 0;
    }
    return (int64_t)off;
}

/* Consumes one complete item at s; returns its length, 0 when more input is needed. */
static int64_t take_item(copyrows *p, const uint8_t *s, size_t n, char *err, size_t errlen)
{
    if (p->st == ST_DONE)
        return pf_err(err, errlen, "COPY stream: data after the binary trailer");
    if (p->fmt == COPYROWS_TEXT) {
        const uint8_t *nl = memchr(s, '\n', n);
        if (!nl)
            return 0;
        size_t len = (size_t)(nl - s);
        rowhash_add_row(&p->hash, s, len);
        p->rows++;
        return (int64_t)len + 1;
    }
    int trailer;
    int64_t len = binary_item_len(p, s, n, &trailer, err, errlen);
    if (len <= 0)
        return len;
    if (p->st == ST_HEADER)
        p->st = ST_ROWS;
    else if (trailer)
        p->st = ST_DONE;
    else {
        rowhash_add_row(&p->hash, s, (size_t)len);
        p->rows++;
    }
    return len;
}

int copyrows_feed(copyrows *p, const void *data, size_t len, char *err, size_t errlen)
{
    const uint8_t *d = data;
    while (len > 0) {
        if (p->len > 0) {
            /* Finish the pending item: for text, up to the next newline; for binary, grow
             * the buffer only by what the item needs (binary_item_len tells once known). */
            if (p->fmt == COPYROWS_TEXT) {
                const uint8_t *nl = memchr(d, '\n', len);
                size_t take = nl ? (size_t)(nl - d) + 1 : len;
                if (append(p, d, take) < 0)
                    return pf_err(err, errlen, "out of memory");
                d += take;
                len -= take;
                if (nl) {
                    int64_t r = take_item(p, p->buf, p->len, err, errlen);
                    if (r < 0)
                        return -1;
                    p->len = 0;
                }
                continue;
            }
            /* binary: add a byte range and retry; items are small relative to feeds */
            size_t take = len < 65536 ? len : 65536;
            if (append(p, d, take) < 0)
                return pf_err(err, errlen, "out of memory");
            int64_t r = take_item(p, p->buf, p->len, err, errlen);
            if (r < 0)
                return -1;
            if (r == 0) {
                d += take;
                len -= take;
                continue;
            }
            /* the item ended inside what was just appended: give back the rest */
            size_t extra = p->len - (size_t)r;
            d += take - extra;
            len -= take - extra;
            p->len = 0;
            continue;
        }
        int64_t r = take_item(p, d, len, err, errlen);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (append(p, d, len) < 0)
                return pf_err(err, errlen, "out of memory");
            return 0;
        }
        d += r;
        len -= (size_t)r;
    }
    return 0;
}

int copyrows_finish(copyrows *p, char *err, size_t errlen)
{
    if (p->len > 0)
        return pf_err(err, errlen, "COPY stream ends inside a row");
    if (p->fmt == COPYROWS_BINARY && p->st != ST_DONE)
        return pf_err(err, errlen, "COPY stream: binary trailer missing");
    return 0;
}
