#!/bin/bash
# Sessions as real containers: `envcache run` under runc (namespaces, /proc, exit status,
# the session gone after unless --keep, failures leave nothing), the session's OCI bundle,
# and envcache-mount as an OCI runtime hook, under runc from a generated bundle and under
# podman through its hooks directory.
. "$(dirname "$0")/lib.sh"
need_sandbox
HOOK=$(dirname "$ENVCACHE_BIN")/envcache-mount
command -v runc >/dev/null || { bad "runc is not installed (tools/install-deps.sh installs it)"; finish; exit; }

bash "$(dirname "$0")/mkroot.sh" "$T/rootsrc" curl >/dev/null
mkdir -p "$T/rootsrc/proc" "$T/rootsrc/dev" "$T/rootsrc/sys"
echo from-the-base > "$T/rootsrc/etc/marker"
base=$(ec base import "$T/rootsrc")
ec base default "$base" >/dev/null
echo '{"name": "box", "config": {"type": "cloud", "packages": {}}}' | ec env create -f - >/dev/null
no_sessions() { [ "$(ec --json session ls)" = "[]" ] && [ -z "$(ls "$ENVCACHE_HOME/sessions")" ]; }

# --- envcache run ---
out=$(ec run box -- sh -c 'echo "pid $$"; cat /etc/marker; hostname; cat /proc/net/dev | tail -n +3 | wc -l; readlink /proc/self/ns/uts /proc/self/ns/ipc /proc/self/ns/mnt /proc/self/ns/net; exit 7') && rc=0 || rc=$?
check "run: the command's exit status is run's" test "$rc" = 7
check "run: the command is PID 1 of its own PID namespace" bash -c "grep -qx 'pid 1' <<<'$out'"
check "run: the root is the environment's stack" bash -c "grep -qx from-the-base <<<'$out'"
check "run: hostname is the session id" bash -c "grep -q '^sesn_' <<<'$out'"
check "run: a network namespace of its own: loopback and the session's link" bash -c "sed -n 4p <<<'$out' | grep -qx 2"
for ns in uts ipc mnt net; do
  check "run: own $ns namespace" bash -c "! grep -qx '$(readlink /proc/self/ns/$ns)' <<<'$out'"
done
check "run: the session and its directory are gone after" no_sessions
check "run: nothing stays mounted" bash -c "! grep -q '$ENVCACHE_HOME/sessions' /proc/self/mountinfo"

ec run box -- sh -c 'echo scribble > /etc/marker'
check "run: writes are private to the session" test "$(ec run box -- cat /etc/marker)" = from-the-base

json=$(ec --json run --keep --session kept-1 box -- sh -c 'echo kept > /root/note' 2>&1 >/dev/null | head -n 1)
check "run --keep: the session stays" bash -c "ec session ls | grep -q kept-1"
check "run --keep: its writes stay" test "$(cat "$ENVCACHE_HOME/sessions/kept-1/root/root/note")" = kept
bundle=$(printf '%s' "$json" | json_get bundle)
check "run --json: the session object names its bundle" test -f "$bundle/config.json"
check "the bundle: root is the session's root, every namespace but cgroup" python3 - "$bundle/config.json" "$ENVCACHE_HOME/sessions/kept-1/root" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
ns = sorted(n["type"] for n in c["linux"]["namespaces"])
assert c["root"]["path"] == sys.argv[2], c["root"]
assert ns == ["ipc", "mount", "network", "pid", "uts"], ns
assert {m["destination"] for m in c["mounts"]} >= {"/proc", "/dev", "/sys", "/dev/pts"}
assert "CAP_SYS_ADMIN" not in c["process"]["capabilities"]["bounding"]
EOF
ec umount --session kept-1 >/dev/null
check "umount removes a kept session" no_sessions

expect_fail "run: an unknown environment" 'not found' ec run nosuch -- true
expect_fail "run: no command" 'give the command' ec run box
expect_fail "run: a missing runtime is named" 'cannot run the OCI runtime /nonexistent/runc' \
  ec run --runtime /nonexistent/runc box -- true
check "run: a failed start leaves no session" no_sessions
echo '{"name": "cold", "config": {"type": "cloud", "packages": {"npm": ["left-pad@1.3.0"]}}}' |
  ec env create -f - >/dev/null
expect_fail "run: an unwarmed environment says what to run" 'envcache warm cold' ec run cold -- true
check "run: nothing left after the refusal" no_sessions
check "run --help" bash -c "ec run --help | grep -q 'Runs CMD in a new container'"

