#!/bin/bash
# The prebuild sandbox through the real CLI: a script's changes become a layer with the
# right whiteouts, that layer mounts over its base, limits and failures leave nothing
# behind, the network is loopback plus the mirror only, environments start at their base.
. "$(dirname "$0")/lib.sh"
need_sandbox

no_mounts() { ! grep -q "$T" /proc/self/mountinfo && [ -z "$(ls -A "$ENVCACHE_HOME/sandbox" 2>/dev/null)" ]; }
no_temp() { [ -z "$(ls -A "$ENVCACHE_HOME/tmp" 2>/dev/null)" ]; }

bash "$(dirname "$0")/mkroot.sh" "$T/root" >/dev/null
mkdir -p "$T/root/etc/app" "$T/root/data/old"
echo v1 > "$T/root/etc/app/conf"; echo bye > "$T/root/etc/app/gone"; echo x > "$T/root/data/old/f"
base=$(ec base import "$T/root")
check "base import prints a digest" test -n "$base"
check "the layer is marked as a base" bash -c "ec --json layer ls | grep -q '\"base\": true'"

# --- changes become a layer ---
script='echo v2 > /etc/app/conf; rm /etc/app/gone; echo new > /etc/app/added;
rm -rf /data/old; mkdir /data/old; echo fresh > /data/old/g; touch /tmp/noise;
mkdir -p /var/log /var/cache/apt; echo l > /var/log/x.log; echo c > /var/cache/apt/c'
layer=$(ec sandbox run --base "$base" -- sh -c "$script")
check "sandbox run prints the layer digest" bash -c "[[ '$layer' == sha256:* ]]"
ec layer export "$layer" -o "$T/l.tar.zst"
zstd -dcq "$T/l.tar.zst" | tar -t | sed 's|^\./||' | grep -v '^$' | sort > "$T/list"
want=$'data/\ndata/old/\ndata/old/.wh..wh..opq\ndata/old/g\netc/\netc/app/\netc/app/.wh.gone\netc/app/added\netc/app/conf'
check "exactly the changes, with whiteouts, without noise" test "$(cat "$T/list")" = "$want"
check "no mounts or work trees after a run" no_mounts
ec mount --layers "$base,$layer" --session sb "$T/m" >/dev/null
check "mounted: modified file" test "$(cat "$T/m/etc/app/conf")" = v2
check "mounted: deleted file is gone" test ! -e "$T/m/etc/app/gone"
check "mounted: added file" test "$(cat "$T/m/etc/app/added")" = new
check "mounted: opaque directory hides the old contents" test ! -e "$T/m/data/old/f" -a -f "$T/m/data/old/g"
ec umount "$T/m" >/dev/null
check "the build log is stored with the layer" bash -c "ec --json sandbox run --base $base -- sh -c 'echo logged-line' | grep -q '\"log\": \"sha256:'"

# --- limits and failures ---
expect_fail "time limit" "timed out after 1 s" ec sandbox run --base "$base" --timeout 1 -- sh -c 'echo started; sleep 60'
check "time limit: no mounts" no_mounts
check "time limit: no temporary blob" no_temp
# Build steps skip relative sleeps; an hour's sleep under a minute's limit shows it.
check "--skip-sleeps: an hour's sleep returns at once" bash -c "ec sandbox run --discard --log --base $base --timeout 60 --skip-sleeps -- sh -c 'sleep 3600 && echo woke' 2>&1 | grep -qx woke"
# Build steps skip syncs: fsync on a pipe fails (EINVAL) unless the filter answers first.
fsync_pipe="(dd if=/dev/zero bs=1 count=1 conv=fsync status=none && echo synced >&2) | cat >/dev/null"
check "--skip-syncs: fsync returns at once (even where it would fail)" bash -c "ec sandbox run --discard --log --base $base --skip-syncs -- sh -c '$fsync_pipe' 2>&1 | grep -qx synced"
check "without --skip-syncs, the same fsync fails" bash -c "! ec sandbox run --discard --log --base $base -- sh -c '$fsync_pipe' 2>&1 | grep -qx synced"
expect_fail "memory limit" "memory" ec sandbox run --base "$base" --memory 64M -- dd if=/dev/zero of=/dev/null bs=512M count=1
check "memory limit: no mounts" no_mounts
layers_before=$(ec --json layer ls | grep -c '"digest"')
expect_fail "failure names the command and status" "exited with status 3" ec sandbox run --base "$base" -- sh -c 'echo last-words >&2; exit 3'
expect_fail "failure quotes the log" "last-words" ec sandbox run --base "$base" -- sh -c 'echo last-words >&2; exit 3'
check "failures leave no layer" test "$(ec --json layer ls | grep -c '"digest"')" = "$layers_before"
check "failure: no mounts" no_mounts
check "failure: no temporary blob" no_temp
expect_fail "a missing program" "cannot run no-such-program" ec sandbox run --base "$base" -- no-such-program

