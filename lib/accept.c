/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The accept path.  The listener is watched only while a slot is free (the
 * server decides that once per loop turn), so here there is always room for
 * at least one request; a batch is bounded so that signals and finished
 * requests are never starved by a busy listener.
 */
#include "accept.h"
#include "server.h"

#include <errno.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <string.h>

/* How long accepting pauses when the descriptor table is full. */
#define ACCEPT_BACKOFF_US 100000
/* The exhaustion message is not repeated sooner than this. */
#define STARVED_LOG_US 10000000
/* Most requests taken (or let go) in one wake-up. */
#define ACCEPT_BATCH 64

static bool out_of_descriptors(int error)
{
	return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

enum refusal { REFUSED_DENY, REFUSED_NOT_ALLOWED, REFUSED_RATE, REFUSED_MAX_PER_IP, REFUSED_PROXY_UNTRUSTED };

/* A refusal: counted, and logged at -v (rate-limited like every refusal);
 * a PROXY header from a peer not trusted to send one at the default level.
 * rule is the --deny rule matched; in_progress the count --max-per-ip saw. */
static void log_rejected(struct ss_server *srv, struct request *req, enum refusal why, const struct cidr *rule,
                         unsigned in_progress)
{
	char from[ADDR_TEXT_MAX];
	int level = why == REFUSED_PROXY_UNTRUSTED ? SS_LOG_ERROR : SS_LOG_INFO;

	srv->rejected++;
	if (!log_allowed(&srv->log, level, LOG_REJECTED))
		return;
	addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
	switch (why) {
	case REFUSED_DENY:
		log_event(&srv->log, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "deny"), FSTR("rule", rule->text)),
		          "%s: rejected: matches --deny %s", from, rule->text);
		break;
	case REFUSED_NOT_ALLOWED:
		log_event(&srv->log, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "not_allowed")),
		          "%s: rejected: matches no --allow rule", from);
		break;
	case REFUSED_RATE:
		log_event(&srv->log, SS_LOG_INFO, "rejected", LOG_FIELDS(FSTR("remote", from), FSTR("reason", "rate")),
		          "%s: rejected: over --rate %lld/%g", from, (long long)srv->cfg.rate_count,
		          (double)srv->cfg.rate_ms / 1000.0);
		break;
	case REFUSED_MAX_PER_IP:
		log_event(&srv->log, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "max_per_ip"), FINT("in_progress", in_progress)),
		          "%s: rejected: %u requests in progress from this address (--max-per-ip %lld)", from,
		          in_progress, (long long)srv->cfg.max_per_ip);
		break;
	case REFUSED_PROXY_UNTRUSTED:
		log_event(&srv->log, level, "rejected", LOG_FIELDS(FSTR("remote", from), FSTR("reason", "proxy_untrusted")),
		          "%s: rejected: not a --proxy-from peer, so it may not send a PROXY header", from);
		break;
	}
}

/* Whether a request that arrived may run: --deny, --allow, --rate, then
 * --max-per-ip.  A refusal is logged at -v and counted. */
static bool admitted(struct ss_server *srv, struct request *req)
{
	const struct cidr *rule = NULL;
	bool denied = false;
	unsigned n;
	bool per_ip = srv->cfg.max_per_ip != SS_UNSET, rate = srv->cfg.rate_count != SS_UNSET;

	if ((!acl_active(&srv->acl) && !per_ip && !rate) || !ip_key_of(&req->peer, &req->ip))
		return true;
	if (acl_active(&srv->acl))
		rule = acl_refuse(&srv->acl, &req->ip, &denied);
	if (rule != NULL) {
		log_rejected(srv, req, denied ? REFUSED_DENY : REFUSED_NOT_ALLOWED, rule, 0);
		return false;
	}
	if (rate && !rate_allow(&srv->rate, &req->ip, now_us())) {
		log_rejected(srv, req, REFUSED_RATE, NULL, 0);
		return false;
	}
	if (!per_ip)
		return true;
	n = ip_counts_get(&srv->per_ip, &req->ip);
	if (n >= (unsigned)srv->cfg.max_per_ip) {
		log_rejected(srv, req, REFUSED_MAX_PER_IP, NULL, n);
		return false;
	}
	ip_counts_add(&srv->per_ip, &req->ip);
	req->ip_counted = true;
	return true;
}

/* Descriptors ran out: leave the poll set until a request ends or a while
 * has passed, instead of spinning on a listener that stays readable; the
 * clients wait in the backlog (or the socket's queue). */
