/* s3_util: locations, AWS configuration, URI encoding and XML answers (see s3_util.h). */
#include "io/s3_util.h"

#include "common/pf_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int s3_parse_location(const char *location, char *bucket, size_t bucketlen, char *prefix, size_t prefixlen,
                      char *err, size_t errlen)
{
    if (strncmp(location, "s3://", 5) != 0)
        return pf_err(err, errlen, "%s: not an s3:// location", location);
    const char *b = location + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl == 0)
        return pf_err(err, errlen, "%s: no bucket name (expected s3://BUCKET/PREFIX)", location);
    if (bl < 3 || bl > 63)
        return pf_err(err, errlen, "%s: a bucket name has 3 to 63 characters", location);
    for (size_t i = 0; i < bl; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' || b[i] == '.' ||
              b[i] == '_'))
            return pf_err(err, errlen, "%s: \"%.*s\" is not a valid bucket name", location, (int)bl, b);
    if (bl >= bucketlen)
        return pf_err(err, errlen, "%s: bucket name too long", location);
    memcpy(bucket, b, bl);
    bucket[bl] = '\0';
    const char *p = slash ? slash : b + bl;
    while (*p == '/')
        p++;
    size_t pl = strlen(p);
    while (pl > 0 && p[pl - 1] == '/')
        pl--;
    if (pl >= prefixlen)
        return pf_err(err, errlen, "%s: prefix too long", location);
    memcpy(prefix, p, pl);
    prefix[pl] = '\0';
    if (strstr(prefix, "//"))
        return pf_err(err, errlen, "%s: empty path segment (\"//\") in the prefix", location);
    return 0;
}

/* ---- INI files ---------------------------------------------------------------------------- */

static const char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Walks the file: calls fn(section, key, value) for every entry; nested keys as "a.b". */
typedef int (*ini_fn)(void *ctx, const char *section, const char *key, const char *value);

