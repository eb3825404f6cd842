/* SPDX-License-Identifier: MIT */
/* The layers beneath one manager's layer, as its fetcher sees them: their digests, and
 * their merged tree (read-only by convention) for resolving against and installing onto.
 * One layer (the base, as a rule) is its unpacked directory; a deeper stack is an
 * overlay mounted for the manager's work and taken down after it. */
#include "cache/warm/warm_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/mount/mount.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

static int unpacked(char **dir_out, ec_store *st, const ec_digest *d, ec_err *err)
{
    ec_layer_info l;
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, EC_TXN_READ, err);
    if (r == EC_OK)
        r = ec_layer_lookup(&l, txn, d, err);
    ec_txn_abort(ec_steal(&txn));
    return r == EC_OK ? ec_layer_ensure_unpacked(dir_out, st, &l, err) : r;
}

static int mount_merged(ec_warm_lowers *lw, ec_store *st, char **dirs, ec_err *err)
{
    char rnd[17];
    ec_random_hex(rnd, 8);
    lw->mount_dir = ec_xasprintf("%s/tmp/lowers-%s", ec_store_home(st), rnd);
    EC_AUTOFREE char *target = ec_xasprintf("%s/root", lw->mount_dir);
    EC_AUTOFREE char *upper = ec_xasprintf("%s/upper", lw->mount_dir);
    EC_AUTOFREE char *work = ec_xasprintf("%s/work", lw->mount_dir);
    enum ec_mount_mode mode;
    int r = ec_mkdir_p(target, 0755, err);
    if (r == EC_OK)
        r = ec_mount_stack(&mode, (const char *const *)dirs, lw->n, upper, work, target,
                           EC_MOUNT_VOLATILE, err);
    if (r < 0)
        return r;
    lw->root = ec_steal(&target);
    return EC_OK;
}

int ec_warm__lowers_open(ec_warm_lowers *lw, ec_store *st, const json_t *stack, bool merged,
                         ec_err *err)
{
    memset(lw, 0, sizeof *lw);
    lw->n = json_array_size(stack);
    lw->digests = ec_xcalloc(lw->n ? lw->n : 1, sizeof *lw->digests);
    int r = EC_OK;
    for (size_t i = 0; i < lw->n && r == EC_OK; i++)
        r = ec_digest_parse(&lw->digests[i], json_string_value(json_array_get(stack, i)),
                            err);
    if (r < 0 || lw->n == 0)
        return r;
    char **dirs = ec_xcalloc(lw->n, sizeof *dirs);
    for (size_t i = 0; i < lw->n && r == EC_OK; i++)
        r = unpacked(&dirs[i], st, &lw->digests[i], err);
    if (r == EC_OK && (lw->n == 1 || !merged)) /* the base alone says what is beneath */
        lw->root = ec_steal(&dirs[0]);
    else if (r == EC_OK)
        r = mount_merged(lw, st, dirs, err);
    for (size_t i = 0; i < lw->n; i++)
        free(dirs[i]);
    free(dirs);
    return r;
}

void ec_warm__lowers_close(ec_warm_lowers *lw)
{
    if (lw->mount_dir) {
        ec_err err = {0};
        if (lw->root && ec_umount_target(lw->root, EC_MOUNT_OVERLAY, &err) < 0)
            ec_warn("warm: %s", err.msg);
        ec_rm_rf(lw->mount_dir, NULL);
    }
    free(lw->mount_dir);
    free(lw->root);
    free(lw->digests);
    memset(lw, 0, sizeof *lw);
}
