/* trace: where a restore's time goes, as a Chrome trace-event file (opens in Perfetto,
 * ui.perfetto.dev, or chrome://tracing): one span per job per worker, with its bytes, rows
 * and the server CPU its backend used.
 *
 * Server CPU comes from /proc/<backend pid>/stat (user + system time): read here when the
 * server runs on this machine (a Unix socket or a loopback address, and the pid is a
 * PostgreSQL backend), else read by the server itself with pg_read_file (a Linux server
 * and a superuser or a member of pg_read_server_files, one query per reading); otherwise
 * it is unknown (-1) and left out. (pg_stat_statements has no CPU time, only execution
 * time, which includes waiting.) Thread-safe. */
#ifndef PF_TRACE_H
#define PF_TRACE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct trace trace;

trace *trace_new(void);
void trace_free(trace *t);

/* One span: tid is the worker (0 the coordinating connection), cat its kind ("load",
 * "index", "constraint", "analyze", "pre-data", ...), times from pf_now(). */
void trace_span(trace *t, int tid, const char *cat, const char *name, double start, double end, uint64_t bytes,
                uint64_t rows, double server_cpu);

/* The trace as a Chrome trace-event document {"traceEvents": [...], "displayTimeUnit"}:
 * thread_name metadata, then one "X" event per span (ts and dur in microseconds from the
 * trace's creation; args bytes, rows, server_cpu_ms). NULL when out of memory. */
struct json_t;
struct json_t *trace_json(const trace *t);
/* Writes the trace (JSON, atomically). */
int trace_write(const trace *t, const char *path, char *err, size_t errlen);

enum { TRACE_CPU_NONE = 0, TRACE_CPU_PROC, TRACE_CPU_SQL };
/* How the CPU of c's server backends can be read (probes once; may run one query). */
int trace_cpu_mode(PGconn *c);
/* Reads a connection's backend CPU again and again cheaply: the backend's /proc stat file
 * stays open (found again after a reconnect). Zero-initialise; one per connection user. */
typedef struct {
    int pid, fd;
} trace_cpu;
/* CPU seconds the backend of c has used, or -1 when it cannot be read (mode from
 * trace_cpu_mode on a connection to the same server as the same role). */
double trace_backend_cpu(trace_cpu *tc, PGconn *c, int mode);
void trace_cpu_close(trace_cpu *tc);

#endif
