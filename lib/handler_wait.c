/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The --wait handler (inetd's "wait" services: tftpd, talkd, udpsvd-style
 * servers that read the socket themselves): the listening socket itself is
 * COMMAND's stdin and stdout.  Nothing is taken off the socket; once COMMAND
 * runs, the mode has no free slot (one at a time), so the socket leaves the
 * poll set until COMMAND exits, and a request still waiting then starts
 * COMMAND again.
 */
#include "server.h"

static enum receive wait_receive(struct ss_server *srv, struct request *req)
{
	(void)srv;
	req->fd = -1;
	req->peer_len = 0; /* no peer: COMMAND meets its clients itself */
	req->has_local = false;
	return RECEIVE_OK;
}

static int wait_spawn(struct ss_server *srv, struct request *req, struct spawn_child *async, pid_t *pid)
{
	return spawn_handler(&srv->plan, srv->listen_fd, srv->listen_fd, srv->listen_fd, req->env.envp, async, pid);
}

static void wait_finish(struct ss_server *srv, struct request *req)
{
	(void)srv;
	(void)req;
}

const struct handler handler_wait_stream = {
	.name = "wait",
	.var_prefix = "TCP",
	.connections = true,
	.hands_over = true,
	.receive = wait_receive,
	.spawn = wait_spawn,
	.finish = wait_finish,
};

const struct handler handler_wait_dgram = {
	.name = "wait",
	.var_prefix = "UDP",
	.connections = false,
	.hands_over = true,
	.receive = wait_receive,
	.spawn = wait_spawn,
	.finish = wait_finish,
};