static int ini_walk(const char *text, ini_fn fn, void *ctx)
{
    char section[256] = "", nest[128] = "";
    const char *p = text;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[2048];
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        p = e ? e + 1 : NULL;
        int indented = line[0] == ' ' || line[0] == '\t';
        const char *t = trim(line);
        if (!*t || *t == '#' || *t == ';')
            continue;
        if (*t == '[') {
            const char *close = strchr(t, ']');
            if (!close)
                continue;
            char sec[256];
            size_t sl = (size_t)(close - t - 1);
            if (sl >= sizeof sec)
                sl = sizeof sec - 1;
            memcpy(sec, t + 1, sl);
            sec[sl] = '\0';
            /* "[ profile  x ]" is "profile x" */
            char *s = (char *)trim(sec), norm[256];
            size_t k = 0;
            for (int sp = 0; *s && k + 1 < sizeof norm; s++) {
                if (isspace((unsigned char)*s)) {
                    sp = 1;
                    continue;
                }
                if (sp && k)
                    norm[k++] = ' ';
                sp = 0;
                norm[k++] = *s;
            }
            norm[k] = '\0';
            snprintf(section, sizeof section, "%s", norm);
            nest[0] = '\0';
            continue;
        }
        char *eq = strchr(t, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char keyb[256];
        snprintf(keyb, sizeof keyb, "%s", t);
        const char *key = trim(keyb);
        const char *val = trim(eq + 1);
        if (!indented)
            nest[0] = '\0';
        if (!indented && !*val) { /* "s3 =": a nested block follows */
            snprintf(nest, sizeof nest, "%s", key);
            continue;
        }
        char full[512];
        if (indented && nest[0])
            snprintf(full, sizeof full, "%s.%s", nest, key);
        else
            snprintf(full, sizeof full, "%s", key);
        int rc = fn(ctx, section, full, val);
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct {
    const char *section, *key;
    char *out;
    size_t outlen;
    int found;
} ini_get_ctx;

static int ini_get_one(void *ctx, const char *section, const char *key, const char *value)
{
    ini_get_ctx *g = ctx;
    if (strcmp(section, g->section) || strcmp(key, g->key))
        return 0;
    if (strlen(value) >= g->outlen) {
        g->found = -1;
        return 1;
    }
    snprintf(g->out, g->outlen, "%s", value); /* the last one wins, as in the AWS CLI */
    g->found = 1;
    return 0;
}

int s3_ini_get(const char *text, const char *section, const char *key, char *out, size_t outlen)
{
    ini_get_ctx g = {section, key, out, outlen, 0};
    ini_walk(text, ini_get_one, &g);
    return g.found;
}

typedef struct {
    const char *section;
    int found;
} ini_has_ctx;

static int ini_has_one(void *ctx, const char *section, const char *key, const char *value)
{
    ini_has_ctx *h = ctx;
    (void)key;
    (void)value;
    if (strcmp(section, h->section) == 0) {
        h->found = 1;
        return 1;
    }
    return 0;
}

int s3_ini_has_section(const char *text, const char *section)
{
    ini_has_ctx h = {section, 0};
    ini_walk(text, ini_has_one, &h);
    return h.found;
}

/* ---- configuration ------------------------------------------------------------------------ */

static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (n + 1 < cap)
            break;
        if (cap > (1u << 20))
            break; /* an AWS configuration file is never this big */
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int set_str(char **dst, const char *v)
{
    if (*dst || !v || !*v)
        return 0;
    return (*dst = strdup(v)) ? 0 : -1;
}

void s3_config_free(s3_config *c)
{
    if (!c)
        return;
    if (c->secret_key)
        memset(c->secret_key, 0, strlen(c->secret_key));
    if (c->session_token)
        memset(c->session_token, 0, strlen(c->session_token));
    free(c->access_key);
    free(c->secret_key);
    free(c->session_token);
    free(c->region);
    free(c->endpoint);
    free(c->profile);
    memset(c, 0, sizeof *c);
}

/* A value from a file's profile: credentials use "[NAME]", config "[profile NAME]" (and
 * "[default]"); each file is tried both ways, as the AWS CLI is lenient about it too. */
static int file_value(const char *text, const char *profile, const char *key, char *out, size_t outlen)
{
    if (!text)
        return 0;
    char sec[300];
    snprintf(sec, sizeof sec, "profile %s", profile);
    int rc = s3_ini_get(text, profile, key, out, outlen);
    if (rc == 0)
        rc = s3_ini_get(text, sec, key, out, outlen);
    return rc;
}

static int has_profile(const char *text, const char *profile)
{
    char sec[300];
    snprintf(sec, sizeof sec, "profile %s", profile);
    return text && (s3_ini_has_section(text, profile) || s3_ini_has_section(text, sec));
}

static int s3_oom(char *err, size_t errlen) { return pf_err(err, errlen, "S3 configuration: out of memory"); }

/* Credentials: the environment as a pair, else the profile's in the credentials file,
 * then the config file. */
static int load_credentials(s3_config *c, const char *cred, const char *conf, const char *credpath, char *err,
                            size_t errlen)
{
    if (env_nonempty("AWS_ACCESS_KEY_ID") && env_nonempty("AWS_SECRET_ACCESS_KEY")) {
        if (set_str(&c->access_key, getenv("AWS_ACCESS_KEY_ID")) < 0 ||
            set_str(&c->secret_key, getenv("AWS_SECRET_ACCESS_KEY")) < 0 ||
            set_str(&c->session_token, env_nonempty("AWS_SESSION_TOKEN")) < 0)
            return s3_oom(err, errlen);
        return 0;
    }
    const char *files[2] = {cred, conf};
    char id[512], v[4096];
    int rc = 0;
    for (int i = 0; rc == 0 && i < 2 && !(c->access_key && c->secret_key); i++) {
        if (file_value(files[i], c->profile, "aws_access_key_id", id, sizeof id) != 1 ||
            file_value(files[i], c->profile, "aws_secret_access_key", v, sizeof v) != 1)
            continue;
        free(c->access_key);
        free(c->secret_key);
        c->access_key = strdup(id);
        c->secret_key = strdup(v);
        if (!c->access_key || !c->secret_key ||
            (file_value(files[i], c->profile, "aws_session_token", v, sizeof v) == 1 &&
             set_str(&c->session_token, v) < 0))
            rc = s3_oom(err, errlen);
    }
    memset(v, 0, sizeof v);
    if (rc == 0 && (!c->access_key || !c->secret_key))
        rc = pf_err(err, errlen,
                    "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile \"%s\" "
                    "aws_access_key_id and aws_secret_access_key in %s",
                    c->profile, credpath);
    return rc;
}

/* Region: AWS_REGION, AWS_DEFAULT_REGION, the profile's, else us-east-1. Endpoint:
 * AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's s3.endpoint_url or endpoint_url,
 * else none (AWS). */
static int load_place(s3_config *c, const char *conf, char *err, size_t errlen)
{
    char v[4096];
    if (set_str(&c->region, env_nonempty("AWS_REGION")) < 0 ||
        set_str(&c->region, env_nonempty("AWS_DEFAULT_REGION")) < 0 ||
        (!c->region && file_value(conf, c->profile, "region", v, sizeof v) == 1 && set_str(&c->region, v) < 0) ||
        (!c->region && !(c->region = strdup("us-east-1"))))
        return s3_oom(err, errlen);
    const char *ep = env_nonempty("AWS_ENDPOINT_URL_S3");
    if (!ep)
        ep = env_nonempty("AWS_ENDPOINT_URL");
    if (!ep && (file_value(conf, c->profile, "s3.endpoint_url", v, sizeof v) == 1 ||
                file_value(conf, c->profile, "endpoint_url", v, sizeof v) == 1))
        ep = v;
    if (!ep)
        return 0;
    if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8))
        return pf_err(err, errlen, "S3 endpoint \"%s\": expected http://HOST[:PORT] or https://HOST[:PORT]", ep);
    if (!(c->endpoint = strdup(ep)))
        return s3_oom(err, errlen);
    size_t n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    return 0;
}

