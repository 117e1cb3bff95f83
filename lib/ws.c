/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * WebSocket's upgrade and frame header (ws.h).  SHA-1 for the accept key is
 * libmd's (which libbsd itself links).
 */
#include "ws.h"
#include "log.h"

#include <sha1.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* RFC 9110's tchar. */
static bool tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!tchar((unsigned char)*s))
			return false;
	return true;
}

/* One line (without its end) at *p, NUL-terminated: NULL at the empty line
 * that ends the header. */
static char *next_line(char **p)
{
	char *line = *p, *nl = strchr(line, '\n');

	if (nl == NULL) {
		nl = line + strlen(line);
		*p = nl;
	} else {
		*nl = '\0';
		*p = nl + 1;
	}
	if (nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	return line[0] == '\0' ? NULL : line;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

enum ws_parse ws_parse_request(char *buf, size_t len, struct ws_request *r, size_t *used)
{
	size_t end = 0;

	/* where the header ends: an empty line (CRLF, or a bare LF) */
	for (size_t i = 0; i < len && end == 0; i++) {
		if (buf[i] == '\0')
			return WS_PARSE_BAD;
		if (buf[i] == '\n' && i >= 1 && buf[i - 1] == '\n')
			end = i + 1;
		else if (buf[i] == '\n' && i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
			end = i + 1;
	}
	if (end == 0)
		return len >= WS_REQUEST_MAX ? WS_PARSE_TOO_LONG : WS_PARSE_MORE;
	if (end > WS_REQUEST_MAX)
		return WS_PARSE_TOO_LONG;
	buf[end - 1] = '\0'; /* the last LF: lines are cut at each other one */
	memset(r, 0, sizeof(*r));
	char *p = buf, *line = next_line(&p);
	if (line == NULL)
		return WS_PARSE_BAD;
	/* METHOD SP TARGET SP HTTP/1.x */
	char *sp1 = strchr(line, ' '), *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
		return WS_PARSE_BAD;
	*sp1 = *sp2 = '\0';
	r->method = line;
	r->uri = sp1 + 1;
	r->version = sp2 + 1;
	if (!token(r->method) || r->uri[0] == '\0' ||
	    (strcmp(r->version, "HTTP/1.1") != 0 && strcmp(r->version, "HTTP/1.0") != 0))
		return WS_PARSE_BAD;
	for (const unsigned char *c = (const unsigned char *)r->uri; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return WS_PARSE_BAD;
	while ((line = next_line(&p)) != NULL) {
		if (line[0] == ' ' || line[0] == '\t')
			return WS_PARSE_BAD; /* obsolete line folding */
		char *colon = strchr(line, ':');
		if (colon == NULL)
			return WS_PARSE_BAD;
		*colon = '\0';
		if (!token(line))
			return WS_PARSE_BAD;
		char *value = trim(colon + 1);
		for (const unsigned char *c = (const unsigned char *)value; *c != '\0'; c++)
			if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
				return WS_PARSE_BAD;
		if (r->nheaders == WS_HEADERS_MAX)
			return WS_PARSE_TOO_LONG;
		r->header[r->nheaders].name = line;
		r->header[r->nheaders].value = value;
		r->nheaders++;
	}
	*used = end;
	return WS_PARSE_OK;
}

const char *ws_header(const struct ws_request *r, const char *name)
{
	for (unsigned i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->header[i].name, name) == 0)
			return r->header[i].value;
	return NULL;
}

bool ws_has_token(const char *value, const char *tok)
{
	size_t n = strlen(tok);

	while (value != NULL && *value != '\0') {
		while (*value == ' ' || *value == '\t' || *value == ',')
			value++;
		size_t len = strcspn(value, ",");
		size_t k = len;
		while (k > 0 && (value[k - 1] == ' ' || value[k - 1] == '\t'))
			k--;
		if (k == n && strncasecmp(value, tok, n) == 0)
			return true;
		value += len;
	}
	return false;
}

static size_t base64(const uint8_t *in, size_t len, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
		             (i + 2 < len ? in[i + 2] : 0);
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = i + 1 < len ? abc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? abc[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

/* A key is 16 bytes in base64: 22 characters of its alphabet, then "==". */
static bool key_valid(const char *key)
{
	if (key == NULL || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
		return false;
	for (int i = 0; i < 22; i++) {
		char c = key[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	/* the last character before the padding carries 4 bits: 2 are zero */
	return strchr("AQgw", key[21]) != NULL;
}

/* Whether item is in a comma-separated list (any case). */
static bool listed(const char *list, const char *item)
{
	return item != NULL && ws_has_token(list, item);
}

void ws_judge(const struct ws_request *r, const char *origins, const char *protocols, struct ws_verdict *v)
{
	const char *upgrade = ws_header(r, "Upgrade"), *connection = ws_header(r, "Connection");
	const char *version = ws_header(r, "Sec-WebSocket-Version"), *key = ws_header(r, "Sec-WebSocket-Key");

	memset(v, 0, sizeof(*v));
	if (upgrade == NULL || !ws_has_token(upgrade, "websocket")) {
		v->status = 426;
		v->reason = "not a WebSocket upgrade";
		return;
	}
	v->status = 400;
	if (strcmp(r->method, "GET") != 0 || strcmp(r->version, "HTTP/1.1") != 0) {
		v->reason = "an upgrade is a GET in HTTP/1.1";
		return;
	}
	if (connection == NULL || !ws_has_token(connection, "upgrade")) {
		v->reason = "no Connection: upgrade";
		return;
	}
	if (version == NULL || strcmp(version, "13") != 0) {
		v->reason = "Sec-WebSocket-Version is not 13";
		return;
	}
	if (!key_valid(key)) {
		v->reason = "Sec-WebSocket-Key is not 16 bytes in base64";
		return;
	}
	if (origins != NULL && !listed(origins, ws_header(r, "Origin"))) {
		v->status = 403;
		v->reason = "its Origin is not one of --ws-origin";
		return;
	}
	const char *offered = ws_header(r, "Sec-WebSocket-Protocol");
	while (protocols != NULL && offered != NULL && *offered != '\0') {
		while (*offered == ' ' || *offered == '\t' || *offered == ',')
			offered++;
		size_t len = strcspn(offered, ", \t");
		if (len > 0 && len < sizeof(v->protocol)) {
			memcpy(v->protocol, offered, len);
			v->protocol[len] = '\0';
			if (ws_has_token(protocols, v->protocol))
				break;
			v->protocol[0] = '\0';
		}
		offered += len;
	}
	SHA1_CTX sha;
	uint8_t digest[SHA1_DIGEST_LENGTH];
	SHA1Init(&sha);
	SHA1Update(&sha, (const uint8_t *)key, strlen(key));
	SHA1Update(&sha, (const uint8_t *)GUID, sizeof(GUID) - 1);
	SHA1Final(digest, &sha);
	base64(digest, sizeof(digest), v->accept);
	v->status = 101;
	v->reason = "upgraded";
}

size_t ws_answer(const struct ws_verdict *v, char *buf, size_t size)
{
	int n;

	if (v->status == 101)
		n = snprintf(buf, size,
		             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		             "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
		             v->accept, v->protocol[0] ? "Sec-WebSocket-Protocol: " : "", v->protocol,
		             v->protocol[0] ? "\r\n" : "");
	else
		n = snprintf(buf, size,
		             "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		             "Connection: close\r\n\r\n%s\n",
		             v->status, v->status == 426 ? "Upgrade Required" : v->status == 403 ? "Forbidden"
		                      : v->status == 431 ? "Request Header Fields Too Large" : "Bad Request",
		             v->status == 426 || v->status == 400 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "",
		             strlen(v->reason) + 1, v->reason);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int ws_frame_parse(const uint8_t *buf, size_t len, struct ws_frame *f)
{
	if (len < 2)
		return 0;
	f->fin = buf[0] & 0x80;
	f->opcode = buf[0] & 0x0f;
	f->masked = buf[1] & 0x80;
	if (buf[0] & 0x70)
		return -1; /* no extension was agreed */
	if (f->opcode > WS_BINARY && f->opcode != WS_CLOSE && f->opcode != WS_PING && f->opcode != WS_PONG)
		return -1;
	uint64_t n = buf[1] & 0x7f;
	size_t at = 2;
	if (n == 126) {
		if (len < 4)
			return 0;
		n = (uint64_t)buf[2] << 8 | buf[3];
		if (n < 126)
			return -1;
		at = 4;
	} else if (n == 127) {
		if (len < 10)
			return 0;
		n = 0;
		for (int i = 2; i < 10; i++)
			n = n << 8 | buf[i];
		if (n <= 0xffff || n >> 63)
			return -1;
		at = 10;
	}
	if (f->opcode >= WS_CLOSE && (!f->fin || n > 125))
		return -1;
	if (f->masked) {
		if (len < at + 4)
			return 0;
		memcpy(f->mask, buf + at, 4);
		at += 4;
	}
	f->len = n;
	return (int)at;
}

size_t ws_frame_header(uint8_t *out, bool fin, unsigned opcode, uint64_t len)
{
	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

bool ws_utf8_valid(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_char(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}
