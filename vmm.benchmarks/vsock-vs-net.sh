#!/usr/bin/env bash
# virtio-vsock against virtio-net, in ONE user-mode Linux guest with two
# vhost-user devices served by ./vmm as it configures them by default:
#     ./vmm vhost-user --socket vs.sock  virtio-vsock,cid=3,path=v.sock
#     ./vmm vhost-user --socket net.sock virtio-net,TAP   (it and the TAP in a network namespace)
# One stream of N MiB each way per transfer: guest->host and host->guest over
# vsock (socat VSOCK-CONNECT:2:P / VSOCK-LISTEN in the guest; on the host a
# listener on v.sock_P / a client writing "CONNECT P\n" to v.sock) and the
# same over TCP through the TAP (socat TCP in the guest, the host side in the
# namespace). Every transfer is timed end to end by its sender: from its
# connect until the receiver has hashed the last byte and sent the SHA-256
# back on the same connection; both ends' SHA-256 must equal the payload's.
# Rounds alternate vsock, net, vsock again (the control: vsock against
# vsock shows the noise), after one warm-up round that is not counted. Prints medians, spread (min..max), MB/s (10^6
# bytes/s) and the ratios.
# Usage: vmm.benchmarks/vsock-vs-net.sh [MiB (default 256)] [rounds (default 3)]
# Needs root (TAP, namespace), user-mode-linux, busybox-static, socat, python3, iproute2.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# UML 6.1 needs this ptrace shim on hosts with AVX-512 or AMX (cnf/uml-xstate-shim.c says why).
uml_shim=$(bash "$root/cnf/uml-shim.sh") || exit 2
N=${1:-256}
R=${2:-3}
[ "$(id -u)" = 0 ] || { echo "needs root: a TAP device and a network namespace" >&2; exit 2; }
bench_need "apt-get install user-mode-linux busybox-static socat python3 iproute2" linux.uml busybox socat python3 ip sha256sum

work=$(mktemp -d /tmp/vsock-vs-net.XXXXXX)
tag=$$
ns=vsvn-$tag
tap=vsvn$tag
net=10.199.21
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "payload: $N MiB of random bytes ..." >&2
head -c $((N << 20)) /dev/urandom > "$work/payload"
sum=$(sha256sum "$work/payload" | cut -c1-64)

# The two devices, each as ./vmm serves it by default (vmm.jar is built by ./vmm when stale).
"$root/vmm" help > /dev/null
"$root/vmm" vhost-user --socket "$work/vs.sock" "virtio-vsock,cid=3,path=$work/v.sock" > "$work/vsock.log" 2>&1 &
pids+=($!)
# The TAP lives in the namespace, and so does its server (its vhost-user socket is a file, reachable from anywhere).
ip netns add "$ns"
ip -n "$ns" tuntap add "$tap" mode tap
ip -n "$ns" addr add "$net.1/24" dev "$tap"
ip -n "$ns" link set "$tap" up
ip -n "$ns" link set lo up
ip netns exec "$ns" "$root/vmm" vhost-user --socket "$work/net.sock" "virtio-net,$tap" > "$work/net.log" 2>&1 &
pids+=($!)
for i in $(seq 600); do [ -S "$work/vs.sock" ] && [ -S "$work/net.sock" ] && break; sleep 0.1; done
[ -S "$work/vs.sock" ] && [ -S "$work/net.sock" ] || {
    echo "the vhost-user servers did not start:" >&2; cat "$work/vsock.log" "$work/net.log" >&2; exit 1; }

# The host side, in the namespace (the Unix sockets are files, reachable from any namespace): receivers for
# guest->host (vsock on v.sock_6000, TCP on $net.1:6001) that hash what arrives and send the hash back, and
# the host->guest sender, started by the guest through a request file, timing connect..hash back.
cat > "$work/host.py" <<'EOF'
import hashlib, os, socket, sys, threading, time
work, net = sys.argv[1], sys.argv[2]
payload = os.path.join(work, "payload")

def receive(conn):
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    with conn:
        while True:
            n = conn.recv_into(buf)
            if n == 0: break
            h.update(memoryview(buf)[:n])
        conn.sendall((h.hexdigest() + "\n").encode())