static void forget_text(char *t)
{
    if (t) {
        memset(t, 0, strlen(t));
        free(t);
    }
}

int s3_config_load(s3_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const char *home = env_nonempty("HOME");
    const char *profile = env_nonempty("AWS_PROFILE");
    int named = profile != NULL;
    if (!profile)
        profile = "default";
    char credpath[4096], confpath[4096];
    const char *cp = env_nonempty("AWS_SHARED_CREDENTIALS_FILE"), *fp = env_nonempty("AWS_CONFIG_FILE");
    snprintf(credpath, sizeof credpath, "%s%s", cp ? cp : home ? home : "", cp ? "" : "/.aws/credentials");
    snprintf(confpath, sizeof confpath, "%s%s", fp ? fp : home ? home : "", fp ? "" : "/.aws/config");
    char *cred = (cp || home) ? read_text_file(credpath) : NULL;
    char *conf = (fp || home) ? read_text_file(confpath) : NULL;
    int rc = 0;
    if (named && !has_profile(cred, profile) && !has_profile(conf, profile) &&
        !(env_nonempty("AWS_ACCESS_KEY_ID") && env_nonempty("AWS_SECRET_ACCESS_KEY")))
        rc = pf_err(err, errlen, "AWS_PROFILE \"%s\": no such profile in %s or %s", profile, credpath, confpath);
    else if (!(c->profile = strdup(profile)))
        rc = s3_oom(err, errlen);
    if (rc == 0)
        rc = load_credentials(c, cred, conf, credpath, err, errlen);
    if (rc == 0)
        rc = load_place(c, conf, err, errlen);
    forget_text(cred);
    forget_text(conf);
    if (rc < 0)
        s3_config_free(c);
    return rc;
}

/* ---- encoding ----------------------------------------------------------------------------- */

