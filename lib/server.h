/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The state of one server, which the axes and the request table read.  No
 * function of server.c is declared here: the layers below never call up.
 */
#ifndef SS_SERVER_H
#define SS_SERVER_H

#include "acl.h"
#include "addr.h"
#include "axes.h"
#include "counts.h"
#include "env.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "opening.h"
#include "pidfile.h"
#include "privileges.h"
#include "request.h"
#include "spawn.h"
#include "tls.h"

/* The counts as one line of text (SIGUSR1, systemd's STATUS=). */
#define STATUS_TEXT_MAX 192

struct ss_server {
	struct ss_config cfg;
	const struct transport *transport;
	const struct handler *handler;
	const struct mode *mode;
	void *transport_ctx;          /* each axis's server-wide state */
	void *handler_ctx;
	void *mode_ctx;

	struct address addr;
	char addr_text[ADDR_TEXT_MAX]; /* as bound */
	const char *proto;             /* "TCP", "UDP" or "UNIX" */
	int listen_fd;
	bool handed;                   /* the socket was handed in (fd:N, systemd) */
	struct watch listener;

	struct logger log;
	struct spawn_plan plan;
	struct env_template env;
	struct loop loop;

	struct requests requests;     /* request.c's */
	struct openings openings;     /* connections opening (opening.c) */
	struct ip_counts per_ip;      /* --max-per-ip */
	struct rate_table rate;       /* --rate */
	struct acl acl;               /* --allow, --deny */
	struct identity identity;     /* --user, --group */
	struct pid_file pidfile;      /* --pidfile, held while serving */
	int64_t accept_paused_until;  /* descriptor exhaustion back-off */
	int64_t starved_logged_us;    /* when running out of descriptors was last logged */

	int worker;                   /* --workers: this process's number (1...); 0: the
	                                 only server, or the workers' supervisor */

	bool draining;
	bool killed;
	int64_t grace_deadline;     /* INT64_MAX: wait for the handlers however long */
	int64_t last_activity_us;   /* a request arrived or ended: for --idle-timeout */
	uint64_t received;          /* requests taken: for --max-requests */

	struct counts counts;         /* the status's numbers */

	struct notifier notify;       /* NOTIFY_SOCKET */
	int64_t status_sent_us;       /* when STATUS= last went */
	char status_sent[STATUS_TEXT_MAX]; /* what it told */
};

#endif
