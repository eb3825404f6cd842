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
# A mount that vanished behind our back (reboot, manual umount): umount forgets it, and so
# does session ls, with its directories, instead of listing it forever.
ec mount --layers "$a" --session vanish "$T/r7" >/dev/null
umount "$T/r7"
check "umount forgets a vanished session" bash -c "ec umount --session vanish >/dev/null && ! ec session ls | grep -q vanish"
ec mount --layers "$a" --session vanish2 "$T/r7" >/dev/null
umount "$T/r7"
check "session ls forgets a vanished session, saying so" bash -c "ec session ls 2>&1 >/dev/null | grep -q 'forgot session vanish2' && ! ec session ls 2>&1 | grep -q vanish2"
check "…and removes its directories" test ! -e "$ENVCACHE_HOME/sessions/vanish2"
ec mount --layers "$a" --session vanish3 "$T/r7" >/dev/null
umount "$T/r7"
check "a vanished session does not hold its target" bash -c "ec mount --layers '$a' --session again '$T/r7' >/dev/null && ! ec session ls 2>&1 | grep -q vanish3"
ec umount --session again >/dev/null

# umount takes a target relative to the cwd.
ec mount --layers "$a" --session rel "$T/r8" >/dev/null
check "umount of a relative target" bash -c "cd '$T' && ec umount r8 >/dev/null && ! grep -q ' $T/r8 ' /proc/self/mountinfo && ! ec session ls | grep -q ' rel '"
ec mount --layers "$a" --session rel2 "$T/r8" >/dev/null
check "umount of a relative target with a slash" bash -c "cd '$T/r8/..' && ec umount ./r8/ >/dev/null && ! ec session ls | grep -q rel2"

# Two sessions on one target: the second is refused, naming the first.
ec mount --layers "$a" --session first "$T/r9" >/dev/null
expect_fail "a second session on a taken target names the first" 'already the target of session first' \
  ec mount --layers "$b" --session second "$T/r9"
check "…and leaves the first as it was" bash -c "test -f '$T/r9/gone/file' && ec session ls | grep -q first && ! ec session ls | grep -q second"
expect_fail "…copy mode too" 'already the target of session first' ec mount --copy --layers "$b" --session third "$T/r9"
ec umount --session first >/dev/null

# An environment whose warm-up never ran or failed is refused by both mount paths, naming
# each manager that is not ready and what to run; one with no packages (busy, above) mounts.
# apt without a base fails its warm-up at once, offline, and then npm never starts.
hook=$(dirname "$ENVCACHE_BIN")/envcache-mount
echo '{"name": "cold", "config": {"packages": {"apt": ["jq"], "npm": ["left-pad@1.3.0"]}}}' |
  ec env create -f - >/dev/null
expect_fail "mount refuses an environment never warmed" 'npm packages are not warmed yet' ec mount cold "$T/c1"
expect_fail "…naming every manager" 'apt packages are not warmed yet' ec mount cold "$T/c1"
expect_fail "…and says what to run" 'envcache warm cold' ec mount cold "$T/c1"
expect_fail "the start-up hook refuses it too" 'npm packages are not warmed yet' "$hook" cold "$T/c1"
expect_fail "…and says what to run" 'envcache warm cold' "$hook" cold "$T/c1"
ec warm cold >/dev/null 2>&1
expect_fail "mount refuses an environment whose warm-up failed, with the reason" \
  'the warm-up of its apt packages failed: apt packages need a base' ec mount cold "$T/c1"
# apt's failure does not stop npm (its layer does not build on apt's): only apt is named.
check "…and names only the manager that failed" bash -c "! '$ENVCACHE_BIN' mount cold '$T/c1' 2>&1 | grep -q 'npm packages'"
expect_fail "the hook too" 'the warm-up of its apt packages failed' "$hook" cold "$T/c1"
check "no session and no mount are left" bash -c "! ec session ls | grep -q '$T/c1' && ! grep -q ' $T/c1 ' /proc/self/mountinfo"
check "--layers mounts are unaffected" bash -c "ec mount --layers '$a' --session lay '$T/c2' >/dev/null && ec umount --session lay >/dev/null"
finish
