/* store_s3: the store over an S3-compatible object store, for locations
 * "s3://BUCKET[/PREFIX]". Every request is one libcurl transfer signed with Signature V4
 * (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"); connections, DNS and TLS sessions are shared by
 * all threads through one CURLSH, so workers reuse keep-alive connections.
 *
 * - names map to keys "PREFIX/name"; a "directory" is a common prefix (ListObjectsV2 with
 *   delimiter '/'); store_mkprefix writes a zero-byte "name/" marker, as the S3 console
 *   does, so that a backup label that never got a file is still seen (a failed dump)
 * - reads are ranged GETs of 4 MiB (PGFERRY_S3_RANGE_SIZE) at a time into one buffer per
 *   reader: a large chunk never has to fit in memory
 * - writes fill one buffer of the part size (8 MiB, PGFERRY_S3_PART_SIZE): an object that
 *   ends before the first part is full is one PUT at commit; otherwise a multipart upload
 *   starts with the first full part, each part is uploaded as it fills, and commit
 *   completes it (abort aborts it). Nothing is visible under the name before commit.
 * - x-amz-content-sha256 is UNSIGNED-PAYLOAD: the signature covers the request but not
 *   the body. Hashing every part with SHA-256 would cost CPU on the dump's hot path for a
 *   check the dump already makes end to end (every chunk's xxh3-128 in the manifest,
 *   checked by verify and restore; TLS protects the body in transit to AWS).
 * - sync is nothing: a PUT or a completed multipart upload is durable when it answers.
 * - rename copies every object (CopyObject, server-side) and deletes the originals, the
 *   manifest first so that a half-removed dump never looks whole; it is not atomic.
 * - locks are small objects holding owner, host, pid, a random token and an expiry (a
 *   lease, renewed by a thread while held): taken with If-None-Match: * (a conditional
 *   create, where the server supports it) and read back twice, 300 ms apart, to check the
 *   token (for servers that ignore the condition). A holder that dies leaves a lease that
 *   expires.
 * - transient failures (connection errors, 5xx, 429) are retried with exponential backoff
 *   (PGFERRY_S3_RETRIES, default 5); a 4xx is one line naming bucket and key.
 *
 * Credentials never leave this file except as curl's username/password for signing: not in
 * a URL, an argv, an error message or a log. */
#include "io/store_impl.h"

#include "common/pf_util.h"
#include "io/s3_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S3_PART_DEFAULT (8u << 20)
#define S3_PART_MIN (64u << 10) /* S3 itself wants 5 MiB; smaller only for tests */
#define S3_RANGE (4u << 20)
#define S3_MAX_PARTS 10000
#define S3_RESP_MAX (8u << 20)
#define S3_LEASE_DEFAULT 120
#define S3_KEY_MAX 2048

typedef struct {
    atomic_int refs;
    s3_config cfg;
    char sigv4[160];
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    size_t part_size, range_size;
    int retries;
    int lease;
} s3_shared;

typedef struct {
    pf_store base;
    s3_shared *sh;
    char *bucket;
    char *prefix; /* "" or "a/b" */
} s3_store;

#define SS(s) ((s3_store *)(s))
#define CSS(s) ((const s3_store *)(s))

/* ---- one request ---------------------------------------------------------------------------- */

typedef struct {
    const char *method; /* GET HEAD PUT POST DELETE */
    const char *key;    /* the object's key; NULL or "" for the bucket */
    const char *query;  /* encoded and sorted, without '?'; may be NULL */
    const uint8_t *body;
    size_t body_len;
    const char *hdr[4]; /* extra headers, NULL-terminated */
    /* GET into a caller's buffer of into_cap bytes (a range), else into resp */
    uint8_t *into;
    size_t into_cap;
    uint64_t range_from; /* dropped from a 200 answer to a ranged GET */
    /* answer */
    long status;
    char *resp;
    size_t resp_len, resp_cap;
    size_t into_len;
    uint64_t seen;
    int checked;
    char etag[160];
    uint64_t content_length, range_total;
    int have_cl, have_total;
    time_t last_modified;
    /* upload */
    size_t body_pos;
    CURL *h;
} s3_req;

static void s3_lock_cb(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)h;
    (void)access;
    pthread_mutex_lock(&((s3_shared *)ctx)->locks[data]);
}

static void s3_unlock_cb(CURL *h, curl_lock_data data, void *ctx)
{
    (void)h;
    pthread_mutex_unlock(&((s3_shared *)ctx)->locks[data]);
}

static int resp_append(s3_req *q, const char *data, size_t n)
{
    if (q->resp_len + n + 1 > q->resp_cap) {
        size_t cap = q->resp_cap ? q->resp_cap : 4096;
        while (cap < q->resp_len + n + 1)
            cap *= 2;
        if (cap > S3_RESP_MAX)
            return -1;
        char *nr = realloc(q->resp, cap);
        if (!nr)
            return -1;
        q->resp = nr;
        q->resp_cap = cap;
    }
    memcpy(q->resp + q->resp_len, data, n);
    q->resp_len += n;
    q->resp[q->resp_len] = '\0';
    return 0;
}

static size_t s3_write_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
    s3_req *q = ctx;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &code);
    if (!q->into || code < 200 || code >= 300) /* an error's XML goes to resp */
        return resp_append(q, data, n) < 0 ? 0 : n;
    /* a server that ignores Range sends the whole object (200): keep only the range */
    const char *p = data;
    size_t k = n;
    if (code == 200 && q->seen < q->range_from) {
        uint64_t skip = q->range_from - q->seen;
        if (skip > k)
            skip = k;
        p += skip;
        k -= (size_t)skip;
        q->seen += skip;
    }
    size_t room = q->into_cap - q->into_len;
    if (k > room)
        k = room; /* past the range: dropped */
    memcpy(q->into + q->into_len, p, k);
    q->into_len += k;
    q->seen += n - (size_t)(p - data);
    return n;
}

static size_t s3_read_cb(char *buf, size_t size, size_t nitems, void *ctx)
{
    s3_req *q = ctx;
    size_t n = size * nitems, left = q->body_len - q->body_pos;
    if (n > left)
        n = left;
    if (n)
        memcpy(buf, q->body + q->body_pos, n);
    q->body_pos += n;
    return n;
}

static size_t s3_header_cb(char *line, size_t size, size_t nitems, void *ctx)
{
    s3_req *q = ctx;
    size_t n = size * nitems;
    char h[512];
    size_t k = n < sizeof h - 1 ? n : sizeof h - 1;
    memcpy(h, line, k);
    h[k] = '\0';
    while (k > 0 && (h[k - 1] == '\r' || h[k - 1] == '\n'))
        h[--k] = '\0';
    if (strncmp(h, "HTTP/", 5) == 0) { /* a new answer (after a 100 Continue, say) */
        q->etag[0] = '\0';
        q->have_cl = q->have_total = 0;
        q->last_modified = 0;
        return n;
    }
    char *colon = strchr(h, ':');
    if (!colon)
        return n;
    *colon = '\0';
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strcasecmp(h, "ETag") == 0)
        snprintf(q->etag, sizeof q->etag, "%s", v);
    else if (strcasecmp(h, "Content-Length") == 0) {
        q->content_length = strtoull(v, NULL, 10);
        q->have_cl = 1;
    } else if (strcasecmp(h, "Content-Range") == 0) {
        const char *slash = strchr(v, '/');
        if (slash && slash[1] != '*') {
            q->range_total = strtoull(slash + 1, NULL, 10);
            q->have_total = 1;
        }
    } else if (strcasecmp(h, "Last-Modified") == 0) {
        time_t t = curl_getdate(v, NULL);
        q->last_modified = t > 0 ? t : 0;
    }
    return n;
}

