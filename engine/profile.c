#include "engine/profile.h"

#include "common/pf_util.h"
#include "io/pf_io.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* profiles/<name>.profile, embedded at build time (profiles/embed.cmake). */
typedef struct {
    const char *name, *text;
} builtin_profile;
extern const builtin_profile pf_builtin_profiles[];
extern const char pf_builtin_profile_names[];

struct profile {
    char *name;
    char **items[PROFILE_NLISTS];
    size_t n[PROFILE_NLISTS];
};

static const char *const keywords[PROFILE_NLISTS] = {
    "managed-schemas",     "user-data-schemas", "exclude-table-data",    "exclude-tables",
    "reserved-roles",      "platform-extensions", "platform-publications", "skip",
};
static const char *const skip_values[] = {"event-triggers", "reserved-role-default-privileges", NULL};

void profile_free(profile *p)
{
    if (!p)
        return;
    for (int l = 0; l < PROFILE_NLISTS; l++) {
        for (size_t i = 0; i < p->n[l]; i++)
            free(p->items[l][i]);
        free(p->items[l]);
    }
    free(p->name);
    free(p);
}

static int add_item(profile *p, int l, const char *v)
{
    char **a = realloc(p->items[l], (p->n[l] + 1) * sizeof *a);
    if (!a)
        return -1;
    p->items[l] = a;
    if (!(a[p->n[l]] = strdup(v)))
        return -1;
    p->n[l]++;
    return 0;
}

/* Where a line is: "profile WHERE, line N". */
typedef struct {
    const char *where;
    int lineno;
} pos;

/* One value of list l, checked: skip's values are known ones, tables are schema.table. */
static int add_value(profile *p, int l, char *v, const pos *at, char *err, size_t errlen)
{
    if (l == PROFILE_SKIP) {
        int known = 0;
        for (int s = 0; skip_values[s]; s++)
            known |= strcmp(v, skip_values[s]) == 0;
        if (!known)
            return pf_err(err, errlen,
                          "profile %s, line %d: unknown skip \"%s\" (event-triggers, reserved-role-default-privileges)",
                          at->where, at->lineno, v);
    }
    if ((l == PROFILE_EXCLUDE_TABLE_DATA || l == PROFILE_EXCLUDE_TABLES) && !strchr(v, '.'))
        return pf_err(err, errlen, "profile %s, line %d: \"%s\" is not schema.table", at->where, at->lineno, v);
    return add_item(p, l, v) < 0 ? pf_err(err, errlen, "out of memory") : 0;
}

/* One line (comments already cut): "name VALUE" or "KEYWORD VALUE...". */
static int parse_line(profile *p, char *buf, const pos *at, char *err, size_t errlen)
{
    char *save = NULL, *kw = strtok_r(buf, " \t\r", &save);
    if (!kw)
        return 0;
    if (strcmp(kw, "name") == 0) {
        char *v = strtok_r(NULL, " \t\r", &save);
        if (!v || strtok_r(NULL, " \t\r", &save))
            return pf_err(err, errlen, "profile %s, line %d: name takes one value", at->where, at->lineno);
        free(p->name);
        return (p->name = strdup(v)) ? 0 : pf_err(err, errlen, "out of memory");
    }
    int l = -1;
    for (int k = 0; k < PROFILE_NLISTS; k++)
        if (strcmp(kw, keywords[k]) == 0)
            l = k;
    if (l < 0)
        return pf_err(err, errlen, "profile %s, line %d: unknown keyword \"%s\"", at->where, at->lineno, kw);
    int any = 0;
    for (char *v; (v = strtok_r(NULL, " \t\r", &save)); any = 1)
        if (add_value(p, l, v, at, err, errlen) < 0)
            return -1;
    if (!any)
        return pf_err(err, errlen, "profile %s, line %d: %s without values", at->where, at->lineno, kw);
    return 0;
}

static profile *parse(const char *text, const char *where, char *err, size_t errlen)
{
    profile *p = calloc(1, sizeof *p);
    if (!p) {
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    pos at = {where, 0};
    int rc = 0;
    for (const char *line = text; rc == 0 && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        at.lineno++;
        char buf[4096];
        if (len >= sizeof buf) {
            rc = pf_err(err, errlen, "profile %s, line %d: too long", where, at.lineno);
            break;
        }
        memcpy(buf, line, len);
        buf[len] = '\0';
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        rc = parse_line(p, buf, &at, err, errlen);
        line += len + (end ? 1 : 0);
    }
    if (rc == 0 && !p->name)
        rc = pf_err(err, errlen, "profile %s: no name line", where);
    if (rc < 0) {
        profile_free(p);
        return NULL;
    }
    return p;
}

profile *profile_load(const char *spec, char *err, size_t errlen)
{
    size_t sl = strlen(spec);
    int is_path = strchr(spec, '/') || (sl > 8 && strcmp(spec + sl - 8, ".profile") == 0);
    if (!is_path) {
        for (const builtin_profile *b = pf_builtin_profiles; b->name; b++)
            if (strcmp(b->name, spec) == 0)
                return parse(b->text, spec, err, errlen);
        pf_err(err, errlen, "no profile named \"%s\" (built in: %s; or give a profile file's path)", spec,
               pf_builtin_profile_names);
        return NULL;
    }
    char *text = NULL, e2[PF_ERRLEN];
    size_t len = 0;
    if (io_read_file(spec, &text, &len, e2, sizeof e2) < 0) {
        pf_err(err, errlen, "profile %s: %s", spec, e2);
        return NULL;
    }
    if (strlen(text) != len) {
        free(text);
        pf_err(err, errlen, "profile %s: not a text file", spec);
        return NULL;
    }
    profile *p = parse(text, spec, err, errlen);
    free(text);
    return p;
}

const char *profile_name(const profile *p) { return p->name; }
const char *profile_builtin_names(void) { return pf_builtin_profile_names; }

int profile_match(const profile *p, int list, const char *value)
{
    if (!p || !value)
        return 0;
    for (size_t i = 0; i < p->n[list]; i++)
        if (fnmatch(p->items[list][i], value, FNM_NOESCAPE) == 0)
            return 1;
    return 0;
}

int profile_match_table(const profile *p, int list, const char *schema, const char *name)
{
    if (!p)
        return 0;
    for (size_t i = 0; i < p->n[list]; i++) {
        const char *pat = p->items[list][i], *dot = strchr(pat, '.');
        char sp[512];
        if (!dot || (size_t)(dot - pat) >= sizeof sp)
            continue;
        memcpy(sp, pat, (size_t)(dot - pat));
        sp[dot - pat] = '\0';
        if (fnmatch(sp, schema, FNM_NOESCAPE) == 0 && fnmatch(dot + 1, name, FNM_NOESCAPE) == 0)
            return 1;
    }
    return 0;
}

const char *const *profile_list(const profile *p, int list, size_t *n)
{
    *n = p ? p->n[list] : 0;
    return p ? (const char *const *)p->items[list] : NULL;
}

int profile_platform_rows(const profile *p, const char *schema, const char *name)
{
    if (!p)
        return 0;
    if (profile_match_table(p, PROFILE_EXCLUDE_TABLE_DATA, schema, name))
        return 1;
    return profile_match(p, PROFILE_MANAGED_SCHEMAS, schema) && !profile_match(p, PROFILE_USER_DATA_SCHEMAS, schema);
}
