#!/usr/bin/env bash
# Linux to a shell on the software CPU (vmm.emu) side by side with QEMU's TCG, in one run: Debian's cloud kernel
# (the bzImage as installed), the same initramfs (Debian's static busybox; its /init mounts devtmpfs, starts a
# busybox shell that prints a marker on ttyS0, and powers off), the same command line
# ("console=ttyS0 nokaslr mitigations=off"), two vCPUs and 512 MiB on both, and no device but COM1.
# Each side as a user runs it: ours `./vmm run --accel emu` (the translator on, its default), QEMU
# `-accel tcg` with its default CPU model (qemu64) and `-nodefaults -serial stdio` (so it has COM1 only, as
# ours does; named because it is not QEMU's default). Rows: process start to the shell's marker, and process
# start to the kernel's first line on the console; rounds alternate ours and QEMU; each row prints the median
# and the spread (min..max) and the ratio of the medians; the control row runs ours against a second series of
# ours, so the noise of a ratio is visible. With INTERPRETER=1 also ours with the interpreter only
# (-Dvmm.emu.jit=false; minutes a boot). The loops' MIPS, interpreter and translator, are emu-vs-qemu.sh's.
# Timed on whatever machine runs it: compare ratios, not absolute figures.
#
# Usage: vmm.benchmarks/linux-vs-qemu.sh [rounds (3)]
# Environment: KERNEL (default: the newest /boot/vmlinuz-*-cloud-amd64), CMDLINE_EXTRA (appended on both sides),
# INTERPRETER=1 (the interpreter row).
# Needs: qemu-system-x86, linux-image-cloud-amd64, busybox-static, cpio.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vmm_require_jdk
rounds=${1:-3}
kernel=${KERNEL:-$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1)}
cmdline="console=ttyS0 nokaslr mitigations=off${CMDLINE_EXTRA:+ $CMDLINE_EXTRA}"
marker=VMM-BENCH-SHELL-UP
bench_need "apt-get install qemu-system-x86" qemu-system-x86_64
[ -n "$kernel" ] && [ -r "$kernel" ] || { echo "missing a cloud kernel: apt-get install linux-image-cloud-amd64" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "missing /bin/busybox: apt-get install busybox-static" >&2; exit 2; }
bench_need "apt-get install cpio" cpio
(cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn -B -q -DskipTests -pl vmm.launcher -am package)
"$root/vmm" help > /dev/null   # builds the jar and trains the AOT cache if needed, outside the measurement

work=$(mktemp -d /tmp/linux-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

# The initramfs: busybox, and an /init that reaches a shell, which prints the marker; then power off.
mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc" "$work/root/sys"
cp /bin/busybox "$work/root/bin/busybox"
cat > "$work/root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
sh -c 'echo $marker' > /dev/ttyS0
poweroff -f
EOF
chmod 755 "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --owner 0:0 --quiet > "$work/initrd.cpio")

ours() { "$root/vmm" run --accel emu -c 2 -m 512M --kernel "$kernel" --initrd "$work/initrd.cpio" --cmdline "$cmdline" -l com1,stdio; }
interp() { VMM_JAVA_OPTS="-Dvmm.emu.jit=false ${VMM_JAVA_OPTS:-}" ours; }
qemu() {
    qemu-system-x86_64 -accel tcg -M pc -smp 2 -m 512M -display none -nographic -no-reboot -nodefaults -serial stdio \
        -kernel "$kernel" -initrd "$work/initrd.cpio" -append "$cmdline"
}

# boot SIDE SERIES: one boot; appends process start to the kernel's first console line and to the marker (ms).
boot() {
    local t0 tk="" tm="" line
    t0=$EPOCHREALTIME
    while IFS= read -r line; do
        [ -n "$tk" ] || tk=$EPOCHREALTIME
        case $line in *"$marker"*) [ -n "$tm" ] || tm=$EPOCHREALTIME ;; esac
    done < <("$1" < /dev/null 2> /dev/null)
    if [ -z "$tm" ]; then
        echo "$1: the shell's marker never came on COM1" >&2
        exit 1
    fi
    awk -v a="$t0" -v b="$tk" 'BEGIN { printf "%d\n", (b - a) * 1000 }' >> "$work/$2.kernel"
    awk -v a="$t0" -v b="$tm" 'BEGIN { printf "%d\n", (b - a) * 1000 }' >> "$work/$2.shell"
}

for i in $(seq "$rounds"); do
    boot ours ours
    boot qemu qemu
    [ "${INTERPRETER:-0}" != 1 ] || boot interp interp
    boot ours control
    echo "round $i of $rounds done" >&2
done

stat() { sort -n "$1" | awk '{ a[NR] = $1 } END { printf "%s %s %s\n", a[int((NR + 1) / 2)], a[1], a[NR] }'; }
row() { # row LABEL OURS-FILE OTHER-FILE
    read -r om olo ohi < <(stat "$2"); read -r qm qlo qhi < <(stat "$3")
    printf '  %-44s %8s ms (%s..%s)   %8s ms (%s..%s)   %6.2f\n' "$1" "$om" "$olo" "$ohi" "$qm" "$qlo" "$qhi" \
        "$(awk -v a="$om" -v b="$qm" 'BEGIN { print a / b }')"
}
echo "Linux to a shell: vmm.emu (./vmm run --accel emu) against QEMU TCG (-accel tcg, cpu qemu64, -nodefaults -serial stdio),"
echo "$(basename "$kernel"), 2 vCPUs, 512 MiB, cmdline \"$cmdline\", $rounds alternating rounds, median (min..max):"
printf '  %-44s %26s   %26s   %6s\n' "" "ours" "QEMU TCG (or ours, control)" "ratio"
row "start to the shell's marker, translator" "$work/ours.shell" "$work/qemu.shell"
[ "${INTERPRETER:-0}" != 1 ] || row "start to the shell's marker, interpreter" "$work/interp.shell" "$work/qemu.shell"
row "start to the kernel's first line, translator" "$work/ours.kernel" "$work/qemu.kernel"
row "control: start to the marker, ours/ours" "$work/ours.shell" "$work/control.shell"
