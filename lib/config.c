/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The configuration: its defaults, the ranges of the number options (stated
 * here and nowhere else), and one function that checks all of it before
 * anything is resolved or bound, the way OpenBSD nc checks its options: a
 * flat list of one-line rules, each a usage error that names the option.
 */
#include "config.h"
#include "addr.h"
#include "axes.h"
#include "filter.h"
#include "handed.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* Durations are given in seconds and kept in milliseconds. */
#define SECONDS_MAX 1000000
/* What --max-packet and --backlog are when not given. */
#define DEFAULT_MAX_PACKET 8192
#define DEFAULT_BACKLOG SOMAXCONN
/* --max-openings: room for a few hundred slow handshakes beside an attack
 * (the one idle longest makes room when it is full), one descriptor each. */
#define DEFAULT_MAX_OPENINGS 512
#define DEFAULT_OPENING_TIMEOUT_MS 5000
/* --ws-max-message: websocketd has no limit; a megabyte holds any message a
 * line-oriented handler means. */
#define DEFAULT_WS_MAX_MESSAGE (1 << 20)

static const struct ss_range ranges[] = {
	{ "--max-children", 1, 10000 },
	{ "--max-per-ip", 1, 10000 },
	{ "--max-openings", 1, 100000 },
	{ "--workers", 1, 1024 },
	{ "--spawn-threads", 0, 16 },
	{ "--backlog", 1, INT_MAX },
	{ "--max-packet", 1, 65535 },
	{ "--max-requests", 1, LLONG_MAX },
	{ "--socket-mode", 0, 0777 },
	/* in milliseconds */
	{ "--timeout", 1, SECONDS_MAX * 1000LL },
	{ "--idle-timeout", 1, SECONDS_MAX * 1000LL },
	{ "--grace", 0, SECONDS_MAX * 1000LL },
	{ "--opening-timeout", 1, 3600 * 1000LL },
	{ "--rate", 1, 1000000 },
	{ "--rate SECONDS", 1, 86400 * 1000LL },
	{ "--delay", 0, 3600 * 1000LL },
	{ "--throttle", 1, 1000000000000LL },
	{ "--slice", 1, 1000000000 },
	{ "--cut-after", 0, LLONG_MAX },
	{ "--stall-after", 0, LLONG_MAX },
	{ "--drop", 0, 100 },
	{ "--duplicate", 0, 100 },
	{ "--seed", 0, LLONG_MAX },
	{ "--ws-max-message", 1, 1LL << 40 },
	/* the kernel's bounds (tcp(7)) */
	{ "--keepalive IDLE", 1, 32767 },
	{ "--keepalive INTERVAL", 1, 32767 },
	{ "--keepalive COUNT", 1, 127 },
};

const struct ss_range *ss_option_range(const char *option)
{
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (strcmp(ranges[i].option, option) == 0)
			return &ranges[i];
	return NULL;
}

void ss_config_init(struct ss_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->family = AF_UNSPEC;
	cfg->socktype = 0;
	cfg->mode = SS_MODE_DEFAULT;
	cfg->max_children = 40;
	cfg->max_per_ip = SS_UNSET;
	cfg->max_openings = SS_UNSET;   /* DEFAULT_MAX_OPENINGS, where connections open in stages */
	cfg->opening_timeout_ms = SS_NO_TIME; /* DEFAULT_OPENING_TIMEOUT_MS */
	cfg->workers = SS_UNSET;
	cfg->spawn_threads = SS_UNSET;
	cfg->rate_count = SS_UNSET;
	cfg->rate_ms = SS_NO_TIME;
	cfg->backlog = SS_UNSET;      /* DEFAULT_BACKLOG, for stream sockets */
	cfg->timeout_ms = SS_NO_TIME;
	cfg->idle_timeout_ms = SS_NO_TIME;
	cfg->grace_ms = 10000;
	cfg->max_requests = SS_UNSET;
	cfg->max_packet = SS_UNSET;   /* DEFAULT_MAX_PACKET, for datagrams */
	cfg->reuse_addr = true;
	cfg->socket_mode = SS_UNSET;
	cfg->delay_ms = SS_NO_TIME;
	cfg->throttle = cfg->slice = cfg->cut_after = cfg->stall_after = SS_UNSET;
	cfg->drop = cfg->duplicate = cfg->seed = SS_UNSET;
	cfg->ws_max_message = SS_UNSET; /* DEFAULT_WS_MAX_MESSAGE */
	cfg->keepalive_idle = 60;
	cfg->keepalive_interval = 10;
	cfg->keepalive_count = 6;
	cfg->verbosity = SS_LOG_ERROR;
	cfg->log_format = SS_LOG_TEXT;
}

