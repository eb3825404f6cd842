/* SPDX-License-Identifier: MIT */
/* A session's network unmade from its record alone: idempotent, and after a crash. */
#include "cache/net/net_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

EC_DEFINE_AUTO(ec_net, ec_net_free)

/* --- teardown --- */

int ec_net_teardown(const char *state_dir, const char *name, ec_err *err)
{
    int r = ec_net__name_check(name, err);
    if (r < 0)
        return r;
    EC_AUTO(ec_net) n = ec_net__new(state_dir, name);
    struct stat st;
    if (stat(n->dir, &st) < 0)
        return EC_OK;
    ec_net__state_read(n, NULL); /* a torn record still names the namespace */
    /* The gate keeps nothing (no cache; its logs are written as they go): it is killed
     * at once, where SIGTERM would cost squid's two-second shutdown. */
    ec_net__stop(n->gate_pid, n->dir, SIGKILL);
    ec_net__stop(n->dns_pid, n->dir, SIGTERM);
    bool have_ns = access(n->netns_path, F_OK) == 0;
    if (have_ns) {
        /* deleting the inside end deletes the pair now, not when the namespace goes */
        const char *del[] = {"ip", "-n", n->netns, "link", "del", "eth0", NULL};
        int s;
        ec_net__run_status(&s, NULL, del, NULL);
    }
    /* The table is ours only while nobody else holds the slot's interface. */
    if (n->slot >= 0 && if_nametoindex(n->ifname) == 0) {
        char table[32];
        snprintf(table, sizeof table, "envcache_%d", n->slot);
        const char *del[] = {"nft", "delete", "table", "ip", table, NULL};
        int s;
        ec_net__run_status(&s, NULL, del, NULL);
    }
    if (have_ns) {
        const char *del[] = {"ip", "netns", "del", n->netns, NULL};
        if ((r = ec_net__run(del, err)) < 0)
            return r;
    }
    return ec_rm_rf(n->dir, err);
}

