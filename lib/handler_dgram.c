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
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <unistd.h>

/* Control-message room for one IPv4 or IPv6 packet-info record. */
#define PKTINFO_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))

static int dgram_configure(struct ss_server *srv, int fd)
{
	int on = 1;

	/* Learn the address each datagram was sent to: for UDPLOCALIP, and to
	 * reply from it (a multi-homed host must not answer from another). */
	if (srv->addr.family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	if (srv->addr.family == AF_INET6)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	return 0;
}

static int buffers(struct ss_server *srv, struct request *req)
{
	if (req->packet == NULL)
		req->packet = malloc(srv->cfg.max_packet);
	if (req->reply == NULL)
		req->reply = malloc(srv->cfg.max_packet);
	return req->packet != NULL && req->reply != NULL ? 0 : -1;
}

static void read_pktinfo(struct ss_server *srv, struct request *req, struct msghdr *msg)
{
	req->has_local = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			struct sockaddr_in *sin = (struct sockaddr_in *)&req->local;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(sin, 0, sizeof(*sin));
			sin->sin_family = AF_INET;
			sin->sin_addr = pi.ipi_addr;
			sin->sin_port = htons((uint16_t)srv->local_port);
			req->has_local = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&req->local;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(sin6, 0, sizeof(*sin6));
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = pi.ipi6_addr;
			sin6->sin6_port = htons((uint16_t)srv->local_port);
			req->has_local = true;
		}
	}
}

/* The handler's two pipes, made before a datagram is taken off the socket:
 * when descriptors run out, the datagram waits in the socket's queue and the
 * listener pauses, instead of the datagram being read and then lost. */
