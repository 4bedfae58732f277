/* Unit tests for io/s3_util (the pure parts of the S3 store): s3:// locations, the AWS
 * tools' configuration (environment over ~/.aws/credentials and ~/.aws/config, profiles,
 * nested "s3 =" blocks, no credentials), URI encoding for Signature V4, ListObjectsV2 and
 * error XML, and the one-line errors (never a secret). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/pf_util.h"
#include "io/s3_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_location(void **state)
{
    (void)state;
    char b[64], p[256], err[PF_ERRLEN];
    assert_int_equal(s3_parse_location("s3://my-bucket/backups/app/", b, sizeof b, p, sizeof p, err, sizeof err), 0);
    assert_string_equal(b, "my-bucket");
    assert_string_equal(p, "backups/app");
    assert_int_equal(s3_parse_location("s3://my-bucket", b, sizeof b, p, sizeof p, err, sizeof err), 0);
    assert_string_equal(p, "");
    assert_int_equal(s3_parse_location("s3://my-bucket/", b, sizeof b, p, sizeof p, err, sizeof err), 0);
    assert_string_equal(p, "");
    assert_int_equal(s3_parse_location("s3:///x", b, sizeof b, p, sizeof p, err, sizeof err), -1);
    assert_non_null(strstr(err, "no bucket"));
    assert_int_equal(s3_parse_location("s3://Bad_Upper/x", b, sizeof b, p, sizeof p, err, sizeof err), -1);
    assert_non_null(strstr(err, "Bad_Upper"));
    assert_int_equal(s3_parse_location("s3://b1/a//b", b, sizeof b, p, sizeof p, err, sizeof err), -1);
    assert_int_equal(s3_parse_location("/local/dir", b, sizeof b, p, sizeof p, err, sizeof err), -1);
}

static void test_uri_encode(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(s3_uri_encode("data/3.1.chunk", 1, out, sizeof out), 0);
    assert_string_equal(out, "data/3.1.chunk");
    assert_int_equal(s3_uri_encode("a b+c/d~e=f", 0, out, sizeof out), 0);
    assert_string_equal(out, "a%20b%2Bc%2Fd~e%3Df");
    assert_int_equal(s3_uri_encode("\xc3\xa9", 1, out, sizeof out), 0);
    assert_string_equal(out, "%C3%A9");
    char small[4];
    assert_int_equal(s3_uri_encode("abcd", 1, small, sizeof small), -1);
    assert_int_equal(s3_uri_encode("a/", 0, small, sizeof small), -1); /* "a%2F" needs 5 */
    char five[5];
    assert_int_equal(s3_uri_encode("a/", 0, five, sizeof five), 0);
    assert_string_equal(five, "a%2F");
}

static void test_ini(void **state)
{
    (void)state;
    const char *text = "# comment\n"
                       "[default]\n"
                       "aws_access_key_id = AKIDEFAULT\n"
                       "region=eu-west-1\n"
                       "\n"
                       "[profile  work ]\n"
                       "region = us-west-2\n"
                       "s3 =\n"
                       "  endpoint_url = http://minio:9000\n"
                       "  addressing_style = path\n"
                       "output = json\n"
                       "; another comment\n"
                       "[other]\n"
                       "region = x\n";
    char v[128];
    assert_int_equal(s3_ini_get(text, "default", "aws_access_key_id", v, sizeof v), 1);
    assert_string_equal(v, "AKIDEFAULT");
    assert_int_equal(s3_ini_get(text, "default", "region", v, sizeof v), 1);
    assert_string_equal(v, "eu-west-1");
    assert_int_equal(s3_ini_get(text, "profile work", "region", v, sizeof v), 1);
    assert_string_equal(v, "us-west-2");
    assert_int_equal(s3_ini_get(text, "profile work", "s3.endpoint_url", v, sizeof v), 1);
    assert_string_equal(v, "http://minio:9000");
    assert_int_equal(s3_ini_get(text, "profile work", "endpoint_url", v, sizeof v), 0);
    assert_int_equal(s3_ini_get(text, "profile work", "output", v, sizeof v), 1); /* after the block */
    assert_string_equal(v, "json");
    assert_int_equal(s3_ini_get(text, "other", "aws_access_key_id", v, sizeof v), 0);
    assert_int_equal(s3_ini_has_section(text, "profile work"), 1);
    assert_int_equal(s3_ini_has_section(text, "work"), 0);
    char tiny[4];
    assert_int_equal(s3_ini_get(text, "default", "region", tiny, sizeof tiny), -1);
}

