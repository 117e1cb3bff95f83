/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Errors: every failure the library reports is a struct ss_error (sockserve.h)
 * with its kind and one line of text.  A leaf: it depends on nothing else.
 */
#ifndef SS_ERROR_H
#define SS_ERROR_H

#include "sockserve.h"

#include <stdarg.h>

void ss_error_set(struct ss_error *err, enum ss_error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ss_error_vset(struct ss_error *err, enum ss_error_kind kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
