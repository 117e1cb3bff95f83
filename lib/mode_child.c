/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync and fork modes (socketserver's plain server and ForkingMixIn);
 * thread mode is in mode_thread.c.
 * Each request's handler is a child process that the event loop supervises:
 * spawned when the request arrives, reaped on SIGCHLD.  They differ only in
 * how many may run at once: one, or --max-children.  A slot's state is the
 * memory its child runs on until it execs (spawn.c), kept for the slot.
 *
 * Fork mode can spawn from helper threads (--spawn-threads; by default one
 * for every twelve cores, none on a smaller machine), so that the loop never
 * waits in clone(2) (the kernel's copy of a task and its descriptor table,
 * most of what a request costs the loop) and goes on accepting while the
 * spawns of several requests run on other cores.  The loop alone decides
 * what runs (the slots, so -c; admission, so --max-per-ip and --rate stay
 * exact): it puts the request on the in-progress list and in the helpers'
 * queue; a helper spawns it and hands it back (handback.c); the loop then
 * watches and logs it.  The kernel writes the child's pid into the slot's
 * spawn memory before the child first runs (spawn_child_pid), so a child
 * reaped before its hand-back is still known: its exit waits in the slot.
 * Signals asked for meanwhile (--timeout, the drain's end) are sent at the
 * hand-back.  Sync mode, and fork mode without helpers, spawn from the loop
 * itself.
 */
#include "axes.h"
#include "handback.h"
#include "log.h"
#include "request.h"
#include "spawn.h"
#include "view.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* By default one helper for every HELPER_CORES cores, at most HELPERS_AUTO:
 * one clone takes a few tens of microseconds, so a helper starts tens of
 * thousands of handlers a second, and below a dozen cores the loop keeps
 * up with the machine by itself (the hand-off then costs more than it
 * saves: about 5% of the requests a second on two cores).  At most
 * HELPERS_MAX (--spawn-threads). */
#define HELPER_CORES 12
#define HELPERS_AUTO 4
#define HELPERS_MAX 16
/* A helper only calls clone(2): a small stack. */
#define HELPER_STACK (64 * 1024)

/* A slot's state in sync and fork modes. */
struct child {
	struct spawn_child *memory;   /* what the child runs on until it execs */
	struct request *req;
	/* between the queue and the hand-back (the loop's own fields) */
	bool spawning;
	bool reaped;                  /* reaped before the hand-back: its status */
	int wstatus;
	int pending_signal;
	struct child *inflight_next, *inflight_prev;
	/* the helper's result (written by the helper, read after the hand-back) */
	int rc;
	pid_t pid;
	struct child *next;           /* the queue */
	struct handback_node back;
};

/* The helpers of one server (fork mode's server-wide state). */
struct helpers {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct child *queue, *queue_tail; /* to spawn, oldest first */
	unsigned idle;                /* helpers waiting for work */
	bool quit;
	unsigned count;
	pthread_t threads[HELPERS_MAX];
	struct handback back;         /* spawned */
	struct child inflight;        /* the loop's: sentinel of those queued or spawning */
	struct view *v;
};

static unsigned sync_limit(const struct ss_config *cfg)
{
	(void)cfg;
	return 1;
}

static unsigned fork_limit(const struct ss_config *cfg)
{
	return (unsigned)cfg->max_children;
}

static struct child *child_of(struct request *req)
{
	struct child *c = req->mode_ctx;

	if (c != NULL)
		return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->memory = spawn_child_new();
	if (c->memory == NULL) {
		free(c);
		return NULL;
	}
	c->req = req;
	req->mode_ctx = c;
	return c;
}

/* The handler has been reaped: its end, or (exec failed) the command
 * cannot be run, which is not its exit. */
static void ended(struct view *v, struct request *req, int wstatus)
{
	struct child *c = req->mode_ctx;
	int error = spawn_child_error(c != NULL ? c->memory : NULL);

	if (error != 0)
		request_failed(v, req, error);
	else
		request_end(v, req, wstatus);
}

/* The child is spawned without waiting for its exec (spawn.c), on memory of
 * the slot's own that stays untouched until the child is reaped. */
static void spawn_here(struct view *v, struct request *req)
{
	int64_t t0 = now_us();
	struct child *c = child_of(req);
	int rc = c != NULL ? v->handler->spawn(v, req, c->memory, &req->pid) : ENOMEM;

	req->spawn_us = now_us() - t0;
	if (rc != 0) {
		request_not_started(v, req, rc);
		return;
	}
	if (v->handler->watch != NULL)
		v->handler->watch(v, req);
	request_started(v, req);
}

static void *helper_main(void *arg)
{
	struct helpers *h = arg;

	pthread_setname_np(pthread_self(), "ss-spawn");
	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->quit && h->queue == NULL) {
			h->idle++;
			pthread_cond_wait(&h->work, &h->lock);
			h->idle--;
		}
		if (h->quit)
			break;
		struct child *c = h->queue;
		h->queue = c->next;
		pthread_mutex_unlock(&h->lock);

		int64_t t0 = now_us();
		c->rc = h->v->handler->spawn(h->v, c->req, c->memory, &c->pid);
		c->req->spawn_us = now_us() - t0;
		handback_push(&h->back, &c->back);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void inflight_remove(struct child *c)
{
	c->inflight_prev->inflight_next = c->inflight_next;
	c->inflight_next->inflight_prev = c->inflight_prev;
	c->spawning = false;
}

/* The loop's side of a hand-back. */
static void handed_back(struct view *v, struct child *c)
{
	struct request *req = c->req;

	inflight_remove(c);
	if (c->rc != 0) {
		request_not_started(v, req, c->rc);
		return;
	}
	req->pid = c->pid;
	if (c->reaped) {
		/* it ran and was reaped before the hand-back */
		request_log_start(v, req);
		ended(v, req, c->wstatus);
		return;
	}
	if (c->pending_signal != 0)
		kill(-req->pid, c->pending_signal);
	if (v->handler->watch != NULL)
		v->handler->watch(v, req);
	request_log_start(v, req);
}

static void on_done(void *ctx, struct watch *w, uint32_t events)
{
	struct helpers *h = w->data;

	(void)events;
	for (struct handback_node *n = handback_take(&h->back), *next; n != NULL; n = next) {
		next = n->next;
		handed_back(ctx, (struct child *)((char *)n - offsetof(struct child, back)));
	}
}

static void child_dispatch(struct view *v, struct request *req)
{
	struct helpers *h = v->mode_ctx;

	if (h == NULL || h->count == 0) {
		spawn_here(v, req);
		return;
	}
	struct child *c = child_of(req);
	if (c == NULL) {
		request_not_started(v, req, ENOMEM);
		return;
	}
	c->spawning = true;
	c->reaped = false;
	c->pending_signal = 0;
	c->rc = 0;
	c->pid = 0;
	spawn_child_reset(c->memory);
	c->inflight_next = &h->inflight;
	c->inflight_prev = h->inflight.inflight_prev;
	h->inflight.inflight_prev->inflight_next = c;
	h->inflight.inflight_prev = c;
	/* On the in-progress list from now: counted, timed, drained. */
	request_track(v, req);
	pthread_mutex_lock(&h->lock);
	c->next = NULL;
	if (h->queue == NULL)
		h->queue = c;
	else
		h->queue_tail->next = c;
	h->queue_tail = c;
	if (h->idle > 0)
		pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->lock);
}

/* A child of a request still being handed back: its exit waits there. */
static bool reaped_early(struct view *v, pid_t pid, int wstatus)
{
	struct helpers *h = v->mode_ctx;

	if (h == NULL || h->count == 0)
		return false;
	for (struct child *c = h->inflight.inflight_next; c != &h->inflight; c = c->inflight_next)
		if (spawn_child_pid(c->memory) == pid) {
			c->reaped = true;
			c->wstatus = wstatus;
			return true;
		}
	return false;
}

static void child_reap(struct view *v)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		struct request *req = request_by_pid(v, pid);
		if (req != NULL)
			ended(v, req, wstatus);
		else
			reaped_early(v, pid, wstatus);
	}
}

