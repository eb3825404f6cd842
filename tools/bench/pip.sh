#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: pip packages, envcache against pip and uv, side by side in one run.
#
#   tools/bench/pip.sh [--runs N] [--json] [--keep]
#
# For a data-science set (pandas scikit-learn matplotlib requests flask), on Debian 12's
# python3 (the host's /usr/bin/python3 for pip and uv; for envcache, the cached bookworm
# minbase of the live tests with apt: [python3] merged into one base, imported untimed):
#   cold   envcache warm ENV with an empty store (that base aside)
#          pip install into a new venv with an empty cache (the newest pip)
#          uv pip install into a new venv with an empty cache (the newest uv), and the
#          same with --compile-bytecode (envcache and pip compile bytecode; uv does not
#          unless asked)
#   warm   envcache-mount ENV TARGET (the container start-up hook) of the built env
#          uv pip install into a new venv from a warm cache (--offline)
#          pip install into a new venv from a warm cache
#   import the first `import pandas` in a new session (chroot TARGET python3)
#          vs in the venv a plain pip install made
# pip and uv are installed from the index into the bench's own folder. Every tool uses
# the same index: $ENVCACHE_PIP_INDEX, else $PIP_INDEX_URL, else the host pip's default;
# no pip or uv configuration is read. Prints medians (hyperfine) and the ratios; --json
# prints one object. The binary is $ENVCACHE_BIN, else ./build/tools/envcache; needs root.
set -euo pipefail

