/* sink_file: the dump written into a store (copysink.h): chunk files, the schema archive
 * (pg_dump --schema-only in the same snapshot), globals and the manifest, last. */
#ifndef PF_SINK_FILE_H
#define PF_SINK_FILE_H

#include "engine/copysink.h"
#include "engine/dump.h"

/* Opens the sink on o->dir, which must be new or empty (it is created only at start, once
 * the catalog is read). Uses o's codec, level, passphrase, globals, conninfo and
 * lock_wait_timeout. */
int sink_file_open(const dump_options *o, copysink *out, char *err, size_t errlen);
void sink_file_close(copysink *s);

/* Before start: the sink writes this schema archive (pg_dump's custom format, in the
 * clear, read in the run's snapshot) instead of running pg_dump itself, and these globals
 * (globals_read's text, or NULL: read them at start if o->globals) instead of reading
 * them; it keeps its own copies. pgferry copy --keep-dump: what copy read for the target
 * serves the dump too. */
int sink_file_use_read(copysink *s, const void *schema, size_t len, const char *globals, char *err,
                       size_t errlen);

/* pgferry dump: dump_run into a file sink on o->dir. */
int dump_to_dir(const dump_options *o, dump_summary *s, char *err, size_t errlen);

#endif
