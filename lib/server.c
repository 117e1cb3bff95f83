/*
 * The server: builds the three axes from the config, binds, and runs the event
 * loop.  Requests live in a fixed table of slots sized from the concurrency
 * limit, so the steady state does not allocate; when every slot is busy the
 * listener leaves the poll set and new clients wait in the backlog.
 */
#include "internal.h"

#include <bsd/string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long accepting pauses when the descriptor table is full. */
#define ACCEPT_BACKOFF_US 100000
/* The exhaustion message is not repeated sooner than this. */
#define STARVED_LOG_US 10000000
/* Most connections taken in one wake-up, so signals are never starved. */
#define ACCEPT_BATCH 64
/* After --timeout's SIGTERM, how long a handler has before SIGKILL. */
#define KILL_AFTER_US 1000000

void ss_error_set(struct ss_error *err, enum ss_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	err->kind = kind;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void ss_config_init(struct ss_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->family = AF_UNSPEC;
	cfg->socktype = SOCK_STREAM;
	cfg->mode = SS_MODE_FORK;
	cfg->max_children = 40;
	cfg->backlog = SOMAXCONN;
	cfg->timeout_ms = SS_NO_TIME;
	cfg->idle_timeout_ms = SS_NO_TIME;
	cfg->grace_ms = 10000;
	cfg->max_packet = 8192;
	cfg->reuse_addr = true;
	cfg->socket_mode = -1;
	cfg->verbosity = SS_LOG_ERROR;
	cfg->log_format = SS_LOG_TEXT;
}

static const char *type_name(int socktype)
{
	switch (socktype) {
	case SOCK_STREAM: return "stream";
	case SOCK_DGRAM: return "dgram";
	case SOCK_SEQPACKET: return "seqpacket";
	default: return "?";
	}
}

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

static int build_slots(struct ss_server *srv, struct ss_error *err)
{
	srv->limit = srv->mode->limit(&srv->cfg);
	/* Zeroed and left untouched: a slot is set up the first time a request
	 * needs it (free_slot), so only the slots in use cost memory. */
	srv->slots = calloc(srv->limit, sizeof(struct request));
	if (srv->slots == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory for %u request slots", srv->limit);
		return -1;
	}
	srv->slots_used = 0;
	srv->free_list = NULL;
	srv->active.next = srv->active.prev = &srv->active;
	return 0;
}

static int check_config(const struct ss_config *cfg, struct ss_error *err)
{
	if (cfg->argv == NULL || cfg->argv[0] == NULL) {
		ss_error_set(err, SS_ERR_USAGE, "missing COMMAND");
		return -1;
	}
	if (cfg->max_children == 0) {
		ss_error_set(err, SS_ERR_USAGE, "--max-children must be at least 1");
		return -1;
	}
	if (cfg->max_packet < 1 || cfg->max_packet > 65535) {
		ss_error_set(err, SS_ERR_USAGE, "--max-packet must be 1 to 65535");
		return -1;
	}
	if (handler_for(cfg->socktype) == NULL) {
		ss_error_set(err, SS_ERR_USAGE, "--type=%s is not supported", type_name(cfg->socktype));
		return -1;
	}
	if (mode_for(cfg->mode) == NULL) {
		ss_error_set(err, SS_ERR_USAGE, "this --mode is not supported");
		return -1;
	}
	return 0;
}

struct ss_server *ss_server_new(const struct ss_config *cfg, struct ss_error *err)
{
	struct ss_server *srv;

	err->kind = SS_ERR_NONE;
	err->msg[0] = '\0';
	if (check_config(cfg, err) < 0)
		return NULL;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return NULL;
	}
	srv->cfg = *cfg;
	srv->listen_fd = -1;
	srv->null_fd = -1;
	srv->loop.epoll_fd = srv->loop.signal_fd = -1;
	if (addr_parse(cfg->address, cfg->family, cfg->socktype, &srv->addr, err) < 0)
		goto fail;
	srv->transport = transport_for(srv->addr.family);
	srv->handler = handler_for(cfg->socktype);
	srv->mode = mode_for(cfg->mode);
	srv->var_prefix = cfg->socktype == SOCK_DGRAM ? "UDP" : "TCP";
	srv->proto = srv->addr.family == AF_UNIX ? "UNIX" : srv->var_prefix;
	if (hold_standard_fds() < 0) {
		ss_error_set(err, SS_ERR_START, "cannot open /dev/null: %s", strerror(errno));
		goto fail;
	}
	srv->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (srv->null_fd < 0) {
		ss_error_set(err, SS_ERR_START, "cannot open /dev/null: %s", strerror(errno));
		goto fail;
	}
	if (srv->addr.family == AF_UNIX && (cfg->max_per_ip != 0 || cfg->allow != NULL || cfg->deny != NULL)) {
		ss_error_set(err, SS_ERR_USAGE, "%s needs an inet or inet6 address, not %s",
		             cfg->max_per_ip != 0 ? "--max-per-ip" : cfg->allow != NULL ? "--allow" : "--deny",
		             cfg->address);
		goto fail;
	}
	if (cfg->socket_mode >= 0 && (srv->addr.family != AF_UNIX || cfg->address[0] == '@')) {
		ss_error_set(err, SS_ERR_USAGE, "--socket-mode needs a unix socket path, not %s", cfg->address);
		goto fail;
	}
	if (acl_init(&srv->acl, cfg, err) < 0 || identity_resolve(cfg, &srv->identity, err) < 0)
		goto fail;
	if (spawn_plan_init(&srv->plan, cfg, err) < 0 || build_slots(srv, err) < 0 ||
	    env_init(srv, err) < 0)
		goto fail;
	if (cfg->max_per_ip != 0 && ip_counts_init(&srv->per_ip, srv->limit) < 0) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		goto fail;
	}
	return srv;