# --- isolation ---
check "own PID namespace: the command's shell is PID 2" bash -c "ec sandbox run --discard --log --base $base -- sh -c 'echo pid=\$\$' 2>&1 | grep -q pid=2"
check "own UTS namespace" bash -c "ec sandbox run --discard --log --base $base -- hostname 2>&1 | grep -q envcache-sandbox"
# A discarded run works on a tmpfs (when /dev/shm is one with 2 GiB free) and leaves
# nothing there; one with a memory limit, and a kept one, work in the store. A directory
# there whose run died (nobody holds its lock) is removed by the next run; a live one stays.
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
   [ "$(df -k --output=avail /dev/shm | tail -1)" -ge $((2 * 1024 * 1024)) ]; then
  mkdir -p /dev/shm/envcache-sandbox-dead$$ /dev/shm/envcache-sandbox-live$$
  flock /dev/shm/envcache-sandbox-live$$ sleep 30 & holder=$!
  sleep 0.3
  out=$(ec sandbox run --discard --log --base $base -- cat /proc/self/mountinfo 2>&1)
  dir=$(printf '%s' "$out" | grep -o 'upperdir=/dev/shm/envcache-sandbox-[0-9a-f]*' | head -1)
  dir=${dir#upperdir=}
  check "--discard: its upper is on /dev/shm ($dir)" test -n "$dir"
  check "…and is gone after" test ! -e "${dir:-/nonexistent}"
  check "…a dead run's directory was removed" test ! -e /dev/shm/envcache-sandbox-dead$$
  check "…a live one's stays" test -d /dev/shm/envcache-sandbox-live$$
  kill $holder 2>/dev/null; wait $holder 2>/dev/null; rmdir /dev/shm/envcache-sandbox-live$$
  out=$(ec sandbox run --discard --log --memory 512M --base $base -- cat /proc/self/mountinfo 2>&1)
  check "--discard --memory: in the store (tmpfs pages would count against the limit)" \
    bash -c "printf '%s' \"\$1\" | grep -q 'upperdir=$ENVCACHE_HOME/sandbox/'" _ "$out"
fi
out=$(ec sandbox run --log --base $base -- cat /proc/self/mountinfo 2>&1)
check "a kept run's upper is in the store" bash -c "printf '%s' \"\$1\" | grep -q 'upperdir=$ENVCACHE_HOME/sandbox/'" _ "$out"
check "environment is cleared" bash -c "SECRET=1 ec sandbox run --discard --log --base $base -- env 2>&1 | grep -qv SECRET"

# --- network: nothing but the mirror on loopback ---
port=$((20000 + RANDOM % 20000))
mkdir -p "$T/www"; echo mirror-ok > "$T/www/ping"
(cd "$T/www" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) & srv=$!
for _ in $(seq 50); do bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break; sleep 0.1; done
get="exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && cat <&3"
check "the mirror port is reachable inside" bash -c "ec sandbox run --discard --log --base $base --mirror $port -- bash -c \"$get\" 2>&1 | grep -q mirror-ok"
check "without --mirror it is not" bash -c "! ec sandbox run --discard --base $base -- bash -c \"$get\" >/dev/null 2>&1"
kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null

# The configured registries: the apt mirror's host on 80, npm's registry host on 443.
apt_host=$(grep -h '^URIs:\|^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  grep -o 'https\?://[^/ ]*' | head -1 | sed 's|.*://||')
npm_host=$(npm config get registry 2>/dev/null | sed 's|.*://||; s|/.*||')
reached=0
for hp in "$apt_host:80" "$npm_host:443"; do
  h=${hp%:*} p=${hp##*:}
  [ -n "$h" ] || continue
  ip=$(getent ahostsv4 "$h" | awk 'NR==1 { print $1 }')
  [ -n "$ip" ] || continue
  if timeout 10 bash -c "exec 3<>/dev/tcp/$ip/$p" 2>/dev/null; then
    reached=$((reached + 1))
    check "$h:$p reachable outside, not inside" bash -c "! ec sandbox run --discard --base $base -- bash -c 'exec 3<>/dev/tcp/$ip/$p' >/dev/null 2>&1"
  fi
done
[ "$reached" -gt 0 ] || echo "skip - this host reaches neither configured registry; the outside/inside comparison did not run"

# --- environments start at their base ---
ec base default "$base"
check "base default prints it" test "$(ec base default)" = "$base"
echo '{"name": "on-base"}' | ec env create -f - >/dev/null
ec mount on-base --session env-sb "$T/e" >/dev/null
check "an environment's stack starts with the default base" test -f "$T/e/etc/app/conf"
ec umount "$T/e" >/dev/null
ec base default --clear
echo '{"name": "bare"}' | ec env create -f - >/dev/null
echo '{"name": "explicit"}' | ec env create -f - --base "$base" >/dev/null
ec mount explicit --session env-sb2 "$T/e2" >/dev/null
check "env create --base" test -f "$T/e2/etc/app/conf"
ec umount "$T/e2" >/dev/null
for c in "sandbox run" "base import" "base bootstrap" "base default"; do
  check "$c --help" bash -c "ec $c --help | grep -q Usage"
done
check "no mounts at the end" no_mounts
[ "$reached" -gt 0 ] || [ "$failed" -gt 0 ] || { finish; exit 77; }
finish
