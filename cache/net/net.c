/* SPDX-License-Identifier: MIT */
/* A session's network made and unmade: the order of the steps, the record on disk that
 * lets teardown undo them after a crash, the slot (addresses) each session claims. */
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

#include "fetchers/manager.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

EC_DEFINE_AUTO(ec_net, ec_net_free)

/* --- the steps --- */

static int write_text(const char *dir, const char *rel, const ec_buf *b, ec_err *err)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, rel);
    EC_AUTOFREE char *parent = ec_xstrdup(path);
    *strrchr(parent, '/') = '\0';
    int r = ec_mkdir_p(parent, 0755, err);
    const char *s = ec_buf_str(b);
    return r < 0 ? r : ec_write_file_volatile(path, s, strlen(s), 0644, err);
}

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot is claimed by creating its host interface: the kernel refuses a second ecnK,
 * so sessions of any store on this machine never share one. The peer is created inside
 * the namespace at once, so deleting the namespace always deletes the pair. */
static int claim_slot(ec_net *n, ec_err *err)
{
    unsigned start = name_hash(n->name) % NET_SLOTS;
    for (unsigned i = 0; i < 512; i++) {
        int slot = (int)((start + i * 7919u) % NET_SLOTS);
        char ifname[16], why[256];
        snprintf(ifname, sizeof ifname, "ecn%d", slot);
        if (if_nametoindex(ifname) != 0)
            continue;
        const char *argv[] = {"ip", "link", "add", ifname, "type", "veth", "peer", "name", "eth0",
                              "netns", n->netns, NULL};
        int st;
        int r = ec_net__run_status(&st, why, argv, err);
        if (r < 0)
            return r;
        if (st == 0) {
            ec_net__slot_fill(n, slot);
            return ec_net__state_write(n, err);
        }
        if (!strstr(why, "exists"))
            return ec_fail(err, EC_ESYS, "net: cannot create the veth pair %s: %s", ifname, why);
    }
    return ec_fail(err, EC_ELIMIT, "net: no free address slot in 10.231.0.0/16 after 512 tries");
}

static int set_sysctl(const char *path, const char *value, ec_err *err)
{
    EC_AUTOFD int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, value, strlen(value)) < 0)
        return ec_fail_sys(err, errno, "net: cannot write %s to %s", value, path);
    return EC_OK;
}

/* One ip process per side, its commands from a batch file in the state directory: an ip
 * start is a few milliseconds, and a session used to take six. */
static int ip_batch(const ec_net *n, const char *name, const char *netns, const ec_buf *cmds,
                    ec_err *err)
{
    int r = write_text(n->dir, name, cmds, err);
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s", n->dir, name);
    const char *host[] = {"ip", "-batch", path, NULL};
    const char *inside[] = {"ip", "-n", netns, "-batch", path, NULL};
    return r < 0 ? r : ec_net__run(netns ? inside : host, err);
}

static int link_up(const ec_net *n, ec_err *err)
{
    ec_buf host = EC_BUF_INIT, ns = EC_BUF_INIT;
    int r = ec_buf_addf(&host, err, "addr add %s/30 dev %s\nlink set %s up\n", n->gate,
                        n->ifname, n->ifname);
    if (r == EC_OK)
        r = ec_buf_addf(&ns, err,
                        "addr add %s/30 dev eth0\nlink set eth0 up\nlink set lo up\n"
                        "route add default via %s\n",
                        n->addr, n->gate);
    if (r == EC_OK)
        r = ip_batch(n, "ip-host.batch", NULL, &host, err);
    if (r == EC_OK)
        r = ip_batch(n, "ip-session.batch", n->netns, &ns, err);
    ec_buf_fini(&host);
    ec_buf_fini(&ns);
    if (r < 0)
        return r;
    char path[96];
    /* The mirror on the host's loopback is reached by DNAT from the veth. */
    if (n->mirror_port && strncmp(n->mirror_addr, "127.", 4) == 0) {
        snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet", n->ifname);
        r = set_sysctl(path, "1", err);
        if (r < 0)
            return r;
    }
    return n->limited ? EC_OK : set_sysctl("/proc/sys/net/ipv4/ip_forward", "1", err);
}

