/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The unix transport: paths and abstract names.  A stale socket file (nobody
 * listening) is replaced; a live one, or a file that is not a socket, is an
 * error and is left alone.  At exit sockserve removes the path only if it is
 * still the socket that it created.
 */
#include "axes.h"
#include "log.h"
#include "request.h"
#include "view.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The transport's state: the path sockserve created, to remove at exit. */
struct unix_path {
	bool owned;
	dev_t dev;
	ino_t ino;
};

static bool is_path(const struct view *v)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&v->sock->addr.ss;
	return sun->sun_path[0] != '\0';
}

/* Is somebody accepting on this socket path?  ECONNREFUSED means nobody. */
static int probe_listener(const struct view *v)
{
	int fd = socket(AF_UNIX, v->cfg->socktype | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int rc = connect(fd, (const struct sockaddr *)&v->sock->addr.ss, v->sock->addr.len);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int unix_prepare(struct view *v, struct ss_error *err)
{
	const char *path = ((const struct sockaddr_un *)&v->sock->addr.ss)->sun_path;
	struct stat st;

	if (!is_path(v) || lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		ss_error_set(err, SS_ERR_START, "cannot listen on %s: file exists and is not a socket", path);
		return -1;
	}
	if (probe_listener(v) == 0 || errno != ECONNREFUSED) {
		ss_error_set(err, SS_ERR_START, "cannot listen on %s: %s", path,
		             "Address already in use (another process is listening on it)");
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		ss_error_set(err, SS_ERR_START, "cannot replace stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	log_msg(v->log, SS_LOG_INFO, "stale", "replaced stale socket %s", path);
	return 0;
}

static int unix_configure(struct view *v, int fd, struct ss_error *err)
{
	(void)v;
	(void)fd;
	(void)err;
	return 0;
}

static void unix_bound(struct view *v)
{
	struct unix_path *t = v->transport_ctx;
	const char *path = ((const struct sockaddr_un *)&v->sock->addr.ss)->sun_path;
	struct stat st;

	/* A socket handed in is not ours to remove. */
	if (!v->sock->handed && is_path(v) && lstat(path, &st) == 0) {
		t->owned = true;
		t->dev = st.st_dev;
		t->ino = st.st_ino;
	}
}

static void unix_describe(struct view *v, struct request *req)
{
	char peer_path[ADDR_TEXT_MAX];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	bool has_cred = req->fd >= 0 &&
	                getsockopt(req->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0;

	req->peer_pid = has_cred ? (long)cred.pid : 0;
	req->peer_uid = has_cred ? (long)cred.uid : -1;
	addr_unix_path((const struct sockaddr *)&req->peer, req->peer_len, peer_path, sizeof(peer_path));
	if (req->peer_len == 0) /* --wait: the socket itself */
		snprintf(req->remote, sizeof(req->remote), "%s", v->sock->addr_text);
	else if (has_cred)
		snprintf(req->remote, sizeof(req->remote), "pid %d", (int)cred.pid);
	else
		snprintf(req->remote, sizeof(req->remote), "%s", peer_path[0] ? peer_path : "unnamed peer");
	env_reset(&req->env);
	env_add(&req->env, "PROTO", "%s", v->sock->proto);
	env_add(&req->env, "UNIXLOCALPATH", "%s", v->sock->addr_text);
	if (has_cred) {
		env_add(&req->env, "UNIXREMOTEPID", "%d", (int)cred.pid);
		env_add(&req->env, "UNIXREMOTEEUID", "%u", (unsigned)cred.uid);
		env_add(&req->env, "UNIXREMOTEEGID", "%u", (unsigned)cred.gid);
	}
	if (peer_path[0] != '\0')
		env_add(&req->env, "UNIXREMOTEPATH", "%s", peer_path);
}

static void unix_cleanup(struct view *v)
{
	struct unix_path *t = v->transport_ctx;
	const char *path = ((const struct sockaddr_un *)&v->sock->addr.ss)->sun_path;
	struct stat st;

	if (t == NULL || !t->owned)
		return;
	t->owned = false;
	if (lstat(path, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino && unlink(path) < 0)
		/* e.g. --user may not write the directory the socket is in */
		log_msg(v->log, SS_LOG_ERROR, "cleanup", "cannot remove %s: %s", path, strerror(errno));
}

const struct transport transport_unix = {
	.name = "unix",
	.ctx_size = sizeof(struct unix_path),
	.client_ips = false,
	.types = 1u << SOCK_STREAM | 1u << SOCK_DGRAM | 1u << SOCK_SEQPACKET,
	.proto = "UNIX",
	.prepare = unix_prepare,
	.configure = unix_configure,
	.bound = unix_bound,
	.describe = unix_describe,
	.cleanup = unix_cleanup,
};
