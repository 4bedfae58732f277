#include "engine/manifest.h"

#include "common/pf_util.h"
#include "io/store.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECKSUM_KEY "\"manifest_checksum\": \""

/* ---- writing ---------------------------------------------------------------------------- */

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *jhash(const chunk_hash *h)
{
    char hex[33];
    chunk_hash_hex(h, hex);
    return json_string(hex);
}

static json_t *jrowhash(const rowhash *h)
{
    char hex[33];
    rowhash_hex(h, hex);
    return json_string(hex);
}

static json_t *table_json(const manifest_table *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "schema", jstr(t->schema));
    json_object_set_new(o, "name", jstr(t->name));
    if (t->parent_name) {
        json_object_set_new(o, "partition_of_schema", jstr(t->parent_schema));
        json_object_set_new(o, "partition_of", jstr(t->parent_name));
    }
    json_object_set_new(o, "format", jstr(t->format));
    json_object_set_new(o, "unlogged", json_boolean(t->persistence == 'u'));
    json_t *cols = json_array();
    for (size_t i = 0; i < t->ncols; i++)
        json_array_append_new(cols, json_string(t->cols[i]));
    json_object_set_new(o, "columns", cols);
    json_object_set_new(o, "rows", json_integer((json_int_t)t->rows));
    json_object_set_new(o, "raw_bytes", json_integer((json_int_t)t->raw_bytes));
    json_object_set_new(o, "stored_bytes", json_integer((json_int_t)t->stored_bytes));
    json_object_set_new(o, "content_hash", jrowhash(&t->content));
    json_t *chunks = json_array();
    for (size_t i = 0; i < t->nchunks; i++) {
        const manifest_chunk *c = &t->chunks[i];
        json_t *co = json_object();
        json_object_set_new(co, "file", jstr(c->file));
        if (c->ranged) {
            json_object_set_new(co, "start_page", json_integer((json_int_t)c->start_page));
            json_object_set_new(co, "end_page", c->end_page == UINT64_MAX
                                                    ? json_null()
                                                    : json_integer((json_int_t)c->end_page));
        }
        json_object_set_new(co, "rows", json_integer((json_int_t)c->rows));
        json_object_set_new(co, "raw_bytes", json_integer((json_int_t)c->raw_bytes));
        json_object_set_new(co, "stored_bytes", json_integer((json_int_t)c->stored_bytes));
        json_object_set_new(co, "raw_hash", jhash(&c->raw_hash));
        json_object_set_new(co, "stored_hash", jhash(&c->stored_hash));
        json_object_set_new(co, "content_hash", jrowhash(&c->content));
        if (c->codec >= 0)
            json_object_set_new(co, "codec", json_string(chunk_codec_name((chunk_codec)c->codec)));
        json_array_append_new(chunks, co);
    }
    json_object_set_new(o, "chunks", chunks);
    return o;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    pf_hex(md, 32, out);
}

json_t *manifest_source_json(const manifest *m)
{
    json_t *src = json_object();
    json_object_set_new(src, "host", jstr(m->host));
    json_object_set_new(src, "port", jstr(m->port));
    json_object_set_new(src, "database", jstr(m->database));
    json_object_set_new(src, "server_version", jstr(m->server_version));
    json_object_set_new(src, "server_version_num", json_integer(m->server_version_num));
    return src;
}

json_t *manifest_snapshot_json(const manifest *m)
{
    json_t *snap = json_object();
    json_object_set_new(snap, "id", jstr(m->snapshot_id));
    json_object_set_new(snap, "lsn", jstr(m->snapshot_lsn));
    json_object_set_new(snap, "time", jstr(m->snapshot_time));
    return snap;
}

static json_t *options_json(const manifest *m)
{
    json_t *opt = json_object();
    json_object_set_new(opt, "compression", jstr(m->compression));
    json_object_set_new(opt, "compression_level", json_integer(m->compression_level));
    json_object_set_new(opt, "format", jstr(m->format));
    json_object_set_new(opt, "chunk_size", json_integer((json_int_t)m->chunk_size));
    json_object_set_new(opt, "jobs", json_integer(m->jobs));
    return opt;
}

