#!/bin/bash
# gc: dry runs explain, sessions are roots, the grace period protects, the budget evicts
# least recently used layers first.
. "$(dirname "$0")/lib.sh"

for n in 1 2 3; do mkdir -p "$T/t$n"; head -c 200000 /dev/urandom > "$T/t$n/data"; done
a=$(ec layer import "$T/t1"); b=$(ec layer import "$T/t2"); c=$(ec layer import "$T/t3")
check "within the grace period nothing goes" bash -c "ec gc --dry-run | grep -q ', 0 items'"
ec mount --layers "$a" --session keep "$T/r" >/dev/null
out=$(ec gc --dry-run --grace 0)
check "dry run names what would go and why" bash -c "printf '%s' '$out' | grep -q 'would remove unreferenced.*${b:7:12}.*no environment or session uses it'"
check "dry run removes nothing" bash -c "[ \$(ec layer ls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') -eq 3 ]"
check "a session's layer is a root" bash -c "! printf '%s' '$out' | grep -q '${a:7:12}'"
ec gc --grace 0 >/dev/null
check "gc removed the unreferenced layers" bash -c "[ \$(ec layer ls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') -eq 1 ]"
check "verify clean after gc" ec verify
ec umount --session keep >/dev/null
# Budget: a live session's layer is never evicted, however small the budget.
b=$(ec layer import "$T/t2")
ec mount --layers "$b" --session pin "$T/r2" >/dev/null
out=$(ec gc --grace 0 --max-size 1 --json)
check "a pinned layer survives a budget of 1 byte" bash -c "ec layer ls | grep -q '${b:7:12}'"
check "the report leaves the pinned layer out and the store over budget" bash -c "printf '%s' '$out' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"size_after\"] > 1 and all(\"${b:7:12}\" not in i[\"object\"] for i in d[\"items\"]), d'"
# A budget that cannot be met says so, and which bytes stay for which cause: here a
# pinned layer and one imported within the grace period.
c=$(ec layer import "$T/t3")
out=$(ec gc --dry-run --max-size 1)
check "a dry run says the budget cannot be met" bash -c "printf '%s' '$out' | grep -q 'the budget of 1 B cannot be met'"
check "…naming the bytes live sessions pin" bash -c "printf '%s' '$out' | grep -q 'pinned by live sessions'"
check "…and the bytes the grace period holds" bash -c "printf '%s' '$out' | grep -q 'used within the grace period of 1h'"
check "…listing what stays and why" bash -c "printf '%s' '$out' | grep -q 'would keep pinned.*${b:7:12}.*a live session uses it'"
ec gc --dry-run --max-size 1 --json > "$T/budget.json"
check "--json carries the same facts" python3 -c "
import json; d = json.load(open('$T/budget.json')); h = d['held_bytes']
assert d['budget_met'] is False and d['max_size'] == 1 and d['over_budget'] == d['size_after'] - 1, d
assert h['pinned'] > 0 and h['grace'] > 0 and h['pinned'] + h['grace'] + h['referenced'] == d['size_after'], d
assert {i['kind'] for i in d['held']} == {'pinned', 'grace'} and not d['items'], d"
ec gc --dry-run --max-size 100G --json > "$T/met.json"
check "a budget that is met says so" python3 -c "
import json; d = json.load(open('$T/met.json')); assert d['budget_met'] is True and d['held'] == [] and d['over_budget'] == 0, d"
ec umount --session pin >/dev/null
expect_fail "a bad size is a usage error" 'not a size' ec gc --max-size lots
expect_fail "a bad duration is a usage error" 'not a duration' ec gc --grace 5x
finish
