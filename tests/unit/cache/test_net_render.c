/* SPDX-License-Identifier: MIT */
/* Unit tests of cache/net's rendering: host names and MCP URLs checked before they reach
 * a configuration, wildcard matching, the admitted names, and what the nftables, squid
 * and dnsmasq files say for limited and unrestricted sessions. */
#include "tests/unit/helpers/ec_test.h"

#include <string.h>

#include "cache/net/net_int.h"
#include "store/util/mem.h"

static void net__host_check_rules(void **state)
{
    (void)state;
    ec_err err = {0};
    assert_int_equal(ec_net_host_check("api.example.com", "h", &err), EC_OK);
    assert_int_equal(ec_net_host_check("*.example.com", "h", &err), EC_OK);
    const char *bad[] = {"", "bad_host.test", "-a.test", "a-.test", "a..test", "1.2.3.4",
                         "*.", "a b.test", "x;y.test", "a.test\nacl all", "*.*.test"};
    for (size_t i = 0; i < EC_ARRAY_LEN(bad); i++) {
        assert_int_equal(ec_net_host_check(bad[i], "allowed_hosts[3]", &err), EC_EINVAL);
        assert_non_null(strstr(err.msg, "allowed_hosts[3]"));
    }
    char longlabel[80];
    memset(longlabel, 'a', 64);
    strcpy(longlabel + 64, ".test");
    assert_int_equal(ec_net_host_check(longlabel, "h", &err), EC_EINVAL);
}

static void net__mcp_url_rules(void **state)
{
    (void)state;
    ec_err err = {0};
    assert_int_equal(ec_net_mcp_url_check("https://mcp.test/sse", "m", &err), EC_OK);
    assert_int_equal(ec_net_mcp_url_check("http://mcp.test:80/x", "m", &err), EC_OK);
    assert_int_equal(ec_net_mcp_url_check("https://mcp.test:443", "m", &err), EC_OK);
    assert_int_equal(ec_net_mcp_url_check("https://mcp.test:8443/", "m", &err), EC_EUNSUPPORTED);
    assert_int_equal(ec_net_mcp_url_check("ftp://mcp.test/", "m", &err), EC_EINVAL);
    assert_int_equal(ec_net_mcp_url_check("https://10.0.0.1/", "m", &err), EC_EINVAL);
    assert_int_equal(ec_net_mcp_url_check("https:///x", "m", &err), EC_EINVAL);
}

static void net__wildcards_admit_the_domain_and_below(void **state)
{
    (void)state;
    char *names[] = {"*.example.com", "api.other.test"};
    assert_true(ec_net__admits(names, 2, "example.com"));
    assert_true(ec_net__admits(names, 2, "a.b.example.com"));
    assert_true(ec_net__admits(names, 2, "API.other.test"));
    assert_false(ec_net__admits(names, 2, "badexample.com"));
    assert_false(ec_net__admits(names, 2, "x.api.other.test"));
    assert_false(ec_net__admits(names, 2, "other.test"));
}

static void net__names_dedupe_and_follow_the_flags(void **state)
{
    (void)state;
    const char *hosts[] = {"A.example.com", "*.example.com", "b.test", "b.test"};
    const char *pm[] = {"pkg.test"};
    const char *mcp[] = {"https://mcp.test/sse"};
    ec_net_policy p = {.limited = true, .allowed_hosts = hosts, .n_allowed_hosts = 4,
                       .pm_hosts = pm, .n_pm_hosts = 1, .mcp_urls = mcp, .n_mcp_urls = 1};
    char **v = NULL;
    size_t n = 0;
    ec_err err = {0};
    assert_int_equal(ec_net__names(&v, &n, &p, &err), EC_OK);
    assert_int_equal(n, 2); /* a.example.com is under the wildcard; b.test once; no pm, mcp */
    assert_string_equal(v[0], "*.example.com");
    assert_string_equal(v[1], "b.test");
    ec_net__names_free(v, n);
    p.allow_package_managers = p.allow_mcp_servers = true;
    assert_int_equal(ec_net__names(&v, &n, &p, &err), EC_OK);
    assert_int_equal(n, 4);
    assert_string_equal(v[2], "pkg.test");
    assert_string_equal(v[3], "mcp.test");
    ec_net__names_free(v, n);
    const char *bad[] = {"ok.test", "no way"};
    p.allowed_hosts = bad, p.n_allowed_hosts = 2;
    assert_int_equal(ec_net__names(&v, &n, &p, &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "allowed_hosts[1]"));
}

