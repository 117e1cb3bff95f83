/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The handler's environment (a leaf): a template made once from sockserve's
 * own, less inherited connection variables, and per request slot a block
 * that adds the request's variables without allocating.
 */
#ifndef SS_ENV_H
#define SS_ENV_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>

/* Per-request connection variables: at most this many, in this much text. */
#define ENV_REQUEST_VARS 12
#define ENV_REQUEST_TEXT 1536

struct env_template {
	char **vars;        /* sockserve's environment less the UCSPI names */
	size_t count;
	bool no_env;        /* --no-env: add nothing */
	size_t extra;       /* room for more variables a request (--ws: its headers) */
};

struct env_block {
	char **envp;        /* the template, then this request's variables */
	size_t base;        /* where the request's variables start in envp */
	size_t capacity;    /* variables it has room for (0: --no-env) */
	size_t used;        /* variables added */
	size_t text_used;
	char text[ENV_REQUEST_TEXT];
};

/* extra: how many variables a request may add past ENV_REQUEST_VARS. */
int env_template_init(struct env_template *t, bool no_env, size_t extra, struct ss_error *err);
void env_template_free(struct env_template *t);
/* A slot's block, made when the slot is first used. */
int env_block_init(const struct env_template *t, struct env_block *b);
void env_block_free(struct env_block *b);
/* Start the request's variables afresh; then add them one by one. */
void env_reset(struct env_block *b);
void env_add(struct env_block *b, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Add "NAME=value" that its caller keeps until the handler has started
 * (a value too long for the block's text). */
void env_add_entry(struct env_block *b, const char *entry);
/* A host name (RFC 1123 / RFC 6066): dot-separated labels of letters,
 * digits and hyphens, 1 to 63 bytes each, no hyphen first or last, 253 bytes
 * at most, no trailing dot. */
bool host_name_valid(const char *name);
/* A name sockserve sets itself (PROTO, TCPREMOTEIP, SSL_*, --ws's CGI
 * names, HTTP_*...): no one else may set it for a handler. */
bool env_name_reserved(const char *name);

#endif