/* A whole file of the dump (the schema archive, globals): name, size, hash. */
static json_t *file_json(const char *file, uint64_t bytes, const chunk_hash *h)
{
    json_t *f = json_object();
    json_object_set_new(f, "file", jstr(file));
    json_object_set_new(f, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(f, "hash", jhash(h));
    return f;
}

static json_t *sequences_json(const manifest *m)
{
    json_t *seqs = json_array();
    for (size_t i = 0; i < m->nseqs; i++) {
        json_t *so = json_object();
        json_object_set_new(so, "schema", jstr(m->seqs[i].schema));
        json_object_set_new(so, "name", jstr(m->seqs[i].name));
        json_object_set_new(so, "last_value", json_integer(m->seqs[i].last_value));
        json_object_set_new(so, "is_called", json_boolean(m->seqs[i].is_called));
        json_array_append_new(seqs, so);
    }
    return seqs;
}

/* The lists beside the tables: tables without data, unpopulated materialized views,
 * extensions, sequences. */
static void lists_json(const manifest *m, json_t *o)
{
    json_t *nodata = json_array(), *unpop = json_array(), *exts = json_array();
    for (size_t i = 0; i < m->nnodata; i++)
        json_array_append_new(nodata, json_pack("{s:s?, s:s?, s:s?}", "schema", m->nodata[i].schema, "name",
                                                m->nodata[i].name, "reason", m->nodata[i].reason));
    for (size_t i = 0; i < m->nunpopulated; i++)
        json_array_append_new(unpop, json_pack("{s:s?, s:s?}", "schema", m->unpopulated[i].schema, "name",
                                               m->unpopulated[i].name));
    for (size_t i = 0; i < m->nextensions; i++)
        json_array_append_new(exts, json_pack("{s:s?, s:s?}", "name", m->extensions[i].name, "owner",
                                              m->extensions[i].reason));
    json_object_set_new(o, "tables_without_data", nodata);
    json_object_set_new(o, "unpopulated_matviews", unpop);
    json_object_set_new(o, "extensions", exts);
    json_object_set_new(o, "sequences", sequences_json(m));
}

/* The key ring's stored part, or null. */
static json_t *encryption_json(const manifest *m)
{
    return m->encrypted ? keyring_json(&m->keys) : json_null();
}

static json_t *manifest_json(const manifest *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "pgferry_manifest_version", json_integer(m->format_version));
    json_object_set_new(o, "tool_version", jstr(m->tool_version));
    json_object_set_new(o, "source", manifest_source_json(m));
    json_object_set_new(o, "snapshot", manifest_snapshot_json(m));
    json_object_set_new(o, "started_at", jstr(m->started_at));
    json_object_set_new(o, "finished_at", jstr(m->finished_at));
    json_object_set_new(o, "dump_id", jstr(m->dump_id));
    json_object_set_new(o, "tag", jstr(m->tag));
    json_object_set_new(o, "profile", jstr(m->profile));
    json_object_set_new(o, "keep_forever", json_boolean(m->keep_forever));
    json_object_set_new(o, "options", options_json(m));
    json_object_set_new(o, "schema", file_json(m->schema_file, m->schema_bytes, &m->schema_hash));
    json_object_set_new(o, "globals",
                        m->globals_file ? file_json(m->globals_file, m->globals_bytes, &m->globals_hash) : json_null());
    json_t *tables = json_array();
    for (size_t i = 0; i < m->ntables; i++)
        json_array_append_new(tables, table_json(&m->tables[i]));
    json_object_set_new(o, "tables", tables);
    lists_json(m, o);
    json_object_set_new(o, "large_objects", m->has_large_objects ? table_json(&m->large_objects) : json_null());
    json_object_set_new(o, "encryption", encryption_json(m));
    return o;
}

/* body is "{\n ... \n}": the checksum goes in as the last member, covering all bytes up
 * to and including the ",\n" that introduces it (SHA-256, or HMAC-SHA256 under the
 * manifest key when encrypted). Takes body. */
