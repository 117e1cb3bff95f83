/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The stream handler (socketserver's StreamRequestHandler), for stream and
 * seqpacket sockets: the accepted connection itself becomes the command's
 * stdin and stdout.  Nothing is relayed; sockserve closes its copy as soon as
 * the handler runs, so the client sees end of file when the handler (and
 * whatever it started) has closed the connection.
 */
#include "axes.h"
#include "request.h"
#include "spawn.h"
#include "view.h"

#include <errno.h>
#include <unistd.h>

static enum receive stream_receive(struct view *v, struct request *req)
{
	req->peer_len = sizeof(req->peer);
	req->has_local = false;
	/* No SOCK_NONBLOCK: the handler gets a blocking socket whatever the
	 * listener is. */
	req->fd = accept4(v->sock->fd, (struct sockaddr *)&req->peer, &req->peer_len, SOCK_CLOEXEC);
	if (req->fd >= 0) {
		if (v->transport->accepted != NULL)
			v->transport->accepted(v, req);
		return RECEIVE_OK;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return RECEIVE_NONE;
	/* A client that gave up before it was accepted. */
	if (errno == ECONNABORTED || errno == EPROTO || errno == EPERM)
		return RECEIVE_SKIP;
	return RECEIVE_ERROR;
}

/* Run the command on the connection, then close sockserve's copy; if it
 * cannot run, the connection stays for another try (or for finish). */
static int stream_spawn(struct view *v, struct request *req, struct spawn_child *async, pid_t *pid)
{
	int rc = spawn_handler(v->plan, req->fd, req->fd, req->fd, req->env.envp, async, pid);

	if (rc == 0) {
		close(req->fd);
		req->fd = -1;
	}
	return rc;
}

static void stream_finish(struct view *v, struct request *req)
{
	(void)v;
	if (req->fd >= 0)
		close(req->fd);
	req->fd = -1;
}

const struct handler handler_stream = {
	.name = "stream",
	.var_prefix = "TCP",
	.connections = true,
	.receive = stream_receive,
	.spawn = stream_spawn,
	.finish = stream_finish,
};
