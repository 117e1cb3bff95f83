/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The datagram handler (socketserver's DatagramRequestHandler), for UDP and
 * unix datagram sockets.  Each datagram is one request: its exact bytes go to
 * the command's stdin through a pipe, then end of file; everything the command
 * writes to stdout is collected through another pipe, and when the command
 * exits it goes back to the sender as one datagram from the listening socket.
 *
 * The packet is written and the output read together, from the event loop,
 * with both pipe ends non-blocking: a handler that writes before it has read
 * all of its input cannot deadlock.  Both buffers are --max-packet bytes: a
 * datagram or a reply larger than that is dropped and logged, never cut.
 */
#include "axes.h"
#include "counts.h"
#include "filter.h"
#include "log.h"
#include "request.h"
#include "spawn.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <unistd.h>

/* Control-message room for one packet-info record of any family. */
#define PKTINFO_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))

/* A slot's state: the packet in, the reply out, through two pipes. */
struct dgram {
	char *packet;               /* --max-packet bytes */
	size_t packet_len, packet_off;
	char *reply;                /* --max-packet bytes */
	size_t reply_len;           /* kept, at most --max-packet */
	size_t reply_total;         /* written by the handler, kept or not */
	int in_fd, out_fd;          /* our ends of its stdin and stdout; -1 closed */
	int pipes[4];               /* made before the datagram is read: stdin's
	                               read and write ends, stdout's; -1 when not */
	struct watch in_w, out_w;
};

static struct dgram *dgram_of(const struct request *req)
{
	return req->handler_ctx;
}

/* --max-packet, checked to be 1 to 65535. */
static size_t max_packet(const struct view *v)
{
	return (size_t)v->cfg->max_packet;
}

/* Learn the address each datagram was sent to: for UDPLOCALIP, and to reply
 * from it (a multi-homed host must not answer from another). */
static int dgram_configure(struct view *v, int fd)
{
	return v->transport->packet_info_on != NULL ? v->transport->packet_info_on(v, fd) : 0;
}

static int dgram_slot_open(struct view *v, struct request *req)
{
	struct dgram *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	d->packet = malloc(max_packet(v));
	d->reply = malloc(max_packet(v));
	d->in_fd = d->out_fd = -1;
	for (int k = 0; k < 4; k++)
		d->pipes[k] = -1;
	req->handler_ctx = d;
	return d->packet != NULL && d->reply != NULL ? 0 : -1;
}

/* The handler's two pipes, made before a datagram is taken off the socket:
 * when descriptors run out, the datagram waits in the socket's queue and the
 * listener pauses, instead of the datagram being read and then lost. */
static int reserve_pipes(struct dgram *d)
{
	if (d->pipes[0] >= 0)
		return 0;
	if (pipe2(d->pipes, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(d->pipes + 2, O_CLOEXEC) < 0) {
		int e = errno;
		close(d->pipes[0]);
		close(d->pipes[1]);
		d->pipes[0] = d->pipes[1] = -1;
		errno = e;
		return -1;
	}
	return 0;
}

static void release_pipes(struct dgram *d)
{
	for (int i = 0; i < 4; i++) {
		if (d->pipes[i] >= 0)
			close(d->pipes[i]);
		d->pipes[i] = -1;
	}
}

/* A datagram or a reply larger than --max-packet: counted, and logged. */
static void log_dropped(struct view *v, const char *remote, const char *what, size_t bytes)
{
	count(v->counts, COUNT_DROPPED);
	if (!log_allowed(v->log, SS_LOG_ERROR, LOG_DROPPED))
		return;
	log_event(v->log, SS_LOG_ERROR, "dropped",
	          LOG_FIELDS(FSTR("remote", remote), FSTR("what", what), FINT("bytes", (long long)bytes),
	                     FINT("max_packet", (long long)max_packet(v))),
	          "%s: dropped a %s of %zu bytes: larger than --max-packet %zu", remote, what, bytes,
	          max_packet(v));
}

static enum receive dgram_receive(struct view *v, struct request *req)
{
	struct dgram *d = dgram_of(req);
	union {
		char buf[PKTINFO_SPACE];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = d->packet, .iov_len = max_packet(v) };
	struct msghdr msg = {
		.msg_name = &req->peer, .msg_namelen = sizeof(req->peer),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};

	if (reserve_pipes(d) < 0)
		return RECEIVE_ERROR;
	/* MSG_TRUNC: the result is the datagram's real length. */
	ssize_t n = recvmsg(v->sock->fd, &msg, MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? RECEIVE_NONE : RECEIVE_ERROR;
	req->peer_len = msg.msg_namelen;
	if ((size_t)n > max_packet(v) || (msg.msg_flags & MSG_TRUNC)) {
		char from[ADDR_TEXT_MAX];
		addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
		log_dropped(v, from[0] ? from : "unnamed peer", "datagram", (size_t)n);
		return RECEIVE_SKIP;
	}
	req->has_local = false;
	if (v->transport->packet_info != NULL)
		v->transport->packet_info(v, req, &msg);
	d->packet_len = (size_t)n;
	d->packet_off = 0;
	d->reply_len = d->reply_total = 0;
	req->fd = -1;
	return RECEIVE_OK;
}

/* Give the handler as much of the packet as its pipe takes, and close it at
 * the end.  True while the pipe is full: wait for room, then call again. */
static bool pump_in(struct view *v, struct dgram *d)
{
	while (d->in_fd >= 0) {
		if (d->packet_off == d->packet_len) {
			loop_drop(v->loop, &d->in_w, &d->in_fd);
			return false;
		}
		ssize_t n = write(d->in_fd, d->packet + d->packet_off, d->packet_len - d->packet_off);
		if (n > 0) {
			d->packet_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return true;
		} else {
			/* The handler closed its stdin early: that is its business. */
			loop_drop(v->loop, &d->in_w, &d->in_fd);
		}
	}
	return false;
}

/* Collect what the handler wrote, up to --max-packet; count (and discard)
 * the rest, so that an over-long reply is known and the handler never blocks.
 * The final read after the handler exited stops once the reply is known to
 * be too long: a process it left behind could keep the pipe full forever. */
static void pump_out(struct view *v, struct dgram *d, bool final)
{
	char discard[4096];

	while (d->out_fd >= 0 && !(final && d->reply_total > max_packet(v))) {
		size_t room = max_packet(v) - d->reply_len;
		char *dst = room > 0 ? d->reply + d->reply_len : discard;
		ssize_t n = read(d->out_fd, dst, room > 0 ? room : sizeof(discard));
		if (n > 0) {
			if (room > 0)
				d->reply_len += (size_t)n;
			d->reply_total += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return;
		} else {
			loop_drop(v->loop, &d->out_w, &d->out_fd);
		}
	}
}

static void on_in(void *ctx, struct watch *w, uint32_t events)
{
	struct view *v = ctx;

	(void)events;
	if (pump_in(v, w->data))
		loop_set(v->loop, w, EPOLLOUT);
}

static void on_out(void *ctx, struct watch *w, uint32_t events)
{
	(void)events;
	pump_out(ctx, w->data, false);
}

/* Run the command on the reserved pipes: our ends, non-blocking, become
 * in_fd and out_fd, and the handler's ends are closed here.  If it cannot
 * run, the pipes stay reserved for another try (or for finish).
 * --stderr=socket means the reply. */
static int dgram_spawn(struct view *v, struct request *req, struct spawn_child *async, pid_t *pid)
{
	struct dgram *d = dgram_of(req);
	int rc = set_nonblocking(d->pipes[1], true) < 0 || set_nonblocking(d->pipes[2], true) < 0 ? errno : 0;

	if (rc == 0)
		rc = spawn_handler(v->plan, d->pipes[0], d->pipes[3], d->pipes[3], req->env.envp, async, pid);
	if (rc != 0)
		return rc;
	d->in_fd = d->pipes[1];
	d->out_fd = d->pipes[2];
	close(d->pipes[0]);
	close(d->pipes[3]);
	for (int i = 0; i < 4; i++)
		d->pipes[i] = -1;
	return 0;
}

static void dgram_watch(struct view *v, struct request *req)
{
	struct dgram *d = dgram_of(req);

	/* In the loop (a spawn may run in another thread, and the loop may
	 * still hold an event for the watches' last use). */
	d->in_w = (struct watch){ .fd = d->in_fd, .fn = on_in, .data = d };
	d->out_w = (struct watch){ .fd = d->out_fd, .fn = on_out, .data = d };
	/* A small packet fits in the pipe at once: no need to wait for room. */
	if (pump_in(v, d))
		loop_set(v->loop, &d->in_w, EPOLLOUT);
	loop_set(v->loop, &d->out_w, EPOLLIN);
}

/*
 * Thread mode: the worker pumps with poll(2) until the handler exits, which it
 * learns from a pidfd, so that output a leftover process writes later is not
 * waited for (as in the event loop's SIGCHLD).  Without a pidfd (an old kernel,
 * or no descriptor left) it pumps until end of file: a --timeout still ends a
 * leftover process that stayed in the handler's process group.
 */
static void dgram_pump(struct view *v, struct request *req, pid_t pid)
{
	struct dgram *d = dgram_of(req);
	int pidfd = pidfd_open(pid, 0);
	bool exited = false;

	pump_in(v, d);
	while (!exited && (pidfd >= 0 || d->out_fd >= 0)) {
		struct pollfd p[3];
		nfds_t n = 0, in = 3, out = 3;
		if (pidfd >= 0)
			p[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (d->in_fd >= 0)
			p[in = n++] = (struct pollfd){ .fd = d->in_fd, .events = POLLOUT };
		if (d->out_fd >= 0)
			p[out = n++] = (struct pollfd){ .fd = d->out_fd, .events = POLLIN };
		if (poll(p, n, -1) < 0)
			continue; /* EINTR; nothing else can fail on these */
		if (in < n && p[in].revents != 0)
			pump_in(v, d);
		if (out < n && p[out].revents != 0)
			pump_out(v, d, false);
		exited = pidfd >= 0 && p[0].revents != 0;
	}
	pump_out(v, d, true);
	loop_drop(v->loop, &d->in_w, &d->in_fd);
	loop_drop(v->loop, &d->out_w, &d->out_fd);
	if (pidfd >= 0)
		close(pidfd);
}

static void send_reply(struct view *v, struct request *req)
{
	struct dgram *d = dgram_of(req);
	union {
		char buf[PKTINFO_SPACE];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = d->reply, .iov_len = d->reply_len };
	struct msghdr msg = { .msg_name = &req->peer, .msg_namelen = req->peer_len,
	                      .msg_iov = &iov, .msg_iovlen = 1 };

	if (d->reply_total > max_packet(v)) {
		log_dropped(v, req->remote, "reply", d->reply_total);
		return;
	}
	if (d->reply_len == 0 && !v->cfg->empty_reply)
		return;
	/* Only a unix socket that is not bound has no more than a family. */
	if (req->peer_len <= sizeof(sa_family_t)) {
		if (log_allowed(v->log, SS_LOG_ERROR, LOG_SEND_FAILED))
			log_event(v->log, SS_LOG_ERROR, "no_reply_address",
			          LOG_FIELDS(FINT("bytes", (long long)d->reply_len)),
			          "unnamed peer: no address to send a reply of %zu bytes to (bind the client's socket)",
			          d->reply_len);
		return;
	}
	if (req->has_local && v->transport->reply_from != NULL)
		v->transport->reply_from(req, &msg, control.buf, sizeof(control.buf));
	/* The faults may drop it, send it twice or later. */
	struct reply_plan plan = { .copies = 1 };
	filters_reply(v, req, d->reply, d->reply_len, &plan);
	if (plan.copies > 0 && plan.delay_us > 0) {
		filters_defer(v, req, &msg, &plan);
		return;
	}
	for (unsigned i = 0; i < plan.copies; i++) {
		if (sendmsg(v->sock->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
		    log_allowed(v->log, SS_LOG_ERROR, LOG_SEND_FAILED))
			log_event(v->log, SS_LOG_ERROR, "send_failed",
			          LOG_FIELDS(FSTR("remote", req->remote), FSTR("error", strerror(errno))),
			          "%s: cannot send the reply: %s", req->remote, strerror(errno));
	}
}

static void dgram_finish(struct view *v, struct request *req)
{
	struct dgram *d = dgram_of(req);

	/* Everything the handler wrote before it exited is in the pipe now;
	 * what a process it left behind writes later is not waited for. */
	if (req->exited)
		pump_out(v, d, true);
	loop_drop(v->loop, &d->in_w, &d->in_fd);
	loop_drop(v->loop, &d->out_w, &d->out_fd);
	release_pipes(d);
	/* A handler stopped by --timeout sends no reply. */
	if (req->exited && !req->timed_out)
		send_reply(v, req);
	filters_end(v, req);
}

/* In the loop, once admitted: the filters see the packet (--trace, --record). */
static int dgram_prepare(struct view *v, struct request *req)
{
	struct dgram *d = dgram_of(req);

	filters_packet(v, req, d->packet, d->packet_len);
	return 0;
}

static void dgram_slot_close(struct view *v, struct request *req)
{
	struct dgram *d = dgram_of(req);

	filters_slot_close(v, req);
	if (d == NULL)
		return;
	release_pipes(d);
	free(d->packet);
	free(d->reply);
	free(d);
	req->handler_ctx = NULL;
}

const struct handler handler_dgram = {
	.name = "datagram",
	.var_prefix = "UDP",
	.connections = false,
	.slot_open = dgram_slot_open,
	.slot_close = dgram_slot_close,
	.receive = dgram_receive,
	.prepare = dgram_prepare,
	.spawn = dgram_spawn,
	.watch = dgram_watch,
	.pump = dgram_pump,
	.finish = dgram_finish,
	.configure = dgram_configure,
};