static char *seal(const manifest *m, char *body, char *err, size_t errlen)
{
    size_t blen = strlen(body);
    if (blen < 2 || body[blen - 1] != '}') {
        free(body);
        pf_err(err, errlen, "manifest: unexpected serialisation");
        return NULL;
    }
    blen--; /* the closing brace */
    while (blen > 0 && body[blen - 1] == '\n')
        blen--;
    if (m->encrypted && !m->keys.have_keys) {
        free(body);
        pf_err(err, errlen, "manifest: encrypted without keys");
        return NULL;
    }
    char *out = malloc(blen + 256);
    if (!out) {
        free(body);
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(out, body, blen);
    free(body);
    size_t n = blen;
    memcpy(out + n, ",\n", 2);
    n += 2;
    char hex[65];
    if (m->encrypted)
        keyring_mac_hex(&m->keys, out, n, hex);
    else
        sha256_hex(out, n, hex);
    n += (size_t)sprintf(out + n, "  " CHECKSUM_KEY "%s\"\n}\n", hex);
    return out;
}

char *manifest_serialize(const manifest *m, char *err, size_t errlen)
{
    json_t *o = manifest_json(m);
    char *body = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!body) {
        pf_err(err, errlen, "manifest: cannot serialise");
        return NULL;
    }
    return seal(m, body, err, errlen);
}

copy_format copy_format_parse(const char *name)
{
    if (name && strcmp(name, "text") == 0)
        return COPY_TEXT;
    if (name && (strcmp(name, "binary") == 0 || strcmp(name, "lo") == 0))
        return COPY_BINARY;
    return COPY_FORMAT_UNKNOWN;
}

const char *copy_format_name(copy_format f)
{
    return f == COPY_BINARY ? "binary" : f == COPY_TEXT ? "text" : "unknown";
}