static int load_nft(const ec_net *n, ec_err *err)
{
    ec_buf host = EC_BUF_INIT, ns = EC_BUF_INIT;
    int r = ec_buf_addf(&host, err, "table ip envcache_%d\ndelete table ip envcache_%d\n", n->slot,
                        n->slot);
    if (r == EC_OK)
        r = ec_net__render_nft_host(&host, n, err);
    if (r == EC_OK)
        r = ec_net__render_nft_ns(&ns, n, err);
    if (r == EC_OK)
        r = write_text(n->dir, "nft-host.conf", &host, err);
    if (r == EC_OK)
        r = write_text(n->dir, "nft-session.conf", &ns, err);
    ec_buf_fini(&host);
    ec_buf_fini(&ns);
    EC_AUTOFREE char *hf = ec_xasprintf("%s/nft-host.conf", n->dir);
    EC_AUTOFREE char *nf = ec_xasprintf("%s/nft-session.conf", n->dir);
    const char *a1[] = {"nft", "-f", hf, NULL};
    const char *a2[] = {"ip", "netns", "exec", n->netns, "nft", "-f", nf, NULL};
    if (r == EC_OK)
        r = ec_net__run(a1, err);
    return r < 0 ? r : ec_net__run(a2, err);
}

/* Appends @text with the mirror's placeholders (fetchers/manager.h) filled in. */
static int fill(ec_buf *b, const ec_net *n, const char *text, ec_err *err)
{
    int r = EC_OK;
    while (r == EC_OK && *text) {
        const char *at = strchr(text, '@');
        size_t lit = at ? (size_t)(at - text) : strlen(text);
        r = ec_buf_add(b, text, lit, err);
        text += lit;
        if (r < 0 || !at)
            break;
        if (strncmp(text, "@MIRROR@", 8) == 0)
            r = ec_buf_addf(b, err, "%s/mirror", n->mirror_url), text += 8;
        else if (strncmp(text, "@MIRROR_HOST@", 13) == 0)
            r = ec_buf_adds(b, n->gate, err), text += 13;
        else
            r = ec_buf_add(b, "@", 1, err), text++;
    }
    return r;
}

static int put_root_file(void *ud, const char *path, const char *text, ec_err *err)
{
    const ec_net *n = ud;
    ec_buf b = EC_BUF_INIT;
    int r = ec_buf_adds(&b, text, err);
    if (r == EC_OK)
        r = write_text(n->root_dir, path, &b, err);
    ec_buf_fini(&b);
    return r;
}

/* Every manager's client configured for the mirror: its files in the root (fixed, and
 * those computed from the session's root), its variables in the environment file. */
static int write_managers(const ec_net *n, const char *root, ec_buf *env, ec_err *err)
{
    EC_AUTOFREE char *mirror = n->mirror_url ? ec_xasprintf("%s/mirror", n->mirror_url) : NULL;
    size_t nm = 0;
    const ec_manager *const *ms = ec_managers(&nm);
    int r = EC_OK;
    for (size_t i = 0; r == EC_OK && n->mirror_url && i < nm; i++) {
        for (const ec_session_file *f = ms[i]->session_files; r == EC_OK && f && f->path; f++) {
            ec_buf b = EC_BUF_INIT;
            r = fill(&b, n, f->text, err);
            if (r == EC_OK)
                r = write_text(n->root_dir, f->path, &b, err);
            ec_buf_fini(&b);
        }
        if (r == EC_OK && root && ms[i]->session_render)
            r = ms[i]->session_render(root, mirror, put_root_file, (void *)n, err);
        for (const char *const *v = ms[i]->session_env; r == EC_OK && v && *v; v++) {
            r = fill(env, n, *v, err);
            if (r == EC_OK)
                r = ec_buf_adds(env, "\n", err);
        }
    }
    return r;
}

