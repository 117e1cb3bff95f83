/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The relay engine (relay.h): one run moves what it can both ways until
 * nothing moves, then sets what the loop watches.
 */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* Each direction's buffer: four TLS records. */
#define RELAY_BUF 65536
/* What one run moves at most, both ways together, before the loop serves
 * the others (the relay runs again at once, through its timer). */
#define RUN_BUDGET (16 * RELAY_BUF)

struct relay {
	struct loop *loop;
	struct layer *client;
	int to, from;                /* the handler's stdin and stdout; -1 once closed */
	struct watch sock_w, to_w, from_w, timer_w;
	int timer_fd;                /* made when a layer first waits for a time */
	char *up, *down;             /* client -> handler, handler -> client */
	size_t up_len, up_off, down_len, down_off;
	bool running;
	bool client_eof;             /* nothing more comes from the client */
	bool handler_eof;            /* nothing more comes from the handler */
	bool closed;                 /* the client's side is closed (or the client is gone) */
	bool done_called;
	uint32_t up_wants, down_wants; /* socket events each direction waits for */
	int64_t up_wake, down_wake;  /* or the time it waits for (0: none) */
	bool up_pipe_full;           /* a splice found the handler's stdin full */
	bool down_pipe_empty;        /* a splice found the handler's stdout empty */
	bool from_drained;           /* a read found the handler's stdout empty (until it is readable) */
	int to_size;                 /* the stdin pipe's capacity */
	int64_t progress_us;
	uint64_t bytes_in, bytes_out;
	relay_done_fn *done;
	void *data;
};

/* ---- the engine ---- */

struct relay *relay_new(void)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->up = malloc(RELAY_BUF);
	r->down = malloc(RELAY_BUF);
	if (r->up == NULL || r->down == NULL) {
		relay_free(r);
		return NULL;
	}
	r->to = r->from = r->timer_fd = -1;
	return r;
}

void relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	relay_stop(r);
	if (r->timer_fd >= 0)
		close(r->timer_fd);
	free(r->up);
	free(r->down);
	free(r);
}

/* Whether a pipe holds all it can take (a splice into it found no room). */
static bool pipe_full(int fd, int size)
{
	int queued = 0;

	return ioctl(fd, FIONREAD, &queued) == 0 && queued > 0 && queued + 4096 > size;
}

/* Client to handler; true if anything moved. */
static bool move_up(struct relay *r)
{
	bool moved = false;

	if (r->up_off == r->up_len)
		r->up_off = r->up_len = 0;
	/* Fill the buffer with what the client has (several TLS records), then
	 * write it to the handler at once. */
	while (r->up_len < RELAY_BUF && !r->client_eof && r->to >= 0) {
		ssize_t n = -1;
		bool spliced = false;
		if (r->up_len == 0 && r->client->ops->splice_in != NULL) {
			n = r->client->ops->splice_in(r->client, r->to, RELAY_BUF);
			spliced = n >= 0 || errno != EOPNOTSUPP;
		}
		if (!spliced)
			n = r->client->ops->read(r->client, r->up + r->up_len, RELAY_BUF - r->up_len);
		r->up_wants = 0;
		r->up_wake = 0;
		r->up_pipe_full = false;
		if (n > 0) {
			if (!spliced)
				r->up_len += (size_t)n;
			r->bytes_in += (uint64_t)n;
			moved = true;
			if (spliced)
				break;
			continue;
		} else if (n < 0 && errno == EAGAIN && spliced && pipe_full(r->to, r->to_size)) {
			r->up_pipe_full = true; /* the handler's stdin is full, not the socket empty */
			break;
		} else if (n < 0 && errno == EAGAIN) {
			r->up_wants = spliced ? EPOLLIN : r->client->wants;
			r->up_wake = spliced ? 0 : r->client->wake_at;
			break;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			/* its end of input (or a failed connection): the handler's too */
			r->client_eof = true;
			moved = true;
		}
	}
	while (r->up_off < r->up_len && r->to >= 0) {
		ssize_t n = write(r->to, r->up + r->up_off, r->up_len - r->up_off);
		if (n > 0) {
			r->up_off += (size_t)n;
			moved = true;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break;
		} else {
			/* the handler closed its input: what the client sends goes nowhere */
			loop_drop(r->loop, &r->to_w, &r->to);
			moved = true;
		}
	}
	if (r->up_off == r->up_len && r->client_eof && r->to >= 0) {
		loop_drop(r->loop, &r->to_w, &r->to);
		moved = true;
	}
	return moved;
}

/* The client is gone: the handler's pipes close, so that it meets EPIPE (or
 * SIGPIPE) and end of file as it would on the connection itself. */
static bool client_gone(struct relay *r)
{
	r->closed = true;
	r->down_off = r->down_len;
	loop_drop(r->loop, &r->from_w, &r->from);
	loop_drop(r->loop, &r->to_w, &r->to);
	r->handler_eof = r->client_eof = true;
	return true;
}

