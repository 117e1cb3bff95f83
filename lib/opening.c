/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Openings (see opening.h): a pool of their own, apart from the request
 * slots, so that connections that have not opened yet never hold a handler
 * place; a list in deadline order; the stage table, and the driver that takes
 * an opening through it.
 */
#include "opening.h"
#include "admission.h"
#include "counts.h"
#include "log.h"
#include "request.h"
#include "view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* The stages, in order.  Admission (--allow, --deny, --rate, --max-per-ip)
 * comes after the PROXY header, whose client it checks, and before TLS, so
 * that a refused client costs no handshake. */
static const struct opening_stage *const stages[] = { &stage_proxy, &stage_admission, &stage_tls, &stage_ws };
#define STAGES (sizeof(stages) / sizeof(stages[0]))

/* The stage after index i (0: before the first) that the server has; 0 if
 * none.  req->opening holds a stage's index + 1. */
static int next_stage(const struct view *v, int i)
{
	for (size_t k = (size_t)i; k < STAGES; k++)
		if (stages[k]->wanted(v))
			return (int)k + 1;
	return 0;
}

int openings_init(struct view *v, unsigned max, int64_t timeout_us, struct ss_error *err)
{
	struct openings *o = v->openings;

	request_list_init(&o->waiting);
	request_list_init(&o->parked);
	o->max = max;
	o->timeout_us = timeout_us;
	for (size_t k = 0; k < STAGES; k++)
		if (stages[k] != &stage_admission && stages[k]->wanted(v))
			o->any = true;
	if (!o->any)
		return 0;
	/* Zeroed and untouched until used: only the openings in use cost
	 * memory. */
	o->pool = calloc((size_t)max + 1, sizeof(struct request));
	if (o->pool == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory for %u openings", max);
		return -1;
	}
	return 0;
}

unsigned openings_capacity(const struct view *v)
{
	return v->openings->any ? v->openings->max + 1 : 0;
}

void openings_share(struct view *v, unsigned n)
{
	v->openings->max = (v->openings->max + n - 1) / n;
}

void openings_free(struct view *v)
{
	for (unsigned i = 0; v->openings->pool != NULL && i < v->openings->made; i++)
		free(v->openings->pool[i].ws);
	free(v->openings->pool);
	v->openings->pool = NULL;
}

bool openings_used(const struct view *v)
{
	return v->openings->any;
}

bool openings_room(const struct view *v)
{
	const struct openings *o = v->openings;

	return o->in_use < o->max || o->waiting.next != &o->waiting;
}

/* Closed without a handler: what it holds is let go. */
void opening_release(struct view *v, struct request *op)
{
	struct openings *o = v->openings;

	if (op->fd >= 0)
		close(op->fd);
	op->fd = -1;
	tls_conn_free(op->tls);
	op->tls = NULL;
	rules_release(&op->rule);
	if (op->ip_counted)
		ip_counts_remove(&v->admission->per_ip, &op->ip);
	op->ip_counted = false;
	op->opening = 0;
	op->next = o->free_list;
	op->prev = NULL;
	o->free_list = op;
	o->in_use--;
}

/* Leave the list it is on and the poll set. */
static void opening_leave(struct view *v, struct request *op)
{
	loop_set(v->loop, &op->opening_watch, 0);
	request_list_remove(op);
}

/* Off its list and closed, unlogged (refused: already logged). */
static void opening_drop(struct view *v, struct request *op)
{
	opening_leave(v, op);
	opening_release(v, op);
}

/* It did not open: logged as its stage's failure (rate-limited), counted as
 * rejected, closed.  Its peer is the connection's own before a PROXY header,
 * the header's client after. */
static void opening_failed(struct view *v, struct request *op, const char *why)
{
	const struct opening_stage *st = stages[op->opening - 1];
	char from[ADDR_TEXT_MAX];

	opening_leave(v, op);
	count(v->counts, COUNT_REJECTED);
	if (log_allowed(v->log, SS_LOG_ERROR, st->kind)) {
		addr_format((struct sockaddr *)&op->peer, op->peer_len, from, sizeof(from));
		log_event(v->log, SS_LOG_ERROR, st->fail_event, LOG_FIELDS(FSTR("remote", from), FSTR("error", why)),
		          "%s: closed: %s", from, why);
	}
	opening_release(v, op);
}

struct request *opening_slot(struct view *v)
{
	struct openings *o = v->openings;
	struct request *op;

	/* One more than the bound, for the connection that may evict another
	 * once it has been taken (and not before: the listener may have
	 * nothing more). */
	if (o->in_use >= o->max && o->waiting.next == &o->waiting)
		return NULL;
	if (o->free_list == NULL && o->made < o->max + 1) {
		op = &o->pool[o->made++];
		op->fd = -1;
		op->next = NULL;
		o->free_list = op;
	}
	op = o->free_list;
	if (op == NULL)
		return NULL;
	o->free_list = op->next;
	op->next = op->prev = NULL;
	op->has_local = false;
	op->ip_counted = false;
	op->tls = NULL;
	op->opening = 0;
	o->in_use++;
	return op;
}

/* Over the bound: the opening that has waited longest without progress
 * makes room.  A steady attacker's silent connections are replaced by newer
 * ones; a real client's handshake makes progress at once. */
