/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit test of lib/loop.c: a watch that a callback drops and adds again in
 * the same batch of events (a request's slot taken by the next connection)
 * gets none of the events its old registration had in that batch.  Prints
 * "ok N - ..." / "not ok N - ..." lines; exits 1 if one failed.
 */
#include "loop.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

static int failed, count;

static void check(bool ok, const char *what)
{
	printf("%s %d - %s\n", ok ? "ok" : "not ok", ++count, what);
	if (!ok)
		failed = 1;
}

struct state {
	struct loop *loop;
	struct watch *reused;
	int new_fd;
	int reused_calls, first_calls;
};

/* The first event of the batch: drop the other watch and add it again, on
 * an empty pipe. */
static void on_first(void *ctx, struct watch *w, uint32_t events)
{
	struct state *s = ctx;
	char c;

	(void)events;
	s->first_calls++;
	if (read(w->fd, &c, 1) != 1)
		return;
	loop_set(s->loop, s->reused, 0);
	s->reused->fd = s->new_fd;
	loop_set(s->loop, s->reused, EPOLLIN);
}

static void on_reused(void *ctx, struct watch *w, uint32_t events)
{
	struct state *s = ctx;

	(void)w;
	(void)events;
	s->reused_calls++;
}

int main(void)
{
	static const int no_signals[] = { 0 };
	struct loop loop;
	struct state s = { .loop = &loop };
	int first[2], old[2], fresh[2];
	struct watch wf, wr;

	if (pipe(first) < 0 || pipe(old) < 0 || pipe(fresh) < 0 || loop_open(&loop, no_signals, NULL, &s) < 0) {
		perror("set-up");
		return 2;
	}
	s.new_fd = fresh[0];
	wf = (struct watch){ .fd = first[0], .fn = on_first };
	wr = (struct watch){ .fd = old[0], .fn = on_reused };
	s.reused = &wr;
	loop_set(&loop, &wf, EPOLLIN);
	loop_set(&loop, &wr, EPOLLIN);
	/* epoll reports in the order things became ready: first, then old */
	if (write(first[1], "x", 1) != 1 || write(old[1], "x", 1) != 1)
		return 2;
	check(loop_once(&loop, 1000) == 2, "one batch has both events");
	check(s.first_calls == 1, "the first watch's callback ran");
	check(s.reused_calls == 0, "the watch added again in the batch got no event of its old registration");
	/* the new registration's own events come in the next batch */
	if (write(fresh[1], "y", 1) != 1)
		return 2;
	check(loop_once(&loop, 1000) >= 1 && s.reused_calls == 1, "its new registration's event arrives next");
	loop_close(&loop);
	return failed;
}
