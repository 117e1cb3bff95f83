/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The accept path: take what waits on the listening socket, admit it (access
 * rules, per-IP limits) and hand it to the mode.  A connection may have to
 * open first (a PROXY protocol header, a TLS handshake): it then waits as an
 * opening (opening.h), holding no request slot, watched by the event loop
 * and never blocking it, until --opening-timeout.
 */
#ifndef SS_ACCEPT_H
#define SS_ACCEPT_H

#include <stdint.h>

struct view;

#include <stdbool.h>

/* Whether the listener should be watched: room for one more. */
bool accept_room(const struct view *v);
/* Take up to a batch of requests; stops early when there is no room, the
 * descriptors have run out (then accepting pauses a while) or
 * --max-requests is reached. */
void accept_requests(struct view *v);
/* Opened connections waiting for a request slot: as many as are free now. */
void accept_parked(struct view *v);
#endif
