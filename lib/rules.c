/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --rules=FILE (rules.h).
 */
#include "rules.h"
#include "env.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>


struct rule {
	struct ip_key net;
	unsigned bits;
	bool allow;
	unsigned line;
	unsigned var_first, var_count;
};

struct slot {
	struct ip_key net;
	unsigned bits;
	unsigned rule;   /* + 1; 0: empty */
};

struct ruleset {
	unsigned refs;
	struct rule *rule;
	size_t count;
	char **var;          /* "NAME=VALUE", in text */
	size_t vars;
	char *text;
	struct slot *table;  /* (prefix, length) -> its first rule */
	size_t mask;
	unsigned lengths[129];
	unsigned nlengths;
};

static void set_free(struct ruleset *s)
{
	if (s == NULL)
		return;
	free(s->rule);
	free(s->var);
	free(s->text);
	free(s->table);
	free(s);
}

static void unref(struct ruleset *s)
{
	if (s != NULL && --s->refs == 0)
		set_free(s);
}

static void masked(const struct ip_key *key, unsigned bits, struct ip_key *out)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned have = bits > i * 8 ? bits - i * 8 : 0;
		out->b[i] = have >= 8 ? key->b[i] : have == 0 ? 0 : (uint8_t)(key->b[i] & (0xff << (8 - have)));
	}
}

static size_t hash(const struct ip_key *net, unsigned bits)
{
	uint64_t h = 1469598103934665603ULL ^ bits;

	for (unsigned i = 0; i < 16; i++)
		h = (h ^ net->b[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static struct slot *find(const struct ruleset *s, const struct ip_key *net, unsigned bits)
{
	for (size_t i = hash(net, bits) & s->mask;; i = (i + 1) & s->mask) {
		struct slot *t = &s->table[i];
		if (t->rule == 0 || (t->bits == bits && memcmp(&t->net, net, sizeof(*net)) == 0))
			return t;
	}
}

/* A name a rule may set: a shell variable's, not one sockserve sets. */
static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* Parse the file's text into a ruleset; NULL with why (and *line). */
static struct ruleset *parse(char *text, const char *path, char *why, size_t size, unsigned *bad_line)
{
	struct ruleset *s = calloc(1, sizeof(*s));
	size_t cap = 0, var_cap = 0;

	if (s == NULL) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	s->refs = 1;
	s->text = text;
	unsigned line = 0;
	for (char *p = text, *next; p != NULL && *p != '\0'; p = next) {
		line++;
		next = strchr(p, '\n');
		if (next != NULL)
			*next++ = '\0';
		char *hash_mark = strchr(p, '#');
		if (hash_mark != NULL)
			*hash_mark = '\0';
		char *save = NULL, *verb = strtok_r(p, " \t\r", &save);
		if (verb == NULL)
			continue;
		*bad_line = line;
		bool allow = strcmp(verb, "allow") == 0;
		if (!allow && strcmp(verb, "deny") != 0) {
			snprintf(why, size, "'%.40s' is neither allow nor deny", verb);
			goto fail;
		}
		char *where = strtok_r(NULL, " \t\r", &save);
		struct cidr c;
		struct ss_error err;
		if (where == NULL) {
			snprintf(why, size, "%s needs a CIDR", verb);
			goto fail;
		}
		if (cidr_parse(path, where, &c, &err) < 0) {
			snprintf(why, size, "'%.60s' is not a CIDR", where);
			goto fail;
		}
		if (s->count == cap) {
			cap = cap ? cap * 2 : 64;
			struct rule *r = reallocarray(s->rule, cap, sizeof(*r));
			if (r == NULL)
				goto oom;
			s->rule = r;
		}
		struct rule *r = &s->rule[s->count];
		*r = (struct rule){ .bits = c.bits, .allow = allow, .line = line, .var_first = (unsigned)s->vars };
		masked(&c.net, c.bits, &r->net);
		for (char *v; (v = strtok_r(NULL, " \t\r", &save)) != NULL;) {
			char *eq = strchr(v, '=');
			if (!allow) {
				snprintf(why, size, "a deny rule sets no variables ('%.40s')", v);
				goto fail;
			}
			if (eq == NULL || !name_ok(v, (size_t)(eq - v))) {
				snprintf(why, size, "'%.40s' is not NAME=VALUE", v);
				goto fail;
			}
			*eq = '\0';
			bool reserved = env_name_reserved(v);
			*eq = '=';
			if (reserved) {
				snprintf(why, size, "%.*s is sockserve's to set", (int)(eq - v), v);
				goto fail;
			}
			for (const unsigned char *b = (const unsigned char *)eq + 1; *b != '\0'; b++)
				if (*b < 0x20 || *b == 0x7f) {
					snprintf(why, size, "the value of %.*s holds a control character", (int)(eq - v), v);
					goto fail;
				}
			if (r->var_count == RULE_VARS_MAX) {
				snprintf(why, size, "more than %d variables", RULE_VARS_MAX);
				goto fail;
			}
			if (s->vars == var_cap) {
				var_cap = var_cap ? var_cap * 2 : 64;
				char **nv = reallocarray(s->var, var_cap, sizeof(*nv));
				if (nv == NULL)
					goto oom;
				s->var = nv;
			}
			s->var[s->vars++] = v;
			r->var_count++;
		}
		s->count++;
	}
	/* the table: twice the rules, a power of two */
	size_t n = 16;
	while (n < s->count * 2)
		n *= 2;
	s->table = calloc(n, sizeof(*s->table));
	if (s->table == NULL)
		goto oom;
	s->mask = n - 1;
	bool seen[129] = { false };
	for (size_t i = 0; i < s->count; i++) {
		struct slot *t = find(s, &s->rule[i].net, s->rule[i].bits);
		if (t->rule == 0) /* an earlier line with the same prefix wins */
			*t = (struct slot){ .net = s->rule[i].net, .bits = s->rule[i].bits, .rule = (unsigned)i + 1 };
		if (!seen[s->rule[i].bits]) {
			seen[s->rule[i].bits] = true;
			s->lengths[s->nlengths++] = s->rule[i].bits;
		}
	}
	return s;
oom:
	snprintf(why, size, "out of memory");
fail:
	s->text = NULL;
	set_free(s);
	return NULL;
}

/* The file's rules: a ruleset, or NULL with why (and the line, 0: none). */
static struct ruleset *load(const char *path, struct stat *st, char *why, size_t size, unsigned *line)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char *text = NULL;
	size_t len = 0, cap = 0;

	*line = 0;
	if (fd < 0) {
		snprintf(why, size, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, st) < 0)
		memset(st, 0, sizeof(*st));
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			char *t = realloc(text, cap + 1);
			if (t == NULL) {
				free(text);
				close(fd);
				snprintf(why, size, "out of memory");
				return NULL;
			}
			text = t;
		}
		ssize_t n = read(fd, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, size, "%s", strerror(errno));
			free(text);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		snprintf(why, size, "it holds a NUL byte");
		free(text);
		return NULL;
	}
	struct ruleset *s = parse(text, path, why, size, line);
	if (s == NULL)
		free(text);
	return s;
}

