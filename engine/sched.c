#include "engine/sched.h"

#include <stdlib.h>
#include <string.h>

enum { WAITING = 0, READY, RUNNING, DONE };

typedef struct {
    int cls, lockmode, milestone, state;
    uint64_t weight;
    uint64_t rank;            /* weight + the heaviest chain of jobs waiting on it */
    uint64_t seq;             /* when it became ready: first come, first served among equals */
    size_t waiting;           /* unfinished jobs it waits for */
    size_t *dependents, ndependents, capdependents;
    size_t *res, nres, capres;
} sjob;

struct sched {
    sjob *jobs;
    size_t n, cap;
    size_t nresources;
    unsigned *excl, *shared;  /* running jobs holding each resource, by mode */
    size_t *heap, nheap;      /* ready jobs, best first */
    uint64_t seq;
    size_t left, running;
    int started;
};

static int push(size_t **arr, size_t *n, size_t *cap, size_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 4;
        size_t *a = realloc(*arr, c * sizeof *a);
        if (!a)
            return -1;
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

sched *sched_new(size_t nresources)
{
    sched *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->nresources = nresources;
    s->excl = calloc(nresources + 1, sizeof *s->excl);
    s->shared = calloc(nresources + 1, sizeof *s->shared);
    if (!s->excl || !s->shared) {
        sched_free(s);
        return NULL;
    }
    return s;
}

void sched_free(sched *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->jobs[i].dependents);
        free(s->jobs[i].res);
    }
    free(s->jobs);
    free(s->excl);
    free(s->shared);
    free(s->heap);
    free(s);
}

static long add(sched *s, int cls, uint64_t weight, int lockmode, int milestone)
{
    if (s->started)
        return -1;
    if (s->n == s->cap) {
        size_t c = s->cap ? 2 * s->cap : 64;
        sjob *j = realloc(s->jobs, c * sizeof *j);
        if (!j)
            return -1;
        s->jobs = j;
        s->cap = c;
    }
    sjob *j = &s->jobs[s->n];
    memset(j, 0, sizeof *j);
    j->cls = cls;
    j->weight = weight;
    j->lockmode = lockmode;
    j->milestone = milestone;
    return (long)s->n++;
}

long sched_add(sched *s, int cls, uint64_t weight, int lockmode)
{
    return add(s, cls, weight, lockmode, 0);
}

long sched_add_milestone(sched *s)
{
    return add(s, 0, 0, SCHED_LOCK_NONE, 1);
}

int sched_lock(sched *s, size_t job, size_t resource)
{
    if (job >= s->n || resource >= s->nresources || s->started)
        return -1;
    sjob *j = &s->jobs[job];
    for (size_t i = 0; i < j->nres; i++)
        if (j->res[i] == resource)
            return 0;
    return push(&j->res, &j->nres, &j->capres, resource);
}

int sched_set_weight(sched *s, size_t job, uint64_t weight)
{
    if (job >= s->n || s->started)
        return -1;
    s->jobs[job].weight = weight;
    return 0;
}

int sched_after(sched *s, size_t job, size_t before)
{
    if (job >= s->n || before >= s->n || s->started)
        return -1;
    return push(&s->jobs[before].dependents, &s->jobs[before].ndependents, &s->jobs[before].capdependents, job);
}

void sched_mark_done(sched *s, size_t job)
{
    if (job < s->n && !s->started)
        s->jobs[job].state = DONE;
}

/* ---- ready heap: class ascending, then rank descending, then first ready first ---- */

static int better(const sched *s, size_t a, size_t b)
{
    const sjob *x = &s->jobs[a], *y = &s->jobs[b];
    if (x->cls != y->cls)
        return x->cls < y->cls;
    if (x->rank != y->rank)
        return x->rank > y->rank;
    return x->seq < y->seq;
}

static void heap_push(sched *s, size_t job)
{
    size_t i = s->nheap++;
    s->heap[i] = job;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!better(s, s->heap[i], s->heap[p]))
            break;
        size_t t = s->heap[i];
        s->heap[i] = s->heap[p];
        s->heap[p] = t;
        i = p;
    }
}

