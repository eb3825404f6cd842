/* SPDX-License-Identifier: MIT */
/* Where a layer's unpacked tree is, without unpacking it: apart from layer_import.c so
 * that a program that only mounts (the start-up hook) links no archive library. */
#include "store/layer_int.h"
#include "store/util/mem.h"

#include <sys/stat.h>

char *ec_layer_unpacked_path(ec_store *st, const ec_layer_info *layer)
{
    char hex[EC_DIGEST_HEX_LEN];
    EC_AUTOFREE char *rel = ec_xasprintf("layers/%s", ec_digest_hex(hex, &layer->diff_id));
    char *dir = ec_store_path(st, rel);
    struct stat sb;
    if (lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
        return dir;
    free(dir);
    return NULL;
}
