/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The server's counts (a leaf), as the SIGUSR1 status and systemd's STATUS=
 * report them: one place adds to them.
 */
#ifndef SS_COUNTS_H
#define SS_COUNTS_H

#include <stdint.h>

enum count_kind {
	COUNT_HANDLED,    /* handlers that exited 0 */
	COUNT_FAILED,     /* could not run, exited non-zero, or were killed (timeouts too) */
	COUNT_REJECTED,   /* refused, or did not open */
	COUNT_DROPPED,    /* datagrams let go */
	COUNT_TIMED_OUT,  /* ended by --timeout */
	COUNT_KINDS
};

struct counts {
	uint64_t n[COUNT_KINDS];
};

static inline void count(struct counts *c, enum count_kind kind)
{
	c->n[kind]++;
}

#endif
