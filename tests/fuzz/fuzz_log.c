/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a log line carrying bytes a client chose (lib/log.c).  The
 * bytes go in as a field and inside the message, through the real logger,
 * in text and in JSON.  Out must come exactly one line: a text line with no
 * control byte, valid UTF-8, that unescapes back to the message; a JSON line
 * that is valid UTF-8 and one JSON object whose field decodes to the bytes
 * (each byte that is not UTF-8 as U+FFFD).
 */
#include "../../lib/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static bool valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_char(s + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* What one call of the logger wrote. */
static size_t written(int fd, char *buf, size_t size)
{
	off_t end = lseek(fd, 0, SEEK_CUR);
	if (end <= 0 || (size_t)end >= size)
		abort();
	if (pread(fd, buf, (size_t)end, 0) != end)
		abort();
	buf[end] = '\0';
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return (size_t)end;
}

/* Exactly one line, ending in its newline, with no other control byte. */
static void one_line(const char *line, size_t len)
{
	if (len == 0 || line[len - 1] != '\n')
		abort();
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			abort();
	}
	if (!valid_utf8((const unsigned char *)line, len))
		abort();
}

/* Undo the text escaping; -1 if an escape is malformed. */
static long unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i >= n)
			return -1;
		switch (s[i]) {
		case '\\': out[o++] = '\\'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'x': {
			char hex[3] = { 0 };
			if (i + 2 >= n)
				return -1;
			memcpy(hex, s + i + 1, 2);
			char *end;
			long v = strtol(hex, &end, 16);
			if (*end != '\0' || end != hex + 2)
				return -1;
			out[o++] = (char)v;
			i += 2;
			break;
		}
		default: return -1;
		}
	}
	return (long)o;
}

/* A minimal JSON reader: one object of string keys and string or number
 * values; the "remote" value decoded into remote. */
static const char *json_string(const char *p, char *out, size_t *len)
{
	size_t o = 0;

	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c == '\0' || c < 0x20)
			return NULL;
		if (c != '\\') {
			out[o++] = (char)c;
			p++;
			continue;
		}
		p++;
		if (*p == '"' || *p == '\\' || *p == '/') {
			out[o++] = *p++;
		} else if (*p == 'u') {
			char hex[5] = { 0 };
			memcpy(hex, p + 1, 4);
			char *end;
			long v = strtol(hex, &end, 16);
			if (end != hex + 4 || v >= 0x800)
				return NULL;
			if (v < 0x80) {
				out[o++] = (char)v;
			} else {
				out[o++] = (char)(0xc0 | v >> 6);
				out[o++] = (char)(0x80 | (v & 0x3f));
			}
			p += 5;
		} else {
			return NULL;
		}
	}
	*len = o;
	return p + 1;
}

/* data NULL: the line need only be one valid object. */
static void check_json(const char *line, size_t len, const unsigned char *data, size_t size)
{
	char *key = malloc(len + 1), *value = malloc(len * 2 + 1);
	const char *p = line;
	bool seen = false;
	size_t klen, vlen;

	if (*p++ != '{')
		abort();
	for (;;) {
		if ((p = json_string(p, key, &klen)) == NULL || *p++ != ':')
			abort();
		if (*p == '"') {
			if ((p = json_string(p, value, &vlen)) == NULL)
				abort();
			if (data != NULL && klen == 6 && memcmp(key, "remote", 6) == 0) {
				seen = true;
				/* the bytes, each that is not UTF-8 as U+FFFD, whole or cut
				 * short at a character */
				size_t v = 0;
				for (size_t i = 0; i < size && v < vlen;) {
					size_t k = utf8_char(data + i, size - i);
					const char *want = k ? (const char *)data + i : "\xef\xbf\xbd";
					size_t wlen = k ? k : 3;
					if (v + wlen > vlen || memcmp(value + v, want, wlen) != 0)
						abort();
					v += wlen;
					i += k ? k : 1;
				}
				if (v != vlen)
					abort();
			}
		} else {
			p += strspn(p, "0123456789.-");
		}
		if (*p == '}')
			break;
		if (*p++ != ',')
			abort();
	}
	if ((data != NULL && !seen) || p[1] != '\n' || p[2] != '\0')
		abort();
	free(key);
	free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char out[8192], back[8192];
	struct logger log;

	/* short enough that every escape of it fits a line whole */
	if (size > 200)
		return 0;
	/* the client's text: no NUL inside (a C string, as every field is) */
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	size = strlen(text);
	if (fd < 0 && (fd = memfd_create("log", 0)) < 0)
		abort();

	log_init(&log, SS_LOG_DEBUG, SS_LOG_TEXT);
	log_close(&log);
	log.fd = fd;
	log_event(&log, SS_LOG_INFO, "probe", LOG_FIELDS(FSTR("remote", text)), "%s: taken", text);
	size_t len = written(fd, out, sizeof(out));
	one_line(out, len);
	static const char prefix[] = "sockserve: ";
	if (strncmp(out, prefix, sizeof(prefix) - 1) != 0)
		abort();
	long n = unescape(out + sizeof(prefix) - 1, len - 1 - (sizeof(prefix) - 1), back);
	if (n < 0 || (size_t)n != size + 7 || memcmp(back, text, size) != 0 || memcmp(back + size, ": taken", 7) != 0)
		abort();

	log_init(&log, SS_LOG_DEBUG, SS_LOG_JSON);
	log_close(&log);
	log.fd = fd;
	log_event(&log, SS_LOG_INFO, "probe", LOG_FIELDS(FSTR("remote", text)), "%s: taken", text);
	len = written(fd, out, sizeof(out));
	one_line(out, len);
	check_json(out, len, (const unsigned char *)text, size);

	/* far too long for a line: still one valid object */
	char *many = malloc(size * 8 + 1);
	for (int k = 0; k < 8; k++)
		memcpy(many + k * size, text, size);
	many[size * 8] = '\0';
	log_event(&log, SS_LOG_INFO, "probe", LOG_FIELDS(FSTR("remote", many), FSTR("via", many)), "%s%s: taken",
	          many, many);
	len = written(fd, out, sizeof(out));
	one_line(out, len);
	check_json(out, len, NULL, 0);
	free(many);
	free(text);
	return 0;
}
