/*
 * Logging (a leaf): one line per event on stderr, as text or JSON, each
 * written with one write(2).
 */
#ifndef SS_LOG_H
#define SS_LOG_H

#include "sockserve.h"

#include <stddef.h>

struct logger {
	int verbosity;      /* an enum ss_log_level */
	enum ss_log_format format;
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

void log_init(struct logger *log, int verbosity, enum ss_log_format format);
/* Whether events of this level are written at all. */
bool log_enabled(const struct logger *log, int level);
/* One event, one line, one write(2): text is the human line, fields the JSON. */
void log_event(struct logger *log, int level, const char *event,
               const struct field *fields, size_t nfields, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
#define LOG_FIELDS(...) (const struct field[]){ __VA_ARGS__ }, \
	sizeof((const struct field[]){ __VA_ARGS__ }) / sizeof(struct field)
/* A plain message event at a level: {"event":EVENT,"message":...}. */
void log_msg(struct logger *log, int level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