fail:
	ss_server_free(srv);
	return NULL;
}

static void print_address(struct ss_server *srv)
{
	printf("%s\n", srv->addr_text);
	fflush(stdout);
	/* The reader of our stdout now sees end of file: a readiness signal. */
	dup2(srv->null_fd, STDOUT_FILENO);
}

/* Locked at once, so that a second instance fails before it binds; written
 * once listening; not inherited (handlers get fds 0-2 only). */
static int open_pidfile(struct ss_server *srv, struct ss_error *err)
{
	pid_t other = 0;

	srv->pidfile = pidfile_open(srv->cfg.pidfile, 0644, &other);
	if (srv->pidfile != NULL)
		return 0;
	if (errno == EEXIST)
		ss_error_set(err, SS_ERR_START, "already running as pid %d (pid file %s)", (int)other,
		             srv->cfg.pidfile);
	else
		ss_error_set(err, SS_ERR_START, "cannot open the pid file %s: %s", srv->cfg.pidfile, strerror(errno));
	return -1;
}

/* bind(2); with --socket-mode the umask makes the unix socket's permissions
 * exact from the moment it exists: there is no window in which another
 * mode is in force (sockserve has no other thread yet). */
static int bind_socket(struct ss_server *srv)
{
	bool set_mode = srv->cfg.socket_mode >= 0;
	mode_t old = set_mode ? umask((mode_t)(~srv->cfg.socket_mode & 0777)) : 0;
	int rc = bind(srv->listen_fd, (struct sockaddr *)&srv->addr.ss, srv->addr.len);
	int e = errno;

	if (set_mode)
		umask(old);
	errno = e;
	return rc;
}

