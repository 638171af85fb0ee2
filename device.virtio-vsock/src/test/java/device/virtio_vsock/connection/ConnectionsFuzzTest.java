package device.virtio_vsock.connection;

import static device.virtio_vsock.protocol.VsockSpec.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import device.virtio_vsock.protocol.VsockHeader;
import vmm.core.device.DeviceState;

/**
 * The packet header and the connection state machine under any sequence of
 * guest packets (any field values, biased towards ports and ops that reach
 * deep states) and host events, with save/restore in between: no host
 * exception, and after every step the bounds hold (connections, bytes held
 * per connection in each direction) and every packet for the guest is well
 * formed (from CID 2 to the guest, STREAM, a payload only on RW and never
 * beyond the buffer offered).
 */
class ConnectionsFuzzTest {
    static final long CID = 3;
    static final Connections.Limits LIMITS = new Connections.Limits(8, 8192, 4096);

    @FuzzTest(maxDuration = "5m")
    void anyPacketAndHostEventSequenceKeepsTheBounds(FuzzedDataProvider data) {
        Connections c = new Connections(CID, LIMITS, new VsockCounters());
        List<ConnectionKey> known = new ArrayList<>();
        for (int step = 0; step < 200 && data.remainingBytes() > 0; step++) {
            switch (data.consumeInt(0, 9)) {
                case 0, 1, 2 -> {
                    VsockHeader h = header(data, known);
                    assertThat(VsockHeader.decode(h.encode())).isEqualTo(h);
                    int n = (int) Math.min(h.len(), 512);
                    byte[] payload = data.consumeBoolean() ? new byte[(int) Math.min(n, 512)] : data.consumeBytes(n);
                    c.fromGuest(h, payload);
                }
                case 3 -> c.malformed(header(data, known), "fuzz");
                case 4 -> {
                    ConnectionKey k = c.connectFromHost(data.consumeBoolean() ? data.consumeInt(0, 3)
                            : data.consumeLong());
                    if (k != null) known.add(k);
                }
                case 5 -> {
                    ConnectionKey k = pick(data, known, c);
                    if (k == null) break;
                    switch (data.consumeInt(0, 3)) {
                        case 0 -> c.hostConnected(k);
                        case 1 -> c.hostFailed(k);
                        case 2 -> c.hostEof(k);
                        default -> {
                            int allowed = c.hostReadAllowance(k);
                            assertThat(allowed).isBetween(0, LIMITS.toGuestCap());
                            int n = data.consumeInt(0, allowed);
                            c.fromHost(k, new byte[n], 0, n);
                        }
                    }
                }
                case 6 -> {
                    ConnectionKey k = pick(data, known, c);
                    if (k == null) break;
                    ByteBuffer b = ByteBuffer.allocate(data.consumeInt(0, 10000));
                    int n = c.peekForHost(k, b);
                    c.hostWrote(k, data.consumeInt(0, n));
                }
                case 7 -> {
                    int room = data.consumeInt(0, HEADER_SIZE + MAX_PAYLOAD + 10);
                    Packet p = c.nextForGuest(room);
                    if (p != null) checkPacket(p, room);
                }
                case 8 -> {
                    c.takeActions();
                    if (data.consumeBoolean()) c.transportReset();
                }
                default -> {
                    DeviceState s = DeviceState.decode(c.save().encode());
                    Connections r = new Connections(CID, LIMITS, new VsockCounters());
                    r.restore(s);
                    assertThat(r.keys()).isEqualTo(c.keys());
                    c = r;
                }
            }
            assertThat(c.size()).isLessThanOrEqualTo(LIMITS.maxConnections());
            for (ConnectionKey k : c.keys()) {
                assertThat(c.pendingForHost(k)).isLessThanOrEqualTo(LIMITS.bufAlloc() + 64);
                assertThat(c.hostReadAllowance(k)).isBetween(0, LIMITS.toGuestCap());
            }
        }
        Packet p;
        int guard = 0;
        while ((p = c.nextForGuest(HEADER_SIZE + MAX_PAYLOAD)) != null && guard++ < 100_000) checkPacket(p,
                HEADER_SIZE + MAX_PAYLOAD);
        assertThat(guard).as("the packets owed to the guest run out").isLessThan(100_000);
    }

    private static void checkPacket(Packet p, int room) {
        VsockHeader h = p.header();
        assertThat(h.srcCid()).isEqualTo(VMADDR_CID_HOST);
        assertThat(h.dstCid()).isEqualTo(CID);
        assertThat(h.type()).isEqualTo(VIRTIO_VSOCK_TYPE_STREAM);
        assertThat(h.op()).isBetween(VIRTIO_VSOCK_OP_REQUEST, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
        assertThat(h.len()).isEqualTo(p.payload().length);
        assertThat(HEADER_SIZE + h.len()).isLessThanOrEqualTo(room);
        if (h.op() != VIRTIO_VSOCK_OP_RW) assertThat(h.len()).isZero();
        else assertThat(h.len()).isPositive();
    }

    private static ConnectionKey pick(FuzzedDataProvider data, List<ConnectionKey> known, Connections c) {
        List<ConnectionKey> all = new ArrayList<>(c.keys());
        all.addAll(known);
        return all.isEmpty() ? null : all.get(data.consumeInt(0, all.size() - 1));
    }

    /** A header: sometimes of a known connection with a valid op, sometimes anything at all. */
    private static VsockHeader header(FuzzedDataProvider data, List<ConnectionKey> known) {
        if (data.consumeBoolean()) {
            return VsockHeader.decode(padded(data.consumeBytes(HEADER_SIZE)));
        }
        long hostPort = data.consumeInt(0, 3), guestPort = data.consumeInt(0, 3);
        if (!known.isEmpty() && data.consumeBoolean()) {
            ConnectionKey k = known.get(data.consumeInt(0, known.size() - 1));
            hostPort = k.hostPort();
            guestPort = k.guestPort();
        }
        int op = data.consumeInt(0, 8);
        long len = op == VIRTIO_VSOCK_OP_RW ? data.consumeInt(0, 600) : data.consumeBoolean() ? 0
                : data.consumeInt(0, 3);
        long flags = op == VIRTIO_VSOCK_OP_SHUTDOWN ? data.consumeInt(0, 4) : 0;
        long bufAlloc = data.consumeBoolean() ? 65536 : data.consumeLong() & 0xffff_ffffL;
        long fwdCnt = data.consumeBoolean() ? data.consumeInt(0, 70000) : data.consumeLong() & 0xffff_ffffL;
        return new VsockHeader(CID, VMADDR_CID_HOST, guestPort, hostPort, len, VIRTIO_VSOCK_TYPE_STREAM, op, flags,
                bufAlloc, fwdCnt);
    }

    private static byte[] padded(byte[] b) {
        byte[] out = new byte[HEADER_SIZE];
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }
}
