#!/bin/bash
# The gem mirror with the real clients (the host's Ruby, no base needed): `envcache serve`
# answers /mirror/gem/ from the loopback test registry (tests/fixtures/gem-registry/);
# the real `gem install --clear-sources --source` and Debian's `bundle install` install
# through it; a second install into an empty GEM_HOME asks upstream nothing. The compact
# index answers Range with 206 and its ETag with 304; a tampered .gem is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../live/lib_gem.sh"
gem_registry_serve || { bad "the test registry (ruby make-registry.rb)"; finish; exit 1; }
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off 2>"$T/serve.err" &
srv=$!
trap 'kill $GEM_REG_PID $srv 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
M=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | head -n1 | cut -d' ' -f2)/mirror/gem/
export HOME=$T/home-user; mkdir -p "$HOME"

check "gem install through the mirror (webstack)" env GEM_HOME="$T/g1" gem install --no-document --clear-sources --source "$M" webstack
check "…its gems load" env GEM_HOME="$T/g1" ruby -e 'require "webstack"; require "active_support"; require "rack"; require "tilde"'
check "…upstream was asked" test -s "$GEM_REG_LOG"
: > "$GEM_REG_LOG"
check "a second gem install into an empty GEM_HOME" env GEM_HOME="$T/g2" gem install --no-document --clear-sources --source "$M" webstack
check "…made zero upstream requests" test ! -s "$GEM_REG_LOG"
mkdir -p "$T/app"
printf 'source "%s"\ngem "webstack"\n' "$M" > "$T/app/Gemfile"
check "bundle install through the mirror" bash -c "cd '$T/app' && BUNDLE_PATH='$T/b1' bundle install --quiet"
check "…and bundle exec loads them" bash -c "cd '$T/app' && BUNDLE_PATH='$T/b1' bundle exec ruby -e 'require \"webstack\"; require \"tilde\"'"
: > "$GEM_REG_LOG"
check "a second bundle install into an empty BUNDLE_PATH" bash -c "cd '$T/app' && rm -f Gemfile.lock && BUNDLE_PATH='$T/b2' bundle install --quiet"
check "…made zero upstream requests" test ! -s "$GEM_REG_LOG" || sed 's/^/# upstream: /' "$GEM_REG_LOG"
full=$(curl -s "${M}versions" | wc -c)
check "/versions answers Range: bytes=N- with 206 and the rest" test "$(curl -s -H 'Range: bytes=10-' -o "$T/part" -w '%{http_code}' "${M}versions"; wc -c < "$T/part")" = "206$((full - 10))"
etag=$(curl -sI "${M}versions" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
check "…and its ETag with 304" test "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "${M}versions")" = 304
check "a tampered .gem is refused (502)" test "$(curl -s -o /dev/null -w '%{http_code}' "${M}gems/tampered-1.0.0.gem")" = 502
check "an info file that does not match /versions is refused (502)" test "$(curl -s -o /dev/null -w '%{http_code}' "${M}info/badinfo")" = 502
check "an unknown gem is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "${M}gems/nope-1.0.gem")" = 404
check "the store verifies" ec --quiet verify
finish
