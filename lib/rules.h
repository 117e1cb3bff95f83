/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --rules=FILE: access rules in a file that may change while the server
 * runs, as tcprules' and tcpsvd's are.  One rule a line:
 *
 *     allow CIDR [NAME=VALUE ...]
 *     deny CIDR
 *
 * '#' starts a comment.  The first rule that matches a client decides (its
 * variables join the handler's environment); a client no rule matches falls
 * through to --allow and --deny.  The file is read at start-up (an error
 * there is a start-up error) and watched (inotify on its directory, which
 * sees a write in place, an editor's rename-over and a deletion): re-read when it
 * changes; a version that does not parse keeps the rules in force and logs
 * the line and why; a deleted file keeps them too, and says so.
 *
 * A table of prefixes, one hash table a prefix length in use: matching
 * looks up each length (at most 33 for IPv4, 129 for IPv6), however many
 * rules there are.
 */
#ifndef SS_RULES_H
#define SS_RULES_H

#include "acl.h"
#include "error.h"
#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Variables one rule may set, at most. */
#define RULE_VARS_MAX 16

struct env_block;
struct logger;
struct ruleset;

/* The file, the rules in force, and the watch. */
struct rules {
	const char *path;
	struct ruleset *in_force;       /* NULL: no --rules */
	char name[256];                 /* the file's name in its directory */
	struct stat loaded;             /* the file as it was read */
	int inotify_fd;
	struct watch watch;
	struct logger *log;
	bool gone_logged;
};

/* A client's match: the rule (its line), and the ruleset that holds its
 * variables, kept until they are in the environment. */
struct rule_match {
	struct ruleset *set;            /* a reference (rules_release) */
	unsigned rule;
	bool allow;
	unsigned line;
};

/* Read FILE (NULL: no rules): a start-up error names the line and why. */
int rules_init(struct rules *r, const char *path, struct logger *log, struct ss_error *err);
/* Watch the file from this loop (once the loop is open). */
int rules_watch(struct rules *r, struct loop *loop, struct ss_error *err);
void rules_free(struct rules *r);
/* The first rule that matches key: true, with m filled (m->set holds a
 * reference); false when none does. */
bool rules_match(struct rules *r, const struct ip_key *key, struct rule_match *m);
/* The allow rule's variables into the environment. */
void rules_describe(const struct rule_match *m, struct env_block *env);
/* Let the match's reference go (NULL set: nothing). */
void rules_release(struct rule_match *m);

#endif
