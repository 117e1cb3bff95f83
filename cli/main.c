/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockserve: turn a program that reads stdin and writes stdout into a network
 * server.  This file parses the command line, builds the server through the
 * library and maps its errors to exit statuses: 64 for usage, 1 for start-up
 * and run-time failures, 0 for a clean shutdown.
 */
#include "options.h"

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

static bool all_digits(const char *s)
{
	return s[0] != '\0' && s[strspn(s, "0123456789")] == '\0';
}

/* One line that says what the user most likely meant, for the mistakes a
 * user of the peer tools makes first. */
static void hint(const struct ss_config *cfg, const struct ss_error *err)
{
	const char *command = cfg->argv != NULL ? cfg->argv[0] : NULL;

	if (command == NULL || cfg->log_format != SS_LOG_TEXT)
		return;
	if (err->kind == SS_ERR_START && command[0] == '-' && strncmp(err->msg, "cannot run", 10) == 0)
		fprintf(stderr, "sockserve: hint: '%s' came after ADDRESS, so it is taken as COMMAND; "
		        "options go before ADDRESS: sockserve [OPTION...] ADDRESS [--] COMMAND\n", command);
	else if (strstr(err->msg, "a port is missing") != NULL && strchr(cfg->address, ':') == NULL &&
	         all_digits(command))
		fprintf(stderr, "sockserve: hint: HOST and PORT are one word: sockserve %s:%s -- COMMAND\n",
		        cfg->address, command);
}

static int report(const struct ss_config *cfg, const struct ss_error *err)
{
	ss_report(cfg, err);
	hint(cfg, err);
	if (err->kind == SS_ERR_USAGE) {
		if (cfg->log_format == SS_LOG_TEXT)
			fprintf(stderr, "Try 'sockserve --help' for more information.\n");
		return EX_USAGE;
	}
	return 1;
}

/* --print-address: the bound address as one line, then stdout points at
 * /dev/null so that its reader sees end of file, a readiness signal. */
static void print_address(const struct ss_server *srv)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	printf("%s\n", ss_server_address(srv));
	fflush(stdout);
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		close(null);
	}
}

int main(int argc, char **argv)
{
	struct ss_config cfg;
	struct ss_error err;
	struct ss_server *srv;
	int status = 0;

	switch (options_parse(argc, argv, &cfg)) {
	case OPTIONS_EXIT:
		options_free();
		return 0;
	case OPTIONS_USAGE:
		options_free();
		return EX_USAGE;
	case OPTIONS_OK:
		break;
	}
	srv = ss_server_new(&cfg, &err);
	if (srv == NULL)
		status = report(&cfg, &err);
	else if (ss_server_listen(srv, &err) < 0)
		status = report(&cfg, &err);
	else {
		if (options_print_address())
			print_address(srv);
		if (ss_server_run(srv, &err) < 0)
			status = report(&cfg, &err);
	}
	ss_server_free(srv);
	options_free();
	return status;
}
