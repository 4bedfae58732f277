#include "engine/pgtools.h"

#include "common/pf_util.h"
#include "engine/pgconn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Runs `prog --version` and returns its major version, or -1. */
static int tool_major(const char *prog)
{
    int fds[2];
    if (access(prog, X_OK) != 0 || pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)prog, "--version", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    char buf[256];
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    buf[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    /* "pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)" */
    char *p = strstr(buf, ") ");
    if (!p)
        return -1;
    return atoi(p + 2);
}

static int try_candidate(const char *dir, const char *prog, int need, char *path, size_t pathlen,
                         char *tried, size_t triedlen)
{
    char cand[4096];
    snprintf(cand, sizeof cand, "%s/%s", dir, prog);
    if (access(cand, X_OK) != 0)
        return 0;
    int major = tool_major(cand);
    size_t tl = strlen(tried);
    snprintf(tried + tl, triedlen - tl, "%s%s (%d)", tl ? ", " : "", cand, major);
    if (major >= need) {
        snprintf(path, pathlen, "%s", cand);
        return 1;
    }
    return 0;
}

int pgtools_find(const char *prog, int server_major, char *path, size_t pathlen, char *err,
                 size_t errlen)
{
    char tried[2048] = "";
    const char *env = getenv("PGFERRY_PG_BINDIR");
    if (env && *env && try_candidate(env, prog, server_major, path, pathlen, tried, sizeof tried))
        return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "/usr/lib/postgresql/%d/bin", server_major);
    if (try_candidate(dir, prog, server_major, path, pathlen, tried, sizeof tried))
        return 0;
    FILE *pc = popen("pg_config --bindir 2>/dev/null", "r");
    if (pc) {
        if (fgets(dir, sizeof dir, pc)) {
            dir[strcspn(dir, "\n")] = '\0';
            if (*dir && try_candidate(dir, prog, server_major, path, pathlen, tried, sizeof tried)) {
                pclose(pc);
                return 0;
            }
        }
        pclose(pc);
    }
    const char *pathenv = getenv("PATH");
    if (pathenv) {
        char *copy = strdup(pathenv), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
            if (try_candidate(d, prog, server_major, path, pathlen, tried, sizeof tried)) {
                free(copy);
                return 0;
            }
        free(copy);
    }
    int best = -1;
    DIR *dd = opendir("/usr/lib/postgresql");
    if (dd) {
        struct dirent *de;
        while ((de = readdir(dd)))
            if (atoi(de->d_name) > best)
                best = atoi(de->d_name);
        closedir(dd);
    }
    if (best >= server_major) {
        snprintf(dir, sizeof dir, "/usr/lib/postgresql/%d/bin", best);
        if (try_candidate(dir, prog, server_major, path, pathlen, tried, sizeof tried))
            return 0;
    }
    if (*tried)
        return pf_err(err, errlen,
                      "%s %d or later is needed for a PostgreSQL %d server; found only %s: "
                      "install postgresql-client-%d or set PGFERRY_PG_BINDIR",
                      prog, server_major, server_major, tried, server_major);
    return pf_err(err, errlen, "%s not found: install postgresql-client-%d or set PGFERRY_PG_BINDIR",
                  prog, server_major);
}

int pgtools_spawn(char *const argv[], int stdin_fd, int stdout_fd, const char *errfile,
                  const char *password, pid_t *pid, char *err, size_t errlen)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof(char *));
    char *pwvar = NULL;
    if (!envp)
        return pf_err(err, errlen, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!(password && strncmp(environ[i], "PGPASSWORD=", 11) == 0))
            envp[k++] = environ[i];
    if (password) {
        if (asprintf(&pwvar, "PGPASSWORD=%s", password) < 0) {
            free(envp);
            return pf_err(err, errlen, "out of memory");
        }
        envp[k++] = pwvar;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (stdin_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (stdout_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    if (pwvar) {
        explicit_bzero(pwvar, strlen(pwvar));
        free(pwvar);
    }
    if (rc != 0)
        return pf_err(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
    return 0;
}

int pgtools_wait(pid_t pid, int blocking, const char *what, const char *errfile, char *err,
                 size_t errlen)
{
    int st;
    pid_t r;
    do
        r = waitpid(pid, &st, blocking ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 1;
    if (r < 0)
        return pf_err(err, errlen, "%s: wait: %s", what, strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    char line[PF_ERRLEN] = "";
    FILE *f = errfile ? fopen(errfile, "r") : NULL;
    if (f) {
        char buf[PF_ERRLEN];
        while (fgets(buf, sizeof buf, f)) {
            buf[strcspn(buf, "\n")] = '\0';
            /* the first error line says what went wrong; later ones only repeat context */
            if (strstr(buf, "error:") || strstr(buf, "ERROR:") || strstr(buf, "FATAL:")) {
                snprintf(line, sizeof line, "%s", buf);
                break;
            }
            if (!*line)
                snprintf(line, sizeof line, "%s", buf);
        }
        fclose(f);
    }
    if (*line)
        return pf_err(err, errlen, "%s failed: %s", what, line);
    if (WIFSIGNALED(st))
        return pf_err(err, errlen, "%s killed by signal %d", what, WTERMSIG(st));
    return pf_err(err, errlen, "%s failed with exit status %d", what, WEXITSTATUS(st));
}

int pgtools_schema_dump(const char *conninfo, int server_major, const char *snapshot, const char *lock_wait_timeout,
                        char *const *args, size_t nargs, const char *errfile, pid_t *pid, int *fd, char *err,
                        size_t errlen)
{
    char pg_dump[4096], snaparg[128], lockarg[256];
    if (pgtools_find("pg_dump", server_major, pg_dump, sizeof pg_dump, err, errlen) < 0)
        return -1;
    char *conn_nopw = NULL, *password = NULL;
    if (pgconn_split_password(conninfo, &conn_nopw, &password, err, errlen) < 0)
        return -1;
    char **argv = calloc(16 + nargs, sizeof(char *));
    int rc = argv ? 0 : pf_err(err, errlen, "out of memory"), fds[2] = {-1, -1};
    if (argv) {
        size_t a = 0;
        snprintf(snaparg, sizeof snaparg, "--snapshot=%s", snapshot);
        argv[a++] = pg_dump;
        argv[a++] = "--format=custom";
        argv[a++] = "--schema-only";
        argv[a++] = "--no-sync";
        argv[a++] = snaparg;
        if (lock_wait_timeout) {
            snprintf(lockarg, sizeof lockarg, "--lock-wait-timeout=%s", lock_wait_timeout);
            argv[a++] = lockarg;
        }
        argv[a++] = "--dbname";
        argv[a++] = conn_nopw;
        for (size_t i = 0; i < nargs; i++)
            argv[a++] = args[i];
    }
    if (rc == 0 && pipe2(fds, O_CLOEXEC) != 0)
        rc = pf_err(err, errlen, "pipe: %s", strerror(errno));
    if (rc == 0)
        rc = pgtools_spawn(argv, -1, fds[1], errfile, password, pid, err, errlen);
    if (fds[1] >= 0)
        close(fds[1]);
    if (rc == 0)
        *fd = fds[0];
    else if (fds[0] >= 0)
        close(fds[0]);
    free(argv);
    free(conn_nopw);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    return rc;
}