static void on_signal(struct ss_server *srv, struct watch *w, uint32_t events);

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
	if (srv->mode->children != NULL)
		signals[n++] = SIGCHLD;
	signals[n] = 0;
	/* A client that goes away must cost an EPIPE, never sockserve itself. */
	signal(SIGPIPE, SIG_IGN);
	/* An ignored SIGCHLD (inherited through exec) would make the kernel reap
	 * the handlers before anyone could wait for them. */
	signal(SIGCHLD, SIG_DFL);
	if (loop_open(&srv->loop, signals, on_signal) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int ss_server_listen(struct ss_server *srv, struct ss_error *err)
{
	const struct ss_config *cfg = &srv->cfg;
	struct sockaddr_storage bound;
	socklen_t len = sizeof(bound);

	/* Signals are routed to the loop before anything exists that a signal
	 * could leave behind (pid file, socket path) and before readiness is
	 * announced: a SIGTERM from then on waits for the loop and drains. */
	if (open_loop(srv, err) < 0)
		return -1;
	if (cfg->pidfile != NULL && open_pidfile(srv, err) < 0)
		return -1;
	if (srv->transport->prepare(srv, err) < 0)
		return -1;
	srv->listen_fd = socket(srv->addr.family, cfg->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->listen_fd < 0) {
		ss_error_set(err, SS_ERR_START, "cannot create a socket for %s: %s", cfg->address, strerror(errno));
		return -1;
	}
	if (srv->transport->configure(srv, srv->listen_fd, err) < 0)
		return -1;
	if (srv->handler->configure(srv, srv->listen_fd) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot set socket options for %s: %s", cfg->address, strerror(errno));
		return -1;
	}
	if (bind_socket(srv) < 0 ||
	    (cfg->socktype != SOCK_DGRAM && listen(srv->listen_fd, cfg->backlog) < 0)) {
		ss_error_set(err, SS_ERR_START, "cannot listen on %s: %s", cfg->address, strerror(errno));
		return -1;
	}
	if (getsockname(srv->listen_fd, (struct sockaddr *)&bound, &len) == 0 &&
	    srv->addr.family != AF_UNIX) {
		memcpy(&srv->addr.ss, &bound, len);
		srv->addr.len = len;
	}
	addr_format((struct sockaddr *)&srv->addr.ss, srv->addr.len, srv->addr_text, sizeof(srv->addr_text));
	srv->transport->bound(srv);
	if (srv->pidfile != NULL && pidfile_write(srv->pidfile) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot write the pid file %s: %s", cfg->pidfile, strerror(errno));
		return -1;
	}
	if (identity_drop(&srv->identity, err) < 0)
		return -1;
	log_event(srv, SS_LOG_INFO, "listening",
	          LOG_FIELDS(FSTR("address", srv->addr_text), FSTR("type", type_name(cfg->socktype)),
	                     FSTR("mode", srv->mode->name), FINT("max_children", srv->limit)),
	          "listening on %s (%s, %s mode, up to %u at once)", srv->addr_text,
	          type_name(cfg->socktype), srv->mode->name, srv->limit);
	if (cfg->print_address)
		print_address(srv);
	return 0;
}

const char *ss_server_address(const struct ss_server *srv)
{
	return srv->addr_text;
}

/* ---- requests ---- */

static void update_listener(struct ss_server *srv);

static void slot_release(struct ss_server *srv, struct request *req)
{
	srv->handler->finish(srv, req);
	req->pid = 0;
	req->exited = false;
	req->timed_out = req->kill_sent = false;
	req->reaped = false;
	req->pending_signal = 0;
	if (req->ip_counted)
		ip_counts_remove(&srv->per_ip, &req->ip);
	req->ip_counted = false;
	req->next = srv->free_list;
	req->prev = NULL;
	srv->free_list = req;
	/* What the request held is free now: try again at once. */
	srv->accept_paused_until = 0;
	update_listener(srv);
}

void request_track(struct ss_server *srv, struct request *req)
{
	req->prev = srv->active.prev;
	req->next = &srv->active;
	srv->active.prev->next = req;
	srv->active.prev = req;
	srv->active_count++;
}

static void request_untrack(struct ss_server *srv, struct request *req)
{
	req->prev->next = req->next;
	req->next->prev = req->prev;
	req->prev = NULL;
	srv->active_count--;
}

void request_log_start(const struct ss_server *srv, const struct request *req)
{
	log_event(srv, SS_LOG_INFO, "start",
	          LOG_FIELDS(FSTR("remote", req->remote), FINT("pid", req->pid)),
	          "%s: start, handler pid %d", req->remote, (int)req->pid);
}

void request_started(struct ss_server *srv, struct request *req)
{
	request_track(srv, req);
	request_log_start(srv, req);
}

void request_end(struct ss_server *srv, struct request *req, int wstatus)
{
	double ms = (double)(now_us() - req->start_us) / 1000.0;

	req->exited = true;
	req->wstatus = wstatus;
	srv->last_activity_us = now_us();
	request_untrack(srv, req);
	if (WIFEXITED(wstatus)) {
		int status = WEXITSTATUS(wstatus);
		if (status == 0)
			srv->handled++;
		else
			srv->failed++;
		log_event(srv, status == 0 ? SS_LOG_INFO : SS_LOG_ERROR, "end",
		          LOG_FIELDS(FSTR("remote", req->remote), FINT("pid", req->pid),
		                     FINT("status", status), FMS("duration_ms", ms)),
		          "%s: end, handler pid %d exit %d after %.1f ms", req->remote, (int)req->pid,
		          status, ms);
	} else {
		int sig = WTERMSIG(wstatus);
		srv->failed++;
		log_event(srv, SS_LOG_ERROR, "end",
		          LOG_FIELDS(FSTR("remote", req->remote), FINT("pid", req->pid),
		                     FINT("signal", sig), FMS("duration_ms", ms)),
		          "%s: end, handler pid %d killed by signal %d (%s) after %.1f ms", req->remote,
		          (int)req->pid, sig, strsignal(sig), ms);
	}
	slot_release(srv, req);
}

void request_failed(struct ss_server *srv, struct request *req, int error)
{
	/* Thread mode tracks a request before its worker tries to run it. */
	if (req->prev != NULL)
		request_untrack(srv, req);
	srv->failed++;
	log_event(srv, SS_LOG_ERROR, "spawn_failed",
	          LOG_FIELDS(FSTR("remote", req->remote), FSTR("error", strerror(error))),
	          "%s: cannot run handler %s: %s", req->remote, srv->plan.path, strerror(error));
	slot_release(srv, req);
}

struct request *request_by_pid(struct ss_server *srv, pid_t pid)
{
	for (struct request *r = srv->active.next; r != &srv->active; r = r->next)
		if (r->pid == pid)
			return r;
	return NULL;
}

/* ---- the listener ---- */

static void update_listener(struct ss_server *srv)
{
	bool want = srv->listen_fd >= 0 && !srv->draining &&
	            (srv->free_list != NULL || srv->slots_used < srv->limit) &&
	            now_us() >= srv->accept_paused_until;

	if (loop_set(&srv->loop, &srv->listener, want ? EPOLLIN : 0) < 0)
		log_msg(srv, SS_LOG_ERROR, "error", "cannot watch the listening socket: %s", strerror(errno));
}

static void start_drain(struct ss_server *srv, bool with_grace);

static bool out_of_descriptors(int error)
{
	return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

static void log_rejected(struct ss_server *srv, struct request *req, const struct cidr *rule,
                         bool denied, unsigned in_progress)
{
	char from[ADDR_TEXT_MAX];

	srv->rejected++;
	if (srv->cfg.verbosity < SS_LOG_INFO)
		return;
	addr_format((struct sockaddr *)&req->peer, req->peer_len, from, sizeof(from));
	if (denied)
		log_event(srv, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "deny"), FSTR("rule", rule->text)),
		          "%s: rejected: matches --deny %s", from, rule->text);
	else if (rule != NULL)
		log_event(srv, SS_LOG_INFO, "rejected", LOG_FIELDS(FSTR("remote", from), FSTR("reason", "not_allowed")),
		          "%s: rejected: matches no --allow rule", from);
	else
		log_event(srv, SS_LOG_INFO, "rejected",
		          LOG_FIELDS(FSTR("remote", from), FSTR("reason", "max_per_ip"), FINT("in_progress", in_progress)),
		          "%s: rejected: %u requests in progress from this address (--max-per-ip %u)", from,
		          in_progress, srv->cfg.max_per_ip);
}