/* The request's URL: path-style under an endpoint (MinIO, R2, s3rver...), else AWS's
 * virtual-hosted style (path-style for bucket names with dots, which TLS cannot name). */
static int s3_url(const s3_store *s, const char *key, const char *query, char *out, size_t outlen)
{
    char ek[S3_KEY_MAX * 3 + 1];
    if (s3_uri_encode(key ? key : "", 1, ek, sizeof ek) < 0)
        return -1;
    const s3_config *c = &s->sh->cfg;
    int n;
    if (c->endpoint)
        n = snprintf(out, outlen, "%s/%s/%s%s%s", c->endpoint, s->bucket, ek, query ? "?" : "", query ? query : "");
    else if (strchr(s->bucket, '.'))
        n = snprintf(out, outlen, "https://s3.%s.amazonaws.com/%s/%s%s%s", c->region, s->bucket, ek,
                     query ? "?" : "", query ? query : "");
    else
        n = snprintf(out, outlen, "https://%s.s3.%s.amazonaws.com/%s%s%s", s->bucket, c->region, ek,
                     query ? "?" : "", query ? query : "");
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int transient_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        return 0;
    default:
        return 1;
    }
}

static void backoff_sleep(int attempt)
{
    /* 200 ms, 400 ms, ... capped at 5 s, with up to a quarter of jitter */
    long ms = 200L << (attempt < 5 ? attempt : 5);
    if (ms > 5000)
        ms = 5000;
    unsigned r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    ms += (long)(r % (unsigned)(ms / 4 + 1));
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A request's state back to before its first attempt. */
static void req_reset(s3_req *q)
{
    q->status = 0;
    q->resp_len = 0;
    if (q->resp)
        q->resp[0] = '\0';
    q->into_len = 0;
    q->seen = 0;
    q->checked = 0;
    q->body_pos = 0;
    q->etag[0] = '\0';
    q->have_cl = q->have_total = 0;
}

/* The request's headers: unsigned payload, no 100-continue, the session token, its own. */
static struct curl_slist *req_headers(const s3_shared *sh, const s3_req *q)
{
    struct curl_slist *hl = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    hl = curl_slist_append(hl, "Expect:");
    if (sh->cfg.session_token) {
        size_t tl = strlen(sh->cfg.session_token) + 32;
        char *tok = malloc(tl);
        if (tok) {
            snprintf(tok, tl, "x-amz-security-token: %s", sh->cfg.session_token);
            hl = curl_slist_append(hl, tok);
            memset(tok, 0, tl);
            free(tok);
        }
    }
    for (int i = 0; i < 4 && q->hdr[i]; i++)
        hl = curl_slist_append(hl, q->hdr[i]);
    if (strcmp(q->method, "PUT") == 0 || strcmp(q->method, "POST") == 0)
        hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
    return hl;
}

/* The easy handle's options for one attempt: signing, timeouts, callbacks, the method. */
static void req_setup(CURL *h, const s3_shared *sh, s3_req *q, const char *url, char *cerr)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, sh->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERNAME, sh->cfg.access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, sh->cfg.secret_key);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sh->sigv4);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* a stalled transfer (a server gone silent) fails instead of hanging */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3_header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(q->method, "PUT") == 0 || strcmp(q->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, s3_read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, q);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
        if (strcmp(q->method, "POST") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (strcmp(q->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }
}

/* Runs q, retrying transient failures (connection errors, 5xx, 429) with backoff. 0 with
 * q->status (any HTTP status: the caller decides), or -1 with err when no answer came. */
static int s3_perform(const s3_store *s, s3_req *q, char *err, size_t errlen)
{
    const s3_shared *sh = s->sh;
    char url[S3_KEY_MAX * 3 + 1024];
    if (s3_url(s, q->key, q->query, url, sizeof url) < 0)
        return pf_err(err, errlen, "s3://%s/%s: key too long", s->bucket, q->key ? q->key : "");
    char cerr[CURL_ERROR_SIZE];
    CURLcode rc = CURLE_OK;
    for (int attempt = 0;; attempt++) {
        req_reset(q);
        cerr[0] = '\0';
        CURL *h = curl_easy_init();
        if (!h)
            return pf_err(err, errlen, "s3://%s: out of memory", s->bucket);
        q->h = h;
        struct curl_slist *hl = req_headers(sh, q);
        req_setup(h, sh, q, url, cerr);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        rc = curl_easy_perform(h);
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->status);
        curl_easy_cleanup(h);
        curl_slist_free_all(hl);
        q->h = NULL;
        int again = rc != CURLE_OK ? transient_curl(rc) : (q->status >= 500 || q->status == 429);
        if (!again || attempt >= sh->retries)
            break;
        backoff_sleep(attempt);
    }
    if (rc != CURLE_OK)
        return pf_err(err, errlen, "s3://%s/%s: %s (after %d attempt%s)", s->bucket, q->key ? q->key : "",
                      cerr[0] ? cerr : curl_easy_strerror(rc), sh->retries + 1, sh->retries ? "s" : "");
    return 0;
}

static void s3_req_free(s3_req *q)
{
    free(q->resp);
    q->resp = NULL;
}

/* One line for a failed answer: op ("write", "read"...), what was asked and why. */
static int s3_fail(const s3_store *s, const s3_req *q, const char *op, char *err, size_t errlen)
{
    char *code = q->resp ? s3_xml_value(q->resp, q->resp_len, "Code") : NULL;
    char *msg = q->resp ? s3_xml_value(q->resp, q->resp_len, "Message") : NULL;
    char line[1600];
    s3_error_line(q->status, code, msg, s->bucket, q->key, line, sizeof line);
    free(code);
    free(msg);
    int many = q->status >= 500 || q->status == 429;
    char tries[64] = "";
    if (many)
        snprintf(tries, sizeof tries, " (after %d attempts)", s->sh->retries + 1);
    if (!op)
        return pf_err(err, errlen, "%s%s", line, tries);
    return pf_err(err, errlen, "%s: %s%s", op, line, tries);
}

static int ok2xx(const s3_req *q)
{
    return q->status >= 200 && q->status < 300;
}

/* A 200 that carries an <Error> (CompleteMultipartUpload, CopyObject can answer so). */
static int body_is_error(const s3_req *q)
{
    return q->resp && strstr(q->resp, "<Error>") != NULL;
}

/* ---- names ---------------------------------------------------------------------------------- */

