/* Unit tests for catalog_pattern_regex(): name patterns become the same anchored regexes
 * as pg_dump's patternToSQLRegex() (fe_utils/string_utils.c) builds for -t/-n: unquoted
 * letters fold to lower case, '*' → ".*", '?' → ".", '.' splits schema from name, double
 * quotes keep case and make every regex character literal, '$' is always escaped, and "[]"
 * is always literal. Unlike pg_dump (which accepts db.schema.table), three parts are an
 * error here, as is an unterminated quote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <regex.h>

#include "common/pf_util.h"
#include "engine/catalog.h"

/* ---------------------------------------------------------------- helpers */

static void expect(const char *pattern, const char *schema_re, const char *name_re)
{
    char *s = (char *)0x1, *n = (char *)0x1; /* poisoned: must be set */
    char err[PF_ERRLEN] = "";
    if (catalog_pattern_regex(pattern, &s, &n, err, sizeof err) != 0)
        fail_msg("pattern [%s]: unexpected error: %s", pattern, err);
    if (schema_re == NULL) {
        if (s != NULL)
            fail_msg("pattern [%s]: schema regex [%s], expected none", pattern, s);
    } else {
        if (s == NULL || strcmp(s, schema_re) != 0)
            fail_msg("pattern [%s]: schema regex [%s], expected [%s]", pattern, s ? s : "(null)", schema_re);
    }
    if (n == NULL || strcmp(n, name_re) != 0)
        fail_msg("pattern [%s]: name regex [%s], expected [%s]", pattern, n ? n : "(null)", name_re);
    free(s);
    free(n);
}

static void expect_error(const char *pattern, const char *needle)
{
    char *s = NULL, *n = NULL;
    char err[PF_ERRLEN] = "";
    if (catalog_pattern_regex(pattern, &s, &n, err, sizeof err) != -1)
        fail_msg("pattern [%s] accepted: schema [%s] name [%s]", pattern, s ? s : "(null)", n ? n : "(null)");
    assert_true(strlen(err) > 0);
    if (needle && !strstr(err, needle))
        fail_msg("pattern [%s]: error \"%s\" does not mention \"%s\"", pattern, err, needle);
}

/* The regex must also compile and match what pg_dump's would (PostgreSQL's ARE and POSIX
 * ERE agree on everything these patterns produce). */
static int matches(const char *re, const char *s)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        fail_msg("regex [%s] does not compile", re);
    int m = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return m;
}

static void expect_match(const char *pattern, const char *schema, const char *name, int want)
{
    char *s = NULL, *n = NULL;
    char err[PF_ERRLEN];
    assert_int_equal(catalog_pattern_regex(pattern, &s, &n, err, sizeof err), 0);
    int got = matches(n, name) && (s == NULL || schema == NULL || matches(s, schema));
    if (got != want)
        fail_msg("pattern [%s] %s %s.%s", pattern, want ? "should match" : "should not match",
                 schema ? schema : "-", name);
    free(s);
    free(n);
}

/* ---------------------------------------------------------------- tests */

static void test_plain_names(void **state)
{
    (void)state;
    expect("users", NULL, "^(users)$");
    expect("Users", NULL, "^(users)$");
    expect("Public.Users", "^(public)$", "^(users)$");
    expect("public.orders_2024", "^(public)$", "^(orders_2024)$");
    expect("t1", NULL, "^(t1)$");
}

static void test_quotes_keep_case(void **state)
{
    (void)state;
    expect("\"MixedCase\"", NULL, "^(MixedCase)$");
    expect("\"Sch\".\"Tab\"", "^(Sch)$", "^(Tab)$");
    expect("\"Sch\".Tab", "^(Sch)$", "^(tab)$");
    /* quotes may cover only part of a name, as in pg_dump */
    expect("ab\"CD\"ef", NULL, "^(abCDef)$");
    expect("A\"B\"C", NULL, "^(aBc)$");
}

static void test_wildcards(void **state)
{
    (void)state;
    expect("s.t*", "^(s)$", "^(t.*)$");
    expect("*", NULL, "^(.*)$");
    expect("*.*", "^(.*)$", "^(.*)$");
    expect("?", NULL, "^(.)$");
    expect("t??_x", NULL, "^(t.._x)$");
    expect("S*.T?", "^(s.*)$", "^(t.)$");
    /* inside quotes wildcards are literal */
    expect("\"t*\"", NULL, "^(t\\*)$");
    expect("\"t?\"", NULL, "^(t\\?)$");
}

static void test_dots(void **state)
{
    (void)state;
    /* a dot inside quotes is part of the name, escaped for the regex */
    expect("\"a.b\"", NULL, "^(a\\.b)$");
    expect("s.\"a.b\"", "^(s)$", "^(a\\.b)$");
    expect("\"x.y\".z", "^(x\\.y)$", "^(z)$");
    /* empty parts are allowed by pg_dump's grammar */
    expect(".t", "^()$", "^(t)$");
    expect("s.", "^(s)$", "^()$");
    expect_error("a.b.c", "too many dotted names");
    expect_error("A.B.C", "too many dotted names");
    expect_error("db.s.t*", "too many dotted names");
    expect_error("..", "too many dotted names");
    expect_error("a.\"b\".c", "too many dotted names");
    /* the pattern is named in the error */
    expect_error("x.y.z", "x.y.z");
}

