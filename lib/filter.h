/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Filters, for people who test network clients: what passes between a
 * client and its handler is shown (--trace), kept (--record) or disturbed
 * (--delay, --throttle, --slice, --cut-after, --stall-after; for datagrams
 * --drop and --duplicate).  They come in kinds, a table in filter.c (a new
 * kind is a new entry there and a file of its own):
 *
 *   filter_faults.c   the faults (top: what the handler writes meets them first)
 *   filter_trace.c    the trace (a tap: it sees the bytes as they reach the wire)
 *   filter_record.c   the record (a tap)
 *
 * On a stream each kind given is a layer of the relay (relay.h), stacked in
 * that order over the connection's bottom layer (the socket, or TLS: the
 * filters then see the plaintext); a tap kind only says what it saw, and
 * filter.c makes its layer.  On datagrams each kind sees the packet and the
 * reply.  Without any of them nothing is relayed: a stream handler has the
 * socket itself.
 */
#ifndef SS_FILTER_H
#define SS_FILTER_H

#include "error.h"
#include "sockserve.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct layer;
struct msghdr;
struct request;
struct view;

/* How a datagram reply goes out: copies (0: dropped), after a delay. */
struct reply_plan {
	unsigned copies;
	int64_t delay_us;
};

/* A direction, as the trace writes it: '<' from the client, '>' to it. */
enum { FROM_CLIENT = '<', TO_CLIENT = '>' };

struct filter_kind {
	const char *name;
	/* Given on the command line (stream: whether its layer is needed). */
	bool (*wanted)(const struct ss_config *cfg);
	size_t ctx_size;   /* its server-wide state */
	size_t slot_size;  /* its state per request slot */
	/* Server-wide, before privileges are dropped; what it says once
	 * listening; the end (NULL: nothing). */
	int (*open)(void *ctx, struct view *v, struct ss_error *err);
	void (*announce)(void *ctx, struct view *v);
	void (*close)(void *ctx, struct view *v);
	/* A request begins: a stream's (in the loop, before its handler runs)
	 * or a datagram's (with its packet). */
	void (*start)(void *ctx, void *slot, struct view *v, struct request *req);
	/* A layer of its own (NULL: a tap, told what passes through seen()). */
	const struct layer_ops *ops;
	/* A tap: bytes that passed one way (len 0: that way's end). */
	void (*seen)(void *ctx, void *slot, struct request *req, int dir, const void *data, size_t len);
	/* A datagram's reply: the plan may change (faults), and the kinds
	 * below see it with its plan. */
	void (*reply)(void *ctx, void *slot, struct view *v, struct request *req, const void *data, size_t len,
	              struct reply_plan *plan);
	/* The request has ended (req->exited, req->wstatus). */
	void (*end)(void *ctx, void *slot, struct view *v, struct request *req);
	/* What a slot's state holds, freed with the slot (NULL: nothing). */
	void (*slot_free)(void *slot);
};

/* What a kind's layer knows (its layer's state). */
struct filter_layer {
	const struct filter_kind *kind;
	void *ctx, *slot;
	struct view *v;
	struct request *req;
};

extern const struct filter_kind filter_faults, filter_trace, filter_record, filter_ws;
/* The faults' queue of datagram replies sent later (--delay). */
void faults_defer(void *ctx, struct view *v, const struct request *req, const struct msghdr *msg,
                  const struct reply_plan *plan);

/* Whether a stream connection is relayed for them. */
bool filters_on_stream(const struct ss_config *cfg);
/* The option given first that only applies to stream sockets, to datagram
 * sockets (filter_faults.c's), or of them all (NULL: none). */
const char *faults_stream_option(const struct ss_config *cfg);
const char *faults_dgram_option(const struct ss_config *cfg);
const char *filters_any_option(const struct ss_config *cfg);

/* The kinds given, set up (v->filters; NULL when none is given). */
int filters_open(struct view *v, struct ss_error *err);
void filters_announce(struct view *v);
void filters_close(struct view *v);
/* A stream request's layers over bottom (NULL: a plain connection on
 * req->fd): the top one, for the relay; NULL (errno) if out of memory. */
struct layer *filters_stack(struct view *v, struct request *req, struct layer *bottom);
/* A datagram request: its packet, in the loop, once admitted. */
void filters_packet(struct view *v, struct request *req, const void *data, size_t len);
/* Its reply (data, len): how it goes out. */
void filters_reply(struct view *v, struct request *req, const void *data, size_t len, struct reply_plan *plan);
/* Send msg on the listening socket when the plan says. */
void filters_defer(struct view *v, const struct request *req, const struct msghdr *msg,
                   const struct reply_plan *plan);
/* The request's end, and its slot's. */
void filters_end(struct view *v, struct request *req);
void filters_slot_close(struct view *v, struct request *req);

#endif
