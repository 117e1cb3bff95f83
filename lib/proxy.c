/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PROXY protocol, versions 1 and 2, as HAProxy's proxy-protocol.txt
 * defines them.  Parsing looks at bytes the connection has sent without
 * taking them (MSG_PEEK); once a whole header is known exactly its length is
 * taken off, so the handler reads the client's first byte as if no balancer
 * were there.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v2_signature[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
static const char v1_prefix[] = "PROXY ";

/* Whether the size bytes seen so far begin like prefix (of prefix_len). */
static bool begins_like(const uint8_t *buf, size_t size, const void *prefix, size_t prefix_len)
{
	return memcmp(buf, prefix, size < prefix_len ? size : prefix_len) == 0;
}

static void set_inet(struct sockaddr_storage *ss, int family, const void *ip, uint16_t port_be)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, ip, sizeof(sin->sin_addr));
		sin->sin_port = port_be;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, ip, sizeof(sin6->sin6_addr));
		sin6->sin6_port = port_be;
	}
}

static enum proxy_result bad(const char **why, const char *text)
{
	*why = text;
	return PROXY_BAD;
}

/* ---- version 1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" ---- */

/* A port: decimal, no sign, no leading zero, at most 65535. */
static bool v1_port(const char *s, uint16_t *port_be)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port_be = htons((uint16_t)v);
	return true;
}

static enum proxy_result v1_parse(const uint8_t *buf, size_t size, struct proxy_header *h, const char **why)
{
	char line[PROXY_V1_MAX + 1], *field[7];
	size_t seen = size < PROXY_V1_MAX ? size : PROXY_V1_MAX, end, nfields = 0;
	const uint8_t *lf = memchr(buf, '\n', seen);
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;

	if (lf == NULL)
		return size < PROXY_V1_MAX ? PROXY_MORE : bad(why, "a PROXY v1 line longer than 107 bytes");
	end = (size_t)(lf - buf);
	if (end == 0 || buf[end - 1] != '\r')
		return bad(why, "a PROXY v1 line that does not end in CRLF");
	memcpy(line, buf, end - 1);
	line[end - 1] = '\0';
	if (strlen(line) != end - 1)
		return bad(why, "a NUL byte in a PROXY v1 line");
	h->version = 1;
	h->length = end + 1;
	/* Fields are separated by exactly one space. */
	for (char *p = line; nfields < 7; p++) {
		field[nfields++] = p;
		p = strchr(p, ' ');
		if (p == NULL)
			break;
		*p = '\0';
	}
	if (nfields >= 2 && strcmp(field[1], "UNKNOWN") == 0) {
		h->keep = true;  /* the rest of the line is to be ignored */
		return PROXY_DONE;
	}
	if (nfields < 2 || (strcmp(field[1], "TCP4") != 0 && strcmp(field[1], "TCP6") != 0))
		return bad(why, "a PROXY v1 line without TCP4, TCP6 or UNKNOWN");
	if (nfields != 6)
		return bad(why, "a PROXY v1 line without exactly two addresses and two ports");
	family = field[1][3] == '4' ? AF_INET : AF_INET6;
	if (inet_pton(family, field[2], src) != 1 || inet_pton(family, field[3], dst) != 1)
		return bad(why, family == AF_INET ? "a PROXY v1 TCP4 line with an address that is not IPv4"
		                                  : "a PROXY v1 TCP6 line with an address that is not IPv6");
	if (!v1_port(field[4], &sport) || !v1_port(field[5], &dport))
		return bad(why, "a PROXY v1 line with a port that is not 0-65535");
	set_inet(&h->source, family, src, sport);
	set_inet(&h->destination, family, dst, dport);
	h->address_len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	return PROXY_DONE;
}

/* ---- version 2: a signature, then version, command, family, length ---- */

