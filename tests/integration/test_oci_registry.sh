#!/bin/bash
# envcache push / pull against Debian's docker-registry on loopback, as two or more nodes
# (one home each): anonymous, basic auth over TLS with a CA made here, chunked uploads, two
# pushes at once, a tampered blob, and the remote tier (locks and layers found on the
# registry before resolving and building; a layer a session lacks pulled on demand).
# The environment is the toy manager's (tests/fixtures/toymgr/), warmed from a registry
# of local files, so nothing leaves the machine.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_registry.sh"
need_sandbox

R=$T/toyreg
mkdir -p "$R/files"
printf '#!/bin/sh\necho hello from toy\n' > "$R/files/hello-1.0.0"
h1=$(sha256sum "$R/files/hello-1.0.0" | cut -d' ' -f1)
printf '{"versions":{"1.0.0":{"file":"hello-1.0.0","sha256":"sha256:%s"}}}' "$h1" > "$R/hello.json"
python3 - "$R" > "$T/toyport" 2>"$T/toyreg.log" <<'PY' &
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
toyreg=$!
trap 'kill $toyreg 2>/dev/null; stop_registries; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/toyport" ] && break; sleep 0.05; done
export ENVCACHE_TOY_REGISTRY=http://127.0.0.1:$(cat "$T/toyport")
toy_requests() { grep -c '"GET ' "$T/toyreg.log" || true; }

REG=$(start_registry anon)
REF=${REG}/team/toy1:v1
HA=$T/node-a HB=$T/node-b
ea() { ENVCACHE_HOME=$HA ec "$@"; }
eb() { ENVCACHE_HOME=$HB ec "$@"; }

bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$T/base" >/dev/null
base=$(ea base import "$T/base")
printf '{"name":"toy1","config":{"packages":{"toy":["hello"]}}}' > "$T/toy1.json"
ea env create -f "$T/toy1.json" --base "$base" >/dev/null
expect_fail "an environment never warmed is not pushed" "warm" ea push toy1 "$REF"
ea --quiet warm toy1
ea --json push toy1 "$REF" > "$T/push1.json"
check "push sends the layers, the config and the artifacts" python3 -c '
import json,sys; r=json.load(open(sys.argv[1])); s=r["stats"]
assert len(r["layers"]) == 2 and r["managers"] == ["toy"], r
assert s["blobs_sent"] >= 4, s' "$T/push1.json"
digest=$(json_get digest < "$T/push1.json")
ea --json push toy1 "$REF" > "$T/push2.json"
check "a second push sends no blob (HEAD first) and ends in the same manifest" python3 -c '
import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
assert b["stats"]["blobs_sent"] == 0 and b["stats"]["blobs_present"] >= 4, b
assert a["digest"] == b["digest"], (a, b)' "$T/push1.json" "$T/push2.json"
check "skopeo reads the pushed manifest: two tar+zstd layers" bash -c "
skopeo inspect --raw --tls-verify=false docker://${REF#http://} | python3 -c '
import json,sys; m=json.load(sys.stdin)
assert [l[\"mediaType\"] for l in m[\"layers\"]] == [\"application/vnd.oci.image.layer.v1.tar+zstd\"]*2, m'"
check "the registry has no referrers API: the tag schema's index lists the artifacts" bash -c "
curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' $REG/v2/team/toy1/manifests/sha256-${digest#sha256:} | python3 -c '
import json,sys; i=json.load(sys.stdin); t=sorted(m[\"artifactType\"] for m in i[\"manifests\"])
assert t == [\"application/vnd.envcache.environment.v1+json\", \"application/vnd.envcache.lock.v1+json\"], t'"

# Two nodes push one environment at once (A twice in parallel: two processes, as two
# machines would be): both succeed and the registry ends with one manifest, no duplicates.
REF2=${REG}/team/toy1:both
ea --json push toy1 "$REF2" > "$T/par1.json" 2>&1 & p1=$!
ea --json push toy1 "$REF2" > "$T/par2.json" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check "two pushes at once both succeed ($r1, $r2)" test "$r1$r2" = 00
check "…with one manifest digest, the same as before" bash -c "
test \"\$(json_get digest < '$T/par1.json')\" = '$digest' && test \"\$(json_get digest < '$T/par2.json')\" = '$digest'"
check "…and one artifact per kind in the referrers index" bash -c "
curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' $REG/v2/team/toy1/manifests/sha256-${digest#sha256:} | python3 -c '
import json,sys; i=json.load(sys.stdin); d=[m[\"digest\"] for m in i[\"manifests\"]]
assert len(d) == 2 == len(set(d)), d'"

# Node B pulls: layers verified, locks and records, mountable at once.
eb --json pull "$REF" > "$T/pull.json"
check "node B pulls the environment with the same layer digests" bash -c "
test \"\$(json_get layers < '$T/pull.json')\" = \"\$(json_get layers < '$T/push1.json')\""
check "…and the same lock" test "$(eb env lock toy1 toy)" = "$(ea env lock toy1 toy)"
M=$T/mnt-b
eb mount toy1 --session s1 "$M" >/dev/null
check "…mountable at once: the program runs" test "$(sh "$M/usr/local/bin/hello")" = "hello from toy"
eb umount "$M" >/dev/null
check "…and its store verifies" eb --quiet verify
check "pulling again downloads nothing" bash -c "ENVCACHE_HOME=$HB '$ENVCACHE_BIN' --json pull '$REF' | python3 -c '
import json,sys; r=json.load(sys.stdin); assert r[\"stats\"][\"blobs_got\"] == 0, r'"

# Bad input: each names its cause and leaves nothing behind.
expect_fail "a reference without a host is refused" "names no registry" eb pull team/toy1:v1
expect_fail "a reference without a tag is refused" "names no tag or digest" eb pull "${REG}/team/toy1"
expect_fail "a missing tag names the reference" "team/toy1:nope" eb pull "${REG}/team/toy1:nope"
expect_fail "an image of another tool is refused (no envcache record)" "no environment record" \
  bash -c "skopeo copy -q --dest-tls-verify=false docker://${REF#http://} docker://${REG#http://}/other/img:v1 --src-tls-verify=false >/dev/null 2>&1; ENVCACHE_HOME=$T/node-x '$ENVCACHE_BIN' pull ${REG}/other/img:v1"
expect_fail "a config that differs from a same-named environment is refused" "exists here with another config" \
  bash -c "printf '{\"name\":\"toy1\",\"config\":{\"packages\":{\"toy\":[\"hello@1.0.0\"]}}}' > $T/t2.json; ENVCACHE_HOME=$T/node-c '$ENVCACHE_BIN' env create -f $T/t2.json >/dev/null; ENVCACHE_HOME=$T/node-c '$ENVCACHE_BIN' pull '$REF'"
check "…and --name pulls it beside" bash -c "ENVCACHE_HOME=$T/node-c '$ENVCACHE_BIN' --quiet pull --name toy1b '$REF'"
# A blob changed on the registry's disk: the pull fails naming it, nothing is recorded.
layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][1])' "$T/push1.json")
hex=${layer#sha256:}
data=$T/registry-anon/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
cp "$data" "$T/good"; printf 'X' | dd of="$data" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_fail "a tampered layer is refused, naming the blob" "$hex" env ENVCACHE_HOME=$T/node-d "$ENVCACHE_BIN" pull "$REF"
check "…and no environment was recorded" bash -c "! ENVCACHE_HOME=$T/node-d '$ENVCACHE_BIN' env get toy1 >/dev/null 2>&1"
check "…and no blob or temporary file stays" bash -c "ENVCACHE_HOME=$T/node-d '$ENVCACHE_BIN' --json verify | python3 -c '
import json,sys; r=json.load(sys.stdin); s=r.get(\"stats\", r); assert s[\"leftovers\"] == 0 and s[\"problems\"] == 0, r'"
cp "$T/good" "$data"

# Chunked upload: small chunks, then the image pulls back whole.
check "a push in 64 KiB chunks succeeds" bash -c "ENVCACHE_REGISTRY_CHUNK=65536 ENVCACHE_HOME=$HA '$ENVCACHE_BIN' --quiet push toy1 ${REG}/chunked/toy1:v1"
check "…and pulls back with the same layers" bash -c "ENVCACHE_HOME=$T/node-e '$ENVCACHE_BIN' --json pull ${REG}/chunked/toy1:v1 | python3 -c '
import json,sys; r=json.load(sys.stdin); assert r[\"layers\"] == json.load(open(\"$T/push1.json\"))[\"layers\"], r'"

# Resumable: a proxy in front of the registry fails the third chunk once (HTTP 500, not
# forwarded); the push asks the registry where the upload is and goes on from there.
python3 "$EC_SOURCE_DIR/tests/integration/registry_proxy.py" "${REG#http://}" --fail-patch 3 > "$T/proxyport" 2>"$T/proxy.log" &
proxy=$!
trap 'kill $toyreg $proxy 2>/dev/null; stop_registries; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/proxyport" ] && break; sleep 0.05; done
PREF=http://127.0.0.1:$(cat "$T/proxyport")/resumed/toy1:v1
ENVCACHE_REGISTRY_CHUNK=65536 ENVCACHE_HOME=$HA ec push toy1 "$PREF" > "$T/resume.out" 2>&1 && rc=0 || rc=$?
check "a push whose chunk failed resumes and succeeds ($rc)" test "$rc" = 0
check "…the chunk really failed, and the push said it resumed" bash -c "grep -q 'failed chunk' '$T/proxy.log' && grep -q 'resuming from where the registry is' '$T/resume.out'"
check "…and the image pulls back whole" bash -c "ENVCACHE_HOME=$T/node-r '$ENVCACHE_BIN' --json pull ${REG}/resumed/toy1:v1 | python3 -c '
import json,sys; r=json.load(sys.stdin); assert r[\"layers\"] == json.load(open(\"$T/push1.json\"))[\"layers\"], r'"
kill $proxy

# A registry with the referrers API (the proxy plays it): artifacts are attached through
# it (no tag-schema index is written) and found through it.
python3 "$EC_SOURCE_DIR/tests/integration/registry_proxy.py" "${REG#http://}" --referrers > "$T/refport" 2>"$T/ref.log" &
refproxy=$!
trap 'kill $toyreg $refproxy 2>/dev/null; stop_registries; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/refport" ] && break; sleep 0.05; done
RREF=http://127.0.0.1:$(cat "$T/refport")/refapi/toy1:v1
check "a push to a registry with the referrers API succeeds" bash -c "ENVCACHE_HOME=$HA '$ENVCACHE_BIN' --quiet push toy1 $RREF"
check "…and writes no tag-schema index" test "$(curl -sf $REG/v2/refapi/toy1/tags/list)" = '{"name":"refapi/toy1","tags":["v1"]}'
check "…node K pulls it, finding the artifacts through the API" bash -c "
ENVCACHE_HOME=$T/node-k '$ENVCACHE_BIN' --quiet pull $RREF && grep -q '^referrers refapi/toy1 sha256:' '$T/ref.log' &&
test \"\$(ENVCACHE_HOME=$T/node-k '$ENVCACHE_BIN' env lock toy1 toy)\" = \"\$(ENVCACHE_HOME=$HA '$ENVCACHE_BIN' env lock toy1 toy)\""
kill $refproxy

# Basic auth over TLS with a CA made here.
make_ca "$T/ca"
SREG=$(start_registry secure alice s3cret "$T/ca")
SREF=${SREG#https://}/team/toy1:v1
expect_fail "TLS without the CA fails, naming the registry" "127.0.0.1" ea push toy1 "$SREF"
export ENVCACHE_REGISTRY_CA=$T/ca/ca.crt
expect_fail "no credentials: the error says where to put them" "ENVCACHE_REGISTRY_USER" ea push toy1 "$SREF"
expect_fail "a wrong password is refused, naming the user" 'user "alice"' \
  env ENVCACHE_REGISTRY_USER=alice ENVCACHE_REGISTRY_PASSWORD=wrong "$ENVCACHE_BIN" --home "$HA" push toy1 "$SREF"
check "with the credentials in the environment the push succeeds" \
  env ENVCACHE_REGISTRY_USER=alice ENVCACHE_REGISTRY_PASSWORD=s3cret "$ENVCACHE_BIN" --home "$HA" --quiet push toy1 "$SREF"
printf '{"auths":{"%s":{"auth":"%s"}}}' "${SREG#https://}" "$(printf alice:s3cret | base64)" > "$T/auth.json"
check "credentials from a containers auth file: node F pulls" \
  env REGISTRY_AUTH_FILE=$T/auth.json "$ENVCACHE_BIN" --home "$T/node-f" --quiet pull "$SREF"
mkdir -p "$T/certs" && cp "$T/ca/ca.crt" "$T/certs/"
mkdir -p "$T/docker" && cp "$T/auth.json" "$T/docker/config.json"
check "credentials from a docker config: node F2 pulls" \
  env DOCKER_CONFIG=$T/docker HOME=$T/nohome "$ENVCACHE_BIN" --home "$T/node-f2" --quiet pull "$SREF"
check "skopeo reads what was pushed there" bash -c "skopeo inspect --raw --authfile $T/auth.json --cert-dir $T/certs docker://$SREF >/dev/null"
unset ENVCACHE_REGISTRY_CA

# Bearer tokens: the registry's challenge names a token service, which grants alice.
TOK=$(start_token_server)
BREG=$(start_registry bearer @token "$TOK")
BREF=$BREG/team/toy1:v1
expect_fail "a token service that refuses: the error names it and says where credentials go" "ENVCACHE_REGISTRY_USER" ea push toy1 "$BREF"
check "with credentials, a token is fetched and the push succeeds" \
  env ENVCACHE_REGISTRY_USER=alice ENVCACHE_REGISTRY_PASSWORD=s3cret "$ENVCACHE_BIN" --home "$HA" --quiet push toy1 "$BREF"
check "…the token service was asked for push scope" grep -q 'scope=repository%3Ateam%2Ftoy1%3Apull%2Cpush' "$T/token/log"
check "…and node I pulls with a token too" \
  env ENVCACHE_REGISTRY_USER=alice ENVCACHE_REGISTRY_PASSWORD=s3cret "$ENVCACHE_BIN" --home "$T/node-i" --quiet pull "$BREF"

# The remote tier. Node G sets the remote and warms: its lock and layers are published.
TIER=${REG}/tier
HG=$T/node-g HH=$T/node-h
ENVCACHE_HOME=$HG ec remote set "$TIER"
check "remote show prints it" bash -c "ENVCACHE_HOME=$HG '$ENVCACHE_BIN' remote show | grep -qF '$TIER'"
expect_fail "a remote with a tag is refused" "without a tag" env ENVCACHE_HOME=$HG "$ENVCACHE_BIN" remote set "$TIER:v1"
ENVCACHE_HOME=$HG ec base import "$T/base" >/dev/null
ENVCACHE_HOME=$HG ec env create -f "$T/toy1.json" --base "$base" >/dev/null
ENVCACHE_HOME=$HG ec --quiet warm toy1
check "node G published a layer key, the layer and its base by digest, and the lock" bash -c "
curl -sf $REG/v2/tier/tags/list | python3 -c '
import json,sys; t=json.load(sys.stdin)[\"tags\"]
assert sum(x.startswith(\"key-\") for x in t) == 1 and sum(x.startswith(\"layer-\") for x in t) == 2 and sum(x.startswith(\"spec-\") for x in t) == 1, t'"
check "a push to another repository of that registry mounts the layer from the tier" bash -c "
ENVCACHE_HOME=$HG '$ENVCACHE_BIN' --json push toy1 ${REG}/team/toy1g:v1 | python3 -c '
import json,sys; r=json.load(sys.stdin); assert r[\"stats\"][\"blobs_mounted\"] >= 1, r'"
# Node J does not push (--no-push): it builds an environment the remote lacks, and nothing
# new appears on the remote.
tags_before=$(curl -sf $REG/v2/tier/tags/list)
HJ=$T/node-j
ENVCACHE_HOME=$HJ ec remote set "$TIER" --no-push
check "remote show says it does not push" bash -c "ENVCACHE_HOME=$HJ '$ENVCACHE_BIN' remote show | grep -q 'no push'"
ENVCACHE_HOME=$HJ ec base import "$T/base" >/dev/null
printf '{"name":"toy2","config":{"packages":{"toy":["hello@1.0.0"]}}}' > "$T/toy2.json"
ENVCACHE_HOME=$HJ ec env create -f "$T/toy2.json" --base "$base" >/dev/null
ENVCACHE_HOME=$HJ ec --json warm toy2 > "$T/j.json" 2>&1
check "node J resolves and builds what the remote lacks" bash -c "
tail -n 1 '$T/j.json' | python3 -c '
import json,sys; r=json.load(sys.stdin); m=r[\"managers\"][\"toy\"]; assert m[\"resolved\"] is True and m[\"reused\"] is False, r'"
check "…and, not pushing, adds nothing to the remote" test "$(curl -sf $REG/v2/tier/tags/list)" = "$tags_before"
# Node H: the toy registry is gone; the warm-up must take the lock and layer from the remote.
before=$(toy_requests)
kill $toyreg; wait $toyreg 2>/dev/null
ENVCACHE_HOME=$HH ec base import "$T/base" >/dev/null
ENVCACHE_HOME=$HH ec env create -f "$T/toy1.json" --base "$base" >/dev/null
check "node H warms with the package registry down: lock and layer come from the remote" \
  env ENVCACHE_REMOTE="$TIER" ENVCACHE_HOME=$HH "$ENVCACHE_BIN" --quiet warm toy1
check "…the same stack as node G's" test "$(ENVCACHE_HOME=$HH ec --json env get toy1 >/dev/null; ENVCACHE_HOME=$HH ec env lock toy1 toy)" = "$(ENVCACHE_HOME=$HG ec env lock toy1 toy)"
ENVCACHE_HOME=$HH ec --json gc --max-size 1 --grace 0 > "$T/gc.json"
M=$T/mnt-h
check "after gc evicted its layers, a session on node H pulls them on demand" \
  env ENVCACHE_REMOTE="$TIER" ENVCACHE_HOME=$HH "$ENVCACHE_BIN" mount toy1 --session s1 "$M"
check "…and runs" test "$(sh "$M/usr/local/bin/hello" 2>&1)" = "hello from toy"
ENVCACHE_HOME=$HH ec umount "$M" >/dev/null
expect_fail "without the remote the evicted layer is missing" "" bash -c "ENVCACHE_HOME=$HH '$ENVCACHE_BIN' --quiet gc --max-size 1 --grace 0; ENVCACHE_HOME=$HH '$ENVCACHE_BIN' mount toy1 --session s2 '$T/mnt-h2'"
finish