int manifest_write(const manifest *m, pf_store *st, char *err, size_t errlen)
{
    char *text = manifest_serialize(m, err, errlen);
    if (!text)
        return -1;
    int rc = store_write_all(st, MANIFEST_FILE, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

static char *gstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static int gu64(json_t *o, const char *k, uint64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int ghash(json_t *o, const char *k, chunk_hash *h)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? chunk_hash_from_hex(json_string_value(v), h) : -1;
}

static int growhash(json_t *o, const char *k, rowhash *h)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? rowhash_from_hex(json_string_value(v), h) : -1;
}

static int parse_table(json_t *o, manifest_table *t, char *err, size_t errlen)
{
    t->schema = gstr(o, "schema");
    t->name = gstr(o, "name");
    t->parent_schema = gstr(o, "partition_of_schema");
    t->parent_name = gstr(o, "partition_of");
    t->format = gstr(o, "format");
    t->persistence = json_is_true(json_object_get(o, "unlogged")) ? 'u' : 'p';
    const char *who = t->name ? t->name : "?";
    if (!t->schema || !t->name || !t->format)
        return pf_err(err, errlen, "manifest: table entry without schema, name or format");
    json_t *cols = json_object_get(o, "columns");
    if (!json_is_array(cols))
        return pf_err(err, errlen, "manifest: table %s.%s: columns missing", t->schema, who);
    t->ncols = json_array_size(cols);
    t->cols = calloc(t->ncols + 1, sizeof(char *));
    for (size_t i = 0; i < t->ncols; i++) {
        json_t *c = json_array_get(cols, i);
        if (!json_is_string(c))
            return pf_err(err, errlen, "manifest: table %s.%s: bad column name", t->schema, who);
        t->cols[i] = strdup(json_string_value(c));
    }
    if (gu64(o, "rows", &t->rows) || gu64(o, "raw_bytes", &t->raw_bytes) ||
        gu64(o, "stored_bytes", &t->stored_bytes) || growhash(o, "content_hash", &t->content))
        return pf_err(err, errlen, "manifest: table %s.%s: bad totals", t->schema, who);
    json_t *chunks = json_object_get(o, "chunks");
    if (!json_is_array(chunks))
        return pf_err(err, errlen, "manifest: table %s.%s: chunks missing", t->schema, who);
    t->nchunks = json_array_size(chunks);
    t->chunks = calloc(t->nchunks + 1, sizeof *t->chunks);
    for (size_t i = 0; i < t->nchunks; i++) {
        json_t *co = json_array_get(chunks, i);
        manifest_chunk *c = &t->chunks[i];
        c->file = gstr(co, "file");
        c->codec = -1;
        json_t *cj = json_object_get(co, "codec");
        if (cj) {
            chunk_codec cc;
            if (!json_is_string(cj) || chunk_codec_parse(json_string_value(cj), &cc) < 0)
                return pf_err(err, errlen, "manifest: table %s.%s chunk %zu: unknown codec (this build reads none, zstd, zstd+columns)",
                              t->schema, who, i);
            c->codec = (int)cc;
        }
        json_t *sp = json_object_get(co, "start_page");
        if (sp) {
            c->ranged = 1;
            json_t *ep = json_object_get(co, "end_page");
            if (gu64(co, "start_page", &c->start_page) < 0 ||
                (json_is_null(ep) ? (c->end_page = UINT64_MAX, 0) : gu64(co, "end_page", &c->end_page)) < 0)
                return pf_err(err, errlen, "manifest: table %s.%s chunk %zu: bad range", t->schema, who, i);
        }
        if (!c->file || strstr(c->file, "..") || c->file[0] == '/' || gu64(co, "rows", &c->rows) ||
            gu64(co, "raw_bytes", &c->raw_bytes) || gu64(co, "stored_bytes", &c->stored_bytes) ||
            ghash(co, "raw_hash", &c->raw_hash) || ghash(co, "stored_hash", &c->stored_hash) ||
            growhash(co, "content_hash", &c->content))
            return pf_err(err, errlen, "manifest: table %s.%s chunk %zu: bad entry", t->schema, who, i);
    }
    return 0;
}

int manifest_init_encryption(manifest *m, const char *passphrase, char *err, size_t errlen)
{
    if (keyring_create(&m->keys, m->dump_id, passphrase, err, errlen) < 0)
        return -1;
    m->encrypted = 1;
    return 0;
}

static void protect16(const manifest *m, uint8_t b[16])
{
    if (m->encrypted)
        keyring_protect16(&m->keys, b);
}

void manifest_protect_chunk_hash(const manifest *m, chunk_hash *h)
{
    protect16(m, h->b);
}

void manifest_protect_rowhash(const manifest *m, rowhash *h)
{
    if (!m->encrypted)
        return;
    uint8_t b[16];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(h->hi >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(h->lo >> (56 - 8 * i));
    }
    protect16(m, b);
    h->hi = h->lo = 0;
    for (int i = 0; i < 8; i++) {
        h->hi = h->hi << 8 | b[i];
        h->lo = h->lo << 8 | b[8 + i];
    }
}

int manifest_chunk_hash_matches(const manifest *m, const chunk_hash *computed, const chunk_hash *stored)
{
    chunk_hash h = *computed;
    manifest_protect_chunk_hash(m, &h);
    return chunk_hash_equal(&h, stored);
}

int manifest_rowhash_matches(const manifest *m, const rowhash *computed, const rowhash *stored)
{
    rowhash h = *computed;
    manifest_protect_rowhash(m, &h);
    return rowhash_equal(&h, stored);
}

void manifest_file_aad(const manifest *m, const char *file, char *out, size_t outlen)
{
    snprintf(out, outlen, "pgferry-file|%s|%s", m->dump_id ? m->dump_id : "", file);
}

/* Where the checksum line starts and what it says; 0 or -1 with err. */
static int find_checksum(const char *text, size_t len, const char **line_out, char want[65], char *err,
                         size_t errlen)
{
    /* The checksum line is the last member; find it from the end so a manifest that
     * merely mentions the key inside a name cannot fool us. */
    const char *key = NULL;
    for (size_t i = len; i-- > 0;) {
        if (i + strlen(CHECKSUM_KEY) <= len && memcmp(text + i, CHECKSUM_KEY, strlen(CHECKSUM_KEY)) == 0) {
            key = text + i;
            break;
        }
    }
    if (!key)
        return pf_err(err, errlen, "manifest is truncated or damaged: no checksum line");
    const char *line = key;
    while (line > text && line[-1] == ' ')
        line--;
    const char *hex = key + strlen(CHECKSUM_KEY);
    if ((size_t)(text + len - hex) < 64 + 4 || memcmp(hex + 64, "\"\n}\n", 4) != 0 ||
        (size_t)(hex + 64 + 4 - text) != len)
        return pf_err(err, errlen, "manifest is truncated or damaged: bad checksum line");
    memcpy(want, hex, 64);
    want[64] = '\0';
    *line_out = line;
    return 0;
}

int manifest_parse(const char *text, size_t len, manifest *m, char *err, size_t errlen)
{
    return manifest_parse_key(text, len, NULL, m, err, errlen);
}

static int parse_any(const char *text, size_t len, const char *passphrase, int unverified_ok, manifest *m,
                     char *err, size_t errlen);

int manifest_parse_key(const char *text, size_t len, const char *passphrase, manifest *m, char *err,
                       size_t errlen)
{
    return parse_any(text, len, passphrase, 0, m, err, errlen);
}

/* An encrypted manifest (text's body_len bytes before its closing line): its key ring
 * loaded and opened with passphrase, the closing HMAC (want) checked. Without a
 * passphrase, when unverified_ok, it is marked unverified instead. */
static int open_encrypted(const char *text, size_t len, size_t body_len, const char *want, const char *passphrase,
                          int unverified_ok, manifest *m, char *err, size_t errlen)
{
    json_error_t perr;
    json_t *probe = json_loadb(text, len, 0, &perr);
    json_t *e = probe ? json_object_get(probe, "encryption") : NULL, *id = json_object_get(probe, "dump_id");
    int rc = 0;
    if (!json_is_object(e))
        rc = pf_err(err, errlen, "manifest checksum mismatch: the manifest was edited or damaged");
    else if (!passphrase && !unverified_ok)
        rc = pf_err(err, errlen,
                    "this dump is encrypted: give its passphrase with --passphrase-file FILE or PGFERRY_PASSPHRASE");
    else if (!json_is_string(id))
        rc = pf_err(err, errlen, "manifest: damaged encryption parameters");
    else
        rc = keyring_load(&m->keys, e, err, errlen);
    if (rc == 0) {
        m->encrypted = 1;
        m->unverified = !passphrase; /* read for showing only: nothing in it is trusted */
        if (passphrase)
            rc = keyring_open(&m->keys, json_string_value(id), passphrase, err, errlen);
    }
    if (rc == 0 && m->keys.have_keys) {
        char got[65];
        keyring_mac_hex(&m->keys, text, body_len, got);
        if (strcmp(want, got) != 0)
            rc = pf_err(err, errlen, "manifest authentication failed: the manifest was edited or damaged");
    }
    json_decref(probe);
    if (rc < 0)
        keyring_forget(&m->keys);
    return rc;
}

/* Checks the manifest's closing line: a SHA-256 of all before it (a plain dump), or an
 * HMAC only its passphrase can check (an encrypted one: the parameters to derive the key
 * come first). Leaves m holding nothing but the key ring and the checksum. */
static int authenticate(const char *text, size_t len, const char *passphrase, int unverified_ok, manifest *m,
                        char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    const char *line = NULL;
    char want[65], got[65];
    if (find_checksum(text, len, &line, want, err, errlen) < 0)
        return -1;
    sha256_hex(text, (size_t)(line - text), got);
    if (strcmp(want, got) != 0) {
        if (open_encrypted(text, len, (size_t)(line - text), want, passphrase, unverified_ok, m, err, errlen) < 0) {
            memset(m, 0, sizeof *m);
            return -1;
        }
    } else if (passphrase) {
        return pf_err(err, errlen, "a passphrase was given but this dump is not encrypted");
    }
    memcpy(m->checksum, want, sizeof m->checksum);
    return 0;
}

/* Version, source, snapshot, options, the schema archive and the globals. */
static int parse_header(json_t *o, manifest *m, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, "pgferry_manifest_version");
    if (!json_is_integer(v)) {
        pf_err(err, errlen, "manifest: not a pgferry manifest");
        return -1;
    }
    m->format_version = (int)json_integer_value(v);
    if (m->format_version < 1 || m->format_version > MANIFEST_FORMAT_VERSION) {
        pf_err(err, errlen, "manifest: format version %d is not supported (this pgferry reads 1 to %d)",
               m->format_version, MANIFEST_FORMAT_VERSION);
        return -1;
    }
    m->tool_version = gstr(o, "tool_version");
    json_t *src = json_object_get(o, "source");
    m->host = gstr(src, "host");
    m->port = gstr(src, "port");
    m->database = gstr(src, "database");
    m->server_version = gstr(src, "server_version");
    m->server_version_num = (int)json_integer_value(json_object_get(src, "server_version_num"));
    json_t *snap = json_object_get(o, "snapshot");
    m->snapshot_id = gstr(snap, "id");
    m->snapshot_lsn = gstr(snap, "lsn");
    m->snapshot_time = gstr(snap, "time");
    m->started_at = gstr(o, "started_at");
    m->finished_at = gstr(o, "finished_at");
    m->tag = gstr(o, "tag");
    m->profile = gstr(o, "profile");
    m->dump_id = gstr(o, "dump_id");
    if (m->encrypted != json_is_object(json_object_get(o, "encryption"))) {
        /* an HMAC'd manifest that says it is plain, or the reverse: forged */
        pf_err(err, errlen, "manifest authentication failed: encryption settings do not match");
        return -1;
    }
    m->keep_forever = json_is_true(json_object_get(o, "keep_forever"));
    json_t *opt = json_object_get(o, "options");
    m->compression = gstr(opt, "compression");
    m->compression_level = (int)json_integer_value(json_object_get(opt, "compression_level"));
    m->format = gstr(opt, "format");
    gu64(opt, "chunk_size", &m->chunk_size);
    m->jobs = (int)json_integer_value(json_object_get(opt, "jobs"));
    json_t *schema = json_object_get(o, "schema");
    m->schema_file = gstr(schema, "file");
    if (!m->schema_file || strstr(m->schema_file, "..") || m->schema_file[0] == '/' ||
        gu64(schema, "bytes", &m->schema_bytes) < 0 || ghash(schema, "hash", &m->schema_hash) < 0) {
        pf_err(err, errlen, "manifest: bad schema entry");
        return -1;
    }
    json_t *gl = json_object_get(o, "globals");
    if (json_is_object(gl)) {
        m->globals_file = gstr(gl, "file");
        if (!m->globals_file || strstr(m->globals_file, "..") || m->globals_file[0] == '/' ||
            gu64(gl, "bytes", &m->globals_bytes) < 0 || ghash(gl, "hash", &m->globals_hash) < 0) {
            pf_err(err, errlen, "manifest: bad globals entry");
            return -1;
        }
    }
    return 0;
}

