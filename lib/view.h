/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the layers under server.c see of a server: the view.  server.c owns
 * the server (server.h, which only it and workers.c include) and fills the
 * view in once; the axes, the request table, the openings, admission and
 * the accept path are handed the view, never the server.  Through it they
 * reach the configuration, the loop, the log, the spawn plan, the
 * environment, the counts, the listening socket, the three axes with their
 * contexts, and the parts that belong to one file each (requests: request.c,
 * openings: opening.c, admission: admission.c), which they change only
 * through that file's functions.  What is server.c's alone (the drain's
 * deadlines, the pid file, privileges, systemd's notifier, --workers) is
 * not here.
 */
#ifndef SS_VIEW_H
#define SS_VIEW_H

#include "addr.h"
#include "loop.h"
#include "sockserve.h"

#include <stdbool.h>
#include <stdint.h>

struct admission;
struct counts;
struct env_template;
struct filters;
struct handler;
struct logger;
struct mode;
struct openings;
struct requests;
struct spawn_plan;
struct transport;

/* The listening socket: server.c binds or adopts it, the transport fills in
 * the address it learnt when bound, the accept path pauses it. */
struct listening {
	int fd;
	bool handed;                   /* handed in (fd:N, systemd), not bound here */
	struct address addr;
	char addr_text[ADDR_TEXT_MAX]; /* as bound */
	const char *proto;             /* "TCP", "UDP" or "UNIX" */
	struct watch watch;
	/* Descriptors ran out: out of the poll set until then, or until a
	 * request ends (accept.c sets it, request.c clears it). */
	int64_t paused_until;
	int64_t starved_logged_us;     /* when that was last logged */
};

struct view {
	const struct ss_config *cfg;
	struct logger *log;
	struct loop *loop;
	const struct spawn_plan *plan;
	const struct env_template *env;
	struct counts *counts;
	struct listening *sock;
	/* the axes that serve, and each one's server-wide state */
	const struct transport *transport;
	const struct handler *handler;
	const struct mode *mode;
	void *transport_ctx, *handler_ctx, *mode_ctx;
	/* parts with an owner of their own */
	struct requests *requests;
	struct openings *openings;
	struct admission *admission;
	struct filters *filters;       /* filter.c's: --trace, --record, the faults (NULL: none) */
	bool draining;                 /* server.c's: no more requests are taken */
};

#endif