int s3_uri_encode(const char *in, int keep_slash, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int plain = isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/');
        if (k + (plain ? 1 : 3) >= outlen)
            return -1;
        if (plain)
            out[k++] = (char)*p;
        else {
            out[k++] = '%';
            out[k++] = hex[*p >> 4];
            out[k++] = hex[*p & 15];
        }
    }
    if (k >= outlen)
        return -1;
    out[k] = '\0';
    return 0;
}

/* ---- XML ---------------------------------------------------------------------------------- */

/* Decodes the five entities and numeric references in [s, s+n) into a malloc'd string. */
static char *xml_text(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '&') {
            out[k++] = s[i++];
            continue;
        }
        const char *semi = memchr(s + i, ';', n - i);
        size_t el = semi ? (size_t)(semi - (s + i)) + 1 : 0;
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        int done = 0;
        for (size_t e = 0; semi && e < sizeof ents / sizeof ents[0]; e++)
            if (el == strlen(ents[e].ent) && memcmp(s + i, ents[e].ent, el) == 0) {
                out[k++] = ents[e].c;
                i += el;
                done = 1;
                break;
            }
        if (!done && semi && el > 3 && s[i + 1] == '#') {
            unsigned long cp = s[i + 2] == 'x' ? strtoul(s + i + 3, NULL, 16) : strtoul(s + i + 2, NULL, 10);
            /* UTF-8 of the code point (never longer than the reference itself) */
            if (cp < 0x80)
                out[k++] = (char)cp;
            else if (cp < 0x800) {
                out[k++] = (char)(0xC0 | (cp >> 6));
                out[k++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                out[k++] = (char)(0xE0 | (cp >> 12));
                out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[k++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[k++] = (char)(0xF0 | ((cp >> 18) & 0x07));
                out[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[k++] = (char)(0x80 | (cp & 0x3F));
            }
            i += el;
            done = 1;
        }
        if (!done)
            out[k++] = s[i++];
    }
    out[k] = '\0';
    return out;
}

/* Finds <tag>...</tag> (also <tag attr="...">) in [p, end): the content's bounds, and
 * where the element ends. 0 when found. */
static int xml_find(const char *p, const char *end, const char *tag, const char **cs, const char **ce,
                    const char **after)
{
    size_t tl = strlen(tag);
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt || (size_t)(end - lt) < tl + 2)
            return -1;
        if (strncmp(lt + 1, tag, tl) == 0 && (lt[tl + 1] == '>' || lt[tl + 1] == ' ' || lt[tl + 1] == '/')) {
            const char *gt = memchr(lt, '>', (size_t)(end - lt));
            if (!gt)
                return -1;
            if (gt[-1] == '/') { /* <tag/> */
                *cs = *ce = gt + 1;
                *after = gt + 1;
                return 0;
            }
            const char *q = gt + 1;
            /* the matching close tag (S3's elements of one name do not nest) */
            while (q < end) {
                const char *c = memchr(q, '<', (size_t)(end - q));
                if (!c || (size_t)(end - c) < tl + 3)
                    return -1;
                if (c[1] == '/' && strncmp(c + 2, tag, tl) == 0 && c[tl + 2] == '>') {
                    *cs = gt + 1;
                    *ce = c;
                    *after = c + tl + 3;
                    return 0;
                }
                q = c + 1;
            }
            return -1;
        }
        p = lt + 1;
    }
    return -1;
}

char *s3_xml_value(const char *xml, size_t len, const char *tag)
{
    const char *cs, *ce, *after;
    if (!xml || xml_find(xml, xml + len, tag, &cs, &ce, &after) < 0)
        return NULL;
    return xml_text(cs, (size_t)(ce - cs));
}

time_t s3_parse_iso_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                     &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

