#!/bin/bash
# Workspaces on the CLI: the global --workspace W (before the command) and
# $ENVCACHE_WORKSPACE choose where env, warm, env lock, mount, umount and session ls work;
# the default workspace stays "default"; keys create keeps its own --workspace.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/base/etc"; echo ws > "$T/base/etc/os-release"
b=$(ec base import "$T/base" | tail -1)
echo '{"name": "tool"}' > "$T/tool.json"
id=$(ec --workspace w2 env create -f "$T/tool.json" --base "$b" | json_get id)
check "create in w2" bash -c "[[ '$id' =~ ^env_ ]]"
expect_fail "the default workspace does not see it" 'not found' ec env get tool
check "--workspace finds it by name" bash -c "ec --workspace w2 env get tool | grep -q '$id'"
check "--workspace=W form" bash -c "ec --workspace=w2 env get '$id' | grep -q '\"name\": \"tool\"'"
check "ENVCACHE_WORKSPACE finds it" bash -c "ENVCACHE_WORKSPACE=w2 ec env get tool | grep -q '$id'"
check "--workspace wins over ENVCACHE_WORKSPACE" bash -c "ENVCACHE_WORKSPACE=w3 ec --workspace w2 env get tool | grep -q '$id'"
check "lists are per workspace" bash -c "ec --workspace w2 env list | grep -q '$id' && ! ec env list | grep -q '$id'"
check "a name may repeat in another workspace" bash -c "ec env create -f '$T/tool.json' | grep -q '\"name\": \"tool\"'"
expect_fail "a bad --workspace is refused" 'not a workspace name' ec --workspace a/b env list
expect_fail "a bad ENVCACHE_WORKSPACE is refused" 'ENVCACHE_WORKSPACE "../x"' env ENVCACHE_WORKSPACE=../x "$ENVCACHE_BIN" env list
check "update in w2" bash -c "echo '{\"description\": \"d\"}' | ec --workspace w2 env update tool -f - | grep -q '\"description\": \"d\"'"

expect_fail "warm: the default workspace does not see it" 'not found' ec warm "$id"
check "warm in w2" bash -c "ec --workspace w2 warm tool | grep -q '^warmed $id'"
expect_fail "env lock: the default workspace does not see it" 'not found' ec env lock "$id" npm
expect_fail "env lock in w2 finds the environment" 'no npm lock yet' ec --workspace w2 env lock tool npm

R=$T/root
sid=$(ec --workspace w2 --json mount tool --session s-w2 "$R" | json_get id)
check "mount by name in w2" test "$sid" = s-w2 -a -f "$R/etc/os-release"
check "session ls shows the chosen workspace only" bash -c "! ec session ls | grep -q s-w2 && ec --workspace w2 session ls | grep -q s-w2"
check "session ls names the workspace" bash -c "ec --workspace w2 session ls | grep s-w2 | grep -qw w2 && ec --workspace w2 session ls | head -1 | grep -q WORKSPACE"
check "session ls --all-workspaces" bash -c "ec session ls --all-workspaces | grep s-w2 | grep -qw w2"
check "session ls --json carries the workspace" bash -c "[ \"\$(ENVCACHE_WORKSPACE=w2 ec session ls --json | json_get 0.workspace)\" = w2 ]"
expect_fail "umount --session from another workspace" 'not found' ec umount --session s-w2
check "umount --session in w2" bash -c "ec --workspace w2 umount --session s-w2 | grep -q s-w2 && ! grep -q ' $R ' /proc/self/mountinfo"
hook=$(dirname "$ENVCACHE_BIN")/envcache-mount
expect_fail "the hook looks in the default workspace unless told" 'not found' "$hook" "$id" "$R"
check "the hook takes \$ENVCACHE_WORKSPACE" bash -c "ENVCACHE_WORKSPACE=w2 '$hook' --session h1 '$id' '$R' | grep -q 'mounted session h1'"
check "…and umounts in it" bash -c "ec --workspace w2 umount --session h1 | grep -q h1"
check "the hook takes --workspace" bash -c "'$hook' --workspace w2 --session h2 '$id' '$R' | grep -q 'mounted session h2' && ec --workspace w2 umount '$R' >/dev/null"
check "delete in w2" bash -c "ec --workspace w2 env delete tool | grep -q environment_deleted"

check "keys create --workspace W still works" bash -c "ec keys create --workspace k1 | grep -q ."
check "keys create takes the global --workspace" bash -c "ec --workspace k2 --json keys create | grep -q '\"workspace\": \"k2\"'"
expect_fail "keys create without a workspace" 'needs --workspace' ec keys create

check "envcache --help names --workspace" bash -c "ec --help | grep -q -- '--workspace W'"
for cmd in "env" "warm" "mount" "umount" "session" "env lock"; do
  check "'$cmd --help' names the workspace" bash -c "ec $cmd --help | grep -q -- '--workspace W'"
done
finish
