/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Requests: slots, the in-progress list, and each request's life from the
 * moment a handler takes it until its slot is free again.  Requests live in
 * a fixed table of slots sized from the concurrency limit, set up on first
 * use, so the steady state does not allocate.  Whether the listener should
 * watch for more is decided by the server once per loop turn
 * (requests_room()), never from here.
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* After --timeout's SIGTERM, how long a handler has before SIGKILL. */
#define KILL_AFTER_US 1000000
/* Spawning again after EAGAIN/ENOMEM: the first wait, and the longest. */
#define RETRY_FIRST_US 10000
#define RETRY_MAX_US 1000000

int requests_init(struct ss_server *srv, struct ss_error *err)
{
	srv->requests.limit = srv->mode->limit(&srv->cfg);
	/* Zeroed and left untouched: a slot is set up the first time a request
	 * needs it (request_slot), so only the slots in use cost memory. */
	srv->requests.slots = calloc(srv->requests.limit, sizeof(struct request));
	if (srv->requests.slots == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory for %u request slots", srv->requests.limit);
		return -1;
	}
	srv->requests.slots_used = 0;
	srv->requests.free_list = NULL;
	srv->requests.active.next = srv->requests.active.prev = &srv->requests.active;
	return 0;
}

/* What a slot made on its first use (parts of it, when that failed). */
static void slot_close(struct ss_server *srv, struct request *req)
{
	if (srv->handler->slot_close != NULL)
		srv->handler->slot_close(srv, req);
	if (srv->mode->slot_close != NULL)
		srv->mode->slot_close(srv, req);
	env_block_free(&req->env);
}

void requests_free(struct ss_server *srv)
{
	for (unsigned i = 0; srv->requests.slots != NULL && i < srv->requests.slots_used; i++)
		slot_close(srv, &srv->requests.slots[i]);
	free(srv->requests.slots);
	srv->requests.slots = NULL;
}

static int slot_open(struct ss_server *srv, struct request *req)
{
	req->fd = -1;
	if (env_block_init(&srv->env, &req->env) < 0)
		return -1;
	return srv->handler->slot_open != NULL ? srv->handler->slot_open(srv, req) : 0;
}

struct request *request_slot(struct ss_server *srv)
{
	if (srv->requests.free_list == NULL && srv->requests.slots_used < srv->requests.limit) {
		struct request *req = &srv->requests.slots[srv->requests.slots_used];
		if (slot_open(srv, req) < 0) {
			slot_close(srv, req);
			errno = ENOMEM;
			return NULL;
		}
		srv->requests.slots_used++;
		req->next = NULL;
		srv->requests.free_list = req;
	}
	return srv->requests.free_list;
}

bool requests_room(const struct ss_server *srv)
{
	return srv->requests.free_list != NULL || srv->requests.slots_used < srv->requests.limit;
}

bool requests_max_reached(const struct ss_server *srv)
{
	return srv->cfg.max_requests != SS_UNSET && srv->received >= (uint64_t)srv->cfg.max_requests;
}

void request_hold(struct ss_server *srv, struct request *req)
{
	srv->requests.free_list = req->next;
	req->pid = 0;
	req->prev = req->next = NULL;
	srv->last_activity_us = now_us();
}

void request_take(struct ss_server *srv, struct request *req)
{
	req->start_us = srv->last_activity_us = now_us();
	srv->received++;
}

void request_release(struct ss_server *srv, struct request *req)
{
	srv->handler->finish(srv, req);
	req->pid = 0;
	req->exited = false;
	req->timed_out = req->kill_sent = false;
	if (req->ip_counted)
		ip_counts_remove(&srv->per_ip, &req->ip);
	req->ip_counted = false;
	req->has_local = false;
	req->next = srv->requests.free_list;
	req->prev = NULL;
	srv->requests.free_list = req;
	/* What the request held is free now: try again at once. */
	srv->accept_paused_until = 0;
	srv->requests.retry_at = 0;
}

void request_track(struct ss_server *srv, struct request *req)
{
	req->prev = srv->requests.active.prev;
	req->next = &srv->requests.active;
	srv->requests.active.prev->next = req;
	srv->requests.active.prev = req;
	srv->requests.active_count++;
}

static void request_untrack(struct ss_server *srv, struct request *req)
{
	req->prev->next = req->next;
	req->next->prev = req->prev;
	req->prev = NULL;
	srv->requests.active_count--;
}

