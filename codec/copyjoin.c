#include "codec/copyjoin.h"

#include "common/pf_util.h"

#include <string.h>

/* PGCOPY\n\377\r\n\0, flags (int32), header extension length (int32) */
#define HEAD_FIXED 19

void copyjoin_begin(copyjoin *j, int binary, int first, int last, chunk_sink_fn sink, void *sink_ctx)
{
    memset(j, 0, sizeof *j);
    j->sink = sink;
    j->sink_ctx = sink_ctx;
    j->binary = binary;
    j->first = first;
    j->last = last;
    j->head_done = !binary || first;
}

static int out(copyjoin *j, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    return n ? j->sink(j->sink_ctx, p, n, err, errlen) : 0;
}

int copyjoin_feed(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
    copyjoin *j = ctx;
    const uint8_t *p = buf;
    if (!j->binary || (j->last && j->head_done))
        return out(j, p, len, err, errlen);
    while (!j->head_done && len > 0) {
        if (j->head_have < HEAD_FIXED) {
            size_t take = HEAD_FIXED - j->head_have < len ? HEAD_FIXED - j->head_have : len;
            memcpy(j->head + j->head_have, p, take);
            j->head_have += take;
            p += take;
            len -= take;
            if (j->head_have == HEAD_FIXED) {
                if (memcmp(j->head, "PGCOPY\n\377\r\n", 11) != 0)
                    return pf_err(err, errlen, "COPY stream: bad binary signature");
                j->skip = (uint64_t)j->head[15] << 24 | (uint64_t)j->head[16] << 16 | (uint64_t)j->head[17] << 8 |
                          j->head[18];
            }
            continue;
        }
        size_t take = j->skip < len ? (size_t)j->skip : len;
        j->skip -= take;
        p += take;
        len -= take;
        if (j->skip == 0)
            j->head_done = 1;
    }
    if (len == 0)
        return 0;
    if (j->last)
        return out(j, p, len, err, errlen);
    /* not the last stream: hold back the final two bytes (its trailer, if it ends here) */
    if (len >= 2) {
        if (out(j, j->tail, j->tail_have, err, errlen) < 0 || out(j, p, len - 2, err, errlen) < 0)
            return -1;
        memcpy(j->tail, p + len - 2, 2);
        j->tail_have = 2;
        return 0;
    }
    /* one byte: the oldest held byte, if two are held, goes out */
    if (j->tail_have == 2) {
        if (out(j, j->tail, 1, err, errlen) < 0)
            return -1;
        j->tail[0] = j->tail[1];
        j->tail_have = 1;
    }
    j->tail[j->tail_have++] = p[0];
    return 0;
}

int copyjoin_end(copyjoin *j, char *err, size_t errlen)
{
    if (!j->binary || j->last)
        return 0;
    if (!j->head_done)
        return pf_err(err, errlen, "COPY stream: binary header truncated");
    if (j->tail_have != 2 || j->tail[0] != 0xff || j->tail[1] != 0xff)
        return pf_err(err, errlen, "COPY stream: binary trailer missing");
    return 0;
}
