/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TLS stage (--tls, --tls-cert): the handshake, one non-blocking step
 * each time the connection is ready (tls.c), after admission, so that a
 * refused client costs no handshake.
 */
#include "handler_tls.h"
#include "stage.h"
#include "log.h"
#include "request.h"
#include "view.h"

#include <stdio.h>
#include <sys/epoll.h>

static bool tls_wanted(const struct view *v)
{
	return handler_tls_context(v) != NULL;
}

static enum step tls_begin(struct view *v, struct request *req, char *why, size_t size)
{
	req->tls = tls_conn_new(handler_tls_context(v), req->fd);
	if (req->tls != NULL)
		return STEP_DONE;
	snprintf(why, size, "out of memory for a TLS connection");
	return STEP_FAIL;
}

static enum step tls_step(struct view *v, struct request *req, uint32_t events, char *why, size_t size)
{
	(void)events;
	switch (tls_handshake(req->tls, why, size)) {
	case TLS_DONE:
		if (log_enabled(v->log, SS_LOG_DEBUG)) {
			char from[ADDR_TEXT_MAX], what[128];
			addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
			tls_summary(req->tls, v->cfg->tls_hand_over, what, sizeof(what));
			log_event(v->log, SS_LOG_DEBUG, "tls_handshake",
			          LOG_FIELDS(FSTR("remote", from), FSTR("tls", what)), "%s: TLS handshake done: %s", from,
			          what);
		}
		return STEP_DONE;
	case TLS_WANT_READ: return STEP_READ;
	case TLS_WANT_WRITE: return STEP_WRITE;
	case TLS_FAILED: break;
	}
	return STEP_FAIL;
}

static void tls_describe_stage(struct view *v, struct request *req)
{
	(void)v;
	if (req->tls != NULL)
		tls_describe(req->tls, &req->env);
}

const struct opening_stage stage_tls = {
	.name = "TLS handshake",
	.fail_event = "tls_failed",
	.kind = LOG_TLS,
	.read_events = EPOLLIN,
	.wanted = tls_wanted,
	.begin = tls_begin,
	.step = tls_step,
	.describe = tls_describe_stage,
};
