/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --user and --group: the names are looked up at start-up, before anything is
 * bound, and the process drops to them once the socket is bound (so that a
 * port below 1024 works): supplementary groups first (the user's, through
 * initgroups, or none), then the group, then the user, real, effective and
 * saved ids alike.  Then it checks that the old ids cannot be taken back.
 * Handlers inherit the result.
 */
#include "privileges.h"

#include <bsd/stdlib.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SS_FILES_ONLY
/*
 * The static build (make STATIC=1) reads /etc/passwd and /etc/group itself:
 * the C library's NSS modules (systemd, ldap, ...) are shared objects built
 * against the shared C library, and loading one into a static program can
 * crash it.  So names come from those two files only.
 */
static FILE *open_db(const char *path)
{
	return fopen(path, "re");
}

static struct passwd *files_user(const char *name, const uid_t *uid)
{
	FILE *f = open_db("/etc/passwd");
	struct passwd *pw = NULL;

	if (f == NULL)
		return NULL;
	while ((pw = fgetpwent(f)) != NULL)
		if (uid != NULL ? pw->pw_uid == *uid : strcmp(pw->pw_name, name) == 0)
			break;
	fclose(f);
	return pw;
}

static struct passwd *lookup_user_name(const char *name)
{
	return files_user(name, NULL);
}

static struct passwd *lookup_user_id(uid_t uid)
{
	return files_user(NULL, &uid);
}

static struct group *lookup_group_name(const char *name)
{
	FILE *f = open_db("/etc/group");
	struct group *gr = NULL;

	if (f == NULL)
		return NULL;
	while ((gr = fgetgrent(f)) != NULL && strcmp(gr->gr_name, name) != 0)
		;
	fclose(f);
	return gr;
}

/* initgroups(3) over /etc/group: gid and every group that lists user. */
static int set_user_groups(const char *user, gid_t gid)
{
	long max = sysconf(_SC_NGROUPS_MAX);
	size_t n = 0, cap = max > 0 ? (size_t)max : 65536;
	gid_t *list = reallocarray(NULL, cap, sizeof(gid_t));
	FILE *f = open_db("/etc/group");
	struct group *gr;

	if (list == NULL || f == NULL) {
		int e = errno;
		free(list);
		if (f != NULL)
			fclose(f);
		errno = e;
		return -1;
	}
	list[n++] = gid;
	while ((gr = fgetgrent(f)) != NULL && n < cap) {
		for (char **m = gr->gr_mem; m != NULL && *m != NULL; m++)
			if (strcmp(*m, user) == 0 && gr->gr_gid != gid) {
				list[n++] = gr->gr_gid;
				break;
			}
	}
	fclose(f);
	int rc = setgroups(n, list);
	int e = errno;
	free(list);
	errno = e;
	return rc;
}
#else
static struct passwd *lookup_user_name(const char *name)
{
	return getpwnam(name);
}

static struct passwd *lookup_user_id(uid_t uid)
{
	return getpwuid(uid);
}

static struct group *lookup_group_name(const char *name)
{
	return getgrnam(name);
}

static int set_user_groups(const char *user, gid_t gid)
{
	return initgroups(user, gid);
}
#endif

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
	struct passwd *pw = lookup_user_name(name);
	unsigned long n;

	if (pw == NULL && as_number(name, &n))
		pw = lookup_user_id((uid_t)n);
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
	struct group *gr = lookup_group_name(name);
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

int identity_resolve(const char *user, const char *group, struct identity *id, struct ss_error *err)
{
	memset(id, 0, sizeof(*id));
	if (user == NULL && group == NULL)
		return 0;
	id->wanted = true;
	if (user != NULL && resolve_user(user, id, err) < 0)
		return -1;
	if (group != NULL && resolve_group(group, id, err) < 0)
		return -1;
	if (!id->gid_known) {
		ss_error_set(err, SS_ERR_USAGE, "--user %s has no passwd entry: give its group with --group", user);
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
	if (id->user_name != NULL ? set_user_groups(id->user_name, id->gid) < 0 : setgroups(0, NULL) < 0)
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
