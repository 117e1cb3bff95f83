/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ADDRESS forms: PORT, HOST:PORT, [V6]:PORT, a unix path (anything with a
 * '/'), @NAME (Linux abstract).  Parsing decides the family and resolves
 * names; formatting gives the text used in logs, --print-address and the
 * handler's environment.
 */
#include "addr.h"
#include "handed.h"

#include <arpa/inet.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

const char *addr_family_name(int family)
{
	switch (family) {
	case AF_INET: return "inet";
	case AF_INET6: return "inet6";
	case AF_UNIX: return "unix";
	default: return "unspecified";
	}
}

static int parse_unix(const char *text, struct address *out, struct ss_error *err)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
	bool abstract = text[0] == '@';
	const char *name = abstract ? text + 1 : text;
	size_t len = strlen(name);

	if (len == 0) {
		ss_error_set(err, SS_ERR_USAGE, "empty unix socket name in address '%s'", text);
		return -1;
	}
	/* Abstract names have no terminating NUL; paths need one. */
	if (len > sizeof(sun->sun_path) - 1) {
		ss_error_set(err, SS_ERR_USAGE, "unix socket address '%s' is too long (%zu bytes, at most %zu)",
		             text, len, sizeof(sun->sun_path) - 1);
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (abstract) {
		memcpy(sun->sun_path + 1, name, len);
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
	} else {
		memcpy(sun->sun_path, name, len);
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	out->family = AF_UNIX;
	return 0;
}

/* Split HOST:PORT or [V6]:PORT or PORT into host (NULL: wildcard) and port. */
static int split_host_port(const char *text, char *host, size_t hostsize, const char **port,
                           struct ss_error *err)
{
	const char *colon;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':') {
			ss_error_set(err, SS_ERR_USAGE, "address '%s': expected [IPV6]:PORT", text);
			return -1;
		}
		size_t len = (size_t)(close - text - 1);
		if (len == 0 || len >= hostsize) {
			ss_error_set(err, SS_ERR_USAGE, "address '%s': bad IPv6 address", text);
			return -1;
		}
		memcpy(host, text + 1, len);
		host[len] = '\0';
		struct in6_addr probe;
		if (inet_pton(AF_INET6, host, &probe) != 1) {
			ss_error_set(err, SS_ERR_USAGE, "address '%s': '%s' is not an IPv6 address", text, host);
			return -1;
		}
		*port = close + 2;
		return 0;
	}
	colon = strrchr(text, ':');
	if (colon == NULL) {
		host[0] = '\0';
		*port = text;
		return 0;
	}
	if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
		ss_error_set(err, SS_ERR_USAGE, "address '%s': write IPv6 addresses in brackets, as [::1]:PORT", text);
		return -1;
	}
	size_t len = (size_t)(colon - text);
	if (len >= hostsize) {
		ss_error_set(err, SS_ERR_USAGE, "address '%s': host name too long", text);
		return -1;
	}
	memcpy(host, text, len);
	host[len] = '\0';
	*port = colon + 1;
	return 0;
}

static int parse_inet(const char *text, int family, int socktype, struct address *out,
                      struct ss_error *err)
{
	char host[NI_MAXHOST];
	const char *port;
	struct addrinfo hints, *res = NULL;

