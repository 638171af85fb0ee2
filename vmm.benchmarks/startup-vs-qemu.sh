#!/usr/bin/env bash
# Start-up side by side with QEMU, in one run, for the same machine (a PC with
# 64 MiB of RAM, one vCPU, COM1, and the same 64 KiB boot ROM):
#  1. time from process start to the guest's first output: the ROM's first
#     instructions write the marker "#go#" to COM1 (cnf/poweroff-rom.sh,
#     vmm_hello_rom), which each VMM sends to its standard output; the clock
#     (FirstOutput.java) starts just before the fork and stops when the marker
#     arrives. The ROM then powers the machine off (ACPI S5 through the PIIX4
#     PM block), so the process's whole lifetime is printed too;
#  2. resident memory without guest RAM: RssAnon + RssFile of the process
#     (/proc/PID/status) one second after the marker, while a second ROM keeps
#     the vCPU halted. Both keep guest RAM in a memfd (ours always; QEMU through
#     memory-backend-memfd), which the kernel counts as RssShmem, so it is out.
#     RssFile counts mapped files (the JVM's libjvm.so and AOT cache, QEMU's
#     binary and libraries) whether or not other processes share them.
# Pairs: KVM against QEMU with KVM (where /dev/kvm is usable; a kvm_pvm host's
# KVM emulates the guest, say so when quoting), and the software CPU
# (./vmm run --accel emu) against QEMU's TCG. Each side is run as a user runs
# it: ours as ./vmm (its AOT cache and JVM flags), QEMU with its defaults
# except -nodefaults (no VGA, NIC or default serial: ours has none either),
# -display none, -serial stdio and the memfd RAM backend. Rounds alternate the
# sides; each row prints the median and spread (min..max) and the ratio of the
# medians. The control row runs ours against itself, so a ratio's noise shows.
#
# Usage: vmm.benchmarks/startup-vs-qemu.sh [rounds (5)]
# Environment: VMM_JAVA_OPTS reaches ./vmm as usual; VMM=SCRIPT runs another ./vmm as ours; VMM_BEFORE=SCRIPT
# (an older checkout's ./vmm) adds it to every round, interleaved with ours, and prints before/after rows
# (on a shared, loaded host the only fair comparison). All are printed when set.
# Needs: qemu-system-x86 (apt-get install qemu-system-x86).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vmm_require_jdk
rounds=${1:-5}
bench_need "apt-get install qemu-system-x86" qemu-system-x86_64
vmm=${VMM:-$root/vmm}
# Builds and AOT caches, outside the measurement.
if [ -n "${VMM_BEFORE:-}" ]; then "$VMM_BEFORE" help > /dev/null; fi
"$vmm" help > /dev/null   # builds the jar and trains the AOT cache if needed, outside the measurement

