/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Sockets handed in (a leaf): ADDRESS fd:N (inetd's fd:0 among them) and
 * systemd / systemd:NAME (the sd_listen_fds protocol: LISTEN_PID,
 * LISTEN_FDS, LISTEN_FDNAMES, descriptors from 3).  Finding one has no side
 * effect, so the config check may look before the server takes it.
 */
#ifndef SS_HANDED_H
#define SS_HANDED_H

#include "error.h"

#include <stdbool.h>

struct handed {
	int fd;
	int family;         /* SO_DOMAIN */
	int socktype;       /* SO_TYPE */
	bool listening;     /* SO_ACCEPTCONN */
};

/* Whether ADDRESS is one of the handed-in forms. */
bool handed_form(const char *address);
/* Find the socket ADDRESS names: a start-up error names what is wrong (no
 * such descriptor, not a socket, no LISTEN_PID of ours, no such name). */
int handed_find(const char *address, struct handed *out, struct ss_error *err);
/* The environment variables of the protocol, which handlers do not get. */
bool handed_variable(const char *entry);

#endif
