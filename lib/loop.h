/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop (a leaf): epoll over watches, signals as a descriptor.  It
 * knows nothing of what it serves: each callback gets the context given to
 * loop_open and its watch.
 */
#ifndef SS_LOOP_H
#define SS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct watch;
typedef void watch_fn(void *ctx, struct watch *w, uint32_t events);

struct watch {
	int fd;
	uint32_t events; /* as registered; 0 when not in the loop */
	uint64_t added;  /* the batch of events in which it was last added */
	watch_fn *fn;
	void *data;
};

struct loop {
	int epoll_fd;
	int signal_fd;
	struct watch signals;
	void *ctx;       /* passed to every callback */
	uint64_t batch;  /* counts the waits */
};

/* Block signals (0-terminated list), read them through a descriptor. */
int loop_open(struct loop *loop, const int *signals, watch_fn *on_signal, void *ctx);
/* Register, change or (events 0) drop a watch. */
int loop_set(struct loop *loop, struct watch *w, uint32_t events);
/* Wait up to timeout_ms (-1: no limit) and run the callbacks of what is ready. */
int loop_once(struct loop *loop, int timeout_ms);
void loop_close(struct loop *loop);
/* Drop w from the loop and close its descriptor *fd, then -1 (nothing if
 * it is -1 already). */
void loop_drop(struct loop *loop, struct watch *w, int *fd);
int64_t now_us(void);
/* Set or clear O_NONBLOCK on fd: 0, or -1 with errno. */
int set_nonblocking(int fd, bool on);

#endif
