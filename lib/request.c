/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Requests: slots, the in-progress list, and each request's life from the
 * moment a handler takes it until its slot is free again.  Requests live in
 * a fixed table of slots sized from the concurrency limit, set up on first
 * use, so the steady state does not allocate.  Whether the listener should
 * watch for more is decided by the server once per loop turn
 * (requests_room()), never from here.
 */
#include "admission.h"
#include "axes.h"
#include "counts.h"
#include "log.h"
#include "request.h"
#include "relay.h"
#include "spawn.h"
#include "view.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* After --timeout's SIGTERM, how long a handler has before SIGKILL. */
#define KILL_AFTER_US 1000000
/* A relayed request whose handler has ended waits this long without the
 * client taking anything of what is left before it ends anyway. */
#define FLUSH_IDLE_US 10000000
/* Spawning again after EAGAIN/ENOMEM: the first wait, and the longest. */
#define RETRY_FIRST_US 10000
#define RETRY_MAX_US 1000000

int requests_init(struct view *v, struct ss_error *err)
{
	v->requests->limit = v->mode->limit(v->cfg);
	/* Zeroed and left untouched: a slot is set up the first time a request
	 * needs it (request_slot), so only the slots in use cost memory. */
	v->requests->slots = calloc(v->requests->limit, sizeof(struct request));
	if (v->requests->slots == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory for %u request slots", v->requests->limit);
		return -1;
	}
	v->requests->slots_used = 0;
	v->requests->free_list = NULL;
	request_list_init(&v->requests->active);
	request_list_init(&v->requests->flushing);
	return 0;
}

/* What a slot made on its first use (parts of it, when that failed). */
static void slot_close(struct view *v, struct request *req)
{
	if (v->handler->slot_close != NULL)
		v->handler->slot_close(v, req);
	if (v->mode->slot_close != NULL)
		v->mode->slot_close(v, req);
	relay_free(req->relay);
	req->relay = NULL;
	free(req->ws);
	req->ws = NULL;
	env_block_free(&req->env);
}

void requests_free(struct view *v)
{
	for (unsigned i = 0; v->requests->slots != NULL && i < v->requests->slots_used; i++)
		slot_close(v, &v->requests->slots[i]);
	free(v->requests->slots);
	v->requests->slots = NULL;
}

static int slot_open(struct view *v, struct request *req)
{
	req->fd = -1;
	if (env_block_init(v->env, &req->env) < 0)
		return -1;
	return v->handler->slot_open != NULL ? v->handler->slot_open(v, req) : 0;
}

struct request *request_slot(struct view *v)
{
	if (v->requests->free_list == NULL && v->requests->slots_used < v->requests->limit) {
		struct request *req = &v->requests->slots[v->requests->slots_used];
		if (slot_open(v, req) < 0) {
			slot_close(v, req);
			errno = ENOMEM;
			return NULL;
		}
		v->requests->slots_used++;
		req->next = NULL;
		v->requests->free_list = req;
	}
	return v->requests->free_list;
}

uint64_t requests_received(const struct view *v)
{
	return v->requests->received;
}

int64_t requests_idle_since(const struct view *v)
{
	return v->requests->last_activity_us;
}

void requests_touch(struct view *v)
{
	v->requests->last_activity_us = now_us();
}

bool requests_room(const struct view *v)
{
	return v->requests->free_list != NULL || v->requests->slots_used < v->requests->limit;
}

bool requests_max_reached(const struct view *v)
{
	return v->cfg->max_requests != SS_UNSET && v->requests->received >= (uint64_t)v->cfg->max_requests;
}

void request_hold(struct view *v, struct request *req)
{
	v->requests->free_list = req->next;
	req->pid = 0;
	req->prev = req->next = NULL;
	v->requests->last_activity_us = now_us();
}

void request_take(struct view *v, struct request *req)
{
	req->start_us = v->requests->last_activity_us = now_us();
	req->seq = ++v->requests->received;
}

