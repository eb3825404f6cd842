#!/bin/bash
# The gem mirror with the real clients (the host's Ruby, no base needed): `envcache serve`
# answers /mirror/gem/ from the loopback test registry (tests/fixtures/gem-registry/);
# the real `gem install --clear-sources --source` and Debian's `bundle install` install
# through it; a second install into an empty GEM_HOME asks upstream nothing. The compact
# index answers Range with 206 and its ETag with 304; a tampered .gem is refused. Git
# and path sources are refused at create (CLI and API) with messages naming them.
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
# Git and path sources are refused at create, naming the kind of source (CLI and API).
printf '{"name":"g1","config":{"packages":{"gem":["https://git.example.invalid/rack/rack.git"]}}}' > "$T/g1.json"
expect_fail "a git source is refused naming git sources" "git and URL sources are not supported" ec env create -f "$T/g1.json"
printf '{"name":"g2","config":{"packages":{"gem":["rack, path: ../vendor/rack"]}}}' > "$T/g2.json"
expect_fail "a path source is refused naming path sources" "path sources and local .gem files are not supported" ec env create -f "$T/g2.json"
key=$(ec keys create --workspace ws1)
create() { # create BODY: POSTs an environment, prints the HTTP status, the answer in $T/api.out
  curl -s -o "$T/api.out" -w '%{http_code}' -H "x-api-key: $key" -H 'anthropic-version: 2023-06-01' \
    -H 'anthropic-beta: managed-agents-2026-04-01' -H 'Content-Type: application/json' \
    -d "$1" "${M%/mirror/gem/}/v1/environments"; }
st=$(create '{"name":"g3","config":{"packages":{"gem":["rack, git: https://git.example.invalid/rack"]}}}')
check "the API answers 400 for a git source ($st), naming it" grep -q 'git and URL sources are not supported' "$T/api.out" || cat "$T/api.out"
check "…400" test "$st" = 400
st=$(create '{"name":"g4","config":{"packages":{"gem":["./vendor/rack"]}}}')
check "the API answers 400 for a path source ($st), naming it" grep -q 'path sources and local .gem files are not supported' "$T/api.out" || cat "$T/api.out"
check "…400" test "$st" = 400
check "…and no environment was made" bash -c "! ec env ls 2>/dev/null | grep -q 'g[1-4]'"
check "the store verifies" ec --quiet verify
finish
