/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SOCKSERVE_OPTIONS_H
#define SOCKSERVE_OPTIONS_H

#include "../lib/sockserve.h"

enum options_result { OPTIONS_OK, OPTIONS_EXIT, OPTIONS_USAGE };

/* Parse the command line into cfg; on OPTIONS_USAGE the problem has been
 * printed.  cfg->argv points into state kept until options_free(). */
enum options_result options_parse(int argc, char **argv, struct ss_config *cfg);
void options_free(void);
/* --print-address was given. */
bool options_print_address(void);

#endif
