/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ADDRESS forms (a leaf): what form a text is, parsing it into a socket
 * address (resolving names), and formatting addresses for logs, the
 * --print-address line and the handler's environment.
 */
#ifndef SS_ADDR_H
#define SS_ADDR_H

#include "error.h"

#include <sys/socket.h>
#include <sys/un.h>

/* Room for "[v6]:port", a unix path or "@name", or "pid N", with its NUL. */
#define ADDR_TEXT_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) + 16)

/* What an ADDRESS looks like, before anything is resolved. */
enum addr_form {
	ADDR_PORT,        /* PORT or HOST:PORT with a host name: inet unless told */
	ADDR_IPV4,        /* a dotted-quad literal: A.B.C.D:PORT */
	ADDR_IPV6,        /* [V6]:PORT */
	ADDR_UNIX_PATH,   /* anything with a '/' */
	ADDR_UNIX_ABSTRACT, /* @NAME */
	ADDR_HANDED,      /* fd:N, systemd, systemd:NAME: a socket handed in */
};

struct address {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

enum addr_form addr_form(const char *text);
/* The family an address of that form has, given --family (AF_UNSPEC: none). */
int addr_form_family(enum addr_form form, int family);
const char *addr_family_name(int family);
const char *addr_type_name(int socktype);
/* Parse and resolve: the form's syntax errors are usage errors, resolving
 * failures start-up errors.  Conflicts with other options are the config
 * check's (config.c). */
int addr_parse(const char *text, int family, int socktype, struct address *out,
               struct ss_error *err);
/* IP:PORT, [V6]:PORT (v4-mapped shown as IPv4), /path or @name. */
void addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);
/* The IP as text (v4-mapped shown as IPv4) and the port, for inet addresses. */
void addr_ip_port(const struct sockaddr *sa, char *ip, size_t ipsize, unsigned *port);
/* The path of a unix address: "/path", "@name", or "" when unnamed. */
void addr_unix_path(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

#endif