static int s3_key(const s3_store *s, const char *name, char *out, size_t outlen)
{
    int n;
    if (!name || !*name)
        n = snprintf(out, outlen, "%s", s->prefix);
    else if (!*s->prefix)
        n = snprintf(out, outlen, "%s", name);
    else
        n = snprintf(out, outlen, "%s/%s", s->prefix, name);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* "a/b" -> "a/b/" (the listing prefix of a name; "" stays ""). */
static void dir_key(const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s", key, *key ? "/" : "");
}

/* ---- the store ------------------------------------------------------------------------------ */

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static int s3_global_rc;
static void s3_global_init(void)
{
    s3_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static void shared_unref(s3_shared *sh)
{
    if (!sh || atomic_fetch_sub(&sh->refs, 1) != 1)
        return;
    if (sh->share)
        curl_share_cleanup(sh->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&sh->locks[i]);
    s3_config_free(&sh->cfg);
    free(sh);
}

static long env_long(const char *name, long def, long min)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long x = strtol(v, &end, 10);
    return *end || x < min ? def : x;
}

static s3_shared *shared_new(char *err, size_t errlen)
{
    pthread_once(&s3_once, s3_global_init);
    if (s3_global_rc < 0) {
        pf_err(err, errlen, "S3: libcurl could not be initialised");
        return NULL;
    }
    s3_shared *sh = calloc(1, sizeof *sh);
    if (!sh) {
        pf_err(err, errlen, "S3: out of memory");
        return NULL;
    }
    atomic_init(&sh->refs, 1);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&sh->locks[i], NULL);
    if (s3_config_load(&sh->cfg, err, errlen) < 0) {
        shared_unref(sh);
        return NULL;
    }
    snprintf(sh->sigv4, sizeof sh->sigv4, "aws:amz:%s:s3", sh->cfg.region);
    uint64_t part = S3_PART_DEFAULT;
    const char *ps = getenv("PGFERRY_S3_PART_SIZE");
    if (ps && *ps && (pf_parse_size(ps, &part) < 0 || part < S3_PART_MIN || part > (5ull << 30))) {
        pf_err(err, errlen, "PGFERRY_S3_PART_SIZE \"%s\": expected a size from 64kB to 5GB (S3 wants 5MB or more)", ps);
        shared_unref(sh);
        return NULL;
    }
    sh->part_size = (size_t)part;
    uint64_t range = S3_RANGE;
    const char *rs = getenv("PGFERRY_S3_RANGE_SIZE");
    if (rs && *rs && (pf_parse_size(rs, &range) < 0 || range < 4096 || range > (256u << 20))) {
        pf_err(err, errlen, "PGFERRY_S3_RANGE_SIZE \"%s\": expected a size from 4kB to 256MB", rs);
        shared_unref(sh);
        return NULL;
    }
    sh->range_size = (size_t)range;
    sh->retries = (int)env_long("PGFERRY_S3_RETRIES", 5, 0);
    sh->lease = (int)env_long("PGFERRY_S3_LOCK_LEASE", S3_LEASE_DEFAULT, 2);
    if (!(sh->share = curl_share_init())) {
        pf_err(err, errlen, "S3: out of memory");
        shared_unref(sh);
        return NULL;
    }
    curl_share_setopt(sh->share, CURLSHOPT_LOCKFUNC, s3_lock_cb);
    curl_share_setopt(sh->share, CURLSHOPT_UNLOCKFUNC, s3_unlock_cb);
    curl_share_setopt(sh->share, CURLSHOPT_USERDATA, sh);
    curl_share_setopt(sh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(sh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(sh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return sh;
}

static const store_ops *s3_ops_ptr(void);
static int s3_list_raw(const s3_store *s, const char *lprefix, int delimited, int max_keys, s3_list_entry_fn fn,
                       void *ctx, char *err, size_t errlen);

static s3_store *store_new(s3_shared *sh, const char *location, const char *bucket, const char *prefix,
                           char *err, size_t errlen)
{
    s3_store *s = calloc(1, sizeof *s);
    if (!s || !(s->base.location = strdup(location)) || !(s->bucket = strdup(bucket)) ||
        !(s->prefix = strdup(prefix))) {
        if (s) {
            free(s->base.location);
            free(s->bucket);
        }
        free(s);
        pf_err(err, errlen, "%s: out of memory", location);
        return NULL;
    }
    s->base.ops = s3_ops_ptr();
    s->sh = sh;
    atomic_fetch_add(&sh->refs, 1);
    return s;
}

static int count_one(void *ctx, const char *key, uint64_t size, time_t mtime, int is_prefix)
{
    (void)key;
    (void)size;
    (void)mtime;
    (void)is_prefix;
    (*(int *)ctx)++;
    return 0;
}

static void s3_close(pf_store *base);

static pf_store *s3_open(const char *location, unsigned flags, char *err, size_t errlen)
{
    char bucket[64], prefix[S3_KEY_MAX];
    if (s3_parse_location(location, bucket, sizeof bucket, prefix, sizeof prefix, err, errlen) < 0)
        return NULL;
    s3_shared *sh = shared_new(err, errlen);
    if (!sh)
        return NULL;
    s3_store *s = store_new(sh, location, bucket, prefix, err, errlen);
    shared_unref(sh);
    if (!s)
        return NULL;
    if (flags & STORE_CREATE) {
        /* nothing to create (a prefix exists once something is under it), but a missing
         * bucket or bad credentials are said now, before anything else is done */
        int n = 0;
        char lp[S3_KEY_MAX + 2];
        dir_key(s->prefix, lp, sizeof lp);
        if (s3_list_raw(s, lp, 1, 1, count_one, &n, err, errlen) < 0) {
            s3_close(&s->base);
            return NULL;
        }
    }
    return &s->base;
}

static pf_store *s3_open_sub(const pf_store *parent, const char *name, unsigned flags, char *err, size_t errlen)
{
    const s3_store *p = CSS(parent);
    char key[S3_KEY_MAX], loc[S3_KEY_MAX + 80];
    if (s3_key(p, name, key, sizeof key) < 0) {
        pf_err(err, errlen, "%s/%s: name too long", parent->location, name);
        return NULL;
    }
    store_display(parent, name, loc, sizeof loc);
    (void)flags;
    s3_store *s = store_new(p->sh, loc, p->bucket, key, err, errlen);
    return s ? &s->base : NULL;
}

static void s3_close(pf_store *base)
{
    s3_store *s = SS(base);
    shared_unref(s->sh);
    free(s->bucket);
    free(s->prefix);
    free(s->base.location);
    free(s);
}

/* ---- listing -------------------------------------------------------------------------------- */

/* ListObjectsV2 of every key under lprefix (with delimiter '/' when delimited), page by
 * page; fn gets full keys. max_keys > 0 asks for one page of at most that many. */
static int s3_list_raw(const s3_store *s, const char *lprefix, int delimited, int max_keys, s3_list_entry_fn fn,
                       void *ctx, char *err, size_t errlen)
{
    char *token = NULL;
    int rc = 0;
    for (;;) {
        char ep[S3_KEY_MAX * 3 + 1], et[4096 * 3 + 1] = "", query[S3_KEY_MAX * 3 + 4096 * 3 + 200];
        if (s3_uri_encode(lprefix, 0, ep, sizeof ep) < 0 || (token && s3_uri_encode(token, 0, et, sizeof et) < 0)) {
            rc = pf_err(err, errlen, "s3://%s/%s: listing: prefix or token too long", s->bucket, lprefix);
            break;
        }
        char mk[32] = "";
        if (max_keys > 0)
            snprintf(mk, sizeof mk, "&max-keys=%d", max_keys);
        /* the parameters sorted by name, as the signature's canonical query wants */
        snprintf(query, sizeof query, "%s%s%s%slist-type=2%s&prefix=%s", token ? "continuation-token=" : "", et,
                 token ? "&" : "", delimited ? "delimiter=%2F&" : "", mk, ep);
        s3_req q = {.method = "GET", .key = "", .query = query};
        if (s3_perform(s, &q, err, errlen) < 0) {
            rc = -1;
            s3_req_free(&q);
            break;
        }
        if (!ok2xx(&q)) {
            q.key = lprefix;
            rc = s3_fail(s, &q, NULL, err, errlen);
            s3_req_free(&q);
            break;
        }
        int truncated = 0;
        free(token);
        token = NULL;
        if (!q.resp || !strstr(q.resp, "<ListBucketResult")) {
            rc = pf_err(err, errlen, "list s3://%s/%s: the answer is not a ListObjectsV2 result (HTTP %ld)", s->bucket,
                        lprefix, q.status);
            s3_req_free(&q);
            break;
        }
        /* fn's own non-zero return stops the listing and is returned as it is */
        rc = s3_xml_list_parse(q.resp, q.resp_len, fn, ctx, &truncated, &token);
        s3_req_free(&q);
        if (rc != 0 || !truncated || !token || max_keys > 0)
            break;
    }
    free(token);
    return rc;
}

typedef struct {
    size_t skip; /* length of the listed prefix */
    store_list_fn fn;
    void *ctx;
} list_ctx;

static int list_entry(void *ctx, const char *key, uint64_t size, time_t mtime, int is_prefix)
{
    list_ctx *l = ctx;
    if (strlen(key) < l->skip)
        return 0;
    char name[S3_KEY_MAX];
    snprintf(name, sizeof name, "%s", key + l->skip);
    size_t n = strlen(name);
    if (is_prefix && n > 0 && name[n - 1] == '/')
        name[--n] = '\0';
    if (!n || strchr(name, '/')) /* the prefix's own marker "p/", or a stray "p//x" */
        return 0;
    store_info info = {.size = is_prefix ? 0 : size, .is_prefix = is_prefix, .mtime = mtime};
    return l->fn(l->ctx, name, &info);
}

static int s3_list(const pf_store *base, const char *prefix, store_list_fn fn, void *ctx, char *err, size_t errlen)
{
    const s3_store *s = CSS(base);
    char key[S3_KEY_MAX], lp[S3_KEY_MAX + 2];
    if (s3_key(s, prefix, key, sizeof key) < 0)
        return pf_err(err, errlen, "%s/%s: name too long", base->location, prefix);
    dir_key(key, lp, sizeof lp);
    list_ctx l = {strlen(lp), fn, ctx};
    return s3_list_raw(s, lp, 1, 0, list_entry, &l, err, errlen);
}

static int s3_root_state(const pf_store *base, store_root_state_t *state, char *err, size_t errlen)
{
    const s3_store *s = CSS(base);
    char lp[S3_KEY_MAX + 2];
    int n = 0;
    dir_key(s->prefix, lp, sizeof lp);
    *state = STORE_ROOT_MISSING;
    if (s3_list_raw(s, lp, 0, 2, count_one, &n, err, errlen) < 0)
        return -1;
    /* a prefix holding only its own marker is empty */
    if (n == 1 && *lp) {
        s3_req q = {.method = "HEAD", .key = lp};
        if (s3_perform(s, &q, err, errlen) < 0)
            return -1;
        int only_marker = ok2xx(&q);
        s3_req_free(&q);
        *state = only_marker ? STORE_ROOT_EMPTY : STORE_ROOT_USED;
    } else if (n > 0)
        *state = STORE_ROOT_USED;
    return 0;
}

static int s3_stat(const pf_store *base, const char *name, store_info *info, char *err, size_t errlen)
{
    const s3_store *s = CSS(base);
    char key[S3_KEY_MAX], lp[S3_KEY_MAX + 2];
    if (s3_key(s, name, key, sizeof key) < 0)
        return pf_err(err, errlen, "%s/%s: name too long", base->location, name);
    memset(info, 0, sizeof *info);
    if (*key) {
        s3_req q = {.method = "HEAD", .key = key};
        if (s3_perform(s, &q, err, errlen) < 0)
            return -1;
        if (ok2xx(&q)) {
            info->size = q.have_cl ? q.content_length : 0;
            info->mtime = q.last_modified;
            s3_req_free(&q);
            return 1;
        }
        long st = q.status;
        s3_req_free(&q);
        if (st != 404) {
            /* a HEAD answer has no body to say why: a listing does */
            int n = 0;
            if (s3_list_raw(s, key, 0, 1, count_one, &n, err, errlen) < 0)
                return -1;
            return pf_err(err, errlen, "stat s3://%s/%s: HTTP %ld", s->bucket, key, st);
        }
    }
    int n = 0;
    dir_key(key, lp, sizeof lp);
    if (s3_list_raw(s, lp, 0, 1, count_one, &n, err, errlen) < 0)
        return -1;
    if (n == 0)
        return 0;
    info->is_prefix = 1;
    return 1;
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct {
    store_reader base;
    const s3_store *s;
    char key[S3_KEY_MAX];
    uint64_t pos, end, size;
    int have_size;
    uint8_t *buf;
    size_t len, off;
} s3_reader;

/* The next range into the buffer. */
static int reader_fetch(s3_reader *r, char *err, size_t errlen)
{
    r->len = r->off = 0;
    if (r->have_size && (r->pos >= r->size || r->pos >= r->end))
        return 0;
    uint64_t want = r->end - r->pos;
    if (want > r->s->sh->range_size)
        want = r->s->sh->range_size;
    if (want == 0) { /* an empty range: only the object's size (and that it exists) */
        s3_req h = {.method = "HEAD", .key = r->key};
        if (s3_perform(r->s, &h, err, errlen) < 0)
            return -1;
        int ok = ok2xx(&h);
        long st = h.status;
        r->size = h.content_length;
        r->have_size = ok;
        s3_req_free(&h);
        if (!ok)
            return st == 404 ? pf_err(err, errlen, "read s3://%s/%s: no such object", r->s->bucket, r->key)
                             : pf_err(err, errlen, "read s3://%s/%s: HTTP %ld", r->s->bucket, r->key, st);
        return 0;
    }
    if (!r->buf && !(r->buf = malloc(r->s->sh->range_size)))
        return pf_err(err, errlen, "read s3://%s/%s: out of memory", r->s->bucket, r->key);
    char range[96];
    snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)r->pos,
             (unsigned long long)(r->pos + want - 1));
    s3_req q = {.method = "GET", .key = r->key, .hdr = {range}, .into = r->buf, .into_cap = (size_t)want,
                .range_from = r->pos};
    if (s3_perform(r->s, &q, err, errlen) < 0) {
        s3_req_free(&q);
        return -1;
    }
    if (q.status == 416) { /* the range starts at or past the end: how long is it? */
        s3_req_free(&q);
        s3_req h = {.method = "HEAD", .key = r->key};
        if (s3_perform(r->s, &h, err, errlen) < 0)
            return -1;
        int ok = ok2xx(&h);
        uint64_t size = h.content_length;
        s3_req_free(&h);
        if (!ok)
            return pf_err(err, errlen, "read s3://%s/%s: HTTP %ld", r->s->bucket, r->key, h.status);
        if (r->have_size && size != r->size)
            return pf_err(err, errlen, "read s3://%s/%s: the object changed while being read", r->s->bucket,
                          r->key);
        r->size = size;
        r->have_size = 1;
        return 0;
    }
    if (!ok2xx(&q)) {
        int rc = s3_fail(r->s, &q, "read", err, errlen);
        s3_req_free(&q);
        return rc;
    }
    uint64_t size = q.status == 206 && q.have_total ? q.range_total : q.content_length;
    s3_req_free(&q);
    if (q.status == 206 && !q.have_total)
        return pf_err(err, errlen, "read s3://%s/%s: the server's answer has no Content-Range", r->s->bucket, r->key);
    if (r->have_size && size != r->size)
        return pf_err(err, errlen, "read s3://%s/%s: the object changed while being read", r->s->bucket, r->key);
    r->size = size;
    r->have_size = 1;
    uint64_t expect = r->pos < size ? size - r->pos : 0;
    if (expect > want)
        expect = want;
    if (q.into_len != expect)
        return pf_err(err, errlen, "read s3://%s/%s: short answer (%zu of %llu bytes)", r->s->bucket, r->key,
                      q.into_len, (unsigned long long)expect);
    r->len = q.into_len;
    return 0;
}

static void s3_reader_close(store_reader *base)
{
    s3_reader *r = (s3_reader *)base;
    free(r->buf);
    free(r);
}

static store_reader *s3_reader_open(const pf_store *base, const char *name, uint64_t offset, uint64_t len,
                                    char *err, size_t errlen)
{
    const s3_store *s = CSS(base);
    s3_reader *r = calloc(1, sizeof *r);
    if (!r) {
        pf_err(err, errlen, "open %s/%s: out of memory", base->location, name);
        return NULL;
    }
    r->base.ops = s3_ops_ptr();
    r->s = s;
    if (s3_key(s, name, r->key, sizeof r->key) < 0) {
        pf_err(err, errlen, "%s/%s: name too long", base->location, name);
        free(r);
        return NULL;
    }
    r->pos = offset;
    r->end = len == STORE_TO_END || offset + len < offset ? UINT64_MAX : offset + len;
    /* the first range now: a missing object fails here, as open() would */
    if (reader_fetch(r, err, errlen) < 0) {
        s3_reader_close(&r->base);
        return NULL;
    }
    return &r->base;
}

static int s3_reader_read(store_reader *base, void *buf, size_t cap, size_t *got, char *err, size_t errlen)
{
    s3_reader *r = (s3_reader *)base;
    uint8_t *p = buf;
    size_t n = 0;
    while (n < cap) {
        if (r->off == r->len) {
            if (r->len == 0 && r->have_size && (r->pos >= r->size || r->pos >= r->end))
                break;
            if (reader_fetch(r, err, errlen) < 0) {
                *got = n;
                return -1;
            }
            if (r->len == 0)
                break;
        }
        size_t k = r->len - r->off;
        if (k > cap - n)
            k = cap - n;
        memcpy(p + n, r->buf + r->off, k);
        r->off += k;
        r->pos += k;
        n += k;
        if (r->off == r->len)
            r->len = r->off = 0;
    }
    *got = n;
    return 0;
}

static uint64_t s3_reader_file_size(const store_reader *base)
{
    return ((const s3_reader *)base)->size;
}

/* ---- writing -------------------------------------------------------------------------------- */

typedef struct {
    store_writer base;
    s3_store *s;
    char key[S3_KEY_MAX];
    uint8_t *buf;
    size_t len, cap;
    char *upload_id;
    char (*etags)[160];
    int nparts;
    uint64_t offset;
} s3_writer;

static store_writer *s3_writer_open(pf_store *base, const char *name, unsigned flags, char *err, size_t errlen)
{
    s3_store *s = SS(base);
    (void)flags;
    s3_writer *w = calloc(1, sizeof *w);
    if (!w) {
        pf_err(err, errlen, "write %s/%s: out of memory", base->location, name);
        return NULL;
    }
    w->base.ops = s3_ops_ptr();
    w->s = s;
    if (s3_key(s, name, w->key, sizeof w->key) < 0) {
        pf_err(err, errlen, "%s/%s: name too long", base->location, name);
        free(w);
        return NULL;
    }
    return &w->base;
}

static int upload_query(const s3_writer *w, int part, char *out, size_t outlen)
{
    char eid[1024];
    if (s3_uri_encode(w->upload_id, 0, eid, sizeof eid) < 0)
        return -1;
    if (part > 0)
        snprintf(out, outlen, "partNumber=%d&uploadId=%s", part, eid);
    else
        snprintf(out, outlen, "uploadId=%s", eid);
    return 0;
}

/* Uploads the buffer as the next part (starting the multipart upload first). */
static int writer_flush_part(s3_writer *w, char *err, size_t errlen)
{
    if (!w->upload_id) {
        s3_req q = {.method = "POST", .key = w->key, .query = "uploads="};
        if (s3_perform(w->s, &q, err, errlen) < 0) {
            s3_req_free(&q);
            return -1;
        }
        if (!ok2xx(&q)) {
            int rc = s3_fail(w->s, &q, "write", err, errlen);
            s3_req_free(&q);
            return rc;
        }
        w->upload_id = s3_xml_value(q.resp, q.resp_len, "UploadId");
        s3_req_free(&q);
        if (!w->upload_id)
            return pf_err(err, errlen, "write s3://%s/%s: no UploadId in the answer", w->s->bucket, w->key);
    }
    if (w->nparts >= S3_MAX_PARTS)
        return pf_err(err, errlen,
                      "write s3://%s/%s: more than %d parts of %zu bytes: raise PGFERRY_S3_PART_SIZE", w->s->bucket,
                      w->key, S3_MAX_PARTS, w->s->sh->part_size);
    if (w->nparts % 64 == 0) {
        void *ne = realloc(w->etags, (size_t)(w->nparts + 64) * sizeof *w->etags);
        if (!ne)
            return pf_err(err, errlen, "write s3://%s/%s: out of memory", w->s->bucket, w->key);
        w->etags = ne;
    }
    char query[1200];
    if (upload_query(w, w->nparts + 1, query, sizeof query) < 0)
        return pf_err(err, errlen, "write s3://%s/%s: upload id too long", w->s->bucket, w->key);
    s3_req q = {.method = "PUT", .key = w->key, .query = query, .body = w->buf, .body_len = w->len};
    if (s3_perform(w->s, &q, err, errlen) < 0) {
        s3_req_free(&q);
        return -1;
    }
    if (!ok2xx(&q) || !q.etag[0]) {
        int rc = ok2xx(&q) ? pf_err(err, errlen, "write s3://%s/%s: part %d: no ETag in the answer", w->s->bucket,
                                    w->key, w->nparts + 1)
                           : s3_fail(w->s, &q, "write", err, errlen);
        s3_req_free(&q);
        return rc;
    }
    snprintf(w->etags[w->nparts], sizeof w->etags[0], "%s", q.etag);
    w->nparts++;
    s3_req_free(&q);
    w->len = 0;
    return 0;
}

static int s3_writer_write(store_writer *base, const void *data, size_t len, char *err, size_t errlen)
{
    s3_writer *w = (s3_writer *)base;
    const uint8_t *p = data;
    size_t part = w->s->sh->part_size;
    while (len > 0) {
        if (w->len == w->cap && w->cap < part) { /* grown as needed: small objects stay small */
            size_t cap = w->cap ? w->cap * 2 : 64 * 1024;
            while (cap < w->len + len && cap < part)
                cap *= 2;
            if (cap > part)
                cap = part;
            uint8_t *nb = realloc(w->buf, cap);
            if (!nb)
                return pf_err(err, errlen, "write s3://%s/%s: out of memory", w->s->bucket, w->key);
            w->buf = nb;
            w->cap = cap;
        }
        size_t k = w->cap - w->len;
        if (k > len)
            k = len;
        memcpy(w->buf + w->len, p, k);
        w->len += k;
        w->offset += k;
        p += k;
        len -= k;
        if (w->len == part && writer_flush_part(w, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static void writer_free(s3_writer *w)
{
    free(w->buf);
    free(w->upload_id);
    free(w->etags);
    free(w);
}

static void writer_abort_upload(s3_writer *w)
{
    if (!w->upload_id)
        return;
    char query[1200], e2[PF_ERRLEN];
    if (upload_query(w, 0, query, sizeof query) < 0)
        return;
    s3_req q = {.method = "DELETE", .key = w->key, .query = query};
    s3_perform(w->s, &q, e2, sizeof e2); /* best effort: a lifecycle rule cleans up the rest */
    s3_req_free(&q);
}

static int s3_writer_commit(store_writer *base, char *err, size_t errlen)
{
    s3_writer *w = (s3_writer *)base;
    int rc = 0;
    if (!w->upload_id) {
        s3_req q = {.method = "PUT", .key = w->key, .body = w->buf, .body_len = w->len};
        if (s3_perform(w->s, &q, err, errlen) < 0)
            rc = -1;
        else if (!ok2xx(&q))
            rc = s3_fail(w->s, &q, "write", err, errlen);
        s3_req_free(&q);
        writer_free(w);
        return rc;
    }
    if (w->len > 0 && writer_flush_part(w, err, errlen) < 0) {
        writer_abort_upload(w);
        writer_free(w);
        return -1;
    }
    size_t cap = 128 + (size_t)w->nparts * 240, n = 0;
    char *xml = malloc(cap);
    if (!xml) {
        pf_err(err, errlen, "write s3://%s/%s: out of memory", w->s->bucket, w->key);
        writer_abort_upload(w);
        writer_free(w);
        return -1;
    }
    n += (size_t)snprintf(xml + n, cap - n, "<CompleteMultipartUpload>");
    for (int i = 0; i < w->nparts; i++) {
        /* an ETag is a quoted hex string: its quotes as entities */
        char et[200];
        size_t k = 0;
        for (const char *e = w->etags[i]; *e && k + 7 < sizeof et; e++) {
            if (*e == '"') {
                memcpy(et + k, "&quot;", 6);
                k += 6;
            } else
                et[k++] = *e;
        }
        et[k] = '\0';
        n += (size_t)snprintf(xml + n, cap - n, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                              et);
    }
    n += (size_t)snprintf(xml + n, cap - n, "</CompleteMultipartUpload>");
    char query[1200];
    upload_query(w, 0, query, sizeof query);
    s3_req q = {.method = "POST", .key = w->key, .query = query, .body = (uint8_t *)xml, .body_len = n};
    if (s3_perform(w->s, &q, err, errlen) < 0)
        rc = -1;
    else if (!ok2xx(&q) || body_is_error(&q)) {
        /* a retried Complete whose first try did complete: the upload is gone, the object
         * is there with every byte */
        char *code = q.resp ? s3_xml_value(q.resp, q.resp_len, "Code") : NULL;
        int gone = code && strcmp(code, "NoSuchUpload") == 0;
        free(code);
        s3_req h = {.method = "HEAD", .key = w->key};
        if (gone && s3_perform(w->s, &h, err, errlen) == 0 && ok2xx(&h) && h.have_cl && h.content_length == w->offset)
            rc = 0;
        else
            rc = s3_fail(w->s, &q, "write", err, errlen);
        s3_req_free(&h);
    }
    s3_req_free(&q);
    free(xml);
    if (rc < 0)
        writer_abort_upload(w);
    writer_free(w);
    return rc;
}

static void s3_writer_abort(store_writer *base)
{
    s3_writer *w = (s3_writer *)base;
    writer_abort_upload(w);
    writer_free(w);
}

static uint64_t s3_writer_offset(const store_writer *base)
{
    return ((const s3_writer *)base)->offset;
}

/* A zero-byte "name/" marker, so a prefix is seen before anything is under it. */
static int s3_mkprefix(pf_store *base, const char *name, char *err, size_t errlen)
{
    s3_store *s = SS(base);
    char key[S3_KEY_MAX], mk[S3_KEY_MAX + 2];
    if (s3_key(s, name, key, sizeof key) < 0)
        return pf_err(err, errlen, "%s/%s: name too long", base->location, name);
    dir_key(key, mk, sizeof mk);
    if (!*mk)
        return 0;
    s3_req q = {.method = "PUT", .key = mk};
    int rc = s3_perform(s, &q, err, errlen);
    if (rc == 0 && !ok2xx(&q))
        rc = s3_fail(s, &q, "create", err, errlen);
    s3_req_free(&q);
    return rc;
}

static int s3_sync(pf_store *base, const char *prefix, char *err, size_t errlen)
{
    (void)base;
    (void)prefix;
    (void)err;
    (void)errlen;
    return 0; /* a PUT or a completed upload is durable once answered */
}

/* ---- removing ------------------------------------------------------------------------------- */

static int delete_key(const s3_store *s, const char *key, char *err, size_t errlen)
{
    s3_req q = {.method = "DELETE", .key = key};
    int rc = s3_perform(s, &q, err, errlen);
    if (rc == 0 && !ok2xx(&q) && q.status != 404)
        rc = s3_fail(s, &q, "remove", err, errlen);
    s3_req_free(&q);
    return rc;
}

static int s3_remove(pf_store *base, const char *name, char *err, size_t errlen)
{
    s3_store *s = SS(base);
    char key[S3_KEY_MAX], mk[S3_KEY_MAX + 2];
    if (s3_key(s, name, key, sizeof key) < 0)
        return pf_err(err, errlen, "%s/%s: name too long", base->location, name);
    dir_key(key, mk, sizeof mk);
    if (*key && delete_key(s, key, err, errlen) < 0)
        return -1;
    /* a prefix's marker (removing a "directory" that is empty) */
    return *mk ? delete_key(s, mk, err, errlen) : 0;
}

/* Keys of a prefix, collected (a listing is not changed while it is paged through). */
typedef struct {
    char **keys;
    size_t n, cap;
    int oom;
} key_list;

static int collect_key(void *ctx, const char *key, uint64_t size, time_t mtime, int is_prefix)
{
    key_list *l = ctx;
    (void)size;
    (void)mtime;
    if (is_prefix)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **nk = realloc(l->keys, cap * sizeof *nk);
        if (!nk) {
            l->oom = 1;
            return 1;
        }
        l->keys = nk;
        l->cap = cap;
    }
    if (!(l->keys[l->n] = strdup(key))) {
        l->oom = 1;
        return 1;
    }
    l->n++;
    return 0;
}

static void key_list_free(key_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
}

static int collect_tree(const s3_store *s, const char *key, key_list *l, char *err, size_t errlen)
{
    char lp[S3_KEY_MAX + 2];
    dir_key(key, lp, sizeof lp);
    memset(l, 0, sizeof *l);
    int rc = s3_list_raw(s, lp, 0, 0, collect_key, l, err, errlen);
    if (l->oom)
        rc = pf_err(err, errlen, "s3://%s/%s: out of memory", s->bucket, key);
    return rc < 0 ? -1 : 0;
}

/* The manifest (a dump's "manifest.json", see engine/dumpdir.h) goes before anything
 * else of a prefix, so that a removal cut short never leaves what looks like a whole dump. */
static int first_in_removal(const char *key)
{
    const char *slash = strrchr(key, '/');
    return strcmp(slash ? slash + 1 : key, "manifest.json") == 0;
}

/* Appends text to a growing buffer with XML's special characters escaped. */
static int xml_append(char **buf, size_t *len, size_t *cap, const char *text, int escape)
{
    for (const char *p = text; *p; p++) {
        const char *rep = NULL;
        if (escape)
            rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '"' ? "&quot;" : NULL;
        size_t n = rep ? strlen(rep) : 1;
        if (*len + n + 1 > *cap) {
            size_t nc = *cap ? *cap * 2 : 4096;
            while (nc < *len + n + 1)
                nc *= 2;
            char *nb = realloc(*buf, nc);
            if (!nb)
                return -1;
            *buf = nb;
            *cap = nc;
        }
        if (rep)
            memcpy(*buf + *len, rep, n);
        else
            (*buf)[*len] = *p;
        *len += n;
    }
    if (*buf)
        (*buf)[*len] = '\0';
    return 0;
}

/* DeleteObjects of keys[0..n) (at most 1000): 0 when the server deleted them all, 1 when
 * it cannot do a batch (the caller deletes one by one), -1 with err. */
static int delete_batch(const s3_store *s, char **keys, size_t n, char *err, size_t errlen)
{
    char *xml = NULL;
    size_t len = 0, cap = 0;
    int bad = xml_append(&xml, &len, &cap, "<Delete><Quiet>true</Quiet>", 0);
    for (size_t i = 0; !bad && i < n; i++)
        bad = xml_append(&xml, &len, &cap, "<Object><Key>", 0) || xml_append(&xml, &len, &cap, keys[i], 1) ||
              xml_append(&xml, &len, &cap, "</Key></Object>", 0);
    if (!bad)
        bad = xml_append(&xml, &len, &cap, "</Delete>", 0);
    if (bad) {
        free(xml);
        return pf_err(err, errlen, "remove in s3://%s: out of memory", s->bucket);
    }
    /* S3 wants the body's MD5 on a batch delete */
    unsigned char md5[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    char b64[64], hdr[96];
    if (EVP_Digest(xml, len, md5, &ml, EVP_md5(), NULL) != 1) {
        free(xml);
        return 1;
    }
    EVP_EncodeBlock((unsigned char *)b64, md5, (int)ml);
    snprintf(hdr, sizeof hdr, "Content-MD5: %s", b64);
    s3_req q = {.method = "POST", .key = "", .query = "delete=", .body = (const uint8_t *)xml, .body_len = len,
                .hdr = {hdr}};
    int rc = s3_perform(s, &q, err, errlen);
    free(xml);
    if (rc == 0 && !ok2xx(&q)) {
        char *code = q.resp ? s3_xml_value(q.resp, q.resp_len, "Code") : NULL;
        /* a server without batch deletes: one by one */
        int unsupported = q.status == 501 || q.status == 405 || (code && strcmp(code, "NotImplemented") == 0);
        free(code);
        rc = unsupported ? 1 : s3_fail(s, &q, "remove", err, errlen);
    } else if (rc == 0 && q.resp && strstr(q.resp, "<Error>")) {
        /* some keys were not deleted: each <Error> names one */
        char *key = s3_xml_value(q.resp, q.resp_len, "Key");
        char *code = s3_xml_value(q.resp, q.resp_len, "Code");
        rc = pf_err(err, errlen, "remove s3://%s/%s: %s", s->bucket, key ? key : "?", code ? code : "error");
        free(key);
        free(code);
    }
    s3_req_free(&q);
    return rc;
}

/* Deletes the listed keys, the manifest first (see first_in_removal), the rest in batches
 * of 1000 (DeleteObjects), one by one where the server has no batch delete. */
static int delete_keys(const s3_store *s, key_list *l, char *err, size_t errlen)
{
    for (size_t i = 0; i < l->n; i++)
        if (first_in_removal(l->keys[i]) && delete_key(s, l->keys[i], err, errlen) < 0)
            return -1;
    char **rest = malloc((l->n ? l->n : 1) * sizeof *rest);
    if (!rest)
        return pf_err(err, errlen, "remove in s3://%s: out of memory", s->bucket);
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!first_in_removal(l->keys[i]))
            rest[n++] = l->keys[i];
    int rc = 0, batch = 1;
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t k = n - i < 1000 ? n - i : 1000;
        if (batch && k > 1) {
            int b = delete_batch(s, rest + i, k, err, errlen);
            if (b < 0)
                rc = -1;
            else if (b == 0)
                i += k;
            else
                batch = 0;
            continue;
        }
        rc = delete_key(s, rest[i], err, errlen);
        i++;
    }
    free(rest);
    return rc;
}

static int s3_remove_tree(pf_store *base, const char *name, char *err, size_t errlen)
{
    s3_store *s = SS(base);
    char key[S3_KEY_MAX];
    if (s3_key(s, name, key, sizeof key) < 0)
        return pf_err(err, errlen, "%s/%s: name too long", base->location, name);
    key_list l;
    if (collect_tree(s, key, &l, err, errlen) < 0) {
        key_list_free(&l);
        return -1;
    }
    int rc = delete_keys(s, &l, err, errlen);
    key_list_free(&l);
    if (rc == 0 && *key)
        rc = delete_key(s, key, err, errlen);
    return rc;
}

static int copy_key(const s3_store *s, const char *from, const char *to, char *err, size_t errlen)
{
    char src[S3_KEY_MAX * 3 + 100], ek[S3_KEY_MAX * 3 + 1];
    if (s3_uri_encode(from, 1, ek, sizeof ek) < 0)
        return pf_err(err, errlen, "s3://%s/%s: key too long", s->bucket, from);
    snprintf(src, sizeof src, "x-amz-copy-source: /%s/%s", s->bucket, ek);
    s3_req q = {.method = "PUT", .key = to, .hdr = {src}};
    int rc = s3_perform(s, &q, err, errlen);
    if (rc == 0 && (!ok2xx(&q) || body_is_error(&q))) {
        q.key = from;
        rc = s3_fail(s, &q, "copy", err, errlen);
    }
    s3_req_free(&q);
    return rc;
}

static int s3_rename(pf_store *base, const char *from, const char *to, char *err, size_t errlen)
{
    s3_store *s = SS(base);
    char fk[S3_KEY_MAX], tk[S3_KEY_MAX];
    if (s3_key(s, from, fk, sizeof fk) < 0 || s3_key(s, to, tk, sizeof tk) < 0)
        return pf_err(err, errlen, "rename %s/%s: name too long", base->location, from);
    /* one object */
    s3_req q = {.method = "HEAD", .key = fk};
    if (s3_perform(s, &q, err, errlen) < 0)
        return -1;
    int is_obj = ok2xx(&q);
    s3_req_free(&q);
    if (is_obj)
        return copy_key(s, fk, tk, err, errlen) < 0 ? -1 : delete_key(s, fk, err, errlen);
    /* a prefix: every object copied, then the originals deleted (manifest first) */
    key_list l;
    if (collect_tree(s, fk, &l, err, errlen) < 0) {
        key_list_free(&l);
        return -1;
    }
    if (l.n == 0) {
        key_list_free(&l);
        return pf_err(err, errlen, "rename s3://%s/%s: nothing there", s->bucket, fk);
    }
    int rc = 0;
    size_t fl = strlen(fk);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char dst[S3_KEY_MAX * 2];
        snprintf(dst, sizeof dst, "%s%s", tk, l.keys[i] + fl);
        rc = copy_key(s, l.keys[i], dst, err, errlen);
    }
    if (rc == 0)
        rc = delete_keys(s, &l, err, errlen);
    key_list_free(&l);
    return rc;
}

/* ---- locks ---------------------------------------------------------------------------------- */

typedef struct {
    store_lock base;
    s3_store *s;
    char key[S3_KEY_MAX];
    char token[40];
    char *owner;
    int remove;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
} s3_lock;

/* The lock object's text. */
static void lock_text(const s3_lock *l, time_t expires, char *out, size_t outlen)
{
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    char owner[256];
    snprintf(owner, sizeof owner, "%s", l->owner ? l->owner : "");
    for (char *p = owner; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    snprintf(out, outlen, "pgferry lock\nowner: %s\nhost: %s\npid: %ld\ntoken: %s\nexpires: %lld\n", owner, host,
             (long)getpid(), l->token, (long long)expires);
}

/* A field of a lock's text ("token", "expires", "host"...). */
static int lock_field(const char *text, const char *field, char *out, size_t outlen)
{
    size_t fl = strlen(field);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            const char *v = p + fl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\n");
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 1;
        }
    }
    return 0;
}

/* GETs the lock object: 1 with its text (malloc'd) and ETag, 0 when there is none. */
static int lock_get(const s3_store *s, const char *key, char **text, char *etag, size_t etaglen, char *err,
                    size_t errlen)
{
    s3_req q = {.method = "GET", .key = key};
    *text = NULL;
    if (s3_perform(s, &q, err, errlen) < 0) {
        s3_req_free(&q);
        return -1;
    }
    if (q.status == 404) {
        s3_req_free(&q);
        return 0;
    }
    if (!ok2xx(&q)) {
        int rc = s3_fail(s, &q, "lock", err, errlen);
        s3_req_free(&q);
        return rc;
    }
    *text = q.resp ? q.resp : strdup("");
    if (etag)
        snprintf(etag, etaglen, "%s", q.etag);
    return *text ? 1 : -1;
}

static time_t lock_expiry(const char *text)
{
    char v[64];
    return lock_field(text, "expires", v, sizeof v) ? (time_t)strtoll(v, NULL, 10) : 0;
}

/* PUTs the lock's text; cond is a conditional header or NULL. The status, or -1. */
static long lock_put(s3_lock *l, const char *cond, char *err, size_t errlen)
{
    char text[1024];
    lock_text(l, time(NULL) + l->s->sh->lease, text, sizeof text);
    s3_req q = {.method = "PUT", .key = l->key, .body = (const uint8_t *)text, .body_len = strlen(text),
                .hdr = {cond}};
    long st = s3_perform(l->s, &q, err, errlen) < 0 ? -1 : q.status;
    if (st >= 0 && !ok2xx(&q) && st != 412 && st != 409)
        st = s3_fail(l->s, &q, "lock", err, errlen);
    s3_req_free(&q);
    return st;
}

/* 1 when the lock object holds our token. */
static int lock_is_ours(s3_lock *l, char *err, size_t errlen)
{
    char *text = NULL, tok[64];
    int rc = lock_get(l->s, l->key, &text, NULL, 0, err, errlen);
    if (rc == 1)
        rc = lock_field(text, "token", tok, sizeof tok) && strcmp(tok, l->token) == 0;
    free(text);
    return rc;
}

/* Renews the lease every third of it while the lock is held. */
static void *lock_renewer(void *arg)
{
    s3_lock *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->s->sh->lease / 3 > 0 ? l->s->sh->lease / 3 : 1;
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->stop)
            break;
        pthread_mutex_unlock(&l->mu);
        char e2[PF_ERRLEN];
        if (lock_is_ours(l, e2, sizeof e2) == 1)
            lock_put(l, NULL, e2, sizeof e2);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void lock_free(s3_lock *l)
{
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->owner);
    free(l);
}

/* A new lock object for name with a random token (NULL with err). */
static s3_lock *lock_new(s3_store *s, pf_store *base, const char *name, const char *owner, char *err, size_t errlen)
{
    s3_lock *l = calloc(1, sizeof *l);
    if (!l || (owner && !(l->owner = strdup(owner)))) {
        free(l);
        pf_err(err, errlen, "lock %s/%s: out of memory", base->location, name);
        return NULL;
    }
    l->base.ops = s3_ops_ptr();
    l->s = s;
    l->remove = 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    uint8_t rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1 || s3_key(s, name, l->key, sizeof l->key) < 0) {
        pf_err(err, errlen, "lock %s/%s: cannot make a token", base->location, name);
        lock_free(l);
        return NULL;
    }
    pf_hex(rnd, sizeof rnd, l->token);
    return l;
}

