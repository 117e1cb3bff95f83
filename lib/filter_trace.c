/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --trace[=FILE]: every byte each way as it passes, chunk by chunk, as a
 * hexdump (hexdump -C's lines, offsets counted per direction from the
 * connection's start) under a line with the time since the request began,
 * the direction ('<' from the client, '>' to it), the peer and the count; or
 * one JSON line a chunk under --log-format=json, the bytes in hex.  A tap
 * (filter.h): it sees what reaches the wire, below the faults and above TLS,
 * so a TLS connection's trace is its plaintext.  Datagrams: each packet and
 * each reply (with what the faults did to it).
 *
 * It is written from the event loop alone, with blocking writes: a trace is
 * not dropped, so a reader that stops reading holds the relays up (a file
 * never does).
 */
#include "filter.h"
#include "log.h"
#include "loop.h"
#include "request.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct trace {
	int fd;
	bool own;       /* opened here (not stderr) */
	bool json;
	const char *name;
};

struct trace_slot {
	bool active;
	int64_t start_us;
	uint64_t offset[2]; /* bytes so far: from the client, to it */
};

/* What is written, gathered and sent in big writes. */
struct out {
	int fd;
	size_t len;
	char buf[16384];
};

static void out_flush(struct out *o)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = o->fd, .events = POLLOUT };
			(void)poll(&p, 1, 1000);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			break; /* a trace file that cannot be written: nothing to do but go on */
		}
	}
	o->len = 0;
}

static void out_put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (sizeof(o->buf) - o->len < 512)
		out_flush(o);
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < sizeof(o->buf) - o->len ? (size_t)n : sizeof(o->buf) - o->len - 1;
}

static int index_of(int dir)
{
	return dir == FROM_CLIENT ? 0 : 1;
}

/* One chunk (len 0: that direction's end), with a note (what the faults did
 * to a datagram reply; "" for none). */
static void chunk(struct trace *t, struct trace_slot *s, const struct request *req, int dir, const unsigned char *data,
                  size_t len, const char *note)
{
	static const char hex[] = "0123456789abcdef";
	struct out o = { .fd = t->fd };
	double elapsed = (double)(now_us() - s->start_us) / 1e6;
	uint64_t offset = s->offset[index_of(dir)];
	char remote[4 * ADDR_TEXT_MAX + 8];

	s->offset[index_of(dir)] += len;
	if (t->json) {
		char ts[40];
		log_time(ts, sizeof(ts), real_now_us(), false);
		log_json_string(remote, sizeof(remote), req->remote);
		out_put(&o, "{\"ts\":\"%s\",\"event\":\"trace\",\"remote\":%s,\"dir\":\"%c\",\"elapsed\":%.6f,"
		            "\"offset\":%llu,\"bytes\":%zu%s%s%s%s",
		        ts, remote, dir, elapsed, (unsigned long long)offset, len, len == 0 ? ",\"end\":true" : "",
		        note[0] ? ",\"fault\":\"" : "", note, note[0] ? "\"" : "");
		if (len > 0) {
			out_put(&o, ",\"hex\":\"");
			for (size_t i = 0; i < len; i++) {
				if (o.len + 3 >= sizeof(o.buf))
					out_flush(&o);
				o.buf[o.len++] = hex[data[i] >> 4];
				o.buf[o.len++] = hex[data[i] & 15];
			}
			out_put(&o, "\"");
		}
		out_put(&o, "}\n");
		out_flush(&o);
		return;
	}
	log_text_escape(remote, sizeof(remote), req->remote, strlen(req->remote));
	if (len == 0) {
		out_put(&o, "+%.6f %c %s end\n", elapsed, dir, remote);
		out_flush(&o);
		return;
	}
	out_put(&o, "+%.6f %c %s %zu byte%s%s%s%s\n", elapsed, dir, remote, len, len == 1 ? "" : "s",
	        note[0] ? " (" : "", note, note[0] ? ")" : "");
	/* hexdump -C's lines, written by hand: a trace of a fast transfer
	 * spends its time here */
	for (size_t line = 0; line < len; line += 16) {
		size_t n = len - line < 16 ? len - line : 16;
		uint64_t at = offset + line;
		if (sizeof(o.buf) - o.len < 80)
			out_flush(&o);
		char *w = o.buf + o.len, *start = w;
		int digits = 8; /* more past 4 GiB */
		while (digits < 16 && at >> (4 * digits) != 0)
			digits++;
		for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
			*w++ = hex[at >> shift & 15];
		*w++ = ' ';
		for (size_t i = 0; i < 16; i++) {
			if (i == 8)
				*w++ = ' ';
			*w++ = ' ';
			*w++ = i < n ? hex[data[line + i] >> 4] : ' ';
			*w++ = i < n ? hex[data[line + i] & 15] : ' ';
		}
		*w++ = ' ';
		*w++ = ' ';
		*w++ = '|';
		for (size_t i = 0; i < n; i++) {
			unsigned char c = data[line + i];
			*w++ = c >= 0x20 && c < 0x7f ? (char)c : '.';
		}
		*w++ = '|';
		*w++ = '\n';
		o.len += (size_t)(w - start);
	}
	out_flush(&o);
}

