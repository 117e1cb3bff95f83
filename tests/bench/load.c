/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * load: the benchmark's load generator.  Every mode is bounded in count and
 * in time, and talks only to the address it is given (loopback or a unix
 * socket).  It prints one line of "key=value" results on stdout.
 *
 *   load conn  [-n N] [-c C] [-q REQUEST] [-x EXPECT] [-T SECONDS] ADDRESS
 *       N connections, C at a time: connect, send REQUEST, half-close, read
 *       to end of file, check the reply is EXPECT (default: "ok\n"; "*":
 *       anything).
 *       Prints rate=conn/s p50_ms= p99_ms= max_ms= and errors by kind.
 *   load tput  [-b BYTES] [-T SECONDS] ADDRESS
 *       one connection to an echo handler: send BYTES of a pattern while
 *       reading them back, check every byte; prints mb_s=.
 *   load dgram [-n N] [-c C] [-q REQUEST] [-x EXPECT] [-w MS] [-r TRIES] [-T SECONDS] ADDRESS
 *       N request/reply exchanges over UDP (or a unix datagram socket), C
 *       clients at a time, each reply awaited up to MS (default 1000);
 *       a reply that does not come is sent again, up to TRIES sends in all
 *       (default 1), as a UDP client that retries does; one that never
 *       comes is counted as lost.
 *   load ws    [-n N] [-c C] [-T SECONDS] ADDRESS
 *       N WebSocket connections, C at a time: the upgrade, one text message
 *       ("hello") and its echo, the close; prints rate= as conn does.
 *   load wsmsg [-n N] [-c C] [-T SECONDS] ADDRESS
 *       C WebSocket connections, open, echoing N text messages in all, one
 *       at a time each; prints rate=messages/s.
 *   load hold  [-c C] [-T SECONDS] ADDRESS
 *       open C connections to an echo handler, one after another, each
 *       confirmed by a byte echoed back (so each has its handler running),
 *       and keep them until stdin closes (or the time limit); prints held=
 *       once they are all open.
 *
 * ADDRESS is HOST:PORT, [V6]:PORT or a unix path (containing '/').
 * -S (conn and tput): TLS, without verifying the server; at the end of its
 * request a TLS client sends close_notify instead of a TCP half-close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* 0 is success: every failure has a kind of its own. */
enum err_kind { E_NONE, E_CONNECT, E_RESET, E_MISMATCH, E_TIMEOUT, E_LOST, E_OTHER, E_KINDS };
static const char *const err_names[E_KINDS] = { "none", "connect", "reset", "mismatch", "timeout", "lost", "other" };

static struct sockaddr_storage target;
static socklen_t target_len;
static const char *request = "";
static const char *expect = "ok\n";
static bool any_reply; /* -x '*': whatever comes back */
static long total = 1000;
static int clients = 1;
static double limit_s = 60;
static int reply_wait_ms = 1000;
static int dgram_tries = 1;   /* sends of one request, when replies are lost */
static long long tput_bytes = 1LL << 30;
static SSL_CTX *tls; /* -S */
static int ws_mode;  /* 1: ws, a connection each; 2: wsmsg, messages over open ones */

/* A TLS client on a connected socket (blocking or not); NULL if the
 * handshake failed. */
static SSL *tls_open(int fd)
{
	SSL *ssl = SSL_new(tls);

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1)
		goto fail;
	for (;;) {
		int rc = SSL_connect(ssl);
		if (rc == 1)
			return ssl;
		int e = SSL_get_error(ssl, rc);
		struct pollfd p = { .fd = fd, .events = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN };
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || poll(&p, 1, 30000) <= 0)
			goto fail;
	}
fail:
	SSL_free(ssl);
	return NULL;
}

/* send/recv through TLS when there is one: n, 0 (end), or -1 (errno;
 * EAGAIN when TLS waits for the socket). */
static ssize_t io_send(int fd, SSL *ssl, const void *buf, size_t n)
{
	if (ssl == NULL)
		return send(fd, buf, n, MSG_NOSIGNAL);
	ERR_clear_error();
	int rc = SSL_write(ssl, buf, (int)n);
	if (rc > 0)
		return rc;
	int e = SSL_get_error(ssl, rc);
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : ECONNRESET;
	return -1;
}

