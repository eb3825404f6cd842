/* SPDX-License-Identifier: MIT */
/* A session's policy rendered as the files the tools read: nftables rulesets (inside and
 * on the host), squid's and dnsmasq's configurations, hosts, the environment file.
 * Every name that reaches a file was checked by ec_net_host_check first: letters, digits,
 * '-' and '.', so nothing in it can be read as syntax by nft, squid or dnsmasq. */
#include "cache/net/net_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* What unrestricted sessions never reach (the host's own addresses are refused on the
 * host's input hook): "this network", other sessions, the metadata services of the
 * clouds (AWS, GCP and Azure use link-local 169.254.169.254; Alibaba 100.100.100.200;
 * Azure's wire server 168.63.129.16), loopback, link-local, multicast and reserved. */
static const char *const blocked[] = {
    "0.0.0.0/8",      "10.231.0.0/16",    "100.100.100.200", "127.0.0.0/8",
    "168.63.129.16",  "169.254.0.0/16",   "224.0.0.0/3",
};

/* --- names --- */

#define HOST_MAX 253

int ec_net_host_check(const char *host, const char *what, ec_err *err)
{
    const char *s = host;
    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    size_t n = strlen(s);
    if (n == 0 || n > HOST_MAX)
        return ec_fail(err, EC_EINVAL, "%s: \"%s\" is not a host name (1-253 characters)", what,
                       host);
    for (size_t start = 0, i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!isalnum((unsigned char)s[i]) && s[i] != '-')
                return ec_fail(err, EC_EINVAL,
                               "%s: \"%s\": host names contain only letters, digits, '-' and '.'",
                               what, host);
            continue;
        }
        if (i == start || i - start > 63)
            return ec_fail(err, EC_EINVAL, "%s: \"%s\": each label is 1-63 characters", what,
                           host);
        if (s[start] == '-' || s[i - 1] == '-')
            return ec_fail(err, EC_EINVAL, "%s: \"%s\": labels do not start or end with '-'",
                           what, host);
        start = i + 1;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) == 1 || strspn(s, "0123456789.") == n)
        return ec_fail(err, EC_EINVAL, "%s: \"%s\" is an address; hosts are admitted by name",
                       what, host);
    return EC_OK;
}

bool ec_net__admits(char *const *names, size_t n_names, const char *host)
{
    size_t hn = strlen(host);
    for (size_t i = 0; i < n_names; i++) {
        const char *d = names[i];
        if (strncmp(d, "*.", 2) == 0) {
            d += 2;
            size_t dn = strlen(d);
            if (strcasecmp(host, d) == 0 ||
                (hn > dn && host[hn - dn - 1] == '.' && strcasecmp(host + hn - dn, d) == 0))
                return true;
        } else if (strcasecmp(host, d) == 0) {
            return true;
        }
    }
    return false;
}

static void names_add(char ***v, size_t *n, const char *host)
{
    char *low = ec_xstrdup(host);
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    /* already admitted (a duplicate, or below a wildcard): squid warns on both */
    bool covered = ec_net__admits(*v, *n, low) && strncmp(low, "*.", 2) != 0;
    for (size_t i = 0; i < *n && !covered; i++)
        covered = strcmp((*v)[i], low) == 0;
    if (covered) {
        free(low);
        return;
    }
    /* a wildcard drops the bare names it now covers */
    if (strncmp(low, "*.", 2) == 0) {
        size_t k = 0;
        for (size_t i = 0; i < *n; i++) {
            char *one[] = {low};
            if (strncmp((*v)[i], "*.", 2) != 0 && ec_net__admits(one, 1, (*v)[i]))
                free((*v)[i]);
            else
                (*v)[k++] = (*v)[i];
        }
        *n = k;
    }
    *v = ec_xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = low;
}