static struct ec_net fake(bool limited)
{
    struct ec_net n = {.limited = limited, .slot = 5, .mirror_port = 8080,
                       .dir = "/state/net/s", .mirror_url = "http://10.231.0.21:8080"};
    strcpy(n.gate, "10.231.0.21");
    strcpy(n.addr, "10.231.0.22");
    strcpy(n.subnet, "10.231.0.20/30");
    strcpy(n.ifname, "ecn5");
    strcpy(n.mirror_addr, "127.0.0.1");
    return n;
}

static void net__nft_limited_and_unrestricted(void **state)
{
    (void)state;
    struct ec_net lim = fake(true), open = fake(false);
    ec_buf b = EC_BUF_INIT;
    ec_err err = {0};
    assert_int_equal(ec_net__render_nft_ns(&b, &lim, &err), EC_OK);
    const char *s = ec_buf_str(&b);
    assert_non_null(strstr(s, "hook output priority filter; policy drop;"));
    assert_non_null(strstr(s, "ip daddr != @blocked tcp dport { 80, 443 } accept"));
    assert_null(strstr(s, "meta nfproto ipv4 accept"));
    assert_null(strstr(s, "udp dport 443"));
    ec_buf_reset(&b);
    assert_int_equal(ec_net__render_nft_host(&b, &lim, &err), EC_OK);
    s = ec_buf_str(&b);
    assert_non_null(strstr(s, "iifname \"ecn5\" tcp dport 443 dnat to 10.231.0.21:3140"));
    assert_non_null(strstr(s, "iifname \"ecn5\" ip daddr 10.231.0.21 tcp dport 8080 dnat to 127.0.0.1:8080"));
    assert_null(strstr(s, "masquerade"));
    ec_buf_reset(&b);
    assert_int_equal(ec_net__render_nft_host(&b, &open, &err), EC_OK);
    s = ec_buf_str(&b);
    assert_non_null(strstr(s, "169.254.0.0/16"));
    assert_non_null(strstr(s, "iifname \"ecn5\" ip daddr @blocked drop"));
    assert_non_null(strstr(s, "masquerade"));
    assert_null(strstr(s, "dnat to 10.231.0.21:3140"));
    ec_buf_fini(&b);
}

static void net__squid_splices_by_sni_never_bumps(void **state)
{
    (void)state;
    struct ec_net lim = fake(true);
    char *names[] = {"*.example.com", "api.test"};
    ec_buf b = EC_BUF_INIT;
    ec_err err = {0};
    assert_int_equal(ec_net__render_squid(&b, &lim, names, 2, false, "/c", "/k", &err), EC_OK);
    const char *s = ec_buf_str(&b);
    assert_non_null(strstr(s, "acl admitted dstdomain -n .example.com api.test\n"));
    assert_non_null(strstr(s, "acl admitted_sni ssl::server_name .example.com api.test\n"));
    assert_non_null(strstr(s, "host_verify_strict on\n"));
    assert_non_null(strstr(s, "ssl_bump peek step1\nssl_bump splice admitted_sni\n"));
    assert_non_null(strstr(s, "ssl_bump terminate all\n"));
    assert_null(strstr(s, "ssl_bump bump"));
    assert_non_null(strstr(s, "hosts_file /etc/hosts\n"));
    ec_buf_reset(&b);
    assert_int_equal(ec_net__render_squid(&b, &lim, NULL, 0, true, "/c", "/k", &err), EC_OK);
    s = ec_buf_str(&b);
    assert_null(strstr(s, "admitted"));
    assert_non_null(strstr(s, "http_access deny all\n"));
    assert_non_null(strstr(s, "hosts_file /dev/fd/7\n"));
    ec_buf_fini(&b);
}

