#!/bin/bash
# Layers through the real CLI: import from a directory, a tar and a tar.zst give one
# digest; packing is deterministic across thread counts; export is verified; hostile
# archives are refused with the entry named and nothing left behind.
. "$(dirname "$0")/lib.sh"

mk_tree() { # mk_tree DIR: a small tree with the things that must survive a round trip
  mkdir -p "$1/usr/bin" "$1/etc/empty" "$1/opt/app"
  printf 'hello\n' > "$1/usr/bin/hello"; chmod 755 "$1/usr/bin/hello"
  printf 'secret\n' > "$1/etc/secret"; chmod 600 "$1/etc/secret"
  ln -s ../usr/bin/hello "$1/opt/app/link"
  ln "$1/usr/bin/hello" "$1/opt/app/hard"
  seq 1 20000 > "$1/opt/app/data.txt"
}
mk_tree "$T/a"
d1=$(ec layer import "$T/a")
check "import prints a digest" bash -c "[[ '$d1' =~ ^sha256:[0-9a-f]{64}$ ]]"
# Same tree, other order, other times and owners.
mkdir -p "$T/b/opt/app"; seq 1 20000 > "$T/b/opt/app/data.txt"; mk_tree "$T/b"
touch -d '2001-01-01' "$T/b/etc/secret"; chown -R 1234:1234 "$T/b/opt" 2>/dev/null || true
d2=$(ec layer import --threads 1 "$T/b")
check "same tree, other order/mtimes/owners/threads: same digest" test "$d1" = "$d2"
tar -C "$T/a" -cf "$T/a.tar" .
zstd -q -19 "$T/a.tar" -o "$T/a.tar.zst"
check "a tar imports to the same digest" test "$(ec layer import "$T/a.tar")" = "$d1"
check "a tar.zst imports to the same digest" test "$(ec layer import "$T/a.tar.zst")" = "$d1"
js=$(ec layer import --json "$T/a")
check "--json has diff_id and sizes" bash -c "printf '%s' '$js' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"diff_id\"].startswith(\"sha256:\") and d[\"size\"]>0 and d[\"uncompressed_size\"]>d[\"size\"] and d[\"files\"]>=9'"
ec layer export "$d1" -o "$T/out.tar.zst"
check "export writes the blob itself" test "sha256:$(sha256sum < "$T/out.tar.zst" | cut -d' ' -f1)" = "$d1"
check "export is a tar.zst with the files" bash -c "zstd -dc '$T/out.tar.zst' | tar -t | grep -qx 'usr/bin/hello'"
check "ls lists it" bash -c "ec layer ls | grep -q '${d1}'"
check "ls --json" bash -c "ec layer ls --json | json_get 0.digest | grep -q '^sha256:'"

# Hostile archives: refused, the entry named, the store still consistent.
python3 - "$T" <<'PY'
import io, sys, tarfile
t = sys.argv[1]
def mk(name, members):
    with tarfile.open(f"{t}/{name}.tar", "w", format=tarfile.PAX_FORMAT) as tf:
        for m, data in members:
            tf.addfile(m, io.BytesIO(data) if data is not None else None)
def f(n, data=b"x"):
    i = tarfile.TarInfo(n); i.size = len(data); return (i, data)
def l(n, target, kind=tarfile.SYMTYPE):
    i = tarfile.TarInfo(n); i.type = kind; i.linkname = target; return (i, None)
def dev(n):
    i = tarfile.TarInfo(n); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; return (i, None)
mk("dotdot", [f("ok"), f("../evil")])
mk("absolute", [f("/etc/evil")])
mk("symescape", [l("esc", "../../../../etc")])
mk("through", [l("link", "/tmp"), f("link/evil")])
mk("hardabs", [l("h", "/etc/passwd", tarfile.LNKTYPE)])
mk("device", [dev("dev/mem")])
PY
for case in dotdot:../evil absolute:/etc/evil symescape:esc through:link/evil hardabs:h device:dev/mem; do
  name=${case%%:*} entry=${case#*:}
  expect_fail "hostile $name is refused naming $entry" "$entry" ec layer import "$T/$name.tar"
done
check "no temporary files remain after refusals" bash -c "[ -z \"\$(ls -A '$ENVCACHE_HOME/tmp')\" ]"
check "verify is clean after refusals" ec verify
head -c 3000000 /dev/zero > "$T/zero"; tar -C "$T" -cf "$T/bomb.tar" zero
expect_fail "size limit" 'zero' ec layer import --max-bytes 1M "$T/bomb.tar"
# Several processes at once on one store: the same layer imported 4 times in parallel
# (directory and tar), all agree, and the store stays consistent.
for i in 1 2 3 4; do ec layer import "$T/a" > "$T/par$i" & ec layer import "$T/a.tar" > "$T/part$i" & done; wait
check "parallel imports all give the same digest" bash -c "[ \$(cat '$T'/par* | sort -u) = '$d1' ]"
check "verify clean after parallel imports" ec verify
mkdir -p "$T/empty"
check "an empty directory is a layer too" bash -c "ec layer import '$T/empty' | grep -q ^sha256:"
expect_fail "a missing path" 'nope' ec layer import "$T/nope"
finish
