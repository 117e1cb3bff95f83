/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PROXY protocol (a leaf): the header a balancer such as HAProxy puts
 * before a connection's first byte, version 1 (a text line) or 2 (binary),
 * with the client's address and the address it reached.  Reading it takes
 * exactly the header off the connection, never a byte of what follows, and
 * never waits: what has not arrived yet is looked at again when it has.
 */
#ifndef SS_PROXY_H
#define SS_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A version 1 header is at most this long, CRLF included. */
#define PROXY_V1_MAX 107
/* A version 2 header's fixed part, and the most its addresses take. */
#define PROXY_V2_FIXED 16
#define PROXY_V2_ADDRESSES_MAX 216
/* Bytes parsing ever needs to see at once. */
#define PROXY_PEEK_MAX (PROXY_V2_FIXED + PROXY_V2_ADDRESSES_MAX)

enum proxy_result {
	PROXY_MORE,   /* a header's valid beginning: wait for more bytes */
	PROXY_DONE,   /* a whole header */
	PROXY_BAD,    /* not a header (why says what is wrong) */
};

struct proxy_header {
	int version;                    /* 1 or 2 */
	size_t length;                  /* the header's bytes, v2's TLVs included */
	/* The connection's own addresses stand (v1 UNKNOWN, v2 LOCAL, or an
	 * address family other than inet): nothing below is set. */
	bool keep;
	struct sockaddr_storage source; /* the client */
	struct sockaddr_storage destination; /* the address it reached */
	socklen_t address_len;
};

/* Parse the first size bytes a connection has sent.  DONE needs only the
 * part with the addresses: a v2 header's length may be more than size (its
 * TLVs, skipped by the reader). */
enum proxy_result proxy_parse(const uint8_t *buf, size_t size, struct proxy_header *h, const char **why);

/* Reading one connection's header. */
struct proxy_reader {
	struct proxy_header header;
	bool parsed;                    /* the header is known; skip is left */
	size_t skip;                    /* its bytes still to take off the socket */
};

void proxy_reader_init(struct proxy_reader *r);
/* Take the header off the connection fd, which may be a blocking socket
 * (every call here is MSG_DONTWAIT), without touching a byte after it.
 * MORE: call again when fd is readable (edge-triggered is enough: the bytes
 * are left in the socket until the whole header is there). */
enum proxy_result proxy_read(int fd, struct proxy_reader *r, const char **why);

#endif
