/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS over OpenSSL 3: TLS 1.2 and later only; ALPN passed through (the
 * client's first protocol is taken, and the handler told which); client
 * certificates required and verified with --tls-client-ca.
 */
#include "tls.h"
#include "loop.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tls_openssl.h"

struct tls_server {
	SSL_CTX *ctx;
	unsigned char alpn[256];     /* the handler's protocols, in the wire form */
	unsigned int alpn_len;
};

struct tls_conn {
	SSL *ssl;
	int fd;
	bool handed_over;            /* the handler has the socket (kTLS) */
	struct layer layer;          /* what a relay reads and writes */
	char *client_dn;             /* "SSL_CLIENT_S_DN=..." (RFC 2253), or NULL */
};

/* The reason OpenSSL gives for what just failed, or fallback. */
static const char *openssl_reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	return r != NULL ? r : fallback;
}

/* ALPN: of the protocols the client offers, the first that the handler
 * speaks (--tls-alpn); none: no protocol is agreed, which clients take as
 * their default (HTTP/1.1 for curl). */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
	const struct tls_server *t = arg;
	unsigned char *chosen = NULL;

	(void)ssl;
	if (SSL_select_next_proto(&chosen, outlen, in, inlen, t->alpn, t->alpn_len) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = chosen;
	return SSL_TLSEXT_ERR_OK;
}

/* "h2,http/1.1" in the wire form: each name after its length. */
static int alpn_wire(struct tls_server *t, const char *list, struct ss_error *err)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		if (n == 0 || n > 255 || t->alpn_len + 1 + n > sizeof(t->alpn)) {
			ss_error_set(err, SS_ERR_USAGE, "--tls-alpn '%s': protocol names are 1 to 255 bytes, "
			             "separated by commas, 255 bytes in all", list);
			return -1;
		}
		t->alpn[t->alpn_len++] = (unsigned char)n;
		memcpy(t->alpn + t->alpn_len, p, n);
		t->alpn_len += (unsigned int)n;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* A self-signed certificate for localhost, 127.0.0.1 and ::1, on a new
 * P-256 key, valid from an hour ago for 30 days. */
static int throwaway(SSL_CTX *ctx, struct ss_error *err)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *san = NULL;
	unsigned char serial[16];
	int ok = 0;

	if (key == NULL || x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	X509_NAME *name = X509_get_subject_name(x);
	ok = ok && X509_set_version(x, 2) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) && X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0) &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"sockserve --tls", -1, -1,
	                                0) &&
	     X509_set_issuer_name(x, name) && X509_set_pubkey(x, key);
	if (ok) {
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
		ok = san != NULL && X509_add_ext(x, san, -1) && X509_sign(x, key, EVP_sha256()) > 0 &&
		     SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
	}
out:
	if (!ok)
		ss_error_set(err, SS_ERR_START, "cannot make a throw-away certificate: %s",
		             openssl_reason("out of memory"));
	X509_EXTENSION_free(san);
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

/* Why a file OpenSSL could not use is no good: the system's reason when
 * it cannot be read, else what (and, in brackets, OpenSSL's first reason). */
static const char *file_problem(const char *path, const char *what, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned long e = ERR_peek_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(buf, size, "%s", strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		snprintf(buf, size, "%s", strerror(EISDIR));
	} else if (r != NULL) {
		snprintf(buf, size, "%s (%s)", what, r);
	} else {
		snprintf(buf, size, "%s", what);
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Never a prompt on the terminal: an encrypted key is refused. */
static int no_pass_phrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)asked = true;
	return -1;
}

static int load_files(SSL_CTX *ctx, const struct tls_options *o, struct ss_error *err)
{
	char why[256];
	bool asked = false;

	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
		ss_error_set(err, SS_ERR_START, "cannot use the certificate %s: %s", o->cert,
		             file_problem(o->cert, "not a PEM certificate", why, sizeof(why)));
		return -1;
	}
	SSL_CTX_set_default_passwd_cb(ctx, no_pass_phrase);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked);
	int loaded = SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (loaded != 1) {
		if (asked)
			ss_error_set(err, SS_ERR_START, "the key %s is encrypted, and sockserve never asks for a pass phrase: "
			             "decrypt it (openssl pkey -in %s -out PLAIN.pem) and keep that file readable only "
			             "to the server's user", o->key, o->key);
		else if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			ss_error_set(err, SS_ERR_START, "the key %s is not the certificate %s's", o->key, o->cert);
		else
			ss_error_set(err, SS_ERR_START, "cannot use the key %s: %s", o->key,
			             file_problem(o->key, "not a PEM private key", why, sizeof(why)));
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ss_error_set(err, SS_ERR_START, "the key %s is not the certificate %s's", o->key, o->cert);
		return -1;
	}
	return 0;
}