/* Whether a request that arrived may run: --deny, --allow, then --max-per-ip.
 * A refusal is logged at -v and counted. */
static bool admitted(struct ss_server *srv, struct request *req)
{
	const struct cidr *rule = NULL;
	bool denied = false;
	unsigned n;

	if ((!acl_active(&srv->acl) && srv->cfg.max_per_ip == 0) || !ip_key_of(&req->peer, &req->ip))
		return true;
	if (acl_active(&srv->acl))
		rule = acl_refuse(&srv->acl, &req->ip, &denied);
	if (rule != NULL) {
		log_rejected(srv, req, rule, denied, 0);
		return false;
	}
	if (srv->cfg.max_per_ip == 0)
		return true;
	n = ip_counts_get(&srv->per_ip, &req->ip);
	if (n >= srv->cfg.max_per_ip) {
		log_rejected(srv, req, NULL, false, n);
		return false;
	}
	ip_counts_add(&srv->per_ip, &req->ip);
	req->ip_counted = true;
	return true;
}

/* A free slot: one released by an earlier request, or else one never used
 * yet, set up now.  NULL when all are in use, or (errno ENOMEM) when a new
 * one cannot be set up. */
static struct request *free_slot(struct ss_server *srv)
{
	if (srv->free_list == NULL && srv->slots_used < srv->limit) {
		struct request *req = &srv->slots[srv->slots_used];
		req->fd = -1;
		req->in_fd = req->out_fd = -1;
		for (int k = 0; k < 4; k++)
			req->pipes[k] = -1;
		if (env_slot_init(srv, req) < 0) {
			errno = ENOMEM;
			return NULL;
		}
		srv->slots_used++;
		req->next = NULL;
		srv->free_list = req;
	}
	return srv->free_list;
}