/* A number out of its range: false, with the error set.  Not given: fine. */
static bool in_range(const char *option, long long value, long long unset, struct ss_error *err)
{
	const struct ss_range *r = ss_option_range(option);

	if (value == unset || (value >= r->min && value <= r->max))
		return true;
	ss_error_set(err, SS_ERR_USAGE, "%s: %lld is too %s (%lld to %lld)", option, value,
	             value < r->min ? "small" : "large", r->min, r->max);
	return false;
}

/* The same for a duration, in the seconds the user wrote. */
static bool seconds_in_range(const char *option, int64_t ms, struct ss_error *err)
{
	const struct ss_range *r = ss_option_range(option);

	if (ms == SS_NO_TIME || (ms >= r->min && ms <= r->max))
		return true;
	ss_error_set(err, SS_ERR_USAGE, "%s: %.3f s is out of range (%g to %lld seconds)", option,
	             (double)ms / 1000.0, (double)r->min / 1000.0, r->max / 1000);
	return false;
}

static int usage(struct ss_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(struct ss_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ss_error_vset(err, SS_ERR_USAGE, fmt, ap);
	va_end(ap);
	return -1;
}

/* The family and type a handed-in socket has: options that name others are
 * usage errors. */
static int check_handed(const struct ss_config *cfg, int *family, int *socktype, struct ss_error *err)
{
	struct handed h;

	if (handed_find(cfg->address, &h, err) < 0)
		return -1;
	if (cfg->family != AF_UNSPEC && cfg->family != h.family)
		return usage(err, "--family=%s contradicts %s, an %s socket", addr_family_name(cfg->family),
		             cfg->address, addr_family_name(h.family));
	if (cfg->socktype != 0 && cfg->socktype != h.socktype)
		return usage(err, "--type=%s contradicts %s, a %s socket", addr_type_name(cfg->socktype),
		             cfg->address, addr_type_name(h.socktype));
	*family = h.family;
	*socktype = h.socktype;
	return 0;
}

int config_check(const struct ss_config *cfg, struct ss_config *resolved, struct ss_error *err)
{
	const char *address = cfg->address != NULL ? cfg->address : "";
	enum addr_form form = addr_form(address);
	bool unix_form = form == ADDR_UNIX_PATH || form == ADDR_UNIX_ABSTRACT;
	int family = addr_form_family(form, cfg->family);
	int socktype = cfg->socktype != 0 ? cfg->socktype : SOCK_STREAM;
	const char *want = addr_family_name(cfg->family);

	if (cfg->argv == NULL || cfg->argv[0] == NULL)
		return usage(err, "missing COMMAND");
	if (!in_range("--max-children", cfg->max_children, LLONG_MIN, err) ||
	    !in_range("--max-per-ip", cfg->max_per_ip, SS_UNSET, err) ||
	    !in_range("--max-openings", cfg->max_openings, SS_UNSET, err) ||
	    !seconds_in_range("--opening-timeout", cfg->opening_timeout_ms, err) ||
	    !in_range("--workers", cfg->workers, SS_UNSET, err) ||
	    !in_range("--spawn-threads", cfg->spawn_threads, SS_UNSET, err) ||
	    !in_range("--backlog", cfg->backlog, SS_UNSET, err) ||
	    !in_range("--max-packet", cfg->max_packet, SS_UNSET, err) ||
	    !in_range("--max-requests", cfg->max_requests, SS_UNSET, err) ||
	    !in_range("--socket-mode", cfg->socket_mode, SS_UNSET, err) ||
	    !seconds_in_range("--timeout", cfg->timeout_ms, err) ||
	    !seconds_in_range("--idle-timeout", cfg->idle_timeout_ms, err) ||
	    !seconds_in_range("--grace", cfg->grace_ms, err) ||
	    !in_range("--rate", cfg->rate_count, SS_UNSET, err) ||
	    !seconds_in_range("--rate SECONDS", cfg->rate_ms, err) ||
	    !seconds_in_range("--delay", cfg->delay_ms, err) || !in_range("--throttle", cfg->throttle, SS_UNSET, err) ||
	    !in_range("--slice", cfg->slice, SS_UNSET, err) || !in_range("--cut-after", cfg->cut_after, SS_UNSET, err) ||
	    !in_range("--stall-after", cfg->stall_after, SS_UNSET, err) ||
	    !in_range("--drop", cfg->drop, SS_UNSET, err) || !in_range("--duplicate", cfg->duplicate, SS_UNSET, err) ||
	    !in_range("--seed", cfg->seed, SS_UNSET, err) ||
	    !in_range("--ws-max-message", cfg->ws_max_message, SS_UNSET, err) ||
	    !in_range("--keepalive IDLE", cfg->keepalive_idle, LLONG_MIN, err) ||
	    !in_range("--keepalive INTERVAL", cfg->keepalive_interval, LLONG_MIN, err) ||
	    !in_range("--keepalive COUNT", cfg->keepalive_count, LLONG_MIN, err))
		return -1;
	if ((cfg->rate_count == SS_UNSET) != (cfg->rate_ms == SS_NO_TIME))
		return usage(err, "--rate needs both N and SECONDS: N/SECONDS");
	if (cfg->mode != SS_MODE_DEFAULT && mode_for(cfg->mode) == NULL)
		return usage(err, "this --mode is not supported");
	if (cfg->wait && cfg->mode != SS_MODE_DEFAULT && cfg->mode != SS_MODE_SYNC)
		return usage(err, "--wait runs one COMMAND at a time, with the socket: it cannot go with --mode=%s",
		             mode_for(cfg->mode)->name);
	if (cfg->wait && (cfg->rules != NULL || cfg->allow != NULL || cfg->deny != NULL ||
	                  cfg->max_per_ip != SS_UNSET || cfg->rate_count != SS_UNSET))
		return usage(err, "--wait hands the socket itself to COMMAND: %s cannot apply to its clients",
		             cfg->rules != NULL ? "--rules" : cfg->allow != NULL ? "--allow" : cfg->deny != NULL ? "--deny"
		             : cfg->max_per_ip != SS_UNSET ? "--max-per-ip" : "--rate");
	if (cfg->spawn_threads != SS_UNSET && (cfg->mode == SS_MODE_SYNC || cfg->mode == SS_MODE_THREAD))
		return usage(err, "--spawn-threads applies to fork mode (sync mode starts one handler at a time, "
		             "thread mode starts them from its workers)");
	if (cfg->workers > 1 && (cfg->wait || cfg->max_requests != SS_UNSET || cfg->idle_timeout_ms != SS_NO_TIME))
		return usage(err, "--workers runs several servers on one socket: %s cannot go with it",
		             cfg->wait ? "--wait, which gives the socket to one COMMAND,"
		             : cfg->max_requests != SS_UNSET ? "--max-requests (or --once), a count of one server's,"
		                                             : "--idle-timeout, one server's idleness,");
	if ((cfg->tls_cert != NULL) != (cfg->tls_key != NULL))
		return usage(err, "%s needs %s", cfg->tls_cert != NULL ? "--tls-cert" : "--tls-key",
		             cfg->tls_cert != NULL ? "--tls-key" : "--tls-cert");
	if (cfg->tls && cfg->tls_cert != NULL)
		return usage(err, "--tls makes a throw-away certificate: it contradicts --tls-cert");
	if ((cfg->tls_client_ca != NULL || cfg->tls_alpn != NULL || cfg->tls_relay || cfg->tls_hand_over) &&
	    !cfg->tls && cfg->tls_cert == NULL)
		return usage(err, "%s needs TLS: --tls, or --tls-cert and --tls-key",
		             cfg->tls_client_ca != NULL ? "--tls-client-ca"
		             : cfg->tls_alpn != NULL    ? "--tls-alpn"
		             : cfg->tls_relay           ? "--tls-relay"
		                                        : "--tls-hand-over");
	if (cfg->tls_relay && cfg->tls_hand_over)
		return usage(err, "--tls-relay and --tls-hand-over contradict each other");
	if (cfg->wait && (cfg->tls || cfg->tls_cert != NULL))
		return usage(err, "--wait hands the socket itself to COMMAND: TLS cannot apply");
	const char *ws_option = cfg->ws_binary ? "--ws-binary" : cfg->ws_origin != NULL ? "--ws-origin"
	                      : cfg->ws_protocol != NULL ? "--ws-protocol"
	                      : cfg->ws_max_message != SS_UNSET ? "--ws-max-message" : NULL;
	if (ws_option != NULL && !cfg->ws)
		return usage(err, "%s needs --ws", ws_option);
	if (cfg->ws && cfg->wait)
		return usage(err, "--wait hands the socket itself to COMMAND: --ws cannot apply");
	if (cfg->ws && cfg->tls_hand_over)
		return usage(err, "--tls-hand-over gives the handler the socket itself: --ws needs the relay");
	const char *testing = filters_any_option(cfg);
	if (testing != NULL && cfg->wait)
		return usage(err, "--wait hands the socket itself to COMMAND: %s cannot apply", testing);
	if (cfg->tls_hand_over && filters_on_stream(cfg))
		return usage(err, "--tls-hand-over gives the handler the socket itself: %s needs the relay", testing);
	if (cfg->seed != SS_UNSET && faults_dgram_option(cfg) == NULL)
		return usage(err, "--seed makes --drop and --duplicate repeatable: it needs one of them");
	if (cfg->record != NULL && cfg->record[0] == '\0')
		return usage(err, "--record needs a directory");
	if (cfg->pidfile != NULL && cfg->pidfile[0] == '\0')
		return usage(err, "--pidfile needs a file name");
	if ((cfg->max_openings != SS_UNSET || cfg->opening_timeout_ms != SS_NO_TIME) && !cfg->proxy_protocol &&
	    !cfg->tls && cfg->tls_cert == NULL && !cfg->ws)
		return usage(err, "%s applies to connections that open in stages: --proxy-protocol, --tls, --tls-cert "
		             "or --ws",
		             cfg->max_openings != SS_UNSET ? "--max-openings" : "--opening-timeout");
	if (cfg->proxy_from != NULL && !cfg->proxy_protocol)
		return usage(err, "--proxy-from names the peers that may send PROXY headers: it needs --proxy-protocol");
	if (cfg->wait && cfg->proxy_protocol)
		return usage(err, "--wait hands the socket itself to COMMAND, which reads its own connections: "
		             "--proxy-protocol cannot apply");
	if (cfg->wait && cfg->refuse_message != NULL)
		return usage(err, "--wait hands the socket itself to COMMAND, which refuses no one: "
		             "--refuse-message cannot apply");
	if (cfg->refuse_message != NULL && cfg->refuse_message_len == 0)
		return usage(err, "--refuse-message needs some text");
	if (cfg->wait && cfg->keepalive)
		return usage(err, "--wait hands the socket itself to COMMAND, which accepts its own connections: "
		             "--keepalive cannot apply");
	if (cfg->wait && cfg->empty_reply)
		return usage(err, "--wait hands the socket itself to COMMAND, which sends its own replies: "
		             "--empty-reply cannot apply");
	if (form == ADDR_HANDED && check_handed(cfg, &family, &socktype, err) < 0)
		return -1;
	const struct transport *transport = transport_for(family);
	if (handler_for(socktype, cfg->wait, false, false) == NULL)
		return usage(err, "--type=%s is not supported", addr_type_name(socktype));
	if (transport == NULL)
		return usage(err, "%s is not supported", form == ADDR_HANDED ? address : want);
	if (unix_form && cfg->family != AF_UNSPEC && cfg->family != AF_UNIX)
		return usage(err, "--family=%s contradicts the unix socket address '%s'", want, address);
	if (!unix_form && form != ADDR_HANDED && cfg->family == AF_UNIX)
		return usage(err, "--family=unix contradicts the address '%s' (a unix socket path has a '/': ./%s)",
		             address, address);
	if (form == ADDR_IPV6 && cfg->family == AF_INET)
		return usage(err, "--family=%s contradicts the IPv6 address '%s'", want, address);
	if (form == ADDR_IPV4 && cfg->family == AF_INET6)
		return usage(err, "--family=%s contradicts the IPv4 address '%s'", want, address);
	if (!(transport->types & 1u << socktype))
		return usage(err, "--type=%s needs a unix socket address, not '%s'", addr_type_name(socktype), address);
	if (cfg->max_per_ip != SS_UNSET && !transport->client_ips)
		return usage(err, "--max-per-ip needs an inet or inet6 address, not %s", address);
	if (cfg->rate_count != SS_UNSET && !transport->client_ips)
		return usage(err, "--rate needs an inet or inet6 address, not %s", address);
	if (cfg->allow != NULL && !transport->client_ips)
		return usage(err, "--allow needs an inet or inet6 address, not %s", address);
	if (cfg->deny != NULL && !transport->client_ips)
		return usage(err, "--deny needs an inet or inet6 address, not %s", address);
	if (cfg->rules != NULL && !transport->client_ips)
		return usage(err, "--rules needs an inet or inet6 address, not %s", address);
	if (cfg->socket_mode != SS_UNSET && form != ADDR_UNIX_PATH)
		return usage(err, "--socket-mode needs a unix socket path, not %s", address);
	/* Options that do not apply to the socket's family or type, one rule:
	 * name the option, what it is for, and what the socket is. */
	const struct handler *h = handler_for(socktype, false, false, false);
	const char *what = NULL, *option = NULL;
	if (cfg->nodelay && !(transport->client_ips && h->connections))
		option = "--nodelay", what = "TCP sockets";
	else if (cfg->keepalive && !(transport->client_ips && h->connections))
		option = "--keepalive", what = "TCP sockets";
	else if (cfg->proxy_protocol && !(transport->client_ips && socktype == SOCK_STREAM))
		option = "--proxy-protocol", what = "TCP sockets";
	else if (cfg->ws && socktype != SOCK_STREAM)
		option = "--ws", what = "stream sockets";
	else if ((cfg->tls || cfg->tls_cert != NULL) && socktype != SOCK_STREAM)
		option = cfg->tls ? "--tls" : "--tls-cert", what = "stream sockets";
	else if (cfg->max_packet != SS_UNSET && (h->connections || cfg->wait))
		option = "--max-packet", what = "datagram sockets (--type=dgram) without --wait";
	else if (cfg->empty_reply && h->connections)
		option = "--empty-reply", what = "datagram sockets (--type=dgram)";
	else if (cfg->backlog != SS_UNSET && !h->connections)
		option = "--backlog", what = "stream and seqpacket sockets";
	else if (cfg->v6only && family != AF_INET6)
		option = "--v6only", what = "inet6 sockets";
	else if (faults_stream_option(cfg) != NULL && socktype != SOCK_STREAM)
		option = faults_stream_option(cfg), what = "stream sockets";
	else if (faults_dgram_option(cfg) != NULL && socktype != SOCK_DGRAM)
		option = faults_dgram_option(cfg), what = "datagram sockets (--type=dgram)";
	else if (testing != NULL && socktype == SOCK_SEQPACKET)
		option = testing, what = "stream and datagram sockets";
	if (option != NULL)
		return usage(err, "%s applies to %s, not to %s (%s %s)", option, what, address,
		             addr_family_name(family), addr_type_name(socktype));
	if (resolved != NULL) {
		*resolved = *cfg;
		resolved->family = family;
		resolved->socktype = socktype;
		if (cfg->backlog == SS_UNSET)
			resolved->backlog = DEFAULT_BACKLOG;
		if (cfg->max_packet == SS_UNSET)
			resolved->max_packet = DEFAULT_MAX_PACKET;
		if (cfg->max_openings == SS_UNSET)
			resolved->max_openings = DEFAULT_MAX_OPENINGS;
		if (cfg->ws_max_message == SS_UNSET)
			resolved->ws_max_message = DEFAULT_WS_MAX_MESSAGE;
		if (cfg->opening_timeout_ms == SS_NO_TIME)
			resolved->opening_timeout_ms = DEFAULT_OPENING_TIMEOUT_MS;
		if (cfg->mode == SS_MODE_DEFAULT)
			resolved->mode = cfg->wait ? SS_MODE_SYNC : SS_MODE_FORK;
	}
	return 0;
}
