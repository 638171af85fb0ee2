package device.virtio_vsock.connection;

import static device.virtio_vsock.protocol.VsockSpec.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import device.virtio_vsock.connection.HostAction.Kind;
import device.virtio_vsock.connection.VsockCounters.Counter;
import device.virtio_vsock.protocol.VsockHeader;
import vmm.core.device.DeviceState;

/** The connection state machine on its own: headers in, packets and host actions out. */
class ConnectionsTest {
    static final long CID = 3;
    static final int BUF = 4096;
    final VsockCounters counters = new VsockCounters();
    Connections c = new Connections(CID, new Connections.Limits(4, BUF, 1024), counters);

    static VsockHeader guest(int op, long srcPort, long dstPort, long len, long flags, long bufAlloc, long fwdCnt) {
        return new VsockHeader(CID, VMADDR_CID_HOST, srcPort, dstPort, len, VIRTIO_VSOCK_TYPE_STREAM, op, flags,
                bufAlloc, fwdCnt);
    }

    static VsockHeader guest(int op, long srcPort, long dstPort) {
        return guest(op, srcPort, dstPort, 0, 0, 65536, 0);
    }

    void send(VsockHeader h) {
        c.fromGuest(h, new byte[(int) h.len()]);
    }

    void sendData(long srcPort, long dstPort, byte[] data, long fwdCnt) {
        c.fromGuest(guest(VIRTIO_VSOCK_OP_RW, srcPort, dstPort, data.length, 0, 65536, fwdCnt), data);
    }

    List<Packet> drain() {
        List<Packet> out = new ArrayList<>();
        Packet p;
        while ((p = c.nextForGuest(HEADER_SIZE + MAX_PAYLOAD)) != null) out.add(p);
        assertThat(c.hasPacketForGuest()).isFalse();
        return out;
    }

    static List<Integer> ops(List<Packet> ps) {
        return ps.stream().map(p -> p.header().op()).toList();
    }