static void on_listener(struct ss_server *srv, struct watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	for (int n = 0; n < ACCEPT_BATCH && !srv->draining; n++) {
		struct request *req = free_slot(srv);
		if (req == NULL && srv->slots_used == srv->limit)
			break; /* all in use */
		/* no slot otherwise means one could not be set up (ENOMEM) */
		int rc = req != NULL ? srv->handler->receive(srv, req) : -1;
		if (rc == 0)
			break;
		if (rc < 0) {
			if (out_of_descriptors(errno)) {
				/* Leave the poll set until a request ends or a while
				 * has passed, instead of spinning on a listener that
				 * stays readable; the clients wait in the backlog. */
				int64_t now = now_us();
				if (srv->starved_logged_us == 0 || now - srv->starved_logged_us >= STARVED_LOG_US) {
					log_msg(srv, SS_LOG_ERROR, "starved",
					        "cannot take a request: %s; pausing until a request ends "
					        "(retrying every %d ms, logged once in %d s)",
					        strerror(errno), ACCEPT_BACKOFF_US / 1000, STARVED_LOG_US / 1000000);
					srv->starved_logged_us = now;
				}
				srv->accept_paused_until = now + ACCEPT_BACKOFF_US;
				break;
			}
			/* A client that gave up before we accepted it. */
			continue;
		}
		if (!admitted(srv, req)) {
			srv->handler->finish(srv, req); /* closes a connection */
			continue;
		}
		srv->free_list = req->next;
		req->start_us = srv->last_activity_us = now_us();
		req->pid = 0;
		srv->received++;
		srv->transport->describe(srv, req);
		srv->mode->dispatch(srv, req);
		if (srv->cfg.max_requests != 0 && srv->received >= srv->cfg.max_requests) {
			log_msg(srv, SS_LOG_INFO, "max_requests", "took %llu requests: no more",
			        (unsigned long long)srv->received);
			start_drain(srv, false);
		}
	}
	update_listener(srv);
}

/* ---- shutdown and signals ---- */

static void kill_all(struct ss_server *srv, int sig)
{
	for (struct request *r = srv->active.next; r != &srv->active; r = r->next)
		srv->mode->signal(srv, r, sig);
}

