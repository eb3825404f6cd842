/* SPDX-License-Identifier: MIT */
/* `envcache net prepare|teardown|ls|exec`: a session's network on its own, for testing
 * the policy before a container joins it (cache/net/). */
#include "tools/cli.h"
#include "cache/net/net.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static const char net_usage[] =
    "Usage: envcache net prepare NAME [--limited] [--allow HOST]… [--allow-package-managers]\n"
    "                            [--pm-host HOST]… [--allow-mcp-servers] [--mcp URL]…\n"
    "                            [--mirror ADDR:PORT] [--hosts-file FILE] [--json]\n"
    "       envcache net teardown NAME\n"
    "       envcache net ls [--json]\n"
    "       envcache net exec NAME [--] CMD [ARG…]\n\n"
    "A session's network namespace, made from a networking policy as sessions get it\n"
    "(cache/net/README.md): /run/netns/envcache-NAME, a veth pair, nftables inside and on\n"
    "the host, a resolver, and for --limited an egress gate (squid, no TLS interception).\n"
    "Needs root. State lives under the store: HOME/net/NAME.\n\n"
    "  --limited                 only the gate's way out; without it: unrestricted minus\n"
    "                            the blocklist (metadata, link-local, the host's services)\n"
    "  --allow HOST              admit HOST (or *.example.com) over HTTP and HTTPS\n"
    "  --allow-package-managers  admit the mirror and the --pm-host names\n"
    "  --pm-host HOST            an upstream registry the mirror uses\n"
    "  --allow-mcp-servers       admit the hosts of the --mcp URLs\n"
    "  --mcp URL                 an MCP server endpoint of the session\n"
    "  --mirror ADDR:PORT        the envcache mirror on this host (inside: GATE:PORT)\n"
    "  --hosts-file FILE         names the resolver and the gate know before DNS (tests)\n\n"
    "teardown undoes prepare from what is on disk, also after a crash; a name not\n"
    "prepared is fine. exec runs CMD in the namespace with the session's resolv.conf and\n"
    "hosts over /etc's and its environment file's variables added.\n";

static const char *net_home(const ec_cli *cli)
{
    const char *h = cli->home ? cli->home : getenv("ENVCACHE_HOME");
    return h && *h ? h : "/var/lib/envcache";
}

struct list {
    const char **v;
    size_t n;
};

static void list_add(struct list *l, const char *s)
{
    l->v = ec_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = s;
}

static void print_net(const ec_cli *cli, const char *name, const ec_net *n)
{
    const char *m = ec_net_mirror_url(n);
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?}", "name", name,
                              "policy", ec_net_limited(n) ? "limited" : "unrestricted", "netns",
                              ec_net_netns_path(n), "address", ec_net_addr(n), "gate",
                              ec_net_gate_addr(n), "root_dir", ec_net_root_dir(n), "env_file",
                              ec_net_env_file(n), "mirror_url", m);
        ec_cli_print_json(j);
        json_decref(j);
        return;
    }
    printf("%s: %s, namespace %s, address %s, gate %s%s%s\n", name,
           ec_net_limited(n) ? "limited" : "unrestricted", ec_net_netns_path(n), ec_net_addr(n),
           ec_net_gate_addr(n), m ? ", mirror " : "", m ? m : "");
}

static int net_prepare(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        EC_CLI_COMMON_LONGOPTS,
        {"limited", no_argument, NULL, 'l'},
        {"allow", required_argument, NULL, 'a'},
        {"allow-package-managers", no_argument, NULL, 'P'},
        {"pm-host", required_argument, NULL, 'p'},
        {"allow-mcp-servers", no_argument, NULL, 'M'},
        {"mcp", required_argument, NULL, 'm'},
        {"mirror", required_argument, NULL, 'r'},
        {"hosts-file", required_argument, NULL, 'f'},
        {0}};
    ec_net_policy p = {0};
    struct list allow = {0}, pm = {0}, mcp = {0};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(net_usage, stdout); return EC_EXIT_OK;
        case 'l': p.limited = true; break;
        case 'a': list_add(&allow, optarg); break;
        case 'P': p.allow_package_managers = true; break;
        case 'p': list_add(&pm, optarg); break;
        case 'M': p.allow_mcp_servers = true; break;
        case 'm': list_add(&mcp, optarg); break;
        case 'r': p.mirror = optarg; break;
        case 'f': p.hosts_file = optarg; break;
        default: return ec_cli_usage(cli, "bad option");
        }
    }
    if (optind != argc - 1)
        return ec_cli_usage(cli, "net prepare takes one NAME");
    if (!p.limited && (allow.n || p.allow_package_managers || p.allow_mcp_servers))
        return ec_cli_usage(cli, "--allow, --allow-package-managers and --allow-mcp-servers "
                                 "need --limited (unrestricted admits every host)");
    p.allowed_hosts = allow.v, p.n_allowed_hosts = allow.n;
    p.pm_hosts = pm.v, p.n_pm_hosts = pm.n;
    p.mcp_urls = mcp.v, p.n_mcp_urls = mcp.n;
    ec_net *n = NULL;
    ec_err err = {0};
    int r = ec_net_prepare(&n, net_home(cli), argv[optind], &p, &err);
    free(allow.v), free(pm.v), free(mcp.v);
    if (r < 0)
        return ec_cli_fail(cli, &err);
    print_net(cli, argv[optind], n);
    ec_net_free(n);
    return EC_EXIT_OK;
}

