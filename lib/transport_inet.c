/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The inet and inet6 transports: socket options before bind, the local
 * address after it, per-connection options, each datagram's destination
 * address (packet info), and the TCP.../UDP... variables of tcp-environ(5).
 */
#include "axes.h"
#include "request.h"
#include "view.h"

#include <arpa/inet.h>
#include <bsd/string.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The transport's state. */
struct inet {
	bool local_known;             /* bound to one address, not a wildcard */
	char local_ip[INET6_ADDRSTRLEN];
	unsigned local_port;
};

/* Packet info, the same for both families but for where things are. */
static const struct pktinfo {
	int family;
	int level, on_option, type;  /* the option that asks for it; the record's type */
	size_t size;                 /* of the record */
	size_t dst_off;              /* the destination address in a received record */
	size_t src_off;              /* the source address in a record sent */
	size_t addr_size;
	size_t sa_off;               /* the address in the sockaddr */
} pktinfos[] = {
	{ AF_INET, IPPROTO_IP, IP_PKTINFO, IP_PKTINFO, sizeof(struct in_pktinfo),
	  offsetof(struct in_pktinfo, ipi_addr), offsetof(struct in_pktinfo, ipi_spec_dst),
	  sizeof(struct in_addr), offsetof(struct sockaddr_in, sin_addr) },
	{ AF_INET6, IPPROTO_IPV6, IPV6_RECVPKTINFO, IPV6_PKTINFO, sizeof(struct in6_pktinfo),
	  offsetof(struct in6_pktinfo, ipi6_addr), offsetof(struct in6_pktinfo, ipi6_addr),
	  sizeof(struct in6_addr), offsetof(struct sockaddr_in6, sin6_addr) },
};

static const struct pktinfo *pktinfo_for(int family)
{
	return &pktinfos[family == AF_INET6];
}

static struct inet *inet_of(const struct view *v)
{
	return v->transport_ctx;
}

static int set_flag(int fd, int level, int name, int on)
{
	return setsockopt(fd, level, name, &on, sizeof(on));
}

static int inet_configure(struct view *v, int fd, struct ss_error *err)
{
	const struct ss_config *cfg = v->cfg;

	if (cfg->reuse_addr && set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
		goto fail;
	if (cfg->reuse_port && set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
		goto fail;
	/* Set either way: [::] is dual-stack unless --v6only, whatever the
	 * system's net.ipv6.bindv6only says. */
	if (v->sock->addr.family == AF_INET6 && set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, cfg->v6only) < 0)
		goto fail;
	return 0;
fail:
	ss_error_set(err, SS_ERR_START, "cannot set socket options for %s: %s", cfg->address, strerror(errno));
	return -1;
}

static bool is_wildcard(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static void inet_bound(struct view *v)
{
	struct inet *t = inet_of(v);
	struct sockaddr_storage bound;
	socklen_t len = sizeof(bound);
	const struct sockaddr *sa = (const struct sockaddr *)&v->sock->addr.ss;

	/* Port 0 becomes the port the kernel chose. */
	if (getsockname(v->sock->fd, (struct sockaddr *)&bound, &len) == 0) {
		memcpy(&v->sock->addr.ss, &bound, len);
		v->sock->addr.len = len;
	}
	/* A wildcard listener learns its local address per connection. */
	t->local_known = !is_wildcard(sa);
	addr_ip_port(sa, t->local_ip, sizeof(t->local_ip), &t->local_port);
}

static void inet_accepted(struct view *v, struct request *req)
{
	const struct ss_config *cfg = v->cfg;

	if (cfg->nodelay)
		set_flag(req->fd, IPPROTO_TCP, TCP_NODELAY, 1);
	/* a client gone without a word (a cable, a crash, a NAT that forgot
	 * it) is found out: its reads then fail, and a relay ends */
	if (cfg->keepalive) {
		set_flag(req->fd, SOL_SOCKET, SO_KEEPALIVE, 1);
		set_flag(req->fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)cfg->keepalive_idle);
		set_flag(req->fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)cfg->keepalive_interval);
		set_flag(req->fd, IPPROTO_TCP, TCP_KEEPCNT, (int)cfg->keepalive_count);
	}
}

