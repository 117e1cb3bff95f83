/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sd_notify without libsystemd (a leaf): the protocol is one datagram per
 * message to the unix socket named by NOTIFY_SOCKET (a path, or @name for an
 * abstract one).
 */
#ifndef SS_NOTIFY_H
#define SS_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The counts as one line of text (SIGUSR1, STATUS=). */
#define NOTIFY_STATUS_MAX 192

struct notifier {
	int fd;                  /* -1: no NOTIFY_SOCKET, nothing to do */
	struct sockaddr_un addr;
	socklen_t len;
	char status[NOTIFY_STATUS_MAX];        /* the STATUS= last sent, and when */
	int64_t status_us;
	int64_t watchdog_us;     /* WATCHDOG=1 every this long (half WATCHDOG_USEC); 0: none */
	int64_t watchdog_next;
};

/* Read NOTIFY_SOCKET; false (and fd -1) when it is unset or unusable. */
bool notify_open(struct notifier *n);
/* Send one message ("READY=1", "STATUS=...\nREADY=1"); never blocks. */
void notify_send(const struct notifier *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* STATUS=text, unless it is what was sent last; at most once a second:
 * returns when to try again (INT64_MAX: nothing is due). */
int64_t notify_status(struct notifier *n, const char *text, int64_t now_us);
/* WATCHDOG=1 when it is due (from the event loop, so that a loop that is
 * wedged is noticed): when it is due next (INT64_MAX: never). */
int64_t notify_watchdog(struct notifier *n, int64_t now_us);
void notify_close(struct notifier *n);

#endif
