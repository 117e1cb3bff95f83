/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: --ws.  The bytes are what a connection sends after it was
 * accepted: the upgrade request (lib/ws.c's parser and judge), then frames
 * (its frame header decoder).  Checked: a request is never taken from more
 * bytes than it had, a header's parts lie inside the request, every answer
 * is a whole HTTP response of a known status, a frame header's length is
 * 2 to 14 and the shorter prefixes of a header ask for more, and the header
 * sockserve would write for a frame reads back as the same frame.
 */
#include "../../lib/ws.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frames(const uint8_t *data, size_t size)
{
	for (int k = 0; k < 64 && size > 0; k++) {
		struct ws_frame f, g;
		int h = ws_frame_parse(data, size, &f);
		if (h < 0 || h == 0)
			return;
		if (h < 2 || h > WS_HEADER_MAX || (size_t)h > size)
			abort();
		/* a header's prefixes are incomplete, never another header */
		for (int p = 0; p < h; p++)
			if (ws_frame_parse(data, (size_t)p, &g) != 0)
				abort();
		uint8_t out[WS_HEADER_MAX];
		size_t n = ws_frame_header(out, f.fin, f.opcode, f.len);
		if (ws_frame_parse(out, n, &g) != (int)n || g.fin != f.fin || g.opcode != f.opcode || g.len != f.len ||
		    g.masked)
			abort();
		uint64_t skip = f.len < size - (size_t)h ? f.len : size - (size_t)h;
		data += (size_t)h + skip;
		size -= (size_t)h + skip;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct ws_request r;
	size_t used = 0;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	enum ws_parse p = ws_parse_request(buf, size, &r, &used);
	if (p == WS_PARSE_OK) {
		if (used == 0 || used > size || used > WS_REQUEST_MAX)
			abort();
		if (r.method < buf || r.uri >= buf + used || r.version >= buf + used || r.nheaders > WS_HEADERS_MAX)
			abort();
		for (unsigned i = 0; i < r.nheaders; i++)
			if (r.header[i].name < buf || r.header[i].value >= buf + used)
				abort();
		struct ws_verdict v;
		ws_judge(&r, (size & 1) ? "http://a.test,https://b.test" : NULL, (size & 2) ? "chat,v2" : NULL, &v);
		char answer[512];
		size_t n = ws_answer(&v, answer, sizeof(answer));
		if (n == 0 || strncmp(answer, "HTTP/1.1 ", 9) != 0 || strstr(answer, "\r\n\r\n") == NULL)
			abort();
		if (v.status != 101 && v.status != 400 && v.status != 403 && v.status != 426)
			abort();
		if (v.status == 101 && strlen(v.accept) != 28)
			abort();
		check_frames(data + used, size - used);
	} else if (p == WS_PARSE_MORE && size >= WS_REQUEST_MAX) {
		abort();
	}
	free(buf);
	return 0;
}
