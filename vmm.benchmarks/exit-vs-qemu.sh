#!/usr/bin/env bash
# Side-by-side exit cost, in one run: the same flat ROM (a real-mode loop of
# port writes to an unclaimed port, then an exit) under this VMM (vmm.kvm with
# the host's vendor back end, a direct vCPU loop) and under qemu-system-x86_64
# -enable-kvm. Prints the cost of one exit for each and the ratio ours/QEMU.
# Usage: vmm.benchmarks/exit-vs-qemu.sh [iterations (200000)] [runs (5)]
# Needs: /dev/kvm, qemu-system-x86 (apt-get install qemu-system-x86).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vmm_require_jdk
bench_need "apt-get install qemu-system-x86" qemu-system-x86_64
[ -c /dev/kvm ] || { echo "no /dev/kvm on this host" >&2; exit 2; }
(cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn -B -q -DskipTests -pl vmm.benchmarks -am package)
cp="$here/target/classes:$(cat "$here/target/runtime.classpath")"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" vmm.benchmarks.ExitCostVsQemu "${1:-200000}" "${2:-5}"
