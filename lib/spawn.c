/*
 * The only code that starts processes.  COMMAND is resolved once at start-up
 * (PATH search, executable check); each request then costs one posix_spawn,
 * which glibc implements with clone(CLONE_VM | CLONE_VFORK): the address space
 * is not copied, and an exec failure comes back as the call's return value.
 */
#include "internal.h"

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHELL_PATH "/bin/sh"
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* 0 if path is an executable regular file, else an errno value. */
static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return EACCES;
	return 0;
}

/* Find name in PATH as execvp(3) would; returns a malloc'd path or NULL. */
static char *search_path(const char *name, int *error)
{
	const char *path = getenv("PATH");
	char candidate[4096];

	if (path == NULL || *path == '\0')
		path = DEFAULT_PATH;
	*error = ENOENT;
	while (*path != '\0') {
		size_t len = strcspn(path, ":");
		/* An empty PATH entry means the current directory. */
		int n = len == 0 ? snprintf(candidate, sizeof(candidate), "./%s", name)
		                 : snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)len, path, name);
		if (n > 0 && (size_t)n < sizeof(candidate)) {
			int e = executable(candidate);
			if (e == 0)
				return strdup(candidate);
			if (e == EACCES)
				*error = EACCES;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return NULL;
}

static int build_argv(struct spawn_plan *plan, const struct ss_config *cfg)
{
	size_t n = 0;

	while (cfg->argv[n] != NULL)
		n++;
	/* --shell: sh -c COMMAND [ARG...], the ARGs becoming $0, $1, ... */
	size_t extra = cfg->shell ? 2 : 0;
	plan->argv = reallocarray(NULL, n + extra + 1, sizeof(char *));
	if (plan->argv == NULL)
		return -1;
	if (cfg->shell) {
		plan->argv[0] = "sh";
		plan->argv[1] = "-c";
	}
	for (size_t i = 0; i <= n; i++)
		plan->argv[extra + i] = cfg->argv[i];
	return 0;
}

/* The signals exec(2) would leave ignored: those ignored now (inherited),
 * and SIGPIPE, which sockserve ignores once it runs.  A caught signal needs
 * nothing: exec resets it.  Only these need a sigaction in the child. */
static void ignored_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGPIPE);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(set, sig);
	}
}

static int build_attr(struct spawn_plan *plan)
{
	sigset_t ignored, none;
	short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP;

	ignored_signals(&ignored);
	sigemptyset(&none);
	if (posix_spawnattr_init(&plan->attr) != 0)
		return -1;
	plan->attr_ready = true;
	/* Every disposition back to default (sockserve ignores SIGPIPE; a handler
	 * must not), an empty mask (sockserve blocks the signals it reads through
	 * signalfd), and a process group of the handler's own, so that a timeout
	 * or a drain reaches whatever the handler started. */
	if (posix_spawnattr_setflags(&plan->attr, flags) != 0 ||
	    posix_spawnattr_setsigdefault(&plan->attr, &ignored) != 0 ||
	    posix_spawnattr_setsigmask(&plan->attr, &none) != 0 ||
	    posix_spawnattr_setpgroup(&plan->attr, 0) != 0)
		return -1;
	return 0;
}

int spawn_plan_init(struct spawn_plan *plan, const struct ss_config *cfg, struct ss_error *err)
{
	const char *command = cfg->shell ? SHELL_PATH : cfg->argv[0];
	int error = 0;

	memset(plan, 0, sizeof(*plan));
	if (strchr(command, '/') != NULL) {
		error = executable(command);
		if (error == 0)
			plan->path = strdup(command);
	} else {
		plan->path = search_path(command, &error);
	}
	if (plan->path == NULL) {
		if (error == ENOENT && strchr(command, '/') == NULL)
			ss_error_set(err, SS_ERR_START, "cannot run '%s': command not found", command);
		else
			ss_error_set(err, SS_ERR_START, "cannot run '%s': %s", command, strerror(error ? error : errno));
		return -1;
	}
	if (build_argv(plan, cfg) < 0 || build_attr(plan) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot prepare to run '%s': %s", command, strerror(errno));
		return -1;
	}
	return 0;
}

void spawn_plan_free(struct spawn_plan *plan)
{
	if (plan->attr_ready)
		posix_spawnattr_destroy(&plan->attr);
	free(plan->path);
	free(plan->argv);
	memset(plan, 0, sizeof(*plan));
}

int spawn_handler(const struct spawn_plan *plan, int in, int out, int errfd,
                  char *const envp[], pid_t *pid)
{
	posix_spawn_file_actions_t actions;
	int rc;

	/* Every descriptor of sockserve is close-on-exec and fds 0-2 are always
	 * open, so the sources here are >= 3 and dup2 needs no reordering.
	 * Whatever sockserve itself inherited above fd 2 is closed too: the
	 * handler starts with fds 0, 1 and 2 and nothing else. */
	rc = posix_spawn_file_actions_init(&actions);
	if (rc != 0)
		return rc;
	rc = posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
	if (rc == 0 && errfd >= 0)
		rc = posix_spawn_file_actions_adddup2(&actions, errfd, STDERR_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
	if (rc == 0)
		rc = posix_spawn(pid, plan->path, &actions, &plan->attr, plan->argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	return rc;
}