static int write_root(const ec_net *n, const char *root, ec_err *err)
{
    ec_buf b = EC_BUF_INIT;
    int r = ec_buf_addf(&b, err, "nameserver %s\noptions timeout:2 attempts:2\n", n->gate);
    if (r == EC_OK)
        r = write_text(n->root_dir, "etc/resolv.conf", &b, err);
    ec_buf_reset(&b);
    if (r == EC_OK)
        r = ec_buf_adds(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", err);
    if (r == EC_OK)
        r = write_text(n->root_dir, "etc/hosts", &b, err);
    ec_buf_reset(&b);
    if (r == EC_OK)
        r = ec_net__render_env(&b, n, err);
    if (r == EC_OK)
        r = write_managers(n, root, &b, err);
    if (r == EC_OK)
        r = write_text(n->dir, "env", &b, err);
    ec_buf_fini(&b);
    return r;
}

static int start_dns(ec_net *n, char *const *names, size_t nn, const char *hosts_file,
                     ec_err *err)
{
    ec_buf hosts = EC_BUF_INIT, conf = EC_BUF_INIT;
    EC_AUTOFREE char *hp = ec_xasprintf("%s/dns/hosts.conf", n->dir);
    EC_AUTOFREE char *cp = ec_xasprintf("%s/dns/dnsmasq.conf", n->dir);
    EC_AUTOFREE char *log = ec_xasprintf("%s/dns/log", n->dir);
    EC_AUTOFREE char *cf = ec_xasprintf("--conf-file=%s", cp);
    int r = ec_net__render_hosts(&hosts, n, names, nn, hosts_file, err);
    if (r == EC_OK)
        r = ec_net__render_dnsmasq(&conf, n, names, nn, hp, err);
    if (r == EC_OK)
        r = write_text(n->dir, "dns/hosts.conf", &hosts, err);
    if (r == EC_OK)
        r = write_text(n->dir, "dns/dnsmasq.conf", &conf, err);
    ec_buf_fini(&hosts);
    ec_buf_fini(&conf);
    const char *argv[] = {"dnsmasq", "--keep-in-foreground", cf, NULL};
    if (r == EC_OK)
        r = ec_net__spawn(&n->dns_pid, argv, log, -1, err);
    if (r == EC_OK)
        r = ec_net__state_write(n, err);
    return r < 0 ? r : ec_net__wait_listen(n->gate, NET_PORT_DNS, n->dns_pid, 10000, "dnsmasq", log, err);
}

/* The certificate squid's ssl-bump port insists on; nothing is ever signed with it
 * (the gate only peeks and splices). One per state directory, made once. */
static int gate_cert(char **cert, char **key, const char *state_dir, ec_err *err)
{
    *cert = ec_xasprintf("%s/net/gate.crt", state_dir);
    *key = ec_xasprintf("%s/net/gate.key", state_dir);
    if (access(*cert, R_OK) == 0 && access(*key, R_OK) == 0)
        return EC_OK;
    char tag[17];
    ec_random_hex(tag, (sizeof tag - 1) / 2);
    EC_AUTOFREE char *tc = ec_xasprintf("%s.%s", *cert, tag);
    EC_AUTOFREE char *tk = ec_xasprintf("%s.%s", *key, tag);
    const char *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", tk, "-out", tc,
                          "-days", "36500", "-subj", "/CN=envcache egress gate (never used)", NULL};
    int r = ec_net__run(argv, err);
    if (r == EC_OK && chmod(tk, 0644) < 0)
        r = ec_fail_sys(err, errno, "net: cannot chmod %s", tk);
    if (r == EC_OK && (rename(tk, *key) < 0 || rename(tc, *cert) < 0))
        r = ec_fail_sys(err, errno, "net: cannot move the gate's certificate into place");
    unlink(tk);
    unlink(tc);
    return r;
}

static int start_gate(ec_net *n, const char *state_dir, char *const *names, size_t nn,
                      const char *hosts_file, ec_err *err)
{
    EC_AUTOFREE char *cert = NULL;
    EC_AUTOFREE char *key = NULL;
    int r = gate_cert(&cert, &key, state_dir, err);
    if (r < 0)
        return r;
    ec_buf conf = EC_BUF_INIT;
    EC_AUTOFD int hfd = hosts_file ? open(hosts_file, O_RDONLY | O_CLOEXEC) : -1;
    if (hosts_file && hfd < 0)
        return ec_fail_sys(err, errno, "hosts_file: cannot read %s", hosts_file);
    r = ec_net__render_squid(&conf, n, names, nn, hfd >= 0, cert, key, err);
    if (r == EC_OK)
        r = write_text(n->dir, "gate/squid.conf", &conf, err);
    ec_buf_fini(&conf);
    if (r < 0)
        return r;
    EC_AUTOFREE char *cp = ec_xasprintf("%s/gate/squid.conf", n->dir);
    EC_AUTOFREE char *log = ec_xasprintf("%s/gate/log", n->dir);
    /* squid reopens /dev/stderr after dropping to its own user: the file must be its */
    EC_AUTOFD int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct passwd *pw = getpwnam("proxy");
    if (lfd < 0 || (pw && fchown(lfd, pw->pw_uid, pw->pw_gid) < 0))
        return ec_fail_sys(err, errno, "net: cannot make the gate's log %s", log);
    const char *argv[] = {"squid", "-N", "-f", cp, NULL};
    r = ec_net__spawn(&n->gate_pid, argv, log, hfd, err);
    if (r == EC_OK)
        r = ec_net__state_write(n, err);
    return r < 0 ? r
                 : ec_net__wait_listen(n->gate, NET_PORT_PROXY, n->gate_pid, 30000, "squid", log,
                                       err);
}