runs=2 json=0 keep=0
SET="pandas scikit-learn matplotlib requests flask"
usage() { sed -n '3,25p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/pip: $*" >&2; exit 1; }
say() { if [ "$json" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --json) json=1 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
bin=${ENVCACHE_BIN:-./build/tools/envcache}
[ -x "$bin" ] || die "no envcache binary at $bin (build it, or set ENVCACHE_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
hook=$(dirname "$bin")/envcache-mount
[ -x "$hook" ] || die "no envcache-mount next to $bin"
PY=/usr/bin/python3
for t in hyperfine chroot "$PY"; do command -v "$t" >/dev/null || die "$t is needed"; done
cached=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests/base-bookworm-minbase.tar.zst
[ -s "$cached" ] || die "no cached base at $cached: run ctest -R live/test_base_bootstrap first"

index=${ENVCACHE_PIP_INDEX:-${PIP_INDEX_URL:-$($PY -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)' 2>/dev/null || true)}}
[ -n "$index" ] || die "no pip index: set ENVCACHE_PIP_INDEX (or install python3-pip)"
index=${index%/}/
export ENVCACHE_PIP_INDEX=$index
# shellcheck disable=SC2046
unset $(env | sed -n 's/^\(PIP_[A-Z_]*\|UV_[A-Z_]*\)=.*/\1/p')
export PIP_CONFIG_FILE=/dev/null UV_NO_CONFIG=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONDONTWRITEBYTECODE # Python as it runs by default

W=$(mktemp -d "${TMPDIR:-/tmp}/bench-pip.XXXXXX")
H=$W/home
ec() { "$bin" --home "$H" "$@"; }
cleanup() {
  "$bin" --home "$W/eh" umount "$W/target" >/dev/null 2>&1 || true
  ec umount "$W/pyroot" >/dev/null 2>&1 || true
  [ "$keep" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

say "tools: the newest pip and uv from $index"
$PY -m venv "$W/tools" >/dev/null
"$W/tools/bin/pip" install -q --index-url "$index" -U pip uv
pip=$W/tools/bin/pip uv=$W/tools/bin/uv
say "      $("$pip" --version | cut -d' ' -f1-2), $("$uv" --version)"

say "base: bookworm minbase with apt: [python3], merged (untimed)"
base0=$(ec base import "$cached")
printf '{"name":"py","config":{"packages":{"apt":["python3","ca-certificates"]}}}' > "$W/py.json"
ec env create -f "$W/py.json" --base "$base0" >/dev/null
ec --quiet warm py >/dev/null
ec mount py "$W/pyroot" >/dev/null
pybase=$(ec base import "$W/pyroot")
ec layer export "$pybase" -o "$W/pybase.tar.zst"
ec umount "$W/pyroot" >/dev/null
json_list=$(printf '"%s",' $SET)
printf '{"name":"bench","config":{"packages":{"pip":[%s]}}}' "${json_list%,}" > "$W/env.json"

# Fresh places by new names (a link points at the newest): deleting between runs would
# charge a run for the cleanup of the one before. Old ones go at the end.
cat > "$W/fresh.sh" <<SH
#!/bin/sh
# fresh.sh store | venv NAME | uvenv NAME | cache NAME
t=\$(date +%s%N)
case \$1 in
store) n=$W/eh-\$t
  "$bin" --home "\$n" base import "$W/pybase.tar.zst" >/dev/null
  "$bin" --home "\$n" env create -f "$W/env.json" --base "$pybase" >/dev/null
  ln -sfn "\$n" "$W/eh" ;;
venv) $PY -m venv --without-pip "$W/\$2-\$t" && ln -sfn "$W/\$2-\$t" "$W/\$2" ;;
uvenv) "$uv" venv -q --python $PY "$W/\$2-\$t" && ln -sfn "$W/\$2-\$t" "$W/\$2" ;;
cache) mkdir "$W/\$2-\$t" && ln -sfn "$W/\$2-\$t" "$W/\$2" ;;
esac
sync
SH
chmod +x "$W/fresh.sh"
F=$W/fresh.sh
pip_in() { echo "'$pip' --python '$W/$1/bin/python' install -q --cache-dir '$W/$2' --index-url '$index' $SET"; }
uv_in() { echo "'$uv' pip install -q --python '$W/$1/bin/python' --cache-dir '$W/$2' --index-url '$index' ${3:-} $SET"; }

say "== $SET"
# The machine may be shared: the load around the cold runs goes into the report.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
hyperfine --runs "$runs" --export-json "$W/cold.json" --style basic \
  --prepare "'$F' store" \
  -n "envcache warm (empty store)" "'$bin' --home '$W/eh' --quiet warm bench" \
  --prepare "'$F' venv pv && '$F' cache pc" \
  -n "pip install (empty cache)" "$(pip_in pv pc)" \
  --prepare "'$F' uvenv uv && '$F' cache uc" \
  -n "uv pip install (empty cache)" "$(uv_in uv uc)" \
  --prepare "'$F' uvenv uvb && '$F' cache ucb" \
  -n "uv pip install --compile-bytecode (empty cache)" "$(uv_in uvb ucb --compile-bytecode)"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Warm state: the last cold run's store holds the built env; a warm cache for pip and uv.
"$bin" --home "$W/eh" --quiet warm bench >/dev/null
"$F" venv pv0 && "$F" cache pcw && eval "$(pip_in pv0 pcw)"
"$F" uvenv uv0 && "$F" cache ucw && eval "$(uv_in uv0 ucw)"
pkgs=$("$W/pv0/bin/python" -c 'import importlib.metadata as m; print(len(list(m.distributions())))')

# The hook takes a few ms, less than hyperfine can take off for a shell it starts (the
# median came out 0): timed without a shell.
hyperfine -N --runs "$((runs * 3))" --warmup 1 --export-json "$W/hook.json" --style basic \
  --output=null --prepare "sh -c \"'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1 || true\"" \
  -n "envcache-mount hook (built)" "'$hook' --home '$W/eh' bench '$W/target'"
hyperfine --runs "$((runs * 3))" --warmup 1 --export-json "$W/warm.json" --style basic \
  --prepare "'$F' uvenv uw" \
  -n "uv pip install --offline (warm cache)" "$(uv_in uw ucw --offline)" \
  --prepare "'$F' venv pw" \
  -n "pip install (warm cache)" "$(pip_in pw pcw)"

# The first import of pandas: in a new session (a fresh mount: an empty upper) and in the
# venv that a plain pip install made (its bytecode compiled by pip).
hyperfine --runs "$((runs * 3))" --export-json "$W/import.json" --style basic \
  --prepare "'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1; '$hook' --home '$W/eh' bench '$W/target' >/dev/null" \
  -n "import pandas, first in a session" "chroot '$W/target' python3 -W ignore -c 'import pandas'" \
  -n "import pandas after pip install" "'$W/pv0/bin/python' -W ignore -c 'import pandas'"

python3 - "$json" "$pkgs" "$load_before" "$load_after" "$W/cold.json" "$W/hook.json" "$W/warm.json" "$W/import.json" <<'PY'
import json, sys
as_json, pkgs = sys.argv[1] == "1", int(sys.argv[2])
row = {"packages": pkgs, "load_cold": {"before": sys.argv[3], "after": sys.argv[4]}}
for kind, f in zip(("cold", "warm", "warm", "import"), sys.argv[5:]):
    row.setdefault(kind, {}).update(
        {x["command"]: x["median"] for x in json.load(open(f))["results"]})
pick = lambda kind, p: next(v for k, v in row[kind].items() if k.startswith(p))
row["ratio_cold_uv_over_envcache"] = round(pick("cold", "uv pip install (") / pick("cold", "envcache"), 2)
row["ratio_cold_uv_bytecode_over_envcache"] = round(pick("cold", "uv pip install --compile") /
                                                   pick("cold", "envcache"), 2)
row["ratio_warm_uv_over_envcache"] = round(pick("warm", "uv") / pick("warm", "envcache"), 1)
row["ratio_import_session_over_pip"] = round(pick("import", "import pandas, first") /
                                             pick("import", "import pandas after"), 2)
if as_json:
    print(json.dumps(row, indent=2))
else:
    print(f"\n{pkgs} packages (in pip's venv, pip itself included); load average "
          f"{row['load_cold']['before']} before the cold runs, {row['load_cold']['after']} after")
    for kind in ("cold", "warm", "import"):
        for cmd, m in row[kind].items():
            print(f"  {kind:6}  {cmd:48} {m*1000:10.1f} ms")
    print(f"  cold: uv/envcache = {row['ratio_cold_uv_over_envcache']}x "
          f"(with bytecode {row['ratio_cold_uv_bytecode_over_envcache']}x)   "
          f"warm: uv/envcache-mount = {row['ratio_warm_uv_over_envcache']}x   "
          f"first import pandas: session/pip = {row['ratio_import_session_over_pip']}x")
PY