/* Stop taking requests.  With grace, running handlers have --grace seconds;
 * without (after --max-requests or --idle-timeout), as long as they need. */
static void start_drain(struct ss_server *srv, bool with_grace)
{
	if (srv->draining) {
		/* --max-requests was waiting for its handlers; now a signal came. */
		if (with_grace && srv->grace_deadline == INT64_MAX)
			srv->grace_deadline = now_us() + srv->cfg.grace_ms * 1000;
		return;
	}
	srv->draining = true;
	update_listener(srv);
	if (srv->cfg.socktype != SOCK_DGRAM && srv->listen_fd >= 0) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	srv->transport->cleanup(srv);
	if (!with_grace) {
		srv->grace_deadline = INT64_MAX;
		return;
	}
	srv->grace_deadline = now_us() + srv->cfg.grace_ms * 1000;
	log_msg(srv, SS_LOG_INFO, "shutdown", "shutting down: %u in progress, waiting up to %.1f s",
	        srv->active_count, (double)srv->cfg.grace_ms / 1000.0);
}

static void stop_now(struct ss_server *srv, const char *why)
{
	if (srv->killed)
		return;
	srv->killed = true;
	if (srv->active_count > 0)
		log_msg(srv, SS_LOG_INFO, "kill", "%s: killing %u handlers", why, srv->active_count);
	kill_all(srv, SIGKILL);
}

static void print_status(struct ss_server *srv)
{
	log_event(srv, SS_LOG_ERROR, "status",
	          LOG_FIELDS(FINT("in_progress", srv->active_count), FINT("handled", (long long)srv->handled),
	                     FINT("failed", (long long)srv->failed), FINT("rejected", (long long)srv->rejected),
	                     FINT("timed_out", (long long)srv->timed_out), FINT("dropped", (long long)srv->dropped)),
	          "status: %u in progress, %llu handled, %llu failed, %llu rejected, %llu timed out, %llu dropped",
	          srv->active_count, (unsigned long long)srv->handled, (unsigned long long)srv->failed,
	          (unsigned long long)srv->rejected, (unsigned long long)srv->timed_out,
	          (unsigned long long)srv->dropped);
}

static void on_signal(struct ss_server *srv, struct watch *w, uint32_t events)
{
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
			if (!srv->draining || srv->grace_deadline == INT64_MAX)
				start_drain(srv, true);
			else
				stop_now(srv, "second signal");
			break;
		case SIGUSR1:
			print_status(srv);
			break;
		}
	}
	if (children && srv->mode->children != NULL)
		srv->mode->children(srv);
}

/*
 * Request deadlines.  The in-progress list is in start order and --timeout is
 * the same for every request, so deadlines grow along the list: the nearest
 * is that of the first request not yet timed out, after the few that were
 * sent SIGTERM and wait for their SIGKILL (whose deadlines are in the same
 * order).  Nothing polls: the loop sleeps until the nearest deadline.
 */
static int64_t request_deadlines(struct ss_server *srv, int64_t now, bool act)
{
	int64_t timeout_us = srv->cfg.timeout_ms * 1000;

	if (srv->cfg.timeout_ms == SS_NO_TIME)
		return INT64_MAX;
	for (struct request *r = srv->active.next; r != &srv->active; r = r->next) {
		if (!r->timed_out) {
			int64_t due = r->start_us + timeout_us;
			if (due > now || !act)
				return due;
			r->timed_out = true;
			r->term_us = now;
			srv->timed_out++;
			pid_t pid = srv->mode->signal(srv, r, SIGTERM);
			log_event(srv, SS_LOG_ERROR, "timeout",
			          LOG_FIELDS(FSTR("remote", r->remote), FINT("pid", pid),
			                     FMS("timeout_ms", (double)srv->cfg.timeout_ms)),
			          "%s: timed out after %.3g s, handler pid %d: sent SIGTERM", r->remote,
			          (double)srv->cfg.timeout_ms / 1000.0, (int)pid);
		}
		if (!r->kill_sent) {
			int64_t due = r->term_us + KILL_AFTER_US;
			if (due > now || !act)
				return due;
			r->kill_sent = true;
			srv->mode->signal(srv, r, SIGKILL);
		}
	}
	return INT64_MAX;
}

