/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The server: checks the config, builds the three axes, binds, and runs the
 * event loop.  Each loop turn first acts on every deadline that is due and
 * learns the next one (one place: server_deadlines), then decides whether the
 * listener is in the poll set (one place: update_listener), then waits.
 * Requests (request.c) and the accept path (accept.c) never call back up
 * here: what they change is read at the next turn.
 */
#include "server.h"
#include "accept.h"
#include "config.h"
#include "filter.h"
#include "ws.h"
#include "handed.h"
#include "workers.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

/* Handlers get fds 0-2 by dup2; keeping them open in sockserve means no
 * socket or pipe of ours can ever land there. */
static int hold_standard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int null = open("/dev/null", O_RDWR);
		if (null < 0)
			return -1;
		if (null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
	return 0;
}

/* The axes and their server-wide state. */
static int build_axes(struct ss_server *srv, struct ss_error *err)
{
	srv->view.transport = transport_for(srv->sock.addr.family);
	srv->view.handler = handler_for(srv->cfg.socktype, srv->cfg.wait, srv->cfg.tls || srv->cfg.tls_cert != NULL,
	                                 filters_on_stream(&srv->cfg));
	srv->view.mode = mode_for(srv->cfg.mode);
	srv->sock.proto = srv->view.transport->proto != NULL ? srv->view.transport->proto : srv->view.handler->var_prefix;
	srv->view.transport_ctx = calloc(1, srv->view.transport->ctx_size);
	srv->view.handler_ctx = calloc(1, srv->view.handler->ctx_size ? srv->view.handler->ctx_size : 1);
	if (srv->view.transport_ctx == NULL || srv->view.handler_ctx == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return -1;
	}
	return 0;
}

struct ss_server *ss_server_new(const struct ss_config *cfg, struct ss_error *err)
{
	struct ss_server *srv;
	struct ss_config resolved;

	err->kind = SS_ERR_NONE;
	err->msg[0] = '\0';
	if (config_check(cfg, &resolved, err) < 0)
		return NULL;
	cfg = &resolved;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return NULL;
	}
	srv->cfg = *cfg;
	srv->view = (struct view){
		.cfg = &srv->cfg, .log = &srv->log, .loop = &srv->loop, .plan = &srv->plan, .env = &srv->env,
		.counts = &srv->counts, .sock = &srv->sock, .requests = &srv->requests,
		.openings = &srv->openings, .admission = &srv->admission,
	};
	srv->sock.fd = -1;
	srv->loop.epoll_fd = srv->loop.signal_fd = -1;
	srv->notify.fd = -1;
	log_init(&srv->log, cfg->verbosity, cfg->log_format);
	if (handed_form(cfg->address)) {
		srv->sock.handed = true;
		srv->sock.addr.family = cfg->family;
	} else if (addr_parse(cfg->address, cfg->family, cfg->socktype, &srv->sock.addr, err) < 0) {
		goto fail;
	}
	if (build_axes(srv, err) < 0)
		goto fail;
	if (hold_standard_fds() < 0) {
		ss_error_set(err, SS_ERR_START, "cannot open /dev/null: %s", strerror(errno));
		goto fail;
	}
	if (acl_init(&srv->admission.acl, cfg->allow, cfg->deny, cfg->proxy_from, err) < 0 ||
	    rules_init(&srv->admission.rules, cfg->rules, &srv->log, err) < 0 ||
	    identity_resolve(cfg->user, cfg->group, &srv->identity, err) < 0 ||
	    spawn_plan_init(&srv->plan, cfg, err) < 0 || requests_init(&srv->view, err) < 0 ||
	    env_template_init(&srv->env, cfg->no_env, (cfg->ws ? WS_ENV_VARS : 0) + (cfg->rules ? RULE_VARS_MAX : 0), err) < 0)
		goto fail;
	/* Before privileges are dropped: a TLS key may be root's alone. */
	if (srv->view.handler->open != NULL && srv->view.handler->open(&srv->view, err) < 0)
		goto fail;
	if (filters_open(&srv->view, err) < 0)
		goto fail;
	if (openings_init(&srv->view, (unsigned)cfg->max_openings, cfg->opening_timeout_ms * 1000, err) < 0)
		goto fail;
	/* admitted clients are counted from admission, which openings pass
	 * before they hold a request slot */
	if ((cfg->max_per_ip != SS_UNSET &&
	     ip_counts_init(&srv->admission.per_ip, requests_limit(&srv->view) + openings_capacity(&srv->view)) < 0) ||
	    (cfg->rate_count != SS_UNSET && rate_init(&srv->admission.rate, cfg->rate_count, cfg->rate_ms) < 0)) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		goto fail;
	}
	return srv;