/* Only the event loop reaps, so a handler on the in-progress list is not
 * reaped yet and its pid cannot have been reused.  One being spawned gets
 * the signal at its hand-back. */
static pid_t child_signal(struct view *v, struct request *req, int sig)
{
	struct child *c = req->mode_ctx;

	(void)v;
	if (c != NULL && c->spawning) {
		if (c->pending_signal == 0 || sig == SIGKILL)
			c->pending_signal = sig;
		return 0;
	}
	if (req->pid > 0)
		kill(-req->pid, sig);
	return req->pid;
}

static void child_slot_close(struct view *v, struct request *req)
{
	struct child *c = req->mode_ctx;

	(void)v;
	if (c != NULL) {
		spawn_child_free(c->memory);
		free(c);
	}
	req->mode_ctx = NULL;
}

/* How many helpers: --spawn-threads, or by the machine's cores (none under
 * valgrind, where every spawn waits for its exec anyway). */
static unsigned helpers_wanted(const struct view *v)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (v->cfg->spawn_threads != SS_UNSET)
		return (unsigned)v->cfg->spawn_threads;
	if (v->plan->wait_for_exec || cores < HELPER_CORES)
		return 0;
	return cores / HELPER_CORES > HELPERS_AUTO ? HELPERS_AUTO : (unsigned)(cores / HELPER_CORES);
}

static int fork_open(struct view *v, struct ss_error *err)
{
	unsigned wanted = helpers_wanted(v);
	struct helpers *h;
	pthread_attr_t attr;

	if (wanted == 0)
		return 0;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return -1;
	}
	v->mode_ctx = h;
	h->v = v;
	h->inflight.inflight_next = h->inflight.inflight_prev = &h->inflight;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->work, NULL);
	if (handback_open(&h->back, v->loop, on_done, h) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot set up fork mode: %s", strerror(errno));
		return -1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, HELPER_STACK);
	for (unsigned i = 0; i < wanted; i++) {
		int rc = pthread_create(&h->threads[i], &attr, helper_main, h);
		if (rc != 0) {
			/* fewer helpers, or none: the loop spawns itself */
			log_msg(v->log, SS_LOG_ERROR, "error", "cannot start a spawning thread: %s", strerror(rc));
			break;
		}
		h->count++;
	}
	pthread_attr_destroy(&attr);
	return 0;
}

static void fork_close(struct view *v)
{
	struct helpers *h = v->mode_ctx;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->quit = true;
	pthread_cond_broadcast(&h->work);
	pthread_mutex_unlock(&h->lock);
	for (unsigned i = 0; i < h->count; i++)
		pthread_join(h->threads[i], NULL);
	handback_close(&h->back);
	pthread_cond_destroy(&h->work);
	pthread_mutex_destroy(&h->lock);
	free(h);
	v->mode_ctx = NULL;
}

const struct mode mode_sync = {
	.name = "sync",
	.limit = sync_limit,
	.dispatch = child_dispatch,
	.children = child_reap,
	.signal = child_signal,
	.slot_close = child_slot_close,
};

const struct mode mode_fork = {
	.name = "fork",
	.limit = fork_limit,
	.open = fork_open,
	.dispatch = child_dispatch,
	.children = child_reap,
	.signal = child_signal,
	.slot_close = child_slot_close,
	.close = fork_close,
};