static void starved(struct ss_server *srv, int error)
{
	int64_t now = now_us();

	if (srv->starved_logged_us == 0 || now - srv->starved_logged_us >= STARVED_LOG_US) {
		log_msg(&srv->log, SS_LOG_ERROR, "starved",
		        "cannot take a request: %s; pausing until a request ends "
		        "(retrying every %d ms, logged once in %d s)",
		        strerror(error), ACCEPT_BACKOFF_US / 1000, STARVED_LOG_US / 1000000);
		srv->starved_logged_us = now;
	}
	srv->accept_paused_until = now + ACCEPT_BACKOFF_US;
}

/* ---- opening: the connection before its handler may run ---- */

/* The stages a connection may go through, in order. */
enum opening_stage { OPENING_NONE, OPENING_PROXY, OPENING_TLS };

/* The time each stage has: a silent client holds a slot no longer. */
#define OPENING_TIMEOUT_US 5000000

/* What a stage's step found. */
enum step { STEP_DONE, STEP_READ, STEP_WRITE, STEP_FAIL };

static void on_opening(void *ctx, struct watch *w, uint32_t events);

/* Leave the opening list and the poll set. */
static void opening_end(struct ss_server *srv, struct request *req)
{
	loop_set(&srv->loop, &req->opening_watch, 0);
	req->prev->next = req->next;
	req->next->prev = req->prev;
	req->prev = req->next = NULL;
	req->opening = OPENING_NONE;
	srv->opening_count--;
}

/* Enter a stage: the end of the opening list, since every stage has the
 * same time, keeps the list in deadline order. */
static void opening_begin(struct ss_server *srv, struct request *req, enum opening_stage stage)
{
	req->opening = stage;
	req->opening_deadline = now_us() + OPENING_TIMEOUT_US;
	req->opening_watch = (struct watch){ .fd = req->fd, .fn = on_opening, .data = req };
	req->prev = srv->openings.prev;
	req->next = &srv->openings;
	srv->openings.prev->next = req;
	srv->openings.prev = req;
	srv->opening_count++;
}

/* A connection that did not open: logged (rate-limited), counted as
 * rejected, closed.  Its peer is the connection's own before a PROXY header,
 * the header's client after. */
static void opening_failed(struct ss_server *srv, struct request *req, const char *why)
{
	char from[ADDR_TEXT_MAX];
	bool tls = req->opening == OPENING_TLS;

	opening_end(srv, req);
	srv->rejected++;
	if (log_allowed(&srv->log, SS_LOG_ERROR, tls ? LOG_TLS : LOG_OPENING)) {
		addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
		log_event(&srv->log, SS_LOG_ERROR, tls ? "tls_failed" : "proxy_failed",
		          LOG_FIELDS(FSTR("remote", from), FSTR("error", why)), "%s: closed: %s", from, why);
	}
	request_release(srv, req);
}

