/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Openings (see opening.h): a pool of their own, apart from the request
 * slots, so that connections that have not opened yet never hold a handler
 * place; a list in deadline order; the stage table, and the driver that takes
 * an opening through it.
 */
#include "opening.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* The stages, in order.  Admission (--allow, --deny, --rate, --max-per-ip)
 * comes after the PROXY header, whose client it checks, and before TLS, so
 * that a refused client costs no handshake. */
static const struct opening_stage *const stages[] = { &stage_proxy, &stage_admission, &stage_tls };
#define STAGES (sizeof(stages) / sizeof(stages[0]))

/* The stage after index i (0: before the first) that the server has; 0 if
 * none.  req->opening holds a stage's index + 1. */
static int next_stage(const struct ss_server *srv, int i)
{
	for (size_t k = (size_t)i; k < STAGES; k++)
		if (stages[k]->wanted(srv))
			return (int)k + 1;
	return 0;
}

static void list_init(struct request *head)
{
	head->next = head->prev = head;
}

static void list_append(struct request *head, struct request *r)
{
	r->prev = head->prev;
	r->next = head;
	head->prev->next = r;
	head->prev = r;
}

static void list_remove(struct request *r)
{
	r->prev->next = r->next;
	r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

int openings_init(struct ss_server *srv, unsigned max, int64_t timeout_us, struct ss_error *err)
{
	struct openings *o = &srv->openings;

	list_init(&o->waiting);
	list_init(&o->parked);
	o->max = max;
	o->timeout_us = timeout_us;
	for (size_t k = 0; k < STAGES; k++)
		if (stages[k] != &stage_admission && stages[k]->wanted(srv))
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

void openings_free(struct ss_server *srv)
{
	free(srv->openings.pool);
	srv->openings.pool = NULL;
}

bool openings_used(const struct ss_server *srv)
{
	return srv->openings.any;
}

bool openings_room(const struct ss_server *srv)
{
	const struct openings *o = &srv->openings;

	return o->in_use < o->max || o->waiting.next != &o->waiting;
}

/* Closed without a handler: what it holds is let go. */
void opening_release(struct ss_server *srv, struct request *op)
{
	struct openings *o = &srv->openings;

	if (op->fd >= 0)
		close(op->fd);
	op->fd = -1;
	tls_conn_free(op->tls);
	op->tls = NULL;
	if (op->ip_counted)
		ip_counts_remove(&srv->per_ip, &op->ip);
	op->ip_counted = false;
	op->opening = 0;
	op->next = o->free_list;
	op->prev = NULL;
	o->free_list = op;
	o->in_use--;
}

/* Leave the list it is on and the poll set. */
static void opening_leave(struct ss_server *srv, struct request *op)
{
	loop_set(&srv->loop, &op->opening_watch, 0);
	list_remove(op);
}

/* Off its list and closed, unlogged (refused: already logged). */
static void opening_drop(struct ss_server *srv, struct request *op)
{
	opening_leave(srv, op);
	opening_release(srv, op);
}

/* It did not open: logged as its stage's failure (rate-limited), counted as
 * rejected, closed.  Its peer is the connection's own before a PROXY header,
 * the header's client after. */
static void opening_failed(struct ss_server *srv, struct request *op, const char *why)
{
	const struct opening_stage *st = stages[op->opening - 1];
	char from[ADDR_TEXT_MAX];

	opening_leave(srv, op);
	count(&srv->counts, COUNT_REJECTED);
	if (log_allowed(&srv->log, SS_LOG_ERROR, st->kind)) {
		addr_format((struct sockaddr *)&op->peer, op->peer_len, from, sizeof(from));
		log_event(&srv->log, SS_LOG_ERROR, st->fail_event, LOG_FIELDS(FSTR("remote", from), FSTR("error", why)),
		          "%s: closed: %s", from, why);
	}
	opening_release(srv, op);
}

struct request *opening_slot(struct ss_server *srv)
{
	struct openings *o = &srv->openings;
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
static void evict(struct ss_server *srv)
{
	struct openings *o = &srv->openings;
	struct request *oldest = NULL;
	char why[128];

	for (struct request *r = o->waiting.next; r != &o->waiting; r = r->next)
		if (oldest == NULL || r->opening_progress_us < oldest->opening_progress_us)
			oldest = r;
	if (oldest == NULL)
		return;
	snprintf(why, sizeof(why), "evicted: the openings were full (--max-openings %u), and it had made no "
	         "progress for %.1f s", o->max, (double)(now_us() - oldest->opening_progress_us) / 1e6);
	opening_failed(srv, oldest, why);
}

void opening_start(struct ss_server *srv, struct request *op, watch_fn *on_event)
{
	struct openings *o = &srv->openings;
	int64_t now = now_us();

	if (o->in_use > o->max)
		evict(srv);
	op->opening_deadline = now + o->timeout_us;
	op->opening_progress_us = now;
	op->opening_watch = (struct watch){ .fd = op->fd, .fn = on_event, .data = op };
	op->opening = 0;
	/* the end of the list keeps it in deadline order: all have the same time */
	list_append(&o->waiting, op);
}

/* Into the stage that follows the current one; false if it failed to
 * begin (the opening is closed). */
static bool enter(struct ss_server *srv, struct request *op, int stage)
{
	char why[256] = "";

	op->opening = stage;
	enum step s = stages[stage - 1]->begin != NULL ? stages[stage - 1]->begin(srv, op, why, sizeof(why)) : STEP_DONE;
	if (s == STEP_REFUSED) {
		opening_drop(srv, op);
		return false;
	}
	if (s != STEP_DONE) {
		opening_failed(srv, op, why);
		return false;
	}
	return true;
}

enum opened opening_advance(struct ss_server *srv, struct request *op, uint32_t events)
{
	char why[256];

	if (events != 0)
		op->opening_progress_us = now_us();
	if (op->opening == 0 && !enter(srv, op, next_stage(srv, 0)))
		return OPENED_CLOSED;
	for (;;) {
		const struct opening_stage *st = stages[op->opening - 1];
		why[0] = '\0';
		enum step s = st->step(srv, op, events, why, sizeof(why));
		events = 0;
		switch (s) {
		case STEP_READ:
		case STEP_WRITE:
			if (loop_set(&srv->loop, &op->opening_watch, s == STEP_READ ? st->read_events : EPOLLOUT) < 0) {
				opening_failed(srv, op, strerror(errno));
				return OPENED_CLOSED;
			}
			return OPENED_WAIT;
		case STEP_FAIL:
			opening_failed(srv, op, why);
			return OPENED_CLOSED;
		case STEP_REFUSED:
			opening_drop(srv, op);
			return OPENED_CLOSED;
		case STEP_DONE:
			break;
		}
		int next = next_stage(srv, op->opening);
		if (next == 0) {
			opening_leave(srv, op);
			return OPENED_DONE;
		}
		if (!enter(srv, op, next))
			return OPENED_CLOSED;
	}
}

void opening_park(struct ss_server *srv, struct request *op)
{
	list_append(&srv->openings.parked, op);
}

struct request *opening_unpark(struct ss_server *srv)
{
	struct request *op = srv->openings.parked.next;

	if (op == &srv->openings.parked)
		return NULL;
	list_remove(op);
	return op;
}

void opening_hand_over(struct ss_server *srv, struct request *op, struct request *req)
{
	struct openings *o = &srv->openings;

	req->fd = op->fd;
	memcpy(&req->peer, &op->peer, sizeof(req->peer));
	req->peer_len = op->peer_len;
	memcpy(&req->local, &op->local, sizeof(req->local));
	req->has_local = op->has_local;
	req->ip = op->ip;
	req->ip_counted = op->ip_counted;
	req->tls = op->tls;
	op->fd = -1;
	op->tls = NULL;
	op->ip_counted = false;
	op->opening = 0;
	op->next = o->free_list;
	o->free_list = op;
	o->in_use--;
}

int64_t openings_deadlines(struct ss_server *srv, int64_t now)
{
	struct openings *o = &srv->openings;

	while (o->waiting.next != &o->waiting) {
		struct request *op = o->waiting.next;
		if (op->opening_deadline > now)
			return op->opening_deadline;
		char why[96];
		snprintf(why, sizeof(why), "no %s within %g s", stages[op->opening - 1]->name,
		         (double)o->timeout_us / 1e6);
		opening_failed(srv, op, why);
	}
	return INT64_MAX;
}

void openings_close(struct ss_server *srv)
{
	struct openings *o = &srv->openings;
	struct request *op;

	while (o->waiting.next != &o->waiting)
		opening_drop(srv, o->waiting.next);
	while ((op = opening_unpark(srv)) != NULL)
		opening_release(srv, op);
}
