/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: ADDRESS forms.  The fuzzer's bytes are an ADDRESS and a
 * --family/--type choice, run through the real config check and address
 * parser (lib/config.c, lib/addr.c), then formatted back.
 *
 * getaddrinfo is wrapped (-Wl,--wrap=getaddrinfo) so that host names are
 * never sent to a resolver: numeric hosts and /etc/services names only.
 */
#include "../../lib/addr.h"
#include "../../lib/config.h"

#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
	struct addrinfo h = *hints;

	h.ai_flags |= AI_NUMERICHOST;
	return __real_getaddrinfo(node, service, &h, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int families[] = { AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX };
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, 99 };
	static char *const argv[] = { "true", NULL };
	struct ss_config cfg;
	struct ss_error err;
	struct address addr;
	char text[ADDR_TEXT_MAX];

	if (size < 1)
		return 0;
	char *address = malloc(size);
	memcpy(address, data + 1, size - 1);
	address[size - 1] = '\0';
	ss_config_init(&cfg);
	cfg.address = address;
	cfg.argv = argv;
	cfg.family = families[data[0] & 3];
	cfg.socktype = types[(data[0] >> 2) & 3];
	if (config_check(&cfg, NULL, &err) == 0 &&
	    addr_parse(address, cfg.family, cfg.socktype, &addr, &err) == 0) {
		if (addr.len > sizeof(addr.ss) || addr.family != addr.ss.ss_family)
			abort();
		addr_format((struct sockaddr *)&addr.ss, addr.len, text, sizeof(text));
		if (strlen(text) >= sizeof(text))
			abort();
	} else if (err.kind != SS_ERR_USAGE && err.kind != SS_ERR_START) {
		abort(); /* a failure always says what kind it is */
	}
	free(address);
	return 0;
}