/* The condition for writing the lock: none there (If-None-Match), or an expired lease
 * taken over if nobody changed it meanwhile (If-Match its ETag). 1 when it is held (busy,
 * err says by whom), -1 on error. */
static int lock_condition(s3_lock *l, unsigned flags, char *cond, size_t condlen, char *err, size_t errlen)
{
    char *text = NULL, etag[160] = "";
    int there = lock_get(l->s, l->key, &text, etag, sizeof etag, err, errlen);
    if (there < 0)
        return -1;
    if (there != 1) {
        snprintf(cond, condlen, "If-None-Match: *");
        return 0;
    }
    time_t exp = lock_expiry(text);
    char host[256] = "?", pid[32] = "?";
    lock_field(text, "host", host, sizeof host);
    lock_field(text, "pid", pid, sizeof pid);
    free(text);
    if ((flags & STORE_LOCK_NEW) || exp > time(NULL)) {
        pf_err(err, errlen, "s3://%s/%s is held by host %s pid %s (its lease ends in %llds)", l->s->bucket, l->key,
               host, pid, (long long)(exp - time(NULL)));
        return 1;
    }
    snprintf(cond, condlen, "If-Match: %s", etag);
    return 0;
}

/* After the conditional PUT (status st): 1 when the lock is ours, 0 when another process
 * has it, -1 on error. 412/409: someone created or changed it first. A server that ignores
 * the condition (s3rver) is caught by reading back: the last writer's token is there; and
 * again a moment later: a racer that read "no lock" just before our PUT and wrote its own
 * just after our read-back is seen now (it sees its own token and keeps the lock; we do
 * not). */
