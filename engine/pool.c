#include "engine/pool.h"

#include "common/pf_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pool *p;
    int id;
    pthread_t thread;
    int started;
} pool_worker;

struct pool {
    const pool_ops *ops;
    void *ctx;
    pthread_mutex_t mu;
    int failed, running, n;
    char first_err[PF_ERRLEN];
    pool_worker *w;
};

void pool_fail(pool *p, const char *msg)
{
    pthread_mutex_lock(&p->mu);
    int first = !p->failed;
    if (first) {
        p->failed = 1;
        snprintf(p->first_err, sizeof p->first_err, "%s", msg);
    }
    pthread_mutex_unlock(&p->mu);
    if (first && p->ops->stop)
        p->ops->stop(p->ctx, msg);
}

int pool_failed(pool *p)
{
    pthread_mutex_lock(&p->mu);
    int f = p->failed;
    pthread_mutex_unlock(&p->mu);
    return f;
}

int pool_running(pool *p)
{
    pthread_mutex_lock(&p->mu);
    int r = p->running;
    pthread_mutex_unlock(&p->mu);
    return r;
}

int pool_size(const pool *p)
{
    return p->n;
}

static void *pool_main(void *arg)
{
    pool_worker *w = arg;
    pool *p = w->p;
    char err[PF_ERRLEN] = "out of memory";
    void *ws = p->ops->worker_new(p->ctx, w->id, err, sizeof err);
    if (!ws)
        pool_fail(p, err);
    void *job;
    while (ws && !pool_failed(p) && p->ops->next(p->ctx, ws, &job) == 1) {
        if (p->ops->run(p->ctx, ws, job, err, sizeof err) < 0) {
            pool_fail(p, err);
            break;
        }
    }
    if (ws)
        p->ops->worker_free(p->ctx, ws);
    pthread_mutex_lock(&p->mu);
    p->running--;
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

pool *pool_start(int n, const pool_ops *ops, void *ctx, char *err, size_t errlen)
{
    if (n < 1)
        n = 1;
    pool *p = calloc(1, sizeof *p);
    if (!p || !(p->w = calloc((size_t)n, sizeof *p->w))) {
        free(p);
        pf_err(err, errlen, "out of memory");
        return NULL;
    }
    p->ops = ops;
    p->ctx = ctx;
    p->n = n;
    pthread_mutex_init(&p->mu, NULL);
    for (int i = 0; i < n; i++) {
        p->w[i].p = p;
        p->w[i].id = i + 1;
        pthread_mutex_lock(&p->mu);
        p->running++;
        pthread_mutex_unlock(&p->mu);
        if (pthread_create(&p->w[i].thread, NULL, pool_main, &p->w[i]) != 0) {
            pthread_mutex_lock(&p->mu);
            p->running--;
            pthread_mutex_unlock(&p->mu);
            if (i == 0) {
                pthread_mutex_destroy(&p->mu);
                free(p->w);
                free(p);
                pf_err(err, errlen, "cannot start worker thread");
                return NULL;
            }
            pool_fail(p, "cannot start worker thread");
            break;
        }
        p->w[i].started = 1;
    }
    return p;
}

int pool_join(pool *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->n; i++)
        if (p->w[i].started)
            pthread_join(p->w[i].thread, NULL);
    int rc = p->failed ? pf_err(err, errlen, "%s", p->first_err) : 0;
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p);
    return rc;
}
