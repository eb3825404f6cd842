#!/bin/bash
# pip against a small index on loopback (tests/fixtures/pip-index/index.py), for what the
# live index cannot stage, on a base made from the host's Debian python3 (no network):
# extras, yanked and Requires-Python-excluded releases, a console script, an sdist built
# with a build dependency served through the mirror, a tampered wheel and a tampered
# metadata file refused with nothing stored, metadata files the page does not list
# (advertised by the mirror; a lying one refused once its wheel is checked); then
# /mirror/pip/ with Debian's real pip into fresh virtual environments, the second asking
# upstream nothing.
. "$(dirname "$0")/lib.sh"
# Python in the session writes bytecode it finds missing or stale, as it would for anyone:
# the checks that the first import writes nothing rely on that.
unset PYTHONDONTWRITEBYTECODE
need_sandbox
PY=/usr/bin/python3
pipwhl=$(ls /usr/share/python-wheels/pip-*-py3-none-any.whl 2>/dev/null | tail -n 1)
[ -x "$PY" ] && [ -n "$pipwhl" ] || { bad "Debian's python3 and python3-pip-whl (tools/install-deps.sh)"; finish; exit 1; }

IX=$T/index LOG=$T/index.log
$PY "$EC_SOURCE_DIR/tests/fixtures/pip-index/index.py" make "$IX" "$pipwhl" || { bad "make the index"; finish; exit 1; }
: > "$LOG"
$PY "$EC_SOURCE_DIR/tests/fixtures/pip-index/index.py" serve "$IX" "$LOG" > "$T/port" &
reg=$!
trap 'kill $reg $srv 2>/dev/null; cleanup' EXIT
srv=""
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
export ENVCACHE_PIP_INDEX=http://127.0.0.1:$(cat "$T/port")/simple/