	if (split_host_port(text, host, sizeof(host), &port, err) < 0)
		return -1;
	if (*port == '\0') {
		ss_error_set(err, SS_ERR_USAGE, "address '%s': a port is missing: %sPORT", text, text);
		return -1;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_PASSIVE;
	if (port[strspn(port, "0123456789")] == '\0') {
		const char *errstr;
		(void)strtonum(port, 0, 65535, &errstr);
		if (errstr != NULL) {
			ss_error_set(err, SS_ERR_USAGE, "address '%s': port %s is %s (0 to 65535)", text, port, errstr);
			return -1;
		}
		hints.ai_flags |= AI_NUMERICSERV;
	}
	hints.ai_family = family;
	hints.ai_socktype = socktype == SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc == EAI_SERVICE && host[0] == '\0') {
		/* No colon, and not a port or a service: a host without its
		 * port, or a unix socket path without its '/'. */
		struct in_addr probe;
		if (inet_pton(AF_INET, port, &probe) == 1)
			ss_error_set(err, SS_ERR_USAGE, "address '%s': a port is missing: %s:PORT", text, text);
		else
			ss_error_set(err, SS_ERR_USAGE, "address '%s' is not a port or a service; a host needs its port "
			             "(%s:PORT), a unix socket path a '/' (./%s)", text, text, text);
		return -1;
	}
	if (rc == EAI_SERVICE) {
		ss_error_set(err, SS_ERR_USAGE, "address '%s': '%s' is not a port (0 to 65535) or a service name of "
		             "/etc/services", text, port);
		return -1;
	}
	if (rc != 0) {
		ss_error_set(err, SS_ERR_START, "cannot resolve %s: %s", text,
		             rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	out->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}

const char *addr_type_name(int socktype)
{
	switch (socktype) {
	case SOCK_STREAM: return "stream";
	case SOCK_DGRAM: return "dgram";
	case SOCK_SEQPACKET: return "seqpacket";
	default: return "unknown";
	}
}

/* The host part of HOST:PORT is an IPv4 literal. */
static bool ipv4_literal(const char *text)
{
	const char *colon = strrchr(text, ':');
	char host[INET_ADDRSTRLEN];
	struct in_addr probe;
	size_t len = colon != NULL ? (size_t)(colon - text) : 0;

	if (len == 0 || len >= sizeof(host))
		return false;
	memcpy(host, text, len);
	host[len] = '\0';
	return inet_pton(AF_INET, host, &probe) == 1;
}

enum addr_form addr_form(const char *text)
{
	if (handed_form(text))
		return ADDR_HANDED;
	if (text[0] == '@')
		return ADDR_UNIX_ABSTRACT;
	if (strchr(text, '/') != NULL)
		return ADDR_UNIX_PATH;
	if (text[0] == '[')
		return ADDR_IPV6;
	return ipv4_literal(text) ? ADDR_IPV4 : ADDR_PORT;
}

int addr_form_family(enum addr_form form, int family)
{
	switch (form) {
	case ADDR_UNIX_PATH:
	case ADDR_UNIX_ABSTRACT: return AF_UNIX;
	case ADDR_IPV6: return AF_INET6;
	case ADDR_IPV4: return AF_INET;
	case ADDR_HANDED: return family; /* the socket's own: see handed.c */
	case ADDR_PORT: break;
	}
	return family == AF_UNSPEC ? AF_INET : family;
}

int addr_parse(const char *text, int family, int socktype, struct address *out,
               struct ss_error *err)
{
	memset(out, 0, sizeof(*out));
	if (text[0] == '\0') {
		ss_error_set(err, SS_ERR_USAGE, "empty ADDRESS");
		return -1;
	}
	family = addr_form_family(addr_form(text), family);
	if (family == AF_UNIX)
		return parse_unix(text, out, err);
	return parse_inet(text, family, socktype, out, err);
}

void addr_ip_port(const struct sockaddr *sa, char *ip, size_t ipsize, unsigned *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)ipsize);
		*port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip, (socklen_t)ipsize);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)ipsize);
		*port = ntohs(sin6->sin6_port);
	} else {
		strlcpy(ip, "?", ipsize);
		*port = 0;
	}
}

void addr_unix_path(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
	size_t off = offsetof(struct sockaddr_un, sun_path);

	buf[0] = '\0';
	if (len <= off)
		return;
	size_t n = len - off;
	if (sun->sun_path[0] == '\0') {
		/* Abstract: the name is every byte after the leading NUL. */
		size_t name = n - 1 < size - 2 ? n - 1 : size - 2;
		buf[0] = '@';
		memcpy(buf + 1, sun->sun_path + 1, name);
		buf[name + 1] = '\0';
	} else {
		size_t path = strnlen(sun->sun_path, n);
		if (path > size - 1)
			path = size - 1;
		memcpy(buf, sun->sun_path, path);
		buf[path] = '\0';
	}
}

void addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	switch (sa->sa_family) {
	case AF_INET:
	case AF_INET6:
		addr_ip_port(sa, ip, sizeof(ip), &port);
		if (strchr(ip, ':') != NULL)
			snprintf(buf, size, "[%s]:%u", ip, port);
		else
			snprintf(buf, size, "%s:%u", ip, port);
		break;
	case AF_UNIX:
		addr_unix_path(sa, len, buf, size);
		break;
	default:
		snprintf(buf, size, "(family %d)", sa->sa_family);
	}
}
