/* store_impl: what a storage backend provides (see store.h for the meaning of each call).
 * A backend embeds the structs below as the first member of its own and fills one
 * store_ops; store.c picks the backend from the location's scheme and dispatches. Adding a
 * backend (S3) is one file with one store_ops and one line in store.c's table. */
#ifndef PF_STORE_IMPL_H
#define PF_STORE_IMPL_H

#include "io/store.h"

typedef struct store_ops store_ops;

struct pf_store {
    const store_ops *ops;
    char *location;
};
struct store_reader {
    const store_ops *ops;
};
struct store_writer {
    const store_ops *ops;
};
struct store_lock {
    const store_ops *ops;
};

struct store_ops {
    const char *scheme; /* "s3://"; NULL for local paths */
    pf_store *(*open)(const char *location, unsigned flags, char *err, size_t errlen);
    pf_store *(*open_sub)(const pf_store *parent, const char *name, unsigned flags, char *err, size_t errlen);
    void (*close)(pf_store *s);
    int (*root_state)(const pf_store *s, store_root_state_t *state, char *err, size_t errlen);
    int (*local_path)(const pf_store *s, const char *name, char *out, size_t outlen);
    int (*stat)(const pf_store *s, const char *name, store_info *info, char *err, size_t errlen);
    int (*list)(const pf_store *s, const char *prefix, store_list_fn fn, void *ctx, char *err, size_t errlen);
    store_reader *(*reader_open)(const pf_store *s, const char *name, uint64_t offset, uint64_t len, char *err,
                                 size_t errlen);
    int (*reader_read)(store_reader *r, void *buf, size_t cap, size_t *got, char *err, size_t errlen);
    uint64_t (*reader_file_size)(const store_reader *r);
    void (*reader_close)(store_reader *r);
    store_writer *(*writer_open)(pf_store *s, const char *name, unsigned flags, char *err, size_t errlen);
    int (*writer_write)(store_writer *w, const void *data, size_t len, char *err, size_t errlen);
    int (*writer_commit)(store_writer *w, char *err, size_t errlen);
    void (*writer_abort)(store_writer *w);
    uint64_t (*writer_offset)(const store_writer *w);
    int (*writer_async)(const store_writer *w);
    int (*mkprefix)(pf_store *s, const char *name, char *err, size_t errlen);
    int (*sync)(pf_store *s, const char *prefix, char *err, size_t errlen);
    int (*remove)(pf_store *s, const char *name, char *err, size_t errlen);
    int (*remove_tree)(pf_store *s, const char *name, char *err, size_t errlen);
    int (*rename)(pf_store *s, const char *from, const char *to, char *err, size_t errlen);
    store_lock *(*lock_take)(pf_store *s, const char *name, const char *owner, unsigned flags, int *busy, char *err,
                             size_t errlen);
    void (*lock_release)(store_lock *l);
    int (*lock_held)(const pf_store *s, const char *name);
};

extern const store_ops store_posix_ops;
extern const store_ops store_s3_ops;

#endif
