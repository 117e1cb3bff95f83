/* SPDX-License-Identifier: BSD-2-Clause */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

void ss_error_set(struct ss_error *err, enum ss_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ss_error_vset(err, kind, fmt, ap);
	va_end(ap);
}

void ss_error_vset(struct ss_error *err, enum ss_error_kind kind, const char *fmt, va_list ap)
{
	err->kind = kind;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}
