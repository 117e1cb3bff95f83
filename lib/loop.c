/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop: epoll over a handful of watches, with signals turned into a
 * descriptor (signalfd) so that they are handled between callbacks, never
 * inside them.  Timers are not descriptors: the caller passes the time to the
 * nearest deadline as the wait's timeout.
 */
#include "loop.h"

#include <pthread.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH 64

int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int loop_open(struct loop *loop, const int *signals, watch_fn *on_signal, void *ctx)
{
	sigset_t mask;

	loop->epoll_fd = -1;
	loop->signal_fd = -1;
	loop->ctx = ctx;
	sigemptyset(&mask);
	for (const int *s = signals; *s != 0; s++)
		sigaddset(&mask, *s);
	/* Blocked before any thread exists, so every thread inherits it. */
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		return -1;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0)
		return -1;
	loop->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (loop->signal_fd < 0)
		return -1;
	loop->signals = (struct watch){ .fd = loop->signal_fd, .fn = on_signal };
	return loop_set(loop, &loop->signals, EPOLLIN);
}

int loop_set(struct loop *loop, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	int op;

	if (events == w->events)
		return 0;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (w->events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(loop->epoll_fd, op, w->fd, &ev) < 0)
		return -1;
	if (op == EPOLL_CTL_ADD)
		w->added = loop->batch;
	w->events = events;
	return 0;
}

int loop_once(struct loop *loop, int timeout_ms)
{
	struct epoll_event ready[LOOP_BATCH];
	int n;

	loop->batch++;
	n = epoll_wait(loop->epoll_fd, ready, LOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		struct watch *w = ready[i].data.ptr;
		/* An earlier callback of this batch may have dropped this
		 * watch, or dropped it and added it again for something else
		 * (a request's slot taken by the next connection): the event
		 * is the old registration's, which the wait returned before
		 * the new one existed. */
		uint32_t events = ready[i].events & (w->events | EPOLLERR | EPOLLHUP);
		if (w->events != 0 && events != 0 && w->added != loop->batch)
			w->fn(loop->ctx, w, events);
	}
	return n;
}

void loop_drop(struct loop *loop, struct watch *w, int *fd)
{
	if (*fd < 0)
		return;
	loop_set(loop, w, 0);
	close(*fd);
	*fd = -1;
}

int set_nonblocking(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

void loop_close(struct loop *loop)
{
	if (loop->signal_fd >= 0)
		close(loop->signal_fd);
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	loop->signal_fd = loop->epoll_fd = -1;
}