# --- the OCI hook under runc, from a generated bundle with an empty root ---
mkbundle() { # mkbundle DIR ANNOTATIONS_JSON CMD
  mkdir -p "$1/rootfs"
  python3 - "$1" "$2" "$3" "$HOOK" "$ENVCACHE_HOME" <<'EOF'
import json, subprocess, sys
d, annotations, cmd, hook, home = sys.argv[1:]
subprocess.run(["runc", "spec"], cwd=d, check=True)
c = json.load(open(d + "/config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", cmd]
c["process"].pop("rlimits", None)
# runc refuses the cgroup mount on hybrid cgroup hosts; it is not needed here
c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys/fs/cgroup"]
c["annotations"] = json.loads(annotations)
h = lambda stage: {"path": hook, "args": ["envcache-mount", "--home", home, "--oci-hook=" + stage]}
c["hooks"] = {"createRuntime": [h("createRuntime")], "poststop": [h("poststop")]}
json.dump(c, open(d + "/config.json", "w"))
EOF
}
mkbundle "$T/b1" '{"envcache.environment": "box"}' \
  'cat /etc/marker; echo "pid $$"; test -r /proc/self/status && echo proc; test -c /dev/null && echo dev; echo w > /root/w; exit 3'
out=$(runc run -b "$T/b1" "hook-$$-1" 2>&1) && rc=0 || rc=$?
check "hook: the container runs on the environment's stack" bash -c "grep -qx from-the-base <<<'$out'"
check "hook: the runtime's /proc and /dev are there" bash -c "grep -qx proc <<<'$out' && grep -qx dev <<<'$out'"
check "hook: exit status through runc" test "$rc" = 3
check "hook: the bundle's root directory is untouched" bash -c "[ -z \"\$(ls -A '$T/b1/rootfs' | grep -v -x -e proc -e dev -e sys)\" ]"
check "hook: poststop forgot the session and its writes" no_sessions
mkbundle "$T/b2" '{}' 'true'
out=$(runc run -b "$T/b2" "hook-$$-2" 2>&1) && rc=0 || rc=$?
check "hook: a container without envcache.environment fails, saying so" \
  bash -c "[ $rc -ne 0 ] && grep -q 'no annotation envcache.environment' <<<'$out'"
mkbundle "$T/b3" '{"envcache.environment": "nosuch"}' 'true'
out=$(runc run -b "$T/b3" "hook-$$-3" 2>&1) && rc=0 || rc=$?
check "hook: an unknown environment fails, naming it" bash -c "[ $rc -ne 0 ] && grep -q 'nosuch' <<<'$out'"
check "hook: failed starts leave no session" no_sessions
runc delete -f "hook-$$-2" >/dev/null 2>&1; runc delete -f "hook-$$-3" >/dev/null 2>&1
expect_fail "hook: no state on standard input" 'container state' "$HOOK" --oci-hook </dev/null

# --- the same hook under podman, through a hooks directory ---
if command -v podman >/dev/null; then
  mkdir -p "$T/hooks.d" "$T/empty"
  for stage in prestart poststop; do
    cat > "$T/hooks.d/envcache-$stage.json" <<EOF
{"version": "1.0.0", "stages": ["$stage"],
 "hook": {"path": "$HOOK", "args": ["envcache-mount", "--home", "$ENVCACHE_HOME", "--oci-hook=$stage"]},
 "when": {"annotations": {"^envcache\\\\.environment\$": ".+"}}}
EOF
  done
  # This machine's root lacks CAP_SYS_RESOURCE: no default rlimits the runtime would raise.
  printf '[containers]\ndefault_ulimits = []\n' > "$T/containers.conf"
  out=$(CONTAINERS_CONF=$T/containers.conf podman --runtime "$(command -v runc)" \
    --hooks-dir "$T/hooks.d" run --rm --ulimit host --cgroupns=host \
    --annotation envcache.environment=box --rootfs "$T/empty" /bin/sh -c 'cat /etc/marker' 2>&1)
  check "podman: the hook mounts the environment under a podman container" \
    bash -c "grep -qx from-the-base <<<'$out' || { echo '$out' >&2; false; }"
  check "podman: poststop forgot the session" no_sessions
else
  bad "podman is not installed (tools/install-deps.sh installs it)"
fi

# --- the environment's network, in the container (policy details: test_net.sh) ---
# no_nets [SESSION…]: this store has no session network left, nor these sessions' namespaces
no_nets() {
  for s in "$@"; do [ ! -e "/run/netns/envcache-$s" ] || return 1; done
  [ -z "$(ls "$ENVCACHE_HOME/net" 2>/dev/null | grep -v '^gate\.')" ]
}
probe='grep -m1 nameserver /etc/resolv.conf; echo "mirror=$ENVCACHE_MIRROR"; test -f /etc/pip.conf && echo pipconf;
  curl -s -m 5 -o /dev/null -w "mirror-http=%{http_code}\n" "$ENVCACHE_MIRROR/npm/left-pad"; true'
out=$(ec run --session net-u box -- sh -c "$probe")
check "unrestricted: the session's resolver is its gate" bash -c "grep -q '^nameserver 10\.231\.' <<<'$out'"
check "unrestricted: the package managers are configured for the mirror" bash -c "grep -qx pipconf <<<'$out' && grep -q '^mirror=http://10\.231\.' <<<'$out'"
check "unrestricted: the mirror answers inside" bash -c "grep -q '^mirror-http=[2-5]' <<<'$out'"
check "unrestricted: the network is gone with the session" no_nets net-u
echo '{"name": "closed", "config": {"type": "cloud", "packages": {}, "networking": {"type": "limited", "allowed_hosts": ["api.example.com"]}}}' |
  ec env create -f - >/dev/null
echo '{"name": "pm", "config": {"type": "cloud", "packages": {}, "networking": {"type": "limited", "allow_package_managers": true}}}' |
  ec env create -f - >/dev/null
out=$(ec run --session net-l closed -- sh -c 'test -f /etc/pip.conf && echo pipconf; env | grep -i "^https_proxy=" | sed "s/=.*//"')
check "limited: proxy variables point at the gate" bash -c "grep -qx https_proxy <<<'$out'"
check "limited without allow_package_managers: no package manager is configured" bash -c "! grep -qx pipconf <<<'$out'"
out=$(ec run --session net-p pm -- sh -c "$probe")
check "limited with allow_package_managers: the mirror answers inside" bash -c "grep -q '^mirror-http=[2-5]' <<<'$out'"
check "limited: networks are gone with their sessions" no_nets net-l net-p

# --- a maker that died between its mount and its record (crash window of the hook) ---
mkdir -p "$ENVCACHE_HOME/sessions/ghost/root" && mount -t tmpfs ghost "$ENVCACHE_HOME/sessions/ghost/root"
ec session ls >/dev/null
check "an unrecorded session younger than a minute is left alone (it may be being made)" \
  test -d "$ENVCACHE_HOME/sessions/ghost"
ENVCACHE_SESSION_ORPHAN_AGE=0 ec session ls >/dev/null
check "an unrecorded session older than that is unmounted and removed" bash -c \
  "[ ! -e '$ENVCACHE_HOME/sessions/ghost' ] && ! grep -q '$ENVCACHE_HOME/sessions/ghost' /proc/self/mountinfo"

# --- POST /v1/sessions prepares the same container; DELETE tears all of it down ---
key=$(ec keys create --workspace default)
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off >/dev/null 2>"$T/serve.err" &
spid=$!
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
B=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
api() { curl -s -H "anthropic-version: 2023-06-01" -H "anthropic-beta: managed-agents-2026-04-01" \
  -H "x-api-key: $key" "$@"; }
export -f api; export key B
eid=$(ec --json env get box | json_get id)
s=$(api $B/v1/sessions -d "{\"agent\":\"agt_1\",\"environment_id\":\"$eid\"}")
sid=$(printf '%s' "$s" | json_get id)
sb=$(printf '%s' "$s" | json_get bundle)
check "API: the session names its bundle" test -f "$sb/config.json"
check "API: GET answers the bundle too" test "$(api $B/v1/sessions/$sid | json_get bundle)" = "$sb"
check "API: the bundle starts the session's root under runc" \
  test "$(echo 'cat /etc/marker' | runc run -b "$sb" "$sid")" = from-the-base
python3 - "$sb/config.json" <<'EOF2'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["args"] = ["sleep", "600"]
json.dump(c, open(sys.argv[1], "w"))
EOF2
runc run -d -b "$sb" "$sid" </dev/null >/dev/null 2>&1
check "API: the container runs" bash -c "runc state '$sid' | grep -q running"
check "API: DELETE answers session_deleted" bash -c "api -X DELETE $B/v1/sessions/$sid | grep -q session_deleted"
check "API: DELETE stopped and deleted the running container" bash -c "! runc state '$sid' >/dev/null 2>&1"
check "API: DELETE removed the bundle and the root" test ! -e "$ENVCACHE_HOME/sessions/$sid"
check "API: DELETE tore the session's network down" no_nets "$sid"
kill "$spid"; wait "$spid" 2>/dev/null
finish
