/*
 * The stream handler (socketserver's StreamRequestHandler), for stream and
 * seqpacket sockets: the accepted connection itself becomes the command's
 * stdin and stdout.  Nothing is relayed; sockserve closes its copy as soon as
 * the handler runs, so the client sees end of file when the handler (and
 * whatever it started) has closed the connection.
 */
#include "internal.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <unistd.h>

static int stream_receive(struct ss_server *srv, struct request *req)
{
	req->peer_len = sizeof(req->peer);
	/* No SOCK_NONBLOCK: the handler gets a blocking socket whatever the
	 * listener is. */
	req->fd = accept4(srv->listen_fd, (struct sockaddr *)&req->peer, &req->peer_len, SOCK_CLOEXEC);
	if (req->fd >= 0)
		return 1;
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

/* Run the command on the connection; sockserve's copy is closed either way. */
static int stream_spawn(struct ss_server *srv, struct request *req, pid_t *pid)
{
	int errfd = -1;

	if (srv->cfg.nodelay && srv->addr.family != AF_UNIX) {
		int on = 1;
		setsockopt(req->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
	if (srv->cfg.stderr_to == SS_STDERR_SOCKET)
		errfd = req->fd;
	else if (srv->cfg.stderr_to == SS_STDERR_NULL)
		errfd = srv->null_fd;
	int rc = spawn_handler(&srv->plan, req->fd, req->fd, errfd, req->envp, req->child, pid);
	close(req->fd);
	req->fd = -1;
	return rc;
}


static void stream_finish(struct ss_server *srv, struct request *req)
{
	(void)srv;
	if (req->fd >= 0)
		close(req->fd);
	req->fd = -1;
}

static int stream_configure(struct ss_server *srv, int fd)
{
	(void)srv;
	(void)fd;
	return 0;
}

const struct handler handler_stream = {
	.name = "stream",
	.receive = stream_receive,
	.spawn = stream_spawn,
	.finish = stream_finish,
	.configure = stream_configure,
};