fail:
	ss_server_free(srv);
	return NULL;
}

static void on_signal(void *ctx, struct watch *w, uint32_t events);

/* The loop hands every callback the view (the layers below watch through
 * it too); these are the server's own. */
static struct ss_server *server_of(void *view)
{
	return (struct ss_server *)((char *)view - offsetof(struct ss_server, view));
}

static int open_loop(struct ss_server *srv, struct ss_error *err)
{
	struct sigaction hup;
	int signals[6] = { SIGTERM, SIGINT, SIGUSR1 }, n = 3;

	/* SIGHUP is a stop like SIGTERM (closing a terminal must not leave the
	 * socket path or the pid file behind), unless it is ignored (nohup):
	 * Linux would queue it once blocked. */
	if (sigaction(SIGHUP, NULL, &hup) < 0 || hup.sa_handler != SIG_IGN)
		signals[n++] = SIGHUP;
	/* SIGCHLD only where the loop reaps; thread mode's workers wait for
	 * their own children. */
	if (srv->view.mode->children != NULL)
		signals[n++] = SIGCHLD;
	signals[n] = 0;
	/* A client that goes away must cost an EPIPE, never sockserve itself. */
	signal(SIGPIPE, SIG_IGN);
	/* An ignored SIGCHLD (inherited through exec) would make the kernel reap
	 * the handlers before anyone could wait for them. */
	signal(SIGCHLD, SIG_DFL);
	if (loop_open(&srv->loop, signals, on_signal, &srv->view) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	/* the rules file is watched from each loop (each worker's) */
	return rules_watch(&srv->admission.rules, &srv->loop, err);
}

/* bind(2); with --socket-mode the umask makes the unix socket's permissions
 * exact from the moment it exists: there is no window in which another
 * mode is in force (sockserve has no other thread yet). */
static int bind_socket(struct ss_server *srv)
{
	bool set_mode = srv->cfg.socket_mode != SS_UNSET;
	mode_t old = set_mode ? umask((mode_t)(~srv->cfg.socket_mode & 0777)) : 0;
	int rc = bind(srv->sock.fd, (struct sockaddr *)&srv->sock.addr.ss, srv->sock.addr.len);
	int e = errno;

	if (set_mode)
		umask(old);
	errno = e;
	return rc;
}

/* A bound socket, made here or handed in: the handler's options,
 * listen(2) if it takes connections and is not listening yet, its address. */
static int socket_ready(struct ss_server *srv, bool listening, struct ss_error *err)
{
	const struct ss_config *cfg = &srv->cfg;

	if (srv->view.handler->configure != NULL && srv->view.handler->configure(&srv->view, srv->sock.fd) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot set socket options for %s: %s", cfg->address, strerror(errno));
		return -1;
	}
	if (srv->view.handler->connections && !listening && listen(srv->sock.fd, (int)cfg->backlog) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot listen on %s: %s", cfg->address, strerror(errno));
		return -1;
	}
	srv->view.transport->bound(&srv->view);
	addr_format((struct sockaddr *)&srv->sock.addr.ss, srv->sock.addr.len, srv->sock.addr_text, sizeof(srv->sock.addr_text));
	return 0;
}

/* Take the socket handed in: out of fds 0-2 (fd:0 is inetd's form), not
 * inherited by handlers, in the blocking mode the handler wants. */
static int adopt_socket(struct ss_server *srv, struct ss_error *err)
{
	const struct ss_config *cfg = &srv->cfg;
	struct handed h;

	if (handed_find(cfg->address, &h, err) < 0)
		return -1;
	srv->sock.fd = fcntl(h.fd, F_DUPFD_CLOEXEC, 3);
	if (srv->sock.fd < 0) {
		ss_error_set(err, SS_ERR_START, "%s: cannot take descriptor %d: %s", cfg->address, h.fd, strerror(errno));
		return -1;
	}
	/* Nothing of the socket's is left where handlers or systemd would
	 * look; fds 0-2 get /dev/null again. */
	close(h.fd);
	if (hold_standard_fds() < 0 || set_nonblocking(srv->sock.fd, !srv->view.handler->hands_over) < 0) {
		ss_error_set(err, SS_ERR_START, "%s: cannot take descriptor %d: %s", cfg->address, h.fd, strerror(errno));
		return -1;
	}
	srv->sock.addr.len = sizeof(srv->sock.addr.ss);
	if (getsockname(srv->sock.fd, (struct sockaddr *)&srv->sock.addr.ss, &srv->sock.addr.len) < 0) {
		ss_error_set(err, SS_ERR_START, "%s: cannot read the socket's address: %s", cfg->address, strerror(errno));
		return -1;
	}
	return socket_ready(srv, h.listening, err);
}

/* What to do about a bind(2) that failed, for the common cases. */
static const char *bind_hint(const struct ss_server *srv, int error)
{
	bool inet = srv->sock.addr.family == AF_INET || srv->sock.addr.family == AF_INET6;

	if (error == EACCES && inet)
		return " (a port below 1024 needs root or CAP_NET_BIND_SERVICE; as root, add -u USER to serve as "
		       "another user once bound)";
	if (error == EADDRINUSE && inet)
		return srv->cfg.socktype == SOCK_DGRAM ? " (another socket holds it: 'ss -lunp' shows which process)"
		                                       : " (another socket holds it: 'ss -ltnp' shows which process)";
	return "";
}

static int open_socket(struct ss_server *srv, struct ss_error *err)
{
	const struct ss_config *cfg = &srv->cfg;
	int nonblock = srv->view.handler->hands_over ? 0 : SOCK_NONBLOCK;

	if (srv->sock.handed)
		return adopt_socket(srv, err);
	if (srv->view.transport->prepare(&srv->view, err) < 0)
		return -1;
	srv->sock.fd = socket(srv->sock.addr.family, cfg->socktype | SOCK_CLOEXEC | nonblock, 0);
	if (srv->sock.fd < 0) {
		ss_error_set(err, SS_ERR_START, "cannot create a socket for %s: %s", cfg->address, strerror(errno));
		return -1;
	}
	if (srv->view.transport->configure(&srv->view, srv->sock.fd, err) < 0)
		return -1;
	if (bind_socket(srv) < 0) {
		int e = errno;
		ss_error_set(err, SS_ERR_START, "cannot listen on %s: %s%s", cfg->address, strerror(e),
		             bind_hint(srv, e));
		return -1;
	}
	return socket_ready(srv, false, err);
}

int ss_server_listen(struct ss_server *srv, struct ss_error *err)
{
	const struct ss_config *cfg = &srv->cfg;

	/* Signals are routed to the loop before anything exists that a signal
	 * could leave behind (pid file, socket path) and before readiness is
	 * announced: a SIGTERM from then on waits for the loop and drains. */
	if (open_loop(srv, err) < 0)
		return -1;
	/* Locked at once, so that a second instance fails before it binds;
	 * written once listening; not inherited (handlers get fds 0-2 only). */
	if (cfg->pidfile != NULL && pid_file_open(&srv->pidfile, cfg->pidfile, err) < 0)
		return -1;
	if (open_socket(srv, err) < 0)
		return -1;
	if (pid_file_write(&srv->pidfile, err) < 0)
		return -1;
	if (identity_drop(&srv->identity, err) < 0)
		return -1;
	long long workers = cfg->workers > 1 ? cfg->workers : 1;
	char several[32] = "";
	if (workers > 1)
		snprintf(several, sizeof(several), ", %lld workers", workers);
	if (notify_open(&srv->notify))
		notify_send(&srv->notify, "READY=1\nSTATUS=listening on %s\nMAINPID=%d", srv->sock.addr_text, (int)getpid());
	log_event(&srv->log, SS_LOG_INFO, "listening",
	          LOG_FIELDS(FSTR("address", srv->sock.addr_text), FSTR("type", addr_type_name(cfg->socktype)),
	                     FSTR("mode", srv->view.mode->name), FINT("max_children", requests_limit(&srv->view)),
	                     FINT("workers", workers)),
	          "listening on %s (%s, %s mode, up to %u at once%s)", srv->sock.addr_text,
	          addr_type_name(cfg->socktype), srv->view.mode->name, requests_limit(&srv->view), several);
	if (srv->view.handler->announce != NULL)
		srv->view.handler->announce(&srv->view);
	filters_announce(&srv->view);
	return 0;
}

const char *ss_server_address(const struct ss_server *srv)
{
	return srv->sock.addr_text;
}

/* ---- the listener ---- */

/* Whether the listener is in the poll set: decided here, once per turn. */
static void update_listener(struct ss_server *srv)
{
	bool want = srv->sock.fd >= 0 && !srv->view.draining && accept_room(&srv->view) &&
	            srv->sock.paused_until == 0 && !requests_waiting(&srv->view) &&
	            (srv->view.handler->paused == NULL || srv->view.handler->paused(&srv->view, now_us()) == 0);
	/* --workers: a connection wakes one of them, not all. */
	uint32_t in = srv->worker > 0 ? EPOLLIN | EPOLLEXCLUSIVE : EPOLLIN;

	if (loop_set(&srv->loop, &srv->sock.watch, want ? in : 0) < 0)
		log_msg(&srv->log, SS_LOG_ERROR, "error", "cannot watch the listening socket: %s", strerror(errno));
}

static void close_listener(struct ss_server *srv)
{
	loop_drop(&srv->loop, &srv->sock.watch, &srv->sock.fd);
}

static void start_drain(struct ss_server *srv, bool with_grace);

static void on_listener(void *ctx, struct watch *w, uint32_t events)
{
	struct ss_server *srv = server_of(ctx);

	(void)w;
	(void)events;
	accept_requests(&srv->view);
}

/* ---- shutdown and signals ---- */

/* Stop taking requests.  With grace, running handlers have --grace seconds;
 * without (after --max-requests or --idle-timeout), as long as they need. */
static void start_drain(struct ss_server *srv, bool with_grace)
{
	if (srv->view.draining) {
		/* --max-requests was waiting for its handlers; now a signal came. */
		if (with_grace && srv->grace_deadline == INT64_MAX)
			srv->grace_deadline = now_us() + srv->cfg.grace_ms * 1000;
		return;
	}
	srv->view.draining = true;
	/* Connections not yet opened are dropped like those in the backlog. */
	openings_close(&srv->view);
	notify_send(&srv->notify, "STOPPING=1\nSTATUS=shutting down: %u in progress", requests_active(&srv->view));
	/* A datagram server keeps its socket: replies still go out from it. */
	if (srv->view.handler->connections && srv->sock.fd >= 0)
		close_listener(srv);
	/* (--workers: the socket's path is the supervisor's to remove.) */
	if (srv->worker == 0)
		srv->view.transport->cleanup(&srv->view);
	if (!with_grace) {
		srv->grace_deadline = INT64_MAX;
		return;
	}
	srv->grace_deadline = now_us() + srv->cfg.grace_ms * 1000;
	log_msg(&srv->log, SS_LOG_INFO, "shutdown", "shutting down: %u in progress, waiting up to %.1f s",
	        requests_active(&srv->view), (double)srv->cfg.grace_ms / 1000.0);
}

static void stop_now(struct ss_server *srv, const char *why)
{
	if (srv->killed)
		return;
	srv->killed = true;
	if (requests_active(&srv->view) > 0)
		log_msg(&srv->log, SS_LOG_INFO, "kill", "%s: killing %u handlers", why, requests_active(&srv->view));
	requests_signal(&srv->view, SIGKILL);
	requests_drop_deferred(&srv->view);
	/* what relays still deliver for handlers that have ended is dropped */
	requests_cut(&srv->view);
}

/* The counts, as SIGUSR1's line and systemd's STATUS= give them. */
static void status_text(const struct ss_server *srv, char *buf, size_t size)
{
	snprintf(buf, size, "%u in progress, %llu handled, %llu failed, %llu rejected, %llu timed out, %llu dropped",
	         requests_active(&srv->view), (unsigned long long)srv->counts.n[COUNT_HANDLED], (unsigned long long)srv->counts.n[COUNT_FAILED],
	         (unsigned long long)srv->counts.n[COUNT_REJECTED], (unsigned long long)srv->counts.n[COUNT_TIMED_OUT],
	         (unsigned long long)srv->counts.n[COUNT_DROPPED]);
}

static void print_status(struct ss_server *srv)
{
	char text[NOTIFY_STATUS_MAX];

	status_text(srv, text, sizeof(text));
	log_event(&srv->log, SS_LOG_ALWAYS, "status",
	          LOG_FIELDS(FINT("in_progress", requests_active(&srv->view)), FINT("handled", (long long)srv->counts.n[COUNT_HANDLED]),
	                     FINT("failed", (long long)srv->counts.n[COUNT_FAILED]), FINT("rejected", (long long)srv->counts.n[COUNT_REJECTED]),
	                     FINT("timed_out", (long long)srv->counts.n[COUNT_TIMED_OUT]), FINT("dropped", (long long)srv->counts.n[COUNT_DROPPED])),
	          "status: %s", text);
}

static void on_signal(void *ctx, struct watch *w, uint32_t events)
{
	struct ss_server *srv = server_of(ctx);
	struct signalfd_siginfo si;
	bool children = false;

	(void)events;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			children = true;
			break;
		case SIGTERM:
		case SIGINT:
		case SIGHUP:
			if (!srv->view.draining || srv->grace_deadline == INT64_MAX)
				start_drain(srv, true);
			else
				stop_now(srv, "second signal");
			break;
		case SIGUSR1:
			print_status(srv);
			break;
		}
	}
	if (children && srv->view.mode->children != NULL)
		srv->view.mode->children(&srv->view);
}

