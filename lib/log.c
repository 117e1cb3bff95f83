/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One line per event on stderr, written with a single write(2) so that lines
 * from many requests ending at once never interleave.  Text lines read
 * "sockserve: ..."; JSON lines are one object with stable keys, "ts" and
 * "level" first.
 *
 * Writing never blocks: a stderr that is a pipe is opened anew through
 * /proc/self/fd/2 (a file description of sockserve's own, so the handlers'
 * --stderr=inherit descriptor keeps its blocking mode) and made non-blocking;
 * a socket is written with MSG_DONTWAIT.  A line that does not fit is lost
 * and counted; the count is reported once stderr takes lines again.  Lines
 * are at most LOG_LINE_MAX bytes, under PIPE_BUF: whole or not at all.
 */
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
/* While lines are lost, how often to try to say so. */
#define LOST_RETRY_US 1000000
#define SECOND_US 1000000

static const char *const kind_names[LOG_KINDS] = { "dropped", "rejected", "spawn_failed", "send_failed", "proxy_failed",
                                                       "tls_failed" };
static const char *const level_names[] = { "error", "info", "debug" };

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

size_t utf8_char(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates, past U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A C0 or C1 control character, or DEL: what a terminal may act on. */
static bool is_control(const unsigned char *s, size_t n)
{
	return (n == 1 && (s[0] < 0x20 || s[0] == 0x7f)) || (n == 2 && s[0] == 0xc2 && s[1] < 0xa0);
}

/* How one character (n bytes at s, 0: not UTF-8) is written: into esc, the
 * bytes it takes. */
typedef size_t escape_fn(const unsigned char *s, size_t n, char *esc, size_t size);

/* A text line's rules. */
static size_t text_char(const unsigned char *s, size_t n, char *esc, size_t size)
{
	size_t e = 0;

	if (n == 0)
		return (size_t)snprintf(esc, size, "\\x%02x", s[0]);
	if (n == 1 && s[0] == '\\')
		return (size_t)snprintf(esc, size, "\\\\");
	if (n == 1 && (s[0] == '\n' || s[0] == '\r' || s[0] == '\t'))
		return (size_t)snprintf(esc, size, "\\%c", s[0] == '\n' ? 'n' : s[0] == '\r' ? 'r' : 't');
	if (!is_control(s, n)) {
		memcpy(esc, s, n);
		return n;
	}
	for (size_t k = 0; k < n; k++)
		e += (size_t)snprintf(esc + e, size - e, "\\x%02x", s[k]);
	return e;
}

/* A JSON string's rules. */
static size_t json_char(const unsigned char *s, size_t n, char *esc, size_t size)
{
	if (n == 0) {
		/* not UTF-8: U+FFFD, as Go's and Python's encoders do */
		memcpy(esc, "\xef\xbf\xbd", 3);
		return 3;
	}
	if (n == 1 && (s[0] == '"' || s[0] == '\\'))
		return (size_t)snprintf(esc, size, "\\%c", s[0]);
	if (is_control(s, n))
		return (size_t)snprintf(esc, size, "\\u%04x", n == 1 ? s[0] : s[1]);
	memcpy(esc, s, n);
	return n;
}

/* len bytes of s, each character written by one, into buf at out, keeping
 * keep bytes of size free: whole escapes only.  The new length. */
static size_t escape(char *buf, size_t size, size_t out, size_t keep, const unsigned char *s, size_t len,
                     escape_fn *one)
{
	for (size_t i = 0; i < len;) {
		char esc[16];
		size_t n = utf8_char(s + i, len - i);
		size_t e = one(s + i, n, esc, sizeof(esc));
		if (out + e + keep > size)
			break;
		memcpy(buf + out, esc, e);
		out += e;
		i += n ? n : 1;
	}
	return out;
}

size_t log_text_escape(char *buf, size_t size, const char *text, size_t len)
{
	if (size == 0)
		return 0;
	size_t out = escape(buf, size, 0, 1, (const unsigned char *)text, len, text_char);
	buf[out] = '\0';
	return out;
}

size_t log_json_string(char *buf, size_t size, const char *s)
{
	size_t len = 0;

	if (size < 3) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	buf[len++] = '"';
	/* room for the closing quote and the NUL */
	len = escape(buf, size, len, 2, (const unsigned char *)s, strlen(s), json_char);
	buf[len++] = '"';
	buf[len] = '\0';
	return len;
}

/* A JSON string, leaving reserve bytes of the line free. */
static void put_json_string(struct line *l, const char *s, size_t reserve)
{
	size_t room = sizeof(l->buf) - 1 - l->len;

	room = room > reserve ? room - reserve : 0;
	if (room >= 3)
		l->len += log_json_string(l->buf + l->len, room, s);
}

/* After a JSON field, the room the line must still have for the message
 * and the closing brace: ,"message":"" and }. */
#define JSON_TAIL 16

void log_init(struct logger *log, int verbosity, enum ss_log_format format)
{
	struct stat st;

	log->verbosity = verbosity;
	log->format = format;
	log->fd = STDERR_FILENO;
	log->own_fd = false;
	log->socket = false;
	log->journal = false;
	log->worker = 0;
	atomic_init(&log->lost, 0);
	memset(log->limits, 0, sizeof(log->limits));
	if (fstat(STDERR_FILENO, &st) < 0)
		return;
	/* systemd says which stream is the journal's: "DEVICE:INODE" */
	const char *journal = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char end;
	if (journal != NULL && sscanf(journal, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
	    dev == (unsigned long long)st.st_dev && ino == (unsigned long long)st.st_ino)
		log->journal = true;
	if (S_ISSOCK(st.st_mode)) {
		log->socket = true;
	} else if (S_ISFIFO(st.st_mode)) {
		int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			log->fd = fd;
			log->own_fd = true;
		}
	}
}

void log_close(struct logger *log)
{
	if (log->own_fd)
		close(log->fd);
	log->own_fd = false;
	log->fd = STDERR_FILENO;
}

bool log_enabled(const struct logger *log, int level)
{
	return level <= log->verbosity;
}

/* One whole line, or nothing. */
static bool write_line(struct logger *log, const char *p, size_t len)
{
	for (;;) {
		ssize_t n = log->socket ? send(log->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL)
		                        : write(log->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		/* a socket may take part of a line: finish it */
		p += n;
		len -= (size_t)n;
		if (len == 0)
			return true;
	}
}

static void format_line(const struct logger *log, int level, const char *event, const struct field *fields,
                        size_t nfields, const char *text, struct line *l);

/* The lines lost while stderr was full, said once it takes lines again. */
static bool report_lost(struct logger *log)
{
	unsigned long lost = atomic_exchange(&log->lost, 0);
	struct line l = { .len = 0 };
	char text[96];

	if (lost == 0)
		return true;
	snprintf(text, sizeof(text), "%lu log lines lost: stderr was not being read", lost);
	format_line(log, SS_LOG_ERROR, "log_lost", LOG_FIELDS(FINT("lines", (long long)lost)), text, &l);
	l.buf[l.len++] = '\n';
	if (write_line(log, l.buf, l.len))
		return true;
	atomic_fetch_add(&log->lost, lost);
	return false;
}

static void emit(struct logger *log, struct line *l)
{
	l->buf[l->len++] = '\n';
	if (!report_lost(log) || !write_line(log, l->buf, l->len))
		atomic_fetch_add(&log->lost, 1);
}

size_t log_time(char *buf, size_t size, int64_t real_us, bool compact)
{
	time_t sec = (time_t)(real_us / 1000000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	int n = snprintf(buf, size, compact ? "%04d%02d%02dT%02d%02d%02d.%03d" : "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 (int)(real_us % 1000000 / 1000));
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

int64_t real_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void put_timestamp(struct line *l)
{
	char ts[40];

	log_time(ts, sizeof(ts), real_now_us(), false);
	putf(l, "\"%s\"", ts);
}

static const char *level_name(int level)
{
	if (level == SS_LOG_ALWAYS)
		return level_names[1];
	return level <= SS_LOG_ERROR ? level_names[0] : level == SS_LOG_INFO ? level_names[1] : level_names[2];
}

static void vlog(struct logger *log, int level, const char *event,
                 const struct field *fields, size_t nfields, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));
/* One event as a line: the text line, or the JSON object. */
static void format_line(const struct logger *log, int level, const char *event, const struct field *fields,
                        size_t nfields, const char *text, struct line *l)
{
	if (log->format == SS_LOG_TEXT) {
		/* sd-daemon(3): <3> errors, <5> the status asked for, <6> -v, <7> -vv */
		if (log->journal)
			putf(l, "<%d>", level == SS_LOG_ALWAYS ? 5 : level <= SS_LOG_ERROR ? 3 : level == SS_LOG_INFO ? 6 : 7);
		if (log->worker > 0)
			putf(l, "sockserve[%d]: ", log->worker);
		else
			put(l, "sockserve: ", 11);
		/* what a client chose never ends the line or reaches the terminal */
		l->len += log_text_escape(l->buf + l->len, sizeof(l->buf) - 1 - l->len, text, strlen(text));
		return;
	}
	put(l, "{\"ts\":", 6);
	put_timestamp(l);
	putf(l, ",\"level\":\"%s\",", level_name(level));
	if (log->worker > 0)
		putf(l, "\"worker\":%d,", log->worker);
	put(l, "\"event\":", 8);
	put_json_string(l, event, 0);
	/* The line stays one JSON object however long what a client chose: a
	 * field that does not fit whole is left out, the message is cut short
	 * at a whole character, and the brace always closes it. */
	for (size_t i = 0; i < nfields; i++) {
		size_t mark = l->len;
		put(l, ",", 1);
		put_json_string(l, fields[i].key, 0);
		put(l, ":", 1);
		switch (fields[i].type) {
		case F_STR: put_json_string(l, fields[i].s, 0); break;
		case F_INT: putf(l, "%lld", fields[i].i); break;
		case F_MS: putf(l, "%.3f", fields[i].ms); break;
		}
		if (l->len + JSON_TAIL > sizeof(l->buf) - 1)
			l->len = mark;
	}
	put(l, ",\"message\":", 11);
	put_json_string(l, text, 1);
	put(l, "}", 1);
}

static void vlog(struct logger *log, int level, const char *event,
                 const struct field *fields, size_t nfields, const char *fmt, va_list ap)
{
	struct line l = { .len = 0 };
	char text[LOG_LINE_MAX / 2];

	if (!log_enabled(log, level))
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	format_line(log, level, event, fields, nfields, text, &l);
	emit(log, &l);
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

/* The second of kind that has ended: say how many of its lines were not
 * written. */
static void close_window(struct logger *log, enum log_kind kind)
{
	struct log_limit *lim = &log->limits[kind];

	if (lim->suppressed > 0)
		log_event(log, SS_LOG_ERROR, "suppressed",
		          LOG_FIELDS(FSTR("kind", kind_names[kind]), FINT("lines", (long long)lim->suppressed)),
		          "%lu more '%s' lines in one second were not logged (at most %d a second)",
		          lim->suppressed, kind_names[kind], LOG_LIMIT_PER_SECOND);
	lim->suppressed = 0;
	lim->count = 0;
}

bool log_allowed(struct logger *log, int level, enum log_kind kind)
{
	struct log_limit *lim = &log->limits[kind];

	if (!log_enabled(log, level))
		return false;
	int64_t now = now_us();
	if (now - lim->window_us >= SECOND_US) {
		close_window(log, kind);
		lim->window_us = now;
	}
	if (lim->count < LOG_LIMIT_PER_SECOND) {
		lim->count++;
		return true;
	}
	lim->suppressed++;
	return false;
}

int64_t log_flush(struct logger *log, int64_t now)
{
	int64_t next = INT64_MAX;

	for (int k = 0; k < LOG_KINDS; k++) {
		struct log_limit *lim = &log->limits[k];
		if (lim->suppressed == 0)
			continue;
		if (now - lim->window_us >= SECOND_US)
			close_window(log, (enum log_kind)k);
		else if (lim->window_us + SECOND_US < next)
			next = lim->window_us + SECOND_US;
	}
	if (atomic_load(&log->lost) > 0 && !report_lost(log) && now + LOST_RETRY_US < next)
		next = now + LOST_RETRY_US;
	return next;
}
