/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Thread mode (socketserver's ThreadingMixIn).  Each request slot has a worker
 * thread, started the first time the slot is used and kept for the requests
 * after it, so the steady state creates no threads.  The worker spawns its
 * request's handler itself (spawn.c, which does not copy the address space;
 * spawns in different workers run on different cores), feeds and collects it
 * in datagram mode, and reaps only its own child, with waitpid(pid).  It then
 * hands the request back to the event loop through an eventfd; the loop logs,
 * counts, sends a datagram's reply and frees the slot, as in the other modes.
 *
 * Signals to a handler (--timeout, the end of --grace) come from the event loop
 * under the pool's lock, and a worker reaps under the same lock after waiting
 * without reaping (WNOWAIT): a pid is never signalled once it has been reaped,
 * so a signal cannot reach a process that was given a recycled pid.
 */
#include "axes.h"
#include "handback.h"
#include "log.h"
#include "request.h"
#include "spawn.h"
#include "view.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A worker only waits, spawns and copies through small buffers. */
#define WORKER_STACK (256 * 1024)

/* A slot's state in thread mode. */
struct worker {
	pthread_t thread;
	sem_t go;             /* posted when the slot has a request, or to quit */
	bool quit;
	int error;            /* the handler could not run: an errno value */
	/* under the pool's lock: */
	bool reaped;          /* the handler's pid has been reaped */
	int pending_signal;   /* asked for before the handler ran */
	struct view *v;
	struct request *req;
	struct handback_node back;
};

struct pool {
	pthread_mutex_t lock;  /* pids and reaping */
	pthread_attr_t attr;
	struct handback back;  /* finished requests */
};

static unsigned thread_limit(const struct ss_config *cfg)
{
	return (unsigned)cfg->max_children;
}

static struct pool *pool_of(const struct view *v)
{
	return v->mode_ctx;
}

static int serve(struct view *v, struct request *req);

/* A slot's thread: one request after another, until told to quit. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *pool = pool_of(w->v);

	pthread_setname_np(pthread_self(), "ss-worker");
	for (;;) {
		while (sem_wait(&w->go) < 0 && errno == EINTR)
			;
		if (w->quit)
			return NULL;
		w->error = serve(w->v, w->req);
		handback_push(&pool->back, &w->back);
	}
}

/* The handler runs as pid: publish it to the event loop, send a signal asked
 * for meanwhile, and log the start. */
static void worker_spawned(struct view *v, struct request *req, pid_t pid)
{
	struct worker *w = req->mode_ctx;

	pthread_mutex_lock(&pool_of(v)->lock);
	req->pid = pid;
	if (w->pending_signal != 0)
		kill(-pid, w->pending_signal);
	pthread_mutex_unlock(&pool_of(v)->lock);
	request_log_start(v, req);
}

/* Wait for pid to exit and reap it, never anyone else's child. */
static void worker_reap(struct view *v, struct request *req, pid_t pid)
{
	siginfo_t info;

	/* Wait for the exit but leave the zombie: until it is reaped below,
	 * under the lock, the pid cannot be reused. */
	while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&pool_of(v)->lock);
	while (waitpid(pid, &req->wstatus, 0) < 0 && errno == EINTR)
		;
	((struct worker *)req->mode_ctx)->reaped = true;
	pthread_mutex_unlock(&pool_of(v)->lock);
}

/* One request, in its worker: 0 once the handler has run and been reaped
 * (its status in req->wstatus), or an errno value if it could not run. */
static int serve(struct view *v, struct request *req)
{
	pid_t pid;
	int64_t t0 = now_us();
	int rc = v->handler->spawn(v, req, NULL, &pid);

	req->spawn_us = now_us() - t0;

	if (rc != 0)
		return rc;
	worker_spawned(v, req, pid);
	if (v->handler->pump != NULL)
		v->handler->pump(v, req, pid);
	worker_reap(v, req, pid);
	return 0;
}

static pid_t thread_signal(struct view *v, struct request *req, int sig)
{
	struct worker *w = req->mode_ctx;
	pid_t pid;

	pthread_mutex_lock(&pool_of(v)->lock);
	pid = req->pid;
	if (pid > 0 && !w->reaped)
		kill(-pid, sig);
	else if (pid == 0 && (w->pending_signal == 0 || sig == SIGKILL))
		w->pending_signal = sig; /* sent by worker_spawned */
	pthread_mutex_unlock(&pool_of(v)->lock);
	return pid;
}

/* The event loop's side: finish what the workers hand back, oldest first. */
static void on_done(void *ctx, struct watch *watch, uint32_t events)
{
	struct view *v = ctx;

	(void)events;
	for (struct handback_node *n = handback_take(watch->data), *next; n != NULL; n = next) {
		struct worker *w = (struct worker *)((char *)n - offsetof(struct worker, back));
		next = n->next;
		if (w->error != 0)
			request_not_started(v, w->req, w->error);
		else
			request_end(v, w->req, w->req->wstatus);
	}
}

/* The slot's worker, started on the slot's first request. */
static struct worker *worker_for(struct view *v, struct request *req)
{
	struct worker *w = req->mode_ctx;
	int rc;

	if (w != NULL)
		return w;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->v = v;
	w->req = req;
	if (sem_init(&w->go, 0, 0) < 0) {
		free(w);
		return NULL;
	}
	rc = pthread_create(&w->thread, &pool_of(v)->attr, worker_main, w);
	if (rc != 0) {
		sem_destroy(&w->go);
		free(w);
		errno = rc;
		return NULL;
	}
	req->mode_ctx = w;
	return w;
}

static void thread_dispatch(struct view *v, struct request *req)
{
	struct worker *w = worker_for(v, req);

	if (w == NULL) {
		request_not_started(v, req, errno);
		return;
	}
	w->reaped = false;
	w->pending_signal = 0;
	request_track(v, req);
	sem_post(&w->go);
}

static int thread_open(struct view *v, struct ss_error *err)
{
	struct pool *pool = calloc(1, sizeof(*pool));
	size_t stack = WORKER_STACK < PTHREAD_STACK_MIN ? PTHREAD_STACK_MIN : WORKER_STACK;

	if (pool == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return -1;
	}
	v->mode_ctx = pool;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_attr_init(&pool->attr);
	pthread_attr_setstacksize(&pool->attr, stack);
	if (handback_open(&pool->back, v->loop, on_done, &pool->back) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot set up thread mode: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Stop every worker.  After a normal run they are all idle; after a failed
 * one, their handlers are killed first so that they come back. */
static void thread_close(struct view *v)
{
	struct pool *pool = pool_of(v);

	if (pool == NULL)
		return;
	requests_signal(v, SIGKILL);
	for (unsigned i = 0; i < requests_made(v); i++) {
		struct worker *w = requests_at(v, i)->mode_ctx;
		if (w == NULL)
			continue;
		w->quit = true;
		sem_post(&w->go);
		pthread_join(w->thread, NULL);
		sem_destroy(&w->go);
		free(w);
		requests_at(v, i)->mode_ctx = NULL;
	}
	handback_close(&pool->back);
	pthread_mutex_destroy(&pool->lock);
	pthread_attr_destroy(&pool->attr);
	free(pool);
	v->mode_ctx = NULL;
}

const struct mode mode_thread = {
	.name = "thread",
	.limit = thread_limit,
	.open = thread_open,
	.dispatch = thread_dispatch,
	.children = NULL,
	.signal = thread_signal,
	.close = thread_close,
};
