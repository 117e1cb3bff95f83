/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit test of lib/opening.c: the openings of a real server (--proxy-protocol
 * --max-openings 3), fed connections made of socket pairs.  Checks the pool's
 * bound, that the opening idle longest is the one evicted (progress counts),
 * that deadlines close openings in the order they came, and that a done
 * opening leaves the list.  Prints "ok N - ..." / "not ok N - ..." lines;
 * exits 1 if one failed.
 */
#include "opening.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int failed, checks;

static void check(bool ok, const char *what)
{
	printf("%s %d - %s\n", ok ? "ok" : "not ok", ++checks, what);
	if (!ok)
		failed = 1;
}

static void on_event(void *ctx, struct watch *w, uint32_t events)
{
	(void)ctx;
	(void)w;
	(void)events;
}

/* A connection: our end is the client's, the other goes into an opening. */
struct conn {
	int client;
	struct request *op;
};

static bool open_one(struct ss_server *srv, struct conn *c)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	c->client = sv[0];
	c->op = opening_slot(srv);
	if (c->op == NULL)
		return false;
	c->op->fd = sv[1];
	struct sockaddr_in *peer = (struct sockaddr_in *)&c->op->peer;
	memset(peer, 0, sizeof(*peer));
	peer->sin_family = AF_INET;
	peer->sin_addr.s_addr = htonl(0x7f000001);
	c->op->peer_len = sizeof(*peer);
	opening_start(srv, c->op, on_event);
	return opening_advance(srv, c->op, 0) == OPENED_WAIT;
}

/* The server closed this client's connection. */
static bool closed(const struct conn *c)
{
	char b;
	int flags = fcntl(c->client, F_GETFL);

	fcntl(c->client, F_SETFL, flags | O_NONBLOCK);
	ssize_t n = read(c->client, &b, 1);
	fcntl(c->client, F_SETFL, flags);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static unsigned waiting(const struct ss_server *srv)
{
	unsigned n = 0;

	for (const struct request *r = srv->openings.waiting.next; r != &srv->openings.waiting; r = r->next)
		n++;
	return n;
}

int main(void)
{
	static char *command[] = { "true", NULL };
	struct ss_config cfg;
	struct ss_error err;
	struct conn c[5];

	ss_config_init(&cfg);
	cfg.address = "127.0.0.1:0";
	cfg.argv = command;
	cfg.proxy_protocol = true;
	cfg.max_openings = 3;
	cfg.verbosity = SS_LOG_QUIET;
	struct ss_server *srv = ss_server_new(&cfg, &err);
	if (srv == NULL || ss_server_listen(srv, &err) < 0) {
		printf("not ok 1 - a server: %s\n", err.msg);
		return 1;
	}
	check(openings_used(srv) && srv->openings.max == 3, "--proxy-protocol: connections open in stages, 3 at once");

	bool all = true;
	for (int i = 0; i < 3; i++)
		all = all && open_one(srv, &c[i]);
	check(all && waiting(srv) == 3 && srv->openings.in_use == 3, "three openings wait for their header");
	check(openings_room(srv), "full, but there is room: one can be evicted");

	/* the first sends part of a header: progress; the second is now the
	 * one idle longest */
	usleep(2000);
	check(write(c[0].client, "PROXY TCP4", 10) == 10 && opening_advance(srv, c[0].op, EPOLLIN) == OPENED_WAIT,
	      "a part of a header: still waiting, with progress");
	check(open_one(srv, &c[3]), "a fourth connection is taken past the bound");
	check(closed(&c[1]) && !closed(&c[0]) && !closed(&c[2]) && !closed(&c[3]),
	      "the one idle longest (the second) was evicted, not the first, which made progress");
	check(waiting(srv) == 3 && srv->openings.in_use == 3, "the bound holds: three openings");
	check(srv->counts.n[COUNT_REJECTED] == 1, "the eviction is counted as rejected");

	/* the rest of the first one's header: it is done, off the list */
	const char *rest = " 192.0.2.1 192.0.2.2 1 2\r\n";
	check(write(c[0].client, rest, strlen(rest)) == (ssize_t)strlen(rest) &&
	      opening_advance(srv, c[0].op, EPOLLIN) == OPENED_DONE && waiting(srv) == 2,
	      "a whole header: the opening is done and leaves the list");
	check(((struct sockaddr_in *)&c[0].op->peer)->sin_addr.s_addr == htonl(0xc0000201),
	      "its peer is the header's client");
	opening_release(srv, c[0].op);
	check(srv->openings.in_use == 2, "released: two in use");

	/* deadlines in the order they came: the third, then the fourth */
	int64_t first = srv->openings.waiting.next->opening_deadline;
	check(srv->openings.waiting.next == c[2].op && srv->openings.waiting.prev == c[3].op,
	      "the list is in the order the connections came");
	check(openings_deadlines(srv, first) == c[3].op->opening_deadline && closed(&c[2]) && !closed(&c[3]),
	      "at the first deadline the oldest is closed, and the next deadline is the other's");
	check(openings_deadlines(srv, INT64_MAX - 1) == INT64_MAX && closed(&c[3]) && waiting(srv) == 0,
	      "past every deadline none is left");
	check(srv->openings.in_use == 0 && srv->counts.n[COUNT_REJECTED] == 3, "all free again; three rejected in all");

	/* parked ones are never evicted: with all three parked there is no room */
	const char *header = "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n";
	for (int i = 0; i < 3; i++) {
		close(c[i].client);
		open_one(srv, &c[i]);
		if (write(c[i].client, header, strlen(header)) == (ssize_t)strlen(header) &&
		    opening_advance(srv, c[i].op, EPOLLIN) == OPENED_DONE)
			opening_park(srv, c[i].op);
	}
	check(!openings_room(srv) && opening_slot(srv) == NULL, "every opening parked: no room, none evicted");
	struct request *op;
	while ((op = opening_unpark(srv)) != NULL)
		opening_release(srv, op);
	check(srv->openings.in_use == 0, "unparked and released");

	for (int i = 0; i < 4; i++)
		close(c[i].client);
	ss_server_free(srv);
	return failed;
}
