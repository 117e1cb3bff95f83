/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sd_notify(3)'s protocol, without libsystemd.
 */
#include "notify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool notify_open(struct notifier *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	n->fd = -1;
	n->watchdog_us = n->watchdog_next = 0;
	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return false;
	len = strlen(path);
	if (len < 2 || len >= sizeof(n->addr.sun_path))
		return false;
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0'; /* abstract: no terminating NUL counted */
	n->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* WatchdogSec=: WATCHDOG_USEC, for this process when WATCHDOG_PID
	 * says so (or does not say); pinged at half the interval */
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	long long us = usec != NULL ? strtoll(usec, &end, 10) : 0;
	if (usec != NULL && *end == '\0' && us > 0 &&
	    (pid == NULL || (strtoll(pid, &end, 10) == (long long)getpid() && *end == '\0')))
		n->watchdog_us = us / 2 > 0 ? us / 2 : 1;
	return n->fd >= 0;
}

void notify_send(const struct notifier *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (n->fd < 0)
		return;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len > 0)
		(void)!sendto(n->fd, msg, (size_t)len < sizeof(msg) ? (size_t)len : sizeof(msg) - 1,
		              MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->len);
}

int64_t notify_status(struct notifier *n, const char *text, int64_t now_us)
{
	if (n->fd < 0 || strcmp(text, n->status) == 0)
		return INT64_MAX;
	if (now_us - n->status_us < 1000000)
		return n->status_us + 1000000;
	notify_send(n, "STATUS=%s", text);
	snprintf(n->status, sizeof(n->status), "%s", text);
	n->status_us = now_us;
	return INT64_MAX;
}

int64_t notify_watchdog(struct notifier *n, int64_t now_us)
{
	if (n->fd < 0 || n->watchdog_us == 0)
		return INT64_MAX;
	if (now_us >= n->watchdog_next) {
		notify_send(n, "WATCHDOG=1");
		n->watchdog_next = now_us + n->watchdog_us;
	}
	return n->watchdog_next;
}

void notify_close(struct notifier *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