/* The host of an MCP endpoint URL, which must use its scheme's default port. */
static int mcp_host(char host[HOST_MAX + 1], const char *url, const char *what, ec_err *err)
{
    const char *s;
    if (strncasecmp(url, "https://", 8) == 0)
        s = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        s = url + 7;
    else
        return ec_fail(err, EC_EINVAL, "%s: \"%s\" is not an http:// or https:// URL", what, url);
    size_t n = strcspn(s, ":/?#");
    if (s[n] == ':' && !(strncmp(s + n, ":443", 4) == 0 && strchr("/?#", s[n + 4])) &&
        !(strncmp(s + n, ":80", 3) == 0 && strchr("/?#", s[n + 3])))
        return ec_fail(err, EC_EUNSUPPORTED,
                       "%s: \"%s\": the gate admits MCP endpoints on ports 80 and 443 only", what,
                       url);
    if (n == 0 || n > HOST_MAX)
        return ec_fail(err, EC_EINVAL, "%s: \"%s\" has no host name", what, url);
    memcpy(host, s, n);
    host[n] = '\0';
    return ec_net_host_check(host, what, err);
}

int ec_net_mcp_url_check(const char *url, const char *what, ec_err *err)
{
    char host[HOST_MAX + 1];
    return mcp_host(host, url, what, err);
}

void ec_net__names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int ec_net__names(char ***out, size_t *n_out, const ec_net_policy *p, ec_err *err)
{
    char **v = NULL;
    size_t n = 0;
    char what[64], host[HOST_MAX + 1];
    int r = EC_OK;
    for (size_t i = 0; r == EC_OK && i < p->n_allowed_hosts; i++) {
        snprintf(what, sizeof what, "allowed_hosts[%zu]", i);
        if ((r = ec_net_host_check(p->allowed_hosts[i], what, err)) == EC_OK)
            names_add(&v, &n, p->allowed_hosts[i]);
    }
    for (size_t i = 0; r == EC_OK && p->allow_package_managers && i < p->n_pm_hosts; i++) {
        snprintf(what, sizeof what, "package manager hosts[%zu]", i);
        if ((r = ec_net_host_check(p->pm_hosts[i], what, err)) == EC_OK)
            names_add(&v, &n, p->pm_hosts[i]);
    }
    for (size_t i = 0; r == EC_OK && p->allow_mcp_servers && i < p->n_mcp_urls; i++) {
        snprintf(what, sizeof what, "mcp_servers[%zu]", i);
        if ((r = mcp_host(host, p->mcp_urls[i], what, err)) == EC_OK)
            names_add(&v, &n, host);
    }
    if (r < 0) {
        ec_net__names_free(v, n);
        return r;
    }
    *out = v;
    *n_out = n;
    return EC_OK;
}

/* --- nftables --- */

static int add_blocked(ec_buf *b, ec_err *err)
{
    int r = ec_buf_adds(b, "  set blocked { type ipv4_addr; flags interval; elements = {", err);
    for (size_t i = 0; r == EC_OK && i < EC_ARRAY_LEN(blocked); i++)
        r = ec_buf_addf(b, err, "%s %s", i ? "," : "", blocked[i]);
    return r < 0 ? r : ec_buf_adds(b, " } }\n", err);
}

/* Inside: the only ways out are the resolver, the mirror, and (limited) 80/443 towards
 * the host's redirect to the gate, or (unrestricted) anything not blocked. */
int ec_net__render_nft_ns(ec_buf *b, const ec_net *n, ec_err *err)
{
    int r = ec_buf_adds(b, "table inet envcache {\n", err);
    if (r == EC_OK)
        r = add_blocked(b, err);
    if (r == EC_OK)
        r = ec_buf_addf(b, err,
                        "  chain output { type filter hook output priority filter; policy drop;\n"
                        "    oif lo accept\n"
                        "    ct state established,related accept\n"
                        "    ip daddr %s udp dport 53 accept\n"
                        "    ip daddr %s tcp dport 53 accept\n",
                        n->gate, n->gate);
    if (r == EC_OK && n->mirror_url)
        r = ec_buf_addf(b, err, "    ip daddr %s tcp dport %d accept\n", n->gate, n->mirror_port);
    if (r == EC_OK && n->limited)
        r = ec_buf_addf(b, err,
                        "    ip daddr %s tcp dport %d accept\n"
                        "    ip daddr != @blocked tcp dport { 80, 443 } accept\n",
                        n->gate, NET_PORT_PROXY);
    if (r == EC_OK && !n->limited)
        r = ec_buf_addf(b, err,
                        "    ip daddr %s drop\n"
                        "    ip daddr @blocked drop\n"
                        "    meta nfproto ipv4 accept\n",
                        n->gate);
    if (r == EC_OK)
        r = ec_buf_adds(b,
                        "  }\n"
                        "  chain input { type filter hook input priority filter; policy drop;\n"
                        "    iif lo accept\n"
                        "    ct state established,related accept\n"
                        "  }\n"
                        "}\n",
                        err);
    return r;
}

