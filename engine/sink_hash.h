/* sink_hash: a dump that keeps nothing (copysink.h): every chunk's rows, raw bytes, raw
 * xxh3-128 and content hash, as a dump would record them; how `verify --db` proves a live
 * database equals a dump. */
#ifndef PF_SINK_HASH_H
#define PF_SINK_HASH_H

#include "engine/copysink.h"

int sink_hash_open(copysink *out, char *err, size_t errlen);
void sink_hash_close(copysink *s);

#endif
