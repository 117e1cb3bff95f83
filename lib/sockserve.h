/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockserve: the server library's public face.
 *
 * A server is three choices, after Python's socketserver: a transport (address
 * family x socket type), a concurrency mode (sync, fork, thread) and a request
 * handler (stream or datagram).  The caller fills a struct ss_config, creates
 * a server, makes it listen and runs it.  The library never prints usage and
 * never exits; every failure comes back as a struct ss_error.  lib/README.md
 * draws the files' layers and says where a new transport, handler or mode
 * goes.
 */
#ifndef SOCKSERVE_H
#define SOCKSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* From the VERSION file, through the Makefile: the version's one place. */
#ifndef SS_VERSION
#error "SS_VERSION is not defined: build with make, which reads it from VERSION"
#endif

/* SS_MODE_DEFAULT: fork, or sync with --wait. */
enum ss_mode { SS_MODE_DEFAULT = -1, SS_MODE_SYNC, SS_MODE_FORK, SS_MODE_THREAD };
enum ss_stderr { SS_STDERR_INHERIT, SS_STDERR_SOCKET, SS_STDERR_NULL };
enum ss_log_format { SS_LOG_TEXT, SS_LOG_JSON };

/* Log levels: what -q, the default and -v select. */
enum ss_log_level {
	SS_LOG_ALWAYS = -2, /* written whatever the level: the SIGUSR1 status */
	SS_LOG_QUIET = -1, /* nothing after start-up */
	SS_LOG_ERROR = 0,  /* failures, timeouts, drops (the default) */
	SS_LOG_INFO = 1,   /* -v: listening address, each request */
	SS_LOG_DEBUG = 2,  /* -vv: internal detail */
};

/* A duration option that was not given. */
#define SS_NO_TIME (-1)
/* A number option that was not given (no limit). */
#define SS_UNSET (-1)

/*
 * The configuration, as the user gave it: ss_server_new() checks all of it in
 * one place (ranges, and options that contradict each other or the address);
 * the caller only converts text to values.
 */
