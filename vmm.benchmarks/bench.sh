#!/usr/bin/env bash
# Runs the JMH benchmarks of the core's hot paths and prints their figures.
# Usage: vmm.benchmarks/bench.sh [JMH options], e.g. -f 1 -wi 2 -i 3 VirtqueueBenchmark
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vmm_require_jdk
(cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn -B -q -DskipTests -pl vmm.benchmarks -am package)
cp="$here/target/classes:$(cat "$here/target/runtime.classpath")"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" org.openjdk.jmh.Main "$@"
