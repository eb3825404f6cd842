/* SPDX-License-Identifier: MIT */
/* Private to fetchers/go/: what its files share. */
#pragma once

#include "fetchers/spec.h"
#include "store/util/err.h"

/** A go list entry → its parsed form; EC_EINVAL naming the rule broken. */
int go_spec_parse(ec_spec *out, const char *text, ec_err *err);
