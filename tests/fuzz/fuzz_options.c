/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the command line.  The bytes, split at NUL bytes, are an argv
 * that goes through the real popt tables and conversions (cli/options.c) and
 * then the library's config check (lib/config.c), as sockserve's main does,
 * short of resolving and binding.  popt exits for --help, --usage and -?:
 * those words are left out of the argv.
 */
#include "../../cli/options.h"
#include "../../lib/config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 64

static bool exits(const char *arg)
{
	if (strncmp(arg, "--he", 4) == 0 || strncmp(arg, "--us", 4) == 0)
		return true;
	/* -? alone or among short options: -v? */
	return arg[0] == '-' && arg[1] != '-' && strchr(arg, '?') != NULL;
}

static int null_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(null_fd, STDOUT_FILENO); /* --version */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	char *args[MAX_ARGS + 2];
	int argc = 0;
	struct ss_config cfg;
	struct ss_error err;

	memcpy(copy, data, size);
	copy[size] = '\0';
	args[argc++] = "sockserve";
	for (char *p = copy; p < copy + size && argc < MAX_ARGS; p += strlen(p) + 1)
		if (!exits(p))
			args[argc++] = p;
	args[argc] = NULL;
	/* usage errors go to stderr, which the sanitizers' reports need: it
	 * points at /dev/null only while the options are parsed */
	int saved = dup(STDERR_FILENO);
	dup2(null_fd, STDERR_FILENO);
	enum options_result rc = options_parse(argc, args, &cfg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	/* the check finds usage errors, or (a socket handed in) start-up ones */
	if (rc == OPTIONS_OK && config_check(&cfg, NULL, &err) < 0 && err.kind != SS_ERR_USAGE &&
	    err.kind != SS_ERR_START)
		abort();
	options_free();
	free(copy);
	return 0;
}
