/*
 * The handler's environment: sockserve's own, less any inherited UCSPI
 * connection variables, built once at start-up; then, per request, the
 * connection variables of tcp-environ(5) written into the request's slot.
 * The per-request path allocates nothing.
 */
#include "internal.h"

#include <bsd/stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Names sockserve sets for a connection; stale copies are not passed on. */
static bool is_connection_variable(const char *entry)
{
	static const char *const prefixes[] = { "TCPLOCAL", "TCPREMOTE", "UDPLOCAL", "UDPREMOTE",
	                                        "UNIXLOCAL", "UNIXREMOTE" };
	if (strncmp(entry, "PROTO=", 6) == 0)
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(entry, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

int env_init(struct ss_server *srv, struct ss_error *err)
{
	size_t n = 0, kept = 0;

	while (environ[n] != NULL)
		n++;
	srv->env_template = reallocarray(NULL, n + 1, sizeof(char *));
	if (srv->env_template == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		if (srv->cfg.no_env || !is_connection_variable(environ[i]))
			srv->env_template[kept++] = environ[i];
	srv->env_template[kept] = NULL;
	srv->env_template_count = kept;
	return 0;
nomem:
	ss_error_set(err, SS_ERR_START, "out of memory building the environment");
	return -1;
}

int env_slot_init(struct ss_server *srv, struct request *req)
{
	size_t kept = srv->env_template_count;
	size_t vars = srv->cfg.no_env ? 0 : ENV_REQUEST_VARS;

	req->envp = reallocarray(NULL, kept + vars + 1, sizeof(char *));
	if (req->envp == NULL)
		return -1;
	memcpy(req->envp, srv->env_template, (kept + 1) * sizeof(char *));
	req->env_base = kept;
	return 0;
}

void env_free(struct ss_server *srv)
{
	if (srv->slots != NULL)
		for (unsigned s = 0; s < srv->slots_used; s++)
			free(srv->slots[s].envp);
	free(srv->env_template);
	srv->env_template = NULL;
}

void env_reset(struct request *req)
{
	req->env_used = 0;
	req->env_text_used = 0;
	req->envp[req->env_base] = NULL;
}

void env_add(struct request *req, const char *name, const char *fmt, ...)
{
	size_t room = sizeof(req->env_text) - req->env_text_used;
	char *text = req->env_text + req->env_text_used;
	va_list ap;

	if (req->env_used >= ENV_REQUEST_VARS)
		return;
	int n = snprintf(text, room, "%s=", name);
	if (n < 0 || (size_t)n >= room)
		return;
	va_start(ap, fmt);
	int m = vsnprintf(text + n, room - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= room)
		return;
	req->env_text_used += (size_t)(n + m) + 1;
	req->envp[req->env_base + req->env_used++] = text;
	req->envp[req->env_base + req->env_used] = NULL;
}
