#!/bin/bash
# Builds a tiny root file system from the host's own programs, for sandbox tests that
# need a base without the Debian archive: mkroot.sh DIR [PROGRAM…]
set -eu
root=$1; shift
progs="sh bash cat ls rm mkdir rmdir sleep dd head tail touch mv cp chmod true false env ln
  readlink stat test uname id echo grep sed wc sort find hostname ${*:-}"
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/usr"
ln -sfn bin "$root/sbin"
for p in $progs; do
  src=$(type -P "$p" 2>/dev/null) || continue
  [ -f "$src" ] || continue
  cp -L "$src" "$root/bin/$p"
  ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
  done
done
ln -sfn ../bin "$root/usr/bin"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
