/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The command line: popt tables (one sub-table per concern) turned into a
 * struct ss_config.  Every value is taken as a string and converted here, so
 * each error names the option and the value: numbers through strtonum(3),
 * names through one lookup table each.  This is syntax only: the ranges, and
 * options that contradict each other or the address, are the library's one
 * config check (lib/config.c), whose ranges the messages here quote.
 */
#include "options.h"

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <popt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { OPT_INET = 1000, OPT_INET6, OPT_UNIX, OPT_VERBOSE, OPT_QUIET, OPT_VERSION, OPT_STRING, OPT_HELP, OPT_USAGE,
       OPT_TRACE, OPT_KEEPALIVE };

/* What popt fills in; converted and checked by options_parse(). */
static struct {
	char *family, *type, *mode, *max_children, *max_per_ip, *rate, *backlog, *grace, *stderr_to, *log_format, *max_packet,
	     *timeout, *idle_timeout, *max_requests, *max_openings, *opening_timeout, *spawn_threads, *user, *group, *socket_mode, *pidfile, *workers, *tls_cert, *tls_key, *tls_client_ca, *tls_alpn,
	     *trace, *record, *delay, *throttle, *slice, *cut_after, *stall_after, *drop, *duplicate, *seed,
	     *ws_origin, *ws_protocol, *ws_max_message, *keepalive, *refuse_message, *rules;
	char **allow, **deny, **proxy_from; /* repeatable: popt collects them */
	int shell, no_env, nodelay, no_reuse_addr, reuse_port, v6only, print_address, empty_reply, once, wait,
	    proxy_protocol, tls, tls_relay, tls_hand_over, trace_given, ws, ws_binary, keepalive_given;
} o;
static poptContext con;

struct name { const char *name; int value; };

static const struct name families[] = {
	{ "inet", AF_INET }, { "inet6", AF_INET6 }, { "unix", AF_UNIX }, { NULL, 0 } };
static const struct name types[] = {
	{ "stream", SOCK_STREAM }, { "dgram", SOCK_DGRAM }, { "seqpacket", SOCK_SEQPACKET }, { NULL, 0 } };
static const struct name modes[] = {
	{ "sync", SS_MODE_SYNC }, { "fork", SS_MODE_FORK }, { "thread", SS_MODE_THREAD }, { NULL, 0 } };
static const struct name stderrs[] = {
	{ "inherit", SS_STDERR_INHERIT }, { "socket", SS_STDERR_SOCKET }, { "null", SS_STDERR_NULL }, { NULL, 0 } };
static const struct name log_formats[] = {
	{ "text", SS_LOG_TEXT }, { "json", SS_LOG_JSON }, { NULL, 0 } };

static struct poptOption address_options[] = {
	{ "family", 'f', POPT_ARG_STRING, &o.family, OPT_STRING,
	  "address family: inet, inet6 or unix (default: from ADDRESS)", "FAMILY" },
	{ NULL, '4', POPT_ARG_NONE, NULL, OPT_INET, "same as --family=inet", NULL },
	{ NULL, '6', POPT_ARG_NONE, NULL, OPT_INET6, "same as --family=inet6", NULL },
	{ NULL, 'U', POPT_ARG_NONE, NULL, OPT_UNIX, "same as --family=unix", NULL },
	{ "type", 't', POPT_ARG_STRING, &o.type, OPT_STRING,
	  "socket type: stream, dgram or seqpacket (unix only) (default: stream)", "TYPE" },
	{ "backlog", 'b', POPT_ARG_STRING, &o.backlog, OPT_STRING,
	  "listen(2) backlog (default: SOMAXCONN, the kernel's cap)", "N" },
	{ "no-reuse-addr", 0, POPT_ARG_NONE, &o.no_reuse_addr, 0, "do not set SO_REUSEADDR", NULL },
	{ "reuse-port", 0, POPT_ARG_NONE, &o.reuse_port, 0, "set SO_REUSEPORT", NULL },
	{ "v6only", 0, POPT_ARG_NONE, &o.v6only, 0, "IPv6 only on an inet6 socket (no dual stack)", NULL },
	{ "nodelay", 0, POPT_ARG_NONE, &o.nodelay, 0, "set TCP_NODELAY on accepted TCP connections", NULL },
	{ "keepalive", 0, POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, &o.keepalive, OPT_KEEPALIVE,
	  "TCP keep-alive on accepted connections: probe after IDLE seconds idle, every INTERVAL, "
	  "COUNT times (write --keepalive=IDLE[,INTERVAL,COUNT]; default 60,10,6)", "IDLE" },
	{ "print-address", 0, POPT_ARG_NONE, &o.print_address, 0,
	  "once listening, print the bound address on stdout, then close stdout", NULL },
	POPT_TABLEEND
};

