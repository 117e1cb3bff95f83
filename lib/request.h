/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Requests: a fixed table of slots sized from the concurrency limit, set up
 * on first use, so the steady state does not allocate; the in-progress list
 * in start order; each request's life from arrival to release, and its
 * --timeout deadlines.
 */
#ifndef SS_REQUEST_H
#define SS_REQUEST_H

#include "acl.h"
#include "rules.h"
#include "addr.h"
#include "env.h"
#include "loop.h"
#include "proxy.h"
#include "tls.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct view;
struct ws_conn;

struct request {
	struct request *prev, *next; /* the in-progress list (start order), the opening list
	                                (deadline order) or the free list */
	int fd;                      /* a connection while sockserve holds it; -1 */
	pid_t pid;                   /* the handler, 0 before it runs */
	int64_t start_us;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char remote[ADDR_TEXT_MAX]; /* the client, for logs */
	long peer_pid, peer_uid;    /* a unix peer's credentials; peer_pid 0: none */
	int64_t spawn_us;           /* how long starting the handler took */
	struct ip_key ip;           /* the client's IP, when counted for --max-per-ip */
	struct rule_match rule;     /* the --rules line that admitted it (its variables) */
	bool ip_counted;
	struct sockaddr_storage local; /* the address the client reached, when known */
	bool has_local;
	bool timed_out;             /* sent SIGTERM by --timeout at term_us */
	bool kill_sent;             /* then SIGKILL */
	int64_t term_us;
	bool exited;                /* the handler ended with wstatus */
	int wstatus;
	struct request *retry_next; /* the deferred list: waiting to spawn again */
	/* Opening: the connection before its handler may run (accept.c). */
	int opening;                /* its stage in opening.c's table, + 1; 0: none */
	struct watch opening_watch;
	int64_t opening_deadline;
	int64_t opening_progress_us; /* when the client last did something */
	struct proxy_reader proxy;  /* --proxy-protocol */
	struct tls_conn *tls;       /* TLS: from the handshake until the handler's end */
	struct ws_conn *ws;         /* --ws: the upgrade read in the opening (the slot's,
	                               made on first use; traded at the hand-over) */
	struct relay *relay;        /* between the connection and the handler's pipes (the
	                               slot's, made on first use) */
	bool flushing;              /* the handler has ended; the relay still delivers what
	                               it wrote (on the flushing list) */
	uint64_t seq;               /* its number among the requests taken: 1, 2, ... */
	void *filter_ctx;           /* the filters' state for this slot (filter.c) */
	void *handler_ctx;          /* the handler's state for this slot */
	void *mode_ctx;             /* the mode's */
	struct env_block env;
};

/* A list of requests (prev and next) with a sentinel head: the in-progress
 * and flushing lists, and the openings' lists.  A request off every list has
 * prev NULL. */
static inline void request_list_init(struct request *head)
{
	head->next = head->prev = head;
}

static inline void request_list_append(struct request *head, struct request *r)
{
	r->prev = head->prev;
	r->next = head;
	head->prev->next = r;
	head->prev = r;
}

static inline void request_list_remove(struct request *r)
{
	r->prev->next = r->next;
	r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

/* The requests of one server (request.c's alone; others ask the functions
 * below). */
struct requests {
	unsigned limit;               /* requests in progress at once */
	struct request *slots;
	struct request *free_list;
	unsigned slots_used;          /* slots set up so far (the first ones) */
	struct request active;        /* sentinel of the in-progress list */
	unsigned active_count;
	struct request flushing;      /* sentinel: handler ended, output still going out */
	unsigned flushing_count;
	bool cut;                     /* the drain's end: nothing flushes any more */
	struct request *deferred, *deferred_tail; /* waiting to spawn again */
	int64_t retry_at;             /* when to try them (0: at once) */
	int64_t retry_backoff_us;     /* doubles while spawning keeps failing */
	uint64_t received;            /* requests taken: for --max-requests */
	int64_t last_activity_us;     /* a request arrived or ended: for --idle-timeout */
};

int requests_init(struct view *v, struct ss_error *err);
/* The most in progress at once; how many are; whether some wait to be
 * spawned again. */
unsigned requests_limit(const struct view *v);
unsigned requests_active(const struct view *v);
bool requests_waiting(const struct view *v);
/* --workers: this server has an n-th of the limit (rounded up). */
void requests_share(struct view *v, unsigned n);
/* The slots set up so far, and slot i of them (a mode's per-slot state). */
unsigned requests_made(const struct view *v);
struct request *requests_at(struct view *v, unsigned i);
void requests_free(struct view *v);
/* Requests taken so far (--max-requests); since when none has arrived or
 * ended (--idle-timeout), counted from now on by requests_touch(). */
uint64_t requests_received(const struct view *v);
int64_t requests_idle_since(const struct view *v);
void requests_touch(struct view *v);
/* A free slot: one released by an earlier request, or else one never used
 * yet, set up now.  NULL when all are in use, or (errno ENOMEM) when a new
 * one cannot be set up. */
struct request *request_slot(struct view *v);
/* Whether a request could be taken now. */
bool requests_room(const struct view *v);
/* --max-requests have been taken. */
bool requests_max_reached(const struct view *v);
/* The slot from request_slot() holds a connection or datagram now. */
void request_hold(struct view *v, struct request *req);
/* Its request was admitted and goes to a handler: counted, timed. */
void request_take(struct view *v, struct request *req);
/* Release what a held slot has (the handler's finish closes a connection)
 * and free it: the end of every request, and of one never taken. */
void request_release(struct view *v, struct request *req);
/* Its relay has delivered what the handler wrote: a request that was
 * flushing ends (called by the relay's owner, in the loop). */
void request_flushed(struct view *v, struct request *req);
/* The drain's end: requests still flushing end now, and from now on a
 * handler's end ends its request at once. */
void requests_cut(struct view *v);

/* Add a request to the in-progress list once its handler runs, and log it. */
void request_started(struct view *v, struct request *req);
/* The two halves of that: thread mode tracks at dispatch; its worker logs. */
void request_track(struct view *v, struct request *req);
void request_log_start(struct view *v, const struct request *req);
/* The handler ended with wait status `wstatus`: log, count, free the slot. */
void request_end(struct view *v, struct request *req, int wstatus);
/* The request could not be run (errno value `error`): log, count, free it. */
void request_failed(struct view *v, struct request *req, int error);
/* Its handler could not start (errno value `error`): when processes or
 * memory ran out (EAGAIN, ENOMEM) the request waits and is dispatched again
 * after a back-off (at once when a running request ends); else it fails. */
void request_not_started(struct view *v, struct request *req, int error);
/* Dispatch again the deferred requests that are due; the next retry. */
int64_t requests_retry(struct view *v, int64_t now);
/* Give up on the deferred requests (the drain is over): they fail. */
void requests_drop_deferred(struct view *v);
/* Find the in-progress request whose handler is `pid`. */
struct request *request_by_pid(struct view *v, pid_t pid);
/* Send sig to every running handler's process group. */
void requests_signal(struct view *v, int sig);
/* --timeout: act on the deadlines that are due at now; the next one. */
int64_t requests_deadlines(struct view *v, int64_t now);

#endif
