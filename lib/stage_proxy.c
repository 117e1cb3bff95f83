/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PROXY protocol stage (--proxy-protocol): only from a --proxy-from peer,
 * the header is taken off the connection (proxy.c) and its addresses become
 * the request's.  Edge-triggered: the bytes stay in the socket until the
 * whole header is there.
 */
#include "admission.h"
#include "stage.h"
#include "log.h"
#include "request.h"
#include "view.h"

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

static bool proxy_wanted(const struct view *v)
{
	return v->cfg->proxy_protocol;
}

static enum step proxy_begin(struct view *v, struct request *req, char *why, size_t size)
{
	(void)why;
	(void)size;
	if (!admission_proxy_trusted(v, req))
		return STEP_REFUSED;
	proxy_reader_init(&req->proxy);
	return STEP_DONE;
}

static enum step proxy_step(struct view *v, struct request *req, uint32_t events, char *why, size_t size)
{
	const char *problem = NULL;
	enum proxy_result got = proxy_read(req->fd, &req->proxy, &problem);
	const struct proxy_header *h = &req->proxy.header;
	char via[ADDR_TEXT_MAX];

	if (got == PROXY_BAD) {
		snprintf(why, size, "%s", problem);
		return STEP_FAIL;
	}
	if (got == PROXY_MORE) {
		/* The edge that brought end of file brought no whole header
		 * (the loop passes on no event of an earlier connection in the
		 * same place). */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			snprintf(why, size, "the connection closed inside its PROXY header");
			return STEP_FAIL;
		}
		return STEP_READ;
	}
	if (log_enabled(v->log, SS_LOG_DEBUG))
		addr_format((struct sockaddr *)&req->peer, req->peer_len, via, sizeof(via));
	if (!h->keep) {
		memcpy(&req->peer, &h->source, sizeof(req->peer));
		req->peer_len = h->address_len;
		memcpy(&req->local, &h->destination, sizeof(req->local));
		req->has_local = true;
	}
	if (log_enabled(v->log, SS_LOG_DEBUG)) {
		char from[ADDR_TEXT_MAX];
		addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
		log_event(v->log, SS_LOG_DEBUG, "proxy",
		          LOG_FIELDS(FSTR("remote", from), FSTR("via", via), FINT("version", h->version),
		                     FINT("bytes", (long long)h->length), FINT("kept", h->keep)),
		          "%s: PROXY v%d header (%zu bytes) from %s%s", from, h->version, h->length, via,
		          h->keep ? ", addresses kept" : "");
	}
	return STEP_DONE;
}

const struct opening_stage stage_proxy = {
	.name = "PROXY header",
	.fail_event = "proxy_failed",
	.kind = LOG_OPENING,
	.read_events = EPOLLIN | EPOLLRDHUP | EPOLLET,
	.wanted = proxy_wanted,
	.begin = proxy_begin,
	.step = proxy_step,
};