static struct poptOption datagram_options[] = {
	{ "max-packet", 0, POPT_ARG_STRING, &o.max_packet, OPT_STRING,
	  "largest datagram read or sent, 1 to 65535 (default: 8192)", "BYTES" },
	{ "empty-reply", 0, POPT_ARG_NONE, &o.empty_reply, 0,
	  "send an empty datagram when the handler writes nothing", NULL },
	POPT_TABLEEND
};

static struct poptOption concurrency_options[] = {
	{ "mode", 'm', POPT_ARG_STRING, &o.mode, OPT_STRING,
	  "concurrency: sync (one at a time), fork (a process per request) or "
	  "thread (a thread per request spawns and waits) (default: fork)", "MODE" },
	{ "max-children", 'c', POPT_ARG_STRING, &o.max_children, OPT_STRING,
	  "most requests in progress at once (default: 40)", "N" },
	{ "workers", 0, POPT_ARG_STRING, &o.workers, OPT_STRING,
	  "N processes serve the socket, each with its own event loop and an N-th of "
	  "--max-children (for many cores; default: 1)", "N" },
	{ "spawn-threads", 0, POPT_ARG_STRING, &o.spawn_threads, OPT_STRING,
	  "fork mode: threads that start the handlers, so that the event loop never waits in "
	  "clone(2); 0: the loop itself (default: one for every 12 cores, at most 4)", "N" },
	{ "max-per-ip", 0, POPT_ARG_STRING, &o.max_per_ip, OPT_STRING,
	  "most requests in progress from one client IP; more are refused (default: no limit)", "N" },
	{ "max-openings", 0, POPT_ARG_STRING, &o.max_openings, OPT_STRING,
	  "most connections opening at once (PROXY header, TLS handshake), apart from "
	  "--max-children; when full, the one idle longest makes room (default: 512)", "N" },
	{ "opening-timeout", 0, POPT_ARG_STRING, &o.opening_timeout, OPT_STRING,
	  "the time a connection has to open, all stages together (default: 5)", "SECONDS" },
	{ "timeout", 'T', POPT_ARG_STRING, &o.timeout, OPT_STRING,
	  "stop a request's handler after SECONDS (SIGTERM, SIGKILL 1 s later)", "SECONDS" },
	{ "idle-timeout", 0, POPT_ARG_STRING, &o.idle_timeout, OPT_STRING,
	  "exit 0 after SECONDS with no request arriving or running", "SECONDS" },
	{ "max-requests", 'n', POPT_ARG_STRING, &o.max_requests, OPT_STRING,
	  "handle N requests, wait for them, exit 0", "N" },
	{ "once", 0, POPT_ARG_NONE, &o.once, 0, "same as --max-requests=1", NULL },
	{ "wait", 0, POPT_ARG_NONE, &o.wait, 0,
	  "inetd's wait mode: give the listening socket itself to COMMAND, "
	  "one at a time, and wait for it to exit", NULL },
	{ "grace", 0, POPT_ARG_STRING, &o.grace, OPT_STRING,
	  "on SIGTERM/SIGINT, how long running handlers may finish (default: 10)", "SECONDS" },
	POPT_TABLEEND
};

static struct poptOption handler_options[] = {
	{ "shell", 's', POPT_ARG_NONE, &o.shell, 0, "run COMMAND with /bin/sh -c", NULL },
	{ "stderr", 0, POPT_ARG_STRING, &o.stderr_to, OPT_STRING,
	  "the handler's stderr: inherit, socket or null (default: inherit)", "WHERE" },
	{ "no-env", 0, POPT_ARG_NONE, &o.no_env, 0,
	  "do not set PROTO, TCPREMOTEIP and the other connection variables", NULL },
	POPT_TABLEEND
};

static struct poptOption tls_options[] = {
	{ "tls", 0, POPT_ARG_NONE, &o.tls, 0,
	  "TLS with a throw-away self-signed certificate (for localhost, 127.0.0.1, ::1; "
	  "its SHA-256 fingerprint is logged)", NULL },
	{ "tls-cert", 0, POPT_ARG_STRING, &o.tls_cert, OPT_STRING,
	  "TLS with this certificate (PEM, with its chain); needs --tls-key", "FILE" },
	{ "tls-key", 0, POPT_ARG_STRING, &o.tls_key, OPT_STRING, "the certificate's private key (PEM)", "FILE" },
	{ "tls-client-ca", 0, POPT_ARG_STRING, &o.tls_client_ca, OPT_STRING,
	  "require client certificates, verified by these CAs (PEM)", "FILE" },
	{ "tls-alpn", 0, POPT_ARG_STRING, &o.tls_alpn, OPT_STRING,
	  "ALPN protocols the handler speaks, in order (h2,http/1.1): the client's first of them is "
	  "agreed and given as SSL_ALPN (default: none)", "LIST" },
	{ "tls-hand-over", 0, POPT_ARG_NONE, &o.tls_hand_over, 0,
	  "where kTLS takes both directions, give the handler the socket itself, not a relay (its "
	  "reads then fail with EIO at the client's close_notify)", NULL },
	{ "tls-relay", 0, POPT_ARG_NONE, &o.tls_relay, 0,
	  "relay the plaintext through the handler's pipes: the default, kept for scripts that say "
	  "it", NULL },
	POPT_TABLEEND
};

