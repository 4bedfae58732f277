#include "engine/dumpdir.h"

#include "codec/hasher.h"

#include "common/pf_util.h"
#include "io/pf_io.h"

#include <stdlib.h>
#include <string.h>

int dumpdir_hash_file(const char *path, chunk_hash *h, uint64_t *size, char *err, size_t errlen)
{
    io_reader *r = io_reader_open(path, err, errlen);
    if (!r)
        return -1;
    chunk_hasher *hs = chunk_hasher_new();
    uint8_t *buf = malloc(1 << 20);
    if (!hs || !buf) {
        if (hs)
            chunk_hasher_free(hs);
        free(buf);
        io_reader_close(r);
        return pf_err(err, errlen, "out of memory");
    }
    size_t got;
    int rc;
    *size = 0;
    while ((rc = io_reader_read(r, buf, 1 << 20, &got, err, errlen)) == 0 && got > 0) {
        chunk_hasher_update(hs, buf, got);
        *size += got;
    }
    *h = chunk_hasher_digest(hs);
    chunk_hasher_free(hs);
    free(buf);
    io_reader_close(r);
    return rc;
}
