/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The state of one server: server.c's, and workers.c's (which forks and
 * supervises servers).  No other file includes this: the layers below are
 * handed the view (view.h).  Its parts belong to their files (request.c,
 * opening.c, admission.c, counts.h, notify.c, each axis its context), which
 * alone change them.
 */
#ifndef SS_SERVER_H
#define SS_SERVER_H

#include "admission.h"
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
#include "view.h"

struct ss_server {
	struct ss_config cfg;
	struct view view;             /* what the layers below are handed */
	struct listening sock;
	struct logger log;
	struct spawn_plan plan;
	struct env_template env;
	struct loop loop;
	struct counts counts;         /* the status's numbers (count() adds) */
	struct requests requests;     /* request.c's */
	struct openings openings;     /* opening.c's */
	struct admission admission;   /* admission.c's */
	struct identity identity;     /* --user, --group */
	struct pid_file pidfile;      /* --pidfile, held while serving */
	struct notifier notify;       /* NOTIFY_SOCKET, and the STATUS= it last sent */
	int worker;                   /* --workers: this process's number (1...); 0: the
	                                 only server, or the workers' supervisor */
	/* draining (view.draining): the end of --grace, and whether the
	 * handlers were killed at it */
	int64_t grace_deadline;       /* INT64_MAX: wait for the handlers however long */
	bool killed;
};

#endif