static struct poptOption ws_options[] = {
	{ "ws", 0, POPT_ARG_NONE, &o.ws, 0,
	  "WebSocket: each connection opens with an HTTP/1.1 upgrade; each message is a line of the "
	  "handler's input, each line it writes a message", NULL },
	{ "ws-binary", 0, POPT_ARG_NONE, &o.ws_binary, 0,
	  "messages in and out as raw bytes, not lines", NULL },
	{ "ws-origin", 0, POPT_ARG_STRING, &o.ws_origin, OPT_STRING,
	  "only these origins may upgrade (comma-separated: https://example.com,...); others get 403", "LIST" },
	{ "ws-protocol", 0, POPT_ARG_STRING, &o.ws_protocol, OPT_STRING,
	  "subprotocols the handler speaks: the client's first of them is agreed", "LIST" },
	{ "ws-max-message", 0, POPT_ARG_STRING, &o.ws_max_message, OPT_STRING,
	  "largest message from a client; beyond it the connection closes with 1009 (default: 1048576)", "BYTES" },
	POPT_TABLEEND
};

static struct poptOption testing_options[] = {
	{ "trace", 0, POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, &o.trace, OPT_TRACE,
	  "hexdump every byte each way as it passes (the plaintext under TLS), on stderr or "
	  "appended to FILE (write --trace=FILE); JSON lines with --log-format=json", "FILE" },
	{ "record", 0, POPT_ARG_STRING, &o.record, OPT_STRING,
	  "keep each request's bytes in DIR: a file each way, and a JSON summary", "DIR" },
	{ "delay", 0, POPT_ARG_STRING, &o.delay, OPT_STRING,
	  "send each chunk (datagrams: each reply) to the client SECONDS later", "SECONDS" },
	{ "throttle", 0, POPT_ARG_STRING, &o.throttle, OPT_STRING,
	  "at most RATE bytes a second each way (50000, 50k, 2M)", "RATE" },
	{ "slice", 0, POPT_ARG_STRING, &o.slice, OPT_STRING,
	  "send to the client in pieces of at most BYTES, each its own send, 10 ms apart", "BYTES" },
	{ "cut-after", 0, POPT_ARG_STRING, &o.cut_after, OPT_STRING,
	  "reset the connection after BYTES to the client", "BYTES" },
	{ "stall-after", 0, POPT_ARG_STRING, &o.stall_after, OPT_STRING,
	  "send nothing more after BYTES to the client, and keep the connection open", "BYTES" },
	{ "drop", 0, POPT_ARG_STRING, &o.drop, OPT_STRING, "drop PERCENT of the datagram replies", "PERCENT" },
	{ "duplicate", 0, POPT_ARG_STRING, &o.duplicate, OPT_STRING,
	  "send PERCENT of the datagram replies twice", "PERCENT" },
	{ "seed", 0, POPT_ARG_STRING, &o.seed, OPT_STRING,
	  "which replies --drop and --duplicate pick: the same each run (default: random, logged with -v)", "N" },
	POPT_TABLEEND
};

