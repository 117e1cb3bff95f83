/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Requests handed back to the event loop by other threads (handback.h).
 */
#include "handback.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int handback_open(struct handback *h, struct loop *loop, watch_fn *fn, void *data)
{
	pthread_mutex_init(&h->lock, NULL);
	h->list = NULL;
	h->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->watch = (struct watch){ .fd = h->event_fd, .fn = fn, .data = data };
	return h->event_fd < 0 ? -1 : loop_set(loop, &h->watch, EPOLLIN);
}

void handback_push(struct handback *h, struct handback_node *n)
{
	uint64_t one = 1;

	pthread_mutex_lock(&h->lock);
	bool first = h->list == NULL;
	n->next = h->list;
	h->list = n;
	pthread_mutex_unlock(&h->lock);
	/* The loop takes the whole list once woken: only the first of a batch
	 * wakes it (cannot fail short of a counter overflow). */
	if (first)
		(void)!write(h->event_fd, &one, sizeof(one));
}

struct handback_node *handback_take(struct handback *h)
{
	struct handback_node *list, *oldest_first = NULL;
	uint64_t count;

	if (read(h->event_fd, &count, sizeof(count)) < 0)
		return NULL;
	pthread_mutex_lock(&h->lock);
	list = h->list;
	h->list = NULL;
	pthread_mutex_unlock(&h->lock);
	while (list != NULL) {
		struct handback_node *next = list->next;
		list->next = oldest_first;
		oldest_first = list;
		list = next;
	}
	return oldest_first;
}

void handback_close(struct handback *h)
{
	if (h->event_fd >= 0)
		close(h->event_fd);
	h->event_fd = -1;
	pthread_mutex_destroy(&h->lock);
}
