/* SPDX-License-Identifier: MIT */
/* The store is private: its directories 0700 and its files 0600 (blobs 0400), whatever the
 * umask, so that no other local user reads environments, metadata, key hashes or cached
 * packages. $ENVCACHE_GROUP (a group name or number) opens blobs and layers to one group,
 * for processes that serve sessions: directories 0750, blobs 0440, and the group set on
 * them; the index stays 0600. Unpacked layers keep the modes of their own files: the
 * private directories above them are the fence. */
#include "store/store_int.h"
#include "store/util/mem.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ec_store__group_from_env(ec_store *st, ec_err *err)
{
    const char *g = getenv("ENVCACHE_GROUP");
    st->group = -1;
    if (!g || !*g)
        return EC_OK;
    char *end;
    unsigned long n = strtoul(g, &end, 10);
    if (!*end && end != g) {
        st->group = (gid_t)n;
        return EC_OK;
    }
    struct group gr, *res = NULL;
    char buf[4096];
    if (getgrnam_r(g, &gr, buf, sizeof buf, &res) != 0 || !res)
        return ec_fail(err, EC_EINVAL, "ENVCACHE_GROUP=%s: no such group (give a group name "
                       "or number, or unset it for a store only its owner reads)", g);
    st->group = res->gr_gid;
    return EC_OK;
}

unsigned ec_store__mode(const ec_store *st, ec_store_mode_kind kind)
{
    bool g = st->group != (gid_t)-1;
    switch (kind) {
    case EC_MODE_DIR:
        return g ? 0750 : 0700;
    case EC_MODE_BLOB:
        return g ? 0440 : 0400;
    case EC_MODE_INDEX:
    default:
        return 0600;
    }
}

int ec_store__mode_set(const ec_store *st, const char *path, ec_store_mode_kind kind,
                       ec_err *err)
{
    if (chmod(path, ec_store__mode(st, kind)) < 0)
        return ec_fail_sys(err, errno, "cannot set the mode of %s", path);
    if (st->group != (gid_t)-1 && kind != EC_MODE_INDEX && chown(path, (uid_t)-1, st->group) < 0)
        return ec_fail_sys(err, errno, "cannot give %s to group %u (is the service in it?)",
                           path, (unsigned)st->group);
    return EC_OK;
}

int ec_store__mkdir_private(const ec_store *st, const char *path, ec_err *err)
{
    if (mkdir(path, 0700) == 0)
        return ec_store__mode_set(st, path, EC_MODE_DIR, err);
    if (errno != EEXIST)
        return ec_fail_sys(err, errno, "cannot create directory %s", path);
    return EC_OK;
}

bool ec_store__mode_loose(const ec_store *st, const struct stat *sb, ec_store_mode_kind kind)
{
    unsigned want = ec_store__mode(st, kind);
    /* Looser: any permission bit the policy does not grant (fewer bits are the owner's
     * choice), or with a group, a file that group cannot read. */
    if ((sb->st_mode & 07777 & ~want) != 0)
        return true;
    return st->group != (gid_t)-1 && kind != EC_MODE_INDEX && sb->st_gid != st->group;
}