    /** The guest connects to host port 500 from 1024, the host side connects. */
    ConnectionKey guestConnected() {
        send(guest(VIRTIO_VSOCK_OP_REQUEST, 1024, 500));
        ConnectionKey k = new ConnectionKey(500, 1024);
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CONNECT, k));
        c.hostConnected(k);
        assertThat(ops(drain())).containsExactly(VIRTIO_VSOCK_OP_RESPONSE);
        return k;
    }

    String toHost(ConnectionKey k) {
        ByteBuffer b = ByteBuffer.allocate(c.pendingForHost(k));
        c.peekForHost(k, b);
        c.hostWrote(k, b.position());
        return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII);
    }

    @Test
    void aGuestConnectIsAnsweredWithResponseOnceTheHostSocketIsConnected() {
        send(guest(VIRTIO_VSOCK_OP_REQUEST, 1024, 500));
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CONNECT, new ConnectionKey(500, 1024)));
        assertThat(c.hasPacketForGuest()).as("nothing before the host side answers").isFalse();
        c.hostConnected(new ConnectionKey(500, 1024));
        Packet p = c.nextForGuest(4096);
        assertThat(p.header()).isEqualTo(new VsockHeader(VMADDR_CID_HOST, CID, 500, 1024, 0, VIRTIO_VSOCK_TYPE_STREAM,
                VIRTIO_VSOCK_OP_RESPONSE, 0, BUF, 0));
        assertThat(counters.get(Counter.CONNECTIONS)).isEqualTo(1);
    }

    @Test
    void aGuestConnectToAHostPortWithoutListenerIsReset() {
        send(guest(VIRTIO_VSOCK_OP_REQUEST, 1024, 501));
        ConnectionKey k = new ConnectionKey(501, 1024);
        c.takeActions();
        c.hostFailed(k);
        List<Packet> ps = drain();
        assertThat(ops(ps)).containsExactly(VIRTIO_VSOCK_OP_RST);
        assertThat(ps.get(0).header().dstPort()).isEqualTo(1024);
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CLOSE, k));
        assertThat(c.size()).isZero();
        assertThat(counters.get(Counter.REFUSED)).isEqualTo(1);
    }

    @Test
    void aHostConnectSendsRequestAndTheGuestsResponseTellsTheHostOk() {
        ConnectionKey k = c.connectFromHost(52);
        assertThat(k).isEqualTo(new ConnectionKey(Connections.FIRST_HOST_PORT, 52));
        Packet req = c.nextForGuest(4096);
        assertThat(req.header().op()).isEqualTo(VIRTIO_VSOCK_OP_REQUEST);
        assertThat(req.header().srcPort()).isEqualTo(k.hostPort());
        assertThat(req.header().dstPort()).isEqualTo(52);
        assertThat(req.header().bufAlloc()).isEqualTo(BUF);
        assertThat(c.hostReadAllowance(k)).as("no data before the guest accepts").isZero();
        send(guest(VIRTIO_VSOCK_OP_RESPONSE, 52, k.hostPort(), 0, 0, 8192, 0));
        assertThat(toHost(k)).isEqualTo("OK " + k.hostPort() + "\n");
        assertThat(c.hostReadAllowance(k)).isEqualTo(1024);
    }

    @Test
    void aGuestRefusingAHostConnectClosesTheHostSocket() {
        ConnectionKey k = c.connectFromHost(52);
        drain();
        send(guest(VIRTIO_VSOCK_OP_RST, 52, k.hostPort()));
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CLOSE, k));
        assertThat(drain()).as("RST is never answered").isEmpty();
    }

    @Test
    void theGuestsBytesGoToTheHostAndItsCreditGrowsAsTheyAreWritten() {
        ConnectionKey k = guestConnected();
        sendData(1024, 500, "hello".getBytes(StandardCharsets.US_ASCII), 0);
        assertThat(toHost(k)).isEqualTo("hello");
        List<Packet> ps = drain();
        assertThat(ops(ps)).containsExactly(VIRTIO_VSOCK_OP_CREDIT_UPDATE);
        assertThat(ps.get(0).header().fwdCnt()).isEqualTo(5);
        assertThat(counters.get(Counter.TO_HOST_BYTES)).isEqualTo(5);
    }

    @Test
    void bytesBeyondTheCreditGivenResetTheConnection() {
        ConnectionKey k = guestConnected();
        sendData(1024, 500, new byte[BUF], 0);
        assertThat(c.size()).isEqualTo(1);
        sendData(1024, 500, new byte[1], 0);
        assertThat(ops(drain())).containsExactly(VIRTIO_VSOCK_OP_RST);
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CLOSE, k));
        assertThat(c.pendingForHost(k)).as("nothing kept of a reset connection").isZero();
        assertThat(counters.get(Counter.BAD_PACKETS)).isEqualTo(1);
    }

    @Test
    void theHostsBytesGoOutWithinTheGuestsCreditThenACreditRequest() {
        ConnectionKey k = guestConnected(); // the guest's buf_alloc is 65536; allow it only 10 bytes
        send(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1024, 500, 0, 0, 10, 0));
        assertThat(c.hostReadAllowance(k)).isEqualTo(10);
        c.fromHost(k, "0123456789".getBytes(StandardCharsets.US_ASCII), 0, 10);
        assertThat(c.hostReadAllowance(k)).isZero();
        List<Packet> ps = drain();
        assertThat(ops(ps)).containsExactly(VIRTIO_VSOCK_OP_RW);
        assertThat(new String(ps.get(0).payload(), StandardCharsets.US_ASCII)).isEqualTo("0123456789");
        // The guest read 4 of them.
        send(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1024, 500, 0, 0, 10, 4));
        assertThat(c.hostReadAllowance(k)).isEqualTo(4);
    }

    @Test
    void dataHeldForAGuestWithoutCreditAsksForCreditOnce() {
        ConnectionKey k = guestConnected();
        send(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1024, 500, 0, 0, 10, 0));
        c.fromHost(k, new byte[10], 0, 10);
        drain();
        // The guest shrinks its buffer to 5 with all 10 bytes unread: nothing may go, but bytes are owed.
        send(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1024, 500, 0, 0, 5, 0));
        assertThat(c.hostReadAllowance(k)).isZero();
        assertThat(drain()).isEmpty();
    }

    @Test
    void aCreditRequestIsAnsweredWithTheCurrentCredit() {
        ConnectionKey k = guestConnected();
        sendData(1024, 500, new byte[100], 0);
        toHost(k);
        drain();
        send(guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1024, 500));
        List<Packet> ps = drain();
        assertThat(ops(ps)).containsExactly(VIRTIO_VSOCK_OP_CREDIT_UPDATE);
        assertThat(ps.get(0).header().bufAlloc()).isEqualTo(BUF);
        assertThat(ps.get(0).header().fwdCnt()).isEqualTo(100);
    }

    @Test
    void aShutdownOfTheGuestsSendingSideShutsTheHostOutputAfterItsBytes() {
        ConnectionKey k = guestConnected();
        sendData(1024, 500, "tail".getBytes(StandardCharsets.US_ASCII), 0);
        send(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 1024, 500, 0, VIRTIO_VSOCK_SHUTDOWN_F_SEND, 65536, 0));
        assertThat(c.takeActions()).as("not before the bytes are written").isEmpty();
        assertThat(toHost(k)).isEqualTo("tail");
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.SHUTDOWN_OUTPUT, k));
        assertThat(c.hostReadAllowance(k)).as("the host may still send").isPositive();
    }

    @Test
    void aShutdownOfBothSidesIsAnsweredWithRstAndTheHostSocketClosesAfterTheBytes() {
        ConnectionKey k = guestConnected();
        sendData(1024, 500, "last".getBytes(StandardCharsets.US_ASCII), 0);
        send(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 1024, 500, 0, VIRTIO_VSOCK_SHUTDOWN_F_BOTH, 65536, 0));
        assertThat(ops(drain())).containsExactly(VIRTIO_VSOCK_OP_RST);
        assertThat(c.takeActions()).isEmpty();
        assertThat(toHost(k)).isEqualTo("last");
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CLOSE, k));
        assertThat(c.size()).isZero();
    }

    @Test
    void theHostsEndOfStreamReachesTheGuestAfterItsBytesAndTheGuestsShutdownEndsTheConnection() {
        ConnectionKey k = guestConnected();
        c.fromHost(k, "bye".getBytes(StandardCharsets.US_ASCII), 0, 3);
        c.hostEof(k);
        List<Packet> ps = drain();
        assertThat(ops(ps)).containsExactly(VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_OP_SHUTDOWN);
        assertThat(ps.get(1).header().flags()).isEqualTo(VIRTIO_VSOCK_SHUTDOWN_F_SEND);
        send(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 1024, 500, 0, VIRTIO_VSOCK_SHUTDOWN_F_SEND, 65536, 3));
        assertThat(ops(drain())).containsExactly(VIRTIO_VSOCK_OP_RST);
        assertThat(c.takeActions()).contains(new HostAction(Kind.CLOSE, k));
    }

    @Test
    void aGuestRstClosesTheHostSocketAndIsNotAnswered() {
        ConnectionKey k = guestConnected();
        send(guest(VIRTIO_VSOCK_OP_RST, 1024, 500));
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CLOSE, k));
        assertThat(drain()).isEmpty();
        send(guest(VIRTIO_VSOCK_OP_RST, 7, 7));
        assertThat(drain()).as("an RST of no connection is ignored").isEmpty();
    }

    @Test
    void headersThatBreakARuleAreAnsweredWithRstAndResetOnlyTheirConnection() {
        ConnectionKey other = guestConnected();
        List<VsockHeader> bad = List.of(
                guest(0, 1, 500), guest(8, 1, 500), guest(0xffff, 1, 500),
                new VsockHeader(CID, 7, 1, 500, 0, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0),
                new VsockHeader(CID, VMADDR_CID_HOST, 1, 500, 0, VIRTIO_VSOCK_TYPE_SEQPACKET,
                        VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0),
                guest(VIRTIO_VSOCK_OP_RW, 1, 500, 0, 0, 0, 0),
                guest(VIRTIO_VSOCK_OP_SHUTDOWN, 1, 500, 0, 0, 0, 0),
                guest(VIRTIO_VSOCK_OP_SHUTDOWN, 1, 500, 0, 4, 0, 0),
                guest(VIRTIO_VSOCK_OP_RESPONSE, 1, 500));
        for (VsockHeader h : bad) send(h);
        c.fromGuest(guest(VIRTIO_VSOCK_OP_REQUEST, 1, 500, 3, 0, 0, 0), new byte[3]); // a payload on a control op
        c.fromGuest(guest(VIRTIO_VSOCK_OP_RW, 1024, 500, 9, 0, 0, 0), new byte[3]);   // len and payload disagree
        List<Packet> ps = drain();
        assertThat(ops(ps)).hasSize(bad.size() + 2).containsOnly(VIRTIO_VSOCK_OP_RST);
        assertThat(ps).allSatisfy(p -> assertThat(p.header().dstCid()).isEqualTo(CID));
        assertThat(c.keys()).as("the second RW reset its own connection").doesNotContain(other);
        assertThat(counters.get(Counter.BAD_PACKETS)).isEqualTo(bad.size() + 2);
    }

    @Test
    void aPacketWithAForeignSourceCidIsDroppedUnanswered() {
        ConnectionKey k = guestConnected();
        c.fromGuest(new VsockHeader(99, VMADDR_CID_HOST, 1024, 500, 0, VIRTIO_VSOCK_TYPE_STREAM,
                VIRTIO_VSOCK_OP_RST, 0, 0, 0), new byte[0]);
        assertThat(drain()).isEmpty();
        assertThat(c.keys()).containsExactly(k);
        assertThat(counters.get(Counter.SPOOFED)).isEqualTo(1);
    }

    @Test
    void aFwdCntForBytesNeverSentResetsTheConnection() {
        ConnectionKey k = guestConnected();
        send(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1024, 500, 0, 0, 65536, 1));
        assertThat(ops(drain())).containsExactly(VIRTIO_VSOCK_OP_RST);
        assertThat(c.keys()).doesNotContain(k);
    }

    @Test
    void aSecondRequestForAnOpenConnectionResetsIt() {
        ConnectionKey k = guestConnected();
        send(guest(VIRTIO_VSOCK_OP_REQUEST, 1024, 500));
        assertThat(ops(drain())).containsExactly(VIRTIO_VSOCK_OP_RST);
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CLOSE, k));
    }

    @Test
    void connectionsBeyondTheLimitAreRefused() {
        for (int p = 1; p <= 4; p++) send(guest(VIRTIO_VSOCK_OP_REQUEST, p, 500));
        assertThat(c.size()).isEqualTo(4);
        send(guest(VIRTIO_VSOCK_OP_REQUEST, 5, 500));
        assertThat(ops(drain())).containsExactly(VIRTIO_VSOCK_OP_RST);
        assertThat(c.connectFromHost(1)).isNull();
        assertThat(c.size()).isEqualTo(4);
        assertThat(counters.get(Counter.REFUSED)).isEqualTo(2);
    }

    @Test
    void resetsForAGuestThatTakesNoPacketsAreBounded() {
        for (int i = 0; i < Connections.MAX_LOOSE_RESETS + 100; i++) send(guest(VIRTIO_VSOCK_OP_RW, i, 9));
        assertThat(drain()).hasSize(Connections.MAX_LOOSE_RESETS);
        assertThat(counters.get(Counter.RESETS_DROPPED)).isEqualTo(100);
    }

    @Test
    void aConnectionWhoseHostStopsReadingDoesNotStarveTheOthers() {
        Connections big = new Connections(CID, new Connections.Limits(8, BUF, 65536), counters);
        c = big;
        ConnectionKey a = guestConnected();
        send(guest(VIRTIO_VSOCK_OP_REQUEST, 2048, 600));
        ConnectionKey b = new ConnectionKey(600, 2048);
        c.takeActions();
        c.hostConnected(b);
        drain();
        // a's host peer reads nothing: its credit runs out, b's bytes still flow.
        sendData(1024, 500, new byte[BUF], 0);
        sendData(2048, 600, new byte[10], 0);
        assertThat(toHost(b)).hasSize(10);
        assertThat(c.pendingForHost(a)).isEqualTo(BUF);
        // Host-to-guest: two busy connections alternate packet by packet.
        c.fromHost(a, new byte[3000], 0, 3000);
        c.fromHost(b, new byte[3000], 0, 3000);
        List<Long> order = new ArrayList<>();
        Packet p;
        while ((p = c.nextForGuest(HEADER_SIZE + 1000)) != null)
            if (p.header().op() == VIRTIO_VSOCK_OP_RW) order.add(p.header().srcPort());
        assertThat(order).hasSize(6).containsOnly(500L, 600L);
        for (int i = 1; i < order.size(); i++) assertThat(order.get(i)).as("packet " + i)
                .isNotEqualTo(order.get(i - 1));
    }

    @Test
    void aBufferTooSmallForAHeaderGetsNothingAndPayloadIsCutToTheBuffer() {
        ConnectionKey k = guestConnected();
        c.fromHost(k, new byte[100], 0, 100);
        assertThat(c.nextForGuest(HEADER_SIZE - 1)).isNull();
        Packet p = c.nextForGuest(HEADER_SIZE + 30);
        assertThat(p.header().len()).isEqualTo(30);
        assertThat(p.payload()).hasSize(30);
        assertThat(drain().get(0).header().len()).isEqualTo(70);
    }

    @Test
    void saveAndRestoreKeepConnectionsQueuesAndCredit() {
        ConnectionKey k = guestConnected();
        sendData(1024, 500, "abc".getBytes(StandardCharsets.US_ASCII), 0);
        c.fromHost(k, "xyz".getBytes(StandardCharsets.US_ASCII), 0, 3);
        c.nextForGuest(HEADER_SIZE + 1); // one byte went out
        DeviceState s = DeviceState.decode(c.save().encode());

        Connections r = new Connections(CID, new Connections.Limits(4, BUF, 1024), new VsockCounters());
        r.restore(s);
        c = r;
        assertThat(c.keys()).containsExactly(k);
        assertThat(toHost(k)).isEqualTo("abc");
        Packet rest = c.nextForGuest(4096);
        assertThat(new String(rest.payload(), StandardCharsets.US_ASCII)).isEqualTo("yz");
        assertThat(rest.header().fwdCnt()).isEqualTo(3);
        // The guest's credit is what it was: tx_cnt 3 of its 65536.
        assertThat(c.hostReadAllowance(k)).isEqualTo(1024);
        send(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1024, 500, 0, 0, 65536, 4));
        assertThat(c.keys()).as("fwd_cnt 4 > tx_cnt 3 is a lie even after the restore").doesNotContain(k);
    }

    /** {@code s} with {@code field} replaced by {@code value}, as a hostile snapshot file could hold it. */
    static DeviceState with(DeviceState s, String field, Object value) {
        DeviceState.Builder b = DeviceState.builder(s.type(), s.version());
        for (String n : s.names()) {
            Object v = n.equals(field) ? value : raw(s, n);
            switch (v) {
                case Long l -> b.put(n, l);
                case Integer i -> b.put(n, i);
                case String str -> b.put(n, str);
                case byte[] bytes -> b.put(n, bytes);
                case DeviceState d -> b.put(n, d);
                case List<?> l -> b.putList(n, l);
                default -> throw new IllegalArgumentException(String.valueOf(v));
            }
        }
        return DeviceState.decode(b.build().encode());
    }

    private static Object raw(DeviceState s, String n) {
        for (java.util.function.Function<String, Object> get : List.<java.util.function.Function<String, Object>>of(
                s::getLong, s::getString, s::getBytes, s::getState, s::getList)) {
            try {
                return get.apply(n);
            } catch (vmm.core.device.IncompatibleStateException e) {
                // another kind of field
            }
        }
        throw new AssertionError(n);
    }

    @Test
    void aHostileSavedStateIsRefusedNamingWhatIsWrongAndNothingIsReplaced() {
        ConnectionKey k = guestConnected();
        sendData(1024, 500, "abc".getBytes(StandardCharsets.US_ASCII), 0);
        DeviceState good = DeviceState.decode(c.save().encode());
        DeviceState conn = (DeviceState) good.getList("connections").getFirst();
        Map<String, DeviceState> cases = new java.util.LinkedHashMap<>();
        cases.put("guest CID 9", with(good, "guest-cid", 9L));
        cases.put("connections holds x", with(good, "connections", List.of("x")));
        cases.put("5 saved connections", with(good, "connections", java.util.Collections.nCopies(5, conn)));
        cases.put("state OPENISH", with(good, "connections", List.of(with(conn, "state", "OPENISH"))));
        cases.put("host-port -1", with(good, "connections", List.of(with(conn, "host-port", -1L))));
        cases.put("guest-port 4294967296", with(good, "connections", List.of(with(conn, "guest-port", 1L << 32))));
        cases.put("rx-cnt -2", with(good, "connections", List.of(with(conn, "rx-cnt", -2L))));
        cases.put("'preamble'", with(good, "connections", List.of(with(conn, "preamble", 1L << 40))));
        cases.put("peer-shutdown 8", with(good, "connections", List.of(with(conn, "peer-shutdown", 8L))));
        cases.put("exceed this device's limits", with(good, "connections", List.of(with(conn, "to-host",
                new byte[BUF + 65]))));
        cases.put("a header is", with(good, "loose-resets", List.of(new byte[3])));
        cases.put("loose-resets holds y", with(good, "loose-resets", List.of("y")));
        cases.put("loose-resets holds 257 headers", with(good, "loose-resets", java.util.Collections.nCopies(
                Connections.MAX_LOOSE_RESETS + 1, guest(VIRTIO_VSOCK_OP_RST, 1, 2).encode())));
        cases.put("next-host-port -5", with(good, "next-host-port", -5L));
        for (Map.Entry<String, DeviceState> e : cases.entrySet())
            assertThatThrownBy(() -> c.restore(e.getValue())).as(e.getKey())
                    .isInstanceOf(vmm.core.device.IncompatibleStateException.class)
                    .hasMessageContaining(e.getKey()).hasMessageNotContaining("\n");
        assertThat(c.keys()).as("the connections kept").containsExactly(k);
        assertThat(toHost(k)).isEqualTo("abc");
    }

    @Test
    void aTransportResetClosesEverythingAndOwesOneEvent() {
        ConnectionKey k = guestConnected();
        c.transportReset();
        assertThat(c.takeActions()).containsExactly(new HostAction(Kind.CLOSE, k));
        assertThat(c.takeTransportResetEvent()).isTrue();
        assertThat(c.takeTransportResetEvent()).isFalse();
        assertThat(c.size()).isZero();
    }
}