static ssize_t io_recv(int fd, SSL *ssl, void *buf, size_t n)
{
	if (ssl == NULL)
		return recv(fd, buf, n, 0);
	ERR_clear_error();
	int rc = SSL_read(ssl, buf, (int)n);
	if (rc > 0)
		return rc;
	int e = SSL_get_error(ssl, rc);
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
		return 0;
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : ECONNRESET;
	return -1;
}

/* The end of what the client sends: close_notify, or a TCP half-close. */
static void io_end(int fd, SSL *ssl)
{
	if (ssl != NULL)
		SSL_shutdown(ssl);
	else
		shutdown(fd, SHUT_WR);
}

static atomic_long next_index;
static atomic_long errors[E_KINDS];
static double *latencies_ms; /* one per request, -1 for failed */
static double started_at;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int left_ms(void)
{
	double left = limit_s - (now_s() - started_at);
	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static void parse_address(const char *text, int socktype)
{
	memset(&target, 0, sizeof(target));
	if (strchr(text, '/') != NULL) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&target;
		sun->sun_family = AF_UNIX;
		if (strlen(text) >= sizeof(sun->sun_path)) {
			fprintf(stderr, "load: path too long\n");
			exit(2);
		}
		strcpy(sun->sun_path, text);
		target_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(text) + 1);
		return;
	}
	char host[256];
	const char *port;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (colon == NULL)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
		port = colon + 1;
	}
	struct addrinfo hints = { .ai_socktype = socktype, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		goto bad;
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	target_len = res->ai_addrlen;
	freeaddrinfo(res);
	return;
bad:
	fprintf(stderr, "load: bad address '%s'\n", text);
	exit(2);
}

/* Wait for events on fd until the time limit: 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, int max_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int ms = left_ms();
		if (max_ms >= 0 && max_ms < ms)
			ms = max_ms;
		int rc = poll(&p, 1, ms);
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return 0;
	}
}

/* One connection's exchange: 0 or an error kind. */
static int exchange(void)
{
	size_t req_len = strlen(request), exp_len = strlen(expect), got = 0;
	char buf[4096];
	int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int result = 0;

	if (fd < 0)
		return E_OTHER;
	SSL *ssl = NULL;
	if (connect(fd, (struct sockaddr *)&target, target_len) < 0) {
		close(fd);
		return E_CONNECT;
	}
	/* non-blocking under TLS: a record that has begun to arrive must not
	 * block SSL_read past the time limit */
	if (tls != NULL && (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || (ssl = tls_open(fd)) == NULL)) {
		close(fd);
		return E_RESET;
	}
	if (req_len > 0 && io_send(fd, ssl, request, req_len) != (ssize_t)req_len &&
	    !(ssl != NULL && errno == EAGAIN && wait_fd(fd, POLLOUT, -1) &&
	      io_send(fd, ssl, request, req_len) == (ssize_t)req_len))
		result = E_RESET;
	/* without a request a TLS client just waits for the answer */
	if (ssl == NULL || req_len > 0)
		io_end(fd, ssl);
	while (result == 0) {
		if ((ssl == NULL || SSL_pending(ssl) == 0) && !wait_fd(fd, POLLIN, -1)) {
			result = E_TIMEOUT;
			break;
		}
		ssize_t n = io_recv(fd, ssl, buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n == 0)
			break;
		if (n < 0) {
			result = errno == ECONNRESET ? E_RESET : E_OTHER;
			break;
		}
		if (!any_reply && (got + (size_t)n > exp_len || memcmp(buf, expect + got, (size_t)n) != 0))
			result = E_MISMATCH;
		got += (size_t)n;
	}
	if (result == 0 && got != exp_len && !any_reply)
		result = E_MISMATCH;
	SSL_free(ssl);
	close(fd);
	return result;
}

