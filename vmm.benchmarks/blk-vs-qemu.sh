#!/usr/bin/env bash
# Side-by-side block benchmark, in one run: one user-mode Linux guest with two
# virtio_blk disks over the same image file, one served by device.virtio-block
# through vmm.vhost-user (serial "ours"), the other by qemu-storage-daemon's
# vhost-user-blk export. Each fio job runs on both disks back to back, in
# alternating order (ours first in even rounds, QEMU first in odd ones, and the
# other way round for the next job), so load from other processes and the
# state of the host's page cache fall on both sides alike. Prints IOPS and
# bandwidth for each job (mean over the rounds), the ratio ours/QEMU, and the
# ratio of each round.
#
# Cache mode, the same on both sides: buffered I/O through the host page cache
# (no O_DIRECT; QEMU's cache.direct=off) and no fdatasync per write: ours
# offers a writeback cache (wce=1, the default); QEMU's export keeps its write
# cache on (writethrough=off, its default) although the guest sees
# "write through" (QEMU 7.2's export leaves the config's wce at 0). fio runs
# direct=1 on the raw disks and never flushes, so neither side syncs.
#
# Usage: vmm.benchmarks/blk-vs-qemu.sh [seconds-per-job (default 5)] [rounds (default 2)]
# Needs: user-mode-linux, busybox-static, fio, qemu-system-common (.ci/run installs them).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# UML 6.1 needs this ptrace shim on hosts with AVX-512 or AMX (cnf/uml-xstate-shim.c says why).
uml_shim=$(bash "$root/cnf/uml-shim.sh") || exit 2
vmm_require_jdk
runtime=${1:-5}
rounds=${2:-2}
bench_need "apt-get install user-mode-linux busybox-static fio qemu-system-common" linux.uml busybox fio qemu-storage-daemon

(cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn -B -q -DskipTests -pl vmm.benchmarks -am package)
cp="$here/target/classes:$(cat "$here/target/runtime.classpath")"

