#!/usr/bin/env bash
# Builds cnf/uml-xstate-shim.c (see there why user-mode Linux needs it on
# hosts with AVX-512 or AMX) into DIR (default: target/ beside this file's
# repository root) when missing or older than the source, and prints the
# path of the shared object to put in LD_PRELOAD for linux.uml.
# Exits 2 with a message when no C compiler is installed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$root/target}
src=$root/cnf/uml-xstate-shim.c
out=$dir/uml-xstate-shim.so
if [ ! -e "$out" ] || [ "$src" -nt "$out" ]; then
    cc=$(command -v cc || command -v gcc || true)
    if [ -z "$cc" ]; then
        echo "cnf/uml-shim.sh: no C compiler to build the user-mode Linux shim (apt-get install gcc libc6-dev)" >&2
        exit 2
    fi
    mkdir -p "$dir"
    tmp=$(mktemp "$dir/.uml-xstate-shim.XXXXXX")
    "$cc" -shared -fPIC -O2 -Wall -o "$tmp" "$src" -ldl
    mv -f "$tmp" "$out"
fi
echo "$out"
