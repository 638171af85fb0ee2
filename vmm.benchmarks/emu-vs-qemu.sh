#!/usr/bin/env bash
# The software CPU (vmm.emu) side by side with QEMU's TCG, in one run, each as
# a user runs it by default (ours: ./vmm run --accel emu; QEMU: -accel tcg with
# its default CPU model, qemu64), ours twice: with the bytecode translator (the default) and interpreted only
# (-Dvmm.emu.jit=false):
#  1. guest instructions per second on a register loop (dec ecx; jnz) and on a
#     memory loop (load, read-modify-write, two ALU ops, dec, jnz: 6 instructions
#     with two memory accesses per iteration), both in real mode from the same
#     64 KiB boot ROM. Each loop runs N iterations and then powers the machine
#     off; the rate is 2N (6N) instructions over the wall time of the N run
#     minus that of the same ROM with N = 1, so process start-up cancels out;
#  2. process start to a boot sector: Debian's SeaBIOS boots a one-sector
#     disk on virtio-blk, whose code prints "B" on COM1 and powers the machine
#     off through ACPI S5; and, in the same runs, SeaBIOS's banner on COM1 to
#     that "B" (both sides print SeaBIOS on COM1: ours does when COM1 is
#     configured, QEMU is told by fw_cfg's etc/sercon-port, named in the output).
# Rounds alternate ours and QEMU; each row prints the median and the spread
# (min..max) of its rounds, and the ratio of the medians. The control row
# runs our register loop against itself, so the noise of a ratio is visible.
# Timed on whatever machine runs it: compare ratios, not absolute figures.
#
# Usage: vmm.benchmarks/emu-vs-qemu.sh [rounds (5)]
# Environment: ITER_OURS (default 30000000, the interpreter), ITER_JIT (default
# 300000000, the translator) and ITER_QEMU (default 1000000000), the loop
# iterations of each side (the faster ones need more to rise above their
# start-up noise).
# Needs: qemu-system-x86 and seabios (apt-get install qemu-system-x86 seabios).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vmm_require_jdk
rounds=${1:-5}
iter_ours=${ITER_OURS:-30000000}
iter_jit=${ITER_JIT:-300000000}
iter_qemu=${ITER_QEMU:-1000000000}
seabios=/usr/share/seabios/bios-256k.bin
bench_need "apt-get install qemu-system-x86" qemu-system-x86_64
[ -r "$seabios" ] || { echo "missing $seabios: apt-get install seabios" >&2; exit 2; }
(cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn -B -q -DskipTests -pl vmm.launcher -am package)
"$root/vmm" help > /dev/null   # builds the jar and trains the AOT cache if needed, outside the measurement

