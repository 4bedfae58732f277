#include "codec/hasher.h"

#include <string.h>
#include <xxhash.h>

/* A chunk_hasher is an XXH3 state under another name: no wrapper allocation. */

chunk_hasher *chunk_hasher_new(void)
{
    XXH3_state_t *s = XXH3_createState();
    if (!s)
        return NULL;
    chunk_hasher *h = (chunk_hasher *)s; /* the state is the whole object */
    chunk_hasher_reset(h);
    return h;
}

void chunk_hasher_reset(chunk_hasher *h)
{
    XXH3_128bits_reset((XXH3_state_t *)h);
}

void chunk_hasher_update(chunk_hasher *h, const void *data, size_t len)
{
    XXH3_128bits_update((XXH3_state_t *)h, data, len);
}

chunk_hash chunk_hasher_digest(const chunk_hasher *h)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest((const XXH3_state_t *)h));
    chunk_hash out;
    memcpy(out.b, c.digest, sizeof out.b);
    return out;
}

void chunk_hasher_free(chunk_hasher *h)
{
    XXH3_freeState((XXH3_state_t *)h);
}
