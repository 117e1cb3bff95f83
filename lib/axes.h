/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The three axes of a server, after Python's socketserver, each a table of
 * function pointers with one implementation per file:
 *
 *   transport_*.c  what differs between address families (inet, unix)
 *   handler_*.c    what differs between socket types (stream, datagram)
 *   mode_*.c       how requests run side by side (sync/fork, thread)
 *
 * Each axis owns its state: a server-wide context (ctx_size bytes, zeroed,
 * made by the server) and, for handlers and modes, one per request slot that
 * the axis itself makes on the slot's first use.  Questions of family or
 * socket type are answered here, by the tables, never elsewhere.
 */
#ifndef SS_AXES_H
#define SS_AXES_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct view;
struct request;
struct spawn_child;

/* Transport: what differs between address families. */
struct transport {
	const char *name;
	size_t ctx_size;          /* its server-wide state */
	/* Clients have IP addresses: --allow, --deny and --max-per-ip apply. */
	bool client_ips;
	/* The socket types it serves, as bits: 1 << SOCK_STREAM, ... */
	unsigned types;
	/* PROTO for the handler, or NULL: the handler's (TCP, UDP). */
	const char *proto;
	/* Before bind: e.g. replace a stale unix socket path. */
	int (*prepare)(struct view *v, struct ss_error *err);
	/* Socket options before bind. */
	int (*configure)(struct view *v, int fd, struct ss_error *err);
	/* After bind: learn the bound address, note what the server owns. */
	void (*bound)(struct view *v);
	/* A connection was accepted: its options (--nodelay). May be NULL. */
	void (*accepted)(struct view *v, struct request *req);
	/* Describe the peer (req->remote) and set the connection variables. */
	void (*describe)(struct view *v, struct request *req);
	/* Datagrams: ask the socket for each one's destination address, read
	 * it into req->local, and send a reply from it.  NULL: the family has
	 * none to give. */
	int (*packet_info_on)(struct view *v, int fd);
	void (*packet_info)(struct view *v, struct request *req, struct msghdr *msg);
	void (*reply_from)(const struct request *req, struct msghdr *msg, void *control, size_t size);
	/* On shutdown: remove what the server created. */
	void (*cleanup)(struct view *v);
};

/* What a handler's receive found on the listening socket. */
enum receive {
	RECEIVE_NONE,   /* nothing waiting */
	RECEIVE_OK,     /* a request */
	RECEIVE_SKIP,   /* something taken and let go (a client gone, a datagram dropped) */
	RECEIVE_ERROR,  /* failed with errno */
};

/* Handler: what differs between socket types. */
struct handler {
	const char *name;
	size_t ctx_size;          /* its server-wide state (may be 0) */
	const char *var_prefix;   /* "TCP" or "UDP" for the inet variables */
	/* Connections: listen(2), and the listener closes at once on shutdown.
	 * Without (datagrams), replies go out from the socket while handlers
	 * drain, so it stays open. */
	bool connections;
	/* The request is the listening socket itself (--wait): it stays in
	 * blocking mode, for COMMAND, and a request has no peer. */
	bool hands_over;
	/* A slot's state, on its first use and at the end. */
	int (*slot_open)(struct view *v, struct request *req);
	void (*slot_close)(struct view *v, struct request *req);
	/* Take the next request off the listening socket. */
	enum receive (*receive)(struct view *v, struct request *req);
	/* In the loop, once the request is admitted and before its mode runs
	 * it: what the handler sets up there (a relay; NULL: nothing).  0 or an
	 * errno value (the request then fails). */
	int (*prepare)(struct view *v, struct request *req);
	/* Start the command wired to the request (async: see spawn_handler),
	 * in the loop or in another thread (a mode's helper or worker): it
	 * touches nothing but the request.  0 or an errno value. */
	int (*spawn)(struct view *v, struct request *req, struct spawn_child *async, pid_t *pid);
	/* Sync and fork modes: have the event loop feed and collect the running
	 * handler (NULL: nothing to do). */
	void (*watch)(struct view *v, struct request *req);
	/* Thread mode, in the request's worker: feed and collect the handler
	 * with blocking waits until it has exited, unreaped (NULL: nothing to
	 * do). */
	void (*pump)(struct view *v, struct request *req, pid_t pid);
	/* The handler has ended (req->exited) or never ran: send what is due
	 * and release what the request holds. */
	void (*finish)(struct view *v, struct request *req);
	/* Socket options the handler needs on the listener. */
	int (*configure)(struct view *v, int fd);
	/* Until when the listener stays out of the poll set, after now; 0:
	 * it need not (NULL: never). */
	int64_t (*paused)(struct view *v, int64_t now);
	/* Its server-wide set-up, before privileges are dropped, and its
	 * release (NULL: none). */
	int (*open)(struct view *v, struct ss_error *err);
	void (*close)(struct view *v);
	/* Once listening: what it says about itself (NULL: nothing). */
	void (*announce)(struct view *v);
};

/* Mode: how requests run side by side. */
struct mode {
	const char *name;
	unsigned (*limit)(const struct ss_config *cfg);
	/* Once the event loop is open: what the mode needs (may be NULL). */
	int (*open)(struct view *v, struct ss_error *err);
	/* Run a received request; it ends through request_end(). */
	void (*dispatch)(struct view *v, struct request *req);
	/* SIGCHLD arrived (NULL: the mode does not reap from the loop, and
	 * SIGCHLD is left alone). */
	void (*children)(struct view *v);
	/* Send sig to the process group of a request's handler, if it has one
	 * that is not yet reaped; returns the handler's pid (0: not yet run). */
	pid_t (*signal)(struct view *v, struct request *req, int sig);
	/* A slot's state, at the end (may be NULL). */
	void (*slot_close)(struct view *v, struct request *req);
	/* Release what open() set up (may be NULL). */
	void (*close)(struct view *v);
};

/* The registry: NULL when there is none of that kind. */
const struct transport *transport_for(int family);
/* tls: connections are TLS; relay: stream connections go through a relay
 * (the filters, filter.h). */
const struct handler *handler_for(int socktype, bool wait, bool tls, bool relay);
const struct mode *mode_for(enum ss_mode mode);

#endif