int rules_init(struct rules *r, const char *path, struct logger *log, struct ss_error *err)
{
	char why[160];
	unsigned line;

	*r = (struct rules){ .path = path, .inotify_fd = -1, .log = log };
	if (path == NULL)
		return 0;
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(r->name, sizeof(r->name), "%s", basename(copy));
	r->in_force = load(path, &r->loaded, why, sizeof(why), &line);
	if (r->in_force == NULL) {
		if (line > 0)
			ss_error_set(err, SS_ERR_START, "--rules: %s, line %u: %s", path, line, why);
		else
			ss_error_set(err, SS_ERR_START, "--rules: cannot read %s: %s", path, why);
		return -1;
	}
	return 0;
}

/* The file changed (or is gone): the new rules, or the old ones kept. */
static void reload(struct rules *r)
{
	char why[160];
	unsigned line;
	struct stat st;
	struct ruleset *s = load(r->path, &st, why, sizeof(why), &line);

	if (s == NULL && line == 0 && errno == ENOENT) {
		if (!r->gone_logged)
			log_event(r->log, SS_LOG_ERROR, "rules_gone", LOG_FIELDS(FSTR("file", r->path)),
			          "--rules: %s is gone: the %zu rules in force stay", r->path, r->in_force->count);
		r->gone_logged = true;
		return;
	}
	if (s == NULL) {
		if (line > 0)
			log_event(r->log, SS_LOG_ERROR, "rules_rejected",
			          LOG_FIELDS(FSTR("file", r->path), FINT("line", line), FSTR("reason", why)),
			          "--rules: %s, line %u: %s: the %zu rules in force stay", r->path, line, why,
			          r->in_force->count);
		else
			log_event(r->log, SS_LOG_ERROR, "rules_rejected", LOG_FIELDS(FSTR("file", r->path), FSTR("reason", why)),
			          "--rules: cannot read %s: %s: the %zu rules in force stay", r->path, why, r->in_force->count);
		return;
	}
	r->gone_logged = false;
	r->loaded = st;
	unref(r->in_force);
	r->in_force = s;
	log_event(r->log, SS_LOG_INFO, "rules", LOG_FIELDS(FSTR("file", r->path), FINT("rules", (long long)s->count)),
	          "--rules: %zu rules from %s", s->count, r->path);
}

