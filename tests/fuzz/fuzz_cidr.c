/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: --allow/--deny CIDRs.  The bytes are a rule's text and a
 * client address (16 bytes, or 4 for IPv4); the real parser and matcher
 * (lib/acl.c) run on them.  A parsed rule must match its own network.
 */
#include "../../lib/acl.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_error err;
	struct acl acl;
	struct ip_key key;
	bool denied;

	if (size < 17)
		return 0;
	memcpy(key.b, data, 16);
	char *text = malloc(size - 16);
	memcpy(text, data + 17, size - 17);
	text[size - 17] = '\0';
	const char *const list[] = { text, NULL };
	bool deny = data[16] & 1;
	memset(&acl, 0, sizeof(acl));
	/* --proxy-from's comma-separated lists too: each part a rule, and a
	 * peer checked against them */
	if (data[16] & 2) {
		struct acl from;
		struct sockaddr_storage peer = { .ss_family = AF_INET6 };
		memcpy(&((struct sockaddr_in6 *)&peer)->sin6_addr, data, 16);
		memset(&from, 0, sizeof(from));
		if (acl_init(&from, NULL, NULL, list, &err) == 0)
			(void)acl_proxy_trusted(&from, &peer);
		acl_free(&from);
	}
	if (acl_init(&acl, deny ? NULL : list, deny ? list : NULL, NULL, &err) == 0) {
		const struct cidr *rule = deny ? &acl.deny[0] : &acl.allow[0];
		if (rule->bits > 128 || (rule->v4 && rule->bits < 96))
			abort();
		/* the rule's own network matches it (but for a prefix shorter
		 * than ::ffff:0:0/96 of IPv4-mapped space: an IPv6 rule is not
		 * about IPv4 clients) */
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		bool v4_client = memcmp(rule->net.b, mapped, sizeof(mapped)) == 0;
		/* IPv4-mapped with a prefix of 96 or more: an IPv4 rule */
		if (v4_client && rule->bits >= 96 && !rule->v4)
			abort();
		const struct cidr *hit = acl_refuse(&acl, &rule->net, &denied);
		if (rule->v4 == v4_client && (deny ? hit != rule || !denied : hit != NULL))
			abort();
		/* any client: an answer, never a crash */
		(void)acl_refuse(&acl, &key, &denied);
	} else if (err.kind != SS_ERR_USAGE && err.kind != SS_ERR_START) {
		abort();
	}
	acl_free(&acl);
	free(text);
	return 0;
}
