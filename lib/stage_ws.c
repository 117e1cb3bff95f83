/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The WebSocket stage (--ws): the HTTP/1.1 upgrade, read and answered in the
 * connection's opening (after the PROXY header, admission and the TLS
 * handshake; within --opening-timeout), through the connection's bottom
 * layer (the socket, or TLS).  A request that is not an upgrade gets 426, a
 * malformed one or a bad key or version 400, an origin not in --ws-origin
 * 403, and is closed; an upgrade gets 101 and goes on to its handler, whose
 * variables (CGI's, as websocketd gives them) it sets.
 */
#include "env.h"
#include "relay.h"
#include "request.h"
#include "stage.h"
#include "view.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static bool ws_wanted(const struct view *v)
{
	return v->cfg->ws;
}

static enum step ws_begin(struct view *v, struct request *req, char *why, size_t size)
{
	(void)v;
	if (req->ws == NULL && (req->ws = malloc(sizeof(*req->ws))) == NULL) {
		snprintf(why, size, "out of memory for a WebSocket upgrade");
		return STEP_FAIL;
	}
	req->ws->len = req->ws->used = req->ws->answer_len = req->ws->answer_off = req->ws->env_used = 0;
	return STEP_DONE;
}

static enum step wait_for(const struct layer *l)
{
	return l->wants & EPOLLOUT ? STEP_WRITE : STEP_READ;
}

static enum step ws_step(struct view *v, struct request *req, uint32_t events, char *why, size_t size)
{
	struct ws_conn *c = req->ws;
	struct layer plain, *l = connection_layer(req->tls, req->fd, &plain);

	(void)events;
	while (c->answer_len == 0) {
		ssize_t n = l->ops->read(l, c->request + c->len, WS_REQUEST_MAX - c->len);
		if (n < 0 && errno == EAGAIN)
			return wait_for(l);
		if (n <= 0) {
			snprintf(why, size, "%s before its WebSocket upgrade was read",
			         n == 0 ? "closed" : strerror(errno));
			return STEP_FAIL;
		}
		c->len += (size_t)n;
		switch (ws_parse_request(c->request, c->len, &c->parsed, &c->used)) {
		case WS_PARSE_MORE:
			continue;
		case WS_PARSE_OK:
			ws_judge(&c->parsed, v->cfg->ws_origin, v->cfg->ws_protocol, &c->verdict);
			break;
		case WS_PARSE_BAD:
			c->verdict = (struct ws_verdict){ .status = 400, .reason = "not an HTTP/1.1 request" };
			break;
		case WS_PARSE_TOO_LONG:
			c->verdict = (struct ws_verdict){ .status = 431, .reason = "its header is too long" };
			break;
		}
		c->answer_len = ws_answer(&c->verdict, c->answer, sizeof(c->answer));
	}
	while (c->answer_off < c->answer_len) {
		ssize_t n = l->ops->write(l, c->answer + c->answer_off, c->answer_len - c->answer_off);
		if (n < 0 && errno == EAGAIN)
			return wait_for(l);
		if (n <= 0) {
			snprintf(why, size, "cannot answer its WebSocket upgrade: %s", strerror(errno));
			return STEP_FAIL;
		}
		c->answer_off += (size_t)n;
	}
	if (c->verdict.status != 101) {
		snprintf(why, size, "WebSocket upgrade refused with %d: %s", c->verdict.status, c->verdict.reason);
		return STEP_FAIL;
	}
	return STEP_DONE;
}

/* "NAME=value" into the connection's variable text, and the environment. */
static void put(struct request *req, const char *name, size_t name_len, const char *value)
{
	struct ws_conn *c = req->ws;
	size_t room = sizeof(c->env) - c->env_used;
	int n = snprintf(c->env + c->env_used, room, "%.*s=%s", (int)name_len, name, value);

	if (n < 0 || (size_t)n >= room)
		return;
	env_add_entry(&req->env, c->env + c->env_used);
	c->env_used += (size_t)n + 1;
}

/* CGI's variables, and HTTP_NAME for each header (its name upper case,
 * '-' as '_'; a name with other characters than letters, digits and '-'
 * is left out, as is a second header of one name, and Proxy: its
 * HTTP_PROXY would be taken for the handler's proxy, "httpoxy"). */
static void ws_describe(struct view *v, struct request *req)
{
	struct ws_conn *c = req->ws;
	char path[WS_REQUEST_MAX], ip[ADDR_TEXT_MAX], port[16];
	unsigned port_number;

	(void)v;
	if (c == NULL)
		return;
	const struct ws_request *r = &c->parsed;
	const char *query = strchr(r->uri, '?');
	put(req, "REQUEST_METHOD", 14, r->method);
	put(req, "REQUEST_URI", 11, r->uri);
	snprintf(path, sizeof(path), "%.*s", (int)(query != NULL ? (size_t)(query - r->uri) : strlen(r->uri)), r->uri);
	put(req, "PATH_INFO", 9, path);
	put(req, "QUERY_STRING", 12, query != NULL ? query + 1 : "");
	put(req, "SERVER_PROTOCOL", 15, r->version);
	/* as TCPREMOTEIP and TCPREMOTEPORT have them (v4-mapped shown as IPv4) */
	addr_ip_port((const struct sockaddr *)&req->peer, ip, sizeof(ip), &port_number);
	snprintf(port, sizeof(port), "%u", port_number);
	put(req, "REMOTE_ADDR", 11, ip);
	put(req, "REMOTE_PORT", 11, port);
	for (unsigned i = 0; i < r->nheaders; i++) {
		char name[5 + 128];
		size_t k = 5, len = strlen(r->header[i].name);
		bool usable = len < sizeof(name) - 5;
		memcpy(name, "HTTP_", 5);
		for (size_t j = 0; usable && j < len; j++) {
			char ch = r->header[i].name[j];
			if (ch >= 'a' && ch <= 'z')
				name[k++] = (char)(ch - 'a' + 'A');
			else if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
				name[k++] = ch;
			else if (ch == '-')
				name[k++] = '_';
			else
				usable = false;
		}
		if (usable && ws_header(r, r->header[i].name) == r->header[i].value &&
		    !(k == 10 && memcmp(name, "HTTP_PROXY", 10) == 0))
			put(req, name, k, r->header[i].value);
	}
}

const struct opening_stage stage_ws = {
	.name = "WebSocket upgrade",
	.fail_event = "ws_failed",
	.kind = LOG_OPENING,
	.read_events = EPOLLIN,
	.wanted = ws_wanted,
	.begin = ws_begin,
	.step = ws_step,
	.describe = ws_describe,
};
