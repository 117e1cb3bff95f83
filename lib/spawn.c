/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The only code that starts processes.  COMMAND is resolved once at start-up
 * (PATH search, executable check); each request then costs one
 * clone(CLONE_VM | CLONE_VFORK) and a handful of system calls in the child:
 * the address space is not copied, and an exec failure comes back as the
 * call's return value.  This is posix_spawn without its per-call stack
 * mapping and its sigaction call for each of the 64 signals, which together
 * cost about a tenth of a spawn (see tests/bench).
 */
#include "spawn.h"

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

/* A file that execve(2) would refuse with ENOEXEC: neither "#!" nor ELF.
 * execvp(3) runs such a file with /bin/sh, and so does sockserve (the
 * decision is made once, here, instead of on every request). */
static bool needs_shell(const char *path)
{
	char head[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false; /* execute-only: let exec decide */
	ssize_t n = read(fd, head, sizeof(head));
	close(fd);
	if (n < 2)
		return n >= 0; /* an empty file is an empty script */
	return memcmp(head, "#!", 2) != 0 && !(n == 4 && memcmp(head, "\177ELF", 4) == 0);
}

static int build_argv(struct spawn_plan *plan, const struct ss_config *cfg)
{
	size_t n = 0, extra = 0;

	while (cfg->argv[n] != NULL)
		n++;
	/* --shell: sh -c COMMAND [ARG...], the ARGs becoming $0, $1, ...;
	 * a script without "#!": sh SCRIPT [ARG...], as execvp(3) does */
	bool script = !cfg->shell && needs_shell(plan->path);
	if (cfg->shell)
		extra = 2;
	else if (script)
		extra = 1;
	plan->argv = reallocarray(NULL, n + extra + 1, sizeof(char *));
	if (plan->argv == NULL)
		return -1;
	if (cfg->shell) {
		plan->argv[0] = "sh";
		plan->argv[1] = "-c";
	}
	for (size_t i = 0; i <= n; i++)
		plan->argv[extra + i] = cfg->argv[i];
	if (script) {
		char *sh = strdup(SHELL_PATH);
		if (sh == NULL)
			return -1;
		plan->argv[0] = "sh";
		plan->argv[1] = plan->path; /* the script, as found in PATH */
		plan->path = sh;
		plan->script = plan->argv[1];
	}
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
	static clone_fn *cached; /* spawns run in several threads */
	clone_fn *fn = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
	if (fn == NULL) {
		void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
		fn = libc != NULL ? (clone_fn *)dlsym(libc, "clone") : NULL;
		if (fn == NULL)
			fn = clone;
		__atomic_store_n(&cached, fn, __ATOMIC_RELEASE);
	}
	return fn;
}
#else
static clone_fn *libc_clone(void)
{
	return clone;
}
#endif

/* valgrind cannot run a clone that shares memory without suspending the
 * caller (it stops the program); its preloaded library tells it is there.
 * Then every spawn waits for exec, which valgrind runs as a fork. */
static bool under_valgrind(void)
{
	const char *preload = getenv("LD_PRELOAD");

	return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

int spawn_plan_init(struct spawn_plan *plan, const struct ss_config *cfg, struct ss_error *err)
{
	const char *command = cfg->shell ? SHELL_PATH : cfg->argv[0];
	int error = 0;

	memset(plan, 0, sizeof(*plan));
	plan->stderr_to = cfg->stderr_to;
	plan->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (plan->null_fd < 0) {
		ss_error_set(err, SS_ERR_START, "cannot open /dev/null: %s", strerror(errno));
		return -1;
	}
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
	plan->wait_for_exec = under_valgrind();
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
	free(plan->script);
	if (plan->null_fd > 0)
		close(plan->null_fd);
	free(plan->path);
	free(plan->argv);
	memset(plan, 0, sizeof(*plan));
}

/*
 * The child of a clone(CLONE_VM): it shares sockserve's memory, and the
 * calling thread's TLS, until it execs or exits.  So it runs on a stack of
 * its own, touches no libc state (not even errno: the system calls are made
 * inline where the architecture allows), no sanitizer interceptor, and
 * reports a failure by writing the error into its struct.
 */
struct child_args {
	const struct spawn_plan *plan;
	int in, out, errfd;
	char *const *envp;
	volatile int error;
};

/* The memory an asynchronous child runs in: kept per request slot, and not
 * used again before that child has been reaped (so it has exec'd or exited).
 * Its code calls no function and makes its system calls inline: its frame
 * is 24 bytes at -O2 and 680 at clang -O0 (-fstack-usage).  The arguments
 * sit just above the stack's top, so that a child touches one page, not two. */
#define SPAWN_CHILD_STACK 2048
struct spawn_child {
	_Alignas(16) char stack[SPAWN_CHILD_STACK];
	struct child_args args;
	/* The child's pid, written by the kernel (CLONE_PARENT_SETTID) before
	 * the child first runs, so before it can exit and be reaped. */
	pid_t pid;
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

/* A system call with up to four arguments; -errno on failure. */
#if defined(__x86_64__)
#define INLINE_SYSCALLS 1
UNINSTRUMENTED __attribute__((always_inline))
static inline long sys4(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
	                 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
#define INLINE_SYSCALLS 1
UNINSTRUMENTED __attribute__((always_inline))
static inline long sys4(long n, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}
#else
/* Elsewhere libc's syscall(), which sets errno: only under CLONE_VFORK,
 * where the caller is suspended and its errno is not in use. */
UNINSTRUMENTED
static long sys4(long n, long a, long b, long c, long d)
{
	long r = syscall(n, a, b, c, d);
	return r < 0 ? -errno : r;
}
#endif

UNINSTRUMENTED __attribute__((noinline))
static int spawn_child(void *arg)
{
	struct child_args *a = arg;
	const struct spawn_plan *plan = a->plan;
	struct kernel_sigaction_dfl dfl = { { 0 } };
	unsigned long empty[2] = { 0, 0 };
	long rc;

	/* A process group of its own, so that a timeout or a drain reaches
	 * whatever the handler starts (the parent makes it too: see below). */
	if (!plan->same_group && (rc = sys4(SYS_setpgid, 0, 0, 0, 0)) < 0)
		goto fail;
	/* Every descriptor of sockserve is close-on-exec and fds 0-2 are always
	 * open, so the sources here are >= 3 and need no reordering. */
	if ((rc = sys4(SYS_dup3, a->in, STDIN_FILENO, 0, 0)) < 0 ||
	    (rc = sys4(SYS_dup3, a->out, STDOUT_FILENO, 0, 0)) < 0 ||
	    (a->errfd >= 0 && (rc = sys4(SYS_dup3, a->errfd, STDERR_FILENO, 0, 0)) < 0))
		goto fail;
	/* Whatever sockserve itself inherited above fd 2 is closed too: the
	 * handler starts with fds 0, 1 and 2 and nothing else. */
#ifdef SYS_close_range
	if (sys4(SYS_close_range, 3, ~0U, 0, 0) < 0)
#endif
		for (int fd = 3; fd < plan->fd_limit; fd++)
			sys4(SYS_close, fd, 0, 0, 0);
	/* Default dispositions (sockserve ignores SIGPIPE; a handler must not),
	 * then an empty mask (sockserve blocks what it reads through signalfd). */
	for (int i = 0; i < plan->nignored; i++)
		sys4(SYS_rt_sigaction, plan->ignored[i], (long)&dfl, 0, KERNEL_SIGSET_SIZE);
	if ((rc = sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)empty, 0, KERNEL_SIGSET_SIZE)) < 0)
		goto fail;
	rc = sys4(SYS_execve, (long)plan->path, (long)plan->argv, (long)a->envp, 0);
fail:
	a->error = rc < 0 ? (int)-rc : ENOEXEC;
	sys4(SYS_exit, 127, 0, 0, 0);
	return 127;
}

struct spawn_child *spawn_child_new(void)
{
	return calloc(1, sizeof(struct spawn_child));
}

void spawn_child_free(struct spawn_child *child)
{
	free(child);
}

int spawn_child_error(const struct spawn_child *child)
{
	return child != NULL ? child->args.error : 0;
}

pid_t spawn_child_pid(const struct spawn_child *child)
{
	return __atomic_load_n(&child->pid, __ATOMIC_ACQUIRE);
}

void spawn_child_reset(struct spawn_child *child)
{
	__atomic_store_n(&child->pid, 0, __ATOMIC_RELEASE);
}

int spawn_handler(const struct spawn_plan *plan, int in, int out, int stderr_socket,
                  char *const envp[], struct spawn_child *async, pid_t *pid)
{
	int errfd = plan->stderr_to == SS_STDERR_SOCKET ? stderr_socket
	          : plan->stderr_to == SS_STDERR_NULL ? plan->null_fd : -1;
	struct child_args a = { .plan = plan, .in = in, .out = out, .errfd = errfd, .envp = envp };
	pid_t child;

#ifdef INLINE_SYSCALLS
	if (async != NULL && !plan->wait_for_exec) {
		/* The caller goes on at once; the child runs on the slot's memory
		 * and has a copy of the descriptor table, so the caller may close
		 * its copies of in, out and errfd right away. */
		async->args = a;
		child = libc_clone()(spawn_child, async->stack + sizeof(async->stack),
		                     CLONE_VM | CLONE_PARENT_SETTID | SIGCHLD, &async->args, &async->pid);
		if (child < 0)
			return errno;
		/* The group exists before the pid is known to anyone who could
		 * signal it (EACCES: the child has exec'd, and made it). */
		setpgid(child, child);
		*pid = child;
		return 0;
	}
#else
	(void)async;
#endif
	/* The child runs on this buffer while this thread waits (CLONE_VFORK):
	 * no mapping per request, and nothing of the address space is copied.
	 * An exec failure is known when clone returns. */
	_Alignas(16) char stack[SPAWN_STACK];
	pid_t scratch;
	child = libc_clone()(spawn_child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD,
	                     &a, async != NULL ? &async->pid : &scratch);
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