static int lock_won(s3_lock *l, long st, char *err, size_t errlen)
{
    int ours = st == 412 || st == 409 ? 0 : lock_is_ours(l, err, errlen);
    if (ours == 1) {
        struct timespec ts = {0, 300 * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        ours = lock_is_ours(l, err, errlen);
    }
    if (ours == 0)
        pf_err(err, errlen, "s3://%s/%s was taken by another process", l->s->bucket, l->key);
    return ours;
}

static store_lock *s3_lock_take(pf_store *base, const char *name, const char *owner, unsigned flags, int *busy,
                                char *err, size_t errlen)
{
    *busy = 0;
    s3_lock *l = lock_new(SS(base), base, name, owner, err, errlen);
    if (!l)
        return NULL;
    char cond[200];
    int held = lock_condition(l, flags, cond, sizeof cond, err, errlen);
    long st = held == 0 ? lock_put(l, cond, err, errlen) : -1;
    int ours = st < 0 ? -1 : lock_won(l, st, err, errlen);
    if (ours <= 0) {
        *busy = held == 1 || ours == 0;
        lock_free(l);
        return NULL;
    }
    if (pthread_create(&l->thread, NULL, lock_renewer, l) == 0)
        l->started = 1;
    return &l->base;
}

static void s3_lock_release(store_lock *base)
{
    s3_lock *l = (s3_lock *)base;
    char e2[PF_ERRLEN];
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        l->started = 0;
    }
    /* on an object store a lock is only its object: it goes, unless someone took it over */
    if (lock_is_ours(l, e2, sizeof e2) == 1)
        delete_key(l->s, l->key, e2, sizeof e2);
    lock_free(l);
}

