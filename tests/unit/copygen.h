/* copygen: deterministic binary COPY streams for the codec tests. */
#ifndef PF_TEST_COPYGEN_H
#define PF_TEST_COPYGEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t copygen_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

static inline size_t copygen_be(uint8_t *o, uint64_t v, int w)
{
    for (int i = 0; i < w; i++)
        o[i] = (uint8_t)(v >> (8 * (w - 1 - i)));
    return (size_t)w;
}

/* A COPY ... (FORMAT binary) stream of `rows` rows of 5 fields: a growing bigint, a random
 * int, a text of a few words (big_len bytes every big_every-th row when both are set), a
 * NULL every 7th row else a date, a timestamp 7 s apart. Returns the bytes written, or 0
 * when cap is too small. */
static inline size_t copygen_binary(uint8_t *o, size_t cap, size_t rows, uint64_t seed, size_t big_every,
                                    size_t big_len)
{
    static const char *words[] = {"alpha", "bravo", "order", "payment", "shipped", "refund", "x"};
    static const uint8_t sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    size_t n = 0;
    if (cap < 21)
        return 0;
    memcpy(o, sig, 11);
    n = 11;
    n += copygen_be(o + n, 0, 4);
    n += copygen_be(o + n, 0, 4);
    for (size_t r = 0; r < rows; r++) {
        size_t tlen = big_every && r % big_every == big_every - 1 ? big_len : 0;
        if (n + 64 + tlen + 64 > cap)
            return 0;
        n += copygen_be(o + n, 5, 2);
        n += copygen_be(o + n, 8, 4);
        n += copygen_be(o + n, 1000 + r, 8);
        n += copygen_be(o + n, 4, 4);
        n += copygen_be(o + n, copygen_rand(&seed) % 500000, 4);
        if (tlen) {
            n += copygen_be(o + n, tlen, 4);
            for (size_t i = 0; i < tlen; i++)
                o[n + i] = (uint8_t)('a' + copygen_rand(&seed) % 26);
            n += tlen;
        } else {
            char t[64];
            size_t l = 0;
            for (int k = 0; k < 3; k++) {
                const char *w = words[copygen_rand(&seed) % 7];
                memcpy(t + l, w, strlen(w));
                l += strlen(w);
                t[l++] = ' ';
            }
            n += copygen_be(o + n, l, 4);
            memcpy(o + n, t, l);
            n += l;
        }
        if (r % 7 == 3) {
            n += copygen_be(o + n, UINT32_MAX, 4);
        } else {
            n += copygen_be(o + n, 4, 4);
            n += copygen_be(o + n, 8000 + r / 100, 4);
        }
        n += copygen_be(o + n, 8, 4);
        n += copygen_be(o + n, 700000000000ULL + 7000000ULL * r, 8);
    }
    if (n + 2 > cap)
        return 0;
    n += copygen_be(o + n, 0xffff, 2);
    return n;
}

#endif