static int reserve_pipes(struct request *req)
{
	if (req->pipes[0] >= 0)
		return 0;
	if (pipe2(req->pipes, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(req->pipes + 2, O_CLOEXEC) < 0) {
		int e = errno;
		close(req->pipes[0]);
		close(req->pipes[1]);
		req->pipes[0] = req->pipes[1] = -1;
		errno = e;
		return -1;
	}
	return 0;
}

static void release_pipes(struct request *req)
{
	for (int i = 0; i < 4; i++) {
		if (req->pipes[i] >= 0)
			close(req->pipes[i]);
		req->pipes[i] = -1;
	}
}

static int dgram_receive(struct ss_server *srv, struct request *req)
{
	union {
		char buf[PKTINFO_SPACE];
		struct cmsghdr align;
	} control;

	if (buffers(srv, req) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (reserve_pipes(req) < 0)
		return -1;
	for (;;) {
		struct iovec iov = { .iov_base = req->packet, .iov_len = srv->cfg.max_packet };
		struct msghdr msg = {
			.msg_name = &req->peer, .msg_namelen = sizeof(req->peer),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		/* MSG_TRUNC: the result is the datagram's real length. */
		ssize_t n = recvmsg(srv->listen_fd, &msg, MSG_TRUNC);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		req->peer_len = msg.msg_namelen;
		if ((size_t)n > srv->cfg.max_packet || (msg.msg_flags & MSG_TRUNC)) {
			char from[ADDR_TEXT_MAX];
			addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
			srv->dropped++;
			log_event(srv, SS_LOG_ERROR, "dropped",
			          LOG_FIELDS(FSTR("remote", from[0] ? from : "unnamed peer"), FINT("bytes", n),
			                     FINT("max_packet", (long long)srv->cfg.max_packet)),
			          "%s: dropped a datagram of %zd bytes: larger than --max-packet %zu",
			          from[0] ? from : "unnamed peer", n, srv->cfg.max_packet);
			continue;
		}
		read_pktinfo(srv, req, &msg);
		req->packet_len = (size_t)n;
		req->packet_off = 0;
		req->reply_len = req->reply_total = 0;
		req->fd = -1;
		return 1;
	}
}

static void close_watched(struct ss_server *srv, struct watch *w, int *fd)
{
	if (*fd < 0)
		return;
	loop_set(&srv->loop, w, 0);
	close(*fd);
	*fd = -1;
}

/* Give the handler as much of the packet as its pipe takes, and close it at
 * the end.  True while the pipe is full: wait for room, then call again. */
static bool pump_in(struct ss_server *srv, struct request *req)
{
	while (req->in_fd >= 0) {
		if (req->packet_off == req->packet_len) {
			close_watched(srv, &req->in_w, &req->in_fd);
			return false;
		}
		ssize_t n = write(req->in_fd, req->packet + req->packet_off, req->packet_len - req->packet_off);
		if (n > 0) {
			req->packet_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return true;
		} else {
			/* The handler closed its stdin early: that is its business. */
			close_watched(srv, &req->in_w, &req->in_fd);
		}
	}
	return false;
}

/* Collect what the handler wrote, up to --max-packet; count (and discard)
 * the rest, so that an over-long reply is known and the handler never blocks.
 * The final read after the handler exited stops once the reply is known to
 * be too long: a process it left behind could keep the pipe full forever. */
static void pump_out(struct ss_server *srv, struct request *req, bool final)
{
	char discard[4096];

	while (req->out_fd >= 0 && !(final && req->reply_total > srv->cfg.max_packet)) {
		size_t room = srv->cfg.max_packet - req->reply_len;
		char *dst = room > 0 ? req->reply + req->reply_len : discard;
		ssize_t n = read(req->out_fd, dst, room > 0 ? room : sizeof(discard));
		if (n > 0) {
			if (room > 0)
				req->reply_len += (size_t)n;
			req->reply_total += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return;
		} else {
			close_watched(srv, &req->out_w, &req->out_fd);
		}
	}
}

static void on_in(struct ss_server *srv, struct watch *w, uint32_t events)
{
	(void)events;
	if (pump_in(srv, w->data))
		loop_set(&srv->loop, w, EPOLLOUT);
}

static void on_out(struct ss_server *srv, struct watch *w, uint32_t events)
{
	(void)events;
	pump_out(srv, w->data, false);
}

static int nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Run the command on the reserved pipes: our ends, non-blocking, go in in_fd
 * and out_fd (closed by finish if anything fails). */
static int dgram_spawn(struct ss_server *srv, struct request *req, pid_t *pid)
{
	int in[2] = { req->pipes[0], req->pipes[1] }, out[2] = { req->pipes[2], req->pipes[3] };
	int errfd = -1;

	for (int i = 0; i < 4; i++)
		req->pipes[i] = -1;
	if (srv->cfg.stderr_to == SS_STDERR_SOCKET)
		errfd = out[1]; /* "the socket": the reply */
	else if (srv->cfg.stderr_to == SS_STDERR_NULL)
		errfd = srv->null_fd;
	req->in_fd = in[1];
	req->out_fd = out[0];
	req->in_w = (struct watch){ .fd = req->in_fd, .fn = on_in, .data = req };
	req->out_w = (struct watch){ .fd = req->out_fd, .fn = on_out, .data = req };
	int rc = nonblocking(req->in_fd) < 0 || nonblocking(req->out_fd) < 0 ? errno : 0;
	if (rc == 0)
		rc = spawn_handler(&srv->plan, in[0], out[1], errfd, req->envp, req->child, pid);
	close(in[0]);
	close(out[1]);
	return rc;
}

static void dgram_watch(struct ss_server *srv, struct request *req)
{
	/* A small packet fits in the pipe at once: no need to wait for room. */
	if (pump_in(srv, req))
		loop_set(&srv->loop, &req->in_w, EPOLLOUT);
	loop_set(&srv->loop, &req->out_w, EPOLLIN);
}

/*
 * Thread mode: the worker pumps with poll(2) until the handler exits, which it
 * learns from a pidfd, so that output a leftover process writes later is not
 * waited for (as in the event loop's SIGCHLD).  Without a pidfd (an old kernel,
 * or no descriptor left) it pumps until end of file: a --timeout still ends a
 * leftover process that stayed in the handler's process group.
 */
static void dgram_pump(struct ss_server *srv, struct request *req, pid_t pid)
{
	int pidfd = pidfd_open(pid, 0);
	bool exited = false;

	pump_in(srv, req);
	while (!exited && (pidfd >= 0 || req->out_fd >= 0)) {
		struct pollfd p[3];
		nfds_t n = 0, in = 3, out = 3;
		if (pidfd >= 0)
			p[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (req->in_fd >= 0)
			p[in = n++] = (struct pollfd){ .fd = req->in_fd, .events = POLLOUT };
		if (req->out_fd >= 0)
			p[out = n++] = (struct pollfd){ .fd = req->out_fd, .events = POLLIN };
		if (poll(p, n, -1) < 0)
			continue; /* EINTR; nothing else can fail on these */
		if (in < n && p[in].revents != 0)
			pump_in(srv, req);
		if (out < n && p[out].revents != 0)
			pump_out(srv, req, false);
		exited = pidfd >= 0 && p[0].revents != 0;
	}
	pump_out(srv, req, true);
	close_watched(srv, &req->in_w, &req->in_fd);
	close_watched(srv, &req->out_w, &req->out_fd);
	if (pidfd >= 0)
		close(pidfd);
}


/* The reply's source: the address the request was sent to, when known. */
static void set_source(struct request *req, struct msghdr *msg, char *control, size_t size)
{
	if (!req->has_local)
		return;
	memset(control, 0, size);
	msg->msg_control = control;
	struct cmsghdr *c = (struct cmsghdr *)control;
	if (req->local.ss_family == AF_INET) {
		struct in_pktinfo pi = { .ipi_spec_dst = ((struct sockaddr_in *)&req->local)->sin_addr };
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		msg->msg_controllen = CMSG_SPACE(sizeof(pi));
	} else {
		struct in6_pktinfo pi = { .ipi6_addr = ((struct sockaddr_in6 *)&req->local)->sin6_addr };
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		msg->msg_controllen = CMSG_SPACE(sizeof(pi));
	}
}

static void send_reply(struct ss_server *srv, struct request *req)
{
	union {
		char buf[PKTINFO_SPACE];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = req->reply, .iov_len = req->reply_len };
	struct msghdr msg = { .msg_name = &req->peer, .msg_namelen = req->peer_len,
	                      .msg_iov = &iov, .msg_iovlen = 1 };

	if (req->reply_total > srv->cfg.max_packet) {
		srv->dropped++;
		log_event(srv, SS_LOG_ERROR, "dropped",
		          LOG_FIELDS(FSTR("remote", req->remote), FINT("bytes", (long long)req->reply_total),
		                     FINT("max_packet", (long long)srv->cfg.max_packet)),
		          "%s: dropped a reply of %zu bytes: larger than --max-packet %zu", req->remote,
		          req->reply_total, srv->cfg.max_packet);
		return;
	}
	if (req->reply_len == 0 && !srv->cfg.empty_reply)
		return;
	if (srv->addr.family == AF_UNIX && req->peer_len <= sizeof(sa_family_t)) {
		log_event(srv, SS_LOG_ERROR, "no_reply_address", LOG_FIELDS(FINT("bytes", (long long)req->reply_len)),
		          "unnamed peer: no address to send a reply of %zu bytes to (bind the client's socket)",
		          req->reply_len);
		return;
	}
	set_source(req, &msg, control.buf, sizeof(control.buf));
	if (sendmsg(srv->listen_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_event(srv, SS_LOG_ERROR, "send_failed",
		          LOG_FIELDS(FSTR("remote", req->remote), FSTR("error", strerror(errno))),
		          "%s: cannot send the reply: %s", req->remote, strerror(errno));
}

static void dgram_finish(struct ss_server *srv, struct request *req)
{
	/* Everything the handler wrote before it exited is in the pipe now;
	 * what a process it left behind writes later is not waited for. */
	if (req->exited)
		pump_out(srv, req, true);
	close_watched(srv, &req->in_w, &req->in_fd);
	close_watched(srv, &req->out_w, &req->out_fd);
	release_pipes(req);
	/* A handler stopped by --timeout sends no reply. */
	if (req->exited && !req->timed_out)
		send_reply(srv, req);
}

const struct handler handler_dgram = {
	.name = "datagram",
	.receive = dgram_receive,
	.spawn = dgram_spawn,
	.watch = dgram_watch,
	.pump = dgram_pump,
	.finish = dgram_finish,
	.configure = dgram_configure,
};
