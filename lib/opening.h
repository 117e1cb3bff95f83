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

#include "request.h"
#include "stage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct view;

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

int openings_init(struct view *v, unsigned max, int64_t timeout_us, struct ss_error *err);
void openings_free(struct view *v);
/* How many connections the openings may hold at once (the bound, and one
 * being evicted for): 0 when the server's connections do not open. */
unsigned openings_capacity(const struct view *v);
/* --workers: this server has an n-th of the bound (rounded up). */
void openings_share(struct view *v, unsigned n);
/* The server's connections open in stages (PROXY, TLS): they are taken
 * into openings, not straight into requests. */
bool openings_used(const struct view *v);
/* A new connection could be taken: a free opening, or one to evict. */
bool openings_room(const struct view *v);
/* An opening for a new connection (one past the bound, if need be: see
 * opening_start); NULL when every opening is parked. */
struct request *opening_slot(struct view *v);
/* The connection in it was accepted: its deadline starts, and its stages.
 * Past the bound, the opening that has waited longest without progress is
 * closed (logged, counted) to make room. */
void opening_start(struct view *v, struct request *op, watch_fn *on_event);
/* Take it through its stages as far as it goes now; the loop's events.
 * DONE: every stage passed, off the list (hand it on, or park it). */
enum opened opening_advance(struct view *v, struct request *op, uint32_t events);
/* Done, with no handler place free: wait for one. */
void opening_park(struct view *v, struct request *op);
/* The parked opening waiting longest, off the parked list; NULL: none. */
struct request *opening_unpark(struct view *v);
/* Move what the connection holds into a request, and free the opening. */
void opening_hand_over(struct view *v, struct request *op, struct request *req);
/* Close it (unlogged) and free it. */
void opening_release(struct view *v, struct request *op);
/* Close the openings whose time is up; the next deadline, INT64_MAX: none. */
int64_t openings_deadlines(struct view *v, int64_t now);
/* A request taken: the variables its opening's stages learnt (the TLS
 * session, the WebSocket upgrade's request) join its environment. */
void openings_describe(struct view *v, struct request *req);
/* Close every opening, parked ones too. */
void openings_close(struct view *v);

#endif
