#!/bin/bash
# Live: an sdist that compiles against the apt layer beneath. psycopg2 is only an sdist;
# it builds once in the sandbox with the base's python3, gcc and libpq-dev's pg_config and
# headers (build dependencies from the mirror alone), and imports in the session.
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

cat > "$T/env.json" <<JSON
{"name":"pg","config":{"packages":{"apt":["python3","python3-dev","gcc","libpq-dev"],
 "pip":["psycopg2"]}}}
JSON
ec env create -f "$T/env.json" --base "$base" >/dev/null
if retry 3 ec --json warm pg > "$T/warm.json" 2>"$T/warm.err"; then ok "warm: psycopg2 built from its sdist"
else bad "warm: psycopg2 built from its sdist"; tail -30 "$T/warm.err"; fi
check "the lock says psycopg2 came from an sdist" bash -c "ec env lock pg pip | python3 -c '
import json,sys; assert [p[\"sdist\"] for p in json.load(sys.stdin)[\"packages\"] if p[\"name\"] == \"psycopg2\"] == [True]'"
R=$T/root
ec mount pg --session pip-sdist "$R" >/dev/null
check "chroot: import psycopg2 (linked against the apt layer's libpq)" chroot "$R" python3 -c 'import psycopg2, psycopg2.extensions; print(psycopg2.__version__, psycopg2.extensions.libpq_version())'
check "…and the first import wrote nothing" bash -c "test -z \"\$(find '$R'/usr/local/lib/python3.*/dist-packages -newermt @1 | head -n 3)\""
ec umount "$R" >/dev/null

# A build failure names the package and shows the end of its log: psycopg2 without
# pg_config beneath fails already when pip reads its metadata (setup.py egg_info).
printf '{"name":"nopg","config":{"packages":{"apt":["python3","python3-dev","gcc"],"pip":["psycopg2"]}}}' > "$T/nopg.json"
ec env create -f "$T/nopg.json" --base "$base" >/dev/null
if ec warm nopg > "$T/nopg.out" 2>&1; then bad "without libpq-dev the warm-up fails"
else
  ok "without libpq-dev the warm-up fails"
  check "…naming psycopg2" grep -q "psycopg2" "$T/nopg.out"
  check "…with the end of pip's log" grep -q "over the layers beneath failed:" "$T/nopg.out"
fi
finish