work=$(mktemp -d /tmp/emu-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
. "$root/cnf/poweroff-rom.sh"

# Little-endian imm32 as printf escapes.
le32() { local v=$1; printf '\\%03o\\%03o\\%03o\\%03o' $((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255)); }
# The power-off tail of cnf/poweroff-rom.sh: PIIX4 PM block at 0x600, enabled, then SLP_EN to PM1a_CNT.
off='\272\370\014\146\270\100\013\000\200\146\357\272\374\014\146\270\001\006\000\000\146\357\272\370\014\146\270\200\013\000\200\146\357\272\374\014\260\001\356\272\004\006\270\000\040\357\364\353\375'
reset='\351\015\360'   # jmp 0xf000 from the reset vector

# Register loop at 0xF000: mov ecx,N ; l: dec ecx ; jnz l ; power off.
reg_rom() { vmm_rom "\146\271$(le32 "$1")\146\111\165\374$off" "$reset" "$2"; }
# Memory loop: mov ax,0x1000 ; mov ds,ax ; xor si,si ; mov ecx,N ;
# l: mov eax,[si] ; add [si+4],eax ; add si,4 ; and si,0xffc ; dec ecx ; jnz l ; power off.
mem_rom() {
    vmm_rom "\270\000\020\216\330\061\366\146\271$(le32 "$1")\146\213\004\146\001\104\004\203\306\004\201\346\374\017\146\111\165\356$off" \
        "$reset" "$2"
}
reg_rom 1 "$work/reg0.rom"; reg_rom "$iter_ours" "$work/reg-interp.rom"; reg_rom "$iter_qemu" "$work/reg-qemu.rom"
mem_rom 1 "$work/mem0.rom"; mem_rom "$iter_ours" "$work/mem-interp.rom"; mem_rom "$iter_qemu" "$work/mem-qemu.rom"
reg_rom "$iter_jit" "$work/reg-jit.rom"; mem_rom "$iter_jit" "$work/mem-jit.rom"

# A boot sector that prints "B\n" on COM1 and powers off (SeaBIOS has placed the PM block at 0x600 on both):
# mov dx,0x3f8 ; mov al,'B' ; out dx,al ; mov al,10 ; out dx,al ; mov dx,0x604 ; mov ax,0x2000 ; out dx,ax ;
# hlt ; jmp $-1, then the 0x55AA signature.
{
    printf '\272\370\003\260\102\356\260\012\356\272\004\006\270\000\040\357\364\353\375'
    head -c $((510 - 19)) /dev/zero
    printf '\125\252'
} > "$work/boot.img"
printf '\370\003' > "$work/sercon-port"   # fw_cfg etc/sercon-port: 0x3f8, little-endian
head -c $((1 << 20)) /dev/zero >> "$work/boot.img"

jit_rom() { "$root/vmm" run --accel emu -m 64M -l bootrom,"$1"; }
interp_rom() { VMM_JAVA_OPTS="-Dvmm.emu.jit=false ${VMM_JAVA_OPTS:-}" "$root/vmm" run --accel emu -m 64M -l bootrom,"$1"; }
qemu_rom() {
    qemu-system-x86_64 -accel tcg -M pc -smp 1 -m 64M -display none -nographic -no-reboot -nodefaults \
        -bios "$1" -device isa-debug-exit,iobase=0x604,iosize=2
}
jit_disk() { "$root/vmm" run --accel emu -m 64M -s 4,virtio-blk,"$work/boot.img" -l com1,stdio -l bootrom,"$seabios"; }
interp_disk() {
    VMM_JAVA_OPTS="-Dvmm.emu.jit=false ${VMM_JAVA_OPTS:-}" "$root/vmm" run --accel emu -m 64M \
        -s 4,virtio-blk,"$work/boot.img" -l com1,stdio -l bootrom,"$seabios"
}
qemu_disk() {
    qemu-system-x86_64 -accel tcg -M pc -smp 1 -m 64M -display none -nographic -no-reboot -nodefaults -bios "$seabios" \
        -drive file="$work/boot.img",if=none,id=d,format=raw -device virtio-blk-pci,drive=d \
        -serial stdio -fw_cfg name=etc/sercon-port,file="$work/sercon-port"
}

# disk_run SIDE: boots the disk once; appends process start to exit (ms) to $work/SIDE.disk and SeaBIOS's
# banner to the boot sector's "B" (ms) to $work/SIDE.banner, both read off COM1 as the lines arrive.
disk_run() {
    local t0 t1 tb="" tsec="" line
    t0=$EPOCHREALTIME
    while IFS= read -r line; do
        case $line in
            *"SeaBIOS (version"*) [ -n "$tb" ] || tb=$EPOCHREALTIME ;;
            B | *"Disk..B") tsec=$EPOCHREALTIME ;;
        esac
    done < <("${1}_disk" < /dev/null 2> /dev/null)
    t1=$EPOCHREALTIME
    if [ -z "$tb" ] || [ -z "$tsec" ]; then
        echo "$1: no SeaBIOS banner or no boot sector output on COM1" >&2
        exit 1
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d\n", (b - a) * 1000 }' >> "$work/$1.disk"
    awk -v a="$tb" -v b="$tsec" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }' >> "$work/$1.banner"
}