work=$(mktemp -d /tmp/startup-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$root/cnf/poweroff-rom.sh"
vmm_hello_rom "$work/hello.rom"
vmm_hello_idle_rom "$work/idle.rom"
"$JAVA_HOME/bin/javac" -d "$work/classes" "$here/src/main/java/vmm/benchmarks/FirstOutput.java"
clock=("$JAVA_HOME/bin/java" -cp "$work/classes" vmm.benchmarks.FirstOutput)
marker='#go#'

kvm=0
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then kvm=1; fi

# ours_cmd / qemu_cmd ACCEL ROM: set cmd to the side's command line.
ours_cmd() { cmd=("$vmm" run --accel "$1" -m 64M -l com1,stdio -l bootrom,"$2"); }
before_cmd() { cmd=("$VMM_BEFORE" run --accel "$1" -m 64M -l com1,stdio -l bootrom,"$2"); }
qemu_cmd() {
    cmd=(qemu-system-x86_64 -accel "$1" -M pc -smp 1 -m 64M -display none -no-reboot -nodefaults -serial stdio
         -object memory-backend-memfd,id=ram,size=64M -machine memory-backend=ram -bios "$2")
}
timed() { # timed FILE-PREFIX SIDE ACCEL : appends first-output and exit ms
    local first end
    "$2"_cmd "$3" "$work/hello.rom"
    read -r first end < <("${clock[@]}" time "$marker" "${cmd[@]}")
    [ "$first" -ge 0 ] || { echo "no guest output from $2 ($3)" >&2; exit 1; }
    echo "$first" >> "$work/$1.first"; echo "$end" >> "$work/$1.exit"
}
resident() { # resident FILE-PREFIX SIDE ACCEL : appends RssAnon+RssFile, RssAnon, RssShmem (KiB), CPU ms
    local anon file shm cpu
    "$2"_cmd "$3" "$work/idle.rom"
    read -r anon file shm cpu < <("${clock[@]}" memory "$marker" 1000 "${cmd[@]}")
    echo $((anon + file)) >> "$work/$1.rss"; echo "$anon" >> "$work/$1.anon"; echo "$shm" >> "$work/$1.shm"
    echo "$cpu" >> "$work/$1.cpu"
}

pairs=()
[ "$kvm" = 1 ] && pairs+=("kvm:kvm")
pairs+=("emu:tcg")
for i in $(seq "$rounds"); do
    for pair in "${pairs[@]}"; do
        timed "ours-${pair%%:*}" ours "${pair%%:*}"
        timed "qemu-${pair##*:}" qemu "${pair##*:}"
    done
    control=$([ "$kvm" = 1 ] && echo kvm || echo emu)
    timed "control-$control" ours "$control"
    if [ -n "${VMM_BEFORE:-}" ]; then timed "before-$control" before "$control"; fi
done
for i in $(seq "$rounds"); do
    for pair in "${pairs[@]}"; do
        resident "ours-${pair%%:*}" ours "${pair%%:*}"
        resident "qemu-${pair##*:}" qemu "${pair##*:}"
    done
    if [ -n "${VMM_BEFORE:-}" ]; then resident "before-$control" before "$control"; fi
done

stat() { sort -n "$1" | awk '{ a[NR] = $1 } END { printf "%s %s %s\n", a[int((NR + 1) / 2)], a[1], a[NR] }'; }
row() { # row LABEL UNIT OURS-FILE OTHER-FILE
    local om olo ohi qm qlo qhi
    read -r om olo ohi < <(stat "$3"); read -r qm qlo qhi < <(stat "$4")
    printf '  %-40s %7s %-3s (%s..%s)   %7s %-3s (%s..%s)   %6.2f\n' "$1" "$om" "$2" "$olo" "$ohi" "$qm" "$2" "$qlo" "$qhi" \
        "$(awk -v a="$om" -v b="$qm" 'BEGIN { print a / b }')"
}
echo "start-up against QEMU ($(qemu-system-x86_64 --version | head -1)), $rounds alternating rounds, median (min..max):"
echo "  host: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg);" \
    "KVM: $([ "$kvm" = 1 ] && { find /sys/module -maxdepth 1 -name 'kvm_*' -printf '%f\n' | head -1 | grep . \
        || echo kvm; } || echo "not usable")" \
    "$(grep -qE 'vmx|svm' /proc/cpuinfo || echo "(no vmx/svm flag: this KVM emulates the guest)")"
if [ -n "${VMM_JAVA_OPTS:-}" ]; then echo "  ours with VMM_JAVA_OPTS=$VMM_JAVA_OPTS"; fi
ours_cmd ACCEL ROM; echo "  ours: ${VMM:-./vmm} ${cmd[*]:1}"
qemu_cmd ACCEL ROM; echo "  QEMU: ${cmd[*]}"
printf '  %-40s %27s   %27s   %6s\n' "" "ours" "QEMU (control: ours)" "ratio"
for pair in "${pairs[@]}"; do
    o=${pair%%:*}; q=${pair##*:}
    row "$o / $q: start to first guest output" ms "$work/ours-$o.first" "$work/qemu-$q.first"
    row "$o / $q: CPU time until first output" ms "$work/ours-$o.cpu" "$work/qemu-$q.cpu"
    row "$o / $q: whole process (off at once)" ms "$work/ours-$o.exit" "$work/qemu-$q.exit"
done
row "control: $control / $control, first output" ms "$work/ours-$control.first" "$work/control-$control.first"
for pair in "${pairs[@]}"; do
    o=${pair%%:*}; q=${pair##*:}
    row "$o / $q: RssAnon+RssFile, KiB" KiB "$work/ours-$o.rss" "$work/qemu-$q.rss"
    row "$o / $q: RssAnon alone, KiB" KiB "$work/ours-$o.anon" "$work/qemu-$q.anon"
done
if [ -n "${VMM_BEFORE:-}" ]; then
    echo "  before ($VMM_BEFORE) against after (ours), --accel $control, interleaved in the same rounds:"
    printf '  %-40s %27s   %27s   %6s\n' "" "after" "before" "ratio"
    row "after / before: first output" ms "$work/ours-$control.first" "$work/before-$control.first"
    row "after / before: CPU until first output" ms "$work/ours-$control.cpu" "$work/before-$control.cpu"
    row "after / before: whole process" ms "$work/ours-$control.exit" "$work/before-$control.exit"
    row "after / before: RssAnon+RssFile, KiB" KiB "$work/ours-$control.rss" "$work/before-$control.rss"
fi
echo "  CPU time: user + system of the process and its waited-for children when the output came (10 ms ticks)," \
    "in the memory runs"
echo "  memory: 1 s after the first output, the vCPU halted; guest RAM (RssShmem) left out:" \
    "ours $(stat "$work/ours-${pairs[0]%%:*}.shm" | cut -d' ' -f1) KiB," \
    "QEMU $(stat "$work/qemu-${pairs[0]##*:}.shm" | cut -d' ' -f1) KiB"
