/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --user and --group (a leaf): names looked up at start-up, privileges
 * dropped for good once the socket is bound.
 */
#ifndef SS_PRIVILEGES_H
#define SS_PRIVILEGES_H

#include "error.h"

#include <stdbool.h>
#include <sys/types.h>

struct identity {
	bool wanted;        /* --user or --group given */
	bool has_user;
	uid_t uid;
	gid_t gid;
	bool gid_known;
	char *user_name;    /* for initgroups; NULL: a bare uid, no groups */
};

/* Look the names up: unknown ones are start-up errors. */
int identity_resolve(const char *user, const char *group, struct identity *id, struct ss_error *err);
/* Become that user and group for good (after binding). */
int identity_drop(const struct identity *id, struct ss_error *err);
void identity_free(struct identity *id);

#endif
