/*
 * The only code that starts processes.  COMMAND is resolved once at start-up
 * (PATH search, executable check); each request then costs one
 * clone(CLONE_VM | CLONE_VFORK) and a handful of system calls in the child:
 * the address space is not copied, and an exec failure comes back as the
 * call's return value.  This is posix_spawn without its per-call stack
 * mapping and its sigaction call for each of the 64 signals, which together
 * cost about a tenth of a spawn (see tests/bench).
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
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHELL_PATH "/bin/sh"
/* The child's stack: a few raw system calls deep. */
#define SPAWN_STACK 16384
/* Without close_range(2), inherited fds are closed one by one up to this. */
#define FALLBACK_CLOSE_LIMIT 65536
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
 * nothing: exec resets it (and sockserve catches none: it reads signals
 * through signalfd).  Only these need a sigaction in the child. */
static void ignored_signals(struct spawn_plan *plan)
{
	plan->nignored = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sig == SIGPIPE || (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN))
			plan->ignored[plan->nignored++] = sig;
	}
}

/*
 * ThreadSanitizer intercepts clone(2) as a fork and resets its own state in
 * the child, which here shares the caller's memory: its record of the other
 * threads would be lost.  Its build calls the C library's clone directly.
 */
typedef int clone_fn(int (*)(void *), void *, int, void *, ...);
#if defined(__SANITIZE_THREAD__)
#define SPAWN_BYPASS_CLONE_INTERCEPTOR 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPAWN_BYPASS_CLONE_INTERCEPTOR 1
#endif
#endif
#ifdef SPAWN_BYPASS_CLONE_INTERCEPTOR
#include <dlfcn.h>
static clone_fn *libc_clone(void)
{
	static clone_fn *fn;
	if (fn == NULL) {
		void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
		fn = libc != NULL ? (clone_fn *)dlsym(libc, "clone") : NULL;
		if (fn == NULL)
			fn = clone;
	}
	return fn;
}
#else
static clone_fn *libc_clone(void)
{
	return clone;
}
#endif

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
	ignored_signals(plan);
	libc_clone(); /* resolved before any worker thread runs */
	long open_max = sysconf(_SC_OPEN_MAX);
	plan->fd_limit = open_max > 0 && open_max < FALLBACK_CLOSE_LIMIT ? (int)open_max : FALLBACK_CLOSE_LIMIT;
	if (build_argv(plan, cfg) < 0) {
		ss_error_set(err, SS_ERR_START, "cannot prepare to run '%s': %s", command, strerror(errno));
		return -1;
	}
	return 0;
}

void spawn_plan_free(struct spawn_plan *plan)
{
	free(plan->path);
	free(plan->argv);
	memset(plan, 0, sizeof(*plan));
}

/*
 * The child of a vfork-style clone: it shares sockserve's memory (and the
 * calling thread's TLS) while the caller is suspended, until it execs or
 * exits.  So it runs on a stack of its own, makes raw system calls only (no
 * libc state, no sanitizer interceptor is touched), and reports a failure by
 * writing the errno value into the caller's struct.
 */
struct child_args {
	const struct spawn_plan *plan;
	int in, out, errfd;
	char *const *envp;
	volatile int error;
};

/* Kernel sigaction for SIG_DFL: all zeros (handler 0, no flags, empty mask),
 * whatever the architecture's field order. */
struct kernel_sigaction_dfl {
	unsigned long words[4];
};
#define KERNEL_SIGSET_SIZE ((NSIG - 1) / 8)

#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define UNINSTRUMENTED __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef UNINSTRUMENTED
#define UNINSTRUMENTED __attribute__((no_sanitize("address", "thread", "undefined")))
#endif

UNINSTRUMENTED __attribute__((noinline))
static int spawn_child(void *arg)
{
	struct child_args *a = arg;
	const struct spawn_plan *plan = a->plan;
	struct kernel_sigaction_dfl dfl = { { 0 } };
	unsigned long empty[2] = { 0, 0 };

	/* A process group of its own, so that a timeout or a drain reaches
	 * whatever the handler starts. */
	if (syscall(SYS_setpgid, 0, 0) < 0)
		goto fail;
	/* Every descriptor of sockserve is close-on-exec and fds 0-2 are always
	 * open, so the sources here are >= 3 and need no reordering. */
	if (syscall(SYS_dup3, a->in, STDIN_FILENO, 0) < 0 ||
	    syscall(SYS_dup3, a->out, STDOUT_FILENO, 0) < 0 ||
	    (a->errfd >= 0 && syscall(SYS_dup3, a->errfd, STDERR_FILENO, 0) < 0))
		goto fail;
	/* Whatever sockserve itself inherited above fd 2 is closed too: the
	 * handler starts with fds 0, 1 and 2 and nothing else. */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0) < 0)
#endif
		for (int fd = 3; fd < plan->fd_limit; fd++)
			syscall(SYS_close, fd);
	/* Default dispositions (sockserve ignores SIGPIPE; a handler must not),
	 * then an empty mask (sockserve blocks what it reads through signalfd). */
	for (int i = 0; i < plan->nignored; i++)
		syscall(SYS_rt_sigaction, plan->ignored[i], &dfl, NULL, KERNEL_SIGSET_SIZE);
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, empty, NULL, KERNEL_SIGSET_SIZE) < 0)
		goto fail;
	syscall(SYS_execve, plan->path, plan->argv, a->envp);
fail:
	a->error = errno ? errno : ENOEXEC;
	syscall(SYS_exit, 127);
	return 127;
}

int spawn_handler(const struct spawn_plan *plan, int in, int out, int errfd,
                  char *const envp[], pid_t *pid)
{
	/* The child runs on this buffer while this thread waits (CLONE_VFORK):
	 * no mapping per request, and nothing of the address space is copied. */
	_Alignas(16) char stack[SPAWN_STACK];
	struct child_args a = { .plan = plan, .in = in, .out = out, .errfd = errfd, .envp = envp };

	pid_t child = libc_clone()(spawn_child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	if (child < 0)
		return errno;
	if (a.error != 0) {
		/* It has exited already: collect it here, as posix_spawn would. */
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		return a.error;
	}
	*pid = child;
	return 0;
}
