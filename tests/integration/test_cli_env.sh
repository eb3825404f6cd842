#!/bin/bash
# Environments through the real CLI: create, list with paging, get, update, archive,
# delete; validation errors name the field; names are unique per workspace.
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
finish
