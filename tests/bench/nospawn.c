/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nospawn: the network floor.  Serves 127.0.0.1:PORT forever, answering each
 * connection with "ok\n" itself and closing it: what a connection costs with
 * no process started at all.  A server that spawns a handler per connection
 * pays this and the spawn; the difference to the spawn limit is this.
 *
 *   nospawn PORT
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (argc != 2)
		return 2;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4096) < 0) {
		perror("nospawn");
		return 1;
	}
	for (;;) {
		int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0)
			continue;
		if (write(conn, "ok\n", 3) != 3)
			perror("nospawn: write");
		close(conn);
	}
}
