/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Spawning the handler (a leaf, and the only fork/exec code): COMMAND is
 * resolved once, then each request costs one clone and a few system calls.
 */
#ifndef SS_SPAWN_H
#define SS_SPAWN_H

#include "error.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

struct spawn_plan {
	char *path;         /* resolved once at start-up */
	char *script;       /* a script without "#!", run by path (/bin/sh) */
	char **argv;
	int ignored[NSIG];  /* the signals exec would leave ignored */
	int nignored;
	int fd_limit;       /* where closing inherited fds may stop (no close_range) */
	bool wait_for_exec; /* spawn as vfork does, even where it need not */
	bool same_group;    /* stay in the caller's process group (a TLS relay's) */
	enum ss_stderr stderr_to;
	int null_fd;        /* /dev/null, for --stderr=null */
};

int spawn_plan_init(struct spawn_plan *plan, const struct ss_config *cfg, struct ss_error *err);
void spawn_plan_free(struct spawn_plan *plan);
/* Start the handler with in and out as its fds 0 and 1, and as fd 2 what
 * --stderr says: sockserve's own, /dev/null, or (socket) stderr_socket,
 * the request's socket or the pipe of its reply.  It runs in a process group
 * of its own, with default signal dispositions and an empty mask.  Returns 0
 * or an errno value.
 * With async (memory of the request's own, kept until the child is reaped)
 * the call returns as soon as the child exists, and an exec failure is known
 * only once it is reaped: spawn_child_error() then gives it (0: none).
 * Without, the call returns once the child has exec'd, or with its error. */
struct spawn_child;
int spawn_handler(const struct spawn_plan *plan, int in, int out, int stderr_socket,
                  char *const envp[], struct spawn_child *async, pid_t *pid);
struct spawn_child *spawn_child_new(void);
void spawn_child_free(struct spawn_child *child);
int spawn_child_error(const struct spawn_child *child);
/* The pid of the child last spawned on this memory, as soon as it exists,
 * whichever thread spawned it (0 after spawn_child_reset, until then). */
pid_t spawn_child_pid(const struct spawn_child *child);
void spawn_child_reset(struct spawn_child *child);

#endif
