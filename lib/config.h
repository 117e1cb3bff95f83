/*
 * The configuration's defaults and its one check.
 */
#ifndef SS_CONFIG_H
#define SS_CONFIG_H

#include "error.h"

/* Every rule the config must satisfy, in one flat block: ranges, options that
 * do not apply to the address or type, and contradictions. */
int config_check(const struct ss_config *cfg, struct ss_error *err);

#endif