work=$(mktemp -d /tmp/blk-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
image=$work/disk.img
# Written once (not fallocated), so no write converts an unwritten extent and both sides find it in the page cache.
dd if=/dev/zero of="$image" bs=1M count=512 conv=fsync status=none

jobs=(
  "randread-4k-qd1   --rw=randread  --bs=4k --iodepth=1"
  "randread-4k-qd32  --rw=randread  --bs=4k --iodepth=32"
  "randwrite-4k-qd1  --rw=randwrite --bs=4k --iodepth=1"
  "randwrite-4k-qd32 --rw=randwrite --bs=4k --iodepth=32"
  "read-1m           --rw=read      --bs=1M --iodepth=4"
  "write-1m          --rw=write     --bs=1M --iodepth=4"
)

mkfifo "$work/ours.in"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" vmm.benchmarks.ServeBlock "$work/ours.sock" "$image" serial=ours \
    < "$work/ours.in" > "$work/ours.log" 2>&1 &
ours=$!
exec 7> "$work/ours.in"
qemu-storage-daemon --blockdev driver=file,node-name=file,filename="$image",cache.direct=off \
    --blockdev driver=raw,node-name=disk,file=file \
    --export type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path="$work/qemu.sock",writable=on \
    > "$work/qemu.log" 2>&1 7>&- &
qemu=$!
for i in $(seq 200); do [ -S "$work/ours.sock" ] && [ -S "$work/qemu.sock" ] && break; sleep 0.1; done

init=$work/init.sh
{
    echo '#!/bin/sh'
    echo 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin'
    echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
    echo 'busybox insmod /usr/lib/uml/modules/$(uname -r)/kernel/drivers/block/virtio_blk.ko'
    echo 'for i in $(seq 50); do [ -e /sys/block/vdb ] && break; sleep 0.2; done'
    echo 'for d in vda vdb; do if [ "$(cat /sys/block/$d/serial)" = ours ]; then OURS=$d; else QEMU=$d; fi; done'
    echo "echo \"ours /dev/\$OURS: \$(cat /sys/block/\$OURS/queue/write_cache); qemu /dev/\$QEMU: \$(cat /sys/block/\$QEMU/queue/write_cache)\" > $work/cache-modes"
    # Untimed warm-up of both servers (our JIT compiles the request path here rather than in the first job).
    echo 'for d in $OURS $QEMU; do'
    echo "  fio --name=warm --filename=/dev/\$d --ioengine=libaio --direct=1 --size=256M --time_based --runtime=3 --rw=randrw --bs=4k --iodepth=1 > /dev/null 2>&1"
    echo "  fio --name=warm --filename=/dev/\$d --ioengine=libaio --direct=1 --size=256M --time_based --runtime=2 --rw=randrw --bs=4k --iodepth=16 > /dev/null 2>&1"
    echo "  fio --name=warm --filename=/dev/\$d --ioengine=libaio --direct=1 --size=256M --time_based --runtime=2 --rw=rw --bs=1M --iodepth=4 > /dev/null 2>&1"
    echo 'done'
    k=0
    for j in "${jobs[@]}"; do
        set -- $j
        name=$1; shift
        for r in $(seq 0 $((rounds - 1))); do
            if [ $(((k + r) % 2)) -eq 0 ]; then order="OURS:ours QEMU:qemu"; else order="QEMU:qemu OURS:ours"; fi
            for side in $order; do
                # A line in marks before and after each job: the host samples both servers' CPU time on each.
                echo "echo $name ${side##*:} >> $work/marks; sleep 0.5"
                echo "fio --name=$name --filename=/dev/\$${side%%:*} --ioengine=libaio --direct=1 --size=256M --time_based --runtime=$runtime $* --output-format=terse --terse-version=3 >> $work/${side##*:}.terse 2>&1"
                echo "echo end >> $work/marks; sleep 0.5"
            done
        done
        k=$((k + 1))
    done
    echo 'busybox poweroff -f'
} > "$init"
chmod +x "$init"
: > "$work/ours.terse"; : > "$work/qemu.terse"; : > "$work/marks"; : > "$work/samples"
LD_PRELOAD="$uml_shim" timeout $(((runtime + 4) * ${#jobs[@]} * rounds * 2 + 180)) linux.uml mem=256M rootfstype=hostfs rootflags=/ rw init="$init" \
    virtio_uml.device="$work/ours.sock:2:0" virtio_uml.device="$work/qemu.sock:2:1" con=null con0=null,fd:1 \
    < /dev/null > "$work/console" 2>&1 &
uml=$!
# Server CPU time (user + system, clock ticks, every thread: JIT and GC included) at each line the guest adds to marks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
seen=0
while kill -0 $uml 2>/dev/null; do
    n=$(wc -l < "$work/marks")
    if [ "$n" -gt "$seen" ]; then
        echo "$n $(cpu $ours) $(cpu $qemu)" >> "$work/samples"
        seen=$n
    fi
    sleep 0.02
done
wait $uml || true
exec 7>&-
wait $ours || true
kill $qemu; wait $qemu 2>/dev/null || true

# terse v3: field 3 name, 7 read KiB/s, 8 read IOPS, 48 write KiB/s, 49 write IOPS
summary() { awk -F';' '$1 == "3" { r = ($8 > 0); print $3, (r ? $8 : $49), (r ? $7 : $48) }' "$1"; }
summary "$work/ours.terse" > "$work/ours.sum"
summary "$work/qemu.terse" > "$work/qemu.sum"
if [ ! -s "$work/ours.sum" ] || [ "$(wc -l < "$work/ours.sum")" != "$(wc -l < "$work/qemu.sum")" ]; then
    echo "the guest run produced no or unequal fio results; console:" >&2
    tail -30 "$work/console" >&2
    exit 1
fi
# Server CPU per job run: the serving side's ticks between the run's two marks (a pair the sampler missed counts as unknown).
awk -v hz="$(getconf CLK_TCK)" 'NR == FNR { at[$1] = $0; next }
     { i = FNR * 2 - 1; split(at[i], a, " "); split(at[i + 1], b, " ")
       col = ($2 == "ours") ? 2 : 3
       print $1, $2, ((i in at) && (i + 1 in at)) ? (b[col] - a[col]) * 1000000 / hz : -1 }' \
    "$work/samples" <(grep -v '^end$' "$work/marks") > "$work/cpu"
echo "user-mode Linux virtio_blk, fio libaio direct, ${runtime}s per job, $rounds rounds alternating ours/QEMU, same 512 MiB image"
echo "host page cache on both sides, no sync per write; guest sees $(cat "$work/cache-modes" 2>/dev/null || echo '?')"
echo "us/req: the server's CPU time (all threads) per request; ratio: ours/QEMU IOPS (mean), then each round's"
printf '%-18s %10s %10s %10s %10s %8s %8s %6s  %s\n' job ours-IOPS qemu-IOPS ours-MiB/s qemu-MiB/s ours-us qemu-us ratio per-round
paste -d' ' "$work/ours.sum" "$work/qemu.sum" |
    awk -v rt="$runtime" 'NR == FNR { if ($3 >= 0) { c[$1 " " $2] += $3 } else { bad[$1 " " $2] = 1 }; next }
         { n[$1]++; oi[$1] += $2; ob[$1] += $3; qi[$1] += $5; qb[$1] += $6
           rr[$1] = rr[$1] sprintf(" %.2f", ($5 > 0 ? $2 / $5 : 0))
           if (!($1 in seen)) { seen[$1] = 1; order[++m] = $1 } }
         END { for (i = 1; i <= m; i++) { j = order[i]
                 ou = (j " ours" in bad || oi[j] == 0) ? "?" : sprintf("%.1f", c[j " ours"] / (oi[j] * rt))
                 qu = (j " qemu" in bad || qi[j] == 0) ? "?" : sprintf("%.1f", c[j " qemu"] / (qi[j] * rt))
                 printf "%-18s %10.0f %10.0f %10.1f %10.1f %8s %8s %6.2f %s\n", j, oi[j] / n[j], qi[j] / n[j], ob[j] / n[j] / 1024, qb[j] / n[j] / 1024,
                        ou, qu, (qi[j] > 0 ? oi[j] / qi[j] : 0), rr[j] } }' "$work/cpu" -
