/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The --wait handler (inetd's "wait" services: tftpd, talkd, udpsvd-style
 * servers that read the socket themselves): the listening socket itself is
 * COMMAND's stdin and stdout.  Nothing is taken off the socket; once COMMAND
 * runs, the mode has no free slot (one at a time), so the socket leaves the
 * poll set until COMMAND exits, and a request still waiting then starts
 * COMMAND again.
 *
 * A COMMAND that exits without reading what woke it (one that fails at
 * once) would be started again for ever, thousands of times a second.  As
 * inetd and xinetd do, more than RESPAWN_MAX such starts within
 * RESPAWN_WINDOW_US pause the service for RESPAWN_PAUSE_US, logged once a
 * pause.
 */
#include "axes.h"
#include "log.h"
#include "request.h"
#include "spawn.h"
#include "view.h"

#include <poll.h>
#include <string.h>

#define RESPAWN_MAX 40
#define RESPAWN_WINDOW_US 10000000
#define RESPAWN_PAUSE_US 10000000

struct wait_state {
	int64_t unread[RESPAWN_MAX];  /* when COMMAND last exited leaving the socket unread: a ring */
	unsigned next;                /* the oldest, and where the next one goes */
	int64_t paused_until;
};

static enum receive wait_receive(struct view *v, struct request *req)
{
	(void)v;
	req->fd = -1;
	req->peer_len = 0; /* no peer: COMMAND meets its clients itself */
	req->has_local = false;
	return RECEIVE_OK;
}

static int wait_spawn(struct view *v, struct request *req, struct spawn_child *async, pid_t *pid)
{
	return spawn_handler(v->plan, v->sock->fd, v->sock->fd, v->sock->fd, req->env.envp, async, pid);
}

/* COMMAND has ended (or never ran): was the socket left unread, and how
 * often lately? */
static void wait_finish(struct view *v, struct request *req)
{
	struct wait_state *w = v->handler_ctx;
	struct pollfd p = { .fd = v->sock->fd, .events = POLLIN };
	int64_t now = now_us();

	(void)req;
	if (v->draining || poll(&p, 1, 0) != 1)
		return;
	int64_t oldest = w->unread[w->next];
	w->unread[w->next] = now;
	w->next = (w->next + 1) % RESPAWN_MAX;
	if (oldest == 0 || now - oldest > RESPAWN_WINDOW_US)
		return;
	w->paused_until = now + RESPAWN_PAUSE_US;
	memset(w->unread, 0, sizeof(w->unread));
	log_msg(v->log, SS_LOG_ERROR, "respawn_paused",
	        "COMMAND exited %d times within %d s without taking what was waiting on the socket: "
	        "not started again for %d s", RESPAWN_MAX + 1, RESPAWN_WINDOW_US / 1000000, RESPAWN_PAUSE_US / 1000000);
}

static int64_t wait_paused(struct view *v, int64_t now)
{
	struct wait_state *w = v->handler_ctx;

	if (w->paused_until != 0 && now >= w->paused_until)
		w->paused_until = 0;
	return w->paused_until;
}

const struct handler handler_wait_stream = {
	.name = "wait",
	.var_prefix = "TCP",
	.connections = true,
	.hands_over = true,
	.ctx_size = sizeof(struct wait_state),
	.receive = wait_receive,
	.spawn = wait_spawn,
	.finish = wait_finish,
	.paused = wait_paused,
};

const struct handler handler_wait_dgram = {
	.name = "wait",
	.var_prefix = "UDP",
	.connections = false,
	.hands_over = true,
	.ctx_size = sizeof(struct wait_state),
	.receive = wait_receive,
	.spawn = wait_spawn,
	.finish = wait_finish,
	.paused = wait_paused,
};
