#!/bin/bash
# Live: pip packages resolved by pip on the base's Python (apt: [python3] beneath), wheels
# installed natively into the layer, mounted and used in a chroot; pip in the session sees
# them; the lock names every file; a second warm makes no request.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
. "$(dirname "$0")/lib_pip.sh"
# Python in the session writes bytecode it finds missing or stale, as it would for anyone:
# the checks that the first import writes nothing rely on that.
unset PYTHONDONTWRITEBYTECODE
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
[ -n "$(pip_upstream)" ] || { echo "skip: no pip index configured and no pip to ask"; exit 77; }
base=$(base_digest) || { bad "a base"; finish; exit 1; }

printf '{"name":"nopy","config":{"packages":{"pip":["six"]}}}' > "$T/nopy.json"
ec env create -f "$T/nopy.json" --base "$base" >/dev/null
expect_fail "without a Python beneath, the warm-up says so" "pip needs a Python 3 interpreter" ec warm nopy

cat > "$T/env.json" <<JSON
{"name":"ds","config":{"packages":{"apt":["python3","ca-certificates"],
 "pip":["pandas==2.2.0","flask","scikit-learn","black","requests==2.31.0"]}}}
JSON
ec env create -f "$T/env.json" --base "$base" >/dev/null
if retry 3 ec --json warm ds > "$T/warm1.json" 2>"$T/warm1.err"; then ok "first warm"; else bad "first warm"; tail -20 "$T/warm1.err"; fi
res=$(tail -n 1 "$T/warm1.json")
echo "# pip: $(printf '%s' "$res" | json_get managers.pip.packages) packages"

lock=$(ec env lock ds pip)
check "the lock: name, version, file, sha256, sdist for every package" bash -c "printf '%s' '$lock' | python3 -c '
import json,sys; l=json.load(sys.stdin); ps=l[\"packages\"]
assert all(p[\"name\"] and p[\"version\"] and p[\"file\"] and len(p[\"sha256\"])==64 and p[\"sdist\"] in (True,False) for p in ps)
v={p[\"name\"]:p[\"version\"] for p in ps}
assert v[\"pandas\"]==\"2.2.0\" and v[\"requests\"]==\"2.31.0\" and \"numpy\" in v and \"werkzeug\" in v, v
assert l[\"python\"][\"purelib\"].startswith(\"/usr/local/lib/python3.\")'"

R=$T/root
ec mount ds --session pip-live "$R" >/dev/null
check "chroot: import pandas, flask, sklearn" chroot "$R" python3 -c 'import pandas, flask, sklearn; assert pandas.__version__ == "2.2.0"'
check "…from bytecode compiled at build time: the first imports wrote nothing" bash -c "test -z \"\$(find '$R'/usr/local/lib/python3.*/dist-packages -newermt @1 | head -n 3)\""
# The first import of pandas in a session, with the layer's bytecode and without (a fresh
# PYTHONPYCACHEPREFIX hides it, so Python compiles from source as without the step).
t_with=$( { /usr/bin/time -f %e chroot "$R" python3 -W ignore -c 'import pandas' >/dev/null; } 2>&1 | tail -n 1)
t_without=$( { /usr/bin/time -f %e chroot "$R" env PYTHONPYCACHEPREFIX=/tmp/nopyc-$$ python3 -W ignore -c 'import pandas' >/dev/null; } 2>&1 | tail -n 1)
echo "# import pandas in a session: ${t_with} s with the layer's bytecode, ${t_without} s without"
check "chroot: black --version runs" bash -c "chroot '$R' black --version | grep -q '^black'"
check "the packages live in /usr/local/lib/python3.X/dist-packages" bash -c "ls -d '$R'/usr/local/lib/python3.*/dist-packages/pandas-2.2.0.dist-info"
check "black's launcher has the base's interpreter" bash -c "head -n 1 '$R/usr/local/bin/black' | grep -qx '#!/usr/bin/python3'"
check "INSTALLER says pip; REQUESTED only for what was asked" bash -c "
  d=\$(ls -d '$R'/usr/local/lib/python3.*/dist-packages)
  grep -qx pip \$d/flask-*.dist-info/INSTALLER && test -e \$d/flask-*.dist-info/REQUESTED && ! test -e \$d/numpy-*.dist-info/REQUESTED"
mkdir -p "$T/pipwhl"
if w=$(pip_wheel_into "$T/pipwhl" "$lock"); then
  cp "$T/pipwhl/$w" "$R/tmp/"
  check "pip list in the session lists them" bash -c "chroot '$R' python3 /tmp/$w/pip list 2>/dev/null | grep -Eq '^pandas +2\.2\.0' && chroot '$R' python3 /tmp/$w/pip list 2>/dev/null | grep -Eqi '^scikit-learn '"
  check "pip show finds black's files" bash -c "chroot '$R' python3 /tmp/$w/pip show -f black 2>/dev/null | grep -q 'bin/black'"
  check "pip check finds nothing broken" chroot "$R" python3 /tmp/$w/pip check
  check "pip uninstall removes a package and its script" bash -c "chroot '$R' python3 /tmp/$w/pip uninstall -y --break-system-packages black >/dev/null 2>&1 && ! test -e '$R/usr/local/bin/black'"
else bad "the resolver's pip wheel for the session checks"; fi
ec umount "$R" >/dev/null

res2=$(ec --json warm ds | tail -n 1)
check "second warm: zero upstream requests" test "$(printf '%s' "$res2" | json_get upstream_requests)" = 0
check "second warm reuses the layer" test "$(printf '%s' "$res2" | json_get managers.pip.reused)" = True
check "the store verifies" ec verify
finish
