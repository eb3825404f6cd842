#!/bin/bash
# Environments through the real CLI: create, list with paging, get, update, archive,
# delete; validation errors name the field; names are unique per workspace; the base
# choice (--base, --no-base, --default-base) and the default base taken at warm-up time.
. "$(dirname "$0")/lib.sh"

cat > "$T/env.json" <<'J'
{"name": "py", "config": {"type": "cloud", "packages": {"pip": ["pandas==2.2.0"], "npm": ["express@4.18.0"]}},
 "metadata": {"team": "data"}}
J
out=$(ec env create -f "$T/env.json")
id=$(printf '%s' "$out" | json_get id)
check "create returns an env_ id" bash -c "[[ '$id' =~ ^env_[0-9A-Za-z]{24}$ ]]"
check "create fills all six lists" bash -c "[ \"\$(printf '%s' '$out' | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)[\"config\"][\"packages\"]))')\" = \"['apt', 'cargo', 'gem', 'go', 'npm', 'pip', 'type']\" ]"
check "networking defaults to unrestricted" bash -c "[ \"\$(printf '%s' '$out' | json_get config.networking.type)\" = unrestricted ]" 
check "get by id" bash -c "ec env get $id | grep -q '\"name\": \"py\"'"
check "get by name" bash -c "ec env get py | grep -q '$id'"
expect_fail "duplicate name is a conflict" 'already exists' ec env create -f "$T/env.json"

# A name at the API's limit whose UTF-8 is over LMDB's key size (1,024 bytes).
long=$(python3 -c 'print("\U0001F600" * 256)')
printf '{"name": "%s"}' "$long" > "$T/long.json"
check "a 256-character name of 4-byte characters is created" ec env create -f "$T/long.json"
check "... found by that name" bash -c "ec env get '$long' | grep -q '\"type\": \"environment\"'"
expect_fail "... and unique, the message whole at both ends" 'already exists in this workspace' ec env create -f "$T/long.json"
check "... and deleted by name" ec env delete "$long"
echo '{"name": "bad", "config": {"packages": {"pip": ["numpy", "pandas==="]}}}' > "$T/bad.json"
expect_fail "bad pip spec names the field" 'config.packages.pip[1]' ec env create -f "$T/bad.json"
echo '{"name": "x", "colour": "red"}' > "$T/unknown.json"
expect_fail "unknown top-level field" 'colour' ec env create -f "$T/unknown.json"
echo '{"name": "lim", "config": {"networking": {"type": "limited"}, "packages": {"apt": ["jq"]}}}' > "$T/lim.json"
expect_fail "limited without package managers" 'allow_package_managers' ec env create -f "$T/lim.json"
echo '{"name": ' > "$T/broken.json"
expect_fail "malformed JSON names file and position" 'broken.json:' ec env create -f "$T/broken.json"

echo '{"config": {"packages": {"npm": ["typescript@5"]}}, "metadata": {"team": null, "owner": "me"}}' > "$T/upd.json"
upd=$(ec env update "$id" -f "$T/upd.json")
check "update replaces only the given list" bash -c "[ \"\$(printf '%s' '$upd' | json_get config.packages.pip.0)\" = 'pandas==2.2.0' ] && [ \"\$(printf '%s' '$upd' | json_get config.packages.npm.0)\" = 'typescript@5' ]"
check "metadata patch deletes and adds" bash -c "[ \"\$(printf '%s' '$upd' | json_get metadata)\" = '{\"owner\": \"me\"}' ]"

# Paging: 45 more environments, pages of 7, newest first, no loss or duplicates.
for i in $(seq 1 45); do echo "{\"name\": \"e$i\"}" | ec env create -f - >/dev/null; done
seen=$T/seen; : > "$seen"; page=""
while :; do
  res=$(ec env list --limit 7 ${page:+--page "$page"})
  printf '%s' "$res" | python3 -c 'import json,sys; [print(e["id"]) for e in json.load(sys.stdin)["data"]]' >> "$seen"
  page=$(printf '%s' "$res" | python3 -c 'import json,sys; p=json.load(sys.stdin)["next_page"]; print(p or "")')
  [ -n "$page" ] || break