def serve(listener):
    while True:
        c, _ = listener.accept()
        threading.Thread(target=receive, args=(c,), daemon=True).start()

u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); u.bind(os.path.join(work, "v.sock_6000")); u.listen(4)
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((net + ".1", 6001)); t.listen(4)
for l in (u, t): threading.Thread(target=serve, args=(l,), daemon=True).start()

def send(kind):
    t0 = time.monotonic()
    if kind.startswith("vsock"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(os.path.join(work, "v.sock"))
        s.sendall(b"CONNECT 5000\n")
        line = b""
        while not line.endswith(b"\n"):
            b = s.recv(1)
            if not b: raise RuntimeError("no OK from the device: " + repr(line))
            line += b
        if not line.startswith(b"OK "): raise RuntimeError("device answered " + repr(line))
    else:
        s = socket.create_connection((net + ".2", 5001))
    with s, open(payload, "rb") as f:
        s.sendfile(f)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = s.recv(4096)
            if not b: break
            got += b
    return time.monotonic() - t0, got.decode().strip()[:64]

reqs = os.path.join(work, "req")
while True:
    for name in sorted(os.listdir(reqs)):
        kind, rnd = name.split(".")
        os.unlink(os.path.join(reqs, name))
        try:
            secs, got = send(kind)
        except Exception as e:
            secs, got = 0.0, "error:" + str(e).replace(" ", "_")
        with open(os.path.join(work, "results"), "a") as r:
            r.write("h2g %s %s %.6f %s\n" % (kind, rnd, secs, got))
        open(os.path.join(work, "done", name), "w").close()
    time.sleep(0.01)
EOF
mkdir "$work/req" "$work/done"
: > "$work/results"
ip netns exec "$ns" python3 "$work/host.py" "$work" "$net" > "$work/host.log" 2>&1 &
pids+=($!)
for i in $(seq 100); do [ -S "$work/v.sock_6000" ] && break; sleep 0.1; done

# The guest: both drivers, listeners for host->guest that hash what arrives and send the hash back, then the
# rounds. Its payload is copied into its own tmpfs first, so hostfs reads stay out of the timing.
cat > "$work/init.sh" <<EOF
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
m=/usr/lib/uml/modules/\$(uname -r)/kernel
busybox insmod \$m/net/core/failover.ko; busybox insmod \$m/drivers/net/net_failover.ko
busybox insmod \$m/drivers/net/virtio_net.ko
busybox insmod \$m/net/vmw_vsock/vsock.ko
busybox insmod \$m/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko
busybox insmod \$m/net/vmw_vsock/vmw_vsock_virtio_transport.ko
drv=/sys/bus/virtio/drivers/vmw_vsock_virtio_transport
for i in \$(seq 1 300); do ls \$drv | grep -q virtio && [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
ip link set lo up; ip link set eth0 up; ip addr add $net.2/24 dev eth0
for i in \$(seq 1 50); do [ "\$(cat /sys/class/net/eth0/operstate)" = up ] && break; sleep 0.1; done
busybox ping -c 1 -W 2 $net.1 > /dev/null 2>&1
mkdir -p /run/b; mount -t tmpfs -o size=$((N + 64))m none /run/b
cp $work/payload /run/b/payload
echo "guest-payload \$(sha256sum /run/b/payload | cut -c1-64)" >> $work/results
socat -t 600 VSOCK-LISTEN:5000,fork SYSTEM:'sha256sum' 2>>$work/guest.err &
socat -t 600 TCP-LISTEN:5001,bind=$net.2,fork,reuseaddr SYSTEM:'sha256sum' 2>>$work/guest.err &
sleep 0.5
g2h() {  # kind address: time connect..the host's hash back
    t0=\$(date +%s%N)
    socat -t 600 - "\$2" < /run/b/payload > /run/b/hash 2>>$work/guest.err
    t1=\$(date +%s%N)
    echo "g2h \$1 \$r \$((t1 - t0)) \$(cut -c1-64 /run/b/hash)" >> $work/results
}
h2g() {  # kind: the host sends and times, we wait for it
    touch $work/req/\$1.\$r
    for i in \$(seq 1 60000); do [ -e $work/done/\$1.\$r ] && break; sleep 0.05; done
}
for r in \$(seq 0 $R); do   # round 0 warms both servers' JIT up and is not counted
    g2h vsock VSOCK-CONNECT:2:6000
    h2g vsock
    g2h net TCP:$net.1:6001
    h2g net
    g2h vsock2 VSOCK-CONNECT:2:6000
    h2g vsock2
done
echo "guest-done" >> $work/results
busybox poweroff -f
EOF
chmod +x "$work/init.sh"
echo "booting user-mode Linux: 1 + $R rounds of $N MiB each way over vsock, net, vsock ..." >&2
LD_PRELOAD="$uml_shim" timeout $(((R + 1) * N * 3 + 300)) linux.uml mem=$((N * 2 + 512))M rootfstype=hostfs rootflags=/ rw \
    init="$work/init.sh" virtio_uml.device="$work/vs.sock:19" virtio_uml.device="$work/net.sock:1" \
    con=null con0=null,fd:1 < /dev/null > "$work/console" 2>&1 || true

if ! grep -q guest-done "$work/results"; then
    echo "the guest did not finish; console:" >&2; tail -30 "$work/console" >&2
    cat "$work/results" "$work/guest.err" "$work/host.log" >&2 2>/dev/null || true
    exit 1
fi

# g2h times are in nanoseconds (the guest's date), h2g in seconds (the host's monotonic clock).
python3 - "$work/results" "$sum" "$N" "$R" <<'EOF'
import statistics, sys
path, want, n, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
mb = (n << 20) / 1e6
rows, bad, guest_sum, checked = {}, [], None, 0
for line in open(path):
    f = line.split()
    if f[0] == "guest-payload": guest_sum = f[1]; continue
    if f[0] not in ("g2h", "h2g"): continue
    d, kind, rnd, t, got = f[0], f[1], f[2], f[3], (f[4] if len(f) > 4 else "")
    secs = int(t) / 1e9 if d == "g2h" else float(t)
    if got != want or secs <= 0: bad.append(line.strip())
    elif rnd == "0": checked += 1
    else: rows.setdefault((d, kind), []).append(mb / secs)
print()
print("virtio-vsock vs virtio-net (TAP in a namespace), one user-mode Linux 6.1 guest over vhost-user,")
print("both devices as ./vmm vhost-user serves them by default; one stream of %d MiB per transfer," % n)
print("%d rounds (after one warm-up round, not counted) alternating vsock, net, vsock' (the control);" % rounds)
print("each transfer timed by its sender from connect until the")
print("   receiver's SHA-256 of the last byte came back; guest: socat + sha256sum, host: python3 + hashlib")
print("payload sha256 %s (guest's copy %s)" % (want[:16], "equal" if guest_sum == want else "DIFFERS: " + str(guest_sum)))
print("checksums: %s" % ("all %d transfers equal on both ends" % (checked + sum(len(v) for v in rows.values())) if not bad
                          else "%d MISMATCHED OR FAILED: %s" % (len(bad), bad)))
print()
print("%-14s %-8s %10s %22s" % ("direction", "path", "median MB/s", "min..max MB/s"))
med = {}
for d, dn in (("g2h", "guest->host"), ("h2g", "host->guest")):
    for kind, kn in (("vsock", "vsock"), ("net", "net"), ("vsock2", "vsock'")):
        v = rows.get((d, kind), [])
        if not v: print("%-14s %-8s %10s" % (dn, kn, "-")); continue
        med[(d, kind)] = statistics.median(v)
        print("%-14s %-8s %10.1f %22s" % (dn, kn, med[(d, kind)], "%.1f..%.1f" % (min(v), max(v))))
print()
def ratio(a, b): return "%.2f" % (med[a] / med[b]) if a in med and b in med else "-"
for d, dn in (("g2h", "guest->host"), ("h2g", "host->guest")):
    print("%-14s vsock/net %s   control vsock/vsock' %s" % (dn, ratio((d, "vsock"), (d, "net")),
                                                          ratio((d, "vsock"), (d, "vsock2"))))
sys.exit(1 if bad else 0)
EOF