/* What the layers hold back: sent when due. */
static bool flush_layers(struct relay *r, int64_t now)
{
	bool moved = false;

	while (!r->closed) {
		ssize_t n = layer_flush(r->client);
		if (n > 0) {
			r->bytes_out += (uint64_t)n;
			r->progress_us = now;
			moved = true;
		} else if (n < 0 && errno == EAGAIN) {
			r->down_wants = r->client->wants;
			r->down_wake = r->client->wake_at;
			break;
		} else if (n < 0 && errno != EINTR) {
			return client_gone(r);
		} else if (n == 0) {
			break;
		}
	}
	return moved;
}

/* Handler to client; true if anything moved. */
static bool move_down(struct relay *r, int64_t now)
{
	bool moved = false;

	r->down_wants = 0;
	r->down_wake = 0;
	if (r->client->below != NULL)
		moved = flush_layers(r, now);

	if (r->down_off == r->down_len && !r->handler_eof && !r->closed && r->client->ops->splice_out != NULL) {
		ssize_t n = r->client->ops->splice_out(r->client, r->from, RELAY_BUF);
		r->down_wants = 0;
		r->down_pipe_empty = false;
		if (n > 0) {
			r->bytes_out += (uint64_t)n;
			r->progress_us = now;
			return true;
		}
		if (n == 0) {
			r->handler_eof = true;
			loop_drop(r->loop, &r->from_w, &r->from);
			moved = true;
		} else if (errno == EAGAIN) {
			/* which side: nothing in the pipe, or no room in the socket */
			int queued = 0;
			if (ioctl(r->from, FIONREAD, &queued) == 0 && queued == 0)
				r->down_pipe_empty = true;
			else
				r->down_wants = EPOLLOUT;
			return false;
		} else if (errno != EOPNOTSUPP) {
			return client_gone(r);
		}
	}
	if (r->down_off == r->down_len && !r->handler_eof && !r->from_drained) {
		ssize_t n = read(r->from, r->down, RELAY_BUF);
		/* a short read took all there was: the next waits for the loop */
		r->from_drained = n < RELAY_BUF && (n > 0 || (n < 0 && errno == EAGAIN));
		if (n > 0) {
			r->down_len = (size_t)n;
			r->down_off = 0;
			moved = true;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->handler_eof = true;
			loop_drop(r->loop, &r->from_w, &r->from);
			moved = true;
		}
	}
	while (r->down_off < r->down_len && !r->closed) {
		ssize_t n = r->client->ops->write(r->client, r->down + r->down_off, r->down_len - r->down_off);
		if (n > 0) {
			r->down_off += (size_t)n;
			r->bytes_out += (uint64_t)n;
			r->progress_us = now;
			moved = true;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			r->down_wants = r->client->wants;
			r->down_wake = r->client->wake_at;
			break;
		} else {
			moved = client_gone(r);
		}
	}
	if (r->handler_eof && r->down_off == r->down_len && !r->closed) {
		int rc = r->client->ops->close(r->client);
		if (rc == 0 || errno != EAGAIN) {
			/* sent (or the client is gone): it sees its end of file */
			r->closed = true;
			r->progress_us = now;
			moved = true;
		} else {
			r->down_wants = r->client->wants;
			r->down_wake = r->client->wake_at;
		}
	}
	return moved;
}

