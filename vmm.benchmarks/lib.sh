# shellcheck shell=bash
# What every benchmark script here starts with. Source it after `set -euo pipefail`:
#
#     . "$(dirname "$0")/lib.sh"
#
# Sets here (this folder) and root (the checkout), and brings in cnf/jdk.sh (vmm_require_jdk).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
. "$root/cnf/jdk.sh"

# bench_need HINT TOOL...: exits 2, saying "missing TOOL: HINT", at the first TOOL not on PATH.
bench_need() {
    local hint=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: $hint" >&2; exit 2; }
    done
}
