/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The handler's environment: sockserve's own, less any inherited UCSPI
 * connection variables, built once at start-up; then, per request, the
 * connection variables of tcp-environ(5) written into the request's slot.
 * The per-request path allocates nothing.
 */
#include "env.h"
#include "handed.h"

#include <bsd/stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* The names a WebSocket upgrade sets (CGI's, and HTTP_ for each header). */
static bool is_http_variable(const char *entry)
{
	static const char *const names[] = { "REQUEST_METHOD=", "REQUEST_URI=", "PATH_INFO=", "QUERY_STRING=",
	                                     "SERVER_PROTOCOL=", "REMOTE_ADDR=", "REMOTE_PORT=", "HTTP_" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(entry, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/* Names sockserve sets for a connection (stale copies are not passed on),
 * and those of the sockets systemd handed to sockserve. */
static bool is_connection_variable(const char *entry, bool http)
{
	if (handed_variable(entry) || (http && is_http_variable(entry)))
		return true;
	static const char *const prefixes[] = { "TCPLOCAL", "TCPREMOTE", "UDPLOCAL", "UDPREMOTE",
	                                        "UNIXLOCAL", "UNIXREMOTE", "SSL_PROTOCOL=", "SSL_CIPHER=",
	                                        "SSL_SERVER_NAME=", "SSL_ALPN=", "SSL_CLIENT_S_DN=" };
	if (strncmp(entry, "PROTO=", 6) == 0)
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(entry, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

int env_template_init(struct env_template *t, bool no_env, size_t extra, struct ss_error *err)
{
	size_t n = 0, kept = 0;

	t->no_env = no_env;
	t->extra = extra;
	while (environ[n] != NULL)
		n++;
	t->vars = reallocarray(NULL, n + 1, sizeof(char *));
	if (t->vars == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory building the environment");
		return -1;
	}
	/* Inherited copies of the connection's names are never passed on,
	 * --no-env or not: a handler must not mistake them for its client's. */
	for (size_t i = 0; i < n; i++)
		if (!is_connection_variable(environ[i], extra > 0))
			t->vars[kept++] = environ[i];
	t->vars[kept] = NULL;
	t->count = kept;
	return 0;
}

bool env_name_reserved(const char *name)
{
	char entry[256];

	snprintf(entry, sizeof(entry), "%s=", name);
	return is_connection_variable(entry, true);
}

void env_template_free(struct env_template *t)
{
	free(t->vars);
	t->vars = NULL;
}

int env_block_init(const struct env_template *t, struct env_block *b)
{
	size_t vars = t->no_env ? 0 : ENV_REQUEST_VARS + t->extra;

	b->envp = reallocarray(NULL, t->count + vars + 1, sizeof(char *));
	if (b->envp == NULL)
		return -1;
	memcpy(b->envp, t->vars, (t->count + 1) * sizeof(char *));
	b->base = t->count;
	b->capacity = vars;
	b->used = 0;
	return 0;
}

void env_block_free(struct env_block *b)
{
	free(b->envp);
	b->envp = NULL;
}

void env_reset(struct env_block *b)
{
	b->used = 0;
	b->text_used = 0;
	b->envp[b->base] = NULL;
}

void env_add(struct env_block *b, const char *name, const char *fmt, ...)
{
	size_t room = sizeof(b->text) - b->text_used;
	char *text = b->text + b->text_used;
	va_list ap;

	if (b->used >= b->capacity)
		return; /* --no-env: no room at all */
	int n = snprintf(text, room, "%s=", name);
	if (n < 0 || (size_t)n >= room)
		return;
	va_start(ap, fmt);
	int m = vsnprintf(text + n, room - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= room)
		return;
	b->text_used += (size_t)(n + m) + 1;
	env_add_entry(b, text);
}

void env_add_entry(struct env_block *b, const char *entry)
{
	if (b->used >= b->capacity)
		return;
	b->envp[b->base + b->used++] = (char *)entry;
	b->envp[b->base + b->used] = NULL;
}

bool host_name_valid(const char *name)
{
	size_t total = strlen(name);

	if (total == 0 || total > 253)
		return false;
	for (const char *label = name;; label++) {
		size_t n = strspn(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
		if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
			return false;
		label += n;
		if (*label == '\0')
			return true;
		if (*label != '.')
			return false;
	}
}
