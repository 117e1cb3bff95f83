/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Admission: whether a client that arrived may be served (--deny, --allow,
 * --rate, --max-per-ip; --proxy-from for PROXY headers), each refusal
 * counted and logged.  An opening stage of its own (stage_admission), and
 * called straight from the accept path when a server has no opening.
 */
#ifndef SS_ADMISSION_H
#define SS_ADMISSION_H

#include "acl.h"
#include "rules.h"

#include <stdbool.h>

struct view;
struct request;

/* The tables admission keeps (admission.c's; request.c and opening.c
 * release a client's place in per_ip when its connection ends). */
struct admission {
	struct acl acl;           /* --allow, --deny */
	struct rate_table rate;   /* --rate */
	struct ip_counts per_ip;  /* --max-per-ip */
	struct rules rules;       /* --rules */
};

/* Whether the request may run: --deny, --allow, --rate, then --max-per-ip
 * (counted in it when admitted).  A refusal is logged at -v and counted. */
bool admission_check(struct view *v, struct request *req);
/* --proxy-from: whether the connection's peer may send a PROXY header; if
 * not, the refusal is logged (proxy_untrusted) and counted. */
bool admission_proxy_trusted(struct view *v, struct request *req);

#endif
