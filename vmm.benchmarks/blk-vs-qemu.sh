#!/usr/bin/env bash
# Side-by-side block benchmark, in one run: the same user-mode Linux guest
# and the same fio jobs against device.virtio-block served by vmm.vhost-user,
# and against qemu-storage-daemon's vhost-user-blk export of the same image.
# Prints IOPS and bandwidth for each job and the ratio ours/QEMU.
# Usage: vmm.benchmarks/blk-vs-qemu.sh [seconds-per-job (default 5)]
# Needs: user-mode-linux, busybox-static, fio, qemu-system-common (.ci/run installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$root/cnf/jdk.sh"
vmm_require_jdk
runtime=${1:-5}
for tool in linux.uml busybox fio qemu-storage-daemon; do
    command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: apt-get install user-mode-linux busybox-static fio qemu-system-common" >&2; exit 2; }
done

(cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn -B -q -DskipTests -pl vmm.benchmarks -am package)
cp="$here/target/classes:$(cat "$here/target/runtime.classpath")"

work=$(mktemp -d /tmp/blk-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
image=$work/disk.img
fallocate -l 512M "$image"

jobs=(
  "randread-4k-qd1   --rw=randread  --bs=4k --iodepth=1"
  "randread-4k-qd32  --rw=randread  --bs=4k --iodepth=32"
  "randwrite-4k-qd1  --rw=randwrite --bs=4k --iodepth=1"
  "randwrite-4k-qd32 --rw=randwrite --bs=4k --iodepth=32"
  "read-1m           --rw=read      --bs=1M --iodepth=4"
  "write-1m          --rw=write     --bs=1M --iodepth=4"
)

# Runs every job in one UML boot against the vhost-user socket $1; terse results to $2.
run_guest() {
    local sock=$1 out=$2 init=$work/init.sh
    {
        echo '#!/bin/sh'
        echo 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin'
        echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
        echo 'busybox insmod /usr/lib/uml/modules/$(uname -r)/kernel/drivers/block/virtio_blk.ko'
        echo 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/block/vda ] && break; sleep 0.2; done'
        for j in "${jobs[@]}"; do
            set -- $j
            name=$1; shift
            echo "fio --name=$name --filename=/dev/vda --ioengine=libaio --direct=1 --size=256M --time_based --runtime=$runtime --ramp_time=1 $* --output-format=terse --terse-version=3 >> $out 2>&1"
        done
        echo 'busybox poweroff -f'
    } > "$init"
    chmod +x "$init"
    : > "$out"
    timeout $((runtime * 12 + 120)) linux.uml mem=256M rootfstype=hostfs rootflags=/ rw init="$init" \
        virtio_uml.device="$sock:2" con=null con0=null,fd:1 < /dev/null > "$out.console" 2>&1
}

# ours
mkfifo "$work/ours.in"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" vmm.benchmarks.ServeBlock "$work/ours.sock" "$image" \
    < "$work/ours.in" > "$work/ours.log" 2>&1 &
ours=$!
exec 7> "$work/ours.in"
for i in $(seq 100); do [ -S "$work/ours.sock" ] && break; sleep 0.1; done
run_guest "$work/ours.sock" "$work/ours.terse"
exec 7>&-
wait $ours || true

# QEMU
qemu-storage-daemon --blockdev driver=file,node-name=file,filename="$image",cache.direct=off \
    --blockdev driver=raw,node-name=disk,file=file \
    --export type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path="$work/qemu.sock",writable=on \
    > "$work/qemu.log" 2>&1 &
qemu=$!
for i in $(seq 100); do [ -S "$work/qemu.sock" ] && break; sleep 0.1; done
run_guest "$work/qemu.sock" "$work/qemu.terse"
kill $qemu; wait $qemu 2>/dev/null || true

# terse v3: field 3 name, 7 read KiB/s, 8 read IOPS, 48 write KiB/s, 49 write IOPS
summary() { awk -F';' '$1 == "3" { r = ($8 > 0); print $3, (r ? $8 : $49), (r ? $7 : $48) }' "$1"; }
summary "$work/ours.terse" > "$work/ours.sum"
summary "$work/qemu.terse" > "$work/qemu.sum"
if [ ! -s "$work/ours.sum" ] || [ ! -s "$work/qemu.sum" ]; then
    echo "a guest run produced no fio results; consoles:" >&2
    tail -20 "$work/ours.terse.console" "$work/qemu.terse.console" >&2
    exit 1
fi
echo "user-mode Linux virtio_blk, fio libaio direct, ${runtime}s per job, same 512 MiB image"
printf '%-18s %12s %12s %12s %12s %8s\n' job ours-IOPS qemu-IOPS ours-MiB/s qemu-MiB/s ratio
paste -d' ' "$work/ours.sum" "$work/qemu.sum" |
    awk '{ printf "%-18s %12.0f %12.0f %12.1f %12.1f %8.2f\n", $1, $2, $5, $3/1024, $6/1024, ($5 > 0 ? $2/$5 : 0) }'