static struct poptOption access_options[] = {
	{ "allow", 0, POPT_ARG_ARGV, &o.allow, 0,
	  "serve only clients in CIDR (repeatable; 10.0.0.0/8, ::1, ...)", "CIDR" },
	{ "deny", 0, POPT_ARG_ARGV, &o.deny, 0, "refuse clients in CIDR (repeatable; wins over --allow)", "CIDR" },
	{ "rules", 0, POPT_ARG_STRING, &o.rules, OPT_STRING,
	  "access rules in FILE, one a line: 'allow CIDR [NAME=VALUE...]' or 'deny CIDR'; the first that "
	  "matches decides (no match: --allow/--deny); re-read when the file changes", "FILE" },
	{ "refuse-message", 0, POPT_ARG_STRING, &o.refuse_message, OPT_STRING,
	  "send TEXT to a refused client before closing (a datagram: as the reply); C escapes such as "
	  "\\r\\n and \\x07 are understood", "TEXT" },
	{ "rate", 0, POPT_ARG_STRING, &o.rate, OPT_STRING,
	  "at most N new requests per SECONDS from one client IP, as N/SECONDS; more are refused", "RATE" },
	{ "proxy-protocol", 0, POPT_ARG_NONE, &o.proxy_protocol, 0,
	  "connections start with a PROXY protocol header (v1 or v2, from HAProxy...): "
	  "its client address is the one served, logged and checked", NULL },
	{ "proxy-from", 0, POPT_ARG_ARGV, &o.proxy_from, 0,
	  "accept PROXY headers only from peers in these CIDRs (comma-separated, repeatable); "
	  "others are refused. Without it, anyone who reaches the port can claim any address", "LIST" },
	{ "user", 'u', POPT_ARG_STRING, &o.user, OPT_STRING,
	  "once bound, run as USER (and its groups); handlers too", "USER" },
	{ "group", 'g', POPT_ARG_STRING, &o.group, OPT_STRING, "once bound, run as GROUP (default: USER's)", "GROUP" },
	{ "socket-mode", 0, POPT_ARG_STRING, &o.socket_mode, OPT_STRING,
	  "permissions of a unix socket path, in octal (default: from the umask)", "OCTAL" },
	{ "pidfile", 0, POPT_ARG_STRING, &o.pidfile, OPT_STRING,
	  "write and lock FILE with sockserve's pid; a second instance fails", "FILE" },
	POPT_TABLEEND
};

static struct poptOption log_options[] = {
	{ "verbose", 'v', POPT_ARG_NONE, NULL, OPT_VERBOSE,
	  "log the listening address and every request (repeat for more)", NULL },
	{ "quiet", 'q', POPT_ARG_NONE, NULL, OPT_QUIET, "log nothing after start-up", NULL },
	{ "log-format", 0, POPT_ARG_STRING, &o.log_format, OPT_STRING,
	  "text or json, one line per event (default: text)", "FORMAT" },
	{ "version", 'V', POPT_ARG_NONE, NULL, OPT_VERSION, "print the version and exit", NULL },
	POPT_TABLEEND
};

/* popt's POPT_AUTOHELP, with -h beside -? and a footer after the table. */
static struct poptOption help_options[] = {
	{ "help", 'h', POPT_ARG_NONE, NULL, OPT_HELP, "show this help and exit (also -?)", NULL },
	{ NULL, '?', POPT_ARG_NONE | POPT_ARGFLAG_DOC_HIDDEN, NULL, OPT_HELP, NULL, NULL },
	{ "usage", 0, POPT_ARG_NONE, NULL, OPT_USAGE, "show a short usage message and exit", NULL },
	POPT_TABLEEND
};

static const char help_footer[] =
	"\n"
	"ADDRESS is one of:\n"
	"  PORT                  every local address (PORT 0: the kernel picks one)\n"
	"  HOST:PORT             an IPv4 address or a host name, as one word\n"
	"  [V6]:PORT             an IPv6 address ([::]:PORT takes IPv4 clients too)\n"
	"  ./s.sock, /run/s.sock a unix socket path (anything with a '/')\n"
	"  @NAME                 a Linux abstract unix socket\n"
	"  fd:N, systemd[:NAME]  a socket handed in (inetd, systemd)\n"
	"\n"
	"Options come before ADDRESS; everything after it (and an optional --) is\n"
	"COMMAND and its arguments.  Examples:\n"
	"  sockserve --print-address 127.0.0.1:0 -- cat     an echo server on a free port\n"
	"  sockserve -t dgram 127.0.0.1:9999 -- tr a-z A-Z  one UDP packet in, one reply out\n"
	"\n"
	"See sockserve(1) for everything: man sockserve.\n";

static struct poptOption options[] = {
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, address_options, 0, "Address and socket:", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, datagram_options, 0, "Datagrams (--type=dgram):", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, concurrency_options, 0, "Concurrency and shutdown:", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, handler_options, 0, "The handler:", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, access_options, 0, "Access and privileges:", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, tls_options, 0, "TLS (stream sockets):", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, ws_options, 0, "WebSocket (stream sockets):", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, testing_options, 0, "Testing clients:", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, log_options, 0, "Logging and information:", NULL },
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, help_options, 0, "Help options:", NULL },
	POPT_TABLEEND
};

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'sockserve --help' for more information.\n");
}

static int lookup(const char *option, const char *text, const struct name *names, int *out)
{
	char choices[128] = "";

	for (const struct name *n = names; n->name != NULL; n++) {
		if (strcmp(n->name, text) == 0) {
			*out = n->value;
			return 0;
		}
		strlcat(choices, n->name, sizeof(choices));
		strlcat(choices, n[1].name ? ", " : "", sizeof(choices));
	}
	usage_error("%s: unknown value '%s' (choose from %s)", option, text, choices);
	return -1;
}

