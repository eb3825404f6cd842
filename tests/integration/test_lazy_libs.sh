#!/bin/bash
# libcurl and libarchive are loaded on first use (fetchers/http/curl_load.c,
# store/archive_load.c): commands that never fetch or read an archive do not load them,
# and one that does with no usable library says which library and what to install. The
# server is the program's own code: it loads no HTTP server library at all.
. "$(dirname "$0")/lib.sh"

out=$(LD_DEBUG=files ec session ls 2>&1)
check "session ls starts without loading libcurl" bash -c "! printf '%s' \"\$1\" | grep -q 'libcurl'" _ "$out"
check "…nor GnuTLS" bash -c "! printf '%s' \"\$1\" | grep -q 'libmicrohttpd\|libgnutls'" _ "$out"
check "…nor libarchive (nor libxml2, ICU)" bash -c "! printf '%s' \"\$1\" | grep -q 'libarchive\|libxml2\|libicu'" _ "$out"
check "…and loads other libraries (LD_DEBUG works here)" bash -c "printf '%s' \"\$1\" | grep -q 'file=libjansson'" _ "$out"

mkdir -p "$T/lib"
echo 'int not_curl;' > "$T/lib/c.c"
if cc -shared -o "$T/lib/libcurl.so.4" "$T/lib/c.c"; then
  expect_fail "a libcurl without curl's functions is named, with the fix" \
    'cannot load libcurl.so.4, the HTTP client every download goes through: it has no curl_global_init (install the Debian package libcurl4' \
    env LD_LIBRARY_PATH="$T/lib" "$ENVCACHE_BIN" pull 127.0.0.1:9/x/y:t
  srv_libs=$(LD_DEBUG=files timeout 3 "$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --access-log off 2>&1)
  check "serve starts without libmicrohttpd or GnuTLS" bash -c "printf '%s' \"\$1\" | grep -q 'serving on' && ! printf '%s' \"\$1\" | grep -q 'libmicrohttpd\|libgnutls'" _ "$srv_libs"
  cp "$T/lib/libcurl.so.4" "$T/lib/libarchive.so.13"
  mkdir -p "$T/l1/etc"; echo x > "$T/l1/etc/x"
  expect_fail "a libarchive without its functions is named, with the fix" \
    'cannot load libarchive.so.13, which reads and writes every archive: it has no archive_entry_clear (install the Debian package libarchive13' \
    env LD_LIBRARY_PATH="$T/lib" "$ENVCACHE_BIN" layer import "$T/l1"
  check "…and nothing was stored" bash -c "test -z \"\$(ec layer ls 2>/dev/null | tail -n +2)\""
  check "…and a command that does neither still works" \
    env LD_LIBRARY_PATH="$T/lib" "$ENVCACHE_BIN" --quiet session ls
else
  bad "cc cannot build a shared object here"
fi
finish
