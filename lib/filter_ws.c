/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --ws: WebSocket framing (RFC 6455) as a layer of the relay, just above
 * the connection's bottom layer (the socket, or TLS), once stage_ws.c has
 * answered the upgrade.  What the layers above see, and the handler, are
 * messages:
 *
 *   text mode (the default, websocketd's): each message from the client
 *   goes to the handler followed by a newline; each line the handler writes
 *   goes out as one message, without its newline: a text message when it is
 *   valid UTF-8, else a binary one (its bytes untouched); a line longer
 *   than LINE_MAX goes out in fragments of one message.
 *
 *   --ws-binary: each message to the handler as it is; what the handler
 *   writes goes out as binary messages, as it comes.
 *
 * Fragments are joined (streamed to the handler as they come); a message
 * over --ws-max-message closes with 1009; a ping is answered; the client's
 * close is answered and gives the handler end of file; the handler's end
 * closes with 1000 (exit status 0) or 1011 (anything else, with the status
 * as the reason); --timeout or the end of the drain closes with 1011.
 */
#include "filter.h"
#include "relay.h"
#include "request.h"
#include "view.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define IN_BUF 16384
#define LINE_MAX 65536
/* Data frames queued toward the client, at most (a whole line fits); control
 * frames have room beyond it. */
#define OUT_DATA (LINE_MAX + WS_HEADER_MAX)
#define OUT_BUF (OUT_DATA + 2 * (WS_HEADER_MAX + 125))

struct ws_slot {
	bool active;                    /* from its request's start to its end */
	const struct ss_config *cfg;
	struct request *req;
	uint8_t *in, *out, *line;       /* made on the slot's first use */
	size_t in_len, in_off, out_len, out_off, line_len;
	struct ws_frame frame;
	bool in_frame;                  /* a frame's payload is being read */
	uint64_t left;                  /* of its payload */
	unsigned mask_at;
	uint8_t ctl[125];
	size_t ctl_len;
	bool in_message;                /* between a message's first frame and its last */
	uint64_t message_len;
	bool newline_due;               /* text mode: the message ended */
	bool client_done;               /* nothing more goes to the handler */
	bool fragmented;                /* text mode: the line went out in part already */
	bool close_queued;              /* our close frame is on its way */
	bool shut;                      /* the closing handshake is over: the socket's writing side is shut */
	int failed;                     /* errno: the connection is over */
};

static struct ws_slot *slot_of(struct layer *l)
{
	return ((struct filter_layer *)l->state)->slot;
}

static bool ws_wanted(const struct ss_config *cfg)
{
	return cfg->ws;
}

static void ws_start(void *ctx, void *slot, struct view *v, struct request *req)
{
	struct ws_slot *s = slot;
	uint8_t *in = s->in, *out = s->out, *line = s->line;

	(void)ctx;
	*s = (struct ws_slot){ .active = true, .cfg = v->cfg, .req = req, .in = in, .out = out, .line = line };
	if (s->in == NULL)
		s->in = malloc(IN_BUF);
	if (s->out == NULL)
		s->out = malloc(OUT_BUF);
	if (s->line == NULL && !v->cfg->ws_binary)
		s->line = malloc(LINE_MAX);
	if (s->in == NULL || s->out == NULL || (s->line == NULL && !v->cfg->ws_binary)) {
		s->failed = ENOMEM;
		return;
	}
	/* what the client sent after its upgrade request: frames already */
	struct ws_conn *c = req->ws;
	if (c != NULL && c->len > c->used) {
		size_t n = c->len - c->used < IN_BUF ? c->len - c->used : IN_BUF;
		memcpy(s->in, c->request + c->used, n);
		s->in_len = n;
	}
}

/* A frame toward the client (control frames always fit). */
static bool queue(struct ws_slot *s, bool fin, unsigned opcode, const void *data, size_t len)
{
	size_t limit = opcode >= WS_CLOSE ? OUT_BUF : OUT_DATA;

	if (s->out_off > 0 && s->out_off == s->out_len)
		s->out_off = s->out_len = 0;
	if (s->out_off > 0 && s->out_len + WS_HEADER_MAX + len > limit) {
		memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
		s->out_len -= s->out_off;
		s->out_off = 0;
	}
	if (s->out_len + WS_HEADER_MAX + len > limit)
		return false;
	s->out_len += ws_frame_header(s->out + s->out_len, fin, opcode, len);
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
	return true;
}

static void queue_close(struct ws_slot *s, unsigned code, const char *reason)
{
	uint8_t body[125];
	size_t n = strlen(reason) < sizeof(body) - 2 ? strlen(reason) : sizeof(body) - 2;

	if (s->close_queued)
		return;
	body[0] = (uint8_t)(code >> 8);
	body[1] = (uint8_t)code;
	memcpy(body + 2, reason, n);
	s->close_queued = queue(s, true, WS_CLOSE, body, n + 2);
}

/* The client broke the protocol: close with code, and the handler's input
 * ends. */
static ssize_t refuse(struct ws_slot *s, unsigned code, const char *reason)
{
	queue_close(s, code, reason);
	s->client_done = true;
	return 0;
}

/* More bytes from the client: > 0, 0 at its end, -1 (EAGAIN: wait). */
static ssize_t fill(struct layer *l, struct ws_slot *s)
{
	if (s->in_off > 0) {
		memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
		s->in_len -= s->in_off;
		s->in_off = 0;
	}
	ssize_t n = l->below->ops->read(l->below, s->in + s->in_len, IN_BUF - s->in_len);
	if (n > 0)
		s->in_len += (size_t)n;
	else if (n < 0 && errno == EAGAIN)
		layer_wait_below(l);
	return n;
}

/* A control frame has come whole. */
static void control(struct ws_slot *s)
{
	switch (s->frame.opcode) {
	case WS_PING:
		queue(s, true, WS_PONG, s->ctl, s->ctl_len);
		break;
	case WS_CLOSE: {
		/* answered with its code (none: none), then the handler's input ends */
		unsigned code = s->ctl_len >= 2 ? (unsigned)s->ctl[0] << 8 | s->ctl[1] : 0;
		if (!s->close_queued) {
			uint8_t body[2] = { (uint8_t)(code >> 8), (uint8_t)code };
			s->close_queued = queue(s, true, WS_CLOSE, body, code != 0 ? 2 : 0);
		}
		s->client_done = true;
		break;
	}
	default:
		break; /* a pong */
	}
}

static ssize_t ws_read(struct layer *l, void *buf, size_t size)
{
	struct ws_slot *s = slot_of(l);

	l->wants = 0;
	l->wake_at = 0;
	for (;;) {
		if (s->failed) {
			errno = s->failed;
			return -1;
		}
		if (s->newline_due) {
			s->newline_due = false;
			*(char *)buf = '\n';
			return 1;
		}
		if (s->client_done)
			return 0;
		if (!s->in_frame) {
			int h = ws_frame_parse(s->in + s->in_off, s->in_len - s->in_off, &s->frame);
			if (h < 0)
				return refuse(s, WS_PROTOCOL_ERROR, "a malformed frame");
			if (h == 0) {
				ssize_t n = fill(l, s);
				if (n == 0)
					s->client_done = true; /* gone without a close frame */
				if (n <= 0)
					return n;
				continue;
			}
			if (!s->frame.masked)
				return refuse(s, WS_PROTOCOL_ERROR, "a client's frame must be masked");
			s->in_off += (size_t)h;
			s->in_frame = true;
			s->left = s->frame.len;
			s->mask_at = 0;
			s->ctl_len = 0;
			if (s->frame.opcode < WS_CLOSE) {
				if ((s->frame.opcode == WS_CONT) != s->in_message)
					return refuse(s, WS_PROTOCOL_ERROR, "a fragment out of place");
				if (s->frame.opcode != WS_CONT)
					s->message_len = 0;
				s->in_message = !s->frame.fin;
				s->message_len += s->frame.len;
				if (s->message_len > (uint64_t)s->cfg->ws_max_message)
					return refuse(s, WS_TOO_BIG, "the message is larger than --ws-max-message");
			}
		}
		if (s->left > 0 && s->in_off == s->in_len) {
			ssize_t n = fill(l, s);
			if (n == 0)
				s->client_done = true;
			if (n <= 0)
				return n;
			continue;
		}
		size_t n = s->in_len - s->in_off;
		if (n > s->left)
			n = (size_t)s->left;
		bool ctl = s->frame.opcode >= WS_CLOSE;
		uint8_t *to = ctl ? s->ctl + s->ctl_len : buf;
		if (!ctl && n > size)
			n = size;
		for (size_t i = 0; i < n; i++)
			to[i] = s->in[s->in_off + i] ^ s->frame.mask[s->mask_at++ & 3];
		s->in_off += n;
		s->left -= n;
		if (ctl)
			s->ctl_len += n;
		if (s->left == 0) {
			s->in_frame = false;
			if (ctl)
				control(s);
			else if (s->frame.fin && !s->cfg->ws_binary && n < size)
				((char *)buf)[n++] = '\n'; /* the message's end, with it */
			else if (s->frame.fin && !s->cfg->ws_binary)
				s->newline_due = true;
		}
		if (!ctl && n > 0)
			return (ssize_t)n;
	}
}

/* What is queued toward the client: sent as far as it goes. */
static ssize_t ws_flush(struct layer *l)
{
	struct ws_slot *s = slot_of(l);
	ssize_t total = 0;

	l->wants = 0;
	l->wake_at = 0;
	if (s->failed) {
		errno = s->failed;
		return -1;
	}
	/* (the layers below hold nothing of their own today: TLS writes its
	 * records whole; layer_flush() passes through them) */
	if (layer_flush(l->below) < 0 && errno != EAGAIN) {
		s->failed = errno;
		return -1;
	}
	while (s->out_off < s->out_len) {
		ssize_t n = l->below->ops->write(l->below, s->out + s->out_off, s->out_len - s->out_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				s->failed = errno;
				return -1;
			}
			layer_wait_below(l);
			if (total > 0)
				return total;
			return -1;
		}
		s->out_off += (size_t)n;
		total += n;
	}
	s->out_off = s->out_len = 0;
	/* Both close frames have gone: the server closes the connection first
	 * (RFC 6455, 7.1.1), at once, not when the handler ends; what the
	 * handler writes from now on goes nowhere (ws_write). */
	if (s->close_queued && s->client_done && !s->shut) {
		if (l->below->ops->close(l->below) == 0 || errno != EAGAIN)
			s->shut = true;
	}
	return total;
}