/* One datagram exchange on the client's own socket: 0 or an error kind. */
static int dgram_exchange(int fd)
{
	char buf[65536];
	size_t req_len = strlen(request), exp_len = strlen(expect);

	for (int try = 1;; try++) {
		if (send(fd, request, req_len, 0) != (ssize_t)req_len)
			return E_OTHER;
		if (!wait_fd(fd, POLLIN, reply_wait_ms)) {
			if (try < dgram_tries && left_ms() > 0)
				continue;
			return E_LOST;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == ECONNREFUSED ? E_CONNECT : E_OTHER;
		return any_reply || ((size_t)n == exp_len && memcmp(buf, expect, exp_len) == 0) ? 0 : E_MISMATCH;
	}
}

static int dgram_socket(void)
{
	int fd = socket(target.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (target.ss_family == AF_UNIX) {
		/* a unix datagram client needs an address for the reply */
		struct sockaddr_un me = { .sun_family = AF_UNIX };
		snprintf(me.sun_path, sizeof(me.sun_path), "/tmp/load.%d.%lu", getpid(),
		         (unsigned long)pthread_self() % 1000003);
		unlink(me.sun_path);
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0)
			return -1;
	}
	if (connect(fd, (struct sockaddr *)&target, target_len) < 0)
		return -1;
	return fd;
}

/* ---- WebSocket (ws, wsmsg) ---- */

static const char ws_upgrade[] = "GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* Read exactly n bytes (within the time limit): 0 or an error kind. */
static int read_n(int fd, char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		if (!wait_fd(fd, POLLIN, -1))
			return E_TIMEOUT;
		ssize_t k = recv(fd, buf + got, n - got, 0);
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			return E_RESET;
		if (k < 0)
			return E_OTHER;
		got += (size_t)k;
	}
	return 0;
}

