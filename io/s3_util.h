/* s3_util: the pure parts of the S3 store (io/store_s3.c), kept apart so they can be unit
 * tested without a server: s3:// locations, the AWS tools' configuration (environment,
 * ~/.aws/credentials, ~/.aws/config), URI encoding as Signature V4 wants it, and the few
 * XML answers S3 gives (ListObjectsV2, errors, CreateMultipartUpload).
 *
 * Nothing here logs; no secret ever goes into an error message. */
#ifndef PF_S3_UTIL_H
#define PF_S3_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "s3://BUCKET[/PREFIX][/]": the bucket, and the prefix without leading or trailing '/'
 * ("" for the bucket's root). 0, or -1 with err naming the location. */
int s3_parse_location(const char *location, char *bucket, size_t bucketlen, char *prefix, size_t prefixlen,
                      char *err, size_t errlen);

/* What the AWS tools would use. Strings are malloc'd (NULL when not set). */
typedef struct {
    char *access_key, *secret_key, *session_token;
    char *region;   /* never NULL after s3_config_load: "us-east-1" when nothing says */
    char *endpoint; /* "http://127.0.0.1:9000" (no trailing '/'), NULL: AWS itself */
    char *profile;  /* the profile the files were read for */
} s3_config;

/* Reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_REGION /
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, and for what they leave
 * unset AWS_PROFILE's (or "default"'s) entries in AWS_SHARED_CREDENTIALS_FILE
 * (~/.aws/credentials) and AWS_CONFIG_FILE (~/.aws/config). Environment variables win, as
 * in the AWS CLI. -1 with err when no credentials are found or a named profile does not
 * exist. */
int s3_config_load(s3_config *c, char *err, size_t errlen);
void s3_config_free(s3_config *c);

/* One value of an INI-style AWS file: section "default" or "profile NAME" as written in
 * the file (the caller picks which), key as written; a nested block ("s3 =" followed by
 * indented "endpoint_url = ...") is found as "s3.endpoint_url". 1 and out filled, 0 when
 * absent, -1 when out is too small. */
int s3_ini_get(const char *text, const char *section, const char *key, char *out, size_t outlen);
/* 1 when the file text has that section with at least one entry. */
int s3_ini_has_section(const char *text, const char *section);

/* Percent-encodes everything but A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash), as
 * Signature V4's canonical URI and query want. -1 when out is too small. */
int s3_uri_encode(const char *in, int keep_slash, char *out, size_t outlen);

/* The text of the first <tag>...</tag> in xml (entities decoded), malloc'd, or NULL. */
char *s3_xml_value(const char *xml, size_t len, const char *tag);

/* A ListObjectsV2 answer: fn for every <Contents> (is_prefix 0; key, size, mtime) and every
 * <CommonPrefixes> (is_prefix 1; key = the prefix, with its trailing '/'), in document
 * order; fn returns non-zero to stop (returned). *truncated and *next_token (malloc'd, or
 * NULL) say whether and how to go on. -1 when the text is not a ListBucketResult. */
typedef int (*s3_list_entry_fn)(void *ctx, const char *key, uint64_t size, time_t mtime, int is_prefix);
int s3_xml_list_parse(const char *xml, size_t len, s3_list_entry_fn fn, void *ctx, int *truncated,
                      char **next_token);

/* "2026-11-27T03:00:00.000Z" -> unix time; 0 when it does not parse. */
time_t s3_parse_iso_time(const char *s);

/* The one-line reason for an S3 error answer: status, the XML's <Code> (may be NULL or
 * empty), and what was asked (bucket, key: may be NULL). Never includes a secret. */
void s3_error_line(long status, const char *code, const char *message, const char *bucket, const char *key,
                   char *out, size_t outlen);

#endif