static void inet_describe(struct view *v, struct request *req)
{
	const struct inet *t = inet_of(v);
	const struct sockaddr *peer = (const struct sockaddr *)&req->peer;
	const char *p = v->handler->var_prefix;
	char ip[INET6_ADDRSTRLEN], name[32];
	unsigned port;

	env_reset(&req->env);
	env_add(&req->env, "PROTO", "%s", v->sock->proto);
	if (req->peer_len == 0) {
		/* --wait: the socket itself; COMMAND meets its peers */
		strlcpy(req->remote, v->sock->addr_text, sizeof(req->remote));
		snprintf(name, sizeof(name), "%sLOCALIP", p);
		env_add(&req->env, name, "%s", t->local_ip);
		snprintf(name, sizeof(name), "%sLOCALPORT", p);
		env_add(&req->env, name, "%u", t->local_port);
		return;
	}
	addr_format(peer, req->peer_len, req->remote, sizeof(req->remote));
	snprintf(name, sizeof(name), "%sLOCALIP", p);
	if (t->local_known && !req->has_local) {
		env_add(&req->env, name, "%s", t->local_ip);
		port = t->local_port;
	} else {
		/* The address this client reached, from a PROXY header, the
		 * packet's info (datagrams) or the connection (a wildcard
		 * listener's streams). */
		socklen_t len = sizeof(req->local);
		if (!req->has_local && (req->fd < 0 ||
		                        getsockname(req->fd, (struct sockaddr *)&req->local, &len) < 0))
			memcpy(&req->local, &v->sock->addr.ss, sizeof(req->local));
		addr_ip_port((struct sockaddr *)&req->local, ip, sizeof(ip), &port);
		env_add(&req->env, name, "%s", ip);
	}
	snprintf(name, sizeof(name), "%sLOCALPORT", p);
	env_add(&req->env, name, "%u", port);
	addr_ip_port(peer, ip, sizeof(ip), &port);
	snprintf(name, sizeof(name), "%sREMOTEIP", p);
	env_add(&req->env, name, "%s", ip);
	snprintf(name, sizeof(name), "%sREMOTEPORT", p);
	env_add(&req->env, name, "%u", port);
}

static int inet_packet_info_on(struct view *v, int fd)
{
	const struct pktinfo *pi = pktinfo_for(v->sock->addr.family);

	return set_flag(fd, pi->level, pi->on_option, 1);
}

static void inet_packet_info(struct view *v, struct request *req, struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		const struct pktinfo *pi = pktinfo_for(c->cmsg_level == IPPROTO_IPV6 ? AF_INET6 : AF_INET);
		if (c->cmsg_level != pi->level || c->cmsg_type != pi->type)
			continue;
		/* A v4 packet on a dual-stack socket has a v4 record. */
		struct sockaddr_in6 *local = (struct sockaddr_in6 *)&req->local;
		memset(&req->local, 0, sizeof(req->local));
		req->local.ss_family = (sa_family_t)pi->family;
		memcpy((char *)&req->local + pi->sa_off, CMSG_DATA(c) + pi->dst_off, pi->addr_size);
		/* sin_port and sin6_port are at the same place */
		local->sin6_port = htons((uint16_t)inet_of(v)->local_port);
		req->has_local = true;
	}
}

static void inet_reply_from(const struct request *req, struct msghdr *msg, void *control, size_t size)
{
	const struct pktinfo *pi = pktinfo_for(req->local.ss_family);
	struct cmsghdr *c = control;

	memset(control, 0, size);
	msg->msg_control = control;
	msg->msg_controllen = CMSG_SPACE(pi->size);
	c->cmsg_level = pi->level;
	c->cmsg_type = pi->type;
	c->cmsg_len = CMSG_LEN(pi->size);
	memcpy(CMSG_DATA(c) + pi->src_off, (const char *)&req->local + pi->sa_off, pi->addr_size);
}

static int inet_prepare(struct view *v, struct ss_error *err)
{
	(void)v;
	(void)err;
	return 0;
}

static void inet_cleanup(struct view *v)
{
	(void)v;
}

const struct transport transport_inet = {
	.name = "inet",
	.ctx_size = sizeof(struct inet),
	.client_ips = true,
	.types = 1u << SOCK_STREAM | 1u << SOCK_DGRAM,
	.proto = NULL,
	.prepare = inet_prepare,
	.configure = inet_configure,
	.bound = inet_bound,
	.accepted = inet_accepted,
	.describe = inet_describe,
	.packet_info_on = inet_packet_info_on,
	.packet_info = inet_packet_info,
	.reply_from = inet_reply_from,
	.cleanup = inet_cleanup,
};