static void set_timer(struct relay *r, int64_t at)
{
	if (at == 0 && r->timer_fd < 0)
		return;
	if (r->timer_fd < 0) {
		r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (r->timer_fd < 0)
			return;
		r->timer_w.fd = r->timer_fd;
	}
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	if (at != 0) {
		its.it_value.tv_sec = at / 1000000;
		its.it_value.tv_nsec = (long)(at % 1000000) * 1000 + 1;
	}
	timerfd_settime(r->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	loop_set(r->loop, &r->timer_w, at != 0 ? EPOLLIN : 0);
}

static void run(struct relay *r)
{
	int64_t now = now_us();
	uint64_t before = r->bytes_in + r->bytes_out;
	bool moved = true;

	while (moved && r->running && r->bytes_in + r->bytes_out - before < RUN_BUDGET) {
		/* both directions, every time */
		bool up = move_up(r), down = move_down(r, now);
		moved = up || down;
	}
	if (!r->running)
		return;
	/* What each side waits for now. */
	uint32_t sock = 0;
	if (r->up_off == r->up_len && !r->client_eof && r->to >= 0)
		sock |= r->up_wants;
	if (!r->closed)
		sock |= r->down_wants;
	loop_set(r->loop, &r->sock_w, sock);
	if (r->to >= 0)
		loop_set(r->loop, &r->to_w, r->up_off < r->up_len || r->up_pipe_full ? EPOLLOUT : 0);
	if (r->from >= 0) {
		bool spliced = r->client->ops->splice_out != NULL && !r->closed;
		uint32_t from = r->down_off == r->down_len && !r->handler_eof && (!spliced || r->down_pipe_empty ||
		                                                                  r->down_wants == 0)
		              ? EPOLLIN : 0;
		loop_set(r->loop, &r->from_w, from);
	}
	/* Over budget, the relay runs again at the loop's next turn; else a
	 * layer may wait for a time rather than the socket. */
	int64_t wake = 0;
	if (r->up_off == r->up_len && !r->client_eof && r->to >= 0)
		wake = r->up_wake;
	if (!r->closed && r->down_wake != 0 && (wake == 0 || r->down_wake < wake))
		wake = r->down_wake;
	if (moved)
		wake = now;
	set_timer(r, wake);
	if (relay_delivered(r) && !r->done_called) {
		r->done_called = true;
		/* the last thing done here: the callback may stop the relay */
		r->done(r->loop->ctx, r->data);
	}
}

static void on_event(void *ctx, struct watch *w, uint32_t events)
{
	struct relay *r = w->data;

	(void)ctx;
	if (w == &r->from_w)
		r->from_drained = false;
	if (w == &r->sock_w && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
		struct layer *l = r->client;
		while (l->below != NULL)
			l = l->below;
		l->drained = false;
	}
	if (w == &r->timer_w) {
		uint64_t expirations;
		(void)!read(r->timer_fd, &expirations, sizeof(expirations));
	}
	run(r);
}

int relay_start(struct relay *r, struct loop *loop, struct layer *client, int to, int from,
                relay_done_fn *done, void *data)
{
	relay_stop(r);
	r->loop = loop;
	r->client = client;
	r->to = to;
	r->from = from;
	r->up_len = r->up_off = r->down_len = r->down_off = 0;
	r->client_eof = r->handler_eof = r->closed = r->done_called = false;
	r->up_wants = EPOLLIN;
	r->down_wants = 0;
	r->up_wake = r->down_wake = 0;
	r->bytes_in = r->bytes_out = 0;
	r->progress_us = now_us();
	r->done = done;
	r->data = data;
	r->sock_w = (struct watch){ .fd = client->fd, .fn = on_event, .data = r };
	r->to_w = (struct watch){ .fd = to, .fn = on_event, .data = r };
	r->from_w = (struct watch){ .fd = from, .fn = on_event, .data = r };
	r->timer_w = (struct watch){ .fd = r->timer_fd, .fn = on_event, .data = r };
	if (set_nonblocking(to, true) < 0 || set_nonblocking(from, true) < 0)
		return -1;
	/* how full the handler's stdin can get: where the layers splice */
	r->to_size = client->ops->splice_in != NULL ? fcntl(to, F_GETPIPE_SZ) : 0;
	r->up_pipe_full = r->down_pipe_empty = r->from_drained = false;
	r->running = true;
	/* Whatever the client sent with its handshake may already wait in the
	 * layers: the first run reads it. */
	run(r);
	return 0;
}

void relay_stop(struct relay *r)
{
	if (!r->running && r->to < 0 && r->from < 0)
		return;
	r->running = false;
	loop_set(r->loop, &r->sock_w, 0);
	set_timer(r, 0);
	loop_drop(r->loop, &r->to_w, &r->to);
	loop_drop(r->loop, &r->from_w, &r->from);
}

void relay_poke(struct relay *r)
{
	if (r->running)
		run(r);
}

bool relay_running(const struct relay *r)
{
	return r != NULL && r->running;
}

bool relay_delivered(const struct relay *r)
{
	return r->closed;
}

int64_t relay_progress_us(const struct relay *r)
{
	return r->progress_us;
}

/* ---- layers ---- */

ssize_t layer_flush(struct layer *l)
{
	if (l == NULL)
		return 0;
	if (l->ops->flush != NULL)
		return l->ops->flush(l);
	ssize_t n = layer_flush(l->below);
	if (n < 0 && errno == EAGAIN)
		layer_wait_below(l);
	return n;
}

void layer_wait_below(struct layer *l)
{
	l->wants = l->below->wants;
	l->wake_at = l->below->wake_at;
}

static ssize_t socket_read(struct layer *l, void *buf, size_t size)
{
	l->wake_at = 0;
	if (l->drained) {
		/* found empty since the loop last said it was readable */
		l->wants = EPOLLIN;
		errno = EAGAIN;
		return -1;
	}
	ssize_t n = recv(l->fd, buf, size, MSG_DONTWAIT);

	l->wants = n < 0 && errno == EAGAIN ? EPOLLIN : 0;
	/* a short read took all the socket held */
	l->drained = (n > 0 && (size_t)n < size) || (n < 0 && errno == EAGAIN);
	return n;
}

static ssize_t socket_write(struct layer *l, const void *buf, size_t size)
{
	ssize_t n = send(l->fd, buf, size, MSG_DONTWAIT | MSG_NOSIGNAL);

	l->wants = n < 0 && errno == EAGAIN ? EPOLLOUT : 0;
	l->wake_at = 0;
	return n;
}

static int socket_close(struct layer *l)
{
	l->wants = 0;
	l->wake_at = 0;
	return shutdown(l->fd, SHUT_WR);
}

static const struct layer_ops socket_ops = {
	.name = "socket",
	.read = socket_read,
	.write = socket_write,
	.close = socket_close,
};

void layer_socket(struct layer *l, int fd)
{
	*l = (struct layer){ .ops = &socket_ops, .fd = fd };
}
