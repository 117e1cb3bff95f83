/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: --proxy-protocol headers.  The bytes are what a connection
 * sends first; the real parser and reader (lib/proxy.c) run on them.
 * Checked: an answer never depends on bytes after a header (every shorter
 * prefix of a header is MORE, a BAD prefix stays BAD), a header's addresses
 * are inet ones, and the reader, given the bytes through a socket, takes off
 * exactly the header: the bytes after it are left for the handler.
 */
#include "../../lib/proxy.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_header(const struct proxy_header *h, size_t size)
{
	if (h->version == 1 && (h->length > PROXY_V1_MAX || h->length > size))
		abort();
	if (h->version == 2 && (h->length < PROXY_V2_FIXED || h->length > PROXY_V2_FIXED + 65535))
		abort();
	if (h->version != 1 && h->version != 2)
		abort();
	if (!h->keep) {
		int family = h->source.ss_family;
		if ((family != AF_INET && family != AF_INET6) || h->destination.ss_family != family)
			abort();
		if (h->address_len != (family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
			abort();
	}
}

/* Feed the bytes through a socket pair; the reader must leave exactly
 * what follows the header. */
static void check_reader(const uint8_t *data, size_t size, const struct proxy_header *h)
{
	int sv[2];
	struct proxy_reader r;
	const char *why;
	uint8_t rest[512];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	if (write(sv[0], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	proxy_reader_init(&r);
	enum proxy_result got = proxy_read(sv[1], &r, &why);
	if (h->length <= size) {
		if (got != PROXY_DONE || r.header.length != h->length)
			abort();
		ssize_t n = recv(sv[1], rest, sizeof(rest), MSG_DONTWAIT);
		size_t left = size - h->length;
		if (n < 0 || (size_t)n != left || memcmp(rest, data + h->length, left) != 0)
			abort();
	} else if (got == PROXY_DONE) {
		/* v2 TLVs beyond what was sent: the reader is still taking them */
		abort();
	}
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h, p;
	const char *why, *pwhy;

	if (size > 400)
		return 0;
	enum proxy_result got = proxy_parse(data, size, &h, &why);
	if ((got == PROXY_BAD) != (why != NULL))
		abort();
	for (size_t k = 0; k < size; k++) {
		enum proxy_result part = proxy_parse(data, k, &p, &pwhy);
		if (part == PROXY_BAD && got != PROXY_BAD)
			abort();
		if (part == PROXY_DONE && (got != PROXY_DONE || p.length != h.length || p.keep != h.keep))
			abort();
		/* a v1 line is known only whole */
		if (got == PROXY_DONE && h.version == 1 && k < h.length && part != PROXY_MORE)
			abort();
	}
	if (got == PROXY_DONE) {
		check_header(&h, size);
		check_reader(data, size, &h);
	}
	return 0;
}