/* Tables, tables without data, unpopulated materialized views, extensions, sequences,
 * large objects. */
/* An array of named entries: keys k[0..2] (NULL: none) into schema, name and reason;
 * those whose bit is in need must be there. */
static int parse_named(json_t *arr, const char *const k[3], int need, const char *what, manifest_nodata **out,
                       size_t *n, char *err, size_t errlen)
{
    *n = json_array_size(arr);
    if (!(*out = calloc(*n + 1, sizeof **out)))
        return pf_err(err, errlen, "out of memory");
    for (size_t i = 0; i < *n; i++) {
        json_t *e = json_array_get(arr, i);
        manifest_nodata *d = &(*out)[i];
        char **f[3] = {&d->schema, &d->name, &d->reason};
        for (int j = 0; j < 3; j++) {
            *f[j] = k[j] ? gstr(e, k[j]) : NULL;
            if ((need >> j & 1) && !*f[j])
                return pf_err(err, errlen, "manifest: bad %s entry %zu", what, i);
        }
    }
    return 0;
}

static int parse_sequences(json_t *seqs, manifest *m, char *err, size_t errlen)
{
    m->nseqs = json_array_size(seqs);
    if (!(m->seqs = calloc(m->nseqs + 1, sizeof *m->seqs)))
        return pf_err(err, errlen, "out of memory");
    for (size_t i = 0; i < m->nseqs; i++) {
        json_t *so = json_array_get(seqs, i);
        m->seqs[i].schema = gstr(so, "schema");
        m->seqs[i].name = gstr(so, "name");
        json_t *lv = json_object_get(so, "last_value");
        if (!m->seqs[i].schema || !m->seqs[i].name || !json_is_integer(lv))
            return pf_err(err, errlen, "manifest: bad sequence entry %zu", i);
        m->seqs[i].last_value = json_integer_value(lv);
        m->seqs[i].is_called = json_is_true(json_object_get(so, "is_called"));
    }
    return 0;
}