done
check "paging sees all 46 environments once" bash -c "[ \$(sort -u '$seen' | wc -l) -eq 46 ] && [ \$(wc -l < '$seen') -eq 46 ]"
check "list is newest first" bash -c "[ \"\$(sort -r '$seen')\" = \"\$(cat '$seen')\" ]"
expect_fail "a forged cursor is refused" 'page' ec env list --page page_bogus

arch=$(ec env archive e1)
check "archive sets archived_at" bash -c "printf '%s' '$arch' | grep -q '\"archived_at\": \"20'"
check "archived environments leave the default list" bash -c "! ec env list --limit 1000 | grep -q '\"name\": \"e1\"'"
check "include-archived shows them" bash -c "ec env list --limit 1000 --include-archived | grep -q '\"name\": \"e1\"'"
expect_fail "update of an archived environment" 'archived' ec env update e1 -f "$T/upd.json"
check "delete" bash -c "ec env delete e2 | grep -q environment_deleted"
expect_fail "deleted is not found" 'not found' ec env get e2
check "help exists" bash -c "ec env --help | grep -q 'env create'"

# Bases: an environment without an explicit base follows the store's default of the moment.
for n in 1 2; do mkdir -p "$T/b$n/etc"; echo "$n" > "$T/b$n/etc/os-release"; done
b1=$(ec base import "$T/b1" | tail -1); b2=$(ec base import "$T/b2" | tail -1)
base_of() { ec env get "$1" | json_get base; }
echo '{"name": "follows"}' | ec env create -f - >/dev/null
check "create without a base follows the default" test "$(base_of follows)" = '{"mode": "default", "digest": null}'
ec base default "$b1" >/dev/null
check "a default set after create is its base" test "$(base_of follows)" = "{\"mode\": \"default\", \"digest\": \"$b1\"}"
echo '{"name": "pinned"}' | ec env create -f - --base "${b2:0:20}" >/dev/null
check "create --base PREFIX is explicit" test "$(base_of pinned)" = "{\"mode\": \"explicit\", \"digest\": \"$b2\"}"
echo '{"name": "bare"}' | ec env create -f - --no-base >/dev/null
check "create --no-base has none despite a default" test "$(base_of bare)" = '{"mode": "none", "digest": null}'
check "update --base" bash -c "ec env update follows --base '$b2' | grep -q '\"mode\": \"explicit\"'"
check "update --no-base" test "$(ec env update follows --no-base | json_get base.mode)" = none
check "update --default-base" test "$(ec env update follows --default-base | json_get base.digest)" = "$b1"
up=$(echo '{"description": "both"}' | ec env update bare -f - --base "$b1")
check "update -f and --base apply both" bash -c "[ \"\$(printf '%s' '$up' | json_get description)\" = both ] && [ \"\$(printf '%s' '$up' | json_get base.mode)\" = explicit ]"
expect_fail "update needs a body or a base option" 'needs -f FILE, --base' ec env update bare
expect_fail "one base option at a time" 'give one of' ec env update bare --no-base --default-base
expect_fail "get takes no base option" 'no base option' ec env get bare --no-base
expect_fail "an unknown base is refused" 'not in the store' ec env update bare --base sha256:0123456789abcdef
check "list keeps the API's objects" bash -c "! ec env list --limit 1000 | grep -q '\"base\"'"
echo '{"name": "late"}' | ec env create -f - >/dev/null
ec base default "$b2" >/dev/null
check "warm builds on the default of warm-up time" test "$(ec --json warm late | tail -1 | json_get stack.0)" = "$b2"
check "help names --no-base and --default-base" bash -c "ec env --help | grep -q -- --no-base && ec env --help | grep -q -- --default-base"
finish
