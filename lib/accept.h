/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The accept path: take what waits on the listening socket, admit it (access
 * rules, per-IP limits) and hand it to the mode.
 */
#ifndef SS_ACCEPT_H
#define SS_ACCEPT_H

struct ss_server;

/* Take up to a batch of requests; stops early when every slot is busy, the
 * descriptors have run out (then accepting pauses a while) or
 * --max-requests is reached. */
void accept_requests(struct ss_server *srv);

#endif
