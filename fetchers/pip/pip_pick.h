/* SPDX-License-Identifier: MIT */
/* Private to fetchers/pip/: which pip wheel resolves (pip_pick.c). */
#pragma once

#include <jansson.h>

/** The newest final pip wheel ("pip-X.Y[.Z]-py3-none-any.whl", not yanked) on the PEP 691
 *  JSON @page whose requires-python (">=X.Y" and "!=" exclusions) admits @python ("X.Y[.Z]"):
 *  its file name, owned; NULL when none. */
char *pip_pick(const json_t *page, const char *python);
