/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe: a handler that reports what it inherited, one "key: value" line
 * each, on stdout (the connection).  Used to check descriptor hygiene,
 * signal state, the process group and the socket's flags from inside.
 */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fds[256], n = 0;

	while (d && (e = readdir(d)) != NULL && n < 256) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd != dirfd(d))
			fds[n++] = fd;
	}
	if (d)
		closedir(d);
	/* readdir order is not numeric */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (fds[j] < fds[i]) { int t = fds[i]; fds[i] = fds[j]; fds[j] = t; }
	printf("fds:");
	for (int i = 0; i < n; i++)
		printf(" %d", fds[i]);
	printf("\n");

	sigset_t mask;
	sigprocmask(SIG_BLOCK, NULL, &mask);
	int blocked = 0;
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&mask, s) == 1)
			blocked++;
	printf("blocked: %d\n", blocked);
	printf("ignored:");
	int ignored = 0;
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			printf(" %d", s);
			ignored++;
		}
	}
	printf("%s\n", ignored ? "" : " none");
	printf("pgrp: %s\n", getpgrp() == getpid() ? "own" : "shared");
	int fl = fcntl(0, F_GETFL);
	printf("nonblock: %d\n", fl >= 0 && (fl & O_NONBLOCK) ? 1 : 0);
	struct stat in, out;
	printf("stdio: %s\n", fstat(0, &in) == 0 && fstat(1, &out) == 0 && S_ISSOCK(in.st_mode) &&
	                          in.st_ino == out.st_ino ? "one socket" : "other");
	int on = 0;
	socklen_t len = sizeof(on);
	if (getsockopt(1, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0)
		printf("nodelay: %d\n", on);
	fflush(stdout);
	return 0;
}