/* The client in JSON: "remote", or a unix peer's pid and uid as numbers. */
static size_t client_fields(const struct request *req, struct field *f)
{
	if (req->peer_pid > 0) {
		f[0] = (struct field)FINT("peer_pid", req->peer_pid);
		f[1] = (struct field)FINT("peer_uid", req->peer_uid);
		return 2;
	}
	f[0] = (struct field)FSTR("remote", req->remote);
	return 1;
}

void request_log_start(struct ss_server *srv, const struct request *req)
{
	struct field f[4];
	size_t n = client_fields(req, f);

	f[n++] = (struct field)FINT("pid", req->pid);
	log_event(&srv->log, SS_LOG_INFO, "start", f, n, "%s: start, handler pid %d", req->remote, (int)req->pid);
	f[n++] = (struct field)FINT("spawn_us", req->spawn_us);
	log_event(&srv->log, SS_LOG_DEBUG, "spawned", f, n, "%s: handler pid %d started in %lld us", req->remote,
	          (int)req->pid, (long long)req->spawn_us);
}

void request_started(struct ss_server *srv, struct request *req)
{
	request_track(srv, req);
	request_log_start(srv, req);
}

void request_end(struct ss_server *srv, struct request *req, int wstatus)
{
	double ms = (double)(now_us() - req->start_us) / 1000.0;
	struct field f[5];
	size_t n = client_fields(req, f);

	f[n++] = (struct field)FINT("pid", req->pid);

	req->exited = true;
	req->wstatus = wstatus;
	srv->last_activity_us = now_us();
	request_untrack(srv, req);
	if (WIFEXITED(wstatus)) {
		int status = WEXITSTATUS(wstatus);
		if (status == 0)
			count(&srv->counts, COUNT_HANDLED);
		else
			count(&srv->counts, COUNT_FAILED);
		f[n++] = (struct field)FINT("status", status);
		f[n++] = (struct field)FMS("duration_ms", ms);
		log_event(&srv->log, status == 0 ? SS_LOG_INFO : SS_LOG_ERROR, "end", f, n,
		          "%s: end, handler pid %d exit %d after %.1f ms", req->remote, (int)req->pid,
		          status, ms);
	} else {
		int sig = WTERMSIG(wstatus);
		count(&srv->counts, COUNT_FAILED);
		f[n++] = (struct field)FINT("signal", sig);
		f[n++] = (struct field)FMS("duration_ms", ms);
		log_event(&srv->log, SS_LOG_ERROR, "end", f, n,
		          "%s: end, handler pid %d killed by signal %d (%s) after %.1f ms", req->remote,
		          (int)req->pid, sig, strsignal(sig), ms);
	}
	request_release(srv, req);
}

void request_failed(struct ss_server *srv, struct request *req, int error)
{
	/* Thread mode tracks a request before its worker tries to run it. */
	if (req->prev != NULL)
		request_untrack(srv, req);
	count(&srv->counts, COUNT_FAILED);
	struct field f[3];
	size_t n = client_fields(req, f);

	f[n++] = (struct field)FSTR("error", strerror(error));
	if (log_allowed(&srv->log, SS_LOG_ERROR, LOG_SPAWN_FAILED))
		log_event(&srv->log, SS_LOG_ERROR, "spawn_failed", f, n,
		          "%s: cannot run handler %s: %s", req->remote,
		          srv->plan.script != NULL ? srv->plan.script : srv->plan.path, strerror(error));
	request_release(srv, req);
}

/* The handler could not start yet: the request waits on the deferred list. */
static void request_defer(struct ss_server *srv, struct request *req, int error)
{
	struct field f[4];
	size_t n = client_fields(req, f);

	/* Thread mode tracks a request before its worker tries to run it. */
	if (req->prev != NULL)
		request_untrack(srv, req);
	req->pid = 0;
	req->retry_next = NULL;
	if (srv->requests.deferred == NULL) {
		if (srv->requests.retry_backoff_us == 0)
			srv->requests.retry_backoff_us = RETRY_FIRST_US;
		srv->requests.retry_at = now_us() + srv->requests.retry_backoff_us;
		srv->requests.deferred = req;
	} else {
		srv->requests.deferred_tail->retry_next = req;
	}
	srv->requests.deferred_tail = req;
	f[n++] = (struct field)FSTR("error", strerror(error));
	f[n++] = (struct field)FINT("retry_ms", srv->requests.retry_backoff_us / 1000);
	if (log_allowed(&srv->log, SS_LOG_ERROR, LOG_SPAWN_FAILED))
		log_event(&srv->log, SS_LOG_ERROR, "spawn_deferred", f, n,
		          "%s: cannot start the handler yet: %s; trying again in %lld ms (or when a request ends)",
		          req->remote, strerror(error), (long long)(srv->requests.retry_backoff_us / 1000));
}