/* Text mode: the line so far as a message, or a fragment of one. */
static bool emit(struct ws_slot *s, bool fin)
{
	unsigned opcode = s->fragmented ? WS_CONT : ws_utf8_valid(s->line, s->line_len) ? WS_TEXT : WS_BINARY;

	if (!queue(s, fin, opcode, s->line, s->line_len))
		return false;
	s->line_len = 0;
	s->fragmented = !fin;
	return true;
}

static ssize_t ws_write(struct layer *l, const void *buf, size_t size)
{
	struct ws_slot *s = slot_of(l);
	const uint8_t *p = buf;
	size_t used = 0;

	if (ws_flush(l) < 0 && errno != EAGAIN)
		return -1;
	if (s->close_queued) {
		errno = EPIPE; /* the connection is closing: nothing more goes */
		return -1;
	}
	if (s->cfg->ws_binary) {
		size_t n = size < LINE_MAX ? size : LINE_MAX;
		if (queue(s, true, WS_BINARY, buf, n))
			used = n;
	} else {
		while (used < size) {
			if (s->line_len == LINE_MAX && !emit(s, false))
				break;
			const uint8_t *nl = memchr(p + used, '\n', size - used);
			size_t take = nl != NULL ? (size_t)(nl - (p + used)) : size - used;
			bool ends = nl != NULL;
			if (take > LINE_MAX - s->line_len) {
				take = LINE_MAX - s->line_len;
				ends = false;
			}
			memcpy(s->line + s->line_len, p + used, take);
			s->line_len += take;
			used += take;
			if (ends) {
				if (!emit(s, true))
					break; /* the newline waits for room */
				used++;
			}
		}
	}
	if (ws_flush(l) < 0 && errno != EAGAIN)
		return used > 0 ? (ssize_t)used : -1;
	if (used == 0) {
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)used;
}

