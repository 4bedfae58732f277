/* pf_util: small helpers shared by every module (error buffers, sizes, hex).
 *
 * Error convention used across pgferry: a function returns 0 on success and -1 on
 * failure, and on failure fills the caller's buffer `err` (of `errlen` bytes) with one
 * line that names the thing that is wrong (file, table, chunk, option). */
#ifndef PF_UTIL_H
#define PF_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define PF_ERRLEN 512

/* A line for the user (a warning, what a command decided) from engine code, which never
 * writes to stderr itself: the CLI passes a function that prints it. */
typedef void (*pf_notice_fn)(void *ctx, const char *line);
/* Formats the line and hands it to fn (nothing when fn is NULL). */
void pf_notice(pf_notice_fn fn, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One finished unit of an engine's work, for a caller that logs each (pgferry -v): its
 * kind ("chunk", "load", "index", "constraint", "analyze", "pre-data", ...), its name, and
 * what it took and moved. Strings are valid only during the call; the call may come from
 * any worker thread, several at once. */
typedef struct {
    const char *kind, *name;
    double seconds;
    uint64_t rows, bytes;
} pf_job;
typedef void (*pf_job_fn)(void *ctx, const pf_job *j);

/* Formats into err (if not NULL) and returns -1, so callers can `return pf_err(...)`. */
int pf_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses a size as PostgreSQL settings spell it: "123", "64kB", "64MB", "1GB", "2TB"
 * (units are 1024-based, case-insensitive, optional space). Returns 0 or -1. */
int pf_parse_size(const char *s, uint64_t *out);

/* Formats bytes for people: "12.3 MB". buf needs 32 bytes. */
const char *pf_fmt_bytes(uint64_t n, char *buf, size_t buflen);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void pf_hex(const uint8_t *in, size_t len, char *out);
/* Parses exactly 2*len hex digits. Returns 0 or -1. */
int pf_unhex(const char *in, uint8_t *out, size_t len);

/* Monotonic clock in seconds. */
double pf_now(void);

/* Little-endian load/store, used by every on-disk format. */
static inline void pf_put_le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void pf_put_le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void pf_put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline uint64_t pf_get_le64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static inline uint32_t pf_get_le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint16_t pf_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

#endif