static void net__resolver_serves_only_admitted_names(void **state)
{
    (void)state;
    char *dir = ect_tmpdir();
    ect_write(dir, "hosts", "198.18.0.2 allowed.test a.wild.test\n# c\n198.18.0.3 other.test\n"
                            "198.18.0.4 bad_name\n", 0644);
    EC_AUTOFREE char *hf = ec_xasprintf("%s/hosts", dir);
    struct ec_net lim = fake(true), open = fake(false);
    char *names[] = {"allowed.test", "*.wild.test"};
    ec_buf b = EC_BUF_INIT;
    ec_err err = {0};
    assert_int_equal(ec_net__render_hosts(&b, &lim, names, 2, hf, &err), EC_OK);
    assert_string_equal(ec_buf_str(&b), "host-record=allowed.test,198.18.0.2\n"
                                        "host-record=a.wild.test,198.18.0.2\n");
    ec_buf_reset(&b);
    assert_int_equal(ec_net__render_hosts(&b, &open, names, 2, hf, &err), EC_OK);
    assert_non_null(strstr(ec_buf_str(&b), "host-record=other.test,198.18.0.3\n"));
    assert_null(strstr(ec_buf_str(&b), "bad_name"));
    ec_buf_reset(&b);
    assert_int_equal(ec_net__render_dnsmasq(&b, &lim, names, 2, "/h", &err), EC_OK);
    const char *s = ec_buf_str(&b);
    assert_non_null(strstr(s, "no-resolv\n"));
    assert_null(strstr(s, "resolv-file"));
    assert_non_null(strstr(s, "port=3137\n"));
    ec_buf_reset(&b);
    assert_int_equal(ec_net__render_dnsmasq(&b, &open, names, 2, "/h", &err), EC_OK);
    assert_non_null(strstr(ec_buf_str(&b), "resolv-file=/etc/resolv.conf\n"));
    ec_buf_fini(&b);
    ect_rmdir(dir);
}

static void net__env_names_the_gate_and_mirror(void **state)
{
    (void)state;
    struct ec_net lim = fake(true), open = fake(false);
    ec_buf b = EC_BUF_INIT;
    ec_err err = {0};
    assert_int_equal(ec_net__render_env(&b, &lim, &err), EC_OK);
    assert_non_null(strstr(ec_buf_str(&b), "https_proxy=http://10.231.0.21:3138\n"));
    assert_non_null(strstr(ec_buf_str(&b), "no_proxy=localhost,127.0.0.1,10.231.0.21\n"));
    assert_non_null(strstr(ec_buf_str(&b), "ENVCACHE_MIRROR=http://10.231.0.21:8080/mirror\n"));
    ec_buf_reset(&b);
    assert_int_equal(ec_net__render_env(&b, &open, &err), EC_OK);
    assert_null(strstr(ec_buf_str(&b), "proxy"));
    ec_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(net__host_check_rules),
        cmocka_unit_test(net__mcp_url_rules),
        cmocka_unit_test(net__wildcards_admit_the_domain_and_below),
        cmocka_unit_test(net__names_dedupe_and_follow_the_flags),
        cmocka_unit_test(net__nft_limited_and_unrestricted),
        cmocka_unit_test(net__squid_splices_by_sni_never_bumps),
        cmocka_unit_test(net__resolver_serves_only_admitted_names),
        cmocka_unit_test(net__env_names_the_gate_and_mirror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
