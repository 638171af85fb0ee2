package device.virtio_vsock;

import static device.virtio_vsock.protocol.VsockSpec.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_vsock.connection.VsockCounters.Counter;
import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioFeatures;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;

/** The device through the kit's virtio driver, with real host Unix sockets. */
@ExtendWith(TestMachineExtension.class)
class VsockDeviceTest {
    static final PciAddress SLOT = PciAddress.slot(6);
    @TempDir Path dir;

    Path path() { return dir.resolve("v.sock"); }

    DeviceInstance dev;

    Guest plug(TestMachine m) {
        return plug(m, 0);
    }

    /** The device with the driver taking {@code features} of its offer. */
    Guest plug(TestMachine m, long features) {
        dev = m.plug("virtio-vsock", SLOT, new VsockProvider(), "virtio-vsock", Map.of("cid", "3", "path", path()
                .toString()));
        return new Guest(m.virtio(SLOT).initialize(features, 64, 64, 8));
    }

    VsockDevice model() {
        return (VsockDevice) dev.model();
    }

    static SocketChannel hostConnect(Path p, long port) throws IOException {
        SocketChannel s = SocketChannel.open(UnixDomainSocketAddress.of(p));
        write(s, "CONNECT " + port + "\n");
        return s;
    }

    static void write(SocketChannel s, String text) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) s.write(b);
    }

    static String read(SocketChannel s, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) if (s.read(b) < 0) break;
        return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII);
    }

    static String readLine(SocketChannel s) throws IOException {
        StringBuilder l = new StringBuilder();
        ByteBuffer b = ByteBuffer.allocate(1);
        while (s.read(b.clear()) > 0 && b.get(0) != '\n') l.append((char) b.get(0));
        return l.toString();
    }

    /** A host client connects to guest port 52 and the guest accepts; returns the host socket and its host port. */
    record Open(SocketChannel socket, long hostPort) {}

    Open hostOpens(Guest g, long guestPort) throws IOException {
        SocketChannel s = hostConnect(path(), guestPort);
        Guest.Received req = g.receive();
        assertThat(req.op()).isEqualTo(VIRTIO_VSOCK_OP_REQUEST);
        assertThat(req.header().dstPort()).isEqualTo(guestPort);
        assertThat(req.header().dstCid()).isEqualTo(Guest.CID);
        g.send(VIRTIO_VSOCK_OP_RESPONSE, guestPort, req.header().srcPort());
        assertThat(readLine(s)).isEqualTo("OK " + req.header().srcPort());
        return new Open(s, req.header().srcPort());
    }

    @Test
    void theConfigSpaceHoldsTheGuestCidAndTheDeviceIdIsNineteen(TestMachine m) {
        Guest g = plug(m);
        assertThat(g.driver.readConfig(0, 8)).isEqualTo(3);
        assertThat(g.driver.readConfig(0, 4)).isEqualTo(3);
        assertThat(g.driver.readConfig(4, 4)).isZero();
        assertThat(model().deviceId()).isEqualTo(19);
        assertThat(g.driver.numQueues()).isEqualTo(3);
    }

    @Test
    void aHostClientReachesTheGuestsListeningPortAndBytesFlowBothWaysWithInterrupts(TestMachine m) throws IOException {
        Guest g = plug(m);
        Open o = hostOpens(g, 52);
        write(o.socket(), "ping");
        Guest.Received rw = g.receive();
        assertThat(rw.op()).isEqualTo(VIRTIO_VSOCK_OP_RW);
        assertThat(new String(rw.payload(), StandardCharsets.US_ASCII)).isEqualTo("ping");
        byte[] pong = "pong".getBytes(StandardCharsets.US_ASCII);
        g.send(Guest.header(VIRTIO_VSOCK_OP_RW, 52, o.hostPort(), 4, 0, 65536, 4), pong);
        assertThat(read(o.socket(), 4)).isEqualTo("pong");
        assertThat(m.interrupts().msiCount(g.driver.msiData(1))).as("rx interrupts").isPositive();
        assertThat(g.driver.needsReset()).isFalse();
        o.socket().close();
    }

    @Test
    void aGuestConnectToCidTwoReachesTheHostListenerOnPathUnderscorePort(TestMachine m) throws IOException {
        Guest g = plug(m);
        try (ServerSocketChannel l = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            l.bind(UnixDomainSocketAddress.of(dir.resolve("v.sock_77")));
            g.send(VIRTIO_VSOCK_OP_REQUEST, 1500, 77);
            SocketChannel s = l.accept();
            Guest.Received resp = g.receive();
            assertThat(resp.op()).isEqualTo(VIRTIO_VSOCK_OP_RESPONSE);
            assertThat(resp.header().srcPort()).isEqualTo(77);
            assertThat(resp.header().dstPort()).isEqualTo(1500);
            g.send(Guest.header(VIRTIO_VSOCK_OP_RW, 1500, 77, 5, 0, 65536, 0),
                    "hello".getBytes(StandardCharsets.US_ASCII));
            assertThat(read(s, 5)).isEqualTo("hello");
            write(s, "world");
            Guest.Received rw = g.receiveSkippingCredit();
            assertThat(new String(rw.payload(), StandardCharsets.US_ASCII)).isEqualTo("world");
            // The host closes: the guest hears SHUTDOWN(SEND), answers with its own, and gets RST.
            s.close();
            Guest.Received sh = g.receiveSkippingCredit();
            assertThat(sh.op()).isEqualTo(VIRTIO_VSOCK_OP_SHUTDOWN);
            g.send(Guest.header(VIRTIO_VSOCK_OP_SHUTDOWN, 1500, 77, 0, VIRTIO_VSOCK_SHUTDOWN_F_BOTH, 65536, 5),
                    new byte[0]);
            assertThat(g.receiveSkippingCredit().op()).isEqualTo(VIRTIO_VSOCK_OP_RST);
        }
    }

    @Test
    void aGuestConnectToAPortWithoutListenerIsReset(TestMachine m) {
        Guest g = plug(m);
        g.send(VIRTIO_VSOCK_OP_REQUEST, 1500, 78);
        Guest.Received r = g.receive();
        assertThat(r.op()).isEqualTo(VIRTIO_VSOCK_OP_RST);
        assertThat(r.header().dstPort()).isEqualTo(1500);
        assertThat(model().counters().get(Counter.REFUSED)).isEqualTo(1);
    }

    /**
     * A driver may take back the buffers it counts as unused once it has reset the device: Linux's
     * virtqueue_detach_unused_buf moves the avail index back. User-mode Linux over vhost-user resets without
     * telling the device and then stops the rings one by one, each stop pausing and resuming the device; a
     * resume that read the transmit ring unprompted found its index gone back and broke the queue.
     */
    @ParameterizedTest(name = "EVENT_IDX {0}")
    @ValueSource(booleans = {false, true})
    void aPauseAndResumeReadsNoTransmitRingThatWasNotKicked(boolean eventIdx, TestMachine m) throws IOException {
        Guest g = plug(m, eventIdx ? VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) : 0);
        assertThat(g.driver.deviceFeatures() & VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX))
                .as("offered by default").isNotZero();
        g.send(VIRTIO_VSOCK_OP_REQUEST, 1500, 78);
        assertThat(g.receive().op()).isEqualTo(VIRTIO_VSOCK_OP_RST);
        g.tx.setAvailIndex(0); // the one chain taken back, though the device used it
        model().pause();
        model().resume();
        // Every turn of the I/O thread after the resume starts with the transmit queue, and the one that
        // serves this client comes after the resume.
        try (SocketChannel s = hostConnect(path(), 52)) {
            assertThat(g.receive().op()).isEqualTo(VIRTIO_VSOCK_OP_REQUEST);
        }
        assertThat(g.driver.needsReset()).as("the transmit queue was read without a kick").isFalse();
    }

    @Test
    void hostileTransmitChainsAreRefusedAndTheDeviceGoesOn(TestMachine m) throws IOException {
        Guest g = plug(m);
        g.sendRaw(new byte[10]); // shorter than a header: nothing to answer
        // A header promising 60000 bytes with 3 behind it, and one promising more than a packet may hold.
        g.sendRaw(Guest.header(VIRTIO_VSOCK_OP_RW, 9, 9, 60000, 0, 0, 0).encode(), new byte[3]);
        assertThat(g.receive().op()).isEqualTo(VIRTIO_VSOCK_OP_RST);
        g.sendRaw(Guest.header(VIRTIO_VSOCK_OP_RW, 9, 9, 0xffff_ffffL, 0, 0, 0).encode());
        assertThat(g.receive().op()).isEqualTo(VIRTIO_VSOCK_OP_RST);
        assertThat(model().counters().get(Counter.BAD_PACKETS)).isEqualTo(3);
        assertThat(g.driver.needsReset()).isFalse();
        // Still serving: a host client gets through.
        Open o = hostOpens(g, 52);
        o.socket().close();
        // A chain pointing outside guest RAM breaks the queue (DEVICE_NEEDS_RESET), never the VMM.
        g.tx.writeDescriptor(0, 0x7fff_0000_0000L, 64, 0, 0);
        g.tx.publish(0);
        g.tx.kick();
        vmm.testing.HangGuard.await(g.driver::needsReset, "the device asks for a reset");
        assertThat(model().broken()).isFalse();
    }

    @Test
    void aKilledHostPeerResetsItsConnectionAndTheOthersGoOn(TestMachine m) throws IOException {
        Guest g = plug(m);
        Open a = hostOpens(g, 52), b = hostOpens(g, 53);
        a.socket().close();
        // The guest sends to the dead peer: the write fails, that connection is reset.
        g.send(Guest.header(VIRTIO_VSOCK_OP_RW, 52, a.hostPort(), 3, 0, 65536, 0), new byte[3]);
        Guest.Received r = g.receiveSkippingCredit();
        while (r.op() == VIRTIO_VSOCK_OP_SHUTDOWN) r = g.receiveSkippingCredit(); // EOF may be seen first
        assertThat(r.op()).isEqualTo(VIRTIO_VSOCK_OP_RST);
        assertThat(r.header().dstPort()).isEqualTo(52);
        write(b.socket(), "alive");
        Guest.Received rw = g.receiveSkippingCredit();
        assertThat(rw.header().dstPort()).isEqualTo(53);
        assertThat(new String(rw.payload(), StandardCharsets.US_ASCII)).isEqualTo("alive");
        b.socket().close();
    }

    @Test
    void aSwapWithAConnectionOpenKeepsItsStreamAndCredit(TestMachine m) throws IOException {
        Guest g = plug(m);
        Open o = hostOpens(g, 52);
        g.send(Guest.header(VIRTIO_VSOCK_OP_RW, 52, o.hostPort(), 3, 0, 65536, 0),
                "abc".getBytes(StandardCharsets.US_ASCII));
        assertThat(read(o.socket(), 3)).isEqualTo("abc");
        VsockDevice old = model();
        dev.swapTo("virtio-vsock-2", new VsockProvider());
        assertThat(model()).isNotSameAs(old);
        assertThat(model().connectionCount()).isEqualTo(1);
        // The same host socket, both ways, and the credit counted on: fwd_cnt goes on from 3.
        g.send(Guest.header(VIRTIO_VSOCK_OP_RW, 52, o.hostPort(), 2, 0, 65536, 0),
                "de".getBytes(StandardCharsets.US_ASCII));
        assertThat(read(o.socket(), 2)).isEqualTo("de");
        write(o.socket(), "xyz");
        Guest.Received rw = g.receiveSkippingCredit();
        assertThat(new String(rw.payload(), StandardCharsets.US_ASCII)).isEqualTo("xyz");
        assertThat(rw.header().fwdCnt()).isEqualTo(5);
        assertThat(model().counters().get(Counter.TO_HOST_BYTES)).isEqualTo(5);
        assertThat(g.driver.needsReset()).isFalse();
        o.socket().close();
    }

    @Test
    void restoringIntoAFreshHostSideDropsTheSavedConnections(TestMachine m) throws IOException {
        Guest g = plug(m);
        Open o = hostOpens(g, 52);
        VsockDevice old = model();
        old.pause();
        var state = old.saveState();
        old.resume();
        // Another path: a fresh host side, none of the saved streams.
        VsockDevice fresh = (VsockDevice) new VsockProvider().create(ProviderTest.context(Map.of("cid", "3", "path",
                dir.resolve("other.sock").toString())));
        fresh.restoreState(state);
        assertThat(fresh.connectionCount()).isZero();
        fresh.stop();
        o.socket().close();
    }

    @Test
    void aSwapOntoANewHostSideResetsTheTransportWithAnEventAndClosesTheOldStreams(TestMachine m) throws IOException {
        Guest g = plug(m);
        Open o = hostOpens(g, 52);
        g.event.add(java.util.List.of(), EVENT_SIZE);
        g.event.kick();
        // The new model's host side is another one (as after a bundle update lost the streams).
        dev.swapTo("virtio-vsock-2",
                new VsockProvider(p -> device.virtio_vsock.host.HostSockets.open(dir.resolve("new.sock"))));
        var ev = g.event.await(vmm.testing.HangGuard.BOUND);
        assertThat(ev.length()).isEqualTo(EVENT_SIZE);
        assertThat(ByteBuffer.wrap(ev.data()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt())
                .isEqualTo(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
        assertThat(model().connectionCount()).isZero();
        assertThat(read(o.socket(), 1)).as("the old stream was closed").isEmpty();
        o.socket().close();
    }
}
