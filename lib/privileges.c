/*
 * --user and --group: the names are looked up at start-up, before anything is
 * bound, and the process drops to them once the socket is bound (so that a
 * port below 1024 works): supplementary groups first (the user's, through
 * initgroups, or none), then the group, then the user, real, effective and
 * saved ids alike.  Then it checks that the old ids cannot be taken back.
 * Handlers inherit the result.
 */
#include "internal.h"

#include <bsd/stdlib.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A name, or a number when no entry has that name. */
static bool as_number(const char *text, unsigned long *out)
{
	const char *problem = NULL;
	long long n;

	if (text[0] < '0' || text[0] > '9')
		return false;
	n = strtonum(text, 0, UINT32_MAX - 1, &problem);
	if (problem != NULL)
		return false;
	*out = (unsigned long)n;
	return true;
}

static int resolve_user(const char *name, struct identity *id, struct ss_error *err)
{
	struct passwd *pw = getpwnam(name);
	unsigned long n;

	if (pw == NULL && as_number(name, &n))
		pw = getpwuid((uid_t)n);
	if (pw == NULL) {
		if (as_number(name, &n)) {
			/* A bare uid without a passwd entry: no groups to take. */
			id->uid = (uid_t)n;
			id->user_name = NULL;
			id->has_user = true;
			id->gid_known = false;
			return 0;
		}
		ss_error_set(err, SS_ERR_START, "--user: unknown user '%s'", name);
		return -1;
	}
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	id->gid_known = true;
	id->has_user = true;
	id->user_name = strdup(pw->pw_name);
	if (id->user_name == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return -1;
	}
	return 0;
}

static int resolve_group(const char *name, struct identity *id, struct ss_error *err)
{
	struct group *gr = getgrnam(name);
	unsigned long n;

	if (gr != NULL) {
		id->gid = gr->gr_gid;
	} else if (as_number(name, &n)) {
		id->gid = (gid_t)n;
	} else {
		ss_error_set(err, SS_ERR_START, "--group: unknown group '%s'", name);
		return -1;
	}
	id->gid_known = true;
	return 0;
}

int identity_resolve(const struct ss_config *cfg, struct identity *id, struct ss_error *err)
{
	memset(id, 0, sizeof(*id));
	if (cfg->user == NULL && cfg->group == NULL)
		return 0;
	id->wanted = true;
	if (cfg->user != NULL && resolve_user(cfg->user, id, err) < 0)
		return -1;
	if (cfg->group != NULL && resolve_group(cfg->group, id, err) < 0)
		return -1;
	if (!id->gid_known) {
		ss_error_set(err, SS_ERR_USAGE, "--user %s has no passwd entry: give its group with --group",
		             cfg->user);
		return -1;
	}
	return 0;
}

void identity_free(struct identity *id)
{
	free(id->user_name);
	id->user_name = NULL;
}

/* Nothing to drop: not root, and already the ids asked for. */
static bool already(const struct identity *id)
{
	return geteuid() != 0 && getegid() == id->gid && getgid() == id->gid &&
	       (!id->has_user || (geteuid() == id->uid && getuid() == id->uid));
}

/* The drop held: every id is the new one, and the old ones are gone. */
static bool dropped(const struct identity *id)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		return false;
	if (rgid != id->gid || egid != id->gid || sgid != id->gid)
		return false;
	if (id->has_user && (ruid != id->uid || euid != id->uid || suid != id->uid))
		return false;
	/* Once no longer root, root must be out of reach. */
	if (id->has_user && id->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return false;
	return true;
}

int identity_drop(const struct identity *id, struct ss_error *err)
{
	const char *step;

	if (!id->wanted || already(id))
		return 0;
	step = "setgroups";
	if (id->user_name != NULL ? initgroups(id->user_name, id->gid) < 0 : setgroups(0, NULL) < 0)
		goto fail;
	step = "setresgid";
	if (setresgid(id->gid, id->gid, id->gid) < 0)
		goto fail;
	step = "setresuid";
	if (id->has_user && setresuid(id->uid, id->uid, id->uid) < 0)
		goto fail;
	if (!dropped(id)) {
		ss_error_set(err, SS_ERR_START, "cannot drop privileges: the old user or group could be taken back");
		return -1;
	}
	return 0;
fail:
	ss_error_set(err, SS_ERR_START, "cannot drop privileges (%s): %s%s", step, strerror(errno),
	             errno == EPERM ? " (--user and --group need sockserve to start as root)" : "");
	return -1;
}