static int print_one(const char *name, void *payload)
{
    const ec_cli *cli = payload;
    ec_net *n = NULL;
    if (ec_net_open(&n, net_home(cli), name, NULL) < 0)
        return 0;
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "policy",
                              ec_net_limited(n) ? "limited" : "unrestricted", "netns",
                              ec_net_netns_path(n), "address", ec_net_addr(n));
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        print_net(cli, name, n);
    }
    ec_net_free(n);
    return 0;
}

/* Adds the NAME=VALUE lines of @path to the environment. */
static int load_env(const char *path, ec_err *err)
{
    EC_AUTOFREE char *text = NULL;
    size_t len = 0;
    int r = ec_read_file(&text, &len, path, 1u << 16, err);
    for (char *l = text; r == EC_OK && *l;) {
        size_t ln = strcspn(l, "\n");
        char *eq = memchr(l, '=', ln);
        char *next = l + ln + (l[ln] == '\n');
        l[ln] = '\0';
        if (eq) {
            *eq = '\0';
            setenv(l, eq + 1, 1);
        }
        l = next;
    }
    return r;
}

static int bind_file(const char *from, const char *to, ec_err *err)
{
    if (mount(from, to, NULL, MS_BIND, NULL) < 0)
        return ec_fail_sys(err, errno, "net exec: cannot bind %s over %s", from, to);
    return EC_OK;
}

static int net_exec(ec_cli *cli, int argc, char **argv)
{
    int i = 1;
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i + 1 >= argc + 0 && i >= argc)
        return ec_cli_usage(cli, "net exec needs NAME and a command");
    const char *name = argv[i++];
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc)
        return ec_cli_usage(cli, "net exec needs a command after NAME");
    ec_net *n = NULL;
    ec_err err = {0};
    if (ec_net_open(&n, net_home(cli), name, &err) < 0)
        return ec_cli_fail(cli, &err);
    int fd = open(ec_net_netns_path(n), O_RDONLY | O_CLOEXEC);
    int r = EC_OK;
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
        r = ec_fail_sys(&err, errno, "net exec: cannot join %s", ec_net_netns_path(n));
    if (fd >= 0)
        close(fd);
    /* a mount namespace of its own, so the binds below stay with this command */
    if (r == EC_OK && (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0))
        r = ec_fail_sys(&err, errno, "net exec: cannot make a private mount namespace");
    EC_AUTOFREE char *rc = ec_xasprintf("%s/etc/resolv.conf", ec_net_root_dir(n));
    EC_AUTOFREE char *hosts = ec_xasprintf("%s/etc/hosts", ec_net_root_dir(n));
    if (r == EC_OK)
        r = bind_file(rc, "/etc/resolv.conf", &err);
    if (r == EC_OK)
        r = bind_file(hosts, "/etc/hosts", &err);
    if (r == EC_OK)
        r = load_env(ec_net_env_file(n), &err);
    ec_net_free(n);
    if (r < 0)
        return ec_cli_fail(cli, &err);
    execvp(argv[i], argv + i);
    fprintf(stderr, "envcache net exec: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}

int ec_cmd_net(ec_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(net_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EC_EXIT_USAGE : EC_EXIT_OK;
    }
    const char *sub = argv[1];
    ec_err err = {0};
    if (strcmp(sub, "prepare") == 0)
        return net_prepare(cli, argc - 1, argv + 1);
    if (strcmp(sub, "exec") == 0)
        return net_exec(cli, argc - 1, argv + 1);
    if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0))
        return fputs(net_usage, stdout), EC_EXIT_OK;
    if (strcmp(sub, "teardown") == 0) {
        if (argc != 3)
            return ec_cli_usage(cli, "net teardown takes one NAME");
        if (ec_net_teardown(net_home(cli), argv[2], &err) < 0)
            return ec_cli_fail(cli, &err);
        return EC_EXIT_OK;
    }
    if (strcmp(sub, "ls") == 0) {
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--json") == 0)
                cli->json = true;
            else
                return ec_cli_usage(cli, "net ls takes only --json");
        }
        if (ec_net_list(net_home(cli), print_one, cli, &err) < 0)
            return ec_cli_fail(cli, &err);
        return EC_EXIT_OK;
    }
    return ec_cli_usage(cli, "'%s' is not a net command (prepare, teardown, ls, exec)", sub);
}