/* " (1 to 10000)": the range the library states for option. */
static const char *range_text(const char *option, char *buf, size_t size)
{
	const struct ss_range *r = ss_option_range(option);

	if (r == NULL)
		return "";
	snprintf(buf, size, " (%lld to %lld)", r->min, r->max);
	return buf;
}

/* A whole number, not negative. */
static int number(const char *option, const char *text, int64_t *out)
{
	const char *errstr;
	char range[64];
	long long n = 0;

	/* digits only: strtonum(3) would take a sign and leading blanks */
	if (text[0] == '\0' || text[strspn(text, "0123456789")] != '\0')
		errstr = "invalid";
	else
		n = strtonum(text, 0, LLONG_MAX, &errstr);

	if (errstr == NULL) {
		*out = n;
		return 0;
	}
	if (strcmp(errstr, "invalid") == 0)
		usage_error("%s: '%s' is not a whole number%s", option, text, range_text(option, range, sizeof(range)));
	else
		usage_error("%s: '%s' is %s%s", option, text, errstr, range_text(option, range, sizeof(range)));
	return -1;
}

/* A unix permission mode in octal: 660, 0600, 777 (its range, in octal,
 * is the library's). */
static int octal_mode(const char *option, const char *text, int *out)
{
	const struct ss_range *r = ss_option_range(option);
	size_t len = strlen(text);
	long value = len > 0 && len <= 4 && strspn(text, "01234567") == len ? strtol(text, NULL, 8) : -1;

	if (value < r->min || value > r->max) {
		usage_error("%s: '%s' is not an octal permission mode (%llo to %llo)", option, text, r->min, r->max);
		return -1;
	}
	*out = (int)value;
	return 0;
}

/* Seconds with an optional fraction, as milliseconds (up to a bound far past
 * any range, so that nothing overflows). */
static int seconds(const char *option, const char *text, int64_t *out_ms)
{
	char *end;
	double value;

	/* DIGITS[.DIGITS] or .DIGITS only: strtod(3) would take blanks, a sign,
	 * hexadecimal, exponents, "inf" and "nan" */
	size_t whole = strspn(text, "0123456789"), point = text[whole] == '.';
	size_t fraction = strspn(text + whole + point, "0123456789");
	errno = 0;
	value = strtod(text, &end);
	if (whole + fraction == 0 || text[whole + point + fraction] != '\0' || (point && fraction == 0) ||
	    end != text + whole + point + fraction || errno != 0 || !isfinite(value)) {
		usage_error("%s: '%s' is not a number of seconds (such as 5, 0.5 or .25)", option, text);
		return -1;
	}
	/* Adding a half rounds to the nearest ms (and keeps sockserve off libm,
	 * whose pages would count in its RSS). */
	*out_ms = value > 1e12 ? (int64_t)1e15 : (int64_t)(value * 1000.0 + 0.5);
	return 0;
}

/* Bytes a second: 50000, 50k, 2M (k and M are 1000 and 1000000). */
static int bytes_rate(const char *option, const char *text, int64_t *out)
{
	char digits[32];
	size_t len = strlen(text);
	int64_t scale = 1;

	if (len > 1 && strchr("kKmM", text[len - 1]) != NULL) {
		scale = text[len - 1] == 'k' || text[len - 1] == 'K' ? 1000 : 1000000;
		len--;
	}
	if (len == 0 || len >= sizeof(digits) || strspn(text, "0123456789") != len) {
		usage_error("%s: '%s' is not a rate in bytes a second (such as 50000, 50k or 2M)", option, text);
		return -1;
	}
	memcpy(digits, text, len);
	digits[len] = '\0';
	if (number(option, digits, out) < 0)
		return -1;
	*out = *out > LLONG_MAX / scale ? LLONG_MAX : *out * scale;
	return 0;
}

/* --refuse-message's C escapes (\\ \a \b \e \f \n \r \t \v \0 \xHH), undone in
 * place: the text popt gave is ours. */
static int unescape(const char *option, char *text, struct ss_config *cfg)
{
	static const char from[] = "\\abefnrtv0", to[] = "\\\a\b\033\f\n\r\t\v";
	char *w = text;

	for (const char *r = text; *r != '\0'; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		const char *e = r[1] != '\0' ? strchr(from, r[1]) : NULL;
		if (e != NULL) {
			*w++ = e - from < 9 ? to[e - from] : '\0';
			r++;
		} else if (r[1] == 'x' && isxdigit((unsigned char)r[2]) && isxdigit((unsigned char)r[3])) {
			char hex[3] = { r[2], r[3], '\0' };
			*w++ = (char)strtol(hex, NULL, 16);
			r += 3;
		} else {
			usage_error("%s: '\\%c' is not an escape (\\r, \\n, \\t, \\\\, \\xHH, ...)", option,
			            r[1] != '\0' ? r[1] : ' ');
			return -1;
		}
	}
	cfg->refuse_message = text;
	cfg->refuse_message_len = (size_t)(w - text);
	return 0;
}

