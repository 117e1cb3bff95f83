/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The benchmark's datagram handler: reads the request, answers "ok".  Under
 * sockserve, socat and the Python servers the request is on stdin and the
 * answer goes to stdout; udpsvd hands over the socket itself (inetd's "wait"
 * style), so there the handler receives and replies on fd 0.
 */
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	char buf[2048];
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int type;
	socklen_t tlen = sizeof(type);

	if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_DGRAM) {
		if (recvfrom(0, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len) < 0)
			return 1;
		return sendto(0, "ok\n", 3, 0, (struct sockaddr *)&peer, len) == 3 ? 0 : 1;
	}
	if (read(0, buf, sizeof(buf)) < 0)
		return 1;
	return write(1, "ok\n", 3) == 3 ? 0 : 1;
}
