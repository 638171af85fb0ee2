#!/usr/bin/env bash
# Network benchmark, in one run: the same user-mode Linux guest (Linux's own
# virtio_net over vhost-user) and the same iperf3 runs against
# device.virtio-net and device.viona, each behind a TAP in a network
# namespace, and the host's own limit: the same iperf3 runs over a veth pair
# between two namespaces. Prints throughput (TCP both ways, UDP 1400-byte
# datagrams) and packets per second (UDP 64-byte datagrams), and the ratios
# viona/virtio-net and viona/veth.
# Usage: vmm.benchmarks/net-bench.sh [seconds-per-run (default 5)]
# Needs root (TAP, namespaces), user-mode-linux, busybox-static, iperf3, iproute2, jq.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# UML 6.1 needs this ptrace shim on hosts with AVX-512 or AMX (cnf/uml-xstate-shim.c says why).
uml_shim=$(bash "$root/cnf/uml-shim.sh") || exit 2
vmm_require_jdk
T=${1:-5}
[ "$(id -u)" = 0 ] || { echo "needs root: TAP devices and network namespaces" >&2; exit 2; }
bench_need "apt-get install user-mode-linux busybox-static iperf3 iproute2 jq" linux.uml busybox iperf3 ip jq

(cd "$root" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn -B -q -o -DskipTests -pl vmm.benchmarks -am package)
cp="$here/target/classes:$(cat "$here/target/runtime.classpath")"

work=$(mktemp -d /tmp/net-bench.XXXXXX)
tag=$$
namespaces=()
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

runs=(
  "tcp-tx   -t $T"
  "tcp-rx   -t $T -R"
  "udp-1400 -t $T -u -b 0 -l 1400"
  "udp-64   -t $T -u -b 0 -l 64"
)

# Prints the iperf3 client commands against $server, JSON to $prefix-<run>.json (the caller's locals).
client_commands() {
    for r in "${runs[@]}"; do
        set -- $r
        name=$1; shift
        echo "timeout $((T + 20)) iperf3 -c $server $* -J > $prefix-$name.json 2>&1; echo $name \$? >> $prefix.runs"
    done
}

# Boots UML against vhost-user socket $1; the guest runs every iperf3 run against $2, results as $3-<run>.json.
run_guest() {
    local sock=$1 server=$2 prefix=$3 init=$work/init.sh
    {
        echo '#!/bin/sh'
        echo 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin'
        echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
        echo 'm=/usr/lib/uml/modules/$(uname -r)/kernel'
        echo 'busybox insmod $m/net/core/failover.ko; busybox insmod $m/drivers/net/net_failover.ko; busybox insmod $m/drivers/net/virtio_net.ko'
        echo 'for i in $(seq 1 50); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done'
        echo "ip link set eth0 up; ip addr add ${server%.1}.2/24 dev eth0"
        echo 'for i in $(seq 1 50); do [ "$(cat /sys/class/net/eth0/operstate)" = up ] && break; sleep 0.1; done'
        echo "busybox ping -c 1 -W 2 $server > /dev/null 2>&1"
        client_commands
        echo 'busybox poweroff -f'
    } > "$init"
    chmod +x "$init"
    LD_PRELOAD="$uml_shim" timeout $((T * 12 + 120)) linux.uml mem=512M rootfstype=hostfs rootflags=/ rw init="$init" \
        virtio_uml.device="$sock:1" con=null con0=null,fd:1 < /dev/null > "$prefix.console" 2>&1 || true
}