/* --keepalive[=IDLE[,INTERVAL,COUNT]]: whole seconds, and a count. */
static int parse_keepalive(const char *text, struct ss_config *cfg)
{
	char copy[64];
	char *parts[3] = { NULL, NULL, NULL };
	int n = 0;

	cfg->keepalive = true;
	if (text == NULL)
		return 0;
	strlcpy(copy, text, sizeof(copy));
	for (char *p = copy, *tok; (tok = strsep(&p, ",")) != NULL;)
		if (n++ < 3)
			parts[n - 1] = tok;
	/* one part or three */
	if (strlen(text) >= sizeof(copy) || (n != 1 && n != 3)) {
		usage_error("--keepalive: '%s' is not IDLE or IDLE,INTERVAL,COUNT (60 or 60,10,6)", text);
		return -1;
	}
	if (number("--keepalive IDLE", parts[0], &cfg->keepalive_idle) < 0 ||
	    (n == 3 && (number("--keepalive INTERVAL", parts[1], &cfg->keepalive_interval) < 0 ||
	                number("--keepalive COUNT", parts[2], &cfg->keepalive_count) < 0)))
		return -1;
	return 0;
}

/* --rate=N/SECONDS: 10/1, 100/60, 5/0.5. */
static int parse_rate(const char *text, struct ss_config *cfg)
{
	const char *slash = strchr(text, '/');
	char count[32];

	if (slash == NULL || (size_t)(slash - text) >= sizeof(count)) {
		usage_error("--rate: '%s' is not N/SECONDS (10/1: at most 10 a second)", text);
		return -1;
	}
	memcpy(count, text, (size_t)(slash - text));
	count[slash - text] = '\0';
	if (number("--rate", count, &cfg->rate_count) < 0 || seconds("--rate SECONDS", slash + 1, &cfg->rate_ms) < 0)
		return -1;
	return 0;
}

static int set_family(struct ss_config *cfg, int family, const char *flag)
{
	if (cfg->family != AF_UNSPEC && cfg->family != family) {
		usage_error("%s contradicts an earlier family option", flag);
		return -1;
	}
	cfg->family = family;
	return 0;
}

/* popt strdups a string option's value into its variable each time it is
 * given, and leaves the one it replaces to the caller: what each variable
 * held, so that a repeated option frees its earlier value. */
static char **const strings[] = {
	&o.family, &o.type, &o.mode, &o.max_children, &o.max_per_ip, &o.rate, &o.backlog, &o.grace, &o.stderr_to,
	&o.log_format, &o.max_packet, &o.timeout, &o.idle_timeout, &o.max_requests, &o.max_openings, &o.spawn_threads,
	&o.opening_timeout, &o.user, &o.group, &o.workers,
	&o.socket_mode, &o.pidfile, &o.tls_cert, &o.tls_key, &o.tls_client_ca, &o.tls_alpn,
	&o.trace, &o.record, &o.delay, &o.throttle, &o.slice, &o.cut_after, &o.stall_after, &o.drop, &o.duplicate, &o.seed,
	&o.ws_origin, &o.ws_protocol, &o.ws_max_message, &o.keepalive, &o.refuse_message, &o.rules,
};
static char *held[sizeof(strings) / sizeof(strings[0])];

static void free_replaced(void)
{
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		if (*strings[i] != held[i])
			free(held[i]);
		held[i] = *strings[i];
	}
}

/* The command line as given, to tell --trace=FILE from --trace ADDRESS. */
static const char **given;
static int given_count, given_next;

/* popt takes the word after an optional argument's option as its value
 * unless it starts with '-': "--trace 127.0.0.1:0 cat" would trace to a
 * file named 127.0.0.1:0.  Only --NAME=VALUE gives a value; a word after a
 * bare --NAME goes back to be read as the next argument. */
static void optional_argument(const char *option, char **value, int *given_flag)
{
	size_t len = strlen(option);

	for (; given_next < given_count; given_next++) {
		const char *a = given[given_next];
		if (strcmp(a, option) == 0 && *value != NULL) {
			const char *back[] = { *value, NULL };
			poptStuffArgs(con, back);
			free(*value);
			*value = NULL;
			given_next += 2;
			break;
		}
		if (strcmp(a, option) == 0 || (strncmp(a, option, len) == 0 && a[len] == '=')) {
			given_next++;
			break;
		}
	}
	free_replaced();
	*given_flag = 1;
}

