/* sched: the restore's job scheduler, pure (no threads, no I/O, no clock), so its decisions
 * can be unit-tested step by step.
 *
 * A job is a unit of work the caller defines (load a table's chunks, build an index, add a
 * foreign key, ANALYZE...). The scheduler knows of each job only:
 *   - its class: jobs of a lower class are picked first (restore: schema entries before
 *     loads, so index builds overlap other tables' loads and constraints are not starved);
 *   - its weight: the work it is estimated to be (any unit, the same for every job). Within
 *     a class the ready job with the largest rank runs first, its rank being its weight
 *     plus the largest rank among the jobs that wait for it: the longest chain of work
 *     from it to the end (critical-path list scheduling), so the restore does not end on
 *     one long table, nor on a long job that could have started earlier;
 *   - what it must wait for (sched_after): jobs that must have finished;
 *   - the resources it locks and how: SHARED jobs (CREATE INDEX) may run together on a
 *     resource, an EXCLUSIVE job (ALTER TABLE, ANALYZE) runs alone on each of its resources,
 *     so that two jobs locking two tables in opposite orders can never deadlock on the
 *     server.
 * Milestones are jobs with no work: they finish by themselves as soon as what they wait for
 * has finished ("all chunks of table T are in"), which keeps the graph small: N loads and
 * M indexes of one table are N + M edges through a milestone, not N * M.
 *
 * Usage: sched_new, sched_add / sched_add_milestone, sched_lock, sched_after (and
 * sched_mark_done for work a resumed run finds done), sched_start; then, under the caller's
 * lock, sched_next to pick, sched_finish when a job finished, sched_retry when an attempt
 * failed and will be tried again. Errors are -1 (out of memory, a job waiting for itself
 * through a cycle, misuse). */
#ifndef PF_SCHED_H
#define PF_SCHED_H

#include <stddef.h>
#include <stdint.h>

typedef struct sched sched;

enum { SCHED_LOCK_NONE = 0, SCHED_LOCK_SHARED, SCHED_LOCK_EXCLUSIVE };

sched *sched_new(size_t nresources);
void sched_free(sched *s);

/* A job; returns its id (0, 1, 2... in order of creation) or -1. lockmode: how it holds
 * every resource given to sched_lock for it. */
long sched_add(sched *s, int class_, uint64_t weight, int lockmode);
long sched_add_milestone(sched *s);
int sched_lock(sched *s, size_t job, size_t resource);
/* Sets a job's weight after sched_add (when it is known only later). */
int sched_set_weight(sched *s, size_t job, uint64_t weight);
/* job waits until before has finished. */
int sched_after(sched *s, size_t job, size_t before);
/* job was done by an earlier run: it counts as finished from the start. */
void sched_mark_done(sched *s, size_t job);

/* Ends the building phase: finds what is ready. -1 when a cycle keeps some job waiting
 * forever (*stuck, when not NULL, gets one job of it). */
int sched_start(sched *s, size_t *stuck);

/* The job to run next, now marked running and holding its locks; -1 when none can start
 * now (all running, waiting, or blocked by locks) or none is left. */
long sched_next(sched *s);
/* A running job finished: its locks are released and what waited for it may become ready.
 * Milestones that become ready finish at once. */
void sched_finish(sched *s, size_t job);
/* A running job's attempt failed and it will be tried again: back to ready, locks released. */
void sched_retry(sched *s, size_t job);

size_t sched_jobs(const sched *s);      /* jobs added (milestones included) */
size_t sched_left(const sched *s);      /* jobs not finished (milestones excluded) */
size_t sched_running(const sched *s);
size_t sched_ready(const sched *s);     /* jobs that could start (some maybe blocked by locks) */
int sched_is_done(const sched *s, size_t job);

#endif
