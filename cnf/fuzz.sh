#!/usr/bin/env bash
# Fuzzes one Jazzer target for real (JAZZER_FUZZ=1) for a given time:
#
#     cnf/fuzz.sh TARGET SECONDS [MAVEN-ARGS...]
#     cnf/fuzz.sh --list
#
# TARGET is a fuzz test class (VirtQueueFuzzTest), optionally with its
# method (VirtQueueFuzzTest#anyRingContentGivesCheckedChainsOrABrokenQueue).
# Extra arguments go to Maven (e.g. -o -Dmaven.repo.local=...); extra
# libFuzzer flags go in FUZZ_FLAGS (e.g. FUZZ_FLAGS=-len_control=0, which lets
# a stateful target try long message sequences from the start). The module
# and what it needs are built; the target's generated corpus grows in
# <module>/.cifuzz-corpus/ (ignored by git); a finding stops the run and is
# written as crash-<sha1> into the target's committed inputs directory
# (src/test/resources/<package>/<Class>Inputs/<method>/), where every later
# ./test.sh replays it. At the end it prints executions per second, the
# coverage libFuzzer reached (cov: edges, ft: features) and the findings.
# Exits 0 when the run found nothing, 1 on a finding, 2 on a usage or build error.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

targets() {
    grep -rl --include='*FuzzTest.java' '@FuzzTest' -- */src/test/java 2>/dev/null | sort
}

if [ "${1:-}" = "--list" ]; then
    targets | while read -r f; do
        cls=$(basename "$f" .java)
        grep -A1 '@FuzzTest' "$f" | sed -n 's/.*void \([A-Za-z0-9_]*\)(.*/\1/p' |
            while read -r m; do printf '%-28s %s#%s\n' "${f%%/*}" "$cls" "$m"; done
    done
    exit 0
fi
if [ $# -lt 2 ] || ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ]; then
    echo "usage: cnf/fuzz.sh TARGET SECONDS [MAVEN-ARGS...]   (cnf/fuzz.sh --list shows the targets)" >&2
    exit 2
fi
target=$1 seconds=$2
shift 2
cls=${target%%#*}
file=$(targets | grep "/$cls.java$" | head -n 1)
if [ -z "$file" ]; then
    echo "no fuzz test class $cls (cnf/fuzz.sh --list shows the targets)" >&2
    exit 2
fi
module=${file%%/*}
pkg=$(dirname "${file#*/src/test/java/}")
if [ "$target" = "$cls" ]; then
    methods=$(grep -A1 '@FuzzTest' "$file" | sed -n 's/.*void \([A-Za-z0-9_]*\)(.*/\1/p')
    if [ "$(printf '%s\n' "$methods" | wc -l)" -ne 1 ]; then
        echo "$cls has several fuzz tests; name one: $(printf '%s ' $methods)" >&2
        exit 2
    fi
    target="$cls#$methods"
fi
method=${target#*#}
inputs="$module/src/test/resources/$pkg/${cls}Inputs/$method"
mkdir -p "$inputs"

# shellcheck source=cnf/jdk.sh
. cnf/jdk.sh
vmm_require_jdk
case " ${MAVEN_OPTS:-} " in
    *sun-misc-unsafe-memory-access*) ;;
    *) export MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow" ;;
esac

# Jazzer 0.24 cannot read class files newer than Java 23: see cnf/fuzz/ClassVersionAgent.java.
agent=$PWD/target/fuzz/class-version-agent.jar
if [ ! -f "$agent" ] || [ cnf/fuzz/ClassVersionAgent.java -nt "$agent" ]; then
    mkdir -p target/fuzz/agent-classes
    javac -d target/fuzz/agent-classes cnf/fuzz/ClassVersionAgent.java || exit 2
    printf 'Premain-Class: ClassVersionAgent\n' > target/fuzz/agent.mf
    jar --create --file "$agent" --manifest target/fuzz/agent.mf -C target/fuzz/agent-classes . || exit 2
fi

log=$PWD/target/fuzz/$cls.$method.log
before=$(ls "$inputs" | sort)
# Options after the first (argv0) go to libFuzzer after the annotation's, so they win.
jvm="-XX:+EnableDynamicAgentLoading --sun-misc-unsafe-memory-access=allow -javaagent:$agent=vmm/,device/"
jvm+=" -Djava.util.logging.config.file=$PWD/cnf/fuzz/logging.properties"
# A module's JUnit default timeout (device.uart: 2 minutes) would end the whole fuzzing run as a
# "finding"; Jazzer still turns it into libFuzzer's per-input -timeout.
jvm+=" -Djunit.jupiter.execution.timeout.mode=disabled"
jvm+=" -Djazzer.internal.arg.0=fuzz -Djazzer.internal.arg.1=-max_total_time=$seconds"
jvm+=" -Djazzer.internal.arg.2=-print_final_stats=1 -Djazzer.internal.arg.3=-use_value_profile=1"
n=4
for flag in ${FUZZ_FLAGS:-}; do
    jvm+=" -Djazzer.internal.arg.$n=$flag"
    n=$((n + 1))
done
echo "fuzzing $target in $module for $seconds s (log: $log)"
JAZZER_FUZZ=1 mvn -B -ntp "$@" -pl "$module" -am test -Dtest="$target" -Dsurefire.failIfNoSpecifiedTests=false \
    "-Djazzer.argLine=$jvm" >"$log" 2>&1
rc=$?

echo
grep -E '^#[0-9]+.*(INITED|DONE|pulse|NEW|REDUCE)' "$log" | tail -n 3
last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
new=$(comm -13 <(printf '%s\n' "$before") <(ls "$inputs" | sort) | grep '^crash-')
echo "target:      $target ($module)"
echo "executions:  ${runs:-?} in $seconds s, ${speed:-?} exec/s"
echo "coverage:    ${cov:-?} edges (cov), ${ft:-?} features (ft), ${corp:-?} corpus entries"
if [ -n "$new" ]; then
    echo "findings:    $(printf '%s\n' "$new" | wc -l), kept in $inputs:"
    printf '  %s\n' $new
    grep -m 1 -B 1 -A 8 '^Caused by' "$log" | grep -v 'org.junit\|jazzer\.junit\|java\.base/'
    exit 1
fi
if [ "$rc" -ne 0 ] || [ -z "$last" ]; then
    echo "findings:    none recorded, but Maven exited with $rc: see $log" >&2
    exit 2
fi
echo "findings:    none"
