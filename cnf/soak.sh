#!/usr/bin/env bash
# Runs the whole suite N times, each from a fresh `git clone` of this
# repository's HEAD (what is committed, nothing else) into a temporary
# folder, with ./test.sh and the clone's own target folders; with --load
# while `stress-ng --cpu 2` keeps both cores busy. Prints each run's result
# and, at the end, every failing test with the number of runs it failed in.
#
#     cnf/soak.sh N [--load]
#
# Environment:
#   SOAK_MVN_ARGS   extra arguments for ./test.sh (Maven), split on blanks,
#                   e.g. "-o -Dmaven.repo.local=/work/m2" (default: none, so
#                   the clones use Maven's default local repository ~/.m2)
#   SOAK_DIR        where the clones go (default: a new folder under $TMPDIR
#                   or /tmp); each clone is removed after its run
#
# Installs the Debian packages the tests need first, as .ci/run does
# (cnf/test-packages.sh). The logs of failing runs, with their test reports,
# are kept and their folder is printed. Exits 0 when every run passed, 1 when
# one failed, 2 on bad use.
set -uo pipefail

# The whole script is one function, read in full before it runs: a soak takes long, and editing or
# checking out this file meanwhile must not change what the running one does.
main() {

    usage() {
        echo "usage: cnf/soak.sh N [--load]" >&2
        exit 2
    }
    [ $# -ge 1 ] && [ $# -le 2 ] || usage
    runs=$1
    [[ $runs =~ ^[1-9][0-9]*$ ]] || usage
    load=0
    if [ $# -eq 2 ]; then
        [ "$2" = --load ] || usage
        load=1
    fi

    repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel) || exit 2
    head=$(git -C "$repo" rev-parse HEAD) || exit 2
    if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
        echo "soak: the working tree has uncommitted changes; the runs test HEAD ($head) without them" >&2
    fi
    # shellcheck disable=SC2206
    extra=(${SOAK_MVN_ARGS:-})
    work=${SOAK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/vmm-soak.XXXXXX")}
    mkdir -p "$work" || exit 2
    logs=$(mktemp -d "${TMPDIR:-/tmp}/vmm-soak-logs.XXXXXX") || exit 2

    stress_pid=""
    stop_load() {
        if [ -n "$stress_pid" ]; then
            # stress-ng runs in its own process group: end it and its workers together.
            kill -TERM -- "-$stress_pid" 2>/dev/null || kill -TERM "$stress_pid" 2>/dev/null
            wait "$stress_pid" 2>/dev/null
            stress_pid=""
        fi
    }
    cleanup() {
        stop_load
        [ -n "${SOAK_DIR:-}" ] || rm -rf "$work"
        rmdir "$logs" 2>/dev/null # kept only when it holds a failing run's logs
    }
    trap cleanup EXIT
    trap 'echo; echo "soak: interrupted" >&2; exit 130' INT TERM

    # What .ci/run installs: without it a fresh machine's runs pass with the guest tests skipped.
    # shellcheck source=test-packages.sh
    . "$repo/cnf/test-packages.sh"
    vmm_install_test_packages soak || {
        echo "soak: could not install the packages the tests need" >&2
        exit 2
    }

    if [ "$load" -eq 1 ]; then
        if ! command -v stress-ng >/dev/null 2>&1; then
            sudo=""
            [ "$(id -u)" -eq 0 ] || sudo=sudo
            echo "soak: installing stress-ng (apt-get)"
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq stress-ng >/dev/null || {
                echo "soak: could not install stress-ng" >&2
                exit 2
            }
        fi
        setsid stress-ng --cpu 2 --timeout 0 --quiet </dev/null >/dev/null 2>&1 &
        stress_pid=$!
        echo "soak: stress-ng --cpu 2 loads both cores (pid $stress_pid)"
    fi

    # Sums "tests failures errors skipped" over the JUnit XML reports given on stdin (one path a line)
    # and lists each failing test case as "Class#method" after a line "--".
    summarize() {
        local t=0 f=0 e=0 s=0 report suite
        local failing=()
        while IFS= read -r report; do
            suite=$(grep -m 1 -o '<testsuite [^>]*>' "$report") || continue
            t=$((t + $(attr tests))) f=$((f + $(attr failures))) e=$((e + $(attr errors))) s=$((s + $(attr skipped)))
            # Split into elements: a testcase followed by a failure or error element has failed.
            while IFS= read -r name; do failing+=("$name"); done < <(awk 'BEGIN { RS = "<" }
                cdata { if (index($0, "]]>")) cdata = 0; next }
                /^!\[CDATA\[/ { if (!index($0, "]]>")) cdata = 1; next }
                /^testcase[ \t\n]/ {
                    name = ""; cls = ""
                    if (match($0, /[ \t\n]name="[^"]*"/)) name = substr($0, RSTART + 7, RLENGTH - 8)
                    if (match($0, /[ \t\n]classname="[^"]*"/)) cls = substr($0, RSTART + 12, RLENGTH - 13)
                    current = cls "#" name; reported = 0; next
                }
                /^(failure|error)[ \t\n\/>]/ { if (current != "" && !reported) { print current; reported = 1 } }
                /^\/testcase/ { current = "" }' "$report")
        done
        echo "$t $f $e $s"
        echo "--"
        [ ${#failing[@]} -eq 0 ] || printf '%s\n' "${failing[@]}"
    }
    attr() {
        local v
        v=$(printf '%s\n' "$suite" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p")
        echo "${v:-0}"
    }

    declare -A failed_in=()
    passed=0 failed=0
    echo "soak: $runs run(s) of ./test.sh ${extra[*]:-} from fresh clones of $head in $work"
    for ((i = 1; i <= runs; i++)); do
        clone="$work/run$i"
        rm -rf "$clone"
        if ! git clone -q --no-checkout "$repo" "$clone" 2>"$logs/run$i.clone.log"; then
            echo "run $i/$runs: FAIL (git clone failed: $logs/run$i.clone.log)"
            failed=$((failed + 1)); failed_in["(git clone)"]=$((${failed_in["(git clone)"]:-0} + 1))
            continue
        fi
        rm -f "$logs/run$i.clone.log"
        git -C "$clone" cat-file -e "$head^{commit}" 2>/dev/null || git -C "$clone" fetch -q origin "$head"
        git -C "$clone" checkout -q --detach "$head"
        log="$logs/run$i.log"
        start=$SECONDS
        (cd "$clone" && ./test.sh "${extra[@]}") >"$log" 2>&1
        rc=$?
        took=$((SECONDS - start))

        mapfile -t sure < <(find "$clone" -path '*/target/surefire-reports/TEST-*.xml' | sort | summarize)
        mapfile -t bnd < <(find "$clone" -path '*/target/test-reports/*' -name 'TEST-*.xml' | sort | summarize)
        read -r st sf se ss <<<"${sure[0]}"
        read -r bt bf be bs <<<"${bnd[0]}"
        names=("${sure[@]:2}" "${bnd[@]:2}")
        if [ "$rc" -eq 0 ] && [ "$((sf + se + bf + be))" -eq 0 ]; then
            result=PASS
            passed=$((passed + 1))
            rm -f "$log"
        else
            result="FAIL (exit $rc)"
            failed=$((failed + 1))
            if [ ${#names[@]} -eq 0 ]; then
                names=("(no failing test reported: build error, see $log)")
            fi
            for n in "${names[@]}"; do failed_in["$n"]=$((${failed_in["$n"]:-0} + 1)); done
            mkdir -p "$logs/run$i-reports"
            find "$clone" \( -path '*/target/surefire-reports/*' -o -path '*/target/test-reports/*' \) -type f \
                -exec cp --parents -t "$logs/run$i-reports" {} + 2>/dev/null
        fi
        printf 'run %d/%d: %s in %dm%02ds; Surefire: %d tests, %d failed, %d errors, %d skipped;' \
            "$i" "$runs" "$result" $((took / 60)) $((took % 60)) "$st" "$sf" "$se" "$ss"
        printf ' in-framework: %d tests, %d failed, %d errors, %d skipped\n' "$bt" "$bf" "$be" "$bs"
        for n in "${names[@]}"; do echo "    failed: $n"; done
        rm -rf "$clone"
    done
    stop_load

    echo
    under=""
    [ "$load" -eq 0 ] || under=" (under stress-ng --cpu 2)"
    echo "soak summary: $passed of $runs run(s) passed, $failed failed$under"
    if [ "$failed" -gt 0 ]; then
        echo "failing tests (runs failed in):"
        for n in "${!failed_in[@]}"; do printf '  %3d  %s\n' "${failed_in[$n]}" "$n"; done | sort -k1,1nr -k2
        echo "logs and reports of the failing runs: $logs"
        exit 1
    fi
    exit 0
}

main "$@"
exit $?
