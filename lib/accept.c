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

enum refusal { REFUSED_DENY, REFUSED_NOT_ALLOWED, REFUSED_RATE, REFUSED_MAX_PER_IP };

/* A refusal: counted, and logged at -v (rate-limited like every refusal).
 * rule is the --deny rule matched; in_progress the count --max-per-ip saw. */
static void log_rejected(struct ss_server *srv, struct request *req, enum refusal why, const struct cidr *rule,
                         unsigned in_progress)
{
	char from[ADDR_TEXT_MAX];

	srv->rejected++;
	if (!log_allowed(&srv->log, SS_LOG_INFO, LOG_REJECTED))
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
		if (!admitted(srv, req)) {
			srv->handler->finish(srv, req); /* closes a connection */
			continue;
		}
		request_take(srv, req);
		srv->transport->describe(srv, req);
		log_event(&srv->log, SS_LOG_DEBUG, "received",
		          LOG_FIELDS(FSTR("remote", req->remote), FINT("in_progress", srv->active_count),
		                     FINT("limit", srv->limit)),
		          "%s: taken (%u of %u in progress)", req->remote, srv->active_count, srv->limit);
		srv->mode->dispatch(srv, req);
	}
}
