/* pgtools: finding and running PostgreSQL's client programs (pg_dump, pg_restore).
 *
 * pg_dump must be at least the server's major version. Candidates, in order:
 * $PGFERRY_PG_BINDIR, /usr/lib/postgresql/<server major>/bin, `pg_config --bindir`,
 * PATH, then the newest /usr/lib/postgresql/<N>/bin. The first whose --version is new
 * enough wins; when none is, the error names each one tried and its version. */
#ifndef PF_PGTOOLS_H
#define PF_PGTOOLS_H

#include <stddef.h>
#include <sys/types.h>

int pgtools_find(const char *prog, int server_major, char *path, size_t pathlen, char *err,
                 size_t errlen);

/* Starts argv[0] with stdin from /dev/null (or stdin_fd), stdout to /dev/null (or
 * stdout_fd), stderr to `errfile`, and PGPASSWORD set to `password` when not NULL
 * (secrets never go in argv). The fds (-1: none) are the child's ends; the caller closes
 * its copies after the call. */
int pgtools_spawn(char *const argv[], int stdin_fd, int stdout_fd, const char *errfile,
                  const char *password, pid_t *pid, char *err, size_t errlen);

/* Waits for pid; on failure fills err with "<what> failed: <first meaningful line of
 * errfile>" (or its exit status). blocking=0: returns 1 if still running. */
int pgtools_wait(pid_t pid, int blocking, const char *what, const char *errfile, char *err,
                 size_t errlen);

/* Starts pg_dump --format=custom --schema-only --no-sync --snapshot=SNAPSHOT
 * [--lock-wait-timeout=TIMEOUT] --dbname CONNINFO ARGS... (the pg_dump fit for the server's
 * major version; CONNINFO's password goes in the environment, never in argv) with its
 * archive on a pipe: *fd is the read end, for the caller to read and close; stderr goes
 * to errfile. The caller waits for *pid (pgtools_wait). */
int pgtools_schema_dump(const char *conninfo, int server_major, const char *snapshot, const char *lock_wait_timeout,
                        char *const *args, size_t nargs, const char *errfile, pid_t *pid, int *fd, char *err,
                        size_t errlen);

#endif
