/* SPDX-License-Identifier: MIT */
/* Sessions whose mount is gone (unmounted by hand, a reboot): forgotten with their
 * directories, so that they are not listed forever and do not hold their target or pin
 * their layers against GC. */
#include "cache/session/session_int.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mount.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint64_t ec_session__mount_ns(void)
{
    struct stat sb;
    return stat("/proc/self/ns/mnt", &sb) == 0 ? (uint64_t)sb.st_ino : 0;
}

/* The namespace recorded at mount time; 0 for sessions made before it was recorded. */
static uint64_t recorded_mount_ns(ec_cache *c, const char *id)
{
    EC_AUTOFREE char *path =
        ec_xasprintf("%s/sessions/%s/" EC_SESSION_MOUNT_NS, ec_store_home(c->st), id);
    EC_AUTOFREE char *text = NULL;
    size_t n = 0;
    if (ec_read_file(&text, &n, path, 8192, NULL) < 0)
        return 0;
    return strtoull(text, NULL, 10);
}

static bool dir_exists(const char *p)
{
    struct stat sb;
    return p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Gone only when we can tell: a session still being mounted ("pending"), or mounted in
 * another mount namespace, whose mounts we cannot see, counts as live. */
static bool session_gone(ec_cache *c, const json_t *s)
{
    const char *id = json_string_value(json_object_get(s, "id"));
    const char *target = json_string_value(json_object_get(s, "target"));
    uint64_t ns = recorded_mount_ns(c, id);
    switch (ec_session__mode(s)) {
    case EC_MOUNT_OVERLAY:
        if (ns && ns != ec_session__mount_ns())
            return false;
        return !ec_mount_is_mountpoint(target);
    case EC_MOUNT_COPY: /* a copy is plain files: gone when its directory is */
        return !dir_exists(target);
    }
    return false;
}

/* Whether the overlay mounted at @target has @upper as its upper: the orphan's own mount,
 * not one made since by another session or by hand. */
static bool mounted_with_upper(const char *target, const char *upper)
{
    EC_AUTOFILE FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    EC_AUTOFREE char *want = ec_xasprintf("upperdir=%s", upper);
    size_t wl = strlen(want);
    EC_AUTOFREE char *line = NULL;
    size_t cap = 0;
    bool found = false;
    while (!found && getline(&line, &cap, f) > 0) {
        char mp[4096];
        /* id parent major:minor root mount-point …; paths with spaces are escaped there and
         * never match: such a mount is left alone */
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || strcmp(mp, target) != 0)
            continue;
        const char *at = strstr(line, want);
        found = at && (at[wl] == ',' || at[wl] == '\n' || at[wl] == '\0');
    }
    return found;
}

/* The external target an orphan was mounted at, when its own upper is mounted there. */
static void umount_orphan_target(const char *sdir)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s/" EC_SESSION_MOUNT_NS, sdir);
    EC_AUTOFREE char *text = NULL;
    size_t n = 0;
    if (ec_read_file(&text, &n, path, 8192, NULL) < 0)
        return;
    char *target = strchr(text, '\n'); /* the second line; older sessions have none */
    if (!target || target[1] != '/')
        return;
    target++;
    target[strcspn(target, "\n")] = '\0';
    EC_AUTOFREE char *upper = ec_xasprintf("%s/upper", sdir);
    if (mounted_with_upper(target, upper))
        umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW);
}

void ec_session__reap_orphan(ec_cache *c, const char *id)
{
    EC_AUTOFREE char *sdir = ec_xasprintf("%s/sessions/%s", ec_store_home(c->st), id);
    EC_AUTOFREE char *root = ec_xasprintf("%s/root", sdir);
    struct stat sb;
    const char *age_env = getenv("ENVCACHE_SESSION_ORPHAN_AGE"); /* tests */
    long age = age_env && *age_env ? strtol(age_env, NULL, 10) : EC_SESSION_ORPHAN_AGE;
    if (lstat(sdir, &sb) < 0 || sb.st_ctime > time(NULL) - age)
        return;
    uint64_t ns = recorded_mount_ns(c, id);
    if (ns && ns != ec_session__mount_ns())
        return; /* mounted in another namespace: not ours to judge */
    if (ec_mount_is_mountpoint(root))
        umount2(root, MNT_DETACH | UMOUNT_NOFOLLOW);
    umount_orphan_target(sdir);
    ec_rm_rf(sdir, NULL);
    ec_session__deferred_drop(c, id); /* a record a crash cut short */
}

/* Directories under sessions/ that no record names, in the index or as a file. */
static void reap_orphans(ec_cache *c)
{
    EC_AUTOFREE char *dir = ec_xasprintf("%s/sessions", ec_store_home(c->st));
    DIR *d = opendir(dir);
    if (!d)
        return;
    EC_AUTO(ec_txn) txn = NULL;
    if (ec_txn_begin(&txn, c->st, EC_TXN_READ, NULL) < 0) {
        closedir(d);
        return;
    }
    EC_AUTO(json_t) ids = json_array();
    for (struct dirent *de; (de = readdir(d));) {
        const void *v;
        if (de->d_name[0] != '.' &&
            ec_session__get_raw(txn, de->d_name, &v, NULL) == EC_ENOTFOUND &&
            !ec_session__deferred_has(c, de->d_name))
            json_array_append_new(ids, json_string(de->d_name));
    }
    closedir(d);
    ec_txn_abort(ec_steal(&txn));
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
        ec_session__reap_orphan(c, json_string_value(id));
}

int ec_session_reap(json_t **out, ec_cache *c, const char *ws, ec_err *err)
{
    reap_orphans(c);
    EC_AUTO(json_t) all = NULL;
    EC_AUTO(json_t) gone = json_array();
    int r = ec_session_list(&all, c, ws, err);
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s) {
        if (r < 0 || !session_gone(c, s))
            continue;
        r = ec_session__forget(c, json_string_value(json_object_get(s, "id")), err);
        if (r == EC_OK)
            json_array_append(gone, s);
    }
    if (r == EC_OK && out)
        *out = ec_steal(&gone);
    return r;
}

void ec_session__reap_target(ec_cache *c, const char *target)
{
    EC_AUTO(json_t) holder = NULL;
    if (ec_session_get(&holder, c, NULL, target, NULL) == EC_OK && session_gone(c, holder))
        ec_session__forget(c, json_string_value(json_object_get(holder, "id")), NULL);
}