static enum proxy_result v2_parse(const uint8_t *buf, size_t size, struct proxy_header *h, const char **why)
{
	if (size < PROXY_V2_FIXED)
		return PROXY_MORE;
	unsigned version = buf[12] >> 4, command = buf[12] & 0x0F;
	unsigned family = buf[13] >> 4, protocol = buf[13] & 0x0F;
	size_t length = (size_t)buf[14] << 8 | buf[15], need;

	if (version != 2)
		return bad(why, "a PROXY v2 header with a version other than 2");
	if (command > 1)
		return bad(why, "a PROXY v2 header with a command other than LOCAL or PROXY");
	h->version = 2;
	h->length = PROXY_V2_FIXED + length;
	/* LOCAL: the balancer's own connection (a health check); an
	 * unspecified or unix family: nothing we can give as TCP variables. */
	if (command == 0 || family == 0 || family == 3) {
		h->keep = true;
		return PROXY_DONE;
	}
	if (family > 3)
		return bad(why, "a PROXY v2 header with an unknown address family");
	if (protocol != 1)
		return bad(why, "a PROXY v2 header for a protocol other than STREAM (TCP)");
	need = family == 1 ? 12 : 36;
	if (length < need)
		return bad(why, "a PROXY v2 header too short for its addresses");
	if (size < PROXY_V2_FIXED + need)
		return PROXY_MORE;
	const uint8_t *a = buf + PROXY_V2_FIXED;
	size_t ip = family == 1 ? 4 : 16;
	uint16_t sport, dport;
	int af = family == 1 ? AF_INET : AF_INET6;
	memcpy(&sport, a + 2 * ip, 2);
	memcpy(&dport, a + 2 * ip + 2, 2);
	set_inet(&h->source, af, a, sport);
	set_inet(&h->destination, af, a + ip, dport);
	h->address_len = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	return PROXY_DONE;
}

enum proxy_result proxy_parse(const uint8_t *buf, size_t size, struct proxy_header *h, const char **why)
{
	memset(h, 0, sizeof(*h));
	*why = NULL;
	if (size == 0)
		return PROXY_MORE;
	if (begins_like(buf, size, v2_signature, sizeof(v2_signature)))
		return v2_parse(buf, size, h, why);
	if (begins_like(buf, size, v1_prefix, sizeof(v1_prefix) - 1))
		return size < sizeof(v1_prefix) - 1 ? PROXY_MORE : v1_parse(buf, size, h, why);
	return bad(why, "no PROXY protocol header (the client spoke first without one)");
}

/* ---- reading it off a connection ---- */

void proxy_reader_init(struct proxy_reader *r)
{
	memset(r, 0, sizeof(*r));
}

/* Take r->skip bytes, all of them the header's, off the socket. */
static enum proxy_result skip_header(int fd, struct proxy_reader *r, const char **why)
{
	uint8_t sink[4096];

	while (r->skip > 0) {
		ssize_t n = recv(fd, sink, r->skip < sizeof(sink) ? r->skip : sizeof(sink), MSG_DONTWAIT);
		if (n > 0) {
			r->skip -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return PROXY_MORE;
		return bad(why, n == 0 ? "the connection closed inside the PROXY header"
		                       : "the connection failed inside the PROXY header");
	}
	return PROXY_DONE;
}

enum proxy_result proxy_read(int fd, struct proxy_reader *r, const char **why)
{
	uint8_t buf[PROXY_PEEK_MAX];
	ssize_t n;
	enum proxy_result got;

	*why = NULL;
	if (r->parsed)
		return skip_header(fd, r, why);
	n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return PROXY_MORE;
	if (n <= 0)
		return bad(why, n == 0 ? "the connection closed before its PROXY header"
		                       : "the connection failed before its PROXY header");
	got = proxy_parse(buf, (size_t)n, &r->header, why);
	if (got != PROXY_DONE) {
		/* A peek that filled the buffer saw all parsing can need. */
		if (got == PROXY_MORE && (size_t)n == sizeof(buf))
			return bad(why, "a PROXY header that never completes");
		return got;
	}
	r->parsed = true;
	r->skip = r->header.length;
	return skip_header(fd, r, why);
}
