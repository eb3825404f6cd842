/* SPDX-License-Identifier: MIT */
/* Placeholder translation unit for a library whose folder has no sources yet. */
extern int ec__empty_unit;
