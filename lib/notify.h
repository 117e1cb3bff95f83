/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sd_notify without libsystemd (a leaf): the protocol is one datagram per
 * message to the unix socket named by NOTIFY_SOCKET (a path, or @name for an
 * abstract one).
 */
#ifndef SS_NOTIFY_H
#define SS_NOTIFY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

struct notifier {
	int fd;                  /* -1: no NOTIFY_SOCKET, nothing to do */
	struct sockaddr_un addr;
	socklen_t len;
};

/* Read NOTIFY_SOCKET; false (and fd -1) when it is unset or unusable. */
bool notify_open(struct notifier *n);
/* Send one message ("READY=1", "STATUS=...\nREADY=1"); never blocks. */
void notify_send(const struct notifier *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void notify_close(struct notifier *n);

#endif
