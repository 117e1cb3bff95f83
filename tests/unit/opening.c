/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit test of lib/opening.c: the openings of a server's view (--proxy-protocol
 * --max-openings 3), fed connections made of socket pairs.  Checks the pool's
 * bound, that the opening idle longest is the one evicted (progress counts),
 * that deadlines close openings in the order they came, and that a done
 * opening leaves the list.  Prints "ok N - ..." / "not ok N - ..." lines;
 * exits 1 if one failed.
 */
#include "admission.h"
#include "counts.h"
#include "opening.h"
#include "view.h"

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

static bool open_one(struct view *v, struct conn *c)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	c->client = sv[0];
	c->op = opening_slot(v);
	if (c->op == NULL)
		return false;
	c->op->fd = sv[1];
	struct sockaddr_in *peer = (struct sockaddr_in *)&c->op->peer;
	memset(peer, 0, sizeof(*peer));
	peer->sin_family = AF_INET;
	peer->sin_addr.s_addr = htonl(0x7f000001);
	c->op->peer_len = sizeof(*peer);
	opening_start(v, c->op, on_event);
	return opening_advance(v, c->op, 0) == OPENED_WAIT;
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

static unsigned waiting(const struct view *v)
{
	unsigned n = 0;

	for (const struct request *r = v->openings->waiting.next; r != &v->openings->waiting; r = r->next)
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
	/* What server.c would give the openings: the view of a server with
	 * nothing else set up. */
	static struct logger log;
	static struct loop loop;
	static struct counts counts;
	static struct requests requests;
	static struct openings openings;
	static struct admission admission;
	int no_signals[] = { 0 };
	struct view view = { .cfg = &cfg, .log = &log, .loop = &loop, .counts = &counts, .requests = &requests,
	                     .openings = &openings, .admission = &admission };
	struct view *v = &view;
	log_init(&log, cfg.verbosity, cfg.log_format);
	if (loop_open(&loop, no_signals, on_event, NULL) < 0 ||
	    acl_init(&admission.acl, NULL, NULL, NULL, &err) < 0 ||
	    openings_init(v, (unsigned)cfg.max_openings, 5000000, &err) < 0) {
		printf("not ok 1 - the view: %s\n", err.msg);
		return 1;
	}
	check(openings_used(v) && v->openings->max == 3, "--proxy-protocol: connections open in stages, 3 at once");

	bool all = true;
	for (int i = 0; i < 3; i++)
		all = all && open_one(v, &c[i]);
	check(all && waiting(v) == 3 && v->openings->in_use == 3, "three openings wait for their header");
	check(openings_room(v), "full, but there is room: one can be evicted");

	/* the first sends part of a header: progress; the second is now the
	 * one idle longest */
	usleep(2000);
	check(write(c[0].client, "PROXY TCP4", 10) == 10 && opening_advance(v, c[0].op, EPOLLIN) == OPENED_WAIT,
	      "a part of a header: still waiting, with progress");
	check(open_one(v, &c[3]), "a fourth connection is taken past the bound");
	check(closed(&c[1]) && !closed(&c[0]) && !closed(&c[2]) && !closed(&c[3]),
	      "the one idle longest (the second) was evicted, not the first, which made progress");
	check(waiting(v) == 3 && v->openings->in_use == 3, "the bound holds: three openings");
	check(v->counts->n[COUNT_REJECTED] == 1, "the eviction is counted as rejected");

	/* the rest of the first one's header: it is done, off the list */
	const char *rest = " 192.0.2.1 192.0.2.2 1 2\r\n";
	check(write(c[0].client, rest, strlen(rest)) == (ssize_t)strlen(rest) &&
	      opening_advance(v, c[0].op, EPOLLIN) == OPENED_DONE && waiting(v) == 2,
	      "a whole header: the opening is done and leaves the list");
	check(((struct sockaddr_in *)&c[0].op->peer)->sin_addr.s_addr == htonl(0xc0000201),
	      "its peer is the header's client");
	opening_release(v, c[0].op);
	check(v->openings->in_use == 2, "released: two in use");

	/* deadlines in the order they came: the third, then the fourth */
	int64_t first = v->openings->waiting.next->opening_deadline;
	check(v->openings->waiting.next == c[2].op && v->openings->waiting.prev == c[3].op,
	      "the list is in the order the connections came");
	check(openings_deadlines(v, first) == c[3].op->opening_deadline && closed(&c[2]) && !closed(&c[3]),
	      "at the first deadline the oldest is closed, and the next deadline is the other's");
	check(openings_deadlines(v, INT64_MAX - 1) == INT64_MAX && closed(&c[3]) && waiting(v) == 0,
	      "past every deadline none is left");
	check(v->openings->in_use == 0 && v->counts->n[COUNT_REJECTED] == 3, "all free again; three rejected in all");

	/* parked ones are never evicted: with all three parked there is no room */
	const char *header = "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n";
	for (int i = 0; i < 3; i++) {
		close(c[i].client);
		open_one(v, &c[i]);
		if (write(c[i].client, header, strlen(header)) == (ssize_t)strlen(header) &&
		    opening_advance(v, c[i].op, EPOLLIN) == OPENED_DONE)
			opening_park(v, c[i].op);
	}
	check(!openings_room(v) && opening_slot(v) == NULL, "every opening parked: no room, none evicted");
	struct request *op;
	while ((op = opening_unpark(v)) != NULL)
		opening_release(v, op);
	check(v->openings->in_use == 0, "unparked and released");

	for (int i = 0; i < 4; i++)
		close(c[i].client);
	openings_free(v);
	acl_free(&admission.acl);
	loop_close(&loop);
	return failed;
}
