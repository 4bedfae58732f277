#include "engine/globals.h"

#include "common/pf_util.h"
#include "engine/pgconn.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Roles the database refers to, and what they are members of, as one JSON document built by
 * the server (pg_roles, not pg_authid: no password, readable by any role). */
static const char *const globals_sql =
    "WITH RECURSIVE used(oid) AS ("
    "  SELECT c.relowner FROM pg_catalog.pg_class c"
    "  UNION SELECT a.grantee FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a"
    "  UNION SELECT n.nspowner FROM pg_catalog.pg_namespace n"
    "  UNION SELECT a.grantee FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a"
    "  UNION SELECT p.proowner FROM pg_catalog.pg_proc p"
    "  UNION SELECT a.grantee FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a"
    "  UNION SELECT t.typowner FROM pg_catalog.pg_type t"
    "  UNION SELECT a.grantee FROM pg_catalog.pg_type t, pg_catalog.aclexplode(t.typacl) a"
    "  UNION SELECT pg_catalog.unnest(pol.polroles) FROM pg_catalog.pg_policy pol"
    "  UNION SELECT d.defaclrole FROM pg_catalog.pg_default_acl d"
    "  UNION SELECT a.grantee FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) a"
    "  UNION SELECT d.datdba FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()"
    "  UNION SELECT a.grantee FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a"
    "        WHERE d.datname = pg_catalog.current_database()"
    "  UNION SELECT s.setrole FROM pg_catalog.pg_db_role_setting s, pg_catalog.pg_database d"
    "        WHERE d.datname = pg_catalog.current_database() AND s.setdatabase = d.oid"
    "  UNION SELECT l.lomowner FROM pg_catalog.pg_largeobject_metadata l"
    "  UNION SELECT a.grantee FROM pg_catalog.pg_largeobject_metadata l, pg_catalog.aclexplode(l.lomacl) a"
    "  UNION SELECT e.evtowner FROM pg_catalog.pg_event_trigger e"
    "  UNION SELECT p.pubowner FROM pg_catalog.pg_publication p"
    "  UNION SELECT x.extowner FROM pg_catalog.pg_extension x"
    "  UNION SELECT s.srvowner FROM pg_catalog.pg_foreign_server s"
    "  UNION SELECT u.umuser FROM pg_catalog.pg_user_mapping u"
    "  UNION SELECT t.spcowner FROM pg_catalog.pg_tablespace t"
    "), roles(oid) AS ("
    "  SELECT oid FROM used WHERE oid <> 0"
    "  UNION SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN roles r ON m.member = r.oid"
    "), spcs AS ("
    "  SELECT t.* FROM pg_catalog.pg_tablespace t WHERE t.spcname NOT IN ('pg_default', 'pg_global')"
    "   AND t.oid IN (SELECT c.reltablespace FROM pg_catalog.pg_class c"
    "                 UNION SELECT d.dattablespace FROM pg_catalog.pg_database d"
    "                 WHERE d.datname = pg_catalog.current_database())"
    ")"
    " SELECT pg_catalog.json_build_object("
    "  'roles', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "      'name', r.rolname, 'superuser', r.rolsuper, 'inherit', r.rolinherit,"
    "      'createrole', r.rolcreaterole, 'createdb', r.rolcreatedb, 'login', r.rolcanlogin,"
    "      'replication', r.rolreplication, 'bypassrls', r.rolbypassrls,"
    "      'connection_limit', r.rolconnlimit, 'valid_until', r.rolvaliduntil,"
    "      'member_of', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "            'role', g.rolname, 'admin', m.admin_option) ORDER BY g.rolname)"
    "          FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid"
    "          WHERE m.member = r.oid), '[]'),"
    "      'settings', coalesce((SELECT pg_catalog.json_agg(s.setting ORDER BY s.setting)"
    "          FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) s(setting)"
    "          WHERE d.setrole = r.oid AND d.setdatabase = 0), '[]'),"
    "      'database_settings', coalesce((SELECT pg_catalog.json_agg(s.setting ORDER BY s.setting)"
    "          FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) s(setting)"
    "          WHERE d.setrole = r.oid AND d.setdatabase = (SELECT oid FROM pg_catalog.pg_database"
    "                                                     WHERE datname = pg_catalog.current_database())), '[]')"
    "    ) ORDER BY r.rolname)"
    "    FROM pg_catalog.pg_roles r WHERE r.oid IN (SELECT oid FROM roles) AND r.rolname !~ '^pg_'), '[]'),"
    "  'tablespaces', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "      'name', t.spcname, 'owner', pg_catalog.pg_get_userbyid(t.spcowner),"
    "      'location', pg_catalog.pg_tablespace_location(t.oid), 'options', t.spcoptions) ORDER BY t.spcname)"
    "    FROM spcs t), '[]'))::text";

