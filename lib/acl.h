/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Admission (a leaf): --allow/--deny prefix lists and the per-IP counts of
 * --max-per-ip.
 */
#ifndef SS_ACL_H
#define SS_ACL_H

#include "error.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* A client IP as 16 bytes: IPv4 as ::ffff:a.b.c.d, so both forms count alike. */
struct ip_key {
	uint8_t b[16];
};

/* Requests in progress per client IP (--max-per-ip). */
struct ip_counts {
	struct ip_count *table;
	size_t mask;
};

/* One --allow or --deny rule: a prefix of the 16-byte form. */
struct cidr {
	struct ip_key net;
	unsigned bits;      /* of the 16-byte form: an IPv4 /8 is 104 */
	bool v4;
	const char *text;   /* as given */
};

struct acl {
	struct cidr *allow, *deny;
	size_t allow_count, deny_count;
	struct cidr *proxy_from;    /* --proxy-from: the peers that may send PROXY headers */
	size_t proxy_from_count;
	char *proxy_from_text;      /* the rules' texts, split at the commas */
};

/* Parse one CIDR (or a bare address) given to option. */
int cidr_parse(const char *option, const char *text, struct cidr *out, struct ss_error *err);
/* Parse the --allow and --deny lists, and --proxy-from's (each value a
 * comma-separated list): a usage error names the value. */
int acl_init(struct acl *acl, const char *const *allow, const char *const *deny, const char *const *proxy_from,
             struct ss_error *err);
void acl_free(struct acl *acl);
bool acl_active(const struct acl *acl);
/* Whether a connection from this peer may send a PROXY header: true
 * without --proxy-from; the peer must be an IP in it with one. */
bool acl_proxy_trusted(const struct acl *acl, const struct sockaddr_storage *peer);
/* NULL if the client may be served; else the --deny rule it matched
 * (*denied), or a rule with empty text: it matched no --allow rule. */
const struct cidr *acl_refuse(const struct acl *acl, const struct ip_key *key, bool *denied);

/* --rate: a token bucket per client IP, in a table of fixed size made at
 * start-up (no allocation per request).  The table remembers the clients
 * seen last; a client whose bucket had to make room for another's starts
 * again with a full one. */
struct rate_table {
	struct rate_slot *slots;
	size_t mask;
	double burst;          /* N: the bucket's size */
	double per_us;         /* N / SECONDS, in tokens per microsecond */
};

int rate_init(struct rate_table *t, long long count, long long ms);
void rate_free(struct rate_table *t);
/* Take a token for the client, if it has one: false when over the rate. */
bool rate_allow(struct rate_table *t, const struct ip_key *key, int64_t now_us);

/* The IP of an inet address; false for any other family. */
bool ip_key_of(const struct sockaddr_storage *ss, struct ip_key *key);
int ip_counts_init(struct ip_counts *counts, unsigned limit);
void ip_counts_free(struct ip_counts *counts);
unsigned ip_counts_get(const struct ip_counts *counts, const struct ip_key *key);
void ip_counts_add(struct ip_counts *counts, const struct ip_key *key);
void ip_counts_remove(struct ip_counts *counts, const struct ip_key *key);

#endif
