/* globals: the cluster-wide objects a dump needs that pg_dump leaves out: the roles it
 * refers to and its tablespaces (dump --globals, restore --globals).
 *
 * Stored in the dump as globals.json: per role its attributes (never a password), the
 * roles it is a member of (and whether WITH ADMIN OPTION), its settings (cluster-wide, and
 * in the dumped database); per tablespace its owner, location and options. "Refers to" is
 * every owner, grantee, policy role, default-privilege role and database setting's role of
 * the database, and the roles those are members of, transitively, so the hierarchy that
 * grants privileges comes along.
 *
 * restore --globals creates what the target cluster lacks and leaves what it has alone
 * (never altering an existing role), and never touches a profile's reserved roles. A
 * restoring role that is not a superuser cannot give SUPERUSER, REPLICATION or BYPASSRLS:
 * the role is created without them, with a warning naming it. */
#ifndef PF_GLOBALS_H
#define PF_GLOBALS_H

#include "common/pf_util.h"
#include "engine/profile.h"

#include <libpq-fe.h>
#include <stddef.h>

#define GLOBALS_FILE "globals.json"

/* The globals of the database c is connected to, as JSON text (malloc'd), read in c's
 * snapshot. NULL with err. */
char *globals_read(PGconn *c, char *err, size_t errlen);

typedef struct {
    size_t roles_created, roles_existing, roles_reserved, memberships, tablespaces_created;
} globals_result;

/* Creates on c's server what json names and the server lacks; settings of the dumped
 * database go to c's database. Warnings go to notice (prefixed "restore: "). 0, or -1 with
 * err (nothing is half done: one transaction). */
int globals_apply(PGconn *c, const char *json, size_t len, const profile *p, pf_notice_fn notice, void *notice_ctx,
                  globals_result *res, char *err, size_t errlen);

#endif