static int load_client_ca(SSL_CTX *ctx, const char *file, struct ss_error *err)
{
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(file);

	if (names == NULL || SSL_CTX_load_verify_locations(ctx, file, NULL) != 1) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		char why[256];
		ss_error_set(err, SS_ERR_START, "cannot use the client CA %s: %s", file,
		             file_problem(file, "no PEM certificate in it", why, sizeof(why)));
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

static void fingerprint_of(SSL_CTX *ctx, char *buf, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	X509 *x = SSL_CTX_get0_certificate(ctx);
	size_t at = 0;

	buf[0] = '\0';
	if (x == NULL || X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (unsigned int i = 0; i < n && at + 4 <= size; i++)
		at += (size_t)snprintf(buf + at, size - at, i ? ":%02X" : "%02X", md[i]);
}

struct tls_server *tls_server_new(const struct tls_options *o, char *fingerprint, size_t size,
                                  struct ss_error *err)
{
	struct tls_server *t;

	if (tls_load(err) < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL || (t->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ss_error_set(err, SS_ERR_START, "cannot set up TLS: %s", openssl_reason("out of memory"));
		free(t);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	/* The relay writes what it has: partial writes, from a buffer that
	 * may have moved on. */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* A client that closes without close_notify has ended its input, as
	 * a plain connection would: the handler sees end of file, and the
	 * answer still goes back. */
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Without kTLS, OpenSSL reads what the socket has, up to four records,
	 * in one system call rather than two a record (a header, then the rest).
	 * Not with kTLS: bytes read ahead of the handshake's end would keep the
	 * kernel from taking the receiving side. */
	if (!o->ktls) {
		SSL_CTX_set_read_ahead(t->ctx, 1);
		SSL_CTX_set_default_read_buffer_len(t->ctx, 4 * (16384 + 512));
	}
	/* Only where the kernel has the "tls" upper layer: elsewhere each
	 * connection would try it in vain. */
	if (o->ktls)
		SSL_CTX_set_options(t->ctx, SSL_OP_ENABLE_KTLS);
	if (o->alpn != NULL) {
		if (alpn_wire(t, o->alpn, err) < 0) {
			tls_server_free(t);
			return NULL;
		}
		SSL_CTX_set_alpn_select_cb(t->ctx, select_alpn, t);
	}
	if ((o->cert != NULL ? load_files(t->ctx, o, err) : throwaway(t->ctx, err)) < 0 ||
	    (o->client_ca != NULL && load_client_ca(t->ctx, o->client_ca, err) < 0)) {
		tls_server_free(t);
		return NULL;
	}
	fingerprint_of(t->ctx, fingerprint, size);
	return t;
}

void tls_server_free(struct tls_server *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

bool tls_kernel_offers_ktls(void)
{
	char buf[256];
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "re");
	bool found = false;

	if (f == NULL)
		return false;
	if (fgets(buf, sizeof(buf), f) != NULL)
		for (char *w = strtok(buf, " \n"); w != NULL && !found; w = strtok(NULL, " \n"))
			found = strcmp(w, "tls") == 0;
	fclose(f);
	return found;
}

struct tls_conn *tls_conn_new(struct tls_server *t, int fd)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	/* TLS writes records, several to a flight (the tickets after the
	 * handshake, an answer and close_notify): Nagle's algorithm would hold
	 * each one after the first for the client's delayed ACK.  (A unix
	 * socket has no such option: the failure is ignored.) */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (c == NULL || set_nonblocking(fd, true) < 0 ||
	    (c->ssl = SSL_new(t->ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		tls_conn_free(c);
		return NULL;
	}
	c->fd = fd;
	return c;
}

void tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	free(c->client_dn);
	free(c);
}

/* The client certificate's subject, whole, in RFC 2253 form (control
 * bytes and bytes past ASCII escaped as \XX), as the variable: made once,
 * kept with the connection, refused past TLS_DN_MAX. */
static enum tls_step client_dn(struct tls_conn *c, char *why, size_t size)
{
	static const char name[] = "SSL_CLIENT_S_DN=";
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	BIO *b;
	char *text = NULL;
	long n;

	if (peer == NULL)
		return TLS_DONE;
	b = BIO_new(BIO_s_mem());
	if (b == NULL || X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0 ||
	    (n = BIO_get_mem_data(b, &text)) < 0) {
		BIO_free(b);
		snprintf(why, size, "cannot read the client certificate's subject: %s", openssl_reason("out of memory"));
		return TLS_FAILED;
	}
	if (n > TLS_DN_MAX) {
		BIO_free(b);
		snprintf(why, size, "the client certificate's subject is %ld bytes long (at most %d)", n, TLS_DN_MAX);
		return TLS_FAILED;
	}
	c->client_dn = malloc(sizeof(name) + (size_t)n);
	if (c->client_dn != NULL) {
		memcpy(c->client_dn, name, sizeof(name) - 1);
		memcpy(c->client_dn + sizeof(name) - 1, text, (size_t)n);
		c->client_dn[sizeof(name) - 1 + (size_t)n] = '\0';
	}
	BIO_free(b);
	if (c->client_dn == NULL) {
		snprintf(why, size, "out of memory for the client certificate's subject");
		return TLS_FAILED;
	}
	return TLS_DONE;
}

enum tls_step tls_handshake(struct tls_conn *c, char *why, size_t size)
{
	ERR_clear_error();
	int rc = SSL_accept(c->ssl);
	if (rc == 1)
		return client_dn(c, why, size);
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		return TLS_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return TLS_WANT_WRITE;
	long verify = SSL_get_verify_result(c->ssl);
	if (verify != X509_V_OK)
		snprintf(why, size, "the client certificate was refused: %s", X509_verify_cert_error_string(verify));
	else if (e == SSL_ERROR_SSL)
		snprintf(why, size, "TLS handshake failed: %s", openssl_reason("a protocol error"));
	else if (rc == 0 || errno == 0 || errno == ECONNRESET || errno == EPIPE)
		snprintf(why, size, "the client closed the connection during the TLS handshake");
	else
		snprintf(why, size, "TLS handshake failed: %s", strerror(errno));
	ERR_clear_error();
	return TLS_FAILED;
}

/* The client's server name (SNI), if it is a host name. */
static const char *server_name(const struct tls_conn *c)
{
	const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);

	return sni != NULL && host_name_valid(sni) ? sni : NULL;
}

void tls_describe(const struct tls_conn *c, struct env_block *env)
{
	const char *sni = server_name(c);
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;

	env_add(env, "SSL_PROTOCOL", "%s", SSL_get_version(c->ssl));
	env_add(env, "SSL_CIPHER", "%s", SSL_get_cipher_name(c->ssl));
	if (sni != NULL)
		env_add(env, "SSL_SERVER_NAME", "%s", sni);
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn_len > 0)
		env_add(env, "SSL_ALPN", "%.*s", (int)alpn_len, (const char *)alpn);
	if (c->client_dn != NULL)
		env_add_entry(env, c->client_dn);
}

void tls_summary(const struct tls_conn *c, bool hand_over, char *buf, size_t size)
{
	bool sends = BIO_get_ktls_send(SSL_get_wbio(c->ssl)), receives = BIO_get_ktls_recv(SSL_get_rbio(c->ssl));

	snprintf(buf, size, "%s %s, %s", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
	         hand_over && tls_in_kernel(c) ? "kTLS (the handler gets the socket)"
	         : sends && receives           ? "relayed (kTLS both ways)"
	         : sends                       ? "relayed (kTLS sends, OpenSSL receives)"
	         : receives                    ? "relayed (kTLS receives, OpenSSL sends)"
	                                       : "relayed");
}

bool tls_in_kernel(const struct tls_conn *c)
{
	return BIO_get_ktls_send(SSL_get_wbio(c->ssl)) && BIO_get_ktls_recv(SSL_get_rbio(c->ssl)) &&
	       !SSL_has_pending(c->ssl);
}

int tls_hand_over(struct tls_conn *c)
{
	if (set_nonblocking(c->fd, false) < 0)
		return errno;
	c->handed_over = true;
	return 0;
}

bool tls_handed_over(const struct tls_conn *c)
{
	return c->handed_over;
}

void tls_close_notify(struct tls_conn *c)
{
	/* The kernel frames the alert (a record of its own type); a socket
	 * whose buffer is full, or a client that has gone, gets none. */
	if (set_nonblocking(c->fd, true) == 0) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
}

/* ---- the connection as the bottom layer of a relay (relay.h) ---- */

/* What SSL_read or SSL_write returned, as read(2) and write(2) return it:
 * bytes; -1 with EAGAIN when it waits (wants says for what); 0 at the
 * client's close_notify, or at its end without one (the handler sees end
 * of file either way); else -1 with fail. */
static ssize_t ssl_result(struct layer *l, SSL *ssl, int n, int fail)
{
	int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);

	l->wants = e == SSL_ERROR_WANT_READ ? EPOLLIN : e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0;
	if (n > 0)
		return n;
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = l->wants != 0 ? EAGAIN : fail;
	return -1;
}

static ssize_t layer_read(struct layer *l, void *buf, size_t size)
{
	struct tls_conn *c = l->state;

	ERR_clear_error();
	return ssl_result(l, c->ssl, SSL_read(c->ssl, buf, size > INT_MAX ? INT_MAX : (int)size), ECONNRESET);
}

static ssize_t layer_write(struct layer *l, const void *buf, size_t size)
{
	struct tls_conn *c = l->state;

	ERR_clear_error();
	return ssl_result(l, c->ssl, SSL_write(c->ssl, buf, size > INT_MAX ? INT_MAX : (int)size), EPIPE);
}

/* close_notify, then the socket's half-close: the client sees its end of
 * file.  Only a full socket makes it wait. */
static int layer_close(struct layer *l)
{
	struct tls_conn *c = l->state;

	ERR_clear_error();
	int n = SSL_shutdown(c->ssl);
	l->wants = n < 0 && SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0;
	ERR_clear_error();
	if (l->wants != 0) {
		errno = EAGAIN;
		return -1;
	}
	shutdown(c->fd, SHUT_WR);
	return 0;
}

/* kTLS: the kernel decrypts what it receives, so the plaintext goes from
 * the socket to the handler's stdin without passing through sockserve.  A
 * record that is not data (close_notify, an alert) stops splice(2) with EIO:
 * SSL_read then takes it. */
static ssize_t layer_splice_in(struct layer *l, int to, size_t size)
{
	struct tls_conn *c = l->state;

	if (!BIO_get_ktls_recv(SSL_get_rbio(c->ssl)) || SSL_has_pending(c->ssl)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	ssize_t n = splice(c->fd, NULL, to, NULL, size, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n < 0 && errno == EIO)
		errno = EOPNOTSUPP;
	return n;
}

/* kTLS: the kernel encrypts what it sends. */
static ssize_t layer_splice_out(struct layer *l, int from, size_t size)
{
	struct tls_conn *c = l->state;

	if (!BIO_get_ktls_send(SSL_get_wbio(c->ssl))) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return splice(from, NULL, c->fd, NULL, size, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

static const struct layer_ops tls_layer_ops = {
	.name = "tls",
	.read = layer_read,
	.write = layer_write,
	.close = layer_close,
	.splice_in = layer_splice_in,
	.splice_out = layer_splice_out,
};

struct layer *tls_layer(struct tls_conn *c)
{
	c->layer = (struct layer){ .ops = &tls_layer_ops, .fd = c->fd, .state = c };
	return &c->layer;
}

struct layer *connection_layer(struct tls_conn *tls, int fd, struct layer *plain)
{
	if (tls != NULL)
		return tls_layer(tls);
	layer_socket(plain, fd);
	return plain;
}
