/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Faults toward the client, as server options (Toxiproxy's toxics):
 *
 *   --delay        each chunk the handler writes goes out that much later
 *                  (latency: chunks queue behind each other, each stamped
 *                  when it was read from the handler)
 *   --throttle     bytes per second, each way (a token bucket holding a
 *                  twentieth of a second's worth)
 *   --slice        sends of at most BYTES, each its own segment (TCP_NODELAY),
 *                  SLICE_GAP_US apart so that each meets a read of its own
 *   --cut-after    after BYTES toward the client, once they have left the
 *                  send queue, a reset (RST; a unix socket is shut down)
 *   --stall-after  after BYTES, nothing more (the connection stays open
 *                  until --timeout, or until the client gives up: closes its
 *                  side)
 *
 * On a stream the faults are the top layer of the relay (filter.h), over
 * the plaintext under TLS: they count and cut what the handler wrote, and a
 * slice is a TLS record of its own.  On datagrams: --delay (each reply),
 * --drop and --duplicate (a reply dropped, or sent twice), decided for the
 * n-th request taken from --seed, so that a seed gives the same replies
 * each run whatever the mode.
 */
#include "axes.h"
#include "filter.h"
#include "log.h"
#include "loop.h"
#include "relay.h"
#include "request.h"
#include "view.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/sockios.h>

/* What one connection holds back toward the client, and in how many chunks. */
#define QUEUE_BYTES 65536
#define QUEUE_CHUNKS 64
/* Between two slices. */
#define SLICE_GAP_US 10000
/* How often a cut looks whether what went before it has left. */
#define CUT_POLL_US 2000
/* Datagram replies waiting for their time, at most (more are sent at once). */
#define DEFERRED_MAX 4096

struct deferred {
	struct deferred *next;
	int64_t due;
	unsigned copies;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	size_t control_len;
	_Alignas(struct cmsghdr) char control[64];
	char remote[ADDR_TEXT_MAX];
	size_t len;
	char data[];
};

struct faults {
	struct view *v;
	int64_t delay_us;
	uint64_t seed;
	/* datagram replies sent later, in order (they all wait as long) */
	struct deferred *head, *tail;
	unsigned deferred;
	int timer_fd;
	struct watch timer_w;
	bool over_logged;
};

struct bucket {
	int64_t tokens, at;
	int64_t part;               /* a token's millionths, carried */
};

struct faults_slot {
	struct faults *f;
	const struct ss_config *cfg;
	char *queue;                /* QUEUE_BYTES, made on first use */
	size_t off, len;
	struct {
		int64_t due;
		size_t end;
	} chunk[QUEUE_CHUNKS];
	unsigned head, count;
	uint64_t sent;              /* bytes to the client */
	struct bucket in, out;
	int64_t next_send;          /* --slice: not before */
	bool client_eof;            /* its end of input, or an error: gone, for a stall */
	int failed;                 /* errno: the connection is over */
};

/* ---- the options ---- */

const char *faults_stream_option(const struct ss_config *cfg)
{
	return cfg->throttle != SS_UNSET      ? "--throttle"
	       : cfg->slice != SS_UNSET       ? "--slice"
	       : cfg->cut_after != SS_UNSET   ? "--cut-after"
	       : cfg->stall_after != SS_UNSET ? "--stall-after"
	                                      : NULL;
}

const char *faults_dgram_option(const struct ss_config *cfg)
{
	return cfg->drop != SS_UNSET ? "--drop" : cfg->duplicate != SS_UNSET ? "--duplicate" : NULL;
}

static bool faults_wanted(const struct ss_config *cfg)
{
	return cfg->delay_ms != SS_NO_TIME || faults_stream_option(cfg) != NULL || faults_dgram_option(cfg) != NULL;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void on_timer(void *ctx, struct watch *w, uint32_t events);

static int faults_open(void *ctx, struct view *v, struct ss_error *err)
{
	struct faults *f = ctx;

	(void)err;
	f->v = v;
	f->timer_fd = -1;
	f->delay_us = v->cfg->delay_ms != SS_NO_TIME ? v->cfg->delay_ms * 1000 : 0;
	if (v->cfg->seed != SS_UNSET)
		f->seed = (uint64_t)v->cfg->seed;
	else if (getrandom(&f->seed, sizeof(f->seed), 0) != sizeof(f->seed))
		f->seed = (uint64_t)now_us();
	if (v->cfg->seed == SS_UNSET)
		f->seed &= 0x7fffffffffffffffULL; /* what --seed takes */
	return 0;
}

static void faults_announce(void *ctx, struct view *v)
{
	struct faults *f = ctx;
	const struct ss_config *cfg = v->cfg;

	if (cfg->drop != SS_UNSET || cfg->duplicate != SS_UNSET)
		log_event(v->log, SS_LOG_INFO, "faults", LOG_FIELDS(FINT("seed", (long long)f->seed)),
		          "dropping %lld%% and duplicating %lld%% of the replies; --seed=%llu repeats them",
		          cfg->drop != SS_UNSET ? (long long)cfg->drop : 0LL,
		          cfg->duplicate != SS_UNSET ? (long long)cfg->duplicate : 0LL, (unsigned long long)f->seed);
}

/* ---- datagrams ---- */

/* Whether the n-th request's reply meets a fault of this kind. */
static bool chance(const struct faults *f, uint64_t seq, unsigned kind, int64_t percent)
{
	if (percent == SS_UNSET || percent == 0)
		return false;
	return splitmix64(f->seed ^ splitmix64(seq * 4 + kind)) % 10000 < (uint64_t)percent * 100;
}

static void faults_reply(void *ctx, void *slot, struct view *v, struct request *req, const void *data, size_t len,
                         struct reply_plan *plan)
{
	struct faults *f = ctx;

	(void)slot;
	(void)data;
	(void)len;
	if (chance(f, req->seq, 1, v->cfg->drop))
		plan->copies = 0;
	else if (chance(f, req->seq, 2, v->cfg->duplicate))
		plan->copies = 2;
	plan->delay_us = f->delay_us;
}

static void send_now(struct faults *f, struct deferred *d)
{
	struct iovec iov = { .iov_base = d->data, .iov_len = d->len };
	struct msghdr msg = { .msg_name = &d->peer, .msg_namelen = d->peer_len, .msg_iov = &iov, .msg_iovlen = 1,
	                      .msg_control = d->control_len ? d->control : NULL,
	                      .msg_controllen = d->control_len };

	for (unsigned i = 0; i < d->copies; i++) {
		if (sendmsg(f->v->sock->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
		    log_allowed(f->v->log, SS_LOG_ERROR, LOG_SEND_FAILED))
			log_event(f->v->log, SS_LOG_ERROR, "send_failed",
			          LOG_FIELDS(FSTR("remote", d->remote), FSTR("error", strerror(errno))),
			          "%s: cannot send the reply: %s", d->remote, strerror(errno));
	}
}

static void arm(struct faults *f)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (f->head != NULL) {
		its.it_value.tv_sec = f->head->due / 1000000;
		its.it_value.tv_nsec = (long)(f->head->due % 1000000) * 1000 + 1;
	}
	timerfd_settime(f->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	loop_set(f->v->loop, &f->timer_w, f->head != NULL ? EPOLLIN : 0);
}

/* Send what is due (all of it: at the end). */
static void send_due(struct faults *f, bool all)
{
	int64_t now = now_us();

	while (f->head != NULL && (all || f->head->due <= now)) {
		struct deferred *d = f->head;
		f->head = d->next;
		if (f->head == NULL)
			f->tail = NULL;
		f->deferred--;
		send_now(f, d);
		free(d);
	}
}

static void on_timer(void *ctx, struct watch *w, uint32_t events)
{
	struct faults *f = w->data;
	uint64_t expirations;

	(void)ctx;
	(void)events;
	(void)!read(f->timer_fd, &expirations, sizeof(expirations));
	send_due(f, false);
	arm(f);
}

void faults_defer(void *ctx, struct view *v, const struct request *req, const struct msghdr *msg,
                  const struct reply_plan *plan)
{
	struct faults *f = ctx;
	size_t len = msg->msg_iov[0].iov_len;
	struct deferred *d = malloc(sizeof(*d) + len);

	if (d == NULL)
		return;
	*d = (struct deferred){ .due = now_us() + plan->delay_us, .copies = plan->copies, .len = len,
	                        .peer_len = msg->msg_namelen };
	memcpy(&d->peer, msg->msg_name, msg->msg_namelen);
	if (msg->msg_controllen > 0 && msg->msg_controllen <= sizeof(d->control)) {
		memcpy(d->control, msg->msg_control, msg->msg_controllen);
		d->control_len = msg->msg_controllen;
	}
	memcpy(d->data, msg->msg_iov[0].iov_base, len);
	snprintf(d->remote, sizeof(d->remote), "%s", req->remote);
	if (f->timer_fd < 0) {
		f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		f->timer_w = (struct watch){ .fd = f->timer_fd, .fn = on_timer, .data = f };
	}
	if (f->timer_fd < 0 || f->deferred >= DEFERRED_MAX) {
		/* no timer, or too many waiting: this one goes now */
		if (!f->over_logged)
			log_msg(v->log, SS_LOG_ERROR, "delay_full", "--delay: %u replies wait already; more are sent at once",
			        f->deferred);
		f->over_logged = true;
		send_now(f, d);
		free(d);
		return;
	}
	if (f->tail != NULL)
		f->tail->next = d;
	else
		f->head = d;
	f->tail = d;
	f->deferred++;
	arm(f);
}

static void faults_close(void *ctx, struct view *v)
{
	struct faults *f = ctx;

	(void)v;
	/* The end: replies still waiting go now, not never. */
	if (f->head != NULL && v->sock->fd >= 0)
		send_due(f, true);
	while (f->head != NULL) {
		struct deferred *d = f->head;
		f->head = d->next;
		free(d);
	}
	if (f->timer_fd >= 0)
		loop_drop(v->loop, &f->timer_w, &f->timer_fd);
}

/* ---- streams ---- */

static struct faults_slot *slot_of(struct layer *l)
{
	return ((struct filter_layer *)l->state)->slot;
}

/* The bucket holds a twentieth of a second's worth (at least a byte). */
static int64_t burst(const struct faults_slot *s)
{
	return s->cfg->throttle / 20 > 0 ? s->cfg->throttle / 20 : 1;
}

static void faults_start(void *ctx, void *slot, struct view *v, struct request *req)
{
	struct faults_slot *s = slot;
	char *queue = s->queue;
	int64_t now = now_us();

	*s = (struct faults_slot){ .f = ctx, .cfg = v->cfg, .queue = queue };
	if (v->cfg->throttle != SS_UNSET)
		s->in = s->out = (struct bucket){ .tokens = burst(s), .at = now };
	if (v->cfg->slice != SS_UNSET && v->handler->connections && req->fd >= 0) {
		int one = 1;
		(void)setsockopt(req->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
}

static void refill(const struct faults_slot *s, struct bucket *b, int64_t now)
{
	int64_t dt = now - b->at;

	b->at = now;
	if (dt >= 1000000) {
		b->tokens = burst(s);
	} else if (dt > 0) {
		int64_t credit = dt * s->cfg->throttle + b->part;
		b->tokens += credit / 1000000;
		b->part = credit % 1000000;
	}
	if (b->tokens >= burst(s)) {
		b->tokens = burst(s);
		b->part = 0;
	}
}

/* When the bucket holds want tokens. */
static int64_t when_tokens(const struct faults_slot *s, const struct bucket *b, int64_t want)
{
	return b->at + ((want - b->tokens) * 1000000 - b->part + s->cfg->throttle - 1) / s->cfg->throttle;
}

static ssize_t wait_until(struct layer *l, int64_t at)
{
	l->wants = 0;
	l->wake_at = at;
	errno = EAGAIN;
	return -1;
}

static ssize_t faults_read(struct layer *l, void *buf, size_t size)
{
	struct faults_slot *s = slot_of(l);
	int64_t now = now_us();

	if (s->cfg->throttle != SS_UNSET) {
		/* a bucket's worth at a time (or what is asked), not a byte */
		int64_t want = (int64_t)size < burst(s) ? (int64_t)size : burst(s);
		refill(s, &s->in, now);
		if (s->in.tokens < want)
			return wait_until(l, when_tokens(s, &s->in, want));
		if ((int64_t)size > s->in.tokens)
			size = (size_t)s->in.tokens;
	}
	ssize_t n = l->below->ops->read(l->below, buf, size);
	if (n > 0 && s->cfg->throttle != SS_UNSET)
		s->in.tokens -= n;
	if (n < 0 && errno == EAGAIN)
		layer_wait_below(l);
	else if (n <= 0)
		s->client_eof = true;
	return n;
}

/* --cut-after reached: once the bytes before the cut have left, a reset. */
static ssize_t cut(struct layer *l, struct faults_slot *s, int64_t now)
{
	int queued = 0;

	s->off = s->len = 0;
	s->count = 0;
	if (ioctl(l->fd, SIOCOUTQ, &queued) == 0 && queued > 0)
		return wait_until(l, now + CUT_POLL_US);
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	/* connect(2) to AF_UNSPEC resets a TCP connection; a unix one has no
	 * reset, and is shut down */
	if (connect(l->fd, &unspec, sizeof(unspec)) < 0)
		(void)shutdown(l->fd, SHUT_RDWR);
	s->failed = ECONNRESET;
	errno = ECONNRESET;
	return -1;
}

static ssize_t faults_flush(struct layer *l)
{
	struct faults_slot *s = slot_of(l);
	const struct ss_config *cfg = s->cfg;
	int64_t now = now_us();
	ssize_t total = 0;

	l->wants = 0;
	l->wake_at = 0;
	/* what the layers below hold (a WebSocket's pong) goes first */
	ssize_t below = layer_flush(l->below);
	bool below_waits = below < 0 && errno == EAGAIN;
	if (below < 0 && !below_waits && errno != EINTR && s->failed == 0)
		s->failed = errno;
	for (;;) {
		if (s->failed) {
			errno = s->failed;
			return -1;
		}
		if (cfg->cut_after != SS_UNSET && s->sent >= (uint64_t)cfg->cut_after)
			return total > 0 ? total : cut(l, s, now);
		if (s->count == 0 && below_waits && total == 0) {
			layer_wait_below(l);
			errno = EAGAIN;
			return -1;
		}
		if (s->count == 0)
			return total;
		if (cfg->stall_after != SS_UNSET && s->sent >= (uint64_t)cfg->stall_after) {
			if (s->client_eof) {
				s->failed = EPIPE;
				continue;
			}
			errno = EAGAIN;
			return total > 0 ? total : -1; /* nothing to wait for: until the end */
		}
		if (now < s->chunk[s->head].due)
			return total > 0 ? total : wait_until(l, s->chunk[s->head].due);
		if (cfg->slice != SS_UNSET && now < s->next_send)
			return total > 0 ? total : wait_until(l, s->next_send);
		uint64_t n = s->chunk[s->head].end - s->off;
		if (cfg->slice != SS_UNSET && n > (uint64_t)cfg->slice)
			n = (uint64_t)cfg->slice;
		if (cfg->cut_after != SS_UNSET && n > (uint64_t)cfg->cut_after - s->sent)
			n = (uint64_t)cfg->cut_after - s->sent;
		if (cfg->stall_after != SS_UNSET && n > (uint64_t)cfg->stall_after - s->sent)
			n = (uint64_t)cfg->stall_after - s->sent;
		if (cfg->throttle != SS_UNSET) {
			refill(s, &s->out, now);
			int64_t want = (int64_t)n < burst(s) ? (int64_t)n : burst(s);
			if (s->out.tokens < want)
				return total > 0 ? total : wait_until(l, when_tokens(s, &s->out, want));
			if ((int64_t)n > s->out.tokens)
				n = (uint64_t)s->out.tokens;
		}
		ssize_t w = l->below->ops->write(l->below, s->queue + s->off, (size_t)n);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				s->failed = errno;
			else
				layer_wait_below(l);
			if (total > 0 && s->failed == 0)
				return total;
			if (s->failed == 0)
				return -1;
			continue;
		}
		s->off += (size_t)w;
		s->sent += (uint64_t)w;
		total += w;
		if (cfg->throttle != SS_UNSET)
			s->out.tokens -= w;
		while (s->count > 0 && s->off >= s->chunk[s->head].end) {
			s->head = (s->head + 1) % QUEUE_CHUNKS;
			s->count--;
		}
		if (s->count == 0)
			s->off = s->len = 0;
		if (cfg->slice != SS_UNSET)
			s->next_send = now + SLICE_GAP_US;
	}
}

static ssize_t faults_write(struct layer *l, const void *buf, size_t size)
{
	struct faults_slot *s = slot_of(l);

	if (faults_flush(l) < 0 && errno != EAGAIN)
		return -1;
	if (s->queue == NULL && (s->queue = malloc(QUEUE_BYTES)) == NULL)
		return -1;
	/* room at the end: move what is left to the front */
	if (s->off > 0 && s->len + 4096 > QUEUE_BYTES) {
		memmove(s->queue, s->queue + s->off, s->len - s->off);
		for (unsigned i = 0, k = s->head; i < s->count; i++, k = (k + 1) % QUEUE_CHUNKS)
			s->chunk[k].end -= s->off;
		s->len -= s->off;
		s->off = 0;
	}
	if (s->len == QUEUE_BYTES || s->count == QUEUE_CHUNKS) {
		errno = EAGAIN; /* what the flush waits for */
		return -1;
	}
	size_t n = size < QUEUE_BYTES - s->len ? size : QUEUE_BYTES - s->len;
	memcpy(s->queue + s->len, buf, n);
	s->len += n;
	unsigned k = (s->head + s->count++) % QUEUE_CHUNKS;
	s->chunk[k].end = s->len;
	s->chunk[k].due = now_us() + s->f->delay_us;
	/* what may go at once, goes (a failure shows at the next call) */
	(void)faults_flush(l);
	errno = 0;
	return (ssize_t)n;
}

static int faults_close_layer(struct layer *l)
{
	struct faults_slot *s = slot_of(l);

	if (faults_flush(l) < 0 && errno != EAGAIN)
		return -1;
	if (s->cfg->cut_after != SS_UNSET && s->sent >= (uint64_t)s->cfg->cut_after)
		return (int)cut(l, s, now_us());
	if (s->count > 0) {
		errno = EAGAIN; /* the flush said what for */
		return -1;
	}
	int rc = l->below->ops->close(l->below);
	if (rc < 0 && errno == EAGAIN)
		layer_wait_below(l);
	return rc;
}

static const struct layer_ops faults_ops = {
	.name = "faults",
	.read = faults_read,
	.write = faults_write,
	.close = faults_close_layer,
	.flush = faults_flush,
};

static void faults_slot_free(void *slot)
{
	struct faults_slot *s = slot;

	free(s->queue);
}

const struct filter_kind filter_faults = {
	.name = "faults",
	.wanted = faults_wanted,
	.ctx_size = sizeof(struct faults),
	.slot_size = sizeof(struct faults_slot),
	.open = faults_open,
	.announce = faults_announce,
	.close = faults_close,
	.start = faults_start,
	.ops = &faults_ops,
	.reply = faults_reply,
	.slot_free = faults_slot_free,
};