/* On the host: limited sessions' 80 and 443 go to the gate whatever address they asked
 * for, and nothing of theirs is forwarded; unrestricted ones are forwarded and
 * masqueraded except to the blocklist. Both reach the host itself only at the resolver,
 * the gate and the mirror. */
int ec_net__render_nft_host(ec_buf *b, const ec_net *n, ec_err *err)
{
    const char *i = n->ifname;
    int r = ec_buf_addf(b, err, "table ip envcache_%d {\n", n->slot);
    if (r == EC_OK)
        r = add_blocked(b, err);
    if (r == EC_OK)
        r = ec_buf_adds(b, "  chain prerouting { type nat hook prerouting priority dstnat; policy accept;\n", err);
    if (r == EC_OK && n->mirror_url)
        r = ec_buf_addf(b, err, "    iifname \"%s\" ip daddr %s tcp dport %d dnat to %s:%d\n", i,
                        n->gate, n->mirror_port, n->mirror_addr, n->mirror_port);
    if (r == EC_OK)
        r = ec_buf_addf(b, err,
                        "    iifname \"%s\" ip daddr %s udp dport 53 dnat to %s:%d\n"
                        "    iifname \"%s\" ip daddr %s tcp dport 53 dnat to %s:%d\n",
                        i, n->gate, n->gate, NET_PORT_DNS, i, n->gate, n->gate, NET_PORT_DNS);
    if (r == EC_OK && n->limited)
        r = ec_buf_addf(b, err,
                        "    iifname \"%s\" tcp dport 80 dnat to %s:%d\n"
                        "    iifname \"%s\" tcp dport 443 dnat to %s:%d\n",
                        i, n->gate, NET_PORT_HTTP, i, n->gate, NET_PORT_TLS);
    if (r == EC_OK)
        r = ec_buf_addf(b, err,
                        "  }\n"
                        "  chain input { type filter hook input priority filter; policy accept;\n"
                        "    iifname \"%s\" ct state established,related accept\n"
                        "    iifname \"%s\" ip daddr %s udp dport %d accept\n"
                        "    iifname \"%s\" ip daddr %s tcp dport %d accept\n",
                        i, i, n->gate, NET_PORT_DNS, i, n->gate, NET_PORT_DNS);
    if (r == EC_OK && n->mirror_url)
        r = ec_buf_addf(b, err, "    iifname \"%s\" ct status dnat ip daddr %s tcp dport %d accept\n",
                        i, n->mirror_addr, n->mirror_port);
    if (r == EC_OK && n->limited)
        r = ec_buf_addf(b, err, "    iifname \"%s\" ip daddr %s tcp dport { %d, %d, %d } accept\n", i,
                        n->gate, NET_PORT_PROXY, NET_PORT_HTTP, NET_PORT_TLS);
    if (r == EC_OK)
        r = ec_buf_addf(b, err,
                        "    iifname \"%s\" drop\n"
                        "  }\n"
                        "  chain forward { type filter hook forward priority filter; policy accept;\n",
                        i);
    if (r == EC_OK && !n->limited)
        r = ec_buf_addf(b, err,
                        "    iifname \"%s\" ip daddr @blocked drop\n"
                        "    iifname \"%s\" accept\n"
                        "    oifname \"%s\" ct state established,related accept\n",
                        i, i, i);
    if (r == EC_OK)
        r = ec_buf_addf(b, err, "    iifname \"%s\" drop\n    oifname \"%s\" drop\n  }\n", i, i);
    if (r == EC_OK && !n->limited)
        r = ec_buf_addf(b, err,
                        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;\n"
                        "    ip saddr %s oifname != \"%s\" masquerade\n"
                        "  }\n",
                        n->subnet, i);
    return r < 0 ? r : ec_buf_adds(b, "}\n", err);
}