void request_not_started(struct ss_server *srv, struct request *req, int error)
{
	if (error == EAGAIN || error == ENOMEM)
		request_defer(srv, req, error);
	else
		request_failed(srv, req, error);
}

int64_t requests_retry(struct ss_server *srv, int64_t now)
{
	struct request *list = srv->requests.deferred;

	if (list == NULL)
		return INT64_MAX;
	if (now < srv->requests.retry_at)
		return srv->requests.retry_at;
	/* The next failure waits twice as long, up to a second. */
	int64_t *backoff = &srv->requests.retry_backoff_us;
	*backoff = *backoff * 2 > RETRY_MAX_US ? RETRY_MAX_US : *backoff * 2;
	srv->requests.deferred = srv->requests.deferred_tail = NULL;
	while (list != NULL) {
		struct request *req = list;
		list = req->retry_next;
		srv->mode->dispatch(srv, req); /* may come back here */
	}
	if (srv->requests.deferred == NULL) {
		srv->requests.retry_backoff_us = 0;
		return INT64_MAX;
	}
	return srv->requests.retry_at;
}

void requests_drop_deferred(struct ss_server *srv)
{
	struct request *list = srv->requests.deferred;

	srv->requests.deferred = srv->requests.deferred_tail = NULL;
	while (list != NULL) {
		struct request *req = list;
		list = req->retry_next;
		request_failed(srv, req, EAGAIN);
	}
}

struct request *request_by_pid(struct ss_server *srv, pid_t pid)
{
	for (struct request *r = srv->requests.active.next; r != &srv->requests.active; r = r->next)
		if (r->pid == pid)
			return r;
	return NULL;
}

void requests_signal(struct ss_server *srv, int sig)
{
	for (struct request *r = srv->requests.active.next; r != NULL && r != &srv->requests.active; r = r->next)
		srv->mode->signal(srv, r, sig);
}

static void time_out(struct ss_server *srv, struct request *r, int64_t now)
{
	r->timed_out = true;
	r->term_us = now;
	count(&srv->counts, COUNT_TIMED_OUT);
	pid_t pid = srv->mode->signal(srv, r, SIGTERM);
	struct field f[4];
	size_t n = client_fields(r, f);

	f[n++] = (struct field)FINT("pid", pid);
	f[n++] = (struct field)FMS("timeout_ms", (double)srv->cfg.timeout_ms);
	log_event(&srv->log, SS_LOG_ERROR, "timeout", f, n,
	          "%s: timed out after %.3g s, handler pid %d: sent SIGTERM", r->remote,
	          (double)srv->cfg.timeout_ms / 1000.0, (int)pid);
}

/*
 * The in-progress list is in start order and --timeout is the same for every
 * request, so deadlines grow along the list: the nearest is that of the first
 * request not yet timed out, after the few that were sent SIGTERM and wait
 * for their SIGKILL (whose deadlines are in the same order).  Nothing polls:
 * the loop sleeps until the nearest deadline.
 */
int64_t requests_deadlines(struct ss_server *srv, int64_t now)
{
	int64_t timeout_us = srv->cfg.timeout_ms * 1000;

	if (srv->cfg.timeout_ms == SS_NO_TIME)
		return INT64_MAX;
	for (struct request *r = srv->requests.active.next; r != &srv->requests.active; r = r->next) {
		if (!r->timed_out) {
			if (r->start_us + timeout_us > now)
				return r->start_us + timeout_us;
			time_out(srv, r, now);
		}
		if (!r->kill_sent) {
			if (r->term_us + KILL_AFTER_US > now)
				return r->term_us + KILL_AFTER_US;
			r->kill_sent = true;
			srv->mode->signal(srv, r, SIGKILL);
		}
	}
	return INT64_MAX;
}

unsigned requests_limit(const struct ss_server *srv)
{
	return srv->requests.limit;
}

unsigned requests_active(const struct ss_server *srv)
{
	return srv->requests.active_count;
}

bool requests_waiting(const struct ss_server *srv)
{
	return srv->requests.deferred != NULL;
}

void requests_share(struct ss_server *srv, unsigned n)
{
	srv->requests.limit = (srv->requests.limit + n - 1) / n;
}

unsigned requests_made(const struct ss_server *srv)
{
	return srv->requests.slots != NULL ? srv->requests.slots_used : 0;
}

struct request *requests_at(struct ss_server *srv, unsigned i)
{
	return &srv->requests.slots[i];
}
