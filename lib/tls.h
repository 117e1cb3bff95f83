/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS (a leaf, over OpenSSL 3): the server's context (a certificate and key
 * from files, or a throw-away self-signed one), a connection's handshake one
 * non-blocking step at a time, the variables it gives the handler, and the
 * connection as a relay's layer.
 */
#ifndef SS_TLS_H
#define SS_TLS_H

#include "env.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>

/* The longest client certificate subject (RFC 2253 text) passed on: far
 * above real certificates' (a few hundred bytes); longer is refused. */
#define TLS_DN_MAX 16384

struct tls_server;   /* the server's context */
struct tls_conn;     /* one connection */

struct tls_options {
	const char *cert, *key;   /* PEM files; both NULL: a throw-away certificate */
	const char *client_ca;    /* PEM: client certificates required, verified by it */
	const char *alpn;         /* the handler's ALPN protocols, comma-separated (NULL: none) */
	bool ktls;                /* let OpenSSL give the record layer to the kernel (kTLS) */
};

/* Make the context; fingerprint gets the certificate's SHA-256 (hex pairs
 * with colons, as openssl x509 -fingerprint prints it). */
struct tls_server *tls_server_new(const struct tls_options *o, char *fingerprint, size_t size,
                                  struct ss_error *err);
void tls_server_free(struct tls_server *t);
/* The kernel offers kTLS (the "tls" upper layer protocol). */
bool tls_kernel_offers_ktls(void);

struct tls_conn *tls_conn_new(struct tls_server *t, int fd);
void tls_conn_free(struct tls_conn *c);

enum tls_step { TLS_DONE, TLS_WANT_READ, TLS_WANT_WRITE, TLS_FAILED };
/* One step of the handshake on a non-blocking socket; why says what failed. */
enum tls_step tls_handshake(struct tls_conn *c, char *why, size_t size);
/* SSL_PROTOCOL, SSL_CIPHER, SSL_SERVER_NAME (only a valid host name),
 * SSL_ALPN, SSL_CLIENT_S_DN (whole; the connection keeps its text). */
void tls_describe(const struct tls_conn *c, struct env_block *env);
/* e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384, relayed", for the logs (hand_over:
 * --tls-hand-over). */
void tls_summary(const struct tls_conn *c, bool hand_over, char *buf, size_t size);

/* After the handshake: the kernel took both directions of the record layer
 * (kTLS) and OpenSSL holds nothing unread, so that the socket itself can be
 * the handler's. */
bool tls_in_kernel(const struct tls_conn *c);
/* Give such a connection to the handler: blocking again.  0 or an errno
 * value. */
int tls_hand_over(struct tls_conn *c);
/* Whether tls_hand_over() gave it. */
bool tls_handed_over(const struct tls_conn *c);
/* Once the handler of a handed-over connection has ended: close_notify, if
 * the socket takes it at once (it never blocks). */
void tls_close_notify(struct tls_conn *c);

/* The connection as the bottom layer of a relay (relay.h): SSL_read and
 * SSL_write on readiness (the kernel does the cipher where it took the
 * record layer), close_notify then a half-close at the end.  Kept in the
 * connection. */
struct layer *tls_layer(struct tls_conn *c);
/* A connection's bottom layer: its TLS one, or (tls NULL) a plain one on fd
 * made in *plain. */
struct layer *connection_layer(struct tls_conn *tls, int fd, struct layer *plain);

#endif
