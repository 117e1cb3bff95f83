/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The configuration's defaults and its one check.
 */
#ifndef SS_CONFIG_H
#define SS_CONFIG_H

#include "error.h"

/* Every rule the config must satisfy, in one flat block: ranges, options that
 * do not apply to the address or type, and contradictions.  A socket handed
 * in (fd:N, systemd) is looked at, not taken.  resolved (may be NULL) gets
 * the config with what was left open decided: the family and type (of the
 * socket handed in), the mode. */
int config_check(const struct ss_config *cfg, struct ss_config *resolved, struct ss_error *err);

#endif