/* Connect and upgrade: the socket, or -(error kind). */
static int ws_open(void)
{
	char buf[1024];
	size_t got = 0;
	int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -E_OTHER;
	if (connect(fd, (struct sockaddr *)&target, target_len) < 0) {
		close(fd);
		return -E_CONNECT;
	}
	if (send(fd, ws_upgrade, sizeof(ws_upgrade) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(ws_upgrade) - 1) {
		close(fd);
		return -E_RESET;
	}
	/* the answer, byte by byte to its end: nothing else comes before a message */
	while (got < 4 || memcmp(buf + got - 4, "\r\n\r\n", 4) != 0) {
		int rc = got < sizeof(buf) ? read_n(fd, buf + got, 1) : E_MISMATCH;
		if (rc != 0) {
			close(fd);
			return -rc;
		}
		got++;
	}
	if (memcmp(buf, "HTTP/1.1 101", 12) != 0) {
		close(fd);
		return -E_MISMATCH;
	}
	return fd;
}

/* One text message and its echo: 0 or an error kind. */
static int ws_message(int fd)
{
	/* "hello", masked with a key of zeros (RFC 6455 asks for a mask, not a random one here) */
	static const char frame[] = "\x81\x85\0\0\0\0hello";
	char reply[7];

	if (send(fd, frame, sizeof(frame) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(frame) - 1)
		return E_RESET;
	int rc = read_n(fd, reply, sizeof(reply));
	if (rc != 0)
		return rc;
	return memcmp(reply, "\x81\x05hello", 7) == 0 ? 0 : E_MISMATCH;
}

/* The close: ours, then the server's close and end of file. */
static void ws_end(int fd)
{
	static const char frame[] = "\x88\x80\0\0\0\0";
	char buf[256];

	(void)!send(fd, frame, sizeof(frame) - 1, MSG_NOSIGNAL);
	while (wait_fd(fd, POLLIN, 5000) && recv(fd, buf, sizeof(buf), 0) > 0)
		;
	close(fd);
}

static int ws_exchange(void)
{
	int fd = ws_open();

	if (fd < 0)
		return -fd;
	int rc = ws_message(fd);
	ws_end(fd);
	return rc;
}

static void *client_main(void *arg)
{
	bool dgram = arg != NULL;
	int fd = dgram ? dgram_socket() : -1;

	if (ws_mode == 2 && (fd = ws_open()) < 0) {
		atomic_fetch_add(&errors[-fd], 1);
		return NULL;
	}

	if (dgram && fd < 0) {
		atomic_fetch_add(&errors[E_OTHER], 1);
		return NULL;
	}
	for (;;) {
		long i = atomic_fetch_add(&next_index, 1);
		if (i >= total || left_ms() == 0)
			break;
		double t0 = now_s();
		int rc = dgram ? dgram_exchange(fd) : ws_mode == 1 ? ws_exchange() : ws_mode == 2 ? ws_message(fd) : exchange();
		if (rc != 0) {
			atomic_fetch_add(&errors[rc], 1);
			latencies_ms[i] = -1;
		} else {
			latencies_ms[i] = (now_s() - t0) * 1000.0;
		}
	}
	if (fd >= 0 && ws_mode == 2) {
		ws_end(fd);
		fd = -1;
	}
	if (fd >= 0) {
		if (target.ss_family == AF_UNIX) {
			struct sockaddr_un me;
			socklen_t len = sizeof(me);
			if (getsockname(fd, (struct sockaddr *)&me, &len) == 0)
				unlink(me.sun_path);
		}
		close(fd);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int run_clients(bool dgram)
{
	pthread_t *threads = calloc((size_t)clients, sizeof(pthread_t));
	long done, ok = 0, failed = 0;
	double elapsed;

	latencies_ms = calloc((size_t)total, sizeof(double));
	if (threads == NULL || latencies_ms == NULL)
		return 2;
	started_at = now_s();
	for (int i = 0; i < clients; i++)
		pthread_create(&threads[i], NULL, client_main, dgram ? (void *)1 : NULL);
	for (int i = 0; i < clients; i++)
		pthread_join(threads[i], NULL);
	elapsed = now_s() - started_at;
	done = atomic_load(&next_index) < total ? atomic_load(&next_index) : total;
	/* keep the successful latencies, sorted */
	for (long i = 0; i < done; i++) {
		if (latencies_ms[i] >= 0)
			latencies_ms[ok++] = latencies_ms[i];
		else
			failed++;
	}
	qsort(latencies_ms, (size_t)ok, sizeof(double), cmp_double);
	printf("n=%ld ok=%ld seconds=%.3f rate=%.1f", done, ok, elapsed, (double)ok / elapsed);
	if (ok > 0)
		printf(" p50_ms=%.3f p99_ms=%.3f max_ms=%.3f", latencies_ms[ok / 2],
		       latencies_ms[(long)((double)(ok - 1) * 0.99)], latencies_ms[ok - 1]);
	for (int k = E_CONNECT; k < E_KINDS; k++)
		if (atomic_load(&errors[k]) > 0)
			printf(" err_%s=%ld", err_names[k], atomic_load(&errors[k]));
	printf("\n");
	free(threads);
	return done < total || failed > 0 ? 1 : 0;
}

/* The bytes sent: a 64 KiB block of noise, repeated, kept twice over so that
 * any stretch of up to 64 KiB starting anywhere in it is one memcmp. */
#define BLOCK (1 << 16)
static unsigned char pattern[2 * BLOCK];

static int throughput(void)
{
	static unsigned char in[BLOCK];
	long long sent = 0, got = 0;
	int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < BLOCK; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		pattern[i] = pattern[i + BLOCK] = (unsigned char)x;
	}
	started_at = now_s();
	SSL *ssl = NULL;
	if (fd < 0 || (connect(fd, (struct sockaddr *)&target, target_len) < 0 && errno != EINPROGRESS)) {
		printf("mb_s=0 err_connect=1\n");
		return 1;
	}
	if (tls != NULL) {
		struct pollfd w = { .fd = fd, .events = POLLOUT };
		if (poll(&w, 1, 30000) <= 0 || (ssl = tls_open(fd)) == NULL) {
			printf("mb_s=0 err_connect=1\n");
			return 1;
		}
	}
	while (got < tput_bytes) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < tput_bytes ? POLLOUT : 0) };
		if (poll(&p, 1, left_ms()) <= 0) {
			printf("mb_s=0 err_timeout=1 got=%lld\n", got);
			return 1;
		}
		if ((p.revents & POLLOUT) && sent < tput_bytes) {
			size_t n = BLOCK;
			if ((long long)n > tput_bytes - sent)
				n = (size_t)(tput_bytes - sent);
			ssize_t w = io_send(fd, ssl, pattern + sent % BLOCK, n);
			if (w > 0)
				sent += w;
			if (sent == tput_bytes)
				io_end(fd, ssl);
		}
		/* TLS may hold a record already read: read until it waits */
		while (p.revents & (POLLIN | POLLHUP | POLLERR) && got < tput_bytes) {
			ssize_t r = io_recv(fd, ssl, in, sizeof(in));
			if (r < 0 && errno == EAGAIN)
				break;
			if (r == 0 || r < 0) {
				printf("mb_s=0 err_%s=1 got=%lld sent=%lld\n",
				       r < 0 && errno == ECONNREFUSED ? "connect" : "reset", got, sent);
				return 1;
			}
			if (r > 0 && memcmp(in, pattern + got % BLOCK, (size_t)r) != 0) {
				printf("mb_s=0 err_mismatch=1 near=%lld\n", got);
				return 1;
			}
			if (r > 0)
				got += r;
		}
	}
	double elapsed = now_s() - started_at;
	printf("bytes=%lld seconds=%.3f mb_s=%.1f\n", got, elapsed, (double)got / elapsed / 1e6);
	close(fd);
	return 0;
}

