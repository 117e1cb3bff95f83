/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Sockets handed in: fd:N, systemd, systemd:NAME.
 */
#include "handed.h"

#include <bsd/stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* sd_listen_fds(3): the first descriptor passed. */
#define LISTEN_FDS_START 3

bool handed_form(const char *address)
{
	return strncmp(address, "fd:", 3) == 0 || strcmp(address, "systemd") == 0 ||
	       strncmp(address, "systemd:", 8) == 0;
}

bool handed_variable(const char *entry)
{
	return strncmp(entry, "LISTEN_PID=", 11) == 0 || strncmp(entry, "LISTEN_FDS=", 11) == 0 ||
	       strncmp(entry, "LISTEN_FDNAMES=", 15) == 0;
}

static int describe(const char *address, int fd, struct handed *out, struct ss_error *err)
{
	struct stat st;
	socklen_t len = sizeof(int);
	int listening = 0;

	if (fstat(fd, &st) < 0) {
		ss_error_set(err, SS_ERR_START, "%s: descriptor %d is not open", address, fd);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		ss_error_set(err, SS_ERR_START, "%s: descriptor %d is not a socket", address, fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &out->family, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &out->socktype, &len) < 0) {
		ss_error_set(err, SS_ERR_START, "%s: cannot read the socket on descriptor %d: %s", address, fd,
		             strerror(errno));
		return -1;
	}
	len = sizeof(listening);
	out->listening = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
	out->fd = fd;
	return 0;
}

/* A whole number from an environment variable; -1 if absent or not one. */
static long long env_number(const char *name)
{
	const char *text = getenv(name), *errstr;
	long long n;

	if (text == NULL)
		return -1;
	n = strtonum(text, 0, 1 << 20, &errstr);
	return errstr == NULL ? n : -1;
}

/* The index of NAME in the colon-separated LISTEN_FDNAMES; -1 if absent. */
static long name_index(const char *names, const char *name)
{
	size_t len = strlen(name);

	for (long i = 0;; i++) {
		size_t n = strcspn(names, ":");
		if (n == len && strncmp(names, name, len) == 0)
			return i;
		if (names[n] == '\0')
			return -1;
		names += n + 1;
	}
}

static int systemd_find(const char *address, struct handed *out, struct ss_error *err)
{
	const char *name = address[7] == ':' ? address + 8 : NULL;
	long long pid = env_number("LISTEN_PID"), count = env_number("LISTEN_FDS");
	long index = 0;

	if (pid < 0) {
		ss_error_set(err, SS_ERR_START, "%s: no socket was passed (LISTEN_PID is not set)", address);
		return -1;
	}
	if (pid != (long long)getpid()) {
		ss_error_set(err, SS_ERR_START, "%s: the sockets passed are not for this process (LISTEN_PID=%lld)",
		             address, pid);
		return -1;
	}
	if (count < 1) {
		ss_error_set(err, SS_ERR_START, "%s: no socket was passed (LISTEN_FDS=%s)", address,
		             getenv("LISTEN_FDS") != NULL ? getenv("LISTEN_FDS") : "");
		return -1;
	}
	if (name != NULL) {
		const char *names = getenv("LISTEN_FDNAMES");
		index = names != NULL ? name_index(names, name) : -1;
		if (index < 0 || index >= count) {
			ss_error_set(err, SS_ERR_START, "%s: no socket named '%s' was passed (LISTEN_FDNAMES=%s)", address,
			             name, names != NULL ? names : "");
			return -1;
		}
	} else if (count > 1) {
		ss_error_set(err, SS_ERR_START, "%s: %lld sockets were passed: name one, systemd:NAME (LISTEN_FDNAMES=%s)",
		             address, count, getenv("LISTEN_FDNAMES") != NULL ? getenv("LISTEN_FDNAMES") : "");
		return -1;
	}
	return describe(address, LISTEN_FDS_START + (int)index, out, err);
}

int handed_find(const char *address, struct handed *out, struct ss_error *err)
{
	const char *errstr;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (strncmp(address, "fd:", 3) == 0) {
		long long fd = strtonum(address + 3, 0, 1 << 20, &errstr);
		if (errstr != NULL) {
			ss_error_set(err, SS_ERR_USAGE, "address '%s': expected fd:N with N a descriptor number", address);
			return -1;
		}
		return describe(address, (int)fd, out, err);
	}
	return systemd_find(address, out, err);
}