static int read_flags(struct ss_config *cfg)
{
	int rc;

	while ((rc = poptGetNextOpt(con)) > 0) {
		switch (rc) {
		case OPT_STRING: free_replaced(); break;
		case OPT_TRACE: optional_argument("--trace", &o.trace, &o.trace_given); break;
		case OPT_KEEPALIVE: optional_argument("--keepalive", &o.keepalive, &o.keepalive_given); break;
		case OPT_INET: if (set_family(cfg, AF_INET, "-4") < 0) return -1; break;
		case OPT_INET6: if (set_family(cfg, AF_INET6, "-6") < 0) return -1; break;
		case OPT_UNIX: if (set_family(cfg, AF_UNIX, "-U") < 0) return -1; break;
		case OPT_VERBOSE: cfg->verbosity++; break;
		case OPT_QUIET: cfg->verbosity = SS_LOG_QUIET; break;
		case OPT_VERSION: printf("sockserve %s\n", SS_VERSION); return 1;
		case OPT_HELP:
			poptPrintHelp(con, stdout, 0);
			fputs(help_footer, stdout);
			return 1;
		case OPT_USAGE: poptPrintUsage(con, stdout, 0); return 1;
		}
	}
	if (rc < -1) {
		usage_error("%s: %s", poptBadOption(con, POPT_BADOPTION_NOALIAS), poptStrerror(rc));
		return -1;
	}
	return 0;
}

static int convert(struct ss_config *cfg)
{
	int value;

	if (o.family != NULL) {
		if (lookup("--family", o.family, families, &value) < 0 || set_family(cfg, value, "--family") < 0)
			return -1;
	}
	if (o.type != NULL && lookup("--type", o.type, types, &cfg->socktype) < 0)
		return -1;
	if (o.mode != NULL) {
		if (lookup("--mode", o.mode, modes, &value) < 0)
			return -1;
		cfg->mode = (enum ss_mode)value;
	}
	if (o.stderr_to != NULL) {
		if (lookup("--stderr", o.stderr_to, stderrs, &value) < 0)
			return -1;
		cfg->stderr_to = (enum ss_stderr)value;
	}
	if (o.log_format != NULL) {
		if (lookup("--log-format", o.log_format, log_formats, &value) < 0)
			return -1;
		cfg->log_format = (enum ss_log_format)value;
	}
	if ((o.max_children != NULL && number("--max-children", o.max_children, &cfg->max_children) < 0) ||
	    (o.max_per_ip != NULL && number("--max-per-ip", o.max_per_ip, &cfg->max_per_ip) < 0) ||
	    (o.max_openings != NULL && number("--max-openings", o.max_openings, &cfg->max_openings) < 0) ||
	    (o.spawn_threads != NULL && number("--spawn-threads", o.spawn_threads, &cfg->spawn_threads) < 0) ||
	    (o.opening_timeout != NULL &&
	     seconds("--opening-timeout", o.opening_timeout, &cfg->opening_timeout_ms) < 0) ||
	    (o.backlog != NULL && number("--backlog", o.backlog, &cfg->backlog) < 0) ||
	    (o.max_packet != NULL && number("--max-packet", o.max_packet, &cfg->max_packet) < 0) ||
	    (o.max_requests != NULL && number("--max-requests", o.max_requests, &cfg->max_requests) < 0) ||
	    (o.workers != NULL && number("--workers", o.workers, &cfg->workers) < 0) ||
	    (o.socket_mode != NULL && octal_mode("--socket-mode", o.socket_mode, &cfg->socket_mode) < 0) ||
	    (o.timeout != NULL && seconds("--timeout", o.timeout, &cfg->timeout_ms) < 0) ||
	    (o.idle_timeout != NULL && seconds("--idle-timeout", o.idle_timeout, &cfg->idle_timeout_ms) < 0) ||
	    (o.grace != NULL && seconds("--grace", o.grace, &cfg->grace_ms) < 0))
		return -1;
	if (o.rate != NULL && parse_rate(o.rate, cfg) < 0)
		return -1;
	if ((o.delay != NULL && seconds("--delay", o.delay, &cfg->delay_ms) < 0) ||
	    (o.throttle != NULL && bytes_rate("--throttle", o.throttle, &cfg->throttle) < 0) ||
	    (o.slice != NULL && number("--slice", o.slice, &cfg->slice) < 0) ||
	    (o.cut_after != NULL && number("--cut-after", o.cut_after, &cfg->cut_after) < 0) ||
	    (o.stall_after != NULL && number("--stall-after", o.stall_after, &cfg->stall_after) < 0) ||
	    (o.drop != NULL && number("--drop", o.drop, &cfg->drop) < 0) ||
	    (o.duplicate != NULL && number("--duplicate", o.duplicate, &cfg->duplicate) < 0) ||
	    (o.seed != NULL && number("--seed", o.seed, &cfg->seed) < 0) ||
	    (o.ws_max_message != NULL && number("--ws-max-message", o.ws_max_message, &cfg->ws_max_message) < 0))
		return -1;
	cfg->ws = o.ws;
	cfg->ws_binary = o.ws_binary;
	cfg->ws_origin = o.ws_origin;
	cfg->ws_protocol = o.ws_protocol;
	if (o.trace_given)
		cfg->trace = o.trace != NULL ? o.trace : "";
	if (o.keepalive_given && parse_keepalive(o.keepalive, cfg) < 0)
		return -1;
	if (o.refuse_message != NULL && unescape("--refuse-message", o.refuse_message, cfg) < 0)
		return -1;
	cfg->record = o.record;
	cfg->rules = o.rules;
	if (o.max_requests != NULL && o.once) {
		usage_error("--once and --max-requests contradict each other");
		return -1;
	}
	if (o.once)
		cfg->max_requests = 1;
	cfg->allow = (const char *const *)o.allow;
	cfg->deny = (const char *const *)o.deny;
	cfg->proxy_from = (const char *const *)o.proxy_from;
	cfg->user = o.user;
	cfg->group = o.group;
	cfg->pidfile = o.pidfile;
	cfg->tls = o.tls;
	cfg->tls_cert = o.tls_cert;
	cfg->tls_key = o.tls_key;
	cfg->tls_client_ca = o.tls_client_ca;
	cfg->tls_alpn = o.tls_alpn;
	cfg->tls_relay = o.tls_relay;
	cfg->tls_hand_over = o.tls_hand_over;
	cfg->empty_reply = o.empty_reply;
	cfg->wait = o.wait;
	cfg->shell = o.shell;
	cfg->no_env = o.no_env;
	cfg->nodelay = o.nodelay;
	cfg->proxy_protocol = o.proxy_protocol;
	cfg->reuse_addr = !o.no_reuse_addr;
	cfg->reuse_port = o.reuse_port;
	cfg->v6only = o.v6only;
	return 0;
}

