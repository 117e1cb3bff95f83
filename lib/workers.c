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
 *
 * Nothing outlives its owner.  The supervisor is the workers' handlers'
 * subreaper: when a worker dies, its handlers (each the leader of its own
 * process group) become the supervisor's children, and their groups are sent
 * SIGTERM, then SIGKILL a second later, as -T does; no worker starts again
 * while one of those groups lives, so --max-children holds across a
 * restart.  A worker ends when the supervisor dies (PR_SET_PDEATHSIG).  At a
 * stop, a worker that has not ended by the end of --grace (stopped, or
 * wedged) is killed, and its handlers with it.
 */
#include "workers.h"
#include "server.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* How soon a worker that died is started again, at the soonest. */
#define RESTART_US 1000000
/* An orphaned handler's group: SIGTERM, then SIGKILL this much later. */
#define ORPHAN_KILL_US 1000000
/* How often the supervisor looks whether orphaned groups have ended. */
#define ORPHAN_POLL_US 20000
/* After --grace, how long a worker has to end before it is killed. */
#define STOP_MARGIN_US 1000000

/* The process group of a dead worker's handler, until it is empty. */
struct orphan {
	pid_t pgid;
	int64_t kill_at;     /* SIGKILL due; 0: sent */
};

struct supervisor {
	struct ss_server *srv;
	unsigned n;
	pid_t *pid;          /* 0: not running */
	int64_t *started;    /* when each was last started */
	unsigned live;
	bool stopping;
	pid_t self;          /* the supervisor's pid */
	int signal_fd;
	bool failed;         /* a worker ended badly after the stop */
	int64_t kill_at;     /* after a stop: workers still running then are killed */
	struct orphan *orphans;
	size_t orphan_count, orphan_room;
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

/* The end of --grace has passed and these workers have not ended: a stopped
 * or wedged one would hold the stop up for ever. */
static void kill_workers(struct supervisor *s)
{
	for (unsigned k = 0; k < s->n; k++) {
		if (s->pid[k] <= 0)
			continue;
		log_msg(&s->srv->log, SS_LOG_ERROR, "worker", "worker %u (pid %d) has not ended after the grace period: "
		        "killing it and its handlers", k + 1, (int)s->pid[k]);
		kill(s->pid[k], SIGCONT);
		kill(s->pid[k], SIGKILL);
	}
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

/* A process is a dead worker's handler: our child (we are its subreaper),
 * the leader of its own group, and not a worker.  (A handler's own child left
 * behind is in the handler's group, not a leader: it is left alone, as it
 * would be without --workers.) */
static bool orphaned_handler(const struct supervisor *s, pid_t pid, pid_t *pgid)
{
	char path[64], buf[512];
	FILE *f;
	long ppid = 0, group = 0;

	for (unsigned k = 0; k < s->n; k++)
		if (s->pid[k] == pid)
			return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command's name, which may hold anything: state ppid pgrp */
	const char *close = strrchr(buf, ')');
	if (close == NULL || sscanf(close + 1, " %*c %ld %ld", &ppid, &group) != 2)
		return false;
	*pgid = (pid_t)group;
	return ppid == (long)getpid() && group == (long)pid;
}

static bool known_orphan(const struct supervisor *s, pid_t pgid)
{
	for (size_t i = 0; i < s->orphan_count; i++)
		if (s->orphans[i].pgid == pgid)
			return true;
	return false;
}

/* A worker died: end the handlers it left, SIGTERM now, SIGKILL later. */
static void end_orphans(struct supervisor *s)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t pgid;
	size_t before = s->orphan_count;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]) || !orphaned_handler(s, (pid_t)atoi(e->d_name), &pgid) ||
		    known_orphan(s, pgid))
			continue;
		if (s->orphan_count == s->orphan_room) {
			size_t room = s->orphan_room ? s->orphan_room * 2 : 16;
			struct orphan *more = reallocarray(s->orphans, room, sizeof(*more));
			if (more == NULL) {
				killpg(pgid, SIGKILL); /* no room to wait: at once */
				continue;
			}
			s->orphans = more;
			s->orphan_room = room;
		}
		killpg(pgid, SIGCONT);
		killpg(pgid, SIGTERM);
		s->orphans[s->orphan_count++] = (struct orphan){ .pgid = pgid, .kill_at = now_us() + ORPHAN_KILL_US };
	}
	closedir(d);
	if (s->orphan_count > before)
		log_msg(&s->srv->log, SS_LOG_ERROR, "worker", "ending %zu handler%s that a dead worker left running",
		        s->orphan_count - before, s->orphan_count - before == 1 ? "" : "s");
}