# The base: the host's programs and its Debian python3 with the standard library.
B=$T/base
PATH=/usr/bin:/bin bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$B" python3 >/dev/null
lib=$($PY -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
mkdir -p "$B$lib"
tar -C "$lib" --exclude=./test --exclude=./idlelib --exclude=./tkinter --exclude=./lib2to3 \
  --exclude=./ensurepip --exclude=__pycache__ -cf - . | tar -C "$B$lib" -xf -
for so in "$lib"/lib-dynload/*.so; do
  ldd "$so" 2>/dev/null | grep -o '/[^ ]*' | while read -r l; do
    [ -e "$B$l" ] || { mkdir -p "$B$(dirname "$l")"; cp -L "$l" "$B$l"; }
  done
done
base=$(ec base import "$B")

env_make() { # env_make NAME SPEC-JSON-LIST
  printf '{"name":"%s","config":{"packages":{"pip":%s}}}' "$1" "$2" > "$T/$1.json"
  ec env create -f "$T/$1.json" --base "$base" >/dev/null
}
lock_has() { # lock_has ENV name==version…: the lock's set is exactly these
  ec env lock "$1" pip | $PY -c 'import json,sys
got = sorted(p["name"] + "==" + p["version"] for p in json.load(sys.stdin)["packages"])
want = sorted(sys.argv[1:])
assert got == want, (got, want)' "${@:2}"
}

env_make ok '["good[more]"]'
check "warm: good[more] with its dependency and its extra's" ec --quiet warm ok
check "the lock: good 1.0, extra 1.0, dep 1.0 (2.0 is yanked, 3.0 wants Python 4)" \
  lock_has ok good==1.0 dep==1.0 extra==1.0
R=$T/root
ec mount ok --session pip-fixture "$R" >/dev/null
site=$(chroot "$R" python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pyc=$(chroot "$R" python3 -c 'import importlib.util as u, sys; print(u.cache_from_source(sys.argv[1]))' "$site/good.py")
check "bytecode was compiled at build time (in the layer, before any import)" test -s "$R$pyc"
check "chroot: the packages import" chroot "$R" python3 -c 'import good, dep, extra; assert dep.VERSION == "1.0"'
check "chroot: the console script runs" bash -c "chroot '$R' good-cli | grep -qx 'good 1.0'"
check "…its shebang is the base's python3" bash -c "head -n 1 \"\$(ls '$R'/usr/local/bin/good-cli)\" | grep -Eq '^#!/(usr/)?bin/python3'"
check "RECORD lists the script" bash -c "grep -q 'bin/good-cli,sha256=' '$R'$(chroot "$R" python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/good-1.0.dist-info/RECORD"
check "RECORD lists the bytecode" grep -q "^__pycache__/good\.cpython-[0-9]*\.pyc,sha256=" "$R$site/good-1.0.dist-info/RECORD"
check "the first import in the session found the bytecode valid: nothing written" bash -c "
  chroot '$R' python3 -c 'import good, dep, extra' && test -z \"\$(find '$R$site' -newermt @1 | head -n 3)\""
ec umount "$R" >/dev/null

env_make pinned '["dep==2.0"]'
ec --quiet warm pinned 2>"$T/pinned.err" || tail -5 "$T/pinned.err"
check "a yanked release pinned with == is taken (PEP 592)" lock_has pinned dep==2.0

blobs_of() { find "$ENVCACHE_HOME" -path '*blobs/sha256/*' -type f -name "$1" | head -n 1; }
bad_sha=$(sha256sum "$IX/files/tampered/tampered-1.0-py3-none-any.whl" | cut -d' ' -f1)
env_make tampered '["tampered"]'
expect_fail "a tampered wheel fails the warm-up, naming the file" "tampered-1.0-py3-none-any.whl" ec warm tampered
check "…and its bytes are not stored" test -z "$(blobs_of "$bad_sha")"
bad_meta=$(sha256sum "$IX/files/badmeta/badmeta-1.0-py3-none-any.whl.metadata" | cut -d' ' -f1)
env_make badmeta '["badmeta"]'
expect_fail "a tampered metadata file fails the warm-up, naming it" "badmeta-1.0-py3-none-any.whl.metadata" ec warm badmeta
check "…and its bytes are not stored" test -z "$(blobs_of "$bad_meta")"

# Pages that list no metadata file: the mirror advertises one for every wheel, answered
# from upstream's own file (unverified, held in memory until the wheel is checked) or,
# when upstream has none, from the verified wheel.
: > "$LOG"
env_make unlisted '["unlisted", "nometa"]'
check "warm: wheels whose page lists no metadata file" ec --quiet warm unlisted
check "…the lock: unlisted 1.0, its dependency dep 1.0, nometa 1.0" lock_has unlisted unlisted==1.0 dep==1.0 nometa==1.0
check "…pip read the metadata file the mirror advertised (upstream was asked for it)" \
  grep -qx '/files/unlisted/unlisted-1.0-py3-none-any.whl.metadata' "$LOG"
liar_meta=$(sha256sum "$IX/files/liar/liar-1.0-py3-none-any.whl.metadata" | cut -d' ' -f1)
env_make liar '["liar"]'
expect_fail "an unlisted metadata file that is not the wheel's METADATA fails the warm-up, naming it" \
  "liar-1.0-py3-none-any.whl.metadata" ec warm liar
check "…and its bytes are not stored" test -z "$(blobs_of "$liar_meta")"
check "…and no lock was kept" bash -c "! ec env lock liar pip >/dev/null 2>&1"

env_make built '["built"]'
if ec --quiet warm built 2>"$T/built.err"; then ok "an sdist with a build dependency builds in the sandbox"
else bad "an sdist with a build dependency builds in the sandbox"; tail -20 "$T/built.err"; fi
check "…the lock says it came from an sdist" bash -c "ec env lock built pip | $PY -c 'import json,sys
assert [p[\"sdist\"] for p in json.load(sys.stdin)[\"packages\"] if p[\"name\"] == \"built\"] == [True]'"
ec mount built --session pip-built "$R" >/dev/null
check "…and imports in the session" chroot "$R" python3 -c 'import built; assert built.VERSION == "1.0 built"'
check "…from bytecode compiled at build time (nothing written)" test -z "$(find "$R$site" -newermt @1 | head -n 3)"
token1=$(chroot "$R" python3 -c 'import built; print(built.BUILD)')
ec umount "$R" >/dev/null
# The built wheel is kept for the sdist and the base: another environment with the same
# sdist on the same base (another lock, another layer) installs it without building.
env_make built2 '["built", "dep"]'
if ec warm built2 >"$T/built2.out" 2>&1; then ok "a second environment with the same sdist on the same base warms"
else bad "a second environment with the same sdist on the same base warms"; tail -20 "$T/built2.out"; fi
check "…with a layer of its own, built (not reused)" grep -Eq "^pip: 2 packages, layer sha256:[0-9a-f]+ .*, built$" "$T/built2.out"
check "…the warm-up says it took the wheel built before" grep -q "built-1.0.tar.gz: the wheel built from it on these layers before" "$T/built2.out"
ec mount built2 --session pip-built2 "$R" >/dev/null
token2=$(chroot "$R" python3 -c 'import built; print(built.BUILD)')
check "…and the session has that very wheel: its build token is the first build's ($token1)" test -n "$token1" -a "$token1" = "$token2"
ec umount "$R" >/dev/null

# The mirror with Debian's pip, in fresh virtual environments with no cache.
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off 2>"$T/serve.err" &
srv=$!
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
M=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | head -n1 | cut -d' ' -f2)/mirror/pip
pip_in() { # pip_in VENV SPEC…: Debian's pip, run in a fresh venv
  $PY -m venv "$T/$1" >/dev/null &&
    PIP_CONFIG_FILE=/dev/null "$T/$1/bin/python" -m pip install -q --no-cache-dir \
      --disable-pip-version-check --index-url "$M/simple/" "${@:2}" 2>"$T/$1.err" ||
  { tail -5 "$T/$1.err"; return 1; }
}
: > "$LOG"
check "pip installs good[more] through the mirror" pip_in v1 'good[more]'
check "…and it imports" "$T/v1/bin/python" -c 'import good, dep, extra; assert dep.VERSION == "1.0"'
: > "$LOG"
check "a second install into a fresh venv asks upstream nothing" pip_in v2 'good[more]'
check "…(the index's log is empty)" test ! -s "$LOG" || sed 's/^/# upstream: /' "$LOG"
check "the HTML page carries the metadata hash and the yanked flag" bash -c "
  curl -sf -H 'Accept: text/html' '$M/simple/dep/' > '$T/dep.html' &&
  grep -q 'data-dist-info-metadata=\"sha256=' '$T/dep.html' && grep -q 'data-yanked=\"broken\"' '$T/dep.html' &&
  grep -q 'data-requires-python=\"&gt;=4\"' '$T/dep.html'"
check "the JSON page points at the mirror" bash -c "curl -sf -H 'Accept: application/vnd.pypi.simple.v1+json' '$M/simple/dep/' | grep -q '$M/files/dep/'"
check "the JSON page advertises a metadata file the index does not list" bash -c "curl -sf -H 'Accept: application/vnd.pypi.simple.v1+json' '$M/simple/nometa/' | grep -q '\"core-metadata\":true'"
check "simple-html/ is the HTML form whatever the Accept, advertising it there too" bash -c "curl -sf -H 'Accept: application/vnd.pypi.simple.v1+json' '$M/simple-html/nometa/' | grep -q 'data-core-metadata=\"true\"'"
check "…and the mirror answers it from the wheel (upstream has none)" bash -c "curl -sf '$M/files/nometa/nometa-1.0-py3-none-any.whl.metadata' | grep -qx 'Name: nometa'"
check "a tampered wheel is refused by the mirror (502)" test "$(curl -s -o /dev/null -w '%{http_code}' "$M/files/tampered/tampered-1.0-py3-none-any.whl")" = 502
check "the store verifies" ec --quiet verify
finish
