#!/usr/bin/env bash
# Start-up cost side by side, in one run, for an equivalent machine (a PC
# with 64 MiB of RAM and the same 64 KiB boot ROM, one vCPU, KVM):
#  1. time from process start until the guest's first instructions have run:
#     the ROM's reset vector powers the machine off at once (SLP_EN to the PM1a
#     control register at 0x604 for us; QEMU's isa-debug-exit at the same port),
#     so the process's wall time is start-up plus a few guest instructions;
#  2. the resident memory of the VMM process itself, guest RAM excluded: both
#     run with their guest RAM in a shared memfd (ours always; QEMU through
#     memory-backend-memfd), so RssAnon + RssFile is the VMM's own, RssShmem
#     the guest's; measured while a second ROM keeps the vCPU halted.
# The VMM is run as users run it: ./vmm (which execs java -jar vmm.jar with its AOT cache).
# Usage: vmm.benchmarks/startup-vs-qemu.sh [runs (5)]
# Needs: /dev/kvm, qemu-system-x86 (apt-get install qemu-system-x86).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$root/cnf/jdk.sh"
vmm_require_jdk
runs=${1:-5}
command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "missing qemu-system-x86_64: apt-get install qemu-system-x86" >&2; exit 2; }
[ -c /dev/kvm ] || { echo "no /dev/kvm on this host" >&2; exit 2; }
(cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn -B -q -DskipTests -pl vmm.launcher -am package)

work=$(mktemp -d /tmp/startup-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

# The same 64 KiB ROMs for both (cnf/poweroff-rom.sh): "off" enables the PIIX4 PM block and powers
# off through S5 at its first instructions; "idle" halts.
. "$root/cnf/poweroff-rom.sh"
vmm_poweroff_rom "$work/off.rom"
vmm_idle_rom "$work/idle.rom"

ours=(vmm_cmd "$root/vmm" run -m 64M -l bootrom,ROM)
"$root/vmm" help > /dev/null   # builds the jar and trains the AOT cache if needed, outside the measurement
qemu=(qemu_cmd qemu-system-x86_64 -enable-kvm -M pc -smp 1 -m 64M -display none -nographic -no-reboot -nodefaults
      -object memory-backend-memfd,id=ram,size=64M -machine memory-backend=ram -bios ROM
      -device isa-debug-exit,iobase=0x604,iosize=2)

run() { # run ROM COMMAND... : prints the wall time in ms
    local rom=$1; shift; shift
    local args=("${@//ROM/$rom}")
    local t0 t1
    t0=$(date +%s%N)
    "${args[@]}" < /dev/null > /dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for i in $(seq "$runs"); do
    run "$work/off.rom" "${ours[@]}" >> "$work/ours.ms"
    run "$work/off.rom" "${qemu[@]}" >> "$work/qemu.ms"
done
ours_ms=$(median < "$work/ours.ms"); qemu_ms=$(median < "$work/qemu.ms")

rss() { # rss ROM COMMAND... : RssAnon+RssFile and RssShmem in KiB, 3 s after start
    local rom=$1; shift; shift
    local args=("${@//ROM/$rom}")
    "${args[@]}" < /dev/null > /dev/null 2>&1 &
    local pid=$!
    sleep 3
    local own shm
    own=$(awk '/^RssAnon|^RssFile/ { s += $2 } END { print s }' /proc/$pid/status)
    shm=$(awk '/^RssShmem/ { print $2 }' /proc/$pid/status)
    kill $pid; wait $pid 2>/dev/null || true
    echo "$own $shm"
}
read -r ours_kb ours_shm < <(rss "$work/idle.rom" "${ours[@]}")
read -r qemu_kb qemu_shm < <(rss "$work/idle.rom" "${qemu[@]}")

echo "start-up to the guest's first instructions (median of $runs, wall time of the whole process):"
printf '  %-6s %8d ms\n  %-6s %8d ms\n  ratio ours/QEMU %.2f\n' vmm "$ours_ms" qemu "$qemu_ms" "$(echo "$ours_ms $qemu_ms" | awk '{ print $1 / $2 }')"
echo "resident memory of the VMM itself (RssAnon + RssFile; guest RAM in RssShmem excluded):"
printf '  %-6s %8d KiB (guest RAM touched: %d KiB)\n  %-6s %8d KiB (guest RAM touched: %d KiB)\n  ratio ours/QEMU %.2f\n' \
    vmm "$ours_kb" "$ours_shm" qemu "$qemu_kb" "$qemu_shm" "$(echo "$ours_kb $qemu_kb" | awk '{ print $1 / $2 }')"
