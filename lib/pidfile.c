/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The pid file.  libbsd's pidfile_open(3) does the locking and the "already
 * running" check, but it follows a symbolic link and its remove unlinks the
 * path whatever it names by then.  So the file is first opened here with
 * O_NOFOLLOW and checked (a regular file with one link, empty or holding a
 * pid: a file we created, or an old pid file); libbsd's handle must then be
 * that same file (device and inode), or a link was swapped in between and
 * nothing is written.  At exit the path is removed only while it still
 * names the file written.
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Empty, or a pid and a newline: what a pid file holds. */
static bool holds_a_pid(int fd)
{
	char buf[32];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n < 0 || n == (ssize_t)sizeof(buf) - 1)
		return false;
	buf[n] = '\0';
	size_t digits = strspn(buf, "0123456789");
	if (n == 0)
		return true;
	return digits > 0 && (digits == (size_t)n || (digits + 1 == (size_t)n && buf[digits] == '\n'));
}

static int refuse(struct ss_error *err, const char *path, const char *why)
{
	ss_error_set(err, SS_ERR_START, "the pid file %s %s", path, why);
	return -1;
}

int pid_file_open(struct pid_file *p, const char *path, struct ss_error *err)
{
	struct stat st, held;
	pid_t other = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);

	p->fh = NULL;
	p->path = path;
	if (fd < 0 && errno == ELOOP)
		return refuse(err, path, "is a symbolic link: sockserve does not follow one there (name the file "
		              "itself)");
	if (fd < 0) {
		ss_error_set(err, SS_ERR_START, "cannot open the pid file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot read the pid file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || !holds_a_pid(fd)) {
		close(fd);
		return refuse(err, path, !S_ISREG(st.st_mode) ? "is not a regular file"
		                         : st.st_nlink != 1    ? "has other hard links: sockserve does not write to it"
		                                               : "holds something other than a pid: sockserve does not "
		                                                 "overwrite it");
	}
	close(fd);
	p->fh = pidfile_open(path, 0644, &other);
	if (p->fh == NULL) {
		if (errno == EEXIST)
			ss_error_set(err, SS_ERR_START, "already running as pid %d (pid file %s)", (int)other, path);
		else
			ss_error_set(err, SS_ERR_START, "cannot open the pid file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(pidfile_fileno(p->fh), &held) < 0 || held.st_dev != st.st_dev || held.st_ino != st.st_ino) {
		pid_file_close(p);
		return refuse(err, path, "was replaced while sockserve opened it");
	}
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	return 0;
}

int pid_file_write(struct pid_file *p, struct ss_error *err)
{
	if (p->fh != NULL && pidfile_write(p->fh) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot write the pid file %s: %s", p->path, strerror(errno));
		return -1;
	}
	return 0;
}

void pid_file_close(struct pid_file *p)
{
	if (p->fh != NULL)
		pidfile_close(p->fh);
	p->fh = NULL;
}

int pid_file_remove(struct pid_file *p, bool *replaced)
{
	struct stat st;

	*replaced = false;
	if (p->fh == NULL)
		return 0;
	if (lstat(p->path, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino) {
		*replaced = true;
		pid_file_close(p);
		return 0;
	}
	int rc = pidfile_remove(p->fh);
	p->fh = NULL;
	return rc;
}
