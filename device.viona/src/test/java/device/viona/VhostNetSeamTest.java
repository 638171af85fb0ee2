package device.viona;

import static device.viona.vhost.VhostUapi.*;
import static device.virtio_net.protocol.VirtioNetSpec.*;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.viona.vhost.VhostHost;
import device.viona.vhost.VhostIoctls;
import device.viona.vhost.VhostNetDataPath;
import device.virtio_net.protocol.NetFeatures;
import vmm.core.machine.DeviceInstance;
import vmm.core.virtio.VirtioFeatures;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;

/**
 * The vhost-net engine at its ioctl seam: a recording kernel checks the
 * request numbers and struct bytes against {@code uapi/linux/vhost.h}, the
 * order vhost requires, and how kicks and calls cross.
 */
@ExtendWith(TestMachineExtension.class)
class VhostNetSeamTest {
    /** VHOST_NET_F_VIRTIO_NET_HDR: offered by the kernel, never to be acked (the TAP carries the header). */
    static final long VHOST_NET_F_VIRTIO_NET_HDR = 1L << 27;
    static final long KERNEL_FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | NetFeatures.bit(VIRTIO_NET_F_MRG_RXBUF)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VHOST_NET_F_VIRTIO_NET_HDR;
    static final int TAP_FD = 77;

    record Call(long request, byte[] arg) {
        int u32(int off) { return java.nio.ByteBuffer.wrap(arg).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(off); }
        long u64(int off) { return java.nio.ByteBuffer.wrap(arg).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(off); }
    }

    /** A vhost-net instance that records every ioctl with the bytes of its struct. */
    static final class RecordingVhost implements VhostIoctls {
        final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
        final List<Integer> signals = Collections.synchronizedList(new ArrayList<>());
        final LinkedBlockingQueue<Integer> fire = new LinkedBlockingQueue<>();
        long failOn = -1;
        int nextFd = 100;
        int ringBase = 5;
        volatile boolean closed;

        @Override
        public void ioctl(long request, MemorySegment arg) throws IOException {
            calls.add(new Call(request, arg.equals(MemorySegment.NULL) ? new byte[0] : arg.toArray(ValueLayout.JAVA_BYTE)));
            if (request == failOn) throw new IOException("errno 22");
            if (request == VHOST_GET_FEATURES) arg.set(ValueLayout.JAVA_LONG, 0, KERNEL_FEATURES);
            if (request == VHOST_GET_VRING_BASE) arg.set(ValueLayout.JAVA_INT, 4, ringBase);
        }

        @Override public synchronized int eventfd() { return nextFd++; }
        @Override public void signal(int fd) { signals.add(fd); }

        @Override
        public int[] drain(int[] fds, long timeoutMillis) {
            try {
                Integer fd = fire.poll(timeoutMillis, TimeUnit.MILLISECONDS);
                if (fd == null) return new int[0];
                for (int i = 0; i < fds.length; i++) if (fds[i] == fd) return new int[] {i};
                return new int[0];
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new int[0];
            }
        }

        @Override public void close() { closed = true; }

        List<Long> requests() {
            synchronized (calls) {
                return calls.stream().map(Call::request).toList();
            }
        }

        Call last(long request) {
            synchronized (calls) {
                for (int i = calls.size() - 1; i >= 0; i--) if (calls.get(i).request() == request) return calls.get(i);
            }
            throw new AssertionError("no ioctl 0x" + Long.toHexString(request));
        }
    }

    final List<RecordingVhost> opened = new ArrayList<>();
    final VhostHost host = new VhostHost() {
        @Override public String unavailable() { return null; }
        @Override public VhostIoctls open() {
            RecordingVhost v = new RecordingVhost();
            opened.add(v);
            return v;
        }
    };
    final FakeBackend fake = new FakeBackend();

    @Test
    void requestNumbersAreThoseOfTheUapiHeader() {
        assertThat(VHOST_GET_FEATURES).isEqualTo(0x8008AF00L);
        assertThat(VHOST_SET_FEATURES).isEqualTo(0x4008AF00L);
        assertThat(VHOST_SET_OWNER).isEqualTo(0xAF01L);
        assertThat(VHOST_SET_MEM_TABLE).isEqualTo(0x4008AF03L);
        assertThat(VHOST_SET_VRING_NUM).isEqualTo(0x4008AF10L);
        assertThat(VHOST_SET_VRING_ADDR).isEqualTo(0x4028AF11L);
        assertThat(VHOST_SET_VRING_BASE).isEqualTo(0x4008AF12L);
        assertThat(VHOST_GET_VRING_BASE).isEqualTo(0xC008AF12L);
        assertThat(VHOST_SET_VRING_KICK).isEqualTo(0x4008AF20L);
        assertThat(VHOST_SET_VRING_CALL).isEqualTo(0x4008AF21L);
        assertThat(VHOST_NET_SET_BACKEND).isEqualTo(0x4008AF30L);
    }

