/*
 * The relayed stream handlers: the command reads and writes through two
 * pipes, its fd 0 and 1, which a relay joins to the connection in the event
 * loop (relay.c), in every mode.  Two entries share it:
 *
 *   handler_tls    the connection is TLS (its handshake is an opening stage,
 *                  stage_tls.c, before this runs): the bottom layer is
 *                  tls_layer, and the handler's command gets plaintext
 *   handler_relay  a plain connection under the filters (filter.h: --trace,
 *                  --record, the faults): the bottom layer is the socket
 *
 * and the filters, when given, stack over either.  The relay starts when the request is admitted
 * (prepare), before the command runs; the command is spawned on the other
 * ends of the pipes, from whichever thread the mode spawns in; when it has
 * ended, the request waits until what it wrote has reached the client
 * (request.c: flushing).
 *
 * With --tls-hand-over, a connection whose record layer the kernel took in
 * both directions (kTLS, see tls_in_kernel) is not relayed: the command gets
 * the socket itself, as a plain connection's handler does.  sockserve keeps
 * its copy and the TLS state until the command has ended, then sends
 * close_notify and closes it.
 */
#include "handler_tls.h"
#include "axes.h"
#include "filter.h"
#include "log.h"
#include "relay.h"
#include "request.h"
#include "spawn.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The server-wide state: the context, its certificate's SHA-256, and
 * whether the kernel offers kTLS (and OpenSSL may use it). */
struct tls_state {
	struct tls_server *tls;
	char fingerprint[100];
	bool ktls;
};

/* A slot's state: the command's ends of its pipes until it runs (the relay
 * is the request's, req->relay). */
struct relay_slot {
	int child_in, child_out;
};

extern const struct handler handler_stream, handler_tls, handler_relay;

/* Connections are accepted as plain ones are. */
static enum receive relay_receive(struct view *v, struct request *req)
{
	return handler_stream.receive(v, req);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The relay has delivered what the command wrote. */
static void relayed(void *loop_ctx, void *data)
{
	request_flushed(loop_ctx, data);
}

/* In the loop, before the mode runs the request: the pipes, and the relay
 * that joins them to the connection through its layers (or, --tls-hand-over
 * under kTLS, the socket for the command itself). */
static int relay_prepare(struct view *v, struct request *req)
{
	struct relay_slot *t = req->handler_ctx;
	struct layer *top = req->tls != NULL ? tls_layer(req->tls) : NULL;
	int p[4];

	if (req->tls != NULL && v->cfg->tls_hand_over && tls_in_kernel(req->tls))
		return tls_hand_over(req->tls);
	if (t == NULL) {
		if ((t = req->handler_ctx = malloc(sizeof(*t))) == NULL)
			return ENOMEM;
		t->child_in = t->child_out = -1;
	}
	if (req->relay == NULL && (req->relay = relay_new()) == NULL)
		return ENOMEM;
	if (pipe2(p, O_CLOEXEC) < 0)
		return errno;
	if (pipe2(p + 2, O_CLOEXEC) < 0) {
		int rc = errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	t->child_in = p[0];
	t->child_out = p[3];
	if (v->filters != NULL && (top = filters_stack(v, req, top)) == NULL)
		return errno;
	if (relay_start(req->relay, v->loop, top, p[1], p[2], relayed, req) < 0)
		return errno;
	return 0;
}

/* From any thread: the command on its ends of the pipes (its stderr too,
 * with --stderr=socket), which are then closed here; if it cannot run, they
 * stay for another try (the relay meanwhile sees no end of file). */
static int relay_spawn(struct view *v, struct request *req, struct spawn_child *async, pid_t *pid)
{
	struct relay_slot *t = req->handler_ctx;

	if (req->tls != NULL && tls_handed_over(req->tls))
		return spawn_handler(v->plan, req->fd, req->fd, req->fd, req->env.envp, async, pid);
	int rc = spawn_handler(v->plan, t->child_in, t->child_out, t->child_out, req->env.envp, async, pid);
	if (rc == 0) {
		close_fd(&t->child_in);
		close_fd(&t->child_out);
	}
	return rc;
}

static void relay_finish(struct view *v, struct request *req)
{
	struct relay_slot *t = req->handler_ctx;

	if (req->relay != NULL)
		relay_stop(req->relay);
	filters_end(v, req);
	if (t != NULL) {
		close_fd(&t->child_in);
		close_fd(&t->child_out);
	}
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
	                         .alpn = cfg->tls_alpn, .ktls = tls_kernel_offers_ktls() };

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

	bool hand_over = t->ktls && cfg->tls_hand_over;

	log_event(v->log, cfg->tls ? SS_LOG_ALWAYS : SS_LOG_INFO, "tls",
	          LOG_FIELDS(FSTR("certificate", cfg->tls ? "throw-away" : cfg->tls_cert),
	                     FSTR("sha256", t->fingerprint), FSTR("path", hand_over ? "ktls" : "relay"),
	                     FINT("ktls", t->ktls)),
	          "TLS with %s%s, SHA-256 fingerprint %s; %s",
	          cfg->tls ? "a throw-away self-signed certificate" : "the certificate ",
	          cfg->tls ? "" : cfg->tls_cert, t->fingerprint,
	          hand_over ? "the kernel offers kTLS: a connection whose cipher it takes in both directions "
	                      "gives the handler the socket itself (--tls-hand-over), others are relayed "
	                      "(-vv tells which)"
	          : t->ktls ? "sockserve relays the plaintext, and the kernel does the cipher where it takes it "
	                      "(kTLS; -vv tells which)"
	                    : "sockserve relays the plaintext (the kernel offers no kTLS: no \"tls\" in "
	                      "/proc/sys/net/ipv4/tcp_available_ulp; 'modprobe tls' adds it)");
}

struct tls_server *handler_tls_context(const struct view *v)
{
	return v->handler == &handler_tls ? ((const struct tls_state *)v->handler_ctx)->tls : NULL;
}

static void relay_slot_close(struct view *v, struct request *req)
{
	filters_slot_close(v, req);
	free(req->handler_ctx);
	req->handler_ctx = NULL;
}

const struct handler handler_tls = {
	.name = "tls",
	.var_prefix = "TCP",
	.connections = true,
	.ctx_size = sizeof(struct tls_state),
	.open = tls_open,
	.close = tls_close,
	.announce = tls_announce,
	.slot_close = relay_slot_close,
	.receive = relay_receive,
	.prepare = relay_prepare,
	.spawn = relay_spawn,
	.finish = relay_finish,
};

const struct handler handler_relay = {
	.name = "relay",
	.var_prefix = "TCP",
	.connections = true,
	.slot_close = relay_slot_close,
	.receive = relay_receive,
	.prepare = relay_prepare,
	.spawn = relay_spawn,
	.finish = relay_finish,
};
