/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --workers N: N processes serve the one socket, for machines whose cores
 * spawn handlers faster than one event loop can hand them out.  The process
 * that bound the socket (and dropped privileges) forks the workers and from
 * then on only supervises them: it forwards SIGTERM, SIGINT, SIGHUP and
 * SIGUSR1, starts again a worker that dies while serving (at most once a
 * second each), and returns once every worker has ended after a stop.  Each
 * worker is a whole server with its own event loop, which watches the shared
 * socket with EPOLLEXCLUSIVE: a connection or datagram wakes one of them.
 */
#include "workers.h"
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* How soon a worker that died is started again, at the soonest. */
#define RESTART_US 1000000

struct supervisor {
	struct ss_server *srv;
	unsigned n;
	pid_t *pid;          /* 0: not running */
	int64_t *started;    /* when each was last started */
	unsigned live;
	bool stopping;
	int signal_fd;
	bool failed;         /* a worker ended badly after the stop */
};

/* Fork worker k.  In the worker: true (it goes on to serve); in the
 * supervisor: false. */
static bool fork_worker(struct supervisor *s, unsigned k)
{
	pid_t pid = fork();

	if (pid == 0)
		return true;
	if (pid < 0) {
		/* Tried again at the next restart deadline. */
		log_msg(&s->srv->log, SS_LOG_ERROR, "worker", "cannot start worker %u: %s", k + 1, strerror(errno));
		s->started[k] = now_us();
		return false;
	}
	s->pid[k] = pid;
	s->started[k] = now_us();
	s->live++;
	return false;
}

static void forward(struct supervisor *s, int sig)
{
	for (unsigned k = 0; k < s->n; k++)
		if (s->pid[k] > 0)
			kill(s->pid[k], sig);
}

/* Describe how a process ended, for a log line. */
static void ended(int wstatus, char *buf, size_t size)
{
	if (WIFSIGNALED(wstatus))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
	else
		snprintf(buf, size, "exit %d", WEXITSTATUS(wstatus));
}

static void reap(struct supervisor *s)
{
	int wstatus;
	pid_t pid;
	char how[64];

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		unsigned k = 0;
		while (k < s->n && s->pid[k] != pid)
			k++;
		if (k == s->n)
			continue;
		s->pid[k] = 0;
		s->live--;
		bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
		ended(wstatus, how, sizeof(how));
		if (s->stopping) {
			if (!clean) {
				s->failed = true;
				log_msg(&s->srv->log, SS_LOG_ERROR, "worker", "worker %u (pid %d) %s", k + 1, (int)pid, how);
			}
			continue;
		}
		log_msg(&s->srv->log, SS_LOG_ERROR, "worker", "worker %u (pid %d) %s: starting it again", k + 1,
		        (int)pid, how);
	}
}

/* The soonest a stopped worker may start again; INT64_MAX: none waits. */
static int64_t next_restart(const struct supervisor *s)
{
	int64_t next = INT64_MAX;

	if (s->stopping)
		return next;
	for (unsigned k = 0; k < s->n; k++)
		if (s->pid[k] == 0 && s->started[k] + RESTART_US < next)
			next = s->started[k] + RESTART_US;
	return next;
}

/* Read the signals that came; false if reading failed. */
static void on_signals(struct supervisor *s)
{
	struct signalfd_siginfo si;

	while (read(s->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(s);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGHUP:
			/* A second one is forwarded too: the workers kill their
			 * handlers at once. */
			if (!s->stopping) {
				notify_send(&s->srv->notify, "STOPPING=1");
				/* As one server does: new clients of a unix
				 * socket's path fail at once. */
				s->srv->transport->cleanup(s->srv);
			}
			s->stopping = true;
			forward(s, (int)si.ssi_signo);
			break;
		case SIGUSR1:
			forward(s, SIGUSR1);
			break;
		}
	}
}

/* In a new worker: a server of its own, on the inherited socket (its
 * event loop is opened by the caller). */
static int become_worker(struct supervisor *s, unsigned k)
{
	struct ss_server *srv = s->srv;

	close(s->signal_fd);
	free(s->pid);
	free(s->started);
	srv->worker = (int)k + 1;
	srv->log.worker = srv->worker;
	/* The supervisor says READY and STOPPING, and owns the pid file and
	 * the socket's path. */
	notify_close(&srv->notify);
	if (srv->pidfile != NULL)
		pidfile_close(srv->pidfile);
	srv->pidfile = NULL;
	/* --max-children is the total: each worker has its share. */
	srv->limit = (srv->limit + s->n - 1) / s->n;
	return 1;
}

int workers_run(struct ss_server *srv, struct ss_error *err)
{
	struct supervisor s = { .srv = srv, .n = (unsigned)srv->cfg.workers, .signal_fd = -1 };
	sigset_t mask;
	int rc = 0;

	/* The server's own loop is the workers' to open: each its own. */
	loop_close(&srv->loop);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGCHLD);
	struct sigaction hup;
	if (sigaction(SIGHUP, NULL, &hup) < 0 || hup.sa_handler != SIG_IGN)
		sigaddset(&mask, SIGHUP);
	s.pid = calloc(s.n, sizeof(*s.pid));
	s.started = calloc(s.n, sizeof(*s.started));
	if (s.pid == NULL || s.started == NULL || sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (s.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot start the workers: %s", strerror(errno));
		rc = -1;
		goto out;
	}
	for (unsigned k = 0; k < s.n; k++)
		if (fork_worker(&s, k))
			return become_worker(&s, k);
	while (!(s.stopping && s.live == 0)) {
		int64_t now = now_us(), next = next_restart(&s);
		if (next <= now) {
			for (unsigned k = 0; k < s.n; k++)
				if (s.pid[k] == 0 && s.started[k] + RESTART_US <= now && fork_worker(&s, k))
					return become_worker(&s, k);
			continue;
		}
		struct pollfd p = { .fd = s.signal_fd, .events = POLLIN };
		int timeout = next == INT64_MAX ? -1 : (int)((next - now + 999) / 1000);
		if (poll(&p, 1, timeout) < 0 && errno != EINTR) {
			ss_error_set(err, SS_ERR_RUN, "supervising the workers failed: %s", strerror(errno));
			forward(&s, SIGTERM);
			rc = -1;
			goto out;
		}
		on_signals(&s);
	}
	if (s.failed) {
		ss_error_set(err, SS_ERR_RUN, "a worker did not end cleanly (see above)");
		rc = -1;
	}
out:
	if (s.signal_fd >= 0)
		close(s.signal_fd);
	free(s.pid);
	free(s.started);
	return rc;
}