/* --- squid --- */

/* Squid (Debian's squid-openssl) as a gate that never intercepts TLS: 80 and 443 arrive
 * redirected (NAT on the host, so squid recovers the original address); HTTP is admitted
 * by Host, HTTPS by the SNI it peeks at, then spliced (passed through untouched) or
 * terminated. host_verify_strict refuses a request whose Host or SNI does not resolve,
 * through squid's own resolver, to the address the client connected to: an admitted
 * name sent to another address gets nowhere. dstdomain -n: an address is never matched
 * by reverse lookup. The certificate is required by ssl-bump ports but never shown:
 * nothing is bumped. Squid logs to the descriptors it is started with (a file the
 * caller made and gave to squid's user): after dropping privileges it may not be able
 * to open a path under the state directory. For the same reason a hosts file is handed
 * over open, as /dev/fd/7. */
int ec_net__render_squid(ec_buf *b, const ec_net *n, char *const *names, size_t n_names,
                         bool hosts_fd, const char *cert, const char *key, ec_err *err)
{
    int r = ec_buf_addf(
        b, err,
        "http_port %s:%d\n"
        "http_port %s:%d intercept\n"
        "https_port %s:%d intercept ssl-bump name=tlsgate tls-cert=%s tls-key=%s "
        "generate-host-certificates=off\n"
        "visible_hostname envcache-gate\n"
        "pid_filename none\n"
        "cache_log /dev/stderr\n"
        "access_log stdio:/dev/stdout\n"
        "coredump_dir none\n"
        "cache deny all\n"
        "cache_mem 0 MB\n"
        "pinger_enable off\n"
        "shutdown_lifetime 0 seconds\n"
        "host_verify_strict on\n"
        "hosts_file %s\n"
        "forwarded_for delete\n"
        "via off\n"
        "acl tlsgate myportname tlsgate\n"
        "acl SSL_ports port 443\n"
        "acl Safe_ports port 80 443\n"
        "acl step1 at_step SslBump1\n",
        n->gate, NET_PORT_PROXY, n->gate, NET_PORT_HTTP, n->gate, NET_PORT_TLS, cert, key,
        hosts_fd ? "/dev/fd/7" : "/etc/hosts");
    if (r == EC_OK && n_names) {
        r = ec_buf_adds(b, "acl admitted dstdomain -n", err);
        for (size_t i = 0; r == EC_OK && i < n_names; i++)
            r = ec_buf_addf(b, err, " %s", names[i][0] == '*' ? names[i] + 1 : names[i]);
        if (r == EC_OK)
            r = ec_buf_adds(b, "\nacl admitted_sni ssl::server_name", err);
        for (size_t i = 0; r == EC_OK && i < n_names; i++)
            r = ec_buf_addf(b, err, " %s", names[i][0] == '*' ? names[i] + 1 : names[i]);
        if (r == EC_OK)
            r = ec_buf_adds(b, "\n", err);
    }
    if (r == EC_OK)
        r = ec_buf_adds(b,
                        "http_access deny !Safe_ports\n"
                        "http_access deny CONNECT !SSL_ports\n"
                        "http_access allow tlsgate\n",
                        err);
    if (r == EC_OK && n_names)
        r = ec_buf_adds(b,
                        "http_access allow admitted\n"
                        "ssl_bump peek step1\n"
                        "ssl_bump splice admitted_sni\n",
                        err);
    if (r == EC_OK)
        r = ec_buf_adds(b, "http_access deny all\nssl_bump terminate all\n", err);
    return r;
}

/* --- dnsmasq --- */

