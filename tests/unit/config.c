/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit test of lib/config.c's config_check: each rule of the one flat check,
 * as a case (a config made from the defaults and a few fields) and the error
 * it must give (or none), without the command line in between.  Prints
 * "ok N - ..." / "not ok N - ..." lines; exits 1 if one failed.
 */
#include "config.h"
#include "sockserve.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int failed, count;

static char *const command[] = { "cat", NULL };
static const char *const some_cidrs[] = { "10.0.0.0/8", NULL };

struct rule {
	const char *what;
	void (*set)(struct ss_config *cfg);
	enum ss_error_kind kind;   /* SS_ERR_NONE: accepted */
	const char *message;       /* a part of the error */
};

#define SET(name, body) static void name(struct ss_config *cfg) { body; }

SET(plain, (void)cfg)
SET(c_zero, cfg->max_children = 0)
SET(c_big, cfg->max_children = 10001)
SET(per_ip_zero, cfg->max_per_ip = 0)
SET(workers_big, cfg->workers = 1025)
SET(packet_big, cfg->max_packet = 65536; cfg->socktype = SOCK_DGRAM)
SET(timeout_zero, cfg->timeout_ms = 0)
SET(rate_half, cfg->rate_count = 5)
SET(openings_zero, cfg->max_openings = 0; cfg->tls = true)
SET(openings_plain, cfg->max_openings = 10)
SET(spawn_threads_big, cfg->spawn_threads = 17)
SET(spawn_threads_thread, cfg->spawn_threads = 1; cfg->mode = SS_MODE_THREAD)
SET(spawn_threads_fork, cfg->spawn_threads = 0; cfg->mode = SS_MODE_FORK)
SET(opening_timeout_plain, cfg->opening_timeout_ms = 1000)
SET(openings_tls, cfg->max_openings = 10; cfg->opening_timeout_ms = 1000; cfg->tls = true)
SET(wait_fork, cfg->wait = true; cfg->mode = SS_MODE_FORK)
SET(wait_allow, cfg->wait = true; cfg->allow = some_cidrs)
SET(wait_tls, cfg->wait = true; cfg->tls = true)
SET(wait_proxy, cfg->wait = true; cfg->proxy_protocol = true)
SET(wait_empty_reply, cfg->wait = true; cfg->empty_reply = true; cfg->socktype = SOCK_DGRAM)
SET(workers_once, cfg->workers = 2; cfg->max_requests = 1)
SET(workers_wait, cfg->workers = 2; cfg->wait = true)
SET(cert_no_key, cfg->tls_cert = "c.pem")
SET(tls_and_cert, cfg->tls = true; cfg->tls_cert = "c.pem"; cfg->tls_key = "k.pem")
SET(ca_no_tls, cfg->tls_client_ca = "ca.pem")
SET(relay_no_tls, cfg->tls_relay = true)
SET(proxy_from_alone, cfg->proxy_from = some_cidrs)
SET(pidfile_empty, cfg->pidfile = "")
SET(unix_allow, cfg->address = "/tmp/x.sock"; cfg->allow = some_cidrs)
SET(unix_rate, cfg->address = "/tmp/x.sock"; cfg->rate_count = 1; cfg->rate_ms = 1000)
SET(inet_socket_mode, cfg->socket_mode = 0600)
SET(udp_tls, cfg->socktype = SOCK_DGRAM; cfg->tls = true)
SET(udp_proxy, cfg->socktype = SOCK_DGRAM; cfg->proxy_protocol = true)
SET(udp_backlog, cfg->socktype = SOCK_DGRAM; cfg->backlog = 5)
SET(tcp_max_packet, cfg->max_packet = 100)
SET(tcp_empty_reply, cfg->empty_reply = true)
SET(v4_v6only, cfg->v6only = true)
SET(unix_nodelay, cfg->address = "/tmp/x.sock"; cfg->nodelay = true)
SET(seqpacket_inet, cfg->socktype = SOCK_SEQPACKET)
SET(family_contradicts, cfg->family = AF_INET6)
SET(family_unix_inet, cfg->family = AF_UNIX)
SET(no_command, cfg->argv = NULL)
SET(slice_dgram, cfg->socktype = SOCK_DGRAM; cfg->slice = 10)
SET(drop_stream, cfg->drop = 10)
SET(drop_big, cfg->socktype = SOCK_DGRAM; cfg->drop = 101)
SET(seed_alone, cfg->socktype = SOCK_DGRAM; cfg->seed = 1)
SET(trace_wait, cfg->wait = true; cfg->trace = "")
SET(trace_seqpacket, cfg->address = "/tmp/x.sock"; cfg->socktype = SOCK_SEQPACKET; cfg->trace = "")
SET(record_hand_over, cfg->tls = true; cfg->tls_hand_over = true; cfg->record = "rec")
SET(record_empty, cfg->record = "")
SET(faults_all, cfg->trace = ""; cfg->record = "rec"; cfg->delay_ms = 0; cfg->throttle = 1; cfg->slice = 1;
    cfg->cut_after = 0; cfg->stall_after = 0; cfg->tls = true)
