/* SPDX-License-Identifier: MIT */
/* Table-driven tests of the six managers' spec syntax checkers and their dispatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fetchers/manager.h"
#include "fetchers/spec.h"
#include "store/util/auto.h"

struct spec_case {
    const char *text;
    bool ok;
    const char *want; /* for rejections: a substring the message must contain */
};

/* clang-format off */
#define OK(t) {t, true, NULL}
#define BAD(t, w) {t, false, w}
/* clang-format on */

/* Short printable text without quotes: a message must quote it verbatim. */
static bool spec_plain(const char *text)
{
    if (!*text || strlen(text) >= 100)
        return false;
    for (; *text; text++)
        if (*text < 0x20 || *text > 0x7e || *text == '"' || *text == '\\')
            return false;
    return true;
}

/* The manager's parse, as the warm-up calls it (ec_spec_check is a check by name). */
static int direct(const char *manager, const char *text, ec_err *err)
{
    ec_spec spec;
    return ec_manager_find(manager)->parse(&spec, text, err);
}

/* Runs every case through ec_spec_check and the manager's own parser, which
 * must agree; reports all mismatches before failing, so one run shows them all. */
static void spec_run(const char *manager, const struct spec_case *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        const struct spec_case *c = &cases[i];
        ec_err err = {0}, err2 = {0};
        int r = ec_spec_check(manager, c->text, &err);
        int r2 = direct(manager, c->text, &err2);
        if (r != r2 || strcmp(err.msg, err2.msg) != 0) {
            print_error("%s \"%s\": dispatch and direct checker disagree\n", manager, c->text);
            failures++;
        } else if (c->ok && r != EC_OK) {
            print_error("%s \"%s\": rejected: %s\n", manager, c->text, err.msg);
            failures++;
        } else if (!c->ok && r != EC_EINVAL) {
            print_error("%s \"%s\": accepted, expected a rejection\n", manager, c->text);
            failures++;
        } else if (!c->ok && c->want && !strstr(err.msg, c->want)) {
            print_error("%s \"%s\": message \"%s\" lacks \"%s\"\n", manager, c->text, err.msg,
                        c->want);
            failures++;
        } else if (!c->ok && spec_plain(c->text) && !strstr(err.msg, c->text)) {
            print_error("%s \"%s\": message \"%s\" does not quote the text\n", manager, c->text,
                        err.msg);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

#define SPEC_RUN(mgr, cases) spec_run(#mgr, cases, EC_ARRAY_LEN(cases))

/* --- apt --- */

static const struct spec_case apt_cases[] = {
    OK("ffmpeg"), /* API.md */
    OK("jq=1.6-2.1"),
    OK("jq"),
    OK("libc6:amd64"),
    OK("libc6:amd64=2.36-9+deb12u4"),
    OK("g++"),
    OK("libstdc++6"),
    OK("python3.11"),
    OK("0ad"),
    OK("gcc-12=12.2.0-14"),
    OK("nginx=1:1.22.1-9"),
    OK("openssl=3.0.11-1~deb12u2"),
    OK("foo=1.0"),
    OK("foo=1:2.3:4-5"),
    OK("bash:i386"),
    OK("foo:hurd-i386"),
    OK("zlib1g=1:1.2.13.dfsg-1"),
    OK("tzdata=2024a-0+deb12u1"),
    OK("foo=1.0-rc1-2"),
    OK("foo=1.0~beta1"),
    OK("hello=2.10-3"), /* PROTOCOLS.md */
    BAD("libc6 (>= 2.34)", "package names"),
    BAD("", "empty"),
    BAD("a", "at least two"),
    BAD("FFmpeg", "lowercase"),
    BAD("-foo", "start with a letter or digit"),
    BAD("+foo", "start with a letter or digit"),
    BAD("foo=", "missing version"),
    BAD("foo:", "missing architecture"),
    BAD("foo:AMD64", "architectures"),
    BAD("foo:amd64:x", "architectures"),
    BAD("foo:-amd64", "start or end"),
    BAD("foo=abc", "start with a digit"),
    BAD("foo=1.0-", "revision"),
    BAD("foo=a:1.0", "epoch"),
    BAD("foo=:1.0", "epoch"),
    BAD("foo=1:", "missing upstream"),
    BAD("foo=1.0-1_2", "revisions"),
    BAD("foo=1.0=2", "upstream versions"),
    BAD("foo=1.0 ", "upstream versions"),
    BAD("foo bar", "package names"),
    BAD("foo_bar", "package names"),
    BAD("foo/bookworm-backports", "target release"),
    BAD(" foo", NULL),
    BAD("foo\n", "control"),
    BAD("caf\xc3\xa9", "non-ASCII"),
};

static void spec__apt(void **state)
{
    (void)state;
    SPEC_RUN(apt, apt_cases);
}

/* --- cargo --- */

static const struct spec_case cargo_cases[] = {
    OK("ripgrep@14.0.0"), /* API.md */
    OK("ripgrep"),
    BAD("serde@1", "exact pin"),
    BAD("serde@1.0", "MAJOR.MINOR.PATCH"),
    OK("serde@^1.2"),
    OK("cargo-edit@~1"),
    OK("foo@=1.0.0"),
    OK("foo@>=1"),
    OK("foo@1.*"),
    OK("foo@1.2.*"),
    OK("foo@1.*.*"),
    OK("foo@*"),
    OK("foo@>=1.2, <2"),
    OK("foo@>= 1.2 , < 2.0"),
    OK("foo@1.0.0-alpha.1"),
    OK("foo@1.0.0+build.5"),
    BAD("foo@1.x", "exact pin"),
    OK("foo@>=1.x"),
    OK("ripgrep@14.1.0"),
    BAD("ripgrep@14.1.0, 15.0.0", "operator on each"),
    BAD("https://github.com/BurntSushi/ripgrep", "git and URL"),
    BAD("git+ssh://example/x.git", "git and URL"),
    BAD("./tools/mytool", "path sources"),
    BAD("/srv/mytool", "path sources"),
    BAD("ripgrep --features pcre2", "features"),
    BAD("--git", "flags"),
    BAD("bat[git]", "features"),
    OK("foo@0.0.1"),
    OK("foo_bar"),
    OK("Foo"),
    OK("a"),
    OK("foo@=1.2.3-rc.1+meta"),
    /* PROTOCOLS.md's requirement forms */
    OK("foo@^1.2.3"),
    OK("foo@^0.2.3"),
    OK("foo@^0.0.3"),
    OK("foo@^0.0"),
    OK("foo@^0"),
    OK("foo@~1.2.3"),
    OK("foo@~1.2"),
    OK("foo@>1"),
    OK("foo@<2"),
    OK("foo@<=2.0"),
    OK("foo@1.2.3"),
    BAD("", "empty"),
    BAD("1foo", "start with a letter"),
    BAD("_foo", "start with a letter"),
    BAD("-foo", "flags"),
    BAD("foo.bar", "letters, digits"),
    BAD("foo bar", "letters, digits"),
    BAD("foo@", "missing version"),
    BAD("foo@1.2.3.4", "expected ','"),
    BAD("foo@01.2", "major"),
    BAD("foo@1.02", "version number"),
    BAD("foo@^", "major"),
    BAD("foo@>=", "major"),
    BAD("foo@1.*.3", "wildcard"),
    BAD("foo@1.0-beta", "full MAJOR.MINOR.PATCH"),
    BAD("foo@1.0.0-01", "pre-release"),
    BAD("foo@1.0.0-", "pre-release"),
    BAD("foo@1.0.0+", "build"),
    BAD("foo@=1.0,", "major"),
    BAD("foo@*, 1", "lone"),
    BAD("foo@latest", "major"),
    BAD("foo@1.2.3 1.3", "expected ','"),
    BAD("foo@@1", "major"),
    BAD("foo@99999999999999999999", "major"),
    BAD("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12345", "64"),
};

static void spec__cargo(void **state)
{
    (void)state;
    SPEC_RUN(cargo, cargo_cases);
}

/* --- gem --- */

static const struct spec_case gem_cases[] = {
    OK("rails:7.1.0"), /* API.md */
    OK("rails"),
    OK("rails:~> 7.1"),
    OK("rails:>= 1.0"),
    OK("rails:~>7.1"),
    OK("rails:~> 7.1, >= 7.1.3"),
    OK("nokogiri:1.16.0"),
    OK("net-http"),
    OK("ruby_parser"),
    OK("rack:3.0.0.beta1"),
    OK("foo:1.0.0-rc.1"),
    OK("foo:!= 1.0"),
    OK("foo:= 1.0"),
    OK("foo:<2"),
    OK("foo:1.0.a"),
    OK("a.b"),
    OK("Rails2"),
    OK("xpath:3.2"), /* names that end as a source option does */
    OK("legit:~> 1.0"),
    /* PROTOCOLS.md */
    OK("rails:~> 2.2"),
    OK("rails:~> 2.2.0"),
    OK("rails:~> 1"),
    OK("rails:>= 0"),
    OK("rails:1.0.0.rc1"),
    OK("rails:7.1.3.2"),
    OK("rails:= 7.1.3.2"),
    BAD("", "empty"),
    BAD("rails:", "missing version"),
    BAD("rails:~>", "expected a version"),
    BAD("rails:abc", "expected a version"),
    BAD("_rails", "do not start"),
    BAD(".rails", "do not start"),
    BAD("-rails", "do not start"),
    BAD("123", "at least one letter"),
    BAD("rails@7", "letters, digits"),
    BAD("rails 7", "letters, digits"),
    BAD("rails:7.1.", "malformed version"),
    BAD("rails:7..1", "malformed version"),
    BAD("rails:~> 7.1,", "expected a version"),
    BAD("rails:=> 1.0", "expected a version"),
    BAD("rails:1.0 2.0", "expected ','"),
    BAD("https://git.example.invalid/rack/rack.git", "git and URL sources are not supported"),
    BAD("git@git.example.invalid:rack/rack.git", "git and URL sources are not supported"),
    BAD("rack, git: https://example.invalid/rack", "git and URL sources are not supported"),
    BAD("./vendor/rack", "path sources and local .gem files are not supported"),
    BAD("/srv/gems/rack-2.2.8.gem", "path sources and local .gem files are not supported"),
    BAD("rack, path: ../rack", "path sources and local .gem files are not supported"),
};

static void spec__gem(void **state)
{
    (void)state;
    SPEC_RUN(gem, gem_cases);
}

/* --- go --- */

static const struct spec_case go_cases[] = {
    OK("golang.org/x/tools/cmd/goimports@latest"), /* API.md */
    OK("github.com/spf13/cobra@v1.8.0"),
    OK("github.com/Azure/azure-sdk-for-go@v68.0.0+incompatible"),
    OK("example.com/m@v0.0.0-20240101120000-abcdef123456"),
    OK("example.com/m@v1.2.4-0.20240101120000-abcdef123456"),
    OK("example.com/m@v1.2.3-pre.1"),
    OK("github.com/foo/bar@abcdef1"),
    OK("github.com/foo/bar@ABCDEF1"),
    OK("example.com/m@0123456789abcdef0123456789abcdef01234567"),
    OK("mvdan.cc/gofumpt@v0.6.0"),
    OK("honnef.co/go/tools/cmd/staticcheck@latest"),
    OK("gopkg.in/yaml.v3@v3.0.1"),
    OK("example.com/a~b/c_d/e+f@latest"),
    OK("golang.org/x/tools/gopls@v0.15.3"),
    OK("golang.org/x/mod@v0.2.0"), /* PROTOCOLS.md */
    OK("golang.org/toolchain@v0.0.1-go1.21.0.linux-amd64"),
    OK("example.com/m@v4.1.2+incompatible"),
    OK("example.com/m@v1.2.3-pre.0.20240101120000-abcdefabcdef"),
    /* go's other queries (PROTOCOLS.md 5.2) */
    OK("example.com/m@v1"),
    OK("github.com/foo@v1.2"),
    OK("example.com/m@<v1.2.3"),
    OK("example.com/m@>=v1.5.6"),
    OK("example.com/m@<=v1.2"),
    OK("example.com/m@>v1"),
    OK("example.com/m@upgrade"),
    OK("example.com/m@patch"),
    /* revisions: resolve asks the proxy, and says "not supported" when it cannot */
    OK("example.com/m@master"),
    OK("github.com/foo@abc123"),
    OK("github.com/foo@release-branch.go1.21"),
    BAD("golang.org/x/tools/cmd/goimports", "a version is required"),
    BAD("./cmd/foo@latest", "local paths are not supported"),
    BAD("/github.com/foo@latest", "local paths are not supported"),
    BAD("example.com/m@none", "cannot install"),
    BAD("example.com/m@<1.2.3", "comparison needs a version"),
    BAD("example.com/m@<", "comparison needs a version"),
    BAD("", "empty"),
    BAD("golang.org/x/tools@", "missing version"),
    BAD("tools@latest", "dot"),
    BAD("Golang.org/x@latest", "lowercase"),
    BAD("github.com//foo@latest", "//"),
    BAD("github.com/foo/@latest", "start or end"),
    BAD("github.com/../foo@latest", "'.'"),
    BAD("github.com/.foo@latest", "'.'"),
    BAD("github.com/foo.@latest", "'.'"),
    BAD("-a.com/x@latest", "'-'"),
    BAD("github.com/foo@v01.2.3", "malformed version"),
    BAD("github.com/foo@v1.02", "malformed version"),
    BAD("github.com/foo@v1.2.3.4", "malformed version"),
    BAD("github.com/foo@1.2.3 x", "the version must be"),
    BAD("github.com/foo@-x", "the version must be"),
    BAD("github.com/foo bar@latest", "path elements"),
    BAD("github.com/f$o@latest", "path elements"),
    BAD("github.com/foo@v1.2.3@x", "malformed version"),
};

static void spec__go(void **state)
{
    (void)state;
    SPEC_RUN(go, go_cases);
}

/* --- npm --- */

static const struct spec_case npm_cases[] = {
    OK("express@4.18.0"), /* API.md */
    OK("express"),
    OK("@types/node"),
    OK("@types/node@20.11.0"),
    OK("@babel/core@^7.0.0"),
    OK("lodash@^4.17.21"),
    OK("react@~18.2.0"),
    OK("foo@>=1.2.3 <2.0.0"),
    OK("foo@1.x"),
    OK("foo@1.2.*"),
    OK("foo@*"),
    OK("foo@x"),
    OK("foo@1.2.3 - 2.3.4"),
    OK("foo@1.2.3 - 2"),
    OK("foo@^1 || ^2"),
    OK("foo@<1.0.0 || >=2.0.0 <3"),
    OK("foo@1||2"),
    OK("foo@latest"),
    OK("foo@next"),
    OK("foo@beta"),
    OK("foo@>= 1.2"),
    OK("foo@v1.2.3"),
    OK("foo@=1.2.3"),
    OK("foo@1.0.0-rc.1"),
    OK("foo@1.2.3+build"),
    OK("foo@~>1.2"),
    OK("lodash.merge"),
    OK("foo-bar_baz"),
    OK("@scope/pkg.js@next-11"),
    /* PROTOCOLS.md's range forms */
    OK("foo@1.2.3 - 2.3"),
    OK("foo@1"),
    OK("foo@~1.2.3"),
    OK("foo@~1"),
    OK("foo@^1.2.3"),
    OK("foo@^0.2.3"),
    OK("foo@^0.0.3"),
    OK("foo@^0.0.x"),
    OK("foo@^0.x"),
    OK("foo@>1.2.3-alpha.3"),
    OK("foo@1.2.3"),
    BAD("", "empty"),
    BAD("Express", "lowercase"),
    BAD(".foo", "'.' or '_'"),
    BAD("_foo", "'.' or '_'"),
    BAD("@scope/_foo", "'.' or '_'"),
    BAD("foo@", "missing version"),
    BAD("@types", "@scope/name"),
    BAD("@/node", "missing scope"),
    BAD("@types/", "missing package name"),
    BAD("@Types/node", "lowercase"),
    BAD("foo@1.2.3.4", "semver range"),
    BAD("foo@>=", "semver range"),
    BAD("foo@^", "semver range"),
    BAD("foo bar", "a-z, 0-9"),
    BAD("foo@1 - ", "semver range"),
    BAD("foo@1.2.3 -2", "semver range"),
    BAD("foo@1 - 2 3", "semver range"),
    BAD("foo@!!", "semver range"),
    BAD("foo@^1 |", "semver range"),
    BAD("foo@v1.2.3.4", "semver range"),
    BAD("foo@1.2-beta", "semver range"),
    BAD("node_modules", "reserved"),
    BAD("favicon.ico", "reserved"),
    BAD("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "214"),
    /* valid npm, but not from a registry: refused with their own message */
    BAD("github:user/repo", "is not supported (git/url/file/alias specs)"),
    BAD("git+https://github.com/x/y.git", "is not supported"),
    BAD("foo@github:user/repo", "is not supported"),
    BAD("foo@npm:bar@1", "is not supported"),
    BAD("foo@file:../bar", "is not supported"),
    BAD("file:foo", "is not supported"),
    BAD("./local", "is not supported"),
    BAD("../x", "is not supported"),
    BAD("/abs/path", "is not supported"),
    BAD("~/x", "is not supported"),
    BAD("user/repo", "is not supported"),
    BAD("foo@user/repo", "is not supported"),
    BAD("https://example.com/x.tgz", "is not supported"),
    BAD("foo@https://x/y.tgz", "is not supported"),
    BAD("pkg.tgz", "is not supported"),
    BAD("foo@npm:pkg@^1", "is not supported"), /* PROTOCOLS.md */
    BAD("foo@git+https://github.com/a/b.git#ref", "is not supported"),
};

static void spec__npm(void **state)
{
    (void)state;
    SPEC_RUN(npm, npm_cases);
}

/* --- pip --- */

static const struct spec_case pip_cases[] = {
    OK("pandas==2.2.0"), /* API.md */
    OK("numpy>=1.26,<2"),
    OK("requests==2.31.0"), /* PROTOCOLS.md */
    OK("requests[socks]~=2.31"),
    OK("foo>=1,<2; python_version<\"3.10\""),
    OK("requests"),
    OK("requests [security,tests] >= 2.8.1, == 2.8.* ; python_version < \"2.7\""), /* PEP 508 */
    OK("name[quux, strange];python_version<'2.7' and platform_version=='2'"),
    OK("name; os_name=='a' or os_name=='b'"),
    OK("foo==1.0.*"),
    OK("foo!=1.0.*"),
    OK("foo===1.0-custom"),
    OK("foo==1.0+local.1"),
    OK("foo (>=1.0, <2)"),
    OK("foo(>=1.0)"),
    OK("foo~=1.4.5"),
    OK("foo>=1.0a1"),
    OK("foo>=1.0.post1"),
    OK("foo>=1.0.dev0"),
    OK("foo==1!2.0"),
    OK("foo>=v1.0"),
    OK("foo>=1.0rc1.post2.dev3"),
    OK("foo>=1.0-alpha-2"),
    OK("Django>=4.2"),
    OK("zope.interface"),
    OK("foo_bar-baz.qux"),
    OK("foo==1.0-1"),
    OK("foo; extra == \"test\""),
    OK("foo; (python_version >= \"3.8\" and sys_platform == \"linux\") or os_name == \"nt\""),
    OK("foo; \"linux\" in sys_platform"),
    OK("foo; platform_machine not in \"x86_64 aarch64\""),
    OK(" pandas "),
    OK("foo[]"),
    OK("foo>=1.0 ; python_version>=\"3\""),
    OK("foo; python_full_version >= '3.8.1' and implementation_name == 'cpython'"),
    OK("foo; platform_python_implementation=='PyPy'"),
    OK("foo;python_version>'3'and(os_name=='nt')"),
    OK("x"),
    /* PROTOCOLS.md */
    OK("holygrail==1.0"),
    OK("pysocks; extra == \"socks\""),
    OK("requests>=2.8.1"),
    OK("foo==1.1.*"),
    OK("foo==1.0a"),
    OK("foo>=1.0.dev456"),
    OK("foo==1.0.post1"),
    OK("foo==1.0+ubuntu-1"),
    OK("foo>=1.0-alpha.1"),
    BAD("pandas===", "\"pandas===\" is not a valid pip requirement"),
    BAD("pandas==", "missing version after '=='"),
    BAD("pandas=2.0", "use =="),
    BAD("pandas~1.0", "use =="),
    BAD("pandas~=1", "two parts"),
    BAD("pandas>=1.0.*", "only allowed after == and !="),
    BAD("pandas~=1.0.*", "only allowed after == and !="),
    BAD("pandas<1.0+local", "local version"),
    BAD("pandas==1.0.*+local", "local version"),
    BAD("pandas==abc", "PEP 440"),
    BAD("pandas==1.0.", "PEP 440"),
    BAD("pandas==1..0", "PEP 440"),
    BAD("pandas==1.0+", "local"),
    BAD("pandas>=1.0,", "expected a version operator"),
    BAD("pandas[", "extra name"),
    BAD("pandas[a,", "extra name"),
    BAD("pandas[a b]", "',' or ']'"),
    BAD("pandas (>=1.0", "missing ')'"),
    BAD("pandas ()", "expected a version operator"),
    BAD("pandas>=1.0 extra", "unexpected"),
    BAD("pandas>=1.0 <2", "unexpected"),
    BAD("pandas ;", "missing environment marker"),
    BAD("pandas; foo == 'x'", "unknown marker variable \"foo\""),
    BAD("pandas; python_version", "expected a marker operator"),
    BAD("pandas; python_version >= '3", "unterminated"),
    BAD("pandas; (python_version >= '3'", "missing ')'"),
    BAD("pandas; python_version >= '3' and", "expected a marker variable"),
    BAD("pandas; python_version ~ '3'", "expected a marker operator"),
    BAD("pandas; python_version >= 3.8", "unknown marker variable \"3.8\""),
    BAD("pandas; python_version >= '3' xor os_name == 'nt'", "unexpected"),
    BAD("pandas; ((((((((((((((((((os_name=='a'))))))))))))))))))", "nest too deep"),
    BAD("name @ https://x/y.whl", "URL requirements are not supported"),
    BAD("name@https://x/y.whl", "URL requirements are not supported"),
    BAD("name @ file:/tmp/x.whl", "URL requirements are not supported"),
    BAD("https://x/y.whl", "URL requirements are not supported"),
    BAD("git+https://github.com/x/y", "URL requirements are not supported"),
    BAD("-e .", "options"),
    BAD("--hash=sha256:abc", "options"),
    BAD("foo-", "end with a letter or digit"),
    BAD(".foo", "path requirements"),
    BAD("./pkg", "path requirements (a directory or an archive) are not supported"),
    BAD("/tmp/pandas-2.2.0-cp311-cp311-manylinux_2_17_x86_64.whl", "path requirements"),
    BAD("dist/x-1.0.tar.gz", "path requirements"),
    BAD("x-1.0.zip", "path requirements"),
    BAD("--index-url=https://x/simple", "not supported"),
    BAD("--index-url x", "options"),
    BAD("", "empty"),
    BAD("pandas\t==2", "control"),
};

static void spec__pip(void **state)
{
    (void)state;
    SPEC_RUN(pip, pip_cases);
}

/* --- dispatch and shared rules --- */

static void spec__managers_in_stack_order(void **state)
{
    static const char *const want[] = {"apt", "cargo", "gem", "go", "npm", "pip"};
    (void)state;
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    assert_int_equal(n, EC_ARRAY_LEN(want));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(m[i]->name, want[i]);
        assert_true(ec_spec_manager_known(want[i]));
        assert_ptr_equal(ec_manager_find(want[i]), m[i]);
    }
    assert_string_equal(ec_manager_names(), "apt, cargo, gem, go, npm, pip");
    assert_false(ec_spec_manager_known("brew"));
    assert_false(ec_spec_manager_known("PIP"));
    assert_false(ec_spec_manager_known(""));
    assert_false(ec_spec_manager_known(NULL));
}

static void spec__unknown_manager_is_einval(void **state)
{
    ec_err err = {0};
    (void)state;
    assert_int_equal(ec_spec_check("brew", "wget", &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "unknown package manager \"brew\""));
}

static void spec__long_text_is_refused_and_quoted_short(void **state)
{
    char text[EC_SPEC_TEXT_MAX + 2];
    ec_err err = {0};
    (void)state;
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++) {
        ec_err_clear(&err);
        assert_int_equal(ec_spec_check(m[i]->name, text, &err), EC_EINVAL);
        assert_non_null(strstr(err.msg, "longer than 512 characters"));
        assert_non_null(strstr(err.msg, "...\" is not a valid"));
    }
    text[EC_SPEC_TEXT_MAX] = '\0'; /* exactly 512 is allowed */
    assert_int_equal(ec_spec_check("npm", text + 300, NULL), EC_OK);
    assert_int_equal(ec_spec_check("apt", text, NULL), EC_OK);
}

static void spec__message_escapes_quotes(void **state)
{
    ec_err err = {0};
    (void)state;
    assert_int_equal(ec_spec_check("apt", "a\"b", &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "\"a\\\"b\" is not a valid apt package"));
}

static void spec__null_err_still_returns_code(void **state)
{
    (void)state;
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ec_spec_check(m[i]->name, "", NULL), EC_EINVAL);
    assert_int_equal(ec_spec_check("pip", "pandas===", NULL), EC_EINVAL);
}

static void spec__first_message_wins(void **state)
{
    ec_err err = {0};
    (void)state;
    ec_fail(&err, EC_EINVAL, "earlier failure");
    assert_int_equal(ec_spec_check("pip", "pandas===", &err), EC_EINVAL);
    assert_string_equal(err.msg, "earlier failure");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec__apt),
        cmocka_unit_test(spec__cargo),
        cmocka_unit_test(spec__gem),
        cmocka_unit_test(spec__go),
        cmocka_unit_test(spec__npm),
        cmocka_unit_test(spec__pip),
        cmocka_unit_test(spec__managers_in_stack_order),
        cmocka_unit_test(spec__unknown_manager_is_einval),
        cmocka_unit_test(spec__long_text_is_refused_and_quoted_short),
        cmocka_unit_test(spec__message_escapes_quotes),
        cmocka_unit_test(spec__null_err_still_returns_code),
        cmocka_unit_test(spec__first_message_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