static bool trace_wanted(const struct ss_config *cfg)
{
	return cfg->trace != NULL;
}

static int trace_open(void *ctx, struct view *v, struct ss_error *err)
{
	struct trace *t = ctx;
	const char *file = v->cfg->trace;

	t->fd = -1;
	t->json = v->cfg->log_format == SS_LOG_JSON;
	t->name = file[0] != '\0' && strcmp(file, "-") != 0 ? file : "stderr";
	if (file[0] == '\0' || strcmp(file, "-") == 0) {
		t->fd = STDERR_FILENO;
		return 0;
	}
	/* Appended to, never through a symbolic link. */
	t->fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
	if (t->fd < 0) {
		ss_error_set(err, SS_ERR_START, "--trace: cannot open %s: %s", file,
		             errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return -1;
	}
	t->own = true;
	return 0;
}

static void trace_announce(void *ctx, struct view *v)
{
	struct trace *t = ctx;

	log_event(v->log, SS_LOG_INFO, "trace", LOG_FIELDS(FSTR("file", t->name)),
	          "tracing every byte each way to %s", t->name);
}

static void trace_close(void *ctx, struct view *v)
{
	struct trace *t = ctx;

	(void)v;
	if (t->own && t->fd >= 0)
		close(t->fd);
}

static void trace_start(void *ctx, void *slot, struct view *v, struct request *req)
{
	struct trace_slot *s = slot;

	(void)ctx;
	(void)v;
	*s = (struct trace_slot){ .active = true, .start_us = req->start_us };
}

static void trace_seen(void *ctx, void *slot, struct request *req, int dir, const void *data, size_t len)
{
	struct trace_slot *s = slot;

	if (s->active)
		chunk(ctx, s, req, dir, data, len, "");
}

static void trace_reply(void *ctx, void *slot, struct view *v, struct request *req, const void *data, size_t len,
                        struct reply_plan *plan)
{
	struct trace_slot *s = slot;
	char note[64] = "";

	(void)v;
	if (!s->active)
		return;
	if (plan->copies == 0)
		snprintf(note, sizeof(note), "dropped");
	else if (plan->delay_us > 0)
		snprintf(note, sizeof(note), "%ssent in %.3f s", plan->copies > 1 ? "twice, " : "",
		         (double)plan->delay_us / 1e6);
	else if (plan->copies > 1)
		snprintf(note, sizeof(note), "sent twice");
	chunk(ctx, s, req, TO_CLIENT, data, len, note);
}

static void trace_end(void *ctx, void *slot, struct view *v, struct request *req)
{
	struct trace_slot *s = slot;

	(void)ctx;
	(void)v;
	(void)req;
	s->active = false;
}

const struct filter_kind filter_trace = {
	.name = "trace",
	.wanted = trace_wanted,
	.ctx_size = sizeof(struct trace),
	.slot_size = sizeof(struct trace_slot),
	.open = trace_open,
	.announce = trace_announce,
	.close = trace_close,
	.start = trace_start,
	.seen = trace_seen,
	.reply = trace_reply,
	.end = trace_end,
};
