#!/bin/bash
# Mounts through the real CLI: overlay stacks in order with whiteouts, private writes,
# sessions recorded and listed, umount leaves no mount, copy mode, environment rules.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/l1/etc" "$T/l1/gone" "$T/l2/etc"
echo base > "$T/l1/etc/conf"; echo keep > "$T/l1/etc/keep"; echo x > "$T/l1/gone/file"
echo top > "$T/l2/etc/conf"
# l3 deletes l1's /etc/keep with an OCI whiteout, from a tar.
mkdir -p "$T/l3/etc"; touch "$T/l3/etc/.wh.keep"; echo new > "$T/l3/etc/new"
tar -C "$T/l3" -cf "$T/l3.tar" .
a=$(ec layer import "$T/l1"); b=$(ec layer import "$T/l2"); c=$(ec layer import "$T/l3.tar")

for mode in overlay copy; do
  flag=""; [ $mode = copy ] && flag=--copy
  R=$T/root-$mode
  out=$(ec mount $flag --layers "$a,$b,$c" --session s-$mode "$R")
  check "$mode: mount says its mode" bash -c "printf '%s' '$out' | grep -q '($mode,'"
  check "$mode: upper layer wins" test "$(cat "$R/etc/conf")" = top
  check "$mode: whiteout hides" test ! -e "$R/etc/keep"
  check "$mode: files from every layer" test -f "$R/etc/new" -a -f "$R/gone/file"
  echo scribble > "$R/etc/conf"; echo more > "$R/etc/added"
  check "$mode: writes never reach the cache" bash -c "! grep -rq scribble '$ENVCACHE_HOME/layers' && ! find '$ENVCACHE_HOME/layers' -name added | grep -q ."
  check "$mode: session listed" bash -c "ec session ls | grep -q s-$mode"
  ec umount "$R" >/dev/null
  check "$mode: umount leaves no mount" bash -c "! grep -q ' $R ' /proc/self/mountinfo"
  check "$mode: session forgotten" bash -c "! ec session ls | grep -q s-$mode"
done
check "overlay: the written file is gone after umount" test ! -e "$T/root-overlay/etc/added"

expect_fail "a second session with a taken id" 'already exists' bash -c \
  "ec mount --layers $a --session dup '$T/r1' && ec mount --layers $a --session dup '$T/r2'"
ec umount --session dup >/dev/null
expect_fail "unknown layer" 'not in the store' ec mount --layers sha256:0123456789abcdef --session x "$T/r3"
check "a failed mount leaves no session" bash -c "! ec session ls | grep -q ' x '"

# Environments: a session blocks deletion, archiving is allowed and the session goes on.
echo '{"name": "busy"}' | ec env create -f - >/dev/null
ec mount busy --session on-env "$T/r4" >/dev/null
expect_fail "delete while a session uses it" 'live session' ec env delete busy
check "archive while a session uses it" bash -c "ec env archive busy | grep -q archived_at"
expect_fail "no new session on an archived environment" 'archived' ec mount busy --session late "$T/r5"
ec umount --session on-env >/dev/null
check "delete after the session ends" bash -c "ec env delete busy | grep -q environment_deleted"

# A base directory below every layer.
mkdir -p "$T/base/bin"; echo basefile > "$T/base/bin/tool"
ec mount --layers "$b" --base "$T/base" --session with-base "$T/r6" >/dev/null
check "base is the lowest layer" test "$(cat "$T/r6/bin/tool")" = basefile -a "$(cat "$T/r6/etc/conf")" = top
ec umount --session with-base >/dev/null
# A mount that vanished behind our back (reboot, manual umount) shows, and umount forgets it.
ec mount --layers "$a" --session vanish "$T/r7" >/dev/null
umount "$T/r7"
check "a vanished mount shows as not mounted" bash -c "ec session ls --json | python3 -c 'import json,sys; s=[x for x in json.load(sys.stdin) if x[\"id\"]==\"vanish\"][0]; assert s[\"mounted\"] is False, s'"
check "umount forgets a vanished session" bash -c "ec umount --session vanish >/dev/null && ! ec session ls | grep -q vanish"
check "help exists" bash -c "ec mount --help | grep -q overlayfs"
finish
