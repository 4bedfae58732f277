#include "engine/dumpdir.h"

#include "common/pf_util.h"
#include "io/pf_io.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int dumpdir_hash_file(const char *path, chunk_hash *h, uint64_t *size, char *err, size_t errlen)
{
    io_reader *r = io_reader_open(path, err, errlen);
    if (!r)
        return -1;
    XXH3_state_t *s = XXH3_createState();
    uint8_t *buf = malloc(1 << 20);
    if (!s || !buf) {
        XXH3_freeState(s);
        free(buf);
        io_reader_close(r);
        return pf_err(err, errlen, "out of memory");
    }
    XXH3_128bits_reset(s);
    size_t got;
    int rc;
    *size = 0;
    while ((rc = io_reader_read(r, buf, 1 << 20, &got, err, errlen)) == 0 && got > 0) {
        XXH3_128bits_update(s, buf, got);
        *size += got;
    }
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(s));
    memcpy(h->b, canon.digest, 16);
    XXH3_freeState(s);
    free(buf);
    io_reader_close(r);
    return rc;
}
