/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --record=DIR: each request's bytes, exactly, one file a direction, named so
 * that they sort by time and carry the peer (DIR/20261206T101530.123-
 * 127.0.0.1-43122.in and .out, in UTC; _002, _003... when a name is taken, so
 * that they still sort in order), and
 * at its end a JSON summary beside them (.json: peer, start, end, exit,
 * byte counts).  A tap (filter.h), like the trace: TLS is recorded in
 * plaintext.  Datagrams: the packet and the reply as the faults left it.
 *
 * Files are created in DIR (made at start-up if missing) and never through a
 * symbolic link.  A failure to write (a full disk, DIR made unwritable) is
 * logged and only stops that request's record: serving goes on.
 */
#include "axes.h"
#include "filter.h"
#include "log.h"
#include "request.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct record {
	int dir_fd;
	const char *dir;
	struct logger *log;
};

struct record_slot {
	bool active;
	int fd[2];              /* .in, .out; -1 closed */
	char name[136];         /* the files' name without the suffix */
	int64_t start_real_us;
	uint64_t bytes[2];
	unsigned replies;       /* datagrams: replies sent */
	bool failed;
};

static bool record_wanted(const struct ss_config *cfg)
{
	return cfg->record != NULL;
}

static int record_open(void *ctx, struct view *v, struct ss_error *err)
{
	struct record *r = ctx;

	r->dir = v->cfg->record;
	r->log = v->log;
	r->dir_fd = -1;
	if (mkdir(r->dir, 0755) < 0 && errno != EEXIST) {
		ss_error_set(err, SS_ERR_START, "--record: cannot make the directory %s: %s", r->dir, strerror(errno));
		return -1;
	}
	r->dir_fd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dir_fd < 0) {
		ss_error_set(err, SS_ERR_START, "--record: cannot open the directory %s: %s", r->dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void record_announce(void *ctx, struct view *v)
{
	struct record *r = ctx;

	log_event(v->log, SS_LOG_INFO, "record", LOG_FIELDS(FSTR("dir", r->dir)),
	          "recording each request's bytes in %s", r->dir);
	if (faccessat(r->dir_fd, ".", W_OK, AT_EACCESS) < 0)
		log_event(v->log, SS_LOG_ERROR, "record_failed", LOG_FIELDS(FSTR("dir", r->dir),
		          FSTR("error", strerror(errno))),
		          "--record: cannot write in %s: %s (serving goes on, unrecorded)", r->dir, strerror(errno));
}

static void record_close(void *ctx, struct view *v)
{
	struct record *r = ctx;

	(void)v;
	if (r->dir_fd >= 0)
		close(r->dir_fd);
}

/* A request's record stops: logged (at most so often), serving goes on. */
static void fail(struct record *r, struct record_slot *s, const char *what, int error)
{
	for (int i = 0; i < 2; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
	s->failed = true;
	if (log_allowed(r->log, SS_LOG_ERROR, LOG_RECORD))
		log_event(r->log, SS_LOG_ERROR, "record_failed",
		          LOG_FIELDS(FSTR("dir", r->dir), FSTR("file", s->name), FSTR("error", strerror(error))),
		          "--record: cannot %s %s/%s: %s (serving goes on, unrecorded)", what, r->dir, s->name,
		          strerror(error));
}

static int create(struct record *r, const char *name, const char *suffix)
{
	char file[sizeof(((struct record_slot *)0)->name) + 8];

	snprintf(file, sizeof(file), "%s.%s", name, suffix);
	return openat(r->dir_fd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
}

/* The peer in a name: its address and port, or "unix" (with its pid). */
static void peer_name(const struct request *req, char *buf, size_t size)
{
	char ip[ADDR_TEXT_MAX];
	unsigned port;
	const struct sockaddr *sa = (const struct sockaddr *)&req->peer;

	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		addr_ip_port(sa, ip, sizeof(ip), &port);
		snprintf(buf, size, "%.64s-%u", ip, port);
	} else if (req->peer_pid > 0)
		snprintf(buf, size, "unix-%ld", req->peer_pid);
	else
		snprintf(buf, size, "unix");
	/* only what a file name may safely hold */
	for (char *c = buf; *c != '\0'; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '.' ||
		      *c == ':' || *c == '-'))
			*c = '_';
}

static void record_start(void *ctx, void *slot, struct view *v, struct request *req)
{
	struct record *r = ctx;
	struct record_slot *s = slot;
	char when[40], peer[80];

	(void)v;
	*s = (struct record_slot){ .active = true, .fd = { -1, -1 }, .start_real_us = real_now_us() };
	log_time(when, sizeof(when), s->start_real_us, true);
	peer_name(req, peer, sizeof(peer));
	for (unsigned k = 1; k < 1000; k++) {
		if (k == 1)
			snprintf(s->name, sizeof(s->name), "%.39s-%.79s", when, peer);
		else
			snprintf(s->name, sizeof(s->name), "%.39s-%.79s_%03u", when, peer, k);
		if ((s->fd[0] = create(r, s->name, "in")) >= 0)
			break;
		if (errno != EEXIST) {
			fail(r, s, "create", errno);
			return;
		}
	}
	if (s->fd[0] < 0) {
		fail(r, s, "create", EEXIST);
		return;
	}
	if ((s->fd[1] = create(r, s->name, "out")) < 0)
		fail(r, s, "create", errno);
}

static void put(struct record *r, struct record_slot *s, int dir, const void *data, size_t len)
{
	int i = dir == FROM_CLIENT ? 0 : 1;
	size_t off = 0;

	if (!s->active || s->failed)
		return;
	while (off < len) {
		ssize_t n = write(s->fd[i], (const char *)data + off, len - off);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			fail(r, s, "write", n < 0 ? errno : ENOSPC);
			return;
		}
	}
	s->bytes[i] += len;
}

static void record_seen(void *ctx, void *slot, struct request *req, int dir, const void *data, size_t len)
{
	(void)req;
	put(ctx, slot, dir, data, len);
}

static void record_reply(void *ctx, void *slot, struct view *v, struct request *req, const void *data, size_t len,
                         struct reply_plan *plan)
{
	struct record_slot *s = slot;

	(void)v;
	(void)req;
	s->replies = plan->copies;
	if (plan->copies > 0)
		put(ctx, s, TO_CLIENT, data, len);
}

static void record_end(void *ctx, void *slot, struct view *v, struct request *req)
{
	struct record *r = ctx;
	struct record_slot *s = slot;
	char start[40], end[40], remote[4 * ADDR_TEXT_MAX + 8], exit[64] = "null", json[600];

	if (!s->active)
		return;
	s->active = false;
	for (int i = 0; i < 2; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
	if (s->failed)
		return;
	log_time(start, sizeof(start), s->start_real_us, false);
	log_time(end, sizeof(end), real_now_us(), false);
	log_json_string(remote, sizeof(remote), req->remote);
	if (req->exited && WIFEXITED(req->wstatus))
		snprintf(exit, sizeof(exit), "{\"status\":%d}", WEXITSTATUS(req->wstatus));
	else if (req->exited && WIFSIGNALED(req->wstatus))
		snprintf(exit, sizeof(exit), "{\"signal\":%d}", WTERMSIG(req->wstatus));
	char replies[32] = ""; /* datagrams: how many times the reply went out */
	if (!v->handler->connections)
		snprintf(replies, sizeof(replies), ",\"replies\":%u", s->replies);
	int n = snprintf(json, sizeof(json),
	                 "{\"remote\":%s,\"start\":\"%s\",\"end\":\"%s\",\"exit\":%s,\"timed_out\":%s,"
	                 "\"bytes_in\":%llu,\"bytes_out\":%llu%s,\"in\":\"%s.in\",\"out\":\"%s.out\"}\n",
	                 remote, start, end, exit, req->timed_out ? "true" : "false",
	                 (unsigned long long)s->bytes[0], (unsigned long long)s->bytes[1], replies, s->name, s->name);
	int fd = create(r, s->name, "json");
	if (fd < 0 || n < 0 || (size_t)n >= sizeof(json) || write(fd, json, (size_t)n) != n)
		fail(r, s, "write", fd < 0 ? errno : ENOSPC);
	if (fd >= 0)
		close(fd);
}

const struct filter_kind filter_record = {
	.name = "record",
	.wanted = record_wanted,
	.ctx_size = sizeof(struct record),
	.slot_size = sizeof(struct record_slot),
	.open = record_open,
	.announce = record_announce,
	.close = record_close,
	.start = record_start,
	.seen = record_seen,
	.reply = record_reply,
	.end = record_end,
};
