/*
 * The inet and inet6 transports: socket options before bind, the local
 * address after it, and the TCP.../UDP... variables of tcp-environ(5).
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

static int set_flag(int fd, int level, int name, int on)
{
	return setsockopt(fd, level, name, &on, sizeof(on));
}

static int inet_configure(struct ss_server *srv, int fd, struct ss_error *err)
{
	const struct ss_config *cfg = &srv->cfg;

	if (cfg->reuse_addr && set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
		goto fail;
	if (cfg->reuse_port && set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
		goto fail;
	/* Set either way: [::] is dual-stack unless --v6only, whatever the
	 * system's net.ipv6.bindv6only says. */
	if (srv->addr.family == AF_INET6 && set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, cfg->v6only) < 0)
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

static void inet_bound(struct ss_server *srv)
{
	const struct sockaddr *sa = (const struct sockaddr *)&srv->addr.ss;

	/* A wildcard listener learns its local address per connection. */
	srv->local_known = !is_wildcard(sa);
	addr_ip_port(sa, srv->local_ip, sizeof(srv->local_ip), &srv->local_port);
}

static void inet_describe(struct ss_server *srv, struct request *req)
{
	const struct sockaddr *peer = (const struct sockaddr *)&req->peer;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	addr_format(peer, req->peer_len, req->remote, sizeof(req->remote));
	env_reset(req);
	if (srv->cfg.no_env)
		return;
	const char *p = srv->var_prefix;
	char name[32];
	env_add(req, "PROTO", "%s", srv->proto);
	snprintf(name, sizeof(name), "%sLOCALIP", p);
	if (srv->local_known) {
		env_add(req, name, "%s", srv->local_ip);
		port = srv->local_port;
	} else {
		/* A wildcard listener: the address this client reached, from
		 * the packet's info (datagrams) or the connection (streams). */
		socklen_t len = sizeof(req->local);
		if (!req->has_local && (req->fd < 0 ||
		                        getsockname(req->fd, (struct sockaddr *)&req->local, &len) < 0))
			memcpy(&req->local, &srv->addr.ss, sizeof(req->local));
		addr_ip_port((struct sockaddr *)&req->local, ip, sizeof(ip), &port);
		env_add(req, name, "%s", ip);
	}
	snprintf(name, sizeof(name), "%sLOCALPORT", p);
	env_add(req, name, "%u", port);
	addr_ip_port(peer, ip, sizeof(ip), &port);
	snprintf(name, sizeof(name), "%sREMOTEIP", p);
	env_add(req, name, "%s", ip);
	snprintf(name, sizeof(name), "%sREMOTEPORT", p);
	env_add(req, name, "%u", port);
}

static int inet_nothing(struct ss_server *srv, struct ss_error *err)
{
	(void)srv;
	(void)err;
	return 0;
}

static void inet_cleanup(struct ss_server *srv)
{
	(void)srv;
}

const struct transport transport_inet = {
	.name = "inet",
	.prepare = inet_nothing,
	.configure = inet_configure,
	.bound = inet_bound,
	.describe = inet_describe,
	.cleanup = inet_cleanup,
};
