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
#include "server.h"

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
static void starved(struct ss_server *srv, int error)
{
	int64_t now = now_us();

	if (srv->starved_logged_us == 0 || now - srv->starved_logged_us >= STARVED_LOG_US) {
		log_msg(&srv->log, SS_LOG_ERROR, "starved",
		        "cannot take a request: %s; pausing until a request ends "
		        "(retrying every %d ms, logged once in %d s)",
		        strerror(error), ACCEPT_BACKOFF_US / 1000, STARVED_LOG_US / 1000000);
		srv->starved_logged_us = now;
	}
	srv->accept_paused_until = now + ACCEPT_BACKOFF_US;
}

/* The request goes to its handler. */
static void run(struct ss_server *srv, struct request *req)
{
	request_take(srv, req);
	srv->transport->describe(srv, req);
	if (req->tls != NULL)
		tls_describe(req->tls, &req->env);
	log_event(&srv->log, SS_LOG_DEBUG, "received",
	          LOG_FIELDS(FSTR("remote", req->remote), FINT("in_progress", requests_active(srv)),
	                     FINT("limit", requests_limit(srv))),
	          "%s: taken (%u of %u in progress)", req->remote, requests_active(srv), requests_limit(srv));
	srv->mode->dispatch(srv, req);
}

/* An opened connection: into a request slot and to its handler, closed if
 * the server takes no more, or else parked until a slot is free (false). */
static bool opened(struct ss_server *srv, struct request *op)
{
	if (srv->draining || requests_max_reached(srv)) {
		opening_release(srv, op);
		return true;
	}
	struct request *req = requests_room(srv) ? request_slot(srv) : NULL;
	if (req == NULL) {
		opening_park(srv, op);
		return false;
	}
	request_hold(srv, req);
	opening_hand_over(srv, op, req);
	run(srv, req);
	return true;
}

static void on_opening(void *ctx, struct watch *w, uint32_t events)
{
	if (opening_advance(ctx, w->data, events) == OPENED_DONE)
		opened(ctx, w->data);
}

bool accept_room(const struct ss_server *srv)
{
	return openings_used(srv) ? openings_room(srv) : requests_room(srv);
}

void accept_parked(struct ss_server *srv)
{
	struct request *op;

	while (requests_room(srv) && (op = opening_unpark(srv)) != NULL)
		if (!opened(srv, op))
			return;
}

/* A connection that opens in stages: into an opening. */
static bool accept_opening(struct ss_server *srv)
{
	struct request *op = opening_slot(srv);
	enum receive got = op != NULL ? srv->handler->receive(srv, op) : RECEIVE_NONE;
	int error = errno;

	if (got != RECEIVE_OK) {
		if (op != NULL)
			opening_release(srv, op);
		if (got == RECEIVE_ERROR && out_of_descriptors(error))
			starved(srv, error);
		return got == RECEIVE_SKIP || (got == RECEIVE_ERROR && !out_of_descriptors(error));
	}
	srv->last_activity_us = now_us();
	opening_start(srv, op, on_opening);
	if (opening_advance(srv, op, 0) == OPENED_DONE)
		opened(srv, op);
	return true;
}

void accept_requests(struct ss_server *srv)
{
	for (int n = 0; n < ACCEPT_BATCH && !requests_max_reached(srv); n++) {
		if (openings_used(srv)) {
			if (!openings_room(srv) || !accept_opening(srv))
				break;
			continue;
		}
		if (!requests_room(srv))
			break;
		struct request *req = request_slot(srv);
		enum receive got = req != NULL ? srv->handler->receive(srv, req) : RECEIVE_ERROR;
		if (got == RECEIVE_NONE)
			break;
		if (got == RECEIVE_SKIP)
			continue;
		if (got == RECEIVE_ERROR) {
			if (out_of_descriptors(errno)) {
				starved(srv, errno);
				break;
			}
			continue; /* this one failed; the next may not */
		}
		request_hold(srv, req);
		if (!admission_check(srv, req)) {
			request_release(srv, req); /* closes a connection */
			continue;
		}
		run(srv, req);
	}
}
