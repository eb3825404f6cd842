#!/bin/bash
# Live: the apt fetcher verifies the host's configured Debian archive (SUITE main amd64,
# EC_LIVE_SUITE, default bookworm) with the real archive keyring: InRelease signature,
# Date/Valid-Until, Packages.xz by-hash against the Release, decompressed and checked
# again; a second run within the TTL makes no request. Retries transient failures.
. "$(dirname "$0")/../integration/lib.sh"

suite=${EC_LIVE_SUITE:-bookworm}
bin=${APT_INDEX_BIN:-$(dirname "$ENVCACHE_BIN")/../tests/apt-index}
[ -x "$bin" ] || { echo "skip - $bin is not built"; exit 77; }
command -v gpgv >/dev/null || { echo "skip - gpgv is not installed"; exit 77; }
store=$T/store
out=""
for attempt in 1 2 3; do
  if out=$("$bin" "$store" "$suite" main 2>"$T/err"); then break; fi
  rc=$?
  [ "$rc" = 77 ] && { echo "skip - $(cat "$T/err")"; exit 77; }
  echo "# attempt $attempt failed: $(cat "$T/err")"
  out=""
  sleep $((attempt * 5))
done
printf '%s\n' "$out" | sed 's/^/# /'
check "the $suite main index is verified and stored" bash -c "printf '%s\n' '$out' | grep -qP '^$suite\tmain\t[0-9]{6,}\t'"
check "a second get within the TTL makes no request" bash -c "printf '%s\n' '$out' | grep -qPx 'second\trequests=0'"
if [ -n "$out" ]; then
  wrong=$T/empty.gpg
  : >"$wrong"
  check "an empty keyring is refused with a signature error" bash -c \
    "! '$bin' '$T/store2' '$suite' main '$wrong' 2>'$T/err2' && grep -q 'signature check failed' '$T/err2'"
fi
finish