SET(ws_binary_alone, cfg->ws_binary = true)
SET(ws_origin_alone, cfg->ws_origin = "http://a")
SET(ws_dgram, cfg->ws = true; cfg->socktype = SOCK_DGRAM)
SET(ws_wait, cfg->ws = true; cfg->wait = true)
SET(ws_hand_over, cfg->ws = true; cfg->tls = true; cfg->tls_hand_over = true)
SET(ws_max_zero, cfg->ws = true; cfg->ws_max_message = 0)
SET(ws_openings, cfg->ws = true; cfg->max_openings = 10; cfg->opening_timeout_ms = 1000)
SET(ws_all, cfg->ws = true; cfg->ws_binary = true; cfg->ws_origin = "http://a"; cfg->ws_protocol = "chat";
    cfg->ws_max_message = 1; cfg->tls = true; cfg->proxy_protocol = true; cfg->trace = "")
SET(keepalive_udp, cfg->socktype = SOCK_DGRAM; cfg->keepalive = true)
SET(keepalive_zero, cfg->keepalive = true; cfg->keepalive_idle = 0)
SET(keepalive_count_big, cfg->keepalive = true; cfg->keepalive_count = 128)
SET(refuse_wait, cfg->wait = true; cfg->refuse_message = "no"; cfg->refuse_message_len = 2)
SET(refuse_empty, cfg->refuse_message = ""; cfg->refuse_message_len = 0)
SET(rules_unix, cfg->address = "/tmp/x.sock"; cfg->rules = "r")
SET(rules_wait, cfg->wait = true; cfg->rules = "r")
SET(dgram_faults, cfg->socktype = SOCK_DGRAM; cfg->drop = 0; cfg->duplicate = 100; cfg->seed = 0;
    cfg->delay_ms = 3600000)