static char home[64];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void clear_env(void)
{
    const char *vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                          "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
                          "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

static int setup_home(void **state)
{
    (void)state;
    snprintf(home, sizeof home, "/tmp/pgferry-s3home-XXXXXX");
    if (!mkdtemp(home))
        return -1;
    char aws[128];
    snprintf(aws, sizeof aws, "%s/.aws", home);
    mkdir(aws, 0700);
    write_file(aws, "credentials",
               "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = filesecret\n"
               "[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = worksecret\n"
               "aws_session_token = worktoken\n");
    write_file(aws, "config",
               "[default]\nregion = eu-central-1\n"
               "[profile work]\nregion = ap-south-1\nendpoint_url = https://r2.example.com/\n"
               "[profile cfgonly]\naws_access_key_id = AKIDCFG\naws_secret_access_key = cfgsecret\n");
    setenv("HOME", home, 1);
    clear_env();
    return 0;
}

static int teardown_home(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_config_files(void **state)
{
    (void)state;
    s3_config c;
    char err[PF_ERRLEN];
    clear_env();
    assert_int_equal(s3_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.access_key, "AKIDFILE");
    assert_string_equal(c.secret_key, "filesecret");
    assert_null(c.session_token);
    assert_string_equal(c.region, "eu-central-1");
    assert_null(c.endpoint);
    s3_config_free(&c);

    setenv("AWS_PROFILE", "work", 1);
    assert_int_equal(s3_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.access_key, "AKIDWORK");
    assert_string_equal(c.session_token, "worktoken");
    assert_string_equal(c.region, "ap-south-1");
    assert_string_equal(c.endpoint, "https://r2.example.com"); /* trailing '/' dropped */
    s3_config_free(&c);

    /* the environment wins over the files */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000", 1);
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9001", 1);
    assert_int_equal(s3_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.access_key, "AKIDENV");
    assert_string_equal(c.secret_key, "envsecret");
    assert_null(c.session_token); /* the file's token belongs to the file's key */
    assert_string_equal(c.region, "us-east-2");
    assert_string_equal(c.endpoint, "http://127.0.0.1:9001");
    s3_config_free(&c);
    setenv("AWS_REGION", "sa-east-1", 1);
    assert_int_equal(s3_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.region, "sa-east-1");
    s3_config_free(&c);
    clear_env();

    /* credentials in the config file only */
    setenv("AWS_PROFILE", "cfgonly", 1);
    assert_int_equal(s3_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.access_key, "AKIDCFG");
    assert_string_equal(c.region, "us-east-1"); /* nothing says: the default */
    s3_config_free(&c);

    /* a profile that does not exist */
    setenv("AWS_PROFILE", "nope", 1);
    assert_int_equal(s3_config_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"nope\""));
    clear_env();

    /* no credentials anywhere */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    assert_int_equal(s3_config_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "no S3 credentials"));
    /* a bad endpoint */
    setenv("AWS_ACCESS_KEY_ID", "A", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "topsecret", 1);
    setenv("AWS_ENDPOINT_URL", "minio:9000", 1);
    assert_int_equal(s3_config_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "minio:9000"));
    assert_null(strstr(err, "topsecret"));
    clear_env();
}

typedef struct {
    char names[8][64];
    uint64_t sizes[8];
    int prefix[8];
    time_t mtime[8];
    int n;
} listed;

static int on_entry(void *ctx, const char *key, uint64_t size, time_t mtime, int is_prefix)
{
    listed *l = ctx;
    snprintf(l->names[l->n], sizeof l->names[0], "%s", key);
    l->sizes[l->n] = size;
    l->prefix[l->n] = is_prefix;
    l->mtime[l->n] = mtime;
    l->n++;
    return 0;
}

