/* compress: the registry. One line per compressor; ids are in chunk headers for good. */
#include "codec/compress.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const compress_ops *const compressors[] = {
    &compress_none_ops,
    &compress_zstd_ops,
    &compress_zstd_columns_ops,
    NULL,
};

const compress_ops compress_none_ops = {
    .name = "none",
    .id = 0,
};

const compress_ops *compress_at(size_t i)
{
    return i < sizeof compressors / sizeof *compressors ? compressors[i] : NULL;
}

const compress_ops *compress_find(const char *name)
{
    for (size_t i = 0; name && compressors[i]; i++)
        if (strcasecmp(name, compressors[i]->name) == 0)
            return compressors[i];
    return NULL;
}

const compress_ops *compress_by_id(unsigned id)
{
    for (size_t i = 0; compressors[i]; i++)
        if (compressors[i]->id == id)
            return compressors[i];
    return NULL;
}

const char *compress_lib(const compress_ops *c)
{
    return c->lib ? c->lib : c->name;
}

const compress_ops *compress_with_columns(const compress_ops *c)
{
    for (size_t i = 0; compressors[i]; i++)
        if (compressors[i]->columns && compressors[i]->enc_run == c->enc_run && c->enc_run)
            return compressors[i];
    return NULL;
}

int compress_parse(const char *spec, const compress_ops **out, int *level)
{
    char name[16];
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n >= sizeof name)
        return -1;
    memcpy(name, spec, n);
    name[n] = '\0';
    const compress_ops *c = compress_find(name);
    if (!c || c->internal)
        return -1;
    int lv = c->has_levels ? c->default_level : 0;
    if (colon) {
        if (!c->has_levels)
            return -1;
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || v < c->user_min || v > c->user_max || v == 0)
            return -1;
        lv = (int)v;
    }
    *out = c;
    *level = lv;
    return 0;
}