ms() { # ms COMMAND... : the wall time of the command in ms
    local t0 t1
    t0=$(date +%s%N)
    "$@" < /dev/null > /dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
}

for i in $(seq "$rounds"); do
    for side in jit interp qemu; do
        base_reg=$(ms "${side}_rom" "$work/reg0.rom"); loop_reg=$(ms "${side}_rom" "$work/reg-$side.rom")
        base_mem=$(ms "${side}_rom" "$work/mem0.rom"); loop_mem=$(ms "${side}_rom" "$work/mem-$side.rom")
        case $side in jit) iter=$iter_jit ;; interp) iter=$iter_ours ;; *) iter=$iter_qemu ;; esac
        awk -v n="$iter" -v b="$base_reg" -v l="$loop_reg" 'BEGIN { d = l - b; if (d < 1) d = 1; printf "%.1f\n", 2 * n / d / 1000 }' >> "$work/$side.reg"
        awk -v n="$iter" -v b="$base_mem" -v l="$loop_mem" 'BEGIN { d = l - b; if (d < 1) d = 1; printf "%.1f\n", 6 * n / d / 1000 }' >> "$work/$side.mem"
        disk_run "$side"
    done
    # The control: our register loop again, as a second series.
    base_reg=$(ms jit_rom "$work/reg0.rom"); loop_reg=$(ms jit_rom "$work/reg-jit.rom")
    awk -v n="$iter_jit" -v b="$base_reg" -v l="$loop_reg" 'BEGIN { d = l - b; if (d < 1) d = 1; printf "%.1f\n", 2 * n / d / 1000 }' >> "$work/control.reg"
done

stat() { sort -n "$1" | awk '{ a[NR] = $1 } END { printf "%s %s %s\n", a[int((NR + 1) / 2)], a[1], a[NR] }'; }
row() { # row LABEL UNIT OURS-FILE QEMU-FILE
    read -r om olo ohi < <(stat "$3"); read -r qm qlo qhi < <(stat "$4")
    printf '  %-42s %10s %-5s (%s..%s)   %10s %-5s (%s..%s)   %6.3f\n' "$1" "$om" "$2" "$olo" "$ohi" "$qm" "$2" "$qlo" "$qhi" \
        "$(awk -v a="$om" -v b="$qm" 'BEGIN { print a / b }')"
}
echo "vmm.emu (./vmm run --accel emu) against QEMU TCG (-accel tcg, cpu qemu64), $rounds alternating rounds, median (min..max):"
printf '  %-42s %29s   %29s   %6s\n' "" "ours" "QEMU TCG (or ours, control)" "ratio"
row "register loop, MIPS, translator" MIPS "$work/jit.reg" "$work/qemu.reg"
row "register loop, MIPS, interpreter" MIPS "$work/interp.reg" "$work/qemu.reg"
row "memory loop, MIPS, translator" MIPS "$work/jit.mem" "$work/qemu.mem"
row "memory loop, MIPS, interpreter" MIPS "$work/interp.mem" "$work/qemu.mem"
row "start to SeaBIOS boot sector, ms, translator" ms "$work/jit.disk" "$work/qemu.disk"
row "start to SeaBIOS boot sector, ms, interpreter" ms "$work/interp.disk" "$work/qemu.disk"
row "SeaBIOS banner to boot sector, ms, translator" ms "$work/jit.banner" "$work/qemu.banner"
row "SeaBIOS banner to boot sector, ms, interpreter" ms "$work/interp.banner" "$work/qemu.banner"
row "control: register loop, translator/itself" MIPS "$work/jit.reg" "$work/control.reg"
echo "  loops: $iter_jit iterations for the translator, $iter_ours interpreted, $iter_qemu for QEMU;" \
    "the rates subtract each side's N = 1 run"
echo "  boot: COM1 on stdio for both (ours: -l com1,stdio; QEMU: -serial stdio -fw_cfg name=etc/sercon-port, so SeaBIOS"
echo "  prints there as ours does by default with a COM1)"
