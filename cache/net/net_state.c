/* SPDX-License-Identifier: MIT */
/* A session network's record on disk (STATE/net/NAME/state), its names and addresses,
 * and the lookups: everything teardown needs, and nothing that makes a network (so the
 * OCI hook, which links session deletion, pulls in no manager table). */
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


/* --- the record --- */

int ec_net__name_check(const char *name, ec_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > NET_NAME_MAX || name[0] == '.' || name[0] == '-' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
        return ec_fail(err, EC_EINVAL,
                       "net: \"%s\" is not a session network name (1-%d of a-z, A-Z, 0-9, '_', '.', "
                       "'-', not starting with '.' or '-')",
                       name, NET_NAME_MAX);
    return EC_OK;
}

void ec_net__slot_fill(ec_net *n, int slot)
{
    n->slot = slot;
    unsigned hi = ((unsigned)slot / 64) % 256, lo = ((unsigned)slot % 64) * 4;
    snprintf(n->subnet, sizeof n->subnet, "10.231.%u.%u/30", hi, lo);
    snprintf(n->gate, sizeof n->gate, "10.231.%u.%u", hi, lo + 1);
    snprintf(n->addr, sizeof n->addr, "10.231.%u.%u", hi, lo + 2);
    snprintf(n->ifname, sizeof n->ifname, "ecn%d", slot);
    free(n->mirror_url);
    n->mirror_url = n->mirror_port ? ec_xasprintf("http://%s:%d", n->gate, n->mirror_port) : NULL;
}

ec_net *ec_net__new(const char *state_dir, const char *name)
{
    ec_net *n = ec_xcalloc(1, sizeof *n);
    n->name = ec_xstrdup(name);
    n->dir = ec_xasprintf("%s/net/%s", state_dir, name);
    n->netns = ec_xasprintf("envcache-%s", name);
    n->netns_path = ec_xasprintf("/run/netns/%s", n->netns);
    n->root_dir = ec_xasprintf("%s/root", n->dir);
    n->env_file = ec_xasprintf("%s/env", n->dir);
    n->slot = -1;
    return n;
}

void ec_net_free(ec_net *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->dir);
    free(n->netns);
    free(n->netns_path);
    free(n->root_dir);
    free(n->env_file);
    free(n->mirror_url);
    free(n);
}

/* The record is rewritten whole (temp + rename) before each step that makes something,
 * so teardown always knows at least what exists. Not fsynced: namespaces, links, rules
 * and processes do not outlive a reboot either. */
int ec_net__state_write(const ec_net *n, ec_err *err)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s/state", n->dir);
    EC_AUTOFREE char *text = ec_xasprintf(
        "mode=%s\nslot=%d\nmirror=%s:%d\ngate_pid=%d\ndns_pid=%d\n",
        n->limited ? "limited" : "unrestricted", n->slot, n->mirror_addr[0] ? n->mirror_addr : "-",
        n->mirror_port, (int)n->gate_pid, (int)n->dns_pid);
    return ec_write_file_volatile(path, text, strlen(text), 0644, err);
}

int ec_net__state_read(ec_net *n, ec_err *err)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s/state", n->dir);
    EC_AUTOFREE char *text = NULL;
    size_t len = 0;
    int r = ec_read_file(&text, &len, path, 1u << 16, err);
    if (r < 0)
        return r;
    char mode[16] = "", mirror[64] = "";
    int slot = -1, gp = 0, dp = 0, port = 0;
    for (char *l = text; *l;) {
        size_t ln = strcspn(l, "\n");
        char line[128];
        snprintf(line, sizeof line, "%.*s", (int)(ln < 127 ? ln : 127), l);
        sscanf(line, "mode=%15s", mode);
        sscanf(line, "slot=%d", &slot);
        sscanf(line, "mirror=%63s", mirror);
        sscanf(line, "gate_pid=%d", &gp);
        sscanf(line, "dns_pid=%d", &dp);
        l += ln + (l[ln] == '\n');
    }
    n->limited = strcmp(mode, "limited") == 0;
    char *colon = strrchr(mirror, ':');
    if (colon && mirror[0] != '-') {
        *colon = '\0';
        snprintf(n->mirror_addr, sizeof n->mirror_addr, "%s", mirror);
        port = (int)strtol(colon + 1, NULL, 10);
    }
    n->mirror_port = port;
    n->gate_pid = gp;
    n->dns_pid = dp;
    if (slot >= 0)
        ec_net__slot_fill(n, slot);
    return EC_OK;
}

/* --- lookups --- */

int ec_net_open(ec_net **out, const char *state_dir, const char *name, ec_err *err)
{
    int r = ec_net__name_check(name, err);
    if (r < 0)
        return r;
    EC_AUTO(ec_net) n = ec_net__new(state_dir, name);
    EC_AUTOFREE char *path = ec_xasprintf("%s/state", n->dir);
    if (access(path, F_OK) < 0)
        return ec_fail(err, EC_ENOTFOUND, "net: no session network \"%s\" is prepared", name);
    if ((r = ec_net__state_read(n, err)) < 0)
        return r;
    *out = ec_steal(&n);
    return EC_OK;
}

int ec_net_list(const char *state_dir, int (*fn)(const char *name, void *payload),
                void *payload, ec_err *err)
{
    EC_AUTOFREE char *top = ec_xasprintf("%s/net", state_dir);
    DIR *d = opendir(top);
    if (!d)
        return errno == ENOENT ? EC_OK : ec_fail_sys(err, errno, "net: cannot read %s", top);
    int r = EC_OK;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.' || ec_net__name_check(e->d_name, NULL) < 0)
            continue;
        EC_AUTOFREE char *st = ec_xasprintf("%s/%s/state", top, e->d_name);
        if (access(st, F_OK) == 0)
            r = fn(e->d_name, payload);
    }
    closedir(d);
    return r;
}

const char *ec_net_netns_path(const ec_net *n) { return n->netns_path; }
const char *ec_net_root_dir(const ec_net *n) { return n->root_dir; }
const char *ec_net_env_file(const ec_net *n) { return n->env_file; }
const char *ec_net_addr(const ec_net *n) { return n->addr; }
const char *ec_net_gate_addr(const ec_net *n) { return n->gate; }
const char *ec_net_mirror_url(const ec_net *n) { return n->mirror_url; }
bool ec_net_limited(const ec_net *n) { return n->limited; }
