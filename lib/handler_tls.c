/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TLS stream handler: the connection is TLS (its handshake is done by
 * the event loop, accept.c, before this runs), and the command reads and
 * writes plaintext through two pipes, its fd 0 and 1, which a relay joins to
 * the connection (tls.c).
 *
 * Where the relay runs depends on the mode.  In thread mode the request's
 * worker thread relays, then reaps the handler.  In sync and fork modes a
 * relay process is forked per connection (the event loop never waits on a
 * connection): it starts the command in its own process group, relays until
 * the command's output has ended and gone to the client, waits for the
 * command, and exits as the command did, so that the event loop sees the
 * handler's own status, and --timeout or a drain, signalling the group,
 * reaches the command and the relay together.
 *
 * Where the kernel took the record layer in both directions (kTLS, see
 * tls_in_kernel), nothing is relayed: the command gets the socket itself, as
 * a plain connection's handler does, in every mode.  sockserve keeps its copy
 * and the TLS state until the command has ended, then sends close_notify
 * and closes it.
 */
#include "handler_tls.h"
#include "axes.h"
#include "log.h"
#include "request.h"
#include "spawn.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The server-wide state: the context, its certificate's SHA-256, and
 * whether the kernel offers kTLS (and OpenSSL may use it). */
struct tls_state {
	struct tls_server *tls;
	char fingerprint[100];
	bool ktls;
};

/* A slot's state in thread mode: our ends of the command's pipes. */
struct tls_pipes {
	int to, from;
};

extern const struct handler handler_stream, handler_tls;

/* Connections are accepted as plain ones are. */
static enum receive tls_receive(struct view *v, struct request *req)
{
	return handler_stream.receive(v, req);
}

/* Start the command on two new pipes, its stdin and its stdout (and, with
 * --stderr=socket, its stderr); *to and *from are our ends.  0 or an errno
 * value (then nothing is left open). */