char *globals_read(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = pgconn_query(c, globals_sql, 0, NULL, "read roles and tablespaces", err, errlen);
    if (!r)
        return NULL;
    char *out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!out)
        pf_err(err, errlen, "out of memory");
    return out;
}

/* ---- applying ------------------------------------------------------------------------- */

static int role_exists(PGconn *c, const char *name, int *exists, char *err, size_t errlen)
{
    const char *p[1] = {name};
    PGresult *r = pgconn_query(c, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", 1, p, "globals", err, errlen);
    if (!r)
        return -1;
    *exists = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

static int jbool(json_t *o, const char *k) { return json_is_true(json_object_get(o, k)); }

/* SQL for a string: a quoted identifier or a literal, by libpq. */
static char *ident(PGconn *c, const char *s) { return pgconn_quote_ident(c, s); }
static char *literal(PGconn *c, const char *s)
{
    char *q = PQescapeLiteral(c, s, strlen(s)), *out = q ? strdup(q) : NULL;
    PQfreemem(q);
    return out;
}

static int exec_fmt(PGconn *c, const char *what, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int exec_fmt(PGconn *c, const char *what, char *err, size_t errlen, const char *fmt, ...)
{
    char *sql = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&sql, fmt, ap);
    va_end(ap);
    if (n < 0)
        return pf_err(err, errlen, "out of memory");
    int rc = pgconn_exec(c, sql, what, err, errlen);
    free(sql);
    return rc;
}

/* "name=value" of pg_db_role_setting as SET name = 'value'. */
static int setting_sql(PGconn *c, const char *setting, char **name_q, char **value_q)
{
    const char *eq = strchr(setting, '=');
    if (!eq)
        return -1;
    char *name = strndup(setting, (size_t)(eq - setting));
    *name_q = name ? ident(c, name) : NULL;
    *value_q = literal(c, eq + 1);
    free(name);
    return *name_q && *value_q ? 0 : -1;
}

static int create_role(PGconn *c, json_t *r, int superuser, pf_notice_fn notice, void *nctx, char *err,
                       size_t errlen)
{
    const char *name = json_string_value(json_object_get(r, "name"));
    char *q = ident(c, name);
    if (!q)
        return pf_err(err, errlen, "out of memory");
    char attrs[512];
    snprintf(attrs, sizeof attrs, "%s %s %s %s %s", jbool(r, "login") ? "LOGIN" : "NOLOGIN",
             jbool(r, "inherit") ? "INHERIT" : "NOINHERIT", jbool(r, "createdb") ? "CREATEDB" : "NOCREATEDB",
             jbool(r, "createrole") ? "CREATEROLE" : "NOCREATEROLE",
             jbool(r, "superuser") && superuser ? "SUPERUSER" : "NOSUPERUSER");
    char lost[128] = "";
    const char *strong[] = {"superuser", "replication", "bypassrls"};
    for (int i = 0; i < 3; i++) {
        if (!jbool(r, strong[i]))
            continue;
        if (superuser) {
            if (i > 0) {
                strcat(attrs, " ");
                strcat(attrs, i == 1 ? "REPLICATION" : "BYPASSRLS");
            }
        } else
            snprintf(lost + strlen(lost), sizeof lost - strlen(lost), "%s%s", *lost ? ", " : "", strong[i]);
    }
    json_int_t limit = json_integer_value(json_object_get(r, "connection_limit"));
    const char *until = json_string_value(json_object_get(r, "valid_until"));
    char *until_q = until ? literal(c, until) : NULL;
    int rc = exec_fmt(c, "globals", err, errlen, "CREATE ROLE %s WITH %s CONNECTION LIMIT %lld%s%s", q, attrs,
                      (long long)limit, until_q ? " VALID UNTIL " : "", until_q ? until_q : "");
    if (rc == 0 && *lost)
        pf_notice(notice, nctx, "restore: warning: role %s created without %s (the restoring role is not a superuser)",
                  name, lost);
    free(until_q);
    free(q);
    return rc;
}

/* What applying the globals carries from step to step. */
typedef struct {
    PGconn *c;
    const profile *p;
    pf_notice_fn notice;
    void *nctx;
    globals_result *res;
    int superuser;               /* the restoring role is a superuser */
    unsigned char *created;      /* per role of the file: created here */
} gapply;

/* ALTER ROLE name [IN DATABASE current] SET name = value for each "name=value" of list. */
static int role_settings(gapply *g, const char *role, json_t *list, int in_db, char *err, size_t errlen)
{
    char *q = ident(g->c, role), *dbq = in_db ? ident(g->c, PQdb(g->c)) : NULL;
    int bad = !q || (in_db && !dbq);
    size_t k;
    json_t *set;
    json_array_foreach(list, k, set) {
        char *nq, *vq;
        if (bad || setting_sql(g->c, json_string_value(set), &nq, &vq) < 0) {
            bad = 1;
            break;
        }
        bad = exec_fmt(g->c, "globals", err, errlen, "ALTER ROLE %s%s%s SET %s = %s", q, in_db ? " IN DATABASE " : "",
                       in_db ? dbq : "", nq, vq) < 0;
        free(nq);
        free(vq);
    }
    free(q);
    free(dbq);
    if (bad && !*err)
        pf_err(err, errlen, "%s: role %s: bad setting", GLOBALS_FILE, role);
    return bad ? -1 : 0;
}

/* Creates each role of the file that is neither reserved by the profile nor there yet,
 * with its settings. */
static int apply_roles(gapply *g, json_t *roles, char *err, size_t errlen)
{
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        int exists;
        if (!name)
            return pf_err(err, errlen, "%s: a role without a name", GLOBALS_FILE);
        if (profile_match(g->p, PROFILE_RESERVED_ROLES, name)) {
            g->res->roles_reserved++;
            continue;
        }
        if (role_exists(g->c, name, &exists, err, errlen) < 0)
            return -1;
        if (exists) {
            g->res->roles_existing++;
            continue;
        }
        if (create_role(g->c, r, g->superuser, g->notice, g->nctx, err, errlen) < 0)
            return -1;
        g->created[i] = 1;
        g->res->roles_created++;
        if (role_settings(g, name, json_object_get(r, "settings"), 0, err, errlen) < 0 ||
            role_settings(g, name, json_object_get(r, "database_settings"), 1, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* GRANT of one membership of a role created here, under a savepoint: one that fails is a
 * warning. */
static int grant_membership(gapply *g, const char *name, json_t *m, char *err, size_t errlen)
{
    const char *of = json_string_value(json_object_get(m, "role"));
    int exists;
    if (!of || role_exists(g->c, of, &exists, err, errlen) < 0)
        return -1;
    if (!exists)
        return 0; /* reserved and absent: the preflight names missing roles */
    char *q = ident(g->c, name), *oq = ident(g->c, of);
    PQclear(PQexec(g->c, "SAVEPOINT pgferry_globals"));
    int grc = q && oq ? exec_fmt(g->c, "globals", err, errlen, "GRANT %s TO %s%s", oq, q,
                                 jbool(m, "admin") ? " WITH ADMIN OPTION" : "")
                      : pf_err(err, errlen, "out of memory");
    free(q);
    free(oq);
    if (grc < 0) {
        pf_notice(g->notice, g->nctx, "restore: warning: role %s not made a member of %s: %s", name, of, err);
        *err = '\0';
        PQclear(PQexec(g->c, "ROLLBACK TO SAVEPOINT pgferry_globals"));
        return 0;
    }
    g->res->memberships++;
    return 0;
}

/* Memberships of the roles created here (those of existing roles are left alone). */
static int apply_memberships(gapply *g, json_t *roles, char *err, size_t errlen)
{
    size_t i, k;
    json_t *r, *m;
    json_array_foreach(roles, i, r) {
        if (!g->created[i])
            continue;
        const char *name = json_string_value(json_object_get(r, "name"));
        json_array_foreach(json_object_get(r, "member_of"), k, m)
            if (grant_membership(g, name, m, err, errlen) < 0)
                return -1;
    }
    return 0;
}

/* One tablespace, unless one of its name exists (CREATE TABLESPACE cannot run in a
 * transaction). */
static int apply_tablespace(gapply *g, json_t *t, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *owner = json_string_value(json_object_get(t, "owner"));
    const char *loc = json_string_value(json_object_get(t, "location"));
    if (!name || !loc)
        return 0;
    const char *pp[1] = {name};
    PGresult *e = pgconn_query(g->c, "SELECT 1 FROM pg_catalog.pg_tablespace WHERE spcname = $1", 1, pp, "globals",
                               err, errlen);
    if (!e)
        return -1;
    int exists = PQntuples(e) > 0;
    PQclear(e);
    if (exists)
        return 0;
    char *nq = ident(g->c, name), *oq = owner ? ident(g->c, owner) : NULL, *lq = literal(g->c, loc);
    int trc = nq && lq ? exec_fmt(g->c, "globals", err, errlen, "CREATE TABLESPACE %s%s%s LOCATION %s", nq,
                                  oq ? " OWNER " : "", oq ? oq : "", lq)
                       : pf_err(err, errlen, "out of memory");
    free(nq);
    free(oq);
    free(lq);
    if (trc < 0) {
        char keep[PF_ERRLEN];
        snprintf(keep, sizeof keep, "%s", err);
        return pf_err(err, errlen, "tablespace %s (location %s): %s", name, loc, keep);
    }
    g->res->tablespaces_created++;
    return 0;
}

int globals_apply(PGconn *c, const char *text, size_t len, const profile *p, pf_notice_fn notice, void *notice_ctx,
                  globals_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    if (!doc)
        return pf_err(err, errlen, "%s: invalid JSON at line %d: %s", GLOBALS_FILE, jerr.line, jerr.text);
    const char *su = PQparameterStatus(c, "is_superuser");
    json_t *roles = json_object_get(doc, "roles");
    gapply g = {.c = c, .p = p, .notice = notice, .nctx = notice_ctx, .res = res,
                .superuser = su && strcmp(su, "on") == 0, .created = calloc(json_array_size(roles) + 1, 1)};
    int rc = g.created ? 0 : pf_err(err, errlen, "out of memory");
    /* roles, their settings and memberships in one transaction: all or nothing */
    if (rc == 0 && (rc = pgconn_exec(c, "BEGIN", "globals", err, errlen)) == 0) {
        if (apply_roles(&g, roles, err, errlen) < 0 || apply_memberships(&g, roles, err, errlen) < 0 ||
            pgconn_exec(c, "COMMIT", "globals", err, errlen) < 0) {
            rc = -1;
            if (PQstatus(c) == CONNECTION_OK)
                PQclear(PQexec(c, "ROLLBACK"));
        }
    }
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tablespaces"), i, t)
        if (rc == 0)
            rc = apply_tablespace(&g, t, err, errlen);
    free(g.created);
    json_decref(doc);
    return rc;
}
