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
# Budget: b used most recently, so a goes first.
b=$(ec layer import "$T/t2"); sleep 1.1
ec mount --layers "$b" --session touch "$T/r2" >/dev/null; ec umount --session touch >/dev/null
out=$(ec gc --grace 0 --max-size 1 --dry-run --json)
check "budget evicts in LRU order" bash -c "printf '%s' '$out' | python3 -c 'import json,sys; it=json.load(sys.stdin)[\"items\"]; o=[i[\"object\"] for i in it]; assert o.index(\"layer $a\") < o.index(\"layer $b\"), o'"
expect_fail "a bad size is a usage error" 'not a size' ec gc --max-size lots
finish
