/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * WebSocket (RFC 6455), the parts that touch no socket (a leaf, fuzzed by
 * tests/fuzz/fuzz_ws.c): the HTTP/1.1 upgrade request and its answer, and
 * the frame header.  stage_ws.c reads the upgrade in a connection's opening;
 * filter_ws.c frames the messages as a layer of the relay.
 */
#ifndef SS_WS_H
#define SS_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The upgrade request: at most this many bytes, this many header lines;
 * the variables it gives its handler, at most. */
#define WS_REQUEST_MAX 8192
#define WS_HEADERS_MAX 64
#define WS_ENV_VARS (7 + WS_HEADERS_MAX)

struct ws_request {
	char *method, *uri, *version;  /* NUL-terminated, in the parsed buffer */
	unsigned nheaders;
	struct {
		char *name, *value;        /* the value without its blanks around */
	} header[WS_HEADERS_MAX];
};

enum ws_parse {
	WS_PARSE_MORE = 0,   /* no end of the header yet: read on */
	WS_PARSE_OK,         /* *used bytes were the request (the rest is frames) */
	WS_PARSE_BAD,        /* not HTTP/1.x as it should be: 400 */
	WS_PARSE_TOO_LONG,   /* past WS_REQUEST_MAX or WS_HEADERS_MAX: 431 */
};

/* Parse the request at buf (len bytes, changed in place: line ends and
 * separators become NULs).  Request line: a token method, a target of
 * visible ASCII, HTTP/1.0 or HTTP/1.1; header lines: a token name, a value
 * without control bytes (but tab); no folded lines. */
enum ws_parse ws_parse_request(char *buf, size_t len, struct ws_request *r, size_t *used);
/* A header's value (the first of that name, case-insensitive), or NULL. */
const char *ws_header(const struct ws_request *r, const char *name);
/* Whether a comma-separated header value holds this token (any case). */
bool ws_has_token(const char *value, const char *token);

/* What the upgrade's answer is to be. */
struct ws_verdict {
	int status;              /* 101, or 400, 403, 426 */
	const char *reason;      /* for the error's body and the log */
	char accept[32];         /* 101: Sec-WebSocket-Accept */
	char protocol[64];       /* 101: the subprotocol agreed ("": none) */
};

/* Judge a parsed request: an upgrade to WebSocket version 13 with a good
 * key, from an allowed origin (origins: a comma-separated list, NULL: any),
 * with the first subprotocol the client offers that is in protocols (NULL:
 * none is agreed). */
void ws_judge(const struct ws_request *r, const char *origins, const char *protocols, struct ws_verdict *v);
/* The answer's bytes into buf: its length (0 if size is too small). */
size_t ws_answer(const struct ws_verdict *v, char *buf, size_t size);

/* A connection's upgrade, from its opening to its end (stage_ws.c makes
 * it, filter_ws.c takes over what followed the request). */
struct ws_conn {
	char request[WS_REQUEST_MAX + 1];
	size_t len, used;            /* read; the request's own (the rest: frames) */
	struct ws_request parsed;
	struct ws_verdict verdict;
	char answer[512];
	size_t answer_len, answer_off;
	/* the handler's variables, "NAME=value" one after the other */
	char env[WS_REQUEST_MAX + 1024];
	size_t env_used;
};

/* A frame's header. */
struct ws_frame {
	bool fin;
	unsigned opcode;         /* WS_TEXT ... */
	bool masked;
	uint8_t mask[4];
	uint64_t len;
};
enum { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };
/* Close codes. */
enum { WS_NORMAL = 1000, WS_GOING_AWAY = 1001, WS_PROTOCOL_ERROR = 1002, WS_TOO_BIG = 1009, WS_SERVER_ERROR = 1011 };
#define WS_HEADER_MAX 14

/* The header at buf: its length (2 to 14), 0 if more bytes are needed, -1
 * if it breaks the protocol (reserved bits, an unknown opcode, a control
 * frame fragmented or over 125 bytes, a length not in its shortest form or
 * over 2^63). */
int ws_frame_parse(const uint8_t *buf, size_t len, struct ws_frame *f);
/* A server's frame header (never masked) into out: its length. */
size_t ws_frame_header(uint8_t *out, bool fin, unsigned opcode, uint64_t len);
/* Whether len bytes are valid UTF-8. */
bool ws_utf8_valid(const uint8_t *s, size_t len);

#endif
