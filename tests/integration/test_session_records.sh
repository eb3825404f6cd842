#!/bin/bash
# Session records written after the mount as files, with no index sync
# (cache/session/session_deferred.c): found, listed and pinning their layers like indexed
# ones, adopted by the next index write, one session per target even when makers race,
# and a record cut short by a crash losing nothing.
. "$(dirname "$0")/lib.sh"
hook=$(dirname "$ENVCACHE_BIN")/envcache-mount
recs=$ENVCACHE_HOME/sessions/.records

mkdir -p "$T/l1/etc" "$T/l2/etc" "$T/l3/etc"
echo one > "$T/l1/etc/one"; echo two > "$T/l2/etc/two"; echo three > "$T/l3/etc/three"
a=$(ec layer import "$T/l1"); b=$(ec layer import "$T/l2"); c=$(ec layer import "$T/l3")
echo '{"name": "recs"}' | ec env create -f - >/dev/null

"$hook" recs "$T/t1" --session h1 >/dev/null
check "the hook's record is a file, not yet indexed" test -s "$recs/h1.json"
check "…the session is listed" bash -c "ec session ls | grep -q h1"
check "…with its target" bash -c "ec session ls --json | grep -q '\"target\": *\"$T/t1\"'"
expect_fail "…holds its target" 'already the target of session h1' "$hook" recs "$T/t1" --session h2
expect_fail "…holds its id" 'already exists' ec mount --layers "$a" --session h1 "$T/t9"
expect_fail "…keeps its environment from deletion" 'live session' ec env delete recs

# GC: a layer used only by a waiting record is pinned.
ec mount --layers "$b" --session h3 "$T/t3" >/dev/null
check "a second record waits too" test -s "$recs/h3.json"
out=$(ec gc --dry-run --grace 0 2>&1)
check "GC would remove an unused layer" bash -c "printf '%s' '$out' | grep -q 'would remove.*${c:7:12}'"
check "…and keeps a waiting session's layer" bash -c "! printf '%s' '$out' | grep -q 'would remove.*${b:7:12}'"

# The next index write adopts every waiting record (its file stays as long as the session;
# without it, only the index can name the session).
ec umount --session h3 >/dev/null
check "umount removes its own record file" test ! -e "$recs/h3.json"
mv "$recs/h1.json" "$T/h1.json"
check "…and adopts the others: h1 listed without its file" bash -c "ec session ls | grep -q h1"
mv "$T/h1.json" "$recs/h1.json"
check "…h3 is not" bash -c "! ec session ls | grep -q h3"
expect_fail "…h1 still holds its target" 'already the target of session h1' \
  "$hook" recs "$T/t1" --session h4
ec umount --session h1 >/dev/null
check "umount of an adopted session" bash -c "! ec session ls | grep -q h1 && ! grep -q ' $T/t1 ' /proc/self/mountinfo"

# Orphans: a directory whose record waits as a file is not an orphan.
ec mount --layers "$a" --session young "$T/t5" >/dev/null
ENVCACHE_SESSION_ORPHAN_AGE=0 ec session ls >/dev/null 2>&1
check "reaping leaves a waiting session alone" bash -c "test -d '$ENVCACHE_HOME/sessions/young' && grep -q ' $T/t5 ' /proc/self/mountinfo"
# A crash while writing: the record file holds garbage. The session is gone for readers,
# and its directory is reaped as an orphan (unmounted, removed).
printf '{"id": "you' > "$recs/young.json"
check "a cut record is not listed" bash -c "! ec session ls 2>/dev/null | grep -q young"
ENVCACHE_SESSION_ORPHAN_AGE=0 ec session ls >/dev/null 2>&1
check "…its directory is reaped" test ! -e "$ENVCACHE_HOME/sessions/young"
check "…and its mount at its target" bash -c "! grep -q ' $T/t5 ' /proc/self/mountinfo"
check "…and its cut record" test ! -e "$recs/young.json"

