/* store: picks a backend by the location's scheme and dispatches to it. */
#include "io/store_impl.h"

#include "common/pf_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backends with a scheme; a location without one of these is a local path. */
static const store_ops *const store_backends[] = {
    &store_s3_ops,
    NULL,
};

static const store_ops *store_pick(const char *location)
{
    for (size_t i = 0; store_backends[i]; i++)
        if (strncmp(location, store_backends[i]->scheme, strlen(store_backends[i]->scheme)) == 0)
            return store_backends[i];
    return &store_posix_ops;
}

pf_store *store_open(const char *location, unsigned flags, char *err, size_t errlen)
{
    if (!location || !*location) {
        pf_err(err, errlen, "no location given");
        return NULL;
    }
    if (strstr(location, "://") && store_pick(location) == &store_posix_ops) {
        pf_err(err, errlen, "%s: this kind of location is not supported (local directories and s3://BUCKET/PREFIX are)", location);
        return NULL;
    }
    return store_pick(location)->open(location, flags, err, errlen);
}

pf_store *store_open_sub(const pf_store *parent, const char *name, unsigned flags, char *err, size_t errlen)
{
    return parent->ops->open_sub(parent, name, flags, err, errlen);
}

void store_close(pf_store *s)
{
    if (s)
        s->ops->close(s);
}

const char *store_location(const pf_store *s)
{
    return s->location;
}

void store_display(const pf_store *s, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(s->location);
    while (n > 1 && s->location[n - 1] == '/')
        n--;
    if (!name || !*name)
        snprintf(out, outlen, "%.*s", (int)n, s->location);
    else
        snprintf(out, outlen, "%.*s/%s", (int)n, s->location, name);
}

int store_root_state(const pf_store *s, store_root_state_t *state, char *err, size_t errlen)
{
    return s->ops->root_state(s, state, err, errlen);
}

int store_local_path(const pf_store *s, const char *name, char *out, size_t outlen)
{
    return s->ops->local_path ? s->ops->local_path(s, name, out, outlen) : -1;
}

int store_stat(const pf_store *s, const char *name, store_info *info, char *err, size_t errlen)
{
    return s->ops->stat(s, name, info, err, errlen);
}

int store_list(const pf_store *s, const char *prefix, store_list_fn fn, void *ctx, char *err, size_t errlen)
{
    return s->ops->list(s, prefix ? prefix : "", fn, ctx, err, errlen);
}

store_reader *store_reader_open(const pf_store *s, const char *name, uint64_t offset, uint64_t len, char *err,
                                size_t errlen)
{
    return s->ops->reader_open(s, name, offset, len, err, errlen);
}

int store_reader_read(store_reader *r, void *buf, size_t cap, size_t *got, char *err, size_t errlen)
{
    return r->ops->reader_read(r, buf, cap, got, err, errlen);
}

uint64_t store_reader_file_size(const store_reader *r)
{
    return r->ops->reader_file_size(r);
}

void store_reader_close(store_reader *r)
{
    if (r)
        r->ops->reader_close(r);
}

int store_read_all(const pf_store *s, const char *name, char **data, size_t *len, char *err, size_t errlen)
{
    store_reader *r = store_reader_open(s, name, 0, STORE_TO_END, err, errlen);
    if (!r)
        return -1;
    /* the size is a hint only: a file may grow meanwhile */
    size_t cap = (size_t)store_reader_file_size(r) + 1, n = 0;
    if (cap < 4096)
        cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            store_reader_close(r);
            return pf_err(err, errlen, "read %s: out of memory", name);
        }
        size_t want = cap - 1 - n, got;
        if (store_reader_read(r, buf + n, want, &got, err, errlen) < 0) {
            free(buf);
            store_reader_close(r);
            return -1;
        }
        n += got;
        if (got < want)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    store_reader_close(r);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

store_writer *store_writer_open(pf_store *s, const char *name, unsigned flags, char *err, size_t errlen)
{
    return s->ops->writer_open(s, name, flags, err, errlen);
}

int store_writer_write(store_writer *w, const void *data, size_t len, char *err, size_t errlen)
{
    return w->ops->writer_write(w, data, len, err, errlen);
}

int store_writer_commit(store_writer *w, char *err, size_t errlen)
{
    return w->ops->writer_commit(w, err, errlen);
}

void store_writer_abort(store_writer *w)
{
    if (w)
        w->ops->writer_abort(w);
}

uint64_t store_writer_offset(const store_writer *w)
{
    return w->ops->writer_offset(w);
}

int store_writer_async(const store_writer *w)
{
    return w->ops->writer_async ? w->ops->writer_async(w) : 0;
}

int store_write_all(pf_store *s, const char *name, const void *data, size_t len, char *err, size_t errlen)
{
    store_writer *w = store_writer_open(s, name, STORE_W_SMALL, err, errlen);
    if (!w)
        return -1;
    if (store_writer_write(w, data, len, err, errlen) < 0) {
        store_writer_abort(w);
        return -1;
    }
    return store_writer_commit(w, err, errlen);
}

int store_mkprefix(pf_store *s, const char *name, char *err, size_t errlen)
{
    return s->ops->mkprefix ? s->ops->mkprefix(s, name, err, errlen) : 0;
}

int store_sync(pf_store *s, const char *prefix, char *err, size_t errlen)
{
    return s->ops->sync(s, prefix ? prefix : "", err, errlen);
}

int store_remove(pf_store *s, const char *name, char *err, size_t errlen)
{
    return s->ops->remove(s, name, err, errlen);
}

int store_remove_tree(pf_store *s, const char *name, char *err, size_t errlen)
{
    return s->ops->remove_tree(s, name, err, errlen);
}

int store_rename(pf_store *s, const char *from, const char *to, char *err, size_t errlen)
{
    return s->ops->rename(s, from, to, err, errlen);
}

store_lock *store_lock_take(pf_store *s, const char *name, const char *owner, unsigned flags, int *busy, char *err,
                            size_t errlen)
{
    return s->ops->lock_take(s, name, owner, flags, busy, err, errlen);
}

void store_lock_release(store_lock *l)
{
    if (l)
        l->ops->lock_release(l);
}

int store_lock_held(const pf_store *s, const char *name)
{
    return s->ops->lock_held(s, name);
}
