/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Hand-back: how threads of a mode (fork mode's spawners, thread mode's
 * workers) hand requests back to the event loop.  A thread pushes an item;
 * the loop is woken through an eventfd (once for however many came) and
 * takes them all, oldest first.  Items are nodes embedded in the mode's own
 * per-slot state.
 */
#ifndef SS_HANDBACK_H
#define SS_HANDBACK_H

#include "loop.h"

#include <pthread.h>

struct handback_node {
	struct handback_node *next;
};

struct handback {
	pthread_mutex_t lock;
	struct handback_node *list; /* newest first */
	int event_fd;
	struct watch watch;
};

/* Watch for hand-backs in loop: fn (ctx: the loop's, w->data: data) is
 * called when some have come.  0, or -1 with errno. */
int handback_open(struct handback *h, struct loop *loop, watch_fn *fn, void *data);
/* From any thread. */
void handback_push(struct handback *h, struct handback_node *n);
/* In the loop: every node handed back so far, oldest first (NULL: none). */
struct handback_node *handback_take(struct handback *h);
void handback_close(struct handback *h);

#endif
