/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ssclient: the test suite's client.  Connects to ADDRESS (HOST:PORT,
 * [V6]:PORT, /path or @name), sends its stdin, half-closes, and copies the
 * reply to stdout until end of file, all under a time limit.
 *
 *   ssclient [-t stream|seqpacket|dgram] [-w SECONDS] [-H] [-n COUNT] [-b PATH] [-s IP] ADDRESS
 *
 *   -w  give up after SECONDS (default 10): exit 3
 *   -H  hold: send nothing, do not half-close; wait for the server to close
 *   -n  make COUNT connections one after another, each sending the same
 *       input; print the last reply
 *   -b  dgram over unix: bind to PATH (so a reply can come back)
 *   -R  reset: connect, then close with RST at once (SO_LINGER 0)
 *   -s  inet: send from this source IP (127.0.0.2 and the like are loopback too)
 *
 * Exit: 0 reply read to end of file (dgram: a reply came), 1 error,
 * 3 time limit (dgram: no reply).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int socktype = SOCK_STREAM;
static const char *source_ip;
static double limit_s = 10;
static struct timespec started;

static double elapsed(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - started.tv_sec) + (double)(now.tv_nsec - started.tv_nsec) / 1e9;
}

static int left_ms(void)
{
	double left = limit_s - elapsed();
	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static void die(const char *what)
{
	fprintf(stderr, "ssclient: %s: %s\n", what, strerror(errno));
	exit(1);
}

static socklen_t parse(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (text[0] == '@' || strchr(text, '/') != NULL) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		size_t len = strlen(text);
		sun->sun_family = AF_UNIX;
		if (len >= sizeof(sun->sun_path)) {
			fprintf(stderr, "ssclient: path too long\n");
			exit(1);
		}
		memcpy(sun->sun_path, text, len);
		if (text[0] == '@') {
			sun->sun_path[0] = '\0';
			return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
		}
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	char host[256];
	const char *port;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			exit(1);
		snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon)
			exit(1);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
		port = colon + 1;
	}
	struct addrinfo hints = { .ai_socktype = socktype == SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM };
	struct addrinfo *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "ssclient: %s: %s\n", text, gai_strerror(rc));
		exit(1);
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	socklen_t len = res->ai_addrlen;
	freeaddrinfo(res);
	return len;
}

/* -s: bind the client's socket to the source IP, any port. */
static void bind_source(int fd, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (source_ip == NULL)
		return;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		len = sizeof(*sin6);
		if (inet_pton(AF_INET6, source_ip, &sin6->sin6_addr) != 1)
			errno = EINVAL, die(source_ip);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		len = sizeof(*sin);
		if (inet_pton(AF_INET, source_ip, &sin->sin_addr) != 1)
			errno = EINVAL, die(source_ip);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		die("bind");
}

static char *slurp(size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	ssize_t r;
	while (buf && (r = read(0, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (!buf)
		die("malloc");
	*len = n;
	return buf;
}

/* Wait for fd to be ready for events; exit 3 at the time limit. */
static void wait_ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int rc = poll(&p, 1, left_ms());
		if (rc > 0)
			return;
		if (rc == 0) {
			fprintf(stderr, "ssclient: timed out after %.1f s\n", limit_s);
			exit(3);
		}
		if (errno != EINTR)
			die("poll");
	}
}

/* One stream/seqpacket exchange; the reply goes to out (may be NULL). */
static int exchange(const struct sockaddr_storage *ss, socklen_t len, const char *in, size_t inlen,
                    int hold, int reset, FILE *out)
{
	int fd = socket(ss->ss_family, socktype | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	bind_source(fd, ss->ss_family);
	if (connect(fd, (const struct sockaddr *)ss, len) < 0)
		die("connect");
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		return 0;
	}
	if (!hold) {
		size_t off = 0;
		while (off < inlen) {
			wait_ready(fd, POLLOUT);
			ssize_t w = send(fd, in + off, inlen - off, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				/* The server may close early; read what it said. */
				break;
			}
			off += (size_t)w;
		}
		if (socktype == SOCK_STREAM)
			shutdown(fd, SHUT_WR);
	}
	char buf[65536];
	for (;;) {
		wait_ready(fd, POLLIN);
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			if (errno == ECONNRESET)
				break;
			die("recv");
		}
		if (r == 0)
			break;
		if (out)
			fwrite(buf, 1, (size_t)r, out), fflush(out);
	}
	close(fd);
	return 0;
}

static int datagram(const struct sockaddr_storage *ss, socklen_t len, const char *in, size_t inlen,
                    const char *bind_path)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	bind_source(fd, ss->ss_family);
	if (bind_path) {
		struct sockaddr_storage b;
		socklen_t blen = parse(bind_path, &b);
		unlink(bind_path);
		if (bind(fd, (struct sockaddr *)&b, blen) < 0)
			die("bind");
	}
	if (sendto(fd, in, inlen, 0, (const struct sockaddr *)ss, len) < 0)
		die("sendto");
	static char buf[70000];
	wait_ready(fd, POLLIN);
	ssize_t r = recv(fd, buf, sizeof(buf), 0);
	if (r < 0)
		die("recv");
	fwrite(buf, 1, (size_t)r, stdout);
	if (bind_path)
		unlink(bind_path);
	return 0;
}

int main(int argc, char **argv)
{
	int opt, hold = 0, reset = 0;
	long count = 1;
	const char *bind_path = NULL;

	clock_gettime(CLOCK_MONOTONIC, &started);
	while ((opt = getopt(argc, argv, "t:w:Hn:b:Rs:")) != -1) {
		switch (opt) {
		case 't':
			socktype = strcmp(optarg, "dgram") == 0 ? SOCK_DGRAM
			         : strcmp(optarg, "seqpacket") == 0 ? SOCK_SEQPACKET : SOCK_STREAM;
			break;
		case 'w': limit_s = atof(optarg); break;
		case 'H': hold = 1; break;
		case 'n': count = atol(optarg); break;
		case 'b': bind_path = optarg; break;
		case 'R': reset = 1; break;
		case 's': source_ip = optarg; break;
		default:
			fprintf(stderr, "usage: ssclient [-t TYPE] [-w SECONDS] [-H] [-n COUNT] [-b PATH] [-R] [-s IP] ADDRESS\n");
			return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "ssclient: one ADDRESS expected\n");
		return 1;
	}
	struct sockaddr_storage ss;
	socklen_t len = parse(argv[optind], &ss);
	size_t inlen = 0;
	char *in = hold || reset ? calloc(1, 1) : slurp(&inlen);
	if (socktype == SOCK_DGRAM)
		return datagram(&ss, len, in, inlen, bind_path);
	for (long i = 0; i < count; i++)
		exchange(&ss, len, in, inlen, hold, reset, i == count - 1 ? stdout : NULL);
	free(in);
	return 0;
}