int s3_xml_list_parse(const char *xml, size_t len, s3_list_entry_fn fn, void *ctx, int *truncated,
                      char **next_token)
{
    const char *end = xml + len, *cs, *ce, *after;
    *truncated = 0;
    *next_token = NULL;
    if (xml_find(xml, end, "ListBucketResult", &cs, &ce, &after) < 0)
        return -1;
    const char *body = cs, *bend = ce;
    /* entries in document order: the next <Contents> or <CommonPrefixes>, whichever first */
    const char *p = body;
    int rc = 0;
    while (rc == 0 && p < bend) {
        const char *c1s, *c1e, *a1, *c2s, *c2e, *a2;
        int h1 = xml_find(p, bend, "Contents", &c1s, &c1e, &a1) == 0;
        int h2 = xml_find(p, bend, "CommonPrefixes", &c2s, &c2e, &a2) == 0;
        if (!h1 && !h2)
            break;
        int take1 = h1 && (!h2 || c1s < c2s);
        const char *s = take1 ? c1s : c2s, *e = take1 ? c1e : c2e;
        char *key = s3_xml_value(s, (size_t)(e - s), take1 ? "Key" : "Prefix");
        if (!key)
            return -1;
        uint64_t size = 0;
        time_t mtime = 0;
        if (take1) {
            char *sz = s3_xml_value(s, (size_t)(e - s), "Size");
            char *lm = s3_xml_value(s, (size_t)(e - s), "LastModified");
            size = sz ? strtoull(sz, NULL, 10) : 0;
            mtime = s3_parse_iso_time(lm);
            free(sz);
            free(lm);
        }
        rc = fn(ctx, key, size, mtime, !take1);
        free(key);
        p = take1 ? a1 : a2;
    }
    char *t = s3_xml_value(body, (size_t)(bend - body), "IsTruncated");
    *truncated = t && strcmp(t, "true") == 0;
    free(t);
    if (*truncated)
        *next_token = s3_xml_value(body, (size_t)(bend - body), "NextContinuationToken");
    return rc;
}

void s3_error_line(long status, const char *code, const char *message, const char *bucket, const char *key,
                   char *out, size_t outlen)
{
    char what[1200];
    if (bucket && key && *key)
        snprintf(what, sizeof what, "s3://%s/%s", bucket, key);
    else if (bucket)
        snprintf(what, sizeof what, "bucket %s", bucket);
    else
        snprintf(what, sizeof what, "S3");
    const char *c = code && *code ? code : NULL;
    if (c && strcmp(c, "NoSuchBucket") == 0)
        snprintf(out, outlen, "bucket %s does not exist (NoSuchBucket)", bucket ? bucket : "?");
    else if (c && (strcmp(c, "AuthorizationHeaderMalformed") == 0 || strcmp(c, "PermanentRedirect") == 0 ||
                   strcmp(c, "IncorrectEndpoint") == 0))
        snprintf(out, outlen, "bucket %s is in another region (%s%s%s): set AWS_REGION to the bucket's region",
                 bucket ? bucket : "?", c, message && *message ? ": " : "", message ? message : "");
    else if (c && (strcmp(c, "InvalidAccessKeyId") == 0 || strcmp(c, "SignatureDoesNotMatch") == 0 ||
                   strcmp(c, "InvalidToken") == 0 || strcmp(c, "ExpiredToken") == 0))
        snprintf(out, outlen, "bad credentials for bucket %s (%s): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                              "AWS_PROFILE and the region",
                 bucket ? bucket : "?", c);
    else if (c && strcmp(c, "AccessDenied") == 0)
        snprintf(out, outlen, "%s: access denied (AccessDenied)", what);
    else if (c && strcmp(c, "NoSuchKey") == 0)
        snprintf(out, outlen, "%s: no such object", what);
    else if (!c && status == 404)
        snprintf(out, outlen, "%s: not found (HTTP 404)", what);
    else if (!c && status == 403)
        snprintf(out, outlen, "%s: access denied or bad credentials (HTTP 403)", what);
    else if (c && message && *message)
        snprintf(out, outlen, "%s: %s: %s (HTTP %ld)", what, c, message, status);
    else
        snprintf(out, outlen, "%s: %s (HTTP %ld)", what, c ? c : "error", status);
}
