/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: JSON escaping of log fields (lib/log.c, log_json_string).
 * The output must be one valid JSON string that decodes back to the input,
 * each byte that is not UTF-8 as U+FFFD (or to a prefix of that, cut at a
 * character, when the buffer was too small), within the buffer.
 */
#include "../../lib/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decode a JSON string made by log_json_string; -1 if it is not one. */
static long decode(const char *json, size_t len, char *out)
{
	size_t n = 0;

	if (len < 2 || json[0] != '"' || json[len - 1] != '"')
		return -1;
	for (size_t i = 1; i < len - 1; i++) {
		unsigned char c = (unsigned char)json[i];
		if (c < 0x20 || c == 0x7f || c == '"')
			return -1;
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		if (++i >= len - 1)
			return -1;
		if (json[i] == '"' || json[i] == '\\') {
			out[n++] = json[i];
		} else if (json[i] == 'u' && i + 4 < len - 1) {
			char hex[5] = { json[i + 1], json[i + 2], json[i + 3], json[i + 4], 0 };
			char *end;
			long v = strtol(hex, &end, 16);
			if (*end != '\0' || v > 0x9f)
				return -1;
			if (v < 0x80) {
				out[n++] = (char)v;
			} else {
				/* a C1 control, in UTF-8 */
				out[n++] = (char)0xc2;
				out[n++] = (char)v;
			}
			i += 4;
		} else {
			return -1;
		}
	}
	return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t room = (size_t)data[0] * 8 + 1; /* 1 to 2041 bytes */
	char *in = malloc(size);
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	char *buf = malloc(room + 1);
	buf[room] = 'X'; /* a guard byte past the buffer */
	size_t len = log_json_string(buf, room, in);
	if (buf[room] != 'X' || (room > 0 && (len >= room || buf[len] != '\0')))
		abort();
	if (room >= 3) {
		char *back = malloc(len * 2 + 1);
		long n = decode(buf, len, back);
		/* what it must decode to: the input, U+FFFD for each byte that is
		 * not UTF-8 */
		size_t inlen = 0, left = strlen(in);
		char *want = malloc(left * 3 + 1);
		for (size_t i = 0; i < left;) {
			size_t k = utf8_char((const unsigned char *)in + i, left - i);
			if (k == 0) {
				memcpy(want + inlen, "\xef\xbf\xbd", 3);
				inlen += 3;
				i++;
			} else {
				memcpy(want + inlen, in + i, k);
				inlen += k;
				i += k;
			}
		}
		if (n < 0 || (size_t)n > inlen || memcmp(back, want, (size_t)n) != 0)
			abort();
		free(want);
		/* cut short only when the buffer is full */
		if ((size_t)n < inlen && len + 8 < room)
			abort();
		free(back);
	}
	free(buf);
	free(in);
	return 0;
}
