/* SPDX-License-Identifier: MIT */
/* A session's network: a named network namespace, rendered from a plain policy.
 *
 * ec_net_prepare makes, for one session NAME:
 *   - the network namespace /run/netns/envcache-NAME (an OCI config joins it by path);
 *   - a veth pair: ecnK on the host (10.231.X.Y+1/30), eth0 inside (+2), where the slot
 *     K is claimed by creating the host interface itself, so concurrent sessions (of any
 *     store) never share addresses;
 *   - nftables: table inet envcache in the namespace (drops what the policy does not
 *     admit) and table ip envcache_K on the host (the gate's redirects, the blocklist,
 *     masquerade for unrestricted);
 *   - a resolver (dnsmasq) on the host side that answers only what the session may reach;
 *   - for limited: the egress gate (squid, one per session) on the host side;
 *   - files for the container root under ec_net_root_dir().
 * Everything it made is written under STATE_DIR/net/NAME/ before it is made, so
 * ec_net_teardown can undo it after a crash from what is on disk alone.
 *
 * Caveats: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and the programs ip, nft, squid,
 * dnsmasq, openssl on PATH. Unrestricted sessions turn on IPv4 forwarding on the host
 * (as any container runtime does). The namespace has IPv4 only; IPv6 is dropped.
 *
 * Threads: functions on different NAMEs may run concurrently; two calls on the same NAME
 * must not.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "store/util/err.h"

typedef struct ec_net_policy {
    bool limited;                 /* false: unrestricted minus the blocklist */
    /* Limited: the names admitted over HTTP (80) and HTTPS (443), by Host and TLS SNI:
     * bare names or "*.example.com" (which admits example.com and every name below). */
    const char *const *allowed_hosts;
    size_t n_allowed_hosts;
    bool allow_package_managers;  /* limited: admit the mirror and @pm_hosts */
    const char *const *pm_hosts;  /* the mirror's upstream registries' host names */
    size_t n_pm_hosts;
    bool allow_mcp_servers;       /* limited: admit the hosts of @mcp_urls */
    const char *const *mcp_urls;  /* http:// or https:// URLs on their default ports */
    size_t n_mcp_urls;
    /* The envcache mirror, "ADDR:PORT" with ADDR an IPv4 address of this host (127.0.0.1
     * as `envcache serve` listens by default); NULL for none. Inside, it is
     * http://GATE:PORT (ec_net_mirror_url). */
    const char *mirror;
    /* Optional: a hosts file (address name…) the resolver and the gate use before DNS;
     * the resolver serves only the entries the session may reach. Tests give their fake
     * hosts here. NULL: DNS only. */
    const char *hosts_file;
    /* Optional: the session's root as mounted, read by the managers whose client files
     * are computed from the root's own (apt's sources). NULL: fixed files only. */
    const char *root;
} ec_net_policy;

typedef struct ec_net ec_net;

/**
 * Prepares the network of session @name (1-40 of [A-Za-z0-9_.-]; API session ids fit) with
 * state under @state_dir/net/@name. On failure everything made so far is undone.
 * EC_EINVAL: a bad name or policy (the message names the field); EC_ECONFLICT: @name is
 * already prepared; EC_ESYS: a tool failed (the message quotes it and its error).
 */
int ec_net_prepare(ec_net **out, const char *state_dir, const char *name,
                   const ec_net_policy *policy, ec_err *err);

/**
 * Undoes ec_net_prepare from what is on disk: stops the gate and the resolver, deletes
 * the nftables tables, the veth pair and the namespace, removes the state. Idempotent:
 * a name never prepared, or already torn down, is EC_OK.
 */
int ec_net_teardown(const char *state_dir, const char *name, ec_err *err);

/** Opens the record of a prepared session. EC_ENOTFOUND when @name is not prepared. */
int ec_net_open(ec_net **out, const char *state_dir, const char *name, ec_err *err);
void ec_net_free(ec_net *n);

/* Getters: borrowed strings that live as long as @n. */
/** "/run/netns/envcache-NAME": the OCI config's linux.namespaces network path. */
const char *ec_net_netns_path(const ec_net *n);
/** A directory holding etc/resolv.conf, etc/hosts and the package managers' configs (all
 *  paths relative to the container root): bind-mount or copy each file into the root. */
const char *ec_net_root_dir(const ec_net *n);
/** A file of NAME=VALUE lines to add to the container process's environment. */
const char *ec_net_env_file(const ec_net *n);
/** The session's address inside ("10.231.0.2") and its gateway, gate and resolver. */
const char *ec_net_addr(const ec_net *n);
const char *ec_net_gate_addr(const ec_net *n);
/** "http://GATE:PORT" (no trailing slash), or NULL without a mirror. */
const char *ec_net_mirror_url(const ec_net *n);
bool ec_net_limited(const ec_net *n);

/** Calls @fn with each prepared session's name under @state_dir; stops at a non-zero
 *  return and returns it. */
int ec_net_list(const char *state_dir, int (*fn)(const char *name, void *payload),
                void *payload, ec_err *err);

/** Checks one MCP endpoint URL: http:// or https://, a host name, the default port.
 *  EC_EINVAL (EC_EUNSUPPORTED for another port) names @what. */
int ec_net_mcp_url_check(const char *url, const char *what, ec_err *err);
/** Checks one allowed host ("api.example.com", "*.example.com"). EC_EINVAL names @what. */
int ec_net_host_check(const char *host, const char *what, ec_err *err);