static void on_change(void *ctx, struct watch *w, uint32_t events)
{
	struct rules *r = w->data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;

	(void)ctx;
	(void)events;
	for (;;) {
		ssize_t n = read(r->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			if (e->len > 0 && strcmp(e->name, r->name) == 0)
				changed = true;
			p += sizeof(*e) + e->len;
		}
	}
	if (changed)
		reload(r);
}

/* Is the file still the one loaded: the same inode, size and times? */
static bool same_file(const struct rules *r)
{
	struct stat st;

	if (stat(r->path, &st) < 0)
		/* gone: a change, unless already said; unreadable: inotify's to see */
		return errno == ENOENT ? r->gone_logged : true;
	return st.st_dev == r->loaded.st_dev && st.st_ino == r->loaded.st_ino && st.st_size == r->loaded.st_size &&
	       st.st_mtim.tv_sec == r->loaded.st_mtim.tv_sec && st.st_mtim.tv_nsec == r->loaded.st_mtim.tv_nsec &&
	       st.st_ctim.tv_sec == r->loaded.st_ctim.tv_sec && st.st_ctim.tv_nsec == r->loaded.st_ctim.tv_nsec;
}

int rules_watch(struct rules *r, struct loop *loop, struct ss_error *err)
{
	char copy[4096];

	if (r->path == NULL)
		return 0;
	/* a worker's loop: its own watch, not the one it inherited */
	if (r->inotify_fd >= 0)
		close(r->inotify_fd);
	r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	snprintf(copy, sizeof(copy), "%s", r->path);
	/* the directory: a write in place (its close), an editor's
	 * rename-over, a new file, the file gone */
	if (r->inotify_fd < 0 || inotify_add_watch(r->inotify_fd, dirname(copy), IN_CLOSE_WRITE | IN_MOVED_TO |
	                                           IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
		ss_error_set(err, SS_ERR_START, "--rules: cannot watch %s: %s", r->path, strerror(errno));
		return -1;
	}
	r->watch = (struct watch){ .fd = r->inotify_fd, .fn = on_change, .data = r };
	if (loop_set(loop, &r->watch, EPOLLIN) < 0)
		return -1;
	/* a change between the load and the watch (a worker starts later
	 * than the parent read the file) would go unseen: look once */
	if (!same_file(r))
		reload(r);
	return 0;
}

void rules_free(struct rules *r)
{
	if (r->inotify_fd >= 0)
		close(r->inotify_fd);
	r->inotify_fd = -1;
	unref(r->in_force);
	r->in_force = NULL;
}

bool rules_match(struct rules *r, const struct ip_key *key, struct rule_match *m)
{
	const struct ruleset *s = r->in_force;
	unsigned best = 0;

	if (s == NULL)
		return false;
	for (unsigned i = 0; i < s->nlengths; i++) {
		struct ip_key net;
		masked(key, s->lengths[i], &net);
		const struct slot *t = find(s, &net, s->lengths[i]);
		if (t->rule != 0 && (best == 0 || t->rule < best))
			best = t->rule;
	}
	if (best == 0)
		return false;
	const struct rule *rule = &s->rule[best - 1];
	*m = (struct rule_match){ .set = r->in_force, .rule = best - 1, .allow = rule->allow, .line = rule->line };
	r->in_force->refs++;
	return true;
}

void rules_describe(const struct rule_match *m, struct env_block *env)
{
	if (m->set == NULL)
		return;
	const struct rule *rule = &m->set->rule[m->rule];
	for (unsigned i = 0; i < rule->var_count; i++)
		env_add_entry(env, m->set->var[rule->var_first + i]);
}

void rules_release(struct rule_match *m)
{
	unref(m->set);
	m->set = NULL;
}
