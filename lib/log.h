/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging (a leaf): one line per event on stderr, as text or JSON, each
 * written with one write(2), never blocking: a stderr that nobody reads costs
 * lines (counted, and reported once the reader is back), never serving.
 * Per-request error lines are rate-limited by kind.
 */
#ifndef SS_LOG_H
#define SS_LOG_H

#include "sockserve.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kinds of per-request error line: at most LOG_LIMIT_PER_SECOND of each a
 * second, then one line with the number suppressed. */
enum log_kind { LOG_DROPPED, LOG_REJECTED, LOG_SPAWN_FAILED, LOG_SEND_FAILED, LOG_OPENING, LOG_TLS, LOG_RECORD, LOG_KINDS };
#define LOG_LIMIT_PER_SECOND 10

struct log_limit {
	int64_t window_us;          /* when the current second began */
	unsigned count;             /* lines written in it */
	unsigned long suppressed;   /* lines not written in it */
};

struct logger {
	int verbosity;              /* an enum ss_log_level */
	enum ss_log_format format;
	int fd;                     /* where lines go */
	bool own_fd;                /* fd is a non-blocking reopening of stderr */
	bool socket;                /* stderr is a socket: send(MSG_DONTWAIT) */
	bool journal;               /* stderr is the journal (JOURNAL_STREAM): text lines
	                               carry sd-daemon(3)'s <N> priority prefixes */
	atomic_ulong lost;          /* lines that could not be written */
	int worker;                 /* --workers: this process's number (1...); 0: the only one */
	struct log_limit limits[LOG_KINDS]; /* the event loop's thread only */
};

enum field_type { F_STR, F_INT, F_MS };
struct field {
	const char *key;
	enum field_type type;
	const char *s;
	long long i;
	double ms;
};
#define FSTR(k, v) { .key = (k), .type = F_STR, .s = (v) }
#define FINT(k, v) { .key = (k), .type = F_INT, .i = (v) }
#define FMS(k, v) { .key = (k), .type = F_MS, .ms = (v) }

/* Set up writing to stderr without ever blocking on it. */
void log_init(struct logger *log, int verbosity, enum ss_log_format format);
void log_close(struct logger *log);
/* Whether events of this level are written at all. */
bool log_enabled(const struct logger *log, int level);
/* Whether one more line of this kind, at this level, may be written now
 * (counted as suppressed if not; a level not written is not counted). */
bool log_allowed(struct logger *log, int level, enum log_kind kind);
/* Write what is due (lines suppressed in a second that has ended, the count
 * of lost lines once stderr takes lines again); the next time this has
 * something to do, INT64_MAX for never. */
int64_t log_flush(struct logger *log, int64_t now_us);
/* One event, one line, one write(2): text is the human line, fields the JSON. */
void log_event(struct logger *log, int level, const char *event,
               const struct field *fields, size_t nfields, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
#define LOG_FIELDS(...) (const struct field[]){ __VA_ARGS__ }, \
	sizeof((const struct field[]){ __VA_ARGS__ }) / sizeof(struct field)
/* A plain message event at a level: {"event":EVENT,"message":...}. */
void log_msg(struct logger *log, int level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A wall-clock time in microseconds, and written in UTC: as JSON logs
 * have it (2026-12-06T10:15:30.123Z), or compact for file names
 * (20261206T101530.123).  The length written. */
int64_t real_now_us(void);
size_t log_time(char *buf, size_t size, int64_t real_us, bool compact);
/* Text a client may have chosen (addresses, unix paths, SNI, DNs, headers)
 * never forges a line.  Text lines: a backslash is doubled; \n, \r and \t
 * are written so; every other control byte (C0, DEL, C1) and every byte that
 * is not part of valid UTF-8 is written as \xNN.  JSON: valid UTF-8 always;
 * control characters as \u00NN; a byte that is not UTF-8 becomes U+FFFD. */
/* The length of the valid UTF-8 character at s (left bytes there), 0 if
 * there is none. */
size_t utf8_char(const unsigned char *s, size_t left);
/* len bytes of text, escaped for a text line, into buf: the length written,
 * at most size - 1, cut short at a whole escape; buf is NUL-terminated. */
size_t log_text_escape(char *buf, size_t size, const char *text, size_t len);
/* Write s as a JSON string (quotes included) into buf: the length written,
 * at most size - 1, cut short at a whole escape; buf is NUL-terminated. */
size_t log_json_string(char *buf, size_t size, const char *s);

#endif
