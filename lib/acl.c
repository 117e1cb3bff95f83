/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Admission: which clients are served.  --allow and --deny are lists of
 * address prefixes, checked in full for every new client (deny first; then,
 * when there is an allow list, the client must match one of it).
 *
 * --max-per-ip keeps a count of the
 * requests in progress per client IP in a hash table sized at start-up from
 * the concurrency limit (there can never be more addresses in it than
 * requests in progress), so admitting and ending a request does not allocate.
 * An IPv4 client on a dual-stack socket (::ffff:a.b.c.d) counts as that IPv4
 * address.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <bsd/stdlib.h>
#include <stdlib.h>
#include <string.h>

struct ip_count {
	struct ip_key key;
	unsigned count; /* 0: empty */
};

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool is_v4(const struct ip_key *key)
{
	return memcmp(key->b, v4_mapped, sizeof(v4_mapped)) == 0;
}

bool ip_key_of(const struct sockaddr_storage *ss, struct ip_key *key)
{

	if (ss->ss_family == AF_INET) {
		memcpy(key->b, v4_mapped, sizeof(v4_mapped));
		memcpy(key->b + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(key->b, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return true;
	}
	return false;
}

static size_t ip_hash(const struct ip_key *key)
{
	/* FNV-1a: clients cannot pick their address freely enough over TCP to
	 * make collisions matter; the table is at most half full. */
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < sizeof(key->b); i++)
		h = (h ^ key->b[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

int ip_counts_init(struct ip_counts *counts, unsigned limit)
{
	size_t size = 16;

	while (size < 2 * (size_t)limit)
		size *= 2;
	counts->table = calloc(size, sizeof(struct ip_count));
	counts->mask = size - 1;
	return counts->table != NULL ? 0 : -1;
}

void ip_counts_free(struct ip_counts *counts)
{
	free(counts->table);
	counts->table = NULL;
}

/* The key's place: where it is, or the empty place where it would go. */
static size_t ip_find(const struct ip_counts *counts, const struct ip_key *key)
{
	size_t i = ip_hash(key) & counts->mask;

	while (counts->table[i].count != 0 && memcmp(&counts->table[i].key, key, sizeof(*key)) != 0)
		i = (i + 1) & counts->mask;
	return i;
}

unsigned ip_counts_get(const struct ip_counts *counts, const struct ip_key *key)
{
	return counts->table[ip_find(counts, key)].count;
}

void ip_counts_add(struct ip_counts *counts, const struct ip_key *key)
{
	struct ip_count *c = &counts->table[ip_find(counts, key)];

	c->key = *key;
	c->count++;
}

/* One fewer; an entry that drops to 0 is removed by shifting back the
 * entries after it that were displaced past it (linear probing's deletion,
 * which needs no tombstones). */
void ip_counts_remove(struct ip_counts *counts, const struct ip_key *key)
{
	size_t hole = ip_find(counts, key);

	if (counts->table[hole].count == 0 || --counts->table[hole].count != 0)
		return;
	for (size_t i = (hole + 1) & counts->mask; counts->table[i].count != 0; i = (i + 1) & counts->mask) {
		size_t home = ip_hash(&counts->table[i].key) & counts->mask;
		/* Move entry i into the hole unless its home lies in (hole, i]. */
		bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!stays) {
			counts->table[hole] = counts->table[i];
			counts->table[i].count = 0;
			hole = i;
		}
	}
}

/* ---- --allow and --deny ---- */

/* "10.0.0.0/8", "::1/128", or a bare address (a host).  Host bits beyond the
 * prefix are ignored, as most tools do. */
int cidr_parse(const char *option, const char *text, struct cidr *out, struct ss_error *err)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
	struct in_addr v4;
	unsigned max;

	if (len >= sizeof(addr)) {
		ss_error_set(err, SS_ERR_USAGE, "%s '%s': not an IPv4 or IPv6 address", option, text);
		return -1;
	}
	memcpy(addr, text, len);
	addr[len] = '\0';
	out->text = text;
	if (inet_pton(AF_INET, addr, &v4) == 1) {
		memcpy(out->net.b, v4_mapped, sizeof(v4_mapped));
		memcpy(out->net.b + 12, &v4, 4);
		out->v4 = true;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->net.b) == 1) {
		out->v4 = false;
		max = 128;
	} else {
		ss_error_set(err, SS_ERR_USAGE, "%s '%s': not an IPv4 or IPv6 address", option, text);
		return -1;
	}
	out->bits = max;
	if (slash != NULL) {
		const char *problem = NULL;
		long long n = slash[1] >= '0' && slash[1] <= '9' ? strtonum(slash + 1, 0, max, &problem) : -1;
		if (n < 0 || problem != NULL) {
			ss_error_set(err, SS_ERR_USAGE, "%s '%s': the prefix length must be 0 to %u", option, text, max);
			return -1;
		}
		out->bits = (unsigned)n;
	}
	/* In the 16-byte form an IPv4 prefix follows the 96 bits of ::ffff:0:0. */
	if (out->v4)
		out->bits += 96;
	/* ::ffff:10.0.0.0/104 is 10.0.0.0/8 written as IPv6: IPv4 clients are
	 * what it names (an IPv6 rule is not about them), so it is that IPv4
	 * rule; otherwise it would never match anyone. */
	else if (out->bits >= 96 && memcmp(out->net.b, v4_mapped, sizeof(v4_mapped)) == 0)
		out->v4 = true;
	return 0;
}

static bool cidr_match(const struct cidr *c, const struct ip_key *key, bool v4)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	/* An IPv6 rule is not about IPv4 clients, even dual-stack ones. */
	if (c->v4 != v4)
		return false;
	if (memcmp(c->net.b, key->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->net.b[full] & mask) == (key->b[full] & mask);
}

static int cidr_list(const char *option, const char *const *texts, struct cidr **list, size_t *count,
                     struct ss_error *err)
{
	size_t n = 0;

	while (texts != NULL && texts[n] != NULL)
		n++;
	*count = 0;
	*list = NULL;
	if (n == 0)
		return 0;
	*list = reallocarray(NULL, n, sizeof(struct cidr));
	if (*list == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (cidr_parse(option, texts[i], &(*list)[i], err) < 0)
			return -1;
	*count = n;
	return 0;
}

/* --proxy-from=CIDR[,CIDR...], repeatable: one rule per CIDR. */
static int proxy_from_list(struct acl *acl, const char *const *lists, struct ss_error *err)
{
	size_t total = 0, n = 1;
	const char **texts;

	for (size_t i = 0; lists != NULL && lists[i] != NULL; i++)
		total += strlen(lists[i]) + 1;
	if (total == 0)
		return 0;
	acl->proxy_from_text = malloc(total);
	if (acl->proxy_from_text == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return -1;
	}
	/* the lists joined with commas, then cut at every comma */
	char *p = acl->proxy_from_text;
	for (size_t i = 0; lists[i] != NULL; i++)
		p += sprintf(p, "%s%s", i > 0 ? "," : "", lists[i]);
	for (p = acl->proxy_from_text; *p != '\0'; p++)
		n += *p == ',';
	texts = calloc(n + 1, sizeof(*texts));
	if (texts == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return -1;
	}
	n = 0;
	for (char *t = acl->proxy_from_text, *w; (w = strsep(&t, ",")) != NULL;)
		texts[n++] = w;
	int rc = cidr_list("--proxy-from", texts, &acl->proxy_from, &acl->proxy_from_count, err);
	free(texts);
	return rc;
}

int acl_init(struct acl *acl, const char *const *allow, const char *const *deny, const char *const *proxy_from,
             struct ss_error *err)
{
	if (cidr_list("--allow", allow, &acl->allow, &acl->allow_count, err) < 0 ||
	    cidr_list("--deny", deny, &acl->deny, &acl->deny_count, err) < 0 ||
	    proxy_from_list(acl, proxy_from, err) < 0)
		return -1;
	return 0;
}

bool acl_proxy_trusted(const struct acl *acl, const struct sockaddr_storage *peer)
{
	struct ip_key key;

	if (acl->proxy_from_count == 0)
		return true;
	if (!ip_key_of(peer, &key))
		return false;
	bool v4 = is_v4(&key);
	for (size_t i = 0; i < acl->proxy_from_count; i++)
		if (cidr_match(&acl->proxy_from[i], &key, v4))
			return true;
	return false;
}

void acl_free(struct acl *acl)
{
	free(acl->allow);
	free(acl->deny);
	free(acl->proxy_from);
	free(acl->proxy_from_text);
	acl->allow = acl->deny = acl->proxy_from = NULL;
	acl->proxy_from_text = NULL;
	acl->allow_count = acl->deny_count = acl->proxy_from_count = 0;
}

bool acl_active(const struct acl *acl)
{
	return acl->allow_count != 0 || acl->deny_count != 0;
}

const struct cidr *acl_refuse(const struct acl *acl, const struct ip_key *key, bool *denied)
{
	static const struct cidr not_allowed = { .text = "" };
	bool v4 = is_v4(key);

	*denied = true;
	for (size_t i = 0; i < acl->deny_count; i++)
		if (cidr_match(&acl->deny[i], key, v4))
			return &acl->deny[i];
	*denied = false;
	if (acl->allow_count == 0)
		return NULL;
	for (size_t i = 0; i < acl->allow_count; i++)
		if (cidr_match(&acl->allow[i], key, v4))
			return NULL;
	return &not_allowed;
}

/* ---- --rate ---- */

/* Clients remembered at once, and how far a lookup probes. */
#define RATE_SLOTS 4096
#define RATE_PROBES 8

struct rate_slot {
	struct ip_key key;
	bool used;
	double tokens;
	int64_t at_us;         /* when tokens was right */
};

int rate_init(struct rate_table *t, long long count, long long ms)
{
	t->slots = calloc(RATE_SLOTS, sizeof(struct rate_slot));
	if (t->slots == NULL)
		return -1;
	t->mask = RATE_SLOTS - 1;
	t->burst = (double)count;
	t->per_us = (double)count / ((double)ms * 1000.0);
	return 0;
}

void rate_free(struct rate_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

bool rate_allow(struct rate_table *t, const struct ip_key *key, int64_t now_us)
{
	size_t h = ip_hash(key);
	struct rate_slot *victim = NULL;

	for (size_t i = 0; i < RATE_PROBES; i++) {
		struct rate_slot *s = &t->slots[(h + i) & t->mask];
		if (s->used && memcmp(&s->key, key, sizeof(*key)) == 0) {
			s->tokens += (double)(now_us - s->at_us) * t->per_us;
			if (s->tokens > t->burst)
				s->tokens = t->burst;
			s->at_us = now_us;
			if (s->tokens < 1.0)
				return false;
			s->tokens -= 1.0;
			return true;
		}
		/* room: an empty slot, else the one least recently used */
		if (victim == NULL || !s->used || (victim->used && s->at_us < victim->at_us))
			victim = s;
	}
	victim->used = true;
	victim->key = *key;
	victim->tokens = t->burst - 1.0;
	victim->at_us = now_us;
	return true;
}
