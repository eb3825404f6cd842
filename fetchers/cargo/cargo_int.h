/* SPDX-License-Identifier: MIT */
/* Private to fetchers/cargo/: what its files share. */
#pragma once

#include "fetchers/spec.h"
#include "store/util/err.h"

/** A cargo list entry → its parsed form; EC_EINVAL naming the rule broken. */
int cargo_spec_parse(ec_spec *out, const char *text, ec_err *err);