struct ss_config {
	const char *address;   /* ADDRESS as the user wrote it */
	int family;            /* AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC */
	int socktype;          /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET; 0: stream, or
	                          a handed-in socket's own */
	enum ss_mode mode;
	int64_t max_children;  /* requests in progress at once (fork, thread) */
	int64_t max_per_ip;    /* SS_UNSET: no limit */
	int64_t spawn_threads; /* fork mode: threads that start handlers (SS_UNSET: by cores) */
	int64_t max_openings;  /* connections opening at once (PROXY header, TLS handshake) */
	int64_t opening_timeout_ms; /* the time one has for its whole opening */
	int64_t workers;       /* processes serving the socket; SS_UNSET: 1 */
	int64_t rate_count;    /* --rate=N/SECONDS: N (SS_UNSET: no rate) */
	int64_t rate_ms;       /* and SECONDS, in milliseconds */
	const char *const *allow; /* --allow CIDRs, NULL-terminated (or NULL) */
	const char *const *deny;  /* --deny CIDRs */
	const char *rules;     /* --rules: a file of allow/deny lines, watched (NULL: none) */
	const char *const *proxy_from; /* --proxy-from: CIDR lists (comma-separated) of the
	                                  peers that may send PROXY headers (NULL: any) */
	const char *user;      /* drop to this user once bound (name or number) */
	const char *group;     /* and this group (default: the user's) */
	int socket_mode;       /* a unix socket path's permissions; SS_UNSET: the umask's */
	const char *pidfile;   /* write and lock it while serving */
	int64_t backlog;       /* listen(2) backlog */
	int64_t timeout_ms;    /* per request; SS_NO_TIME for none */
	int64_t idle_timeout_ms;
	int64_t grace_ms;      /* drain time after SIGTERM/SIGINT */
	int64_t max_requests;  /* SS_UNSET: no limit */
	int64_t max_packet;    /* largest datagram in or out */
	bool empty_reply;
	bool wait;             /* --wait: hand the listening socket itself to COMMAND */
	bool proxy_protocol;   /* connections start with a PROXY protocol header */
	bool tls;              /* stream connections are TLS (a throw-away certificate
	                          unless tls_cert) */
	const char *tls_cert;  /* PEM certificate (chain) and key */
	const char *tls_key;
	const char *tls_client_ca; /* client certificates required, verified by these CAs */
	const char *tls_alpn;  /* ALPN protocols the handler speaks, comma-separated */
	bool tls_relay;        /* relay: the default (kept for the command lines that say it) */
	bool tls_hand_over;    /* the socket itself to the handler where kTLS takes both ways */
	/* Testing clients: what passes is shown and kept, and faults are made
	 * toward the client (stream sockets then relay, as TLS does). */
	const char *trace;     /* --trace: a file, or "" for stderr; NULL: none */
	const char *record;    /* --record: a directory; NULL: none */
	int64_t delay_ms;      /* each chunk (datagram: reply) to the client that much later */
	int64_t throttle;      /* bytes per second each way; SS_UNSET: none */
	int64_t slice;         /* largest send to the client; SS_UNSET: none */
	int64_t cut_after;     /* reset after this many bytes to the client; SS_UNSET: none */
	int64_t stall_after;   /* send nothing after this many bytes; SS_UNSET: none */
	int64_t drop;          /* datagram replies dropped, percent; SS_UNSET: none */
	int64_t duplicate;     /* datagram replies sent twice, percent; SS_UNSET: none */
	int64_t seed;          /* for --drop and --duplicate; SS_UNSET: a random one, logged */
	/* WebSocket: stream connections open with an HTTP/1.1 upgrade */
	bool ws;
	bool ws_binary;        /* messages as raw bytes (else lines of text) */
	const char *ws_origin; /* origins that may upgrade, comma-separated (NULL: any) */
	const char *ws_protocol; /* subprotocols the handler speaks, in order (NULL: none) */
	int64_t ws_max_message; /* bytes; SS_UNSET: 1 MiB */
	bool shell;            /* argv[0] is a string for /bin/sh -c */
	char *const *argv;     /* COMMAND and its arguments, NULL-terminated */
	enum ss_stderr stderr_to;
	bool no_env;
	bool nodelay;
	const char *refuse_message; /* sent to a refused client (NULL: none), */
	size_t refuse_message_len;  /* its bytes (escapes undone: it may hold a NUL) */
	bool keepalive;        /* TCP keep-alive on accepted connections, with: */
	int64_t keepalive_idle, keepalive_interval, keepalive_count; /* seconds, seconds, probes */
	bool reuse_addr;
	bool reuse_port;
	bool v6only;
	int verbosity;         /* an enum ss_log_level */
	enum ss_log_format log_format;
};

/* A number option's range, stated once: the config check enforces it, and a
 * caller may quote it in its own messages.  NULL for an unknown option. */
struct ss_range {
	const char *option;    /* "--max-children" */
	long long min, max;
};
const struct ss_range *ss_option_range(const char *option);

/* What kind of failure: the command line's fault, or the world's. */
enum ss_error_kind { SS_ERR_NONE, SS_ERR_USAGE, SS_ERR_START, SS_ERR_RUN };

struct ss_error {
	enum ss_error_kind kind;
	char msg[512]; /* one line, no "sockserve: " prefix, no newline */
};

struct ss_server;

/* Fill a config with the contract's defaults. */
void ss_config_init(struct ss_config *cfg);

/* Check the config, resolve ADDRESS and COMMAND; nothing is bound yet. */
struct ss_server *ss_server_new(const struct ss_config *cfg, struct ss_error *err);

/* Route signals to the server, bind and listen, write the pid file, drop
 * privileges: once it returns, the server is ready (its address is known,
 * and a SIGTERM from now on gets the clean shutdown). */
int ss_server_listen(struct ss_server *srv, struct ss_error *err);

/* The bound address as text (valid after ss_server_listen). */
const char *ss_server_address(const struct ss_server *srv);

/* Serve until shut down by a signal or a limit; 0 on a clean end. */
int ss_server_run(struct ss_server *srv, struct ss_error *err);

void ss_server_free(struct ss_server *srv);

/* Write an error as one log line on stderr, in cfg's log format:
 * "sockserve: MESSAGE", or a JSON object with ts, level and event
 * ("usage_error" or "startup_error"). */
void ss_report(const struct ss_config *cfg, const struct ss_error *err);

#endif
