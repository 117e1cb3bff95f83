/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The relay: what stands between a client's connection and its handler's
 * pipes when the handler cannot have the socket itself (TLS, and the
 * filters to come).  It is a state of the event loop, in every mode: two
 * directions, each a bounded buffer, non-blocking on both sides, with
 * back-pressure through the loop's interest sets; half-closes go through
 * each way (the client's end of input closes the handler's stdin; the end of
 * the handler's stdout, once what it wrote has gone out, closes the client's
 * side: close_notify for TLS, then a TCP FIN).  Nothing in it blocks, so
 * --timeout, the drain and SIGTERM reach every relayed connection.
 *
 * The client's side is a stack of layers over the connection: the bottom one
 * does the I/O on the socket (today TLS through OpenSSL, which lets the
 * kernel do the cipher where it offers kTLS); a layer above transforms what
 * passes (a trace, faults, WebSocket framing) and calls the one below.  Each
 * layer says what it waits for: the socket's readiness (wants), or a time
 * (wake_at).
 */
#ifndef SS_RELAY_H
#define SS_RELAY_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct layer;

struct layer_ops {
	const char *name;
	/* Bytes from the client: > 0, 0 at its end of input, or -1 with errno
	 * (EAGAIN: wants or wake_at says until when). */
	ssize_t (*read)(struct layer *l, void *buf, size_t size);
	/* Bytes to the client, as read() returns. */
	ssize_t (*write)(struct layer *l, const void *buf, size_t size);
	/* The end of what goes to the client (close_notify, then the socket's
	 * half-close): 0 once done, or -1 with errno (EAGAIN: wait). */
	int (*close)(struct layer *l);
	/* Where the kernel does the cipher (kTLS) and nothing is held above it:
	 * move bytes straight between the connection and a pipe, with no copy
	 * through sockserve (splice(2)), as read() and write() return; -1 with
	 * EOPNOTSUPP when it cannot now (then read() and write() serve).
	 * NULL: never. */
	ssize_t (*splice_in)(struct layer *l, int to, size_t size);
	ssize_t (*splice_out)(struct layer *l, int from, size_t size);
	/* What a layer holds back toward the client (a delay, a bandwidth
	 * cap, a WebSocket's pong): send what is due, as write() returns; 0
	 * when it holds nothing more.  The relay calls it on the top layer on
	 * every run, so that a layer waiting for a time is served with nothing
	 * new to write: a layer's flush first flushes those below it
	 * (layer_flush(l->below)).  NULL: it holds nothing (layer_flush()
	 * passes to the layers below). */
	ssize_t (*flush)(struct layer *l);
};

struct layer {
	const struct layer_ops *ops;
	struct layer *below;       /* NULL: the bottom, on the socket itself */
	int fd;                    /* the connection */
	void *state;
	/* After EAGAIN: the socket events it waits for (EPOLLIN, EPOLLOUT), or
	 * a time (0: none). */
	uint32_t wants;
	int64_t wake_at;
	/* The bottom (layer_socket): a read found the socket empty, and it
	 * reads again only once the loop has said it is readable. */
	bool drained;
};

/* A layer's flush(), or the first one below it that has one: 0 if none. */
ssize_t layer_flush(struct layer *l);
/* After one below it returned EAGAIN: wait for what that one waits for. */
void layer_wait_below(struct layer *l);
/* A plain connection as the bottom layer: recv(2), send(2) and a shutdown
 * of the writing side, never blocking (the socket itself may be). */
void layer_socket(struct layer *l, int fd);

/* Called once, in the loop, when what the handler wrote has all gone to
 * the client and the client's side is closed (or the client is gone):
 * loop_ctx is the loop's, data the relay's. */
typedef void relay_done_fn(void *loop_ctx, void *data);

struct relay;

/* A relay's memory (kept for a request slot). */
struct relay *relay_new(void);
void relay_free(struct relay *r);
/* Join client (the top layer) to the handler's stdin (to) and stdout (from),
 * which the relay owns from now on and closes.  0, or -1 with errno. */
int relay_start(struct relay *r, struct loop *loop, struct layer *client, int to, int from,
                relay_done_fn *done, void *data);
/* Stop, close the pipes and leave the loop (the connection stays open). */
void relay_stop(struct relay *r);
/* Run it now (what a layer waits for has happened elsewhere: the handler
 * was reaped); its done callback may be called from here. */
void relay_poke(struct relay *r);
/* Whether it runs, and whether what the handler wrote has been delivered
 * (or cannot be: the client is gone). */
bool relay_running(const struct relay *r);
bool relay_delivered(const struct relay *r);
/* When bytes last went to the client (or the relay started). */
int64_t relay_progress_us(const struct relay *r);

#endif