static void test_list_xml(void **state)
{
    (void)state;
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>r/</Prefix>"
        "<KeyCount>3</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
        "<Contents><Key>r/.pgferry-repo</Key><LastModified>2026-11-27T03:00:00.000Z</LastModified>"
        "<ETag>&quot;abc&quot;</ETag><Size>88</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<CommonPrefixes><Prefix>r/20261127T030000Z/</Prefix></CommonPrefixes>"
        "<Contents><Key>r/a&amp;b &lt;c&gt; &#233;</Key><Size>5</Size></Contents>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "</ListBucketResult>";
    listed l = {0};
    int truncated = 0;
    char *token = NULL;
    assert_int_equal(s3_xml_list_parse(xml, strlen(xml), on_entry, &l, &truncated, &token), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.names[0], "r/.pgferry-repo");
    assert_int_equal(l.sizes[0], 88);
    assert_int_equal(l.prefix[0], 0);
    assert_int_equal(l.mtime[0], 1795748400);
    assert_string_equal(l.names[1], "r/20261127T030000Z/");
    assert_int_equal(l.prefix[1], 1);
    assert_string_equal(l.names[2], "r/a&b <c> \xc3\xa9");
    assert_int_equal(truncated, 1);
    assert_string_equal(token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    free(token);

    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
    memset(&l, 0, sizeof l);
    assert_int_equal(s3_xml_list_parse(last, strlen(last), on_entry, &l, &truncated, &token), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(truncated, 0);
    assert_null(token);

    const char *err = "<Error><Code>NoSuchBucket</Code></Error>";
    assert_int_equal(s3_xml_list_parse(err, strlen(err), on_entry, &l, &truncated, &token), -1);
}

static void test_error_xml(void **state)
{
    (void)state;
    const char *xml = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                      "<RequestId>x</RequestId></Error>";
    char *code = s3_xml_value(xml, strlen(xml), "Code");
    assert_string_equal(code, "AccessDenied");
    char line[512];
    s3_error_line(403, code, "Access Denied", "bk", "p/manifest.json", line, sizeof line);
    assert_string_equal(line, "s3://bk/p/manifest.json: access denied (AccessDenied)");
    free(code);
    assert_null(s3_xml_value(xml, strlen(xml), "Missing"));
    char *empty = s3_xml_value("<a><UploadId/></a>", 18, "UploadId");
    assert_string_equal(empty, "");
    free(empty);
    char *id = s3_xml_value("<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>VXBsb2FkIElE</UploadId>"
                            "</InitiateMultipartUploadResult>",
                            110, "UploadId");
    assert_string_equal(id, "VXBsb2FkIElE");
    free(id);

    s3_error_line(404, "NoSuchBucket", "The specified bucket does not exist", "nob", "k", line, sizeof line);
    assert_string_equal(line, "bucket nob does not exist (NoSuchBucket)");
    s3_error_line(403, "SignatureDoesNotMatch", "...", "bk", "k", line, sizeof line);
    assert_non_null(strstr(line, "bad credentials for bucket bk (SignatureDoesNotMatch)"));
    s3_error_line(403, "InvalidAccessKeyId", NULL, "bk", NULL, line, sizeof line);
    assert_non_null(strstr(line, "bad credentials for bucket bk"));
    s3_error_line(400, "AuthorizationHeaderMalformed", "the region 'us-east-1' is wrong; expecting 'eu-west-1'",
                  "bk", "k", line, sizeof line);
    assert_non_null(strstr(line, "bucket bk is in another region"));
    assert_non_null(strstr(line, "expecting 'eu-west-1'"));
    assert_non_null(strstr(line, "AWS_REGION"));
    s3_error_line(404, NULL, NULL, "bk", "k", line, sizeof line);
    assert_string_equal(line, "s3://bk/k: not found (HTTP 404)");
    s3_error_line(400, "InvalidPart", "One or more parts could not be found", "bk", "k", line, sizeof line);
    assert_string_equal(line, "s3://bk/k: InvalidPart: One or more parts could not be found (HTTP 400)");
}

static void test_iso_time(void **state)
{
    (void)state;
    assert_int_equal(s3_parse_iso_time("2026-11-27T03:00:00.000Z"), 1795748400);
    assert_int_equal(s3_parse_iso_time("2026-11-27T03:00:00Z"), 1795748400);
    assert_int_equal(s3_parse_iso_time("garbage"), 0);
    assert_int_equal(s3_parse_iso_time(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_ini),
        cmocka_unit_test_setup_teardown(test_config_files, setup_home, teardown_home),
        cmocka_unit_test(test_list_xml),
        cmocka_unit_test(test_error_xml),
        cmocka_unit_test(test_iso_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
