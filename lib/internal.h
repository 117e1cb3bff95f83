/*
 * Internal structures shared by the library's files.  Nothing here is part of
 * the public interface in sockserve.h.
 */
#ifndef SOCKSERVE_INTERNAL_H
#define SOCKSERVE_INTERNAL_H

#include "sockserve.h"

#include <bsd/libutil.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Room for "[v6]:port", a unix path or "@name", or "pid N", with its NUL. */
#define ADDR_TEXT_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) + 16)

/* Per-request connection variables: at most this many, in this much text. */
#define ENV_REQUEST_VARS 8
#define ENV_REQUEST_TEXT 768

struct ss_server;
struct request;

/* ---- addresses (addr.c) ---- */

struct address {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

int addr_parse(const char *text, int family, int socktype, struct address *out,
               struct ss_error *err);
/* IP:PORT, [V6]:PORT (v4-mapped shown as IPv4), /path or @name. */
void addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);
/* The IP as text (v4-mapped shown as IPv4) and the port, for inet addresses. */
void addr_ip_port(const struct sockaddr *sa, char *ip, size_t ipsize, unsigned *port);
/* The path of a unix address: "/path", "@name", or "" when unnamed. */
void addr_unix_path(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

/* ---- admission (acl.c) ---- */

/* A client IP as 16 bytes: IPv4 as ::ffff:a.b.c.d, so both forms count alike. */
struct ip_key {
	uint8_t b[16];
};

/* Requests in progress per client IP (--max-per-ip). */
struct ip_counts {
	struct ip_count *table;
	size_t mask;
};

/* One --allow or --deny rule: a prefix of the 16-byte form. */
struct cidr {
	struct ip_key net;
	unsigned bits;      /* of the 16-byte form: an IPv4 /8 is 104 */
	bool v4;
	const char *text;   /* as given */
};

struct acl {
	struct cidr *allow, *deny;
	size_t allow_count, deny_count;
};

/* Parse the config's --allow and --deny lists: a usage error names the value. */
int acl_init(struct acl *acl, const struct ss_config *cfg, struct ss_error *err);
void acl_free(struct acl *acl);
bool acl_active(const struct acl *acl);
/* NULL if the client may be served; else the --deny rule it matched
 * (*denied), or a rule with empty text: it matched no --allow rule. */
const struct cidr *acl_refuse(const struct acl *acl, const struct ip_key *key, bool *denied);

/* The IP of an inet address; false for any other family. */
bool ip_key_of(const struct sockaddr_storage *ss, struct ip_key *key);
int ip_counts_init(struct ip_counts *counts, unsigned limit);
void ip_counts_free(struct ip_counts *counts);
unsigned ip_counts_get(const struct ip_counts *counts, const struct ip_key *key);
void ip_counts_add(struct ip_counts *counts, const struct ip_key *key);
void ip_counts_remove(struct ip_counts *counts, const struct ip_key *key);

/* ---- --user and --group (privileges.c) ---- */

struct identity {
	bool wanted;        /* --user or --group given */
	bool has_user;
	uid_t uid;
	gid_t gid;
	bool gid_known;
	char *user_name;    /* for initgroups; NULL: a bare uid, no groups */
};

/* Look the names up: unknown ones are start-up errors. */
int identity_resolve(const struct ss_config *cfg, struct identity *id, struct ss_error *err);
/* Become that user and group for good (after binding). */
int identity_drop(const struct identity *id, struct ss_error *err);
void identity_free(struct identity *id);

/* ---- errors (server.c) ---- */

void ss_error_set(struct ss_error *err, enum ss_error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- the event loop (loop.c) ---- */

struct watch;
typedef void watch_fn(struct ss_server *srv, struct watch *w, uint32_t events);

struct watch {
	int fd;
	uint32_t events; /* as registered; 0 when not in the loop */
	watch_fn *fn;
	void *data;
};

struct loop {
	int epoll_fd;
	int signal_fd;
	struct watch signals;
};

int loop_open(struct loop *loop, const int *signals, watch_fn *on_signal);
/* Register, change or (events 0) drop a watch. */
int loop_set(struct loop *loop, struct watch *w, uint32_t events);
/* Wait up to timeout_ms (-1: no limit) and run the callbacks of what is ready. */
int loop_once(struct loop *loop, struct ss_server *srv, int timeout_ms);
void loop_close(struct loop *loop);
int64_t now_us(void);

/* ---- spawning the handler (spawn.c: the only fork/exec code) ---- */

struct spawn_plan {
	char *path;         /* resolved once at start-up */
	char **argv;
	int ignored[NSIG];  /* the signals exec would leave ignored */
	int nignored;
	int fd_limit;       /* where closing inherited fds may stop (no close_range) */
	bool wait_for_exec; /* spawn as vfork does, even where it need not */
};

int spawn_plan_init(struct spawn_plan *plan, const struct ss_config *cfg, struct ss_error *err);
void spawn_plan_free(struct spawn_plan *plan);
/* Start the handler with in/out/errfd as its fds 0, 1 and 2 (errfd -1: inherit
 * sockserve's stderr), in a process group of its own, with default signal
 * dispositions and an empty mask.  Returns 0 or an errno value.
 * With async (memory of the request's own, kept until the child is reaped)
 * the call returns as soon as the child exists, and an exec failure is known
 * only once it is reaped: spawn_child_error() then gives it (0: none).
 * Without, the call returns once the child has exec'd, or with its error. */
struct spawn_child;
int spawn_handler(const struct spawn_plan *plan, int in, int out, int errfd,
                  char *const envp[], struct spawn_child *async, pid_t *pid);
struct spawn_child *spawn_child_new(void);
void spawn_child_free(struct spawn_child *child);
int spawn_child_error(const struct spawn_child *child);

/* ---- the handler's environment (env.c) ---- */

int env_init(struct ss_server *srv, struct ss_error *err);
/* A slot's environment array, made when the slot is first used. */
int env_slot_init(struct ss_server *srv, struct request *req);
void env_free(struct ss_server *srv);
/* Start the request's variables afresh; then add them one by one. */
void env_reset(struct request *req);
void env_add(struct request *req, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- logging (log.c) ---- */

enum field_type { F_STR, F_INT, F_MS };
struct field {
	const char *key;
	enum field_type type;
	const char *s;
	long long i;
	double ms;
};
#define FSTR(k, v) { .key = (k), .type = F_STR, .s = (v) }
#define FINT(k, v) { .key = (k), .type = F_INT, .i = (v) }
#define FMS(k, v) { .key = (k), .type = F_MS, .ms = (v) }

/* One event, one line, one write(2): text is the human line, fields the JSON. */
void log_event(const struct ss_server *srv, int level, const char *event,
               const struct field *fields, size_t nfields, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
#define LOG_FIELDS(...) (const struct field[]){ __VA_ARGS__ }, \
	sizeof((const struct field[]){ __VA_ARGS__ }) / sizeof(struct field)
/* A plain message event at a level: {"event":EVENT,"message":...}. */
void log_msg(const struct ss_server *srv, int level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- the three axes ---- */

/* Transport: what differs between address families. */
struct transport {
	const char *name;
	/* Before bind: e.g. replace a stale unix socket path. */
	int (*prepare)(struct ss_server *srv, struct ss_error *err);
	/* Socket options before bind. */
	int (*configure)(struct ss_server *srv, int fd, struct ss_error *err);
	/* After bind: note what the server owns (the unix path). */
	void (*bound)(struct ss_server *srv);
	/* Describe the peer (req->remote) and set the connection variables. */
	void (*describe)(struct ss_server *srv, struct request *req);
	/* On shutdown: remove what the server created. */
	void (*cleanup)(struct ss_server *srv);
};

/* Handler: what differs between socket types. */
struct handler {
	const char *name;
	/* Take the next request off the listening socket: 1 got one, 0 none
	 * waiting, -1 failed with errno. */
	int (*receive)(struct ss_server *srv, struct request *req);
	/* Start the command wired to the request: 0 or an errno value. */
	int (*spawn)(struct ss_server *srv, struct request *req, pid_t *pid);
	/* Sync and fork modes: have the event loop feed and collect the running
	 * handler (NULL: nothing to do). */
	void (*watch)(struct ss_server *srv, struct request *req);
	/* Thread mode, in the request's worker: feed and collect the handler
	 * with blocking waits until it has exited, unreaped (NULL: nothing to
	 * do). */
	void (*pump)(struct ss_server *srv, struct request *req, pid_t pid);
	/* The handler has ended (req->exited) or never ran: send what is due
	 * and release what the request holds. */
	void (*finish)(struct ss_server *srv, struct request *req);
	/* Socket options the handler needs on the listener. */
	int (*configure)(struct ss_server *srv, int fd);
};

/* Mode: how requests run side by side. */
struct mode {
	const char *name;
	unsigned (*limit)(const struct ss_config *cfg);
	/* Once the event loop is open: what the mode needs (may be NULL). */
	int (*open)(struct ss_server *srv, struct ss_error *err);
	/* Run a received request; it ends through request_end(). */
	void (*dispatch)(struct ss_server *srv, struct request *req);
	/* SIGCHLD arrived (NULL: the mode does not reap from the loop, and
	 * SIGCHLD is left alone). */
	void (*children)(struct ss_server *srv);
	/* Send sig to the process group of a request's handler, if it has one
	 * that is not yet reaped; returns the handler's pid (0: not yet run). */
	pid_t (*signal)(struct ss_server *srv, struct request *req, int sig);
	/* Release what open() set up (may be NULL). */
	void (*close)(struct ss_server *srv);
};

const struct transport *transport_for(int family);
const struct handler *handler_for(int socktype);
const struct mode *mode_for(enum ss_mode mode);

/* ---- requests and the server ---- */

struct request {
	struct request *prev, *next; /* the in-progress list (start order) or the free list */
	int fd;                      /* stream: the connection while sockserve holds it */
	pid_t pid;                   /* the handler, 0 before it runs */
	int64_t start_us;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char remote[ADDR_TEXT_MAX]; /* the client, for logs */
	struct ip_key ip;           /* the client's IP, when counted for --max-per-ip */
	bool ip_counted;
	struct sockaddr_storage local; /* the address the client reached, when known */
	bool has_local;
	bool timed_out;             /* sent SIGTERM by --timeout at term_us */
	bool kill_sent;             /* then SIGKILL */
	int64_t term_us;
	bool exited;                /* the handler ended with wstatus */
	int wstatus;
	/* thread mode: written by the worker under the pool's lock */
	bool reaped;                /* the worker has reaped pid */
	int pending_signal;         /* asked for before the handler ran */
	struct worker *worker;      /* the slot's thread, once started */
	struct spawn_child *child;  /* fork and sync modes: what the child runs in */

	/* datagram requests: the packet in, the reply out, through two pipes */
	char *packet;               /* --max-packet bytes, allocated on first use */
	size_t packet_len, packet_off;
	char *reply;                /* --max-packet bytes, allocated on first use */
	size_t reply_len;           /* kept, at most --max-packet */
	size_t reply_total;         /* written by the handler, kept or not */
	int in_fd, out_fd;          /* our ends of its stdin and stdout; -1 closed */
	int pipes[4];               /* made before the datagram is read: stdin's
	                               read and write ends, stdout's; -1 when not */
	struct watch in_w, out_w;
	char **envp;                /* the template, then this request's variables */
	size_t env_base;            /* where the request's variables start in envp */
	size_t env_used;            /* variables added */
	size_t env_text_used;
	char env_text[ENV_REQUEST_TEXT];
};

struct ss_server {
	struct ss_config cfg;
	const struct transport *transport;
	const struct handler *handler;
	const struct mode *mode;

	struct address addr;
	char addr_text[ADDR_TEXT_MAX]; /* as bound */
	const char *proto;             /* "TCP", "UDP" or "UNIX" */
	const char *var_prefix;        /* "TCP" or "UDP" for the inet variables */
	int listen_fd;
	struct watch listener;

	/* inet: the local address when it is not a wildcard */
	bool local_known;
	char local_ip[INET6_ADDRSTRLEN];
	unsigned local_port;

	/* unix: the path sockserve created, to remove at exit */
	bool unix_owned;
	dev_t unix_dev;
	ino_t unix_ino;

	struct spawn_plan plan;
	int null_fd;                  /* /dev/null, for --stderr=null */
	char **env_template;          /* sockserve's environment less the UCSPI names */
	size_t env_template_count;

	struct loop loop;

	unsigned limit;               /* requests in progress at once */
	struct request *slots;
	struct request *free_list;
	unsigned slots_used;         /* slots set up so far (the first ones) */
	struct request active;        /* sentinel of the in-progress list */
	unsigned active_count;
	struct ip_counts per_ip;      /* --max-per-ip */
	struct acl acl;               /* --allow, --deny */
	struct identity identity;     /* --user, --group */
	struct pidfh *pidfile;        /* --pidfile, held while serving */
	int64_t accept_paused_until;  /* descriptor exhaustion back-off */
	int64_t starved_logged_us;    /* when running out of descriptors was last logged */

	bool draining;
	bool killed;
	int64_t grace_deadline;     /* INT64_MAX: wait for the handlers however long */
	bool done;
	int64_t last_activity_us;   /* a request arrived or ended: for --idle-timeout */
	uint64_t received;          /* requests taken: for --max-requests */

	uint64_t handled, failed, rejected, dropped, timed_out;

	struct pool *pool;          /* thread mode's shared state */
};

/* Add a request to the in-progress list once its handler runs, and log it. */
void request_started(struct ss_server *srv, struct request *req);
/* The two halves of that: thread mode tracks at dispatch; its worker logs. */
void request_track(struct ss_server *srv, struct request *req);
void request_log_start(const struct ss_server *srv, const struct request *req);
/* The handler ended with wait status `wstatus`: log, count, free the slot. */
void request_end(struct ss_server *srv, struct request *req, int wstatus);
/* The request could not be run (errno value `error`): log, count, free it. */
void request_failed(struct ss_server *srv, struct request *req, int error);
/* Find the in-progress request whose handler is `pid`. */
struct request *request_by_pid(struct ss_server *srv, pid_t pid);

#endif