/* TLS: one step of the handshake, as far as the connection lets it go. */
static enum step tls_step(struct ss_server *srv, struct request *req, char *why, size_t size)
{
	switch (tls_handshake(req->tls, why, size)) {
	case TLS_DONE:
		if (log_enabled(&srv->log, SS_LOG_DEBUG)) {
			char from[ADDR_TEXT_MAX], what[128];
			addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
			tls_summary(req->tls, what, sizeof(what));
			log_event(&srv->log, SS_LOG_DEBUG, "tls_handshake",
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

/* --proxy-protocol: the header's addresses become the request's. */
static enum step proxy_step(struct ss_server *srv, struct request *req, uint32_t events, const char **why)
{
	enum proxy_result got = proxy_read(req->fd, &req->proxy, why);
	const struct proxy_header *h = &req->proxy.header;
	char via[ADDR_TEXT_MAX];

	if (got == PROXY_BAD)
		return STEP_FAIL;
	if (got == PROXY_MORE) {
		/* The edge that brought end of file brought no whole header
		 * (the loop passes on no event of an earlier connection in the
		 * same slot). */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			*why = "the connection closed inside its PROXY header";
			return STEP_FAIL;
		}
		return STEP_READ;
	}
	if (log_enabled(&srv->log, SS_LOG_DEBUG))
		addr_format((struct sockaddr *)&req->peer, req->peer_len, via, sizeof(via));
	if (!h->keep) {
		memcpy(&req->peer, &h->source, sizeof(req->peer));
		req->peer_len = h->address_len;
		memcpy(&req->local, &h->destination, sizeof(req->local));
		req->has_local = true;
	}
	if (log_enabled(&srv->log, SS_LOG_DEBUG)) {
		char from[ADDR_TEXT_MAX];
		addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
		log_event(&srv->log, SS_LOG_DEBUG, "proxy",
		          LOG_FIELDS(FSTR("remote", from), FSTR("via", via), FINT("version", h->version),
		                     FINT("bytes", (long long)h->length), FINT("kept", h->keep)),
		          "%s: PROXY v%d header (%zu bytes) from %s%s", from, h->version, h->length, via,
		          h->keep ? ", addresses kept" : "");
	}
	return STEP_DONE;
}

/* The request goes to its handler. */
static void run(struct ss_server *srv, struct request *req)
{
	request_take(srv, req);
	srv->transport->describe(srv, req);
	if (req->tls != NULL)
		tls_describe(req->tls, &req->env);
	log_event(&srv->log, SS_LOG_DEBUG, "received",
	          LOG_FIELDS(FSTR("remote", req->remote), FINT("in_progress", srv->active_count),
	                     FINT("limit", srv->limit)),
	          "%s: taken (%u of %u in progress)", req->remote, srv->active_count, srv->limit);
	srv->mode->dispatch(srv, req);
}

/* Take the connection as far as it goes now: through its stages (each
 * waits for the connection without blocking), admission, its handler. */
static void advance(struct ss_server *srv, struct request *req, uint32_t events)
{
	const char *why = NULL;
	char reason[256];

	if (req->opening == OPENING_PROXY) {
		enum step s = proxy_step(srv, req, events, &why);
		if (s == STEP_FAIL) {
			opening_failed(srv, req, why);
			return;
		}
		if (s == STEP_READ) {
			if (loop_set(&srv->loop, &req->opening_watch, EPOLLIN | EPOLLRDHUP | EPOLLET) < 0)
				opening_failed(srv, req, strerror(errno));
			return;
		}
		opening_end(srv, req);
	}
	if (req->opening == OPENING_NONE) {
		/* The server stopped taking requests while this one opened. */
		if (srv->draining || requests_max_reached(srv)) {
			request_release(srv, req);
			return;
		}
		if (!admitted(srv, req)) {
			request_release(srv, req); /* closes a connection */
			return;
		}
		/* TLS only for clients that are let in. */
		if (srv->tls != NULL) {
			req->tls = tls_conn_new(srv->tls, req->fd);
			opening_begin(srv, req, OPENING_TLS);
			if (req->tls == NULL) {
				opening_failed(srv, req, "out of memory for a TLS connection");
				return;
			}
		}
	}
	if (req->opening == OPENING_TLS) {
		enum step s = tls_step(srv, req, reason, sizeof(reason));
		if (s == STEP_FAIL) {
			opening_failed(srv, req, reason);
			return;
		}
		if (s != STEP_DONE) {
			if (loop_set(&srv->loop, &req->opening_watch, s == STEP_READ ? EPOLLIN : EPOLLOUT) < 0)
				opening_failed(srv, req, strerror(errno));
			return;
		}
		opening_end(srv, req);
	}
	run(srv, req);
}

static void on_opening(void *ctx, struct watch *w, uint32_t events)
{
	advance(ctx, w->data, events);
}

int64_t accept_deadlines(struct ss_server *srv, int64_t now)
{
	while (srv->openings.next != &srv->openings) {
		struct request *req = srv->openings.next;
		if (req->opening_deadline > now)
			return req->opening_deadline;
		char why[64];
		snprintf(why, sizeof(why), "no %s within %d s", req->opening == OPENING_PROXY ? "PROXY header"
		         : "TLS handshake", OPENING_TIMEOUT_US / 1000000);
		opening_failed(srv, req, why);
	}
	return INT64_MAX;
}

void accept_close_openings(struct ss_server *srv)
{
	while (srv->openings.next != &srv->openings) {
		struct request *req = srv->openings.next;
		opening_end(srv, req);
		request_release(srv, req);
	}
}

void accept_requests(struct ss_server *srv)
{
	for (int n = 0; n < ACCEPT_BATCH && !requests_max_reached(srv); n++) {
		if (!requests_room(srv))
			break;
		struct request *req = request_slot(srv);
		enum receive got = req != NULL ? srv->handler->receive(srv, req) : RECEIVE_ERROR;
		if (got == RECEIVE_NONE)
			break;
		if (got == RECEIVE_SKIP)
			continue;
		if (got == RECEIVE_ERROR) {
			if (out_of_descriptors(errno)) {
				starved(srv, errno);
				break;
			}
			continue; /* this one failed; the next may not */
		}
		request_hold(srv, req);
		if (srv->cfg.proxy_protocol && !acl_proxy_trusted(&srv->acl, &req->peer)) {
			log_rejected(srv, req, REFUSED_PROXY_UNTRUSTED, NULL, 0);
			request_release(srv, req);
			continue;
		}
		if (srv->cfg.proxy_protocol) {
			proxy_reader_init(&req->proxy);
			opening_begin(srv, req, OPENING_PROXY);
		}
		advance(srv, req, 0);
	}
}
