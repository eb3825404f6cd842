#!/bin/bash
# SIGKILL in the middle of `envcache layer import`, at each fault point of the write
# protocol and at random moments: the store stays consistent (verify finds no problem),
# repair removes the leftovers, and the same import then succeeds.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/tree"
for i in $(seq 1 300); do head -c $((i * 97)) /dev/urandom > "$T/tree/f$i"; done
tar -C "$T/tree" -cf "$T/tree.tar" .
# Directory imports go pack -> blob -> record -> unpack; tar imports unpack first.
for point in blob.fsync blob.rename blob.record layer.record layer.unpack tar:layer.unpack \
             tar:blob.rename tar:layer.record tar:layer.rename; do
  src=$T/tree
  case $point in tar:*) src=$T/tree.tar point=${point#tar:} ;; esac
  EC_FAULTS="$point:kill" ec layer import "$src" >/dev/null 2>&1 && rc=0 || rc=$?
  check "killed at $point of ${src##*/} (rc=$rc)" test "$rc" -eq 137
  check "verify clean after a kill at $point of ${src##*/}" ec verify
done
for delay in 0.05 0.1 0.2 0.3; do
  ec layer import "$T/tree" >/dev/null 2>&1 & pid=$!
  sleep "$delay"; kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  check "verify clean after a kill at ${delay}s" ec verify
done
ec verify --repair >/dev/null
check "repair leaves no leftovers" bash -c "ec verify --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"clean\"] and d[\"leftovers\"]==0, d'"
d=$(ec layer import "$T/tree")
check "the import then succeeds" bash -c "[[ '$d' =~ ^sha256: ]]"
check "and verify is clean" ec verify
# Tampering is found and repaired.
blob=$ENVCACHE_HOME/blobs/sha256/${d:7:2}/${d:7}
chmod u+w "$blob"; printf 'X' | dd of="$blob" bs=1 seek=10 conv=notrunc 2>/dev/null
expect_fail "verify finds a tampered blob" 'corrupt' ec verify
expect_fail "export refuses a tampered blob" 'corrupt' ec layer export "$d" -o "$T/out"
check "nothing is written for a tampered export" test ! -e "$T/out"
finish
