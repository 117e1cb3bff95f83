/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The accept path.  The listener is watched only while there is room (the
 * server decides that once per loop turn): a free request slot, or, where
 * connections open in stages (PROXY header, TLS), a free opening or one to
 * evict; so here there is always room for at least one.  A batch is bounded
 * so that signals and finished requests are never starved by a busy
 * listener.  An opened connection takes a request slot, or waits, parked,
 * for one.
 */
#include "accept.h"
#include "admission.h"
#include "opening.h"
#include "axes.h"
#include "log.h"
#include "request.h"
#include "view.h"

#include <errno.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <string.h>

/* How long accepting pauses when the descriptor table is full. */
#define ACCEPT_BACKOFF_US 100000
/* The exhaustion message is not repeated sooner than this. */
#define STARVED_LOG_US 10000000
/* Most requests taken (or let go) in one wake-up. */
#define ACCEPT_BATCH 64

static bool out_of_descriptors(int error)
{
	return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

/* Descriptors ran out: leave the poll set until a request ends or a while
 * has passed, instead of spinning on a listener that stays readable; the
 * clients wait in the backlog (or the socket's queue). */
static void starved(struct view *v, int error)
{
	int64_t now = now_us();

	if (v->sock->starved_logged_us == 0 || now - v->sock->starved_logged_us >= STARVED_LOG_US) {
		log_msg(v->log, SS_LOG_ERROR, "starved",
		        "cannot take a request: %s; pausing until a request ends "
		        "(retrying every %d ms, logged once in %d s)",
		        strerror(error), ACCEPT_BACKOFF_US / 1000, STARVED_LOG_US / 1000000);
		v->sock->starved_logged_us = now;
	}
	v->sock->paused_until = now + ACCEPT_BACKOFF_US;
}

/* The request goes to its handler. */
static void run(struct view *v, struct request *req)
{
	request_take(v, req);
	v->transport->describe(v, req);
	openings_describe(v, req);
	log_event(v->log, SS_LOG_DEBUG, "received",
	          LOG_FIELDS(FSTR("remote", req->remote), FINT("in_progress", requests_active(v)),
	                     FINT("limit", requests_limit(v))),
	          "%s: taken (%u of %u in progress)", req->remote, requests_active(v), requests_limit(v));
	int rc = v->handler->prepare != NULL ? v->handler->prepare(v, req) : 0;
	if (rc != 0) {
		request_failed(v, req, rc);
		return;
	}
	v->mode->dispatch(v, req);
}

/* An opened connection: into a request slot and to its handler, closed if
 * the server takes no more, or else parked until a slot is free (false). */
static bool opened(struct view *v, struct request *op)
{
	if (v->draining || requests_max_reached(v)) {
		opening_release(v, op);
		return true;
	}
	struct request *req = requests_room(v) ? request_slot(v) : NULL;
	if (req == NULL) {
		opening_park(v, op);
		return false;
	}
	request_hold(v, req);
	opening_hand_over(v, op, req);
	run(v, req);
	return true;
}

static void on_opening(void *ctx, struct watch *w, uint32_t events)
{
	if (opening_advance(ctx, w->data, events) == OPENED_DONE)
		opened(ctx, w->data);
}

bool accept_room(const struct view *v)
{
	return openings_used(v) ? openings_room(v) : requests_room(v);
}

void accept_parked(struct view *v)
{
	struct request *op;

	while (requests_room(v) && (op = opening_unpark(v)) != NULL)
		if (!opened(v, op))
			return;
}

/* A connection that opens in stages: into an opening. */
static bool accept_opening(struct view *v)
{
	struct request *op = opening_slot(v);
	enum receive got = op != NULL ? v->handler->receive(v, op) : RECEIVE_NONE;
	int error = errno;

	if (got != RECEIVE_OK) {
		if (op != NULL)
			opening_release(v, op);
		if (got == RECEIVE_ERROR && out_of_descriptors(error))
			starved(v, error);
		return got == RECEIVE_SKIP || (got == RECEIVE_ERROR && !out_of_descriptors(error));
	}
	requests_touch(v);
	opening_start(v, op, on_opening);
	if (opening_advance(v, op, 0) == OPENED_DONE)
		opened(v, op);
	return true;
}

void accept_requests(struct view *v)
{
	for (int n = 0; n < ACCEPT_BATCH && !requests_max_reached(v); n++) {
		if (openings_used(v)) {
			if (!openings_room(v) || !accept_opening(v))
				break;
			continue;
		}
		if (!requests_room(v))
			break;
		struct request *req = request_slot(v);
		enum receive got = req != NULL ? v->handler->receive(v, req) : RECEIVE_ERROR;
		if (got == RECEIVE_NONE)
			break;
		if (got == RECEIVE_SKIP)
			continue;
		if (got == RECEIVE_ERROR) {
			if (out_of_descriptors(errno)) {
				starved(v, errno);
				break;
			}
			continue; /* this one failed; the next may not */
		}
		request_hold(v, req);
		if (!admission_check(v, req)) {
			request_release(v, req); /* closes a connection */
			continue;
		}
		run(v, req);
	}
}