    @Test
    void handsBothRingsToTheKernelInOrderWithTheUapiStructs(TestMachine m) {
        fake.tapFd = OptionalInt.of(TAP_FD);
        DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, host), "viona", VionaTest.config("offload", "false"));
        assertThat(VionaTest.model(dev).dataPath()).isInstanceOf(VhostNetDataPath.class);
        long wanted = VionaTest.SIMPLE | NetFeatures.bit(VIRTIO_NET_F_MRG_RXBUF) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        VirtioDriver d = m.virtio(VionaTest.SLOT).initialize(wanted, 64, 128, 16);
        RecordingVhost v = opened.get(0);

        assertThat(v.requests()).containsExactly(VHOST_SET_OWNER, VHOST_GET_FEATURES, VHOST_SET_FEATURES, VHOST_SET_MEM_TABLE,
                VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_NET_SET_BACKEND,
                VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_NET_SET_BACKEND);
        long negotiated = (wanted | VirtioFeatures.bit(VirtioFeatures.VERSION_1)) & d.deviceFeatures();
        assertThat(v.calls.get(2).u64(0)).as("acked: negotiated and known to the kernel, not its header feature").isEqualTo(negotiated & KERNEL_FEATURES);
        Call mem = v.calls.get(3);
        var regions = m.memory().regions();
        assertThat(mem.arg()).hasSize(VHOST_MEMORY_SIZE + VHOST_MEMORY_REGION_SIZE * regions.size());
        assertThat(mem.u32(0)).isEqualTo(regions.size());
        assertThat(mem.u64(8)).isEqualTo(regions.get(0).guestBase());
        assertThat(mem.u64(16)).isEqualTo(regions.get(0).size());
        assertThat(mem.u64(24)).isEqualTo(regions.get(0).segment().address());
        for (int ring = 0; ring < 2; ring++) {
            DriverQueue q = d.queue(ring);
            int at = 4 + 6 * ring;
            assertThat(v.calls.get(at).arg()).hasSize(VHOST_VRING_STATE_SIZE);
            assertThat(v.calls.get(at).u32(0)).isEqualTo(ring);
            assertThat(v.calls.get(at).u32(4)).isEqualTo(q.size());
            assertThat(v.calls.get(at + 1).u32(4)).as("ring base: nothing taken yet").isZero();
            Call addr = v.calls.get(at + 2);
            assertThat(addr.arg()).hasSize(VHOST_VRING_ADDR_SIZE);
            assertThat(addr.u32(0)).isEqualTo(ring);
            assertThat(addr.u32(4)).isZero();
            assertThat(addr.u64(8)).isEqualTo(m.memory().slice(q.descriptorTableAddress(), 1).address());
            assertThat(addr.u64(16)).isEqualTo(m.memory().slice(q.usedRingAddress(), 1).address());
            assertThat(addr.u64(24)).isEqualTo(m.memory().slice(q.availRingAddress(), 1).address());
            assertThat(addr.u64(32)).isZero();
            assertThat(v.calls.get(at + 5).u32(0)).isEqualTo(ring);
            assertThat(v.calls.get(at + 5).u32(4)).isEqualTo(TAP_FD);
        }
        int txKick = v.calls.get(13).u32(4), txCall = v.calls.get(14).u32(4);

        int before = v.signals.size(); // the transport kicks every ring once at DRIVER_OK
        d.queue(1).kick();
        assertThat(v.signals.subList(before, v.signals.size())).as("a kick goes to the kernel's kick eventfd").containsExactly(txKick);
        v.fire.add(txCall);
        assertThat(m.interrupts()).receivesMsi(d.msiData(2), 1);

        dev.model().pause();
        assertThat(v.requests().subList(16, v.requests().size())).containsExactly(VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE,
                VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE);
        assertThat(v.calls.get(16).u32(4)).as("detached").isEqualTo(-1);
        assertThat(((VhostNetDataPath) VionaTest.model(dev).dataPath()).ringPositions()).containsExactly(5, 5);
        dev.model().resume();
        assertThat(v.last(VHOST_NET_SET_BACKEND).u32(4)).isEqualTo(TAP_FD);
        assertThat(d).isHealthy();
    }

    @Test
    void aKernelThatRefusesTheRingsPutsTheDeviceInNeedsResetAndReleasesVhost(TestMachine m) {
        fake.tapFd = OptionalInt.of(TAP_FD);
        VhostHost refusing = new VhostHost() {
            @Override public String unavailable() { return null; }
            @Override public VhostIoctls open() {
                RecordingVhost v = new RecordingVhost();
                v.failOn = VHOST_SET_VRING_ADDR;
                opened.add(v);
                return v;
            }
        };
        m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, refusing), "viona", VionaTest.config("offload", "false"));
        VirtioDriver d = m.virtio(VionaTest.SLOT);
        d.negotiate(VionaTest.SIMPLE);
        d.enableMsix();
        for (int q = 0; q < 3; q++) d.setupQueue(q, 64);
        d.driverOk();
        assertThat(d).needsReset();
        assertThat(opened.get(0).closed).isTrue();
    }

    @Test
    void aBackEndThatIsNoTapKeepsTheInProcessEngine(TestMachine m) {
        DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, host), "viona", VionaTest.config());
        assertThat(VionaTest.model(dev).dataPath().engine()).contains("in-process");
        assertThat(opened).isEmpty();
    }
}