static size_t heap_pop(sched *s)
{
    size_t top = s->heap[0];
    s->heap[0] = s->heap[--s->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && better(s, s->heap[l], s->heap[m]))
            m = l;
        if (r < s->nheap && better(s, s->heap[r], s->heap[m]))
            m = r;
        if (m == i)
            break;
        size_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

static void finish(sched *s, size_t job);

static void make_ready(sched *s, size_t job)
{
    sjob *j = &s->jobs[job];
    if (j->milestone) {
        j->state = RUNNING; /* finish() expects a running job */
        s->running++;
        finish(s, job);
        return;
    }
    j->state = READY;
    j->seq = s->seq++;
    heap_push(s, job);
}

/* Releases what waited for job (recursing through milestones, which chain one or two deep:
 * loads -> "table loaded" -> entries). */
static void finish(sched *s, size_t job)
{
    sjob *j = &s->jobs[job];
    j->state = DONE;
    s->running--;
    if (!j->milestone)
        s->left--;
    for (size_t i = 0; i < j->ndependents; i++) {
        sjob *d = &s->jobs[j->dependents[i]];
        if (d->state == WAITING && --d->waiting == 0)
            make_ready(s, j->dependents[i]);
    }
}

/* Kahn's algorithm on a copy of the waiting counts: queue[] receives the unfinished jobs
 * in topological order (*nq of them). -1 on a cycle (a job that can never start is put
 * in *stuck) or out of memory. */
static int topo_order(const sched *s, size_t *queue, size_t *nq, size_t *stuck)
{
    size_t *count = malloc((s->n + 1) * sizeof *count);
    if (!count)
        return -1;
    size_t qh = 0, qt = 0, todo = 0;
    for (size_t i = 0; i < s->n; i++) {
        count[i] = s->jobs[i].waiting;
        if (s->jobs[i].state != DONE) {
            todo++;
            if (count[i] == 0)
                queue[qt++] = i;
        }
    }
    while (qh < qt) {
        size_t v = queue[qh++];
        for (size_t k = 0; k < s->jobs[v].ndependents; k++) {
            size_t d = s->jobs[v].dependents[k];
            if (s->jobs[d].state != DONE && --count[d] == 0)
                queue[qt++] = d;
        }
    }
    *nq = qt;
    int rc = qt == todo ? 0 : -1;
    for (size_t i = 0; rc < 0 && stuck && i < s->n; i++)
        if (s->jobs[i].state != DONE && count[i] > 0) {
            *stuck = i;
            break;
        }
    free(count);
    return rc;
}

int sched_start(sched *s, size_t *stuck)
{
    if (s->started)
        return -1;
    s->heap = malloc((s->n + 1) * sizeof *s->heap);
    if (!s->heap)
        return -1;
    for (size_t i = 0; i < s->n; i++) {
        sjob *j = &s->jobs[i];
        if (j->state == DONE)
            continue;
        if (!j->milestone)
            s->left++;
        /* only unfinished jobs hold their dependents back */
        for (size_t k = 0; k < j->ndependents; k++)
            s->jobs[j->dependents[k]].waiting++;
    }
    s->started = 1;
    size_t *queue = malloc((s->n + 1) * sizeof *queue), nq = 0;
    if (!queue || topo_order(s, queue, &nq, stuck) < 0) {
        free(queue);
        return -1;
    }
    /* ranks, in reverse topological order: a job's weight plus the largest rank among the
     * jobs waiting for it (the longest path from it to the end) */
    for (size_t q = nq; q-- > 0;) {
        sjob *j = &s->jobs[queue[q]];
        uint64_t most = 0;
        for (size_t k = 0; k < j->ndependents; k++) {
            const sjob *d = &s->jobs[j->dependents[k]];
            if (d->state != DONE && d->rank > most)
                most = d->rank;
        }
        j->rank = j->weight + most;
    }
    free(queue);
    for (size_t i = 0; i < s->n; i++)
        if (s->jobs[i].state == WAITING && s->jobs[i].waiting == 0)
            make_ready(s, i);
    return 0;
}

static int locks_free(const sched *s, const sjob *j)
{
    for (size_t i = 0; i < j->nres; i++) {
        size_t r = j->res[i];
        if (j->lockmode == SCHED_LOCK_SHARED && s->excl[r])
            return 0;
        if (j->lockmode == SCHED_LOCK_EXCLUSIVE && (s->excl[r] || s->shared[r]))
            return 0;
    }
    return 1;
}

static void hold(sched *s, const sjob *j, int delta)
{
    for (size_t i = 0; i < j->nres; i++) {
        if (j->lockmode == SCHED_LOCK_SHARED)
            s->shared[j->res[i]] += (unsigned)delta;
        else if (j->lockmode == SCHED_LOCK_EXCLUSIVE)
            s->excl[j->res[i]] += (unsigned)delta;
    }
}

long sched_next(sched *s)
{
    if (!s->started || s->nheap == 0)
        return -1;
    /* the best ready job whose locks are free; the ones passed over go back */
    size_t *skipped = NULL, nskipped = 0, capskipped = 0;
    long pick = -1;
    while (s->nheap > 0) {
        size_t job = heap_pop(s);
        if (locks_free(s, &s->jobs[job])) {
            pick = (long)job;
            break;
        }
        if (push(&skipped, &nskipped, &capskipped, job) < 0) {
            heap_push(s, job); /* out of memory: try again later */
            break;
        }
    }
    for (size_t i = 0; i < nskipped; i++)
        heap_push(s, skipped[i]);
    free(skipped);
    if (pick >= 0) {
        sjob *j = &s->jobs[pick];
        j->state = RUNNING;
        hold(s, j, 1);
        s->running++;
    }
    return pick;
}

void sched_finish(sched *s, size_t job)
{
    if (job >= s->n || s->jobs[job].state != RUNNING)
        return;
    hold(s, &s->jobs[job], -1);
    finish(s, job);
}

void sched_retry(sched *s, size_t job)
{
    if (job >= s->n || s->jobs[job].state != RUNNING)
        return;
    sjob *j = &s->jobs[job];
    hold(s, j, -1);
    s->running--;
    j->state = READY;
    heap_push(s, job); /* keeps its place: seq unchanged */
}

size_t sched_jobs(const sched *s) { return s->n; }
size_t sched_left(const sched *s) { return s->left; }
size_t sched_running(const sched *s) { return s->running; }
size_t sched_ready(const sched *s) { return s->nheap; }
int sched_is_done(const sched *s, size_t job) { return job < s->n && s->jobs[job].state == DONE; }
