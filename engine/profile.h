/* profile: what a managed platform (Supabase, RDS, Cloud SQL, Neon...) owns in a database,
 * as data: a small text file per platform (profiles/<name>.profile, built into pgferry, or
 * any file given by path). Dump and restore ask it questions; no platform is named in code.
 *
 * A line is a keyword and its values, separated by blanks; '#' starts a comment; a value
 * may use '*' for any run of characters. Keywords (each may repeat):
 *   name NAME                      the profile's name
 *   managed-schemas S...           definitions the platform owns
 *   user-data-schemas S...         of those, the ones whose rows are the user's
 *   exclude-table-data S.T...      rows that are the platform's, even there
 *   exclude-tables S.T...          tables a dump leaves out altogether
 *   reserved-roles R...            roles the platform manages
 *   platform-extensions E...       extensions the platform installs
 *   platform-publications P...     publications the platform owns
 *   skip event-triggers | reserved-role-default-privileges
 * An unknown keyword is an error naming its line, so a profile written for a newer pgferry
 * is not half applied. */
#ifndef PF_PROFILE_H
#define PF_PROFILE_H

#include <stddef.h>

typedef struct profile profile;

enum {
    PROFILE_MANAGED_SCHEMAS,
    PROFILE_USER_DATA_SCHEMAS,
    PROFILE_EXCLUDE_TABLE_DATA,
    PROFILE_EXCLUDE_TABLES,
    PROFILE_RESERVED_ROLES,
    PROFILE_PLATFORM_EXTENSIONS,
    PROFILE_PLATFORM_PUBLICATIONS,
    PROFILE_SKIP,
    PROFILE_NLISTS
};

/* A profile shipped with pgferry by NAME ("supabase"), or the file at a path (anything
 * with a '/' or ending in .profile). NULL with a one-line error naming the profile, or the
 * file and line that is wrong. */
profile *profile_load(const char *name_or_path, char *err, size_t errlen);
void profile_free(profile *p);

const char *profile_name(const profile *p);
/* The names of the profiles built in, comma separated (for --help and errors). */
const char *profile_builtin_names(void);

/* Whether value matches one of the list's patterns. */
int profile_match(const profile *p, int list, const char *value);
/* schema.name against a list of "schema.name" patterns. */
int profile_match_table(const profile *p, int list, const char *schema, const char *name);
/* The list's patterns (for pg_dump-style selection). */
const char *const *profile_list(const profile *p, int list, size_t *n);

/* Convenience: a table's rows are the platform's (managed schema that is not a user-data
 * schema, or an excluded table's data). */
int profile_platform_rows(const profile *p, const char *schema, const char *name);

#endif