/* The session's resolver, on the host side of its veth. Limited: answers the admitted
 * entries of the hosts file and forwards only the admitted names (and, for a wildcard,
 * the names below it) to the host's resolvers; every other query is refused, so names
 * cannot carry data out. Unrestricted: forwards everything. */
int ec_net__render_dnsmasq(ec_buf *b, const ec_net *n, char *const *names, size_t n_names,
                           const char *hosts_path, ec_err *err)
{
    int r = ec_buf_addf(b, err,
                        "listen-address=%s\n"
                        "bind-interfaces\n"
                        "port=%d\n"
                        "no-hosts\n"
                        "conf-file=%s\n"
                        "pid-file=\n"
                        "cache-size=1000\n",
                        n->gate, NET_PORT_DNS, hosts_path);
    if (r < 0 || !n->limited)
        return r < 0 ? r : ec_buf_adds(b, "resolv-file=/etc/resolv.conf\n", err);
    r = ec_buf_adds(b, "no-resolv\n", err);
    EC_AUTOFREE char *rc = NULL;
    size_t len = 0;
    if (ec_read_file(&rc, &len, "/etc/resolv.conf", 1u << 16, NULL) < 0)
        return r;
    for (char *l = rc; r == EC_OK && *l;) {
        size_t ln = strcspn(l, "\n");
        char ns[64];
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(ln < 255 ? ln : 255), l);
        struct in_addr a;
        if (sscanf(line, " nameserver %63s", ns) == 1 && inet_pton(AF_INET, ns, &a) == 1)
            for (size_t i = 0; r == EC_OK && i < n_names; i++)
                r = ec_buf_addf(b, err, "server=/%s/%s\n",
                                names[i][0] == '*' ? names[i] + 2 : names[i], ns);
        l += ln + (l[ln] == '\n');
    }
    return r;
}

int ec_net__render_hosts(ec_buf *b, const ec_net *n, char *const *names, size_t n_names,
                         const char *hosts_file, ec_err *err)
{
    int r = ec_buf_adds(b, "", err);
    if (!hosts_file || r < 0)
        return r;
    EC_AUTOFREE char *text = NULL;
    size_t len = 0;
    r = ec_read_file(&text, &len, hosts_file, 1u << 22, err);
    if (r < 0)
        return r;
    for (char *l = text; r == EC_OK && *l;) {
        size_t ln = strcspn(l, "\n");
        char line[1024], addr[64], host[HOST_MAX + 1];
        snprintf(line, sizeof line, "%.*s", (int)(ln < 1023 ? ln : 1023), l);
        l += ln + (l[ln] == '\n');
        line[strcspn(line, "#")] = '\0';
        int off = 0;
        if (sscanf(line, " %63s%n", addr, &off) != 1)
            continue;
        for (char *p = line + off; r == EC_OK && sscanf(p, " %253s%n", host, &off) == 1; p += off)
            if (ec_net_host_check(host, "hosts", NULL) == EC_OK &&
                (!n->limited || ec_net__admits(names, n_names, host)))
                r = ec_buf_addf(b, err, "host-record=%s,%s\n", host, addr);
    }
    return r;
}

int ec_net__render_env(ec_buf *b, const ec_net *n, ec_err *err)
{
    int r = EC_OK;
    if (n->limited) {
        /* Programs that honour proxy variables ask the gate directly; the others are
         * redirected to it anyway. */
        static const char *const vars[] = {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"};
        for (size_t i = 0; r == EC_OK && i < EC_ARRAY_LEN(vars); i++)
            r = ec_buf_addf(b, err, "%s=http://%s:%d\n", vars[i], n->gate, NET_PORT_PROXY);
        if (r == EC_OK)
            r = ec_buf_addf(b, err, "no_proxy=localhost,127.0.0.1,%s\nNO_PROXY=localhost,127.0.0.1,%s\n",
                            n->gate, n->gate);
    }
    if (r == EC_OK && n->mirror_url)
        r = ec_buf_addf(b, err, "ENVCACHE_MIRROR=%s/mirror\n", n->mirror_url);
    return r;
}
