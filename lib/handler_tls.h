/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TLS handler's server-wide state, for the TLS opening stage.
 */
#ifndef SS_HANDLER_TLS_H
#define SS_HANDLER_TLS_H

struct view;
struct tls_server;

/* The server's TLS context: NULL when connections are plain. */
struct tls_server *handler_tls_context(const struct view *v);

#endif