static int mirror_parse(ec_net *n, const char *mirror, ec_err *err)
{
    if (!mirror)
        return EC_OK;
    char addr[64];
    int port = 0, off = 0;
    struct in_addr a;
    if (sscanf(mirror, "%63[0-9.]:%d%n", addr, &port, &off) != 2 || mirror[off] ||
        inet_pton(AF_INET, addr, &a) != 1 || port < 1 || port > 65535)
        return ec_fail(err, EC_EINVAL, "mirror: \"%s\" is not ADDR:PORT with an IPv4 address",
                       mirror);
    if (port == 53 || port == 80 || port == 443 ||
        (port >= NET_PORT_DNS && port <= NET_PORT_TLS))
        return ec_fail(err, EC_EINVAL,
                       "mirror: port %d is taken by the session's resolver or gate (53, 80, 443, "
                       "%d-%d); serve the mirror on another port",
                       port, NET_PORT_DNS, NET_PORT_TLS);
    snprintf(n->mirror_addr, sizeof n->mirror_addr, "%s", addr);
    n->mirror_port = port;
    return EC_OK;
}

static int prepare_steps(ec_net *n, const char *state_dir, const ec_net_policy *p,
                         char *const *names, size_t nn, ec_err *err)
{
    const char *add[] = {"ip", "netns", "add", n->netns, NULL};
    int r = ec_net__state_write(n, err);
    if (r == EC_OK && access(n->netns_path, F_OK) == 0)
        return ec_fail(err, EC_ECONFLICT,
                       "net: %s exists but was not prepared under this store; remove it with "
                       "'ip netns del %s'",
                       n->netns_path, n->netns);
    if (r == EC_OK)
        r = ec_net__run(add, err);
    if (r == EC_OK)
        r = claim_slot(n, err);
    if (r == EC_OK)
        r = link_up(n, err);
    if (r == EC_OK)
        r = load_nft(n, err);
    if (r == EC_OK)
        r = write_root(n, p->root, err);
    if (r == EC_OK)
        r = start_dns(n, names, nn, p->hosts_file, err);
    if (r == EC_OK && n->limited)
        r = start_gate(n, state_dir, names, nn, p->hosts_file, err);
    return r;
}

int ec_net_prepare(ec_net **out, const char *state_dir, const char *name,
                   const ec_net_policy *p, ec_err *err)
{
    int r = ec_net__name_check(name, err);
    if (r < 0)
        return r;
    EC_AUTO(ec_net) n = ec_net__new(state_dir, name);
    n->limited = p->limited;
    /* limited sessions reach the mirror only when package managers are allowed */
    if ((r = mirror_parse(n, p->mirror, err)) < 0)
        return r;
    if (p->limited && !p->allow_package_managers)
        n->mirror_port = 0, n->mirror_addr[0] = '\0';
    if (p->hosts_file && access(p->hosts_file, R_OK) < 0)
        return ec_fail_sys(err, errno, "hosts_file: cannot read %s", p->hosts_file);
    char **names = NULL;
    size_t nn = 0;
    if (p->limited && (r = ec_net__names(&names, &nn, p, err)) < 0)
        return r;
    EC_AUTOFREE char *top = ec_xasprintf("%s/net", state_dir);
    r = ec_mkdir_p(top, 0755, err);
    if (r == EC_OK && mkdir(n->dir, 0755) < 0)
        r = errno == EEXIST ? ec_fail(err, EC_ECONFLICT,
                                      "net: session network \"%s\" is already prepared (tear it "
                                      "down first)",
                                      name)
                            : ec_fail_sys(err, errno, "net: cannot create %s", n->dir);
    if (r < 0) {
        ec_net__names_free(names, nn);
        return r;
    }
    r = prepare_steps(n, state_dir, p, names, nn, err);
    ec_net__names_free(names, nn);
    if (r < 0) {
        ec_net_teardown(state_dir, name, NULL); /* the first message stays */
        return r;
    }
    *out = ec_steal(&n);
    return EC_OK;
}

