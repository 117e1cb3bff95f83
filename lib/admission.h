/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Admission: whether a client that arrived may be served (--deny, --allow,
 * --rate, --max-per-ip; --proxy-from for PROXY headers), each refusal
 * counted and logged.  An opening stage of its own (stage_admission), and
 * called straight from the accept path when a server has no opening.
 */
#ifndef SS_ADMISSION_H
#define SS_ADMISSION_H

#include <stdbool.h>

struct ss_server;
struct request;

/* Whether the request may run: --deny, --allow, --rate, then --max-per-ip
 * (counted in it when admitted).  A refusal is logged at -v and counted. */
bool admission_check(struct ss_server *srv, struct request *req);
/* --proxy-from: whether the connection's peer may send a PROXY header; if
 * not, the refusal is logged (proxy_untrusted) and counted. */
bool admission_proxy_trusted(struct ss_server *srv, struct request *req);

#endif