void request_release(struct view *v, struct request *req)
{
	v->handler->finish(v, req);
	req->pid = 0;
	req->exited = false;
	req->timed_out = req->kill_sent = false;
	if (req->ip_counted)
		ip_counts_remove(&v->admission->per_ip, &req->ip);
	req->ip_counted = false;
	rules_release(&req->rule);
	req->has_local = false;
	req->next = v->requests->free_list;
	req->prev = NULL;
	v->requests->free_list = req;
	/* What the request held is free now: try again at once. */
	v->sock->paused_until = 0;
	v->requests->retry_at = 0;
}

void request_track(struct view *v, struct request *req)
{
	request_list_append(&v->requests->active, req);
	v->requests->active_count++;
}

static void request_untrack(struct view *v, struct request *req)
{
	request_list_remove(req);
	v->requests->active_count--;
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

void request_log_start(struct view *v, const struct request *req)
{
	struct field f[4];
	size_t n = client_fields(req, f);

	f[n++] = (struct field)FINT("pid", req->pid);
	log_event(v->log, SS_LOG_INFO, "start", f, n, "%s: start, handler pid %d", req->remote, (int)req->pid);
	f[n++] = (struct field)FINT("spawn_us", req->spawn_us);
	log_event(v->log, SS_LOG_DEBUG, "spawned", f, n, "%s: handler pid %d started in %lld us", req->remote,
	          (int)req->pid, (long long)req->spawn_us);
}

void request_started(struct view *v, struct request *req)
{
	request_track(v, req);
	request_log_start(v, req);
}

void request_end(struct view *v, struct request *req, int wstatus)
{
	double ms = (double)(now_us() - req->start_us) / 1000.0;
	struct field f[5];
	size_t n = client_fields(req, f);

	f[n++] = (struct field)FINT("pid", req->pid);

	req->exited = true;
	req->wstatus = wstatus;
	v->requests->last_activity_us = now_us();
	request_untrack(v, req);
	if (WIFEXITED(wstatus)) {
		int status = WEXITSTATUS(wstatus);
		if (status == 0)
			count(v->counts, COUNT_HANDLED);
		else
			count(v->counts, COUNT_FAILED);
		f[n++] = (struct field)FINT("status", status);
		f[n++] = (struct field)FMS("duration_ms", ms);
		log_event(v->log, status == 0 ? SS_LOG_INFO : SS_LOG_ERROR, "end", f, n,
		          "%s: end, handler pid %d exit %d after %.1f ms", req->remote, (int)req->pid,
		          status, ms);
	} else {
		int sig = WTERMSIG(wstatus);
		count(v->counts, COUNT_FAILED);
		f[n++] = (struct field)FINT("signal", sig);
		f[n++] = (struct field)FMS("duration_ms", ms);
		log_event(v->log, SS_LOG_ERROR, "end", f, n,
		          "%s: end, handler pid %d killed by signal %d (%s) after %.1f ms", req->remote,
		          (int)req->pid, sig, strsignal(sig), ms);
	}
	/* What the handler wrote may still be on its way through the relay: the
	 * request holds its slot until it has gone (or the client takes nothing
	 * for FLUSH_IDLE_US), unless --timeout stopped it or the drain is over. */
	if (req->relay != NULL && relay_running(req->relay) && !relay_delivered(req->relay) && !req->timed_out &&
	    !v->requests->cut) {
		req->flushing = true;
		request_list_append(&v->requests->flushing, req);
		v->requests->flushing_count++;
		/* a layer may wait for the exit status (a WebSocket's close code):
		 * the relay runs now, and may end the request at once */
		relay_poke(req->relay);
		return;
	}
	request_release(v, req);
}

void request_flushed(struct view *v, struct request *req)
{
	if (!req->flushing)
		return;
	request_list_remove(req);
	req->flushing = false;
	v->requests->flushing_count--;
	request_release(v, req);
}

void requests_cut(struct view *v)
{
	v->requests->cut = true;
	while (v->requests->flushing.next != &v->requests->flushing)
		request_flushed(v, v->requests->flushing.next);
}

/* Requests whose client has taken nothing of the handler's last output
 * for FLUSH_IDLE_US end, and so do those past --timeout (it bounds a
 * request whole, its output's delivery too); the nearest such deadline of
 * the others. */
static int64_t flush_deadlines(struct view *v, int64_t now)
{
	int64_t next = INT64_MAX, limit = v->cfg->timeout_ms != SS_NO_TIME ? v->cfg->timeout_ms * 1000 : INT64_MAX;

	for (struct request *r = v->requests->flushing.next, *after; r != &v->requests->flushing; r = after) {
		after = r->next;
		int64_t idle = relay_progress_us(r->relay) + FLUSH_IDLE_US;
		int64_t over = limit != INT64_MAX ? r->start_us + limit : INT64_MAX;
		int64_t due = idle < over ? idle : over;
		if (due > now) {
			if (due < next)
				next = due;
			continue;
		}
		struct field f[3];
		size_t n = client_fields(r, f);
		if (over <= now) {
			f[n++] = (struct field)FMS("timeout_ms", (double)v->cfg->timeout_ms);
			log_event(v->log, SS_LOG_ERROR, "timeout", f, n,
			          "%s: timed out after %.3g s while the handler's last output went out: closed",
			          r->remote, (double)v->cfg->timeout_ms / 1000.0);
		} else {
			f[n++] = (struct field)FMS("idle_ms", (double)FLUSH_IDLE_US / 1000.0);
			log_event(v->log, SS_LOG_INFO, "flush_timeout", f, n,
			          "%s: the client took none of the handler's last output for %d s: closed", r->remote,
			          FLUSH_IDLE_US / 1000000);
		}
		request_flushed(v, r);
	}
	return next;
}

void request_failed(struct view *v, struct request *req, int error)
{
	/* Thread mode tracks a request before its worker tries to run it. */
	if (req->prev != NULL)
		request_untrack(v, req);
	count(v->counts, COUNT_FAILED);
	struct field f[3];
	size_t n = client_fields(req, f);

	f[n++] = (struct field)FSTR("error", strerror(error));
	if (log_allowed(v->log, SS_LOG_ERROR, LOG_SPAWN_FAILED))
		log_event(v->log, SS_LOG_ERROR, "spawn_failed", f, n,
		          "%s: cannot run handler %s: %s", req->remote,
		          v->plan->script != NULL ? v->plan->script : v->plan->path, strerror(error));
	request_release(v, req);
}

/* The handler could not start yet: the request waits on the deferred list. */
static void request_defer(struct view *v, struct request *req, int error)
{
	struct field f[4];
	size_t n = client_fields(req, f);

	/* Thread mode tracks a request before its worker tries to run it. */
	if (req->prev != NULL)
		request_untrack(v, req);
	req->pid = 0;
	req->retry_next = NULL;
	if (v->requests->deferred == NULL) {
		if (v->requests->retry_backoff_us == 0)
			v->requests->retry_backoff_us = RETRY_FIRST_US;
		v->requests->retry_at = now_us() + v->requests->retry_backoff_us;
		v->requests->deferred = req;
	} else {
		v->requests->deferred_tail->retry_next = req;
	}
	v->requests->deferred_tail = req;
	f[n++] = (struct field)FSTR("error", strerror(error));
	f[n++] = (struct field)FINT("retry_ms", v->requests->retry_backoff_us / 1000);
	if (log_allowed(v->log, SS_LOG_ERROR, LOG_SPAWN_FAILED))
		log_event(v->log, SS_LOG_ERROR, "spawn_deferred", f, n,
		          "%s: cannot start the handler yet: %s; trying again in %lld ms (or when a request ends)",
		          req->remote, strerror(error), (long long)(v->requests->retry_backoff_us / 1000));
}

void request_not_started(struct view *v, struct request *req, int error)
{
	if (error == EAGAIN || error == ENOMEM)
		request_defer(v, req, error);
	else
		request_failed(v, req, error);
}

int64_t requests_retry(struct view *v, int64_t now)
{
	struct request *list = v->requests->deferred;

	if (list == NULL)
		return INT64_MAX;
	if (now < v->requests->retry_at)
		return v->requests->retry_at;
	/* The next failure waits twice as long, up to a second. */
	int64_t *backoff = &v->requests->retry_backoff_us;
	*backoff = *backoff * 2 > RETRY_MAX_US ? RETRY_MAX_US : *backoff * 2;
	v->requests->deferred = v->requests->deferred_tail = NULL;
	while (list != NULL) {
		struct request *req = list;
		list = req->retry_next;
		v->mode->dispatch(v, req); /* may come back here */
	}
	if (v->requests->deferred == NULL) {
		v->requests->retry_backoff_us = 0;
		return INT64_MAX;
	}
	return v->requests->retry_at;
}

void requests_drop_deferred(struct view *v)
{
	struct request *list = v->requests->deferred;

	v->requests->deferred = v->requests->deferred_tail = NULL;
	while (list != NULL) {
		struct request *req = list;
		list = req->retry_next;
		request_failed(v, req, EAGAIN);
	}
}

struct request *request_by_pid(struct view *v, pid_t pid)
{
	for (struct request *r = v->requests->active.next; r != &v->requests->active; r = r->next)
		if (r->pid == pid)
			return r;
	return NULL;
}

void requests_signal(struct view *v, int sig)
{
	for (struct request *r = v->requests->active.next; r != NULL && r != &v->requests->active; r = r->next)
		v->mode->signal(v, r, sig);
}

static void time_out(struct view *v, struct request *r, int64_t now)
{
	r->timed_out = true;
	r->term_us = now;
	count(v->counts, COUNT_TIMED_OUT);
	pid_t pid = v->mode->signal(v, r, SIGTERM);
	struct field f[4];
	size_t n = client_fields(r, f);

	f[n++] = (struct field)FINT("pid", pid);
	f[n++] = (struct field)FMS("timeout_ms", (double)v->cfg->timeout_ms);
	log_event(v->log, SS_LOG_ERROR, "timeout", f, n,
	          "%s: timed out after %.3g s, handler pid %d: sent SIGTERM", r->remote,
	          (double)v->cfg->timeout_ms / 1000.0, (int)pid);
}

/*
 * The in-progress list is in start order and --timeout is the same for every
 * request, so deadlines grow along the list: the nearest is that of the first
 * request not yet timed out, after the few that were sent SIGTERM and wait
 * for their SIGKILL (whose deadlines are in the same order).  Nothing polls:
 * the loop sleeps until the nearest deadline.
 */
int64_t requests_deadlines(struct view *v, int64_t now)
{
	int64_t timeout_us = v->cfg->timeout_ms * 1000, next = flush_deadlines(v, now);

	if (v->cfg->timeout_ms == SS_NO_TIME)
		return next;
	for (struct request *r = v->requests->active.next; r != &v->requests->active; r = r->next) {
		if (!r->timed_out) {
			if (r->start_us + timeout_us > now)
				return r->start_us + timeout_us < next ? r->start_us + timeout_us : next;
			time_out(v, r, now);
		}
		if (!r->kill_sent) {
			if (r->term_us + KILL_AFTER_US > now)
				return r->term_us + KILL_AFTER_US < next ? r->term_us + KILL_AFTER_US : next;
			r->kill_sent = true;
			v->mode->signal(v, r, SIGKILL);
		}
	}
	return next;
}

unsigned requests_limit(const struct view *v)
{
	return v->requests->limit;
}

unsigned requests_active(const struct view *v)
{
	return v->requests->active_count + v->requests->flushing_count;
}

bool requests_waiting(const struct view *v)
{
	return v->requests->deferred != NULL;
}

void requests_share(struct view *v, unsigned n)
{
	v->requests->limit = (v->requests->limit + n - 1) / n;
}

unsigned requests_made(const struct view *v)
{
	return v->requests->slots != NULL ? v->requests->slots_used : 0;
}

struct request *requests_at(struct view *v, unsigned i)
{
	return &v->requests->slots[i];
}