static void test_regex_specials(void **state)
{
    (void)state;
    /* '$' is always escaped, inside quotes or not */
    expect("$", NULL, "^(\\$)$");
    expect("a$b", NULL, "^(a\\$b)$");
    expect("\"a$b\"", NULL, "^(a\\$b)$");
    /* inside quotes every regex special is escaped */
    expect("\"a|b+c(d)[e]{f}^g\\h\"", NULL, "^(a\\|b\\+c\\(d\\)\\[e\\]\\{f\\}\\^g\\\\h)$");
    /* outside quotes they pass through (pg_dump lets users write regexes) ... */
    expect("a|b", NULL, "^(a|b)$");
    expect("t[0-9]+", NULL, "^(t[0-9]+)$");
    /* ... except "[]", which is an array type name far more often than a bracket */
    expect("int[]", NULL, "^(int\\[])$");
}

static void test_quote_escapes(void **state)
{
    (void)state;
    /* a doubled quote inside quotes is one literal quote */
    expect("\"\"\"\"", NULL, "^(\")$");
    expect("\"a\"\"b\"", NULL, "^(a\"b)$");
    expect("\"\"\"A\"\"\".b", "^(\"A\")$", "^(b)$");
    /* an empty quoted name */
    expect("\"\"", NULL, "^()$");
    expect_error("\"abc", "unterminated");
    expect_error("s.\"abc", "unterminated");
    expect_error("\"", "unterminated");
    expect_error("\"a\"\"", "unterminated");
}

static void test_non_ascii(void **state)
{
    (void)state;
    /* bytes of multibyte characters pass through unchanged (only ASCII letters fold in
     * the C locale the tests run in) */
    expect("\"Ünïcödé\"", NULL, "^(Ünïcödé)$");
    expect("日本.表*", "^(日本)$", "^(表.*)$");
}

static void test_regex_semantics(void **state)
{
    (void)state;
    expect_match("users", NULL, "users", 1);
    expect_match("users", NULL, "users2", 0);   /* anchored */
    expect_match("users", NULL, "Users", 0);    /* folded pattern, exact catalog name */
    expect_match("Users", NULL, "users", 1);
    expect_match("\"Users\"", NULL, "Users", 1);
    expect_match("\"Users\"", NULL, "users", 0);
    expect_match("s.t*", "s", "t", 1);
    expect_match("s.t*", "s", "tab", 1);
    expect_match("s.t*", "s2", "tab", 0);
    expect_match("s.t*", "s", "xt", 0);
    expect_match("t?", NULL, "tx", 1);
    expect_match("t?", NULL, "t", 0);
    expect_match("\"a.b\"", NULL, "a.b", 1);
    expect_match("\"a.b\"", NULL, "axb", 0);
    expect_match("a$", NULL, "a$", 1);
    expect_match("a$", NULL, "a", 0);
    expect_match("\"t*\"", NULL, "t*", 1);
    expect_match("\"t*\"", NULL, "tt", 0);
    expect_match("\"\"\"\"", NULL, "\"", 1);
    expect_match("a|b", NULL, "b", 1);
    expect_match("int[]", NULL, "int[]", 1);
}

static void test_null_outputs_on_error_are_not_leaked(void **state)
{
    (void)state;
    /* run under ASan/LSan: the error paths free what they built */
    for (int i = 0; i < 100; i++) {
        char *s = NULL, *n = NULL;
        char err[PF_ERRLEN];
        assert_int_equal(catalog_pattern_regex("aaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbb.c", &s, &n, err, sizeof err), -1);
        assert_int_equal(catalog_pattern_regex("aaaaaaaaaaaaaaaaaaaa.\"bbbbbbbbbbbbbbbbb", &s, &n, err, sizeof err), -1);
    }
    /* a NULL error buffer is allowed */
    char *s = NULL, *n = NULL;
    assert_int_equal(catalog_pattern_regex("a.b.c", &s, &n, NULL, 0), -1);
}

static void test_long_pattern(void **state)
{
    (void)state;
    size_t len = 10000;
    char *p = malloc(len + 1), *want = malloc(2 * len + 8);
    assert_non_null(p);
    assert_non_null(want);
    memset(p, 'X', len);
    p[len] = '\0';
    strcpy(want, "^(");
    memset(want + 2, 'x', len);
    strcpy(want + 2 + len, ")$");
    expect(p, NULL, want);
    free(p);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_names),
        cmocka_unit_test(test_quotes_keep_case),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_dots),
        cmocka_unit_test(test_regex_specials),
        cmocka_unit_test(test_quote_escapes),
        cmocka_unit_test(test_non_ascii),
        cmocka_unit_test(test_regex_semantics),
        cmocka_unit_test(test_null_outputs_on_error_are_not_leaked),
        cmocka_unit_test(test_long_pattern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