static void evict(struct view *v)
{
	struct openings *o = v->openings;
	struct request *oldest = NULL;
	char why[128];

	for (struct request *r = o->waiting.next; r != &o->waiting; r = r->next)
		if (oldest == NULL || r->opening_progress_us < oldest->opening_progress_us)
			oldest = r;
	if (oldest == NULL)
		return;
	snprintf(why, sizeof(why), "evicted: the openings were full (--max-openings %u), and it had made no "
	         "progress for %.1f s", o->max, (double)(now_us() - oldest->opening_progress_us) / 1e6);
	opening_failed(v, oldest, why);
}

void opening_start(struct view *v, struct request *op, watch_fn *on_event)
{
	struct openings *o = v->openings;
	int64_t now = now_us();

	if (o->in_use > o->max)
		evict(v);
	op->opening_deadline = now + o->timeout_us;
	op->opening_progress_us = now;
	op->opening_watch = (struct watch){ .fd = op->fd, .fn = on_event, .data = op };
	op->opening = 0;
	/* the end of the list keeps it in deadline order: all have the same time */
	request_list_append(&o->waiting, op);
}

/* Into the stage that follows the current one; false if it failed to
 * begin (the opening is closed). */
static bool enter(struct view *v, struct request *op, int stage)
{
	char why[256] = "";

	op->opening = stage;
	enum step s = stages[stage - 1]->begin != NULL ? stages[stage - 1]->begin(v, op, why, sizeof(why)) : STEP_DONE;
	if (s == STEP_REFUSED) {
		opening_drop(v, op);
		return false;
	}
	if (s != STEP_DONE) {
		opening_failed(v, op, why);
		return false;
	}
	return true;
}

enum opened opening_advance(struct view *v, struct request *op, uint32_t events)
{
	char why[256];

	if (events != 0)
		op->opening_progress_us = now_us();
	if (op->opening == 0 && !enter(v, op, next_stage(v, 0)))
		return OPENED_CLOSED;
	for (;;) {
		const struct opening_stage *st = stages[op->opening - 1];
		why[0] = '\0';
		enum step s = st->step(v, op, events, why, sizeof(why));
		events = 0;
		switch (s) {
		case STEP_READ:
		case STEP_WRITE:
			if (loop_set(v->loop, &op->opening_watch, s == STEP_READ ? st->read_events : EPOLLOUT) < 0) {
				opening_failed(v, op, strerror(errno));
				return OPENED_CLOSED;
			}
			return OPENED_WAIT;
		case STEP_FAIL:
			opening_failed(v, op, why);
			return OPENED_CLOSED;
		case STEP_REFUSED:
			opening_drop(v, op);
			return OPENED_CLOSED;
		case STEP_DONE:
			break;
		}
		int next = next_stage(v, op->opening);
		if (next == 0) {
			opening_leave(v, op);
			return OPENED_DONE;
		}
		if (!enter(v, op, next))
			return OPENED_CLOSED;
	}
}

void opening_park(struct view *v, struct request *op)
{
	request_list_append(&v->openings->parked, op);
}

struct request *opening_unpark(struct view *v)
{
	struct request *op = v->openings->parked.next;

	if (op == &v->openings->parked)
		return NULL;
	request_list_remove(op);
	return op;
}

void opening_hand_over(struct view *v, struct request *op, struct request *req)
{
	struct openings *o = v->openings;

	req->fd = op->fd;
	memcpy(&req->peer, &op->peer, sizeof(req->peer));
	req->peer_len = op->peer_len;
	memcpy(&req->local, &op->local, sizeof(req->local));
	req->has_local = op->has_local;
	req->ip = op->ip;
	req->ip_counted = op->ip_counted;
	req->tls = op->tls;
	/* the upgrade's buffer goes with the request; the request slot's own
	 * (from an earlier connection, or none) stays here for the next one */
	struct ws_conn *spare = req->ws;
	req->ws = op->ws;
	op->ws = spare;
	rules_release(&req->rule);
	req->rule = op->rule;
	op->rule.set = NULL;
	op->fd = -1;
	op->tls = NULL;
	op->ip_counted = false;
	op->opening = 0;
	op->next = o->free_list;
	o->free_list = op;
	o->in_use--;
}

void openings_describe(struct view *v, struct request *req)
{
	for (size_t k = 0; k < STAGES; k++)
		if (stages[k]->describe != NULL && stages[k]->wanted(v))
			stages[k]->describe(v, req);
}

int64_t openings_deadlines(struct view *v, int64_t now)
{
	struct openings *o = v->openings;

	while (o->waiting.next != &o->waiting) {
		struct request *op = o->waiting.next;
		if (op->opening_deadline > now)
			return op->opening_deadline;
		char why[96];
		snprintf(why, sizeof(why), "no %s within %g s", stages[op->opening - 1]->name,
		         (double)o->timeout_us / 1e6);
		opening_failed(v, op, why);
	}
	return INT64_MAX;
}

void openings_close(struct view *v)
{
	struct openings *o = v->openings;
	struct request *op;

	while (o->waiting.next != &o->waiting)
		opening_drop(v, o->waiting.next);
	while ((op = opening_unpark(v)) != NULL)
		opening_release(v, op);
}
