/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Admission (see admission.h).
 */
#include "admission.h"
#include "axes.h"
#include "stage.h"
#include "counts.h"
#include "log.h"
#include "request.h"
#include "view.h"

enum refusal { REFUSED_DENY, REFUSED_NOT_ALLOWED, REFUSED_RATE, REFUSED_MAX_PER_IP, REFUSED_PROXY_UNTRUSTED, REFUSED_RULE };

/* --refuse-message: sent before the close, for every reason, never waited
 * for (a client that does not read it is closed all the same); a refused
 * datagram gets it as its reply. */
static void tell(struct view *v, struct request *req)
{
	const struct ss_config *cfg = v->cfg;

	if (cfg->refuse_message == NULL)
		return;
	if (req->fd >= 0)
		(void)!send(req->fd, cfg->refuse_message, cfg->refuse_message_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else if (!v->handler->connections && req->peer_len > sizeof(sa_family_t))
		(void)!sendto(v->sock->fd, cfg->refuse_message, cfg->refuse_message_len, MSG_DONTWAIT | MSG_NOSIGNAL,
		              (const struct sockaddr *)&req->peer, req->peer_len);
}

/* A refusal: counted, and logged at -v (rate-limited like every refusal);
 * a PROXY header from a peer not trusted to send one at the default level.
 * rule is the --deny rule matched; in_progress the count --max-per-ip saw;
 * a --rules refusal is req->rule's. */
static void log_rejected(struct view *v, struct request *req, enum refusal why, const struct cidr *rule,
                         unsigned in_progress)
{
	char from[ADDR_TEXT_MAX];
	int level = why == REFUSED_PROXY_UNTRUSTED ? SS_LOG_ERROR : SS_LOG_INFO;

	count(v->counts, COUNT_REJECTED);
	tell(v, req);
	if (!log_allowed(v->log, level, LOG_REJECTED))
		return;
	addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
	switch (why) {
	case REFUSED_RULE:
		log_event(v->log, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "rules"), FINT("line", req->rule.line)),
		          "%s: rejected: matches line %u of --rules %s", from, req->rule.line, v->cfg->rules);
		break;
	case REFUSED_DENY:
		log_event(v->log, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "deny"), FSTR("rule", rule->text)),
		          "%s: rejected: matches --deny %s", from, rule->text);
		break;
	case REFUSED_NOT_ALLOWED:
		log_event(v->log, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "not_allowed")),
		          "%s: rejected: matches no --allow rule", from);
		break;
	case REFUSED_RATE:
		log_event(v->log, SS_LOG_INFO, "rejected", LOG_FIELDS(FSTR("remote", from), FSTR("reason", "rate")),
		          "%s: rejected: over --rate %lld/%g", from, (long long)v->cfg->rate_count,
		          (double)v->cfg->rate_ms / 1000.0);
		break;
	case REFUSED_MAX_PER_IP:
		log_event(v->log, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "max_per_ip"), FINT("in_progress", in_progress)),
		          "%s: rejected: %u requests in progress from this address (--max-per-ip %lld)", from,
		          in_progress, (long long)v->cfg->max_per_ip);
		break;
	case REFUSED_PROXY_UNTRUSTED:
		log_event(v->log, level, "rejected", LOG_FIELDS(FSTR("remote", from), FSTR("reason", "proxy_untrusted")),
		          "%s: rejected: not a --proxy-from peer, so it may not send a PROXY header", from);
		break;
	}
}

/* Whether a request that arrived may run: --deny, --allow, --rate, then
 * --max-per-ip.  A refusal is logged at -v and counted. */
bool admission_check(struct view *v, struct request *req)
{
	const struct cidr *rule = NULL;
	bool denied = false;
	unsigned n;
	bool per_ip = v->cfg->max_per_ip != SS_UNSET, rate = v->cfg->rate_count != SS_UNSET;

	bool rules = v->admission->rules.in_force != NULL;

	if ((!acl_active(&v->admission->acl) && !per_ip && !rate && !rules) || !ip_key_of(&req->peer, &req->ip))
		return true;
	/* the first rule of --rules that matches decides; else --allow/--deny */
	rules_release(&req->rule);
	if (rules && rules_match(&v->admission->rules, &req->ip, &req->rule)) {
		if (!req->rule.allow) {
			log_rejected(v, req, REFUSED_RULE, NULL, 0);
			rules_release(&req->rule);
			return false;
		}
	} else if (acl_active(&v->admission->acl)) {
		rule = acl_refuse(&v->admission->acl, &req->ip, &denied);
	}
	if (rule != NULL) {
		log_rejected(v, req, denied ? REFUSED_DENY : REFUSED_NOT_ALLOWED, rule, 0);
		return false;
	}
	if (rate && !rate_allow(&v->admission->rate, &req->ip, now_us())) {
		log_rejected(v, req, REFUSED_RATE, NULL, 0);
		return false;
	}
	if (!per_ip)
		return true;
	n = ip_counts_get(&v->admission->per_ip, &req->ip);
	if (n >= (unsigned)v->cfg->max_per_ip) {
		log_rejected(v, req, REFUSED_MAX_PER_IP, NULL, n);
		return false;
	}
	ip_counts_add(&v->admission->per_ip, &req->ip);
	req->ip_counted = true;
	return true;
}

bool admission_proxy_trusted(struct view *v, struct request *req)
{
	if (acl_proxy_trusted(&v->admission->acl, &req->peer))
		return true;
	log_rejected(v, req, REFUSED_PROXY_UNTRUSTED, NULL, 0);
	return false;
}

/* The variables of the --rules line that admitted it. */
static void admission_describe(struct view *v, struct request *req)
{
	(void)v;
	rules_describe(&req->rule, &req->env);
}

static bool admission_wanted(const struct view *v)
{
	(void)v;
	return true;
}

/* The server stopped taking requests while this one opened, or the client
 * is refused: closed. */
static enum step admission_step(struct view *v, struct request *req, uint32_t events, char *why, size_t size)
{
	(void)events;
	(void)why;
	(void)size;
	if (v->draining || requests_max_reached(v) || !admission_check(v, req))
		return STEP_REFUSED;
	return STEP_DONE;
}

const struct opening_stage stage_admission = {
	.name = "admission",
	.fail_event = "rejected",
	.kind = LOG_REJECTED,
	.wanted = admission_wanted,
	.step = admission_step,
	.describe = admission_describe,
};