static int ws_close(struct layer *l)
{
	struct ws_slot *s = slot_of(l);
	struct request *req = s->req;

	if (s->line != NULL && (s->line_len > 0 || s->fragmented) && !s->close_queued && !emit(s, true)) {
		(void)ws_flush(l);
		errno = EAGAIN;
		return -1;
	}
	if (ws_flush(l) < 0)
		return -1;
	if (!s->close_queued) {
		/* the code says how the handler ended: wait for that (request.c
		 * wakes the relay when it is reaped) */
		if (!req->exited) {
			l->wants = 0;
			l->wake_at = 0;
			errno = EAGAIN;
			return -1;
		}
		char reason[64];
		int st = req->wstatus;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			queue_close(s, WS_NORMAL, "");
		else {
			if (WIFEXITED(st))
				snprintf(reason, sizeof(reason), "the handler exited with status %d", WEXITSTATUS(st));
			else
				snprintf(reason, sizeof(reason), "the handler was killed by signal %d", WTERMSIG(st));
			queue_close(s, WS_SERVER_ERROR, reason);
		}
		if (ws_flush(l) < 0)
			return -1;
	}
	if (s->shut)
		return 0;
	int rc = l->below->ops->close(l->below);
	if (rc < 0 && errno == EAGAIN)
		layer_wait_below(l);
	return rc;
}

/* The request's end: a connection that had no close frame yet (--timeout,
 * the drain's end, a handler that could not start) gets one, as far as the
 * socket takes it at once. */
static void ws_end(void *ctx, void *slot, struct view *v, struct request *req)
{
	struct ws_slot *s = slot;

	(void)ctx;
	(void)v;
	if (!s->active)
		return;
	s->active = false;
	if (s->close_queued || s->failed || req->fd < 0)
		return;
	queue_close(s, WS_SERVER_ERROR, req->timed_out ? "timed out" : !req->exited ? "the handler did not run"
	                                                                             : "the server is stopping");
	struct layer plain, *below = connection_layer(req->tls, req->fd, &plain);
	(void)below->ops->write(below, s->out + s->out_off, s->out_len - s->out_off);
	s->out_off = s->out_len = 0;
}

static void ws_slot_free(void *slot)
{
	struct ws_slot *s = slot;

	free(s->in);
	free(s->out);
	free(s->line);
}

static const struct layer_ops ws_ops = {
	.name = "websocket",
	.read = ws_read,
	.write = ws_write,
	.close = ws_close,
	.flush = ws_flush,
};

const struct filter_kind filter_ws = {
	.name = "websocket",
	.wanted = ws_wanted,
	.slot_size = sizeof(struct ws_slot),
	.start = ws_start,
	.ops = &ws_ops,
	.end = ws_end,
	.slot_free = ws_slot_free,
};
