#!/usr/bin/env bash
# Runs every test: vmm.core's unit tests (Surefire) and the in-framework
# integration tests of vmm.itest (bnd-testing, inside Felix), as
#     mvn -B -ntp verify "$@"
# with a JDK 25+ found by cnf/jdk.sh. Extra arguments go to Maven, e.g.
#     ./test.sh -pl vmm.itest -am      only the in-framework tests (and what they need)
#     ./test.sh -Dresolve              re-resolve vmm.itest/test.bndrun and write it
#     ./test.sh -pl vmm.itest -am -Dsurefire.failIfNoSpecifiedTests=false \
#         -Dtest=vmm.itest.FrameworkSmokeTest
#                                      one in-framework class: bnd-testing wants
#                                      fully qualified names (Class or Class#method);
#                                      a pattern or a wrong name silently runs none
# Exits with Maven's status.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 2

# shellcheck source=cnf/jdk.sh
. cnf/jdk.sh
vmm_require_jdk

if ! command -v mvn >/dev/null 2>&1; then
    echo "mvn not found: install Apache Maven 3.8 or newer (Debian: apt-get install maven)" >&2
    exit 2
fi

# Maven's own guava calls sun.misc.Unsafe, which JDK 24+ warns about.
case " ${MAVEN_OPTS:-} " in
    *sun-misc-unsafe-memory-access*) ;;
    *) export MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow" ;;
esac

stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT

mvn -B -ntp verify "$@"
rc=$?

# bnd-testing prints failing tests but no totals: add them from the JUnit XML
# reports this run wrote (target/test-reports/<bndrun>/TEST-*.xml).
total=0 failed=0 skipped=0 lines=""
attr() { printf '%s\n' "$suite" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
while IFS= read -r report; do
    suite=$(grep -m 1 -o '<testsuite [^>]*>' "$report") || continue
    t=$(attr tests) f=$(attr failures) e=$(attr errors) s=$(attr skipped)
    t=${t:-0} f=${f:-0} e=${e:-0} s=${s:-0}
    total=$((total + t)); failed=$((failed + f + e)); skipped=$((skipped + s))
    run=${report%/*}; module=${run%%/target/*}
    lines+="  ${module#./}/${run##*/}.bndrun: $t tests, $f failures, $e errors, $s skipped"$'\n'
done < <(find . -path '*/target/test-reports/*' -name 'TEST-*.xml' -newer "$stamp" 2>/dev/null | sort)
if [ "$total" -gt 0 ]; then
    echo
    echo "In-framework tests (bnd-testing):"
    printf '%s' "$lines"
    echo "in-framework: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi

exit "$rc"
