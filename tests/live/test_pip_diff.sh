#!/bin/bash
# Live, differential: for each case, the (name, version) set of envcache's pip lock equals
# what pip itself chooses (install --dry-run --ignore-installed --report), run on the same
# interpreter (the base's python3, in a chroot of the mounted stack), the same pip version,
# against the same index, right after. Differences print in full.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
. "$(dirname "$0")/lib_pip.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
up=$(pip_upstream)
[ -n "$up" ] || { echo "skip: no pip index configured and no pip to ask"; exit 77; }
base=$(base_digest) || { bad "a base"; finish; exit 1; }

# One case per line: a name, then its requirements (JSON strings, comma-separated).
cases='requests "requests==2.31.0"
flask "flask"
numpy "numpy"
pandas "pandas==2.2.0"
sklearn "scikit-learn"
black "black"
httpx "httpx[http2]"
jupyterlab "jupyterlab"
sdist "docopt"
backtrack "flask", "werkzeug<2.3"'

printf '{"name":"py","config":{"packages":{"apt":["python3","ca-certificates"]}}}' > "$T/py.json"
ec env create -f "$T/py.json" --base "$base" >/dev/null
retry 3 ec warm py >/dev/null 2>"$T/py.err" || { bad "warm python3"; cat "$T/py.err"; finish; exit 1; }
R=$T/root
ec mount py --session pip-diff "$R" >/dev/null
# pip in the chroot trusts what the host trusts (a proxy's CA, say), and reads none of the
# host's pip settings (PIP_FIND_LINKS would add candidates the index does not have).
ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
cp "$ca" "$R/tmp/host-ca.crt" 2>/dev/null || cp /etc/ssl/certs/ca-certificates.crt "$R/tmp/host-ca.crt"
export ENVCACHE_PIP_INDEX=$up
unset $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p')
while read -r name specs; do
  printf '{"name":"d-%s","config":{"packages":{"apt":["python3","ca-certificates"],"pip":[%s]}}}' \
    "$name" "$specs" > "$T/$name.json"
  ec env create -f "$T/$name.json" --base "$base" >/dev/null
  if ! retry 3 ec warm "d-$name" >/dev/null 2>"$T/$name.err"; then
    bad "$name: envcache warm"; tail -20 "$T/$name.err"; continue
  fi
  lock=$(ec env lock "d-$name" pip)
  w=$(pip_wheel_into "$R/tmp" "$lock") || { bad "$name: the resolver's pip wheel"; continue; }
  args=$(printf '[%s]' "$specs" | python3 -c 'import json,shlex,sys; print(" ".join(shlex.quote(s) for s in json.load(sys.stdin)))')
  if ! eval retry 3 in_root "$R" env PIP_CONFIG_FILE=/dev/null PIP_CERT=/tmp/host-ca.crt SSL_CERT_FILE=/tmp/host-ca.crt python3 "/tmp/$w/pip" install --dry-run \
      --ignore-installed --quiet --no-cache-dir --disable-pip-version-check --report /tmp/report.json \
      --index-url "$up" "$args" 2>"$T/$name.pip.err"; then
    bad "$name: pip itself"; tail -20 "$T/$name.pip.err"; continue
  fi
  printf '%s' "$lock" | lock_set > "$T/$name.ours"
  report_set "$R/tmp/report.json" > "$T/$name.pip"
  if diff -u "$T/$name.pip" "$T/$name.ours" > "$T/$name.diff"; then
    ok "$name: the same $(wc -l < "$T/$name.ours") packages as pip $(printf '%s' "$w" | cut -d- -f2)"
  else bad "$name: differs from pip (--- pip, +++ envcache)"; cat "$T/$name.diff"; fi
done <<< "$cases"
check "the sdist-only case was built from its sdist" bash -c "ec env lock d-sdist pip | python3 -c '
import json,sys; assert any(p[\"sdist\"] for p in json.load(sys.stdin)[\"packages\"])'"
ec umount "$R" >/dev/null
finish