# One implementation behind a TAP in a fresh namespace.
bench_device() {
    local impl=$1 net=$2 extra=$3
    local ns=vmmbench-$impl-$tag tap=vb${impl:(-3)}$tag
    ip netns add "$ns"; namespaces+=("$ns")
    mkfifo "$work/$impl.in"
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" vmm.benchmarks.ServeNet "$work/$impl.sock" "$impl" \
        "tap=$tap" mac=52:54:00:12:34:56 $extra < "$work/$impl.in" > "$work/$impl.log" 2>&1 &
    local server_pid=$!
    exec 7> "$work/$impl.in"
    for i in $(seq 100); do [ -S "$work/$impl.sock" ] && break; sleep 0.1; done
    ip link set "$tap" netns "$ns"
    ip -n "$ns" addr add "$net.1/24" dev "$tap"
    ip -n "$ns" link set "$tap" up
    # 7>&-: only this shell may hold the write end of the server's input, or it never sees EOF.
    ip netns exec "$ns" timeout $((T * 8 + 200)) iperf3 -s -B "$net.1" > "$work/$impl.iperf-server" 2>&1 7>&- &
    local iperf_pid=$!
    sleep 0.3
    run_guest "$work/$impl.sock" "$net.1" "$work/$impl" 7>&-
    kill $iperf_pid 2>/dev/null || true
    exec 7>&-
    wait $server_pid || true
    grep -h 'engine\|data path' "$work/$impl.log" | sed 's/^/  /' >&2 || true
}

bench_veth() {
    local a=vmmbench-va-$tag b=vmmbench-vb-$tag net=10.199.12
    ip netns add "$a"; namespaces+=("$a")
    ip netns add "$b"; namespaces+=("$b")
    ip link add vba$tag netns "$a" type veth peer name vbb$tag netns "$b"
    ip -n "$a" addr add "$net.2/24" dev vba$tag; ip -n "$a" link set vba$tag up
    ip -n "$b" addr add "$net.1/24" dev vbb$tag; ip -n "$b" link set vbb$tag up
    ip netns exec "$b" timeout $((T * 8 + 200)) iperf3 -s -B "$net.1" > "$work/veth.iperf-server" 2>&1 &
    local iperf_pid=$!
    sleep 0.3
    local server=$net.1 prefix=$work/veth
    client_commands | while read -r line; do ip netns exec "$a" sh -c "$line" || true; done
    kill $iperf_pid 2>/dev/null || true
}

echo "virtio-net ..." >&2; bench_device virtio-net 10.199.10 ""
echo "viona ..." >&2;      bench_device viona 10.199.11 "vhost-net=auto"
echo "veth ..." >&2;       bench_veth

# TCP: receiver's bits/s in Mbit/s. UDP: datagrams delivered per second (sent less lost), and their Mbit/s.
tcp() { jq -r '(.end.sum_received.bits_per_second // 0) / 1e6' "$1" 2>/dev/null || echo 0; }
udp_pps() { jq -r '((.end.sum.packets // 0) - (.end.sum.lost_packets // 0)) / (.end.sum.seconds // 1)' "$1" 2>/dev/null || echo 0; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

echo
echo "user-mode Linux virtio_net over vhost-user (device behind a TAP in a namespace) vs a veth pair; iperf3, ${T}s per run"
printf '%-22s %12s %12s %12s %10s %10s\n' run virtio-net viona veth viona/vnet viona/veth
for r in "${runs[@]}"; do
    set -- $r
    name=$1
    case $name in
        tcp-*) unit="Mbit/s"; f=tcp ;;
        udp-1400) unit="kpps"; f=udp_pps ;;
        udp-64) unit="kpps"; f=udp_pps ;;
    esac
    v=$($f "$work/virtio-net-$name.json"); o=$($f "$work/viona-$name.json"); h=$($f "$work/veth-$name.json")
    if [ "$unit" = kpps ]; then v=$(awk -v x="$v" 'BEGIN{print x/1000}'); o=$(awk -v x="$o" 'BEGIN{print x/1000}'); h=$(awk -v x="$h" 'BEGIN{print x/1000}'); fi
    printf '%-22s %12.1f %12.1f %12.1f %10s %10s\n' "$name ($unit)" "$v" "$o" "$h" "$(ratio "$o" "$v")" "$(ratio "$o" "$h")"
done
for impl in virtio-net viona; do
    [ -s "$work/$impl-tcp-tx.json" ] || { echo "no results from $impl; console:" >&2; tail -20 "$work/$impl.console" >&2; }
done
