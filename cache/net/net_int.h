/* SPDX-License-Identifier: MIT */
/* Inside cache/net/: the record of a prepared session, the tool runner, the renderers. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "cache/net/net.h"
#include "store/util/buf.h"

/* The ports on the host side of the veth: the resolver (the session asks port 53, the
 * host redirects), a forward proxy for programs that use proxy variables, and the two
 * intercepting ports the host redirects 80 and 443 to. Not 53 or 3128 themselves: a
 * resolver or a squid of the host's own may hold those on every address. */
enum { NET_PORT_DNS = 3137, NET_PORT_PROXY = 3138, NET_PORT_HTTP = 3139, NET_PORT_TLS = 3140 };
/* Slots: one /30 each out of 10.231.0.0/16. */
enum { NET_SLOTS = 16384 };

struct ec_net {
    char *name, *dir;          /* STATE_DIR/net/NAME */
    char *netns, *netns_path;  /* envcache-NAME, /run/netns/envcache-NAME */
    char *root_dir, *env_file;
    char addr[32], gate[32], subnet[40];
    char ifname[16];           /* ecnK */
    char *mirror_url;          /* NULL without a mirror */
    char mirror_addr[64];
    int mirror_port;
    int slot;                  /* -1 until claimed */
    bool limited;
    pid_t gate_pid, dns_pid;
};

/* --- net_exec.c --- */
/** Runs @argv (argv[0] looked up on PATH) and waits; a non-zero exit is EC_ESYS quoting
 *  the command and the first line it wrote to stderr. */
int ec_net__run(const char *const *argv, ec_err *err);
/** As ec_net__run, but returns the exit status in *@status instead of failing on it;
 *  stderr's first line goes to @why (may be NULL). */
int ec_net__run_status(int *status, char why[256], const char *const *argv, ec_err *err);
/* The descriptor a started tool finds @pass_fd at (as /dev/fd/7). */
enum { NET_PASS_FD = 7 };
/** Starts @argv in its own session with stdout and stderr appended to @log and, unless
 *  @pass_fd is -1, @pass_fd open as NET_PASS_FD. */
int ec_net__spawn(pid_t *pid_out, const char *const *argv, const char *log, int pass_fd,
                  ec_err *err);
/** Stops @pid with SIGTERM, then SIGKILL, if its command line still contains @mark (so a
 *  recycled pid is never killed). */
void ec_net__stop(pid_t pid, const char *mark);
/** Waits until something accepts TCP on @addr:@port (up to @ms), while @pid lives. */
int ec_net__wait_listen(const char *addr, int port, pid_t pid, int ms, const char *what,
                        const char *log, ec_err *err);

/* --- net_render.c --- */
/** Normalised admitted names of @p (allowed hosts, package hosts, MCP hosts), lowercase,
 *  "*." wildcards kept, duplicates dropped; EC_EINVAL names the bad entry. */
int ec_net__names(char ***out, size_t *n_out, const ec_net_policy *p, ec_err *err);
void ec_net__names_free(char **v, size_t n);
int ec_net__render_nft_ns(ec_buf *out, const ec_net *n, ec_err *err);
int ec_net__render_nft_host(ec_buf *out, const ec_net *n, ec_err *err);
int ec_net__render_squid(ec_buf *out, const ec_net *n, char *const *names, size_t n_names,
                         bool hosts_fd, const char *cert, const char *key, ec_err *err);
int ec_net__render_dnsmasq(ec_buf *out, const ec_net *n, char *const *names, size_t n_names,
                           const char *hosts_path, ec_err *err);
/** The entries of @hosts_file whose names the session may reach (all of them when
 *  unrestricted), as dnsmasq host-record lines: read with the configuration, as root,
 *  before dnsmasq drops its privileges (a hosts file under a private state directory
 *  would be unreadable to it then). */
int ec_net__render_hosts(ec_buf *out, const ec_net *n, char *const *names, size_t n_names,
                         const char *hosts_file, ec_err *err);
/** The environment file: proxy variables (limited), the mirror. */
int ec_net__render_env(ec_buf *out, const ec_net *n, ec_err *err);
/** True when @host is admitted by @names ("*.d" admits d and below). */
bool ec_net__admits(char *const *names, size_t n_names, const char *host);