# The maker killed between its mount and its record: the session is nobody's, and is
# unmounted and removed as an orphan, so its target can be used again.
EC_FAULTS=session.record:kill "$hook" recs "$T/t6" --session killed >/dev/null 2>&1
check "killed before its record: mounted, not recorded" bash -c "grep -q ' $T/t6 ' /proc/self/mountinfo && ! ec session ls | grep -q killed"
check "…refused with a clear error if it fails instead" bash -c "EC_FAULTS=session.record ec mount --layers $a --session failed '$T/t7' 2>&1 | grep -q 'fault injected' && ! grep -q ' $T/t7 ' /proc/self/mountinfo && test ! -e '$ENVCACHE_HOME/sessions/failed'"
ENVCACHE_SESSION_ORPHAN_AGE=0 ec session ls >/dev/null 2>&1
check "…reaped: unmounted and removed" bash -c "! grep -q ' $T/t6 ' /proc/self/mountinfo && test ! -e '$ENVCACHE_HOME/sessions/killed'"
check "…and its target takes a new session" bash -c "'$hook' recs '$T/t6' --session again >/dev/null && ec umount --session again >/dev/null"

# Past EC_SESSION_DEFERRED_MAX waiting records, the next session is indexed with them.
for i in $(seq 1 32); do ec mount --layers "$a" --session many$i "$T/m$i" >/dev/null; done
mv "$recs/many1.json" "$T/many1.json"
check "32 records wait: one without its file is not listed" bash -c "! ec session ls | grep -qw many1"
mv "$T/many1.json" "$recs/many1.json"
ec mount --layers "$a" --session many33 "$T/m33" >/dev/null
mkdir "$T/recs-aside" && mv "$recs"/many*.json "$T/recs-aside/"
check "the 33rd session is indexed with them: all listed without their files" test "$(ec session ls | grep -c many)" = 33
mv "$T/recs-aside"/*.json "$recs/"
check "all 33 listed" test "$(ec session ls | grep -c many)" = 33
for i in $(seq 1 33); do ec umount --session many$i >/dev/null; done
check "all gone after umount" bash -c "! ec session ls | grep -q many && test -z \"\$(ls -A '$recs')\""

# Makers racing for one target: exactly one wins each round, one overlay at the target.
wins_ok=0
for round in $(seq 1 20); do
  t=$T/race$round
  mkdir -p "$t"
  "$hook" recs "$t" --session ra$round >/dev/null 2>&1 & p1=$!
  ec mount --layers "$a" --session rb$round "$t" >/dev/null 2>&1 & p2=$!
  "$hook" recs "$t" --session rc$round >/dev/null 2>&1 & p3=$!
  w=0
  for p in $p1 $p2 $p3; do wait $p && w=$((w + 1)); done
  m=$(grep -c " $t " /proc/self/mountinfo)
  [ "$w" = 1 ] && [ "$m" = 1 ] && wins_ok=$((wins_ok + 1))
  ec umount "$t" >/dev/null 2>&1
done
check "one winner and one mount in each of 20 races ($wins_ok)" test "$wins_ok" = 20
# Makers racing with one id on two targets: exactly one wins each round.
ids_ok=0
for round in $(seq 1 10); do
  "$hook" recs "$T/ia$round" --session same$round >/dev/null 2>&1 & p1=$!
  "$hook" recs "$T/ib$round" --session same$round >/dev/null 2>&1 & p2=$!
  w=0
  for p in $p1 $p2; do wait $p && w=$((w + 1)); done
  m=$(grep -c " $T/i[ab]$round " /proc/self/mountinfo)
  [ "$w" = 1 ] && [ "$m" = 1 ] && ids_ok=$((ids_ok + 1))
  ec umount --session same$round >/dev/null 2>&1
done
check "one winner and one mount in each of 10 races for one id ($ids_ok)" test "$ids_ok" = 10
check "no session left after the races" bash -c "! ec session ls | grep -q 'r[abc][0-9]'"
finish