static int spawn_on_pipes(const struct spawn_plan *plan, struct request *req, pid_t *pid, int *to, int *from)
{
	int p[4], rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return errno;
	if (pipe2(p + 2, O_CLOEXEC) < 0) {
		rc = errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	rc = spawn_handler(plan, p[0], p[3], p[3], req->env.envp, NULL, pid);
	close(p[0]);
	close(p[3]);
	if (rc != 0) {
		close(p[1]);
		close(p[2]);
		return rc;
	}
	*to = p[1];
	*from = p[2];
	return 0;
}

/* Close every descriptor but keep[0..n): a relay process holds no other
 * connection open (a client must see its end of file when its own relay
 * shuts it, not when the last relay forked after it ends). */
static void close_all_but(const int *keep, int n)
{
	int lo = 3;

	for (;;) {
		int next = -1;
		for (int i = 0; i < n; i++)
			if (keep[i] >= lo && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0) {
			close_range((unsigned)lo, ~0U, 0);
			return;
		}
		if (next > lo)
			close_range((unsigned)lo, (unsigned)next - 1, 0);
		lo = next + 1;
	}
}

/* The relay process: never returns. */
__attribute__((noreturn)) static void relay_process(struct view *v, struct request *req)
{
	struct spawn_plan plan = *v->plan;
	int keep[2] = { req->fd, v->log->fd }, to, from, wstatus = 0, rc;
	sigset_t none;
	pid_t pid;

	/* The event loop's signal handling is not the relay's: a --timeout's
	 * SIGTERM ends it (and the command, in its group) as it would the
	 * command alone. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	close_all_but(keep, 2);
	plan.same_group = true;
	plan.wait_for_exec = true;
	if ((rc = spawn_on_pipes(&plan, req, &pid, &to, &from)) != 0) {
		log_event(v->log, SS_LOG_ERROR, "spawn_failed",
		          LOG_FIELDS(FSTR("remote", req->remote), FSTR("error", strerror(rc))),
		          "%s: cannot run handler %s: %s", req->remote,
		          plan.script != NULL ? plan.script : plan.path, strerror(rc));
		_exit(127);
	}
	tls_relay(req->tls, to, from); /* closes to */
	close(from);
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	tls_conn_free(req->tls);
	close(req->fd);
	if (WIFSIGNALED(wstatus)) {
		/* die as the command did, for the event loop's log */
		signal(WTERMSIG(wstatus), SIG_DFL);
		raise(WTERMSIG(wstatus));
		_exit(128 + WTERMSIG(wstatus));
	}
	_exit(WEXITSTATUS(wstatus));
}

static int tls_spawn(struct view *v, struct request *req, struct spawn_child *async, pid_t *pid)
{
	if (tls_in_kernel(req->tls)) {
		int rc = tls_hand_over(req->tls);
		return rc != 0 ? rc : spawn_handler(v->plan, req->fd, req->fd, req->fd, req->env.envp, async, pid);
	}
	if (async == NULL) {
		/* thread mode: the command now, the relay in tls_pump */
		struct tls_pipes *t = req->handler_ctx;
		if (t == NULL && (t = req->handler_ctx = calloc(1, sizeof(*t))) == NULL)
			return ENOMEM;
		return spawn_on_pipes(v->plan, req, pid, &t->to, &t->from);
	}
	pid_t child = fork();
	if (child < 0)
		return errno;
	if (child == 0)
		relay_process(v, req);
	setpgid(child, child);
	*pid = child;
	/* The relay has the connection now. */
	tls_conn_free(req->tls);
	req->tls = NULL;
	close(req->fd);
	req->fd = -1;
	return 0;
}

static void tls_pump(struct view *v, struct request *req, pid_t pid)
{
	struct tls_pipes *t = req->handler_ctx;

	(void)v;
	(void)pid;
	if (tls_handed_over(req->tls))
		return;
	tls_relay(req->tls, t->to, t->from); /* closes t->to */
	close(t->from);
	t->to = t->from = -1;
}

static void tls_finish(struct view *v, struct request *req)
{
	(void)v;
	if (req->tls != NULL && tls_handed_over(req->tls) && req->exited)
		tls_close_notify(req->tls);
	tls_conn_free(req->tls);
	req->tls = NULL;
	if (req->fd >= 0)
		close(req->fd);
	req->fd = -1;
}

/* Read before privileges are dropped: a key may be root's alone. */
static int tls_open(struct view *v, struct ss_error *err)
{
	const struct ss_config *cfg = v->cfg;
	struct tls_state *t = v->handler_ctx;
	struct tls_options o = { .cert = cfg->tls_cert, .key = cfg->tls_key, .client_ca = cfg->tls_client_ca,
	                         .alpn = cfg->tls_alpn, .ktls = !cfg->tls_relay && tls_kernel_offers_ktls() };

	t->ktls = o.ktls;
	t->tls = tls_server_new(&o, t->fingerprint, sizeof(t->fingerprint), err);
	return t->tls != NULL ? 0 : -1;
}

static void tls_close(struct view *v)
{
	struct tls_state *t = v->handler_ctx;

	tls_server_free(t->tls);
	t->tls = NULL;
}

/* TLS's certificate, and how the plaintext reaches the handler.  A
 * throw-away certificate's fingerprint is written whatever the level: it is
 * what a client is to check. */
static void tls_announce(struct view *v)
{
	const struct ss_config *cfg = v->cfg;
	const struct tls_state *t = v->handler_ctx;

	log_event(v->log, cfg->tls ? SS_LOG_ALWAYS : SS_LOG_INFO, "tls",
	          LOG_FIELDS(FSTR("certificate", cfg->tls ? "throw-away" : cfg->tls_cert),
	                     FSTR("sha256", t->fingerprint), FSTR("path", t->ktls ? "ktls" : "relay"),
	                     FINT("ktls", t->ktls)),
	          "TLS with %s%s, SHA-256 fingerprint %s; %s",
	          cfg->tls ? "a throw-away self-signed certificate" : "the certificate ",
	          cfg->tls ? "" : cfg->tls_cert, t->fingerprint,
	          t->ktls  ? "the kernel offers kTLS: a connection whose cipher it takes in both directions "
	                           "gives the handler the socket itself, others are relayed (-vv tells which)"
	          : cfg->tls_relay ? "sockserve relays the plaintext (--tls-relay)"
	                           : "sockserve relays the plaintext (the kernel offers no kTLS: no \"tls\" in "
	                             "/proc/sys/net/ipv4/tcp_available_ulp; 'modprobe tls' adds it)");
}


struct tls_server *handler_tls_context(const struct view *v)
{
	return v->handler == &handler_tls ? ((const struct tls_state *)v->handler_ctx)->tls : NULL;
}

static void tls_slot_close(struct view *v, struct request *req)
{
	(void)v;
	free(req->handler_ctx);
	req->handler_ctx = NULL;
}

const struct handler handler_tls = {
	.name = "tls",
	.var_prefix = "TCP",
	.connections = true,
	.spawn_in_loop = true,
	.ctx_size = sizeof(struct tls_state),
	.open = tls_open,
	.close = tls_close,
	.announce = tls_announce,
	.slot_close = tls_slot_close,
	.receive = tls_receive,
	.spawn = tls_spawn,
	.pump = tls_pump,
	.finish = tls_finish,
};
