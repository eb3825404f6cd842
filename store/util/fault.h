/* SPDX-License-Identifier: MIT */
/* Fault points for tests: EC_FAULTS=name[:N][:kill],… makes the N-th pass (default 1)
 * through EC_FAULT("name") fail, or with ":kill" die by SIGKILL on the spot, so every
 * rollback and crash path can be exercised against the real binary. */
#pragma once

#include <stdbool.h>

/** True when the fault point @name should fail now. Never returns if it should kill. */
bool ec_fault(const char *name);
#define EC_FAULT(name) ec_fault(name)