static int parse_lists(json_t *o, manifest *m, char *err, size_t errlen)
{
    json_t *tables = json_object_get(o, "tables");
    if (!json_is_array(tables))
        return pf_err(err, errlen, "manifest: tables missing");
    m->ntables = json_array_size(tables);
    if (!(m->tables = calloc(m->ntables + 1, sizeof *m->tables)))
        return pf_err(err, errlen, "out of memory");
    for (size_t i = 0; i < m->ntables; i++)
        if (parse_table(json_array_get(tables, i), &m->tables[i], err, errlen) < 0)
            return -1;
    json_t *nodata = json_object_get(o, "tables_without_data");
    if (m->format_version >= 2 && !json_is_array(nodata))
        return pf_err(err, errlen, "manifest: tables_without_data missing");
    m->nodata_recorded = json_is_array(nodata);
    static const char *const knodata[3] = {"schema", "name", "reason"}, *const kunpop[3] = {"schema", "name", NULL},
                             *const kext[3] = {NULL, "name", "owner"};
    if (parse_named(nodata, knodata, 7, "tables_without_data", &m->nodata, &m->nnodata, err, errlen) < 0 ||
        parse_named(json_object_get(o, "unpopulated_matviews"), kunpop, 3, "unpopulated_matviews", &m->unpopulated,
                    &m->nunpopulated, err, errlen) < 0 ||
        parse_named(json_object_get(o, "extensions"), kext, 2, "extensions", &m->extensions, &m->nextensions, err,
                    errlen) < 0 ||
        parse_sequences(json_object_get(o, "sequences"), m, err, errlen) < 0)
        return -1;
    json_t *lo = json_object_get(o, "large_objects");
    if (json_is_object(lo)) {
        m->has_large_objects = 1;
        if (parse_table(lo, &m->large_objects, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int parse_any(const char *text, size_t len, const char *passphrase, int unverified_ok, manifest *m,
                     char *err, size_t errlen)
{
    if (authenticate(text, len, passphrase, unverified_ok, m, err, errlen) < 0)
        return -1;
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    if (!o)
        return pf_err(err, errlen, "manifest: invalid JSON at line %d: %s", jerr.line, jerr.text);
    int rc = parse_header(o, m, err, errlen) < 0 || parse_lists(o, m, err, errlen) < 0 ? -1 : 0;
    json_decref(o);
    if (rc < 0) {
        char keep[PF_ERRLEN];
        snprintf(keep, sizeof keep, "%s", err ? err : "");
        manifest_free(m);
        if (err)
            snprintf(err, errlen, "%s", keep);
    }
    return rc;
}

const char *manifest_extension_owner(const manifest *m, const char *name)
{
    for (size_t i = 0; i < m->nextensions; i++)
        if (!strcmp(m->extensions[i].name, name))
            return m->extensions[i].reason;
    return NULL;
}

int manifest_unpopulated(const manifest *m, const char *schema, const char *name)
{
    for (size_t i = 0; i < m->nunpopulated; i++)
        if (!strcmp(m->unpopulated[i].schema, schema) && !strcmp(m->unpopulated[i].name, name))
            return 1;
    return 0;
}

int manifest_read(const pf_store *dir, manifest *m, char *err, size_t errlen)
{
    return manifest_read_key(dir, NULL, m, err, errlen);
}

static int read_any(const pf_store *st, const char *passphrase, int unverified_ok, manifest *m, char *err,
                    size_t errlen);

int manifest_read_key(const pf_store *dir, const char *passphrase, manifest *m, char *err, size_t errlen)
{
    return read_any(dir, passphrase, 0, m, err, errlen);
}

int manifest_read_unverified(const pf_store *dir, const char *passphrase, manifest *m, char *err, size_t errlen)
{
    return read_any(dir, passphrase, 1, m, err, errlen);
}

static int read_any(const pf_store *st, const char *passphrase, int unverified_ok, manifest *m, char *err,
                    size_t errlen)
{
    const char *dir = store_location(st);
    char *text = NULL;
    size_t len = 0;
    char ioerr[PF_ERRLEN];
    store_info info;
    int there = store_stat(st, "", &info, ioerr, sizeof ioerr);
    if (there <= 0) {
        memset(m, 0, sizeof *m);
        if (there == 0)
            return pf_err(err, errlen, "%s does not exist", dir);
        return pf_err(err, errlen, "%s", ioerr);
    }
    if (!info.is_prefix) {
        memset(m, 0, sizeof *m);
        return pf_err(err, errlen, "%s is not a directory (a dump is a directory)", dir);
    }
    if (store_read_all(st, MANIFEST_FILE, &text, &len, ioerr, sizeof ioerr) < 0) {
        memset(m, 0, sizeof *m);
        if (store_stat(st, MANIFEST_FILE, &info, NULL, 0) == 0)
            return pf_err(err, errlen, "%s: no %s: the dump is incomplete (interrupted or failed)",
                          dir, MANIFEST_FILE);
        return pf_err(err, errlen, "%s", ioerr);
    }
    int rc = parse_any(text, len, passphrase, unverified_ok, m, err, errlen);
    free(text);
    return rc;
}

static void free_table(manifest_table *t)
{
    free(t->schema);
    free(t->name);
    free(t->parent_schema);
    free(t->parent_name);
    free(t->format);
    for (size_t i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    free(t->cols);
    for (size_t i = 0; i < t->nchunks; i++)
        free(t->chunks[i].file);
    free(t->chunks);
}

void manifest_free(manifest *m)
{
    free(m->tool_version);
    free(m->server_version);
    free(m->host);
    free(m->port);
    free(m->database);
    free(m->snapshot_id);
    free(m->snapshot_lsn);
    free(m->snapshot_time);
    free(m->started_at);
    free(m->finished_at);
    free(m->tag);
    free(m->profile);
    free(m->dump_id);
    free(m->compression);
    free(m->format);
    free(m->schema_file);
    free(m->globals_file);
    for (size_t i = 0; i < m->ntables; i++)
        free_table(&m->tables[i]);
    free(m->tables);
    for (size_t i = 0; i < m->nseqs; i++) {
        free(m->seqs[i].schema);
        free(m->seqs[i].name);
    }
    free(m->seqs);
    for (size_t i = 0; i < m->nnodata; i++) {
        free(m->nodata[i].schema);
        free(m->nodata[i].name);
        free(m->nodata[i].reason);
    }
    free(m->nodata);
    for (size_t i = 0; i < m->nunpopulated; i++) {
        free(m->unpopulated[i].schema);
        free(m->unpopulated[i].name);
    }
    free(m->unpopulated);
    for (size_t i = 0; i < m->nextensions; i++) {
        free(m->extensions[i].name);
        free(m->extensions[i].reason);
    }
    free(m->extensions);
    if (m->has_large_objects)
        free_table(&m->large_objects);
    memset(m, 0, sizeof *m);
}
