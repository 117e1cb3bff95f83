/*
 * One line per event on stderr, written with a single write(2) so that lines
 * from many requests ending at once never interleave.  Text lines read
 * "sockserve: ..."; JSON lines are one object with stable keys.
 */
#include "log.h"

#include <stdarg.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	/* Keep one byte for the newline. */
	size_t room = sizeof(l->buf) - 1 - l->len;
	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct line *l, const char *fmt, ...)
{
	size_t room = sizeof(l->buf) - 1 - l->len;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(l->buf + l->len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n < room ? (size_t)n : room - 1;
}

static void put_json_string(struct line *l, const char *s)
{
	put(l, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			put(l, esc, 2);
		} else if (c < 0x20) {
			putf(l, "\\u%04x", c);
		} else {
			put(l, (const char *)&c, 1);
		}
	}
	put(l, "\"", 1);
}

static void emit(struct line *l)
{
	l->buf[l->len++] = '\n';
	const char *p = l->buf;
	size_t left = l->len;
	while (left > 0) {
		ssize_t n = write(STDERR_FILENO, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

void log_init(struct logger *log, int verbosity, enum ss_log_format format)
{
	log->verbosity = verbosity;
	log->format = format;
}

bool log_enabled(const struct logger *log, int level)
{
	return level <= log->verbosity;
}

static void vlog(struct logger *log, int level, const char *event,
                 const struct field *fields, size_t nfields, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));
static void vlog(struct logger *log, int level, const char *event,
                 const struct field *fields, size_t nfields, const char *fmt, va_list ap)
{
	struct line l = { .len = 0 };
	char text[LOG_LINE_MAX / 2];

	if (!log_enabled(log, level))
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	if (log->format == SS_LOG_TEXT) {
		putf(&l, "sockserve: %s", text);
		emit(&l);
		return;
	}
	put(&l, "{\"event\":", 9);
	put_json_string(&l, event);
	for (size_t i = 0; i < nfields; i++) {
		put(&l, ",", 1);
		put_json_string(&l, fields[i].key);
		put(&l, ":", 1);
		switch (fields[i].type) {
		case F_STR: put_json_string(&l, fields[i].s); break;
		case F_INT: putf(&l, "%lld", fields[i].i); break;
		case F_MS: putf(&l, "%.3f", fields[i].ms); break;
		}
	}
	put(&l, ",\"message\":", 11);
	put_json_string(&l, text);
	put(&l, "}", 1);
	emit(&l);
}

void log_event(struct logger *log, int level, const char *event,
               const struct field *fields, size_t nfields, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(log, level, event, fields, nfields, fmt, ap);
	va_end(ap);
}

void log_msg(struct logger *log, int level, const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(log, level, event, NULL, 0, fmt, ap);
	va_end(ap);
}