static const struct rule rules[] = {
	{ "the defaults are accepted", plain, SS_ERR_NONE, NULL },
	{ "-c 0 is out of range", c_zero, SS_ERR_USAGE, "--max-children: 0 is too small (1 to 10000)" },
	{ "-c 10001 is out of range", c_big, SS_ERR_USAGE, "--max-children: 10001 is too large" },
	{ "--max-per-ip 0", per_ip_zero, SS_ERR_USAGE, "--max-per-ip: 0 is too small" },
	{ "--workers 1025", workers_big, SS_ERR_USAGE, "--workers: 1025 is too large" },
	{ "--max-packet 65536", packet_big, SS_ERR_USAGE, "--max-packet: 65536 is too large" },
	{ "-T 0", timeout_zero, SS_ERR_USAGE, "--timeout: 0.000 s is out of range" },
	{ "--rate needs both halves", rate_half, SS_ERR_USAGE, "--rate needs both N and SECONDS" },
	{ "--max-openings 0", openings_zero, SS_ERR_USAGE, "--max-openings: 0 is too small (1 to 100000)" },
	{ "--spawn-threads 17", spawn_threads_big, SS_ERR_USAGE, "--spawn-threads: 17 is too large (0 to 16)" },
	{ "--spawn-threads in thread mode", spawn_threads_thread, SS_ERR_USAGE, "--spawn-threads applies to fork mode" },
	{ "--spawn-threads 0 in fork mode", spawn_threads_fork, SS_ERR_NONE, NULL },
	{ "--max-openings without stages", openings_plain, SS_ERR_USAGE,
	  "--max-openings applies to connections that open in stages" },
	{ "--opening-timeout without stages", opening_timeout_plain, SS_ERR_USAGE,
	  "--opening-timeout applies to connections that open in stages" },
	{ "--max-openings and --opening-timeout with --tls", openings_tls, SS_ERR_NONE, NULL },
	{ "--wait with -m fork", wait_fork, SS_ERR_USAGE, "--wait runs one COMMAND at a time" },
	{ "--wait with --allow", wait_allow, SS_ERR_USAGE, "--allow cannot apply to its clients" },
	{ "--wait with TLS", wait_tls, SS_ERR_USAGE, "TLS cannot apply" },
	{ "--wait with --proxy-protocol", wait_proxy, SS_ERR_USAGE, "--proxy-protocol cannot apply" },
	{ "--wait with --empty-reply", wait_empty_reply, SS_ERR_USAGE, "--empty-reply cannot apply" },
	{ "--workers with --max-requests", workers_once, SS_ERR_USAGE, "--max-requests (or --once)" },
	{ "--workers with --wait", workers_wait, SS_ERR_USAGE, "--wait, which gives the socket to one COMMAND" },
	{ "--tls-cert without --tls-key", cert_no_key, SS_ERR_USAGE, "--tls-cert needs --tls-key" },
	{ "--tls with --tls-cert", tls_and_cert, SS_ERR_USAGE, "it contradicts --tls-cert" },
	{ "--tls-client-ca without TLS", ca_no_tls, SS_ERR_USAGE, "--tls-client-ca needs TLS" },
	{ "--tls-relay without TLS", relay_no_tls, SS_ERR_USAGE, "--tls-relay needs TLS" },
	{ "--proxy-from without --proxy-protocol", proxy_from_alone, SS_ERR_USAGE, "it needs --proxy-protocol" },
	{ "--pidfile ''", pidfile_empty, SS_ERR_USAGE, "--pidfile needs a file name" },
	{ "--allow on a unix socket", unix_allow, SS_ERR_USAGE, "--allow needs an inet or inet6 address" },
	{ "--rate on a unix socket", unix_rate, SS_ERR_USAGE, "--rate needs an inet or inet6 address" },
	{ "--socket-mode on inet", inet_socket_mode, SS_ERR_USAGE, "--socket-mode needs a unix socket path" },
	{ "--tls on datagrams", udp_tls, SS_ERR_USAGE, "--tls applies to stream sockets" },
	{ "--proxy-protocol on datagrams", udp_proxy, SS_ERR_USAGE, "--proxy-protocol applies to TCP sockets" },
	{ "--backlog on datagrams", udp_backlog, SS_ERR_USAGE, "--backlog applies to stream and seqpacket sockets" },
	{ "--max-packet on TCP", tcp_max_packet, SS_ERR_USAGE, "--max-packet applies to datagram sockets" },
	{ "--empty-reply on TCP", tcp_empty_reply, SS_ERR_USAGE, "--empty-reply applies to datagram sockets" },
	{ "--v6only on IPv4", v4_v6only, SS_ERR_USAGE, "--v6only applies to inet6 sockets" },
	{ "--nodelay on a unix socket", unix_nodelay, SS_ERR_USAGE, "--nodelay applies to TCP sockets" },
	{ "seqpacket on inet", seqpacket_inet, SS_ERR_USAGE, "--type=seqpacket needs a unix socket address" },
	{ "-6 against an IPv4 address", family_contradicts, SS_ERR_USAGE, "contradicts the IPv4 address" },
	{ "-U against an inet address", family_unix_inet, SS_ERR_USAGE, "--family=unix contradicts the address" },
	{ "no COMMAND", no_command, SS_ERR_USAGE, "missing COMMAND" },
	{ "--slice on datagrams", slice_dgram, SS_ERR_USAGE, "--slice applies to stream sockets" },
	{ "--drop on a stream", drop_stream, SS_ERR_USAGE, "--drop applies to datagram sockets (--type=dgram)" },
	{ "--drop 101", drop_big, SS_ERR_USAGE, "--drop: 101 is too large (0 to 100)" },
	{ "--seed alone", seed_alone, SS_ERR_USAGE, "--seed makes --drop and --duplicate repeatable" },
	{ "--trace with --wait", trace_wait, SS_ERR_USAGE, "--trace cannot apply" },
	{ "--trace on seqpacket", trace_seqpacket, SS_ERR_USAGE, "--trace applies to stream and datagram sockets" },
	{ "--record with --tls-hand-over", record_hand_over, SS_ERR_USAGE, "--record needs the relay" },
	{ "--record ''", record_empty, SS_ERR_USAGE, "--record needs a directory" },
	{ "every stream fault at its edge, with TLS", faults_all, SS_ERR_NONE, NULL },
	{ "every datagram fault at its edge", dgram_faults, SS_ERR_NONE, NULL },
	{ "--keepalive on datagrams", keepalive_udp, SS_ERR_USAGE, "--keepalive applies to TCP sockets" },
	{ "--keepalive=0", keepalive_zero, SS_ERR_USAGE, "--keepalive IDLE: 0 is too small (1 to 32767)" },
	{ "--keepalive=1,1,128", keepalive_count_big, SS_ERR_USAGE, "--keepalive COUNT: 128 is too large (1 to 127)" },
	{ "--refuse-message with --wait", refuse_wait, SS_ERR_USAGE, "--refuse-message cannot apply" },
	{ "--refuse-message ''", refuse_empty, SS_ERR_USAGE, "--refuse-message needs some text" },
	{ "--rules on a unix socket", rules_unix, SS_ERR_USAGE, "--rules needs an inet or inet6 address" },
	{ "--rules with --wait", rules_wait, SS_ERR_USAGE, "--rules cannot apply to its clients" },
	{ "--ws-binary without --ws", ws_binary_alone, SS_ERR_USAGE, "--ws-binary needs --ws" },
	{ "--ws-origin without --ws", ws_origin_alone, SS_ERR_USAGE, "--ws-origin needs --ws" },
	{ "--ws on datagrams", ws_dgram, SS_ERR_USAGE, "--ws applies to stream sockets" },
	{ "--ws with --wait", ws_wait, SS_ERR_USAGE, "--ws cannot apply" },
	{ "--ws with --tls-hand-over", ws_hand_over, SS_ERR_USAGE, "--ws needs the relay" },
	{ "--ws-max-message 0", ws_max_zero, SS_ERR_USAGE, "--ws-max-message: 0 is too small" },
	{ "--max-openings and --opening-timeout with --ws", ws_openings, SS_ERR_NONE, NULL },
	{ "every WebSocket option, with TLS, PROXY and a trace", ws_all, SS_ERR_NONE, NULL },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule *r = &rules[i];
		struct ss_config cfg, resolved;
		struct ss_error err = { .kind = SS_ERR_NONE };

		ss_config_init(&cfg);
		cfg.address = "127.0.0.1:0";
		cfg.argv = command;
		r->set(&cfg);
		int rc = config_check(&cfg, &resolved, &err);
		bool ok = r->kind == SS_ERR_NONE ? rc == 0
		                                 : rc < 0 && err.kind == r->kind && strstr(err.msg, r->message) != NULL;
		printf("%s %d - %s", ok ? "ok" : "not ok", ++count, r->what);
		if (!ok)
			printf(": %s", rc == 0 ? "accepted" : err.msg);
		printf("\n");
		if (!ok)
			failed = 1;
	}
	return failed;
}
