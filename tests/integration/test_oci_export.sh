#!/bin/bash
# envcache export: an environment (the toy manager's, over a base; offline) as an OCI image
# layout and as a docker-archive. Debian's skopeo inspects and copies both; umoci unpacks
# the layout into the same tree as the session's root (names, types, modes, sizes, link
# targets and contents). umoci 0.4.7 reads no zstd layers, which is why gzip is the default;
# skopeo 1.9 reads the --zstd layout too. podman runs the layout and the docker-archive.
. "$(dirname "$0")/lib.sh"
need_sandbox

R=$T/toyreg
mkdir -p "$R/files"
printf '#!/bin/sh\necho hello from toy\n' > "$R/files/hello-1.0.0"
h1=$(sha256sum "$R/files/hello-1.0.0" | cut -d' ' -f1)
printf '{"versions":{"1.0.0":{"file":"hello-1.0.0","sha256":"sha256:%s"}}}' "$h1" > "$R/hello.json"
python3 - "$R" > "$T/toyport" 2>/dev/null <<'PY' &
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
toyreg=$!
trap 'kill $toyreg 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/toyport" ] && break; sleep 0.05; done
export ENVCACHE_TOY_REGISTRY=http://127.0.0.1:$(cat "$T/toyport")

bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$T/base" >/dev/null
base=$(ec base import "$T/base")
printf '{"name":"toy1","config":{"packages":{"toy":["hello"]}}}' > "$T/toy1.json"
ec env create -f "$T/toy1.json" --base "$base" >/dev/null
expect_fail "an environment never warmed is not exported" "warm" ec export toy1 --oci "$T/none"
ec --quiet warm toy1

check "export --oci writes a layout" ec --quiet export toy1 --oci "$T/oci" --tag v1
check "skopeo inspects it: two gzip layers, amd64/linux" bash -c "skopeo inspect --raw oci:$T/oci:v1 | python3 -c '
import json,sys; m=json.load(sys.stdin)
assert [l[\"mediaType\"] for l in m[\"layers\"]] == [\"application/vnd.oci.image.layer.v1.tar+gzip\"]*2, m'"
check "skopeo copies it into a docker-archive" skopeo copy -q "oci:$T/oci:v1" "docker-archive:$T/copied.tar:toy1:v1"
check "umoci unpacks it" bash -c "umoci unpack --image '$T/oci:v1' '$T/bundle' >/dev/null 2>&1"
M=$T/mnt
ec mount toy1 --session s1 "$M" >/dev/null
tree() { (cd "$1" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort); }
tree "$T/bundle/rootfs" > "$T/umoci.txt"
tree "$M" > "$T/session.txt"
check "…into the same tree as the session's root (names, types, modes, sizes, links)" diff "$T/umoci.txt" "$T/session.txt"
check "…with the same contents" diff -r --no-dereference "$T/bundle/rootfs" "$M"
ec umount "$M" >/dev/null
check "the same environment exported twice gives the same manifest" bash -c "
'$ENVCACHE_BIN' --quiet export toy1 --oci '$T/oci2' --tag v1 && cmp '$T/oci/index.json' '$T/oci2/index.json'"

check "export --oci --zstd keeps the store's blobs" bash -c "'$ENVCACHE_BIN' --json export toy1 --oci '$T/ociz' --zstd | python3 -c '
import json,sys; r=json.load(sys.stdin); assert all(l[\"mediaType\"].endswith(\"tar+zstd\") for l in r[\"layers\"]), r'"
check "skopeo inspects the zstd layout" skopeo inspect "oci:$T/ociz:latest"
check "…whose layers are the store's blobs, byte for byte" bash -c "skopeo inspect --raw oci:$T/ociz:latest | python3 -c '
import json,sys,os; m=json.load(sys.stdin)
for l in m[\"layers\"]:
    h=l[\"digest\"].split(\":\")[1]; assert os.path.exists(os.path.join(\"$ENVCACHE_HOME/blobs/sha256\", h[:2], h)), h'"

check "export --docker-archive writes one" ec --quiet export toy1 --docker-archive "$T/toy1.tar"
check "skopeo inspects the docker-archive" bash -c "skopeo inspect docker-archive:$T/toy1.tar | python3 -c '
import json,sys; i=json.load(sys.stdin); assert len(i[\"Layers\"]) == 2, i'"
check "skopeo copies it into an OCI layout" skopeo copy -q "docker-archive:$T/toy1.tar" "oci:$T/fromarchive:v1"

# podman runs the export (runc; this machine's root lacks CAP_SYS_RESOURCE, so no default
# rlimits, as test_run_container.sh does).
printf '[containers]\ndefault_ulimits = []\n' > "$T/containers.conf"
pm() { CONTAINERS_CONF=$T/containers.conf podman --runtime "$(command -v runc)" "$@"; }
# podman names an image from a layout by its path, which must be lower case: a copy.
L=${TMPDIR:-/tmp}/envcache-oci-test-$$
rm -rf "$L" && cp -r "$T/oci" "$L"
for src in "oci:$L:v1" "docker-archive:$T/toy1.tar"; do
  id=$(pm pull -q "$src" 2>"$T/pm.err" | tail -n 1)
  out=$(pm run --rm --ulimit host --cgroupns=host "$id" /usr/local/bin/hello 2>>"$T/pm.err")
  check "podman runs the program of the export ($src)" test "$out" = "hello from toy"
  [ "$out" = "hello from toy" ] || cat "$T/pm.err"
  [ -n "$id" ] && pm rmi -f "$id" >/dev/null 2>&1
done
rm -rf "$L"

# Bad input, each named.
expect_fail "a non-empty directory is refused" "not an empty directory" ec export toy1 --oci "$T/oci"
expect_fail "both forms at once are refused" "one of --oci" ec export toy1 --oci "$T/x" --docker-archive "$T/y"
expect_fail "an unknown environment is named" "nope" ec export nope --oci "$T/x"
check "nothing was left behind by the refusals" test ! -e "$T/x"
finish
