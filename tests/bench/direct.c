/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * direct: the throughput baseline.  Listens on 127.0.0.1 (port 0), prints
 * the address, accepts one connection and execs the handler straight onto
 * it, as fds 0 and 1: the best any server can do, since nothing relays.
 *
 *   direct HANDLER [ARG...]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (argc < 2 || fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("direct");
		return 1;
	}
	printf("127.0.0.1:%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	int conn = accept(fd, NULL, NULL);
	if (conn < 0) {
		perror("direct: accept");
		return 1;
	}
	close(fd);
	dup2(conn, 0);
	dup2(conn, 1);
	close(conn);
	execv(argv[1], argv + 1);
	perror("direct: exec");
	return 127;
}