/* ---- deadlines ---- */

/* STATUS= for systemd when the counts change, at most once a second. */
static int64_t send_status(struct ss_server *srv, int64_t now)
{
	char text[NOTIFY_STATUS_MAX];

	if (srv->notify.fd < 0 || srv->view.draining)
		return INT64_MAX;
	status_text(srv, text, sizeof(text));
	return notify_status(&srv->notify, text, now);
}

/* Act on every deadline that is due at now; return the nearest one left
 * (INT64_MAX: none): --timeout's, the log's (suppressed and lost lines to
 * report), spawning again after EAGAIN, systemd's STATUS=, connections that
 * did not open in time, --max-requests reached, the end of
 * --grace, the descriptor back-off, the handler's pause (--wait),
 * --idle-timeout. */
static int64_t server_deadlines(struct ss_server *srv, int64_t now)
{
	int64_t next = requests_deadlines(&srv->view, now), log_next = log_flush(&srv->log, now);
	int64_t retry = requests_retry(&srv->view, now), status = send_status(srv, now);
	int64_t opening = openings_deadlines(&srv->view, now), watchdog = notify_watchdog(&srv->notify, now);

	if (log_next < next)
		next = log_next;
	if (retry < next)
		next = retry;
	if (status < next)
		next = status;
	if (opening < next)
		next = opening;
	if (watchdog < next)
		next = watchdog;
	/* Counted when a request is taken: on the accept path, or when a
	 * connection has opened. */
	if (!srv->view.draining && requests_max_reached(&srv->view)) {
		log_msg(&srv->log, SS_LOG_INFO, "max_requests", "took %llu requests: no more",
		        (unsigned long long)requests_received(&srv->view));
		start_drain(srv, false);
	}

	if (srv->view.draining && !srv->killed) {
		if (now >= srv->grace_deadline)
			stop_now(srv, "grace period over");
		else if (srv->grace_deadline < next)
			next = srv->grace_deadline;
	}
	int64_t paused = srv->view.handler->paused != NULL ? srv->view.handler->paused(&srv->view, now) : 0;
	if (paused != 0 && paused < next)
		next = paused;
	if (srv->sock.paused_until != 0) {
		if (now >= srv->sock.paused_until || srv->view.draining)
			srv->sock.paused_until = 0;
		else if (srv->sock.paused_until < next)
			next = srv->sock.paused_until;
	}
	if (srv->cfg.idle_timeout_ms != SS_NO_TIME && !srv->view.draining && requests_active(&srv->view) == 0) {
		int64_t idle = requests_idle_since(&srv->view) + srv->cfg.idle_timeout_ms * 1000;
		if (now >= idle) {
			log_msg(&srv->log, SS_LOG_INFO, "idle", "no request for %.3g s: exiting",
			        (double)srv->cfg.idle_timeout_ms / 1000.0);
			start_drain(srv, false);
		} else if (idle < next) {
			next = idle;
		}
	}
	return next;
}

