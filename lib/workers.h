/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --workers: several processes serve the one socket; the first supervises.
 */
#ifndef SS_WORKERS_H
#define SS_WORKERS_H

#include "sockserve.h"

/* Fork --workers servers from srv (bound, ready) and supervise them until
 * they have all ended after a stop: 0, or -1 with err.  In a worker it
 * returns 1 at once, and the worker goes on to serve (ss_server_run), once it
 * has opened an event loop of its own. */
int workers_run(struct ss_server *srv, struct ss_error *err);

#endif