static int hold(void)
{
	int *fds = calloc((size_t)clients, sizeof(int));
	int held = 0;
	char c = 'h';

	started_at = now_s();
	/* One connection after another, each confirmed by its handler echoing a
	 * byte: every held connection has a handler running, whatever the
	 * server's listen backlog (a small one would otherwise leave some
	 * connections unaccepted, waiting for a SYN-ACK retry).  Non-blocking,
	 * so that a server that stops accepting cannot stall the benchmark past
	 * its time limit. */
	for (int i = 0; fds != NULL && i < clients; i++) {
		int error = 0;
		socklen_t len = sizeof(error);
		int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		fds[i] = fd;
		if (fd < 0)
			break;
		if ((connect(fd, (struct sockaddr *)&target, target_len) < 0 && errno != EINPROGRESS &&
		     errno != EAGAIN) ||
		    !wait_fd(fd, POLLOUT, left_ms()) ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0 || error != 0 ||
		    write(fd, &c, 1) != 1 || !wait_fd(fd, POLLIN, left_ms()) || read(fd, &c, 1) != 1)
			break;
		held++;
	}
	printf("held=%d\n", held);
	fflush(stdout);
	/* until stdin ends or the time limit */
	struct pollfd p = { .fd = 0, .events = POLLIN };
	if (poll(&p, 1, left_ms()) > 0)
		(void)!read(0, &c, 1);
	for (int i = 0; fds != NULL && i < clients; i++)
		if (fds[i] > 0)
			close(fds[i]);
	free(fds);
	return held == clients ? 0 : 1;
}

int main(int argc, char **argv)
{
	int opt;

	if (argc < 2) {
		fprintf(stderr, "usage: load conn|tput|dgram|ws|wsmsg|hold [options] ADDRESS\n");
		return 2;
	}
	const char *mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "n:c:q:x:T:b:w:r:S")) != -1) {
		switch (opt) {
		case 'n': total = atol(optarg); break;
		case 'c': clients = atoi(optarg); break;
		case 'q': request = optarg; break;
		case 'x': expect = optarg; break;
		case 'T': limit_s = atof(optarg); break;
		case 'b': tput_bytes = atoll(optarg); break;
		case 'w': reply_wait_ms = atoi(optarg); break;
		case 'r': dgram_tries = atoi(optarg); break;
		case 'S':
			tls = SSL_CTX_new(TLS_client_method());
			if (tls == NULL)
				return 2;
			SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL);
			break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || total < 1 || clients < 1) {
		fprintf(stderr, "load: one ADDRESS expected\n");
		return 2;
	}
	any_reply = strcmp(expect, "*") == 0;
	bool is_dgram = strcmp(mode, "dgram") == 0;
	parse_address(argv[optind], is_dgram ? SOCK_DGRAM : SOCK_STREAM);
	ws_mode = strcmp(mode, "ws") == 0 ? 1 : strcmp(mode, "wsmsg") == 0 ? 2 : 0;
	if (strcmp(mode, "conn") == 0 || is_dgram || ws_mode != 0)
		return run_clients(is_dgram);
	if (strcmp(mode, "tput") == 0)
		return throughput();
	if (strcmp(mode, "hold") == 0)
		return hold();
	fprintf(stderr, "load: unknown mode '%s'\n", mode);
	return 2;
}