/* Milliseconds from now to next, for epoll_wait: -1 for none. */
static int wait_ms(int64_t next, int64_t now)
{
	if (next == INT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	int64_t ms = (next - now + 999) / 1000;
	return ms > 1000000 ? 1000000 : (int)ms;
}

int ss_server_run(struct ss_server *srv, struct ss_error *err)
{
	if (srv->cfg.workers > 1 && srv->worker == 0) {
		int rc = workers_run(srv, err);
		if (rc <= 0)
			return rc; /* the supervisor, at its end */
		if (open_loop(srv, err) < 0)
			return -1;
	}
	if (srv->view.mode->open != NULL && srv->view.mode->open(&srv->view, err) < 0)
		return -1;
	srv->sock.watch = (struct watch){ .fd = srv->sock.fd, .fn = on_listener };
	requests_touch(&srv->view);
	for (;;) {
		int64_t now = now_us(), next = server_deadlines(srv, now);
		if (srv->view.draining && requests_active(&srv->view) == 0 && !requests_waiting(&srv->view))
			return 0;
		accept_parked(&srv->view);
		update_listener(srv);
		if (loop_once(&srv->loop, wait_ms(next, now)) < 0) {
			ss_error_set(err, SS_ERR_RUN, "event loop failed: %s", strerror(errno));
			return -1;
		}
	}
}

void ss_server_free(struct ss_server *srv)
{
	if (srv == NULL)
		return;
	/* The socket's path is the supervisor's to remove, not a worker's. */
	if (srv->view.transport != NULL && srv->worker == 0)
		srv->view.transport->cleanup(&srv->view);
	if (srv->view.mode != NULL && srv->view.mode->close != NULL)
		srv->view.mode->close(&srv->view);
	requests_free(&srv->view);
	/* before the socket closes: datagram replies still delayed go now */
	filters_close(&srv->view);
	if (srv->sock.fd >= 0)
		close(srv->sock.fd);
	loop_close(&srv->loop);
	openings_free(&srv->view);
	env_template_free(&srv->env);
	ip_counts_free(&srv->admission.per_ip);
	rate_free(&srv->admission.rate);
	acl_free(&srv->admission.acl);
	rules_free(&srv->admission.rules);
	identity_free(&srv->identity);
	if (srv->view.handler != NULL && srv->view.handler->close != NULL && srv->view.handler_ctx != NULL)
		srv->view.handler->close(&srv->view);
	bool replaced;
	if (pid_file_remove(&srv->pidfile, &replaced) < 0)
		log_msg(&srv->log, SS_LOG_ERROR, "cleanup", "cannot remove the pid file %s: %s", srv->cfg.pidfile,
		        strerror(errno));
	else if (replaced)
		log_msg(&srv->log, SS_LOG_ERROR, "cleanup", "the pid file %s is no longer the file sockserve wrote: "
		        "left alone", srv->cfg.pidfile);
	spawn_plan_free(&srv->plan);
	free(srv->view.transport_ctx);
	free(srv->view.handler_ctx);
	notify_close(&srv->notify);
	log_close(&srv->log);
	free(srv);
}

void ss_report(const struct ss_config *cfg, const struct ss_error *err)
{
	struct logger log;

	log_init(&log, SS_LOG_ERROR, cfg->log_format);
	log_msg(&log, SS_LOG_ERROR, err->kind == SS_ERR_USAGE ? "usage_error" : "startup_error", "%s", err->msg);
	log_close(&log);
}
