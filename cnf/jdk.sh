#!/usr/bin/env bash
# shellcheck shell=bash
# Finds a JDK 25 or newer for the build. Source it, then call vmm_require_jdk:
#
#     . cnf/jdk.sh && vmm_require_jdk
#
# Looks at, in order: $JAVA_HOME (if it is 25 or newer),
# /usr/lib/jvm/temurin-25-jdk-amd64, then the newest /usr/lib/jvm/* that is
# 25 or newer. Exports JAVA_HOME and puts its bin/ first on PATH. If there is
# none it prints one line saying what to install and exits 2.
# (The machines' default java and Maven's default JDK are 17.)

VMM_MIN_JAVA=25

# Prints the feature version (17, 21, 25, ...) of the JDK at $1, or nothing
# if $1 is not a JDK (it needs bin/java and bin/javac).
vmm_jdk_version() {
    local home=$1 v=""
    [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 1
    if [ -r "$home/release" ]; then
        v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release")
    fi
    if [ -z "$v" ]; then
        v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)
    fi
    v=${v#1.}            # 1.8.0_x -> 8.0_x
    v=${v%%[!0-9]*}      # 25.0.3 -> 25, 26-ea -> 26
    [ -n "$v" ] || return 1
    printf '%s\n' "$v"
}

# Prints the home of the JDK to use, or returns 1 if there is none.
vmm_find_jdk() {
    local home v best="" best_v=0
    if [ -n "${JAVA_HOME:-}" ] && v=$(vmm_jdk_version "$JAVA_HOME") && [ "$v" -ge "$VMM_MIN_JAVA" ]; then
        printf '%s\n' "$JAVA_HOME"; return 0
    fi
    home=/usr/lib/jvm/temurin-25-jdk-amd64
    if v=$(vmm_jdk_version "$home") && [ "$v" -ge "$VMM_MIN_JAVA" ]; then
        printf '%s\n' "$home"; return 0
    fi
    for home in /usr/lib/jvm/*; do
        [ -d "$home" ] || continue
        if v=$(vmm_jdk_version "$home") && [ "$v" -ge "$VMM_MIN_JAVA" ] && [ "$v" -gt "$best_v" ]; then
            best=$home; best_v=$v
        fi
    done
    [ -n "$best" ] || return 1
    printf '%s\n' "$best"
}

# Exports JAVA_HOME and PATH for a JDK 25+, or prints what to install and exits 2.
vmm_require_jdk() {
    local home
    if ! home=$(vmm_find_jdk); then
        echo "no JDK $VMM_MIN_JAVA found: install Temurin $VMM_MIN_JAVA (apt package temurin-$VMM_MIN_JAVA-jdk from Adoptium) or set JAVA_HOME to a JDK $VMM_MIN_JAVA or newer" >&2
        exit 2
    fi
    export JAVA_HOME=$home
    case ":$PATH:" in
        "$JAVA_HOME/bin:"*) ;;
        *) export PATH="$JAVA_HOME/bin:$PATH" ;;
    esac
}
