/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --pidfile (a leaf, over libbsd's pidfile_open): a pid file that a planted
 * symbolic link, a hard link or a file of other text can never turn into a
 * way to overwrite or remove another file.
 */
#ifndef SS_PIDFILE_H
#define SS_PIDFILE_H

#include "error.h"

#include <bsd/libutil.h>
#include <stdbool.h>
#include <sys/types.h>

struct pid_file {
	struct pidfh *fh;     /* libbsd's handle: locked while serving */
	const char *path;
	dev_t dev;            /* the file opened, to be the file removed */
	ino_t ino;
};

/* Open and lock path, not following a symbolic link there; refuse what is
 * not a regular file that is empty or holds a pid.  A second instance gets
 * "already running". */
int pid_file_open(struct pid_file *p, const char *path, struct ss_error *err);
/* Write our pid (once listening). */
int pid_file_write(struct pid_file *p, struct ss_error *err);
/* Give it up without removing it (a worker process's copy). */
void pid_file_close(struct pid_file *p);
/* At exit: remove it if path still names the file written, else leave it.
 * 0, or -1 with errno; *replaced: it was not ours any more. */
int pid_file_remove(struct pid_file *p, bool *replaced);

#endif
