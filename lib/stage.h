/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An opening stage: one step of a connection's opening (opening.h), before
 * its handler may run.  Each stage is one entry, in a file of its own
 * (stage_proxy.c, admission.c's stage_admission, stage_tls.c), listed in
 * opening.c's table, which drives them.
 */
#ifndef SS_STAGE_H
#define SS_STAGE_H

#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct request;
struct view;

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
	bool (*wanted)(const struct view *v);
	/* Start it on the connection (NULL: nothing to start): STEP_DONE, or
	 * STEP_FAIL with why, or STEP_REFUSED. */
	enum step (*begin)(struct view *v, struct request *req, char *why, size_t size);
	/* Go as far as the connection lets it; events are the loop's (0 on
	 * entry).  why says what failed. */
	enum step (*step)(struct view *v, struct request *req, uint32_t events, char *why, size_t size);
	/* Once the request is taken: the handler's variables this stage has
	 * learnt (NULL: none). */
	void (*describe)(struct view *v, struct request *req);
};

extern const struct opening_stage stage_proxy, stage_admission, stage_tls, stage_ws;

#endif
