/* Unit tests for engine/profile: the built-in supabase profile, matching, and the errors a
 * wrong profile file gets. */
#include "engine/profile.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_builtin_supabase(void **state)
{
    (void)state;
    char err[512];
    profile *p = profile_load("supabase", err, sizeof err);
    assert_non_null(p);
    assert_string_equal(profile_name(p), "supabase");
    assert_true(profile_match(p, PROFILE_MANAGED_SCHEMAS, "auth"));
    assert_true(profile_match(p, PROFILE_MANAGED_SCHEMAS, "_timescaledb_internal")); /* _timescaledb_* */
    assert_false(profile_match(p, PROFILE_MANAGED_SCHEMAS, "public"));
    assert_false(profile_match(p, PROFILE_MANAGED_SCHEMAS, "supabase_migrations"));
    assert_true(profile_match(p, PROFILE_USER_DATA_SCHEMAS, "storage"));
    assert_true(profile_match(p, PROFILE_RESERVED_ROLES, "supabase_storage_admin"));
    assert_true(profile_match(p, PROFILE_RESERVED_ROLES, "postgres"));
    assert_false(profile_match(p, PROFILE_RESERVED_ROLES, "app_readonly"));
    assert_true(profile_match(p, PROFILE_PLATFORM_EXTENSIONS, "uuid-ossp"));
    assert_true(profile_match(p, PROFILE_PLATFORM_PUBLICATIONS, "supabase_realtime_messages_publication_v2"));
    assert_true(profile_match(p, PROFILE_SKIP, "event-triggers"));
    assert_true(profile_match_table(p, PROFILE_EXCLUDE_TABLE_DATA, "auth", "schema_migrations"));
    assert_false(profile_match_table(p, PROFILE_EXCLUDE_TABLE_DATA, "auth", "users"));
    /* whose rows: the user's in auth (but not its migrations), the platform's in realtime */
    assert_false(profile_platform_rows(p, "auth", "users"));
    assert_true(profile_platform_rows(p, "auth", "schema_migrations"));
    assert_true(profile_platform_rows(p, "realtime", "messages"));
    assert_false(profile_platform_rows(p, "public", "posts"));
    size_t n;
    const char *const *ex = profile_list(p, PROFILE_EXCLUDE_TABLES, &n);
    assert_int_equal(n, 1);
    assert_string_equal(ex[0], "realtime.schema_migrations");
    profile_free(p);
    /* without a profile nothing matches */
    assert_false(profile_match(NULL, PROFILE_MANAGED_SCHEMAS, "auth"));
    assert_false(profile_platform_rows(NULL, "realtime", "messages"));
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/pgferry-test-XXXXXX.profile");
    int fd = mkstemps(path, 8);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void expect_error(const char *text, const char *want)
{
    char *path = write_tmp(text), err[512];
    profile *p = profile_load(path, err, sizeof err);
    unlink(path);
    free(path);
    assert_null(p);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void test_file_and_errors(void **state)
{
    (void)state;
    char *path = write_tmp("# a platform\nname neon\nmanaged-schemas neon_* \t other\nreserved-roles cloud_admin\n");
    char err[512];
    profile *p = profile_load(path, err, sizeof err);
    unlink(path);
    free(path);
    assert_non_null(p);
    assert_string_equal(profile_name(p), "neon");
    assert_true(profile_match(p, PROFILE_MANAGED_SCHEMAS, "neon_x"));
    assert_true(profile_match(p, PROFILE_MANAGED_SCHEMAS, "other"));
    assert_false(profile_match(p, PROFILE_MANAGED_SCHEMAS, "public"));
    profile_free(p);

    expect_error("name x\nmanaged-schema auth\n", "line 2: unknown keyword \"managed-schema\"");
    expect_error("name x\nskip triggers\n", "unknown skip \"triggers\"");
    expect_error("managed-schemas auth\n", "no name line");
    expect_error("name x\nexclude-tables users\n", "\"users\" is not schema.table");
    expect_error("name x\nreserved-roles\n", "line 2: reserved-roles without values");
    expect_error("name a b\n", "name takes one value");
    assert_null(profile_load("no-such-platform", err, sizeof err));
    assert_non_null(strstr(err, "built in: supabase"));
    assert_null(profile_load("/nonexistent/x.profile", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/x.profile"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_supabase),
        cmocka_unit_test(test_file_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
