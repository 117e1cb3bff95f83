/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync and fork modes (socketserver's plain server and ForkingMixIn);
 * thread mode is in mode_thread.c.
 * Each request's handler is a child process that the event loop supervises:
 * spawned when the request arrives, reaped on SIGCHLD.  They differ only in
 * how many may run at once: one, or --max-children.  A slot's state is the
 * memory its child runs on until it execs (spawn.c), kept for the slot.
 */
#include "axes.h"
#include "request.h"
#include "spawn.h"
#include "view.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

static unsigned sync_limit(const struct ss_config *cfg)
{
	(void)cfg;
	return 1;
}

static unsigned fork_limit(const struct ss_config *cfg)
{
	return (unsigned)cfg->max_children;
}

/* The child is spawned without waiting for its exec (spawn.c), on memory of
 * the slot's own that stays untouched until the child is reaped. */
static void child_dispatch(struct view *v, struct request *req)
{
	int64_t t0 = now_us();

	if (req->mode_ctx == NULL)
		req->mode_ctx = spawn_child_new();
	int rc = req->mode_ctx != NULL ? v->handler->spawn(v, req, req->mode_ctx, &req->pid) : ENOMEM;
	req->spawn_us = now_us() - t0;

	if (rc != 0) {
		request_not_started(v, req, rc);
		return;
	}
	if (v->handler->watch != NULL)
		v->handler->watch(v, req);
	request_started(v, req);
}

static void child_reap(struct view *v)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		struct request *req = request_by_pid(v, pid);
		if (req == NULL)
			continue;
		/* exec failed: the command cannot be run, which is not its exit */
		int error = spawn_child_error(req->mode_ctx);
		if (error != 0)
			request_failed(v, req, error);
		else
			request_end(v, req, wstatus);
	}
}

/* Only the event loop reaps, so a handler on the in-progress list is not
 * reaped yet and its pid cannot have been reused. */
static pid_t child_signal(struct view *v, struct request *req, int sig)
{
	(void)v;
	if (req->pid > 0)
		kill(-req->pid, sig);
	return req->pid;
}

static void child_slot_close(struct view *v, struct request *req)
{
	(void)v;
	spawn_child_free(req->mode_ctx);
	req->mode_ctx = NULL;
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
	.dispatch = child_dispatch,
	.children = child_reap,
	.signal = child_signal,
	.slot_close = child_slot_close,
};
