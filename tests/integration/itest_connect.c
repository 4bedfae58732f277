/* itest_connect: the integration-test cluster is reachable through the PG* environment
 * that tests/harness/with_cluster.sh exports, and behaves as the other tests expect
 * (PostgreSQL >= 14, working writes, password authentication enforced for pf_pwuser).
 *
 * Run: bash tests/harness/with_cluster.sh <build>/tests/itest_connect
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

/* Connect with conninfo (PG* env fills in the rest); fail the test unless it worked. */
static PGconn *connect_ok(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    assert_non_null(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fail_msg("connection \"%s\" failed: %s", conninfo, PQerrorMessage(conn));
    }
    return conn;
}

/* Run sql; fail the test unless the result status is want. Caller PQclear()s. */
static PGresult *exec_expect(PGconn *conn, const char *sql, ExecStatusType want)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != want) {
        fail_msg("query \"%s\": expected %s, got %s: %s", sql, PQresStatus(want),
                 PQresStatus(PQresultStatus(res)), PQerrorMessage(conn));
    }
    return res;
}

static void exec_command(PGconn *conn, const char *sql)
{
    PQclear(exec_expect(conn, sql, PGRES_COMMAND_OK));
}

static void test_connect_and_query(void **state)
{
    (void)state;
    PGconn *conn = connect_ok("");

    PGresult *res = exec_expect(conn, "SELECT version(), current_setting('server_version_num')::int",
                                PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    assert_int_equal(PQnfields(res), 2);
    const char *version = PQgetvalue(res, 0, 0);
    assert_non_null(strstr(version, "PostgreSQL"));
    long num = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    print_message("server: %s (server_version_num %ld)\n", version, num);
    assert_true(num >= 140000);
    assert_int_equal(PQserverVersion(conn), (int)num);
    PQclear(res);

    exec_command(conn, "CREATE TEMP TABLE itest_rows (i int NOT NULL)");
    res = exec_expect(conn, "INSERT INTO itest_rows SELECT g FROM generate_series(1, 1000) AS g",
                      PGRES_COMMAND_OK);
    assert_string_equal(PQcmdTuples(res), "1000");
    PQclear(res);

    res = exec_expect(conn, "SELECT count(*), sum(i) FROM itest_rows", PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "1000");
    assert_string_equal(PQgetvalue(res, 0, 1), "500500");
    PQclear(res);

    PQfinish(conn);
}

static void test_wrong_password_rejected(void **state)
{
    (void)state;
    PGconn *admin = connect_ok("");
    exec_command(admin, "SET client_min_messages TO warning"); /* no NOTICE for IF EXISTS */
    exec_command(admin, "DROP ROLE IF EXISTS pf_pwuser");
    exec_command(admin, "CREATE ROLE pf_pwuser LOGIN PASSWORD 'right'");

    PGconn *conn = PQconnectdb("user=pf_pwuser password=wrong");
    assert_non_null(conn);
    assert_int_equal(PQstatus(conn), CONNECTION_BAD);
    const char *msg = PQerrorMessage(conn);
    if (strstr(msg, "password authentication failed") == NULL) {
        fail_msg("expected a password authentication failure, got: %s", msg);
    }
    PQfinish(conn);

    /* The right password works, so the failure above was the password, not the role. */
    conn = connect_ok("user=pf_pwuser password=right");
    PGresult *res = exec_expect(conn, "SELECT current_user", PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "pf_pwuser");
    PQclear(res);
    PQfinish(conn);

    exec_command(admin, "DROP ROLE pf_pwuser");
    PQfinish(admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_and_query),
        cmocka_unit_test(test_wrong_password_rejected),
    };
    return cmocka_run_group_tests_name("itest_connect", tests, NULL, NULL);
}