/* SIGKILL to the groups that are due; forget the empty ones.  The next
 * time to look, INT64_MAX when none is left. */
static int64_t sweep_orphans(struct supervisor *s, int64_t now)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->orphan_count; i++) {
		struct orphan *o = &s->orphans[i];
		if (killpg(o->pgid, 0) < 0 && errno == ESRCH)
			continue;
		if (o->kill_at != 0 && now >= o->kill_at) {
			killpg(o->pgid, SIGKILL);
			o->kill_at = 0;
		}
		s->orphans[kept++] = *o;
	}
	s->orphan_count = kept;
	return kept > 0 ? now + ORPHAN_POLL_US : INT64_MAX;
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
		end_orphans(s);
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

/* The soonest a stopped worker may start again; INT64_MAX: none waits (or
 * a dead worker's handlers are still ending). */
static int64_t next_restart(const struct supervisor *s)
{
	int64_t next = INT64_MAX;

	if (s->stopping || s->orphan_count > 0)
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
				s->srv->view.transport->cleanup(&s->srv->view);
				s->kill_at = now_us() + s->srv->cfg.grace_ms * 1000 + STOP_MARGIN_US;
			} else {
				/* the workers kill their handlers at once */
				s->kill_at = now_us() + STOP_MARGIN_US;
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

	/* Ends with the supervisor (a SIGTERM: the normal drain), even one
	 * that died before this was set. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != s->self)
		kill(getpid(), SIGTERM);
	close(s->signal_fd);
	free(s->pid);
	free(s->started);
	free(s->orphans);
	srv->worker = (int)k + 1;
	srv->log.worker = srv->worker;
	/* The supervisor says READY and STOPPING, and owns the pid file and
	 * the socket's path. */
	notify_close(&srv->notify);
	pid_file_close(&srv->pidfile);
	/* --max-children and --max-openings are totals: each worker has its
	 * share. */
	requests_share(&srv->view, s->n);
	openings_share(&srv->view, s->n);
	return 1;
}

int workers_run(struct ss_server *srv, struct ss_error *err)
{
	struct supervisor s = { .srv = srv, .n = (unsigned)srv->cfg.workers, .signal_fd = -1, .self = getpid(),
	                        .kill_at = INT64_MAX };
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
	/* The handlers of a worker that dies become ours to end and reap. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot supervise the workers' handlers: %s", strerror(errno));
		return -1;
	}
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
	while (!(s.stopping && s.live == 0 && s.orphan_count == 0)) {
		int64_t now = now_us(), sweep = sweep_orphans(&s, now), next = next_restart(&s);
		/* systemd's watchdog is the supervisor's (the main pid) to feed */
		int64_t watchdog = notify_watchdog(&srv->notify, now);
		if (watchdog < next)
			next = watchdog;
		if (s.stopping && now >= s.kill_at) {
			kill_workers(&s);
			s.kill_at = INT64_MAX;
		}
		if (sweep < next)
			next = sweep;
		if (s.kill_at < next)
			next = s.kill_at;
		if (next <= now && !s.stopping && s.orphan_count == 0) {
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
	free(s.orphans);
	return rc;
}
