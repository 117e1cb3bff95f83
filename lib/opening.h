/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Openings: connections accepted but not yet handed to a handler, while they
 * go through their stages (a PROXY header, admission, a TLS handshake; a
 * table of entries, one file each).  Openings take no --max-children place:
 * they have a pool of their own (--max-openings) and one deadline for the
 * whole opening (--opening-timeout).  When the pool is full, a new
 * connection takes the place of the opening that has waited longest without
 * progress, so a steady stream of silent connections cannot lock real
 * clients out.  An opening that is done but finds every handler place taken
 * waits, parked, for one.
 */
#ifndef SS_OPENING_H
#define SS_OPENING_H

#include "log.h"
#include "request.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ss_server;

/* What a stage's step found. */
enum step {
	STEP_DONE,     /* on to the next stage */
	STEP_READ,     /* wait until the connection is readable */
	STEP_WRITE,    /* ... writable */
	STEP_FAIL,     /* it did not open: why says how (logged as the stage's failure) */
	STEP_REFUSED,  /* refused, already logged and counted: close it */
};

/* One stage of an opening.  A new stage is one entry (its own file) in the
 * table of opening.c, its option, and the docs. */
struct opening_stage {
	const char *name;          /* what is awaited, for the deadline's message: "TLS handshake" */
	const char *fail_event;    /* the log event of a failure: "tls_failed" */
	enum log_kind kind;        /* its rate limit */
	uint32_t read_events;      /* what STEP_READ watches for (edge-triggered or not) */
	/* Whether this server has the stage. */
	bool (*wanted)(const struct ss_server *srv);
	/* Start it on the connection (NULL: nothing to start): STEP_DONE, or
	 * STEP_FAIL with why, or STEP_REFUSED. */
	enum step (*begin)(struct ss_server *srv, struct request *req, char *why, size_t size);
	/* Go as far as the connection lets it; events are the loop's (0 on
	 * entry).  why says what failed. */
	enum step (*step)(struct ss_server *srv, struct request *req, uint32_t events, char *why, size_t size);
};

extern const struct opening_stage stage_proxy, stage_admission, stage_tls;

/* The openings of one server (opening.c's alone). */
struct openings {
	struct request *pool;      /* max of them, bare: storage for the connection only */
	struct request *free_list;
	unsigned max, made, in_use;
	struct request waiting;    /* sentinel: in their stages, oldest first (deadline order) */
	struct request parked;     /* sentinel: opened, waiting for a handler place */
	int64_t timeout_us;
	bool any;                  /* the server has a stage besides admission */
	const struct opening_stage *first;
};

/* What opening_advance() did with an opening. */
enum opened { OPENED_WAIT, OPENED_DONE, OPENED_CLOSED };

int openings_init(struct ss_server *srv, unsigned max, int64_t timeout_us, struct ss_error *err);
void openings_free(struct ss_server *srv);
/* The server's connections open in stages (PROXY, TLS): they are taken
 * into openings, not straight into requests. */
bool openings_used(const struct ss_server *srv);
/* A new connection could be taken: a free opening, or one to evict. */
bool openings_room(const struct ss_server *srv);
/* An opening for a new connection (one past the bound, if need be: see
 * opening_start); NULL when every opening is parked. */
struct request *opening_slot(struct ss_server *srv);
/* The connection in it was accepted: its deadline starts, and its stages.
 * Past the bound, the opening that has waited longest without progress is
 * closed (logged, counted) to make room. */
void opening_start(struct ss_server *srv, struct request *op, watch_fn *on_event);
/* Take it through its stages as far as it goes now; the loop's events.
 * DONE: every stage passed, off the list (hand it on, or park it). */
enum opened opening_advance(struct ss_server *srv, struct request *op, uint32_t events);
/* Done, with no handler place free: wait for one. */
void opening_park(struct ss_server *srv, struct request *op);
/* The parked opening waiting longest, off the parked list; NULL: none. */
struct request *opening_unpark(struct ss_server *srv);
/* Move what the connection holds into a request, and free the opening. */
void opening_hand_over(struct ss_server *srv, struct request *op, struct request *req);
/* Close it (unlogged) and free it. */
void opening_release(struct ss_server *srv, struct request *op);
/* Close the openings whose time is up; the next deadline, INT64_MAX: none. */
int64_t openings_deadlines(struct ss_server *srv, int64_t now);
/* Close every opening, parked ones too. */
void openings_close(struct ss_server *srv);

#endif