static int take_arguments(struct ss_config *cfg)
{
	/* popt stops at the first non-option (POSIXMEHARDER), so everything
	 * after ADDRESS arrives here untouched, a "--" after ADDRESS included. */
	const char **args = poptGetArgs(con);

	if (args == NULL || args[0] == NULL) {
		usage_error("missing ADDRESS and COMMAND");
		return -1;
	}
	cfg->address = args[0];
	args++;
	if (args[0] != NULL && strcmp(args[0], "--") == 0)
		args++;
	if (args[0] == NULL) {
		/* netcat's -u is UDP; here it takes a user, which then swallowed
		 * the address */
		const char *taken = o.user != NULL && strpbrk(o.user, ":/[@") != NULL ? o.user : NULL;
		if (taken != NULL)
			usage_error("missing COMMAND after ADDRESS '%s': -u (--user) took '%s' as a user name; "
			            "for UDP write -t dgram: sockserve -t dgram %s -- %s", cfg->address, taken, taken,
			            cfg->address);
		else
			usage_error("missing COMMAND after ADDRESS '%s'", cfg->address);
		return -1;
	}
	cfg->argv = (char *const *)args;
	return 0;
}

bool options_print_address(void)
{
	return o.print_address;
}

enum options_result options_parse(int argc, char **argv, struct ss_config *cfg)
{
	ss_config_init(cfg);
	con = poptGetContext("sockserve", argc, (const char **)argv, options, POPT_CONTEXT_POSIXMEHARDER);
	poptSetOtherOptionHelp(con, "[OPTION...] ADDRESS [--] COMMAND [ARG...]");
	/* aliases of the user's (~/.popt) and the system's (/etc/popt):
	 * "sockserve alias --dev -v --log-format=json"; none is fine */
	(void)poptReadDefaultConfig(con, 0);
	given = (const char **)argv;
	given_count = argc;
	given_next = 1;
	int rc = read_flags(cfg);
	if (rc != 0)
		return rc > 0 ? OPTIONS_EXIT : OPTIONS_USAGE;
	if (convert(cfg) < 0 || take_arguments(cfg) < 0)
		return OPTIONS_USAGE;
	return OPTIONS_OK;
}

/* What POPT_ARG_ARGV collected: the strings and the array. */
static void free_list(char **list)
{
	for (char **item = list; item != NULL && *item != NULL; item++)
		free(*item);
	free(list);
}

void options_free(void)
{
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		free(*strings[i]);
		*strings[i] = held[i] = NULL;
	}
	free_list(o.allow);
	free_list(o.deny);
	free_list(o.proxy_from);
	memset(&o, 0, sizeof(o));
	if (con != NULL)
		con = poptFreeContext(con);
}
