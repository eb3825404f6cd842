/* SPDX-License-Identifier: MIT */
/* Private to fetchers/pip/: what its files share. */
#pragma once

#include "fetchers/spec.h"
#include "store/util/err.h"

/** A pip list entry → its parsed form; EC_EINVAL naming the rule broken. */
int pip_spec_parse(ec_spec *out, const char *text, ec_err *err);