/* The nearest deadline of any kind, in microseconds; INT64_MAX for none. */
static int64_t next_deadline(struct ss_server *srv, int64_t now, bool act)
{
	int64_t next = request_deadlines(srv, now, act);

	if (srv->accept_paused_until > 0 && !srv->draining && srv->accept_paused_until < next)
		next = srv->accept_paused_until;
	if (srv->draining && !srv->killed && srv->grace_deadline < next)
		next = srv->grace_deadline;
	if (srv->cfg.idle_timeout_ms != SS_NO_TIME && !srv->draining && srv->active_count == 0) {
		int64_t idle = srv->last_activity_us + srv->cfg.idle_timeout_ms * 1000;
		if (idle < next)
			next = idle;
	}
	return next;
}

/* Milliseconds to the nearest deadline, or -1 for none. */
static int next_timeout(struct ss_server *srv)
{
	int64_t now = now_us(), next = next_deadline(srv, now, false);

	if (next == INT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	int64_t ms = (next - now + 999) / 1000;
	return ms > 1000000 ? 1000000 : (int)ms;
}

static void check_deadlines(struct ss_server *srv)
{
	int64_t now = now_us();

	request_deadlines(srv, now, true);
	if (srv->draining && !srv->killed && now >= srv->grace_deadline)
		stop_now(srv, "grace period over");
	if (srv->accept_paused_until != 0 && now >= srv->accept_paused_until) {
		srv->accept_paused_until = 0;
		update_listener(srv);
	}
	if (srv->cfg.idle_timeout_ms != SS_NO_TIME && !srv->draining && srv->active_count == 0 &&
	    now >= srv->last_activity_us + srv->cfg.idle_timeout_ms * 1000) {
		log_msg(srv, SS_LOG_INFO, "idle", "no request for %.3g s: exiting",
		        (double)srv->cfg.idle_timeout_ms / 1000.0);
		start_drain(srv, false);
	}
}

int ss_server_run(struct ss_server *srv, struct ss_error *err)
{
	if (srv->mode->open != NULL && srv->mode->open(srv, err) < 0)
		return -1;
	srv->listener = (struct watch){ .fd = srv->listen_fd, .fn = on_listener };
	srv->last_activity_us = now_us();
	update_listener(srv);
	while (!srv->done) {
		if (loop_once(&srv->loop, srv, next_timeout(srv)) < 0) {
			ss_error_set(err, SS_ERR_RUN, "event loop failed: %s", strerror(errno));
			return -1;
		}
		check_deadlines(srv);
		if (srv->draining && srv->active_count == 0)
			srv->done = true;
	}
	return 0;
}

void ss_server_free(struct ss_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->transport != NULL)
		srv->transport->cleanup(srv);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->null_fd >= 0)
		close(srv->null_fd);
	if (srv->mode != NULL && srv->mode->close != NULL)
		srv->mode->close(srv);
	loop_close(&srv->loop);
	env_free(srv);
	ip_counts_free(&srv->per_ip);
	acl_free(&srv->acl);
	identity_free(&srv->identity);
	if (srv->pidfile != NULL && pidfile_remove(srv->pidfile) < 0)
		log_msg(srv, SS_LOG_ERROR, "cleanup", "cannot remove the pid file %s: %s", srv->cfg.pidfile,
		        strerror(errno));
	spawn_plan_free(&srv->plan);
	for (unsigned i = 0; srv->slots != NULL && i < srv->slots_used; i++) {
		/* An idle slot may hold what it reserved for the next request. */
		if (srv->handler != NULL && srv->slots[i].prev == NULL)
			srv->handler->finish(srv, &srv->slots[i]);
		free(srv->slots[i].packet);
		free(srv->slots[i].reply);
		spawn_child_free(srv->slots[i].child);
	}
	free(srv->slots);
	free(srv);
}