static int s3_lock_held(const pf_store *base, const char *name)
{
    const s3_store *s = CSS(base);
    char key[S3_KEY_MAX], *text = NULL, e2[PF_ERRLEN];
    if (s3_key(s, name, key, sizeof key) < 0)
        return 0;
    int there = lock_get(s, key, &text, NULL, 0, e2, sizeof e2);
    int held = there == 1 && lock_expiry(text) > time(NULL);
    free(text);
    return held;
}

const store_ops store_s3_ops = {
    .scheme = "s3://",
    .open = s3_open,
    .open_sub = s3_open_sub,
    .close = s3_close,
    .root_state = s3_root_state,
    .local_path = NULL,
    .stat = s3_stat,
    .list = s3_list,
    .reader_open = s3_reader_open,
    .reader_read = s3_reader_read,
    .reader_file_size = s3_reader_file_size,
    .reader_close = s3_reader_close,
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
    .writer_offset = s3_writer_offset,
    .writer_async = NULL,
    .mkprefix = s3_mkprefix,
    .sync = s3_sync,
    .remove = s3_remove,
    .remove_tree = s3_remove_tree,
    .rename = s3_rename,
    .lock_take = s3_lock_take,
    .lock_release = s3_lock_release,
    .lock_held = s3_lock_held,
};


static const store_ops *s3_ops_ptr(void)
{
    return &store_s3_ops;
}
